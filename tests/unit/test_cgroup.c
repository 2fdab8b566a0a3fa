/* Unit tests of backends/namespace/cgroup.c against a fake cgroup file system: plain files and
 * folders in a temporary directory stand in for /proc/self/mountinfo, /proc/self/cgroup and
 * the cgroup interface files (sb_cgroup_proc_root and sb_cgroup_mount_prefix point cgroup.c
 * there). The tests check what the code writes where, and what sb_cgroup_describe reports as
 * enforced or not, for cgroup v2 (a delegated own cgroup; root's top-level `zonebox`
 * fallback; a v2 hierarchy without controllers) and v1.
 *
 * What a plain file system cannot fake, and so is not covered here:
 *  - the kernel's answers to writes: EBUSY from cgroup.subtree_control in a cgroup that holds
 *    processes ("no internal processes"), ENOENT for a controller that is not available, EINVAL
 *    for a bad value. A write that fails is faked with a symlink to /dev/full (ENOSPC), which
 *    fails even for root, who ignores file modes;
 *  - interface files appearing in a cgroup when it is made: the sandbox's cgroup folder is
 *    made beforehand with empty files (mkdir's EEXIST is accepted, as for a reused cgroup);
 *  - moves through cgroup.procs (the pid is only written to a file), cgroup.kill, and
 *    sb_cgroup_destroy's wait for a busy cgroup (rmdir of a folder with files fails with
 *    ENOTEMPTY, not EBUSY, so destroy neither loops nor kills);
 *  - memory.events and memory.oom_control changing on a kill (the test rewrites them).
 * The root-only fallback runs only when the test runs as root; spec.userns stands for a
 * caller that is not root (the fallback is skipped in both cases). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/namespace/helper.h"

static char root[64];	   /* the fake's top: root/proc, root/sys/fs/cgroup */
static char proc_root[96]; /* root/proc */

static void sh(const char *fmt, ...) ZB_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static char *at(const char *rel)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s", root, rel) >= 0);
	return p;
}

/* Write `rel` (relative to the fake's top), making its folders. */
static void put(const char *rel, const char *text)
{
	char *p = at(rel);
	sh("mkdir -p \"$(dirname '%s')\"", p);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(p);
}

/* `rel`'s content (to free), or NULL when it is not there. */
static char *get(const char *rel)
{
	char *p = at(rel), buf[1024];
	int fd = open(p, O_RDONLY);
	free(p);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return strdup(buf);
}

static void assert_file(const char *rel, const char *want)
{
	char *got = get(rel);
	if (!got)
		fail_msg("%s is missing", rel);
	if (strcmp(got, want) != 0)
		fail_msg("%s holds \"%s\", expected \"%s\"", rel, got, want);
	free(got);
}

static bool exists(const char *rel)
{
	char *p = at(rel);
	struct stat st;
	bool ok = lstat(p, &st) == 0;
	free(p);
	return ok;
}

/* A write to `rel` fails (ENOSPC), as a kernel's EBUSY or EACCES would. */
static void failing(const char *rel)
{
	char *p = at(rel);
	sh("mkdir -p \"$(dirname '%s')\" && ln -sf /dev/full '%s'", p, p);
	free(p);
}

/* A cgroup v2 folder as the kernel makes it, with the interface files cgroup.c uses. */
static void v2_cgroup(const char *rel)
{
	static const char *const files[] = {"memory.max", "memory.swap.max", "pids.max",
					    "cpu.max",	  "memory.events",   "cgroup.procs",
					    "cgroup.kill"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char f[512];
		snprintf(f, sizeof(f), "%s/%s", rel, files[i]);
		put(f, "");
	}
}

static const char mountinfo_v2[] =
	"22 1 0:21 / / rw,relatime - ext4 /dev/vda rw\n"
	"30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
	"rw,nsdelegate,memory_recursiveprot\n";

/* Like this test machine: the controllers in v1 (cpuset before cpu, so that a substring match
 * would take the wrong one), an empty v2 hierarchy at unified. */
