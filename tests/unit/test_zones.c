/* Unit tests of server/zones.c: sandbox paths split into zone and relative path, the lexical
 * helpers, protected paths, and resolution beneath a zone with openat2 against real folders
 * and symlinks in a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "server/config.h"
#include "server/zones.h"

struct fixture {
	char dir[64];
	struct zb_config *cfg;
	struct zb_zones *zones;
};

static const char yaml[] = "sandbox:\n"
			   "  backend: \"null\"\n"
			   "  zones:\n"
			   "    - {name: app, mode: rw, hostPath: ./app, protect: [.git/hooks, "
			   "secret]}\n"
			   "    - {name: data, mode: ro, hostPath: ./data}\n"
			   "    - {name: scratch, mode: tmpfs, size: 1M}\n"
			   "approval: {default: allow}\n";

static void sh(const char *fmt, ...) ZB_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/zb-zones-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* app and app-secrets side by side (SECURITY-CASES 3); links of every kind inside app. */
	sh("cd %s && mkdir -p app/sub/deep app/.git/hooks app-secrets data outside && "
	   "echo in > app/sub/file && echo secret > app-secrets/x && echo out > outside/f && "
	   "ln -s sub app/inside && ln -s ../app-secrets app/up && ln -s /etc app/abs && "
	   "ln -s /proc/self/root app/proc && ln -s .git/hooks app/hooks && "
	   "ln -s loop app/loop",
	   f->dir);
	struct zb_error *err = NULL;
	f->cfg = zb_config_load_string(yaml, strlen(yaml), "t.yaml", f->dir, &err);
	if (!f->cfg) {
		fprintf(stderr, "%s\n", err->msg);
		return -1;
	}
	f->zones = zb_zones_open(f->cfg, &err);
	if (!f->zones)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	zb_zones_free(f->zones);
	zb_config_free(f->cfg);
	sh("rm -rf %s", f->dir);
	free(f);
	return 0;
}

/* Parse `path`; returns 0 and fills p, or -1 with the message in *msg (to free). */
static int parse(struct fixture *f, const char *path, size_t len, struct zb_zpath *p, char **msg)
{
	struct zb_error *err = NULL;
	int r = zb_zones_parse(f->zones, path, len, "fs.test", p, &err);
	if (r < 0) {
		*msg = zb_xstrdup(err->msg);
		zb_error_free(err);
	}
	return r;
}

static void expect_ok(struct fixture *f, const char *path, const char *zone, const char *rel,
		      const char *display)
{
	struct zb_zpath p;
	char *msg = NULL;
	if (parse(f, path, strlen(path), &p, &msg) < 0)
		fail_msg("\"%s\" refused: %s", path, msg);
	assert_string_equal(p.zone->name, zone);
	assert_string_equal(p.rel, rel);
	assert_string_equal(p.display, display);
	assert_true(p.dirfd >= 0);
	zb_zpath_clear(&p);
}

static void expect_refused(struct fixture *f, const char *path, size_t len, const char *words)
{
	struct zb_zpath p;
	char *msg = NULL;
	if (parse(f, path, len, &p, &msg) == 0)
		fail_msg("\"%.*s\" was accepted as %s", (int)(len > 80 ? 80 : len), path,
			 p.display);
	if (!strstr(msg, words))
		fail_msg("message for \"%.40s\" lacks \"%s\": %s", path, words, msg);
	assert_non_null(strstr(msg, "fs.test: "));
	free(msg);
}

