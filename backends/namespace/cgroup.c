/* Memory, pids and cpu limits for one sandbox: a cgroup of its own, under the helper's
 * cgroup, in cgroup v2 when the controllers are there (a delegated subtree; when it holds
 * processes, they first move to a leaf cgroup beside the sandboxes': move_to_leaf), else in
 * the v1 hierarchy of each controller. The sandbox init is moved in by the helper right after
 * fork; the init then unshares its cgroup namespace so its cgroup is its root.
 *
 * A limit that cannot be set is recorded with the reason and reported in `ready`: zonebox
 * never claims a limit that is not there. */
#include "helper.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { CG_MEMORY, CG_PIDS, CG_CPU };
static const char *const controllers[] = {"memory", "pids", "cpu"};

/* Where /proc is, and what goes before the mount points read from its mountinfo: the
 * host's, except in tests (tests/unit/test_cgroup.c), which point them at a fake. */
const char *sb_cgroup_proc_root = "/proc";
const char *sb_cgroup_mount_prefix = "";

static int write_str(const char *dir, const char *file, const char *value)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	int saved = errno;
	close(fd);
	errno = saved;
	return n < 0 ? -1 : 0;
}

static char *read_text(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 8192, len = 0;
	char *buf = zb_xmalloc(cap);
	ssize_t n;
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			buf = zb_xrealloc(buf, cap *= 2);
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The mount point of the hierarchy that holds `controller` (v1, fstype cgroup) or of the
 * unified hierarchy (controller NULL, fstype cgroup2), from /proc/self/mountinfo. */
static char *find_mount(const char *controller)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/self/mountinfo", sb_cgroup_proc_root);
	char *info = read_text(path);
	if (!info)
		return NULL;
	char *result = NULL, *save = NULL;
	for (char *line = strtok_r(info, "\n", &save); line && !result;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		char fstype[32], source[64], opts[512], mnt[4096];
		if (sscanf(sep + 3, "%31s %63s %511s", fstype, source, opts) != 3)
			continue;
		/* fields: id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		bool match = false;
		if (!controller) {
			match = strcmp(fstype, "cgroup2") == 0;
		} else if (strcmp(fstype, "cgroup") == 0) {
			char *save2 = NULL;
			for (char *o = strtok_r(opts, ",", &save2); o && !match;
			     o = strtok_r(NULL, ",", &save2))
				match = strcmp(o, controller) == 0;
		}
		if (match && asprintf(&result, "%s%s", sb_cgroup_mount_prefix, mnt) < 0)
			abort();
	}
	free(info);
	return result;
}

/* Our own cgroup path in the hierarchy of `controller` (v1) or the unified one (NULL). */
static char *own_path(const char *controller)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/self/cgroup", sb_cgroup_proc_root);
	char *text = read_text(path);
	if (!text)
		return NULL;
	char *result = NULL, *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line && !result;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *list = c1 + 1;
		if (!controller) {
			if (!*list && strncmp(line, "0:", 2) == 0)
				result = zb_xstrdup(c2 + 1);
			continue;
		}
		char copy[256], *save2 = NULL;
		snprintf(copy, sizeof(copy), "%s", list);
		for (char *c = strtok_r(copy, ",", &save2); c; c = strtok_r(NULL, ",", &save2))
			if (strcmp(c, controller) == 0) {
				result = zb_xstrdup(c2 + 1);
				break;
			}
	}
	free(text);
	return result;
}

static void ZB_PRINTF(2, 3) not_enforced(struct sb_limit_state *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	l->enforced = false;
	vsnprintf(l->how, sizeof(l->how), fmt, ap);
	va_end(ap);
}

static bool wanted(const struct sb_spec *spec, int which)
{
	return which == CG_MEMORY ? spec->memory > 0
	       : which == CG_PIDS ? spec->pids > 0
				  : spec->cpu > 0;
}

static struct sb_limit_state *state(struct sb_cgroup *cg, int which)
{
	return which == CG_MEMORY ? &cg->memory : which == CG_PIDS ? &cg->pids : &cg->cpu;
}

