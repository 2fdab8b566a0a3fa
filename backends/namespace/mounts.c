/* The sandbox's file system. Everything the sandbox may see is captured first as detached
 * mount trees (open_tree(OPEN_TREE_CLONE)), so that the staging tmpfs mounted over /tmp below
 * cannot hide a zone whose host path lies under /tmp. The tree is then assembled on the
 * staging tmpfs, the process pivots into it and the host's root is detached: from then on no
 * path inside the sandbox leads back to the host's file system except the zones.
 *
 * As root, the part every sandbox of a session has alike (system folders or rootfs, /etc,
 * /dev but its devpts and /dev/shm, all read-only) is built once, pivoted into and detached
 * from the host as above, in a mount namespace of its own: the session's template
 * (sb_mounts_template). Each sandbox then copies that namespace (setns + unshare) and mounts
 * only what must be its own: devpts, /dev/shm, /proc, /tmp and the zones
 * (sb_mounts_from_template). */
#include "helper.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STAGE "/tmp"

/* Mount flags every bind into the sandbox gets: attack = setuid binaries (SECURITY-CASES 15)
 * and device nodes smuggled in through a zone (14). */
#define RO_ATTR (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
#define RW_ATTR (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

static const char *const system_dirs[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};
/* Folders of /etc that programs need and that hold nothing about the host's users. */
static const char *const etc_dirs[] = {"ld.so.conf.d", "ssl/certs", "alternatives"};
static const char *const etc_files[] = {"ld.so.cache", "ld.so.conf", "ssl/openssl.cnf"};
/* Parts of /proc that would let a process tune the (shared) kernel; attack: sysctl writes by
 * uid 0 without capabilities, sysrq. */
static const char *const proc_ro[] = {"sys", "sysrq-trigger", "irq", "bus", "fs"};
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
/* Files of /proc that describe the kernel's memory and state to anyone who can read them:
 * physical page flags and counts (kpage*: which physical pages hold what, the groundwork of
 * Rowhammer and page-cache attacks), the slab allocator's state (slabinfo: heap grooming for
 * kernel exploits), kernel memory itself (kcore), the host's timers and scheduler (timer_list,
 * sched_debug, latency_stats: other tenants' activity) and keys. uid 0 in a root-mode sandbox
 * owns them and needs no capability to read several of them. A read-only bind of /dev/null
 * over each reads as empty, as Docker's masked paths do. */
static const char *const proc_masked[] = {
	"kcore",    "keys",	  "kpagecount",	 "kpageflags",	"kpagecgroup",
	"slabinfo", "timer_list", "timer_stats", "sched_debug", "latency_stats"};
/* Folders with host hardware details and, in /proc/acpi/wakeup and /proc/scsi/scsi, files a
 * uid 0 without capabilities could write: an empty read-only tmpfs over each. */
static const char *const proc_masked_dirs[] = {"acpi", "asound", "scsi"};

/* tmpfs limits. Without size= a tmpfs may take half the host's RAM; its pages count against
 * the sandbox's memory limit, and in a persistent session they stay there: a /tmp as large as
 * the limit would leave every later command out of memory. /tmp takes at most half the limit
 * and /dev/shm a quarter. nr_inodes: empty files and folders take no pages but kernel memory,
 * so they are bounded too, at one inode per 2 KiB of size. */
#define TMP_SIZE	 (256ull << 20)
#define SHM_SIZE	 (16ull << 20)
#define ZONE_TMPFS_SIZE	 (64ull << 20)
#define TMPFS_INODE_SIZE 2048ull

static int clone_tree(const char *path, unsigned flags)
{
	return (int)open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | flags);
}

/* Flags for a detached tree and all its mounts, which also become private.
 * SECURITY: a tree cloned from a shared mount (on systemd hosts / is rshared) is a peer of
 * the host's: per-call sandboxes capture their zones in the host's mount namespace, and their
 * own mounts under a zone (protect: binds and the folders above them) then propagated back
 * into the host's mount table and into every earlier sandbox, doubling per sandbox until the
 * table was full, while mounts made on the host under a zone appeared inside running
 * sandboxes (a read-write mount inside a ro zone). Private before it is attached, a tree
 * neither sends nor receives mount events. */
static int set_attr(int tree, uint64_t attr)
{
	struct mount_attr a = {.attr_set = attr, .propagation = MS_PRIVATE};
	return mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a));
}

