/* fs.*: the job machinery shared by the fs tools, the zones they work on, and the small tools
 * (fs.stat, fs.mkdir, fs.move, fs.delete, fs.zones).
 *
 * Where the work runs: every fs tool except fs.zones runs its filesystem calls on the libuv
 * threadpool and finishes on the loop thread. Any syscall on a host folder can block for
 * long (a 10 MiB read, a 10,000-entry walk, a hung NFS or FUSE mount), and the loop also
 * serves every other request, so none of them touches the filesystem on the loop thread.
 * For small calls the handoff costs a few microseconds, which is why even those go through
 * it: one path for all, no size guess that can be wrong. fs.zones runs on the loop thread
 * because it must ask the backend session (a loop-thread object) what it enforces; its only
 * filesystem call is one fstatvfs per zone. */
#include "fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <sys/statvfs.h>
#include <time.h>

#include "backends/backend.h"
#include "../rpc.h"

/* ---------------------------------------------------------------- the zones */

/* The zones are opened once, at the first fs call, and kept for the server's life. One
 * server per process; the key guards tests that make several in a row. */
static struct {
	struct zb_server *srv;
	const struct zb_config *cfg;
	struct zb_zones *zones;
} opened;

static struct zb_zones *zones_for(struct zb_server *srv, struct zb_error **err)
{
	const struct zb_config *cfg = zb_server_config(srv);
	if (opened.zones && opened.srv == srv && opened.cfg == cfg)
		return opened.zones;
	zb_zones_free(opened.zones);
	opened.zones = zb_zones_open(cfg, err);
	opened.srv = opened.zones ? srv : NULL;
	opened.cfg = opened.zones ? cfg : NULL;
	return opened.zones;
}

/* ---------------------------------------------------------------- arguments and helpers */

int zb_fs_arg_path(struct zb_fs_job *job, const char *key, struct zb_zpath *ret)
{
	const json_t *v = json_object_get(job->args, key);
	/* The JSON parser allows \u0000, so the length, not strlen, is the path's length: a
	 * NUL inside is refused by the parser rather than silently cutting the path. */
	return zb_zones_parse(job->zones, json_string_value(v), json_string_length(v), job->tool,
			      ret, &job->err);
}

bool zb_fs_arg_bool(const struct zb_fs_job *job, const char *key)
{
	return json_is_true(json_object_get(job->args, key));
}