static const char mountinfo_hybrid[] =
	"22 1 0:21 / / rw,relatime - ext4 /dev/vda rw\n"
	"31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char self_cgroup_hybrid[] = "9:name=systemd:/user.slice/zb\n"
					 "8:pids:/user.slice/zb\n"
					 "4:memory:/user.slice/zb\n"
					 "3:cpuset:/\n"
					 "1:cpu,cpuacct:/user.slice/zb\n"
					 "0::/\n";

static const char all_controllers[] = "cpuset cpu io memory hugetlb pids rdma misc\n";

static struct sb_spec limits(void)
{
	return (struct sb_spec){.memory = 64 << 20, .pids = 10, .cpu = 0.5};
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/zb-cgroup-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(proc_root, sizeof(proc_root), "%s/proc", root);
	sb_cgroup_proc_root = proc_root;
	sb_cgroup_mount_prefix = root;
	sb_cgroup_forget();
	return 0;
}

static int teardown(void **state)
{
	sb_cgroup_forget();
	sb_cgroup_proc_root = "/proc";
	sb_cgroup_mount_prefix = "";
	sh("rm -rf %s", root);
	return 0;
}

/* describe()'s `controller`: whether enforced, and its `how` (to free). */
static bool described(const struct sb_cgroup *cg, const char *controller, char **how)
{
	json_t *d = sb_cgroup_describe(cg);
	int enforced = -1;
	const char *h = NULL;
	assert_int_equal(
		json_unpack(d, "{s:{s:b, s:s}}", controller, "enforced", &enforced, "how", &h), 0);
	*how = strdup(h);
	json_decref(d);
	return enforced;
}

static void assert_enforced(const struct sb_cgroup *cg, const char *controller, const char *how)
{
	char *h;
	if (!described(cg, controller, &h))
		fail_msg("%s not enforced: %s", controller, h);
	assert_string_equal(h, how);
	free(h);
}

/* Not enforced, and the reason mentions `why`. */
static void assert_not_enforced(const struct sb_cgroup *cg, const char *controller, const char *why)
{
	char *h;
	if (described(cg, controller, &h))
		fail_msg("%s claimed as enforced (%s)", controller, h);
	if (!strstr(h, why))
		fail_msg("%s: \"%s\" does not say \"%s\"", controller, h, why);
	free(h);
}

/* A pid that no process has: a child's, reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* Stale cgroups in `parent` (relative): one of a dead helper (to go), ours and init's (alive,
 * to stay), and a folder that is not zonebox's. Empty folders: a plain rmdir removes only
 * those, where the kernel removes a cgroup with its interface files. */
static pid_t stale_cgroups(const char *parent)
{
	pid_t dead = dead_pid();
	sh("cd %s/%s && mkdir zonebox-%d-3 zonebox-%d-0 zonebox-1-0 other", root, parent, (int)dead,
	   (int)getpid());
	return dead;
}

static void assert_stale_removed(const char *parent, pid_t dead)
{
	char rel[512];
	snprintf(rel, sizeof(rel), "%s/zonebox-%d-3", parent, (int)dead);
	assert_false(exists(rel));
	snprintf(rel, sizeof(rel), "%s/zonebox-%d-0", parent, (int)getpid());
	assert_true(exists(rel));
	snprintf(rel, sizeof(rel), "%s/zonebox-1-0", parent);
	assert_true(exists(rel));
	snprintf(rel, sizeof(rel), "%s/other", parent);
	assert_true(exists(rel));
}

/* cgroup v2, the controllers available in our own (delegated) cgroup: they are enabled in its
 * subtree_control, the sandbox's cgroup goes under it with all three limits, the pid is
 * written to its cgroup.procs, the OOM kills come from memory.events.
 * Not covered, and not met on a real kernel: the write to subtree_control succeeds here, but
 * the kernel refuses it (EBUSY) in any cgroup but the hierarchy's root that holds a process,
 * and the helper itself is in its own cgroup; this path works only where that is the root. */
