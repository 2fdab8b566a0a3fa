/* The null backend: no sandbox, no processes. It "runs" a few built-in pseudo-commands on
 * the server's loop so the server's own plumbing (timeouts, caps, cancellation, progress,
 * concurrency) can be tested without a kernel feature or a daemon:
 *   echo ARGS...      ARGS joined by spaces, and a newline, on stdout
 *   cat               stdin to stdout
 *   stderr TEXT       TEXT on stderr
 *   sleep MS          exit 0 after MS milliseconds
 *   exit N            exit status N
 *   spew BYTES        BYTES bytes of "y\n" on stdout, in chunks
 *   hex HEX           raw bytes on stdout (to test invalid UTF-8)
 *   env               the environment, one NAME=value a line
 *   pwd               the cwd
 *   crash             the sandbox fails: exited() with an error and session_lost
 * `/bin/sh -c "WORDS"` runs WORDS split at spaces (no other shell syntax).
 * Anything else exits 127 with a message on stderr. */
#include "backend.h"

#include <stdio.h>

#include "../server/log.h"

struct zb_session {
	uv_loop_t *loop;
	size_t runs; /* commands still running */
	void (*done)(void *arg);
	void *done_arg;
	bool closing;
	struct null_run *active;
};

struct null_run {
	struct null_run *next;
	struct zb_session *s;
	struct zb_run *run;
	uv_timer_t timer;
	char *out, *err; /* what is still to be written */
	size_t out_len, out_off, err_len;
	uint64_t sleep_ms;
	struct zb_exit status;
	bool killed, finished;
};

static int null_probe(const struct zb_config *cfg, struct zb_error **err)
{
	return 0;
}

static int null_session_open(uv_loop_t *loop, const struct zb_config *cfg, struct zb_session **ret,
			     struct zb_error **err)
{
	struct zb_session *s = zb_xcalloc(1, sizeof(*s));
	s->loop = loop;
	*ret = s;
	return 0;
}

static void unlink_run(struct zb_session *s, struct null_run *nr)
{
	for (struct null_run **p = &s->active; *p; p = &(*p)->next)
		if (*p == nr) {
			*p = nr->next;
			return;
		}
}