json_int_t zb_fs_arg_int(const struct zb_fs_job *job, const char *key, json_int_t def)
{
	const json_t *v = json_object_get(job->args, key);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

void zb_fs_fail_errno(struct zb_fs_job *job, int e, const struct zb_zpath *p)
{
	zb_zones_fail(&job->err, e, job->tool, p);
}

void zb_fs_fail(struct zb_fs_job *job, int e, const char *fmt, ...)
{
	if (job->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	msg = zb_xvasprintf(fmt, ap);
	va_end(ap);
	zb_error_set(&job->err, ZB_ERR_TOOL, e, "%s: %s", job->tool, msg);
	free(msg);
}

const char *zb_fs_type_name(mode_t mode)
{
	if (S_ISREG(mode))
		return "file";
	if (S_ISDIR(mode))
		return "dir";
	if (S_ISLNK(mode))
		return "symlink";
	return "other";
}

void zb_fs_rfc3339(time_t t, char *buf, size_t size)
{
	/* fs.list formats one of these per entry, and entries written together share their
	 * second: the last one is kept per thread. */
	static _Thread_local time_t last_t = -1;
	static _Thread_local char last[32];
	if (t != last_t || !last[0]) {
		struct tm tm;
		if (!gmtime_r(&t, &tm) ||
		    strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(last, sizeof(last), "1970-01-01T00:00:00Z");
		last_t = t;
	}
	snprintf(buf, size, "%s", last);
}

/* What fs.list and fs.stat say of an entry beyond its path and name. */
struct entry_facts {
	const char *type;
	json_int_t size;
	char mtime[32], mode[8];
	ssize_t target_len; /* < 0: not a symlink, or unreadable */
	char target[4096];
};

static void entry_facts(const struct stat *st, int dirfd, const char *name, struct entry_facts *f)
{
	f->type = zb_fs_type_name(st->st_mode);
	f->size = st->st_size < 0 ? 0 : st->st_size;
	zb_fs_rfc3339(st->st_mtim.tv_sec, f->mtime, sizeof(f->mtime));
	unsigned m = (unsigned)(st->st_mode & 07777);
	f->mode[0] = (char)('0' + (m >> 9));
	f->mode[1] = (char)('0' + ((m >> 6) & 7));
	f->mode[2] = (char)('0' + ((m >> 3) & 7));
	f->mode[3] = (char)('0' + (m & 7));
	f->mode[4] = '\0';
	f->target_len =
		S_ISLNK(st->st_mode) ? readlinkat(dirfd, name, f->target, sizeof(f->target)) : -1;
}

json_t *zb_fs_entry_json(const char *display, const char *name, const struct stat *st, int dirfd)
{
	struct entry_facts f;
	entry_facts(st, dirfd, name, &f);
	json_t *e = json_object();
	json_object_set_new_nocheck(e, "path", zb_json_str(display));
	json_object_set_new_nocheck(e, "name", zb_json_str(name));
	json_object_set_new_nocheck(e, "type", json_string_nocheck(f.type));
	json_object_set_new_nocheck(e, "size", json_integer(f.size));
	json_object_set_new_nocheck(e, "mtime", json_string_nocheck(f.mtime));
	json_object_set_new_nocheck(e, "mode", json_string_nocheck(f.mode));
	if (f.target_len >= 0)
		json_object_set_new_nocheck(e, "target",
					    zb_json_text(f.target, (size_t)f.target_len));
	return e;
}

/* s as a JSON string; bytes from the disk may not be UTF-8 (shown with U+FFFD, as
 * zb_json_text does). */
static void write_text(struct zb_jbuf *b, const char *s, size_t len)
{
	if (zb_utf8_valid_prefix(s, len) == len) {
		zb_jbuf_string(b, s, len);
		return;
	}
	size_t n;
	_cleanup_free_ char *fixed = zb_utf8_repair(s, len, &n);
	zb_jbuf_string(b, fixed, n);
}

#define ADD_LIT(b, lit) zb_jbuf_add(b, lit, sizeof(lit) - 1)

void zb_fs_entry_write(struct zb_jbuf *b, const char *display, const char *name,
		       const struct stat *st, const char *type, int dirfd)
{
	/* The same fields in the same order as zb_fs_entry_json. */
	ADD_LIT(b, "{\"path\":");
	write_text(b, display, strlen(display));
	ADD_LIT(b, ",\"name\":");
	write_text(b, name, strlen(name));
	ADD_LIT(b, ",\"type\":\"");
	if (!st) {
		zb_jbuf_add(b, type, strlen(type));
		ADD_LIT(b, "\"}");
		return;
	}
	struct entry_facts f;
	entry_facts(st, dirfd, name, &f);
	char num[32];
	zb_jbuf_add(b, f.type, strlen(f.type));
	ADD_LIT(b, "\",\"size\":");
	zb_jbuf_add(b, num, (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, f.size));
	ADD_LIT(b, ",\"mtime\":\"");
	zb_jbuf_add(b, f.mtime, strlen(f.mtime));
	ADD_LIT(b, "\",\"mode\":\"");
	zb_jbuf_add(b, f.mode, 4);
	ADD_LIT(b, "\"");
	if (f.target_len >= 0) {
		ADD_LIT(b, ",\"target\":");
		write_text(b, f.target, (size_t)f.target_len);
	}
	ADD_LIT(b, "}");
}

int zb_fs_read_fd(int fd, size_t max, char **ret_buf, size_t *ret_len, bool *ret_more)
{
	struct stat st;
	size_t cap = 64 * 1024;
	if (fstat(fd, &st) == 0 && st.st_size > 0)
		cap = (size_t)st.st_size + 1;
	if (cap > max + 1)
		cap = max + 1;
	char *buf = zb_xmalloc(cap);
	size_t len = 0;
	for (;;) {
		if (len == cap) {
			if (cap > max)
				break;
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = zb_xrealloc(buf, cap);
		}
		ssize_t n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_more = len > max;
	*ret_buf = buf;
	*ret_len = len > max ? max : len;
	return 0;
}

/* ---------------------------------------------------------------- shared file operations */

mode_t zb_fs_safe_mode(mode_t mode)
{
	/* SECURITY: setuid and setgid are never carried over to new content or a copy. A root
	 * server that rewrote a setuid file, or copied one across filesystems (the copy is
	 * root's), would otherwise hand out a setuid-root program whose content the agent chose.
	 * The kernel drops these bits on write for the same reason. */
	return mode & (S_ISDIR(mode) ? 01777 : 0777);
}

/* ".zb-<kind>-<16 hex digits>.tmp": a name nobody else picks, for files on their way into
 * place. */
static void unique_name(char *buf, size_t size, const char *kind)
{
	static atomic_uint_fast64_t counter;
	uint64_t r = 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	r ^= atomic_fetch_add(&counter, 1);
	snprintf(buf, size, ".zb-%s-%016llx.tmp", kind, (unsigned long long)r);
}

int zb_fs_mkdir_p(struct zb_fs_job *job, const struct zb_zpath *p, const char *rel,
		  bool *ret_created)
{
	/* Each prefix is resolved beneath the zone from scratch, so a folder swapped for a
	 * symlink halfway through is judged by the kernel like any other path. */
	*ret_created = false;
	size_t len = strlen(rel);
	_cleanup_free_ char *prefix = zb_xmalloc(len + 1);
	for (size_t i = 0; i <= len; i++) {
		if (i < len && rel[i] != '/')
			continue;
		if (i == 0)
			continue;
		memcpy(prefix, rel, i);
		prefix[i] = '\0';
		int fd = zb_zones_openat(p->dirfd, prefix, O_PATH | O_DIRECTORY, 0, 0);
		if (fd >= 0) {
			close(fd);
			*ret_created = false;
			continue;
		}
		struct zb_zpath at = *p;
		_cleanup_free_ char *display = zb_xasprintf("/%s/%s", p->zone->name, prefix);
		at.display = display;
		if (fd != -ENOENT) {
			zb_fs_fail_errno(job, -fd, &at);
			return -1;
		}
		char *slash = strrchr(prefix, '/');
		const char *name = slash ? slash + 1 : prefix;
		if (slash)
			*slash = '\0';
		_cleanup_close_ int pfd =
			zb_zones_openat(p->dirfd, slash ? prefix : "", O_PATH | O_DIRECTORY, 0, 0);
		if (slash)
			*slash = '/';
		if (pfd < 0) {
			zb_fs_fail_errno(job, -pfd, &at);
			return -1;
		}
		if (mkdirat(pfd, name, 0777) < 0 && errno != EEXIST) {
			zb_fs_fail_errno(job, errno, &at);
			return -1;
		}
		*ret_created = true;
	}
	return 0;
}

int zb_fs_replace_file(struct zb_fs_job *job, const struct zb_zpath *p, int dirfd, const char *name,
		       const char *data, size_t len, const struct stat *keep, bool noreplace)
{
	/* The new content goes to a fresh file next to the target, created with O_EXCL |
	 * O_NOFOLLOW (so a name planted there cannot redirect it), and is renamed over the
	 * target in one step: readers see the old file or the new one, never half of it, and a
	 * full disk leaves the old file as it was. fsync is left out: the guarantee wanted is
	 * atomicity against other readers, not durability across a host crash. */
	char tmp[64];
	int fd = -1;
	for (int i = 0; i < 16 && fd < 0; i++) {
		unique_name(tmp, sizeof(tmp), "write");
		mode_t mode = keep ? zb_fs_safe_mode(keep->st_mode) : 0666;
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST) {
			zb_fs_fail_errno(job, errno, p);
			return -1;
		}
	}
	if (fd < 0) {
		zb_fs_fail_errno(job, EEXIST, p);
		return -1;
	}
	int e = 0;
	for (size_t off = 0; off < len && !e;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno != EINTR)
			e = errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (!e && keep) {
		/* Keep the old file's owner and permission bits: the umask applied at creation,
		 * and a root server would otherwise leave a root-owned file behind. */
		if (geteuid() == 0 && (keep->st_uid != 0 || keep->st_gid != 0))
			(void)fchown(fd, keep->st_uid, keep->st_gid);
		if (fchmod(fd, zb_fs_safe_mode(keep->st_mode)) < 0)
			e = errno;
	}
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e) {
		unsigned flags = noreplace ? RENAME_NOREPLACE : 0;
		if (renameat2(dirfd, tmp, dirfd, name, flags) < 0) {
			e = errno;
			if (e == EINVAL && noreplace) {
				/* A filesystem without RENAME_NOREPLACE: linkat also refuses an
				 * existing name, atomically. */
				e = linkat(dirfd, tmp, dirfd, name, 0) < 0 ? errno : 0;
				if (!e)
					(void)unlinkat(dirfd, tmp, 0);
			}
		}
	}
	if (e) {
		(void)unlinkat(dirfd, tmp, 0);
		if (e == EEXIST && noreplace)
			zb_fs_fail(
				job, EEXIST,
				"%s already exists, and mode \"create\" never replaces a file; use "
				"mode \"overwrite\" to replace it",
				p->display);
		else
			zb_fs_fail_errno(job, e, p);
		return -1;
	}
	return 0;
}

int zb_fs_empty_dir(int dirfd, const char *name, size_t *count, int depth)
{
	/* SECURITY: every folder is opened from its parent's fd by a single name with
	 * O_NOFOLLOW | O_DIRECTORY, and everything else is unlinked by name with unlinkat,
	 * which never follows. A folder swapped for a symlink during the walk fails to open
	 * (ELOOP/ENOTDIR) and the link itself is removed instead: nothing outside is reached. */
	if (depth > ZB_FS_MAX_DEPTH)
		return ZB_FS_TOO_DEEP;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	int r = 0;
	/* Removing entries while reading the folder may hide some from readdir; go again
	 * until a pass finds nothing (a bounded number of times: something may keep adding). */
	bool again = true;
	for (int pass = 0; again && r == 0 && pass < 16; pass++) {
		again = false;
		rewinddir(d);
		struct dirent *de;
		while (r == 0 && (errno = 0, de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			bool is_dir = de->d_type == DT_DIR;
			if (de->d_type == DT_UNKNOWN) {
				struct stat st;
				if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
					continue;
				is_dir = S_ISDIR(st.st_mode);
			}
			if (is_dir) {
				r = zb_fs_empty_dir(fd, de->d_name, count, depth + 1);
				if (r == -ENOENT) {
					r = 0; /* gone meanwhile */
					continue;
				}
				if (r == -ELOOP || r == -ENOTDIR) {
					/* No longer a folder (swapped for a symlink or a file):
					 * remove whatever the name is now, without following it. */
					r = 0;
					is_dir = false;
				} else if (r < 0) {
					break;
				} else if (unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0) {
					if (errno == ENOENT)
						continue;
					r = -errno;
					break;
				}
			}
			if (!is_dir && unlinkat(fd, de->d_name, 0) < 0) {
				if (errno == EISDIR) {
					/* A file became a folder meanwhile: next pass. */
					again = true;
					continue;
				}
				if (errno == ENOENT)
					continue;
				r = -errno;
				break;
			}
			(*count)++;
			again = true;
		}
	}
	closedir(d);
	return r;
}

/* ---------------------------------------------------------------- fs.stat */

static void stat_run(struct zb_fs_job *job)
{
	struct zb_zpath p = {.dirfd = -1};
	if (zb_fs_arg_path(job, "path", &p) < 0)
		return;
	struct stat st;
	_cleanup_close_ int pfd = -1;
	const char *name = NULL;
	if (!*p.rel) {
		if (fstat(p.dirfd, &st) < 0) {
			zb_fs_fail_errno(job, errno, &p);
			goto out;
		}
		name = p.zone->name;
	} else {
		pfd = zb_zones_open_parent(&p, job->tool, &name, &job->err);
		if (pfd < 0)
			goto out;
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			zb_fs_fail_errno(job, errno, &p);
			goto out;
		}
	}
	json_t *r = zb_fs_entry_json(p.display, name, &st, pfd >= 0 ? pfd : p.dirfd);
	json_object_del(r, "name");
	struct zb_error *werr = NULL;
	bool writable = zb_zones_check_write(job->zones, &p, job->tool, false, &werr) == 0;
	zb_error_free(werr);
	json_object_set_new(r, "zone", json_string(p.zone->name));
	json_object_set_new(r, "writable", json_boolean(writable));
	job->result = r;
out:
	zb_zpath_clear(&p);
}

/* ---------------------------------------------------------------- fs.mkdir */

static void mkdir_run(struct zb_fs_job *job)
{
	struct zb_zpath p = {.dirfd = -1};
	if (zb_fs_arg_path(job, "path", &p) < 0)
		return;
	bool created = false;
	if (zb_zones_check_write(job->zones, &p, job->tool, false, &job->err) < 0)
		goto out;
	if (!*p.rel) {
		created = false;
	} else if (zb_fs_arg_bool(job, "parents")) {
		if (zb_fs_mkdir_p(job, &p, p.rel, &created) < 0)
			goto out;
	} else {
		const char *name;
		_cleanup_close_ int pfd = zb_zones_open_parent(&p, job->tool, &name, &job->err);
		if (pfd < 0)
			goto out;
		if (mkdirat(pfd, name, 0777) == 0) {
			created = true;
		} else if (errno == EEXIST) {
			struct stat st;
			if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(st.st_mode)) {
				zb_fs_fail(
					job, EEXIST,
					"%s already exists and is not a folder (it is a %s); pick "
					"another name, or fs.delete it first",
					p.display, zb_fs_type_name(st.st_mode));
				goto out;
			}
		} else {
			zb_fs_fail_errno(job, errno, &p);
			goto out;
		}
	}
	job->result = json_pack("{s:o, s:b}", "path", zb_json_str(p.display), "created", created);
out:
	zb_zpath_clear(&p);
}

/* ---------------------------------------------------------------- fs.delete */

static void delete_run(struct zb_fs_job *job)
{
	struct zb_zpath p = {.dirfd = -1};
	if (zb_fs_arg_path(job, "path", &p) < 0)
		return;
	const char *name;
	_cleanup_close_ int pfd = -1;
	if (!*p.rel) {
		zb_fs_fail(
			job, EBUSY,
			"%s is the root of zone %s, which cannot be deleted; delete what is inside "
			"it one by one",
			p.display, p.zone->name);
		goto out;
	}
	if (zb_zones_check_write(job->zones, &p, job->tool, true, &job->err) < 0)
		goto out;
	pfd = zb_zones_open_parent(&p, job->tool, &name, &job->err);
	if (pfd < 0)
		goto out;
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		zb_fs_fail_errno(job, errno, &p);
		goto out;
	}
	size_t count = 0;
	if (!S_ISDIR(st.st_mode)) {
		/* A symlink is removed itself, never what it points to. */
		if (unlinkat(pfd, name, 0) < 0) {
			zb_fs_fail_errno(job, errno, &p);
			goto out;
		}
		count = 1;
	} else {
		if (unlinkat(pfd, name, AT_REMOVEDIR) == 0) {
			count = 1;
		} else if (errno != ENOTEMPTY && errno != EEXIST) {
			zb_fs_fail_errno(job, errno, &p);
			goto out;
		} else if (!zb_fs_arg_bool(job, "recursive")) {
			zb_fs_fail(
				job, ENOTEMPTY,
				"%s is a folder that is not empty; pass recursive: true to delete "
				"it with everything in it (fs.list shows what is inside)",
				p.display);
			goto out;
		} else {
			int r = 0;
			for (int tries = 0; tries < 8; tries++) {
				r = zb_fs_empty_dir(pfd, name, &count, 0);
				if (r == 0 && unlinkat(pfd, name, AT_REMOVEDIR) < 0)
					r = -errno;
				if (r != -ENOTEMPTY && r != -EEXIST)
					break;
			}
			if (r < 0) {
				if (r == ZB_FS_TOO_DEEP)
					zb_fs_fail(job, ELOOP,
						   "%s is nested more than %d folders deep; %zu "
						   "entries were deleted before stopping. Delete "
						   "deeper folders first",
						   p.display, ZB_FS_MAX_DEPTH, count);
				else
					zb_fs_fail(
						job, -r,
						"%s: %s, after %zu entries were deleted; the rest "
						"is still there",
						p.display, strerror(-r), count);
				goto out;
			}
			count++;
		}
	}
	job->result = json_pack("{s:o, s:I}", "path", zb_json_str(p.display), "deleted",
				(json_int_t)count);
out:
	zb_zpath_clear(&p);
}

