/* Approvers (see approver.h). A command approver is a child of the server started with
 * uv_spawn on the server's loop: its stdin and stdout are pipes to us, its stderr is ours
 * (never our stdout, which carries the protocol). It is started at the first question and
 * kept; when it dies, the questions it holds fail, and the next question starts a new one.
 *
 * Security (SECURITY-CASES 33): an approver that crashes, hangs or answers garbage must never
 * turn into an "allow". Only a well-formed line {"id", "decision", "reason"?} for a question
 * it was asked can allow; anything else fails the questions it holds (which approval.c turns
 * into a denial), and a process that speaks garbage is killed and replaced. A hang is
 * approval.c's timeout. Lines are capped, so an approver cannot make the server grow. */
#include "approver.h"

#include <signal.h>

#include "log.h"
#include "mcp.h"
#include "rpc.h"

#define MAX_ANSWER_LINE (64 * 1024)

struct slot;
struct proc;

struct zb_ask {
	struct zb_ask *prev, *next; /* in the proc's list (command approvers) */
	struct zb_approvers *ap;
	struct proc *proc; /* command approvers */
	bool elicitation;
	bool withdrawn;	       /* elicitation: the reply is still awaited, but nobody wants it */
	json_int_t request_id; /* elicitation: our elicitation/create request */
	char *id;
	char *who;
	zb_answer_fn fn;
	void *ud;
};

struct slot {
	const struct zb_approver *cfg;
	struct proc *proc; /* running, or NULL */
	char *name;
};

struct proc {
	struct proc *prev, *next; /* all processes not yet freed */
	struct zb_approvers *ap;
	struct slot *slot; /* NULL once it is no longer the slot's process */
	uv_process_t process;
	uv_pipe_t in, out; /* its stdin (we write), its stdout (we read) */
	int open;
	bool closing;
	bool out_closed; /* its stdout reached end of file */
	struct zb_framer framer;
	struct zb_ask *asks;
	char *name;
};

struct zb_approvers {
	struct zb_server *srv;
	struct slot *slots;
	size_t n_slots;
	struct proc *procs;
	bool shutting_down;
};

struct write_req {
	uv_write_t req;
	char *data;
};

/* ---------------------------------------------------------------- asks */

static void ask_unlink(struct zb_ask *ask)
{
	struct proc *p = ask->proc;
	if (!p)
		return;
	if (ask->prev)
		ask->prev->next = ask->next;
	else
		p->asks = ask->next;
	if (ask->next)
		ask->next->prev = ask->prev;
	ask->proc = NULL;
	ask->prev = ask->next = NULL;
}

static void ask_free(struct zb_ask *ask)
{
	free(ask->id);
	free(ask->who);
	free(ask);
}

/* The answer goes to whoever asked; the ask is gone afterwards. */
static void ask_answer(struct zb_ask *ask, enum zb_answer answer, const char *reason)
{
	ask_unlink(ask);
	zb_answer_fn fn = ask->fn;
	void *ud = ask->ud;
	_cleanup_free_ char *who = TAKE_PTR(ask->who);
	ask_free(ask);
	fn(ud, answer, who, reason);
}

const char *zb_ask_who(const struct zb_ask *ask)
{
	return ask->who;
}

/* ---------------------------------------------------------------- command approvers */

static void proc_closed(uv_handle_t *h)
{
	struct proc *p = h->data;
	if (--p->open > 0)
		return;
	zb_framer_free(&p->framer);
	if (p->prev)
		p->prev->next = p->next;
	else
		p->ap->procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	free(p->name);
	free(p);
}

static void proc_detach(struct proc *p)
{
	if (p->slot && p->slot->proc == p)
		p->slot->proc = NULL;
	p->slot = NULL;
}

static void proc_close(struct proc *p)
{
	if (p->closing)
		return;
	p->closing = true;
	proc_detach(p);
	uv_close((uv_handle_t *)&p->process, proc_closed);
	uv_close((uv_handle_t *)&p->in, proc_closed);
	uv_close((uv_handle_t *)&p->out, proc_closed);
}

static void fail_all(struct proc *p, const char *why)
{
	while (p->asks)
		ask_answer(p->asks, ZB_ANSWER_FAILED, why);
}

