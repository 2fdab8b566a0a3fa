/* pid 1 of the sandbox. It waits for `run` messages on the control socket and starts each
 * command, reports its `exit`, and kills a command's whole tree on `kill`.
 *
 * Persistent sessions: each command runs in a pid namespace whose pid 1 is a tiny reaper (a
 * fork of this process, no exec) that starts the command as its child. When the command
 * ends, the reaper kills and reaps everything left in that namespace before the exit is
 * reported: `sleep 1000 &`, `setsid nohup ...` and double forks cannot outlive the command
 * (SECURITY-CASES 20). Killing the reaper from here (kill, timeout) kills the tree with it,
 * the kernel taking down a pid namespace whose pid 1 is gone.
 * Per-call sandboxes: the command is this process's child and the sandbox ends with it.
 *
 * The next command's process is made ahead of time ("prepared"): when the sandbox starts,
 * init forks a reaper, which makes the command process and lets it confine itself
 * (confine.c) and wait. A persistent command's reaper, once its command's tree is gone and
 * the exit reported, makes the next command's process in the same, emptied, pid namespace
 * and becomes the prepared one again (recycle), or, when there is one already (commands ran
 * in parallel), waits idle for a later `run`, until none has come for a moment: init forks a
 * reaper only when more commands run at once than there are reapers. A `run` then costs init
 * a parse, a PATH lookup, a copy into the mapping it shares with that process and one
 * sendmsg; the forks, the new pid namespace and the confinement are off the command's path.
 * The reaper makes the command process as posix_spawn does (CLONE_VM | CLONE_VFORK: the
 * reaper sleeps until the exec), so only one address space is copied per command. The
 * seccomp filter is init's own, inherited.
 *
 * A persistent command's exit is reported by its reaper, straight to the server on the
 * control socket, once it has killed and reaped everything left in its pid namespace: the
 * tree is gone by then, and neither the reaper's own exit nor a turn of init is on the path
 * (init learns of it from the report pipe). Only an exit that may be an out-of-memory kill
 * or a `kill`, and a command whose process failed before its exec, are left to init.
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* In a STATUS or EXIT_SENT record's `what`: the reaper makes the next command's process and
 * waits for its request, as a prepared process does. */
#define REAPER_GOES_ON "next"

/* Persistent: at most this many reapers kept idle besides the prepared one (see recycle),
 * and for how long after the last `run`. */
#define IDLE_MAX     16
#define IDLE_KEEP_MS 100

struct cmd {
	json_int_t id;
	pid_t pid; /* the reaper (persistent) or the command (per-call) */
	int status_fd;
	int chan;		/* persistent: the channel and the mapping the reaper */
	struct sb_request *req; /* goes on with; else -1 and NULL */
	bool goes_on;		/* the reaper said so in its record */
	int err_fd;		/* the command's stderr, to say why it could not start; or -1 */
	long oom_before;
	bool killed;
	bool reported;		 /* `exit` is sent (the reaper may not be reaped yet) */
	struct sb_record failed; /* from the report pipe */
	bool have_status;
	bool sent; /* the reaper sent the `exit` */
	int status;
};

struct prepared {
	pid_t pid; /* the reaper (persistent) or the command's process; 0 = none */
	int chan;  /* our end: one byte + the command's stdio start it */
	int status_fd;
	struct sb_request *req; /* our view of the mapping it reads the request from */
	bool dead;		/* reaped before it got a command */
	int status;
	int fork_errno; /* why there is none */
	/* Per-call: the channel, pipe and mapping are made, the process is not yet; the `run`
	 * makes it (start_command), with `x` (its end of both). */
	bool deferred;
	struct sb_exec x;
};

