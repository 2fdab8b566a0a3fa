#include "zones.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct zb_zones {
	const struct zb_config *cfg;
	int *fds; /* per zone: fd, or -errno */
};

/* How often an openat2 that failed with EAGAIN is tried again before giving up. */
#define EAGAIN_RETRIES 64

int zb_zones_openat(int dirfd, const char *rel, int flags, mode_t mode, uint64_t resolve)
{
	/* SECURITY: this is the only way the fs tools reach anything inside a zone.
	 * RESOLVE_BENEATH makes the kernel refuse (EXDEV) every resolution that would leave
	 * dirfd: "..", absolute paths, and symlinks (however swapped in, at any moment) whose
	 * target climbs out or is absolute. RESOLVE_NO_MAGICLINKS refuses /proc/<pid>/fd/N and
	 * /proc/<pid>/root style links, which jump anywhere regardless of the path walked. The
	 * check happens inside the path walk itself, so a shell in the sandbox that swaps a
	 * folder for a symlink to / between our check and our use has nothing to race. */
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve,
	};
	const char *p = rel && *rel ? rel : ".";
	for (int i = 0;; i++) {
		long fd = syscall(SYS_openat2, dirfd, p, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		/* With RESOLVE_CACHED, EAGAIN means "not all in the cache": asking again
		 * would not change that. */
		if (errno != EAGAIN || i >= EAGAIN_RETRIES || (resolve & RESOLVE_CACHED))
			return -errno;
	}
}

struct zb_zones *zb_zones_open(const struct zb_config *cfg, struct zb_error **err)
{
	/* Without openat2 there is no kernel-enforced way to stay inside a zone, and string
	 * checks are not a substitute: refuse rather than fall back. */
	int probe = zb_zones_openat(AT_FDCWD, ".", O_PATH | O_DIRECTORY, 0, 0);
	if (probe == -ENOSYS) {
		zb_error_set(err, ZB_ERR_TOOL, ENOSYS,
			     "this kernel has no openat2() (Linux 5.6 or newer is needed), which "
			     "the fs tools rely on to stay inside the zones; they are disabled. "
			     "Use shell.run (cat, ls, find, tee) on the same /<zone> paths.");
		return NULL;
	}
	if (probe >= 0)
		close(probe);

	struct zb_zones *zs = zb_xcalloc(1, sizeof(*zs));
	zs->cfg = cfg;
	zs->fds = zb_xcalloc(cfg->sandbox.n_zones, sizeof(int));
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++) {
		const struct zb_zone *z = &cfg->sandbox.zones[i];
		if (z->mode == ZB_ZONE_TMPFS || !z->host_path) {
			zs->fds[i] = -ENOENT;
			continue;
		}
		/* The configured host path is trusted (it is the operator's), so it may contain
		 * symlinks; everything below it is not. */
		int fd = open(z->host_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		zs->fds[i] = fd >= 0 ? fd : -errno;
	}
	return zs;
}

void zb_zones_free(struct zb_zones *zs)
{
	if (!zs)
		return;
	for (size_t i = 0; i < zs->cfg->sandbox.n_zones; i++)
		if (zs->fds[i] >= 0)
			close(zs->fds[i]);
	free(zs->fds);
	free(zs);
}

const struct zb_config *zb_zones_config(const struct zb_zones *zs)
{
	return zs->cfg;
}

int zb_zones_fd(const struct zb_zones *zs, size_t index)
{
	return index < zs->cfg->sandbox.n_zones ? zs->fds[index] : -ENOENT;
}

void zb_zpath_clear(struct zb_zpath *p)
{
	free(p->rel);
	free(p->display);
	*p = (struct zb_zpath){.dirfd = -1};
}

/* "/a (ro), /b (rw)" for messages. */
static char *zone_list(const struct zb_config *cfg)
{
	size_t cap = 64, len = 0;
	char *s = zb_xmalloc(cap);
	s[0] = '\0';
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++) {
		const struct zb_zone *z = &cfg->sandbox.zones[i];
		char *item = zb_xasprintf("%s/%s (%s)", i ? ", " : "", z->name,
					  zb_zone_mode_name(z->mode));
		size_t n = strlen(item);
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			s = zb_xrealloc(s, cap);
		}
		memcpy(s + len, item, n + 1);
		len += n;
		free(item);
	}
	return s;
}