/* ---------------------------------------------------------------- fs.move */

/* A copy made by a root server would otherwise belong to root: give it the original's owner
 * (best effort; an unprivileged server keeps its own). */
static void keep_owner(int fd, const struct stat *st)
{
	if (geteuid() == 0)
		(void)fchown(fd, st->st_uid, st->st_gid);
}

/* Copy the entry `sname` of `sfd` to `dname` of `dfd`, never following symlinks: files by
 * content and permission bits, folders recursively, symlinks as symlinks. */
static int copy_entry(int sfd, const char *sname, int dfd, const char *dname, int depth)
{
	if (depth > ZB_FS_MAX_DEPTH)
		return ZB_FS_TOO_DEEP;
	struct stat st;
	if (fstatat(sfd, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(sfd, sname, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, dfd, dname) < 0)
			return -errno;
		if (geteuid() == 0)
			(void)fchownat(dfd, dname, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int in =
			openat(sfd, sname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (in < 0)
			return -errno;
		struct stat ist;
		if (fstat(in, &ist) < 0 || !S_ISREG(ist.st_mode))
			return -EAGAIN;
		_cleanup_close_ int out = openat(
			dfd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return -errno;
		for (;;) {
			ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
			if (n == 0)
				break;
			if (n > 0)
				continue;
			if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
			    errno != EOPNOTSUPP)
				return -errno;
			/* No copy_file_range between these filesystems: plain reads. */
			char buf[65536];
			for (;;) {
				ssize_t r = read(in, buf, sizeof(buf));
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					return -errno;
				if (r == 0)
					break;
				for (ssize_t off = 0; off < r;) {
					ssize_t w = write(out, buf + off, (size_t)(r - off));
					if (w < 0 && errno != EINTR)
						return -errno;
					if (w > 0)
						off += w;
				}
			}
			break;
		}
		keep_owner(out, &ist);
		if (fchmod(out, zb_fs_safe_mode(ist.st_mode)) < 0)
			return -errno;
		struct timespec times[2] = {ist.st_atim, ist.st_mtim};
		(void)futimens(out, times);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return -EPERM; /* devices, sockets, FIFOs: not copied */
	if (mkdirat(dfd, dname, 0700) < 0)
		return -errno;
	_cleanup_close_ int in =
		openat(sfd, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out =
		openat(dfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || out < 0)
		return -errno;
	int dupfd = fcntl(in, F_DUPFD_CLOEXEC, 0);
	if (dupfd < 0)
		return -errno;
	DIR *d = fdopendir(dupfd);
	if (!d) {
		close(dupfd);
		return -errno;
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = copy_entry(in, de->d_name, out, de->d_name, depth + 1);
	}
	closedir(d);
	keep_owner(out, &st);
	if (r == 0 && fchmod(out, zb_fs_safe_mode(st.st_mode)) < 0)
		r = -errno;
	return r;
}

static void move_run(struct zb_fs_job *job)
{
	struct zb_zpath src = {.dirfd = -1}, dst = {.dirfd = -1};
	_cleanup_close_ int sfd = -1, dfd = -1;
	const char *sname, *dname;
	bool overwrite = zb_fs_arg_bool(job, "overwrite");
	if (zb_fs_arg_path(job, "source", &src) < 0 || zb_fs_arg_path(job, "destination", &dst) < 0)
		goto out;
	/* Both ends are checked before anything moves; both take their subtree along (an
	 * empty folder replaced at the destination may be where a protected path would be
	 * created). */
	if (!*src.rel || !*dst.rel) {
		const struct zb_zpath *root = !*src.rel ? &src : &dst;
		zb_fs_fail(job, EBUSY,
			   "%s is the root of zone %s, which cannot be moved or replaced",
			   root->display, root->zone->name);
		goto out;
	}
	if (zb_zones_check_write(job->zones, &src, job->tool, true, &job->err) < 0 ||
	    zb_zones_check_write(job->zones, &dst, job->tool, true, &job->err) < 0)
		goto out;
	sfd = zb_zones_open_parent(&src, job->tool, &sname, &job->err);
	if (sfd < 0)
		goto out;
	dfd = zb_zones_open_parent(&dst, job->tool, &dname, &job->err);
	if (dfd < 0)
		goto out;
	struct stat st, dst_st;
	if (fstatat(sfd, sname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		zb_fs_fail_errno(job, errno, &src);
		goto out;
	}
	bool dst_exists = fstatat(dfd, dname, &dst_st, AT_SYMLINK_NOFOLLOW) == 0;
	if (dst_exists && dst_st.st_dev == st.st_dev && dst_st.st_ino == st.st_ino)
		goto done; /* the same entry (or a hard link to it): nothing to do */
	unsigned flags = overwrite ? 0 : RENAME_NOREPLACE;
	int r = renameat2(sfd, sname, dfd, dname, flags) < 0 ? errno : 0;
	if (r == EINVAL && !overwrite && !dst_exists) {
		/* Without RENAME_NOREPLACE support the check above has to do; the window
		 * between it and the rename is the only one left. */
		r = renameat(sfd, sname, dfd, dname) < 0 ? errno : 0;
	}
	if (r == EXDEV) {
		/* Different filesystems: copy to a unique name beside the destination, put it
		 * in place with one rename, then delete the source. On any failure the copy is
		 * removed and the source is untouched. */
		char tmp[64];
		unique_name(tmp, sizeof(tmp), "move");
		int c = copy_entry(sfd, sname, dfd, tmp, 0);
		if (c == 0 && renameat2(dfd, tmp, dfd, dname, flags) < 0)
			c = -errno;
		if (c < 0) {
			size_t ignored = 0;
			struct stat tst;
			if (fstatat(dfd, tmp, &tst, AT_SYMLINK_NOFOLLOW) == 0) {
				if (S_ISDIR(tst.st_mode)) {
					(void)zb_fs_empty_dir(dfd, tmp, &ignored, 0);
					(void)unlinkat(dfd, tmp, AT_REMOVEDIR);
				} else {
					(void)unlinkat(dfd, tmp, 0);
				}
			}
			if (c == -EPERM)
				zb_fs_fail(
					job, EPERM,
					"%s holds a device, socket or FIFO, which cannot be moved "
					"to another filesystem; nothing was moved",
					src.display);
			else
				r = -c;
			if (job->err)
				goto out;
		} else {
			size_t count = 0;
			int d = 0;
			if (S_ISDIR(st.st_mode)) {
				d = zb_fs_empty_dir(sfd, sname, &count, 0);
				if (d == 0 && unlinkat(sfd, sname, AT_REMOVEDIR) < 0)
					d = -errno;
			} else if (unlinkat(sfd, sname, 0) < 0) {
				d = -errno;
			}
			if (d < 0) {
				zb_fs_fail(job, -d,
					   "%s was copied to %s (another filesystem), but removing "
					   "the source failed (%s); both now exist",
					   src.display, dst.display, strerror(-d));
				goto out;
			}
			r = 0;
		}
	}
	switch (r) {
	case 0:
		break;
	case EEXIST:
		if (!overwrite) {
			zb_fs_fail(job, EEXIST,
				   "%s already exists; pass overwrite: true to replace it, or pick "
				   "another destination",
				   dst.display);
			goto out;
		}
		/* With overwrite, EEXIST means a non-empty folder. */
		__attribute__((fallthrough));
	case ENOTEMPTY:
		zb_fs_fail(job, ENOTEMPTY,
			   "%s is a folder that is not empty, and a move never replaces one; move "
			   "into "
			   "it by giving the full new path (e.g. %s/%s), or delete it first",
			   dst.display, dst.display, sname);
		goto out;
	case EINVAL:
		zb_fs_fail(job, EINVAL, "cannot move %s into itself (%s)", src.display,
			   dst.display);
		goto out;
	case EISDIR:
		zb_fs_fail(job, EISDIR, "%s is a folder, and only a folder can replace a folder",
			   dst.display);
		goto out;
	case ENOTDIR:
		zb_fs_fail(job, ENOTDIR, "%s is not a folder, and a folder cannot replace it",
			   dst.display);
		goto out;
	default:
		zb_fs_fail_errno(job, r, &src);
		goto out;
	}
done:
	job->result = json_pack("{s:o, s:o}", "source", zb_json_str(src.display), "destination",
				zb_json_str(dst.display));
out:
	zb_zpath_clear(&src);
	zb_zpath_clear(&dst);
}

/* ---------------------------------------------------------------- fs.zones */

static const char *network_name(enum zb_network_mode m)
{
	return m == ZB_NET_HOST ? "host" : m == ZB_NET_ALLOW ? "allow" : "none";
}

static json_t *zones_result(struct zb_tool_call *call, const struct zb_zones *zs)
{
	const struct zb_config *cfg = zb_server_config(call->srv);
	json_t *zones = json_array();
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++) {
		const struct zb_zone *z = &cfg->sandbox.zones[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(z->name));
		json_object_set_new(o, "mode", json_string(zb_zone_mode_name(z->mode)));
		char path[300];
		snprintf(path, sizeof(path), "/%s", z->name);
		json_object_set_new(o, "path", json_string(path));
		if (cfg->tools.show_host_paths && z->host_path)
			json_object_set_new(o, "host_path", zb_json_str(z->host_path));
		int fd = zs ? zb_zones_fd(zs, i) : -1;
		struct statvfs vfs;
		if (fd >= 0 && fstatvfs(fd, &vfs) == 0)
			json_object_set_new(
				o, "free_bytes",
				json_integer((json_int_t)(vfs.f_bavail * vfs.f_frsize)));
		json_t *prot = json_array();
		for (size_t k = 0; k < z->n_protect; k++) {
			char *s = zb_xasprintf("/%s/%s", z->name, z->protect[k]);
			json_array_append_new(prot, zb_json_str(s));
			free(s);
		}
		json_object_set_new(o, "protect", prot);
		json_array_append_new(zones, o);
	}

	/* What the backend really enforces is known only to its session; without one (or
	 * when the backend cannot start here) nothing is claimed. */
	bool memory = false, pids = false, cpu = false;
	const struct zb_backend *backend = NULL;
	struct zb_error *err = NULL;
	struct zb_session *session = zb_server_session(call->srv, &backend, &err);
	zb_error_free(err);
	if (session && backend && backend->describe) {
		json_t *info = json_object();
		backend->describe(session, info);
		json_t *enf = json_object_get(info, "enforced");
		memory = json_is_true(json_object_get(enf, "memory"));
		pids = json_is_true(json_object_get(enf, "pids"));
		cpu = json_is_true(json_object_get(enf, "cpu"));
		json_decref(info);
	}
	const struct zb_limits *l = &cfg->sandbox.limits;
	json_t *limits = json_pack("{s:I, s:I, s:I, s:f, s:I, s:{s:b, s:b, s:b}}", "timeout_ms",
				   (json_int_t)l->timeout_ms, "memory_bytes",
				   (json_int_t)l->memory_bytes, "pids", (json_int_t)l->pids, "cpu",
				   l->cpu, "output_bytes", (json_int_t)l->output_bytes, "enforced",
				   "memory", memory, "pids", pids, "cpu", cpu);
	return json_pack("{s:o, s:s, s:s, s:s, s:o}", "zones", zones, "backend",
			 cfg->sandbox.backend, "network", network_name(cfg->sandbox.network),
			 "session",
			 cfg->sandbox.session == ZB_SESSION_PER_CALL ? "per-call" : "persistent",
			 "limits", limits);
}

/* ---------------------------------------------------------------- dispatch */

static const struct {
	const char *name;
	void (*run)(struct zb_fs_job *job);
} runs[] = {
	{"fs.read", zb_fs_read_run}, {"fs.write", zb_fs_write_run}, {"fs.edit", zb_fs_edit_run},
	{"fs.list", zb_fs_list_run}, {"fs.stat", stat_run},	    {"fs.mkdir", mkdir_run},
	{"fs.move", move_run},	     {"fs.delete", delete_run},	    {"fs.search", zb_fs_search_run},
};

static void job_free(struct zb_fs_job *job)
{
	if (job->snapshot_fd >= 0)
		close(job->snapshot_fd);
	json_decref(job->args);
	json_decref(job->result);
	free(job->result_text);
	json_decref(job->extra);
	json_decref(job->err_data);
	zb_error_free(job->err);
	free(job);
}

static void work_cb(uv_work_t *w)
{
	struct zb_fs_job *job = w->data;
	job->run(job);
	if (!job->result && !job->result_text && !job->err)
		zb_error_set(&job->err, ZB_ERR_INTERNAL, 0,
			     "%s: internal error: the tool ended without a result", job->tool);
}

static void after_work_cb(uv_work_t *w, int status)
{
	struct zb_fs_job *job = w->data;
	struct zb_tool_call *call = job->call;
	if (status == UV_ECANCELED) {
		struct zb_error *err = NULL;
		zb_error_set(&err, ZB_ERR_TOOL, ECANCELED, "%s: cancelled before it started",
			     job->tool);
		zb_tool_call_fail(call, err, NULL);
	} else if (job->err) {
		zb_tool_call_fail(call, TAKE_PTR(job->err), TAKE_PTR(job->err_data));
	} else if (job->result_text) {
		zb_tool_call_finish_text(call, TAKE_PTR(job->result_text), job->result_len);
	} else {
		zb_tool_call_finish_content(call, TAKE_PTR(job->result), TAKE_PTR(job->extra));
	}
	job_free(job);
}

/* ---------------------------------------------------------------- fs.read without a hop */

/* Local file systems: a lookup in the dentry cache and a read of cached pages never wait for
 * a device or a server there (unlike NFS or FUSE, whose open alone may ask a server). */
static bool local_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC: /* also ext2 and ext3 */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case F2FS_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

/* Files up to this size may be read on the loop thread. */
#define INLINE_READ_MAX (64 * 1024)

/* Whether an fs.read can run on the loop thread: one small regular file, on a local file
 * system, whose path is all in the kernel's dentry cache (RESOLVE_CACHED) and whose pages
 * are all in the page cache (RWF_NOWAIT reads it whole). Then the call saves two hand-offs to
 * and from a worker thread, which are most of a small read's time when they wake another CPU
 * (~35 us each on a VM). Returns a memfd holding the file as it was read here, or -1.
 * SECURITY (the loop must never block): the read that follows works on that memfd, never on
 * the path again. Reopened by name, the path could meanwhile be a different file (a
 * command renames a 200 MiB file over it), a growing one (`yes > f`), or a link into a
 * network mount in the zone, and the loop would read it all. A memfd is ours and in memory:
 * nothing in the read can wait, and it is exactly what was checked. */
static int read_snapshot(const struct zb_fs_job *job)
{
	const json_t *pj = json_object_get(job->args, "path");
	if (json_object_get(job->args, "paths") || !json_is_string(pj))
		return -1;
	struct zb_zpath p = {.dirfd = -1};
	struct zb_error *err = NULL;
	if (zb_zones_parse(job->zones, json_string_value(pj), json_string_length(pj), job->tool, &p,
			   &err) < 0) {
		zb_error_free(err); /* the worker says it */
		return -1;
	}
	int mfd = -1;
	int fd = zb_zones_openat(p.dirfd, p.rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0,
				 RESOLVE_CACHED);
	struct stat st;
	if (fd >= 0 && local_fs(fd) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size <= INLINE_READ_MAX) {
		static char buf[INLINE_READ_MAX + 1]; /* the loop thread's alone */
		struct iovec iov = {buf, (size_t)st.st_size + 1};
		/* One byte more than the size: a file that grew since is not taken. */
		if (preadv2(fd, &iov, 1, 0, RWF_NOWAIT) == st.st_size) {
			mfd = memfd_create("zonebox-read", MFD_CLOEXEC);
			if (mfd >= 0 && write(mfd, buf, (size_t)st.st_size) != st.st_size) {
				close(mfd);
				mfd = -1;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	zb_zpath_clear(&p);
	return mfd;
}

static void job_cancel(struct zb_tool_call *call)
{
	struct zb_fs_job *job = call->state;
	/* A job not started yet is dropped; a running one notices the flag where it walks
	 * or reads in a loop (reads, lists, searches). Writes run to their end: stopping
	 * them halfway would leave more behind than finishing. */
	atomic_store(&job->cancelled, true);
	uv_cancel((uv_req_t *)&job->work);
}

void zb_tool_fs(struct zb_tool_call *call)
{
	/* Approval (approval.tools rules for fs.*) is the dispatcher's job, before call(). */
	struct zb_error *err = NULL;
	struct zb_zones *zones = zones_for(call->srv, &err);
	const char *name = call->tool->name;
	if (strcmp(name, "fs.zones") == 0) {
		/* Still answers without openat2: describing the sandbox needs none. */
		zb_error_free(err);
		zb_tool_call_finish(call, zones_result(call, zones));
		return;
	}
	if (!zones) {
		zb_tool_call_fail(call, err, NULL);
		return;
	}
	struct zb_fs_job *job = zb_xcalloc(1, sizeof(*job));
	job->snapshot_fd = -1;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(runs); i++)
		if (strcmp(runs[i].name, name) == 0)
			job->run = runs[i].run;
	if (!job->run) {
		free(job);
		zb_error_set(&err, ZB_ERR_INTERNAL, 0, "internal error: no fs tool named %s", name);
		zb_tool_call_fail(call, err, NULL);
		return;
	}
	job->call = call;
	job->zones = zones;
	job->tool = name;
	job->args = json_deep_copy(call->args);
	atomic_init(&job->cancelled, false);
	job->work.data = job;
	call->state = job;
	call->cancel = job_cancel;
	if (job->run == zb_fs_read_run && (job->snapshot_fd = read_snapshot(job)) >= 0) {
		work_cb(&job->work);
		after_work_cb(&job->work, 0);
		return;
	}
	int r = uv_queue_work(zb_server_loop(call->srv), &job->work, work_cb, after_work_cb);
	if (r < 0) {
		call->cancel = NULL;
		zb_error_set(&err, ZB_ERR_TOOL, 0, "%s: could not start (%s); try again", name,
			     uv_strerror(r));
		job_free(job);
		zb_tool_call_fail(call, err, NULL);
	}
}
