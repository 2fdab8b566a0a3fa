/* zonebox-sandbox, the namespace backend's helper: builds sandboxes for the zonebox server and
 * runs commands in them.
 *
 * The server starts it (uv_spawn) once per MCP session with one end of a SOCK_SEQPACKET
 * socketpair as fd 3 and sends the spec (proto.h). This process, the session helper, stays in
 * the host's pid and mount namespaces. It does once what every sandbox of the session shares:
 * parse the spec, compile the seccomp filter, find the cgroup hierarchies and, with network
 * `none`, make the session's loopback-only network namespace. Then, for every `sandbox`
 * request (which carries the socket the new sandbox will talk on), it creates the sandbox's
 * cgroup and clones the sandbox's pid 1 (init.c) straight into fresh user, mount, pid, ipc and
 * uts namespaces; it reaps each init and removes its cgroup.
 *
 * Why a long-lived helper: starting a program costs ~0.7 ms here (glibc's start-up alone runs
 * dozens of CPUID instructions, each a VM exit), and a new network namespace ~1 ms of
 * creation plus teardown work; a clone of this process costs neither.
 *
 * Parent death: this process dies with the server thread that spawned it (PR_SET_PDEATHSIG),
 * each init dies with this process, and every command dies with its init (pid namespace
 * teardown).
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
#include <sys/signalfd.h>
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

/* The session helper's state: what every sandbox shares, and the sandboxes whose init still
 * runs (their cgroups are removed when it ends). */
struct box {
	pid_t pid;
	struct sb_cgroup cg;
};

/* Cgroups of sandboxes that have ended, kept for the next ones (see take_cgroup). As many
 * as a per-call session has sandboxes at a time: with 16 calls in flight, a pool of 4 still
 * created and removed a cgroup for most sandboxes (~0.15 ms of the helper's CPU each, a
 * tenth of a sandbox). An empty cgroup holds no process and little memory. */
#define CGROUP_POOL 32

static struct {
	int sock;
	struct sb_spec spec;
	struct sock_fprog filter;
	char *setup_error; /* the session could not be set up: every request gets this */
	struct box *boxes;
	size_t n_boxes, cap_boxes;
	unsigned long built;
	struct sb_cgroup pool[CGROUP_POOL];
	size_t n_pool;
	/* The `ready` message of this session's sandboxes, made once (ready_cached): the
	 * limits it was made for, Landlock's expected result, and its text. */
	struct {
		char *text;
		int version;
		struct sb_limit_state limits[3];
		int scope;
		char how[160];
	} ready;
	int template_ns;   /* per-call as root: the mount namespace sandboxes copy, or -1 */
	bool use_template; /* see make_template */
	uint64_t template_stamp;
} z;

/* A sandbox's cgroup: one that an earlier sandbox of this session left, or a new one.
 * Creating and removing a cgroup is not just slow (~0.15 ms), it slows everything else on
 * the machine: a v1 memory cgroup allocates and frees per-CPU memory under the allocator's
 * global lock that every fork and exec also takes, and a process started while another
 * sandbox's cgroup is made or removed took 4 ms instead of 0.7 here. A per-call session
 * builds a sandbox for every call, so the few it needs at a time are reused: same limits,
 * empty (every process of a sandbox is gone once its init is reaped), and the out-of-memory
 * count is read as a difference. */
static void take_cgroup(const char *name, struct sb_cgroup *ret)
{
	if (z.n_pool > 0)
		*ret = z.pool[--z.n_pool];
	else
		sb_cgroup_prepare(&z.spec, name, ret);
}

static void give_back_cgroup(struct sb_cgroup *cg)
{
	if (cg->version && z.n_pool < CGROUP_POOL)
		z.pool[z.n_pool++] = *cg;
	else
		sb_cgroup_destroy(cg);
}

