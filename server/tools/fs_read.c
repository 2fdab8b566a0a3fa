/* fs.read: text as UTF-8, anything else as base64, images also as MCP image content; line
 * windows (offset/limit, head, tail) and a size cap with a note that says how to read on. */
#include "fs.h"

#include <fcntl.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdio.h>
#include <strings.h>

#include "../rpc.h"

/* What one result may hold: a file's text (or raw bytes before base64) is cut here by
 * default, so that one call cannot flood the model's context. */
#define READ_CAP (256 * 1024)
/* When the caller asked for a window of lines (limit, head, tail), it gets up to this. */
#define READ_CAP_WINDOW (4 * 1024 * 1024)
/* The whole of a `paths` read. */
#define READ_BUDGET (1024 * 1024)
/* Images up to this size come back whole, as image content. */
#define IMAGE_MAX (2 * 1024 * 1024)
/* Lines are counted to the end (total_lines) for files up to this size. */
#define COUNT_MAX ((off_t)256 * 1024 * 1024)
/* Bytes looked at to tell text from binary (a NUL byte there means binary), as git does. */
#define SNIFF 8192
#define CHUNK (1024 * 1024)

struct read_opts {
	json_int_t offset, limit, head, tail; /* 0 when not given */
	size_t cap;			      /* bytes of text, or of binary data before base64 */
	size_t image_cap;		      /* images up to this size come back whole */
};

/* ---------------------------------------------------------------- helpers */

static char *base64(const unsigned char *s, size_t n, size_t *ret_len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t out_len = (n + 2) / 3 * 4;
	char *out = zb_xmalloc(out_len + 1);
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

static const char *image_type(const unsigned char *b, size_t n)
{
	if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return "image/jpeg";
	if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0))
		return "image/gif";
	if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
		return "image/webp";
	return NULL;
}

static const char *binary_type(const unsigned char *b, size_t n)
{
	if (n >= 5 && memcmp(b, "%PDF-", 5) == 0)
		return "application/pdf";
	if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
		return "application/zip";
	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		return "application/gzip";
	if (n >= 4 && memcmp(b,
			     "\x7f"
			     "ELF",
			     4) == 0)
		return "application/x-executable";
	return "application/octet-stream";
}

static const char *text_type(const char *name)
{
	static const char *const map[][2] = {
		{".c", "text/x-c"},
		{".h", "text/x-c"},
		{".cc", "text/x-c++"},
		{".cpp", "text/x-c++"},
		{".hpp", "text/x-c++"},
		{".py", "text/x-python"},
		{".js", "text/javascript"},
		{".mjs", "text/javascript"},
		{".ts", "text/x-typescript"},
		{".json", "application/json"},
		{".md", "text/markdown"},
		{".html", "text/html"},
		{".htm", "text/html"},
		{".css", "text/css"},
		{".csv", "text/csv"},
		{".xml", "application/xml"},
		{".yaml", "application/yaml"},
		{".yml", "application/yaml"},
		{".toml", "application/toml"},
		{".sh", "text/x-shellscript"},
		{".rs", "text/x-rust"},
		{".go", "text/x-go"},
		{".java", "text/x-java"},
		{".svg", "image/svg+xml"},
	};
	const char *dot = strrchr(name, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < ZB_ARRAY_SIZE(map); i++)
			if (strcasecmp(dot, map[i][0]) == 0)
				return map[i][1];
	return "text/plain";
}

/* The longest prefix of s[0..n) that ends on a UTF-8 character boundary, for a cut made in
 * the middle of text. */
static size_t char_boundary(const char *s, size_t n)
{
	size_t k = n;
	for (int i = 0; i < 3 && k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80; i++)
		k--;
	return k;
}

