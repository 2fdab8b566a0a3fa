/* pid 1 of the sandbox. It waits for `run` messages on the control socket and starts each
 * command, reports `started` and `exit`, and kills a command's whole tree on `kill`.
 *
 * Persistent sessions: each command gets a pid namespace of its own, whose pid 1 is a tiny
 * reaper (a fork of this process, no exec) that starts the command as its child. When the
 * command ends, or is killed, the reaper exits and the kernel kills everything left in that
 * namespace: `sleep 1000 &`, `setsid nohup ...` and double forks cannot outlive the command
 * (SECURITY-CASES 20). Killing the reaper from here kills the tree.
 * Per-call sandboxes: the command is this process's child and the sandbox ends with it.
 *
 * When the control socket reaches end of file (the server is gone, even by SIGKILL), init
 * kills everything and exits, which tears down the sandbox's pid namespace (21). */
#include "helper.h"
#include "proto.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct cmd {
	json_int_t id;
	pid_t pid; /* the reaper (persistent) or the command (per-call) */
	int status_fd;
	long oom_before;
	bool killed;
};

static struct {
	const struct sb_spec *spec;
	const struct sb_cgroup *cg;
	const struct sock_fprog *filter;
	int sock;
	int cap_last;
	uint64_t nproc;
	struct cmd *cmds;
	size_t n_cmds, cap_cmds;
	bool ran_one;
} g;

/* A fork that also takes clone flags (CLONE_NEWPID). The child must stick to plain system
 * calls: glibc's cached thread id is stale there. */
static pid_t raw_clone(unsigned long flags)
{
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

static void send_msg(json_t *msg)
{
	zb_ns_send(g.sock, msg, NULL, 0);
	json_decref(msg);
}

static void send_exit(json_int_t id, int exit_code, int sig, bool oom, const char *error)
{
	json_t *m = json_pack("{s:s, s:I, s:i, s:i, s:b}", "type", "exit", "id", id, "exit_code",
			      exit_code, "signal", sig, "oom_killed", oom);
	if (error)
		json_object_set_new(m, "error", json_string(error));
	send_msg(m);
}

static int read_cap_last(void)
{
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	char buf[16] = "";
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		(void)n;
		close(fd);
	}
	int v = atoi(buf);
	return v > 0 ? v : 63;
}

/* PATH lookup with the command's own PATH, inside the sandbox. */
static char *resolve_program(const char *name, char **envp)
{
	if (strchr(name, '/'))
		return zb_xstrdup(name);
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	for (char **e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	for (const char *p = path; *p;) {
		const char *end = strchrnul(p, ':');
		char *cand = zb_xasprintf("%.*s/%s", (int)(end - p), p, name);
		struct stat st;
		if (end > p && stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0)
			return cand;
		free(cand);
		p = *end ? end + 1 : end;
	}
	return NULL;
}

static char **string_array(json_t *a)
{
	if (!json_is_array(a))
		return NULL;
	char **v = zb_xcalloc(json_array_size(a) + 1, sizeof(char *));
	size_t i;
	json_t *s;
	json_array_foreach(a, i, s)
	{
		/* A NUL inside a string would silently cut it short. */
		if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s)) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return NULL;
		}
		v[i] = zb_xstrdup(json_string_value(s));
	}
	return v;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static _Noreturn void reaper(const struct sb_exec *x)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	pid_t child = raw_clone(0);
	if (child == 0)
		sb_exec_command(x);
	/* Keep only the report pipe. */
	int keep = x->report_fd;
	for (int fd = 3; fd < keep; fd++)
		close(fd);
	syscall(SYS_close_range, keep + 1, ~0U, 0);
	if (child < 0) {
		struct sb_record rec = {.kind = SB_REC_SETUP_FAILED, .value = errno};
		memcpy(rec.what, "fork", 5);
		ssize_t w = write(keep, &rec, sizeof(rec));
		(void)w;
		_exit(127);
	}
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p == child) {
			struct sb_record rec = {.kind = SB_REC_STATUS, .value = st};
			ssize_t w = write(keep, &rec, sizeof(rec));
			(void)w;
			_exit(0);
		}
		if (p < 0 && errno != EINTR)
			_exit(0);
	}
}

static void start_command(json_t *msg, int *fds, size_t n_fds)
{
	json_int_t id = -1;
	json_t *jargv = NULL, *jenv = NULL;
	const char *cwd = "/", *type = NULL;
	json_error_t je;
	if (json_unpack_ex(msg, &je, JSON_STRICT, "{s:s, s:I, s:o, s:o, s?s}", "type", &type, "id",
			   &id, "argv", &jargv, "env", &jenv, "cwd", &cwd) < 0 ||
	    n_fds != 3) {
		char text[200];
		snprintf(text, sizeof(text), "bad run message: %s",
			 n_fds != 3 ? "it must carry 3 file descriptors" : je.text);
		send_exit(id, -1, 0, false, text);
		return;
	}
	char **argv = string_array(jargv), **envp = string_array(jenv);
	if (!argv || !argv[0] || !envp) {
		send_exit(id, -1, 0, false, "bad run message: argv and env must be string arrays");
		goto out;
	}
	char *path = resolve_program(argv[0], envp);
	if (!path) {
		dprintf(fds[2], "zonebox: %s: command not found\n", argv[0]);
		g.ran_one = true;
		send_exit(id, 127, 0, false, NULL);
		goto out;
	}
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		send_exit(id, -1, 0, false, "pipe failed in the sandbox init");
		free(path);
		goto out;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	struct sb_exec x = {.fds = {fds[0], fds[1], fds[2]},
			    .path = path,
			    .argv = argv,
			    .envp = envp,
			    .cwd = cwd,
			    .spec = g.spec,
			    .filter = g.filter,
			    .cap_last = g.cap_last,
			    .nproc = g.nproc,
			    .report_fd = pipefd[1]};
	long oom_before = sb_cgroup_oom_kills(g.cg);
	pid_t pid = raw_clone(g.spec->persistent ? CLONE_NEWPID : 0);
	if (pid == 0) {
		if (g.spec->persistent)
			reaper(&x);
		sb_exec_command(&x);
	}
	int saved = errno;
	close(pipefd[1]);
	free(path);
	if (pid < 0) {
		close(pipefd[0]);
		char text[160];
		snprintf(text, sizeof(text), "cannot start the command: fork: %s", strerror(saved));
		send_exit(id, -1, 0, false, text);
		goto out;
	}
	if (g.n_cmds == g.cap_cmds) {
		g.cap_cmds = g.cap_cmds ? g.cap_cmds * 2 : 8;
		g.cmds = zb_xrealloc(g.cmds, g.cap_cmds * sizeof(*g.cmds));
	}
	g.cmds[g.n_cmds++] = (struct cmd){
		.id = id, .pid = pid, .status_fd = pipefd[0], .oom_before = oom_before};
	g.ran_one = true;
	send_msg(json_pack("{s:s, s:I}", "type", "started", "id", id));
out:
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	free_strv(argv);
	free_strv(envp);
}