static void parse_splits(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, "/app/sub/file", "app", "sub/file", "/app/sub/file");
	expect_ok(f, "/app", "app", "", "/app");
	expect_ok(f, "/app/", "app", "", "/app");
	expect_ok(f, "//app//sub///./file/", "app", "sub/file", "/app/sub/file");
	expect_ok(f, "/data/x", "data", "x", "/data/x");
	/* Relative paths start at the first zone. */
	expect_ok(f, "sub/file", "app", "sub/file", "/app/sub/file");
	expect_ok(f, ".", "app", "", "/app");
	expect_ok(f, "./sub/./", "app", "sub", "/app/sub");
	/* ".." stays for the kernel to judge (a/link/.. is not a). */
	expect_ok(f, "/app/../data/x", "app", "../data/x", "/app/../data/x");
	expect_ok(f, "sub/../file", "app", "sub/../file", "/app/sub/../file");
	/* Zone names are compared whole. */
	expect_ok(f, "/app/app-secrets", "app", "app-secrets", "/app/app-secrets");
}

static void parse_refuses(void **state)
{
	struct fixture *f = *state;
	expect_refused(f, "", 0, "empty");
	expect_refused(f, "/app/a\0b", 8, "NUL");
	expect_refused(f, "/", 1, "sandbox root");
	expect_refused(f, "///", 3, "sandbox root");
	expect_refused(f, "/etc/passwd", 11, "outside every zone");
	expect_refused(f, "/proc/self/environ", 18, "outside every zone");
	expect_refused(f, "/app-secrets/x", 14, "no zone named \"app-secrets\"");
	expect_refused(f, "/ap/x", 5, "outside every zone");
	expect_refused(f, "/apps", 5, "outside every zone");
	expect_refused(f, "/../app", 7, "outside every zone");
	expect_refused(f, "/scratch/x", 10, "tmpfs");
	expect_refused(f, "/app/\xff\xfe", 7, "UTF-8");
	expect_refused(f, "/app/\xc0\xaf", 7, "UTF-8"); /* overlong "/" */
	char *longp = malloc(65536 + 1);
	memcpy(longp, "/app/", 5);
	memset(longp + 5, 'a', 65536 - 5);
	longp[65536] = '\0';
	expect_refused(f, longp, 65536, "at most 4096");
	expect_refused(f, longp, ZB_ZONES_MAX_PATH + 1, "at most 4096");
	free(longp);
	/* The message lists the zones and their modes. */
	struct zb_zpath p;
	char *msg = NULL;
	assert_int_equal(parse(f, "/etc", 4, &p, &msg), -1);
	assert_non_null(strstr(msg, "/app (rw), /data (ro), /scratch (tmpfs)"));
	free(msg);
}

static void lexical(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"", ""},	 {"a", "a"},	       {"a/b", "a/b"}, {"a//b/./c/", "a/b/c"},
		{"a/../b", "b"}, {"a/b/../../c", "c"}, {"./a", "a"},   {"a/..", ""},
		{"..", NULL},	 {"a/../..", NULL},    {"../a", NULL}, {"a/.../b", "a/.../b"},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		char *got = zb_zones_lexical(cases[i][0]);
		if (!cases[i][1]) {
			if (got)
				fail_msg("\"%s\" -> \"%s\", wanted NULL", cases[i][0], got);
			continue;
		}
		if (!got || strcmp(got, cases[i][1]) != 0)
			fail_msg("\"%s\" -> \"%s\", wanted \"%s\"", cases[i][0], got ? got : "NULL",
				 cases[i][1]);
		free(got);
	}
}

static void protected_match(void **state)
{
	struct fixture *f = *state;
	const struct zb_zone *z = zb_config_find_zone(f->cfg, "app");
	assert_non_null(z);
	assert_string_equal(zb_zones_protected(z, ".git/hooks", false), ".git/hooks");
	assert_string_equal(zb_zones_protected(z, ".git/hooks/pre-commit", false), ".git/hooks");
	assert_string_equal(zb_zones_protected(z, "secret", false), "secret");
	assert_string_equal(zb_zones_protected(z, "secret/a/b", false), "secret");
	assert_null(zb_zones_protected(z, ".git/hooksx", false));
	assert_null(zb_zones_protected(z, ".git/hook", false));
	assert_null(zb_zones_protected(z, "secrets", false));
	assert_null(zb_zones_protected(z, ".git", false));
	assert_null(zb_zones_protected(z, "x/.git/hooks", false));
	/* Deleting or moving a folder takes what is below it along. */
	assert_string_equal(zb_zones_protected(z, ".git", true), ".git/hooks");
	assert_string_equal(zb_zones_protected(z, "", true), ".git/hooks");
	assert_null(zb_zones_protected(z, ".gi", true));
}

