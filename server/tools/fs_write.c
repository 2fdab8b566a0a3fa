/* fs.write and fs.edit: atomic replacement inside the target's own folder, permission bits
 * kept, and for fs.edit exact-match replacements with a unified diff of the result. */
#include "fs.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>

#include "../rpc.h"

/* fs.edit reads the whole file; larger files are refused with a hint. */
#define EDIT_MAX (32 * 1024 * 1024)
/* Lines of context around each change in the diff, as diff -u. */
#define CONTEXT 3
/* The diff search gives up beyond this many differing lines and shows one large change. */
#define DIFF_MAX_D 2000

/* ---------------------------------------------------------------- base64 */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe alphabet; whitespace is skipped and padding is optional. */
static char *b64_decode(const char *s, size_t n, size_t *ret_len, size_t *ret_bad)
{
	char *out = zb_xmalloc(n / 4 * 3 + 3);
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	bool pad = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad = true;
			continue;
		}
		int v = b64_value(c);
		if (v < 0 || pad) {
			free(out);
			*ret_bad = i;
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits);
		}
	}
	*ret_len = o;
	return out;
}

/* ---------------------------------------------------------------- fs.write */

/* The target of a write must be a regular file or nothing: a symlink is refused rather than
 * written through (its target may be outside the zone, or be a sandbox path that means
 * something else on the host) or silently replaced. */
static int check_target(struct zb_fs_job *job, const struct zb_zpath *p, int pfd, const char *name,
			const struct stat *st)
{
	if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(pfd, name, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		size_t ok = zb_utf8_valid_prefix(target, strlen(target));
		target[ok] = '\0';
		zb_fs_fail(
			job, ELOOP,
			"%s is a symlink (-> %s), and the fs tools do not write through symlinks; "
			"write to the file it points to by its own path, or fs.delete the link "
			"first to put a regular file in its place",
			p->display, target);
		return -1;
	}
	if (S_ISDIR(st->st_mode)) {
		zb_fs_fail(job, EISDIR, "%s is a folder; give the path of a file inside it",
			   p->display);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		zb_fs_fail(
			job, EINVAL,
			"%s is not a regular file (a device, socket or FIFO); the fs tools write "
			"regular files only",
			p->display);
		return -1;
	}
	return 0;
}

