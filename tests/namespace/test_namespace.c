/* Functional tests of the namespace backend through backends/backend.h, on a libuv loop, as
 * the server uses it. TAP output. Run as root and as an unprivileged user (the helper then
 * takes the user-namespace path); ZONEBOX_SANDBOX_HELPER points at the built helper. */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static struct zb_config *make_config(const char *session)
{
	char yaml[1024];
	snprintf(yaml, sizeof(yaml),
		 "sandbox:\n"
		 "  backend: namespace\n"
		 "  session: %s\n"
		 "  limits: {memory: 256M, pids: 128}\n"
		 "  zones:\n"
		 "    - {name: work, mode: rw, hostPath: work, protect: [.git/hooks]}\n"
		 "    - {name: in, mode: ro, hostPath: in}\n"
		 "    - {name: scratch, mode: tmpfs, size: 1M}\n",
		 session);
	return load_config_or_bail(yaml);
}

static void test_basics(const struct zb_backend *b, struct zb_session *s, const char *mode)
{
	struct result r;
	sh(b, s, &r, "echo hello");
	check(r.done && r.exit.exit_code == 0 && strcmp(r.out, "hello\n") == 0,
	      "%s: echo runs (exit %d)", mode, r.exit.exit_code);
	sh(b, s, &r, "exit 3");
	check(r.done && r.exit.exit_code == 3 && r.exit.signal == 0, "%s: exit code 3", mode);
	sh(b, s, &r, "kill -TERM $$");
	check(r.done && r.exit.exit_code == -1 && r.exit.signal == SIGTERM,
	      "%s: signal reported (%d)", mode, r.exit.signal);
	sh(b, s, &r, "echo oops >&2; echo out");
	check(strcmp(r.err, "oops\n") == 0 && strcmp(r.out, "out\n") == 0,
	      "%s: stdout and stderr apart", mode);

	struct zb_run run;
	char *cat[] = {"cat", NULL};
	if (start(b, s, &run, &r, cat, NULL, "some input\n") == 0)
		wait_done(&r, 10000);
	check(r.done && strcmp(r.out, "some input\n") == 0, "%s: stdin reaches the command", mode);
	char *pwd[] = {"pwd", NULL};
	if (start(b, s, &run, &r, pwd, "/in", NULL) == 0)
		wait_done(&r, 10000);
	check(r.done && strcmp(r.out, "/in\n") == 0, "%s: cwd", mode);
	if (start(b, s, &run, &r, pwd, NULL, NULL) == 0)
		wait_done(&r, 10000);
	check(r.done && strcmp(r.out, "/work\n") == 0, "%s: default cwd is the first zone", mode);
	char *env[] = {"env", NULL};
	if (start(b, s, &run, &r, env, NULL, NULL) == 0)
		wait_done(&r, 10000);
	check(r.done && strcmp(r.out,
			       "PATH=/usr/local/bin:/usr/bin:/bin\nHOME=/tmp\nLANG=C.UTF-8\n") == 0,
	      "%s: the environment is exactly the one given", mode);
	char *missing[] = {"no-such-command-zb", NULL};
	if (start(b, s, &run, &r, missing, NULL, NULL) == 0)
		wait_done(&r, 10000);
	check(r.done && r.exit.exit_code == 127 && !r.exit.error && strstr(r.err, "not found"),
	      "%s: unknown command: exit 127 with a message", mode);
	if (start(b, s, &run, &r, pwd, "/nonexistent", NULL) == 0)
		wait_done(&r, 10000);
	check(r.done && r.exit.error && strstr(r.exit.error, "working directory"),
	      "%s: bad cwd is a sandbox error (%s)", mode, r.exit.error ? r.exit.error : "");

	sh(b, s, &r, "echo x > /in/new");
	check(r.exit.exit_code != 0 && strstr(r.err, "Read-only file system"),
	      "%s: ro zone refuses writes (EROFS)", mode);
	sh(b, s, &r, "cat /in/file");
	check(strcmp(r.out, "input file\n") == 0, "%s: ro zone readable", mode);
	sh(b, s, &r, "echo written > /work/out.txt");
	char path[300], buf[64] = "";
	snprintf(path, sizeof(path), "%s/work/out.txt", base);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st = {0};
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		fstat(fd, &st);
		close(fd);
	}
	check(strcmp(buf, "written\n") == 0 && st.st_uid == getuid(),
	      "%s: rw zone writes reach the host, owned by the caller", mode);
	unlink(path);
	sh(b, s, &r, "echo x > /work/.git/hooks/pre-commit");
	check(r.exit.exit_code != 0 && strstr(r.err, "Read-only"),
	      "%s: protected path is read-only", mode);
	sh(b, s, &r, "head -c 2000000 /dev/zero > /scratch/big; r=$?; rm -f /scratch/big; exit $r");
	check(r.exit.exit_code != 0 && strstr(r.err, "No space left"),
	      "%s: tmpfs zone full at its size", mode);
}

