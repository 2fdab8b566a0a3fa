/* The embedded files of schemas/, a parse cache for them, and a validator for the subset of
 * JSON Schema that schema.h lists.
 *
 * The validator works in two passes. A check of the schema itself ("lint") runs first: every
 * keyword must be one of the supported subset and have a value of the right shape, every
 * pattern must compile and every $ref must resolve. A schema that fails is a bug in zonebox,
 * not in the request, so it is reported as ZB_ERR_INTERNAL (and aborts for the embedded
 * files, where it can only be a build bug). Refusing unknown keywords instead of skipping
 * them matters: a skipped "if" or "patternProperties" would silently accept arguments the
 * schema's author meant to refuse. The second pass checks the instance and stops at the
 * first place that does not fit, naming it by its path from the caller's root. */
#include "schema.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>

/* Instance nesting plus $ref hops; deeper is refused rather than risking the stack (a $ref
 * cycle in a schema would otherwise recurse forever). */
#define MAX_DEPTH 128
/* Client-supplied text (unknown keys) is quoted in messages, but only this much of it. */
#define MAX_QUOTE 64
/* Each alternative's message inside a oneOf/anyOf message is cut to this many bytes. */
#define MAX_ALT_MSG 200

/* ---- the embedded files ---- */

static size_t n_files(void)
{
	size_t n = 0;
	while (zb_embedded_schemas[n].name)
		n++;
	return n;
}

static int file_by_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct zb_embedded_file *)elem)->name);
}

const struct zb_embedded_file *zb_schema_file(const char *name)
{
	if (!name)
		return NULL;
	/* tools/embed.c sorts the table with strcmp, so bsearch with strcmp finds in it. */
	return bsearch(name, zb_embedded_schemas, n_files(), sizeof(zb_embedded_schemas[0]),
		       file_by_name);
}

/* ---- a growing string ---- */

struct buf {
	char *s;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->s = zb_xrealloc(b->s, cap);
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static ZB_PRINTF(2, 0) void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	if (n < 0)
		abort();
	buf_add(b, s, (size_t)n);
	free(s);
}

static ZB_PRINTF(2, 3) void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

static void buf_truncate(struct buf *b, size_t len)
{
	if (b->s && len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
}

static const char *buf_get(const struct buf *b)
{
	return b->s ? b->s : "";
}

/* Cut at most `max` bytes of UTF-8 without splitting a character. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* Append `s` as a JSON string literal, shortened to `max` bytes with an ellipsis. */
static void buf_quote(struct buf *b, const char *s, size_t len, size_t max)
{
	size_t n = utf8_cut(s, len, max);
	buf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			buf_add(b, esc, 2);
		} else if (c < 0x20 || c == 0x7F) {
			buf_printf(b, "\\u%04x", c);
		} else {
			buf_add(b, s + i, 1);
		}
	}
	if (n < len)
		buf_str(b, "…");
	buf_add(b, "\"", 1);
}

/* Append a JSON value from a schema (an enum member, a const) in compact form. */
static void buf_json(struct buf *b, const json_t *v)
{
	const size_t flags = JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15);
	size_t n = json_dumpb(v, NULL, 0, flags);
	if (n == 0)
		return;
	char *s = zb_xmalloc(n);
	json_dumpb(v, s, n, flags);
	buf_add(b, s, n);
	free(s);
}

static void buf_number(struct buf *b, const json_t *n)
{
	if (json_is_integer(n))
		buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(n));
	else
		buf_printf(b, "%.15g", json_number_value(n));
}

/* ---- checking a schema itself ---- */

enum kw_kind {
	KW_TEXT, /* an annotation that must be a string */
	KW_ANY,	 /* an annotation or value of any kind */
	KW_SCHEMA,
	KW_SCHEMA_MAP,	/* object of name -> schema */
	KW_SCHEMA_LIST, /* non-empty array of schemas */
	KW_TYPE,
	KW_NAMES,  /* array of strings */
	KW_VALUES, /* non-empty array of anything */
	KW_NUMBER,
	KW_COUNT, /* non-negative integer */
	KW_PATTERN,
	KW_REF,
};