static int append_to(struct zb_fs_job *job, const struct zb_zpath *p, int pfd, const char *name,
		     const struct stat *st, const char *data, size_t len)
{
	/* Appending is done in place (O_APPEND), not by rewriting the file: it never cuts
	 * what is there, but a failure halfway (full disk) can leave part of the new text. */
	_cleanup_close_ int fd =
		openat(pfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat now;
	if (fd < 0 || fstat(fd, &now) < 0) {
		zb_fs_fail_errno(job, errno, p);
		return -1;
	}
	if (now.st_ino != st->st_ino || now.st_dev != st->st_dev || !S_ISREG(now.st_mode)) {
		zb_fs_fail(job, EAGAIN, "%s changed while it was being opened; try again",
			   p->display);
		return -1;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			if (off > 0 && (e == ENOSPC || e == EDQUOT))
				zb_fs_fail(
					job, e,
					"%s: the filesystem of zone %s filled up after %zu of %zu "
					"bytes were appended; those bytes are in the file now",
					p->display, p->zone->name, off, len);
			else
				zb_fs_fail_errno(job, e, p);
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

void zb_fs_write_run(struct zb_fs_job *job)
{
	struct zb_zpath p = {.dirfd = -1};
	_cleanup_close_ int pfd = -1;
	_cleanup_free_ char *decoded = NULL;
	if (zb_fs_arg_path(job, "path", &p) < 0)
		return;
	const json_t *cj = json_object_get(job->args, "content");
	const char *data = json_string_value(cj);
	size_t len = json_string_length(cj);
	const char *encoding = json_string_value(json_object_get(job->args, "encoding"));
	const char *mode = json_string_value(json_object_get(job->args, "mode"));
	if (!mode)
		mode = "overwrite";
	if (encoding && strcmp(encoding, "base64") == 0) {
		size_t bad = 0;
		decoded = b64_decode(data, len, &len, &bad);
		if (!decoded) {
			zb_fs_fail(
				job, EINVAL,
				"content is not valid base64 (unexpected character at offset %zu); "
				"nothing was written. Send base64 (A-Z a-z 0-9 + /, = padding), or "
				"use encoding \"utf-8\" for text",
				bad);
			goto out;
		}
		data = decoded;
	}
	if (zb_zones_check_write(job->zones, &p, job->tool, false, &job->err) < 0)
		goto out;
	if (!*p.rel) {
		zb_fs_fail(job, EISDIR, "%s is the root of zone %s, a folder; give a file path",
			   p.display, p.zone->name);
		goto out;
	}
	if (zb_fs_arg_bool(job, "parents")) {
		const char *slash = strrchr(p.rel, '/');
		if (slash) {
			_cleanup_free_ char *dir = zb_xstrndup(p.rel, (size_t)(slash - p.rel));
			bool created;
			if (zb_fs_mkdir_p(job, &p, dir, &created) < 0)
				goto out;
		}
	}
	const char *name;
	pfd = zb_zones_open_parent(&p, job->tool, &name, &job->err);
	if (pfd < 0)
		goto out;
	struct stat st;
	bool exists = fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!exists && errno != ENOENT) {
		zb_fs_fail_errno(job, errno, &p);
		goto out;
	}
	if (exists && check_target(job, &p, pfd, name, &st) < 0)
		goto out;
	if (exists && strcmp(mode, "create") == 0) {
		zb_fs_fail(job, EEXIST,
			   "%s already exists, and mode \"create\" never replaces a file; use mode "
			   "\"overwrite\" to replace it, or \"append\" to add to it",
			   p.display);
		goto out;
	}
	int r;
	if (exists && strcmp(mode, "append") == 0)
		r = append_to(job, &p, pfd, name, &st, data, len);
	else
		r = zb_fs_replace_file(job, &p, pfd, name, data, len, exists ? &st : NULL,
				       !exists && strcmp(mode, "overwrite") != 0);
	if (r < 0)
		goto out;
	job->result = json_pack("{s:o, s:I, s:b}", "path", zb_json_str(p.display), "bytes_written",
				(json_int_t)len, "created", !exists);
out:
	zb_zpath_clear(&p);
}

/* ---------------------------------------------------------------- the diff */

struct line {
	const char *s;
	size_t len; /* with its '\n', if any */
	uint64_t hash;
};

struct lines {
	struct line *v;
	size_t n;
};

static void split_lines(const char *s, size_t n, struct lines *ret)
{
	size_t cap = 16;
	ret->v = zb_xmalloc(cap * sizeof(*ret->v));
	ret->n = 0;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (s + i)) + 1 : n - i;
		if (ret->n == cap) {
			cap *= 2;
			ret->v = zb_xrealloc(ret->v, cap * sizeof(*ret->v));
		}
		uint64_t h = 1469598103934665603ULL; /* FNV-1a */
		for (size_t k = 0; k < len; k++)
			h = (h ^ (unsigned char)s[i + k]) * 1099511628211ULL;
		ret->v[ret->n++] = (struct line){s + i, len, h};
		i += len;
	}
}

static bool line_eq(const struct line *a, const struct line *b)
{
	return a->hash == b->hash && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

enum op { OP_EQ, OP_DEL, OP_INS };
struct step {
	enum op op;
	size_t a, b; /* line indexes in the old and the new text */
};

struct script {
	struct step *v;
	size_t n, cap;
};

static void push(struct script *s, enum op op, size_t a, size_t b)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = zb_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = (struct step){op, a, b};
}

/* Myers' O(ND) diff of a[a0..a1) and b[b0..b1), appended to `out` in order. Returns false when
 * more than DIFF_MAX_D lines differ (the caller then shows one large change). */