int zb_zones_parse(const struct zb_zones *zs, const char *path, size_t len, const char *tool,
		   struct zb_zpath *ret, struct zb_error **err)
{
	const struct zb_config *cfg = zs->cfg;
	*ret = (struct zb_zpath){.dirfd = -1};
	if (len == 0)
		return zb_error_set(
			err, ZB_ERR_TOOL, EINVAL,
			"%s: the path is empty; give a sandbox path like /%s/file, or a "
			"path relative to the first zone",
			tool, cfg->sandbox.zones[0].name);
	if (memchr(path, '\0', len))
		return zb_error_set(
			err, ZB_ERR_TOOL, EINVAL,
			"%s: the path contains a NUL byte, which no file name can hold; "
			"give the path without it",
			tool);
	if (len > ZB_ZONES_MAX_PATH)
		return zb_error_set(
			err, ZB_ERR_TOOL, ENAMETOOLONG,
			"%s: the path is %zu bytes long; paths may have at most %d bytes", tool,
			len, ZB_ZONES_MAX_PATH);
	if (zb_utf8_valid_prefix(path, len) != len)
		return zb_error_set(err, ZB_ERR_TOOL, EILSEQ,
				    "%s: the path is not valid UTF-8; give it as UTF-8 text", tool);

	/* Split into components, dropping empty ones and ".". */
	const char *p = path, *end = path + len;
	bool absolute = *p == '/';
	size_t zone_index = 0;
	if (absolute) {
		while (p < end && *p == '/')
			p++;
		const char *e = memchr(p, '/', (size_t)(end - p));
		if (!e)
			e = end;
		size_t n = (size_t)(e - p);
		if (n == 0) {
			_cleanup_free_ char *list = zone_list(cfg);
			return zb_error_set(
				err, ZB_ERR_TOOL, ENOENT,
				"%s: \"/\" is the sandbox root, not a zone; paths start "
				"with a zone: %s",
				tool, list);
		}
		bool found = false;
		for (size_t i = 0; i < cfg->sandbox.n_zones && !found; i++)
			if (strlen(cfg->sandbox.zones[i].name) == n &&
			    memcmp(cfg->sandbox.zones[i].name, p, n) == 0) {
				zone_index = i;
				found = true;
			}
		if (!found) {
			_cleanup_free_ char *list = zone_list(cfg);
			return zb_error_set(
				err, ZB_ERR_TOOL, ENOENT,
				"%s: %.*s is outside every zone (there is no zone named "
				"\"%.*s\"); the fs tools only reach the zones: %s",
				tool, (int)(len > 200 ? 200 : len), path, (int)(n > 100 ? 100 : n),
				p, list);
		}
		p = e;
	}
	const struct zb_zone *z = &cfg->sandbox.zones[zone_index];
	if (z->mode == ZB_ZONE_TMPFS)
		return zb_error_set(
			err, ZB_ERR_TOOL, ENOENT,
			"%s: zone %s is a tmpfs inside the sandbox; its files exist only "
			"there, so the fs tools cannot reach them. Use shell.run (cat, "
			"ls, tee, find) for paths under /%s",
			tool, z->name, z->name);
	if (zs->fds[zone_index] < 0)
		return zb_error_set(
			err, ZB_ERR_TOOL, -zs->fds[zone_index],
			"%s: the host folder of zone %s could not be opened when the fs "
			"tools started (%s); ask the user to fix the zone's hostPath",
			tool, z->name, strerror(-zs->fds[zone_index]));

	char *rel = zb_xmalloc(len + 1);
	size_t r = 0;
	while (p < end) {
		while (p < end && *p == '/')
			p++;
		const char *e = memchr(p, '/', (size_t)(end - p));
		if (!e)
			e = end;
		size_t n = (size_t)(e - p);
		if (n > 0 && !(n == 1 && *p == '.')) {
			if (r > 0)
				rel[r++] = '/';
			memcpy(rel + r, p, n);
			r += n;
		}
		p = e;
	}
	rel[r] = '\0';
	ret->zone = z;
	ret->dirfd = zs->fds[zone_index];
	ret->rel = rel;
	ret->display = r ? zb_xasprintf("/%s/%s", z->name, rel) : zb_xasprintf("/%s", z->name);
	return 0;
}