static size_t count_newlines(const char *s, size_t n)
{
	size_t c = 0, i = 0;
#ifdef __SSE2__
	/* 16 bytes at a time: each '\n' compares as -1, subtracted into 16 byte counters that
	 * are added up (psadbw) before any of them can pass 255. */
	const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
	while (n - i >= 16) {
		__m128i acc = zero;
		size_t stop = n - i >= 16 * 255 ? i + 16 * 255 : i + ((n - i) & ~(size_t)15);
		for (; i < stop; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, nl));
		}
		__m128i sums = _mm_sad_epu8(acc, zero);
		c += (size_t)_mm_cvtsi128_si64(sums) + (size_t)_mm_extract_epi16(sums, 4);
	}
#endif
	for (; i < n; i++)
		c += s[i] == '\n';
	return c;
}

/* ---------------------------------------------------------------- one file */

struct window {
	char *data; /* the bytes chosen */
	size_t len;
	bool over;	  /* more than cap bytes were in the window; data holds cap + 1 */
	json_int_t first; /* line number of the first line in data (0 when unknown) */
	json_int_t total; /* lines in the whole file, -1 when not counted */
	bool past_end;	  /* offset lies beyond the last line */
};

/* Lines [offset, offset + limit) (limit 0: to the end), read forward. Lines are counted to the
 * end when the file is small enough. */
