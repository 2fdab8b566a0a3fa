#include "rpc.h"

#include <assert.h>
#include <fcntl.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <poll.h>
#include <stdio.h>

#include "log.h"

/* ---------------------------------------------------------------- framer */

void zb_framer_init(struct zb_framer *f, size_t max_line,
		    void (*on_line)(void *ud, const char *line, size_t len),
		    void (*on_oversize)(void *ud, size_t max_line), void *ud)
{
	*f = (struct zb_framer){
		.max_line = max_line, .on_line = on_line, .on_oversize = on_oversize, .ud = ud};
}

static void deliver(struct zb_framer *f, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return; /* blank lines are not messages */
	f->on_line(f->ud, line, len);
}

static void start_discarding(struct zb_framer *f)
{
	f->discarding = true;
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
	if (f->on_oversize)
		f->on_oversize(f->ud, f->max_line);
}

void zb_framer_feed(struct zb_framer *f, const char *data, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t chunk = nl ? (size_t)(nl - data) : n;
		/* A CR before the newline is not part of the message: a line that ends with one
		 * may be a byte longer (while its end is not seen yet, any line may). */
		size_t limit = f->max_line + 1;
		if (nl) {
			char last = chunk ? data[chunk - 1] : f->len ? f->buf[f->len - 1] : 0;
			limit = f->max_line + (last == '\r');
		}
		if (f->discarding) {
			if (nl)
				f->discarding = false;
		} else if (f->len + chunk > limit) {
			start_discarding(f);
			if (nl)
				f->discarding = false;
		} else if (nl && f->len == 0) {
			/* The common case: a whole line inside one read, delivered without a copy.
			 */
			deliver(f, data, chunk);
		} else {
			if (f->len + chunk > f->cap) {
				size_t cap = f->cap ? f->cap : 4096;
				while (cap < f->len + chunk)
					cap *= 2;
				f->buf = zb_xrealloc(f->buf, cap);
				f->cap = cap;
			}
			memcpy(f->buf + f->len, data, chunk);
			f->len += chunk;
			if (nl) {
				/* The callback may feed nothing back, but reset first anyway. */
				size_t len = f->len;
				f->len = 0;
				deliver(f, f->buf, len);
				/* Do not keep a large buffer alive after one large message. */
				if (f->cap > (1u << 20)) {
					free(f->buf);
					f->buf = NULL;
					f->cap = 0;
				}
			}
		}
		if (!nl)
			break;
		n -= chunk + 1;
		data += chunk + 1;
	}
}

void zb_framer_finish(struct zb_framer *f)
{
	if (!f->discarding && f->len > 0) {
		size_t len = f->len;
		f->len = 0;
		/* While the end was not seen, the line could hold one byte more (a CR). */
		if (len - (f->buf[len - 1] == '\r') > f->max_line) {
			if (f->on_oversize)
				f->on_oversize(f->ud, f->max_line);
		} else {
			deliver(f, f->buf, len);
		}
	}
	f->discarding = false;
}

void zb_framer_free(struct zb_framer *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
}

/* ---------------------------------------------------------------- stdio transport */

enum io_kind { IO_NONE, IO_STREAM, IO_FILE };

struct zb_stdio {
	uv_loop_t *loop;
	struct zb_framer framer;
	void (*on_eof)(void *ud);
	void *ud;

	enum io_kind in_kind;
	union {
		uv_pipe_t pipe;
		uv_tty_t tty;
		uv_stream_t stream;
		uv_handle_t handle;
	} in;
	int in_fd;
	uv_fs_t in_req; /* regular-file stdin */
	char *in_buf;
	bool reading, paused, eof, in_busy;

	enum io_kind out_kind;
	union {
		uv_pipe_t pipe;
		uv_tty_t tty;
		uv_stream_t stream;
		uv_handle_t handle;
	} out;
	int out_fd;
	size_t queued;
	size_t writes_pending;
	size_t high_water;
	bool write_failed;

	int closes_pending;
	bool closing;
	uv_timer_t linger; /* bounds how long close waits for a client that stopped reading */
	uv_timer_t hangup; /* while reading is paused: has the client closed stdin meanwhile? */
	void (*done)(void *arg);
	void *done_arg;
};

/* One queued write: the pieces the pipe did not take at once. Pieces the writer owns are
 * written from where they are and freed when done; a borrowed piece's remainder is copied
 * into `data` (its owner may change or free it as soon as the send returns). */
