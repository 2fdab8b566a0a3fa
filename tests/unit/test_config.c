/* Unit tests of server/config.c: the DESIGN.md example, every key, the defaults, the embedded
 * default config, --zone flags, and every error with its exact file:line:column. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "schema.h"

static char tmpdir[] = "/tmp/zb-test-config-XXXXXX";
static char *saved_home;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	const char *home = getenv("HOME");
	saved_home = home ? zb_xstrdup(home) : NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
	free(saved_home);
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/<rel>, to be freed. */
static char *in_tmp(const char *rel)
{
	return zb_xasprintf("%s/%s", tmpdir, rel);
}

static void make_dir(const char *rel)
{
	_cleanup_free_ char *p = in_tmp(rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void write_file(const char *rel, const char *text)
{
	_cleanup_free_ char *p = in_tmp(rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Load YAML text as if it were tmpdir/t.yaml. */
static struct zb_config *load(const char *yaml, struct zb_error **err)
{
	return zb_config_load_string(yaml, strlen(yaml), "t.yaml", tmpdir, err);
}

static struct zb_config *load_ok(const char *yaml)
{
	struct zb_error *err = NULL;
	struct zb_config *cfg = load(yaml, &err);
	if (!cfg)
		fail_msg("unexpected error for:\n%s\n-> %s", yaml, err->msg);
	return cfg;
}

/* Does the error start with "t.yaml:<at>: " and contain `phrase`? Says why not. */
static bool error_matches(const char *yaml, const struct zb_error *err, const char *at,
			  const char *phrase)
{
	_cleanup_free_ char *prefix = zb_xasprintf("t.yaml:%s: ", at);
	if (!err) {
		print_error("no error for:\n%s\n", yaml);
		return false;
	}
	if (err->kind != ZB_ERR_CONFIG || strncmp(err->msg, prefix, strlen(prefix)) != 0 ||
	    !strstr(err->msg, phrase)) {
		print_error("for:\n%s\nwanted \"%s...%s\", kind %d\ngot    \"%s\", kind %d\n", yaml,
			    prefix, phrase, ZB_ERR_CONFIG, err->msg, err->kind);
		return false;
	}
	return true;
}

static void check_error(const char *yaml, const struct zb_error *err, const char *at,
			const char *phrase)
{
	assert_true(error_matches(yaml, err, at, phrase));
}

struct error_case {
	const char *yaml;
	const char *at; /* "line:column" */
	const char *phrase;
};

/* Every case is tried, so one run shows all the mismatches. */
static void run_error_cases(const struct error_case *cases, size_t n)
{
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_error_ struct zb_error *err = NULL;
		_cleanup_config_ struct zb_config *cfg = load(cases[i].yaml, &err);
		if (cfg)
			print_error("loaded, but should not have:\n%s\n", cases[i].yaml);
		if (cfg || !error_matches(cases[i].yaml, err, cases[i].at, cases[i].phrase))
			failed++;
	}
	if (failed)
		fail_msg("%zu of %zu cases failed", failed, n);
}

#define RUN_ERROR_CASES(c) run_error_cases((c), ZB_ARRAY_SIZE(c))

static void assert_path(const char *got, const char *rel)
{
	_cleanup_free_ char *want = rel ? in_tmp(rel) : zb_xstrdup(tmpdir);
	assert_non_null(got);
	assert_string_equal(got, want);
}

/* ---------------------------------------------------------------------------------------- */
/* Happy paths */

/* DESIGN.md "Configuration", copied as written. */
static const char design_yaml[] =
	"sandbox:\n"
	"  backend: namespace          # namespace | docker | wasm\n"
	"  image: alpine:latest        # docker only\n"
	"  runtime: wasmtime           # wasm only: wasmtime, or node (Node.js WASI)\n"
	"  network: none               # none | host | allow: [domains]  (allow = through a "
	"filtering proxy)\n"
	"  session: persistent         # persistent: one sandbox per MCP session; per-call: fresh "
	"each call\n"
	"  limits: {timeout: 30s, memory: 512M, pids: 256, cpu: 1.0, output: 1M}\n"
	"  zones:\n"
	"    - {name: input,   mode: ro,    hostPath: ./data}\n"
	"    - {name: output,  mode: rw,    hostPath: ./output, protect: [.git/hooks]}\n"
	"    - {name: scratch, mode: tmpfs, size: 64M}\n"
	"approval:\n"
	"  default: ask                # allow | ask | deny, for commands that no rule matches\n"
	"  rules:\n"
	"    - {allow: [\"ls\", \"cat\", \"git status\", \"git diff *\"]}\n"
	"    - {deny:  [\"curl *\", \"wget *\"]}\n"
	"  approver: {command: [\"zonebox-approve\"]}   # or: elicitation\n"
	"tools: {names: dotted}        # dotted (shell.run) | underscore (shell_run)\n"
	"audit: {path: ./zonebox-audit.jsonl}\n";

static void design_example(void **state)
{
	(void)state;
	_cleanup_config_ struct zb_config *cfg = load_ok(design_yaml);

	assert_string_equal(cfg->path, "t.yaml");
	assert_string_equal(cfg->dir, tmpdir);
	assert_string_equal(cfg->sandbox.backend, "namespace");
	assert_string_equal(cfg->sandbox.image, "alpine:latest");
	assert_string_equal(cfg->sandbox.runtime, "wasmtime");
	assert_null(cfg->sandbox.rootfs);
	assert_int_equal(cfg->sandbox.network, ZB_NET_NONE);
	assert_int_equal(cfg->sandbox.n_allow_domains, 0);
	assert_int_equal(cfg->sandbox.session, ZB_SESSION_PERSISTENT);
	assert_int_equal(cfg->sandbox.limits.timeout_ms, 30000);
	assert_int_equal(cfg->sandbox.limits.memory_bytes, 512ull << 20);
	assert_int_equal(cfg->sandbox.limits.pids, 256);
	assert_true(cfg->sandbox.limits.cpu == 1.0);
	assert_int_equal(cfg->sandbox.limits.output_bytes, 1ull << 20);
	assert_int_equal(cfg->sandbox.n_env, 0);

	assert_int_equal(cfg->sandbox.n_zones, 3);
	const struct zb_zone *z = cfg->sandbox.zones;
	assert_string_equal(z[0].name, "input");
	assert_int_equal(z[0].mode, ZB_ZONE_RO);
	assert_path(z[0].host_path, "data");
	assert_int_equal(z[0].size, 0);
	assert_int_equal(z[0].n_protect, 0);
	assert_int_equal(z[0].line, 9);
	assert_int_equal(z[0].column, 7);
	assert_int_equal(z[0].path_line, 9);
	assert_int_equal(z[0].path_column, 46);
	assert_string_equal(z[1].name, "output");
	assert_int_equal(z[1].mode, ZB_ZONE_RW);
	assert_path(z[1].host_path, "output");
	assert_int_equal(z[1].n_protect, 1);
	assert_string_equal(z[1].protect[0], ".git/hooks");
	assert_int_equal(z[1].line, 10);
	assert_string_equal(z[2].name, "scratch");
	assert_int_equal(z[2].mode, ZB_ZONE_TMPFS);
	assert_null(z[2].host_path);
	assert_int_equal(z[2].size, 64ull << 20);
	assert_int_equal(z[2].line, 11);
	assert_int_equal(z[2].path_line, 0);

	assert_int_equal(cfg->approval.default_decision, ZB_DECISION_ASK);
	assert_int_equal(cfg->approval.n_rules, 2);
	const struct zb_rule *r = cfg->approval.rules;
	assert_int_equal(r[0].decision, ZB_DECISION_ALLOW);
	assert_int_equal(r[0].n_patterns, 4);
	assert_string_equal(r[0].patterns[0], "ls");
	assert_string_equal(r[0].patterns[1], "cat");
	assert_string_equal(r[0].patterns[2], "git status");
	assert_string_equal(r[0].patterns[3], "git diff *");
	assert_int_equal(r[0].n_match, 0);
	assert_int_equal(r[0].n_not_match, 0);
	assert_int_equal(r[0].line, 15);
	assert_int_equal(r[0].column, 7);
	assert_int_equal(r[1].decision, ZB_DECISION_DENY);
	assert_int_equal(r[1].n_patterns, 2);
	assert_string_equal(r[1].patterns[0], "curl *");
	assert_string_equal(r[1].patterns[1], "wget *");
	assert_int_equal(r[1].line, 16);
	assert_int_equal(cfg->approval.n_tools, 0);
	assert_int_equal(cfg->approval.n_approvers, 1);
	assert_int_equal(cfg->approval.approvers[0].kind, ZB_APPROVER_COMMAND);
	assert_string_equal(cfg->approval.approvers[0].argv[0], "zonebox-approve");
	assert_null(cfg->approval.approvers[0].argv[1]);
	assert_int_equal(cfg->approval.timeout_ms, 45000);
	assert_null(cfg->approval.learned);

	assert_false(cfg->tools.underscore);
	assert_false(cfg->tools.show_host_paths);
	assert_path(cfg->audit.path, "zonebox-audit.jsonl");
	assert_int_equal(cfg->server.max_message_bytes, 16ull << 20);
	assert_int_equal(cfg->server.tools_page_size, 100);
}

static void design_example_validates(void **state)
{
	(void)state;
	_cleanup_config_ struct zb_config *cfg = load_ok(design_yaml);
	_cleanup_error_ struct zb_error *err = NULL;

	/* The host folders do not exist yet: the first zone's hostPath is named. */
	assert_int_equal(zb_config_validate(cfg, &err), -1);
	check_error(design_yaml, err, "9:46", "zone \"input\": host path");
	assert_non_null(strstr(err->msg, "does not exist"));
	zb_error_free(TAKE_PTR(err));

	make_dir("data");
	make_dir("output");
	assert_int_equal(zb_config_validate(cfg, &err), 0);
	assert_null(err);
}

static void defaults(void **state)
{
	(void)state;
	_cleanup_config_ struct zb_config *cfg = load_ok("tools: {}\n");

	assert_string_equal(cfg->sandbox.backend, "namespace");
	assert_null(cfg->sandbox.image);
	assert_null(cfg->sandbox.runtime);
	assert_null(cfg->sandbox.rootfs);
	assert_int_equal(cfg->sandbox.network, ZB_NET_NONE);
	assert_null(cfg->sandbox.allow_domains);
	assert_int_equal(cfg->sandbox.session, ZB_SESSION_PERSISTENT);
	assert_int_equal(cfg->sandbox.limits.timeout_ms, 30000);
	assert_int_equal(cfg->sandbox.limits.memory_bytes, 512ull << 20);
	assert_int_equal(cfg->sandbox.limits.pids, 256);
	assert_true(cfg->sandbox.limits.cpu == 1.0);
	assert_int_equal(cfg->sandbox.limits.output_bytes, 1ull << 20);
	assert_int_equal(cfg->sandbox.n_env, 0);
	assert_int_equal(cfg->sandbox.n_zones, 0);
	assert_int_equal(cfg->approval.default_decision, ZB_DECISION_ASK);
	assert_int_equal(cfg->approval.n_rules, 0);
	assert_int_equal(cfg->approval.n_tools, 0);
	assert_int_equal(cfg->approval.n_approvers, 0);
	assert_int_equal(cfg->approval.timeout_ms, 45000);
	assert_null(cfg->approval.learned);
	assert_false(cfg->tools.underscore);
	assert_false(cfg->tools.show_host_paths);
	assert_null(cfg->audit.path);
	assert_int_equal(cfg->server.max_message_bytes, 16ull << 20);
	assert_int_equal(cfg->server.tools_page_size, 100);
}

static void every_key(void **state)
{
	(void)state;
	setenv("HOME", "/home/tester", 1);
	_cleanup_config_ struct zb_config *cfg = load_ok(
		"sandbox:\n"
		"  backend: docker\n"
		"  image: \"debian:12\"\n"
		"  runtime: node\n"
		"  rootfs: ../rootfs/\n"
		"  network: {allow: [pypi.org, \"*.github.com\", files.pythonhosted.org]}\n"
		"  session: per-call\n"
		"  limits:\n"
		"    timeout: 2m\n"
		"    memory: 1G\n"
		"    pids: 64\n"
		"    cpu: 0.5\n"
		"    output: 256k\n"
		"  env: [TERM, \"LANG=C.UTF-8\", _X=a=b]\n"
		"  zones:\n"
		"    - name: home\n"
		"      mode: ro\n"
		"      hostPath: ~/src\n"
		"      protect: [./a//b/, .git/hooks, .env]\n"
		"    - {name: abs, mode: rw, hostPath: /srv/data/../x/./y//}\n"
		"    - {name: my-zone_1.x, mode: tmpfs}\n"
		"approval:\n"
		"  default: deny\n"
		"  rules:\n"
		"    - ask: \"git push *\"\n"
		"      match: [\"git push origin main\"]\n"
		"      not_match: [\"git pull\"]\n"
		"    - {allow: [\"make *\"]}\n"
		"  tools: {fs_write: ask, shell.run: allow, fs.zones: deny}\n"
		"  approver: [elicitation, {command: [/usr/bin/approve, --tty, \"--x=1\"]}]\n"
		"  timeout: 10s\n"
		"  learned: state/learned.yaml\n"
		"tools: {names: underscore, show_host_paths: true}\n"
		"audit: {path: /var/log/zonebox.jsonl}\n"
		"server: {max_message: 1MiB, tools_page_size: 5}\n");

	assert_string_equal(cfg->sandbox.backend, "docker");
	assert_string_equal(cfg->sandbox.image, "debian:12");
	assert_string_equal(cfg->sandbox.runtime, "node");
	_cleanup_free_ char *parent = zb_xstrndup(tmpdir, strrchr(tmpdir, '/') - tmpdir);
	_cleanup_free_ char *rootfs = zb_xasprintf("%s/rootfs", parent);
	assert_string_equal(cfg->sandbox.rootfs, rootfs);
	assert_int_equal(cfg->sandbox.rootfs_line, 5);
	assert_int_equal(cfg->sandbox.rootfs_column, 11);
	assert_int_equal(cfg->sandbox.network, ZB_NET_ALLOW);
	assert_int_equal(cfg->sandbox.n_allow_domains, 3);
	assert_string_equal(cfg->sandbox.allow_domains[0], "pypi.org");
	assert_string_equal(cfg->sandbox.allow_domains[1], "*.github.com");
	assert_string_equal(cfg->sandbox.allow_domains[2], "files.pythonhosted.org");
	assert_int_equal(cfg->sandbox.session, ZB_SESSION_PER_CALL);
	assert_int_equal(cfg->sandbox.limits.timeout_ms, 120000);
	assert_int_equal(cfg->sandbox.limits.memory_bytes, 1ull << 30);
	assert_int_equal(cfg->sandbox.limits.pids, 64);
	assert_true(cfg->sandbox.limits.cpu == 0.5);
	assert_int_equal(cfg->sandbox.limits.output_bytes, 256 << 10);
	assert_int_equal(cfg->sandbox.n_env, 3);
	assert_string_equal(cfg->sandbox.env[0], "TERM");
	assert_string_equal(cfg->sandbox.env[1], "LANG=C.UTF-8");
	assert_string_equal(cfg->sandbox.env[2], "_X=a=b");

	assert_int_equal(cfg->sandbox.n_zones, 3);
	const struct zb_zone *z = cfg->sandbox.zones;
	assert_string_equal(z[0].name, "home");
	assert_int_equal(z[0].mode, ZB_ZONE_RO);
	assert_string_equal(z[0].host_path, "/home/tester/src");
	assert_int_equal(z[0].line, 16);
	assert_int_equal(z[0].column, 7);
	assert_int_equal(z[0].path_line, 18);
	assert_int_equal(z[0].path_column, 17);
	assert_int_equal(z[0].n_protect, 3);
	assert_string_equal(z[0].protect[0], "a/b");
	assert_string_equal(z[0].protect[1], ".git/hooks");
	assert_string_equal(z[0].protect[2], ".env");
	assert_string_equal(z[1].host_path, "/srv/x/y");
	assert_string_equal(z[2].name, "my-zone_1.x");
	assert_int_equal(z[2].size, 0);

	assert_int_equal(cfg->approval.default_decision, ZB_DECISION_DENY);
	assert_int_equal(cfg->approval.n_rules, 2);
	const struct zb_rule *r = cfg->approval.rules;
	assert_int_equal(r[0].decision, ZB_DECISION_ASK);
	assert_int_equal(r[0].n_patterns, 1);
	assert_string_equal(r[0].patterns[0], "git push *");
	assert_int_equal(r[0].n_match, 1);
	assert_string_equal(r[0].match[0], "git push origin main");
	assert_int_equal(r[0].n_not_match, 1);
	assert_string_equal(r[0].not_match[0], "git pull");
	assert_int_equal(r[0].line, 25);
	assert_int_equal(r[0].column, 7);
	assert_int_equal(r[1].decision, ZB_DECISION_ALLOW);
	assert_string_equal(r[1].patterns[0], "make *");

	assert_int_equal(cfg->approval.n_tools, 3);
	assert_string_equal(cfg->approval.tools[0].tool, "fs.write");
	assert_int_equal(cfg->approval.tools[0].decision, ZB_DECISION_ASK);
	assert_string_equal(cfg->approval.tools[1].tool, "shell.run");
	assert_int_equal(cfg->approval.tools[1].decision, ZB_DECISION_ALLOW);
	assert_string_equal(cfg->approval.tools[2].tool, "fs.zones");
	assert_int_equal(cfg->approval.tools[2].decision, ZB_DECISION_DENY);

	assert_int_equal(cfg->approval.n_approvers, 2);
	assert_int_equal(cfg->approval.approvers[0].kind, ZB_APPROVER_ELICITATION);
	assert_null(cfg->approval.approvers[0].argv);
	assert_int_equal(cfg->approval.approvers[1].kind, ZB_APPROVER_COMMAND);
	char **argv = cfg->approval.approvers[1].argv;
	assert_string_equal(argv[0], "/usr/bin/approve");
	assert_string_equal(argv[1], "--tty");
	assert_string_equal(argv[2], "--x=1");
	assert_null(argv[3]);
	assert_int_equal(cfg->approval.timeout_ms, 10000);
	assert_path(cfg->approval.learned, "state/learned.yaml");

	assert_true(cfg->tools.underscore);
	assert_true(cfg->tools.show_host_paths);
	assert_string_equal(cfg->audit.path, "/var/log/zonebox.jsonl");
	assert_int_equal(cfg->server.max_message_bytes, 1ull << 20);
	assert_int_equal(cfg->server.tools_page_size, 5);
}

static void value_forms(void **state)
{
	(void)state;
	static const struct {
		const char *yaml;
		uint64_t timeout_ms, memory;
	} cases[] = {
		{"sandbox: {limits: {timeout: 30, memory: 1024}}", 30000, 1024},
		{"sandbox: {limits: {timeout: 1.5, memory: \"2048\"}}", 1500, 2048},
		{"sandbox: {limits: {timeout: 500ms, memory: 1.5k}}", 500, 1536},
		{"sandbox: {limits: {timeout: 1h, memory: 2MiB}}", 3600000, 2ull << 20},
		{"sandbox: {limits: {timeout: 2MIN, memory: 3gb}}", 120000, 3ull << 30},
		{"sandbox: {limits: {timeout: 7sec, memory: 1t}}", 7000, 1ull << 40},
		{"sandbox: {limits: {timeout: 1ms, memory: 1}}", 1, 1},
		{"sandbox: {limits: {timeout: 0.5s, memory: 100b}}", 500, 100},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		_cleanup_config_ struct zb_config *cfg = load_ok(cases[i].yaml);
		assert_int_equal(cfg->sandbox.limits.timeout_ms, cases[i].timeout_ms);
		assert_int_equal(cfg->sandbox.limits.memory_bytes, cases[i].memory);
	}

	/* Quoting makes a string of anything; !!str does the same. */
	_cleanup_config_ struct zb_config *cfg =
		load_ok("sandbox: {image: \"123\", backend: \"null\", env: [!!str X]}\n"
			"approval: {rules: [{allow: ['true', \"false *\"]}]}\n");
	assert_string_equal(cfg->sandbox.image, "123");
	assert_string_equal(cfg->sandbox.backend, "null");
	assert_string_equal(cfg->sandbox.env[0], "X");
	assert_string_equal(cfg->approval.rules[0].patterns[0], "true");

	/* cpu 0 means no limit; a whole number is a number too. */
	_cleanup_config_ struct zb_config *c2 = load_ok("sandbox: {limits: {cpu: 0, pids: 1}}");
	assert_true(c2->sandbox.limits.cpu == 0.0);
	assert_int_equal(c2->sandbox.limits.pids, 1);
	_cleanup_config_ struct zb_config *c3 = load_ok("sandbox: {limits: {cpu: 4}}");
	assert_true(c3->sandbox.limits.cpu == 4.0);
}

static void network_modes(void **state)
{
	(void)state;
	_cleanup_config_ struct zb_config *a = load_ok("sandbox: {network: host}");
	assert_int_equal(a->sandbox.network, ZB_NET_HOST);
	_cleanup_config_ struct zb_config *b = load_ok("sandbox: {network: none}");
	assert_int_equal(b->sandbox.network, ZB_NET_NONE);
	_cleanup_config_ struct zb_config *c =
		load_ok("sandbox:\n  network:\n    allow:\n      - deb.debian.org\n");
	assert_int_equal(c->sandbox.network, ZB_NET_ALLOW);
	assert_int_equal(c->sandbox.n_allow_domains, 1);
	assert_string_equal(c->sandbox.allow_domains[0], "deb.debian.org");
}

static void yaml_forms(void **state)
{
	(void)state;
	/* Empty sections mean their defaults; anchors without aliases are harmless; comments,
	 * a leading "---", a trailing "...", a BOM and CRLF line ends are all plain YAML. */
	_cleanup_config_ struct zb_config *a =
		load_ok("# comment\n---\nsandbox:\napproval: ~\ntools: null\naudit: {}\n...\n");
	assert_string_equal(a->sandbox.backend, "namespace");
	_cleanup_config_ struct zb_config *b = load_ok("sandbox: &s {backend: docker}\n");
	assert_string_equal(b->sandbox.backend, "docker");
	_cleanup_config_ struct zb_config *c =
		load_ok("\xef\xbb\xbfsandbox:\r\n  backend: wasm\r\n");
	assert_string_equal(c->sandbox.backend, "wasm");
	/* Block-style lists and a single rule pattern as a string. */
	_cleanup_config_ struct zb_config *d = load_ok("approval:\n"
						       "  rules:\n"
						       "    - deny: rm *\n"
						       "    - allow:\n"
						       "        - ls\n"
						       "        - 'ls *'\n");
	assert_int_equal(d->approval.n_rules, 2);
	assert_string_equal(d->approval.rules[0].patterns[0], "rm *");
	assert_int_equal(d->approval.rules[1].n_patterns, 2);
	assert_int_equal(d->approval.rules[1].line, 4);
	assert_int_equal(d->approval.rules[1].column, 7);
}

static void paths(void **state)
{
	(void)state;
	setenv("HOME", "/home/u/", 1);
	_cleanup_config_ struct zb_config *cfg =
		load_ok("sandbox:\n"
			"  zones:\n"
			"    - {name: a, mode: rw, hostPath: .}\n"
			"    - {name: b, mode: rw, hostPath: sub/../x}\n"
			"    - {name: c, mode: rw, hostPath: \"~\"}\n"
			"    - {name: d, mode: rw, hostPath: ~/p/q}\n"
			"    - {name: e, mode: rw, hostPath: /../..}\n"
			"    - {name: f, mode: rw, hostPath: ./a:b}\n"
			"audit: {path: logs/./a.jsonl}\n");
	const struct zb_zone *z = cfg->sandbox.zones;
	assert_path(z[0].host_path, NULL);
	assert_path(z[1].host_path, "x");
	assert_string_equal(z[2].host_path, "/home/u");
	assert_string_equal(z[3].host_path, "/home/u/p/q");
	assert_string_equal(z[4].host_path, "/");
	assert_path(z[5].host_path, "a:b");
	assert_path(cfg->audit.path, "logs/a.jsonl");

	/* A relative dir is taken from the current folder. */
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	_cleanup_error_ struct zb_error *err = NULL;
	_cleanup_config_ struct zb_config *rel =
		zb_config_load_string("tools: {}", 9, "x.yaml", "sub/.", &err);
	assert_non_null(rel);
	_cleanup_free_ char *want = zb_xasprintf("%s/sub", cwd);
	assert_string_equal(rel->dir, want);
}

static void load_file(void **state)
{
	(void)state;
	make_dir("conf");
	make_dir("conf/work");
	write_file("conf/zonebox.yaml", "sandbox:\n"
					"  zones:\n"
					"    - {name: work, mode: rw, hostPath: work}\n");
	_cleanup_free_ char *path = in_tmp("conf/zonebox.yaml");
	_cleanup_free_ char *conf = in_tmp("conf");
	_cleanup_free_ char *work = in_tmp("conf/work");
	_cleanup_error_ struct zb_error *err = NULL;

	_cleanup_config_ struct zb_config *cfg = zb_config_load_file(path, &err);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	assert_string_equal(cfg->dir, conf);
	assert_string_equal(cfg->sandbox.zones[0].host_path, work);
	assert_int_equal(zb_config_validate(cfg, &err), 0);

	/* A path relative to the current folder: dir is still the file's folder. */
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	assert_int_equal(chdir(tmpdir), 0);
	_cleanup_config_ struct zb_config *rel = zb_config_load_file("conf/zonebox.yaml", &err);
	_cleanup_config_ struct zb_config *bare = NULL;
	assert_int_equal(chdir(conf), 0);
	bare = zb_config_load_file("zonebox.yaml", &err);
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(rel);
	assert_string_equal(rel->path, "conf/zonebox.yaml");
	assert_string_equal(rel->dir, conf);
	assert_string_equal(rel->sandbox.zones[0].host_path, work);
	assert_non_null(bare);
	assert_string_equal(bare->dir, conf);

	/* Errors carry the path as given. */
	write_file("conf/bad.yaml", "sandbox:\n  backend: podman\n");
	_cleanup_free_ char *bad = in_tmp("conf/bad.yaml");
	assert_null(zb_config_load_file(bad, &err));
	_cleanup_free_ char *prefix = zb_xasprintf("%s:2:12: sandbox.backend", bad);
	assert_int_equal(strncmp(err->msg, prefix, strlen(prefix)), 0);
	zb_error_free(TAKE_PTR(err));

	_cleanup_free_ char *missing = in_tmp("conf/missing.yaml");
	assert_null(zb_config_load_file(missing, &err));
	assert_int_equal(err->kind, ZB_ERR_CONFIG);
	assert_int_equal(err->errnum, ENOENT);
	assert_non_null(strstr(err->msg, missing));
	assert_non_null(strstr(err->msg, "cannot open"));
	zb_error_free(TAKE_PTR(err));

	assert_null(zb_config_load_file(conf, &err));
	assert_int_equal(err->kind, ZB_ERR_CONFIG);
	assert_non_null(strstr(err->msg, "is a folder"));
	zb_error_free(TAKE_PTR(err));

	write_file("conf/empty.yaml", "");
	_cleanup_free_ char *empty = in_tmp("conf/empty.yaml");
	assert_null(zb_config_load_file(empty, &err));
	_cleanup_free_ char *eprefix = zb_xasprintf("%s:1:1: ", empty);
	assert_int_equal(strncmp(err->msg, eprefix, strlen(eprefix)), 0);
	assert_non_null(strstr(err->msg, "no settings"));
}

static void default_config(void **state)
{
	(void)state;
	_cleanup_error_ struct zb_error *err = NULL;
	_cleanup_config_ struct zb_config *cfg = zb_config_default(&err);
	assert_non_null(cfg);
	_cleanup_free_ char *cwd = getcwd(NULL, 0);

	assert_string_equal(cfg->path, "<default>");
	assert_string_equal(cfg->dir, cwd);
	assert_string_equal(cfg->sandbox.backend, "namespace");
	assert_int_equal(cfg->sandbox.network, ZB_NET_NONE);
	assert_int_equal(cfg->sandbox.n_zones, 2);
	const struct zb_zone *work = zb_config_find_zone(cfg, "work");
	assert_non_null(work);
	assert_int_equal(work->mode, ZB_ZONE_RW);
	assert_string_equal(work->host_path, cwd);
	const struct zb_zone *scratch = zb_config_find_zone(cfg, "scratch");
	assert_non_null(scratch);
	assert_int_equal(scratch->mode, ZB_ZONE_TMPFS);
	assert_null(scratch->host_path);
	assert_int_equal(scratch->size, 64ull << 20);
	assert_null(zb_config_find_zone(cfg, "nope"));

	assert_int_equal(cfg->approval.default_decision, ZB_DECISION_ASK);
	assert_int_equal(cfg->approval.n_rules, 1);
	const struct zb_rule *r = &cfg->approval.rules[0];
	assert_int_equal(r->decision, ZB_DECISION_ALLOW);
	static const char *const commands[] = {
		"ls",	    "cat",   "head", "tail",  "wc",	    "grep",	"rg",
		"find",	    "pwd",   "echo", "stat",  "file",	    "du",	"df",
		"tree",	    "sort",  "uniq", "diff",  "git status", "git diff", "git log",
		"git show", "which", "true", "false", "date",	    "uname"};
	assert_int_equal(r->n_patterns, 2 * ZB_ARRAY_SIZE(commands));
	for (size_t i = 0; i < ZB_ARRAY_SIZE(commands); i++) {
		_cleanup_free_ char *with_args = zb_xasprintf("%s *", commands[i]);
		bool bare = false, args = false;
		for (size_t j = 0; j < r->n_patterns; j++) {
			bare |= strcmp(r->patterns[j], commands[i]) == 0;
			args |= strcmp(r->patterns[j], with_args) == 0;
		}
		if (!bare || !args)
			fail_msg("default allow rule lacks \"%s\" or \"%s\"", commands[i],
				 with_args);
	}
	/* Nothing that writes, runs other programs or reaches out is on the list. */
	static const char *const never[] = {"rm",   "mv",      "cp",	   "sh",
					    "bash", "env",     "xargs",	   "curl",
					    "wget", "python3", "git push", "git commit"};
	for (size_t j = 0; j < r->n_patterns; j++) {
		for (size_t k = 0; k < ZB_ARRAY_SIZE(never); k++) {
			size_t len = strlen(never[k]);
			const char *p = r->patterns[j];
			if (strncmp(p, never[k], len) == 0 && (p[len] == '\0' || p[len] == ' '))
				fail_msg("default allow rule has \"%s\"", p);
		}
	}
	assert_int_equal(cfg->approval.n_approvers, 0);
	assert_int_equal(zb_config_validate(cfg, &err), 0);
}

static void zone_flags(void **state)
{
	(void)state;
	setenv("HOME", "/home/u", 1);
	_cleanup_config_ struct zb_config *cfg = load_ok("sandbox:\n"
							 "  zones:\n"
							 "    - {name: scratch, mode: tmpfs}\n");
	_cleanup_error_ struct zb_error *err = NULL;
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	static const struct {
		const char *spec, *name, *path; /* path relative to cwd unless absolute */
		enum zb_zone_mode mode;
	} ok[] = {
		{"a=/srv/a", "a", "/srv/a", ZB_ZONE_RW},
		{"b=rel/dir:ro", "b", "rel/dir", ZB_ZONE_RO},
		{"c=/x:y:rw", "c", "/x:y", ZB_ZONE_RW},
		{"d=/x:y", "d", "/x:y", ZB_ZONE_RW},
		{"e=C:ro:ro", "e", "C:ro", ZB_ZONE_RO},
		{"f=~/p", "f", "/home/u/p", ZB_ZONE_RW},
		{"g=.", "g", ".", ZB_ZONE_RW},
		{"h=/a=b:RO", "h", "/a=b:RO", ZB_ZONE_RW},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(ok); i++) {
		if (zb_config_add_zone_flag(cfg, ok[i].spec, &err) < 0)
			fail_msg("--zone %s: %s", ok[i].spec, err->msg);
		const struct zb_zone *z = zb_config_find_zone(cfg, ok[i].name);
		assert_non_null(z);
		_cleanup_free_ char *want = ok[i].path[0] == '/' ? zb_xstrdup(ok[i].path)
					    : strcmp(ok[i].path, ".") == 0
						    ? zb_xstrdup(cwd)
						    : zb_xasprintf("%s/%s", cwd, ok[i].path);
		assert_string_equal(z->host_path, want);
		assert_int_equal(z->mode, ok[i].mode);
		assert_int_equal(z->line, 0);
		assert_int_equal(z->n_protect, 0);
	}
	assert_int_equal(cfg->sandbox.n_zones, 1 + ZB_ARRAY_SIZE(ok));

	static const struct {
		const char *spec, *phrase;
	} bad[] = {
		{"data", "expected NAME=PATH, NAME=PATH:ro or NAME=PATH:rw"},
		{"=/x", "expected NAME=PATH"},
		{"data=", "expected NAME=PATH"},
		{"data=:ro", "expected NAME=PATH"},
		{"Data=/x", "zone name \"Data\" is not valid"},
		{"a/b=/x", "zone name \"a/b\" is not valid"},
		{"proc=/x", "clashes with the sandbox's own /proc"},
		{"scratch=/x", "zone \"scratch\" is already defined at t.yaml:3:7"},
		{"a=/y", "zone \"a\" is already given by another --zone"},
		{"z=~bob/x", "only ~/"},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(bad); i++) {
		assert_int_equal(zb_config_add_zone_flag(cfg, bad[i].spec, &err), -1);
		_cleanup_free_ char *prefix = zb_xasprintf("--zone '%s': ", bad[i].spec);
		if (err->kind != ZB_ERR_CONFIG || strncmp(err->msg, prefix, strlen(prefix)) != 0 ||
		    !strstr(err->msg, bad[i].phrase))
			fail_msg("--zone %s: wanted \"%s...%s\", got \"%s\"", bad[i].spec, prefix,
				 bad[i].phrase, err->msg);
		zb_error_free(TAKE_PTR(err));
	}
	assert_int_equal(cfg->sandbox.n_zones, 1 + ZB_ARRAY_SIZE(ok));
}

static void zone_flags_validate(void **state)
{
	(void)state;
	make_dir("flagged");
	_cleanup_free_ char *dir = in_tmp("flagged");
	_cleanup_free_ char *file = in_tmp("flagged/file");
	_cleanup_free_ char *missing = in_tmp("nothing-here");
	write_file("flagged/file", "x");
	_cleanup_config_ struct zb_config *cfg = load_ok("tools: {}");
	_cleanup_error_ struct zb_error *err = NULL;

	assert_int_equal(zb_config_validate(cfg, &err), -1);
	assert_string_equal(err->msg,
			    "t.yaml: no zones are configured, so the sandbox would see no "
			    "files; add one under sandbox.zones or pass --zone NAME=PATH");
	zb_error_free(TAKE_PTR(err));

	_cleanup_free_ char *spec = zb_xasprintf("data=%s:ro", dir);
	assert_int_equal(zb_config_add_zone_flag(cfg, spec, &err), 0);
	assert_int_equal(zb_config_validate(cfg, &err), 0);

	_cleanup_free_ char *spec2 = zb_xasprintf("gone=%s", missing);
	assert_int_equal(zb_config_add_zone_flag(cfg, spec2, &err), 0);
	assert_int_equal(zb_config_validate(cfg, &err), -1);
	_cleanup_free_ char *want = zb_xasprintf(
		"--zone gone: host path %s does not exist; create the folder or change "
		"the --zone flag",
		missing);
	assert_string_equal(err->msg, want);
	zb_error_free(TAKE_PTR(err));

	free(cfg->sandbox.zones[1].host_path);
	cfg->sandbox.zones[1].host_path = zb_xstrdup(file);
	assert_int_equal(zb_config_validate(cfg, &err), -1);
	assert_non_null(strstr(err->msg, "--zone gone: host path"));
	assert_non_null(strstr(err->msg, "is not a folder"));
	zb_error_free(TAKE_PTR(err));

	/* Two zones with one name can only come from editing the struct: still caught. */
	free(cfg->sandbox.zones[1].host_path);
	cfg->sandbox.zones[1].host_path = zb_xstrdup(dir);
	free(cfg->sandbox.zones[1].name);
	cfg->sandbox.zones[1].name = zb_xstrdup("data");
	assert_int_equal(zb_config_validate(cfg, &err), -1);
	assert_string_equal(err->msg, "--zone data: the name is already used (--zone data); zone "
				      "names must be unique");
}

static void validate_errors(void **state)
{
	(void)state;
	make_dir("v");
	write_file("v/file", "x");
	static const char yaml[] = "sandbox:\n"
				   "  rootfs: v/rootfs\n"
				   "  zones:\n"
				   "    - {name: ok, mode: ro, hostPath: v}\n"
				   "    - name: file\n"
				   "      mode: rw\n"
				   "      hostPath: v/file\n"
				   "    - {name: t, mode: tmpfs, size: 0}\n";
	_cleanup_config_ struct zb_config *cfg = load_ok(yaml);
	_cleanup_error_ struct zb_error *err = NULL;
	assert_int_equal(cfg->sandbox.zones[2].size, 0);

	assert_int_equal(zb_config_validate(cfg, &err), -1);
	check_error(yaml, err, "7:17", "zone \"file\": host path");
	assert_non_null(strstr(err->msg, "v/file is not a folder; create the folder or change "
					 "hostPath"));
	zb_error_free(TAKE_PTR(err));

	/* Once the zones are right, the missing rootfs is next. (Not "v" again: a zone inside
	 * a read-write zone is refused.) */
	make_dir("w");
	free(cfg->sandbox.zones[1].host_path);
	cfg->sandbox.zones[1].host_path = in_tmp("w");
	assert_int_equal(zb_config_validate(cfg, &err), -1);
	check_error(yaml, err, "2:11", "sandbox.rootfs: ");
	assert_non_null(strstr(err->msg, "v/rootfs does not exist"));
	zb_error_free(TAKE_PTR(err));

	make_dir("v/rootfs");
	assert_int_equal(zb_config_validate(cfg, &err), 0);

	/* A zone name broken after loading is still refused, with the zone's place. */
	free(cfg->sandbox.zones[0].name);
	cfg->sandbox.zones[0].name = zb_xstrdup("etc");
	assert_int_equal(zb_config_validate(cfg, &err), -1);
	check_error(yaml, err, "4:7", "zone \"etc\": zone name \"etc\" clashes");
}

static void names(void **state)
{
	(void)state;
	assert_string_equal(zb_zone_mode_name(ZB_ZONE_RO), "ro");
	assert_string_equal(zb_zone_mode_name(ZB_ZONE_RW), "rw");
	assert_string_equal(zb_zone_mode_name(ZB_ZONE_TMPFS), "tmpfs");
	assert_string_equal(zb_decision_name(ZB_DECISION_ALLOW), "allow");
	assert_string_equal(zb_decision_name(ZB_DECISION_ASK), "ask");
	assert_string_equal(zb_decision_name(ZB_DECISION_DENY), "deny");
	zb_config_free(NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Errors */

static void errors_yaml(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{"", "1:1", "the file holds no settings"},
		{"# only a comment\n", "1:1", "the file holds no settings"},
		{"---\n", "1:1", "the file holds no settings"},
		{"- sandbox\n", "1:1",
		 "the top level must be a map of sections (sandbox, approval, "
		 "tools, audit, server), got a list"},
		{"\n\nhello\n", "3:1", "the top level must be a map"},
		{"sandbox:\n  backend: [namespace\n", "3:1",
		 "YAML syntax error: did not find expected ',' or ']'"},
		{"sandbox:\n\tbackend: docker\n", "2:1",
		 "YAML syntax error: found character that cannot start any token"},
		{"sandbox:\n  backend: docker\n zones: []\n", "3:2", "YAML syntax error"},
		{"sandbox: {backend: \"docker}\n", "2:1",
		 "YAML syntax error: found unexpected end"},
		{"tools: {}\n---\ntools: {}\n", "2:1", "a second YAML document starts here"},
		{"sandbox: &s {backend: docker}\napproval: *s\n", "2:11",
		 "YAML aliases (*s) are not supported; write the value out in full"},
		{"sandbox:\n  zones:\n    - &z {name: a, mode: tmpfs}\n    - *z\n", "4:7",
		 "YAML aliases (*z) are not supported"},
		{"sandbox: {limits: {pids: !!int 5}}\n", "1:26",
		 "YAML tags (tag:yaml.org,2002:int) are not supported"},
		{"sandbox: !thing {}\n", "1:10", "YAML tags (!thing) are not supported"},
		{"sandbox: {image: \"a\\0b\"}\n", "1:18", "contains a NUL character"},
		{"? [a]\n: b\n", "1:3", "a key must be plain text, not a list"},
		{"sandbox: {image: x}\nbad: \"\xff\"\n", "2:7",
		 "invalid leading UTF-8 octet; save the "
		 "file as UTF-8 text"},
		{"sandbox: {image: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]"
		 "]]]]]]]]]]]]]]]]]]}\n",
		 "1:48", "nested more than 32 deep"},
	};
	RUN_ERROR_CASES(cases);
}

static void errors_keys(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{"sandbox: {}\nsandbx: {}\n", "2:1",
		 "top level: unknown key \"sandbx\"; the allowed keys are sandbox, approval, "
		 "tools, "
		 "audit, server"},
		{"sandbox:\n  limits:\n    timeout: 1s\n    memroy: 1G\n", "4:5",
		 "sandbox.limits: unknown key \"memroy\"; the allowed keys are timeout, memory, "
		 "pids, "
		 "cpu, output"},
		{"sandbox:\n  bakend: docker\n", "2:3",
		 "sandbox: unknown key \"bakend\"; the allowed keys are backend, image, runtime, "
		 "rootfs, network, session, limits, env, zones"},
		{"sandbox: {zones: [{name: a, mode: rw, hostpath: .}]}\n", "1:39",
		 "sandbox.zones[0]: unknown key \"hostpath\"; did you mean hostPath?"},
		{"approval: {rules: [{allow: ls, when: x}]}\n", "1:32",
		 "approval.rules[0]: unknown key \"when\"; the allowed keys are allow, ask, deny, "
		 "match, not_match"},
		{"approval: {approver: {cmd: [x]}}\n", "1:23",
		 "approval.approver: unknown key \"cmd\"; the allowed keys are command"},
		{"sandbox: {network: {deny: [x.org]}}\n", "1:21",
		 "sandbox.network: unknown key \"deny\"; the allowed keys are allow"},
		{"tools: {names: dotted, show: true}\n", "1:24",
		 "tools: unknown key \"show\"; the allowed keys are names, show_host_paths"},
		{"audit: {file: x}\n", "1:9",
		 "audit: unknown key \"file\"; the allowed keys are path"},
		{"server: {max_messages: 1M}\n", "1:10",
		 "server: unknown key \"max_messages\"; the allowed keys are max_message, "
		 "tools_page_size"},
		{"approval: {defaults: ask}\n", "1:12",
		 "approval: unknown key \"defaults\"; the allowed keys are default, rules, tools, "
		 "approver, timeout, learned"},
		{"sandbox:\n  backend: docker\n  backend: wasm\n", "3:3",
		 "sandbox: key \"backend\" appears twice (first at line 2, column 3); keep one"},
		{"tools: {}\nsandbox: {}\ntools: {}\n", "3:1",
		 "top level: key \"tools\" appears twice (first at line 1, column 1)"},
		{"sandbox: {zones: [{name: a, name: b}]}\n", "1:29",
		 "sandbox.zones[0]: key \"name\" appears twice"},
	};
	RUN_ERROR_CASES(cases);
}

static void errors_types(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{"sandbox: [backend]\n", "1:10",
		 "sandbox: expected a map with the keys backend, image"},
		{"sandbox: docker\n", "1:10", "sandbox: expected a map with the keys"},
		{"sandbox: {limits: 5}\n", "1:19",
		 "sandbox.limits: expected a map with the keys "
		 "timeout, memory, pids, cpu, output, got a "
		 "whole number"},
		{"sandbox: {image: true}\n", "1:18",
		 "sandbox.image: expected a string, got a boolean (true); put it in quotes "
		 "(\"true\")"},
		{"sandbox: {image: 12}\n", "1:18", "expected a string, got a whole number (12)"},
		{"sandbox: {image: [a]}\n", "1:18", "sandbox.image: expected a string, got a list"},
		{"sandbox:\n  image:\n", "2:9",
		 "sandbox.image: no value; write a value or remove the "
		 "key"},
		{"sandbox: {image: \"\"}\n", "1:18", "sandbox.image: the value is empty"},
		{"sandbox: {backend: null}\n", "1:20",
		 "sandbox.backend: expected a string, got null (null); put it in quotes "
		 "(\"null\")"},
		{"sandbox: {env: FOO}\n", "1:16",
		 "sandbox.env: expected a list of strings, like [a, b], got a string"},
		{"sandbox: {env: [FOO, [x]]}\n", "1:22",
		 "sandbox.env[1]: expected a string, got a list"},
		{"approval: {rules: [{allow: ls, match: ls}]}\n", "1:39",
		 "approval.rules[0].match: expected a list of strings"},
		{"approval: {rules: [{allow: ls, not_match: [a, {b: c}]}]}\n", "1:47",
		 "approval.rules[0].not_match[1]: expected a string, got a map"},
		{"approval: {rules: [{allow: {a: b}}]}\n", "1:28",
		 "approval.rules[0].allow: expected a list of strings (or one string)"},
		{"approval: {rules: [{deny: [ls, true]}]}\n", "1:32",
		 "approval.rules[0].deny[1]: expected a string, got a boolean (true); put it in "
		 "quotes"},
		{"tools: {show_host_paths: yes}\n", "1:26",
		 "tools.show_host_paths: expected true or false, got a string"},
		{"tools: {show_host_paths: 1}\n", "1:26",
		 "expected true or false, got a whole number"},
		{"sandbox: {zones: {name: a}}\n", "1:18",
		 "sandbox.zones: expected a list of zones"},
		{"sandbox: {zones: [work]}\n", "1:19",
		 "sandbox.zones[0]: expected a map with the keys "
		 "name, mode, hostPath, size, protect, got a "
		 "string"},
		{"approval: {rules: {allow: ls}}\n", "1:19",
		 "approval.rules: expected a list of rules"},
		{"approval: {rules: [ls]}\n", "1:20",
		 "approval.rules[0]: expected a map with the keys "
		 "allow, ask, deny, match, not_match"},
		{"approval: {tools: [fs.read]}\n", "1:19",
		 "approval.tools: expected a map of tool names to allow, ask or deny"},
	};
	RUN_ERROR_CASES(cases);
}

static void errors_values(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{"sandbox: {backend: podman}\n", "1:20",
		 "sandbox.backend: \"podman\" is not valid; use one of namespace, docker, wasm, "
		 "null"},
		{"sandbox: {runtime: wasmer}\n", "1:20", "use one of wasmtime, node"},
		{"sandbox: {session: per-session}\n", "1:20", "use one of persistent, per-call"},
		{"approval: {default: maybe}\n", "1:21",
		 "approval.default: \"maybe\" is not valid; use one of allow, ask, deny"},
		{"approval: {tools: {fs.write: yes}}\n", "1:30",
		 "approval.tools.fs.write: \"yes\" is not valid; use one of allow, ask, deny"},
		{"tools: {names: camel}\n", "1:16",
		 "tools.names: \"camel\" is not valid; use one of "
		 "dotted, underscore"},
		{"sandbox: {zones: [{name: a, mode: rwx, hostPath: .}]}\n", "1:35",
		 "sandbox.zones[0].mode: \"rwx\" is not valid; use one of ro, rw, tmpfs"},

		{"sandbox: {limits: {timeout: 30 seconds}}\n", "1:29",
		 "sandbox.limits.timeout: \"30 seconds\" is not a duration; write it like 30s, "
		 "500ms, "
		 "2m or 1h (a bare number means seconds)"},
		{"sandbox: {limits: {timeout: 5d}}\n", "1:29", "\"5d\" is not a duration"},
		{"sandbox: {limits: {timeout: -5}}\n", "1:29", "\"-5\" is not a duration"},
		{"sandbox: {limits: {timeout: 0}}\n", "1:29",
		 "sandbox.limits.timeout: 0 is too short; use at least 1ms"},
		{"sandbox: {limits: {timeout: 0.1ms}}\n", "1:29", "0.1ms is too short"},
		{"sandbox: {limits: {timeout: .inf}}\n", "1:29", "\".inf\" is not a duration"},
		{"sandbox: {limits: {timeout: [1]}}\n", "1:29",
		 "sandbox.limits.timeout: expected a duration, got a list; write it like 30s"},
		{"approval: {timeout: \"1e3s\"}\n", "1:21",
		 "approval.timeout: \"1e3s\" is not a "
		 "duration"},
		{"sandbox: {limits: {timeout: 99999999999999999999h}}\n", "1:29", "is too long"},
		{"sandbox: {limits: {memory: 512X}}\n", "1:28",
		 "sandbox.limits.memory: \"512X\" is not a size; write it like 64M, 512k or 1G (a "
		 "bare "
		 "number means bytes)"},
		{"sandbox: {limits: {memory: 1.5}}\n", "1:28", "\"1.5\" is not a size"},
		{"sandbox: {limits: {memory: -1}}\n", "1:28", "\"-1\" is not a size"},
		{"sandbox: {limits: {memory: 1 G}}\n", "1:28", "\"1 G\" is not a size"},
		{"sandbox: {limits: {memory: 0}}\n", "1:28",
		 "sandbox.limits.memory: the size must be more than 0"},
		{"sandbox: {limits: {output: 0k}}\n", "1:28", "the size must be more than 0"},
		{"sandbox: {limits: {output: {a: 1}}}\n", "1:28", "expected a size, got a map"},
		{"sandbox: {limits: {memory: 99999999999999999999999}}\n", "1:28", "is too large"},
		{"sandbox: {limits: {memory: 99999999999999999999999T}}\n", "1:28", "is too large"},
		{"server: {max_message: 0}\n", "1:23",
		 "server.max_message: the size must be more "
		 "than 0"},
		{"sandbox: {zones: [{name: t, mode: tmpfs, size: big}]}\n", "1:48",
		 "sandbox.zones[0].size: \"big\" is not a size"},

		{"sandbox: {limits: {pids: -1}}\n", "1:26",
		 "sandbox.limits.pids: -1 is too small; use at least 1"},
		{"sandbox: {limits: {pids: 0}}\n", "1:26", "0 is too small; use at least 1"},
		{"sandbox: {limits: {pids: many}}\n", "1:26",
		 "sandbox.limits.pids: expected a whole number (at least 1), got a string"},
		{"sandbox: {limits: {pids: 2.5}}\n", "1:26",
		 "expected a whole number (at least 1), "
		 "got a number"},
		{"sandbox: {limits: {pids: 0x10}}\n", "1:26", "write 0x10 as a decimal number"},
		{"sandbox: {limits: {pids: 99999999999999999999999}}\n", "1:26", "is too large"},
		{"server: {tools_page_size: 0}\n", "1:27",
		 "server.tools_page_size: 0 is too small; use at least 1"},
		{"sandbox: {limits: {cpu: -1}}\n", "1:25",
		 "sandbox.limits.cpu: expected a number of CPUs like 1.0 or 0.5 (0 means no "
		 "limit), "
		 "got -1"},
		{"sandbox: {limits: {cpu: fast}}\n", "1:25", "got fast"},
		{"sandbox: {limits: {cpu: .nan}}\n", "1:25", "got .nan"},
		{"sandbox: {limits: {cpu: [1]}}\n", "1:25", "got a list"},
	};
	RUN_ERROR_CASES(cases);
}

static void errors_network_env(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{"sandbox: {network: off}\n", "1:20",
		 "sandbox.network: \"off\" is not valid; use none, host or {allow: [domain, ...]}"},
		{"sandbox: {network: allow}\n", "1:20",
		 "sandbox.network: allow needs the domains it lets through"},
		{"sandbox: {network: [pypi.org]}\n", "1:20",
		 "sandbox.network: expected none, host or {allow: [domain, ...]}, got a list"},
		{"sandbox: {network: false}\n", "1:20", "got a boolean"},
		{"sandbox: {network: {}}\n", "1:20",
		 "sandbox.network: the map needs allow: [domain"},
		{"sandbox: {network: {allow: []}}\n", "1:28",
		 "sandbox.network.allow: the list is empty"},
		{"sandbox: {network: {allow: pypi.org}}\n", "1:28",
		 "sandbox.network.allow: expected a list of strings"},
		{"sandbox:\n  network:\n    allow: [pypi.org, \"https://x.org\"]\n", "3:23",
		 "sandbox.network.allow[1]: \"https://x.org\" is not a domain; write a host name "
		 "like "
		 "pypi.org"},
		{"sandbox: {network: {allow: [-x.org]}}\n", "1:29", "\"-x.org\" is not a domain"},
		{"sandbox: {network: {allow: [x..org]}}\n", "1:29", "\"x..org\" is not a domain"},
		{"sandbox: {network: {allow: [\"*.\"]}}\n", "1:29", "is not a domain"},
		{"sandbox: {network: {allow: [a.*.org]}}\n", "1:29", "is not a domain"},
		{"sandbox: {env: [PATH, 1X]}\n", "1:23",
		 "sandbox.env[1]: \"1X\" is not NAME or NAME=value"},
		{"sandbox: {env: [A-B=c]}\n", "1:17", "\"A-B=c\" is not NAME or NAME=value"},
		{"sandbox: {env: [\"=x\"]}\n", "1:17", "is not NAME or NAME=value"},
		{"sandbox:\n  env:\n    - FOO\n    - BAR=1\n    - FOO=2\n", "5:7",
		 "sandbox.env[2]: FOO is set twice (first at line 3, column 7); keep one"},
	};
	RUN_ERROR_CASES(cases);
}