static json_t *full_ready_message(const struct sb_spec *spec, const struct sb_cgroup *cg, int scope,
				  const char *scope_how)
{
	json_t *ready = ready_message(spec, cg);
	if (spec->userns && spec->pids && !cg->pids.enforced)
		json_object_set_new(json_object_get(ready, "limits"), "pids",
				    json_pack("{s:b, s:s}", "enforced", 1, "how",
					      "RLIMIT_NPROC in the sandbox's user namespace"));
	json_object_set_new(json_object_get(ready, "isolation"), "landlock_scope",
			    json_pack("{s:b, s:s}", "enforced", scope > 0, "how", scope_how));
	return ready;
}

/* Made by the helper for its first sandbox and inherited by every init after it: building
 * the message (~30 us of an init's CPU, most of it faults on the heap it shares with the
 * helper) is the same work for every sandbox of a session. */
static void make_ready_cache(const struct sb_cgroup *cg)
{
	if (z.ready.text)
		return;
	z.ready.scope = sb_landlock_scope_expected(z.ready.how, sizeof(z.ready.how));
	json_t *m = full_ready_message(&z.spec, cg, z.ready.scope, z.ready.how);
	z.ready.text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	z.ready.version = cg->version;
	z.ready.limits[0] = cg->memory;
	z.ready.limits[1] = cg->pids;
	z.ready.limits[2] = cg->cpu;
}

/* The cached message says what this sandbox's would: same cgroup states (a controller that
 * failed for this cgroup only says so), same Landlock result. */
static bool ready_cached(const struct sb_cgroup *cg, int scope, const char *how)
{
	const struct sb_limit_state *l[] = {&cg->memory, &cg->pids, &cg->cpu};
	if (!z.ready.text || z.ready.version != cg->version || z.ready.scope != scope ||
	    strcmp(z.ready.how, how) != 0)
		return false;
	for (int i = 0; i < 3; i++)
		if (z.ready.limits[i].enforced != l[i]->enforced ||
		    strcmp(z.ready.limits[i].how, l[i]->how) != 0)
			return false;
	return true;
}

/* Close every descriptor but those in `keep` (unsorted; -1 entries are ignored). */
static void close_all_except(int *keep, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && keep[k - 1] > keep[k]; k--) {
			int t = keep[k];
			keep[k] = keep[k - 1];
			keep[k - 1] = t;
		}
	unsigned from = 0;
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

/* pid 1 of a new sandbox, cloned by the session helper into its namespaces. It inherited the
 * helper's memory (spec, filter) and descriptors: it keeps only its own. */