/* It answered something that is not an answer: nothing it says can be trusted any more. */
static void garbage(struct proc *p, const char *fmt, ...) ZB_PRINTF(2, 3);
static void garbage(struct proc *p, const char *fmt, ...)
{
	char *why = NULL;
	va_list ap;
	va_start(ap, fmt);
	why = zb_xvasprintf(fmt, ap);
	va_end(ap);
	zb_warning("approver %s: %s; stopping it (it is started again for the next question)",
		   p->name, why);
	proc_detach(p);
	uv_process_kill(&p->process, SIGTERM);
	fail_all(p, why);
	free(why);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
	struct proc *p = h->data;
	/* A one-shot approver may write its answer and exit at once: what is still in the pipe
	 * is read before the questions it left are failed. */
	uv_os_fd_t fd;
	if (!p->closing && uv_fileno((uv_handle_t *)&p->out, &fd) == 0) {
		char buf[4096];
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n > 0)
				zb_framer_feed(&p->framer, buf, (size_t)n);
			else if (!(n < 0 && errno == EINTR))
				break;
		}
	}
	char why[128];
	if (sig)
		snprintf(why, sizeof(why), "it was killed by signal %d before answering", sig);
	else
		snprintf(why, sizeof(why), "it exited with status %lld before answering",
			 (long long)status);
	if (p->asks)
		zb_warning("approver %s: %s", p->name, why);
	proc_detach(p);
	fail_all(p, why);
	proc_close(p);
}

static void on_line(void *ud, const char *line, size_t len)
{
	struct proc *p = ud;
	if (!p->slot)
		return; /* already written off */
	json_error_t je;
	json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	const char *id = NULL, *decision = NULL, *reason = NULL;
	if (!msg || json_unpack_ex(msg, &je, JSON_STRICT, "{s:s, s:s, s?s}", "id", &id, "decision",
				   &decision, "reason", &reason) < 0) {
		_cleanup_free_ char *shown = zb_xstrndup(line, len > 80 ? 80 : len);
		json_decref(msg);
		garbage(p,
			"it answered \"%s\", which is not {\"id\": ..., \"decision\": allow_once | "
			"allow_always | deny, \"reason\": ...} (%s)",
			shown, je.text);
		return;
	}
	struct zb_ask *ask = p->asks;
	while (ask && strcmp(ask->id, id) != 0)
		ask = ask->next;
	if (!ask) {
		/* A late answer to a question that timed out or was withdrawn. */
		zb_debug("approver %s answered %s, which is no longer asked", p->name, id);
		json_decref(msg);
		return;
	}
	_cleanup_free_ char *r = reason ? zb_xstrdup(reason) : NULL;
	if (strcmp(decision, "allow_once") == 0) {
		json_decref(msg);
		ask_answer(ask, ZB_ANSWER_ALLOW_ONCE, r);
	} else if (strcmp(decision, "allow_always") == 0) {
		json_decref(msg);
		ask_answer(ask, ZB_ANSWER_ALLOW_ALWAYS, r);
	} else if (strcmp(decision, "deny") == 0) {
		json_decref(msg);
		ask_answer(ask, ZB_ANSWER_DENY, r);
	} else {
		_cleanup_free_ char *why =
			zb_xasprintf("it answered the decision \"%.40s\", which is not allow_once, "
				     "allow_always or deny",
				     decision);
		json_decref(msg);
		ask_answer(ask, ZB_ANSWER_FAILED, why);
	}
}

static void on_oversize(void *ud, size_t max)
{
	struct proc *p = ud;
	if (p->slot)
		garbage(p, "it wrote a line longer than %zu bytes", max);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	buf->base = zb_xmalloc(suggested);
	buf->len = suggested;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct proc *p = s->data;
	if (n > 0) {
		zb_framer_feed(&p->framer, buf->base, (size_t)n);
	} else if (n < 0) {
		uv_read_stop(s);
		/* Usually it is exiting, and its exit reports why. If it lives on, it can no
		 * longer answer: the next question replaces it instead of waiting for the whole
		 * approval.timeout. */
		p->out_closed = true;
	}
	free(buf->base);
}

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	free(w->data);
	free(w);
}

static void send_line(struct proc *p, const json_t *msg)
{
	if (p->closing)
		return;
	struct write_req *w = zb_xcalloc(1, sizeof(*w));
	char *text = json_dumps(msg, JSON_COMPACT);
	w->data = zb_xasprintf("%s\n", text);
	free(text);
	uv_buf_t buf = uv_buf_init(w->data, (unsigned)strlen(w->data));
	int r = uv_write(&w->req, (uv_stream_t *)&p->in, &buf, 1, on_written);
	if (r < 0) {
		free(w->data);
		free(w);
		/* Its stdin is gone: it is dying, and its exit fails what it holds. */
		zb_warning("approver %s: cannot write to it (%s)", p->name, uv_strerror(r));
		proc_detach(p);
		uv_process_kill(&p->process, SIGTERM);
	}
}