static void errors_zones(void **state)
{
	(void)state;
	setenv("HOME", "relative/home", 1);
	static const struct error_case cases[] = {
		{"sandbox:\n  zones:\n    - {mode: rw, hostPath: .}\n", "3:7",
		 "sandbox.zones[0]: the zone has no name; add name:"},
		{"sandbox: {zones: [{name: Work, mode: rw, hostPath: .}]}\n", "1:26",
		 "sandbox.zones[0].name: zone name \"Work\" is not valid; use lowercase letters, "
		 "digits, '_', '.' and '-', starting with a letter or a digit"},
		{"sandbox: {zones: [{name: -a, mode: rw, hostPath: .}]}\n", "1:26",
		 "zone name \"-a\" is not valid"},
		{"sandbox: {zones: [{name: .., mode: rw, hostPath: .}]}\n", "1:26",
		 "zone name \"..\" is not valid"},
		{"sandbox: {zones: [{name: a/b, mode: rw, hostPath: .}]}\n", "1:26",
		 "zone name \"a/b\" is not valid"},
		{"sandbox: {zones: [{name: \"\", mode: rw, hostPath: .}]}\n", "1:26",
		 "sandbox.zones[0].name: the value is empty"},
		{"sandbox: {zones: [{name: 5, mode: rw, hostPath: .}]}\n", "1:26",
		 "sandbox.zones[0].name: expected a string, got a whole number (5)"},
		{"sandbox: {zones: [{name: proc, mode: rw, hostPath: .}]}\n", "1:26",
		 "zone name \"proc\" clashes with the sandbox's own /proc; pick another name"},
		{"sandbox: {zones: [{name: lib64, mode: tmpfs}]}\n", "1:26", "/lib64"},
		{"sandbox: {zones: [{name: root, mode: tmpfs}]}\n", "1:26", "/root"},
		{"sandbox:\n  zones:\n    - {name: a, hostPath: .}\n", "3:7",
		 "sandbox.zones[0]: zone \"a\" has no mode; add mode: ro, rw or tmpfs"},
		{"sandbox:\n  zones:\n    - name: a\n      mode: ro\n", "3:7",
		 "sandbox.zones[0]: zone \"a\" (mode ro) needs hostPath: the host folder to mount"},
		{"sandbox:\n  zones:\n    - {name: s, mode: tmpfs, hostPath: ./s}\n", "3:30",
		 "sandbox.zones[0]: zone \"s\" is tmpfs, which starts empty and has no host "
		 "folder; "
		 "remove hostPath, or use mode: rw"},
		{"sandbox:\n  zones:\n    - {name: s, mode: tmpfs, protect: [a]}\n", "3:30",
		 "sandbox.zones[0]: protect applies to zones with a hostPath"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ., size: 64M}\n", "3:40",
		 "sandbox.zones[0]: size applies to tmpfs zones only; remove it, or use mode: "
		 "tmpfs"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: \"\"}\n", "3:37",
		 "sandbox.zones[0].hostPath: the value is empty"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ~}\n", "3:37",
		 "sandbox.zones[0].hostPath: expected a string, got null (~); put it in quotes "
		 "(\"~\")"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ~bob/x}\n", "3:37",
		 "sandbox.zones[0].hostPath: only ~/ (your own home folder) is understood"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ~/x}\n", "3:37",
		 "~ needs HOME set to an absolute path"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ., protect: [/etc]}\n",
		 "3:50", "sandbox.zones[0].protect[0]: \"/etc\" must be a path inside the zone"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ., protect: [a, ../b]}\n",
		 "3:53", "sandbox.zones[0].protect[1]: \"../b\" must be a path inside the zone"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ., protect: [a/..]}\n",
		 "3:50", "\"a/..\" must be a path inside the zone"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ., protect: [./.]}\n",
		 "3:50",
		 "sandbox.zones[0].protect[0]: \"./.\" is the whole zone; use mode: ro instead"},
		{"sandbox:\n  zones:\n    - {name: s, mode: rw, hostPath: ., protect: .git}\n",
		 "3:49", "sandbox.zones[0].protect: expected a list of strings"},
		{"sandbox:\n"
		 "  zones:\n"
		 "    - {name: a, mode: tmpfs}\n"
		 "    - {name: b, mode: tmpfs}\n"
		 "    - {name: c, mode: tmpfs}\n"
		 "    - {name: b, mode: ro, hostPath: .}\n"
		 "    - {name: a, mode: tmpfs}\n",
		 "6:7",
		 "sandbox.zones[3]: zone name \"b\" is already used by the zone at line 4, column "
		 "7; "
		 "zone names must be unique"},
	};
	RUN_ERROR_CASES(cases);
}

