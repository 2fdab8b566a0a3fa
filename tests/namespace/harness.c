#include "harness.h"

#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int n_tests, n_failed;
uv_loop_t *loop;
char base[256];

void check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s %d - ", ok ? "ok" : "not ok", ++n_tests);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	if (!ok)
		n_failed++;
}

static void on_output(struct zb_run *run, int stream, const char *data, size_t len)
{
	struct result *r = run->data;
	char *buf = stream == 1 ? r->out : r->err;
	size_t *n = stream == 1 ? &r->out_len : &r->err_len;
	if (stream == 1)
		r->out_total += len;
	size_t room = sizeof(r->out) - 1 - *n;
	if (len > room)
		len = room;
	memcpy(buf + *n, data, len);
	*n += len;
	buf[*n] = '\0';
}

static void on_exited(struct zb_run *run, const struct zb_exit *e)
{
	struct result *r = run->data;
	r->exit = *e;
	r->exit.error = NULL;
	if (e->error) {
		snprintf(r->error, sizeof(r->error), "%s", e->error);
		r->exit.error = r->error;
	}
	r->done = true;
}

static const struct zb_run_ops ops = {.output = on_output, .exited = on_exited};

char *default_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", NULL};

/* Start a command; returns 0 or -1 with the error printed as a TAP comment. */
int start(const struct zb_backend *b, struct zb_session *s, struct zb_run *run, struct result *res,
	  char **argv, const char *cwd, const char *stdin_data)
{
	memset(res, 0, sizeof(*res));
	*run = (struct zb_run){.ops = &ops, .data = res};
	struct zb_run_spec spec = {.argv = argv,
				   .cwd = cwd,
				   .env = default_env,
				   .stdin_data = stdin_data,
				   .stdin_len = stdin_data ? strlen(stdin_data) : 0};
	struct zb_error *err = NULL;
	if (b->run(s, &spec, run, &err) < 0) {
		printf("# run failed: %s\n", err->msg);
		snprintf(res->run_error, sizeof(res->run_error), "%s", err->msg);
		zb_error_free(err);
		return -1;
	}
	return 0;
}

void wait_done(struct result *res, int timeout_ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!res->done) {
		uv_run(loop, UV_RUN_ONCE);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			break;
	}
}

int sh(const struct zb_backend *b, struct zb_session *s, struct result *res, const char *script)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	struct zb_run run;
	if (start(b, s, &run, res, argv, NULL, NULL) < 0)
		return -1;
	wait_done(res, 20000);
	if (!res->done) {
		b->kill(&run);
		wait_done(res, 5000);
		return -1;
	}
	if (res->exit.error)
		printf("# sandbox error: %s\n", res->exit.error);
	return 0;
}

static void session_done(void *arg)
{
	*(bool *)arg = true;
}

void close_session(const struct zb_backend *b, struct zb_session *s)
{
	bool done = false;
	b->session_close(s, session_done, &done);
	while (!done)
		uv_run(loop, UV_RUN_ONCE);
}

int count_processes(const char *cmdline)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], buf[4096];
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		/* "a\0b\0" -> "a b" */
		if (buf[len - 1] == '\0')
			len--;
		for (ssize_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		if (strcmp(buf, cmdline) == 0)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

int wait_processes(const char *cmdline, int want, int timeout_ms)
{
	int n = count_processes(cmdline);
	for (int waited = 0; n != want && waited < timeout_ms; waited += 2) {
		if (loop)
			uv_run(loop, UV_RUN_NOWAIT);
		usleep(2000);
		n = count_processes(cmdline);
	}
	return n;
}

/* The sandbox init of a persistent session: a zonebox-sandbox whose parent is a
 * zonebox-sandbox started by us. */
pid_t find_init(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && (e = readdir(d)) && !found) {
		char path[300], buf[512], comm[64];
		int pid = atoi(e->d_name), ppid = 0;
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f) ||
		    sscanf(buf, "%*d (%63[^)]) %*c %d", comm, &ppid) != 2)
			ppid = 0;
		fclose(f);
		if (strcmp(comm, "zonebox-sandbox") != 0 || ppid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", ppid);
		f = fopen(path, "re");
		int gpp = 0;
		if (f) {
			if (fgets(buf, sizeof(buf), f))
				sscanf(buf, "%*d (%63[^)]) %*c %d", comm, &gpp);
			fclose(f);
		}
		if (strcmp(comm, "zonebox-sandbox") == 0 && gpp == getpid())
			found = pid;
	}
	if (d)
		closedir(d);
	return found;
}

int maybe_drop_privileges(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--unprivileged") != 0)
		return 0;
	if (geteuid() != 0) {
		printf("1..0 # SKIP --unprivileged needs root to switch to uid 65534 (the plain "
		       "run "
		       "already takes the unprivileged path)\n");
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) {
		printf("1..0 # SKIP cannot switch to uid 65534\n");
		return -1;
	}
	printf("# running as uid 65534 (user namespace path)\n");
	return 0;
}

void make_base(const char *prefix)
{
	snprintf(base, sizeof(base), "/tmp/%s-XXXXXX", prefix);
	if (!mkdtemp(base))
		exit(1);
	chmod(base, 0755);
}

void write_file(const char *rel, const char *text)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		exit(1);
	close(fd);
}

void remove_base(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", base);
}

struct zb_config *load_config(const char *yaml, const char *what)
{
	struct zb_error *err = NULL;
	struct zb_config *cfg = zb_config_load_string(yaml, strlen(yaml), "test", base, &err);
	if (!cfg) {
		check(false, "%s config: %s", what, err->msg);
		zb_error_free(err);
	}
	return cfg;
}

struct zb_config *load_config_or_bail(const char *yaml)
{
	struct zb_error *err = NULL;
	struct zb_config *cfg = zb_config_load_string(yaml, strlen(yaml), "test", base, &err);
	if (!cfg) {
		printf("Bail out! config: %s\n", err->msg);
		exit(1);
	}
	return cfg;
}
