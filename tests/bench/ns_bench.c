/* Benchmark of the namespace backend: `true` in a fresh sandbox (per-call) and in a warm
 * persistent sandbox, driven through backends/backend.h on a libuv loop as the server does,
 * next to plain fork+exec, `bwrap --unshare-all` with the same mounts and `unshare -Urmpfn`,
 * timed the same way (spawn to reaped). Prints a table of medians and 90th percentiles.
 *
 * Per-call sandboxes are built one ahead (a spare), so three numbers tell the whole story:
 * the latency of a call whose spare is ready (calls spaced out), of calls back to back (the
 * next spare is built while the previous call runs; a call that comes before it is ready
 * waits), and the cost of building one sandbox and running `true` in it with no spare at all
 * (measured by speaking the helper's protocol directly, backends/namespace/proto.h).
 *
 * Usage: ns_bench [ITERATIONS [ROWS]]; ROWS is a comma-separated subset of spawn, percall,
 * build, persistent, parallel, percall-parallel (only its per-call half), bwrap, unshare
 * (default: all). ZONEBOX_SANDBOX_HELPER points at
 * the helper (default: the one built next to zonebox). */
#include "backends/backend.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/namespace/proto.h"
#include "config.h"

extern char **environ;
static uv_loop_t *loop;
static int n_done;
static bool failed;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void row(const char *name, double *t, int n)
{
	if (n <= 0) {
		printf("| %-52s | %9s | %9s |\n", name, "n/a", "n/a");
		return;
	}
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("| %-52s | %9.3f | %9.3f |\n", name, t[n / 2], t[n * 9 / 10]);
	fflush(stdout);
}

static void rate_row(const char *name, double per_s)
{
	char v[32];
	if (per_s > 0)
		snprintf(v, sizeof(v), "%.0f/s", per_s);
	else
		snprintf(v, sizeof(v), "n/a");
	printf("| %-52s | %9s | %9s |\n", name, v, "");
	fflush(stdout);
}

static void on_output(struct zb_run *run, int stream, const char *data, size_t len)
{
}

static void on_exited(struct zb_run *run, const struct zb_exit *e)
{
	if (e->error || e->exit_code != 0) {
		fprintf(stderr, "bench: command failed: %s\n", e->error ? e->error : "exit != 0");
		failed = true;
	}
	n_done++;
}

static const struct zb_run_ops ops = {.output = on_output, .exited = on_exited};

static void session_closed(void *arg)
{
	*(bool *)arg = true;
}

static const char *network(void)
{
	return getenv("ZB_BENCH_NETWORK") ? getenv("ZB_BENCH_NETWORK") : "none";
}

static struct zb_config *bench_config(const char *session, const char *dir)
{
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
		 "sandbox:\n  backend: namespace\n  session: %s\n  network: %s\n  zones:\n"
		 "    - {name: work, mode: rw, hostPath: .}\n"
		 "    - {name: scratch, mode: tmpfs, size: 1M}\n",
		 session, network());
	struct zb_error *err = NULL;
	struct zb_config *cfg = zb_config_load_string(yaml, strlen(yaml), "bench", dir, &err);
	if (!cfg)
		fprintf(stderr, "bench: %s\n", err->msg);
	return cfg;
}

static char *true_argv[] = {"true", NULL};
static char *true_env[] = {"PATH=/usr/bin:/bin", NULL};

enum pace { BACK_TO_BACK, SPACED, PARALLEL };

/* `n` calls of `true` through the backend. BACK_TO_BACK and SPACED fill t[] with each call's
 * latency (SPACED waits 20 ms between calls, so a per-call session's spare is always ready);
 * PARALLEL keeps `width` calls in flight and returns commands per second in t[0]. */
