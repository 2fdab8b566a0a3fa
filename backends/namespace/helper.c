/* zonebox-sandbox: builds one sandbox for the zonebox server and runs commands in it.
 *
 * The server starts it (uv_spawn) with one end of a SOCK_SEQPACKET socketpair as fd 3 and
 * sends the spec (proto.h). This process stays in the host's pid namespace as the sandbox's
 * monitor: it creates the cgroup, unshares the namespaces, forks the sandbox's pid 1 (init.c)
 * and waits for it, then removes the cgroup. The init talks to the server from then on.
 *
 * Parent death: this process dies with the server thread that spawned it (PR_SET_PDEATHSIG),
 * init dies with this process, and every command dies with init (pid namespace teardown).
 */
#include "helper.h"
#include "proto.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void sb_send_error(int sock, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	json_t *m = json_pack("{s:s, s:s}", "type", "error", "message", text ? text : fmt);
	zb_ns_send(sock, m, NULL, 0);
	json_decref(m);
	free(text);
}

int sb_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, len);
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

static int read_int_file(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/* Why a user namespace could not be made or used, and what fixes it. */
static const char *userns_hint(void)
{
	if (read_int_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1)
		return "AppArmor restricts unprivileged user namespaces on this system (Ubuntu "
		       "23.10 and later). Install zonebox's AppArmor profile, which allows them "
		       "for zonebox-sandbox only: sudo install -m 644 clients/apparmor/zonebox "
		       "/etc/apparmor.d/zonebox && sudo apparmor_parser -r "
		       "/etc/apparmor.d/zonebox (edit the path in it if zonebox-sandbox is not in "
		       "/usr/local/bin)";
	if (read_int_file("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		return "unprivileged user namespaces are switched off (sysctl "
		       "kernel.unprivileged_userns_clone=0). Switch them on with: sudo sysctl -w "
		       "kernel.unprivileged_userns_clone=1 (and put it in /etc/sysctl.d/ to keep "
		       "it)";
	if (read_int_file("/proc/sys/user/max_user_namespaces") == 0)
		return "user namespaces are switched off (sysctl user.max_user_namespaces=0). "
		       "Switch them on with: sudo sysctl -w user.max_user_namespaces=15000";
	return "the kernel refused a user namespace; inside a container this usually means its "
	       "seccomp or AppArmor profile forbids them: run the container with "
	       "--security-opt seccomp=unconfined --security-opt apparmor=unconfined, or use "
	       "sandbox.backend: docker";
}

static int map_ids(const struct sb_spec *spec)
{
	char map[64];
	if (sb_write_file("/proc/self/setgroups", "deny", 4) < 0 && errno != ENOENT)
		return -1;
	int n = snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)spec->uid, (unsigned)spec->uid);
	if (sb_write_file("/proc/self/uid_map", map, (size_t)n) < 0)
		return -1;
	n = snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)spec->gid, (unsigned)spec->gid);
	return sb_write_file("/proc/self/gid_map", map, (size_t)n);
}

/* The new network namespace has only a loopback device, and it starts down. */
static int loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (r == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	int saved = errno;
	close(s);
	errno = saved;
	return r;
}

static json_t *ready_message(const struct sb_spec *spec, const struct sb_cgroup *cg)
{
	json_t *limits = sb_cgroup_describe(cg);
	char fsize[64], nofile[64];
	snprintf(fsize, sizeof(fsize), "RLIMIT_FSIZE %llu", (unsigned long long)spec->fsize);
	snprintf(nofile, sizeof(nofile), "RLIMIT_NOFILE %llu", (unsigned long long)spec->nofile);
	json_object_set_new(limits, "fsize",
			    json_pack("{s:b, s:s}", "enforced", spec->fsize > 0, "how",
				      spec->fsize ? fsize : "not configured"));
	json_object_set_new(limits, "nofile",
			    json_pack("{s:b, s:s}", "enforced", spec->nofile > 0, "how",
				      spec->nofile ? nofile : "not configured"));
	return json_pack("{s:s, s:o, s:{s:b, s:s, s:s*, s:b, s:b}}", "type", "ready", "limits",
			 limits, "isolation", "user_namespace", spec->userns, "network",
			 spec->net_host ? "host" : "none", "cgroup",
			 cg->version == 2   ? "v2"
			 : cg->version == 1 ? "v1"
					    : NULL,
			 "seccomp", 1, "no_new_privs", 1);
}

/* The monitor sends the compiled filter (after moving init into the cgroup): a length, then
 * the BPF instructions. */