struct write_req {
	uv_write_t req;
	struct zb_stdio *io;
	size_t len;
	unsigned nbufs, nowned;
	uv_buf_t bufs[ZB_MAX_PARTS];
	char *owned[ZB_MAX_PARTS];
	char data[];
};

static void write_req_free(struct write_req *w)
{
	for (unsigned i = 0; i < w->nowned; i++)
		free(w->owned[i]);
	free(w);
}

#define READ_CHUNK (64 * 1024)

static void maybe_finish_close(struct zb_stdio *io);

static enum io_kind kind_of(int fd)
{
	switch (uv_guess_handle(fd)) {
	case UV_NAMED_PIPE:
	case UV_TCP:
	case UV_TTY:
		return IO_STREAM;
	case UV_FILE:
		return IO_FILE;
	default:
		return IO_NONE;
	}
}

static int open_stream(uv_loop_t *loop, int fd, uv_stream_t *s, bool readable)
{
	if (uv_guess_handle(fd) == UV_TTY)
		return uv_tty_init(loop, (uv_tty_t *)s, fd, readable);
	int r = uv_pipe_init(loop, (uv_pipe_t *)s, 0);
	if (r == 0)
		r = uv_pipe_open((uv_pipe_t *)s, fd);
	return r;
}

struct zb_stdio *zb_stdio_new(uv_loop_t *loop, int in_fd, int out_fd, size_t max_line,
			      void (*on_line)(void *ud, const char *line, size_t len),
			      void (*on_oversize)(void *ud, size_t max_line),
			      void (*on_eof)(void *ud), void *ud)
{
	struct zb_stdio *io = zb_xcalloc(1, sizeof(*io));
	io->loop = loop;
	io->on_eof = on_eof;
	io->ud = ud;
	io->in_fd = in_fd;
	io->out_fd = out_fd;
	io->high_water = 8u << 20;
	zb_framer_init(&io->framer, max_line, on_line, on_oversize, ud);
	uv_timer_init(loop, &io->hangup);
	io->hangup.data = io;
	return io;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct zb_stdio *io = h->data;
	if (!io->in_buf)
		io->in_buf = zb_xmalloc(READ_CHUNK);
	*buf = uv_buf_init(io->in_buf, READ_CHUNK);
}

static void input_ended(struct zb_stdio *io)
{
	if (io->eof)
		return;
	io->eof = true;
	io->reading = false;
	zb_framer_finish(&io->framer);
	if (io->on_eof)
		io->on_eof(io->ud);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct zb_stdio *io = s->data;
	if (n > 0) {
		zb_framer_feed(&io->framer, buf->base, (size_t)n);
		return;
	}
	if (n == 0)
		return;
	if (n != UV_EOF)
		zb_warning("reading stdin failed: %s; treating it as end of input",
			   uv_strerror((int)n));
	uv_read_stop(s);
	input_ended(io);
}

static void file_read_next(struct zb_stdio *io);

static void on_file_read(uv_fs_t *req)
{
	struct zb_stdio *io = req->data;
	ssize_t n = req->result;
	uv_fs_req_cleanup(req);
	io->in_busy = false;
	if (io->closing) {
		maybe_finish_close(io);
		return;
	}
	if (n > 0) {
		zb_framer_feed(&io->framer, io->in_buf, (size_t)n);
		file_read_next(io);
		return;
	}
	if (n < 0)
		zb_warning("reading stdin failed: %s; treating it as end of input",
			   uv_strerror((int)n));
	input_ended(io);
}

static void file_read_next(struct zb_stdio *io)
{
	if (!io->reading || io->paused || io->eof || io->in_busy || io->closing)
		return;
	if (!io->in_buf)
		io->in_buf = zb_xmalloc(READ_CHUNK);
	uv_buf_t b = uv_buf_init(io->in_buf, READ_CHUNK);
	io->in_req.data = io;
	if (uv_fs_read(io->loop, &io->in_req, io->in_fd, &b, 1, -1, on_file_read) == 0)
		io->in_busy = true;
	else
		input_ended(io);
}

/* Reading is paused while the client does not read our replies, so its EOF would never be
 * seen and the server would wait forever: the pipe's hang-up is checked without reading. */
