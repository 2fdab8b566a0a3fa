/* Errors travel up as a struct zb_error: a message plus an errno-like code and a kind that
 * tells the one wire-mapping place (mcp.c) whether this is a protocol fault or a tool
 * failure. Callers add context on the way up with zb_error_prefix(). */
#pragma once

#include "util.h"

enum zb_error_kind {
	ZB_ERR_INTERNAL = 0,	/* a bug or a system failure: tool result isError */
	ZB_ERR_INVALID_PARAMS,	/* JSON-RPC -32602 */
	ZB_ERR_INVALID_REQUEST, /* JSON-RPC -32600 */
	ZB_ERR_TOOL,		/* the tool ran and failed: isError result */
	ZB_ERR_CONFIG,		/* bad configuration: exit 2 */
};

struct zb_error {
	enum zb_error_kind kind;
	int errnum; /* errno value or 0 */
	char *msg;
};

/* Set *err (if err is non-NULL) and return -1, so `return zb_error_set(err, ...)` works. */
int zb_error_set(struct zb_error **err, enum zb_error_kind kind, int errnum, const char *fmt, ...)
	ZB_PRINTF(4, 5);
/* Prefix the message of an existing error: "context: old message". Returns -1. */
int zb_error_prefix(struct zb_error **err, const char *fmt, ...) ZB_PRINTF(2, 3);
void zb_error_free(struct zb_error *e);
static inline void zb_error_freep(struct zb_error **e)
{
	zb_error_free(*e);
}
#define _cleanup_error_ _cleanup_(zb_error_freep)