/* Sorted by name (strcmp) for bsearch. */
static const struct keyword {
	const char *name;
	enum kw_kind kind;
} keywords[] = {
	{"$comment", KW_TEXT},
	{"$defs", KW_SCHEMA_MAP},
	{"$id", KW_TEXT},
	{"$ref", KW_REF},
	{"$schema", KW_TEXT},
	{"additionalProperties", KW_SCHEMA},
	{"allOf", KW_SCHEMA_LIST},
	{"anyOf", KW_SCHEMA_LIST},
	{"const", KW_ANY},
	{"default", KW_ANY},
	{"description", KW_TEXT},
	{"enum", KW_VALUES},
	{"examples", KW_ANY},
	{"exclusiveMaximum", KW_NUMBER},
	{"exclusiveMinimum", KW_NUMBER},
	{"format", KW_TEXT},
	{"items", KW_SCHEMA},
	{"maxItems", KW_COUNT},
	{"maxLength", KW_COUNT},
	{"maxProperties", KW_COUNT},
	{"maximum", KW_NUMBER},
	{"minItems", KW_COUNT},
	{"minLength", KW_COUNT},
	{"minProperties", KW_COUNT},
	{"minimum", KW_NUMBER},
	{"not", KW_SCHEMA},
	{"oneOf", KW_SCHEMA_LIST},
	{"pattern", KW_PATTERN},
	{"properties", KW_SCHEMA_MAP},
	{"required", KW_NAMES},
	{"title", KW_TEXT},
	{"type", KW_TYPE},
};

static const char *const type_names[] = {
	"null", "boolean", "object", "array", "number", "string", "integer",
};

static int keyword_by_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct keyword *)elem)->name);
}

static bool is_type_name(const json_t *v)
{
	const char *s = json_string_value(v);
	for (size_t i = 0; s && i < ZB_ARRAY_SIZE(type_names); i++)
		if (strcmp(s, type_names[i]) == 0)
			return true;
	return false;
}

/* The target of "#/$defs/NAME" in `root`, or NULL. */
static const json_t *resolve_ref(const json_t *root, const char *ref)
{
	static const char prefix[] = "#/$defs/";
	if (strncmp(ref, prefix, sizeof(prefix) - 1) != 0)
		return NULL;
	return json_object_get(json_object_get(root, "$defs"), ref + sizeof(prefix) - 1);
}

static int compile_pattern(regex_t *re, const char *pattern, char *ret_msg, size_t msg_len)
{
	int r = regcomp(re, pattern, REG_EXTENDED);
	if (r == REG_ESPACE)
		abort(); /* out of memory, as xmalloc would */
	if (r != 0) {
		regerror(r, re, ret_msg, msg_len);
		return -1;
	}
	return 0;
}

struct lint {
	const json_t *root;
	struct buf ptr; /* JSON pointer of the schema being checked, "#/properties/path" */
	struct buf msg;
};

static int lint_schema(struct lint *l, const json_t *schema);

