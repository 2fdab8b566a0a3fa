/* The audit log (see audit.h). The file is opened with O_APPEND, so concurrent servers
 * sharing one log interleave whole lines, and nothing earlier can be overwritten; every batch
 * of lines is followed by fdatasync before the next is written. */
#include "audit.h"

#include <fcntl.h>
#include <time.h>

#include "approval.h"
#include "log.h"
#include "rpc.h"
#include "tools/tools.h"

#define MAX_LOGGED_STRING 4096

struct line {
	struct line *next;
	char *text;
};

struct zb_audit {
	uv_loop_t *loop;
	char *path;
	int fd;
	char *broken; /* why calls are refused, or NULL */
	struct line *head, *tail;
	uv_work_t work;
	bool busy;
	char *batch;
	size_t batch_len;
	int error; /* errno of the last write, set on the thread pool */
};

struct zb_audit *zb_audit_open(uv_loop_t *loop, const char *path)
{
	if (!path)
		return NULL;
	struct zb_audit *a = zb_xcalloc(1, sizeof(*a));
	a->loop = loop;
	a->path = zb_xstrdup(path);
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (a->fd < 0) {
		a->broken = zb_xasprintf("the audit log %s cannot be opened (%s)", path,
					 strerror(errno));
		zb_err("%s; every tool call will be refused", a->broken);
	}
	return a;
}

int zb_audit_check(const struct zb_audit *a, struct zb_error **err)
{
	if (!a || !a->broken)
		return 0;
	return zb_error_set(err, ZB_ERR_TOOL, 0,
			    "%s, and a call that cannot be recorded does not run. The user must "
			    "fix audit.path in the config (or the folder's permissions) and "
			    "restart zonebox.",
			    a->broken);
}

static void write_work(uv_work_t *req)
{
	struct zb_audit *a = req->data;
	a->error = 0;
	size_t off = 0;
	while (off < a->batch_len) {
		ssize_t n = write(a->fd, a->batch + off, a->batch_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			a->error = errno;
			return;
		}
		off += (size_t)n;
	}
	if (fdatasync(a->fd) < 0)
		a->error = errno;
}

static void start(struct zb_audit *a);

static void write_done(uv_work_t *req, int status)
{
	struct zb_audit *a = req->data;
	a->busy = false;
	free(a->batch);
	a->batch = NULL;
	if (a->error && !a->broken) {
		a->broken = zb_xasprintf("the audit log %s cannot be written (%s)", a->path,
					 strerror(a->error));
		zb_err("%s; every later tool call will be refused", a->broken);
	}
	start(a);
}

static void start(struct zb_audit *a)
{
	if (a->busy || !a->head || a->fd < 0)
		return;
	size_t len = 0;
	for (struct line *l = a->head; l; l = l->next)
		len += strlen(l->text);
	a->batch = zb_xmalloc(len + 1);
	a->batch_len = 0;
	while (a->head) {
		struct line *l = a->head;
		a->head = l->next;
		size_t n = strlen(l->text);
		memcpy(a->batch + a->batch_len, l->text, n);
		a->batch_len += n;
		free(l->text);
		free(l);
	}
	a->tail = NULL;
	a->busy = true;
	a->work.data = a;
	uv_queue_work(a->loop, &a->work, write_work, write_done);
}

static json_t *cut_text(const char *s)
{
	size_t n = strlen(s);
	if (n <= MAX_LOGGED_STRING)
		return zb_json_text(s, n);
	char *text = zb_xasprintf("%.*s… (%zu bytes in all)", MAX_LOGGED_STRING, s, n);
	json_t *j = zb_json_str(text);
	free(text);
	return j;
}

static json_t *cut(const json_t *s)
{
	if (json_string_length(s) <= MAX_LOGGED_STRING)
		return json_copy((json_t *)s);
	return cut_text(json_string_value(s));
}

json_t *zb_audit_arguments(const json_t *args)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)args, k, v)
	{
		if (strcmp(k, "env") == 0 && json_is_object(v)) {
			json_t *env = json_object();
			const char *ek;
			json_t *ev;
			json_object_foreach(v, ek, ev)
			{
				json_object_set_new(env, ek,
						    zb_approval_secret_name(ek) ? json_string("***")
										: cut(ev));
			}
			json_object_set_new(out, k, env);
		} else if (json_is_string(v)) {
			json_object_set_new(out, k, cut(v));
		} else {
			json_object_set_new(out, k, json_deep_copy(v));
		}
	}
	return out;
}

static json_t *now_json(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char buf[64];
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return json_string(buf);
}

void zb_audit_result_of(const json_t *result, struct zb_audit_result *ret)
{
	*ret = (struct zb_audit_result){
		.structured = json_object_get(result, "structuredContent"),
		.is_error = json_is_true(json_object_get(result, "isError")),
	};
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(result, "content"), i, c)
	{
		ret->bytes_out += json_string_length(json_object_get(c, "text"));
	}
	ret->error_text = json_string_value(
		json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
}

void zb_audit_call(struct zb_audit *a, const json_t *id, const struct zb_tool_call *call,
		   const struct zb_verdict *verdict, const struct zb_audit_result *res,
		   uint64_t duration_ms)
{
	if (!a || a->fd < 0)
		return;
	json_t *r = json_object();
	json_object_set_new(r, "time", now_json());
	json_object_set_new(r, "id", id ? json_deep_copy(id) : json_null());
	json_object_set_new(r, "tool", json_string(call->tool->name));
	json_object_set_new(r, "arguments", zb_audit_arguments(call->args));
	bool judged = verdict && verdict->judged;
	json_object_set_new(r, "decision",
			    !judged	       ? json_null()
			    : verdict->allowed ? json_string("allow")
					       : json_string("deny"));
	json_object_set_new(r, "decided_by",
			    judged && verdict->by ? json_string(verdict->by) : json_null());
	json_object_set_new(r, "rule",
			    judged && verdict->rule ? zb_json_str(verdict->rule) : json_null());
	json_object_set_new(r, "approver",
			    judged && verdict->approver ? zb_json_str(verdict->approver)
							: json_null());
	json_object_set_new(r, "reason",
			    judged && verdict->reason ? zb_json_str(verdict->reason) : json_null());
	const json_t *code = json_object_get(res->structured, "exit_code");
	json_object_set_new(r, "exit_code", code ? json_deep_copy(code) : json_null());
	const json_t *sig = json_object_get(res->structured, "signal");
	if (sig && !json_is_null(sig))
		json_object_set_new(r, "signal", json_deep_copy(sig));
	json_object_set_new(r, "is_error", json_boolean(res->is_error));
	json_object_set_new(r, "duration_ms", json_integer((json_int_t)duration_ms));
	json_object_set_new(r, "bytes_out", json_integer((json_int_t)res->bytes_out));
	if (res->is_error && res->error_text)
		json_object_set_new(r, "error", cut_text(res->error_text));
	char *text = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	struct line *l = zb_xcalloc(1, sizeof(*l));
	l->text = zb_xasprintf("%s\n", text);
	free(text);
	if (a->tail)
		a->tail->next = l;
	else
		a->head = l;
	a->tail = l;
	start(a);
}

void zb_audit_free(struct zb_audit *a)
{
	if (!a)
		return;
	while (a->head) {
		struct line *l = a->head;
		a->head = l->next;
		free(l->text);
		free(l);
	}
	free(a->batch);
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a->broken);
	free(a);
}