static _Noreturn void sandbox_init(int sock, int sync_fd, struct sb_cgroup *cg)
{
	_cleanup_error_ struct zb_error *err = NULL;
	const struct sb_spec *spec = &z.spec;
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	signal(SIGPIPE, SIG_DFL);
	int keep[] = {0, 1, 2, sock, sync_fd, cg->oom_fd, z.template_ns};
	close_all_except(keep, ZB_ARRAY_SIZE(keep));
	if (spec->userns && map_ids(spec) < 0) {
		sb_send_error(sock, "cannot map the user and group ids: %s. %s", strerror(errno),
			      userns_hint());
		_exit(1);
	}
	if (sethostname(spec->hostname, strlen(spec->hostname)) < 0) {
		sb_send_error(sock, "setting the sandbox's host name: %s%s%s", strerror(errno),
			      spec->userns ? ". " : "", spec->userns ? userns_hint() : "");
		_exit(1);
	}
	int built = z.template_ns >= 0 ? sb_mounts_from_template(spec, z.template_ns, &err)
				       : sb_mounts_build(spec, &err);
	if (z.template_ns >= 0)
		close(z.template_ns);
	if (built < 0) {
		if (spec->userns && err->errnum == EPERM)
			sb_send_error(sock, "building the sandbox: %s. %s", err->msg,
				      userns_hint());
		else
			sb_send_error(sock, "building the sandbox: %s", err->msg);
		_exit(1);
	}
	/* One byte once the helper has moved this process into the sandbox's cgroup; end of
	 * file when that failed (the helper has said why) or the helper is gone, which also
	 * covers a helper that died before PR_SET_PDEATHSIG above took effect. */
	char c;
	ssize_t n;
	while ((n = read(sync_fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		_exit(1);
	close(sync_fd);
	/* Unshared after the move into the sandbox's cgroup, so that cgroup is its root. */
	if (unshare(CLONE_NEWCGROUP) < 0) {
		sb_send_error(sock, "unshare(CLONE_NEWCGROUP): %s", strerror(errno));
		_exit(1);
	}
	/* Before the filter, so that a failure can still be reported (confine.c says why). */
	char scope_how[160];
	int scope = sb_landlock_scope(scope_how, sizeof(scope_how));
	if (scope < 0) {
		sb_send_error(sock, "confining the sandbox with Landlock: %s", scope_how);
		_exit(1);
	}
	/* From here on this process and every command run under the filter (seccomp.c). */
	if (sb_seccomp_install(&z.filter) < 0) {
		sb_send_error(sock, "installing the seccomp filter: %s", strerror(errno));
		_exit(1);
	}
	if (ready_cached(cg, scope, scope_how)) {
		zb_ns_send_raw(sock, z.ready.text, strlen(z.ready.text), NULL, 0);
	} else {
		json_t *ready = full_ready_message(spec, cg, scope, scope_how);
		zb_ns_send(sock, ready, NULL, 0);
		json_decref(ready);
	}
	sb_init_run(spec, cg, sock);
}

/* Per-call sessions as root: the session's mount template (mounts.c), built the first time it
 * is needed by a child in a mount namespace of its own, which is kept by an fd once the child
 * has built and pivoted into it; the child is then killed. Each sandbox's init copies that
 * namespace instead of building the shared part of its tree (about a third of the mounts,
 * with two tmpfs of their own) and then detaching the host's root (pivot_root walks every
 * process on the host, and the detach waits for an RCU grace period).
 * Not in a user namespace: outside the initial one, the kernel refuses a new /proc in a mount
 * namespace where no /proc is fully visible (mount_too_revealing), which is the template's
 * case by design; that also rules out a helper that runs as uid 0 of a user namespace (a
 * rootless container), where the template would fail every sandbox. Nor for a persistent
 * session, which builds one sandbox.
 * A failure is the sandbox's, said on `sock`, and the next sandbox tries again, as each
 * sandbox built its whole tree before. */
static int make_template(int sock)
{
	/* Taken before the child reads the host: a change while it builds makes the next
	 * sandbox build the template again. */
	uint64_t stamp = sb_mounts_template_stamp(&z.spec);
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0) {
		sb_send_error(sock, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		_cleanup_error_ struct zb_error *err = NULL;
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		close(ready[0]);
		if (sb_mounts_template(&z.spec, &err) < 0) {
			sb_send_error(sock, "building the sandbox: %s", err->msg);
			_exit(1);
		}
		if (write(ready[1], "", 1) == 1)
			for (;;)
				pause(); /* until the helper has the namespace and kills us */
		_exit(1);
	}
	int saved = errno;
	close(ready[1]);
	if (pid < 0) {
		close(ready[0]);
		sb_send_error(sock, "cannot create the sandbox's mount namespace: %s",
			      strerror(saved));
		return -1;
	}
	char c;
	ssize_t n;
	while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR)
		;
	close(ready[0]);
	z.template_stamp = stamp;
	if (n == 1) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
		z.template_ns = open(path, O_RDONLY | O_CLOEXEC);
		if (z.template_ns < 0)
			sb_send_error(sock, "opening the sandbox template's %s: %s", path,
				      strerror(errno));
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return z.template_ns >= 0 ? 0 : -1;
}

static void reap_boxes(int flags);

/* Build one sandbox whose init talks on `sock` (taken). */
static void build_sandbox(int sock)
{
	if (z.setup_error) {
		sb_send_error(sock, "%s", z.setup_error);
		close(sock);
		return;
	}
	bool from_template = z.use_template;
	/* A host file copied into the template has changed (ldconfig, a new resolv.conf), or a
	 * top-level folder has come or gone: a new template, so that the sandbox sees what one
	 * built from scratch would. Inits still starting hold their own copy of the old fd. */
	if (from_template && z.template_ns >= 0 &&
	    sb_mounts_template_stamp(&z.spec) != z.template_stamp) {
		close(z.template_ns);
		z.template_ns = -1;
	}
	if (from_template && z.template_ns < 0 && make_template(sock) < 0) {
		close(sock);
		return;
	}
	/* Reap ended sandboxes first, which gives their cgroups back: requests that come
	 * faster than the helper builds keep it from polling the signalfd, and with 16 calls
	 * in flight hundreds of dead inits waited there while a cgroup was made for every
	 * new sandbox. */
	reap_boxes(WNOHANG);
	char name[64];
	snprintf(name, sizeof(name), "zonebox-%d-%lu", (int)getpid(), ++z.built);
	struct sb_cgroup cg;
	take_cgroup(name, &cg);
	make_ready_cache(&cg);
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0) {
		sb_send_error(sock, "pipe: %s", strerror(errno));
		give_back_cgroup(&cg);
		close(sock);
		return;
	}
	/* The network namespace is the session's (see session_network). A raw clone, not
	 * fork(): fork() takes no namespace flags, and init must be pid 1 of its own pid
	 * namespace. glibc's cached thread id is stale in the child, which only matters to
	 * pthread calls and raise(); init uses neither. */
	unsigned long flags = CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID;
	/* From a template, init enters a copy of it itself (sb_mounts_from_template). */
	if (!from_template)
		flags |= CLONE_NEWNS;
	if (z.spec.userns)
		flags |= CLONE_NEWUSER;
	pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(sync[1]);
		sandbox_init(sock, sync[0], &cg);
	}
	int saved = errno;
	close(sync[0]);
	if (pid < 0) {
		if (z.spec.userns)
			sb_send_error(sock, "cannot create the sandbox's namespaces: %s. %s",
				      strerror(saved), userns_hint());
		else
			sb_send_error(
				sock,
				"cannot create the sandbox's namespaces: %s. zonebox runs as "
				"root here but without CAP_SYS_ADMIN (a container?): run it as "
				"an ordinary user, or give the container user namespaces",
				strerror(saved));
		give_back_cgroup(&cg);
		close(sync[1]);
		close(sock);
		return;
	}
	_cleanup_error_ struct zb_error *err = NULL;
	if (cg.version && sb_cgroup_attach(&cg, pid, &err) < 0) {
		sb_send_error(sock, "%s", err->msg);
		kill(pid, SIGKILL);
	} else if (write(sync[1], "", 1) != 1) {
		kill(pid, SIGKILL);
	}
	close(sync[1]);
	/* Only init holds the sandbox's socket now: when init dies the server sees end of
	 * file, which is how a crashed sandbox is detected. */
	close(sock);
	if (z.n_boxes == z.cap_boxes) {
		z.cap_boxes = z.cap_boxes ? z.cap_boxes * 2 : 8;
		z.boxes = zb_xrealloc(z.boxes, z.cap_boxes * sizeof(*z.boxes));
	}
	z.boxes[z.n_boxes++] = (struct box){.pid = pid, .cg = cg};
}