static void on_hangup_check(uv_timer_t *t)
{
	struct zb_stdio *io = t->data;
	struct pollfd p = {.fd = io->in_fd, .events = POLLIN};
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
		uv_timer_stop(t);
		zb_warning("stdin was closed while replies waited to be written; stopping");
		input_ended(io);
	}
}

static void resume_reading(struct zb_stdio *io)
{
	if (!io->paused)
		return;
	io->paused = false;
	uv_timer_stop(&io->hangup);
	if (io->in_kind == IO_STREAM && io->reading)
		uv_read_start(&io->in.stream, on_alloc, on_read);
	else if (io->in_kind == IO_FILE)
		file_read_next(io);
}

static void pause_reading(struct zb_stdio *io)
{
	if (io->paused || !io->reading)
		return;
	io->paused = true;
	if (io->in_kind == IO_STREAM) {
		uv_read_stop(&io->in.stream);
		uv_timer_start(&io->hangup, on_hangup_check, 250, 250);
	}
}

int zb_stdio_start(struct zb_stdio *io)
{
	int r;
	io->out_kind = kind_of(io->out_fd);
	if (io->out_kind == IO_STREAM) {
		r = open_stream(io->loop, io->out_fd, &io->out.stream, false);
		if (r < 0) {
			zb_err("cannot use stdout (fd %d): %s", io->out_fd, uv_strerror(r));
			return -1;
		}
		io->out.handle.data = io;
	}

	io->in_kind = kind_of(io->in_fd);
	io->reading = true;
	if (io->in_kind == IO_STREAM) {
		r = open_stream(io->loop, io->in_fd, &io->in.stream, true);
		if (r == 0) {
			io->in.handle.data = io;
			r = uv_read_start(&io->in.stream, on_alloc, on_read);
		}
		if (r < 0) {
			zb_err("cannot read stdin (fd %d): %s", io->in_fd, uv_strerror(r));
			return -1;
		}
	} else if (io->in_kind == IO_FILE) {
		file_read_next(io);
	} else {
		/* stdin closed or of a kind we cannot read: there will be no requests. */
		input_ended(io);
	}
	return 0;
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct zb_stdio *io = w->io;
	io->queued -= w->len;
	io->writes_pending--;
	if (status < 0 && !io->write_failed) {
		/* The client closed its end: nothing more can be delivered. */
		io->write_failed = true;
		zb_warning("writing to stdout failed: %s", uv_strerror(status));
	}
	write_req_free(w);
	if (io->queued < io->high_water / 2)
		resume_reading(io);
	if (io->closing)
		maybe_finish_close(io);
}