static struct {
	const struct sb_spec *spec;
	const struct sb_cgroup *cg;
	int sock;
	int cap_last;
	uint64_t nproc;
	struct cmd *cmds;
	size_t n_cmds, cap_cmds;
	bool ran_one;
	bool command_ended; /* since the last look: time to prepare the next one */
	struct prepared prep;
	/* Persistent: reapers whose command ended while `prep` was there already, each with
	 * its next process made and waiting (recycle); prepare() takes from here first. */
	struct prepared idle[IDLE_MAX];
	size_t n_idle;
	struct timespec last_run;
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

/* The pids limit, not the sandbox, stopped a command from starting: the commands already
 * running (a persistent session's run in parallel) use up sandbox.limits.pids. That is the
 * command's failure, said on its stderr with exit status 126 as a shell says "cannot
 * execute", not a failed sandbox: the session is fine, and the next command starts once
 * some have ended. */
static bool pids_limit_hit(int errnum)
{
	return errnum == EAGAIN && g.spec->pids > 0;
}

static void send_pids_limit_exit(json_int_t id, int err_fd)
{
	if (err_fd >= 0)
		dprintf(err_fd,
			"zonebox: could not start the command: the sandbox's process limit "
			"(pids: %llu) is reached by the commands already running; wait for some "
			"to finish or raise sandbox.limits.pids\n",
			(unsigned long long)g.spec->pids);
	send_exit(id, 126, 0, false, NULL);
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

static int prepared_main(void *arg)
{
	const struct sb_exec *x = arg;
	sb_exec_prepare(x);
	sb_exec_wait(x);
}

/* pid 1 of a persistent session's command: makes the command's process, then waits for it
 * and reports its status through the report pipe. */
static _Noreturn void reaper(const struct sb_exec *x)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* Keep only the report pipe, the request channel and the control socket (this
	 * process reports the exit on it). The command's process closes the socket first
	 * thing (sb_exec_prepare keeps only the channel and the pipe), and the command cannot
	 * reach this process's copy: a socket cannot be reopened through /proc/PID/fd, this
	 * process keeps capabilities the command lacks (so /proc/PID/fd is not even readable
	 * to it), and ptrace and pidfd_getfd are refused by the filter. Attack: a command
	 * sending forged `run` or `exit` messages on the control socket. */
	int keep = x->report_fd, chan = x->chan;
	int k[3] = {keep, chan, x->sock};
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (k[j] < k[i]) {
				int t = k[i];
				k[i] = k[j];
				k[j] = t;
			}
	int from = 3;
	for (int i = 0; i < 3; i++) {
		if (k[i] < from)
			continue;
		if (k[i] > from)
			syscall(SYS_close_range, from, k[i] - 1, 0);
		from = k[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
	/* The command's process borrows this process's memory and a stack in it until it
	 * execs; this process sleeps meanwhile (vfork), so nothing else touches either. */
	static char stack[64 * 1024] __attribute__((aligned(16)));
	struct sb_request *req = (struct sb_request *)x->req;
	for (;;) {
		pid_t child = clone(prepared_main, stack + sizeof(stack),
				    CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)x);
		if (child < 0) {
			struct sb_record rec = {.kind = SB_REC_SETUP_FAILED, .value = errno};
			memcpy(rec.what, "fork", 5);
			ssize_t w = write(keep, &rec, sizeof(rec));
			(void)w;
			_exit(127);
		}
		int status = 0;
		for (;;) {
			int st;
			pid_t p = waitpid(-1, &st, 0);
			if (p == child) {
				status = st;
				break;
			}
			if (p < 0 && errno != EINTR)
				_exit(0);
		}
		/* The command has ended: end everything it left in this pid namespace and
		 * reap it (every orphan here is this process's child), so that when the exit
		 * is reported, nothing of the command is left. */
		kill(-1, SIGKILL);
		while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
			;
		struct sb_record rec = {.kind = SB_REC_STATUS, .value = status};
		/* The common case, reported from here straight to the server instead of
		 * through init (one hand-off less, ~30-50 us of a cross-CPU wake-up and init's
		 * turn): the command ran (it took its request and exec'd) and neither died of
		 * SIGKILL nor exited with 128 + SIGKILL, the two that may be an out-of-memory
		 * kill or a `kill`, which init tells apart. Init learns from the record that
		 * the exit is sent. If this process is killed between the send and the record,
		 * init reports the exit again; the server ignores an `exit` for a call that
		 * has one. */
		bool sigkill = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		bool code137 = WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL;
		if (x->sock >= 0 && req->started && !req->exec_failed && !sigkill && !code137) {
			char text[192];
			int n = snprintf(text, sizeof(text),
					 "{\"type\":\"exit\",\"id\":%lld,\"exit_code\":%d,"
					 "\"signal\":%d,\"oom_killed\":false}",
					 req->id, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
					 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			if (n > 0 && (size_t)n < sizeof(text) &&
			    zb_ns_send_raw(x->sock, text, (size_t)n, NULL, 0) == 0) {
				rec.kind = SB_REC_EXIT_SENT;
				/* The server, woken on this CPU, answers the call before
				 * init's turn and the next process's confinement. */
				sched_yield();
			}
		}
		/* A process that took a command is followed by the next one, in this same pid
		 * namespace, now empty again: the pid namespace is not made and torn down per
		 * command, and init forks nothing (REAPER_GOES_ON). One that died before it got
		 * its command (init dropped it, or its confinement failed) ends this reaper. */
		bool again = req->started;
		if (again) {
			req->started = 0;
			req->exec_failed = 0;
			__atomic_store_n(&req->ready, 0, __ATOMIC_RELEASE);
			memcpy(rec.what, REAPER_GOES_ON, sizeof(REAPER_GOES_ON));
		}
		ssize_t w = write(keep, &rec, sizeof(rec));
		(void)w;
		if (!again)
			_exit(0);
	}
}

static void drop_prepared(void)
{
	if (g.prep.chan >= 0)
		close(g.prep.chan);
	if (g.prep.req)
		munmap(g.prep.req, SB_REQUEST_MAP_SIZE);
	g.prep = (struct prepared){.chan = -1, .status_fd = -1};
}

/* Forget an idle reaper, ending it first unless it is reaped already. Killing it, pid 1 of
 * its pid namespace, ends its prepared process too. */
static void drop_idle(size_t i, bool end_it)
{
	struct prepared *r = &g.idle[i];
	if (end_it)
		kill(r->pid, SIGKILL);
	if (r->status_fd >= 0)
		close(r->status_fd);
	if (r->chan >= 0)
		close(r->chan);
	if (r->req)
		munmap(r->req, SB_REQUEST_MAP_SIZE);
	g.idle[i] = g.idle[--g.n_idle];
}

/* Make the next command's process, unless there is one: an idle reaper's, or a new
 * reaper's. On failure there is none, and the next `run` tries again (and reports the
 * error if that fails too). */
static void prepare(void)
{
	if (g.prep.pid > 0 || g.prep.deferred)
		return;
	drop_prepared();
	if (g.n_idle > 0) {
		g.prep = g.idle[--g.n_idle];
		return;
	}
	int chan[2] = {-1, -1}, rep[2] = {-1, -1};
	void *req = MAP_FAILED;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0 ||
	    pipe2(rep, O_CLOEXEC) < 0 ||
	    (req = mmap(NULL, SB_REQUEST_MAP_SIZE, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) == MAP_FAILED) {
		g.prep.fork_errno = errno;
		goto fail;
	}
	fcntl(rep[0], F_SETFL, O_NONBLOCK);
	struct sb_exec x = {.chan = chan[1],
			    .req = req,
			    .spec = g.spec,
			    .cap_last = g.cap_last,
			    .nproc = g.nproc,
			    .report_fd = rep[1],
			    .sock = g.spec->persistent ? g.sock : -1};
	/* Per-call: the process is made when the `run` has come, as posix_spawn does (see
	 * start_command): a fork made ahead copied init's page tables and cost both processes
	 * their copy-on-write faults, and the exec then threw that copy away. */
	if (!g.spec->persistent) {
		g.prep = (struct prepared){.pid = 0,
					   .chan = chan[0],
					   .status_fd = rep[0],
					   .req = req,
					   .deferred = true,
					   .x = x};
		return;
	}
	pid_t pid = raw_clone(CLONE_NEWPID);
	if (pid == 0) {
		reaper(&x);
	}
	if (pid < 0) {
		g.prep.fork_errno = errno;
		goto fail;
	}
	close(chan[1]);
	close(rep[1]);
	g.prep = (struct prepared){.pid = pid, .chan = chan[0], .status_fd = rep[0], .req = req};
	return;
fail:;
	int e = g.prep.fork_errno;
	for (int i = 0; i < 2; i++) {
		if (chan[i] >= 0)
			close(chan[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
	if (req != MAP_FAILED)
		munmap(req, SB_REQUEST_MAP_SIZE);
	g.prep.fork_errno = e;
}

/* Copy a string into the request mapping; NULL when it does not fit. */
static char *put(char **p, const char *end, const char *s)
{
	size_t n = strlen(s) + 1;
	if ((size_t)(end - *p) < n)
		return NULL;
	char *d = memcpy(*p, s, n);
	*p += n;
	return d;
}

/* Lay out path, cwd, argv and envp in the prepared process's request mapping (the same
 * addresses in both processes). */
static bool fill_request(struct sb_request *req, const char *path, const char *cwd, char **argv,
			 char **envp)
{
	size_t argc = 0, envc = 0;
	while (argv[argc])
		argc++;
	while (envp[envc])
		envc++;
	char *p = req->data, *end = (char *)req + SB_REQUEST_MAP_SIZE;
	if ((size_t)(end - p) / sizeof(char *) < argc + envc + 2)
		return false;
	req->argv = (char **)p;
	req->envp = req->argv + argc + 1;
	p = (char *)(req->envp + envc + 1);
	for (size_t i = 0; i < argc; i++)
		if (!(req->argv[i] = put(&p, end, argv[i])))
			return false;
	for (size_t i = 0; i < envc; i++)
		if (!(req->envp[i] = put(&p, end, envp[i])))
			return false;
	req->argv[argc] = req->envp[envc] = NULL;
	return (req->path = put(&p, end, path)) && (req->cwd = put(&p, end, cwd));
}

static void finish(size_t idx, int wstatus);

static void start_command(json_t *msg, int *fds, size_t n_fds)
{
	json_int_t id = -1;
	json_t *jargv = NULL, *jenv = NULL;
	const char *cwd = "/", *type = NULL;
	json_error_t je;
	char **argv = NULL, **envp = NULL;
	char *path = NULL;
	if (json_unpack_ex(msg, &je, JSON_STRICT, "{s:s, s:I, s:o, s:o, s?s}", "type", &type, "id",
			   &id, "argv", &jargv, "env", &jenv, "cwd", &cwd) < 0 ||
	    n_fds < 2) {
		char text[200];
		snprintf(text, sizeof(text), "bad run message: %s",
			 n_fds < 2 ? "it must carry 2 or 3 file descriptors" : je.text);
		send_exit(id, -1, 0, false, text);
		goto out;
	}
	argv = string_array(jargv);
	envp = string_array(jenv);
	if (!argv || !argv[0] || !envp) {
		send_exit(id, -1, 0, false, "bad run message: argv and env must be string arrays");
		goto out;
	}
	/* A prepared process that died before it got a command (the pids limit was reached
	 * when it was made, say) is replaced: the limit may have room again by now. */
	if (g.prep.pid > 0 && g.prep.dead) {
		if (g.prep.status_fd >= 0)
			close(g.prep.status_fd);
		g.prep.status_fd = -1;
		drop_prepared();
	}
	path = resolve_program(argv[0], envp);
	if (!path) {
		dprintf(fds[n_fds - 1], "zonebox: %s: command not found\n", argv[0]);
		g.ran_one = true;
		send_exit(id, 127, 0, false, NULL);
		goto out;
	}
	prepare();
	bool deferred = g.prep.deferred;
	if (deferred)
		; /* made below, once the request is sent */
	else if (g.prep.pid <= 0 && pids_limit_hit(g.prep.fork_errno)) {
		send_pids_limit_exit(id, fds[n_fds - 1]);
		goto out;
	}
	if (g.prep.pid <= 0 && !deferred) {
		char text[160];
		snprintf(text, sizeof(text), "cannot start the command: fork: %s",
			 strerror(g.prep.fork_errno));
		send_exit(id, -1, 0, false, text);
		goto out;
	}
	if (!fill_request(g.prep.req, path, cwd, argv, envp)) {
		send_exit(id, -1, 0, false,
			  "the command, its arguments and environment are too long");
		goto out;
	}
	long oom_before = sb_cgroup_oom_kills(g.cg);
	if (g.n_idle > 0)
		clock_gettime(CLOCK_MONOTONIC, &g.last_run);
	g.prep.req->id = (long long)id;
	/* A process that died in the meantime has closed its end: the send fails, and its
	 * report (or status) says why once it is reaped. */
	char byte = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
	ssize_t sent;
	do
		sent = sendmsg(g.prep.chan, &mh, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (deferred) {
		/* The request and the stdio wait in the channel; the new process confines
		 * itself, takes them and execs while this one sleeps (CLONE_VFORK), in this
		 * address space and on a stack of its own: nothing to copy, no fault after.
		 * It reads the request from the shared mapping as a prepared process does. */
		static char stack[64 * 1024] __attribute__((aligned(16)));
		pid_t pid = sent < 0 ? -1
				     : clone(prepared_main, stack + sizeof(stack),
					     CLONE_VM | CLONE_VFORK | SIGCHLD, &g.prep.x);
		int e = errno;
		close(g.prep.x.chan);
		close(g.prep.x.report_fd);
		if (pid < 0) {
			close(g.prep.status_fd);
			g.prep.status_fd = -1;
			drop_prepared();
			if (sent >= 0 && pids_limit_hit(e)) {
				send_pids_limit_exit(id, fds[n_fds - 1]);
			} else {
				char text[160];
				snprintf(text, sizeof(text), "cannot start the command: %s: %s",
					 sent < 0 ? "sendmsg" : "fork", strerror(e));
				send_exit(id, -1, 0, false, text);
			}
			goto out;
		}
		g.prep.pid = pid;
	}
	if (g.n_cmds == g.cap_cmds) {
		g.cap_cmds = g.cap_cmds ? g.cap_cmds * 2 : 8;
		g.cmds = zb_xrealloc(g.cmds, g.cap_cmds * sizeof(*g.cmds));
	}
	/* Init keeps a copy of the command's stderr only to tell of a failure of the
	 * command's process before it took its stdio (the pids limit reached by the reaper's
	 * fork). Once that process is confined and waiting, and has the request, it tells
	 * every failure itself; a copy kept here would hold the server's pipe open, and the
	 * call's end, until init's own turn came. */
	bool ready = sent >= 0 && __atomic_load_n(&g.prep.req->ready, __ATOMIC_ACQUIRE);
	g.cmds[g.n_cmds++] =
		(struct cmd){.id = id,
			     .pid = g.prep.pid,
			     .status_fd = g.prep.status_fd,
			     .chan = -1,
			     .err_fd = ready ? -1 : fcntl(fds[n_fds - 1], F_DUPFD_CLOEXEC, 3),
			     .oom_before = oom_before};
	g.ran_one = true;
	bool dead = g.prep.dead;
	int status = g.prep.status;
	g.prep.status_fd = -1; /* the command's now */
	if (g.spec->persistent) {
		/* Kept for the reaper's next command (recycle). */
		g.cmds[g.n_cmds - 1].chan = g.prep.chan;
		g.cmds[g.n_cmds - 1].req = g.prep.req;
		g.prep.chan = -1;
		g.prep.req = NULL;
	}
	drop_prepared();
	/* The next command's process is made once this one has ended, not while it starts:
	 * the fork and the new process's confinement, on the other CPU, slowed the starting
	 * command by a fifth on two cores. With other commands running, the first of them to
	 * end leaves its reaper prepared (recycle); a `run` that comes before makes one. */
	if (dead)
		finish(g.n_cmds - 1, status);
out:
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	free(path);
	free_strv(argv);
	free_strv(envp);
}

/* Take what the report pipe holds: a setup failure of the command's process, and the
 * command's status (persistent: written by the reaper once the command's tree is gone). */
static void read_records(struct cmd *c)
{
	struct sb_record rec;
	ssize_t n;
	while (c->status_fd >= 0 && (n = read(c->status_fd, &rec, sizeof(rec))) != 0) {
		if (n != (ssize_t)sizeof(rec))
			return; /* EAGAIN: more to come */
		if (rec.kind == SB_REC_SETUP_FAILED)
			c->failed = rec;
		else if (rec.kind == SB_REC_STATUS || rec.kind == SB_REC_EXIT_SENT) {
			c->status = rec.value;
			c->have_status = true;
			c->sent = rec.kind == SB_REC_EXIT_SENT;
			/* What follows in the pipe is the next command's. */
			rec.what[sizeof(rec.what) - 1] = '\0';
			if (strcmp(rec.what, REAPER_GOES_ON) == 0) {
				c->goes_on = true;
				return;
			}
		}
	}
	/* End of file: every writer is gone (a killed reaper writes no status); the rest
	 * comes with SIGCHLD. */
	if (c->status_fd >= 0)
		close(c->status_fd);
	c->status_fd = -1;
}

static void report_failure(struct cmd *c, const struct sb_record *failed);
static void report_status(struct cmd *c, int wstatus);

static void report(struct cmd *c, int wstatus)
{
	g.command_ended = true;
	c->reported = true;
	if (c->status_fd >= 0 && !c->goes_on) {
		close(c->status_fd);
		c->status_fd = -1;
	}
	if (c->sent)
		; /* by the reaper */
	else if (c->failed.kind)
		report_failure(c, &c->failed);
	else
		report_status(c, wstatus);
	if (c->err_fd >= 0)
		close(c->err_fd);
	c->err_fd = -1;
}

static void report_failure(struct cmd *c, const struct sb_record *failed_rec)
{
	struct sb_record failed = *failed_rec;
	failed.what[sizeof(failed.what) - 1] = '\0';
	/* The reaper could not make the command's process. */
	if (strcmp(failed.what, "fork") == 0 && pids_limit_hit(failed.value)) {
		send_pids_limit_exit(c->id, c->err_fd);
		return;
	}
	/* A program that cannot be executed is the command's failure, as in a shell (127
	 * not found, 126 not executable); the message went to its stderr. */
	if (strcmp(failed.what, "exec") == 0 &&
	    (failed.value == ENOENT || failed.value == EACCES || failed.value == ENOEXEC)) {
		send_exit(c->id, failed.value == ENOENT ? 127 : 126, 0, false, NULL);
		return;
	}
	char text[200];
	if (strcmp(failed.what, "cwd") == 0)
		snprintf(text, sizeof(text),
			 "cannot change to the working directory: %s; give a cwd that exists "
			 "inside a zone",
			 strerror(failed.value));
	else
		snprintf(text, sizeof(text), "cannot start the command: %s: %s", failed.what,
			 strerror(failed.value));
	send_exit(c->id, -1, 0, false, text);
}

static void report_status(struct cmd *c, int wstatus)
{
	if (c->have_status)
		wstatus = c->status;
	int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	int sig = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
	/* The cgroup's OOM killer fired while the command ran, and the command died of
	 * SIGKILL or, as a shell does when a process it waited for was killed so, exited with
	 * 128 + SIGKILL (`head -c 1G /dev/zero | tail`). */
	bool oom = false;
	if ((sig == SIGKILL || code == 128 + SIGKILL) && c->oom_before >= 0 && !c->killed)
		oom = sb_cgroup_oom_kills(g.cg) > c->oom_before;
	send_exit(c->id, code, sig, oom, NULL);
}

static void release(struct cmd *c)
{
	if (c->status_fd >= 0)
		close(c->status_fd);
	if (c->chan >= 0)
		close(c->chan);
	if (c->req)
		munmap(c->req, SB_REQUEST_MAP_SIZE);
	c->status_fd = c->chan = -1;
	c->req = NULL;
}

/* The command's process (per-call) or its reaper (persistent) was reaped. */
static void finish(size_t idx, int wstatus)
{
	struct cmd c = g.cmds[idx];
	g.cmds[idx] = g.cmds[--g.n_cmds];
	if (!c.reported) {
		c.goes_on = false; /* it is gone */
		read_records(&c);
		report(&c, wstatus);
	}
	release(&c);
}

/* How many reapers may wait idle besides the prepared one. Each holds two of the pids limit
 * (itself and its waiting process) that commands running meanwhile cannot use, so a small
 * limit keeps none, and a larger one at most an eighth of it (16 of the default 256). */
static size_t idle_max(void)
{
	uint64_t n = g.spec->pids ? g.spec->pids / 16 : IDLE_MAX;
	return n < IDLE_MAX ? (size_t)n : IDLE_MAX;
}

/* End the idle reapers once no `run` has come for IDLE_KEEP_MS: they serve a stream of
 * parallel calls, and ended, they give a command that runs alone its whole pids limit back.
 * The poll timeout until then, or -1 when there are none. */
static int trim_idle(void)
{
	if (g.n_idle == 0)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - g.last_run.tv_sec) * 1000 +
		  (now.tv_nsec - g.last_run.tv_nsec) / 1000000;
	if (ms < IDLE_KEEP_MS)
		return (int)(IDLE_KEEP_MS - ms);
	while (g.n_idle > 0)
		drop_idle(g.n_idle - 1, true);
	return -1;
}

/* A persistent command has ended and been reported, and its reaper goes on with the next
 * command's process in the same, emptied, pid namespace: that reaper becomes the prepared
 * one. When there is one already (commands ran in parallel), it waits idle for a later
 * `run`, as the next process it has just made would otherwise be wasted, and a `run` that
 * finds no prepared process would fork a reaper; with IDLE_MAX idle, it is ended instead
 * (reap() takes its status). An idle reaper holds nothing of its command: it killed and
 * reaped the whole tree before it reported the exit. */
static void recycle(size_t idx)
{
	struct cmd c = g.cmds[idx];
	g.cmds[idx] = g.cmds[--g.n_cmds];
	struct prepared r = {.pid = c.pid, .chan = c.chan, .status_fd = c.status_fd, .req = c.req};
	if (g.prep.pid > 0 && g.prep.dead) {
		if (g.prep.status_fd >= 0)
			close(g.prep.status_fd);
		g.prep.status_fd = -1;
		drop_prepared();
	}
	if (g.prep.pid <= 0) {
		drop_prepared();
		g.prep = r;
		return;
	}
	if (g.n_idle < idle_max()) {
		if (g.n_idle == 0)
			clock_gettime(CLOCK_MONOTONIC, &g.last_run);
		g.idle[g.n_idle++] = r;
		return;
	}
	kill(c.pid, SIGKILL);
	release(&c);
}

/* A persistent command's report pipe is readable: report as soon as the status is there. */
static void on_report_pipe(size_t idx)
{
	struct cmd *c = &g.cmds[idx];
	read_records(c);
	if (!c->have_status)
		return;
	report(c, c->status);
	if (c->goes_on)
		recycle(idx);
}

static void reap(void)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return;
		if (p == g.prep.pid) {
			/* Reported with the command it was meant for (a failure record). */
			g.prep.dead = true;
			g.prep.status = st;
			continue;
		}
		for (size_t i = 0; i < g.n_idle; i++)
			if (g.idle[i].pid == p) {
				/* Its next process could not be made (the pids limit); the
				 * failure is nobody's. */
				drop_idle(i, false);
				p = 0;
				break;
			}
		for (size_t i = 0; p > 0 && i < g.n_cmds; i++)
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
		if (g.cmds[i].id == id && !g.cmds[i].reported) {
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

_Noreturn void sb_init_run(const struct sb_spec *spec, const struct sb_cgroup *cg, int sock)
{
	g.spec = spec;
	g.cg = cg;
	g.sock = sock;
	g.cap_last = read_cap_last();
	/* Without a pids cgroup, a user namespace still bounds the number of processes: since
	 * Linux 5.14 RLIMIT_NPROC is counted per user namespace, so this limit covers this
	 * sandbox only, with the sandbox's own processes on top (sb_pids_overhead; the
	 * session helper is outside the sandbox's user namespace). */
	if (spec->userns && spec->pids && !cg->pids.enforced)
		g.nproc = spec->pids + sb_pids_overhead(spec);

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		sb_send_error(sock, "signalfd: %s", strerror(errno));
		_exit(1);
	}
	g.prep = (struct prepared){.chan = -1, .status_fd = -1};
	prepare();
	struct pollfd *p = NULL;
	size_t cap_p = 0;
	for (;;) {
		/* The control socket, SIGCHLD, and the report pipes of running commands. */
		if (cap_p < g.n_cmds + 2) {
			cap_p = g.n_cmds + 8;
			p = zb_xrealloc(p, cap_p * sizeof(*p));
		}
		p[0] = (struct pollfd){.fd = sock, .events = POLLIN};
		p[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
		size_t n_p = 2;
		for (size_t i = 0; spec->persistent && i < g.n_cmds; i++)
			p[n_p++] = (struct pollfd){.fd = g.cmds[i].status_fd, .events = POLLIN};
		if (poll(p, n_p, trim_idle()) < 0) {
			if (errno == EINTR)
				continue;
			shutdown_sandbox();
		}
		for (size_t i = 2; i < n_p; i++)
			if (p[i].revents)
				for (size_t k = 0; k < g.n_cmds; k++)
					if (g.cmds[k].status_fd == p[i].fd && p[i].fd >= 0)
						on_report_pipe(k);
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			reap();
			if (!spec->persistent && g.ran_one && g.n_cmds == 0)
				shutdown_sandbox();
		}
		/* Not after a prepared process died on its own: that would loop. */
		if (g.command_ended && spec->persistent)
			prepare();
		g.command_ended = false;
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