static void reap_boxes(int flags)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, flags);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		for (size_t i = 0; i < z.n_boxes; i++)
			if (z.boxes[i].pid == pid) {
				give_back_cgroup(&z.boxes[i].cg);
				z.boxes[i] = z.boxes[--z.n_boxes];
				break;
			}
	}
}

/* The server closed the session (or died): end every sandbox and remove its cgroup. */
static _Noreturn void shutdown_helper(int code)
{
	for (size_t i = 0; i < z.n_boxes; i++)
		kill(z.boxes[i].pid, SIGKILL);
	while (z.n_boxes > 0) {
		size_t before = z.n_boxes;
		reap_boxes(0);
		if (z.n_boxes == before)
			break; /* ECHILD: nothing left to wait for */
	}
	while (z.n_pool > 0)
		sb_cgroup_destroy(&z.pool[--z.n_pool]);
	_exit(code);
}

/* Security: with network `none`, every sandbox of one MCP session shares one network
 * namespace, made here once, that holds only a loopback device. Creating and tearing down a
 * network namespace per sandbox costs about 1 ms, half the budget of a fresh sandbox.
 * What is shared is reachable only by the session's own sandboxes, which share its zones (and,
 * in a persistent session, everything) anyway: abstract AF_UNIX sockets, and loopback ports
 * (which the seccomp filter keeps them from using: no AF_INET/AF_INET6/AF_NETLINK sockets
 * without the host's network). Attack considered: a command of one call listening for, or
 * answering in place of, a command of a concurrent call of the same session; of another
 * session or the host it can reach nothing, as before. The sandbox's own user namespace is a
 * child of the one that owns this network namespace, so even uid 0 inside a sandbox cannot
 * reconfigure it (no capabilities over it, besides dropping all of them before exec). */