/* openat2 without following any symbolic link; with RESOLVE_BENEATH when `dir` is not
 * AT_FDCWD. With O_NOFOLLOW and O_PATH a link as the last component is opened itself (callers
 * check the type); a link anywhere before it fails with ELOOP. */
static int open_nofollow(int dir, const char *path, uint64_t flags)
{
	struct open_how how = {.flags = flags | O_CLOEXEC,
			       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	if (dir != AT_FDCWD)
		how.resolve |= RESOLVE_BENEATH;
	return (int)syscall(SYS_openat2, dir, path, &how, sizeof(how));
}

/* tmpfs options with a size and an inode limit to match. */
static void tmpfs_opts(char *buf, size_t len, const char *mode, uint64_t size)
{
	uint64_t inodes = size / TMPFS_INODE_SIZE;
	snprintf(buf, len, "mode=%s,size=%llu,nr_inodes=%llu", mode, (unsigned long long)size,
		 (unsigned long long)(inodes < 1024 ? 1024 : inodes));
}

/* `max`, or `share` of the memory limit when that is smaller. */
static uint64_t tmpfs_size(const struct sb_spec *spec, uint64_t max, unsigned share)
{
	uint64_t part = spec->memory / share;
	return spec->memory && part < max ? (part ? part : 4096) : max;
}

/* Attach a detached tree at `dst` (relative to the staging root, created as a folder or an
 * empty file to match the tree). */
static int attach(int tree, const char *dst, bool is_dir, uint64_t attr, struct zb_error **err)
{
	if (is_dir) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mkdir /%s: %s", dst,
					    strerror(errno));
	} else {
		int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno, "create /%s: %s", dst,
					    strerror(errno));
		close(fd);
	}
	if (set_attr(tree, attr) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mount_setattr /%s: %s", dst,
				    strerror(errno));
	if (move_mount(tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "move_mount /%s: %s", dst,
				    strerror(errno));
	return 0;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* Copy a small host file (ld.so.cache, resolv.conf) into the staging tmpfs. Missing sources
 * are skipped: not every system has every file. */
static int copy_file(int src, const char *dst)
{
	int out = open(dst, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (out < 0)
		return -1;
	char buf[65536];
	ssize_t n;
	int r = 0;
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -1;
			break;
		}
	if (n < 0)
		r = -1;
	close(out);
	return r;
}

struct captured {
	int trees[ZB_ARRAY_SIZE(system_dirs)];
	char *links[ZB_ARRAY_SIZE(system_dirs)]; /* merged-/usr symlinks, re-created as such */
	int etc_trees[ZB_ARRAY_SIZE(etc_dirs)];
	int etc_fds[ZB_ARRAY_SIZE(etc_files)];
	int resolv_fd;
	int *zone_trees;
	char **rootfs_names; /* rootfs: its top-level entries */
	int *rootfs_trees;
	size_t n_rootfs;
};

static int capture_system(struct captured *c, struct zb_error **err)
{
	for (size_t i = 0; i < ZB_ARRAY_SIZE(system_dirs); i++) {
		char path[64], target[256];
		snprintf(path, sizeof(path), "/%s", system_dirs[i]);
		c->trees[i] = -1;
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			c->links[i] = zb_xstrdup(target);
			continue;
		}
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		c->trees[i] = clone_tree(path, AT_RECURSIVE);
		if (c->trees[i] < 0)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno, "open_tree %s: %s", path,
					    strerror(errno));
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_dirs); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/etc/%s", etc_dirs[i]);
		c->etc_trees[i] = clone_tree(path, AT_RECURSIVE);
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_files); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/etc/%s", etc_files[i]);
		c->etc_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
	}
	return 0;
}

static bool rootfs_skip(const char *name)
{
	static const char *const skip[] = {".", "..", "dev", "proc", "sys", "tmp", "run", NULL};
	for (size_t i = 0; skip[i]; i++)
		if (strcmp(name, skip[i]) == 0)
			return true;
	return false;
}

/* A rootfs folder replaces the host's system folders: each of its top-level folders is bound
 * read-only, its symlinks are re-created, and its own /etc is used as it is.
 * Attack: as for zones (capture_zone), the rootfs or one of its folders replaced by a symbolic
 * link after the configuration was loaded would mount wherever the link points. The rootfs is
 * opened without following links and every entry is looked at and cloned through handles
 * beneath it, never through a path that could be swapped in between. */