static bool myers(const struct lines *A, size_t a0, size_t a1, const struct lines *B, size_t b0,
		  size_t b1, struct script *out)
{
	long n = (long)(a1 - a0), m = (long)(b1 - b0);
	long max = n + m;
	if (max > DIFF_MAX_D)
		max = DIFF_MAX_D;
	long off = max + 1;
	long *v = zb_xcalloc((size_t)(2 * max + 3), sizeof(long));
	long **trace = zb_xcalloc((size_t)max + 1, sizeof(long *));
	long found = -1;
	v[off + 1] = 0;
	for (long d = 0; d <= max && found < 0; d++) {
		trace[d] = zb_xmalloc((size_t)(2 * max + 3) * sizeof(long));
		memcpy(trace[d], v, (size_t)(2 * max + 3) * sizeof(long));
		for (long k = -d; k <= d; k += 2) {
			long x;
			if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
				x = v[off + k + 1];
			else
				x = v[off + k - 1] + 1;
			long y = x - k;
			while (x < n && y < m &&
			       line_eq(&A->v[a0 + (size_t)x], &B->v[b0 + (size_t)y])) {
				x++;
				y++;
			}
			v[off + k] = x;
			if (x >= n && y >= m) {
				found = d;
				break;
			}
		}
	}
	bool ok = found >= 0;
	if (ok) {
		/* Walk back from (n, m), collecting steps in reverse. */
		struct script rev = {0};
		long x = n, y = m;
		for (long d = found; d >= 0; d--) {
			long *tv = trace[d];
			long k = x - y;
			long pk = (k == -d || (k != d && tv[off + k - 1] < tv[off + k + 1]))
					  ? k + 1
					  : k - 1;
			long px = tv[off + pk], py = px - pk;
			while (x > px && y > py) {
				push(&rev, OP_EQ, a0 + (size_t)x - 1, b0 + (size_t)y - 1);
				x--;
				y--;
			}
			if (d > 0) {
				if (x == px)
					push(&rev, OP_INS, a0 + (size_t)x, b0 + (size_t)y - 1);
				else
					push(&rev, OP_DEL, a0 + (size_t)x - 1, b0 + (size_t)y);
				x = px;
				y = py;
			}
		}
		for (size_t i = rev.n; i > 0; i--)
			push(out, rev.v[i - 1].op, rev.v[i - 1].a, rev.v[i - 1].b);
		free(rev.v);
	}
	for (long d = 0; d <= max; d++)
		free(trace[d]);
	free(trace);
	free(v);
	return ok;
}

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = zb_xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) ZB_PRINTF(2, 3);
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	sb_add(b, s, (size_t)n);
	free(s);
}

static void sb_line(struct sbuf *b, char mark, const struct line *l)
{
	sb_add(b, &mark, 1);
	sb_add(b, l->s, l->len);
	if (l->len == 0 || l->s[l->len - 1] != '\n')
		sb_add(b, "\n\\ No newline at end of file\n", 29);
}

