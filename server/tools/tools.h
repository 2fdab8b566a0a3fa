/* The tool table and the contract between mcp.c and one tool call. A tool is started with
 * validated arguments and ends exactly once, through zb_tool_call_finish() or
 * zb_tool_call_fail(), possibly from a later loop iteration. */
#pragma once

#include <jansson.h>

#include "../error.h"
#include "../mcp.h"

struct zb_tool_call;

struct zb_tool {
	const char *name;   /* dotted: "fs.read" */
	const char *schema; /* embedded file: "tools/fs.read.json" */
	void (*call)(struct zb_tool_call *call);
};

struct zb_tool_call {
	struct zb_server *srv;
	const struct zb_tool *tool;
	const json_t *args;	      /* validated against the tool's inputSchema; borrowed */
	const json_t *progress_token; /* params._meta.progressToken, or NULL; borrowed */
	/* Set by a tool that keeps running after call() returns; called at most once when the
	 * client cancels or the server shuts down. The tool must still finish or fail. */
	void (*cancel)(struct zb_tool_call *call);
	void *state;   /* the tool's */
	void *request; /* mcp.c's */
};

/* All tools, in the stable order of tools/list. */
const struct zb_tool *zb_tools_all(size_t *ret_n);
/* Both spellings ("fs.read", "fs_read"); NULL if unknown. */
const struct zb_tool *zb_tool_find(const char *name);

/* Successful result: `structured` (stolen) becomes structuredContent and its JSON the text. */
void zb_tool_call_finish(struct zb_tool_call *call, json_t *structured);
/* The same, with more content blocks after the text block: `extra` (stolen, an array, may be
 * NULL), e.g. the image content of fs.read. */
void zb_tool_call_finish_content(struct zb_tool_call *call, json_t *structured, json_t *extra);
/* The same for a result the tool serialised itself: `text` (stolen) is the structuredContent's
 * compact JSON, valid UTF-8, with nothing else to add. A listing of 10,000 entries is written
 * straight into text instead of being built as 10,000 jansson objects and then serialised. */
void zb_tool_call_finish_text(struct zb_tool_call *call, char *text, size_t len);
/* The tool ran and failed: an isError result whose text is err->msg (stolen); `structured`
 * (stolen, may be NULL) is attached when it fits the tool's outputSchema. */
void zb_tool_call_fail(struct zb_tool_call *call, struct zb_error *err, json_t *structured);
/* notifications/progress, when the caller asked for it (no-op otherwise). */
void zb_tool_call_progress(struct zb_tool_call *call, double progress, double total,
			   const char *message);
bool zb_tool_call_cancelled(const struct zb_tool_call *call);

/* The tool families. */
void zb_tool_shell_run(struct zb_tool_call *call);
void zb_tool_fs(struct zb_tool_call *call);