static void errors_approval(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{"approval:\n  rules:\n    - {match: [ls]}\n", "3:7",
		 "approval.rules[0]: a rule needs one of allow, ask or deny"},
		{"approval:\n  rules:\n    - {}\n", "3:7",
		 "a rule needs one of allow, ask or deny"},
		{"approval:\n  rules:\n    - {allow: ls, deny: rm}\n", "3:19",
		 "approval.rules[0]: a rule has both allow and deny; put them in separate rules"},
		{"approval:\n  rules:\n    - ask: [a]\n      match: [a]\n      allow: [b]\n", "5:7",
		 "approval.rules[0]: a rule has both ask and allow"},
		{"approval: {rules: [{allow: []}]}\n", "1:28",
		 "approval.rules[0].allow: the list is empty; list at least 1"},
		{"approval: {rules: [{deny: \"\"}]}\n", "1:27",
		 "approval.rules[0].deny: the value is "
		 "empty"},
		{"approval: {tools: {fs.nope: ask}}\n", "1:20",
		 "approval.tools: unknown tool \"fs.nope\"; the tools are shell.run, fs.read, "
		 "fs.write, fs.edit, fs.list, fs.stat, fs.mkdir, fs.move, fs.delete, fs.search, "
		 "fs.zones"},
		{"approval: {tools: {fs_read: allow, fs.write: ask, fs.read: deny}}\n", "1:51",
		 "approval.tools: fs.read is listed twice (first as fs_read at line 1, column 20); "
		 "keep one"},
		{"approval: {tools: {shell.run: [allow]}}\n", "1:31",
		 "approval.tools.shell.run: expected a string, got a list"},
		{"approval: {approver: human}\n", "1:22",
		 "approval.approver: \"human\" is not an approver; use elicitation or {command: "
		 "[program, arg, ...]}"},
		{"approval: {approver: 42}\n", "1:22",
		 "approval.approver: expected an approver, got a whole number; use elicitation"},
		{"approval: {approver: {}}\n", "1:22",
		 "approval.approver: the map needs command: [program, arg, ...]"},
		{"approval: {approver: {command: zonebox-approve}}\n", "1:32",
		 "approval.approver.command: expected a list of strings, like [a, b], got a "
		 "string"},
		{"approval: {approver: {command: []}}\n", "1:32",
		 "approval.approver.command: the list is empty"},
		{"approval: {approver: {command: [a, \"\"]}}\n", "1:36",
		 "approval.approver.command[1]: the value is empty"},
		{"approval: {approver: []}\n", "1:22",
		 "approval.approver: the list is empty; name at least one approver"},
		{"approval: {approver: [elicitation, [x]]}\n", "1:36",
		 "approval.approver[1]: expected an approver, got a list"},
		{"approval: {approver: [elicitation, {command: [x], cmd: y}]}\n", "1:51",
		 "approval.approver[1]: unknown key \"cmd\""},
		{"approval: {learned: [a]}\n", "1:21",
		 "approval.learned: expected a string, got a list"},
		{"audit: {path: \"\"}\n", "1:15", "audit.path: the value is empty"},
		{"sandbox: {rootfs: ~x}\n", "1:19", "sandbox.rootfs: only ~/"},
	};
	RUN_ERROR_CASES(cases);
}