static int capture_rootfs(const char *rootfs, struct captured *c, struct zb_error **err)
{
	int root = open_nofollow(AT_FDCWD, rootfs, O_RDONLY | O_DIRECTORY);
	if (root < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "rootfs %s: %s%s", rootfs,
				    strerror(errno),
				    errno == ELOOP ? " (it is, or goes through, a symbolic link: "
						     "it was replaced after the configuration was "
						     "loaded)"
						   : "");
	DIR *d = fdopendir(root);
	if (!d) {
		close(root);
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "rootfs %s: %s", rootfs,
				    strerror(errno));
	}
	size_t cap = 32;
	c->rootfs_names = zb_xcalloc(cap, sizeof(char *));
	c->rootfs_trees = zb_xcalloc(cap, sizeof(int));
	struct dirent *e;
	int r = 0;
	while ((e = readdir(d))) {
		if (rootfs_skip(e->d_name))
			continue;
		if (c->n_rootfs == cap) {
			cap *= 2;
			c->rootfs_names = zb_xrealloc(c->rootfs_names, cap * sizeof(char *));
			c->rootfs_trees = zb_xrealloc(c->rootfs_trees, cap * sizeof(int));
		}
		_cleanup_close_ int fd = open_nofollow(root, e->d_name, O_PATH | O_NOFOLLOW);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			/* "name=target": re-created as a symlink. */
			c->rootfs_trees[c->n_rootfs] = -1;
			c->rootfs_names[c->n_rootfs] = zb_xasprintf("%s=%s", e->d_name, target);
			c->n_rootfs++;
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		int t = (int)open_tree(
			fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
		if (t < 0) {
			r = zb_error_set(err, ZB_ERR_INTERNAL, errno, "open_tree %s/%s: %s", rootfs,
					 e->d_name, strerror(errno));
			break;
		}
		c->rootfs_names[c->n_rootfs] = zb_xstrdup(e->d_name);
		c->rootfs_trees[c->n_rootfs++] = t;
	}
	closedir(d);
	return r;
}

/* A zone's host folder as a detached tree.
 * Attack: the server made the host path canonical when it loaded the configuration; a folder
 * on that path replaced by a symbolic link since (by a command in another zone, or anyone
 * else who can write there) would otherwise be followed and mount wherever it points, the
 * host's / or /etc included, read-write for a rw zone. The path is opened without following
 * any link, and the tree is cloned from that very handle. */
static int capture_zone(const struct sb_zone *z, struct zb_error **err)
{
	_cleanup_close_ int fd = open_nofollow(AT_FDCWD, z->host_path, O_PATH | O_DIRECTORY);
	if (fd < 0 && errno == ELOOP)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno,
				    "zone %s: host folder %s is, or goes through, a symbolic link "
				    "(it was replaced after the configuration was loaded); put the "
				    "real folder back or reload the configuration",
				    z->name, z->host_path);
	int tree = fd < 0 ? -1
			  : (int)open_tree(fd, "",
					   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
						   AT_RECURSIVE);
	if (tree < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno,
				    "zone %s: cannot mount host folder %s: %s", z->name,
				    z->host_path, strerror(errno));
	return tree;
}