static int bench_backend(const char *session, enum pace pace, int width, double *t, int n,
			 const char *dir)
{
	struct zb_config *cfg = bench_config(session, dir);
	struct zb_error *err = NULL;
	const struct zb_backend *b = zb_backend_find("namespace");
	struct zb_session *s = NULL;
	if (!cfg || !b || b->probe(cfg, &err) < 0 || b->session_open(loop, cfg, &s, &err) < 0) {
		fprintf(stderr, "bench: %s\n", err ? err->msg : "no namespace backend");
		return -1;
	}
	struct zb_run_spec spec = {.argv = true_argv, .env = true_env};
	struct zb_run *runs = zb_xcalloc((size_t)(width > 0 ? width : 1), sizeof(*runs));
	failed = false;
	int result = n;
	if (pace != PARALLEL) {
		for (int i = -5; i < n; i++) {
			if (pace == SPACED)
				usleep(20000);
			struct zb_run run = {.ops = &ops};
			n_done = 0;
			double t0 = now_ms();
			if (b->run(s, &spec, &run, &err) < 0) {
				fprintf(stderr, "bench: %s\n", err->msg);
				result = -1;
				break;
			}
			while (n_done == 0)
				uv_run(loop, UV_RUN_ONCE);
			if (i >= 0)
				t[i] = now_ms() - t0;
		}
	} else {
		/* Warm up, then keep `width` in flight until n have finished. */
		int started = 0;
		n_done = 0;
		double t0 = 0;
		for (int warm = 1; warm >= 0; warm--) {
			int goal = warm ? width : n;
			started = 0;
			n_done = 0;
			t0 = now_ms();
			while (n_done < goal) {
				while (started < goal && started - n_done < width) {
					struct zb_run *run = &runs[started % width];
					*run = (struct zb_run){.ops = &ops};
					if (b->run(s, &spec, run, &err) < 0) {
						fprintf(stderr, "bench: %s\n", err->msg);
						goal = started;
						result = -1;
						break;
					}
					started++;
				}
				uv_run(loop, UV_RUN_ONCE);
			}
		}
		t[0] = (double)n / ((now_ms() - t0) / 1e3);
	}
	bool closed = false;
	b->session_close(s, session_closed, &closed);
	while (!closed)
		uv_run(loop, UV_RUN_ONCE);
	zb_config_free(cfg);
	free(runs);
	return failed ? -1 : result;
}

/* ---- the helper's protocol, spoken directly: the cost of one sandbox without a spare ---- */

static json_t *recv_blocking(int sock)
{
	for (;;) {
		json_t *msg = NULL;
		int fds[ZB_NS_MAX_FDS];
		size_t n_fds = 0;
		int r = zb_ns_recv(sock, &msg, fds, ZB_NS_MAX_FDS, &n_fds);
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		if (r == 0)
			return msg;
		if (r != -EAGAIN)
			return NULL;
		struct pollfd p = {.fd = sock, .events = POLLIN};
		poll(&p, 1, 10000);
	}
}

static const char *msg_type(json_t *m)
{
	return json_string_value(json_object_get(m, "type"));
}

/* t_ready[i]: request -> `ready`; t_run[i]: request -> `exit` of `true`. The spec is the
 * one the backend sends (per-call); `dir` is the rw zone. */
static int bench_build(double *t_ready, double *t_run, int n, const char *dir)
{
	const char *helper = getenv("ZONEBOX_SANDBOX_HELPER");
	int sv[2];
	if (!helper || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], ZB_NS_CONTROL_FD);
	char *argv[] = {(char *)helper, NULL};
	char *envp[] = {NULL};
	pid_t pid;
	if (posix_spawn(&pid, helper, &fa, NULL, argv, envp) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	json_t *spec = json_pack(
		"{s:s, s:I, s:I, s:b, s:b, s:s, s:s, s:[{s:s, s:s, s:s, s:[]}, {s:s, s:s, s:I}], "
		"s:{s:I, s:I, s:f, s:I, s:I}}",
		"type", "spec", "uid", (json_int_t)getuid(), "gid", (json_int_t)getgid(), "userns",
		geteuid() != 0, "persistent", 0, "network", network(), "hostname", "zonebox",
		"zones", "name", "work", "mode", "rw", "host_path", dir, "protect", "name",
		"scratch", "mode", "tmpfs", "size", (json_int_t)(1 << 20), "limits", "memory",
		(json_int_t)512 << 20, "pids", (json_int_t)256, "cpu", 0.0, "fsize",
		(json_int_t)8 << 30, "nofile", (json_int_t)4096);
	zb_ns_send(sv[0], spec, NULL, 0);
	json_decref(spec);
	int result = n;
	for (int i = -5; i < n && result > 0; i++) {
		int box[2], out[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, box) < 0 ||
		    pipe2(out, O_CLOEXEC) < 0)
			return -1;
		double t0 = now_ms();
		static const char req[] = "{\"type\":\"sandbox\"}";
		zb_ns_send_raw(sv[0], req, sizeof(req) - 1, &box[1], 1);
		close(box[1]);
		json_t *run = json_pack("{s:s, s:I, s:[s], s:[s], s:s}", "type", "run", "id",
					(json_int_t)1, "argv", "true", "env", true_env[0], "cwd",
					"/work");
		int fds[3] = {out[0], out[1], out[1]};
		zb_ns_send(box[0], run, fds, 3);
		json_decref(run);
		close(out[0]);
		close(out[1]);
		double ready = 0;
		for (;;) {
			json_t *m = recv_blocking(box[0]);
			const char *type = m ? msg_type(m) : NULL;
			if (!type || strcmp(type, "error") == 0) {
				fprintf(stderr, "bench: sandbox failed\n");
				result = -1;
				json_decref(m);
				break;
			}
			if (strcmp(type, "ready") == 0)
				ready = now_ms() - t0;
			bool exit = strcmp(type, "exit") == 0;
			json_decref(m);
			if (exit) {
				if (i >= 0) {
					t_ready[i] = ready;
					t_run[i] = now_ms() - t0;
				}
				break;
			}
		}
		close(box[0]);
	}
	close(sv[0]);
	int st;
	waitpid(pid, &st, 0);
	return result;
}