/* A failure deep in a long file frees everything built so far (checked under ASan/LSan). */
static void errors_free_partial(void **state)
{
	(void)state;
	static const struct error_case cases[] = {
		{"sandbox:\n"
		 "  image: x\n"
		 "  env: [A, B]\n"
		 "  network: {allow: [a.org, b.org]}\n"
		 "  zones:\n"
		 "    - {name: a, mode: rw, hostPath: ., protect: [x, y]}\n"
		 "    - {name: b, mode: rw, hostPath: ., protect: [x, /y]}\n",
		 "7:53", "must be a path inside the zone"},
		{"approval:\n"
		 "  rules: [{allow: [a, b], match: [a], not_match: [c]}, {deny: [x, 1]}]\n"
		 "  tools: {fs.read: allow}\n",
		 "2:67", "approval.rules[1].deny[1]"},
		{"approval:\n"
		 "  tools: {fs.read: allow, fs.write: ask}\n"
		 "  approver: [{command: [a, b]}, elicitation, {command: [c, 5]}]\n",
		 "3:60", "approval.approver[2].command[1]"},
		{"sandbox: {rootfs: /r, runtime: node}\n"
		 "approval: {learned: x, approver: elicitation}\n"
		 "audit: {path: a}\n"
		 "server: {tools_page_size: -1}\n",
		 "4:27", "too small"},
	};
	RUN_ERROR_CASES(cases);
}

