/* The audit log (audit.path): one JSON object per line for every tool call, appended and
 * fsync'd, never on stdout. Lines are written in order on the thread pool, so a slow disk
 * never stalls the loop. If the file cannot be opened or written, every later call is
 * refused: a call that cannot be recorded does not run. */
#pragma once

#include <jansson.h>
#include <uv.h>

#include "error.h"

struct zb_audit;
struct zb_tool_call;
struct zb_verdict;

/* NULL when path is NULL (no audit log). A file that cannot be opened gives a log that
 * refuses every call with the reason. */
struct zb_audit *zb_audit_open(uv_loop_t *loop, const char *path);
/* 0 if calls may run, -1 and *err (a tool error that says how to fix it) if not. */
int zb_audit_check(const struct zb_audit *a, struct zb_error **err);
/* What the log keeps of a tools/call result. */
struct zb_audit_result {
	const json_t *structured; /* borrowed; NULL when there is none */
	bool is_error;
	size_t bytes_out;	/* of text content */
	const char *error_text; /* the error's message when is_error */
};
/* The facts above, read off a tools/call result (borrowed; they borrow from it). */
void zb_audit_result_of(const json_t *result, struct zb_audit_result *ret);
/* One finished call; `id` is the request's id. */
void zb_audit_call(struct zb_audit *a, const json_t *id, const struct zb_tool_call *call,
		   const struct zb_verdict *verdict, const struct zb_audit_result *res,
		   uint64_t duration_ms);
/* After the loop has stopped (every write is done). */
void zb_audit_free(struct zb_audit *a);

/* The call's arguments as logged: env values with secret-looking names masked, very long
 * strings (file contents, stdin) cut. Returns a new reference. */
json_t *zb_audit_arguments(const json_t *args);
