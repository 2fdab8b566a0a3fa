/* A command's process between fork and exec: stdio, session, limits, capabilities,
 * no_new_privs, seccomp, exec. Only async-signal-safe calls: a failure is written as a
 * struct sb_record to a close-on-exec pipe and the process exits (libuv's process.c).
 *
 * The process is made before its command is known (init.c) and does in sb_exec_prepare all
 * that does not depend on the command. The seccomp filter is already there: it came from
 * init (seccomp.c). What is left for sb_exec_wait is cheap: take the fds, chdir, drop the
 * last capabilities, exec. Until then it runs nothing but this code, blocked in recvmsg. */
#include "helper.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Landlock's scopes (Linux 6.12, ABI 6), defined here for older headers. */
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#define ZB_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define ZB_LANDLOCK_SCOPE_SIGNAL	       (1ULL << 1)
struct zb_landlock_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

int sb_landlock_abi(void)
{
#ifdef SYS_landlock_create_ruleset
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi < 0 ? -errno : (int)abi;
#else
	return -ENOSYS;
#endif
}

/* Security: with `network: host` a sandbox shares the host's network namespace, and with it
 * the host's abstract AF_UNIX sockets, which have no file and so no mount to hide them: X11
 * (@/tmp/.X11-unix/X0: keystrokes into the user's terminal), D-Bus buses and others, each a
 * way to run code on the host. A Landlock domain scoped to ABSTRACT_UNIX_SOCKET cannot
 * connect or send to an abstract socket made outside the domain (EPERM); scoped to SIGNAL,
 * it cannot signal a process outside it. It handles no file system or network access, so it
 * restricts nothing else. Init puts itself in the domain, in every network mode (it costs one
 * ruleset per sandbox), so all the sandbox's processes share it: its commands still reach
 * each other's sockets, and no longer those of the host or of the session's other sandboxes
 * (which share one network namespace with `network: none`). Without ABI 6 the scope is
 * reported as not enforced, never claimed. */
static int scope_how(int abi, char *how, size_t how_len)
{
	if (abi < 6) {
		if (abi < 0)
			snprintf(how, how_len, "not enforced: no Landlock here (%s)",
				 strerror(-abi));
		else
			snprintf(how, how_len,
				 "not enforced: the kernel's Landlock ABI is %d, scopes need 6 "
				 "(Linux 6.12)",
				 abi);
		return 0;
	}
	snprintf(how, how_len, "Landlock ABI %d: abstract unix sockets and signals", abi);
	return 1;
}

int sb_landlock_scope_expected(char *how, size_t how_len)
{
	return scope_how(sb_landlock_abi(), how, how_len);
}

int sb_landlock_scope(char *how, size_t how_len)
{
	int abi = sb_landlock_abi();
	if (abi < 6)
		return scope_how(abi, how, how_len);
	struct zb_landlock_ruleset_attr attr = {.scoped = ZB_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET |
							  ZB_LANDLOCK_SCOPE_SIGNAL};
	int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0) {
		snprintf(how, how_len, "not enforced: landlock_create_ruleset: %s",
			 strerror(errno));
		return -1;
	}
	long r = syscall(SYS_landlock_restrict_self, fd, 0);
	int e = errno;
	close(fd);
	if (r < 0) {
		snprintf(how, how_len, "not enforced: landlock_restrict_self: %s", strerror(e));
		return -1;
	}
	return scope_how(abi, how, how_len);
}

static _Noreturn void fail(const struct sb_exec *x, const char *what, int errnum)
{
	struct sb_record rec = {.kind = SB_REC_SETUP_FAILED, .value = errnum};
	/* Seen by the reaper (it shares this memory until the exec), which then leaves the
	 * report to init. */
	((struct sb_request *)x->req)->exec_failed = 1;
	size_t n = strlen(what);
	if (n >= sizeof(rec.what))
		n = sizeof(rec.what) - 1;
	memcpy(rec.what, what, n);
	ssize_t w = write(x->report_fd, &rec, sizeof(rec));
	(void)w;
	_exit(127);
}

/* Everything but the effective and permitted sets, which stay until after chdir (the cwd
 * may need CAP_DAC_OVERRIDE, as it did for the caller). */