static int open_rel(struct fixture *f, const char *zone, const char *rel)
{
	int zfd = -1;
	for (size_t i = 0; i < f->cfg->sandbox.n_zones; i++)
		if (strcmp(f->cfg->sandbox.zones[i].name, zone) == 0)
			zfd = zb_zones_fd(f->zones, i);
	assert_true(zfd >= 0);
	int fd = zb_zones_openat(zfd, rel, O_RDONLY, 0, 0);
	if (fd >= 0)
		close(fd);
	return fd >= 0 ? 0 : fd;
}

static void resolution(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(open_rel(f, "app", "sub/file"), 0);
	assert_int_equal(open_rel(f, "app", ""), 0);
	assert_int_equal(open_rel(f, "app", "inside/file"), 0); /* a symlink inside: followed */
	assert_int_equal(open_rel(f, "app", "sub/../sub/file"), 0);
	assert_int_equal(open_rel(f, "app", "sub/deep/../../sub/file"), 0);
	/* Out of the zone, every way. */
	assert_int_equal(open_rel(f, "app", ".."), -EXDEV);
	assert_int_equal(open_rel(f, "app", "../app-secrets/x"), -EXDEV);
	assert_int_equal(open_rel(f, "app", "sub/../../outside/f"), -EXDEV);
	assert_int_equal(open_rel(f, "app", "up/x"), -EXDEV);
	assert_int_equal(open_rel(f, "app", "abs/passwd"), -EXDEV);
	assert_int_equal(open_rel(f, "app", "/etc/passwd"), -EXDEV);
	int r = open_rel(f, "app", "proc/etc/passwd");
	assert_true(r == -EXDEV || r == -ELOOP);
	assert_int_equal(open_rel(f, "app", "loop"), -ELOOP);
	assert_int_equal(open_rel(f, "app", "nothing"), -ENOENT);
	assert_int_equal(open_rel(f, "app", "sub/file/x"), -ENOTDIR);
	/* /proc magic links are refused even when the walk starts in /proc. */
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc >= 0) {
		int fd = zb_zones_openat(proc, "self/root/etc/passwd", O_RDONLY, 0, 0);
		assert_true(fd == -ELOOP || fd == -EXDEV);
		fd = zb_zones_openat(proc, "self/fd/0", O_RDONLY, 0, 0);
		assert_true(fd == -ELOOP || fd == -EXDEV);
		close(proc);
	}
}