static ZB_PRINTF(2, 3) int lint_fail(struct lint *l, const char *fmt, ...)
{
	buf_printf(&l->msg, "%s: ", buf_get(&l->ptr));
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&l->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Check the schema `v` found at ptr + "/" + seg. */
static int lint_child(struct lint *l, const char *seg, const json_t *v)
{
	size_t saved = l->ptr.len;
	buf_add(&l->ptr, "/", 1);
	for (const char *p = seg; *p; p++) {
		/* JSON pointer escapes, so a property named "a/b" is not read as two steps */
		if (*p == '~')
			buf_str(&l->ptr, "~0");
		else if (*p == '/')
			buf_str(&l->ptr, "~1");
		else
			buf_add(&l->ptr, p, 1);
	}
	int r = lint_schema(l, v);
	buf_truncate(&l->ptr, saved);
	return r;
}

static int lint_keyword(struct lint *l, const char *key, const json_t *v)
{
	const struct keyword *kw = bsearch(key, keywords, ZB_ARRAY_SIZE(keywords),
					   sizeof(keywords[0]), keyword_by_name);
	if (!kw)
		return lint_fail(l, "unsupported keyword \"%s\" (server/schema.h lists the subset)",
				 key);

	const char *name;
	const json_t *item;
	size_t i;
	switch (kw->kind) {
	case KW_TEXT:
		if (!json_is_string(v))
			return lint_fail(l, "\"%s\" must be a string", key);
		return 0;
	case KW_ANY:
		return 0;
	case KW_SCHEMA:
		return lint_child(l, key, v);
	case KW_SCHEMA_MAP: {
		if (!json_is_object(v))
			return lint_fail(l, "\"%s\" must be an object", key);
		size_t saved = l->ptr.len;
		buf_add(&l->ptr, "/", 1);
		buf_str(&l->ptr, key);
		int r = 0;
		json_object_foreach((json_t *)v, name, item)
		{
			if ((r = lint_child(l, name, item)) < 0)
				break;
		}
		buf_truncate(&l->ptr, saved);
		return r;
	}
	case KW_SCHEMA_LIST: {
		if (!json_is_array(v) || json_array_size(v) == 0)
			return lint_fail(l, "\"%s\" must be a non-empty array of schemas", key);
		size_t saved = l->ptr.len;
		buf_add(&l->ptr, "/", 1);
		buf_str(&l->ptr, key);
		int r = 0;
		json_array_foreach(v, i, item)
		{
			char idx[24];
			snprintf(idx, sizeof(idx), "%zu", i);
			if ((r = lint_child(l, idx, item)) < 0)
				break;
		}
		buf_truncate(&l->ptr, saved);
		return r;
	}
	case KW_TYPE:
		if (json_is_array(v) && json_array_size(v) > 0) {
			json_array_foreach(v, i, item)
			{
				if (!is_type_name(item))
					return lint_fail(l, "\"type\" has an unknown type name");
			}
			return 0;
		}
		if (!is_type_name(v))
			return lint_fail(
				l, "\"type\" must be a type name or a non-empty list of them");
		return 0;
	case KW_NAMES:
		if (!json_is_array(v))
			return lint_fail(l, "\"%s\" must be an array of strings", key);
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item))
				return lint_fail(l, "\"%s\" must be an array of strings", key);
		}
		return 0;
	case KW_VALUES:
		if (!json_is_array(v) || json_array_size(v) == 0)
			return lint_fail(l, "\"%s\" must be a non-empty array", key);
		return 0;
	case KW_NUMBER:
		if (!json_is_number(v))
			return lint_fail(l, "\"%s\" must be a number", key);
		return 0;
	case KW_COUNT:
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return lint_fail(l, "\"%s\" must be a non-negative integer", key);
		return 0;
	case KW_PATTERN: {
		if (!json_is_string(v))
			return lint_fail(l, "\"pattern\" must be a string");
		regex_t re;
		char why[128];
		if (compile_pattern(&re, json_string_value(v), why, sizeof(why)) < 0)
			return lint_fail(
				l, "\"pattern\" is not a POSIX extended regular expression: %s",
				why);
		regfree(&re);
		return 0;
	}
	case KW_REF:
		if (!json_is_string(v) || !resolve_ref(l->root, json_string_value(v)))
			return lint_fail(
				l, "\"$ref\" must be \"#/$defs/NAME\" naming an entry of $defs");
		return 0;
	}
	return 0;
}

static int lint_schema(struct lint *l, const json_t *schema)
{
	if (json_is_boolean(schema))
		return 0;
	if (!json_is_object(schema))
		return lint_fail(l, "a schema must be an object or a boolean");
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)schema, key, v)
	{
		if (lint_keyword(l, key, v) < 0)
			return -1;
	}
	return 0;
}

/* Check that `schema` uses only the supported subset, well formed. */
static int lint(const json_t *schema, char **ret_msg)
{
	struct lint l = {.root = schema};
	buf_str(&l.ptr, "#");
	int r = lint_schema(&l, schema);
	free(l.ptr.s);
	if (r < 0)
		*ret_msg = l.msg.s;
	else
		free(l.msg.s);
	return r;
}

/* ---- the parse cache ---- */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t **cache; /* parallel to zb_embedded_schemas */

/* The schemas inside the cached files were linted when they were loaded and live as long as
 * the cache, so validating against them skips the lint and reuses compiled patterns. Other
 * schemas (tests build their own) are linted and compiled on every call: their addresses may
 * be reused after they are freed, so nothing may be remembered about them. */
#define MAX_TRUSTED 64
static const json_t *trusted[MAX_TRUSTED];
static size_t n_trusted;

struct compiled {
	const json_t *pattern; /* a "pattern" string inside a trusted schema */
	regex_t re;
};
#define MAX_COMPILED 64
static struct compiled compiled[MAX_COMPILED];
static size_t n_compiled;

static bool is_trusted(const json_t *schema)
{
	bool found = false;
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < n_trusted && !found; i++)
		found = trusted[i] == schema;
	pthread_mutex_unlock(&cache_lock);
	return found;
}

/* A compiled pattern of a trusted schema, compiled once; NULL when the table is full (the
 * caller compiles a private copy then). */
static const regex_t *compiled_pattern(const json_t *pattern)
{
	const regex_t *re = NULL;
	pthread_mutex_lock(&cache_lock);
	for (size_t i = 0; i < n_compiled && !re; i++)
		if (compiled[i].pattern == pattern)
			re = &compiled[i].re;
	if (!re && n_compiled < MAX_COMPILED &&
	    regcomp(&compiled[n_compiled].re, json_string_value(pattern), REG_EXTENDED) == 0) {
		compiled[n_compiled].pattern = pattern;
		re = &compiled[n_compiled++].re;
	}
	pthread_mutex_unlock(&cache_lock);
	return re;
}