static void write_file(struct zb_stdio *io, const char *data, size_t len)
{
	while (len > 0 && !io->write_failed) {
		ssize_t n = write(io->out_fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			io->write_failed = true;
			zb_warning("writing to stdout failed: %s", strerror(errno));
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

void zb_stdio_send(struct zb_stdio *io, json_t *msg)
{
	size_t len;
	char *text = zb_json_dumps(msg, &len);
	json_decref(msg);
	text[len++] = '\n'; /* zb_json_dumps leaves room for it */
	zb_stdio_send_line(io, text, len);
}

void zb_stdio_send_line(struct zb_stdio *io, char *text, size_t len)
{
	struct zb_part part = {text, len};
	zb_stdio_send_parts(io, &part, 1);
}

static void free_parts(struct zb_part *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!parts[i].borrowed)
			free(parts[i].data);
}

void zb_stdio_send_parts(struct zb_stdio *io, struct zb_part *parts, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += parts[i].len;
	if (io->write_failed || io->out_kind == IO_NONE) {
		free_parts(parts, n);
		return;
	}
	if (io->out_kind == IO_FILE) {
		for (size_t i = 0; i < n; i++)
			write_file(io, parts[i].data, parts[i].len);
		free_parts(parts, n);
		return;
	}
	assert(n <= ZB_MAX_PARTS);
	size_t off = 0;
	if (io->writes_pending == 0) {
		uv_buf_t b[ZB_MAX_PARTS];
		for (size_t i = 0; i < n; i++)
			b[i] = uv_buf_init(parts[i].data, (unsigned)parts[i].len);
		int r = uv_try_write(&io->out.stream, b, (unsigned)n);
		if (r > 0)
			off = (size_t)r;
	}
	if (off == len) {
		free_parts(parts, n);
		return;
	}
	/* What the pipe did not take now is written as the client reads: the pieces we own
	 * from where they are, a borrowed piece's rest from a copy. */
	size_t rest = len - off, copied = 0, skip_left = off;
	for (size_t i = 0; i < n; i++) {
		size_t skip = skip_left < parts[i].len ? skip_left : parts[i].len;
		skip_left -= skip;
		if (parts[i].borrowed)
			copied += parts[i].len - skip;
	}
	struct write_req *w = zb_xmalloc(sizeof(*w) + copied);
	w->io = io;
	w->len = rest;
	w->nbufs = w->nowned = 0;
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		size_t skip = off < parts[i].len ? off : parts[i].len;
		off -= skip;
		size_t left = parts[i].len - skip;
		char *from = parts[i].data + skip;
		if (parts[i].borrowed) {
			if (left) {
				memcpy(w->data + at, from, left);
				w->bufs[w->nbufs++] = uv_buf_init(w->data + at, (unsigned)left);
				at += left;
			}
			continue;
		}
		w->owned[w->nowned++] = parts[i].data;
		if (left)
			w->bufs[w->nbufs++] = uv_buf_init(from, (unsigned)left);
	}
	int r = uv_write(&w->req, &io->out.stream, w->bufs, w->nbufs, on_write);
	if (r < 0) {
		write_req_free(w);
		io->write_failed = true;
		zb_warning("writing to stdout failed: %s", uv_strerror(r));
		return;
	}
	io->queued += rest;
	io->writes_pending++;
	if (io->queued > io->high_water)
		pause_reading(io);
}

void zb_stdio_stop(struct zb_stdio *io)
{
	if (!io->reading)
		return;
	io->reading = false;
	if (io->in_kind == IO_STREAM && !io->eof)
		uv_read_stop(&io->in.stream);
}

size_t zb_stdio_queued_bytes(const struct zb_stdio *io)
{
	return io->queued;
}

static void on_closed(uv_handle_t *h)
{
	struct zb_stdio *io = h->data;
	io->closes_pending--;
	maybe_finish_close(io);
}

static void close_handle(struct zb_stdio *io, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	h->data = io;
	io->closes_pending++;
	uv_close(h, on_closed);
}

static void on_linger(uv_timer_t *t)
{
	struct zb_stdio *io = t->data;
	zb_warning("stdout is not being read; %zu bytes of replies were dropped at exit",
		   io->queued);
	io->write_failed = true;
	/* Closing the stream cancels its queued writes (their callbacks run with an error). */
	if (io->out_kind == IO_STREAM)
		close_handle(io, &io->out.handle);
}

static void maybe_finish_close(struct zb_stdio *io)
{
	if (io->in_busy)
		return;
	if (io->out_kind == IO_STREAM && io->writes_pending == 0)
		close_handle(io, &io->out.handle);
	if (io->closes_pending > 0 || io->writes_pending > 0)
		return;
	if (!uv_is_closing((uv_handle_t *)&io->linger)) {
		close_handle(io, (uv_handle_t *)&io->linger);
		return;
	}
	void (*done)(void *) = io->done;
	void *arg = io->done_arg;
	zb_framer_free(&io->framer);
	free(io->in_buf);
	free(io);
	if (done)
		done(arg);
}

void zb_stdio_close(struct zb_stdio *io, void (*done)(void *arg), void *arg)
{
	io->closing = true;
	io->done = done;
	io->done_arg = arg;
	zb_stdio_stop(io);
	if (io->in_kind == IO_STREAM)
		close_handle(io, &io->in.handle);
	close_handle(io, (uv_handle_t *)&io->hangup);
	uv_timer_init(io->loop, &io->linger);
	io->linger.data = io;
	if (io->writes_pending > 0)
		uv_timer_start(&io->linger, on_linger, 2000, 0);
	maybe_finish_close(io);
}

/* ---------------------------------------------------------------- serialising */

static void out_reserve(struct zb_jbuf *o, size_t n)
{
	if (o->len + n <= o->cap)
		return;
	size_t cap = o->cap ? o->cap : 256;
	while (cap < o->len + n)
		cap *= 2;
	o->s = zb_xrealloc(o->s, cap);
	o->cap = cap;
}

static void out_add(struct zb_jbuf *o, const char *s, size_t n)
{
	if (n == 0)
		return;
	out_reserve(o, n);
	memcpy(o->s + o->len, s, n);
	o->len += n;
}

static inline void out_char(struct zb_jbuf *o, char c)
{
	out_reserve(o, 1);
	o->s[o->len++] = c;
}

/* The bytes of w (8, in memory order) that need an escape in a JSON string: a control
 * character (below 0x20), '"' or '\\', each marked by its high bit. Bytes of 0x80 and above
 * never do (jansson keeps strings valid UTF-8). Exact per byte: no carry crosses a byte,
 * because every sum is made of values below 0x80. */
static inline uint64_t escape_mask(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	const uint64_t lows = 0x7f7f7f7f7f7f7f7full;
	uint64_t low7 = w & lows;
	uint64_t below = ~(low7 + ones * 0x60); /* high bit: low 7 bits < 0x20 */
	uint64_t q = low7 ^ (ones * '"'), b = low7 ^ (ones * '\\');
	uint64_t is_q = ~((q + lows) | q), is_b = ~((b + lows) | b); /* high bit: zero byte */
	return (below | is_q | is_b) & ~w & highs;
}

/* jansson keeps strings valid UTF-8, so only '"', '\\' and control characters need care.
 * Words of 8 bytes are copied whole up to their first byte that needs an escape; the output
 * is written in place, in blocks whose worst case (every byte a \u00XX) is reserved first,
 * because a JSON text escaped once more (a tool result's text block) has a quote every few
 * bytes, and a 1 MiB file a newline every few dozen. */
static void dump_string(struct zb_jbuf *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	/* The escape of each byte: 0 none, else the letter after the backslash ('u': \u00XX). */
	static const char esc_tab[256] = {
		[0 ... 7] = 'u', ['\b'] = 'b', ['\t'] = 't',	      ['\n'] = 'n', [0x0b] = 'u',
		['\f'] = 'f',	 ['\r'] = 'r', [0x0e ... 0x1f] = 'u', ['"'] = '"',  ['\\'] = '\\',
	};
	enum { BLOCK = 4096 };
	out_char(o, '"');
	size_t i = 0;
	while (i < len) {
		size_t stop = len - i > BLOCK ? i + BLOCK : len;
		out_reserve(o, (stop - i) * 6);
		char *d = o->s + o->len;
		while (i < stop) {
			unsigned char c;
#ifdef __SSE2__
			if (i + 16 <= stop) {
				/* The same, 16 bytes at a time. */
				__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
				_mm_storeu_si128((__m128i *)(void *)d, v);
				const __m128i ctl_max = _mm_set1_epi8(0x1f);
				__m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, ctl_max), ctl_max);
				__m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
				__m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
				unsigned m = (unsigned)_mm_movemask_epi8(
					_mm_or_si128(ctl, _mm_or_si128(q, b)));
				if (!m) {
					d += 16;
					i += 16;
					continue;
				}
				unsigned k = (unsigned)__builtin_ctz(m);
				d += k;
				i += k;
				c = (unsigned char)s[i++];
			} else
#endif
				if (i + 8 <= stop) {
				uint64_t w;
				memcpy(&w, s + i, 8);
				memcpy(d, &w, 8); /* whole, even if only its start is kept */
				uint64_t m = escape_mask(w);
				if (!m) {
					d += 8;
					i += 8;
					continue;
				}
				/* The first such byte in memory: the lowest marked one on a
				 * little-endian machine, the highest on a big-endian one. */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
				unsigned k = (unsigned)__builtin_clzll(m) >> 3;
#else
				unsigned k = (unsigned)__builtin_ctzll(m) >> 3;
#endif
				d += k;
				i += k;
				c = (unsigned char)s[i++];
			} else {
				c = (unsigned char)s[i++];
				if (!esc_tab[c]) {
					*d++ = (char)c;
					continue;
				}
			}
			*d++ = '\\';
			*d++ = esc_tab[c];
			if (esc_tab[c] == 'u') {
				memcpy(d, "00", 2);
				d[2] = hex[c >> 4];
				d[3] = hex[c & 15];
				d += 4;
			}
		}
		o->len = (size_t)(d - o->s);
	}
	out_char(o, '"');
}