static void test_v2_delegated(void **state)
{
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/user.slice/zb.scope\n");
	put("sys/fs/cgroup/cgroup.controllers", all_controllers);
	put("sys/fs/cgroup/cgroup.subtree_control", "");
	put("sys/fs/cgroup/user.slice/zb.scope/cgroup.controllers", "cpuset cpu io memory pids\n");
	put("sys/fs/cgroup/user.slice/zb.scope/cgroup.subtree_control", "");
	v2_cgroup("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1");
	pid_t dead = stale_cgroups("sys/fs/cgroup/user.slice/zb.scope");

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "zonebox-7-1", &cg);

	const char *d = "sys/fs/cgroup/user.slice/zb.scope";
	assert_file("sys/fs/cgroup/user.slice/zb.scope/cgroup.subtree_control",
		    "+memory +pids +cpu");
	assert_file("sys/fs/cgroup/cgroup.subtree_control", ""); /* the root is left alone */
	assert_false(exists("sys/fs/cgroup/zonebox"));
	assert_file("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1/memory.max", "67108864");
	assert_file("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1/memory.swap.max", "0");
	assert_file("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1/pids.max", "11");
	assert_file("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1/cpu.max", "50000 100000");
	assert_int_equal(cg.version, 2);
	char *want = at("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1");
	assert_string_equal(cg.dirs[0], want);
	free(want);
	assert_null(cg.dirs[1]);
	assert_null(cg.dirs[2]);
	assert_enforced(&cg, "memory", "cgroup v2");
	assert_enforced(&cg, "pids", "cgroup v2");
	assert_enforced(&cg, "cpu", "cgroup v2");
	assert_stale_removed(d, dead);

	struct zb_error *err = NULL;
	assert_int_equal(sb_cgroup_attach(&cg, 4242, &err), 0);
	assert_file("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1/cgroup.procs", "4242");

	/* memory.events was opened before it was written: read again at every call. */
	assert_int_equal(sb_cgroup_oom_kills(&cg), -1);
	put("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1/memory.events",
	    "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n");
	assert_int_equal(sb_cgroup_oom_kills(&cg), 1);

	sb_cgroup_destroy(&cg);
	assert_file("sys/fs/cgroup/user.slice/zb.scope/zonebox-7-1/cgroup.kill", "1");
	assert_null(cg.dirs[0]);
	assert_int_equal(cg.oom_fd, -1);
	assert_int_equal(sb_cgroup_oom_kills(&cg), -1);
}

/* Only the wanted controllers are enabled, and a persistent session's pids limit has the
 * reaper on top; a limit that is not wanted stays "not configured". */
static void test_v2_only_wanted(void **state)
{
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/zb\n");
	put("sys/fs/cgroup/zb/cgroup.controllers", "cpu memory pids\n");
	put("sys/fs/cgroup/zb/cgroup.subtree_control", "");
	v2_cgroup("sys/fs/cgroup/zb/s");

	struct sb_spec spec = {.pids = 5, .persistent = true};
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_file("sys/fs/cgroup/zb/cgroup.subtree_control", "+pids");
	assert_file("sys/fs/cgroup/zb/s/pids.max", "7");
	assert_file("sys/fs/cgroup/zb/s/memory.max", "");
	assert_file("sys/fs/cgroup/zb/s/cpu.max", "");
	assert_enforced(&cg, "pids", "cgroup v2");
	assert_not_enforced(&cg, "memory", "not configured");
	assert_not_enforced(&cg, "cpu", "not configured");
	sb_cgroup_destroy(&cg);

	/* No limit at all: nothing is looked at or made. */
	struct sb_spec none = {0};
	sb_cgroup_prepare(&none, "t", &cg);
	assert_int_equal(cg.version, 0);
	assert_false(exists("sys/fs/cgroup/zb/t"));
	assert_not_enforced(&cg, "memory", "not configured");
	sb_cgroup_destroy(&cg);
}

/* Bug: the controllers were matched as substrings of cgroup.controllers, so "cpuset" made
 * "cpu" look available: "+cpu" went into subtree_control, which the kernel refuses (ENOENT)
 * for the whole write, and no limit was set in v2 at all. */