static _Noreturn void build_bug(const char *name, const char *what)
{
	/* The files are compiled in, so no input can cause this: only a broken schemas/ file
	 * that the build embedded. Serving a wrong tool list would be worse than stopping. */
	fprintf(stderr, "zonebox: schemas/%s: %s (a bug in the build: fix the file)\n", name, what);
	abort();
}

static json_t *load(const struct zb_embedded_file *f)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)f->data, f->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		char what[256];
		snprintf(what, sizeof(what), "line %d column %d: %s", jerr.line, jerr.column,
			 jerr.text);
		build_bug(f->name, what);
	}

	/* A tool file is a tools/list entry holding two schemas; any other file is a schema. */
	const json_t *parts[2] = {doc, NULL};
	if (strncmp(f->name, "tools/", 6) == 0) {
		if (!json_is_object(doc))
			build_bug(f->name, "a tool file must hold one JSON object");
		parts[0] = json_object_get(doc, "inputSchema");
		parts[1] = json_object_get(doc, "outputSchema");
	}
	for (size_t i = 0; i < ZB_ARRAY_SIZE(parts); i++) {
		char *msg = NULL;
		if (parts[i] && lint(parts[i], &msg) < 0)
			build_bug(f->name, msg);
		if (parts[i] && n_trusted < MAX_TRUSTED)
			trusted[n_trusted++] = parts[i];
	}
	return doc;
}

const json_t *zb_schema_get(const char *name)
{
	const struct zb_embedded_file *f = zb_schema_file(name);
	if (!f)
		return NULL;
	size_t i = (size_t)(f - zb_embedded_schemas);

	pthread_mutex_lock(&cache_lock);
	if (!cache)
		cache = zb_xcalloc(n_files(), sizeof(*cache));
	if (!cache[i])
		cache[i] = load(f);
	const json_t *doc = cache[i];
	pthread_mutex_unlock(&cache_lock);
	return doc;
}

void zb_schema_cache_free(void)
{
	pthread_mutex_lock(&cache_lock);
	if (cache) {
		for (size_t i = 0; zb_embedded_schemas[i].name; i++)
			json_decref(cache[i]);
		free(cache);
		cache = NULL;
	}
	for (size_t i = 0; i < n_compiled; i++)
		regfree(&compiled[i].re);
	n_compiled = 0;
	n_trusted = 0;
	pthread_mutex_unlock(&cache_lock);
}

/* ---- checking an instance ---- */

struct ctx {
	const json_t *root; /* for $ref */
	bool trusted;	    /* root is a schema of the cached files */
	struct buf path;    /* "arguments.edits[0]" */
	char *msg;	    /* the failure, "path: what is wrong" */
	unsigned depth;
};

static int check(struct ctx *c, const json_t *schema, const json_t *inst);

static ZB_PRINTF(2, 3) int fail(struct ctx *c, const char *fmt, ...)
{
	struct buf b = {0};
	if (c->path.len) {
		buf_add(&b, c->path.s, c->path.len);
		buf_str(&b, ": ");
	}
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	free(c->msg);
	c->msg = b.s;
	return -1;
}

static bool is_plain_key(const char *key)
{
	if (!*key)
		return false;
	for (const char *p = key; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		      ('0' <= *p && *p <= '9') || *p == '_' || *p == '-' || *p == '$'))
			return false;
	return true;
}

/* Descend into a member: "a.b", or a["odd key"] for keys that would read ambiguously. */
static size_t path_push_key(struct ctx *c, const char *key)
{
	size_t saved = c->path.len;
	if (is_plain_key(key)) {
		if (c->path.len)
			buf_add(&c->path, ".", 1);
		buf_str(&c->path, key);
	} else {
		buf_add(&c->path, "[", 1);
		buf_quote(&c->path, key, strlen(key), MAX_QUOTE);
		buf_add(&c->path, "]", 1);
	}
	return saved;
}

static size_t path_push_index(struct ctx *c, size_t i)
{
	size_t saved = c->path.len;
	buf_printf(&c->path, "[%zu]", i);
	return saved;
}

static int check_at_key(struct ctx *c, const json_t *schema, const char *key, const json_t *v)
{
	size_t saved = path_push_key(c, key);
	int r = check(c, schema, v);
	buf_truncate(&c->path, saved);
	return r;
}

const char *zb_json_kind_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

