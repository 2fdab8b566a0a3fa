/* shell.run: one approved command in the configured backend. This file owns what is
 * the same for every backend: the timeout, the output caps (head and tail kept), streaming
 * output as progress notifications, cancellation, and the result. */
#include "tools.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>

#include "backends/backend.h"
#include "../log.h"
#include "../rpc.h"

#define PROGRESS_INTERVAL_MS 100
#define PROGRESS_CHUNK	     (16 * 1024)

/* One captured stream: the first half of the cap, and a ring of the last half. */
struct capture {
	size_t cap, total;
	char *head;
	size_t head_len, head_cap;
	char *tail; /* ring of cap - cap/2 bytes */
	size_t tail_size, tail_pos, tail_len;
};

struct shell {
	struct zb_tool_call *call;
	struct zb_run run;
	const struct zb_backend *backend;
	uv_timer_t timer;    /* the timeout */
	uv_timer_t progress; /* rate limit of streamed output */
	int closes;
	struct capture out, err;
	char *pending; /* output not yet sent as progress */
	size_t pending_len;
	size_t progress_sent; /* bytes of output sent as progress so far */
	uint64_t started_ms, timeout_ms;
	bool timed_out, cancelled, exited;
	struct zb_exit status;
	uint64_t duration_ms;
	char **argv, **env;
	char *cwd;
};

/* Buffers grow with the output instead of taking the whole cap up front: fifty parallel
 * calls that print a line each must not cost fifty times two caps. */
static void capture_init(struct capture *c, size_t cap)
{
	c->cap = cap;
	c->tail_size = cap - cap / 2;
}

static void capture_add(struct capture *c, const char *data, size_t len)
{
	c->total += len;
	size_t h = c->cap / 2 - c->head_len;
	if (h > len)
		h = len;
	if (h > 0) {
		if (c->head_len + h > c->head_cap) {
			size_t cap = c->head_cap ? c->head_cap : 4096;
			while (cap < c->head_len + h)
				cap *= 2;
			c->head_cap = cap < c->cap / 2 ? cap : c->cap / 2;
			c->head = zb_xrealloc(c->head, c->head_cap);
		}
		memcpy(c->head + c->head_len, data, h);
		c->head_len += h;
	}
	data += h;
	len -= h;
	if (len == 0 || c->tail_size == 0)
		return;
	if (!c->tail)
		c->tail = zb_xmalloc(c->tail_size);
	if (len > c->tail_size) {
		data += len - c->tail_size;
		len = c->tail_size;
	}
	for (size_t i = 0; i < len; i++) {
		c->tail[c->tail_pos] = data[i];
		c->tail_pos = (c->tail_pos + 1) % c->tail_size;
	}
	c->tail_len = c->tail_len + len > c->tail_size ? c->tail_size : c->tail_len + len;
}

/* The captured text: everything, or head + a marker + tail when it went over the cap. */
static json_t *capture_text(struct capture *c, bool *ret_truncated)
{
	size_t kept = c->head_len + c->tail_len;
	char marker[96] = "";
	if (c->total > kept)
		snprintf(marker, sizeof(marker), "\n[... zonebox: %zu bytes omitted ...]\n",
			 c->total - kept);
	size_t mlen = strlen(marker);
	char *buf = zb_xmalloc(kept + mlen + 1);
	if (c->head_len)
		memcpy(buf, c->head, c->head_len);
	memcpy(buf + c->head_len, marker, mlen);
	size_t start =
		(c->tail_pos + c->tail_size - c->tail_len) % (c->tail_size ? c->tail_size : 1);
	for (size_t i = 0; i < c->tail_len; i++)
		buf[c->head_len + mlen + i] = c->tail[(start + i) % c->tail_size];
	json_t *j = zb_json_text(buf, kept + mlen);
	free(buf);
	*ret_truncated = c->total > kept;
	return j;
}

