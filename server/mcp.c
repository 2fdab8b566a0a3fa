#include "mcp.h"

#include <stdio.h>

#include "zb-build.h"
#include "approval.h"
#include "audit.h"
#include "backends/backend.h"
#include "log.h"
#include "rpc.h"
#include "schema.h"
#include "tools/tools.h"

/* Newest first; the first one is what we answer when the client asks for one we don't know. */
static const char *const protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
						"2024-11-05"};

enum server_state { ST_NEW, ST_READY };

struct batch {
	json_t *replies; /* array */
	size_t pending;	 /* requests of the batch not answered yet */
};

/* One request that is answered later (a tools/call). */
struct request {
	struct request *prev, *next;
	struct zb_server *srv;
	json_t *id;
	char *key; /* the id as compact JSON: string ids and integer ids never collide */
	struct batch *batch;
	bool cancelled;
	uint64_t started_ms;
	struct zb_verdict verdict; /* the approval layer's, for the audit log */
	struct zb_tool_call call;
};

/* A request we sent to the client, waiting for its response. */
struct outgoing {
	struct outgoing *next;
	json_int_t id;
	zb_reply_fn done;
	void *ud;
};

struct zb_server {
	uv_loop_t *loop;
	struct zb_config *cfg;
	zb_send_fn send;
	zb_send_line_fn send_line; /* optional: lines serialised by the server */
	void *send_ud;
	enum server_state state;
	const char *version; /* negotiated */
	json_t *client_capabilities;
	json_t *tool_list; /* array of the tools as advertised */

	struct request *requests; /* in flight */
	size_t n_requests;

	const struct zb_backend *backend;
	struct zb_session *session;
	unsigned sessions_closing; /* lost or closed sessions whose close has not finished */

	bool shutting_down;
	void (*shutdown_done)(void *arg);
	void *shutdown_arg;
	bool logging_to_client;

	struct outgoing *outgoing;
	json_int_t next_outgoing_id;

	struct zb_approval *approval;
	struct zb_audit *audit;
};

static const char *instructions =
	"zonebox runs shell commands and file operations inside a sandbox that contains only the "
	"configured zones, mounted at /<zone name>. Call fs.zones first to see which zones exist "
	"and which are writable. Paths are sandbox paths such as /work/src/main.c; a relative "
	"path is relative to the first zone. Anything outside the zones does not exist for you.";

/* ---------------------------------------------------------------- sending */

static void send_msg(struct zb_server *srv, json_t *msg)
{
	if (srv->shutting_down) {
		json_decref(msg);
		return;
	}
	srv->send(srv->send_ud, msg);
}

void zb_server_notify(struct zb_server *srv, const char *method, json_t *params)
{
	send_msg(srv, zb_rpc_notification(method, params));
}

/* A reply to a message of a batch waits in the batch; everything else goes out now. */
static void reply(struct zb_server *srv, struct batch *b, json_t *msg)
{
	if (!b) {
		send_msg(srv, msg);
		return;
	}
	json_array_append_new(b->replies, msg);
}

static void batch_done_one(struct zb_server *srv, struct batch *b)
{
	if (--b->pending > 0)
		return;
	/* A batch of notifications only gets no reply at all (JSON-RPC 2.0, section 6). */
	if (json_array_size(b->replies) > 0)
		send_msg(srv, json_incref(b->replies));
	json_decref(b->replies);
	free(b);
}

static void reply_error(struct zb_server *srv, struct batch *b, const json_t *id, int code,
			const char *fmt, ...) ZB_PRINTF(5, 6);
static void reply_error(struct zb_server *srv, struct batch *b, const json_t *id, int code,
			const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	msg = zb_xvasprintf(fmt, ap);
	va_end(ap);
	reply(srv, b, zb_rpc_error(id, code, msg, NULL));
	free(msg);
}

/* ---------------------------------------------------------------- logging to the client */

static void log_sink(void *ud, enum zb_log_level level, const char *msg)
{
	struct zb_server *srv = ud;
	json_t *p = json_object();
	json_object_set_new(p, "level", json_string(zb_log_level_name(level)));
	json_object_set_new(p, "logger", json_string("zonebox"));
	json_object_set_new(p, "data", zb_json_str(msg));
	zb_server_notify(srv, "notifications/message", p);
}

/* ---------------------------------------------------------------- tools/list */