static void test_v2_cpuset_is_not_cpu(void **state)
{
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/zb\n");
	put("sys/fs/cgroup/zb/cgroup.controllers", "cpuset memory pids\n");
	put("sys/fs/cgroup/zb/cgroup.subtree_control", "");
	v2_cgroup("sys/fs/cgroup/zb/s");
	char *cpu_max = at("sys/fs/cgroup/zb/s/cpu.max");
	unlink(cpu_max); /* no cpu controller, no cpu.max */
	free(cpu_max);

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_file("sys/fs/cgroup/zb/cgroup.subtree_control", "+memory +pids");
	assert_enforced(&cg, "memory", "cgroup v2");
	assert_enforced(&cg, "pids", "cgroup v2");
	assert_not_enforced(&cg, "cpu", "cgroup v2");
	sb_cgroup_destroy(&cg);

	/* Nor does "memory" or "pids" inside another name count. */
	sb_cgroup_forget();
	put("sys/fs/cgroup/zb/cgroup.controllers", "cpu hugememory xpids\n");
	put("sys/fs/cgroup/zb/cgroup.subtree_control", "");
	spec.userns = true;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_file("sys/fs/cgroup/zb/cgroup.subtree_control", "");
	assert_not_enforced(&cg, "memory", "no memory/pids controllers");
	sb_cgroup_destroy(&cg);
}

/* Root, our own cgroup unusable: the sandboxes go under <mount>/zonebox, with the controllers
 * enabled in the root's subtree_control and in its own. `own` sets up why ours is unusable. */
static void top_level_fallback(void (*own)(void))
{
	if (geteuid() != 0)
		skip();
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/user.slice/user-0.slice/session-1.scope\n");
	put("sys/fs/cgroup/cgroup.controllers", all_controllers);
	put("sys/fs/cgroup/cgroup.subtree_control", "");
	own();
	/* The zonebox cgroup as the kernel makes it, with one stale sandbox cgroup. */
	put("sys/fs/cgroup/zonebox/cgroup.subtree_control", "");
	v2_cgroup("sys/fs/cgroup/zonebox/zonebox-7-1");
	pid_t dead = stale_cgroups("sys/fs/cgroup/zonebox");

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "zonebox-7-1", &cg);
	assert_file("sys/fs/cgroup/cgroup.subtree_control", "+memory +pids +cpu");
	assert_file("sys/fs/cgroup/zonebox/cgroup.subtree_control", "+memory +pids +cpu");
	assert_file("sys/fs/cgroup/zonebox/zonebox-7-1/memory.max", "67108864");
	assert_file("sys/fs/cgroup/zonebox/zonebox-7-1/pids.max", "11");
	assert_file("sys/fs/cgroup/zonebox/zonebox-7-1/cpu.max", "50000 100000");
	assert_false(exists("sys/fs/cgroup/user.slice/user-0.slice/session-1.scope/zonebox-7-1"));
	assert_int_equal(cg.version, 2);
	assert_enforced(&cg, "memory", "cgroup v2");
	assert_enforced(&cg, "pids", "cgroup v2");
	assert_enforced(&cg, "cpu", "cgroup v2");
	assert_stale_removed("sys/fs/cgroup/zonebox", dead);
	struct zb_error *err = NULL;
	assert_int_equal(sb_cgroup_attach(&cg, 4242, &err), 0);
	assert_file("sys/fs/cgroup/zonebox/zonebox-7-1/cgroup.procs", "4242");
	sb_cgroup_destroy(&cg);
}

/* Our cgroup holds processes: the kernel's EBUSY, faked as a failing write. */
static void own_busy(void)
{
	put("sys/fs/cgroup/user.slice/user-0.slice/session-1.scope/cgroup.controllers",
	    all_controllers);
	failing("sys/fs/cgroup/user.slice/user-0.slice/session-1.scope/cgroup.subtree_control");
}

static void own_without_controllers(void)
{
	put("sys/fs/cgroup/user.slice/user-0.slice/session-1.scope/cgroup.controllers", "cpu io\n");
	put("sys/fs/cgroup/user.slice/user-0.slice/session-1.scope/cgroup.subtree_control", "");
}