static int set_limits(const struct sb_spec *spec, int version, const char *dir, int which)
{
	char v[64];
	switch (which) {
	case CG_MEMORY:
		snprintf(v, sizeof(v), "%llu", (unsigned long long)spec->memory);
		if (version == 2) {
			if (write_str(dir, "memory.max", v) < 0)
				return -1;
			write_str(dir, "memory.swap.max", "0");
			return 0;
		}
		if (write_str(dir, "memory.limit_in_bytes", v) < 0)
			return -1;
		/* Without this the limit leaks into swap where there is swap. */
		write_str(dir, "memory.memsw.limit_in_bytes", v);
		return 0;
	case CG_PIDS:
		snprintf(v, sizeof(v), "%llu",
			 (unsigned long long)(spec->pids + sb_pids_overhead(spec)));
		return write_str(dir, "pids.max", v);
	default: {
		unsigned long long period = 100000, quota = (unsigned long long)(spec->cpu * 1e5);
		if (quota < 1000)
			quota = 1000;
		if (version == 2) {
			snprintf(v, sizeof(v), "%llu %llu", quota, period);
			return write_str(dir, "cpu.max", v);
		}
		snprintf(v, sizeof(v), "%llu", period);
		if (write_str(dir, "cpu.cfs_period_us", v) < 0)
			return -1;
		snprintf(v, sizeof(v), "%llu", quota);
		return write_str(dir, "cpu.cfs_quota_us", v);
	}
	}
}

/* The cgroup our processes move to when our own cgroup must give controllers to the
 * sandboxes' cgroups (move_to_leaf). Named like a helper's cgroup, but never stale. */
#define LEAF "zonebox-leaf"

/* A helper killed with the server (SIGKILL, no chance to clean up) leaves its empty cgroup
 * behind: remove those of helpers that no longer exist. */
static void remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "zonebox-", 8) != 0 || strcmp(e->d_name, LEAF) == 0)
			continue;
		pid_t pid = (pid_t)atoi(e->d_name + 8);
		if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	if (d)
		closedir(d);
}

/* Where the sandboxes' cgroups go. Found once per session helper: neither the cgroup mounts
 * nor the helper's own cgroup change while it runs, and reading mountinfo and
 * /proc/self/cgroup for every sandbox would cost more than creating the cgroup. */
static struct {
	bool done;
	char *v2_base;	  /* cgroup v2 with the controllers: our cgroup there */
	char v2_why[160]; /* else why not */
	char *v1_parent[3];
	char v1_why[3][160];
} where;

/* Whether `have` (cgroup.controllers, names separated by spaces) lists `controller`: a whole
 * name, since "cpu" is not there when only "cpuset" is, and asking the kernel for it would
 * fail the whole write to subtree_control. */
static bool has_controller(const char *have, const char *controller)
{
	size_t n = strlen(controller);
	for (const char *p = have; (p = strstr(p, controller)); p += n)
		if ((p == have || isspace((unsigned char)p[-1])) &&
		    (!p[n] || isspace((unsigned char)p[n])))
			return true;
	return false;
}

/* "+memory +pids" for the wanted controllers that `have` lists (cgroup.controllers). */
static void wanted_controllers(const struct sb_spec *spec, const char *have, char *want,
			       size_t want_len)
{
	want[0] = '\0';
	for (int i = 0; i < 3; i++)
		if (wanted(spec, i) && has_controller(have, controllers[i])) {
			size_t n = strlen(want);
			snprintf(want + n, want_len - n, "%s%s", n ? " +" : "+", controllers[i]);
		}
}

/* The kernel refuses (EBUSY) to enable controllers in the subtree_control of a cgroup that
 * is not the hierarchy's root and holds processes (the "no internal processes" rule), and a
 * delegated cgroup (`systemd-run --user --scope -p Delegate=yes zonebox`) holds the server
 * and its helpers, this one included. As systemd asks of those it delegates a cgroup to,
 * every process in `base` moves to a leaf child, `base`/zonebox-leaf (made, or reused),
 * which leaves `base` free to hold only cgroups: the leaf and the sandboxes'. A cgroup
 * delegated to zonebox holds only zonebox's processes (the server, its helpers, and their
 * children not yet in a sandbox's cgroup), so all of them may move; the children they fork
 * later start in the leaf. A pid that exits meanwhile (ESRCH) is no loss. 0, or -1 and
 * why not. */