/* The advertised list is built once: the embedded files, renamed in underscore mode. */
static json_t *build_tool_list(bool underscore)
{
	json_t *list = json_array();
	size_t n;
	const struct zb_tool *tools = zb_tools_all(&n);
	for (size_t i = 0; i < n; i++) {
		const json_t *def = zb_schema_get(tools[i].schema);
		if (!def) {
			zb_err("internal error: schema %s is not embedded", tools[i].schema);
			abort();
		}
		json_t *t = json_copy((json_t *)def);
		if (underscore) {
			char *name = zb_xstrdup(tools[i].name);
			for (char *p = name; *p; p++)
				if (*p == '.')
					*p = '_';
			json_object_set_new(t, "name", json_string(name));
			free(name);
		}
		json_array_append_new(list, t);
	}
	return list;
}

/* Cursors are opaque to clients: "zb1:" and an offset. Anything else is refused. */
static json_t *tools_list(struct zb_server *srv, const json_t *params, struct zb_error **err)
{
	const char *cursor = NULL;
	json_error_t je;
	if (params && json_unpack_ex((json_t *)params, &je, JSON_STRICT, "{s?s, s?o}", "cursor",
				     &cursor, "_meta", &(json_t *){NULL}) < 0) {
		zb_error_set(err, ZB_ERR_INVALID_PARAMS, 0, "invalid tools/list params: %s",
			     je.text);
		return NULL;
	}
	size_t total = json_array_size(srv->tool_list);
	size_t page = srv->cfg->server.tools_page_size ? srv->cfg->server.tools_page_size : total;
	size_t start = 0;
	if (cursor) {
		char *end = NULL;
		unsigned long v = 0;
		if (strncmp(cursor, "zb1:", 4) == 0 && cursor[4] >= '0' && cursor[4] <= '9') {
			errno = 0;
			v = strtoul(cursor + 4, &end, 10);
		}
		if (!end || *end || errno || v == 0 || v >= total) {
			zb_error_set(
				err, ZB_ERR_INVALID_PARAMS, 0,
				"invalid cursor \"%s\": pass back exactly the nextCursor of the "
				"previous tools/list result, or no cursor to start over",
				cursor);
			return NULL;
		}
		start = v;
	}
	json_t *tools = json_array();
	for (size_t i = start; i < total && i < start + page; i++)
		json_array_append(tools, json_array_get(srv->tool_list, i));
	json_t *result = json_object();
	json_object_set_new(result, "tools", tools);
	if (start + page < total) {
		char buf[32];
		snprintf(buf, sizeof(buf), "zb1:%zu", start + page);
		json_object_set_new(result, "nextCursor", json_string(buf));
	}
	return result;
}

/* ---------------------------------------------------------------- tool calls */

static void request_free(struct request *r)
{
	json_decref(r->id);
	json_decref((json_t *)r->call.args);
	json_decref((json_t *)r->call.progress_token);
	zb_verdict_clear(&r->verdict);
	free(r->key);
	free(r);
}

static void request_unlink(struct zb_server *srv, struct request *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		srv->requests = r->next;
	if (r->next)
		r->next->prev = r->prev;
	srv->n_requests--;
}

static void maybe_shutdown_done(struct zb_server *srv);

/* A result the server serialised itself: the structured part's compact JSON (owned) and
 * the content blocks that follow the text block (owned, may be NULL). */
struct result_text {
	char *json;
	size_t len;
	json_t *extra;
};

static void send_result_text(struct zb_server *srv, const struct request *r,
			     const struct result_text *t)
{
	/* In two sends, one right after the other on this thread (nothing can come between):
	 * first the envelope and the structured part as it is, which the client starts to
	 * read while the text block, the same JSON escaped once more, is made. Keys in this
	 * order (structuredContent, content, isError) are as good as any in JSON. */
	struct zb_jbuf h = {0};
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
	zb_jbuf_add(&h, head, sizeof(head) - 1);
	zb_jbuf_json(&h, r->id);
	static const char sc[] = ",\"result\":{\"structuredContent\":";
	zb_jbuf_add(&h, sc, sizeof(sc) - 1);
	struct zb_part first[] = {{h.s, h.len, false}, {t->json, t->len, true}};
	srv->send_line(srv->send_ud, first, 2);

	struct zb_jbuf b = {0};
	zb_jbuf_reserve(&b, t->len + t->len / 8 + 256); /* escaped once more: a little longer */
	static const char content[] = ",\"content\":[{\"type\":\"text\",\"text\":";
	zb_jbuf_add(&b, content, sizeof(content) - 1);
	zb_jbuf_string(&b, t->json, t->len);
	zb_jbuf_add(&b, "}", 1);
	size_t i;
	json_t *c;
	json_array_foreach(t->extra, i, c)
	{
		zb_jbuf_add(&b, ",", 1);
		zb_jbuf_json(&b, c);
	}
	static const char tail[] = "],\"isError\":false}}\n";
	zb_jbuf_add(&b, tail, sizeof(tail) - 1);
	struct zb_part second[] = {{b.s, b.len, false}};
	srv->send_line(srv->send_ud, second, 1);
}

