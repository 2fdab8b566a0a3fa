/* The namespace backend's driver, on the server's side (DESIGN.md "Backends"). It starts the
 * sandbox helper (zonebox-sandbox, backends/namespace/) with uv_spawn, once per session, and
 * asks it for sandboxes. It talks to the helper and to each sandbox over SOCK_SEQPACKET
 * socketpairs (protocol in backends/namespace/proto.h), watches each sandbox's socket with a
 * uv_poll_t, and hands each command its stdio as pipes passed with SCM_RIGHTS. It never forks
 * and never runs a loop of its own.
 *
 * Sessions: `persistent` keeps one sandbox per session and sends it one `run` per command;
 * `per-call` gives each command a fresh sandbox that has never run anything. To keep the
 * building of that sandbox out of the call's latency, one spare is always built ahead: a call
 * takes it and asks for the next one at once. A sandbox that dies (end of file on its
 * socket) fails the commands in flight with session_lost, and the next command gets a new
 * one; a helper that dies is started again by the next command. */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../server/log.h"
#include "namespace/proto.h"

/* Limits that have no key in the config: generous enough for builds, small enough that a
 * runaway writer or fd leak hits them. */
#define NS_FSIZE_LIMIT	(8ull << 30)
#define NS_NOFILE_LIMIT 4096

struct ns_box;

struct ns_run {
	struct ns_run *next;
	struct zb_session *s;
	struct ns_box *box;
	struct zb_run *run;
	json_int_t id;
	uv_pipe_t out, err, in;
	uv_write_t write_req;
	char *stdin_copy;
	int open_handles;
	bool got_exit;
	struct zb_exit status;
};

/* The session helper: a zonebox-sandbox process that builds the sandboxes. */
struct ns_helper {
	struct ns_helper *next;
	struct zb_session *s;
	uv_process_t proc;
	int sock; /* -1 once it is gone */
};

/* One sandbox: its init's end of the control channel. */
struct ns_box {
	struct ns_box *next;
	struct zb_session *s;
	uv_poll_t poll;
	int sock;
	bool ready, gone;
	char *error; /* the sandbox's `error` message */
};

struct zb_session {
	uv_loop_t *loop;
	char *helper_path;
	json_t *spec; /* the spec message, sent to every helper */
	bool persistent;
	struct ns_helper *helper;  /* the live session helper, or NULL */
	struct ns_helper *helpers; /* every helper whose process handle is still open */
	struct ns_box *current;	   /* persistent: the live sandbox, or NULL */
	struct ns_box *spare;	   /* per-call: the next call's sandbox, or NULL */
	struct ns_box *boxes;	   /* every sandbox whose poll handle is still open */
	struct ns_run *runs;
	json_int_t next_id;
	json_t *ready;		/* the last `ready` message */
	uv_timer_t spare_timer; /* per-call: asks for the next spare (on_spare_timer) */
	bool spare_timer_open;
	bool closing;
	void (*done)(void *arg);
	void *done_arg;
};

static char *find_helper(void)
{
	const char *env = getenv("ZONEBOX_SANDBOX_HELPER");
	if (env && *env)
		return zb_xstrdup(env);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return zb_xstrdup("zonebox-sandbox");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	return zb_xasprintf("%s/zonebox-sandbox", exe);
}

