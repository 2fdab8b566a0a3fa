/* zonebox: flags, configuration, the loop, signals. */
#include <fcntl.h>
#include <malloc.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#include "zb-build.h"
#include "backends/backend.h"
#include "approval.h"
#include "config.h"
#include "log.h"
#include "mcp.h"
#include "rpc.h"
#include "schema.h"

static const char usage[] =
	"usage: zonebox [OPTION...]\n"
	"An MCP tool server (stdio): shell.run and fs.* tools in a sandbox that sees only the\n"
	"configured zones. Started by an MCP client (Claude, VS Code, Cursor, Codex, ...).\n"
	"\n"
	"  -c, --config FILE          configuration file (YAML); without it: the current folder\n"
	"                             as zone \"work\" (rw) and a tmpfs zone \"scratch\"\n"
	"      --zone NAME=PATH[:ro|:rw]\n"
	"                             add a zone (repeatable; default rw). Without --config,\n"
	"                             the first --zone replaces the default \"work\" zone\n"
	"      --tool-names dotted|underscore\n"
	"                             advertise shell.run or shell_run (calls accept both)\n"
	"      --backend NAME         override sandbox.backend (namespace, docker, wasm, null)\n"
	"      --max-message SIZE     largest accepted message line (default 16M)\n"
	"      --log-level LEVEL      stderr log level: debug info notice warning error "
	"(default info)\n"
	"      --check-config FILE    validate a configuration file and exit (0 ok, 2 bad)\n"
	"      --explain 'COMMAND'    show how the approval rules judge a shell command, and\n"
	"                             why (each sub-command, which rule), then exit\n"
	"  -h, --help                 this help\n"
	"  -V, --version              version and built backends\n";

enum {
	OPT_ZONE = 256,
	OPT_TOOL_NAMES,
	OPT_BACKEND,
	OPT_MAX_MESSAGE,
	OPT_LOG_LEVEL,
	OPT_CHECK_CONFIG,
	OPT_EXPLAIN,
};

struct options {
	const char *config;
	const char **zones;
	size_t n_zones;
	const char *tool_names;
	const char *backend;
	const char *max_message;
	const char *check_config;
	const char *explain;
};

struct app {
	uv_loop_t loop;
	struct zb_server *srv;
	struct zb_stdio *io;
	uv_signal_t sigterm, sigint;
	uv_timer_t trim; /* gives large buffers back when idle */
	bool stopping;
	bool signalled; /* a signal asked to stop: a second one exits at once */
	int exit_code;
};

static void die_usage(const char *fmt, ...) ZB_PRINTF(1, 2);
static void die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "zonebox: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nRun 'zonebox --help' for the options.\n");
	va_end(ap);
	exit(2);
}

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"zone", required_argument, NULL, OPT_ZONE},
		{"tool-names", required_argument, NULL, OPT_TOOL_NAMES},
		{"backend", required_argument, NULL, OPT_BACKEND},
		{"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
		{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
		{"check-config", required_argument, NULL, OPT_CHECK_CONFIG},
		{"explain", required_argument, NULL, OPT_EXPLAIN},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_ZONE:
			o->zones = zb_xrealloc(o->zones, (o->n_zones + 1) * sizeof(*o->zones));
			o->zones[o->n_zones++] = optarg;
			break;
		case OPT_TOOL_NAMES:
			if (strcmp(optarg, "dotted") != 0 && strcmp(optarg, "underscore") != 0)
				die_usage("--tool-names takes dotted or underscore, not \"%s\"",
					  optarg);
			o->tool_names = optarg;
			break;
		case OPT_BACKEND:
			o->backend = optarg;
			break;
		case OPT_MAX_MESSAGE:
			o->max_message = optarg;
			break;
		case OPT_LOG_LEVEL: {
			int l = zb_log_level_parse(optarg);
			if (l < 0)
				die_usage(
					"--log-level takes debug, info, notice, warning or error, "
					"not \"%s\"",
					optarg);
			zb_log_set_stderr_level((enum zb_log_level)l);
			break;
		}
		case OPT_CHECK_CONFIG:
			o->check_config = optarg;
			break;
		case OPT_EXPLAIN:
			o->explain = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V': {
			printf("zonebox %s\nbackends:", ZB_VERSION);
			for (const char *const *n = zb_backend_names(); *n; n++)
				printf(" %s", *n);
			printf("\nMCP protocol versions: 2025-11-25 2025-06-18 2025-03-26 "
			       "2024-11-05\n");
			exit(0);
		}
		case ':':
			die_usage("%s needs a value", argv[optind - 1]);
			break;
		default:
			die_usage("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument \"%s\" (zonebox takes options only)", argv[optind]);
}