/* "a string", "an integer", "null": type names as a sentence says them. */
static const char *type_phrase(const char *type)
{
	static const char *const phrases[][2] = {
		{"null", "null"},	   {"boolean", "a boolean"}, {"object", "an object"},
		{"array", "an array"},	   {"number", "a number"},   {"string", "a string"},
		{"integer", "an integer"},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(phrases); i++)
		if (strcmp(type, phrases[i][0]) == 0)
			return phrases[i][1];
	return type;
}

static bool has_type(const json_t *inst, const char *type)
{
	if (strcmp(type, "null") == 0)
		return json_is_null(inst);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(inst);
	if (strcmp(type, "object") == 0)
		return json_is_object(inst);
	if (strcmp(type, "array") == 0)
		return json_is_array(inst);
	if (strcmp(type, "string") == 0)
		return json_is_string(inst);
	if (strcmp(type, "number") == 0)
		return json_is_number(inst);
	/* "integer": JSON Schema counts 1.0 as an integer, since it is the same number. */
	if (json_is_integer(inst))
		return true;
	if (!json_is_real(inst))
		return false;
	double d = json_real_value(inst);
	return isfinite(d) && floor(d) == d;
}

static int check_type(struct ctx *c, const json_t *type, const json_t *inst)
{
	size_t n = json_is_array(type) ? json_array_size(type) : 1;
	for (size_t i = 0; i < n; i++) {
		const json_t *t = json_is_array(type) ? json_array_get(type, i) : type;
		if (has_type(inst, json_string_value(t)))
			return 0;
	}
	/* "expected a string, an integer or null, got an object" */
	struct buf b = {0};
	buf_str(&b, "expected ");
	for (size_t i = 0; i < n; i++) {
		const json_t *t = json_is_array(type) ? json_array_get(type, i) : type;
		if (i > 0)
			buf_str(&b, i == n - 1 ? " or " : ", ");
		buf_str(&b, type_phrase(json_string_value(t)));
	}
	buf_printf(&b, ", got %s", zb_json_kind_name(inst));
	fail(c, "%s", b.s);
	free(b.s);
	return -1;
}

/* Like json_number_value comparison, exact for two integers. */
static int compare_numbers(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		return (x > y) - (x < y);
	}
	double x = json_number_value(a), y = json_number_value(b);
	return (x > y) - (x < y);
}

/* Equality as JSON Schema defines it: 1 and 1.0 are the same number. */
static bool values_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return compare_numbers(a, b) == 0;
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!values_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return false;
		const char *key;
		const json_t *v;
		json_object_foreach((json_t *)a, key, v)
		{
			const json_t *w = json_object_get(b, key);
			if (!w || !values_equal(v, w))
				return false;
		}
		return true;
	}
	return json_equal(a, b);
}

static int check_enum(struct ctx *c, const json_t *values, const json_t *inst)
{
	size_t i;
	const json_t *v;
	json_array_foreach(values, i, v)
	{
		if (values_equal(v, inst))
			return 0;
	}
	struct buf b = {0};
	buf_str(&b, json_array_size(values) == 1 ? "must be " : "must be one of ");
	json_array_foreach(values, i, v)
	{
		if (i > 0)
			buf_str(&b, ", ");
		buf_json(&b, v);
	}
	fail(c, "%s", b.s);
	free(b.s);
	return -1;
}

static int check_const(struct ctx *c, const json_t *value, const json_t *inst)
{
	if (values_equal(value, inst))
		return 0;
	struct buf b = {0};
	buf_str(&b, "must be ");
	buf_json(&b, value);
	fail(c, "%s", b.s);
	free(b.s);
	return -1;
}

static int check_bound(struct ctx *c, const json_t *schema, const json_t *inst, const char *kw,
		       int bad_sign, bool bad_if_equal, const char *phrase)
{
	const json_t *bound = json_object_get(schema, kw);
	if (!bound)
		return 0;
	int cmp = compare_numbers(inst, bound);
	if (cmp != bad_sign && !(bad_if_equal && cmp == 0))
		return 0;
	struct buf b = {0};
	buf_str(&b, phrase);
	buf_number(&b, bound);
	fail(c, "%s", b.s);
	free(b.s);
	return -1;
}

static int check_number(struct ctx *c, const json_t *schema, const json_t *inst)
{
	if (check_bound(c, schema, inst, "minimum", -1, false, "must be at least ") < 0 ||
	    check_bound(c, schema, inst, "maximum", 1, false, "must be at most ") < 0 ||
	    check_bound(c, schema, inst, "exclusiveMinimum", -1, true, "must be greater than ") <
		    0 ||
	    check_bound(c, schema, inst, "exclusiveMaximum", 1, true, "must be less than ") < 0)
		return -1;
	return 0;
}