static int build_etc(const struct sb_spec *spec, const struct captured *c, struct zb_error **err)
{
	if (mkdir("etc", 0755) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mkdir /etc: %s", strerror(errno));
	char passwd[512], group[512];
	const char *home = "/tmp";
	if (spec->uid == 0) {
		snprintf(passwd, sizeof(passwd),
			 "root:x:0:0:root:%s:/bin/sh\n"
			 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			 home);
	} else {
		snprintf(passwd, sizeof(passwd),
			 "root:x:0:0:root:/root:/bin/sh\n"
			 "sandbox:x:%u:%u:zonebox sandbox:%s:/bin/sh\n"
			 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
			 (unsigned)spec->uid, (unsigned)spec->gid, home);
	}
	if (spec->gid == 0)
		snprintf(group, sizeof(group), "root:x:0:\nnogroup:x:65534:\n");
	else
		snprintf(group, sizeof(group), "root:x:0:\nsandbox:x:%u:\nnogroup:x:65534:\n",
			 (unsigned)spec->gid);
	char hosts[128];
	snprintf(hosts, sizeof(hosts), "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost\n",
		 spec->hostname);
	if (write_text("etc/passwd", passwd) < 0 || write_text("etc/group", group) < 0 ||
	    write_text("etc/hosts", hosts) < 0 ||
	    write_text("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n") <
		    0 ||
	    write_text("etc/hostname", spec->hostname) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "writing /etc: %s",
				    strerror(errno));
	/* Only a sandbox with the host's network gets the host's resolver. */
	if (spec->net_host && c->resolv_fd >= 0 && copy_file(c->resolv_fd, "etc/resolv.conf") < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "copy /etc/resolv.conf: %s",
				    strerror(errno));
	mkdir("etc/ssl", 0755);
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_files); i++)
		if (c->etc_fds[i] >= 0) {
			char dst[64];
			snprintf(dst, sizeof(dst), "etc/%s", etc_files[i]);
			if (copy_file(c->etc_fds[i], dst) < 0)
				return zb_error_set(err, ZB_ERR_INTERNAL, errno, "copy /%s: %s",
						    dst, strerror(errno));
		}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_dirs); i++)
		if (c->etc_trees[i] >= 0) {
			char dst[64];
			snprintf(dst, sizeof(dst), "etc/%s", etc_dirs[i]);
			if (attach(c->etc_trees[i], dst, true, RO_ATTR, err) < 0)
				return -1;
		}
	return 0;
}

/* /dev but its devpts and /dev/shm (build_dev_fresh), which every sandbox gets anew. */
static int build_dev(struct zb_error **err)
{
	if (mkdir("dev", 0755) < 0 ||
	    mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mount /dev: %s", strerror(errno));
	if (mkdir("dev/pts", 0755) < 0 || mkdir("dev/shm", 01777) < 0 ||
	    symlink("pts/ptmx", "dev/ptmx") < 0 || symlink("/proc/self/fd", "dev/fd") < 0 ||
	    symlink("/proc/self/fd/0", "dev/stdin") < 0 ||
	    symlink("/proc/self/fd/1", "dev/stdout") < 0 ||
	    symlink("/proc/self/fd/2", "dev/stderr") < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "folders and symlinks in /dev: %s",
				    strerror(errno));
	for (size_t i = 0; i < ZB_ARRAY_SIZE(dev_nodes); i++) {
		char src[32], dst[32];
		snprintf(src, sizeof(src), "/dev/%s", dev_nodes[i]);
		snprintf(dst, sizeof(dst), "dev/%s", dev_nodes[i]);
		int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
		if (fd >= 0)
			close(fd);
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno, "bind %s: %s", src,
					    strerror(errno));
	}
	/* Read-only, the tmpfs and every node bound into it, in one call (before devpts and
	 * /dev/shm, which stay writable, are mounted):
	 * - the tmpfs: nothing new can appear in /dev; attack = device nodes or FIFOs planted
	 *   for others.
	 * - the nodes: each bind is the host's own inode, and uid 0 in a root-mode sandbox owns
	 *   it; attack = `chmod 0 /dev/null` or `touch` changing the host's node. Read-only
	 *   refuses those with EROFS; reading and writing a device node are not writes to the
	 *   file system and still work. */
	struct mount_attr ro = {.attr_set =
					MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC};
	if (mount_setattr(AT_FDCWD, "dev", AT_RECURSIVE, &ro, sizeof(ro)) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "read-only /dev: %s",
				    strerror(errno));
	return 0;
}

/* A private devpts and a tmpfs /dev/shm on the folders build_dev made. */
static int build_dev_fresh(const struct sb_spec *spec, struct zb_error **err)
{
	char shm_opts[96];
	tmpfs_opts(shm_opts, sizeof(shm_opts), "1777", tmpfs_size(spec, SHM_SIZE, 4));
	if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mount /dev/pts: %s",
				    strerror(errno));
	/* noexec, as Docker mounts it: shared memory is for data; a program dropped there by
	 * one process cannot be run from it (the zones and /tmp are where commands work). */
	if (mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_opts) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mount /dev/shm: %s",
				    strerror(errno));
	return 0;
}

