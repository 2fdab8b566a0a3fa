/* fs.list and fs.search: walks of a folder tree that never follow symlinks out of it. */
#include "fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>

#include "../rpc.h"

/* fs.list returns at most this many entries (truncated: true beyond). */
#define LIST_CAP 10000
/* fs.search shows this much of a matching line. */
#define SEARCH_TEXT_MAX 500
/* Lines longer than this are searched in their first part only. */
#define SEARCH_LINE_MAX (1024 * 1024)
#define SNIFF		8192
#define CHUNK		(256 * 1024)

struct name {
	char *s;
	size_t len;
	bool dir;
	unsigned char type; /* DT_* */
};

/* The byte at i of a name's sort key: a folder's name compares as if it ended in '/', so that
 * walking folders in this order visits paths in sorted order ("a.txt" before "a/x"). */
static int key_at(const struct name *n, size_t i)
{
	if (i < n->len)
		return (unsigned char)n->s[i];
	return i == n->len && n->dir ? '/' : -1;
}

static int name_cmp(const void *x, const void *y)
{
	const struct name *a = x, *b = y;
	size_t m = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->s, b->s, m);
	if (c)
		return c;
	/* One name is the start of the other: what follows decides (a name holds no '/'). */
	int c1 = key_at(a, m), c2 = key_at(b, m);
	return c1 == c2 ? 0 : c1 < c2 ? -1 : 1;
}

/* A folder's names, sorted; their bytes live in one block. */
struct names {
	struct name *v;
	size_t n;
	char *arena;
};

/* The names in the folder fd (without "." and ".."), sorted. fd stays open and ours. */
static int read_names(int fd, struct names *ret)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = errno;
		close(dfd);
		return -e;
	}
	size_t n = 0;
	struct name *v = NULL;
	struct zb_jbuf arena = {0};
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		v = zb_grow(v, n, sizeof(*v));
		unsigned char type = de->d_type;
		if (type == DT_UNKNOWN) {
			/* Some file systems leave the type out of their listing. */
			struct stat st;
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				type = IFTODT(st.st_mode);
		}
		size_t len = strlen(de->d_name);
		/* An offset until the arena has stopped moving. */
		v[n++] = (struct name){(char *)(uintptr_t)arena.len, len, type == DT_DIR, type};
		zb_jbuf_add(&arena, de->d_name, len + 1);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		v[i].s = arena.s + (uintptr_t)v[i].s;
	if (n > 1)
		qsort(v, n, sizeof(*v), name_cmp);
	*ret = (struct names){v, n, arena.s};
	return 0;
}

static void names_free(struct names *ns)
{
	free(ns->v);
	free(ns->arena);
}

/* "base/rel", or base when rel is empty, or rel when base is (one per listed entry: no printf). */
static char *join(const char *base, const char *rel)
{
	size_t bl = strlen(base), rl = strlen(rel);
	bool slash = bl > 0 && rl > 0 && base[bl - 1] != '/';
	char *s = zb_xmalloc(bl + slash + rl + 1);
	memcpy(s, base, bl);
	if (slash)
		s[bl] = '/';
	memcpy(s + bl + slash, rel, rl + 1);
	return s;
}

static const char *dtype_name(unsigned char t)
{
	switch (t) {
	case DT_REG:
		return "file";
	case DT_DIR:
		return "dir";
	case DT_LNK:
		return "symlink";
	default:
		return "other";
	}
}

/* ---------------------------------------------------------------- fs.list */

struct pending {
	char *rel; /* below the listed folder */
	int depth; /* of its entries */
};

struct listed {
	size_t rel;	 /* its path below the listed folder, in the listing's `rels` block */
	size_t off, len; /* its JSON in the listing's `ents` block */
};

/* Every listed path is the listed folder's path, a '/' and its relative path, so the
 * relative paths sort the same, for less work (10,000 entries make ~130,000 comparisons). */
static int listed_cmp(const void *x, const void *y, void *rels)
{
	const char *r = rels;
	return strcmp(r + ((const struct listed *)x)->rel, r + ((const struct listed *)y)->rel);
}

/* base, a '/' unless base ends with one, and rel, into b (emptied first) as a C string. */
static const char *path_in(struct zb_jbuf *b, const char *base, const char *rel)
{
	size_t bl = strlen(base);
	b->len = 0;
	zb_jbuf_add(b, base, bl);
	if (bl > 0 && base[bl - 1] != '/')
		zb_jbuf_add(b, "/", 1);
	zb_jbuf_add(b, rel, strlen(rel) + 1);
	return b->s;
}

