/* The JSON files of schemas/, embedded into the binary at build time, and a validator for
 * the subset of JSON Schema they use. */
#pragma once

#include <jansson.h>

#include "error.h"

struct zb_embedded_file {
	const char *name; /* path below schemas/, e.g. "tools/fs.read.json" */
	const unsigned char *data;
	size_t len;
};

/* Generated at build time by tools/embed.c: sorted by name, NULL-terminated. */
extern const struct zb_embedded_file zb_embedded_schemas[];

/* The text of an embedded file, or NULL. */
const struct zb_embedded_file *zb_schema_file(const char *name);
/* The file parsed (cached for the life of the process; the result is borrowed), or NULL. */
const json_t *zb_schema_get(const char *name);

/* Validate `instance` against `schema`. On failure *err (ZB_ERR_INVALID_PARAMS) names the
 * place that does not fit, as a path from `root`: "arguments.edits[0].old: expected a string,
 * got an integer". Supported keywords: type (string or list), properties, required,
 * additionalProperties (boolean or schema), items, enum, const, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum, minLength, maxLength (in code points), minItems,
 * maxItems, minProperties, maxProperties, pattern (POSIX ERE), oneOf, anyOf, allOf, not, $ref
 * to "#/$defs/NAME"; annotations (title, description, default, examples, format, $schema,
 * $id, $comment) are ignored. */
int zb_schema_validate(const json_t *schema, const json_t *instance, const char *root,
		       struct zb_error **err);

/* "an object", "an array", "a string", "an integer", "a number", "a boolean" or "null", for
 * messages that say what was sent instead of what was expected. */
const char *zb_json_kind_name(const json_t *v);

void zb_schema_cache_free(void);