/* A unified diff (diff -u style, CONTEXT lines of context) of old -> new. */
static char *unified_diff(const char *label, const char *old, size_t old_len, const char *new,
			  size_t new_len, size_t *ret_len)
{
	struct lines A, B;
	split_lines(old, old_len, &A);
	split_lines(new, new_len, &B);
	size_t pre = 0;
	while (pre < A.n && pre < B.n && line_eq(&A.v[pre], &B.v[pre]))
		pre++;
	size_t suf = 0;
	while (suf < A.n - pre && suf < B.n - pre &&
	       line_eq(&A.v[A.n - 1 - suf], &B.v[B.n - 1 - suf]))
		suf++;
	struct script s = {0};
	for (size_t i = 0; i < pre; i++)
		push(&s, OP_EQ, i, i);
	if (!myers(&A, pre, A.n - suf, &B, pre, B.n - suf, &s)) {
		for (size_t i = pre; i < A.n - suf; i++)
			push(&s, OP_DEL, i, pre);
		for (size_t j = pre; j < B.n - suf; j++)
			push(&s, OP_INS, A.n - suf, j);
	}
	for (size_t i = 0; i < suf; i++)
		push(&s, OP_EQ, A.n - suf + i, B.n - suf + i);

	struct sbuf out = {0};
	sb_add(&out, "", 0);
	bool any = false;
	size_t last_end = 0;
	for (size_t i = 0; i < s.n;) {
		if (s.v[i].op == OP_EQ) {
			i++;
			continue;
		}
		if (!any) {
			sb_printf(&out, "--- %s\n+++ %s\n", label, label);
			any = true;
		}
		/* A hunk runs from CONTEXT lines before this change to CONTEXT lines after the
		 * last change that follows within 2 * CONTEXT equal lines of the one before. */
		size_t start = i >= CONTEXT ? i - CONTEXT : 0;
		if (start < last_end)
			start = last_end;
		size_t end, j = i;
		for (;;) {
			while (j < s.n && s.v[j].op != OP_EQ)
				j++;
			size_t run = 0;
			while (j + run < s.n && s.v[j + run].op == OP_EQ)
				run++;
			if (j + run < s.n && run <= 2 * CONTEXT) {
				j += run;
				continue;
			}
			end = j + (run < CONTEXT ? run : CONTEXT);
			break;
		}
		size_t a_start = s.v[start].a, b_start = s.v[start].b;
		size_t a_count = 0, b_count = 0;
		for (size_t k = start; k < end; k++) {
			if (s.v[k].op != OP_INS)
				a_count++;
			if (s.v[k].op != OP_DEL)
				b_count++;
		}
		/* diff -u numbers an empty range by the line before it. */
		sb_printf(&out, "@@ -%zu,%zu +%zu,%zu @@\n", a_count ? a_start + 1 : a_start,
			  a_count, b_count ? b_start + 1 : b_start, b_count);
		for (size_t k = start; k < end; k++) {
			const struct step *st = &s.v[k];
			if (st->op == OP_EQ)
				sb_line(&out, ' ', &A.v[st->a]);
			else if (st->op == OP_DEL)
				sb_line(&out, '-', &A.v[st->a]);
			else
				sb_line(&out, '+', &B.v[st->b]);
		}
		i = end;
		last_end = end;
	}
	free(s.v);
	free(A.v);
	free(B.v);
	*ret_len = out.len;
	return out.s;
}

/* ---------------------------------------------------------------- fs.edit */

/* 1-based line number of byte `off` in s. */
static size_t line_of(const char *s, size_t off)
{
	size_t n = 1;
	for (const char *p = s, *end = s + off; (p = memchr(p, '\n', (size_t)(end - p))); p++)
		n++;
	return n;
}