static struct proc *spawn(struct zb_approvers *ap, struct slot *s, char **ret_why)
{
	uv_loop_t *loop = zb_server_loop(ap->srv);
	struct proc *p = zb_xcalloc(1, sizeof(*p));
	p->ap = ap;
	p->name = zb_xstrdup(s->name);
	p->next = ap->procs;
	if (p->next)
		p->next->prev = p;
	ap->procs = p;
	uv_pipe_init(loop, &p->in, 0);
	uv_pipe_init(loop, &p->out, 0);
	p->process.data = p->in.data = p->out.data = p;
	zb_framer_init(&p->framer, MAX_ANSWER_LINE, on_line, on_oversize, p);
	uv_stdio_container_t stdio[3] = {
		{.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&p->in},
		{.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p->out},
		{.flags = UV_INHERIT_FD, .data.fd = STDERR_FILENO},
	};
	uv_process_options_t o = {
		.exit_cb = on_exit_cb,
		.file = s->cfg->argv[0],
		.args = s->cfg->argv,
		.stdio_count = 3,
		.stdio = stdio,
	};
	int r = uv_spawn(loop, &p->process, &o);
	p->open = 3;
	p->process.data = p;
	if (r < 0) {
		*ret_why = zb_xasprintf("the approver %s cannot be started (%s)", s->cfg->argv[0],
					uv_strerror(r));
		zb_warning("%s", *ret_why);
		proc_close(p);
		return NULL;
	}
	uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
	p->slot = s;
	s->proc = p;
	zb_info("approver %s started (pid %d)", s->name, p->process.pid);
	return p;
}

/* ---------------------------------------------------------------- elicitation */

static bool client_can_elicit(struct zb_approvers *ap)
{
	const json_t *caps = zb_server_client_capabilities(ap->srv);
	const json_t *e = json_object_get(caps, "elicitation");
	if (!json_is_object(e))
		return false;
	/* 2025-11-25 lists modes; an empty object means form mode (the older spelling). */
	return json_object_size(e) == 0 || json_object_get(e, "form");
}

static void on_elicit_reply(void *ud, const json_t *result, const char *error)
{
	struct zb_ask *ask = ud;
	if (ask->withdrawn) {
		ask_free(ask);
		return;
	}
	if (!result) {
		_cleanup_free_ char *why =
			zb_xasprintf("the client could not ask its user (%s)", error);
		ask_answer(ask, ZB_ANSWER_FAILED, why);
		return;
	}
	const char *action = NULL, *decision = NULL;
	json_t *content = NULL;
	json_error_t je;
	if (json_unpack_ex((json_t *)result, &je, 0, "{s:s, s?o}", "action", &action, "content",
			   &content) < 0) {
		ask_answer(ask, ZB_ANSWER_FAILED, "the client answered without an action");
		return;
	}
	if (strcmp(action, "decline") == 0) {
		ask_answer(ask, ZB_ANSWER_DENY, "the user declined");
		return;
	}
	if (strcmp(action, "cancel") == 0) {
		ask_answer(ask, ZB_ANSWER_DENY, "the user dismissed the question");
		return;
	}
	if (strcmp(action, "accept") != 0 || !json_is_object(content) ||
	    json_unpack(content, "{s:s}", "decision", &decision) < 0) {
		ask_answer(ask, ZB_ANSWER_FAILED,
			   "the client's answer has no decision (expected action accept with "
			   "content {decision})");
		return;
	}
	if (strcmp(decision, "allow_once") == 0)
		ask_answer(ask, ZB_ANSWER_ALLOW_ONCE, NULL);
	else if (strcmp(decision, "allow_always") == 0)
		ask_answer(ask, ZB_ANSWER_ALLOW_ALWAYS, NULL);
	else if (strcmp(decision, "deny") == 0)
		ask_answer(ask, ZB_ANSWER_DENY, "the user chose deny");
	else
		ask_answer(ask, ZB_ANSWER_FAILED, "the client's answer is not one of the choices");
}

static int elicit(struct zb_approvers *ap, struct zb_ask *ask, const char *message)
{
	json_t *params = json_pack(
		"{s:s, s:{s:s, s:{s:{s:s, s:s, s:s, s:[sss], s:[sss]}}, s:[s]}}", "message",
		message, "requestedSchema", "type", "object", "properties", "decision", "type",
		"string", "title", "Decision", "description",
		"allow_once runs it this time, allow_always also saves a rule for exactly this "
		"command, deny refuses it",
		"enum", "allow_once", "allow_always", "deny", "enumNames", "Allow once",
		"Allow always", "Deny", "required", "decision");
	_cleanup_error_ struct zb_error *err = NULL;
	return zb_server_request(ap->srv, "elicitation/create", params, on_elicit_reply, ask,
				 &ask->request_id, &err);
}