static size_t count_get(const json_t *schema, const char *kw, bool *ret_set)
{
	const json_t *v = json_object_get(schema, kw);
	*ret_set = v != NULL;
	return v ? (size_t)json_integer_value(v) : 0;
}

/* Checks a size against minKW/maxKW: "must be at least 3 characters long". */
static int check_size(struct ctx *c, const json_t *schema, size_t n, const char *min_kw,
		      const char *max_kw, const char *unit, const char *at_least,
		      const char *at_most, const char *suffix)
{
	bool set;
	size_t min = count_get(schema, min_kw, &set);
	if (set && n < min) {
		if (min == 1)
			return fail(c, "must not be empty");
		return fail(c, "%s %zu %ss%s", at_least, min, unit, suffix);
	}
	size_t max = count_get(schema, max_kw, &set);
	if (set && n > max)
		return fail(c, "%s %zu %s%s%s", at_most, max, unit, max == 1 ? "" : "s", suffix);
	return 0;
}

static size_t utf8_count(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static int check_string(struct ctx *c, const json_t *schema, const json_t *inst)
{
	const char *s = json_string_value(inst);
	size_t len = json_string_length(inst);
	if (check_size(c, schema, utf8_count(s, len), "minLength", "maxLength", "character",
		       "must be at least", "must be at most", " long") < 0)
		return -1;

	const json_t *pattern = json_object_get(schema, "pattern");
	if (!pattern)
		return 0;
	regex_t own;
	const regex_t *re = c->trusted ? compiled_pattern(pattern) : NULL;
	if (!re) {
		char why[128];
		if (compile_pattern(&own, json_string_value(pattern), why, sizeof(why)) < 0)
			abort(); /* the lint compiled it a moment ago */
	}
	/* REG_STARTEND lets a string with a NUL inside be matched as a whole. */
	regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)len}};
	int r = regexec(re ? re : &own, s, 1, m, REG_STARTEND);
	if (!re)
		regfree(&own);
	if (r == 0)
		return 0;
	struct buf b = {0};
	buf_str(&b, "must match the pattern ");
	buf_quote(&b, json_string_value(pattern), json_string_length(pattern), SIZE_MAX);
	fail(c, "%s", b.s);
	free(b.s);
	return -1;
}

static int check_array(struct ctx *c, const json_t *schema, const json_t *inst)
{
	if (check_size(c, schema, json_array_size(inst), "minItems", "maxItems", "item",
		       "must have at least", "must have at most", "") < 0)
		return -1;
	const json_t *items = json_object_get(schema, "items");
	if (!items)
		return 0;
	size_t i;
	const json_t *v;
	json_array_foreach(inst, i, v)
	{
		size_t saved = path_push_index(c, i);
		int r = check(c, items, v);
		buf_truncate(&c->path, saved);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int fail_unknown(struct ctx *c, const json_t *props, const char *key)
{
	struct buf b = {0};
	buf_str(&b, "unknown field ");
	buf_quote(&b, key, strlen(key), MAX_QUOTE);
	if (json_object_size(props) == 0) {
		buf_str(&b, " (no fields are allowed here)");
	} else {
		buf_str(&b, " (allowed: ");
		const char *name;
		const json_t *v;
		bool first = true;
		json_object_foreach((json_t *)props, name, v)
		{
			if (!first)
				buf_str(&b, ", ");
			buf_str(&b, name);
			first = false;
		}
		buf_str(&b, ")");
	}
	fail(c, "%s", b.s);
	free(b.s);
	return -1;
}

static int check_object(struct ctx *c, const json_t *schema, const json_t *inst)
{
	const json_t *props = json_object_get(schema, "properties");
	const json_t *extra = json_object_get(schema, "additionalProperties");
	const json_t *required = json_object_get(schema, "required");
	const char *key;
	const json_t *v;

	/* Unknown fields first: a misspelt name explains the "missing" one that follows. */
	if (extra && !json_is_true(extra)) {
		json_object_foreach((json_t *)inst, key, v)
		{
			if (json_object_get(props, key))
				continue;
			if (json_is_false(extra))
				return fail_unknown(c, props, key);
			if (check_at_key(c, extra, key, v) < 0)
				return -1;
		}
	}

	size_t i;
	const json_t *name;
	json_array_foreach(required, i, name)
	{
		if (json_object_get(inst, json_string_value(name)))
			continue;
		struct buf b = {0};
		buf_str(&b, "missing required field ");
		buf_quote(&b, json_string_value(name), json_string_length(name), SIZE_MAX);
		fail(c, "%s", b.s);
		free(b.s);
		return -1;
	}

	if (props) {
		json_object_foreach((json_t *)inst, key, v)
		{
			const json_t *sub = json_object_get(props, key);
			if (sub && check_at_key(c, sub, key, v) < 0)
				return -1;
		}
	}

	return check_size(c, schema, json_object_size(inst), "minProperties", "maxProperties",
			  "field", "must have at least", "must have at most", "");
}

/* The one field name when `alt` is just {"required": ["name"]} (plus annotations): such
 * alternatives read better as "needs exactly one of the fields ...". */
static const char *sole_required(const json_t *alt)
{
	if (!json_is_object(alt))
		return NULL;
	const char *name = NULL;
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)alt, key, v)
	{
		if (strcmp(key, "required") == 0) {
			if (json_array_size(v) != 1)
				return NULL;
			name = json_string_value(json_array_get(v, 0));
		} else if (strcmp(key, "title") != 0 && strcmp(key, "description") != 0 &&
			   strcmp(key, "$comment") != 0) {
			return NULL;
		}
	}
	return name;
}

