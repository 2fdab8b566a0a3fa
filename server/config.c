#include "config.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "approval.h"

/* The config is read in two passes: libyaml's events become a small tree of nodes that keep
 * their marks, then the tree is checked and copied into struct zb_config. Building the tree
 * first lets every check point at the exact place in the file, and keeps the YAML-level rules
 * (no aliases, no tags, one document, bounded nesting) in one place. */

/* The format is never nested deeper than approval.rules[].allow[] (4 levels); the bound keeps
 * the recursive tree builder safe against "[[[[[[..." inputs. */
#define MAX_DEPTH 32
/* A config file is a page or two of text; anything this large is a mistake. */
#define MAX_FILE_BYTES (4u << 20)

enum node_kind { NODE_SCALAR, NODE_LIST, NODE_MAP };
/* Plain scalars are typed by the YAML 1.2 core schema, so `true` is a boolean and `256` an
 * integer, as a JSON Schema-aware editor sees them; quoted scalars are always strings. */
enum scalar_type { SCALAR_STRING, SCALAR_NULL, SCALAR_BOOL, SCALAR_INT, SCALAR_FLOAT };

struct node {
	enum node_kind kind;
	enum scalar_type type; /* scalars only */
	int line, column;      /* 1-based, where the node starts */
	char *text;	       /* scalars only */
	struct node **items;   /* list items; for maps key, value, key, value, ... */
	size_t n_items, cap;
};

struct loader {
	const char *name; /* file name used in messages */
	const char *dir;  /* absolute folder that relative paths are resolved against */
	const char *text;
	size_t len;
	yaml_parser_t parser;
	struct zb_error **err;
};

/* A key of a fixed-key map and its value, as found by map_fields(). */
struct field {
	const struct node *key, *value;
};

static const char *const backend_names[] = {"namespace", "docker", "wasm", "null"};
static const char *const runtime_names[] = {"wasmtime", "node"};
static const char *const session_names[] = {"persistent", "per-call"};
static const char *const mode_names[] = {"ro", "rw", "tmpfs"};
static const char *const decision_names[] = {"allow", "ask", "deny"};
static const char *const names_styles[] = {"dotted", "underscore"};
static const char *const tool_names[] = {"shell.run", "fs.read",   "fs.write", "fs.edit",
					 "fs.list",   "fs.stat",   "fs.mkdir", "fs.move",
					 "fs.delete", "fs.search", "fs.zones"};
/* Folders the sandbox builds itself; a zone mounted over one of them would hide or replace
 * part of the system the commands run on. */
static const char *const system_folders[] = {"proc", "dev", "tmp",   "usr",   "bin",
					     "sbin", "lib", "lib32", "lib64", "libx32",
					     "etc",  "sys", "run",   "root"};

static const char *const duration_units[] = {"ms", "s", "sec", "m", "min", "h"};
static const char *const size_units[] = {"b",	"k", "kb", "kib", "m", "mb",
					 "mib", "g", "gb", "gib", "t", "tib"};

#define DURATION_FORM "write it like 30s, 500ms, 2m or 1h (a bare number means seconds)"
#define SIZE_FORM     "write it like 64M, 512k or 1G (a bare number means bytes)"
#define ZONE_FLAG_FORM                                                                             \
	"expected NAME=PATH, NAME=PATH:ro or NAME=PATH:rw (PATH relative to the current folder)"

/* The built-in configuration used when there is no config file. It goes through the same
 * parser as a user's file, so it can never drift from what the format accepts.
 *
 * The allow rule lists commands that only read. Each is listed bare and with "*" so that it
 * matches with or without arguments whichever way the approval rules treat a bare pattern.
 * Options of these commands that write or run other programs (find -exec/-delete, sort -o,
 * tree -o, rg --pre, git diff --output, git -c ...) are the approval layer's to catch; the
 * sandbox confines them either way. */
static const char default_yaml[] = "sandbox:\n"
				   "  network: none\n"
				   "  zones:\n"
				   "    - {name: work, mode: rw, hostPath: .}\n"
				   "    - {name: scratch, mode: tmpfs, size: 64M}\n"
				   "approval:\n"
				   "  default: ask\n"
				   "  rules:\n"
				   "    - allow: [\"ls\", \"ls *\",\n"
				   "              \"cat\", \"cat *\",\n"
				   "              \"head\", \"head *\",\n"
				   "              \"tail\", \"tail *\",\n"
				   "              \"wc\", \"wc *\",\n"
				   "              \"grep\", \"grep *\",\n"
				   "              \"rg\", \"rg *\",\n"
				   "              \"find\", \"find *\",\n"
				   "              \"pwd\", \"pwd *\",\n"
				   "              \"echo\", \"echo *\",\n"
				   "              \"stat\", \"stat *\",\n"
				   "              \"file\", \"file *\",\n"
				   "              \"du\", \"du *\",\n"
				   "              \"df\", \"df *\",\n"
				   "              \"tree\", \"tree *\",\n"
				   "              \"sort\", \"sort *\",\n"
				   "              \"uniq\", \"uniq *\",\n"
				   "              \"diff\", \"diff *\",\n"
				   "              \"git status\", \"git status *\",\n"
				   "              \"git diff\", \"git diff *\",\n"
				   "              \"git log\", \"git log *\",\n"
				   "              \"git show\", \"git show *\",\n"
				   "              \"which\", \"which *\",\n"
				   "              \"true\", \"true *\",\n"
				   "              \"false\", \"false *\",\n"
				   "              \"date\", \"date *\",\n"
				   "              \"uname\", \"uname *\"]\n";

/* ---------------------------------------------------------------------------------------- */
/* Messages */

static int fail_at(struct loader *ld, int line, int column, const char *fmt, ...) ZB_PRINTF(4, 5);
static int fail_at(struct loader *ld, int line, int column, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	msg = zb_xvasprintf(fmt, ap);
	va_end(ap);
	return zb_error_set(ld->err, ZB_ERR_CONFIG, 0, "%s:%d:%d: %s", ld->name, line, column, msg);
}

#define fail(ld, n, ...) fail_at((ld), (n)->line, (n)->column, __VA_ARGS__)

static char *join_names(const char *const *names, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 2;
	char *s = zb_xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, names[i]);
	}
	return s;
}

static const char *describe(const struct node *n)
{
	if (n->kind == NODE_LIST)
		return "a list";
	if (n->kind == NODE_MAP)
		return "a map";
	switch (n->type) {
	case SCALAR_NULL:
		return "null";
	case SCALAR_BOOL:
		return "a boolean";
	case SCALAR_INT:
		return "a whole number";
	case SCALAR_FLOAT:
		return "a number";
	case SCALAR_STRING:
		break;
	}
	return "a string";
}

/* libyaml reports the reader's problems (bad UTF-8, control characters) as a byte offset;
 * turn it into the line and column every other message uses. */
static void offset_to_mark(const struct loader *ld, size_t offset, int *ret_line, int *ret_column)
{
	int line = 1, column = 1;
	for (size_t i = 0; i < offset && i < ld->len; i++) {
		unsigned char c = (unsigned char)ld->text[i];
		if (c == '\n') {
			line++;
			column = 1;
		} else if ((c & 0xc0) != 0x80) {
			column++;
		}
	}
	*ret_line = line;
	*ret_column = column;
}

static int syntax_error(struct loader *ld)
{
	const yaml_parser_t *p = &ld->parser;
	const char *problem = p->problem ? p->problem : "unknown problem";
	if (p->error == YAML_MEMORY_ERROR) {
		fprintf(stderr, "zonebox: out of memory while parsing %s\n", ld->name);
		abort();
	}
	if (p->error == YAML_READER_ERROR) {
		int line, column;
		offset_to_mark(ld, p->problem_offset, &line, &column);
		return fail_at(ld, line, column, "%s; save the file as UTF-8 text", problem);
	}
	int line = (int)p->problem_mark.line + 1, column = (int)p->problem_mark.column + 1;
	if (p->context)
		return fail_at(
			ld, line, column,
			"YAML syntax error: %s (%s at line %zu, column %zu); fix the YAML there",
			problem, p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	return fail_at(ld, line, column, "YAML syntax error: %s; fix the YAML there", problem);
}

/* ---------------------------------------------------------------------------------------- */
/* YAML events to a tree */

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_items; i++)
		node_free(n->items[i]);
	free(n->items);
	free(n->text);
	free(n);
}

static void node_freep(struct node **n)
{
	node_free(*n);
}

static void event_deletep(yaml_event_t *ev)
{
	yaml_event_delete(ev);
}

static void node_append(struct node *n, struct node *child)
{
	if (n->n_items == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 8;
		n->items = zb_xrealloc(n->items, n->cap * sizeof(*n->items));
	}
	n->items[n->n_items++] = child;
}

static bool is_one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

static const char *skip_digits(const char *p)
{
	while (isdigit((unsigned char)*p))
		p++;
	return p;
}