static void parent(void **state)
{
	struct fixture *f = *state;
	struct zb_zpath p;
	char *msg = NULL;
	struct zb_error *err = NULL;
	const char *name = NULL;

	assert_int_equal(parse(f, "/app/inside/new", 15, &p, &msg), 0);
	int fd = zb_zones_open_parent(&p, "fs.test", &name, &err);
	assert_true(fd >= 0);
	assert_string_equal(name, "new");
	struct stat st;
	assert_int_equal(fstatat(fd, "file", &st, 0), 0); /* the parent is app/sub */
	close(fd);
	zb_zpath_clear(&p);

	/* The last component is handed back, never followed. */
	assert_int_equal(parse(f, "/app/abs", 8, &p, &msg), 0);
	fd = zb_zones_open_parent(&p, "fs.test", &name, &err);
	assert_true(fd >= 0);
	assert_string_equal(name, "abs");
	assert_int_equal(fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	close(fd);
	zb_zpath_clear(&p);

	static const char *const refused[][2] = {
		{"/app", "root of zone app"},
		{"/app/sub/..", "ends in \"..\""},
		{"/app/up/x", "leads outside zone app"},
		{"/app/abs/shadow", "leads outside zone app"},
		{"/app/nothing/x", "does not exist"},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(refused); i++) {
		assert_int_equal(parse(f, refused[i][0], strlen(refused[i][0]), &p, &msg), 0);
		fd = zb_zones_open_parent(&p, "fs.test", &name, &err);
		if (fd >= 0)
			fail_msg("%s: a parent was opened", refused[i][0]);
		if (!strstr(err->msg, refused[i][1]))
			fail_msg("%s: %s", refused[i][0], err->msg);
		zb_error_free(err);
		err = NULL;
		zb_zpath_clear(&p);
	}
}

static void check_write(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *path;
		bool subtree;
		const char *words; /* NULL: allowed */
	} cases[] = {
		{"/app/sub/file", false, NULL},
		{"/app/new/deeper/file", false, NULL},
		{"/app/.git/config", false, NULL},
		{"/data/x", false, "read-only (mode ro)"},
		{"/data", false, "write under /app instead"},
		{"/app/.git/hooks/pre-commit", false, "is protected"},
		{"/app/.git/hooks", false, "is protected"},
		{"/app/secret/new/x", false, "is protected"},	     /* missing: lexical */
		{"/app/sub/../.git/hooks/x", false, "is protected"}, /* lexical after ".." */
		{"/app/hooks/pre-commit", false, "is protected"},    /* through a symlink */
		{"/app/inside/../.git/hooks/x", false, "is protected"},
		{"/app/.git", true, "is protected"}, /* deleting .git takes hooks along */
		{"/app/.git", false, NULL},
		{"/app/up/x", false, "leads outside"},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		struct zb_zpath p;
		char *msg = NULL;
		assert_int_equal(parse(f, cases[i].path, strlen(cases[i].path), &p, &msg), 0);
		struct zb_error *err = NULL;
		int r = zb_zones_check_write(f->zones, &p, "fs.test", cases[i].subtree, &err);
		if (!cases[i].words && r < 0)
			fail_msg("%s refused: %s", cases[i].path, err->msg);
		if (cases[i].words && r == 0)
			fail_msg("%s allowed", cases[i].path);
		if (cases[i].words && !strstr(err->msg, cases[i].words))
			fail_msg("%s: %s", cases[i].path, err->msg);
		if (err && strstr(err->msg, "protected"))
			assert_non_null(strstr(err->msg, "zone app (mode rw"));
		zb_error_free(err);
		zb_zpath_clear(&p);
	}
}

static void errors_say_what_next(void **state)
{
	struct fixture *f = *state;
	struct zb_zpath p;
	char *msg = NULL;
	assert_int_equal(parse(f, "/app/x", 6, &p, &msg), 0);
	static const struct {
		int e;
		const char *words;
	} cases[] = {
		{ENOENT, "does not exist"}, {EXDEV, "never leave a zone"},
		{ELOOP, "do not follow"},   {EACCES, "permission denied"},
		{ENOSPC, "is full"},	    {EAGAIN, "try again"},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		struct zb_error *err = NULL;
		assert_int_equal(zb_zones_fail(&err, cases[i].e, "fs.test", &p), -1);
		if (!strstr(err->msg, cases[i].words) || !strstr(err->msg, "/app/x"))
			fail_msg("errno %d: %s", cases[i].e, err->msg);
		assert_int_equal(err->kind, ZB_ERR_TOOL);
		zb_error_free(err);
	}
	zb_zpath_clear(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_splits), cmocka_unit_test(parse_refuses),
		cmocka_unit_test(lexical),	cmocka_unit_test(protected_match),
		cmocka_unit_test(resolution),	cmocka_unit_test(parent),
		cmocka_unit_test(check_write),	cmocka_unit_test(errors_say_what_next),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