static int build_proc(struct zb_error **err)
{
	if ((mkdir("proc", 0555) < 0 && errno != EEXIST) ||
	    mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mount /proc: %s",
				    strerror(errno));
	for (size_t i = 0; i < ZB_ARRAY_SIZE(proc_ro); i++) {
		char p[32];
		snprintf(p, sizeof(p), "proc/%s", proc_ro[i]);
		/* ENOENT: this kernel has no such entry (no access() first: one call less). */
		int bound = mount(p, p, NULL, MS_BIND | MS_REC, NULL);
		if (bound < 0 && errno == ENOENT)
			continue;
		if (bound < 0 ||
		    mount(NULL, p, NULL,
			  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) < 0)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno, "read-only /%s: %s", p,
					    strerror(errno));
	}
	/* dev/null is the read-only bind build_dev made; a bind takes over its source's mount
	 * flags, so one mount(2) each. Paths this kernel does not have are skipped. */
	for (size_t i = 0; i < ZB_ARRAY_SIZE(proc_masked); i++) {
		char p[32];
		snprintf(p, sizeof(p), "proc/%s", proc_masked[i]);
		if (mount("dev/null", p, NULL, MS_BIND, NULL) < 0 && errno != ENOENT)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mask /%s: %s", p,
					    strerror(errno));
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(proc_masked_dirs); i++) {
		char p[32];
		snprintf(p, sizeof(p), "proc/%s", proc_masked_dirs[i]);
		if (mount("tmpfs", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=0555,size=4k,nr_inodes=16") < 0 &&
		    errno != ENOENT)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mask /%s: %s", p,
					    strerror(errno));
	}
	return 0;
}

static int protect_error(struct zb_error **err, int errnum, const char *rel,
			 const struct sb_zone *z, const char *what)
{
	if (errnum == ELOOP || errnum == EXDEV)
		return zb_error_set(err, ZB_ERR_INTERNAL, errnum,
				    "protected path '%s' in zone %s is, or goes through, a "
				    "symbolic link, so it cannot be kept read-only; replace "
				    "it on the host with the real folder or file",
				    rel, z->name);
	return zb_error_set(err, ZB_ERR_INTERNAL, errnum, "protected path '%s' in zone %s: %s", rel,
			    z->name, what ? what : strerror(errnum));
}

/* Clone the tree at `fd` and mount it over `fd` itself with `attr`. Returns the new mount's
 * root (lookups from it see the new mount, lookups from `fd` the one below), or -1. */
static int bind_over(int fd, uint64_t attr)
{
	int tree = (int)open_tree(
		fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (tree < 0)
		return -1;
	if (set_attr(tree, attr) < 0 ||
	    move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) {
		int saved = errno;
		close(tree);
		errno = saved;
		return -1;
	}
	return tree;
}

/* Keep `rel` (canonical: spec.c) read-only in the zone mounted from `zone`.
 *
 * Attack 1, renaming a parent: the kernel refuses to rename or remove a mount point (EBUSY),
 * but not the folders above it. With only .git/hooks mounted read-only, `mv .git .git-old &&
 * mkdir -p .git/hooks && echo ... > .git/hooks/pre-commit` hands the host's git the
 * attacker's hook. So every folder between the zone's root and the protected path is bound
 * over itself too (read-write, nosuid, nodev): each is a mount point that cannot be renamed
 * or removed, and the protected path stays where the host expects it.
 *
 * Attack 2, symbolic links: a protected path that is a link, or goes through one, would have
 * the link mounted read-only while writes through it land wherever it points; and a sandbox
 * may swap a folder of the path for a link to any host folder while the next sandbox is
 * built. So the path is walked one component at a time, each opened beneath its parent with
 * openat2(RESOLVE_NO_SYMLINKS) and O_NOFOLLOW and its type checked on the open handle; a
 * missing component is created with mkdirat() of that single name in its parent's handle,
 * which never follows a link (mkdir(2) on an existing link fails with EEXIST, and the link is
 * then refused). Only a folder or a regular file can be protected. */
static int protect_path(int zone, const struct sb_zone *z, const char *rel, struct zb_error **err)
{
	char buf[1100];
	if (strlen(rel) >= sizeof(buf))
		return protect_error(err, ENAMETOOLONG, rel, z, NULL);
	memcpy(buf, rel, strlen(rel) + 1);
	_cleanup_close_ int parent = -1; /* the mount root or folder we are in; zone at first */
	char *save = NULL;
	for (char *name = strtok_r(buf, "/", &save); name;) {
		char *next = strtok_r(NULL, "/", &save);
		int dir = parent >= 0 ? parent : zone;
		_cleanup_close_ int fd = open_nofollow(dir, name, O_PATH | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT) {
			/* Missing: an empty folder, owned by the caller, so that nothing writable
			 * can be created at that name later. */
			if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
				return protect_error(err, errno, rel, z, NULL);
			fd = open_nofollow(dir, name, O_PATH | O_NOFOLLOW);
		}
		if (fd < 0)
			return protect_error(err, errno, rel, z, NULL);
		struct statx sx;
		if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE, &sx) < 0)
			return protect_error(err, errno, rel, z, NULL);
		if (S_ISLNK(sx.stx_mode))
			return protect_error(err, ELOOP, rel, z, NULL);
		if (next && !S_ISDIR(sx.stx_mode))
			return protect_error(err, ENOTDIR, rel, z,
					     "a part of it is not a folder; protect a folder or "
					     "a regular file");
		if (!next && !S_ISDIR(sx.stx_mode) && !S_ISREG(sx.stx_mode))
			return protect_error(err, EINVAL, rel, z,
					     "it is neither a folder nor a regular file; protect a "
					     "folder or a regular file");
		int top;
		if (!next)
			top = bind_over(fd, RO_ATTR);
		else if ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
			 (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
			top = TAKE_FD(fd); /* a mount point already (another protect path) */
		else
			top = bind_over(fd, RW_ATTR);
		if (top < 0)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno,
					    "protect '%s' in zone %s: %s", rel, z->name,
					    strerror(errno));
		if (parent >= 0)
			close(parent);
		parent = top;
		name = next;
	}
	return 0;
}