int zb_zones_open_parent(const struct zb_zpath *p, const char *tool, const char **ret_name,
			 struct zb_error **err)
{
	if (!*p->rel)
		return zb_error_set(err, ZB_ERR_TOOL, EBUSY,
				    "%s: %s is the root of zone %s, which this operation cannot "
				    "apply to; name something inside it",
				    tool, p->display, p->zone->name);
	const char *slash = strrchr(p->rel, '/');
	const char *name = slash ? slash + 1 : p->rel;
	if (strcmp(name, "..") == 0)
		return zb_error_set(err, ZB_ERR_TOOL, EINVAL,
				    "%s: %s ends in \"..\"; name the entry itself instead", tool,
				    p->display);
	_cleanup_free_ char *dir = slash ? zb_xstrndup(p->rel, (size_t)(slash - p->rel)) : NULL;
	int fd = zb_zones_openat(p->dirfd, dir ? dir : "", O_PATH | O_DIRECTORY, 0, 0);
	if (fd < 0) {
		struct zb_zpath parent = *p;
		_cleanup_free_ char *display = dir ? zb_xasprintf("/%s/%s", p->zone->name, dir)
						   : zb_xasprintf("/%s", p->zone->name);
		parent.display = display;
		if (fd == -ENOENT)
			return zb_error_set(
				err, ZB_ERR_TOOL, ENOENT,
				"%s: the folder %s does not exist (create it with "
				"fs.mkdir, or pass parents: true where the tool has it)",
				tool, display);
		return zb_zones_fail(err, -fd, tool, &parent);
	}
	*ret_name = name;
	return fd;
}

/* ---------------------------------------------------------------- protected paths */