static void maybe_session_done(struct zb_session *s)
{
	if (!s->closing || s->runs > 0)
		return;
	void (*done)(void *) = s->done;
	void *arg = s->done_arg;
	free(s);
	if (done)
		done(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct null_run *nr = h->data;
	struct zb_session *s = nr->s;
	free(nr->out);
	free(nr->err);
	zb_exit_clear(&nr->status);
	free(nr);
	s->runs--;
	maybe_session_done(s);
}

static void finish(struct null_run *nr)
{
	if (nr->finished)
		return;
	nr->finished = true;
	uv_timer_stop(&nr->timer);
	unlink_run(nr->s, nr);
	if (nr->killed) {
		zb_exit_clear(&nr->status);
		nr->status.exit_code = -1;
		nr->status.signal = 9;
	}
	nr->run->ops->exited(nr->run, &nr->status);
	uv_close((uv_handle_t *)&nr->timer, on_timer_closed);
}

/* Output goes out in chunks of at most 64 KiB per loop turn, like a pipe would deliver it. */
static void on_tick(uv_timer_t *t)
{
	struct null_run *nr = t->data;
	if (nr->killed) {
		finish(nr);
		return;
	}
	if (nr->err_len) {
		nr->run->ops->output(nr->run, 2, nr->err, nr->err_len);
		nr->err_len = 0;
	}
	if (nr->out_off < nr->out_len) {
		size_t n = nr->out_len - nr->out_off;
		if (n > 65536)
			n = 65536;
		nr->run->ops->output(nr->run, 1, nr->out + nr->out_off, n);
		nr->out_off += n;
		if (nr->out_off < nr->out_len) {
			uv_timer_start(&nr->timer, on_tick, 0, 0);
			return;
		}
	}
	if (nr->sleep_ms) {
		uint64_t ms = nr->sleep_ms;
		nr->sleep_ms = 0;
		uv_timer_start(&nr->timer, on_tick, ms, 0);
		return;
	}
	finish(nr);
}

static char *join(char **argv, size_t *ret_len)
{
	size_t n = 0;
	for (char **a = argv; *a; a++)
		n += strlen(*a) + 1;
	char *s = zb_xmalloc(n + 2); /* room for the lone newline of an empty argv, and a NUL */
	size_t o = 0;
	for (char **a = argv; *a; a++) {
		size_t l = strlen(*a);
		memcpy(s + o, *a, l);
		o += l;
		s[o++] = a[1] ? ' ' : '\n';
	}
	if (o == 0)
		s[o++] = '\n';
	s[o] = '\0';
	*ret_len = o;
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void prepare(struct null_run *nr, const struct zb_run_spec *spec, char **argv)
{
	const char *cmd = argv[0];
	const char *arg = argv[1];
	if (strcmp(cmd, "echo") == 0) {
		nr->out = join(argv + 1, &nr->out_len);
	} else if (strcmp(cmd, "cat") == 0) {
		nr->out = zb_xstrndup(spec->stdin_data ? spec->stdin_data : "", spec->stdin_len);
		nr->out_len = spec->stdin_len;
	} else if (strcmp(cmd, "stderr") == 0 && arg) {
		nr->err = zb_xstrdup(arg);
		nr->err_len = strlen(arg);
	} else if (strcmp(cmd, "sleep") == 0 && arg) {
		nr->sleep_ms = strtoull(arg, NULL, 10);
	} else if (strcmp(cmd, "exit") == 0 && arg) {
		nr->status.exit_code = atoi(arg);
	} else if (strcmp(cmd, "spew") == 0 && arg) {
		nr->out_len = strtoull(arg, NULL, 10);
		nr->out = zb_xmalloc(nr->out_len + 1);
		for (size_t i = 0; i < nr->out_len; i++)
			nr->out[i] = i % 2 ? '\n' : 'y';
	} else if (strcmp(cmd, "hex") == 0 && arg) {
		size_t n = strlen(arg) / 2;
		nr->out = zb_xmalloc(n + 1);
		for (size_t i = 0; i < n; i++)
			nr->out[i] = (char)(hexval(arg[2 * i]) * 16 + hexval(arg[2 * i + 1]));
		nr->out_len = n;
	} else if (strcmp(cmd, "env") == 0) {
		nr->out =
			spec->env && spec->env[0] ? join(spec->env, &nr->out_len) : zb_xstrdup("");
		for (size_t i = 0; i < nr->out_len; i++)
			if (nr->out[i] == ' ')
				nr->out[i] = '\n';
	} else if (strcmp(cmd, "pwd") == 0) {
		nr->out = zb_xasprintf("%s\n", spec->cwd ? spec->cwd : "/");
		nr->out_len = strlen(nr->out);
	} else if (strcmp(cmd, "crash") == 0) {
		nr->status.exit_code = -1;
		nr->status.error = zb_xstrdup("the null backend's sandbox crashed (as asked)");
		nr->status.session_lost = true;
	} else {
		nr->err = zb_xasprintf("null backend: %s: command not found\n", cmd);
		nr->err_len = strlen(nr->err);
		nr->status.exit_code = 127;
	}
}

static int null_run(struct zb_session *s, const struct zb_run_spec *spec, struct zb_run *run,
		    struct zb_error **err)
{
	if (!spec->argv || !spec->argv[0])
		return zb_error_set(err, ZB_ERR_TOOL, 0, "no command to run");
	struct null_run *nr = zb_xcalloc(1, sizeof(*nr));
	nr->s = s;
	nr->run = run;
	run->priv = nr;
	char **argv = spec->argv, *words[64] = {NULL}, *copy = NULL;
	if (strcmp(argv[0], "/bin/sh") == 0 && argv[1] && strcmp(argv[1], "-c") == 0 && argv[2]) {
		copy = zb_xstrdup(argv[2]);
		size_t n = 0;
		char *save = NULL;
		for (char *w = strtok_r(copy, " ", &save); w && n < 63;
		     w = strtok_r(NULL, " ", &save))
			words[n++] = w;
		argv = n ? words : argv;
	}
	prepare(nr, spec, argv);
	free(copy);
	uv_timer_init(s->loop, &nr->timer);
	nr->timer.data = nr;
	/* Never report synchronously from run(): real backends can't either. */
	uv_timer_start(&nr->timer, on_tick, 0, 0);
	nr->next = s->active;
	s->active = nr;
	s->runs++;
	return 0;
}

static void null_kill(struct zb_run *run)
{
	struct null_run *nr = run->priv;
	if (nr->finished || nr->killed)
		return;
	nr->killed = true;
	uv_timer_start(&nr->timer, on_tick, 0, 0);
}

static void null_describe(struct zb_session *s, json_t *info)
{
	json_object_set_new(info, "isolation", json_string("none (null test backend)"));
	json_object_set_new(info, "enforced",
			    json_pack("{s:b, s:b, s:b}", "memory", 0, "pids", 0, "cpu", 0));
}

static void null_session_close(struct zb_session *s, void (*done)(void *arg), void *arg)
{
	s->closing = true;
	s->done = done;
	s->done_arg = arg;
	for (struct null_run *nr = s->active; nr; nr = nr->next)
		if (!nr->killed) {
			nr->killed = true;
			uv_timer_start(&nr->timer, on_tick, 0, 0);
		}
	maybe_session_done(s);
}

const struct zb_backend zb_backend_null = {
	.name = "null",
	.probe = null_probe,
	.session_open = null_session_open,
	.run = null_run,
	.kill = null_kill,
	.describe = null_describe,
	.session_close = null_session_close,
};