static int protect(int zone, const struct sb_zone *z, struct zb_error **err)
{
	for (size_t i = 0; i < z->n_protect; i++)
		if (protect_path(zone, z, z->protect[i], err) < 0)
			return -1;
	return 0;
}

static int build_zones(const struct sb_spec *spec, const struct captured *c, struct zb_error **err)
{
	for (size_t i = 0; i < spec->n_zones; i++) {
		const struct sb_zone *z = &spec->zones[i];
		if (z->mode == SB_ZONE_TMPFS) {
			char opts[96];
			tmpfs_opts(opts, sizeof(opts), "0755", z->size ? z->size : ZONE_TMPFS_SIZE);
			/* EEXIST: the template's mount point (sb_mounts_template). */
			if ((mkdir(z->name, 0755) < 0 && errno != EEXIST) ||
			    mount("tmpfs", z->name, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
				return zb_error_set(err, ZB_ERR_INTERNAL, errno,
						    "zone %s: mount tmpfs: %s", z->name,
						    strerror(errno));
			continue;
		}
		if (attach(c->zone_trees[i], z->name, true,
			   z->mode == SB_ZONE_RO ? RO_ATTR : RW_ATTR, err) < 0)
			return zb_error_prefix(err, "zone %s", z->name);
		if (z->mode == SB_ZONE_RW && protect(c->zone_trees[i], z, err) < 0)
			return -1;
	}
	return 0;
}

static void captured_init(struct captured *c)
{
	memset(c, 0, sizeof(*c));
	c->resolv_fd = -1;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(system_dirs); i++)
		c->trees[i] = -1;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_dirs); i++)
		c->etc_trees[i] = -1;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_files); i++)
		c->etc_fds[i] = -1;
}

/* The trees are attached now (or were never needed); the fds only pin memory. */
static void captured_clear(const struct sb_spec *spec, struct captured *c)
{
	for (size_t i = 0; i < ZB_ARRAY_SIZE(system_dirs); i++) {
		if (c->trees[i] >= 0)
			close(c->trees[i]);
		free(c->links[i]);
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_dirs); i++)
		if (c->etc_trees[i] >= 0)
			close(c->etc_trees[i]);
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_files); i++)
		if (c->etc_fds[i] >= 0)
			close(c->etc_fds[i]);
	for (size_t i = 0; c->zone_trees && i < spec->n_zones; i++)
		if (c->zone_trees[i] >= 0)
			close(c->zone_trees[i]);
	for (size_t i = 0; i < c->n_rootfs; i++) {
		if (c->rootfs_trees[i] >= 0)
			close(c->rootfs_trees[i]);
		free(c->rootfs_names[i]);
	}
	free(c->rootfs_names);
	free(c->rootfs_trees);
	free(c->zone_trees);
	if (c->resolv_fd >= 0)
		close(c->resolv_fd);
	captured_init(c);
}