static int read_int_file(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

static int ns_probe(const struct zb_config *cfg, struct zb_error **err)
{
	_cleanup_free_ char *helper = find_helper();
	if (access(helper, X_OK) < 0)
		return zb_error_set(err, ZB_ERR_TOOL, errno,
				    "the namespace backend's helper %s is missing or not "
				    "executable (%s): install zonebox-sandbox next to zonebox, or "
				    "point ZONEBOX_SANDBOX_HELPER at it",
				    helper, strerror(errno));
	if (cfg->sandbox.network == ZB_NET_ALLOW)
		return zb_error_set(err, ZB_ERR_TOOL, 0,
				    "the namespace backend supports network: none or host, not an "
				    "allow list");
	if (geteuid() == 0)
		return 0;
	if (read_int_file("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		return zb_error_set(
			err, ZB_ERR_TOOL, 0,
			"unprivileged user namespaces are switched off (sysctl "
			"kernel.unprivileged_userns_clone=0); the namespace backend needs "
			"them. Switch them on with: sudo sysctl -w "
			"kernel.unprivileged_userns_clone=1, or use sandbox.backend: docker");
	if (read_int_file("/proc/sys/user/max_user_namespaces") == 0)
		return zb_error_set(
			err, ZB_ERR_TOOL, 0,
			"user namespaces are switched off (sysctl "
			"user.max_user_namespaces=0). Switch them on with: sudo sysctl -w "
			"user.max_user_namespaces=15000, or use sandbox.backend: docker");
	/* Ubuntu 23.10+: only programs with an AppArmor profile that says `userns,` may use
	 * them. The helper reports this too, with the same fix, if the check here cannot see
	 * the loaded profiles. */
	if (read_int_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1) {
		FILE *f = fopen("/sys/kernel/security/apparmor/profiles", "re");
		if (f) {
			char line[512];
			bool found = false;
			while (!found && fgets(line, sizeof(line), f))
				found = strstr(line, "zonebox") != NULL;
			fclose(f);
			if (!found)
				return zb_error_set(
					err, ZB_ERR_TOOL, 0,
					"AppArmor restricts unprivileged user namespaces here and "
					"no "
					"zonebox profile is loaded. Install it: sudo install -m "
					"644 "
					"clients/apparmor/zonebox /etc/apparmor.d/zonebox && sudo "
					"apparmor_parser -r /etc/apparmor.d/zonebox");
		}
	}
	return 0;
}

static json_t *build_spec(const struct zb_config *cfg)
{
	json_t *zones = json_array();
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++) {
		const struct zb_zone *z = &cfg->sandbox.zones[i];
		json_t *protect = json_array();
		for (size_t k = 0; k < z->n_protect; k++)
			json_array_append_new(protect, json_string(z->protect[k]));
		json_t *jz = json_pack("{s:s, s:s, s:o}", "name", z->name, "mode",
				       zb_zone_mode_name(z->mode), "protect", protect);
		if (z->host_path)
			json_object_set_new(jz, "host_path", json_string(z->host_path));
		if (z->size)
			json_object_set_new(jz, "size", json_integer((json_int_t)z->size));
		json_array_append_new(zones, jz);
	}
	const struct zb_limits *l = &cfg->sandbox.limits;
	json_t *limits =
		json_pack("{s:I, s:I, s:f, s:I, s:I}", "memory", (json_int_t)l->memory_bytes,
			  "pids", (json_int_t)l->pids, "cpu", l->cpu, "fsize",
			  (json_int_t)NS_FSIZE_LIMIT, "nofile", (json_int_t)NS_NOFILE_LIMIT);
	json_t *spec = json_pack("{s:s, s:I, s:I, s:b, s:b, s:s, s:s, s:o, s:o}", "type", "spec",
				 "uid", (json_int_t)getuid(), "gid", (json_int_t)getgid(), "userns",
				 geteuid() != 0, "persistent",
				 cfg->sandbox.session == ZB_SESSION_PERSISTENT, "network",
				 cfg->sandbox.network == ZB_NET_HOST ? "host" : "none", "hostname",
				 "zonebox", "zones", zones, "limits", limits);
	if (cfg->sandbox.rootfs)
		json_object_set_new(spec, "rootfs", json_string(cfg->sandbox.rootfs));
	return spec;
}

static int ns_session_open(uv_loop_t *loop, const struct zb_config *cfg, struct zb_session **ret,
			   struct zb_error **err)
{
	if (cfg->sandbox.network == ZB_NET_ALLOW)
		return zb_error_set(err, ZB_ERR_TOOL, 0,
				    "the namespace backend supports network: none or host, not an "
				    "allow list");
	struct zb_session *s = zb_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->helper_path = find_helper();
	s->spec = build_spec(cfg);
	s->persistent = cfg->sandbox.session == ZB_SESSION_PERSISTENT;
	s->next_id = 1;
	uv_timer_init(loop, &s->spare_timer);
	s->spare_timer.data = s;
	s->spare_timer_open = true;
	*ret = s;
	return 0;
}

/* ---- finishing runs and sessions ---- */

static void maybe_session_done(struct zb_session *s)
{
	if (!s->closing || s->helpers || s->boxes || s->runs || s->spare_timer_open)
		return;
	void (*done)(void *) = s->done;
	void *arg = s->done_arg;
	json_decref(s->spec);
	json_decref(s->ready);
	free(s->helper_path);
	free(s);
	if (done)
		done(arg);
}

static void unlink_run(struct zb_session *s, struct ns_run *r)
{
	for (struct ns_run **p = &s->runs; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			return;
		}
}

/* exited() goes out once the exit is known and both output pipes reached end of file, so
 * that no output follows it. */
static void maybe_run_done(struct ns_run *r)
{
	if (!r->got_exit || r->open_handles > 0)
		return;
	struct zb_session *s = r->s;
	unlink_run(s, r);
	if (r->run)
		r->run->ops->exited(r->run, &r->status);
	free(r->status.error);
	free(r->stdin_copy);
	free(r);
	maybe_session_done(s);
}

static void on_run_handle_closed(uv_handle_t *h)
{
	struct ns_run *r = h->data;
	r->open_handles--;
	maybe_run_done(r);
}

static void set_exit_error(struct ns_run *r, bool lost, const char *fmt, ...) ZB_PRINTF(3, 4);
static void set_exit_error(struct ns_run *r, bool lost, const char *fmt, ...)
{
	if (r->got_exit)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	r->status = (struct zb_exit){.exit_code = -1, .error = msg, .session_lost = lost};
	r->got_exit = true;
}

static struct ns_run *find_run(struct zb_session *s, struct ns_box *b, json_int_t id)
{
	for (struct ns_run *r = s->runs; r; r = r->next)
		if (r->box == b && r->id == id)
			return r;
	return NULL;
}

/* ---- the session helper ---- */

static void on_helper_closed(uv_handle_t *handle)
{
	struct ns_helper *h = handle->data;
	struct zb_session *s = h->s;
	for (struct ns_helper **p = &s->helpers; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	free(h);
	maybe_session_done(s);
}

/* Closing its socket is the helper's shutdown signal: it kills every sandbox it built,
 * removes their cgroups and exits. */
static void helper_gone(struct ns_helper *h)
{
	if (h->s->helper == h)
		h->s->helper = NULL;
	if (h->sock >= 0)
		close(h->sock);
	h->sock = -1;
}

static void on_helper_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct ns_helper *h = proc->data;
	if (!h->s->closing && (exit_status != 0 || term_signal))
		zb_warning(
			"namespace sandbox helper ended (%s %d); the next command starts a new one",
			term_signal ? "signal" : "status",
			term_signal ? term_signal : (int)exit_status);
	helper_gone(h);
	uv_close((uv_handle_t *)proc, on_helper_closed);
}

static struct ns_helper *start_helper(struct zb_session *s, struct zb_error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, errno, "socketpair: %s", strerror(errno)),
		       NULL;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	struct ns_helper *h = zb_xcalloc(1, sizeof(*h));
	h->s = s;
	h->sock = sv[0];
	char *args[] = {s->helper_path, NULL};
	char *env[] = {NULL};
	uv_stdio_container_t stdio[4] = {
		{.flags = UV_IGNORE},
		{.flags = UV_IGNORE},
		{.flags = UV_INHERIT_FD, .data.fd = 2},
		{.flags = UV_INHERIT_FD, .data.fd = sv[1]},
	};
	uv_process_options_t o = {.exit_cb = on_helper_exit,
				  .file = s->helper_path,
				  .args = args,
				  .env = env,
				  .stdio_count = 4,
				  .stdio = stdio};
	h->proc.data = h;
	int r = uv_spawn(s->loop, &h->proc, &o);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		free(h);
		zb_error_set(err, ZB_ERR_TOOL, -r,
			     "cannot start the sandbox helper %s: %s; install zonebox-sandbox next "
			     "to zonebox or set ZONEBOX_SANDBOX_HELPER",
			     s->helper_path, uv_strerror(r));
		return NULL;
	}
	h->next = s->helpers;
	s->helpers = h;
	int e = zb_ns_send(h->sock, s->spec, NULL, 0);
	if (e < 0) {
		zb_error_set(err, ZB_ERR_TOOL, -e, "sending the spec to the sandbox helper: %s",
			     strerror(-e));
		helper_gone(h);
		return NULL;
	}
	return h;
}