static bool is_decimal_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	return isdigit((unsigned char)*s) && *skip_digits(s) == '\0';
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_decimal_float(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.') {
		if (!isdigit((unsigned char)s[1]))
			return false;
		s = skip_digits(s + 1);
	} else {
		if (!isdigit((unsigned char)*s))
			return false;
		s = skip_digits(s);
		if (*s == '.')
			s = skip_digits(s + 1);
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		s = skip_digits(s);
	}
	return *s == '\0';
}

/* s is not empty and every character of it is in `set`. */
static bool all_of(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

static enum scalar_type resolve_plain(const char *s)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
	static const char *const specials[] = {".inf",	".Inf",	 ".INF",  "+.inf", "+.Inf", "+.INF",
					       "-.inf", "-.Inf", "-.INF", ".nan",  ".NaN",  ".NAN"};
	if (is_one_of(s, nulls, ZB_ARRAY_SIZE(nulls)))
		return SCALAR_NULL;
	if (is_one_of(s, bools, ZB_ARRAY_SIZE(bools)))
		return SCALAR_BOOL;
	if (is_decimal_int(s) || (strncmp(s, "0o", 2) == 0 && all_of(s + 2, "01234567")) ||
	    (strncmp(s, "0x", 2) == 0 && all_of(s + 2, "0123456789abcdefABCDEF")))
		return SCALAR_INT;
	if (is_decimal_float(s) || is_one_of(s, specials, ZB_ARRAY_SIZE(specials)))
		return SCALAR_FLOAT;
	return SCALAR_STRING;
}

static int check_collection_tag(struct loader *ld, const yaml_char_t *tag, int line, int column)
{
	if (tag)
		return fail_at(ld, line, column, "YAML tags (%s) are not supported; remove the tag",
			       (const char *)tag);
	return 0;
}