/* "\"a\", \"b\" or \"c\"" (conj "or") from the alternatives selected by `pick` (all if NULL). */
static void buf_field_list(struct buf *b, const json_t *alts, const bool *pick, const char *conj)
{
	size_t n = 0, total = 0;
	for (size_t i = 0; i < json_array_size(alts); i++)
		total += !pick || pick[i];
	for (size_t i = 0; i < json_array_size(alts); i++) {
		if (pick && !pick[i])
			continue;
		if (n > 0)
			buf_str(b, n == total - 1 ? conj : ", ");
		const char *name = sole_required(json_array_get(alts, i));
		buf_quote(b, name, strlen(name), SIZE_MAX);
		n++;
	}
}

static void buf_alt_label(struct buf *b, const json_t *alt, size_t i)
{
	const char *title = json_string_value(json_object_get(alt, "title"));
	if (title)
		buf_str(b, title);
	else
		buf_printf(b, "%zu", i + 1);
}

/* oneOf (exactly = true) or anyOf: try every alternative, then say what was tried. */
static int check_alternatives(struct ctx *c, const json_t *alts, const json_t *inst, bool exactly)
{
	size_t n = json_array_size(alts), matched = 0;
	char **msgs = zb_xcalloc(n, sizeof(*msgs));
	bool *ok = zb_xcalloc(n, sizeof(*ok));
	bool fields = json_is_object(inst);
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		const json_t *alt = json_array_get(alts, i);
		fields = fields && sole_required(alt);
		if (check(c, alt, inst) == 0) {
			ok[i] = true;
			matched++;
			if (!exactly)
				goto done;
		} else {
			msgs[i] = TAKE_PTR(c->msg);
		}
	}
	if (exactly ? matched == 1 : matched > 0)
		goto done;

	struct buf b = {0};
	if (fields) {
		/* "needs exactly one of the fields "command" or "argv", got both" */
		buf_printf(&b, "needs %s of the fields ", exactly ? "exactly one" : "at least one");
		buf_field_list(&b, alts, NULL, " or ");
		if (matched == 0)
			buf_str(&b, n == 2 ? ", got neither" : ", got none");
		else if (matched == n && n == 2)
			buf_str(&b, ", got both");
		else {
			buf_str(&b, ", got ");
			buf_field_list(&b, alts, ok, " and ");
		}
	} else if (matched == 0) {
		/* "must match exactly one of 2 alternatives, matched none (1: ...; 2: ...)" */
		buf_printf(&b, "must match %s of %zu alternatives, matched none (",
			   exactly ? "exactly one" : "at least one", n);
		for (size_t i = 0; i < n; i++) {
			const char *m = msgs[i];
			size_t plen = c->path.len;
			if (plen && strncmp(m, c->path.s, plen) == 0 &&
			    strncmp(m + plen, ": ", 2) == 0)
				m += plen + 2;
			if (i > 0)
				buf_str(&b, "; ");
			buf_alt_label(&b, json_array_get(alts, i), i);
			buf_str(&b, ": ");
			size_t len = strlen(m), cut = utf8_cut(m, len, MAX_ALT_MSG);
			buf_add(&b, m, cut);
			if (cut < len)
				buf_str(&b, "…");
		}
		buf_str(&b, ")");
	} else {
		buf_printf(&b, "must match exactly one of %zu alternatives, matched %zu (", n,
			   matched);
		bool first = true;
		for (size_t i = 0; i < n; i++) {
			if (!ok[i])
				continue;
			if (!first)
				buf_str(&b, ", ");
			buf_alt_label(&b, json_array_get(alts, i), i);
			first = false;
		}
		buf_str(&b, ")");
	}
	r = fail(c, "%s", b.s);
	free(b.s);