static int session_network(const struct sb_spec *spec)
{
	if (unshare(CLONE_NEWNET | (spec->userns ? CLONE_NEWUSER : 0)) < 0) {
		int e = errno;
		z.setup_error = zb_xasprintf(
			"cannot create the sandbox's network namespace: %s%s%s", strerror(e),
			spec->userns ? ". " : "", spec->userns ? userns_hint() : "");
		return -1;
	}
	if (spec->userns && map_ids(spec) < 0) {
		z.setup_error = zb_xasprintf("cannot map the user and group ids: %s. %s",
					     strerror(errno), userns_hint());
		return -1;
	}
	if (loopback_up() < 0) {
		z.setup_error =
			zb_xasprintf("bringing up the sandbox's loopback: %s%s%s", strerror(errno),
				     spec->userns ? ". " : "", spec->userns ? userns_hint() : "");
		return -1;
	}
	return 0;
}

static void setup_session(json_t *msg)
{
	_cleanup_error_ struct zb_error *err = NULL;
	if (sb_spec_parse(msg, &z.spec, &err) < 0 ||
	    sb_seccomp_compile(&z.spec, &z.filter, &err) < 0) {
		z.setup_error = zb_xstrdup(err->msg);
		return;
	}
	/* Said once per session; the ready message says it for every sandbox. */
	int abi = sb_landlock_abi();
	if (abi < 6)
		fprintf(stderr,
			"zonebox-sandbox: Landlock scopes are not available (%s%d); sandboxes can "
			"reach abstract unix sockets of their network namespace%s\n",
			abi < 0 ? "no Landlock, error " : "ABI ", abi < 0 ? -abi : abi,
			z.spec.net_host ? ", which with network: host are the host's (X11, D-Bus)"
					: "");
	/* 0xEFFFFFFD: the initial user namespace's inode number (PROC_USER_INIT_INO), fixed
	 * by the kernel. Checked before session_network, which may leave it. */
	struct stat userns;
	z.use_template = !z.spec.userns && !z.spec.persistent &&
			 stat("/proc/self/ns/user", &userns) == 0 && userns.st_ino == 0xEFFFFFFDu;
	if (!z.spec.net_host)
		session_network(&z.spec);
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
	z.sock = sock;
	z.template_ns = -1;

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	/* An init that failed before the helper's byte on its sync pipe has closed the pipe:
	 * EPIPE, not the end of the session (sandbox_init restores the default). */
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return 1;

	bool have_spec = false;
	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			shutdown_helper(1);
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			reap_boxes(WNOHANG);
		}
		if (!p[0].revents)
			continue;
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
				shutdown_helper(0);
			const char *type = json_string_value(json_object_get(msg, "type"));
			if (!have_spec) {
				have_spec = true;
				setup_session(msg);
				if (z.setup_error)
					fprintf(stderr, "zonebox-sandbox: %s\n", z.setup_error);
			} else if (type && strcmp(type, "sandbox") == 0 && n_fds == 1) {
				build_sandbox(fds[0]);
				n_fds = 0;
			}
			for (size_t i = 0; i < n_fds; i++)
				close(fds[i]);
			json_decref(msg);
		}
		/* A session that could not be set up has answered what was asked; the server
		 * starts a new helper for the next call (the cause may have been fixed). */
		if (z.setup_error)
			shutdown_helper(1);
	}
}