static bool covers(const char *outer, const char *inner)
{
	size_t n = strlen(outer);
	if (n == 0)
		return true;
	return strncmp(outer, inner, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

const char *zb_zones_protected(const struct zb_zone *z, const char *rel, bool subtree)
{
	for (size_t i = 0; i < z->n_protect; i++) {
		const char *prot = z->protect[i];
		if (covers(prot, rel) || (subtree && covers(rel, prot)))
			return prot;
	}
	return NULL;
}

char *zb_zones_lexical(const char *rel)
{
	size_t len = strlen(rel);
	char *out = zb_xmalloc(len + 1);
	size_t o = 0;
	const char *p = rel, *end = rel + len;
	while (p < end) {
		const char *e = memchr(p, '/', (size_t)(end - p));
		if (!e)
			e = end;
		size_t n = (size_t)(e - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (o == 0) {
				free(out);
				return NULL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (n > 0 && !(n == 1 && *p == '.')) {
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = e < end ? e + 1 : end;
	}
	out[o] = '\0';
	return out;
}

/* Where an open fd is, as the kernel names it. NULL when that is unknown (no /proc, or the
 * folder was deleted meanwhile). */
static char *fd_path(int fd)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	size_t cap = 256;
	for (;;) {
		char *buf = zb_xmalloc(cap);
		ssize_t n = readlink(link, buf, cap);
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if ((size_t)n < cap) {
			buf[n] = '\0';
			static const char deleted[] = " (deleted)";
			size_t dl = sizeof(deleted) - 1;
			if (buf[0] != '/' ||
			    ((size_t)n >= dl && strcmp(buf + n - dl, deleted) == 0)) {
				free(buf);
				return NULL;
			}
			return buf;
		}
		free(buf);
		if (cap > 1 << 20)
			return NULL;
		cap *= 2;
	}
}

/* Where rel really is inside its zone right now: the deepest folder on the way to rel's
 * parent that exists is opened beneath the zone and named by the kernel; the components
 * after it (still to be created, and the last one, which is never followed) are appended as
 * written. Returns the zone-relative path, or NULL with *ret_errno. */
static char *resolved_rel(int zone_fd, const char *rel, int *ret_errno)
{
	_cleanup_free_ char *dir = zb_xstrdup(rel);
	_cleanup_close_ int fd = -1;
	do {
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
		fd = zb_zones_openat(zone_fd, dir, O_PATH | O_DIRECTORY, 0, 0);
		if (fd < 0 && fd != -ENOENT && fd != -ENOTDIR) {
			*ret_errno = -fd;
			return NULL;
		}
	} while (fd < 0 && *dir);
	if (fd < 0) {
		*ret_errno = -fd;
		return NULL;
	}
	const char *suffix = rel + strlen(dir);
	while (*suffix == '/')
		suffix++;
	_cleanup_free_ char *zone_path = fd_path(zone_fd);
	_cleanup_free_ char *dir_path = fd_path(fd);
	if (!zone_path || !dir_path) {
		*ret_errno = ENOENT;
		return NULL;
	}
	size_t zl = strcmp(zone_path, "/") == 0 ? 0 : strlen(zone_path);
	if (strncmp(dir_path, zone_path, zl) != 0 ||
	    (dir_path[zl] != '\0' && dir_path[zl] != '/')) {
		/* Beneath the zone by the kernel's walk, yet named elsewhere: a mount inside the
		 * zone, where protection cannot be judged by name. */
		*ret_errno = EXDEV;
		return NULL;
	}
	const char *inside = dir_path + zl;
	while (*inside == '/')
		inside++;
	_cleanup_free_ char *joined = *inside && *suffix ? zb_xasprintf("%s/%s", inside, suffix)
							 : zb_xstrdup(*inside ? inside : suffix);
	char *out = zb_zones_lexical(joined);
	if (!out)
		*ret_errno = EXDEV;
	return out;
}

static const char *first_rw_zone(const struct zb_config *cfg)
{
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++)
		if (cfg->sandbox.zones[i].mode == ZB_ZONE_RW)
			return cfg->sandbox.zones[i].name;
	return NULL;
}

static int protected_fail(struct zb_error **err, const char *tool, const struct zb_zpath *p,
			  const char *prot)
{
	return zb_error_set(err, ZB_ERR_TOOL, EROFS,
			    "%s: %s is protected: /%s/%s is read-only in zone %s (mode %s, "
			    "protect: [%s]), for the fs tools and the shell alike; nothing was "
			    "changed. Write elsewhere in /%s",
			    tool, p->display, p->zone->name, prot, p->zone->name,
			    zb_zone_mode_name(p->zone->mode), prot, p->zone->name);
}

int zb_zones_check_write(const struct zb_zones *zs, const struct zb_zpath *p, const char *tool,
			 bool subtree, struct zb_error **err)
{
	const struct zb_zone *z = p->zone;
	if (z->mode == ZB_ZONE_RO) {
		const char *rw = first_rw_zone(zs->cfg);
		_cleanup_free_ char *hint = rw ? zb_xasprintf("write under /%s instead", rw)
					       : zb_xstrdup("no zone is writable in this "
							    "configuration");
		return zb_error_set(err, ZB_ERR_TOOL, EROFS,
				    "%s: %s is in zone %s, which is read-only (mode ro); nothing "
				    "was changed; %s",
				    tool, p->display, z->name, hint);
	}
	if (z->n_protect == 0)
		return 0;
	/* SECURITY: protected paths are checked twice. As written, normalised lexically (a
	 * path that names a protected folder is refused even if that folder is missing), and
	 * as the kernel resolves it now, so that a symlink inside the zone (`h -> .git/hooks`)
	 * cannot carry a write into a protected folder. Both refuse; neither widens. If the
	 * resolved location cannot be known (no /proc), the write is refused. */
	_cleanup_free_ char *lex = zb_zones_lexical(p->rel);
	const char *prot = lex ? zb_zones_protected(z, lex, subtree) : NULL;
	if (prot)
		return protected_fail(err, tool, p, prot);
	int e = 0;
	_cleanup_free_ char *real = resolved_rel(p->dirfd, p->rel, &e);
	if (!real) {
		if (e == EXDEV || e == ELOOP)
			return zb_zones_fail(err, e, tool, p);
		if (e != ENOENT)
			return zb_zones_fail(err, e, tool, p);
		return zb_error_set(err, ZB_ERR_TOOL, e,
				    "%s: cannot tell whether %s is under a protected path of zone "
				    "%s (the server could not name its folder through /proc), so "
				    "nothing was changed",
				    tool, p->display, z->name);
	}
	prot = zb_zones_protected(z, real, subtree);
	if (prot)
		return protected_fail(err, tool, p, prot);
	return 0;
}

/* ---------------------------------------------------------------- errors */

int zb_zones_fail(struct zb_error **err, int errnum, const char *tool, const struct zb_zpath *p)
{
	const char *zn = p->zone->name;
	const char *d = p->display ? p->display : "the path";
	switch (errnum) {
	case ENOENT:
		/* Names that are not UTF-8 on disk are shown with U+FFFD, which no JSON string
		 * can turn back into the original bytes. */
		if (strstr(d, "\xef\xbf\xbd"))
			return zb_error_set(
				err, ZB_ERR_TOOL, errnum,
				"%s: %s does not exist. Its U+FFFD (\xef\xbf\xbd) stands for "
				"bytes that are not UTF-8 in a name on disk, which cannot be "
				"given in JSON; rename it with shell.run (mv with a glob that "
				"has a ? where each U+FFFD is), then use the new name",
				tool, d);
		return zb_error_set(
			err, ZB_ERR_TOOL, errnum,
			"%s: %s does not exist; fs.list or fs.search show what is there", tool, d);
	case EXDEV:
		return zb_error_set(
			err, ZB_ERR_TOOL, errnum,
			"%s: %s leads outside zone %s (through \"..\", an absolute symlink, or a "
			"symlink that points out of the zone), and the fs tools never leave a "
			"zone; use a path that stays inside /%s",
			tool, d, zn, zn);
	case ELOOP:
		return zb_error_set(
			err, ZB_ERR_TOOL, errnum,
			"%s: %s goes through a symlink the fs tools do not follow here (a /proc "
			"magic link, a loop, or too many links); use the target's own path",
			tool, d);
	case ENOTDIR:
		return zb_error_set(err, ZB_ERR_TOOL, errnum,
				    "%s: %s: a component of the path is not a folder", tool, d);
	case EISDIR:
		return zb_error_set(err, ZB_ERR_TOOL, errnum,
				    "%s: %s is a folder; use fs.list to see inside it", tool, d);
	case EACCES:
	case EPERM:
		return zb_error_set(err, ZB_ERR_TOOL, errnum,
				    "%s: %s: permission denied (the server runs as uid %u on the "
				    "host, and the file's permissions do not let it); ask the user "
				    "to change them, or use another path",
				    tool, d, (unsigned)geteuid());
	case ENOSPC:
	case EDQUOT:
		return zb_error_set(err, ZB_ERR_TOOL, errnum,
				    "%s: %s: the filesystem of zone %s is full (%s); nothing was "
				    "changed. Free some space (fs.delete) or write less",
				    tool, d, zn, strerror(errnum));
	case EROFS:
		return zb_error_set(err, ZB_ERR_TOOL, errnum,
				    "%s: %s: the host filesystem of zone %s is mounted read-only, "
				    "so nothing can be written there",
				    tool, d, zn);
	case ENAMETOOLONG:
		return zb_error_set(err, ZB_ERR_TOOL, errnum,
				    "%s: %s: a name in the path is too long for the filesystem (at "
				    "most 255 bytes per name)",
				    tool, d);
	case EAGAIN:
		return zb_error_set(err, ZB_ERR_TOOL, errnum,
				    "%s: %s kept changing while it was being resolved (something "
				    "is renaming folders on it); try again",
				    tool, d);
	case EMFILE:
	case ENFILE:
		return zb_error_set(err, ZB_ERR_TOOL, errnum,
				    "%s: %s: the server ran out of file descriptors; try again "
				    "with less at once",
				    tool, d);
	default:
		return zb_error_set(err, ZB_ERR_TOOL, errnum, "%s: %s: %s", tool, d,
				    strerror(errnum));
	}
}