static void capture_free(struct capture *c)
{
	free(c->head);
	free(c->tail);
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static void flush_progress(struct shell *sh)
{
	if (sh->pending_len == 0)
		return;
	/* Progress messages carry text: never cut a UTF-8 character in two between them. */
	size_t ok = zb_utf8_valid_prefix(sh->pending, sh->pending_len);
	if (ok == 0 || sh->pending_len - ok > 3)
		ok = sh->pending_len;
	char *msg = zb_xstrndup(sh->pending, ok);
	/* progress must increase with every notification: count what was sent, which grows by
	 * at least one byte each time. */
	sh->progress_sent += ok;
	zb_tool_call_progress(sh->call, (double)sh->progress_sent, -1, msg);
	free(msg);
	memmove(sh->pending, sh->pending + ok, sh->pending_len - ok);
	sh->pending_len -= ok;
}

static void on_progress_timer(uv_timer_t *t)
{
	flush_progress(t->data);
}

static void on_output(struct zb_run *run, int stream, const char *data, size_t len)
{
	struct shell *sh = run->data;
	capture_add(stream == 2 ? &sh->err : &sh->out, data, len);
	if (!sh->call->progress_token)
		return;
	/* Streamed output is rate-limited and bounded: a flood is summarised by the final
	 * result, not forwarded byte for byte. */
	size_t room = PROGRESS_CHUNK - sh->pending_len;
	if (len > room)
		len = room;
	if (!sh->pending)
		sh->pending = zb_xmalloc(PROGRESS_CHUNK);
	memcpy(sh->pending + sh->pending_len, data, len);
	sh->pending_len += len;
	if (!uv_is_active((uv_handle_t *)&sh->progress))
		uv_timer_start(&sh->progress, on_progress_timer, PROGRESS_INTERVAL_MS, 0);
}

static const char *signal_name(int sig)
{
	static char buf[16];
	const char *abbrev = sigabbrev_np(sig);
	if (!abbrev)
		return "unknown";
	snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	return buf;
}

static json_t *result_json(struct shell *sh)
{
	bool out_trunc = false, err_trunc = false;
	json_t *out = capture_text(&sh->out, &out_trunc);
	json_t *err = capture_text(&sh->err, &err_trunc);
	json_t *r = json_object();
	json_object_set_new(r, "exit_code",
			    sh->status.exit_code >= 0 && !sh->status.signal
				    ? json_integer(sh->status.exit_code)
				    : json_null());
	json_object_set_new(r, "signal",
			    sh->status.signal ? json_string(signal_name(sh->status.signal))
					      : json_null());
	json_object_set_new(r, "stdout", out);
	json_object_set_new(r, "stderr", err);
	json_object_set_new(r, "stdout_truncated", json_boolean(out_trunc));
	json_object_set_new(r, "stderr_truncated", json_boolean(err_trunc));
	json_object_set_new(r, "timed_out", json_boolean(sh->timed_out));
	json_object_set_new(r, "duration_ms", json_integer((json_int_t)sh->duration_ms));
	return r;
}

static void shell_free(struct shell *sh)
{
	capture_free(&sh->out);
	capture_free(&sh->err);
	free(sh->pending);
	zb_exit_clear(&sh->status);
	strv_free(sh->argv);
	strv_free(sh->env);
	free(sh->cwd);
	free(sh);
}

/* Runs when both timers are closed: the result goes out and everything is released. */
static void complete(struct shell *sh)
{
	struct zb_tool_call *call = sh->call;
	if (sh->status.session_lost)
		zb_server_session_lost(call->srv);
	struct zb_error *err = NULL;
	json_t *data = NULL;
	if (sh->status.error) {
		zb_error_set(&err, ZB_ERR_TOOL, 0,
			     "the sandbox failed and the command did not run to its end: %s. The "
			     "next call starts a new sandbox; try again, and report this if it "
			     "keeps happening.",
			     sh->status.error);
	} else if (sh->timed_out) {
		data = result_json(sh);
		zb_error_set(
			&err, ZB_ERR_TOOL, 0,
			"timed out after %" PRIu64 " ms; the command and everything it started "
			"were killed. Output so far is below. Use a shorter command, run it in "
			"parts, or pass a larger timeout_ms (the configured maximum is %" PRIu64
			" ms).",
			sh->timeout_ms, zb_server_config(call->srv)->sandbox.limits.timeout_ms);
	} else if (sh->status.oom_killed) {
		data = result_json(sh);
		zb_error_set(
			&err, ZB_ERR_TOOL, 0,
			"killed: the command used more memory than the sandbox allows (%" PRIu64
			" bytes). Process less data at a time, or raise sandbox.limits.memory.",
			zb_server_config(call->srv)->sandbox.limits.memory_bytes);
	}
	if (err)
		zb_tool_call_fail(call, err, data);
	else if (sh->cancelled)
		zb_tool_call_fail(call, (zb_error_set(&err, ZB_ERR_TOOL, 0, "cancelled"), err),
				  NULL);
	else
		zb_tool_call_finish(call, result_json(sh));
	shell_free(sh);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct shell *sh = h->data;
	if (--sh->closes == 0)
		complete(sh);
}

static void on_exited(struct zb_run *run, const struct zb_exit *status)
{
	struct shell *sh = run->data;
	sh->exited = true;
	sh->status = *status;
	sh->status.error = status->error ? zb_xstrdup(status->error) : NULL;
	sh->duration_ms = uv_now(zb_server_loop(sh->call->srv)) - sh->started_ms;
	if (sh->call->progress_token)
		flush_progress(sh);
	sh->closes = 2;
	uv_close((uv_handle_t *)&sh->timer, on_timer_closed);
	uv_close((uv_handle_t *)&sh->progress, on_timer_closed);
}

static const struct zb_run_ops run_ops = {.output = on_output, .exited = on_exited};

static void on_timeout(uv_timer_t *t)
{
	struct shell *sh = t->data;
	if (sh->exited)
		return;
	sh->timed_out = true;
	sh->backend->kill(&sh->run);
}

static void on_cancel(struct zb_tool_call *call)
{
	struct shell *sh = call->state;
	if (sh->exited)
		return;
	sh->cancelled = true;
	sh->backend->kill(&sh->run);
}

/* ---------------------------------------------------------------- the command's setup */

static char **strv_from_json(const json_t *arr)
{
	size_t n = json_array_size(arr);
	char **v = zb_xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = zb_xstrdup(json_string_value(json_array_get(arr, i)));
	return v;
}

struct strv {
	char **v;
	size_t n;
};

/* Set NAME=value, replacing an earlier value of NAME. */
static void env_set(struct strv *e, const char *name, size_t name_len, const char *value)
{
	char *entry = zb_xasprintf("%.*s=%s", (int)name_len, name, value);
	for (size_t i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, name_len) == 0 && e->v[i][name_len] == '=') {
			free(e->v[i]);
			e->v[i] = entry;
			return;
		}
	e->v = zb_xrealloc(e->v, (e->n + 2) * sizeof(*e->v));
	e->v[e->n++] = entry;
	e->v[e->n] = NULL;
}