done:
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
	free(ok);
	return r;
}

static int check_not(struct ctx *c, const json_t *sub, const json_t *inst)
{
	if (check(c, sub, inst) < 0) {
		free(TAKE_PTR(c->msg));
		return 0;
	}
	struct buf b = {0};
	const json_t *req = json_object_get(sub, "required");
	const char *title = json_string_value(json_object_get(sub, "title"));
	if (json_is_object(inst) && json_object_size(sub) == 1 && json_array_size(req) > 0) {
		/* {"not": {"required": ["head", "tail"]}}: "must not have both "head" and "tail""
		 */
		size_t n = json_array_size(req);
		buf_str(&b, n == 1   ? "must not have the field "
			    : n == 2 ? "must not have both "
				     : "must not have all of ");
		for (size_t i = 0; i < n; i++) {
			const json_t *name = json_array_get(req, i);
			if (i > 0)
				buf_str(&b, i == n - 1 ? " and " : ", ");
			buf_quote(&b, json_string_value(name), json_string_length(name), SIZE_MAX);
		}
	} else if (title) {
		buf_printf(&b, "must not be %s", title);
	} else {
		buf_str(&b, "must not match ");
		buf_json(&b, sub);
	}
	fail(c, "%s", b.s);
	free(b.s);
	return -1;
}

static int check_keywords(struct ctx *c, const json_t *schema, const json_t *inst)
{
	const json_t *v;
	if ((v = json_object_get(schema, "$ref")) &&
	    check(c, resolve_ref(c->root, json_string_value(v)), inst) < 0)
		return -1;
	if ((v = json_object_get(schema, "type")) && check_type(c, v, inst) < 0)
		return -1;
	if ((v = json_object_get(schema, "enum")) && check_enum(c, v, inst) < 0)
		return -1;
	if ((v = json_object_get(schema, "const")) && check_const(c, v, inst) < 0)
		return -1;

	int r = 0;
	if (json_is_number(inst))
		r = check_number(c, schema, inst);
	else if (json_is_string(inst))
		r = check_string(c, schema, inst);
	else if (json_is_array(inst))
		r = check_array(c, schema, inst);
	else if (json_is_object(inst))
		r = check_object(c, schema, inst);
	if (r < 0)
		return -1;

	if ((v = json_object_get(schema, "allOf"))) {
		size_t i;
		const json_t *sub;
		json_array_foreach(v, i, sub)
		{
			if (check(c, sub, inst) < 0)
				return -1;
		}
	}
	if ((v = json_object_get(schema, "anyOf")) && check_alternatives(c, v, inst, false) < 0)
		return -1;
	if ((v = json_object_get(schema, "oneOf")) && check_alternatives(c, v, inst, true) < 0)
		return -1;
	if ((v = json_object_get(schema, "not")) && check_not(c, v, inst) < 0)
		return -1;
	return 0;
}

static int check(struct ctx *c, const json_t *schema, const json_t *inst)
{
	if (json_is_true(schema))
		return 0;
	if (json_is_false(schema))
		return fail(c, "no value is allowed here");
	if (c->depth >= MAX_DEPTH)
		return fail(c, "nested too deeply (more than %d levels)", MAX_DEPTH);
	c->depth++;
	int r = check_keywords(c, schema, inst);
	c->depth--;
	return r;
}

int zb_schema_validate(const json_t *schema, const json_t *instance, const char *root,
		       struct zb_error **err)
{
	if (!schema || !instance)
		return zb_error_set(err, ZB_ERR_INTERNAL, EINVAL, "schema: nothing to validate");

	bool trusted_schema = is_trusted(schema);
	_cleanup_free_ char *bad = NULL;
	if (!trusted_schema && lint(schema, &bad) < 0)
		return zb_error_set(err, ZB_ERR_INTERNAL, EINVAL, "schema: %s", bad);

	struct ctx c = {.root = schema, .trusted = trusted_schema};
	if (root)
		buf_str(&c.path, root);
	int r = check(&c, schema, instance);
	if (r < 0)
		zb_error_set(err, ZB_ERR_INVALID_PARAMS, 0, "%s", c.msg);
	free(c.msg);
	free(c.path.s);
	return r < 0 ? -1 : 0;
}