static void test_v2_root_fallback_busy(void **state)
{
	top_level_fallback(own_busy);
}

static void test_v2_root_fallback_no_controllers(void **state)
{
	top_level_fallback(own_without_controllers);
	assert_file("sys/fs/cgroup/user.slice/user-0.slice/session-1.scope/cgroup.subtree_control",
		    "");
}

/* The zonebox cgroup is made when it is not there (its subtree_control then is not there
 * either in the fake: the write fails, and nothing is claimed). */
static void test_v2_root_fallback_creates(void **state)
{
	if (geteuid() != 0)
		skip();
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/user.slice/user-0.slice/session-1.scope\n");
	put("sys/fs/cgroup/cgroup.controllers", all_controllers);
	put("sys/fs/cgroup/cgroup.subtree_control", "");
	own_busy();

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_true(exists("sys/fs/cgroup/zonebox"));
	assert_false(exists("sys/fs/cgroup/zonebox/s"));
	assert_int_equal(cg.version, 0);
	assert_not_enforced(&cg, "pids", "cannot delegate controllers (No such file or directory)");
	assert_not_enforced(&cg, "pids", "no cgroup hierarchy has the pids controller");
	sb_cgroup_destroy(&cg);
}

/* Not root (a user namespace): no top-level fallback; with no v1 either, nothing is enforced,
 * and the reasons say why. */
static void test_v2_unprivileged_no_fallback(void **state)
{
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/user.slice/user-0.slice/session-1.scope\n");
	put("sys/fs/cgroup/cgroup.controllers", all_controllers);
	put("sys/fs/cgroup/cgroup.subtree_control", "");
	own_busy();

	struct sb_spec spec = limits();
	spec.userns = true;
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_file("sys/fs/cgroup/cgroup.subtree_control", "");
	assert_false(exists("sys/fs/cgroup/zonebox"));
	assert_false(exists("sys/fs/cgroup/user.slice/user-0.slice/session-1.scope/s"));
	assert_int_equal(cg.version, 0);
	assert_null(cg.dirs[0]);
	assert_not_enforced(&cg, "memory", "cannot delegate controllers (No space left on device)");
	assert_not_enforced(&cg, "memory", "no cgroup hierarchy has the memory controller");
	assert_not_enforced(&cg, "pids", "no cgroup hierarchy has the pids controller");
	assert_not_enforced(&cg, "cpu", "no cgroup hierarchy has the cpu controller");
	sb_cgroup_destroy(&cg);
}

/* Root, our own cgroup and the root's both refuse: both reasons, then v1 (none here).
 * Bug: the reasons were cut to 60 characters each, the own cgroup's (with its long path)
 * first, so `ready` never said why the top-level fallback failed. */
static void test_v2_root_fallback_fails(void **state)
{
	if (geteuid() != 0)
		skip();
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/user.slice/user-0.slice/session-1.scope\n");
	put("sys/fs/cgroup/cgroup.controllers", all_controllers);
	failing("sys/fs/cgroup/cgroup.subtree_control");
	own_busy();

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_false(exists("sys/fs/cgroup/zonebox"));
	assert_int_equal(cg.version, 0);
	assert_not_enforced(&cg, "pids", "cannot enable controllers (No space left on device)");
	assert_not_enforced(&cg, "pids", "own cgroup: ");
	assert_not_enforced(&cg, "pids", "no cgroup hierarchy has the pids controller");
	sb_cgroup_destroy(&cg);
}

/* v1 sandbox cgroups in `own` (relative to each hierarchy), files as the kernel makes them. */
static void v1_cgroups(const char *own)
{
	char f[512];
	static const char *const files[][2] = {{"memory", "memory.limit_in_bytes"},
					       {"memory", "memory.memsw.limit_in_bytes"},
					       {"memory", "memory.oom_control"},
					       {"memory", "cgroup.procs"},
					       {"pids", "pids.max"},
					       {"pids", "cgroup.procs"},
					       {"cpu,cpuacct", "cpu.cfs_period_us"},
					       {"cpu,cpuacct", "cpu.cfs_quota_us"},
					       {"cpu,cpuacct", "cgroup.procs"}};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(f, sizeof(f), "sys/fs/cgroup/%s%s/s/%s", files[i][0], own, files[i][1]);
		put(f, "");
	}
}