static void test_persistence(const struct zb_backend *b, struct zb_session *s, bool persistent)
{
	const char *mode = persistent ? "persistent" : "per-call";
	struct result r;
	sh(b, s, &r, "echo kept > /tmp/state; echo kept > /scratch/state");
	sh(b, s, &r, "cat /tmp/state /scratch/state 2>/dev/null");
	if (persistent)
		check(strcmp(r.out, "kept\nkept\n") == 0, "%s: /tmp and tmpfs zones persist", mode);
	else
		check(r.out_len == 0, "%s: each call gets a fresh /tmp and tmpfs", mode);
}

static void test_kill_tree(const struct zb_backend *b, struct zb_session *s, const char *mode)
{
	struct result r;
	struct zb_run run;
	char *argv[] = {"/bin/sh", "-c",
			"sleep 1001 & setsid nohup sleep 1001 >/dev/null 2>&1 & "
			"(setsid sh -c 'sleep 1001 & sleep 1001' &) ; sleep 1001",
			NULL};
	if (start(b, s, &run, &r, argv, NULL, NULL) < 0) {
		check(false, "%s: kill tree: run failed", mode);
		return;
	}
	/* Five sleeps once each has exec'd: counted by their exact command line, read again
	 * until they are all there (a process between fork and exec shows its shell's). */
	int before = wait_processes("sleep 1001", 5, 5000);
	b->kill(&run);
	wait_done(&r, 10000);
	int after = wait_processes("sleep 1001", 0, 2000);
	check(r.done && r.exit.signal == SIGKILL && before >= 5 && after == 0,
	      "%s: kill ends the whole tree with setsid/nohup (before %d, after %d)", mode, before,
	      after);

	sh(b, s, &r, "sleep 1002 >/dev/null 2>&1 & echo started");
	check(r.done && r.exit.exit_code == 0 && wait_processes("sleep 1002", 0, 1000) == 0,
	      "%s: background processes end with their command", mode);
}

static void test_crash(const struct zb_backend *b, struct zb_session *s)
{
	struct result r, r2;
	struct zb_run run;
	char *argv[] = {"sleep", "1003", NULL};
	if (start(b, s, &run, &r, argv, NULL, NULL) < 0) {
		check(false, "crash: run failed");
		return;
	}
	pid_t init = 0;
	for (int i = 0; i < 500 && !(init = find_init()); i++)
		uv_run(loop, UV_RUN_NOWAIT), usleep(2000);
	if (init > 0)
		kill(init, SIGKILL);
	wait_done(&r, 10000);
	check(init > 0 && r.done && r.exit.error && r.exit.session_lost,
	      "crashed sandbox init: exited() with an error and session_lost (%s)",
	      r.exit.error ? r.exit.error : "none");
	sh(b, s, &r2, "echo again");
	check(strcmp(r2.out, "again\n") == 0, "the next command gets a fresh sandbox");
	check(wait_processes("sleep 1003", 0, 1000) == 0, "nothing of the crashed sandbox is left");
}

static void test_close_running(const struct zb_backend *b, const struct zb_config *cfg)
{
	struct zb_session *s = NULL;
	struct zb_error *err = NULL;
	b->session_open(loop, cfg, &s, &err);
	struct result r;
	struct zb_run run;
	char *argv[] = {"sleep", "1004", NULL};
	start(b, s, &run, &r, argv, NULL, NULL);
	wait_processes("sleep 1004", 1, 1000);
	close_session(b, s);
	check(r.done && r.exit.error && wait_processes("sleep 1004", 0, 1000) == 0,
	      "session_close ends running commands, which get exited() first");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (maybe_drop_privileges(argc, argv) < 0)
		return 0;
	make_base("zb-nstest");
	char p[300];
	snprintf(p, sizeof(p), "%s/work", base);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/in", base);
	mkdir(p, 0755);
	write_file("in/file", "input file\n");

	loop = uv_default_loop();
	const struct zb_backend *b = zb_backend_find("namespace");
	if (!b) {
		printf("1..0 # SKIP the namespace backend is not built\n");
		return 0;
	}
	struct zb_config *cfg = make_config("persistent");
	struct zb_error *err = NULL;
	if (b->probe(cfg, &err) < 0) {
		printf("1..0 # SKIP namespace backend unusable here: %s\n", err->msg);
		return 0;
	}
	for (int persistent = 1; persistent >= 0; persistent--) {
		struct zb_config *c = make_config(persistent ? "persistent" : "per-call");
		struct zb_session *s = NULL;
		if (b->session_open(loop, c, &s, &err) < 0) {
			printf("Bail out! session_open: %s\n", err->msg);
			return 1;
		}
		const char *mode = persistent ? "persistent" : "per-call";
		test_basics(b, s, mode);
		test_persistence(b, s, persistent);
		test_kill_tree(b, s, mode);
		if (persistent)
			test_crash(b, s);
		json_t *info = json_object();
		b->describe(s, info);
		check(json_object_get(info, "limits") != NULL, "%s: describe reports limits", mode);
		json_decref(info);
		close_session(b, s);
		zb_config_free(c);
	}
	test_close_running(b, cfg);
	zb_config_free(cfg);
	printf("1..%d\n", n_tests);
	remove_base();
	return n_failed ? 1 : 0;
}