/* ---- sandboxes ---- */

static void on_box_closed(uv_handle_t *handle)
{
	struct ns_box *b = handle->data;
	struct zb_session *s = b->s;
	for (struct ns_box **p = &s->boxes; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			break;
		}
	free(b->error);
	free(b);
	maybe_session_done(s);
}

/* The sandbox is gone (socket end of file) or failed to start (`error`): every command
 * still running in it fails. Their pipes reach end of file on their own, because every
 * process that held them died with the sandbox. */
static void box_gone(struct ns_box *b)
{
	if (b->gone)
		return;
	b->gone = true;
	struct zb_session *s = b->s;
	if (s->current == b)
		s->current = NULL;
	if (s->spare == b)
		s->spare = NULL;
	uv_close((uv_handle_t *)&b->poll, on_box_closed);
	close(b->sock);
	b->sock = -1;
	for (struct ns_run *r = s->runs, *next; r; r = next) {
		next = r->next;
		if (r->box != b || r->got_exit)
			continue;
		if (b->error)
			set_exit_error(r, s->persistent, "the sandbox could not be built: %s",
				       b->error);
		else if (s->closing)
			set_exit_error(r, false, "the session was closed while the command ran");
		else if (!b->ready)
			set_exit_error(r, s->persistent,
				       "the sandbox ended before it was ready (the sandbox helper "
				       "stopped; see zonebox's log). The next command starts a "
				       "fresh sandbox");
		else
			set_exit_error(r, s->persistent,
				       "the sandbox died (its init process is gone); the command "
				       "was stopped. The next command starts a fresh sandbox");
		maybe_run_done(r);
	}
}