/* Configuration from the file (or the default), then the flags; any fault exits 2. */
static struct zb_config *load_config(const struct options *o)
{
	_cleanup_error_ struct zb_error *err = NULL;
	const char *file = o->check_config ? o->check_config : o->config;
	struct zb_config *cfg = file ? zb_config_load_file(file, &err) : zb_config_default(&err);
	if (!cfg)
		goto fail;
	if (!file && o->n_zones > 0) {
		/* Zones given on the command line replace the default "work" zone. */
		for (size_t i = 0; i < cfg->sandbox.n_zones; i++)
			if (strcmp(cfg->sandbox.zones[i].name, "work") == 0) {
				struct zb_zone *z = &cfg->sandbox.zones[i];
				free(z->name);
				free(z->host_path);
				for (size_t k = 0; k < z->n_protect; k++)
					free(z->protect[k]);
				free(z->protect);
				memmove(z, z + 1, (cfg->sandbox.n_zones - i - 1) * sizeof(*z));
				cfg->sandbox.n_zones--;
				break;
			}
	}
	for (size_t i = 0; i < o->n_zones; i++)
		if (zb_config_add_zone_flag(cfg, o->zones[i], &err) < 0)
			goto fail;
	if (!file && o->n_zones > 0 && cfg->sandbox.n_zones > 1) {
		/* The first zone is the default cwd and the base of relative paths: make it the
		 * first one the user named, not the scratch tmpfs. */
		struct zb_zone first = cfg->sandbox.zones[0];
		memmove(cfg->sandbox.zones, cfg->sandbox.zones + 1,
			(cfg->sandbox.n_zones - 1) * sizeof(first));
		cfg->sandbox.zones[cfg->sandbox.n_zones - 1] = first;
	}
	if (o->tool_names)
		cfg->tools.underscore = strcmp(o->tool_names, "underscore") == 0;
	if (o->backend) {
		free(cfg->sandbox.backend);
		cfg->sandbox.backend = zb_xstrdup(o->backend);
	}
	if (o->max_message && (zb_parse_size(o->max_message, &cfg->server.max_message_bytes) < 0 ||
			       cfg->server.max_message_bytes < 1024)) {
		fprintf(stderr,
			"zonebox: --max-message takes a size of at least 1k, like 16M, not "
			"\"%s\"\n",
			o->max_message);
		zb_config_free(cfg);
		exit(2);
	}
	if (zb_config_validate(cfg, &err) < 0)
		goto fail;
	return cfg;
fail:
	fprintf(stderr, "zonebox: %s\n", err->msg);
	zb_config_free(cfg);
	exit(2);
}

/* ---------------------------------------------------------------- the loop */

/* Messages at least this long leave memory in the heap worth giving back once idle. */
#define TRIM_AFTER_BYTES (256 * 1024)
#define TRIM_IDLE_MS	 250

static void on_trim(uv_timer_t *t)
{
	malloc_trim(0);
}

/* After a large message, free memory is returned TRIM_IDLE_MS after the last one. */
static void trim_soon(struct app *app, size_t len)
{
	if (len >= TRIM_AFTER_BYTES && !app->stopping)
		uv_timer_start(&app->trim, on_trim, TRIM_IDLE_MS, 0);
}

static void send_line(void *ud, json_t *msg)
{
	struct app *app = ud;
	zb_stdio_send(app->io, msg);
}

static void send_text_line(void *ud, struct zb_part *parts, size_t n)
{
	struct app *app = ud;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += parts[i].len;
	zb_stdio_send_parts(app->io, parts, n);
	trim_soon(app, len);
}

static void on_line(void *ud, const char *line, size_t len)
{
	struct app *app = ud;
	zb_server_handle_line(app->srv, line, len);
	trim_soon(app, len);
}

static void on_oversize(void *ud, size_t max)
{
	struct app *app = ud;
	zb_server_handle_oversize(app->srv, max);
}

static void on_handle_closed(uv_handle_t *h)
{
}

static void on_io_closed(void *arg)
{
	struct app *app = arg;
	app->io = NULL;
	uv_close((uv_handle_t *)&app->sigterm, on_handle_closed);
	uv_close((uv_handle_t *)&app->sigint, on_handle_closed);
	uv_close((uv_handle_t *)&app->trim, on_handle_closed);
}