void zb_fs_list_run(struct zb_fs_job *job)
{
	struct zb_zpath p = {.dirfd = -1};
	if (zb_fs_arg_path(job, "path", &p) < 0)
		return;
	json_int_t max_depth = zb_fs_arg_int(job, "depth", 1);
	bool hidden = zb_fs_arg_bool(job, "hidden");
	/* details: false lists what the folders themselves say (name and type): no stat per
	 * entry, which is most of the cost of a large tree. */
	const json_t *dj = json_object_get(job->args, "details");
	bool details = !json_is_false(dj);
	const char *pattern = json_string_value(json_object_get(job->args, "pattern"));
	_cleanup_close_ int root = -1;
	struct zb_jbuf ents = {0}, rels = {0}, scratch = {0};
	struct pending *queue = NULL;
	size_t q_head = 0, q_len = 0;
	struct listed *out = NULL;
	size_t n_out = 0;
	bool truncated = false;

	if (max_depth == 0) {
		/* Just the entry for path itself, as fs.stat sees it. */
		struct stat st;
		const char *name = p.zone->name;
		_cleanup_close_ int pfd = -1;
		if (*p.rel) {
			pfd = zb_zones_open_parent(&p, job->tool, &name, &job->err);
			if (pfd < 0)
				goto out;
		}
		if ((pfd >= 0 ? fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW)
			      : fstat(p.dirfd, &st)) < 0) {
			zb_fs_fail_errno(job, errno, &p);
			goto out;
		}
		json_t *entries = json_array();
		json_array_append_new(
			entries, zb_fs_entry_json(p.display, name, &st, pfd >= 0 ? pfd : p.dirfd));
		job->result = json_pack("{s:o, s:o, s:b}", "path", zb_json_str(p.display),
					"entries", entries, "truncated", false);
		goto out;
	}

	root = zb_zones_openat(p.dirfd, p.rel, O_RDONLY | O_DIRECTORY, 0, 0);
	if (root < 0) {
		if (root == -ENOTDIR)
			zb_fs_fail(job, ENOTDIR,
				   "%s is a file, not a folder; fs.stat shows its details, fs.read "
				   "its "
				   "content",
				   p.display);
		else
			zb_fs_fail_errno(job, -root, &p);
		goto out;
	}
	queue = zb_grow(queue, q_len, sizeof(*queue));
	queue[q_len++] = (struct pending){zb_xstrdup(""), 1};
	/* Breadth first, so that a listing cut at the cap keeps the levels nearest to path. */
	while (q_head < q_len && !truncated) {
		struct pending cur = queue[q_head++];
		if (atomic_load(&job->cancelled)) {
			free(cur.rel);
			zb_fs_fail(job, ECANCELED, "cancelled");
			goto out;
		}
		/* SECURITY: folders below the listed one are reopened from its fd with
		 * RESOLVE_NO_SYMLINKS as well as beneath it, so a folder swapped for a symlink
		 * after it was seen is skipped, not followed. */
		int fd = *cur.rel ? zb_zones_openat(root, cur.rel, O_RDONLY | O_DIRECTORY, 0,
						    RESOLVE_NO_SYMLINKS)
				  : fcntl(root, F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			free(cur.rel);
			continue;
		}
		struct names ns;
		if (read_names(fd, &ns) < 0) {
			close(fd);
			free(cur.rel);
			continue;
		}
		for (size_t i = 0; i < ns.n && !truncated; i++) {
			const struct name *e = &ns.v[i];
			const char *nm = e->s;
			if (!hidden && nm[0] == '.')
				continue;
			struct stat st;
			if (details && fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			bool is_dir = details ? S_ISDIR(st.st_mode) : e->type == DT_DIR;
			if (!pattern || fnmatch(pattern, nm, 0) == 0) {
				if (n_out == LIST_CAP) {
					truncated = true;
					break;
				}
				out = zb_grow(out, n_out, sizeof(*out));
				/* No allocation per entry: the relative path goes into one block,
				 * the sandbox path into a buffer used again for the next. */
				size_t rel = rels.len;
				if (*cur.rel) {
					zb_jbuf_add(&rels, cur.rel, strlen(cur.rel));
					zb_jbuf_add(&rels, "/", 1);
				}
				zb_jbuf_add(&rels, nm, e->len + 1);
				const char *display = path_in(&scratch, p.display, rels.s + rel);
				size_t off = ents.len;
				zb_fs_entry_write(&ents, display, nm, details ? &st : NULL,
						  dtype_name(e->type), fd);
				out[n_out++] = (struct listed){rel, off, ents.len - off};
			}
			if (is_dir && cur.depth < max_depth) {
				queue = zb_grow(queue, q_len, sizeof(*queue));
				queue[q_len++] = (struct pending){join(cur.rel, nm), cur.depth + 1};
			}
		}
		names_free(&ns);
		close(fd);
		free(cur.rel);
	}
	if (n_out > 1)
		qsort_r(out, n_out, sizeof(*out), listed_cmp, rels.s);
	/* The result, written as its JSON: {"path":..,"entries":[..],"truncated":..}. */
	struct zb_jbuf b = {0};
	zb_jbuf_add(&b, "{\"path\":", 8);
	json_t *pj = zb_json_str(p.display);
	zb_jbuf_json(&b, pj);
	json_decref(pj);
	zb_jbuf_add(&b, ",\"entries\":[", 12);
	for (size_t i = 0; i < n_out; i++) {
		if (i)
			zb_jbuf_add(&b, ",", 1);
		zb_jbuf_add(&b, ents.s + out[i].off, out[i].len);
	}
	if (truncated)
		zb_jbuf_add(&b, "],\"truncated\":true}", 19);
	else
		zb_jbuf_add(&b, "],\"truncated\":false}", 20);
	job->result_len = b.len;
	job->result_text = b.s;
out:
	for (size_t i = q_head; i < q_len; i++)
		free(queue[i].rel);
	free(queue);
	free(out);
	free(ents.s);
	free(rels.s);
	free(scratch.s);
	zb_zpath_clear(&p);
}