static bool valid_env_name(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* A clean environment: never the server's own, only what the config or the call gives. */
static int build_env(const struct zb_config *cfg, const json_t *call_env, char ***ret,
		     struct zb_error **err)
{
	struct strv e = {0};
	const char *home = "/tmp";
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++)
		if (cfg->sandbox.zones[i].mode != ZB_ZONE_RO) {
			home = NULL;
			break;
		}
	_cleanup_free_ char *home_buf = NULL;
	if (!home) {
		for (size_t i = 0; i < cfg->sandbox.n_zones; i++)
			if (cfg->sandbox.zones[i].mode != ZB_ZONE_RO) {
				home_buf = zb_xasprintf("/%s", cfg->sandbox.zones[i].name);
				break;
			}
		home = home_buf;
	}
	env_set(&e, "PATH", 4, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env_set(&e, "HOME", 4, home);
	env_set(&e, "LANG", 4, "C.UTF-8");
	env_set(&e, "TERM", 4, "dumb");
	for (size_t i = 0; i < cfg->sandbox.n_env; i++) {
		const char *item = cfg->sandbox.env[i];
		const char *eq = strchr(item, '=');
		if (eq) {
			env_set(&e, item, (size_t)(eq - item), eq + 1);
		} else {
			const char *v = getenv(item);
			if (v)
				env_set(&e, item, strlen(item), v);
		}
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)call_env, k, v)
	{
		if (!valid_env_name(k, strlen(k))) {
			strv_free(e.v);
			return zb_error_set(err, ZB_ERR_TOOL, 0,
					    "env: \"%s\" is not a valid variable name (letters, "
					    "digits and _, not starting with a digit)",
					    k);
		}
		env_set(&e, k, strlen(k), json_string_value(v));
	}
	*ret = e.v;
	return 0;
}

