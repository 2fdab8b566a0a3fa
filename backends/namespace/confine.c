/* A command's process between fork and exec: stdio, session, limits, capabilities,
 * no_new_privs, seccomp, exec. Only async-signal-safe calls: a failure is written as a
 * struct sb_record to a close-on-exec pipe and the process exits (libuv's process.c). */
#include "helper.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Noreturn void fail(const struct sb_exec *x, const char *what, int errnum)
{
	struct sb_record rec = {.kind = SB_REC_SETUP_FAILED, .value = errnum};
	size_t n = strlen(what);
	if (n >= sizeof(rec.what))
		n = sizeof(rec.what) - 1;
	memcpy(rec.what, what, n);
	ssize_t w = write(x->report_fd, &rec, sizeof(rec));
	(void)w;
	_exit(127);
}

static int drop_capabilities(int cap_last)
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

_Noreturn void sb_exec_command(const struct sb_exec *x)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);

	/* The received fds are above 2 (init keeps 0-2 on /dev/null), so dup2 cannot clobber
	 * one source with another. */
	for (int i = 0; i < 3; i++)
		if (dup2(x->fds[i], i) < 0)
			fail(x, "dup2", errno);
	/* Only fds 0-2 survive (SECURITY-CASES 27); the report pipe is moved to 3 first, and
	 * is close-on-exec. */
	if (dup3(x->report_fd, 3, O_CLOEXEC) < 0)
		fail(x, "dup3", errno);
	struct sb_exec local = *x;
	local.report_fd = 3;
	x = &local;
	if (syscall(SYS_close_range, 4, ~0U, 0) < 0)
		fail(x, "close_range", errno);
	if (setsid() < 0)
		fail(x, "setsid", errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(x, "PR_SET_PDEATHSIG", errno);
	if (chdir(x->cwd) < 0)
		fail(x, "cwd", errno);
	if (x->spec->fsize && set_limit(RLIMIT_FSIZE, x->spec->fsize) < 0)
		fail(x, "RLIMIT_FSIZE", errno);
	if (x->spec->nofile && set_limit(RLIMIT_NOFILE, x->spec->nofile) < 0)
		fail(x, "RLIMIT_NOFILE", errno);
	if (x->nproc && set_limit(RLIMIT_NPROC, x->nproc) < 0)
		fail(x, "RLIMIT_NPROC", errno);
	if (drop_capabilities(x->cap_last) < 0)
		fail(x, "dropping capabilities", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(x, "no_new_privs", errno);
	if (sb_seccomp_install(x->filter) < 0)
		fail(x, "seccomp", errno);
	execve(x->path, x->argv, x->envp);
	int e = errno;
	/* Tell the user as a shell would; init turns this into exit status 127 or 126. */
	const char *why = e == ENOENT	 ? ": No such file or directory\n"
			  : e == EACCES	 ? ": Permission denied\n"
			  : e == ENOEXEC ? ": Exec format error\n"
					 : NULL;
	if (why) {
		ssize_t w = write(2, "zonebox: ", 9);
		w = write(2, x->path, strlen(x->path));
		w = write(2, why, strlen(why));
		(void)w;
	}
	fail(x, "exec", e);
}