/* The system folders (or the rootfs) and /etc, as detached trees and handles. */
static int capture_shared(const struct sb_spec *spec, struct captured *c, struct zb_error **err)
{
	if (spec->rootfs) {
		if (capture_rootfs(spec->rootfs, c, err) < 0)
			return -1;
	} else if (capture_system(c, err) < 0) {
		return -1;
	}
	if (spec->net_host)
		c->resolv_fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
	return 0;
}

static int capture_zones(const struct sb_spec *spec, struct captured *c, struct zb_error **err)
{
	c->zone_trees = zb_xcalloc(spec->n_zones + 1, sizeof(int));
	for (size_t i = 0; i < spec->n_zones; i++)
		c->zone_trees[i] = -1;
	for (size_t i = 0; i < spec->n_zones; i++) {
		if (spec->zones[i].mode == SB_ZONE_TMPFS)
			continue;
		c->zone_trees[i] = capture_zone(&spec->zones[i], err);
		if (c->zone_trees[i] < 0)
			return -1;
	}
	return 0;
}

/* Mount the staging tmpfs over /tmp and go there. Only a mount namespace of our own sees it. */
static int enter_stage(struct zb_error **err)
{
	if (mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m") < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mount the root tmpfs: %s",
				    strerror(errno));
	if (chdir(STAGE) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "chdir: %s", strerror(errno));
	return 0;
}

/* What every sandbox of a session has alike, on the staging root: the system folders or the
 * rootfs, /etc, and /dev but for its devpts and /dev/shm. */
static int build_shared(const struct sb_spec *spec, struct captured *c, struct zb_error **err)
{
	if (spec->rootfs) {
		for (size_t i = 0; i < c->n_rootfs; i++) {
			char *name = c->rootfs_names[i];
			char *eq = strchr(name, '=');
			if (c->rootfs_trees[i] < 0 && eq) {
				*eq = '\0';
				if (symlink(eq + 1, name) < 0)
					return zb_error_set(err, ZB_ERR_INTERNAL, errno,
							    "symlink /%s: %s", name,
							    strerror(errno));
				continue;
			}
			if (attach(c->rootfs_trees[i], name, true, RO_ATTR, err) < 0)
				return zb_error_prefix(err, "rootfs");
		}
	} else {
		for (size_t i = 0; i < ZB_ARRAY_SIZE(system_dirs); i++) {
			if (c->links[i]) {
				if (symlink(c->links[i], system_dirs[i]) < 0)
					return zb_error_set(err, ZB_ERR_INTERNAL, errno,
							    "symlink /%s: %s", system_dirs[i],
							    strerror(errno));
			} else if (c->trees[i] >= 0 &&
				   attach(c->trees[i], system_dirs[i], true, RO_ATTR, err) < 0) {
				return -1;
			}
		}
		if (build_etc(spec, c, err) < 0)
			return -1;
	}
	return build_dev(err);
}

/* What no two sandboxes share, on the root made by build_shared: devpts and /dev/shm, /proc
 * of the sandbox's pid namespace, /tmp and the zones. */
static int build_fresh(const struct sb_spec *spec, const struct captured *c, struct zb_error **err)
{
	/* build_proc masks files with build_dev's /dev/null. */
	if (build_dev_fresh(spec, err) < 0 || build_proc(err) < 0)
		return -1;
	char tmp_opts[96];
	tmpfs_opts(tmp_opts, sizeof(tmp_opts), "1777", tmpfs_size(spec, TMP_SIZE, 2));
	if ((mkdir("tmp", 01777) < 0 && errno != EEXIST) ||
	    mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "mount /tmp: %s", strerror(errno));
	return build_zones(spec, c, err);
}

/* pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves no path
 * back to the host's tree (pivot_root(2), NOTES). Then the root itself is made read-only. */
static int pivot(struct zb_error **err)
{
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "pivot_root: %s", strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "detach the old root: %s",
				    strerror(errno));
	if (chdir("/") < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "chdir /: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
	    0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "read-only /: %s",
				    strerror(errno));
	return 0;
}