static int build_scalar(struct loader *ld, const yaml_event_t *ev, struct node **ret)
{
	int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
	const char *value = (const char *)ev->data.scalar.value;
	size_t length = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;

	/* Everything downstream is a C string; a "\0" escape would silently cut it short. */
	if (memchr(value, '\0', length))
		return fail_at(ld, line, column,
			       "the value contains a NUL character (\\0); remove it");
	struct node *n = zb_xcalloc(1, sizeof(*n));
	n->kind = NODE_SCALAR;
	n->line = line;
	n->column = column;
	n->text = zb_xstrndup(value, length);
	if (tag && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0) {
		node_free(n);
		return fail_at(ld, line, column,
			       "YAML tags (%s) are not supported; remove the tag, or use !!str",
			       tag);
	}
	if (tag || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		n->type = SCALAR_STRING;
	else
		n->type = resolve_plain(n->text);
	*ret = n;
	return 0;
}

/* Build the node that starts with `ev` (owned by the caller), reading more events for lists
 * and maps. */
static int build_node(struct loader *ld, const yaml_event_t *ev, int depth, struct node **ret)
{
	int line = (int)ev->start_mark.line + 1, column = (int)ev->start_mark.column + 1;
	yaml_event_type_t end;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		/* Aliases are refused outright: expanding them is how "billion laughs" documents
		 * turn a few hundred bytes into gigabytes, and the format never needs them. */
		return fail_at(ld, line, column,
			       "YAML aliases (*%s) are not supported; write the value out in full",
			       (const char *)ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		return build_scalar(ld, ev, ret);
	case YAML_SEQUENCE_START_EVENT:
		if (check_collection_tag(ld, ev->data.sequence_start.tag, line, column) < 0)
			return -1;
		end = YAML_SEQUENCE_END_EVENT;
		break;
	case YAML_MAPPING_START_EVENT:
		if (check_collection_tag(ld, ev->data.mapping_start.tag, line, column) < 0)
			return -1;
		end = YAML_MAPPING_END_EVENT;
		break;
	default:
		return fail_at(ld, line, column, "unexpected YAML structure; fix the YAML there");
	}
	if (depth >= MAX_DEPTH)
		return fail_at(ld, line, column,
			       "lists and maps are nested more than %d deep; the config format "
			       "needs no more than 5",
			       MAX_DEPTH);

	_cleanup_(node_freep) struct node *n = zb_xcalloc(1, sizeof(*n));
	n->kind = end == YAML_SEQUENCE_END_EVENT ? NODE_LIST : NODE_MAP;
	n->line = line;
	n->column = column;
	for (;;) {
		_cleanup_(event_deletep) yaml_event_t child = {0};
		if (!yaml_parser_parse(&ld->parser, &child))
			return syntax_error(ld);
		if (child.type == end)
			break;
		struct node *c = NULL;
		if (build_node(ld, &child, depth + 1, &c) < 0)
			return -1;
		node_append(n, c);
		/* Keys are names; a list or map as a key ("? [a, b]") has no meaning here. */
		if (n->kind == NODE_MAP && n->n_items % 2 == 1 && c->kind != NODE_SCALAR)
			return fail(ld, c, "a key must be plain text, not %s; fix the YAML there",
				    describe(c));
	}
	*ret = TAKE_PTR(n);
	return 0;
}

static int read_document(struct loader *ld, struct node **ret_root)
{
	_cleanup_(event_deletep) yaml_event_t ev = {0};
	static const char empty[] = "the file holds no settings; write at least one section "
				    "(sandbox, approval, tools, audit, server), or start without "
				    "a config file to use the built-in default";

	/* STREAM-START, then DOCUMENT-START or (empty file) STREAM-END. */
	if (!yaml_parser_parse(&ld->parser, &ev))
		return syntax_error(ld);
	yaml_event_delete(&ev);
	if (!yaml_parser_parse(&ld->parser, &ev))
		return syntax_error(ld);
	if (ev.type == YAML_STREAM_END_EVENT)
		return fail_at(ld, 1, 1, "%s", empty);
	yaml_event_delete(&ev);

	if (!yaml_parser_parse(&ld->parser, &ev))
		return syntax_error(ld);
	_cleanup_(node_freep) struct node *root = NULL;
	if (build_node(ld, &ev, 0, &root) < 0)
		return -1;
	if (root->kind == NODE_SCALAR && root->type == SCALAR_NULL && !*root->text)
		return fail_at(ld, 1, 1, "%s", empty);
	yaml_event_delete(&ev);

	if (!yaml_parser_parse(&ld->parser, &ev)) /* DOCUMENT-END */
		return syntax_error(ld);
	yaml_event_delete(&ev);
	if (!yaml_parser_parse(&ld->parser, &ev))
		return syntax_error(ld);
	if (ev.type != YAML_STREAM_END_EVENT)
		return fail_at(ld, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
			       "a second YAML document starts here; a config file holds one "
			       "document, so remove the extra '---' and what follows or merge it");
	*ret_root = TAKE_PTR(root);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Paths */

/* `path` made absolute against `base` (absolute), with ".", ".." and repeated slashes removed
 * lexically. Symlinks are not resolved: the zone is what the user wrote. */
static char *path_absolute(const char *base, const char *path)
{
	_cleanup_free_ char *joined =
		path[0] == '/' ? zb_xstrdup(path) : zb_xasprintf("%s/%s", base, path);
	char *out = zb_xmalloc(strlen(joined) + 2);
	size_t o = 0;
	const char *p = joined;
	while (*p) {
		while (*p == '/')
			p++;
		const char *start = p;
		while (*p && *p != '/')
			p++;
		size_t len = (size_t)(p - start);
		if (len == 0 || (len == 1 && start[0] == '.'))
			continue;
		if (len == 2 && start[0] == '.' && start[1] == '.') {
			/* Drop the last component; ".." at the root stays at the root. */
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, start, len);
		o += len;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

/* "~" and "~/x" name the home folder, as they would in a shell. On failure *ret_problem says
 * what is wrong and what to do. */
static char *expand_home(const char *path, const char **ret_problem)
{
	if (path[0] != '~')
		return zb_xstrdup(path);
	if (path[1] != '\0' && path[1] != '/') {
		*ret_problem = "only ~/ (your own home folder) is understood, not ~user; write the "
			       "full path";
		return NULL;
	}
	const char *home = getenv("HOME");
	if (!home || home[0] != '/') {
		*ret_problem = "~ needs HOME set to an absolute path; set HOME or write the full "
			       "path";
		return NULL;
	}
	return zb_xasprintf("%s%s", home, path + 1);
}

static int current_dir(char **ret, struct zb_error **err)
{
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return zb_error_set(err, ZB_ERR_CONFIG, errno,
				    "cannot find the current folder (%s); start zonebox from a "
				    "folder that exists",
				    strerror(errno));
	*ret = cwd;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Values */

static int map_fields(struct loader *ld, const struct node *n, const char *where,
		      const char *const *keys, size_t n_keys, struct field *ret)
{
	memset(ret, 0, n_keys * sizeof(*ret));
	if (n->kind != NODE_MAP) {
		_cleanup_free_ char *allowed = join_names(keys, n_keys);
		return fail(ld, n, "%s: expected a map with the keys %s, got %s", where, allowed,
			    describe(n));
	}
	for (size_t i = 0; i < n->n_items; i += 2) {
		const struct node *key = n->items[i];
		size_t k = 0;
		while (k < n_keys && strcmp(key->text, keys[k]) != 0)
			k++;
		if (k == n_keys) {
			_cleanup_free_ char *allowed = join_names(keys, n_keys);
			const char *close = NULL;
			for (size_t j = 0; j < n_keys && !close; j++)
				if (strcasecmp(key->text, keys[j]) == 0)
					close = keys[j];
			if (close)
				return fail(ld, key,
					    "%s: unknown key \"%s\"; did you mean %s? The allowed "
					    "keys are %s",
					    where, key->text, close, allowed);
			return fail(ld, key, "%s: unknown key \"%s\"; the allowed keys are %s",
				    where, key->text, allowed);
		}
		if (ret[k].key)
			return fail(ld, key,
				    "%s: key \"%s\" appears twice (first at line %d, column %d); "
				    "keep one",
				    where, key->text, ret[k].key->line, ret[k].key->column);
		ret[k].key = key;
		ret[k].value = n->items[i + 1];
	}
	return 0;
}

static int get_string(struct loader *ld, const struct node *n, const char *where, const char **ret)
{
	if (n->kind == NODE_SCALAR && n->type == SCALAR_STRING) {
		if (!*n->text)
			return fail(ld, n,
				    "%s: the value is empty; write a value or remove the key",
				    where);
		*ret = n->text;
		return 0;
	}
	if (n->kind == NODE_SCALAR && *n->text)
		return fail(ld, n,
			    "%s: expected a string, got %s (%s); put it in quotes (\"%s\") if you "
			    "mean the text",
			    where, describe(n), n->text, n->text);
	if (n->kind == NODE_SCALAR)
		return fail(ld, n, "%s: no value; write a value or remove the key", where);
	return fail(ld, n, "%s: expected a string, got %s", where, describe(n));
}

static int get_enum(struct loader *ld, const struct node *n, const char *where,
		    const char *const *names, size_t count, unsigned *ret)
{
	const char *s;
	if (get_string(ld, n, where, &s) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (strcmp(s, names[i]) == 0) {
			*ret = (unsigned)i;
			return 0;
		}
	}
	_cleanup_free_ char *valid = join_names(names, count);
	return fail(ld, n, "%s: \"%s\" is not valid; use one of %s", where, s, valid);
}

static int get_bool(struct loader *ld, const struct node *n, const char *where, bool *ret)
{
	if (n->kind != NODE_SCALAR || n->type != SCALAR_BOOL)
		return fail(ld, n, "%s: expected true or false, got %s", where, describe(n));
	*ret = n->text[0] == 't' || n->text[0] == 'T';
	return 0;
}

static int get_uint(struct loader *ld, const struct node *n, const char *where, uint64_t min,
		    uint64_t *ret)
{
	if (n->kind != NODE_SCALAR || n->type != SCALAR_INT)
		return fail(ld, n, "%s: expected a whole number (at least %" PRIu64 "), got %s",
			    where, min, describe(n));
	if (!is_decimal_int(n->text))
		return fail(ld, n, "%s: write %s as a decimal number", where, n->text);
	if (n->text[0] == '-')
		return fail(ld, n, "%s: %s is too small; use at least %" PRIu64, where, n->text,
			    min);
	errno = 0;
	unsigned long long v = strtoull(n->text, NULL, 10);
	if (errno == ERANGE)
		return fail(ld, n, "%s: %s is too large", where, n->text);
	if (v < min)
		return fail(ld, n, "%s: %s is too small; use at least %" PRIu64, where, n->text,
			    min);
	*ret = v;
	return 0;
}

/* A plain decimal integer or float, finite and not negative. */
static bool plain_number(const struct node *n, double *ret)
{
	if (n->kind != NODE_SCALAR || (n->type != SCALAR_INT && n->type != SCALAR_FLOAT))
		return false;
	if (!is_decimal_int(n->text) && !is_decimal_float(n->text))
		return false;
	double v = strtod(n->text, NULL);
	if (!isfinite(v) || v < 0)
		return false;
	*ret = v;
	return true;
}

static int get_cpu(struct loader *ld, const struct node *n, const char *where, double *ret)
{
	if (!plain_number(n, ret))
		return fail(ld, n,
			    "%s: expected a number of CPUs like 1.0 or 0.5 (0 means no limit), got "
			    "%s",
			    where, n->kind == NODE_SCALAR && *n->text ? n->text : describe(n));
	return 0;
}

/* digits, an optional fraction, then nothing or one of `units` (any case): exactly what the
 * schema's pattern accepts, so the file and the schema agree. */
static bool number_with_unit(const char *s, const char *const *units, size_t n_units)
{
	if (!isdigit((unsigned char)*s))
		return false;
	s = skip_digits(s);
	if (*s == '.') {
		if (!isdigit((unsigned char)s[1]))
			return false;
		s = skip_digits(s + 1);
	}
	if (!*s)
		return true;
	for (size_t i = 0; i < n_units; i++)
		if (strcasecmp(s, units[i]) == 0)
			return true;
	return false;
}

static int get_duration(struct loader *ld, const struct node *n, const char *where, uint64_t *ret)
{
	double secs;
	uint64_t ms;
	if (plain_number(n, &secs)) {
		if (secs * 1000 > (double)UINT64_MAX / 2)
			return fail(ld, n, "%s: %s is too long", where, n->text);
		ms = (uint64_t)(secs * 1000 + 0.5);
	} else if (n->kind == NODE_SCALAR && n->type == SCALAR_STRING &&
		   number_with_unit(n->text, duration_units, ZB_ARRAY_SIZE(duration_units))) {
		if (zb_parse_duration_ms(n->text, &ms) < 0)
			return fail(ld, n, "%s: %s is too long", where, n->text);
	} else if (n->kind == NODE_SCALAR) {
		return fail(ld, n, "%s: \"%s\" is not a duration; " DURATION_FORM, where, n->text);
	} else {
		return fail(ld, n, "%s: expected a duration, got %s; " DURATION_FORM, where,
			    describe(n));
	}
	/* A zero timeout would fail every call before it starts. */
	if (ms == 0)
		return fail(ld, n, "%s: %s is too short; use at least 1ms", where, n->text);
	*ret = ms;
	return 0;
}

static int get_size(struct loader *ld, const struct node *n, const char *where, bool allow_zero,
		    uint64_t *ret)
{
	uint64_t bytes;
	if (n->kind == NODE_SCALAR && n->type == SCALAR_INT && is_decimal_int(n->text) &&
	    n->text[0] != '-') {
		errno = 0;
		bytes = strtoull(n->text, NULL, 10);
		if (errno == ERANGE)
			return fail(ld, n, "%s: %s is too large", where, n->text);
	} else if (n->kind == NODE_SCALAR && n->type == SCALAR_STRING &&
		   number_with_unit(n->text, size_units, ZB_ARRAY_SIZE(size_units))) {
		if (zb_parse_size(n->text, &bytes) < 0)
			return fail(ld, n, "%s: %s is too large", where, n->text);
	} else if (n->kind == NODE_SCALAR) {
		return fail(ld, n, "%s: \"%s\" is not a size; " SIZE_FORM, where, n->text);
	} else {
		return fail(ld, n, "%s: expected a size, got %s; " SIZE_FORM, where, describe(n));
	}
	if (bytes == 0 && !allow_zero)
		return fail(ld, n, "%s: the size must be more than 0; " SIZE_FORM, where);
	*ret = bytes;
	return 0;
}

static int get_path(struct loader *ld, const struct node *n, const char *where, char **ret)
{
	const char *s, *problem = NULL;
	if (get_string(ld, n, where, &s) < 0)
		return -1;
	_cleanup_free_ char *expanded = expand_home(s, &problem);
	if (!expanded)
		return fail(ld, n, "%s: %s", where, problem);
	*ret = path_absolute(ld->dir, expanded);
	return 0;
}

static void set_str(char **dst, char *value)
{
	free(*dst);
	*dst = value;
}

/* A list of non-empty strings into *ret (NULL-terminated, so it can serve as an argv) and
 * *ret_n. With `single_ok`, one string stands for a list of one. The strings are stored as
 * they are read, so a failure part-way leaves nothing that zb_config_free cannot free. */
static int get_string_list(struct loader *ld, const struct node *n, const char *where,
			   bool single_ok, size_t min, char ***ret, size_t *ret_n)
{
	if (single_ok && n->kind == NODE_SCALAR && n->type == SCALAR_STRING) {
		const char *s;
		if (get_string(ld, n, where, &s) < 0)
			return -1;
		*ret = zb_xcalloc(2, sizeof(char *));
		(*ret)[0] = zb_xstrdup(s);
		*ret_n = 1;
		return 0;
	}
	if (n->kind != NODE_LIST)
		return fail(ld, n, "%s: expected a list of strings%s, like [a, b], got %s", where,
			    single_ok ? " (or one string)" : "", describe(n));
	if (n->n_items < min)
		return fail(ld, n, "%s: the list is empty; list at least %zu or remove the key",
			    where, min);
	*ret = zb_xcalloc(n->n_items + 1, sizeof(char *));
	*ret_n = 0;
	for (size_t i = 0; i < n->n_items; i++) {
		const char *s;
		_cleanup_free_ char *item_where = zb_xasprintf("%s[%zu]", where, i);
		if (get_string(ld, n->items[i], item_where, &s) < 0)
			return -1;
		(*ret)[(*ret_n)++] = zb_xstrdup(s);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Names */

static int cmp_by_name(const void *a, const void *b, void *arg)
{
	const char *const *names = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(names[i], names[j]);
	if (c)
		return c;
	return (i > j) - (i < j);
}

/* Find the earliest entry (in list order) whose name was used before, and that first use.
 * Sorting keeps this O(n log n), so a long list cannot make loading crawl. */
static bool find_duplicate(const char *const *names, size_t n, size_t *ret_first, size_t *ret_again)
{
	if (n < 2)
		return false;
	_cleanup_free_ size_t *order = zb_xcalloc(n, sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), cmp_by_name, (void *)names);
	bool found = false;
	size_t run = 0;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(names[order[i]], names[order[run]]) != 0) {
			run = i;
			continue;
		}
		if (!found || order[i] < *ret_again) {
			*ret_first = order[run];
			*ret_again = order[i];
			found = true;
		}
	}
	return found;
}

/* NULL when `name` can be a zone, else what is wrong and what to do (to be freed). */
static char *zone_name_problem(const char *name)
{
	bool ok = (islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])) &&
		  all_of(name, "abcdefghijklmnopqrstuvwxyz0123456789_.-");
	if (!ok)
		return zb_xasprintf("zone name \"%s\" is not valid; use lowercase letters, digits, "
				    "'_', '.' and '-', starting with a letter or a digit",
				    name);
	if (strlen(name) > 255)
		return zb_xasprintf("zone name \"%.20s...\" is longer than 255 characters; use a "
				    "shorter name",
				    name);
	if (is_one_of(name, system_folders, ZB_ARRAY_SIZE(system_folders)))
		return zb_xasprintf("zone name \"%s\" clashes with the sandbox's own /%s; pick "
				    "another name",
				    name, name);
	return NULL;
}

static bool valid_env(const char *s)
{
	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return false;
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	return s[n] == '\0' || s[n] == '=';
}

/* A host name, optionally with a leading "*." for all its subdomains: labels of letters,
 * digits and '-', not starting or ending with '-', separated by single dots. */
static bool valid_domain(const char *s)
{
	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	for (;;) {
		size_t n = strspn(
			s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
		if (n == 0 || s[0] == '-' || s[n - 1] == '-')
			return false;
		s += n;
		if (*s == '\0')
			return true;
		if (*s != '.')
			return false;
		s++;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Sections */

static struct zb_config *config_new(void)
{
	struct zb_config *cfg = zb_xcalloc(1, sizeof(*cfg));
	cfg->sandbox.backend = zb_xstrdup("namespace");
	cfg->sandbox.network = ZB_NET_NONE;
	cfg->sandbox.session = ZB_SESSION_PERSISTENT;
	cfg->sandbox.limits = (struct zb_limits){
		.timeout_ms = 30 * 1000,
		.memory_bytes = 512u << 20,
		.pids = 256,
		.cpu = 1.0,
		.output_bytes = 1u << 20,
	};
	cfg->approval.default_decision = ZB_DECISION_ASK;
	cfg->approval.timeout_ms = 45 * 1000;
	cfg->server.max_message_bytes = 16u << 20;
	cfg->server.tools_page_size = 100;
	return cfg;
}

static int parse_network(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	static const char where[] = "sandbox.network";
	static const char *const keys[] = {"allow"};
	static const char form[] = "use none, host or {allow: [domain, ...]}";

	if (n->kind == NODE_SCALAR && n->type == SCALAR_STRING) {
		if (strcmp(n->text, "none") == 0) {
			cfg->sandbox.network = ZB_NET_NONE;
			return 0;
		}
		if (strcmp(n->text, "host") == 0) {
			cfg->sandbox.network = ZB_NET_HOST;
			return 0;
		}
		if (strcmp(n->text, "allow") == 0)
			return fail(ld, n,
				    "%s: allow needs the domains it lets through, like "
				    "network: {allow: [pypi.org]}",
				    where);
		return fail(ld, n, "%s: \"%s\" is not valid; %s", where, n->text, form);
	}
	if (n->kind != NODE_MAP)
		return fail(ld, n, "%s: expected none, host or {allow: [domain, ...]}, got %s",
			    where, describe(n));
	struct field f[1];
	if (map_fields(ld, n, where, keys, 1, f) < 0)
		return -1;
	if (!f[0].value)
		return fail(ld, n, "%s: the map needs allow: [domain, ...]; %s", where, form);
	if (get_string_list(ld, f[0].value, "sandbox.network.allow", false, 1,
			    &cfg->sandbox.allow_domains, &cfg->sandbox.n_allow_domains) < 0)
		return -1;
	for (size_t i = 0; i < cfg->sandbox.n_allow_domains; i++)
		if (!valid_domain(cfg->sandbox.allow_domains[i]))
			return fail(ld, f[0].value->items[i],
				    "sandbox.network.allow[%zu]: \"%s\" is not a domain; write a "
				    "host name like pypi.org, or *.example.com for its subdomains",
				    i, cfg->sandbox.allow_domains[i]);
	cfg->sandbox.network = ZB_NET_ALLOW;
	return 0;
}

static int parse_limits(struct loader *ld, const struct node *n, struct zb_limits *l)
{
	enum { L_TIMEOUT, L_MEMORY, L_PIDS, L_CPU, L_OUTPUT, L_N };
	static const char *const keys[L_N] = {"timeout", "memory", "pids", "cpu", "output"};
	struct field f[L_N];
	if (map_fields(ld, n, "sandbox.limits", keys, L_N, f) < 0)
		return -1;
	if (f[L_TIMEOUT].value &&
	    get_duration(ld, f[L_TIMEOUT].value, "sandbox.limits.timeout", &l->timeout_ms) < 0)
		return -1;
	if (f[L_MEMORY].value &&
	    get_size(ld, f[L_MEMORY].value, "sandbox.limits.memory", false, &l->memory_bytes) < 0)
		return -1;
	if (f[L_PIDS].value &&
	    get_uint(ld, f[L_PIDS].value, "sandbox.limits.pids", 1, &l->pids) < 0)
		return -1;
	if (f[L_CPU].value && get_cpu(ld, f[L_CPU].value, "sandbox.limits.cpu", &l->cpu) < 0)
		return -1;
	if (f[L_OUTPUT].value &&
	    get_size(ld, f[L_OUTPUT].value, "sandbox.limits.output", false, &l->output_bytes) < 0)
		return -1;
	return 0;
}

static int parse_env(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	if (get_string_list(ld, n, "sandbox.env", false, 0, &cfg->sandbox.env,
			    &cfg->sandbox.n_env) < 0)
		return -1;
	size_t count = cfg->sandbox.n_env;
	for (size_t i = 0; i < count; i++)
		if (!valid_env(cfg->sandbox.env[i]))
			return fail(ld, n->items[i],
				    "sandbox.env[%zu]: \"%s\" is not NAME or NAME=value; a name is "
				    "letters, digits and '_', not starting with a digit",
				    i, cfg->sandbox.env[i]);

	_cleanup_free_ char **names = zb_xcalloc(count ? count : 1, sizeof(*names));
	for (size_t i = 0; i < count; i++)
		names[i] = zb_xstrndup(cfg->sandbox.env[i], strcspn(cfg->sandbox.env[i], "="));
	size_t first, again;
	int r = 0;
	if (find_duplicate((const char *const *)names, count, &first, &again))
		r = fail(
			ld, n->items[again],
			"sandbox.env[%zu]: %s is set twice (first at line %d, column %d); keep one",
			again, names[again], n->items[first]->line, n->items[first]->column);
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	return r;
}

static bool has_dotdot(const char *p)
{
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += len;
		p += strspn(p, "/");
	}
	return false;
}

static int parse_zone(struct loader *ld, const struct node *n, const char *where, struct zb_zone *z)
{
	enum { Z_NAME, Z_MODE, Z_HOST_PATH, Z_SIZE, Z_PROTECT, Z_N };
	static const char *const keys[Z_N] = {"name", "mode", "hostPath", "size", "protect"};
	struct field f[Z_N];
	const char *name;
	unsigned mode;

	if (map_fields(ld, n, where, keys, Z_N, f) < 0)
		return -1;
	z->line = n->line;
	z->column = n->column;
	if (!f[Z_NAME].value)
		return fail(ld, n,
			    "%s: the zone has no name; add name: (it is mounted at /<name> in "
			    "the sandbox)",
			    where);
	_cleanup_free_ char *name_where = zb_xasprintf("%s.name", where);
	if (get_string(ld, f[Z_NAME].value, name_where, &name) < 0)
		return -1;
	_cleanup_free_ char *problem = zone_name_problem(name);
	if (problem)
		return fail(ld, f[Z_NAME].value, "%s: %s", name_where, problem);
	z->name = zb_xstrdup(name);

	if (!f[Z_MODE].value)
		return fail(ld, n, "%s: zone \"%s\" has no mode; add mode: ro, rw or tmpfs", where,
			    name);
	_cleanup_free_ char *mode_where = zb_xasprintf("%s.mode", where);
	if (get_enum(ld, f[Z_MODE].value, mode_where, mode_names, ZB_ARRAY_SIZE(mode_names),
		     &mode) < 0)
		return -1;
	z->mode = (enum zb_zone_mode)mode;

	if (z->mode == ZB_ZONE_TMPFS) {
		if (f[Z_HOST_PATH].key)
			return fail(ld, f[Z_HOST_PATH].key,
				    "%s: zone \"%s\" is tmpfs, which starts empty and has no host "
				    "folder; remove hostPath, or use mode: rw",
				    where, name);
		if (f[Z_PROTECT].key)
			return fail(ld, f[Z_PROTECT].key,
				    "%s: protect applies to zones with a hostPath; remove it from "
				    "tmpfs zone \"%s\"",
				    where, name);
		_cleanup_free_ char *size_where = zb_xasprintf("%s.size", where);
		if (f[Z_SIZE].value &&
		    get_size(ld, f[Z_SIZE].value, size_where, true, &z->size) < 0)
			return -1;
		return 0;
	}

	if (f[Z_SIZE].key)
		return fail(ld, f[Z_SIZE].key,
			    "%s: size applies to tmpfs zones only; remove it, or use mode: tmpfs",
			    where);
	if (!f[Z_HOST_PATH].value)
		return fail(ld, n,
			    "%s: zone \"%s\" (mode %s) needs hostPath: the host folder to mount, "
			    "relative to the config file",
			    where, name, mode_names[mode]);
	_cleanup_free_ char *path_where = zb_xasprintf("%s.hostPath", where);
	if (get_path(ld, f[Z_HOST_PATH].value, path_where, &z->host_path) < 0)
		return -1;
	z->path_line = f[Z_HOST_PATH].value->line;
	z->path_column = f[Z_HOST_PATH].value->column;

	if (!f[Z_PROTECT].value)
		return 0;
	_cleanup_free_ char *protect_where = zb_xasprintf("%s.protect", where);
	if (get_string_list(ld, f[Z_PROTECT].value, protect_where, false, 0, &z->protect,
			    &z->n_protect) < 0)
		return -1;
	for (size_t i = 0; i < z->n_protect; i++) {
		const struct node *item = f[Z_PROTECT].value->items[i];
		const char *p = z->protect[i];
		/* A protect path names what the backend mounts read-only over the zone; one that
		 * is absolute or climbs out with ".." would reach host folders outside it. */
		if (p[0] == '/' || has_dotdot(p))
			return fail(
				ld, item,
				"%s[%zu]: \"%s\" must be a path inside the zone, relative to it "
				"and without \"..\", like .git/hooks",
				protect_where, i, p);
		/* Stored without "./", doubled or trailing slashes, so the backends and the fs
		 * tools compare like with like. */
		_cleanup_free_ char *abs = path_absolute("/", p);
		if (strcmp(abs, "/") == 0)
			return fail(ld, item,
				    "%s[%zu]: \"%s\" is the whole zone; use mode: ro instead",
				    protect_where, i, p);
		set_str(&z->protect[i], zb_xstrdup(abs + 1));
	}
	return 0;
}

static int parse_zones(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	if (n->kind != NODE_LIST)
		return fail(ld, n,
			    "sandbox.zones: expected a list of zones, like "
			    "- {name: work, mode: rw, hostPath: .}, got %s",
			    describe(n));
	cfg->sandbox.zones = zb_xcalloc(n->n_items ? n->n_items : 1, sizeof(struct zb_zone));
	cfg->sandbox.n_zones = n->n_items;
	for (size_t i = 0; i < n->n_items; i++) {
		_cleanup_free_ char *where = zb_xasprintf("sandbox.zones[%zu]", i);
		if (parse_zone(ld, n->items[i], where, &cfg->sandbox.zones[i]) < 0)
			return -1;
	}

	_cleanup_free_ const char **names = zb_xcalloc(n->n_items ? n->n_items : 1, sizeof(char *));
	for (size_t i = 0; i < n->n_items; i++)
		names[i] = cfg->sandbox.zones[i].name;
	size_t first, again;
	if (find_duplicate(names, n->n_items, &first, &again))
		return fail(ld, n->items[again],
			    "sandbox.zones[%zu]: zone name \"%s\" is already used by the zone at "
			    "line %d, column %d; zone names must be unique",
			    again, names[again], n->items[first]->line, n->items[first]->column);
	return 0;
}

static int parse_sandbox(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	enum {
		S_BACKEND,
		S_IMAGE,
		S_RUNTIME,
		S_ROOTFS,
		S_NETWORK,
		S_SESSION,
		S_LIMITS,
		S_ENV,
		S_ZONES,
		S_N
	};
	static const char *const keys[S_N] = {"backend", "image",  "runtime", "rootfs", "network",
					      "session", "limits", "env",     "zones"};
	struct field f[S_N];
	unsigned idx;
	const char *s;

	if (map_fields(ld, n, "sandbox", keys, S_N, f) < 0)
		return -1;
	if (f[S_BACKEND].value) {
		if (get_enum(ld, f[S_BACKEND].value, "sandbox.backend", backend_names,
			     ZB_ARRAY_SIZE(backend_names), &idx) < 0)
			return -1;
		set_str(&cfg->sandbox.backend, zb_xstrdup(backend_names[idx]));
	}
	if (f[S_IMAGE].value) {
		if (get_string(ld, f[S_IMAGE].value, "sandbox.image", &s) < 0)
			return -1;
		set_str(&cfg->sandbox.image, zb_xstrdup(s));
	}
	if (f[S_RUNTIME].value) {
		if (get_enum(ld, f[S_RUNTIME].value, "sandbox.runtime", runtime_names,
			     ZB_ARRAY_SIZE(runtime_names), &idx) < 0)
			return -1;
		set_str(&cfg->sandbox.runtime, zb_xstrdup(runtime_names[idx]));
	}
	if (f[S_ROOTFS].value) {
		if (get_path(ld, f[S_ROOTFS].value, "sandbox.rootfs", &cfg->sandbox.rootfs) < 0)
			return -1;
		cfg->sandbox.rootfs_line = f[S_ROOTFS].value->line;
		cfg->sandbox.rootfs_column = f[S_ROOTFS].value->column;
	}
	if (f[S_NETWORK].value && parse_network(ld, f[S_NETWORK].value, cfg) < 0)
		return -1;
	if (f[S_SESSION].value) {
		if (get_enum(ld, f[S_SESSION].value, "sandbox.session", session_names,
			     ZB_ARRAY_SIZE(session_names), &idx) < 0)
			return -1;
		cfg->sandbox.session = (enum zb_session_mode)idx;
	}
	if (f[S_LIMITS].value && parse_limits(ld, f[S_LIMITS].value, &cfg->sandbox.limits) < 0)
		return -1;
	if (f[S_ENV].value && parse_env(ld, f[S_ENV].value, cfg) < 0)
		return -1;
	if (f[S_ZONES].value && parse_zones(ld, f[S_ZONES].value, cfg) < 0)
		return -1;
	return 0;
}

static int parse_rule(struct loader *ld, const struct node *n, const char *where,
		      struct zb_rule *rule)
{
	enum { R_ALLOW, R_ASK, R_DENY, R_MATCH, R_NOT_MATCH, R_N };
	static const char *const keys[R_N] = {"allow", "ask", "deny", "match", "not_match"};
	struct field f[R_N];
	if (map_fields(ld, n, where, keys, R_N, f) < 0)
		return -1;
	rule->line = n->line;
	rule->column = n->column;

	/* Exactly one decision per rule. With two, which one wins would depend on a precedence
	 * the reader of the file cannot see. Report the later key, in file order. */
	int decision = -1;
	for (size_t i = 0; i < n->n_items; i += 2) {
		const struct node *key = n->items[i];
		for (int d = R_ALLOW; d <= R_DENY; d++) {
			if (strcmp(key->text, keys[d]) != 0)
				continue;
			if (decision >= 0)
				return fail(ld, key,
					    "%s: a rule has both %s and %s; put them in separate "
					    "rules",
					    where, keys[decision], keys[d]);
			decision = d;
		}
	}
	if (decision < 0)
		return fail(ld, n,
			    "%s: a rule needs one of allow, ask or deny, with a pattern or a list "
			    "of patterns",
			    where);
	rule->decision = (enum zb_decision)decision;

	_cleanup_free_ char *patterns_where = zb_xasprintf("%s.%s", where, keys[decision]);
	if (get_string_list(ld, f[decision].value, patterns_where, true, 1, &rule->patterns,
			    &rule->n_patterns) < 0)
		return -1;
	if (f[R_MATCH].value) {
		_cleanup_free_ char *w = zb_xasprintf("%s.match", where);
		if (get_string_list(ld, f[R_MATCH].value, w, false, 0, &rule->match,
				    &rule->n_match) < 0)
			return -1;
	}
	if (f[R_NOT_MATCH].value) {
		_cleanup_free_ char *w = zb_xasprintf("%s.not_match", where);
		if (get_string_list(ld, f[R_NOT_MATCH].value, w, false, 0, &rule->not_match,
				    &rule->n_not_match) < 0)
			return -1;
	}
	return 0;
}

static int parse_rules(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	if (n->kind != NODE_LIST)
		return fail(ld, n,
			    "approval.rules: expected a list of rules, like - {allow: [\"ls *\"]}, "
			    "got %s",
			    describe(n));
	cfg->approval.rules = zb_xcalloc(n->n_items ? n->n_items : 1, sizeof(struct zb_rule));
	cfg->approval.n_rules = n->n_items;
	for (size_t i = 0; i < n->n_items; i++) {
		_cleanup_free_ char *where = zb_xasprintf("approval.rules[%zu]", i);
		if (parse_rule(ld, n->items[i], where, &cfg->approval.rules[i]) < 0)
			return -1;
	}
	return 0;
}

/* "fs_read" names the same tool as "fs.read": clients that reject dots see the underscore
 * form, and the file may use either. */
static const char *canonical_tool(const char *name)
{
	for (size_t i = 0; i < ZB_ARRAY_SIZE(tool_names); i++) {
		const char *t = tool_names[i];
		size_t j = 0;
		while (t[j] && (name[j] == t[j] || (t[j] == '.' && name[j] == '_')))
			j++;
		if (!t[j] && !name[j])
			return t;
	}
	return NULL;
}

static int parse_tool_rules(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	if (n->kind != NODE_MAP)
		return fail(ld, n,
			    "approval.tools: expected a map of tool names to allow, ask or deny, "
			    "like {fs.write: ask}, got %s",
			    describe(n));
	size_t count = n->n_items / 2;
	cfg->approval.tools = zb_xcalloc(count ? count : 1, sizeof(struct zb_tool_rule));
	for (size_t i = 0; i < count; i++) {
		const struct node *key = n->items[2 * i], *value = n->items[2 * i + 1];
		const char *tool = canonical_tool(key->text);
		if (!tool) {
			_cleanup_free_ char *known =
				join_names(tool_names, ZB_ARRAY_SIZE(tool_names));
			return fail(ld, key,
				    "approval.tools: unknown tool \"%s\"; the tools are %s (or the "
				    "same with '_' for '.')",
				    key->text, known);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cfg->approval.tools[j].tool, tool) == 0) {
				const struct node *prev = n->items[2 * j];
				return fail(
					ld, key,
					"approval.tools: %s is listed twice (first as %s at line "
					"%d, column %d); keep one",
					tool, prev->text, prev->line, prev->column);
			}
		}
		struct zb_tool_rule *t = &cfg->approval.tools[cfg->approval.n_tools++];
		t->tool = zb_xstrdup(tool);
		_cleanup_free_ char *where = zb_xasprintf("approval.tools.%s", key->text);
		unsigned d;
		if (get_enum(ld, value, where, decision_names, ZB_ARRAY_SIZE(decision_names), &d) <
		    0)
			return -1;
		t->decision = (enum zb_decision)d;
	}
	return 0;
}

static int parse_approver(struct loader *ld, const struct node *n, const char *where,
			  struct zb_approver *a)
{
	static const char *const keys[] = {"command"};
	static const char form[] = "use elicitation or {command: [program, arg, ...]}";

	if (n->kind == NODE_SCALAR && n->type == SCALAR_STRING &&
	    strcmp(n->text, "elicitation") == 0) {
		a->kind = ZB_APPROVER_ELICITATION;
		return 0;
	}
	if (n->kind == NODE_SCALAR && n->type == SCALAR_STRING)
		return fail(ld, n, "%s: \"%s\" is not an approver; %s", where, n->text, form);
	if (n->kind != NODE_MAP)
		return fail(ld, n, "%s: expected an approver, got %s; %s", where, describe(n),
			    form);
	struct field f[1];
	if (map_fields(ld, n, where, keys, 1, f) < 0)
		return -1;
	if (!f[0].value)
		return fail(ld, n, "%s: the map needs command: [program, arg, ...]", where);
	_cleanup_free_ char *command_where = zb_xasprintf("%s.command", where);
	size_t argc;
	a->kind = ZB_APPROVER_COMMAND;
	return get_string_list(ld, f[0].value, command_where, false, 1, &a->argv, &argc);
}

static int parse_approvers(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	static const char where[] = "approval.approver";
	if (n->kind != NODE_LIST) {
		cfg->approval.approvers = zb_xcalloc(1, sizeof(struct zb_approver));
		cfg->approval.n_approvers = 1;
		return parse_approver(ld, n, where, &cfg->approval.approvers[0]);
	}
	if (n->n_items == 0)
		return fail(ld, n,
			    "%s: the list is empty; name at least one approver, or remove the key "
			    "(then every ask is denied)",
			    where);
	cfg->approval.approvers = zb_xcalloc(n->n_items, sizeof(struct zb_approver));
	cfg->approval.n_approvers = n->n_items;
	for (size_t i = 0; i < n->n_items; i++) {
		_cleanup_free_ char *item_where = zb_xasprintf("%s[%zu]", where, i);
		if (parse_approver(ld, n->items[i], item_where, &cfg->approval.approvers[i]) < 0)
			return -1;
	}
	return 0;
}

static int parse_approval(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	enum { A_DEFAULT, A_RULES, A_TOOLS, A_APPROVER, A_TIMEOUT, A_LEARNED, A_N };
	static const char *const keys[A_N] = {"default",  "rules",   "tools",
					      "approver", "timeout", "learned"};
	struct field f[A_N];
	unsigned d;

	if (map_fields(ld, n, "approval", keys, A_N, f) < 0)
		return -1;
	if (f[A_DEFAULT].value) {
		if (get_enum(ld, f[A_DEFAULT].value, "approval.default", decision_names,
			     ZB_ARRAY_SIZE(decision_names), &d) < 0)
			return -1;
		cfg->approval.default_decision = (enum zb_decision)d;
	}
	if (f[A_RULES].value && parse_rules(ld, f[A_RULES].value, cfg) < 0)
		return -1;
	if (f[A_TOOLS].value && parse_tool_rules(ld, f[A_TOOLS].value, cfg) < 0)
		return -1;
	if (f[A_APPROVER].value && parse_approvers(ld, f[A_APPROVER].value, cfg) < 0)
		return -1;
	if (f[A_TIMEOUT].value &&
	    get_duration(ld, f[A_TIMEOUT].value, "approval.timeout", &cfg->approval.timeout_ms) < 0)
		return -1;
	if (f[A_LEARNED].value &&
	    get_path(ld, f[A_LEARNED].value, "approval.learned", &cfg->approval.learned) < 0)
		return -1;
	return 0;
}

static int parse_tools(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	enum { T_NAMES, T_SHOW_HOST_PATHS, T_N };
	static const char *const keys[T_N] = {"names", "show_host_paths"};
	struct field f[T_N];
	unsigned idx;

	if (map_fields(ld, n, "tools", keys, T_N, f) < 0)
		return -1;
	if (f[T_NAMES].value) {
		if (get_enum(ld, f[T_NAMES].value, "tools.names", names_styles,
			     ZB_ARRAY_SIZE(names_styles), &idx) < 0)
			return -1;
		cfg->tools.underscore = idx == 1;
	}
	if (f[T_SHOW_HOST_PATHS].value &&
	    get_bool(ld, f[T_SHOW_HOST_PATHS].value, "tools.show_host_paths",
		     &cfg->tools.show_host_paths) < 0)
		return -1;
	return 0;
}

static int parse_audit(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	static const char *const keys[] = {"path"};
	struct field f[1];
	if (map_fields(ld, n, "audit", keys, 1, f) < 0)
		return -1;
	if (f[0].value && get_path(ld, f[0].value, "audit.path", &cfg->audit.path) < 0)
		return -1;
	return 0;
}

static int parse_server(struct loader *ld, const struct node *n, struct zb_config *cfg)
{
	enum { V_MAX_MESSAGE, V_PAGE_SIZE, V_N };
	static const char *const keys[V_N] = {"max_message", "tools_page_size"};
	struct field f[V_N];
	if (map_fields(ld, n, "server", keys, V_N, f) < 0)
		return -1;
	if (f[V_MAX_MESSAGE].value && get_size(ld, f[V_MAX_MESSAGE].value, "server.max_message",
					       false, &cfg->server.max_message_bytes) < 0)
		return -1;
	if (f[V_PAGE_SIZE].value && get_uint(ld, f[V_PAGE_SIZE].value, "server.tools_page_size", 1,
					     &cfg->server.tools_page_size) < 0)
		return -1;
	return 0;
}

static int parse_root(struct loader *ld, const struct node *root, struct zb_config *cfg)
{
	enum { TOP_SANDBOX, TOP_APPROVAL, TOP_TOOLS, TOP_AUDIT, TOP_SERVER, TOP_N };
	static const char *const keys[TOP_N] = {"sandbox", "approval", "tools", "audit", "server"};
	static int (*const parsers[TOP_N])(struct loader *, const struct node *,
					   struct zb_config *) = {
		parse_sandbox, parse_approval, parse_tools, parse_audit, parse_server};
	struct field f[TOP_N];

	if (root->kind != NODE_MAP) {
		_cleanup_free_ char *allowed = join_names(keys, TOP_N);
		return fail(ld, root, "the top level must be a map of sections (%s), got %s",
			    allowed, describe(root));
	}
	if (map_fields(ld, root, "top level", keys, TOP_N, f) < 0)
		return -1;
	for (size_t i = 0; i < TOP_N; i++) {
		const struct node *v = f[i].value;
		/* A section left with nothing under it ("sandbox:" with every line commented
		 * out) means its defaults, as an empty map would. */
		if (!v || (v->kind == NODE_SCALAR && v->type == SCALAR_NULL))
			continue;
		if (parsers[i](ld, v, cfg) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Loading */

static int read_file(const char *path, char **ret, size_t *ret_len, struct zb_error **err);

/* The learned file (approval.learned): {approval: {rules: [...]}}, written by the approval
 * layer from "always" answers. A missing file holds no rules yet. */
static int load_learned(struct zb_config *cfg, struct zb_error **err)
{
	const char *path = cfg->approval.learned;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct zb_error *e = NULL;
	if (read_file(path, &text, &len, &e) < 0) {
		if (e->errnum == ENOENT) {
			zb_error_free(e);
			return 0;
		}
		zb_error_prefix(&e, "approval.learned");
		if (err)
			*err = e;
		else
			zb_error_free(e);
		return -1;
	}
	_cleanup_free_ char *dir = zb_xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	struct loader ld = {.name = path, .dir = dir, .text = text, .len = len, .err = err};
	if (!yaml_parser_initialize(&ld.parser))
		abort();
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
	_cleanup_(node_freep) struct node *root = NULL;
	int r = read_document(&ld, &root);
	yaml_parser_delete(&ld.parser);
	if (r < 0 || !root)
		return -1;
	static const char *const top[] = {"approval"}, *const inner[] = {"rules"};
	struct field f[1], g[1];
	if (map_fields(&ld, root, "the learned file", top, 1, f) < 0)
		return -1;
	if (!f[0].value || map_fields(&ld, f[0].value, "approval", inner, 1, g) < 0)
		return f[0].value ? -1 : 0;
	if (!g[0].value)
		return 0;
	_cleanup_config_ struct zb_config *tmp = config_new();
	if (parse_rules(&ld, g[0].value, tmp) < 0)
		return -1;
	cfg->approval.learned_rules = TAKE_PTR(tmp->approval.rules);
	cfg->approval.n_learned_rules = tmp->approval.n_rules;
	tmp->approval.n_rules = 0;
	return 0;
}

static struct zb_config *load(const char *text, size_t len, const char *name, const char *dir,
			      struct zb_error **err)
{
	_cleanup_config_ struct zb_config *cfg = config_new();
	cfg->path = zb_xstrdup(name);
	cfg->dir = zb_xstrdup(dir);

	struct loader ld = {.name = name, .dir = dir, .text = text, .len = len, .err = err};
	if (!yaml_parser_initialize(&ld.parser)) {
		fprintf(stderr, "zonebox: out of memory starting the YAML parser\n");
		abort();
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)text, len);
	_cleanup_(node_freep) struct node *root = NULL;
	int r = read_document(&ld, &root);
	yaml_parser_delete(&ld.parser);
	if (r < 0 || !root || parse_root(&ld, root, cfg) < 0)
		return NULL;
	/* The learned rules, then the patterns and their match:/not_match: examples, which only
	 * the approval layer can judge. */
	if (cfg->approval.learned && load_learned(cfg, err) < 0)
		return NULL;
	if (zb_approval_check_config(cfg, err) < 0)
		return NULL;
	return TAKE_PTR(cfg);
}

struct zb_config *zb_config_load_string(const char *yaml, size_t len, const char *name,
					const char *dir, struct zb_error **err)
{
	_cleanup_free_ char *cwd = NULL;
	if (current_dir(&cwd, err) < 0)
		return NULL;
	_cleanup_free_ char *abs_dir = path_absolute(cwd, dir ? dir : ".");
	return load(yaml ? yaml : "", yaml ? len : 0, name ? name : "<string>", abs_dir, err);
}

struct zb_config *zb_config_default(struct zb_error **err)
{
	return zb_config_load_string(default_yaml, sizeof(default_yaml) - 1, "<default>", NULL,
				     err);
}

static int read_file(const char *path, char **ret, size_t *ret_len, struct zb_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return zb_error_set(err, ZB_ERR_CONFIG, errno,
				    "%s: cannot open the config file (%s); check the path", path,
				    strerror(errno));
	if (fstat(fd, &st) < 0)
		return zb_error_set(err, ZB_ERR_CONFIG, errno,
				    "%s: cannot read the config file (%s)", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return zb_error_set(err, ZB_ERR_CONFIG, EISDIR,
				    "%s: is a folder; give the path of the YAML config file", path);

	_cleanup_free_ char *buf = zb_xmalloc(MAX_FILE_BYTES + 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, MAX_FILE_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return zb_error_set(err, ZB_ERR_CONFIG, errno,
					    "%s: cannot read the config file (%s)", path,
					    strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MAX_FILE_BYTES)
			return zb_error_set(err, ZB_ERR_CONFIG, EFBIG,
					    "%s: the file is larger than %u MiB, which no config "
					    "needs; check that this is the config file",
					    path, MAX_FILE_BYTES >> 20);
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

struct zb_config *zb_config_load_file(const char *path, struct zb_error **err)
{
	_cleanup_free_ char *text = NULL, *cwd = NULL;
	size_t len = 0;
	if (read_file(path, &text, &len, err) < 0 || current_dir(&cwd, err) < 0)
		return NULL;
	/* Relative paths in the file are relative to the file's own folder, so the same file
	 * works from wherever zonebox is started. */
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *folder = !slash	      ? zb_xstrdup(".")
				      : slash == path ? zb_xstrdup("/")
						      : zb_xstrndup(path, (size_t)(slash - path));
	_cleanup_free_ char *dir = path_absolute(cwd, folder);
	return load(text, len, path, dir, err);
}

/* ---------------------------------------------------------------------------------------- */
/* Flags and final checks */

const struct zb_zone *zb_config_find_zone(const struct zb_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++)
		if (cfg->sandbox.zones[i].name && strcmp(cfg->sandbox.zones[i].name, name) == 0)
			return &cfg->sandbox.zones[i];
	return NULL;
}

int zb_config_add_zone_flag(struct zb_config *cfg, const char *spec, struct zb_error **err)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec)
		return zb_error_set(err, ZB_ERR_CONFIG, 0, "--zone '%s': " ZONE_FLAG_FORM, spec);
	_cleanup_free_ char *name = zb_xstrndup(spec, (size_t)(eq - spec));
	const char *rest = eq + 1;
	size_t len = strlen(rest);
	enum zb_zone_mode mode = ZB_ZONE_RW;
	/* Only a trailing ":ro" or ":rw" is a mode: a host path may itself contain ':'. */
	if (len >= 3 &&
	    (strcmp(rest + len - 3, ":ro") == 0 || strcmp(rest + len - 3, ":rw") == 0)) {
		mode = rest[len - 1] == 'o' ? ZB_ZONE_RO : ZB_ZONE_RW;
		len -= 3;
	}
	if (len == 0)
		return zb_error_set(err, ZB_ERR_CONFIG, 0, "--zone '%s': " ZONE_FLAG_FORM, spec);
	_cleanup_free_ char *problem = zone_name_problem(name);
	if (problem)
		return zb_error_set(err, ZB_ERR_CONFIG, 0, "--zone '%s': %s", spec, problem);
	const struct zb_zone *old = zb_config_find_zone(cfg, name);
	if (old && old->line > 0)
		return zb_error_set(err, ZB_ERR_CONFIG, 0,
				    "--zone '%s': zone \"%s\" is already defined at %s:%d:%d; pick "
				    "another name",
				    spec, name, cfg->path, old->line, old->column);
	if (old)
		return zb_error_set(err, ZB_ERR_CONFIG, 0,
				    "--zone '%s': zone \"%s\" is already given by another --zone; "
				    "pick another name",
				    spec, name);

	_cleanup_free_ char *path = zb_xstrndup(rest, len), *cwd = NULL;
	const char *home_problem = NULL;
	_cleanup_free_ char *expanded = expand_home(path, &home_problem);
	if (!expanded)
		return zb_error_set(err, ZB_ERR_CONFIG, 0, "--zone '%s': %s", spec, home_problem);
	if (current_dir(&cwd, err) < 0)
		return -1;

	cfg->sandbox.zones = zb_xrealloc(cfg->sandbox.zones,
					 (cfg->sandbox.n_zones + 1) * sizeof(struct zb_zone));
	struct zb_zone *z = &cfg->sandbox.zones[cfg->sandbox.n_zones++];
	*z = (struct zb_zone){
		.name = TAKE_PTR(name),
		.mode = mode,
		.host_path = path_absolute(cwd, expanded),
	};
	return 0;
}

/* How a message names a zone: by its place in the file, or by the flag it came from. */
static char *zone_origin(const struct zb_config *cfg, const struct zb_zone *z, bool at_path)
{
	int line = at_path && z->path_line ? z->path_line : z->line;
	int column = at_path && z->path_line ? z->path_column : z->column;
	if (line > 0)
		return zb_xasprintf("%s:%d:%d: zone \"%s\"", cfg->path, line, column, z->name);
	return zb_xasprintf("--zone %s", z->name);
}

/* NULL when `path` is a folder, else what is wrong with it. */
static const char *folder_problem(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOENT ? "does not exist" : strerror(errno);
	if (!S_ISDIR(st.st_mode))
		return "is not a folder";
	return NULL;
}

/* Is `inner` the folder `outer` or below it? Both are canonical absolute paths. */
static bool path_within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);
	if (n == 1)
		return true; /* "/" holds everything */
	return strncmp(inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

/* Host paths become canonical (no symlink, no "..") once, here, and no zone nor the rootfs
 * may live inside a read-write zone.
 *
 * Attack: with zones work (rw, ./proj) and data (ro, ./proj/data), a command does
 * `rmdir /work/data && ln -s /etc /work/data`; the next sandbox would then mount the host's
 * /etc (or /, read-write) as /data. A folder the sandbox can rewrite must never be the path
 * another mount is taken from, so such a configuration is refused outright. */
static int check_nesting(struct zb_config *cfg, struct zb_error **err)
{
	const size_t n = cfg->sandbox.n_zones;
	for (size_t i = 0; i < n; i++) {
		struct zb_zone *z = &cfg->sandbox.zones[i];
		if (!z->host_path)
			continue;
		char *real = realpath(z->host_path, NULL);
		if (!real)
			return zb_error_set(err, ZB_ERR_CONFIG, errno, "%s: host path %s: %s",
					    cfg->path, z->host_path, strerror(errno));
		free(z->host_path);
		z->host_path = real;
	}
	if (cfg->sandbox.rootfs) {
		char *real = realpath(cfg->sandbox.rootfs, NULL);
		if (!real)
			return zb_error_set(err, ZB_ERR_CONFIG, errno, "%s: sandbox.rootfs %s: %s",
					    cfg->path, cfg->sandbox.rootfs, strerror(errno));
		free(cfg->sandbox.rootfs);
		cfg->sandbox.rootfs = real;
	}
	for (size_t j = 0; j < n; j++) {
		const struct zb_zone *outer = &cfg->sandbox.zones[j];
		if (outer->mode != ZB_ZONE_RW)
			continue;
		for (size_t i = 0; i < n; i++) {
			const struct zb_zone *inner = &cfg->sandbox.zones[i];
			if (i == j || !inner->host_path ||
			    !path_within(inner->host_path, outer->host_path))
				continue;
			_cleanup_free_ char *at = zone_origin(cfg, inner, true);
			return zb_error_set(err, ZB_ERR_CONFIG, 0,
					    "%s: zone %s (%s) is %s zone %s, which is read-write: "
					    "commands could "
					    "replace it with a link to any host folder. Use "
					    "folders that do not "
					    "contain each other, or make zone %s read-only",
					    at, inner->name, zb_zone_mode_name(inner->mode),
					    strcmp(inner->host_path, outer->host_path) == 0
						    ? "the same folder as"
						    : "inside",
					    outer->name, outer->name);
		}
		if (cfg->sandbox.rootfs && path_within(cfg->sandbox.rootfs, outer->host_path))
			return zb_error_set(
				err, ZB_ERR_CONFIG, 0,
				"%s:%d:%d: sandbox.rootfs %s is inside zone %s, which is "
				"read-write: commands could change the system folders of "
				"later sandboxes. Move the rootfs out of the zone",
				cfg->path, cfg->sandbox.rootfs_line, cfg->sandbox.rootfs_column,
				cfg->sandbox.rootfs, outer->name);
	}
	return 0;
}

int zb_config_validate(struct zb_config *cfg, struct zb_error **err)
{
	const size_t n = cfg->sandbox.n_zones;
	if (n == 0)
		return zb_error_set(
			err, ZB_ERR_CONFIG, 0,
			"%s: no zones are configured, so the sandbox would see no files; "
			"add one under sandbox.zones or pass --zone NAME=PATH",
			cfg->path);

	for (size_t i = 0; i < n; i++) {
		const struct zb_zone *z = &cfg->sandbox.zones[i];
		if (!z->name)
			return zb_error_set(err, ZB_ERR_CONFIG, 0, "%s: zone %zu has no name",
					    cfg->path, i);
		_cleanup_free_ char *origin = zone_origin(cfg, z, false);
		_cleanup_free_ char *problem = zone_name_problem(z->name);
		if (problem)
			return zb_error_set(err, ZB_ERR_CONFIG, 0, "%s: %s", origin, problem);
		if (z->mode == ZB_ZONE_TMPFS) {
			if (z->host_path)
				return zb_error_set(err, ZB_ERR_CONFIG, 0,
						    "%s: a tmpfs zone has no host folder; remove "
						    "its host path",
						    origin);
			continue;
		}
		if (!z->host_path)
			return zb_error_set(err, ZB_ERR_CONFIG, 0,
					    "%s: mode %s needs a host folder; set hostPath", origin,
					    zb_zone_mode_name(z->mode));
		const char *why = folder_problem(z->host_path);
		if (why) {
			_cleanup_free_ char *at = zone_origin(cfg, z, true);
			return zb_error_set(err, ZB_ERR_CONFIG, 0,
					    "%s: host path %s %s; create the folder or change %s",
					    at, z->host_path, why,
					    z->line > 0 ? "hostPath" : "the --zone flag");
		}
	}

	_cleanup_free_ const char **names = zb_xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		names[i] = cfg->sandbox.zones[i].name;
	size_t first, again;
	if (find_duplicate(names, n, &first, &again)) {
		_cleanup_free_ char *origin = zone_origin(cfg, &cfg->sandbox.zones[again], false);
		_cleanup_free_ char *prev = zone_origin(cfg, &cfg->sandbox.zones[first], false);
		return zb_error_set(err, ZB_ERR_CONFIG, 0,
				    "%s: the name is already used (%s); zone names must be unique",
				    origin, prev);
	}

	const char *why = cfg->sandbox.rootfs ? folder_problem(cfg->sandbox.rootfs) : NULL;
	if (why)
		return zb_error_set(err, ZB_ERR_CONFIG, 0,
				    "%s:%d:%d: sandbox.rootfs: %s %s; point it at a folder that "
				    "holds a root file system, or remove it",
				    cfg->path, cfg->sandbox.rootfs_line, cfg->sandbox.rootfs_column,
				    cfg->sandbox.rootfs, why);
	return check_nesting(cfg, err);
}

const char *zb_zone_mode_name(enum zb_zone_mode m)
{
	return (unsigned)m < ZB_ARRAY_SIZE(mode_names) ? mode_names[m] : "?";
}

const char *zb_decision_name(enum zb_decision d)
{
	return (unsigned)d < ZB_ARRAY_SIZE(decision_names) ? decision_names[d] : "?";
}

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void zb_config_free(struct zb_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->sandbox.backend);
	free(cfg->sandbox.image);
	free(cfg->sandbox.runtime);
	free(cfg->sandbox.rootfs);
	strv_free(cfg->sandbox.allow_domains, cfg->sandbox.n_allow_domains);
	strv_free(cfg->sandbox.env, cfg->sandbox.n_env);
	for (size_t i = 0; i < cfg->sandbox.n_zones; i++) {
		struct zb_zone *z = &cfg->sandbox.zones[i];
		free(z->name);
		free(z->host_path);
		strv_free(z->protect, z->n_protect);
	}
	free(cfg->sandbox.zones);
	for (size_t i = 0; i < cfg->approval.n_rules; i++) {
		struct zb_rule *r = &cfg->approval.rules[i];
		strv_free(r->patterns, r->n_patterns);
		strv_free(r->match, r->n_match);
		strv_free(r->not_match, r->n_not_match);
	}
	free(cfg->approval.rules);
	for (size_t i = 0; i < cfg->approval.n_learned_rules; i++) {
		struct zb_rule *r = &cfg->approval.learned_rules[i];
		strv_free(r->patterns, r->n_patterns);
		strv_free(r->match, r->n_match);
		strv_free(r->not_match, r->n_not_match);
	}
	free(cfg->approval.learned_rules);
	for (size_t i = 0; i < cfg->approval.n_tools; i++)
		free(cfg->approval.tools[i].tool);
	free(cfg->approval.tools);
	for (size_t i = 0; i < cfg->approval.n_approvers; i++) {
		char **argv = cfg->approval.approvers[i].argv;
		size_t argc = 0;
		while (argv && argv[argc])
			argc++;
		strv_free(argv, argc);
	}
	free(cfg->approval.approvers);
	free(cfg->approval.learned);
	free(cfg->audit.path);
	free(cfg);
}