/* This machine: v2 mounted but without controllers (root's cgroup.controllers is empty, and
 * our v2 cgroup is its root), the controllers in v1. v2 is given up without making anything,
 * v1 is used: one cgroup per hierarchy, under our own cgroup there. */
static void test_v2_empty_falls_back_to_v1(void **state)
{
	put("proc/self/mountinfo", mountinfo_hybrid);
	put("proc/self/cgroup", self_cgroup_hybrid);
	put("sys/fs/cgroup/unified/cgroup.controllers", "");
	put("sys/fs/cgroup/unified/cgroup.subtree_control", "");
	v1_cgroups("/user.slice/zb");
	put("sys/fs/cgroup/cpuset/s/cpu.cfs_quota_us", ""); /* a decoy */
	pid_t dead_memory = stale_cgroups("sys/fs/cgroup/memory/user.slice/zb");
	pid_t dead_pids = stale_cgroups("sys/fs/cgroup/pids/user.slice/zb");

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_file("sys/fs/cgroup/unified/cgroup.subtree_control", "");
	assert_false(exists("sys/fs/cgroup/unified/zonebox"));
	assert_false(exists("sys/fs/cgroup/unified/s"));
	assert_int_equal(cg.version, 1);
	assert_file("sys/fs/cgroup/memory/user.slice/zb/s/memory.limit_in_bytes", "67108864");
	assert_file("sys/fs/cgroup/memory/user.slice/zb/s/memory.memsw.limit_in_bytes", "67108864");
	assert_file("sys/fs/cgroup/pids/user.slice/zb/s/pids.max", "11");
	assert_file("sys/fs/cgroup/cpu,cpuacct/user.slice/zb/s/cpu.cfs_period_us", "100000");
	assert_file("sys/fs/cgroup/cpu,cpuacct/user.slice/zb/s/cpu.cfs_quota_us", "50000");
	assert_file("sys/fs/cgroup/cpuset/s/cpu.cfs_quota_us", "");
	assert_enforced(&cg, "memory", "cgroup v1");
	assert_enforced(&cg, "pids", "cgroup v1");
	assert_enforced(&cg, "cpu", "cgroup v1");
	assert_stale_removed("sys/fs/cgroup/memory/user.slice/zb", dead_memory);
	assert_stale_removed("sys/fs/cgroup/pids/user.slice/zb", dead_pids);

	struct zb_error *err = NULL;
	assert_int_equal(sb_cgroup_attach(&cg, 4242, &err), 0);
	assert_file("sys/fs/cgroup/memory/user.slice/zb/s/cgroup.procs", "4242");
	assert_file("sys/fs/cgroup/pids/user.slice/zb/s/cgroup.procs", "4242");
	assert_file("sys/fs/cgroup/cpu,cpuacct/user.slice/zb/s/cgroup.procs", "4242");

	/* Before 4.13 oom_control has no oom_kill line. */
	put("sys/fs/cgroup/memory/user.slice/zb/s/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\n");
	assert_int_equal(sb_cgroup_oom_kills(&cg), -1);
	put("sys/fs/cgroup/memory/user.slice/zb/s/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
	assert_int_equal(sb_cgroup_oom_kills(&cg), 4);

	sb_cgroup_destroy(&cg);
	assert_false(exists("sys/fs/cgroup/memory/user.slice/zb/s/cgroup.kill")); /* v2 only */
	for (int i = 0; i < 3; i++)
		assert_null(cg.dirs[i]);
}

/* Pure v1 (no cgroup2 mount, no "0::" line), one hierarchy missing and one limit refused:
 * each limit stands on its own. */
static void test_v1_partial(void **state)
{
	put("proc/self/mountinfo",
	    "22 1 0:21 / / rw,relatime - ext4 /dev/vda rw\n"
	    "35 22 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	    "32 22 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n");
	put("proc/self/cgroup", "4:memory:/\n1:cpu,cpuacct:/\n");
	v1_cgroups("");
	failing("sys/fs/cgroup/cpu,cpuacct/s/cpu.cfs_quota_us");
	pid_t dead = stale_cgroups("sys/fs/cgroup/memory");

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_int_equal(cg.version, 1);
	assert_file("sys/fs/cgroup/memory/s/memory.limit_in_bytes", "67108864");
	assert_enforced(&cg, "memory", "cgroup v1");
	assert_not_enforced(&cg, "pids", "no cgroup v2 hierarchy");
	assert_not_enforced(&cg, "pids", "no cgroup hierarchy has the pids controller");
	assert_not_enforced(&cg, "cpu", "cgroup v1: No space left on device");
	assert_non_null(cg.dirs[0]);
	assert_null(cg.dirs[1]);
	assert_null(cg.dirs[2]);
	assert_stale_removed("sys/fs/cgroup/memory", dead);
	struct zb_error *err = NULL;
	assert_int_equal(sb_cgroup_attach(&cg, 4242, &err), 0);
	assert_file("sys/fs/cgroup/memory/s/cgroup.procs", "4242");
	assert_file("sys/fs/cgroup/cpu,cpuacct/s/cgroup.procs", "");
	sb_cgroup_destroy(&cg);
}

/* A v2 limit the kernel refuses (EINVAL, faked) is reported, the others still hold; a move
 * that fails is an error naming the cgroup. */
static void test_v2_refused_limit(void **state)
{
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/zb\n");
	put("sys/fs/cgroup/zb/cgroup.controllers", "cpu memory pids\n");
	put("sys/fs/cgroup/zb/cgroup.subtree_control", "");
	v2_cgroup("sys/fs/cgroup/zb/s");
	failing("sys/fs/cgroup/zb/s/memory.max");
	failing("sys/fs/cgroup/zb/s/cgroup.procs");

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "s", &cg);
	assert_not_enforced(&cg, "memory", "cgroup v2: No space left on device");
	assert_enforced(&cg, "pids", "cgroup v2");
	assert_enforced(&cg, "cpu", "cgroup v2");
	struct zb_error *err = NULL;
	assert_true(sb_cgroup_attach(&cg, 4242, &err) < 0);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "zb/s"));
	zb_error_free(err);
	sb_cgroup_destroy(&cg);
}