static int drop_bounding_set(int cap_last)
{
	/* With SECBIT_NOROOT a uid-0 process gets no capabilities from execve; locked so the
	 * command cannot undo it. Attack: root inside the sandbox regaining capabilities by
	 * exec'ing any binary. */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED |
					     SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
					     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		return -1;
	for (int cap = 0; cap <= cap_last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	return 0;
}

static int clear_capabilities(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Lower a limit; never raise it (raising needs CAP_SYS_RESOURCE on the host anyway). */
static int set_limit(int resource, uint64_t value)
{
	struct rlimit rl;
	if (getrlimit(resource, &rl) < 0)
		return -1;
	if (rl.rlim_max != RLIM_INFINITY && value > rl.rlim_max)
		value = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = value;
	return setrlimit(resource, &rl);
}

static void close_range_safe(int from, int to)
{
	if (from <= to)
		syscall(SYS_close_range, (unsigned)from, (unsigned)to, 0);
}

void sb_exec_prepare(const struct sb_exec *x)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Nothing of init's survives but 0-2 (/dev/null), the request channel and the report
	 * pipe: not the control socket, not other commands' pipes (SECURITY-CASES 27). */
	int lo = x->chan < x->report_fd ? x->chan : x->report_fd;
	int hi = x->chan < x->report_fd ? x->report_fd : x->chan;
	close_range_safe(3, lo - 1);
	close_range_safe(lo + 1, hi - 1);
	syscall(SYS_close_range, (unsigned)hi + 1, ~0U, 0);
	if (setsid() < 0)
		fail(x, "setsid", errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(x, "PR_SET_PDEATHSIG", errno);
	if (x->spec->fsize && set_limit(RLIMIT_FSIZE, x->spec->fsize) < 0)
		fail(x, "RLIMIT_FSIZE", errno);
	if (x->spec->nofile && set_limit(RLIMIT_NOFILE, x->spec->nofile) < 0)
		fail(x, "RLIMIT_NOFILE", errno);
	if (x->nproc && set_limit(RLIMIT_NPROC, x->nproc) < 0)
		fail(x, "RLIMIT_NPROC", errno);
	if (drop_bounding_set(x->cap_last) < 0)
		fail(x, "dropping capabilities", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(x, "no_new_privs", errno);
	/* The filter is inherited from init; make sure. */
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2)
		fail(x, "seccomp", EPERM);
	/* Init may drop its copy of the command's stderr once the request is sent: from here
	 * on every failure is this process's to tell (init.c, start_command). */
	__atomic_store_n(&((struct sb_request *)x->req)->ready, 1, __ATOMIC_RELEASE);
}

_Noreturn void sb_exec_wait(const struct sb_exec *x)
{
	char byte;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n;
	do
		n = recvmsg(x->chan, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	/* End of file: init dropped this process (the sandbox is ending); nothing to say. */
	if (n != 1)
		_exit(0);
	((struct sb_request *)x->req)->started = 1;
	int fds[3], n_fds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				if (n_fds < 3)
					memcpy(&fds[n_fds++], CMSG_DATA(c) + i * sizeof(int),
					       sizeof(int));
	if (n_fds < 2 || (mh.msg_flags & MSG_CTRUNC))
		fail(x, "receiving the command's stdio", EBADMSG);
	/* Two fds: stdout and stderr; stdin is the sandbox's /dev/null. */
	if (n_fds == 2) {
		fds[2] = fds[1];
		fds[1] = fds[0];
		fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fds[0] < 0)
			fail(x, "open /dev/null", errno);
	}

	/* The fds are above 2 (0-2 are open on init's /dev/null), so dup2 cannot clobber one
	 * source with another. */
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			fail(x, "dup2", errno);
	/* Only fds 0-2 survive (SECURITY-CASES 27); the report pipe is moved to 3 first, and
	 * is close-on-exec. */
	struct sb_exec local = *x;
	if (x->report_fd != 3) {
		if (dup3(x->report_fd, 3, O_CLOEXEC) < 0)
			fail(x, "dup3", errno);
		local.report_fd = 3;
	}
	x = &local;
	if (syscall(SYS_close_range, 4, ~0U, 0) < 0)
		fail(x, "close_range", errno);
	const struct sb_request *req = x->req;
	if (chdir(req->cwd) < 0)
		fail(x, "cwd", errno);
	if (clear_capabilities() < 0)
		fail(x, "dropping capabilities", errno);
	execve(req->path, req->argv, req->envp);
	int e = errno;
	/* Tell the user as a shell would; init turns this into exit status 127 or 126. */
	const char *why = e == ENOENT	 ? ": No such file or directory\n"
			  : e == EACCES	 ? ": Permission denied\n"
			  : e == ENOEXEC ? ": Exec format error\n"
					 : NULL;
	if (why) {
		ssize_t w = write(2, "zonebox: ", 9);
		w = write(2, req->path, strlen(req->path));
		w = write(2, why, strlen(why));
		(void)w;
	}
	fail(x, "exec", e);
}