/* The end of every tools/call: the reply (unless cancelled), then the request is released.
 * The reply is `result` or, when `t` is given, that text (see send_result_text). */
static void request_complete_as(struct request *r, json_t *result, struct result_text *t,
				const struct zb_audit_result *facts)
{
	struct zb_server *srv = r->srv;
	request_unlink(srv, r);
	zb_audit_call(srv->audit, r->id, &r->call, &r->verdict, facts,
		      uv_now(srv->loop) - r->started_ms);
	if (r->cancelled || srv->shutting_down) {
		/* The client no longer waits for this (notifications/cancelled): no reply. */
	} else if (t) {
		send_result_text(srv, r, t);
	} else {
		reply(srv, r->batch, zb_rpc_result(r->id, json_incref(result)));
	}
	json_decref(result);
	if (t) {
		free(t->json);
		json_decref(t->extra);
	}
	if (r->batch)
		batch_done_one(srv, r->batch);
	request_free(r);
	maybe_shutdown_done(srv);
}

static void request_complete(struct request *r, json_t *result)
{
	struct zb_audit_result facts;
	zb_audit_result_of(result, &facts);
	request_complete_as(r, result, NULL, &facts);
}

static struct request *call_request(struct zb_tool_call *call)
{
	return call->request;
}

static json_t *text_content(const char *text, size_t len)
{
	json_t *c = json_object();
	json_object_set_new(c, "type", json_string("text"));
	json_object_set_new(c, "text", zb_json_text(text, len));
	json_t *arr = json_array();
	json_array_append_new(arr, c);
	return arr;
}

/* The tools build their results to fit by construction, and validating a 10,000-entry listing
 * costs more than building it; the tests (ZONEBOX_CHECK_OUTPUT=1, set by
 * tests/integration/conftest.py) are where a misfit is caught. */
static bool check_output(void)
{
	static int check = -1;
	if (check < 0) {
		const char *e = getenv("ZONEBOX_CHECK_OUTPUT");
		check = e && *e && strcmp(e, "0") != 0;
	}
	return check;
}

/* A result's structured part must fit the tool's outputSchema; one that does not is our bug,
 * and clients that validate would reject the whole result, so it is logged and left out. */
static bool fits_output_schema(const struct zb_tool *tool, const json_t *structured)
{
	if (!check_output())
		return true;
	const json_t *def = zb_schema_get(tool->schema);
	const json_t *schema = def ? json_object_get(def, "outputSchema") : NULL;
	if (!schema)
		return true;
	_cleanup_error_ struct zb_error *err = NULL;
	if (zb_schema_validate(schema, structured, "structuredContent", &err) == 0)
		return true;
	zb_err("internal error: %s returned a result that does not fit its outputSchema: %s",
	       tool->name, err->msg);
	return false;
}

void zb_tool_call_finish(struct zb_tool_call *call, json_t *structured)
{
	zb_tool_call_finish_content(call, structured, NULL);
}

/* A successful result whose structured part is `text` (its compact JSON, stolen; `structured`
 * the same as a tree, stolen, or NULL when the tool wrote the text itself). */
