/* Shared by the namespace backend's tests (tests/namespace/, tests/security/): drive the
 * backend through backends/backend.h on a libuv loop, as the server does, and print TAP. */
#pragma once

#include "backends/backend.h"

#include <sys/types.h>

struct result {
	bool done;
	struct zb_exit exit; /* exit.error points into error[] (no allocation to free) */
	char error[1024];
	char run_error[1024]; /* run() itself failed: its message, else "" */
	char out[65536], err[65536];
	size_t out_len, err_len; /* err_len counts everything, out_len what fitted */
	size_t out_total;
};

extern int n_tests, n_failed;
extern uv_loop_t *loop;
extern char base[256]; /* the test's folder on the host: zones live under it */
extern char *default_env[];

void check(bool ok, const char *fmt, ...) ZB_PRINTF(2, 3);
struct zb_config;
/* The configuration in `yaml`, host paths relative to `base`; NULL (a failed check naming
 * `what`) if it does not load. */
struct zb_config *load_config(const char *yaml, const char *what);
/* The same, for a test's own set-up: a config that does not load stops the program. */
struct zb_config *load_config_or_bail(const char *yaml);
int start(const struct zb_backend *b, struct zb_session *s, struct zb_run *run, struct result *res,
	  char **argv, const char *cwd, const char *stdin_data);
void wait_done(struct result *res, int timeout_ms);
/* /bin/sh -c script, waited for. */
int sh(const struct zb_backend *b, struct zb_session *s, struct result *res, const char *script);
void close_session(const struct zb_backend *b, struct zb_session *s);
/* Host processes whose command line (arguments joined by spaces) is exactly `cmdline`. A
 * process between fork and exec still shows its parent's, so it is not counted before it
 * runs the program, and a shell line that merely mentions `cmdline` never is. */
int count_processes(const char *cmdline);
/* count_processes, read again (running the loop) until it gives `want` or `timeout_ms`
 * passed; returns the last count. */
int wait_processes(const char *cmdline, int want, int timeout_ms);
/* The sandbox init of a session started by this process, or 0. */
pid_t find_init(void);
/* With --unprivileged and when root: become uid/gid 65534 (the user-namespace path). Returns
 * -1 (after printing a TAP skip plan) when that is not possible. */
int maybe_drop_privileges(int argc, char **argv);
/* Make `base` and write a file under it. */
void make_base(const char *prefix);
void write_file(const char *rel, const char *text);
void remove_base(void);