/* The parent of `pid`, from proc's stat, or -1. */
static long parent_of(long pid)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%ld/stat", sb_cgroup_proc_root, pid);
	_cleanup_free_ char *stat = read_text(path);
	const char *close_paren = stat ? strrchr(stat, ')') : NULL;
	long ppid;
	if (!close_paren || sscanf(close_paren + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return ppid;
}

/* Whether `pid` is this zonebox's: the helper, the server (the helper's parent), or a
 * descendant of the server. */
static bool ours(long pid)
{
	long server = (long)getppid();
	for (int depth = 0; pid > 1 && depth < 64; depth++) {
		if (pid == server || pid == (long)getpid())
			return true;
		pid = parent_of(pid);
	}
	return false;
}

static int move_to_leaf(const char *base, char *why, size_t why_len)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/cgroup.procs", base);
	_cleanup_free_ char *pids = read_text(path);
	/* Unreadable: the write to subtree_control says whether that matters. */
	if (!pids || !pids[strspn(pids, " \n")])
		return 0;
	/* A cgroup we can write to is not always ours alone: a terminal's scope under the
	 * user's systemd is writable by the user, and holds the shell zonebox was started from.
	 * Only this zonebox's own processes are moved; with any other there, nothing is. */
	for (char *p = pids; *p;) {
		long pid = strtol(p, &p, 10);
		while (*p == '\n' || *p == ' ')
			p++;
		if (pid > 0 && !ours(pid)) {
			/* (Cut to fit `why` if it must: the start says what and how.) */
			if (snprintf(why, why_len,
				     "pid %ld, not zonebox's, is in its cgroup; run zonebox in one "
				     "of its own (systemd-run --user --scope -p Delegate=yes)",
				     pid) >= (int)why_len)
				why[why_len - 1] = '\0';
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/" LEAF, base);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "cannot create " LEAF " (%s) in %.80s", strerror(errno),
			 base);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/" LEAF "/cgroup.procs", base);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot move processes to " LEAF " (%s) in %.80s",
			 strerror(errno), base);
		return -1;
	}
	/* One pid per write(), as the kernel reads them; the newline is for the unit test's
	 * fake, a plain file (the kernel ignores it). */
	for (char *p = pids; *p;) {
		long pid = strtol(p, &p, 10);
		while (*p == '\n' || *p == ' ')
			p++;
		if (pid <= 0)
			continue;
		char v[32];
		int n = snprintf(v, sizeof(v), "%ld\n", pid);
		if (write(fd, v, (size_t)n) < 0 && errno != ESRCH) {
			snprintf(why, why_len, "cannot move pid %ld to " LEAF " (%s) in %.80s", pid,
				 strerror(errno), base);
			return -1;
		}
	}
	return 0;
}

/* Our own v2 cgroup as the parent of the sandboxes' cgroups: it must have the memory and
 * pids controllers, and be able to give them to children. With `use_leaf`, our processes
 * first leave it for a leaf (move_to_leaf). 0, or -1 and why not. */
static int own_v2_base(const struct sb_spec *spec, const char *base, bool use_leaf, char *why,
		       size_t why_len)
{
	char path[4300], want[64];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", base);
	_cleanup_free_ char *have = read_text(path);
	if (!have || !has_controller(have, "memory") || !has_controller(have, "pids")) {
		snprintf(why, why_len, "cgroup v2 has no memory/pids controllers here");
		return -1;
	}
	wanted_controllers(spec, have, want, sizeof(want));
	if (!want[0])
		return 0;
	/* A process that another zonebox process forks between our reading cgroup.procs and
	 * moving its parent starts in our cgroup: EBUSY again, so move again, a few times. */
	for (int tries = 0;; tries++) {
		if (use_leaf && move_to_leaf(base, why, why_len) < 0)
			return -1;
		if (write_str(base, "cgroup.subtree_control", want) == 0)
			return 0;
		if (errno != EBUSY || !use_leaf || tries == 3)
			break;
	}
	snprintf(why, why_len, "cannot delegate controllers (%s) in %.80s", strerror(errno), base);
	return -1;
}