int sb_mounts_build(const struct sb_spec *spec, struct zb_error **err)
{
	struct captured c;
	captured_init(&c);
	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "make / private: %s",
				    strerror(errno));
	int r = -1;
	if (capture_shared(spec, &c, err) == 0 && capture_zones(spec, &c, err) == 0 &&
	    enter_stage(err) == 0 && build_shared(spec, &c, err) == 0 &&
	    build_fresh(spec, &c, err) == 0 && pivot(err) == 0)
		r = 0;
	captured_clear(spec, &c);
	return r;
}

int sb_mounts_template(const struct sb_spec *spec, struct zb_error **err)
{
	struct captured c;
	captured_init(&c);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "make / private: %s",
				    strerror(errno));
	int r = -1;
	if (capture_shared(spec, &c, err) == 0 && enter_stage(err) == 0 &&
	    build_shared(spec, &c, err) == 0) {
		/* The mount points of what every sandbox mounts anew, made while the root is
		 * still writable. */
		r = 0;
		if (mkdir("proc", 0555) < 0 || mkdir("tmp", 01777) < 0)
			r = zb_error_set(err, ZB_ERR_INTERNAL, errno, "mkdir /proc, /tmp: %s",
					 strerror(errno));
		/* EEXIST: a top-level folder of the rootfs, which the zone covers. */
		for (size_t i = 0; r == 0 && i < spec->n_zones; i++)
			if (mkdir(spec->zones[i].name, 0755) < 0 && errno != EEXIST)
				r = zb_error_set(err, ZB_ERR_INTERNAL, errno, "zone %s: mkdir: %s",
						 spec->zones[i].name, strerror(errno));
		if (r == 0)
			r = pivot(err);
	}
	captured_clear(spec, &c);
	return r;
}

/* Mix what identifies a file's version into `h`: which file (device, inode), and when and how
 * it last changed. A missing file counts as a version too. */
static uint64_t stamp_file(uint64_t h, const char *path, bool follow)
{
	struct stat st;
	uint64_t v[7] = {0};
	if ((follow ? stat(path, &st) : lstat(path, &st)) == 0) {
		v[0] = st.st_dev;
		v[1] = st.st_ino;
		v[2] = (uint64_t)st.st_mtim.tv_sec;
		v[3] = (uint64_t)st.st_mtim.tv_nsec;
		v[4] = (uint64_t)st.st_ctim.tv_sec;
		v[5] = (uint64_t)st.st_ctim.tv_nsec;
		v[6] = (uint64_t)st.st_size;
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(v); i++)
		h = (h ^ v[i]) * 0x100000001b3ull; /* FNV-1a, a word at a time */
	return h;
}

uint64_t sb_mounts_template_stamp(const struct sb_spec *spec)
{
	uint64_t h = 0xcbf29ce484222325ull;
	if (spec->rootfs)
		return stamp_file(h, spec->rootfs, false);
	/* "/" changes when a top-level entry (a system folder or its link) comes or goes. */
	h = stamp_file(h, "/", false);
	for (size_t i = 0; i < ZB_ARRAY_SIZE(etc_files); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/etc/%s", etc_files[i]);
		h = stamp_file(h, path, true);
	}
	return spec->net_host ? stamp_file(h, "/etc/resolv.conf", true) : h;
}

int sb_mounts_from_template(const struct sb_spec *spec, int template_ns, struct zb_error **err)
{
	struct captured c;
	captured_init(&c);
	int r = -1;
	/* The zones are captured here, in the host's mount namespace, before this process
	 * leaves it: the template holds no path back to the host's tree. */
	if (capture_zones(spec, &c, err) < 0)
		goto out;
	if (setns(template_ns, CLONE_NEWNS) < 0 || unshare(CLONE_NEWNS) < 0) {
		zb_error_set(err, ZB_ERR_INTERNAL, errno, "entering the session's template: %s",
			     strerror(errno));
		goto out;
	}
	if (chdir("/") < 0) {
		zb_error_set(err, ZB_ERR_INTERNAL, errno, "chdir /: %s", strerror(errno));
		goto out;
	}
	/* The template's mounts are private, and so is every copy of them; made so again, as
	 * cheap as it is, since a shared mount here would let what is mounted below reach the
	 * template and every later sandbox. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		zb_error_set(err, ZB_ERR_INTERNAL, errno, "make / private: %s", strerror(errno));
		goto out;
	}
	r = build_fresh(spec, &c, err);
out:
	captured_clear(spec, &c);
	return r;
}