static void dump(struct zb_jbuf *o, const json_t *v)
{
	char num[64];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *m;
		bool first = true;
		out_char(o, '{');
		json_object_foreach((json_t *)v, k, m)
		{
			if (!first)
				out_char(o, ',');
			first = false;
			dump_string(o, k, strlen(k));
			out_char(o, ':');
			dump(o, m);
		}
		out_char(o, '}');
		break;
	}
	case JSON_ARRAY: {
		out_char(o, '[');
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				out_char(o, ',');
			dump(o, json_array_get(v, i));
		}
		out_char(o, ']');
		break;
	}
	case JSON_STRING:
		dump_string(o, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		out_add(o, num,
			(size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
					 json_integer_value(v)));
		break;
	case JSON_REAL: {
		/* As jansson writes reals: 17 significant digits, and always a fraction or an
		 * exponent so the value reads back as a real. */
		int n = snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		char *e = strchr(num, 'e');
		if (e) {
			/* "1e+300" and "1e-07" become "1e300" and "1e-7", as jansson writes them.
			 */
			char *d = e + 1, *from = e + 1;
			if (*from == '+')
				from++;
			else if (*from == '-')
				*d++ = *from++;
			while (*from == '0' && from[1])
				from++;
			memmove(d, from, strlen(from) + 1);
			n = (int)strlen(num);
		} else if (!strchr(num, '.') && n < (int)sizeof(num) - 2) {
			memcpy(num + n, ".0", 3);
			n += 2;
		}
		out_add(o, num, (size_t)n);
		break;
	}
	case JSON_TRUE:
		out_add(o, "true", 4);
		break;
	case JSON_FALSE:
		out_add(o, "false", 5);
		break;
	case JSON_NULL:
		out_add(o, "null", 4);
		break;
	}
}