/* Security: as root on a systemd host with cgroup v2 the helper's own cgroup (a session
 * scope or a service) holds other processes, so it cannot give controllers to children
 * (EBUSY), and there was no pids limit at all: RLIMIT_NPROC does not count for uid 0, and a
 * fork bomb in the sandbox took the host's process table. Root may use the hierarchy's top,
 * which is exempt from that rule: the sandboxes' cgroups go under `<mount>/zonebox`, a
 * cgroup of zonebox's own that holds no process (created here, the controllers enabled in
 * the root's and its subtree_control). systemd leaves cgroups it did not create alone.
 * Returns the parent's path, or NULL with why not. */
static char *top_level_v2_base(const struct sb_spec *spec, const char *mnt, char *why,
			       size_t why_len)
{
	char path[4300], want[64];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	_cleanup_free_ char *have = read_text(path);
	if (!have || !has_controller(have, "memory") || !has_controller(have, "pids")) {
		snprintf(why, why_len, "cgroup v2 has no memory/pids controllers at %.80s", mnt);
		return NULL;
	}
	wanted_controllers(spec, have, want, sizeof(want));
	if (want[0] && write_str(mnt, "cgroup.subtree_control", want) < 0) {
		snprintf(why, why_len, "cannot enable controllers (%s) in %.80s", strerror(errno),
			 mnt);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/zonebox", mnt);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "cannot create %.80s: %s", path, strerror(errno));
		return NULL;
	}
	if (want[0] && write_str(path, "cgroup.subtree_control", want) < 0) {
		snprintf(why, why_len, "cannot delegate controllers (%s) in %.80s", strerror(errno),
			 path);
		return NULL;
	}
	return zb_xstrdup(path);
}

void sb_cgroup_forget(void)
{
	free(where.v2_base);
	for (int i = 0; i < 3; i++)
		free(where.v1_parent[i]);
	memset(&where, 0, sizeof(where));
}

