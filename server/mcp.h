/* The MCP session: lifecycle (initialize, version negotiation), the method dispatch table,
 * in-flight requests (served concurrently, answered out of order, cancellable), JSON-RPC
 * batches for 2025-03-26, and the one place that maps errors to the wire. */
#pragma once

#include <jansson.h>
#include <uv.h>

#include "config.h"
#include "error.h"

struct zb_server;
struct zb_session;
struct zb_backend;

/* How the server hands messages to the writer: `msg` is stolen. */
typedef void (*zb_send_fn)(void *ud, json_t *msg);

/* The same for a message the server serialised itself, in pieces (struct zb_part: each taken,
 * or borrowed, see rpc.h) written one after the other; a message may be sent in more than
 * one such call, back to back, its last piece ending in '\n'. */
struct zb_part;
typedef void (*zb_send_line_fn)(void *ud, struct zb_part *parts, size_t n);

/* The server takes ownership of `cfg`. */
struct zb_server *zb_server_new(uv_loop_t *loop, struct zb_config *cfg, zb_send_fn send,
				void *send_ud);
/* Optional: where lines go that the server puts together itself (large tool results, sent
 * without a second serialisation); they reach `send_ud` like the messages. Without it every
 * message goes through `send`. */
void zb_server_set_line_sink(struct zb_server *srv, zb_send_line_fn send_line);
/* One line from the client (a JSON-RPC message or batch). */
void zb_server_handle_line(struct zb_server *srv, const char *line, size_t len);
/* A line over the size cap was received and dropped. */
void zb_server_handle_oversize(struct zb_server *srv, size_t max_line);
/* Cancel everything in flight, close the backend session; done(arg) runs once all handles
 * are closed and every request is released. Nothing is sent after this starts. */
void zb_server_shutdown(struct zb_server *srv, void (*done)(void *arg), void *arg);
void zb_server_free(struct zb_server *srv);

/* For tools. */
uv_loop_t *zb_server_loop(struct zb_server *srv);
const struct zb_config *zb_server_config(struct zb_server *srv);
const char *zb_server_protocol_version(struct zb_server *srv);
/* The backend session, opened on first use. NULL with *err set when it cannot be opened. */
struct zb_session *zb_server_session(struct zb_server *srv, const struct zb_backend **ret_backend,
				     struct zb_error **err);
/* The backend session died: forget it, so the next call opens a new one. */
void zb_server_session_lost(struct zb_server *srv);
/* Send a notification to the client (params stolen). Dropped during shutdown. */
void zb_server_notify(struct zb_server *srv, const char *method, json_t *params);
/* A request from the server to the client (e.g. elicitation/create). `done` runs exactly once:
 * with the result (borrowed) or with an error message (result NULL) when the client answered
 * with an error, or the server shuts down. Returns -1 (and *err) if it cannot be sent. */
typedef void (*zb_reply_fn)(void *ud, const json_t *result, const char *error);
int zb_server_request(struct zb_server *srv, const char *method, json_t *params, zb_reply_fn done,
		      void *ud, json_int_t *ret_id, struct zb_error **err);
/* Give up on a request sent with zb_server_request: its `done` runs now with an error, and the
 * client is told with notifications/cancelled, so it can take its question off the screen. */
void zb_server_request_cancel(struct zb_server *srv, json_int_t id, const char *reason);
/* The client's capabilities from initialize (borrowed; an empty object before it). */
const json_t *zb_server_client_capabilities(struct zb_server *srv);
/* Tool names as advertised: "shell.run" or "shell_run". */
bool zb_server_underscore_names(struct zb_server *srv);