void zb_jbuf_reserve(struct zb_jbuf *b, size_t len)
{
	out_reserve(b, len);
}

void zb_jbuf_add(struct zb_jbuf *b, const char *s, size_t len)
{
	out_add(b, s, len);
}

void zb_jbuf_json(struct zb_jbuf *b, const json_t *v)
{
	dump(b, v);
}

void zb_jbuf_string(struct zb_jbuf *b, const char *s, size_t len)
{
	dump_string(b, s, len);
}

char *zb_json_dumps(const json_t *v, size_t *ret_len)
{
	struct zb_jbuf o = {0};
	dump(&o, v);
	out_reserve(&o, 2); /* room for the caller's newline and a NUL */
	o.s[o.len] = '\0';
	*ret_len = o.len;
	return o.s;
}

/* ---------------------------------------------------------------- envelopes */

static json_t *envelope(const json_t *id)
{
	json_t *m = json_object();
	json_object_set_new(m, "jsonrpc", json_string("2.0"));
	json_object_set_new(m, "id", id ? json_deep_copy(id) : json_null());
	return m;
}

json_t *zb_rpc_result(const json_t *id, json_t *result)
{
	json_t *m = envelope(id);
	json_object_set_new(m, "result", result ? result : json_object());
	return m;
}

json_t *zb_rpc_error(const json_t *id, int code, const char *message, json_t *data)
{
	json_t *m = envelope(id);
	json_t *e = json_object();
	json_object_set_new(e, "code", json_integer(code));
	json_object_set_new(e, "message", zb_json_str(message));
	if (data)
		json_object_set_new(e, "data", data);
	json_object_set_new(m, "error", e);
	return m;
}

json_t *zb_rpc_notification(const char *method, json_t *params)
{
	json_t *m = json_object();
	json_object_set_new(m, "jsonrpc", json_string("2.0"));
	json_object_set_new(m, "method", json_string(method));
	if (params)
		json_object_set_new(m, "params", params);
	return m;
}

json_t *zb_rpc_request(json_int_t id, const char *method, json_t *params)
{
	json_t *m = json_object();
	json_object_set_new(m, "jsonrpc", json_string("2.0"));
	json_object_set_new(m, "id", json_integer(id));
	json_object_set_new(m, "method", json_string(method));
	if (params)
		json_object_set_new(m, "params", params);
	return m;
}

json_t *zb_json_text(const char *s, size_t len)
{
	if (zb_utf8_valid_prefix(s, len) == len)
		return json_stringn(s, len);
	size_t n;
	char *fixed = zb_utf8_repair(s, len, &n);
	json_t *j = json_stringn(fixed, n);
	free(fixed);
	return j;
}