/* ---------------------------------------------------------------- the interface */

struct zb_approvers *zb_approvers_new(struct zb_server *srv)
{
	const struct zb_config *cfg = zb_server_config(srv);
	struct zb_approvers *ap = zb_xcalloc(1, sizeof(*ap));
	ap->srv = srv;
	ap->n_slots = cfg->approval.n_approvers;
	ap->slots = zb_xcalloc(ap->n_slots + 1, sizeof(*ap->slots));
	for (size_t i = 0; i < ap->n_slots; i++) {
		struct slot *s = &ap->slots[i];
		s->cfg = &cfg->approval.approvers[i];
		if (s->cfg->kind == ZB_APPROVER_ELICITATION) {
			s->name = zb_xstrdup("the client's user (elicitation)");
		} else {
			const char *b = strrchr(s->cfg->argv[0], '/');
			s->name = zb_xstrdup(b ? b + 1 : s->cfg->argv[0]);
		}
	}
	return ap;
}

int zb_approvers_ask(struct zb_approvers *ap, const json_t *question, const char *message,
		     zb_answer_fn fn, void *ud, struct zb_ask **ret, char **ret_why)
{
	*ret = NULL;
	*ret_why = NULL;
	if (ap->n_slots == 0) {
		*ret_why = zb_xstrdup("no approver is configured (approval.approver)");
		return -1;
	}
	char *whys = NULL;
	for (size_t i = 0; i < ap->n_slots && !ap->shutting_down; i++) {
		struct slot *s = &ap->slots[i];
		struct zb_ask *ask = zb_xcalloc(1, sizeof(*ask));
		ask->ap = ap;
		ask->id = zb_xstrdup(json_string_value(json_object_get(question, "id")));
		ask->who = zb_xstrdup(s->name);
		ask->fn = fn;
		ask->ud = ud;
		char *why = NULL;
		if (s->cfg->kind == ZB_APPROVER_ELICITATION) {
			ask->elicitation = true;
			if (!client_can_elicit(ap))
				why = zb_xstrdup("the client did not declare the elicitation "
						 "capability");
			else if (elicit(ap, ask, message) < 0)
				why = zb_xstrdup("the client cannot be asked now");
		} else {
			if (s->proc && s->proc->out_closed)
				garbage(s->proc, "it closed its output");
			struct proc *p = s->proc ? s->proc : spawn(ap, s, &why);
			if (p) {
				ask->proc = p;
				ask->next = p->asks;
				if (ask->next)
					ask->next->prev = ask;
				p->asks = ask;
				send_line(p, question);
			}
		}
		if (!why) {
			free(whys);
			*ret = ask;
			return 0;
		}
		ask_free(ask);
		char *w = zb_xasprintf("%s%s%s", whys ? whys : "", whys ? "; " : "", why);
		free(whys);
		free(why);
		whys = w;
	}
	*ret_why = whys ? whys : zb_xstrdup("the server is stopping");
	return -1;
}

void zb_ask_withdraw(struct zb_ask *ask, const char *why)
{
	if (ask->elicitation) {
		/* The client is told, so its user is not left looking at a question nobody waits
		 * for; the reply callback frees the ask (now, from the cancel). */
		ask->withdrawn = true;
		zb_server_request_cancel(ask->ap->srv, ask->request_id, why);
		return;
	}
	struct proc *p = ask->proc;
	if (p) {
		json_t *m = json_pack("{s:s, s:s}", "id", ask->id, "cancel", why);
		send_line(p, m);
		json_decref(m);
	}
	ask_unlink(ask);
	ask_free(ask);
}

void zb_approvers_shutdown(struct zb_approvers *ap)
{
	if (ap->shutting_down)
		return;
	ap->shutting_down = true;
	for (struct proc *p = ap->procs; p; p = p->next) {
		if (p->closing)
			continue;
		fail_all(p, "the server is stopping");
		uv_process_kill(&p->process, SIGTERM);
		proc_close(p);
	}
}

void zb_approvers_free(struct zb_approvers *ap)
{
	if (!ap)
		return;
	for (size_t i = 0; i < ap->n_slots; i++)
		free(ap->slots[i].name);
	free(ap->slots);
	free(ap);
}