static struct ns_box *start_box(struct zb_session *s, struct zb_error **err);

static void on_spare_timer(uv_timer_t *t)
{
	struct zb_session *s = t->data;
	if (!s->spare && !s->closing)
		s->spare = start_box(s, NULL);
}

static void handle_message(struct ns_box *b, json_t *msg)
{
	struct zb_session *s = b->s;
	const char *type = json_string_value(json_object_get(msg, "type"));
	if (!type)
		return;
	if (strcmp(type, "ready") == 0) {
		b->ready = true;
		json_decref(s->ready);
		s->ready = json_incref(msg);
		return;
	}
	if (strcmp(type, "error") == 0) {
		const char *m = json_string_value(json_object_get(msg, "message"));
		free(b->error);
		b->error = zb_xstrdup(m ? m : "unknown error");
		zb_err("namespace sandbox: %s", b->error);
		box_gone(b);
		return;
	}
	if (strcmp(type, "exit") != 0)
		return;
	json_int_t id = -1, code = -1, sig = 0;
	int oom = 0;
	const char *error = NULL;
	if (json_unpack(msg, "{s:I, s:I, s:I, s:b, s?s}", "id", &id, "exit_code", &code, "signal",
			&sig, "oom_killed", &oom, "error", &error) < 0)
		return;
	struct ns_run *r = find_run(s, b, id);
	if (!r || r->got_exit)
		return;
	r->status = (struct zb_exit){.exit_code = (int)code,
				     .signal = (int)sig,
				     .oom_killed = oom,
				     .error = error ? zb_xstrdup(error) : NULL};
	r->got_exit = true;
	/* Per-call: the next call's sandbox is built once this command is over, not while it
	 * runs: the build (a clone, ~20 mounts, a cgroup attach) competes with the command for
	 * the CPUs, and its new processes wait for a CPU behind it, which made both twice as
	 * slow on two cores. And not before this call's result is written either: the timer
	 * fires in the next turn of the loop, after the server has answered. Between the calls
	 * of an agent there is ample time for the build. */
	if (!s->persistent && !s->spare && !s->closing)
		uv_timer_start(&s->spare_timer, on_spare_timer, 0, 0);
	maybe_run_done(r);
}

