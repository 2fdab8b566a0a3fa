/* Line framing for JSON-RPC over stdio: a pure framer (bytes in, lines out, with a size
 * cap), the stdio transport on the server's libuv loop (one reader, one writer, with
 * backpressure), and the JSON-RPC 2.0 envelope builders. */
#pragma once

#include <jansson.h>
#include <uv.h>

#include "util.h"

/* JSON-RPC error codes used on the wire. */
enum {
	ZB_RPC_PARSE_ERROR = -32700,
	ZB_RPC_INVALID_REQUEST = -32600,
	ZB_RPC_METHOD_NOT_FOUND = -32601,
	ZB_RPC_INVALID_PARAMS = -32602,
	ZB_RPC_INTERNAL_ERROR = -32603,
};

struct zb_framer {
	char *buf;
	size_t len, cap;
	size_t max_line;
	bool discarding; /* inside a line over the cap: drop bytes until its newline */
	/* A complete line without its "\n" (and a trailing "\r"); blank lines are skipped. */
	void (*on_line)(void *ud, const char *line, size_t len);
	/* A line grew past max_line; called once per such line, as soon as it is known. */
	void (*on_oversize)(void *ud, size_t max_line);
	void *ud;
};

void zb_framer_init(struct zb_framer *f, size_t max_line,
		    void (*on_line)(void *ud, const char *line, size_t len),
		    void (*on_oversize)(void *ud, size_t max_line), void *ud);
void zb_framer_feed(struct zb_framer *f, const char *data, size_t n);
/* End of input: a last line without a newline still counts. */
void zb_framer_finish(struct zb_framer *f);
void zb_framer_free(struct zb_framer *f);

/* The stdio transport. Lines read from `in_fd` go to the framer; messages sent are written to
 * `out_fd` as one compact JSON line each, in the order sent. Reading pauses while more than
 * `high_water` bytes wait to be written, so a client that does not read cannot make the server
 * grow without bound. */
struct zb_stdio;

struct zb_stdio *zb_stdio_new(uv_loop_t *loop, int in_fd, int out_fd, size_t max_line,
			      void (*on_line)(void *ud, const char *line, size_t len),
			      void (*on_oversize)(void *ud, size_t max_line),
			      void (*on_eof)(void *ud), void *ud);
int zb_stdio_start(struct zb_stdio *io);
/* Takes ownership of msg. Never blocks the loop (except on a regular file). */
void zb_stdio_send(struct zb_stdio *io, json_t *msg);
/* The same for a line already serialised (ending in '\n'); takes ownership of `text`. */
void zb_stdio_send_line(struct zb_stdio *io, char *text, size_t len);
/* A line in up to ZB_MAX_PARTS pieces, written together: a large result's structuredContent
 * is sent from the buffer it was serialised into, not copied. A piece is malloc'd and taken,
 * or `borrowed`: still the caller's, who may change or free it once the send returns. */
struct zb_part {
	char *data;
	size_t len;
	bool borrowed;
};
#define ZB_MAX_PARTS 4
void zb_stdio_send_parts(struct zb_stdio *io, struct zb_part *parts, size_t n);
/* Stop reading. */
void zb_stdio_stop(struct zb_stdio *io);
/* Flush what is queued, close the handles, free `io`; done(arg) runs when all is written. */
void zb_stdio_close(struct zb_stdio *io, void (*done)(void *arg), void *arg);
size_t zb_stdio_queued_bytes(const struct zb_stdio *io);

/* Envelopes. `id` is borrowed (copied in); the result/data arguments are stolen. */
json_t *zb_rpc_result(const json_t *id, json_t *result);
json_t *zb_rpc_error(const json_t *id, int code, const char *message, json_t *data);
json_t *zb_rpc_notification(const char *method, json_t *params);
json_t *zb_rpc_request(json_int_t id, const char *method, json_t *params);

/* Compact JSON text of v (any type), malloc'd, with its length in *ret_len. The same text as
 * json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), several times faster on large strings, which
 * is what tool results are made of. */
char *zb_json_dumps(const json_t *v, size_t *ret_len);

/* A growing buffer of JSON text, for messages put together from pieces (a tool result whose
 * structured part is serialised once and used twice). Start from {0}; free(b.s) when done. */
struct zb_jbuf {
	char *s;
	size_t len, cap;
};
void zb_jbuf_add(struct zb_jbuf *b, const char *s, size_t len);
/* Room for len more bytes, so that a buffer whose size is known roughly is not grown (and
 * copied) step by step. */
void zb_jbuf_reserve(struct zb_jbuf *b, size_t len);
/* v as compact JSON, as zb_json_dumps writes it. */
void zb_jbuf_json(struct zb_jbuf *b, const json_t *v);
/* s (valid UTF-8) as a JSON string, quoted and escaped. */
void zb_jbuf_string(struct zb_jbuf *b, const char *s, size_t len);

/* A JSON string from bytes that may not be valid UTF-8 (child output, file names): invalid
 * sequences become U+FFFD, so the result is never NULL. */
json_t *zb_json_text(const char *s, size_t len);
static inline json_t *zb_json_str(const char *s)
{
	return zb_json_text(s, strlen(s));
}