/* JSON is YAML too, so the same text can go to the loader and to schemas/config.schema.json
 * (through the project's own validator): they must agree on what is a valid config. */
static void schema_agrees_with_loader(void **state)
{
	(void)state;
	static const struct {
		bool valid;
		const char *json;
	} cases[] = {
		{true,
		 "{\"sandbox\": {\"backend\": \"namespace\", \"image\": \"alpine:latest\", "
		 "\"runtime\": \"wasmtime\", \"network\": \"none\", \"session\": \"persistent\", "
		 "\"limits\": {\"timeout\": \"30s\", \"memory\": \"512M\", \"pids\": 256, \"cpu\": "
		 "1.0, \"output\": \"1M\"}, \"zones\": [{\"name\": \"input\", \"mode\": \"ro\", "
		 "\"hostPath\": \"./data\"}, {\"name\": \"output\", \"mode\": \"rw\", "
		 "\"hostPath\": \"./output\", \"protect\": [\".git/hooks\"]}, {\"name\": "
		 "\"scratch\", \"mode\": \"tmpfs\", \"size\": \"64M\"}]}, \"approval\": "
		 "{\"default\": \"ask\", \"rules\": [{\"allow\": [\"ls\", \"cat\", \"git status\", "
		 "\"git diff *\"]}, {\"deny\": [\"curl *\", \"wget *\"]}], \"approver\": "
		 "{\"command\": [\"zonebox-approve\"]}}, \"tools\": {\"names\": \"dotted\"}, "
		 "\"audit\": {\"path\": \"./zonebox-audit.jsonl\"}}"},
		{true, "{\"sandbox\": null, \"tools\": {}}"},
		{true, "{\"sandbox\": {\"network\": {\"allow\": [\"pypi.org\", \"*.x.org\"]}, "
		       "\"session\": \"per-call\"}}"},
		{true, "{\"sandbox\": {\"limits\": {\"timeout\": \"1.5H\", \"memory\": \"1kib\", "
		       "\"cpu\": 0, \"pids\": 1, \"output\": 1}}}"},
		{true, "{\"sandbox\": {\"limits\": {\"timeout\": 0.5, \"memory\": \"2.5g\"}}}"},
		{true, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"tmpfs\", "
		       "\"size\": 0}, {\"name\": \"b.c\", \"mode\": \"ro\", \"hostPath\": \"~/x\", "
		       "\"protect\": [\"a/b\", \"./c\"]}]}}"},
		{true, "{\"approval\": {\"rules\": [{\"deny\": \"rm *\", \"match\": [], "
		       "\"not_match\": [\"x\"]}], \"tools\": {\"fs_read\": \"allow\", "
		       "\"fs.write\": \"deny\"}, \"approver\": [\"elicitation\", {\"command\": "
		       "[\"x\"]}], \"timeout\": 1, \"learned\": \"l.yaml\"}}"},
		{true, "{\"tools\": {\"names\": \"underscore\", \"show_host_paths\": false}, "
		       "\"server\": {\"max_message\": \"1M\", \"tools_page_size\": 1}}"},
		{true, "{\"sandbox\": {\"env\": [\"A\", \"B=\", \"_c=d=e\"], \"backend\": "
		       "\"null\", \"rootfs\": \"/r\"}}"},
		{false, "[]"},
		{false, "{\"x\": {}}"},
		{false, "{\"sandbox\": {\"foo\": 1}}"},
		{false, "{\"sandbox\": {\"backend\": \"podman\"}}"},
		{false, "{\"sandbox\": {\"image\": \"\"}}"},
		{false, "{\"sandbox\": {\"runtime\": \"wasmer\"}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"tmp\", \"mode\": \"rw\", "
			"\"hostPath\": \".\"}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"A\", \"mode\": \"tmpfs\"}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"mode\": \"tmpfs\"}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\"}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"tmpfs\", "
			"\"hostPath\": \".\"}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"tmpfs\", "
			"\"protect\": [\"x\"]}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"rw\"}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"rw\", "
			"\"hostPath\": \".\", \"size\": \"1M\"}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"rw\", "
			"\"hostPath\": \".\", \"protect\": [\"../x\"]}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"rw\", "
			"\"hostPath\": \".\", \"protect\": [\"/x\"]}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"rw\", "
			"\"hostPath\": \".\", \"protect\": [\"./\"]}]}}"},
		{false, "{\"sandbox\": {\"zones\": [{\"name\": \"a\", \"mode\": \"rw\", "
			"\"hostPath\": \"~u/x\"}]}}"},
		{false, "{\"sandbox\": {\"limits\": {\"timeout\": \"0s\"}}}"},
		{false, "{\"sandbox\": {\"limits\": {\"timeout\": 0}}}"},
		{false, "{\"sandbox\": {\"limits\": {\"timeout\": \"5d\"}}}"},
		{false, "{\"sandbox\": {\"limits\": {\"timeout\": \"1 s\"}}}"},
		{false, "{\"sandbox\": {\"limits\": {\"memory\": \"0M\"}}}"},
		{false, "{\"sandbox\": {\"limits\": {\"memory\": \"1TB\"}}}"},
		{false, "{\"sandbox\": {\"limits\": {\"memory\": 1.5}}}"},
		{false, "{\"sandbox\": {\"limits\": {\"pids\": 0}}}"},
		{false, "{\"sandbox\": {\"limits\": {\"cpu\": -1}}}"},
		{false, "{\"sandbox\": {\"network\": \"allow\"}}"},
		{false, "{\"sandbox\": {\"network\": {\"allow\": []}}}"},
		{false, "{\"sandbox\": {\"network\": {\"allow\": [\"a..b\"]}}}"},
		{false, "{\"sandbox\": {\"env\": [\"1A\"]}}"},
		{false, "{\"approval\": {\"rules\": [{\"allow\": \"a\", \"deny\": \"b\"}]}}"},
		{false, "{\"approval\": {\"rules\": [{\"match\": [\"a\"]}]}}"},
		{false, "{\"approval\": {\"rules\": [{\"allow\": []}]}}"},
		{false, "{\"approval\": {\"tools\": {\"fs.nope\": \"allow\"}}}"},
		{false, "{\"approval\": {\"approver\": \"human\"}}"},
		{false, "{\"approval\": {\"approver\": []}}"},
		{false, "{\"approval\": {\"approver\": {\"command\": []}}}"},
		{false, "{\"tools\": {\"show_host_paths\": \"yes\"}}"},
		{false, "{\"server\": {\"tools_page_size\": 0}}"},
		{false, "{\"server\": {\"max_message\": 0}}"},
		{false, "{\"audit\": {\"path\": \"\"}}"},
	};
	setenv("HOME", "/home/u", 1);
	const json_t *schema = zb_schema_get("config.schema.json");
	assert_non_null(schema);
	size_t failed = 0;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		_cleanup_error_ struct zb_error *load_err = NULL, *schema_err = NULL;
		_cleanup_config_ struct zb_config *cfg = load(cases[i].json, &load_err);
		json_error_t jerr;
		json_t *inst = json_loads(cases[i].json, JSON_REJECT_DUPLICATES, &jerr);
		assert_non_null(inst);
		bool schema_ok = zb_schema_validate(schema, inst, "config", &schema_err) == 0;
		json_decref(inst);
		if ((cfg != NULL) != cases[i].valid || schema_ok != cases[i].valid) {
			print_error("%s\n  loader: %s\n  schema: %s\n", cases[i].json,
				    cfg ? "accepts" : load_err->msg,
				    schema_ok ? "accepts" : schema_err->msg);
			failed++;
		}
	}
	zb_schema_cache_free();
	if (failed)
		fail_msg("%zu of %zu cases disagree", failed, ZB_ARRAY_SIZE(cases));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(design_example),
		cmocka_unit_test(design_example_validates),
		cmocka_unit_test(defaults),
		cmocka_unit_test(every_key),
		cmocka_unit_test(value_forms),
		cmocka_unit_test(network_modes),
		cmocka_unit_test(yaml_forms),
		cmocka_unit_test(paths),
		cmocka_unit_test(load_file),
		cmocka_unit_test(default_config),
		cmocka_unit_test(zone_flags),
		cmocka_unit_test(zone_flags_validate),
		cmocka_unit_test(validate_errors),
		cmocka_unit_test(names),
		cmocka_unit_test(errors_yaml),
		cmocka_unit_test(errors_keys),
		cmocka_unit_test(errors_types),
		cmocka_unit_test(errors_values),
		cmocka_unit_test(errors_network_env),
		cmocka_unit_test(errors_zones),
		cmocka_unit_test(errors_approval),
		cmocka_unit_test(errors_free_partial),
		cmocka_unit_test(schema_agrees_with_loader),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