/* The v2 cgroup cannot be made: the reason is given whole, with no empty v1 reason after it
 * (v1 was not looked at, v2 having been found). Bug: it was cut to 60 characters, which lost
 * the error after the path, and ended in "; ". */
static void test_v2_mkdir_fails(void **state)
{
	put("proc/self/mountinfo", mountinfo_v2);
	put("proc/self/cgroup", "0::/zb\n");
	put("sys/fs/cgroup/zb/cgroup.controllers", "cpu memory pids\n");
	put("sys/fs/cgroup/zb/cgroup.subtree_control", "");

	struct sb_spec spec = limits();
	struct sb_cgroup cg;
	sb_cgroup_prepare(&spec, "no/such/folder", &cg);
	assert_int_equal(cg.version, 0);
	assert_null(cg.dirs[0]);
	char *how;
	assert_false(described(&cg, "pids", &how));
	assert_non_null(strstr(how, "cannot create a cgroup in"));
	assert_non_null(strstr(how, "No such file or directory"));
	size_t n = strlen(how);
	if (n >= 2 && strcmp(how + n - 2, "; ") == 0)
		fail_msg("an empty reason after \"; \": \"%s\"", how);
	free(how);
	sb_cgroup_destroy(&cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v2_delegated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_only_wanted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_cpuset_is_not_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_root_fallback_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_root_fallback_no_controllers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_v2_root_fallback_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_root_fallback_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_unprivileged_no_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_refused_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_mkdir_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v2_empty_falls_back_to_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_partial, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