void zb_fs_edit_run(struct zb_fs_job *job)
{
	struct zb_zpath p = {.dirfd = -1};
	_cleanup_close_ int pfd = -1, fd = -1;
	char *text = NULL, *cur = NULL, *diff = NULL;
	size_t text_len = 0, cur_len = 0;
	if (zb_fs_arg_path(job, "path", &p) < 0)
		return;
	const json_t *edits = json_object_get(job->args, "edits");
	bool dry_run = zb_fs_arg_bool(job, "dry_run");
	if (zb_zones_check_write(job->zones, &p, job->tool, false, &job->err) < 0)
		goto out;
	const char *name;
	pfd = zb_zones_open_parent(&p, job->tool, &name, &job->err);
	if (pfd < 0)
		goto out;
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			zb_fs_fail(job, ENOENT, "%s does not exist; create it with fs.write",
				   p.display);
		else
			zb_fs_fail_errno(job, errno, &p);
		goto out;
	}
	if (check_target(job, &p, pfd, name, &st) < 0)
		goto out;
	fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		zb_fs_fail_errno(job, errno, &p);
		goto out;
	}
	bool more = false;
	int r = zb_fs_read_fd(fd, EDIT_MAX, &text, &text_len, &more);
	if (r < 0) {
		zb_fs_fail_errno(job, -r, &p);
		goto out;
	}
	if (more) {
		zb_fs_fail(job, EFBIG,
			   "%s is larger than %d MiB, which fs.edit does not load; use shell.run "
			   "(sed, patch) for it",
			   p.display, EDIT_MAX >> 20);
		goto out;
	}

	cur = zb_xstrndup(text, text_len);
	cur_len = text_len;
	json_int_t replacements = 0;
	size_t n_edits = json_array_size(edits);
	for (size_t i = 0; i < n_edits; i++) {
		const json_t *e = json_array_get(edits, i);
		const json_t *oj = json_object_get(e, "old"), *nj = json_object_get(e, "new");
		const char *old = json_string_value(oj), *nw = json_string_value(nj);
		size_t old_len = json_string_length(oj), new_len = json_string_length(nj);
		bool all = json_is_true(json_object_get(e, "replace_all"));
		size_t count = 0, first = 0, second = 0;
		for (const char *q = cur;
		     (q = memmem(q, cur_len - (size_t)(q - cur), old, old_len)); q += old_len) {
			if (count == 0)
				first = (size_t)(q - cur);
			else if (count == 1)
				second = (size_t)(q - cur);
			count++;
		}
		if (count == 0) {
			bool crlf = memmem(cur, cur_len, "\r\n", 2) &&
				    !memchr(old, '\r', old_len) && memchr(old, '\n', old_len);
			zb_fs_fail(
				job, ENOENT,
				"edit %zu of %zu: `old` was not found in %s%s; nothing was "
				"written. "
				"Copy it exactly from a fresh fs.read, whitespace and line endings "
				"included%s",
				i + 1, n_edits, p.display,
				i > 0 ? " (as changed by the edits before it)" : "",
				crlf ? " (this file uses CRLF line endings: \\r\\n)" : "");
			goto out;
		}
		if (count > 1 && !all) {
			zb_fs_fail(
				job, EEXIST,
				"edit %zu of %zu: `old` occurs %zu times in %s (first on lines %zu "
				"and %zu); nothing was written. Include more of the surrounding "
				"text to make it unique, or set replace_all: true to change every "
				"one",
				i + 1, n_edits, count, p.display, line_of(cur, first),
				line_of(cur, second));
			goto out;
		}
		/* Build the result in one pass over the matches. */
		size_t out_len = cur_len + count * new_len - count * old_len;
		char *next = zb_xmalloc(out_len + 1);
		size_t o = 0;
		const char *src = cur, *end = cur + cur_len;
		for (const char *q; (q = memmem(src, (size_t)(end - src), old, old_len));
		     src = q + old_len) {
			memcpy(next + o, src, (size_t)(q - src));
			o += (size_t)(q - src);
			memcpy(next + o, nw, new_len);
			o += new_len;
		}
		memcpy(next + o, src, (size_t)(end - src));
		o += (size_t)(end - src);
		next[o] = '\0';
		free(cur);
		cur = next;
		cur_len = o;
		replacements += (json_int_t)count;
	}

	size_t diff_len = 0;
	diff = unified_diff(p.display, text, text_len, cur, cur_len, &diff_len);
	bool changed = cur_len != text_len || memcmp(cur, text, text_len) != 0;
	bool applied = false;
	if (!dry_run && changed) {
		/* Refuse to overwrite changes made by someone else since the file was read. */
		struct stat now;
		if (fstatat(pfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 || now.st_ino != st.st_ino ||
		    now.st_size != st.st_size || now.st_mtim.tv_sec != st.st_mtim.tv_sec ||
		    now.st_mtim.tv_nsec != st.st_mtim.tv_nsec) {
			zb_fs_fail(
				job, EAGAIN,
				"%s changed while it was being edited; nothing was written. Read "
				"it again and retry",
				p.display);
			goto out;
		}
		if (zb_fs_replace_file(job, &p, pfd, name, cur, cur_len, &st, false) < 0)
			goto out;
		applied = true;
	}
	job->result = json_pack("{s:o, s:o, s:I, s:b}", "path", zb_json_str(p.display), "diff",
				zb_json_text(diff, diff_len), "replacements", replacements,
				"applied", applied);
out:
	free(text);
	free(cur);
	free(diff);
	zb_zpath_clear(&p);
}