static int receive_filter(int fd, struct sock_fprog *filter)
{
	unsigned short len;
	if (read(fd, &len, sizeof(len)) != (ssize_t)sizeof(len) || len == 0)
		return -1;
	size_t size = len * sizeof(struct sock_filter), got = 0;
	filter->filter = zb_xmalloc(size);
	filter->len = len;
	while (got < size) {
		ssize_t n = read(fd, (char *)filter->filter + got, size - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static _Noreturn void sandbox_init(struct sb_spec *spec, struct sb_cgroup *cg, int sock,
				   int filter_fd)
{
	_cleanup_error_ struct zb_error *err = NULL;
	struct sock_fprog filter;
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	/* The network namespace is made here, in parallel with the monitor compiling the
	 * filter: creating one is the slowest of the namespaces. */
	if (unshare(CLONE_NEWNS | (spec->net_host ? 0 : CLONE_NEWNET)) < 0) {
		sb_send_error(sock, "unshare(CLONE_NEWNS|CLONE_NEWNET): %s%s%s", strerror(errno),
			      spec->userns ? ". " : "", spec->userns ? userns_hint() : "");
		_exit(1);
	}
	if (!spec->net_host && loopback_up() < 0) {
		sb_send_error(sock, "bringing up the sandbox's loopback: %s%s%s", strerror(errno),
			      spec->userns ? ". " : "", spec->userns ? userns_hint() : "");
		_exit(1);
	}
	if (sb_mounts_build(spec, &err) < 0) {
		if (spec->userns && err->errnum == EPERM)
			sb_send_error(sock, "building the sandbox: %s. %s", err->msg,
				      userns_hint());
		else
			sb_send_error(sock, "building the sandbox: %s", err->msg);
		_exit(1);
	}
	if (receive_filter(filter_fd, &filter) < 0)
		_exit(1); /* the monitor has reported why */
	close(filter_fd);
	/* Unshared after the move into the sandbox's cgroup, so that cgroup is its root. */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		sb_send_error(sock, "unshare(CLONE_NEWCGROUP): %s", strerror(errno));
		_exit(1);
	}
	json_t *ready = ready_message(spec, cg);
	if (spec->userns && spec->pids && !cg->pids.enforced)
		json_object_set_new(json_object_get(ready, "limits"), "pids",
				    json_pack("{s:b, s:s}", "enforced", 1, "how",
					      "RLIMIT_NPROC in the sandbox's user namespace"));
	zb_ns_send(sock, ready, NULL, 0);
	json_decref(ready);
	sb_init_run(spec, cg, &filter, sock);
}

int main(int argc, char **argv)
{
	int sock = ZB_NS_CONTROL_FD;
	struct stat st;
	if (argc > 1 || fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr,
			"zonebox-sandbox is started by the zonebox server (namespace "
			"backend) with its control socket as fd 3; it takes no arguments.\n");
		return 2;
	}
	/* Die with the server's thread, even when it is SIGKILLed (SECURITY-CASES 21). */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() == 1)
		return 1;
	/* fds 0-2 stay as the server gave them (logs on 2); nothing else comes in. */
	syscall(SYS_close_range, ZB_NS_CONTROL_FD + 1, ~0U, 0);
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return 1;

	json_t *msg = NULL;
	int fds[ZB_NS_MAX_FDS];
	size_t n_fds = 0;
	int r;
	for (;;) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return 1;
		r = zb_ns_recv(sock, &msg, fds, ZB_NS_MAX_FDS, &n_fds);
		if (r != -EAGAIN)
			break;
	}
	if (r < 0)
		return 1;
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);

	_cleanup_error_ struct zb_error *err = NULL;
	struct sb_spec spec;
	if (sb_spec_parse(msg, &spec, &err) < 0) {
		sb_send_error(sock, "%s", err->msg);
		return 1;
	}
	json_decref(msg);

	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, &cg);
	/* The mount namespace is init's alone (it unshares it itself): pivot_root moves every
	 * process of a mount namespace that sits at its root, and this process must stay on the
	 * host's tree to manage the cgroup. Init makes the network namespace too. */
	int flags = CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID;
	if (spec.userns)
		flags |= CLONE_NEWUSER;
	if (unshare(flags) < 0) {
		int e = errno;
		if (spec.userns)
			sb_send_error(sock, "cannot create the sandbox's namespaces: %s. %s",
				      strerror(e), userns_hint());
		else
			sb_send_error(
				sock,
				"cannot create the sandbox's namespaces: %s. zonebox runs as "
				"root here but without CAP_SYS_ADMIN (a container?): run it as "
				"an ordinary user, or give the container user namespaces",
				strerror(e));
		sb_cgroup_destroy(&cg);
		return 1;
	}
	if (spec.userns && map_ids(&spec) < 0) {
		sb_send_error(sock, "cannot map the user and group ids: %s. %s", strerror(errno),
			      userns_hint());
		sb_cgroup_destroy(&cg);
		return 1;
	}
	if (sethostname(spec.hostname, strlen(spec.hostname)) < 0) {
		sb_send_error(sock, "setting the sandbox's host name: %s%s%s", strerror(errno),
			      spec.userns ? ". " : "", spec.userns ? userns_hint() : "");
		sb_cgroup_destroy(&cg);
		return 1;
	}

	int sync[2] = {-1, -1};
	if (pipe2(sync, O_CLOEXEC) < 0) {
		sb_send_error(sock, "pipe: %s", strerror(errno));
		sb_cgroup_destroy(&cg);
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(sync[1]);
		sandbox_init(&spec, &cg, sock, sync[0]);
	}
	if (pid < 0) {
		sb_send_error(sock, "fork: %s", strerror(errno));
		sb_cgroup_destroy(&cg);
		return 1;
	}
	/* While init builds its file system: compile the filter and move init into the cgroup,
	 * then hand the filter over (which also tells init the cgroup is in place). */
	close(sync[0]);
	struct sock_fprog filter = {0};
	if (sb_seccomp_compile(&spec, &filter, &err) < 0 ||
	    (cg.version && sb_cgroup_attach(&cg, pid, &err) < 0)) {
		sb_send_error(sock, "%s", err->msg);
		kill(pid, SIGKILL);
	} else {
		unsigned short len = filter.len;
		size_t size = len * sizeof(struct sock_filter);
		if (write(sync[1], &len, sizeof(len)) != (ssize_t)sizeof(len) ||
		    write(sync[1], filter.filter, size) != (ssize_t)size)
			kill(pid, SIGKILL);
	}
	close(sync[1]);
	/* Only init holds the control socket now: when init dies the server sees end of
	 * file, which is how a crashed sandbox is detected. */
	close(sock);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sb_cgroup_destroy(&cg);
	sb_spec_clear(&spec);
	free(filter.filter);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