static void on_server_down(void *arg)
{
	struct app *app = arg;
	zb_stdio_close(app->io, on_io_closed, app);
}

static void stop(struct app *app, const char *why)
{
	if (app->stopping)
		return;
	app->stopping = true;
	zb_info("%s: stopping", why);
	zb_stdio_stop(app->io);
	zb_server_shutdown(app->srv, on_server_down, app);
}

static void on_eof(void *ud)
{
	stop(ud, "end of input");
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct app *app = h->data;
	/* Clients close stdin and send SIGTERM a moment later (the SDKs do): that is one stop,
	 * which must still finish its audit lines and cleanup. Only a second signal means
	 * "now". */
	if (app->signalled) {
		/* A second signal while stopping: the user wants out now. */
		zb_warning("second %s: exiting at once", strsignal(sig));
		_exit(128 + sig);
	}
	app->signalled = true;
	stop(app, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

int main(int argc, char **argv)
{
	struct options o = {0};
	parse_args(argc, argv, &o);
	struct zb_config *cfg = load_config(&o);
	free(o.zones);

	if (o.explain) {
		char *text = zb_approval_explain(cfg, o.explain);
		fputs(text, stdout);
		free(text);
		zb_config_free(cfg);
		return 0;
	}

	if (o.check_config) {
		printf("%s: ok (%zu zone%s, backend %s)\n", cfg->path, cfg->sandbox.n_zones,
		       cfg->sandbox.n_zones == 1 ? "" : "s", cfg->sandbox.backend);
		zb_config_free(cfg);
		return 0;
	}

	/* stdout carries protocol only: the protocol gets a private copy of fd 1, and fd 1
	 * itself becomes stderr, so a stray write by any library cannot corrupt the stream. */
	int out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (out_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		fprintf(stderr, "zonebox: cannot set up stdout: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	json_set_alloc_funcs(zb_xmalloc, free);
	/* Large buffers (a file read, a listing, their replies) stay in the heap while calls
	 * come, so that the next large call finds its pages mapped (faulting in 4 MiB of fresh
	 * pages was a third of a 1 MiB read), and go back to the system once the server is idle
	 * (see trim_soon). One arena for every thread: a block freed by the loop thread is
	 * reused by the next fs job's worker instead of each of four workers keeping its own
	 * (25 MiB resident after fs_bench with the default arenas, 7.4 MiB with one). At most
	 * 8 MiB of free heap is kept; a block larger than that is mapped for its call alone.
	 * Setting these also turns off glibc's own adjustment of them. */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	mallopt(M_ARENA_MAX, 1);

	struct app app = {0};
	uv_loop_init(&app.loop);
	const struct zb_backend *backend = zb_backend_find(cfg->sandbox.backend);
	_cleanup_error_ struct zb_error *perr = NULL;
	if (!backend)
		zb_warning("sandbox backend %s is not part of this build; shell.run will say so "
			   "(fs tools still work)",
			   cfg->sandbox.backend);
	else if (backend->probe && backend->probe(cfg, &perr) < 0)
		zb_warning("sandbox backend %s is not usable here: %s (fs tools still work; "
			   "shell.run will answer with this message)",
			   backend->name, perr->msg);
	size_t max_line = cfg->server.max_message_bytes;
	app.srv = zb_server_new(&app.loop, cfg, send_line, &app);
	zb_server_set_line_sink(app.srv, send_text_line);
	app.io = zb_stdio_new(&app.loop, STDIN_FILENO, out_fd, max_line, on_line, on_oversize,
			      on_eof, &app);
	uv_timer_init(&app.loop, &app.trim);
	uv_signal_init(&app.loop, &app.sigterm);
	uv_signal_init(&app.loop, &app.sigint);
	app.sigterm.data = app.sigint.data = &app;
	uv_signal_start(&app.sigterm, on_signal, SIGTERM);
	uv_signal_start(&app.sigint, on_signal, SIGINT);
	if (zb_stdio_start(app.io) < 0) {
		app.exit_code = 1;
		stop(&app, "stdio unusable");
	}

	uv_run(&app.loop, UV_RUN_DEFAULT);

	zb_server_free(app.srv);
	zb_schema_cache_free();
	int r = uv_loop_close(&app.loop);
	if (r != 0)
		zb_err("internal error: the loop still had handles at exit (%s)", uv_strerror(r));
	close(out_fd);
	return app.exit_code ? app.exit_code : (r != 0);
}
