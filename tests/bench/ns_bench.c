/* Benchmark of the namespace backend: `true` in a fresh sandbox (per-call) and in a warm
 * persistent sandbox, driven through backends/backend.h on a libuv loop as the server does,
 * next to plain fork+exec, `bwrap --unshare-all` with the same mounts and `unshare -Urmpfn`,
 * timed the same way (spawn to reaped). Prints a table of medians and 90th percentiles.
 * Usage: ns_bench [ITERATIONS]; ZONEBOX_SANDBOX_HELPER points at the helper. */
#include "backends/backend.h"

#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

extern char **environ;
static uv_loop_t *loop;
static bool done;

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
		printf("| %-44s | %9s | %9s |\n", name, "n/a", "n/a");
		return;
	}
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("| %-44s | %9.3f | %9.3f |\n", name, t[n / 2], t[n * 9 / 10]);
	fflush(stdout);
}

static void on_output(struct zb_run *run, int stream, const char *data, size_t len)
{
}

static void on_exited(struct zb_run *run, const struct zb_exit *e)
{
	if (e->error || e->exit_code != 0)
		fprintf(stderr, "bench: command failed: %s\n", e->error ? e->error : "exit != 0");
	done = true;
}

static const struct zb_run_ops ops = {.output = on_output, .exited = on_exited};

static void session_closed(void *arg)
{
	*(bool *)arg = true;
}

static int bench_backend(const char *session, double *t, int n, const char *dir)
{
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
		 "sandbox:\n  backend: namespace\n  session: %s\n  network: %s\n  zones:\n"
		 "    - {name: work, mode: rw, hostPath: .}\n"
		 "    - {name: scratch, mode: tmpfs, size: 1M}\n",
		 session, getenv("ZB_BENCH_NETWORK") ? getenv("ZB_BENCH_NETWORK") : "none");
	struct zb_error *err = NULL;
	struct zb_config *cfg = zb_config_load_string(yaml, strlen(yaml), "bench", dir, &err);
	const struct zb_backend *b = zb_backend_find("namespace");
	struct zb_session *s = NULL;
	if (!cfg || !b || b->probe(cfg, &err) < 0 || b->session_open(loop, cfg, &s, &err) < 0) {
		fprintf(stderr, "bench: %s\n", err ? err->msg : "no namespace backend");
		return -1;
	}
	char *argv[] = {"true", NULL};
	char *env[] = {"PATH=/usr/bin:/bin", NULL};
	struct zb_run_spec spec = {.argv = argv, .env = env};
	for (int i = -5; i < n; i++) {
		struct zb_run run = {.ops = &ops};
		done = false;
		double t0 = now_ms();
		if (b->run(s, &spec, &run, &err) < 0) {
			fprintf(stderr, "bench: %s\n", err->msg);
			return -1;
		}
		while (!done)
			uv_run(loop, UV_RUN_ONCE);
		if (i >= 0)
			t[i] = now_ms() - t0;
	}
	bool closed = false;
	b->session_close(s, session_closed, &closed);
	while (!closed)
		uv_run(loop, UV_RUN_ONCE);
	zb_config_free(cfg);
	return n;
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

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	if (n < 10)
		n = 10;
	double *t = zb_xcalloc((size_t)n, sizeof(double));
	loop = uv_default_loop();
	char dir[] = "/tmp/zb-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	chmod(dir, 0755);
	printf("`true`, %d runs each, uid %d; times in ms\n\n", n, (int)getuid());
	printf("| %-44s | %9s | %9s |\n", "what", "median", "p90");
	printf("|%s|%s|%s|\n", "----------------------------------------------", "-----------",
	       "-----------");
	char *plain[] = {"true", NULL};
	row("fork+exec (posix_spawn)", t, bench_spawn(plain, t, n));
	row("zonebox namespace, per-call (fresh sandbox)", t, bench_backend("per-call", t, n, dir));
	row("zonebox namespace, persistent session", t, bench_backend("persistent", t, n, dir));
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
	row("bwrap --unshare-all, same mounts", t, bench_spawn(bwrap, t, n));
	char *unshare[] = {"unshare", "-Urmpfn", "true", NULL};
	row("unshare -Urmpfn", t, bench_spawn(unshare, t, n));
	rmdir(dir);
	free(t);
	return 0;
}