static int bench_spawn(char **argv, double *t, int n)
{
	for (int i = -5; i < n; i++) {
		pid_t pid;
		double t0 = now_ms();
		if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
			return -1;
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return -1;
		if (i >= 0)
			t[i] = now_ms() - t0;
	}
	return n;
}

/* The helper is built next to zonebox, one folder up from this program. */
static void find_helper(void)
{
	char exe[4096];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 32);
	if (getenv("ZONEBOX_SANDBOX_HELPER") || len <= 0)
		return;
	exe[len] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		strcpy(slash, "/../zonebox-sandbox");
	setenv("ZONEBOX_SANDBOX_HELPER", exe, 1);
}

static const char *rows_wanted;

static bool want(const char *name)
{
	if (!rows_wanted)
		return true;
	size_t n = strlen(name);
	for (const char *p = rows_wanted; (p = strstr(p, name)); p += n)
		if ((p == rows_wanted || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	rows_wanted = argc > 2 ? argv[2] : NULL;
	find_helper();
	if (n < 20)
		n = 20;
	double *t = zb_xcalloc((size_t)n, sizeof(double));
	double *t2 = zb_xcalloc((size_t)n, sizeof(double));
	loop = uv_default_loop();
	char dir[] = "/tmp/zb-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	chmod(dir, 0755);
	printf("`true`, %d runs each, uid %d, network %s; times in ms\n\n", n, (int)getuid(),
	       network());
	printf("| %-52s | %9s | %9s |\n", "what", "median", "p90");
	printf("|%s|%s|%s|\n", "------------------------------------------------------",
	       "-----------", "-----------");
	char *plain[] = {"/usr/bin/true", NULL};
	if (want("spawn"))
		row("fork+exec (posix_spawn)", t, bench_spawn(plain, t, n));
	if (want("percall")) {
		row("zonebox per-call, spare ready (calls 20 ms apart)", t,
		    bench_backend("per-call", SPACED, 1, t, n, dir));
		row("zonebox per-call, back to back", t,
		    bench_backend("per-call", BACK_TO_BACK, 1, t, n, dir));
	}
	if (want("build")) {
		int k = bench_build(t, t2, n, dir);
		row("per-call build, no spare: request -> ready", t, k);
		row("per-call build, no spare: request -> `true` exited", t2, k);
	}
	if (want("persistent")) {
		row("zonebox persistent, calls 20 ms apart", t,
		    bench_backend("persistent", SPACED, 1, t, n, dir));
		row("zonebox persistent, back to back", t,
		    bench_backend("persistent", BACK_TO_BACK, 1, t, n, dir));
	}
	double rate[1];
	if (want("parallel"))
		rate_row("persistent, 16 in flight (commands/s)",
			 bench_backend("persistent", PARALLEL, 16, rate, n * 4, dir) > 0 ? rate[0]
											 : 0);
	if (want("parallel") || want("percall-parallel"))
		rate_row("per-call, 16 in flight (commands/s)",
			 bench_backend("per-call", PARALLEL, 16, rate, n, dir) > 0 ? rate[0] : 0);
	char *bwrap[] = {"bwrap",
			 "--unshare-all",
			 "--die-with-parent",
			 "--ro-bind",
			 "/usr",
			 "/usr",
			 "--symlink",
			 "usr/bin",
			 "/bin",
			 "--symlink",
			 "usr/lib",
			 "/lib",
			 "--symlink",
			 "usr/lib64",
			 "/lib64",
			 "--bind",
			 dir,
			 "/work",
			 "--tmpfs",
			 "/scratch",
			 "--tmpfs",
			 "/tmp",
			 "--proc",
			 "/proc",
			 "--dev",
			 "/dev",
			 "true",
			 NULL};
	if (want("bwrap"))
		row("bwrap --unshare-all, same mounts", t, bench_spawn(bwrap, t, n));
	char *unshare[] = {"unshare", "-Urmpfn", "true", NULL};
	if (want("unshare"))
		row("unshare -Urmpfn", t, bench_spawn(unshare, t, n));
	rmdir(dir);
	free(t);
	free(t2);
	return 0;
}