static void discover_v2(const struct sb_spec *spec)
{
	_cleanup_free_ char *mnt = find_mount(NULL);
	_cleanup_free_ char *own = own_path(NULL);
	if (!mnt || !own) {
		snprintf(where.v2_why, sizeof(where.v2_why), "no cgroup v2 hierarchy");
		return;
	}
	/* A helper of a server that an earlier helper moved to the leaf: the leaf's parent is
	 * the cgroup delegated to us (else each helper would nest a leaf in the last). */
	char *last = strrchr(own, '/');
	if (last && strcmp(last + 1, LEAF) == 0) {
		*last = '\0';
		if (!own[0])
			strcpy(own, "/");
	}
	char base[4200];
	snprintf(base, sizeof(base), "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
	/* Only a caller that is not root moves processes to a leaf: its cgroup can be written
	 * to only when it was delegated to it, and then holds only zonebox's processes. Root
	 * can write to any cgroup, and its own is usually a unit systemd did not delegate (a
	 * login session's scope, a service) holding processes that are not zonebox's: the
	 * login shell, sshd's session. Moving those behind systemd's back is not ours to do;
	 * root keeps the top-level fallback below, which moves nothing. The hierarchy's root
	 * is exempt from the rule, and in a cgroup namespace it is a container's cgroup,
	 * with the container's processes: no leaf there either. */
	bool root = !spec->userns && geteuid() == 0;
	bool use_leaf = !root && strcmp(own, "/") != 0;
	if (own_v2_base(spec, base, use_leaf, where.v2_why, sizeof(where.v2_why)) == 0) {
		where.v2_base = zb_xstrdup(base);
	} else if (root) {
		char why[160];
		where.v2_base = top_level_v2_base(spec, mnt, why, sizeof(why));
		if (!where.v2_base) {
			/* The last attempt's reason first, and the error before the paths:
			 * `ready` has room for 160 characters, with v1's reason. */
			char own_why[160];
			snprintf(own_why, sizeof(own_why), "%s", where.v2_why);
			snprintf(where.v2_why, sizeof(where.v2_why), "%.80s; own cgroup: %.60s",
				 why, own_why);
		}
	}
	if (where.v2_base)
		remove_stale(where.v2_base);
}

static void discover_v1(const struct sb_spec *spec)
{
	for (int i = 0; i < 3; i++) {
		if (!wanted(spec, i))
			continue;
		_cleanup_free_ char *mnt = find_mount(controllers[i]);
		_cleanup_free_ char *own = own_path(controllers[i]);
		if (!mnt || !own) {
			snprintf(where.v1_why[i], sizeof(where.v1_why[i]),
				 "no cgroup hierarchy has the %s controller", controllers[i]);
			continue;
		}
		char parent[8200];
		snprintf(parent, sizeof(parent), "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
		remove_stale(parent);
		where.v1_parent[i] = zb_xstrdup(parent);
	}
}

static bool create_v2(const struct sb_spec *spec, struct sb_cgroup *cg, const char *name, char *why,
		      size_t why_len)
{
	if (!where.v2_base) {
		snprintf(why, why_len, "%s", where.v2_why);
		return false;
	}
	char path[4300];
	snprintf(path, sizeof(path), "%s/%s", where.v2_base, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(why, why_len, "cannot create a cgroup in %.80s: %s", where.v2_base,
			 strerror(errno));
		return false;
	}
	cg->version = 2;
	cg->dirs[0] = zb_xstrdup(path);
	for (int i = 0; i < 3; i++) {
		if (!wanted(spec, i))
			continue;
		struct sb_limit_state *l = state(cg, i);
		if (set_limits(spec, 2, path, i) < 0) {
			not_enforced(l, "cgroup v2: %s", strerror(errno));
			continue;
		}
		l->enforced = true;
		snprintf(l->how, sizeof(l->how), "cgroup v2");
	}
	char events[4400];
	snprintf(events, sizeof(events), "%s/memory.events", path);
	cg->oom_fd = open(events, O_RDONLY | O_CLOEXEC);
	return true;
}

static void create_v1(const struct sb_spec *spec, struct sb_cgroup *cg, const char *name)
{
	for (int i = 0; i < 3; i++) {
		if (!wanted(spec, i))
			continue;
		struct sb_limit_state *l = state(cg, i);
		if (!where.v1_parent[i]) {
			not_enforced(l, "%s", where.v1_why[i]);
			continue;
		}
		char path[8300];
		snprintf(path, sizeof(path), "%s/%s", where.v1_parent[i], name);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			not_enforced(l, "cannot create a v1 cgroup: %s", strerror(errno));
			continue;
		}
		if (set_limits(spec, 1, path, i) < 0) {
			not_enforced(l, "cgroup v1: %s", strerror(errno));
			rmdir(path);
			continue;
		}
		cg->version = 1;
		cg->dirs[i] = zb_xstrdup(path);
		l->enforced = true;
		snprintf(l->how, sizeof(l->how), "cgroup v1");
		if (i == CG_MEMORY) {
			char f[8400];
			snprintf(f, sizeof(f), "%s/memory.oom_control", path);
			cg->oom_fd = open(f, O_RDONLY | O_CLOEXEC);
		}
	}
}

void sb_cgroup_prepare(const struct sb_spec *spec, const char *name, struct sb_cgroup *cg)
{
	memset(cg, 0, sizeof(*cg));
	cg->oom_fd = -1;
	for (int i = 0; i < 3; i++)
		not_enforced(state(cg, i), "%s", "not configured");
	if (!wanted(spec, CG_MEMORY) && !wanted(spec, CG_PIDS) && !wanted(spec, CG_CPU))
		return;
	if (!where.done) {
		where.done = true;
		discover_v2(spec);
		if (!where.v2_base)
			discover_v1(spec);
		/* Said loudly once (the ready message says it for every sandbox): for root,
		 * nothing else limits the number of processes. */
		if (wanted(spec, CG_PIDS) && !spec->userns && !where.v2_base &&
		    !where.v1_parent[CG_PIDS])
			fprintf(stderr,
				"zonebox-sandbox: WARNING: the pids limit is NOT enforced (%s; "
				"%s): "
				"commands run as root, for whom RLIMIT_NPROC does not count, so a "
				"fork bomb in a sandbox can exhaust the host's process table\n",
				where.v2_why, where.v1_why[CG_PIDS]);
	}
	char why[160];
	if (create_v2(spec, cg, name, why, sizeof(why)))
		return;
	create_v1(spec, cg, name);
	for (int i = 0; i < 3; i++) {
		struct sb_limit_state *l = state(cg, i);
		if (wanted(spec, i) && !l->enforced && strncmp(l->how, "cgroup v1", 9) != 0) {
			/* v2's reason, cut to leave room for v1's (short, or none when v1
			 * was not looked at). */
			char msg[2 * sizeof(l->how)];
			int room = (int)sizeof(l->how) - 3 - (int)strlen(l->how);
			if (room < 0)
				room = 0;
			snprintf(msg, sizeof(msg), "%.*s%s%s", room, why, l->how[0] ? "; " : "",
				 l->how);
			snprintf(l->how, sizeof(l->how), "%.*s", (int)sizeof(l->how) - 1, msg);
		}
	}
}

int sb_cgroup_attach(struct sb_cgroup *cg, pid_t pid, struct zb_error **err)
{
	char v[32];
	snprintf(v, sizeof(v), "%d", (int)pid);
	for (int i = 0; i < 3; i++) {
		if (!cg->dirs[i])
			continue;
		if (write_str(cg->dirs[i], "cgroup.procs", v) < 0)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno,
					    "moving the sandbox into %s: %s", cg->dirs[i],
					    strerror(errno));
	}
	return 0;
}