static int window_forward(struct zb_fs_job *job, int fd, off_t size, json_int_t offset,
			  json_int_t limit, size_t cap, struct window *w)
{
	bool count_all = size <= COUNT_MAX;
	json_int_t line = 1, end_line = limit ? offset + limit : INT64_MAX;
	size_t dcap = 0;
	/* Small files are read in one go (one more byte sees EOF) into a buffer near their size
	 * rather than CHUNK. */
	size_t chunk = size >= 0 && size < CHUNK ? (size_t)size + 1 : CHUNK;
	if (chunk < 65536)
		chunk = 65536; /* a file that grows meanwhile is still read in sizeable pieces */
	char *buf = NULL;      /* what is not read straight into the window */
	off_t pos = 0;
	bool last_nl = true; /* the byte before the current position was '\n' (or none) */
	int r = 0;
	for (;;) {
		if (atomic_load(&job->cancelled)) {
			r = -ECANCELED;
			break;
		}
		if (!count_all && (line >= end_line || w->over))
			break;
		/* While the window runs on from the file's first byte, the file is read straight
		 * into it, with no copy; the rest goes to buf, to be counted or skipped. */
		char *into;
		if (offset <= 1 && line < end_line && !w->over) {
			if (w->len + chunk > dcap) {
				dcap = dcap * 2 > w->len + chunk ? dcap * 2 : w->len + chunk;
				w->data = zb_xrealloc(w->data, dcap);
			}
			into = w->data + w->len;
		} else {
			if (!buf)
				buf = zb_xmalloc(chunk);
			into = buf;
		}
		ssize_t n = pread(fd, into, chunk, pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		pos += n;
		const char *p = into, *end = into + n;
		while (p < end) {
			if (line < offset) {
				/* Before the window: to the next line. */
				const char *nl = memchr(p, '\n', (size_t)(end - p));
				if (!nl)
					break;
				line++;
				p = nl + 1;
				continue;
			}
			if (line >= end_line || w->over) {
				/* After it: only counted, when the whole file is. */
				if (count_all)
					line += (json_int_t)count_newlines(p, (size_t)(end - p));
				break;
			}
			/* In it: find where it ends in this chunk, then copy that run at once. */
			const char *q = p;
			json_int_t here = (json_int_t)count_newlines(p, (size_t)(end - p));
			if (line + here < end_line) {
				line += here; /* the window goes on past this chunk */
				q = end;
			}
			while (q < end && line < end_line) {
				const char *nl = memchr(q, '\n', (size_t)(end - q));
				if (!nl) {
					q = end;
					break;
				}
				line++;
				q = nl + 1;
			}
			size_t take = (size_t)(q - p);
			if (w->len + take > cap + 1)
				take = cap + 1 - w->len;
			if (w->len + take > dcap) {
				dcap = (w->len + take) * 2 > cap + 1 ? cap + 1
								     : (w->len + take) * 2;
				w->data = zb_xrealloc(w->data, dcap);
			}
			if (p != w->data + w->len) /* else it was read there */
				memcpy(w->data + w->len, p, take);
			w->len += take;
			w->over = w->len > cap;
			p = q;
		}
		last_nl = into[n - 1] == '\n';
	}
	free(buf);
	if (r < 0)
		return r;
	/* `line` is now one past the last line that ended with '\n'; a last line without one
	 * counts too. */
	json_int_t total = line - 1 + (last_nl ? 0 : 1);
	w->total = count_all ? total : -1;
	w->first = offset;
	if (count_all && offset > total && !(total == 0 && offset == 1))
		w->past_end = true;
	return 0;
}

/* The last n lines, found by reading backwards from the end: at most cap + 1 bytes. */
static int window_tail(struct zb_fs_job *job, int fd, off_t size, json_int_t n, size_t cap,
		       struct window *w)
{
	if (size == 0)
		return 0;
	size_t want = (size_t)(size < (off_t)cap + 1 ? size : (off_t)cap + 1);
	char *buf = zb_xmalloc(want);
	off_t from = size - (off_t)want;
	size_t got = 0;
	while (got < want) {
		ssize_t k = pread(fd, buf + got, want - got, from + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int e = k < 0 ? errno : EIO;
			free(buf);
			return -e;
		}
		got += (size_t)k;
	}
	/* Find the start of the n-th last line inside what was read; a final '\n' ends the
	 * last line rather than starting an empty one. */
	size_t end = want;
	if (end > 0 && buf[end - 1] == '\n')
		end--;
	size_t start = 0;
	bool found = false;
	json_int_t seen = 0;
	for (size_t i = end; i > 0; i--)
		if (buf[i - 1] == '\n' && ++seen == n) {
			start = i;
			found = true;
			break;
		}
	if (!found && from > 0) {
		/* The window is larger than the cap: keep its end, from a line start. */
		const char *nl = memchr(buf, '\n', want);
		start = nl && (size_t)(nl - buf) + 1 < want ? (size_t)(nl - buf) + 1 : 1;
		while (start < want && ((unsigned char)buf[start] & 0xc0) == 0x80)
			start++;
		w->over = true;
	}
	w->len = want - start;
	w->data = zb_xmalloc(w->len + 1);
	memcpy(w->data, buf + start, w->len);
	free(buf);
	return 0;
}

/* Read one file into `o` (content, encoding, size, truncated, total_lines, mime_type, and
 * note/next_offset when cut); `*image` gets an image content block for images. Returns
 * the bytes of file data used, or -1 with job->err set. */
/* The details of one file go into o; its text, when ret_text is given and it is UTF-8, is
 * handed over there (*ret_text, *ret_len) instead of being copied into o as "content". */
static ssize_t read_one(struct zb_fs_job *job, const struct zb_zpath *p, const struct read_opts *ro,
			json_t *o, json_t **image, char **ret_text, size_t *ret_len)
{
	/* SECURITY: opened beneath the zone (symlinks inside the zone are followed, nothing
	 * leads out), O_NONBLOCK so that a FIFO planted in a zone cannot hang a worker, and
	 * O_NOCTTY so a terminal device cannot become ours; only regular files are read. */
	_cleanup_close_ int fd =
		job->snapshot_fd >= 0
			? fcntl(job->snapshot_fd, F_DUPFD_CLOEXEC, 0)
			: zb_zones_openat(p->dirfd, p->rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, 0);
	if (fd < 0 && job->snapshot_fd >= 0)
		fd = -errno;
	if (fd < 0) {
		zb_fs_fail_errno(job, -fd, p);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		zb_fs_fail_errno(job, errno, p);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		zb_fs_fail(job, EISDIR, "%s is a folder; use fs.list to see what is in it",
			   p->display);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		zb_fs_fail(
			job, EINVAL,
			"%s is not a regular file (a device, socket or FIFO); fs.read reads files "
			"only",
			p->display);
		return -1;
	}
	off_t size = st.st_size;
	unsigned char sniff[SNIFF];
	ssize_t sn = pread(fd, sniff, sizeof(sniff), 0);
	if (sn < 0) {
		zb_fs_fail_errno(job, errno, p);
		return -1;
	}
	bool windowed = ro->offset || ro->limit || ro->head || ro->tail;
	const char *img = image_type(sniff, (size_t)sn);
	bool binary = img || memchr(sniff, '\0', (size_t)sn) != NULL;
	json_object_set_new(o, "size", json_integer((json_int_t)size));

	if (binary) {
		if (windowed) {
			zb_fs_fail(job, EINVAL,
				   "%s is not a text file (%s); offset, limit, head and tail count "
				   "lines and apply to text only. Read it without them to get its "
				   "bytes as base64",
				   p->display, img ? img : "binary data");
			return -1;
		}
		bool as_image = img && size <= (off_t)ro->image_cap;
		size_t cap = as_image ? ro->image_cap : ro->cap;
		char *data = NULL;
		size_t len = 0;
		bool more = false;
		int r = zb_fs_read_fd(fd, cap, &data, &len, &more);
		if (r < 0) {
			zb_fs_fail_errno(job, -r, p);
			return -1;
		}
		size_t b64_len;
		char *b64 = base64((const unsigned char *)data, len, &b64_len);
		free(data);
		const char *mime = img ? img : binary_type(sniff, (size_t)sn);
		json_object_set_new(o, "content", json_stringn_nocheck(b64, b64_len));
		json_object_set_new(o, "encoding", json_string("base64"));
		json_object_set_new(o, "truncated", json_boolean(more));
		json_object_set_new(o, "mime_type", json_string(mime));
		if (more) {
			char *note = zb_xasprintf(
				"only the first %zu of %lld bytes are here (the size limit); the "
				"rest of this binary file cannot be paged with fs.read: use "
				"shell.run (e.g. dd, xxd, or a program that reads the format)%s",
				len, (long long)size,
				img ? " — the image is too large to show as an image" : "");
			json_object_set_new(o, "note", json_string(note));
			free(note);
		}
		if (as_image && !more) {
			*image = json_pack("{s:s, s:s#, s:s}", "type", "image", "data", b64,
					   b64_len, "mimeType", img);
		}
		free(b64);
		return (ssize_t)len;
	}

	/* Text: choose the window of lines, then check it is UTF-8. */
	struct window w = {.first = 0, .total = -1};
	size_t cap = ro->cap;
	int r;
	if (ro->tail) {
		r = window_tail(job, fd, size, ro->tail, cap, &w);
		if (r == 0 && size <= COUNT_MAX) {
			struct window all = {0};
			r = window_forward(job, fd, size, INT64_MAX, 0, 0, &all);
			free(all.data);
			w.total = all.total;
			if (r == 0) {
				json_int_t nl = (json_int_t)count_newlines(w.data, w.len);
				bool ends = w.len == 0 || w.data[w.len - 1] == '\n';
				json_int_t lines = nl + (ends ? 0 : 1);
				w.first = w.total - lines + 1;
				if (w.first < 1)
					w.first = 1;
			}
		}
	} else {
		json_int_t offset = ro->offset ? ro->offset : 1;
		json_int_t limit = ro->head ? ro->head : ro->limit;
		r = window_forward(job, fd, size, offset, limit, cap, &w);
	}
	if (r < 0) {
		free(w.data);
		if (r == -ECANCELED)
			zb_fs_fail(job, ECANCELED, "cancelled");
		else
			zb_fs_fail_errno(job, -r, p);
		return -1;
	}
	if (!w.data)
		w.data = zb_xstrdup("");
	size_t len = w.len;
	bool truncated = w.over;
	if (truncated && !ro->tail) {
		/* Cut at the last line end within the cap, or inside the line when one line
		 * alone is larger than the cap. */
		len = cap;
		char *nl = memrchr(w.data, '\n', cap);
		if (nl)
			len = (size_t)(nl - w.data) + 1;
		else
			len = char_boundary(w.data, cap);
	}
	/* Whole lines in the text: only needed to say where a cut text goes on. */
	json_int_t lines_full = truncated ? (json_int_t)count_newlines(w.data, len) : 0;
	bool utf8 = zb_utf8_valid_prefix(w.data, len) == len;
	if (utf8 && ret_text) {
		*ret_text = w.data;
		*ret_len = len;
		w.data = NULL;
		json_object_set_new(o, "encoding", json_string("utf-8"));
		json_object_set_new(o, "mime_type", json_string(text_type(p->rel)));
	} else if (utf8) {
		json_object_set_new(o, "content", json_stringn_nocheck(w.data, len));
		json_object_set_new(o, "encoding", json_string("utf-8"));
		json_object_set_new(o, "mime_type", json_string(text_type(p->rel)));
	} else {
		size_t b64_len;
		char *b64 = base64((const unsigned char *)w.data, len, &b64_len);
		json_object_set_new(o, "content", json_stringn_nocheck(b64, b64_len));
		json_object_set_new(o, "encoding", json_string("base64"));
		json_object_set_new(o, "mime_type", json_string(binary_type(sniff, (size_t)sn)));
		free(b64);
	}
	free(w.data);
	json_object_set_new(o, "truncated", json_boolean(truncated));
	if (w.total >= 0)
		json_object_set_new(o, "total_lines", json_integer(w.total));

	char *note = NULL;
	json_int_t next = 0;
	if (w.past_end) {
		note = zb_xasprintf("offset %lld is past the end: the file has %lld lines",
				    (long long)w.first, (long long)w.total);
	} else if (truncated && ro->tail) {
		note = zb_xasprintf("the last %lld lines are more than the size limit (%zu "
				    "bytes); only the end is here%s",
				    (long long)ro->tail, cap, w.first ? ", from line " : "");
		if (w.first) {
			char *n2 = zb_xasprintf("%s%lld; read earlier lines with offset and limit",
						note, (long long)w.first);
			free(note);
			note = n2;
		}
	} else if (truncated) {
		next = w.first + lines_full;
		bool partial = lines_full == 0;
		if (partial)
			note = zb_xasprintf(
				"line %lld alone is longer than the size limit (%zu bytes), so "
				"only "
				"its start is here; use shell.run (e.g. cut -c) to see the rest of "
				"it, or read on from line %lld",
				(long long)w.first, cap, (long long)w.first + 1);
		else
			note = zb_xasprintf(
				"lines %lld-%lld are here (the size limit is %zu bytes)%s%lld%s; "
				"read on with offset=%lld",
				(long long)w.first, (long long)(next - 1), cap,
				w.total >= 0 ? " of " : "", (long long)(w.total >= 0 ? w.total : 0),
				w.total >= 0 ? " lines" : "", (long long)next);
		if (partial)
			next = w.first + 1;
	}
	if (!utf8) {
		char *n2 = zb_xasprintf("%s%sthe text is not valid UTF-8, so it is base64-encoded",
					note ? note : "", note ? "; " : "");
		free(note);
		note = n2;
	}
	if (note)
		json_object_set_new(o, "note", zb_json_str(note));
	if (next > 0 && (w.total < 0 || next <= w.total))
		json_object_set_new(o, "next_offset", json_integer(next));
	free(note);
	return (ssize_t)len;
}

/* ---------------------------------------------------------------- the tool */

void zb_fs_read_run(struct zb_fs_job *job)
{
	struct read_opts ro = {
		.offset = zb_fs_arg_int(job, "offset", 0),
		.limit = zb_fs_arg_int(job, "limit", 0),
		.head = zb_fs_arg_int(job, "head", 0),
		.tail = zb_fs_arg_int(job, "tail", 0),
	};
	bool window = ro.limit || ro.head || ro.tail;
	size_t cap = window ? READ_CAP_WINDOW : READ_CAP;
	const json_t *paths = json_object_get(job->args, "paths");

	if (!paths) {
		struct zb_zpath p = {.dirfd = -1};
		if (zb_fs_arg_path(job, "path", &p) < 0)
			return;
		ro.cap = cap;
		ro.image_cap = IMAGE_MAX;
		json_t *o = json_object();
		json_object_set_new(o, "path", zb_json_str(p.display));
		json_t *image = NULL;
		char *text = NULL;
		size_t text_len = 0;
		if (read_one(job, &p, &ro, o, &image, &text, &text_len) < 0) {
			json_decref(o);
		} else if (text) {
			/* The text goes from the read buffer straight into the result's JSON,
			 * escaped once, never copied into a jansson string: {"content":..., then
			 * the rest of o. */
			struct zb_jbuf b = {0};
			zb_jbuf_reserve(&b, text_len + text_len / 8 + 1024);
			zb_jbuf_add(&b, "{\"content\":", 11);
			zb_jbuf_string(&b, text, text_len);
			size_t rest_len;
			char *rest = zb_json_dumps(o, &rest_len);
			zb_jbuf_add(&b, ",", 1);
			zb_jbuf_add(&b, rest + 1, rest_len - 1);
			free(rest);
			free(text);
			json_decref(o);
			job->result_text = b.s;
			job->result_len = b.len;
		} else {
			job->result = o;
			if (image)
				job->extra = json_pack("[o]", image);
		}
		zb_zpath_clear(&p);
		return;
	}

	/* Many files: each fails on its own, and together they share one budget. */
	size_t budget = window ? READ_CAP_WINDOW : READ_BUDGET;
	json_t *files = json_array();
	json_t *images = NULL;
	for (size_t i = 0; i < json_array_size(paths); i++) {
		const json_t *pj = json_array_get(paths, i);
		json_t *o = json_object();
		json_object_set_new(o, "path",
				    zb_json_text(json_string_value(pj), json_string_length(pj)));
		json_array_append_new(files, o);
		struct zb_zpath p = {.dirfd = -1};
		if (atomic_load(&job->cancelled)) {
			zb_error_set(&job->err, ZB_ERR_TOOL, ECANCELED, "%s: cancelled", job->tool);
		} else if (budget == 0) {
			json_object_set_new(o, "content", json_string(""));
			json_object_set_new(o, "encoding", json_string("utf-8"));
			json_object_set_new(o, "truncated", json_true());
			json_object_set_new(o, "note",
					    json_string("the size limit of the whole result was "
							"reached before this file; read it on "
							"its own"));
			continue;
		} else if (zb_zones_parse(job->zones, json_string_value(pj), json_string_length(pj),
					  job->tool, &p, &job->err) == 0) {
			ro.cap = cap < budget ? cap : budget;
			ro.image_cap = IMAGE_MAX < budget ? IMAGE_MAX : budget;
			json_t *image = NULL;
			ssize_t used = read_one(job, &p, &ro, o, &image, NULL, NULL);
			if (used >= 0)
				budget -= (size_t)used > budget ? budget : (size_t)used;
			if (image) {
				if (!images)
					images = json_array();
				json_array_append_new(images, image);
			}
		}
		zb_zpath_clear(&p);
		if (job->err) {
			if (job->err->errnum == ECANCELED) {
				json_decref(files);
				json_decref(images);
				return;
			}
			/* This file's failure is its own entry; the call goes on. */
			json_t *keep = json_object_get(o, "path");
			json_incref(keep);
			json_object_clear(o);
			json_object_set_new(o, "path", keep);
			json_object_set_new(o, "error", zb_json_str(job->err->msg));
			zb_error_free(TAKE_PTR(job->err));
		}
	}
	job->result = json_pack("{s:o}", "files", files);
	job->extra = images;
}