/* ---------------------------------------------------------------- fs.search */

struct search {
	struct zb_fs_job *job;
	const char *pattern;
	const char *content;
	size_t content_len;
	regex_t re;
	bool use_re;
	size_t max;
	json_t *matches;
	size_t n;
	bool truncated, stop;
	json_int_t scanned;
	char *buf;
};

/* One more match; false once the limit is passed (the search stops, truncated). */
static bool add_match(struct search *s, const char *display, json_int_t line, const char *text,
		      size_t len)
{
	if (s->n == s->max) {
		s->truncated = true;
		s->stop = true;
		return false;
	}
	json_t *m = json_object();
	json_object_set_new(m, "path", zb_json_str(display));
	if (line > 0) {
		if (len > 0 && text[len - 1] == '\r')
			len--;
		bool cut = len > SEARCH_TEXT_MAX;
		if (cut) {
			len = SEARCH_TEXT_MAX;
			while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
				len--;
		}
		json_object_set_new(m, "line", json_integer(line));
		if (cut) {
			char *t = zb_xmalloc(len + 4);
			memcpy(t, text, len);
			memcpy(t + len, "...", 4);
			json_object_set_new(m, "text", zb_json_text(t, len + 3));
			free(t);
		} else {
			json_object_set_new(m, "text", zb_json_text(text, len));
		}
	}
	json_array_append_new(s->matches, m);
	s->n++;
	return true;
}

static bool line_matches(struct search *s, const char *line, size_t len)
{
	if (!s->use_re)
		return memmem(line, len, s->content, s->content_len) != NULL;
	regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)len};
	return regexec(&s->re, line, 1, &m, REG_STARTEND) == 0;
}

/* Search the lines of the open regular file fd. Binary files (a NUL byte in the first 8 KiB)
 * are skipped. */
static void search_fd(struct search *s, int fd, const char *display)
{
	s->scanned++;
	size_t have = 0; /* bytes in s->buf not searched yet: the start of a line */
	json_int_t line = 1;
	bool first = true, eof = false;
	while (!eof && !s->stop) {
		ssize_t n = read(fd, s->buf + have, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			eof = true;
			n = 0;
		}
		if (first && memchr(s->buf, '\0', (size_t)n < SNIFF ? (size_t)n : SNIFF))
			return;
		first = false;
		char *p = s->buf, *end = s->buf + have + (size_t)n;
		while (p < end && !s->stop) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl && !eof && (size_t)(end - p) < SEARCH_LINE_MAX)
				break; /* the rest of this line comes with the next read */
			size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (line_matches(s, p, len))
				add_match(s, display, line, p, len);
			line++;
			p = nl ? nl + 1 : end;
		}
		have = (size_t)(end - p);
		memmove(s->buf, p, have);
	}
}