/* Take every message the sandbox has sent. An init that ends (a build that failed sends
 * `error` and exits) while a `run` we sent is still unread in its queue makes the kernel
 * flag our socket with ECONNRESET, and the next recvmsg returns that error once, before the
 * messages still queued here. So an error is not the end: reading goes on until end of file,
 * and the sandbox's own message, when it sent one, is what the commands get. */
static void drain_box(struct ns_box *b)
{
	for (int errors = 0; !b->gone;) {
		json_t *msg = NULL;
		int fds[ZB_NS_MAX_FDS];
		size_t n_fds = 0;
		int r = zb_ns_recv(b->sock, &msg, fds, ZB_NS_MAX_FDS, &n_fds);
		for (size_t i = 0; i < n_fds; i++)
			close(fds[i]);
		if (r == -EAGAIN)
			return;
		if (r == -EBADMSG)
			continue;
		if (r == -EPIPE || (r < 0 && ++errors > 8)) {
			box_gone(b);
			return;
		}
		if (r < 0)
			continue;
		handle_message(b, msg);
		json_decref(msg);
	}
}

static void on_box_readable(uv_poll_t *poll, int status, int events)
{
	drain_box(poll->data);
}

/* Ask the session helper (started if need be) for a new sandbox. A helper that is gone
 * without our having noticed its exit yet is replaced once. */
static struct ns_box *start_box(struct zb_session *s, struct zb_error **err)
{
	static const char request[] = "{\"type\":\"sandbox\"}";
	int e = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!s->helper && !(s->helper = start_helper(s, err)))
			return NULL;
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return zb_error_set(err, ZB_ERR_INTERNAL, errno, "socketpair: %s",
					    strerror(errno)),
			       NULL;
		e = zb_ns_send_raw(s->helper->sock, request, sizeof(request) - 1, &sv[1], 1);
		close(sv[1]);
		if (e == 0) {
			fcntl(sv[0], F_SETFL, O_NONBLOCK);
			struct ns_box *b = zb_xcalloc(1, sizeof(*b));
			b->s = s;
			b->sock = sv[0];
			b->poll.data = b;
			uv_poll_init(s->loop, &b->poll, b->sock);
			uv_poll_start(&b->poll, UV_READABLE | UV_DISCONNECT, on_box_readable);
			b->next = s->boxes;
			s->boxes = b;
			return b;
		}
		close(sv[0]);
		helper_gone(s->helper);
	}
	zb_error_set(err, ZB_ERR_TOOL, -e,
		     "cannot reach the sandbox helper: %s; try again (a new one will be started)",
		     strerror(-e));
	return NULL;
}

