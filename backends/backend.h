/* The backend interface (DESIGN.md "Backends"): a table of function pointers per backend,
 * in the manner of crun's cgroup managers. A backend prepares and starts commands and adds
 * its handles to the server's loop; it never runs a loop of its own. The server's side owns
 * timeouts, output caps, cancellation and reaping, identically for every backend. */
#pragma once

#include <uv.h>
#include <jansson.h>

#include "../server/config.h"

struct zb_session; /* one sandbox (or container) for one MCP session; backend-private */
struct zb_run;

struct zb_run_spec {
	char **argv;	 /* NULL-terminated; argv[0] is looked up inside the sandbox */
	const char *cwd; /* a sandbox path */
	char **env;	 /* NULL-terminated NAME=value: the command's whole environment */
	const char *stdin_data;
	size_t stdin_len;
	struct zb_limits limits;
};

struct zb_exit {
	int exit_code;	   /* >= 0 when the command exited, -1 when a signal ended it */
	int signal;	   /* the signal, or 0 */
	bool oom_killed;   /* the memory limit killed it */
	char *error;	   /* the sandbox itself failed (the command never ran): what happened */
	bool session_lost; /* the whole session (sandbox init, container) is gone: reopen it */
};

/* What a backend reports about one running command. `output` may be called any number of
 * times before `exited`, which is called exactly once, also after kill(). */
struct zb_run_ops {
	void (*output)(struct zb_run *run, int stream /* 1 stdout, 2 stderr */, const char *data,
		       size_t len);
	void (*exited)(struct zb_run *run, const struct zb_exit *status);
};

/* Owned by the server for the lifetime of the command; the backend keeps its own state in
 * `priv`, and must not touch `run` after calling ops->exited. */
struct zb_run {
	const struct zb_run_ops *ops;
	void *data; /* the server's */
	void *priv; /* the backend's */
};

struct zb_backend {
	const char *name;
	/* Is this backend usable here? On "no", *err says why and how to fix it. */
	int (*probe)(const struct zb_config *cfg, struct zb_error **err);
	int (*session_open)(uv_loop_t *loop, const struct zb_config *cfg,
			    struct zb_session **ret_session, struct zb_error **err);
	/* Start one command. On success the backend later calls run->ops->exited exactly once,
	 * never from inside run() itself. */
	int (*run)(struct zb_session *s, const struct zb_run_spec *spec, struct zb_run *run,
		   struct zb_error **err);
	/* Kill the command's whole process tree. exited() still follows. */
	void (*kill)(struct zb_run *run);
	/* Facts for fs.zones and server info: limits really in force, isolation used.
	 * Adds keys to `info` (borrowed). */
	void (*describe)(struct zb_session *s, json_t *info);
	/* Tear everything down (kill processes, remove mounts or containers), then call done(arg)
	 * from the loop once every handle is closed. Commands still running get exited() first. */
	void (*session_close)(struct zb_session *s, void (*done)(void *arg), void *arg);
};

/* The static registry: NULL when no backend has that name or it was not built. */
const struct zb_backend *zb_backend_find(const char *name);
/* Names of the backends compiled in, NULL-terminated. */
const char *const *zb_backend_names(void);

void zb_exit_clear(struct zb_exit *e);