long sb_cgroup_oom_kills(const struct sb_cgroup *cg)
{
	if (cg->oom_fd < 0)
		return -1;
	char buf[512];
	ssize_t n = pread(cg->oom_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "oom_kill ");
	return p ? strtol(p + 9, NULL, 10) : -1;
}

/* The pids listed in dir's cgroup.procs (at most `max`), or -1. */
static int list_pids(const char *dir, pid_t *ret, int max)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	char *text = read_text(path);
	if (!text)
		return -1;
	int n = 0;
	for (char *p = text; *p && n < max;) {
		long pid = strtol(p, &p, 10);
		if (pid > 0)
			ret[n++] = (pid_t)pid;
		while (*p && (*p < '0' || *p > '9'))
			p++;
	}
	free(text);
	return n;
}

/* SIGKILL to every process in the cgroup (v1 has no cgroup.kill). SECURITY: a pid read from
 * cgroup.procs may belong to another process by the time it is signalled (the sandbox's one
 * exited and the host reused its number), and the helper may be root. So each pid is pinned
 * with a pidfd first, the list is read again, and only a pidfd whose pid is still listed is
 * signalled: such a pidfd refers to the process that was in the cgroup (if it has exited
 * since, the signal fails with ESRCH instead of reaching anyone). Without pidfds (Linux
 * before 5.3) the pids are signalled as read. */
void sb_cgroup_kill_all(const char *dir)
{
	enum { MAX = 4096 };
	static pid_t before[MAX], after[MAX];
	static int fds[MAX];
	int n = list_pids(dir, before, MAX);
	for (int i = 0; i < n; i++) {
		fds[i] = (int)syscall(SYS_pidfd_open, before[i], 0);
		if (fds[i] < 0 && errno == ENOSYS)
			kill(before[i], SIGKILL);
	}
	int m = list_pids(dir, after, MAX);
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		for (int k = 0; k < m; k++) {
			if (after[k] == before[i]) {
				syscall(SYS_pidfd_send_signal, fds[i], SIGKILL, NULL, 0);
				break;
			}
		}
		close(fds[i]);
	}
}

void sb_cgroup_destroy(struct sb_cgroup *cg)
{
	for (int i = 0; i < 3; i++) {
		if (!cg->dirs[i])
			continue;
		if (cg->version == 2)
			write_str(cg->dirs[i], "cgroup.kill", "1");
		/* Exiting processes leave the cgroup a little after they are reaped. */
		for (int tries = 0; rmdir(cg->dirs[i]) < 0 && errno == EBUSY && tries < 200;
		     tries++) {
			sb_cgroup_kill_all(cg->dirs[i]);
			nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
		}
		free(cg->dirs[i]);
		cg->dirs[i] = NULL;
	}
	if (cg->oom_fd >= 0)
		close(cg->oom_fd);
	cg->oom_fd = -1;
}

json_t *sb_cgroup_describe(const struct sb_cgroup *cg)
{
	json_t *o = json_object();
	const struct sb_limit_state *l[] = {&cg->memory, &cg->pids, &cg->cpu};
	for (int i = 0; i < 3; i++)
		json_object_set_new(
			o, controllers[i],
			json_pack("{s:b, s:s}", "enforced", l[i]->enforced, "how", l[i]->how));
	return o;
}