static void finish_serialised(struct zb_tool_call *call, json_t *structured, char *text, size_t len,
			      json_t *extra)
{
	struct request *r = call_request(call);
	struct zb_server *srv = r->srv;
	if (!structured && (check_output() || !srv->send_line || r->batch)) {
		/* The tree is only needed to check it against the schema or to put the reply
		 * into a batch; the tool's text is ours, so it parses. */
		json_error_t je;
		/* A file's text may hold NUL (as \u0000): allowed, as everywhere else. */
		structured = json_loadb(text, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
		if (!structured) {
			zb_err("internal error: %s wrote a result that is not JSON: %s",
			       call->tool->name, je.text);
			structured = json_object();
		}
	}
	bool fits = !structured || fits_output_schema(call->tool, structured);
	if (fits && srv->send_line && !r->batch) {
		/* The structured part is serialised once: as it is, it is the
		 * structuredContent, and escaped once more the text block; no copy of it is
		 * held as a jansson string. */
		struct result_text t = {text, len, extra};
		struct zb_audit_result facts = {.structured = structured, .bytes_out = len};
		request_complete_as(r, NULL, &t, &facts);
		json_decref(structured);
		return;
	}
	json_t *result = json_object();
	/* Serialised from jansson strings, so already valid UTF-8: no second check. */
	json_t *block = json_object();
	json_object_set_new(block, "type", json_string("text"));
	json_object_set_new(block, "text", json_stringn_nocheck(text, len));
	json_t *content = json_array();
	json_array_append_new(content, block);
	free(text);
	if (extra)
		json_array_extend(content, extra);
	json_decref(extra);
	json_object_set_new(result, "content", content);
	if (fits)
		json_object_set_new(result, "structuredContent", structured);
	else
		json_decref(structured);
	json_object_set_new(result, "isError", json_false());
	request_complete(r, result);
}

void zb_tool_call_finish_content(struct zb_tool_call *call, json_t *structured, json_t *extra)
{
	size_t len;
	char *text = zb_json_dumps(structured, &len);
	finish_serialised(call, structured, text, len, extra);
}

void zb_tool_call_finish_text(struct zb_tool_call *call, char *text, size_t len)
{
	finish_serialised(call, NULL, text, len, NULL);
}

void zb_tool_call_fail(struct zb_tool_call *call, struct zb_error *err, json_t *structured)
{
	json_t *result = json_object();
	const char *msg = err && err->msg ? err->msg : "the tool failed for an unknown reason";
	if (structured) {
		/* The message first, for the model; the data after it, for programs. */
		size_t dlen;
		char *data = zb_json_dumps(structured, &dlen);
		char *text = zb_xasprintf("%s\n%s", msg, data);
		json_object_set_new(result, "content", text_content(text, strlen(text)));
		free(text);
		free(data);
		if (fits_output_schema(call->tool, structured))
			json_object_set_new(result, "structuredContent", structured);
		else
			json_decref(structured);
	} else {
		json_object_set_new(result, "content", text_content(msg, strlen(msg)));
	}
	json_object_set_new(result, "isError", json_true());
	zb_error_free(err);
	request_complete(call_request(call), result);
}

void zb_tool_call_progress(struct zb_tool_call *call, double progress, double total,
			   const char *message)
{
	struct request *r = call_request(call);
	if (!call->progress_token || r->cancelled)
		return;
	json_t *p = json_object();
	json_object_set(p, "progressToken", (json_t *)call->progress_token);
	json_object_set_new(p, "progress", json_real(progress));
	if (total >= 0)
		json_object_set_new(p, "total", json_real(total));
	if (message)
		json_object_set_new(p, "message", zb_json_str(message));
	zb_server_notify(call->srv, "notifications/progress", p);
}

bool zb_tool_call_cancelled(const struct zb_tool_call *call)
{
	const struct request *r = call->request;
	return r->cancelled || r->srv->shutting_down;
}

static void cancel_request(struct request *r)
{
	if (r->cancelled)
		return;
	r->cancelled = true;
	if (r->call.cancel) {
		void (*cancel)(struct zb_tool_call *) = r->call.cancel;
		r->call.cancel = NULL;
		cancel(&r->call);
	}
}

static struct request *find_request(struct zb_server *srv, const char *key)
{
	for (struct request *r = srv->requests; r; r = r->next)
		if (strcmp(r->key, key) == 0)
			return r;
	return NULL;
}

static char *id_key(const json_t *id)
{
	return json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Every call passes the approval layer (which may wait for a person) before its tool runs. */
static void approved(struct zb_tool_call *call, struct zb_error *err)
{
	if (err) {
		zb_tool_call_fail(call, err, NULL);
		return;
	}
	call->tool->call(call);
}

static void tools_call(struct zb_server *srv, struct batch *b, const json_t *id,
		       const json_t *params)
{
	const char *name = NULL;
	json_t *args = NULL, *meta = NULL;
	json_error_t je;
	if (!params || json_unpack_ex((json_t *)params, &je, JSON_STRICT, "{s:s, s?o, s?o}", "name",
				      &name, "arguments", &args, "_meta", &meta) < 0) {
		reply_error(srv, b, id, ZB_RPC_INVALID_PARAMS,
			    "invalid tools/call params: %s (expected {\"name\": string, "
			    "\"arguments\": object})",
			    params ? je.text : "params are missing");
		return;
	}
	const struct zb_tool *tool = zb_tool_find(name);
	if (!tool) {
		size_t n;
		const struct zb_tool *all = zb_tools_all(&n);
		char list[512] = "";
		for (size_t i = 0; i < n; i++) {
			strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
			strncat(list, all[i].name, sizeof(list) - strlen(list) - 1);
		}
		reply_error(srv, b, id, ZB_RPC_INVALID_PARAMS,
			    "unknown tool \"%s\"; the tools are: %s (call tools/list for details)",
			    name, list);
		return;
	}
	if (args && json_is_null(args))
		args = NULL;
	if (args && !json_is_object(args)) {
		reply_error(srv, b, id, ZB_RPC_INVALID_PARAMS,
			    "arguments of %s must be an object, not %s", tool->name,
			    json_is_array(args) ? "an array" : "a scalar");
		return;
	}
	json_t *progress_token = NULL;
	if (meta) {
		progress_token = json_object_get(meta, "progressToken");
		if (progress_token && !json_is_string(progress_token) &&
		    !json_is_integer(progress_token)) {
			reply_error(srv, b, id, ZB_RPC_INVALID_PARAMS,
				    "_meta.progressToken must be a string or an integer");
			return;
		}
	}

	json_t *owned_args = args ? json_incref(args) : json_object();
	const json_t *def = zb_schema_get(tool->schema);
	const json_t *input = def ? json_object_get(def, "inputSchema") : NULL;
	_cleanup_error_ struct zb_error *err = NULL;
	if (input && zb_schema_validate(input, owned_args, "arguments", &err) < 0) {
		json_decref(owned_args);
		reply_error(srv, b, id, ZB_RPC_INVALID_PARAMS, "invalid arguments for %s: %s",
			    tool->name, err->msg);
		return;
	}

	_cleanup_free_ char *key = id_key(id);
	if (find_request(srv, key)) {
		json_decref(owned_args);
		reply_error(srv, b, id, ZB_RPC_INVALID_REQUEST,
			    "request id %s is already in use by a call in progress; use a new id "
			    "for each request",
			    key);
		return;
	}

	struct request *r = zb_xcalloc(1, sizeof(*r));
	r->srv = srv;
	r->id = json_deep_copy(id);
	r->key = TAKE_PTR(key);
	r->batch = b;
	r->call = (struct zb_tool_call){
		.srv = srv,
		.tool = tool,
		.args = owned_args,
		.progress_token = progress_token ? json_incref(progress_token) : NULL,
		.request = r,
	};
	r->next = srv->requests;
	if (r->next)
		r->next->prev = r;
	srv->requests = r;
	srv->n_requests++;
	if (b)
		b->pending++;
	r->started_ms = uv_now(srv->loop);
	struct zb_error *aerr = NULL;
	if (zb_audit_check(srv->audit, &aerr) < 0) {
		zb_tool_call_fail(&r->call, aerr, NULL);
		return;
	}
	zb_approval_begin(srv->approval, &r->call, &r->verdict, approved);
}

/* ---------------------------------------------------------------- lifecycle */

static const char *negotiate(const char *asked)
{
	for (size_t i = 0; i < ZB_ARRAY_SIZE(protocol_versions); i++)
		if (strcmp(asked, protocol_versions[i]) == 0)
			return protocol_versions[i];
	return protocol_versions[0];
}

static json_t *initialize(struct zb_server *srv, const json_t *params, struct zb_error **err)
{
	const char *version = NULL;
	json_t *caps = NULL, *info = NULL;
	json_error_t je;
	/* Not JSON_STRICT: newer clients may send fields this version does not know. */
	if (!params ||
	    json_unpack_ex((json_t *)params, &je, 0, "{s:s, s?o, s?o}", "protocolVersion", &version,
			   "capabilities", &caps, "clientInfo", &info) < 0) {
		zb_error_set(err, ZB_ERR_INVALID_PARAMS, 0,
			     "invalid initialize params: %s (expected protocolVersion, "
			     "capabilities and clientInfo)",
			     params ? je.text : "params are missing");
		return NULL;
	}
	if ((caps && !json_is_object(caps)) || (info && !json_is_object(info))) {
		zb_error_set(err, ZB_ERR_INVALID_PARAMS, 0,
			     "invalid initialize params: capabilities and clientInfo must be "
			     "objects");
		return NULL;
	}
	if (srv->state != ST_NEW) {
		zb_error_set(err, ZB_ERR_INVALID_REQUEST, 0,
			     "the session is already initialized; initialize is sent once per "
			     "connection");
		return NULL;
	}
	srv->version = negotiate(version);
	if (caps) {
		json_decref(srv->client_capabilities);
		srv->client_capabilities = json_incref(caps);
	}
	srv->state = ST_READY;
	const char *client = NULL;
	if (info)
		json_unpack(info, "{s?s}", "name", &client);
	zb_info("client %s connected, protocol %s", client ? client : "(unnamed)", srv->version);

	return json_pack("{s:s, s:{s:{s:b}, s:{}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion",
			 srv->version, "capabilities", "tools", "listChanged", 0, "logging",
			 "serverInfo", "name", "zonebox", "title", "zonebox sandbox", "version",
			 ZB_VERSION, "instructions", instructions);
}

static json_t *set_level(struct zb_server *srv, const json_t *params, struct zb_error **err)
{
	const char *level = NULL;
	json_error_t je;
	int l = -1;
	if (params && json_unpack_ex((json_t *)params, &je, 0, "{s:s}", "level", &level) == 0)
		l = zb_log_level_parse(level);
	if (l < 0) {
		zb_error_set(err, ZB_ERR_INVALID_PARAMS, 0,
			     "logging/setLevel needs {\"level\": one of debug, info, notice, "
			     "warning, error, critical, alert, emergency}");
		return NULL;
	}
	zb_log_set_sink(log_sink, srv, (enum zb_log_level)l);
	srv->logging_to_client = true;
	return json_object();
}

static void handle_notification(struct zb_server *srv, const char *method, const json_t *params)
{
	if (strcmp(method, "notifications/cancelled") == 0) {
		json_t *rid = params ? json_object_get(params, "requestId") : NULL;
		if (!rid)
			return;
		_cleanup_free_ char *key = id_key(rid);
		struct request *r = find_request(srv, key);
		/* Unknown or finished ids are normal races: the spec says to ignore them. */
		if (r) {
			zb_debug("request %s cancelled by the client", key);
			cancel_request(r);
		}
		return;
	}
	if (strcmp(method, "notifications/initialized") == 0)
		return;
	/* notifications/progress, roots/list_changed and the rest need nothing from us. */
	zb_debug("notification %s ignored", method);
}

/* ---------------------------------------------------------------- requests to the client */

/* Our ids are "zb-N" strings, so they can never be confused with the client's own ids. */
static void handle_response(struct zb_server *srv, const json_t *id, const json_t *result,
			    const json_t *error)
{
	const char *s = json_is_string(id) ? json_string_value(id) : "";
	json_int_t n = strncmp(s, "zb-", 3) == 0 ? strtoll(s + 3, NULL, 10) : -1;
	for (struct outgoing **p = &srv->outgoing; *p; p = &(*p)->next) {
		struct outgoing *o = *p;
		if (o->id != n)
			continue;
		*p = o->next;
		if (result && json_is_object(result)) {
			o->done(o->ud, result, NULL);
		} else {
			const char *msg = json_string_value(json_object_get(error, "message"));
			o->done(o->ud, NULL, msg ? msg : "the client answered with an error");
		}
		free(o);
		return;
	}
	zb_debug("ignoring a response to a request we did not send (or already gave up on)");
}

static void outgoing_id(json_int_t id, char *buf, size_t len)
{
	snprintf(buf, len, "zb-%lld", (long long)id);
}

void zb_server_request_cancel(struct zb_server *srv, json_int_t id, const char *reason)
{
	for (struct outgoing **p = &srv->outgoing; *p; p = &(*p)->next) {
		struct outgoing *o = *p;
		if (o->id != id)
			continue;
		*p = o->next;
		char idbuf[32];
		outgoing_id(id, idbuf, sizeof(idbuf));
		zb_server_notify(srv, "notifications/cancelled",
				 json_pack("{s:s, s:s}", "requestId", idbuf, "reason", reason));
		o->done(o->ud, NULL, reason);
		free(o);
		return;
	}
}

int zb_server_request(struct zb_server *srv, const char *method, json_t *params, zb_reply_fn done,
		      void *ud, json_int_t *ret_id, struct zb_error **err)
{
	if (srv->shutting_down) {
		json_decref(params);
		return zb_error_set(err, ZB_ERR_TOOL, 0, "the server is shutting down");
	}
	struct outgoing *o = zb_xcalloc(1, sizeof(*o));
	o->id = ++srv->next_outgoing_id;
	o->done = done;
	o->ud = ud;
	o->next = srv->outgoing;
	srv->outgoing = o;
	char idbuf[32];
	outgoing_id(o->id, idbuf, sizeof(idbuf));
	if (ret_id)
		*ret_id = o->id;
	json_t *m = json_object();
	json_object_set_new(m, "jsonrpc", json_string("2.0"));
	json_object_set_new(m, "id", json_string(idbuf));
	json_object_set_new(m, "method", json_string(method));
	if (params)
		json_object_set_new(m, "params", params);
	send_msg(srv, m);
	return 0;
}

const json_t *zb_server_client_capabilities(struct zb_server *srv)
{
	return srv->client_capabilities;
}

/* Maps an error to the wire: the one place that knows JSON-RPC codes. */
static void reply_with(struct zb_server *srv, struct batch *b, const json_t *id, json_t *result,
		       struct zb_error *err)
{
	if (result) {
		reply(srv, b, zb_rpc_result(id, result));
		return;
	}
	int code = err->kind == ZB_ERR_INVALID_PARAMS	 ? ZB_RPC_INVALID_PARAMS
		   : err->kind == ZB_ERR_INVALID_REQUEST ? ZB_RPC_INVALID_REQUEST
							 : ZB_RPC_INTERNAL_ERROR;
	reply(srv, b, zb_rpc_error(id, code, err->msg, NULL));
}

static void handle_message(struct zb_server *srv, struct batch *b, const json_t *msg)
{
	if (!json_is_object(msg)) {
		reply_error(srv, b, NULL, ZB_RPC_INVALID_REQUEST,
			    "invalid request: a JSON-RPC message is an object, not %s",
			    zb_json_kind_name(msg));
		return;
	}
	const json_t *id = json_object_get(msg, "id");
	const json_t *method = json_object_get(msg, "method");
	const json_t *params = json_object_get(msg, "params");
	const json_t *jsonrpc = json_object_get(msg, "jsonrpc");
	bool id_ok = id && (json_is_string(id) || json_is_integer(id));
	const json_t *reply_id = id_ok ? id : NULL;

	if (!method && id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
		handle_response(srv, id, json_object_get(msg, "result"),
				json_object_get(msg, "error"));
		return;
	}
	if (!json_is_string(jsonrpc) || strcmp(json_string_value(jsonrpc), "2.0") != 0) {
		reply_error(srv, b, reply_id, ZB_RPC_INVALID_REQUEST,
			    "invalid request: \"jsonrpc\" must be \"2.0\"");
		return;
	}
	if (!json_is_string(method)) {
		reply_error(srv, b, reply_id, ZB_RPC_INVALID_REQUEST,
			    "invalid request: \"method\" must be a string");
		return;
	}
	if (id && !id_ok) {
		reply_error(srv, b, NULL, ZB_RPC_INVALID_REQUEST,
			    "invalid request: \"id\" must be a string or an integer, not %s",
			    zb_json_kind_name(id));
		return;
	}
	if (params && !json_is_object(params)) {
		if (id)
			reply_error(srv, b, id, ZB_RPC_INVALID_PARAMS,
				    "invalid params: \"params\" must be an object, not %s",
				    zb_json_kind_name(params));
		return;
	}
	const char *m = json_string_value(method);
	if (!id) {
		handle_notification(srv, m, params);
		return;
	}

	if (srv->state == ST_NEW && strcmp(m, "initialize") != 0 && strcmp(m, "ping") != 0) {
		reply_error(srv, b, id, ZB_RPC_INVALID_REQUEST,
			    "the session is not initialized: send initialize first (then "
			    "notifications/initialized)");
		return;
	}

	_cleanup_error_ struct zb_error *err = NULL;
	if (strcmp(m, "tools/call") == 0) {
		tools_call(srv, b, id, params);
	} else if (strcmp(m, "ping") == 0) {
		reply(srv, b, zb_rpc_result(id, json_object()));
	} else if (strcmp(m, "tools/list") == 0) {
		json_t *res = tools_list(srv, params, &err);
		reply_with(srv, b, id, res, err);
	} else if (strcmp(m, "initialize") == 0) {
		json_t *res = initialize(srv, params, &err);
		reply_with(srv, b, id, res, err);
	} else if (strcmp(m, "logging/setLevel") == 0) {
		json_t *res = set_level(srv, params, &err);
		reply_with(srv, b, id, res, err);
	} else {
		reply_error(
			srv, b, id, ZB_RPC_METHOD_NOT_FOUND,
			"method not found: \"%s\" (zonebox serves initialize, ping, tools/list, "
			"tools/call and logging/setLevel)",
			m);
	}
}

void zb_server_handle_line(struct zb_server *srv, const char *line, size_t len)
{
	if (srv->shutting_down)
		return;
	json_error_t je;
	json_t *msg = json_loadb(line, len,
				 JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
	if (!msg) {
		reply_error(srv, NULL, NULL, ZB_RPC_PARSE_ERROR,
			    "parse error at line 1, column %d: %s (send one JSON-RPC message per "
			    "line, UTF-8, no duplicate keys)",
			    je.column, je.text);
		return;
	}
	if (!json_is_array(msg)) {
		handle_message(srv, NULL, msg);
		json_decref(msg);
		return;
	}
	if (!srv->version || strcmp(srv->version, "2025-03-26") != 0) {
		reply_error(
			srv, NULL, NULL, ZB_RPC_INVALID_REQUEST,
			"invalid request: JSON-RPC batches are only part of MCP 2025-03-26%s%s; "
			"send one message per line",
			srv->version ? ", and this session uses " : "",
			srv->version ? srv->version : "");
		json_decref(msg);
		return;
	}
	if (json_array_size(msg) == 0) {
		reply_error(srv, NULL, NULL, ZB_RPC_INVALID_REQUEST,
			    "invalid request: an empty batch");
		json_decref(msg);
		return;
	}
	struct batch *b = zb_xcalloc(1, sizeof(*b));
	b->replies = json_array();
	b->pending = 1; /* held until every member was dispatched */
	size_t i;
	json_t *m;
	json_array_foreach(msg, i, m)
	{
		handle_message(srv, b, m);
	}
	json_decref(msg);
	batch_done_one(srv, b);
}

void zb_server_handle_oversize(struct zb_server *srv, size_t max_line)
{
	reply_error(
		srv, NULL, NULL, ZB_RPC_INVALID_REQUEST,
		"invalid request: a message longer than %zu bytes was dropped; send smaller "
		"messages (for big files, write in parts with fs.write mode \"append\") or raise "
		"server.max_message in the config",
		max_line);
}

/* ---------------------------------------------------------------- sessions and shutdown */

void zb_server_set_line_sink(struct zb_server *srv, zb_send_line_fn send_line)
{
	srv->send_line = send_line;
}

struct zb_server *zb_server_new(uv_loop_t *loop, struct zb_config *cfg, zb_send_fn send,
				void *send_ud)
{
	struct zb_server *srv = zb_xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->cfg = cfg;
	srv->send = send;
	srv->send_ud = send_ud;
	srv->tool_list = build_tool_list(cfg->tools.underscore);
	srv->client_capabilities = json_object();
	srv->approval = zb_approval_new(srv);
	srv->audit = zb_audit_open(loop, cfg->audit.path);
	return srv;
}

uv_loop_t *zb_server_loop(struct zb_server *srv)
{
	return srv->loop;
}

const struct zb_config *zb_server_config(struct zb_server *srv)
{
	return srv->cfg;
}

const char *zb_server_protocol_version(struct zb_server *srv)
{
	return srv->version;
}

bool zb_server_underscore_names(struct zb_server *srv)
{
	return srv->cfg->tools.underscore;
}

struct zb_session *zb_server_session(struct zb_server *srv, const struct zb_backend **ret_backend,
				     struct zb_error **err)
{
	if (srv->shutting_down) {
		zb_error_set(err, ZB_ERR_TOOL, 0, "the server is shutting down");
		return NULL;
	}
	if (!srv->backend) {
		srv->backend = zb_backend_find(srv->cfg->sandbox.backend);
		if (!srv->backend) {
			zb_error_set(err, ZB_ERR_TOOL, 0,
				     "the sandbox backend \"%s\" is not part of this build; set "
				     "sandbox.backend to one of the built ones (zonebox --version "
				     "lists them)",
				     srv->cfg->sandbox.backend);
			return NULL;
		}
	}
	if (!srv->session) {
		if (srv->backend->probe && srv->backend->probe(srv->cfg, err) < 0)
			return NULL;
		if (srv->backend->session_open(srv->loop, srv->cfg, &srv->session, err) < 0)
			return NULL;
	}
	if (ret_backend)
		*ret_backend = srv->backend;
	return srv->session;
}

static void session_closed(void *arg)
{
	struct zb_server *srv = arg;
	srv->sessions_closing--;
	maybe_shutdown_done(srv);
}

void zb_server_session_lost(struct zb_server *srv)
{
	if (!srv->session)
		return;
	struct zb_session *s = TAKE_PTR(srv->session);
	srv->sessions_closing++;
	srv->backend->session_close(s, session_closed, srv);
}

static void maybe_shutdown_done(struct zb_server *srv)
{
	if (!srv->shutting_down || !srv->shutdown_done)
		return;
	if (srv->requests)
		return;
	if (srv->session) {
		zb_server_session_lost(srv);
		return;
	}
	if (srv->sessions_closing > 0)
		return;
	void (*done)(void *) = TAKE_PTR(srv->shutdown_done);
	done(srv->shutdown_arg);
}

void zb_server_shutdown(struct zb_server *srv, void (*done)(void *arg), void *arg)
{
	if (srv->shutting_down)
		return;
	srv->shutting_down = true;
	srv->shutdown_done = done;
	srv->shutdown_arg = arg;
	if (srv->logging_to_client)
		zb_log_set_sink(NULL, NULL, ZB_LOG_EMERGENCY);
	/* Whoever waits for the client's answer is told there will be none. */
	while (srv->outgoing) {
		struct outgoing *o = srv->outgoing;
		srv->outgoing = o->next;
		o->done(o->ud, NULL, "the server is shutting down");
		free(o);
	}
	for (struct request *r = srv->requests, *next; r; r = next) {
		next = r->next;
		cancel_request(r);
	}
	zb_approval_shutdown(srv->approval);
	maybe_shutdown_done(srv);
}

void zb_server_free(struct zb_server *srv)
{
	if (!srv)
		return;
	json_decref(srv->tool_list);
	json_decref(srv->client_capabilities);
	zb_approval_free(srv->approval);
	zb_audit_free(srv->audit);
	zb_config_free(srv->cfg);
	free(srv);
}