/* cwd is a sandbox path inside a zone; relative paths start at the first zone. */
static int resolve_cwd(const struct zb_config *cfg, const char *cwd, char **ret,
		       struct zb_error **err)
{
	const char *first = cfg->sandbox.zones[0].name;
	if (!cwd || !*cwd) {
		*ret = zb_xasprintf("/%s", first);
		return 0;
	}
	if (strlen(cwd) > 4096 || memchr(cwd, '\n', strlen(cwd)))
		return zb_error_set(err, ZB_ERR_TOOL, 0, "cwd is not a usable path");
	if (cwd[0] != '/') {
		*ret = zb_xasprintf("/%s/%s", first, cwd);
		return 0;
	}
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++) {
		const char *name = cfg->sandbox.zones[i].name;
		size_t n = strlen(name);
		if (strncmp(cwd + 1, name, n) == 0 && (cwd[n + 1] == '\0' || cwd[n + 1] == '/')) {
			*ret = zb_xstrdup(cwd);
			return 0;
		}
	}
	char list[512] = "";
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++) {
		strncat(list, i ? ", /" : "/", sizeof(list) - strlen(list) - 1);
		strncat(list, cfg->sandbox.zones[i].name, sizeof(list) - strlen(list) - 1);
	}
	return zb_error_set(err, ZB_ERR_TOOL, 0,
			    "cwd \"%s\" is outside every zone; use a folder inside one of: %s", cwd,
			    list);
}

void zb_tool_shell_run(struct zb_tool_call *call)
{
	const struct zb_config *cfg = zb_server_config(call->srv);
	const json_t *args = call->args;
	const json_t *command = json_object_get(args, "command");
	const json_t *argv = json_object_get(args, "argv");
	const json_t *stdin_j = json_object_get(args, "stdin");
	const json_t *timeout = json_object_get(args, "timeout_ms");
	struct zb_error *err = NULL;

	if (argv && json_array_size(argv) == 0) {
		zb_error_set(&err, ZB_ERR_TOOL, 0,
			     "argv is empty: give the program and its arguments");
		zb_tool_call_fail(call, err, NULL);
		return;
	}
	/* Approval ran before this (mcp.c, zb_approval_begin): it may have waited for a person,
	 * and a call that was not allowed never gets here. */

	struct shell *sh = zb_xcalloc(1, sizeof(*sh));
	sh->call = call;
	if (command) {
		sh->argv = zb_xcalloc(4, sizeof(char *));
		sh->argv[0] = zb_xstrdup("/bin/sh");
		sh->argv[1] = zb_xstrdup("-c");
		sh->argv[2] = zb_xstrdup(json_string_value(command));
	} else {
		sh->argv = strv_from_json(argv);
	}
	capture_init(&sh->out, cfg->sandbox.limits.output_bytes);
	capture_init(&sh->err, cfg->sandbox.limits.output_bytes);
	if (resolve_cwd(cfg, json_string_value(json_object_get(args, "cwd")), &sh->cwd, &err) < 0 ||
	    build_env(cfg, json_object_get(args, "env"), &sh->env, &err) < 0) {
		shell_free(sh);
		zb_tool_call_fail(call, err, NULL);
		return;
	}
	struct zb_session *session = zb_server_session(call->srv, &sh->backend, &err);
	if (!session) {
		shell_free(sh);
		zb_tool_call_fail(call, err, NULL);
		return;
	}

	sh->timeout_ms = cfg->sandbox.limits.timeout_ms;
	/* json_number_value: the schema lets 5.0 count as an integer. */
	if (timeout && json_number_value(timeout) < (double)sh->timeout_ms)
		sh->timeout_ms = (uint64_t)json_number_value(timeout);
	struct zb_run_spec spec = {
		.argv = sh->argv,
		.cwd = sh->cwd,
		.env = sh->env,
		.stdin_data = stdin_j ? json_string_value(stdin_j) : NULL,
		.stdin_len = stdin_j ? json_string_length(stdin_j) : 0,
		.limits = cfg->sandbox.limits,
	};
	spec.limits.timeout_ms = sh->timeout_ms;
	sh->run = (struct zb_run){.ops = &run_ops, .data = sh};
	uv_loop_t *loop = zb_server_loop(call->srv);
	sh->started_ms = uv_now(loop);
	if (sh->backend->run(session, &spec, &sh->run, &err) < 0) {
		shell_free(sh);
		zb_tool_call_fail(call, err, NULL);
		return;
	}
	uv_timer_init(loop, &sh->timer);
	uv_timer_init(loop, &sh->progress);
	sh->timer.data = sh;
	sh->progress.data = sh;
	uv_timer_start(&sh->timer, on_timeout, sh->timeout_ms, 0);
	call->state = sh;
	call->cancel = on_cancel;
}