static void search_file(struct search *s, int dirfd, const char *name, const char *display)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		search_fd(s, fd, display);
}

static void search_dir(struct search *s, int fd, const char *display, int depth)
{
	if (depth > ZB_FS_MAX_DEPTH || s->stop)
		return;
	if (atomic_load(&s->job->cancelled)) {
		s->stop = true;
		return;
	}
	struct names ns;
	if (read_names(fd, &ns) < 0)
		return;
	for (size_t i = 0; i < ns.n && !s->stop; i++) {
		const char *nm = ns.v[i].s;
		_cleanup_free_ char *child = join(display, nm);
		bool name_ok = !s->pattern || fnmatch(s->pattern, nm, 0) == 0;
		if (ns.v[i].dir) {
			if (!s->content && s->pattern && name_ok)
				add_match(s, child, 0, NULL, 0);
			/* SECURITY: descend by one name with O_NOFOLLOW: a symlink, or a folder
			 * swapped for one, is never entered. */
			int cfd = openat(fd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0) {
				search_dir(s, cfd, child, depth + 1);
				close(cfd);
			}
			continue;
		}
		if (!s->content)
			s->scanned++;
		if (!name_ok)
			continue;
		if (!s->content) {
			add_match(s, child, 0, NULL, 0);
		} else {
			search_file(s, fd, nm, child);
		}
	}
	names_free(&ns);
}

void zb_fs_search_run(struct zb_fs_job *job)
{
	struct zb_zpath p = {.dirfd = -1};
	if (zb_fs_arg_path(job, "path", &p) < 0)
		return;
	const json_t *cj = json_object_get(job->args, "content");
	struct search s = {
		.job = job,
		.pattern = json_string_value(json_object_get(job->args, "pattern")),
		.content = json_string_value(cj),
		.content_len = json_string_length(cj),
		.use_re = zb_fs_arg_bool(job, "regex"),
		.max = (size_t)zb_fs_arg_int(job, "max_results", 200),
		.matches = json_array(),
	};
	_cleanup_close_ int root = -1;
	if (!s.pattern && !s.content) {
		zb_fs_fail(job, EINVAL,
			   "give pattern (a glob for file names), content (text to find inside "
			   "files), or both");
		goto out;
	}
	if (s.content && s.use_re) {
		if (memchr(s.content, '\0', s.content_len)) {
			zb_fs_fail(job, EINVAL, "the regular expression contains a NUL byte");
			goto out;
		}
		int rc = regcomp(&s.re, s.content, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[256];
			regerror(rc, &s.re, msg, sizeof(msg));
			zb_fs_fail(job, EINVAL,
				   "content is not a valid POSIX extended regular expression (%s); "
				   "fix "
				   "it, or set regex: false to search for the text as it is",
				   msg);
			s.use_re = false;
			goto out;
		}
	} else {
		s.use_re = false;
	}
	root = zb_zones_openat(p.dirfd, p.rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, 0);
	if (root < 0) {
		zb_fs_fail_errno(job, -root, &p);
		goto out;
	}
	struct stat st;
	if (fstat(root, &st) < 0) {
		zb_fs_fail_errno(job, errno, &p);
		goto out;
	}
	s.buf = zb_xmalloc(SEARCH_LINE_MAX + CHUNK);
	if (S_ISDIR(st.st_mode)) {
		search_dir(&s, root, p.display, 0);
	} else if (S_ISREG(st.st_mode)) {
		/* A single file: search it (or match its name). */
		const char *slash = strrchr(p.rel, '/');
		const char *nm = slash ? slash + 1 : p.rel;
		if (!s.pattern || fnmatch(s.pattern, nm, 0) == 0) {
			if (!s.content) {
				s.scanned++;
				add_match(&s, p.display, 0, NULL, 0);
			} else {
				search_fd(&s, root, p.display);
			}
		}
	}
	if (atomic_load(&job->cancelled)) {
		zb_fs_fail(job, ECANCELED, "cancelled");
		goto out;
	}
	job->result = json_pack("{s:O, s:b, s:I}", "matches", s.matches, "truncated", s.truncated,
				"files_scanned", s.scanned);
out:
	if (s.use_re)
		regfree(&s.re);
	free(s.buf);
	json_decref(s.matches);
	zb_zpath_clear(&p);
}