static void finish(size_t idx, int wstatus)
{
	struct cmd c = g.cmds[idx];
	g.cmds[idx] = g.cmds[--g.n_cmds];
	struct sb_record rec, failed = {0};
	bool have_status = false;
	while (read(c.status_fd, &rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
		if (rec.kind == SB_REC_SETUP_FAILED)
			failed = rec;
		else if (rec.kind == SB_REC_STATUS) {
			wstatus = rec.value;
			have_status = true;
		}
	}
	close(c.status_fd);
	(void)have_status;
	if (failed.kind) {
		failed.what[sizeof(failed.what) - 1] = '\0';
		/* A program that cannot be executed is the command's failure, as in a shell
		 * (127 not found, 126 not executable); the message went to its stderr. */
		if (strcmp(failed.what, "exec") == 0 &&
		    (failed.value == ENOENT || failed.value == EACCES || failed.value == ENOEXEC)) {
			send_exit(c.id, failed.value == ENOENT ? 127 : 126, 0, false, NULL);
			return;
		}
		char text[200];
		if (strcmp(failed.what, "cwd") == 0)
			snprintf(text, sizeof(text),
				 "cannot change to the working directory: %s; give a cwd that "
				 "exists inside a zone",
				 strerror(failed.value));
		else
			snprintf(text, sizeof(text), "cannot start the command: %s: %s",
				 failed.what, strerror(failed.value));
		send_exit(c.id, -1, 0, false, text);
		return;
	}
	int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	int sig = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
	bool oom = false;
	if (sig == SIGKILL && c.oom_before >= 0 && !c.killed)
		oom = sb_cgroup_oom_kills(g.cg) > c.oom_before;
	send_exit(c.id, code, sig, oom, NULL);
}

static void reap(void)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return;
		for (size_t i = 0; i < g.n_cmds; i++)
			if (g.cmds[i].pid == p) {
				finish(i, st);
				break;
			}
	}
}

static void kill_command(json_t *msg)
{
	json_int_t id = -1;
	if (json_unpack(msg, "{s:I}", "id", &id) < 0)
		return;
	for (size_t i = 0; i < g.n_cmds; i++)
		if (g.cmds[i].id == id) {
			g.cmds[i].killed = true;
			/* Per-call: everything in the sandbox but init belongs to the command. */
			if (g.spec->persistent)
				kill(g.cmds[i].pid, SIGKILL);
			else
				kill(-1, SIGKILL);
		}
}

static _Noreturn void shutdown_sandbox(void)
{
	kill(-1, SIGKILL);
	_exit(0);
}

_Noreturn void sb_init_run(const struct sb_spec *spec, const struct sb_cgroup *cg,
			   const struct sock_fprog *filter, int sock)
{
	g.spec = spec;
	g.cg = cg;
	g.filter = filter;
	g.sock = sock;
	g.cap_last = read_cap_last();
	/* Without a pids cgroup, a user namespace still bounds the number of processes: since
	 * Linux 5.14 RLIMIT_NPROC is counted per user namespace, so this limit covers this
	 * sandbox only (plus the helper, init and the reaper, which also run as the caller). */
	if (spec->userns && spec->pids && !cg->pids.enforced)
		g.nproc = spec->pids + 3;

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		sb_send_error(sock, "signalfd: %s", strerror(errno));
		_exit(1);
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			shutdown_sandbox();
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			reap();
			if (!spec->persistent && g.ran_one && g.n_cmds == 0)
				shutdown_sandbox();
		}
		if (p[0].revents) {
			for (;;) {
				json_t *msg = NULL;
				int fds[ZB_NS_MAX_FDS];
				size_t n_fds = 0;
				int r = zb_ns_recv(sock, &msg, fds, ZB_NS_MAX_FDS, &n_fds);
				if (r == -EAGAIN)
					break;
				if (r == -EBADMSG)
					continue;
				if (r < 0)
					shutdown_sandbox();
				const char *type = json_string_value(json_object_get(msg, "type"));
				if (type && strcmp(type, "run") == 0 &&
				    (spec->persistent || !g.ran_one)) {
					start_command(msg, fds, n_fds);
				} else {
					for (size_t i = 0; i < n_fds; i++)
						close(fds[i]);
					if (type && strcmp(type, "kill") == 0)
						kill_command(msg);
				}
				json_decref(msg);
			}
			if (!spec->persistent && g.ran_one && g.n_cmds == 0)
				shutdown_sandbox();
		}
	}
}