/* ---- commands ---- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	buf->base = zb_xmalloc(65536);
	buf->len = 65536;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct ns_run *r = stream->data;
	int which = stream == (uv_stream_t *)&r->out ? 1 : 2;
	if (nread > 0 && r->run)
		r->run->ops->output(r->run, which, buf->base, (size_t)nread);
	free(buf->base);
	if (nread < 0) {
		uv_read_stop(stream);
		uv_close((uv_handle_t *)stream, on_run_handle_closed);
	}
}

static void on_stdin_written(uv_write_t *req, int status)
{
	struct ns_run *r = req->data;
	/* EPIPE when the command did not read all of it: not an error of the run. */
	uv_close((uv_handle_t *)&r->in, on_run_handle_closed);
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static json_t *strv_json(char **v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static int ns_run(struct zb_session *s, const struct zb_run_spec *spec, struct zb_run *run,
		  struct zb_error **err)
{
	if (s->closing)
		return zb_error_set(err, ZB_ERR_TOOL, 0, "the session is closing");
	if (!spec->argv || !spec->argv[0])
		return zb_error_set(err, ZB_ERR_INVALID_PARAMS, 0, "empty command");
	json_t *argv = strv_json(spec->argv);
	for (size_t i = 0; i < json_array_size(argv); i++)
		if (!json_array_get(argv, i) || json_is_null(json_array_get(argv, i))) {
			json_decref(argv);
			return zb_error_set(err, ZB_ERR_INVALID_PARAMS, 0,
					    "the command's arguments must be valid UTF-8");
		}

	/* Take what the sandbox has sent so far: one that has failed since is replaced now,
	 * not found out by a send that fails. */
	if (s->persistent && s->current)
		drain_box(s->current);
	else if (!s->persistent && s->spare)
		drain_box(s->spare);
	struct ns_box *b;
	bool fresh = false; /* started for this call, not built before it */
	if (s->persistent) {
		b = s->current;
		fresh = !b;
		if (!b && !(b = s->current = start_box(s, err))) {
			json_decref(argv);
			return -1;
		}
	} else {
		/* A spare that failed to build is replaced rather than used, so a passing
		 * failure costs no call; a lasting one shows up in the fresh sandbox. */
		b = s->spare;
		s->spare = NULL;
		fresh = !b || b->gone;
		if ((!b || b->gone) && !(b = start_box(s, err))) {
			json_decref(argv);
			return -1;
		}
	}

	/* Without stdin there is no stdin pipe: the command reads the sandbox's /dev/null. */
	bool has_stdin = spec->stdin_len > 0;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	int e = has_stdin ? uv_pipe(in, 0, UV_NONBLOCK_PIPE) : 0;
	if (e == 0)
		e = uv_pipe(out, UV_NONBLOCK_PIPE, 0);
	if (e == 0)
		e = uv_pipe(errp, UV_NONBLOCK_PIPE, 0);
	if (e < 0) {
		json_decref(argv);
		close_fds(in, 2);
		close_fds(out, 2);
		close_fds(errp, 2);
		return zb_error_set(err, ZB_ERR_INTERNAL, -e, "pipe: %s", uv_strerror(e));
	}

	const char *cwd = spec->cwd;
	char *default_cwd = NULL;
	if (!cwd) {
		const char *first = json_string_value(json_object_get(
			json_array_get(json_object_get(s->spec, "zones"), 0), "name"));
		cwd = default_cwd = zb_xasprintf("/%s", first ? first : "");
	}
	struct ns_run *r = zb_xcalloc(1, sizeof(*r));
	r->s = s;
	r->box = b;
	r->run = run;
	r->id = s->next_id++;
	run->priv = r;
	json_t *msg = json_pack("{s:s, s:I, s:o, s:o, s:s}", "type", "run", "id", r->id, "argv",
				argv, "env", strv_json(spec->env), "cwd", cwd);
	free(default_cwd);
	int child_fds[3] = {in[0], out[1], errp[1]};
	for (;;) {
		e = has_stdin ? zb_ns_send(b->sock, msg, child_fds, 3)
			      : zb_ns_send(b->sock, msg, child_fds + 1, 2);
		/* A sandbox that failed has said why before its end made the send fail. */
		if (e < 0)
			drain_box(b);
		if ((e == 0 && !b->gone) || fresh)
			break;
		/* A sandbox built before this call (the spare, or a persistent session's)
		 * that failed in the moment since the look above is replaced once, as it
		 * would have been a moment earlier; one started for this call reports. */
		box_gone(b);
		fresh = true;
		struct ns_box *again = start_box(s, NULL);
		if (!again)
			break;
		b = r->box = again;
		if (s->persistent)
			s->current = b;
	}
	json_decref(msg);
	close_fds(child_fds, 3);
	if (e < 0 || b->gone) {
		int ours[3] = {in[1], out[0], errp[0]};
		close_fds(ours, 3);
		run->priv = NULL;
		free(r);
		if (b->error)
			zb_error_set(err, ZB_ERR_TOOL, EPIPE,
				     "the sandbox could not be built: %s; try again (a fresh "
				     "sandbox will be started)",
				     b->error);
		else
			zb_error_set(err, ZB_ERR_TOOL, e < 0 ? -e : EPIPE,
				     "cannot reach the sandbox: %s; try again (a fresh sandbox "
				     "will be started)",
				     strerror(e < 0 ? -e : EPIPE));
		box_gone(b);
		return -1;
	}

	r->next = s->runs;
	s->runs = r;
	uv_pipe_init(s->loop, &r->out, 0);
	uv_pipe_init(s->loop, &r->err, 0);
	r->out.data = r->err.data = r->in.data = r;
	uv_pipe_open(&r->out, out[0]);
	uv_pipe_open(&r->err, errp[0]);
	r->open_handles = 2;
	uv_read_start((uv_stream_t *)&r->out, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&r->err, on_alloc, on_read);
	if (has_stdin) {
		uv_pipe_init(s->loop, &r->in, 0);
		uv_pipe_open(&r->in, in[1]);
		r->open_handles++;
		/* The caller's buffer need not outlive this call. */
		r->stdin_copy = zb_xmalloc(spec->stdin_len);
		memcpy(r->stdin_copy, spec->stdin_data, spec->stdin_len);
		uv_buf_t buf = uv_buf_init(r->stdin_copy, (unsigned)spec->stdin_len);
		r->write_req.data = r;
		if (uv_write(&r->write_req, (uv_stream_t *)&r->in, &buf, 1, on_stdin_written) < 0)
			uv_close((uv_handle_t *)&r->in, on_run_handle_closed);
	}
	return 0;
}

static void ns_kill(struct zb_run *run)
{
	struct ns_run *r = run->priv;
	if (!r || r->got_exit || !r->box || r->box->gone)
		return;
	json_t *msg = json_pack("{s:s, s:I}", "type", "kill", "id", r->id);
	int e = zb_ns_send(r->box->sock, msg, NULL, 0);
	json_decref(msg);
	if (e < 0)
		box_gone(r->box);
}

static void ns_describe(struct zb_session *s, json_t *info)
{
	json_object_set_new(info, "backend", json_string("namespace"));
	json_object_set_new(info, "session",
			    json_string(s->persistent ? "persistent" : "per-call"));
	json_t *ready = s->ready;
	if (ready) {
		json_object_set(info, "limits", json_object_get(ready, "limits"));
		json_object_set(info, "isolation", json_object_get(ready, "isolation"));
	} else {
		json_object_set_new(
			info, "limits",
			json_pack("{s:s}", "note", "known once the first sandbox has started"));
	}
}

static void on_spare_timer_closed(uv_handle_t *h)
{
	struct zb_session *s = h->data;
	s->spare_timer_open = false;
	maybe_session_done(s);
}

static void ns_session_close(struct zb_session *s, void (*done)(void *arg), void *arg)
{
	s->closing = true;
	s->done = done;
	s->done_arg = arg;
	uv_close((uv_handle_t *)&s->spare_timer, on_spare_timer_closed);
	/* Closing the sockets is the shutdown signal: each sandbox init sees end of file,
	 * kills everything and exits, and so does the helper, which also kills whatever is
	 * left of its sandboxes and removes their cgroups. */
	for (struct ns_box *b = s->boxes, *next; b; b = next) {
		next = b->next;
		box_gone(b);
	}
	for (struct ns_helper *h = s->helpers; h; h = h->next)
		helper_gone(h);
	maybe_session_done(s);
}

const struct zb_backend zb_backend_namespace = {
	.name = "namespace",
	.probe = ns_probe,
	.session_open = ns_session_open,
	.run = ns_run,
	.kill = ns_kill,
	.describe = ns_describe,
	.session_close = ns_session_close,
};
