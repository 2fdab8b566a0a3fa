/* schema: the embedded table, the parse cache, the validator's keywords and messages, and the
 * tool files of schemas/tools/ (shape, names, and what their inputSchema accepts). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "schema.h"

/* Test JSON is written with ' for " so it stays readable; a real ' is \u0027. */
static json_t *js(const char *text)
{
	char *s = zb_xstrdup(text);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_error_t jerr;
	json_t *v = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!v)
		fail_msg("test JSON does not parse: %s: %s", jerr.text, s);
	free(s);
	return v;
}

/* Validate: want NULL = must pass, else the exact message; label names the case on failure. */
static void expect_labelled(const json_t *schema, const json_t *inst, const char *root,
			    const char *want, const char *label)
{
	struct zb_error *err = NULL;
	int r = zb_schema_validate(schema, inst, root, &err);
	if (!want) {
		if (r != 0)
			fail_msg("%s: rejected: %s", label, err ? err->msg : "(no error)");
		assert_null(err);
		return;
	}
	if (r == 0)
		fail_msg("%s: accepted, but wanted: %s", label, want);
	assert_int_equal(r, -1);
	assert_non_null(err);
	assert_int_equal(err->kind, ZB_ERR_INVALID_PARAMS);
	if (strcmp(err->msg, want) != 0)
		fail_msg("%s: got [%s], wanted [%s]", label, err->msg, want);
	zb_error_free(err);
}

static void expect_json(const json_t *schema, const json_t *inst, const char *root,
			const char *want)
{
	expect_labelled(schema, inst, root, want, "validate");
}

static void expect(const char *schema_text, const char *inst_text, const char *want)
{
	json_t *schema = js(schema_text);
	json_t *inst = js(inst_text);
	expect_labelled(schema, inst, "arguments", want, inst_text);
	json_decref(inst);
	json_decref(schema);
}

#define OK(schema, inst)	expect(schema, inst, NULL)
#define BAD(schema, inst, want) expect(schema, inst, want)

/* The schema itself is wrong: an internal error, whatever the instance. */
static void expect_schema_bug(const char *schema_text, const char *want)
{
	json_t *schema = js(schema_text);
	json_t *inst = js("{}");
	struct zb_error *err = NULL;
	assert_int_equal(zb_schema_validate(schema, inst, "arguments", &err), -1);
	assert_non_null(err);
	assert_int_equal(err->kind, ZB_ERR_INTERNAL);
	assert_string_equal(err->msg, want);
	zb_error_free(err);
	json_decref(inst);
	json_decref(schema);
}

/* ---- keywords ---- */

static void test_type(void **state)
{
	(void)state;
	OK("{'type':'string'}", "'x'");
	BAD("{'type':'string'}", "1", "arguments: expected a string, got an integer");
	BAD("{'type':'string'}", "1.5", "arguments: expected a string, got a number");
	BAD("{'type':'object'}", "[]", "arguments: expected an object, got an array");
	BAD("{'type':'array'}", "{}", "arguments: expected an array, got an object");
	BAD("{'type':'boolean'}", "null", "arguments: expected a boolean, got null");
	BAD("{'type':'null'}", "false", "arguments: expected null, got a boolean");
	OK("{'type':'boolean'}", "true");
	OK("{'type':'null'}", "null");
	OK("{'type':'number'}", "1");
	OK("{'type':'number'}", "1.5");
	BAD("{'type':'number'}", "'1'", "arguments: expected a number, got a string");
	/* integer: a JSON integer, or a real without a fractional part */
	OK("{'type':'integer'}", "3");
	OK("{'type':'integer'}", "3.0");
	OK("{'type':'integer'}", "-0.0");
	BAD("{'type':'integer'}", "3.5", "arguments: expected an integer, got a number");
	BAD("{'type':'integer'}", "'3'", "arguments: expected an integer, got a string");
	/* lists */
	OK("{'type':['string','null']}", "null");
	OK("{'type':['string','null']}", "'x'");
	BAD("{'type':['string','null']}", "1",
	    "arguments: expected a string or null, got an integer");
	BAD("{'type':['string','integer','null']}", "{}",
	    "arguments: expected a string, an integer or null, got an object");
}

static void test_properties(void **state)
{
	(void)state;
	const char *s = "{'type':'object','properties':{'edits':{'type':'array','items':"
			"{'type':'object','properties':{'old':{'type':'string'}}}}}}";
	OK(s, "{'edits':[{'old':'a'}]}");
	OK(s, "{}");
	OK(s, "{'other':1}"); /* additionalProperties defaults to true */
	BAD(s, "{'edits':[{'old':'a'},{'old':1}]}",
	    "arguments.edits[1].old: expected a string, got an integer");
	BAD(s, "{'edits':{}}", "arguments.edits: expected an array, got an object");
	/* properties apply to objects only */
	OK("{'properties':{'a':{'type':'string'}}}", "[1]");
}

static void test_required(void **state)
{
	(void)state;
	const char *s = "{'type':'object','properties':{'path':{'type':'string'}},"
			"'required':['path','limit']}";
	OK(s, "{'path':'x','limit':1}");
	BAD(s, "{'limit':1}", "arguments: missing required field \"path\"");
	BAD(s, "{'path':'x'}", "arguments: missing required field \"limit\"");
	OK("{'required':['a']}", "'not an object'");
	/* nested: the path names the object that lacks the field */
	BAD("{'properties':{'edits':{'items':{'required':['new']}}}}", "{'edits':[{}]}",
	    "arguments.edits[0]: missing required field \"new\"");
}

static void test_additional_properties(void **state)
{
	(void)state;
	const char *s = "{'type':'object','properties':{'path':{},'offset':{},'limit':{},'head':{},"
			"'tail':{}},'additionalProperties':false}";
	OK(s, "{'path':'x','tail':3}");
	BAD(s, "{'pth':'x'}",
	    "arguments: unknown field \"pth\" (allowed: path, offset, limit, head, tail)");
	/* an unknown field is named before the required one it was probably meant to be */
	BAD("{'properties':{'path':{}},'required':['path'],'additionalProperties':false}",
	    "{'pth':'x'}", "arguments: unknown field \"pth\" (allowed: path)");
	BAD("{'properties':{},'additionalProperties':false}", "{'x':1}",
	    "arguments: unknown field \"x\" (no fields are allowed here)");
	BAD("{'additionalProperties':false}", "{'x':1}",
	    "arguments: unknown field \"x\" (no fields are allowed here)");
	OK("{'properties':{'a':{}},'additionalProperties':true}", "{'b':1}");

	/* a schema for the other members, as for shell.run's env */
	const char *env = "{'properties':{'env':{'type':'object','additionalProperties':"
			  "{'type':'string'}}}}";
	OK(env, "{'env':{'A':'1','B':''}}");
	BAD(env, "{'env':{'A':'1','FOO':2}}",
	    "arguments.env.FOO: expected a string, got an integer");
	BAD(env, "{'env':{'A B':2}}", "arguments.env[\"A B\"]: expected a string, got an integer");
	BAD(env, "{'env':{'a.b':2}}", "arguments.env[\"a.b\"]: expected a string, got an integer");
	BAD(env, "{'env':{'':2}}", "arguments.env[\"\"]: expected a string, got an integer");

	/* client text in messages is escaped and shortened */
	BAD("{'additionalProperties':false}", "{'a\\'b\\nc':1}",
	    "arguments: unknown field \"a\\\"b\\u000ac\" (no fields are allowed here)");
	char long_key[200];
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	json_t *schema = js("{'additionalProperties':false}");
	json_t *inst = json_pack("{s:i}", long_key, 1);
	char want[256];
	snprintf(want, sizeof(want),
		 "arguments: unknown field \"%.64s…\" (no fields are allowed here)", long_key);
	expect_json(schema, inst, "arguments", want);
	json_decref(inst);
	json_decref(schema);
}

static void test_items(void **state)
{
	(void)state;
	const char *s = "{'type':'array','items':{'type':'string'}}";
	OK(s, "[]");
	OK(s, "['a','b']");
	BAD(s, "['a',2]", "arguments[1]: expected a string, got an integer");
	BAD("{'items':{'items':{'type':'integer'}}}", "[[1],[2,'x']]",
	    "arguments[1][1]: expected an integer, got a string");
}

static void test_enum_const(void **state)
{
	(void)state;
	const char *s = "{'properties':{'mode':{'type':'string','enum':['create','overwrite',"
			"'append']}}}";
	OK(s, "{'mode':'append'}");
	BAD(s, "{'mode':'truncate'}",
	    "arguments.mode: must be one of \"create\", \"overwrite\", \"append\"");
	BAD(s, "{'mode':5}", "arguments.mode: expected a string, got an integer");
	BAD("{'enum':['only']}", "'other'", "arguments: must be \"only\"");
	/* numbers compare by value: 1 and 1.0 are equal, also inside arrays and objects */
	OK("{'enum':[1,'a',null]}", "1.0");
	OK("{'enum':[[1,{'a':2}]]}", "[1.0,{'a':2.0}]");
	BAD("{'enum':[1,2.5,null,{'a':[true]}]}", "3",
	    "arguments: must be one of 1, 2.5, null, {\"a\":[true]}");
	BAD("{'enum':[{'a':1}]}", "{'a':1,'b':2}", "arguments: must be {\"a\":1}");

	OK("{'const':'x'}", "'x'");
	OK("{'const':2}", "2.0");
	BAD("{'const':'x'}", "'y'", "arguments: must be \"x\"");
	BAD("{'const':{'k':[1]}}", "{'k':[2]}", "arguments: must be {\"k\":[1]}");
	BAD("{'const':null}", "0", "arguments: must be null");
}

static void test_numbers(void **state)
{
	(void)state;
	const char *s = "{'properties':{'depth':{'type':'integer','minimum':0,'maximum':20}}}";
	OK(s, "{'depth':0}");
	OK(s, "{'depth':20}");
	OK(s, "{'depth':20.0}");
	BAD(s, "{'depth':-1}", "arguments.depth: must be at least 0");
	BAD(s, "{'depth':21}", "arguments.depth: must be at most 20");
	BAD(s, "{'depth':-0.5}", "arguments.depth: expected an integer, got a number");

	OK("{'exclusiveMinimum':0}", "0.001");
	BAD("{'exclusiveMinimum':0}", "0", "arguments: must be greater than 0");
	BAD("{'exclusiveMinimum':0}", "-3", "arguments: must be greater than 0");
	OK("{'exclusiveMaximum':1.5}", "1");
	BAD("{'exclusiveMaximum':1.5}", "1.5", "arguments: must be less than 1.5");
	OK("{'minimum':0.5}", "0.5");
	BAD("{'minimum':0.5}", "0", "arguments: must be at least 0.5");
	BAD("{'maximum':1}", "1.25", "arguments: must be at most 1");
	/* exact for large integers, which doubles would round */
	BAD("{'maximum':9007199254740992}", "9007199254740993",
	    "arguments: must be at most 9007199254740992");
	/* numeric keywords ignore other types */
	OK("{'minimum':5}", "'abc'");
}

static void test_strings(void **state)
{
	(void)state;
	/* lengths count code points, not bytes: "é" is 2 bytes, "€" 3, "😀" 4 */
	OK("{'maxLength':1}", "'\\u00e9'");
	OK("{'maxLength':3}", "'\\u00e9\\u20ac\\ud83d\\ude00'");
	BAD("{'maxLength':2}", "'\\u00e9\\u20ac\\ud83d\\ude00'",
	    "arguments: must be at most 2 characters long");
	BAD("{'maxLength':1}", "'ab'", "arguments: must be at most 1 character long");
	OK("{'minLength':2}", "'\\u00e9\\u00e9'");
	BAD("{'minLength':3}", "'\\u00e9\\u00e9'", "arguments: must be at least 3 characters long");
	BAD("{'properties':{'path':{'minLength':1}}}", "{'path':''}",
	    "arguments.path: must not be empty");
	OK("{'minLength':0}", "''");
	OK("{'maxLength':0}", "''");
	BAD("{'maxLength':0}", "'a'", "arguments: must be at most 0 characters long");
	OK("{'minLength':5}", "3");

	/* pattern: POSIX ERE, unanchored unless the pattern anchors itself */
	const char *mode = "{'type':'string','pattern':'^[0-7]{4}$'}";
	OK(mode, "'0644'");
	BAD(mode, "'644'", "arguments: must match the pattern \"^[0-7]{4}$\"");
	BAD(mode, "'06444'", "arguments: must match the pattern \"^[0-7]{4}$\"");
	OK("{'pattern':'b+'}", "'abbc'");
	BAD("{'pattern':'\\\\.c$'}", "'main.h'", "arguments: must match the pattern \"\\\\.c$\"");
	OK("{'pattern':'x'}", "1");

	/* a NUL inside a string does not end it for the pattern */
	json_t *schema = js("{'pattern':'^[a-z]*$'}");
	json_t *inst = json_stringn("ab\0cd", 5);
	expect_json(schema, inst, "arguments", "arguments: must match the pattern \"^[a-z]*$\"");
	json_decref(inst);
	json_decref(schema);
}

static void test_array_object_sizes(void **state)
{
	(void)state;
	const char *edits = "{'properties':{'edits':{'type':'array','minItems':1}}}";
	OK(edits, "{'edits':[1]}");
	BAD(edits, "{'edits':[]}", "arguments.edits: must not be empty");
	BAD("{'minItems':2}", "[1]", "arguments: must have at least 2 items");
	BAD("{'maxItems':2}", "[1,2,3]", "arguments: must have at most 2 items");
	BAD("{'maxItems':1}", "[1,2]", "arguments: must have at most 1 item");
	OK("{'maxItems':2}", "[1,2]");
	OK("{'minItems':3}", "{}");

	BAD("{'minProperties':1}", "{}", "arguments: must not be empty");
	BAD("{'minProperties':2}", "{'a':1}", "arguments: must have at least 2 fields");
	BAD("{'maxProperties':1}", "{'a':1,'b':2}", "arguments: must have at most 1 field");
	OK("{'minProperties':1,'maxProperties':2}", "{'a':1,'b':2}");
}

static void test_one_of(void **state)
{
	(void)state;
	/* alternatives that only require a field read as a choice between fields */
	const char *cmd = "{'type':'object','properties':{'command':{'type':'string'},'argv':"
			  "{'type':'array'}},'additionalProperties':false,'oneOf':["
			  "{'required':['command']},{'required':['argv']}]}";
	OK(cmd, "{'command':'ls'}");
	OK(cmd, "{'argv':['ls']}");
	BAD(cmd, "{'command':'ls','argv':['ls']}",
	    "arguments: needs exactly one of the fields \"command\" or \"argv\", got both");
	BAD(cmd, "{}",
	    "arguments: needs exactly one of the fields \"command\" or \"argv\", got neither");
	/* the members are checked before the choice between them */
	BAD(cmd, "{'command':1}", "arguments.command: expected a string, got an integer");

	const char *three = "{'oneOf':[{'required':['a']},{'required':['b']},{'required':['c']}]}";
	BAD(three, "{}",
	    "arguments: needs exactly one of the fields \"a\", \"b\" or \"c\", got none");
	BAD(three, "{'a':1,'c':1}",
	    "arguments: needs exactly one of the fields \"a\", \"b\" or \"c\", got \"a\" and "
	    "\"c\"");
	BAD(three, "{'a':1,'b':1,'c':1}",
	    "arguments: needs exactly one of the fields \"a\", \"b\" or \"c\", got \"a\", \"b\" "
	    "and "
	    "\"c\"");

	/* anything else: each alternative is named by its title, or its number */
	const char *types =
		"{'oneOf':[{'type':'string'},{'type':'array','items':{'type':'string'}}]}";
	OK(types, "'a'");
	OK(types, "['a']");
	BAD(types, "1",
	    "arguments: must match exactly one of 2 alternatives, matched none (1: expected a "
	    "string, got an integer; 2: expected an array, got an integer)");
	/* a deeper failure keeps its own path */
	BAD("{'properties':{'x':{'oneOf':[{'type':'string'},{'type':'array','items':{'type':"
	    "'string'}}]}}}",
	    "{'x':[1]}",
	    "arguments.x: must match exactly one of 2 alternatives, matched none (1: expected a "
	    "string, got an array; 2: arguments.x[0]: expected a string, got an integer)");
	const char *numbers = "{'oneOf':[{'title':'small','maximum':10},{'title':'even','enum':"
			      "[2,4,6,8,10,12]}]}";
	OK(numbers, "3");
	OK(numbers, "12");
	BAD(numbers, "4",
	    "arguments: must match exactly one of 2 alternatives, matched 2 (small, even)");
	BAD(numbers, "13",
	    "arguments: must match exactly one of 2 alternatives, matched none (small: must be at "
	    "most 10; even: must be one of 2, 4, 6, 8, 10, 12)");
	BAD("{'oneOf':[true,true,{'type':'string'}]}", "'x'",
	    "arguments: must match exactly one of 3 alternatives, matched 3 (1, 2, 3)");

	/* on a value that is not an object, required-only alternatives all match */
	BAD(cmd, "[]", "arguments: expected an object, got an array");
}

static void test_one_of_long_messages(void **state)
{
	(void)state;
	/* each alternative's message is cut, so one long failure cannot flood the answer */
	struct zb_error *err = NULL;
	json_t *schema =
		js("{'oneOf':[{'enum':['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',"
		   "'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',"
		   "'cccccccccccccccccccccccccccccccccccccccccccccccccc',"
		   "'dddddddddddddddddddddddddddddddddddddddddddddddddd',"
		   "'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee']},"
		   "{'type':'integer'}]}");
	json_t *inst = js("'z'");
	assert_int_equal(zb_schema_validate(schema, inst, "arguments", &err), -1);
	assert_non_null(strstr(err->msg, ", \"dddddddddd"));
	assert_non_null(strstr(err->msg, "ddd…; 2: expected an integer, got a string)"));
	assert_null(strstr(err->msg, "eee"));
	assert_true(strlen(err->msg) < 330);
	zb_error_free(err);
	json_decref(inst);
	json_decref(schema);
}

static void test_any_of_all_of(void **state)
{
	(void)state;
	const char *any = "{'anyOf':[{'required':['pattern']},{'required':['content']}]}";
	OK(any, "{'pattern':'*.c'}");
	OK(any, "{'pattern':'*.c','content':'x'}");
	BAD(any, "{}",
	    "arguments: needs at least one of the fields \"pattern\" or \"content\", got neither");
	const char *types = "{'anyOf':[{'type':'integer','minimum':0},{'const':'all'}]}";
	OK(types, "3");
	OK(types, "'all'");
	BAD(types, "-1",
	    "arguments: must match at least one of 2 alternatives, matched none (1: must be at "
	    "least 0; 2: must be \"all\")");

	const char *all = "{'allOf':[{'type':'integer'},{'minimum':1},{'maximum':3}]}";
	OK(all, "2");
	BAD(all, "'2'", "arguments: expected an integer, got a string");
	BAD(all, "4", "arguments: must be at most 3");
}

static void test_not(void **state)
{
	(void)state;
	const char *s = "{'allOf':[{'not':{'required':['head','tail']}},{'not':{'required':"
			"['head']}}]}";
	OK(s, "{'tail':1}");
	BAD(s, "{'head':1,'tail':2}", "arguments: must not have both \"head\" and \"tail\"");
	BAD(s, "{'head':1}", "arguments: must not have the field \"head\"");
	BAD("{'not':{'required':['a','b','c']}}", "{'a':1,'b':1,'c':1}",
	    "arguments: must not have all of \"a\", \"b\" and \"c\"");
	BAD("{'not':{'title':'an empty string','const':''}}", "''",
	    "arguments: must not be an empty string");
	BAD("{'not':{'type':'null'}}", "null", "arguments: must not match {\"type\":\"null\"}");
	OK("{'not':{'type':'null'}}", "0");
}

static void test_ref(void **state)
{
	(void)state;
	const char *s =
		"{'$defs':{'name':{'type':'string','minLength':1},'list':{'type':'array',"
		"'items':{'$ref':'#/$defs/name'}}},'properties':{'a':{'$ref':'#/$defs/name'},"
		"'b':{'$ref':'#/$defs/list'}}}";
	OK(s, "{'a':'x','b':['y','z']}");
	BAD(s, "{'a':''}", "arguments.a: must not be empty");
	BAD(s, "{'b':['y',3]}", "arguments.b[1]: expected a string, got an integer");
	/* $ref next to other keywords: both apply */
	BAD("{'$defs':{'s':{'type':'string'}},'$ref':'#/$defs/s','maxLength':1}", "'ab'",
	    "arguments: must be at most 1 character long");
	/* recursion through $ref follows the instance */
	const char *tree = "{'$defs':{'node':{'type':'object','properties':{'kids':{'type':'array',"
			   "'items':{'$ref':'#/$defs/node'}}},'additionalProperties':false}},"
			   "'$ref':'#/$defs/node'}";
	OK(tree, "{'kids':[{'kids':[]},{'kids':[{}]}]}");
	BAD(tree, "{'kids':[{'kids':[{'x':1}]}]}",
	    "arguments.kids[0].kids[0]: unknown field \"x\" (allowed: kids)");
}

static void test_depth(void **state)
{
	(void)state;
	/* a $ref cycle that never moves into the instance stops instead of recursing forever */
	BAD("{'$defs':{'a':{'$ref':'#/$defs/b'},'b':{'$ref':'#/$defs/a'}},'$ref':'#/$defs/a'}", "1",
	    "arguments: nested too deeply (more than 128 levels)");
	/* and so does an absurdly deep instance */
	json_t *schema = js("{'$defs':{'n':{'type':'array','items':{'$ref':'#/$defs/n'}}},"
			    "'$ref':'#/$defs/n'}");
	json_t *inst = json_array();
	for (int i = 0; i < 200; i++) {
		json_t *outer = json_array();
		json_array_append_new(outer, inst);
		inst = outer;
	}
	struct zb_error *err = NULL;
	assert_int_equal(zb_schema_validate(schema, inst, "arguments", &err), -1);
	assert_int_equal(err->kind, ZB_ERR_INVALID_PARAMS);
	assert_non_null(strstr(err->msg, ": nested too deeply (more than 128 levels)"));
	zb_error_free(err);
	json_decref(inst);
	json_decref(schema);
}

static void test_boolean_schemas_and_annotations(void **state)
{
	(void)state;
	OK("true", "{'anything':[1]}");
	BAD("false", "1", "arguments: no value is allowed here");
	BAD("{'properties':{'legacy':false}}", "{'legacy':1}",
	    "arguments.legacy: no value is allowed here");
	OK("{}", "null");
	OK("{'$schema':'https://json-schema.org/draft/2020-12/schema','$id':'x','$comment':'c',"
	   "'title':'t','description':'d','default':3,'examples':[1],'format':'date-time'}",
	   "'not a date'");
}

static void test_root(void **state)
{
	(void)state;
	json_t *schema = js("{'type':'object','properties':{'a':{'type':'string'},'b c':{}}}");
	json_t *bad_top = js("[]");
	json_t *bad_member = js("{'a':1}");
	json_t *bad_odd = js("{'b c':1}");
	/* without a root, a failure at the top has no path and members start bare */
	expect_json(schema, bad_top, NULL, "expected an object, got an array");
	expect_json(schema, bad_top, "", "expected an object, got an array");
	expect_json(schema, bad_member, NULL, "a: expected a string, got an integer");
	expect_json(schema, bad_member, "params.arguments",
		    "params.arguments.a: expected a string, got an integer");
	json_decref(schema);
	schema = js("{'properties':{'b c':{'type':'string'}}}");
	expect_json(schema, bad_odd, NULL, "[\"b c\"]: expected a string, got an integer");
	json_decref(schema);
	json_decref(bad_odd);
	json_decref(bad_member);
	json_decref(bad_top);

	/* err may be NULL; no message then, the result alone */
	schema = js("{'type':'string'}");
	json_t *inst = js("1");
	assert_int_equal(zb_schema_validate(schema, inst, "x", NULL), -1);
	json_decref(inst);
	inst = js("'s'");
	assert_int_equal(zb_schema_validate(schema, inst, "x", NULL), 0);
	json_decref(inst);
	json_decref(schema);
}

static void test_schema_bugs(void **state)
{
	(void)state;
	expect_schema_bug(
		"{'if':{'type':'string'}}",
		"schema: #: unsupported keyword \"if\" (server/schema.h lists the subset)");
	expect_schema_bug("{'properties':{'a':{'patternProperties':{}}}}",
			  "schema: #/properties/a: unsupported keyword \"patternProperties\" "
			  "(server/schema.h lists the subset)");
	expect_schema_bug("{'items':[{'type':'string'}]}",
			  "schema: #/items: a schema must be an object or a boolean");
	expect_schema_bug("{'type':'text'}",
			  "schema: #: \"type\" must be a type name or a non-empty list of them");
	expect_schema_bug("{'type':['string','text']}",
			  "schema: #: \"type\" has an unknown type name");
	expect_schema_bug("{'oneOf':[]}",
			  "schema: #: \"oneOf\" must be a non-empty array of schemas");
	expect_schema_bug("{'anyOf':[{},{'minLength':-1}]}",
			  "schema: #/anyOf/1: \"minLength\" must be a non-negative integer");
	expect_schema_bug("{'required':'path'}",
			  "schema: #: \"required\" must be an array of strings");
	expect_schema_bug("{'enum':[]}", "schema: #: \"enum\" must be a non-empty array");
	expect_schema_bug("{'minimum':'0'}", "schema: #: \"minimum\" must be a number");
	expect_schema_bug("{'description':1}", "schema: #: \"description\" must be a string");
	expect_schema_bug("{'$ref':'#/definitions/a'}",
			  "schema: #: \"$ref\" must be \"#/$defs/NAME\" naming an entry of $defs");
	expect_schema_bug("{'$defs':{'a':{}},'$ref':'#/$defs/b'}",
			  "schema: #: \"$ref\" must be \"#/$defs/NAME\" naming an entry of $defs");
	expect_schema_bug("{'properties':{'a/b~':{'format':2}}}",
			  "schema: #/properties/a~1b~0: \"format\" must be a string");
	expect_schema_bug("{'$defs':{'a':{'type':1}}}",
			  "schema: #/$defs/a: \"type\" must be a type name or a non-empty list of "
			  "them");

	/* a pattern that is not an ERE; regerror's wording is libc's, so only the start */
	json_t *schema = js("{'pattern':'a('}");
	json_t *inst = js("'a'");
	struct zb_error *err = NULL;
	assert_int_equal(zb_schema_validate(schema, inst, "arguments", &err), -1);
	assert_int_equal(err->kind, ZB_ERR_INTERNAL);
	const char *want = "schema: #: \"pattern\" is not a POSIX extended regular expression: ";
	assert_int_equal(strncmp(err->msg, want, strlen(want)), 0);
	zb_error_free(err);
	json_decref(inst);
	json_decref(schema);

	err = NULL;
	assert_int_equal(zb_schema_validate(NULL, NULL, "arguments", &err), -1);
	assert_int_equal(err->kind, ZB_ERR_INTERNAL);
	zb_error_free(err);
}

/* ---- the embedded table and the cache ---- */

static void test_table(void **state)
{
	(void)state;
	size_t n = 0;
	for (; zb_embedded_schemas[n].name; n++) {
		if (n > 0)
			assert_true(strcmp(zb_embedded_schemas[n - 1].name,
					   zb_embedded_schemas[n].name) < 0);
		assert_ptr_equal(zb_schema_file(zb_embedded_schemas[n].name),
				 &zb_embedded_schemas[n]);
		/* the data is NUL-terminated after len bytes, and len is the file's size */
		assert_int_equal(zb_embedded_schemas[n].data[zb_embedded_schemas[n].len], 0);
	}
	assert_true(n >= 12);

	const struct zb_embedded_file *f = zb_schema_file("tools/fs.read.json");
	assert_non_null(f);
	assert_string_equal(f->name, "tools/fs.read.json");
	char path[4096];
	snprintf(path, sizeof(path), "%s/schemas/%s", ZB_SOURCE_DIR, f->name);
	FILE *in = fopen(path, "rb");
	assert_non_null(in);
	char *text = zb_xmalloc(f->len + 1);
	assert_int_equal(fread(text, 1, f->len + 1, in), f->len);
	fclose(in);
	assert_memory_equal(text, f->data, f->len);
	free(text);

	assert_non_null(zb_schema_file("config.schema.json"));
	assert_null(zb_schema_file("tools/fs.read"));
	assert_null(zb_schema_file("fs.read.json"));
	assert_null(zb_schema_file("tools/zz.json"));
	assert_null(zb_schema_file(""));
	assert_null(zb_schema_file(NULL));
	assert_null(zb_schema_get("tools/nope.json"));
}

static void test_cache(void **state)
{
	(void)state;
	const json_t *a = zb_schema_get("tools/shell.run.json");
	assert_non_null(a);
	assert_ptr_equal(zb_schema_get("tools/shell.run.json"), a);
	assert_non_null(zb_schema_get("config.schema.json"));
	zb_schema_cache_free();
	zb_schema_cache_free(); /* twice is fine */
	const json_t *b = zb_schema_get("tools/shell.run.json");
	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(b, "name")), "shell.run");
	zb_schema_cache_free();
}

/* ---- the tool files ---- */

struct tool {
	const char *name;
	bool read_only, destructive, idempotent;
};

static const struct tool tools[] = {
	{"shell.run", false, true, false}, {"fs.read", true, false, true},
	{"fs.write", false, true, false},  {"fs.edit", false, true, false},
	{"fs.list", true, false, true},	   {"fs.stat", true, false, true},
	{"fs.mkdir", false, false, true},  {"fs.move", false, true, false},
	{"fs.delete", false, true, false}, {"fs.search", true, false, true},
	{"fs.zones", true, false, true},
};

static const json_t *tool_file(const char *name)
{
	char file[64];
	snprintf(file, sizeof(file), "tools/%s.json", name);
	const json_t *doc = zb_schema_get(file);
	if (!doc)
		fail_msg("%s is not embedded", file);
	return doc;
}

/* Every property of an input schema tells the model what it is for. */
static void assert_described(const char *tool, const json_t *schema, const char *where)
{
	const json_t *props = json_object_get(schema, "properties");
	const char *key;
	const json_t *sub;
	json_object_foreach((json_t *)props, key, sub)
	{
		const char *d = json_string_value(json_object_get(sub, "description"));
		if (!d || strlen(d) < 10)
			fail_msg("%s: %s.%s has no useful description", tool, where, key);
		assert_described(tool, sub, key);
		assert_described(tool, json_object_get(sub, "items"), key);
	}
}

static void test_tool_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(tools); i++) {
		const struct tool *t = &tools[i];
		const json_t *doc = tool_file(t->name);
		assert_true(json_is_object(doc));
		assert_int_equal(json_object_size(doc), 6);
		assert_string_equal(json_string_value(json_object_get(doc, "name")), t->name);
		const char *title = json_string_value(json_object_get(doc, "title"));
		assert_non_null(title);
		const char *desc = json_string_value(json_object_get(doc, "description"));
		assert_non_null(desc);
		if (strlen(desc) < 200)
			fail_msg("%s: the description is too short to guide a model", t->name);
		if (!strstr(desc, "/<"))
			fail_msg("%s: the description does not explain sandbox paths", t->name);

		const json_t *in = json_object_get(doc, "inputSchema");
		const json_t *out = json_object_get(doc, "outputSchema");
		assert_string_equal(json_string_value(json_object_get(in, "type")), "object");
		assert_string_equal(json_string_value(json_object_get(out, "type")), "object");
		assert_true(json_is_false(json_object_get(in, "additionalProperties")));
		assert_true(json_is_object(json_object_get(in, "properties")));
		assert_true(json_is_object(json_object_get(out, "properties")));
		assert_described(t->name, in, "inputSchema");
		assert_described(t->name, out, "outputSchema");

		const json_t *ann = json_object_get(doc, "annotations");
		assert_int_equal(json_object_size(ann), 5);
		assert_string_equal(json_string_value(json_object_get(ann, "title")), title);
		assert_int_equal(json_is_true(json_object_get(ann, "readOnlyHint")), t->read_only);
		assert_int_equal(json_is_true(json_object_get(ann, "destructiveHint")),
				 t->destructive);
		assert_int_equal(json_is_true(json_object_get(ann, "idempotentHint")),
				 t->idempotent);
		assert_true(json_is_boolean(json_object_get(ann, "readOnlyHint")));
		assert_true(json_is_boolean(json_object_get(ann, "destructiveHint")));
		assert_true(json_is_boolean(json_object_get(ann, "idempotentHint")));
		assert_true(json_is_false(json_object_get(ann, "openWorldHint")));
	}
}

struct example {
	const char *tool;
	const char *args;
	const char *want; /* NULL: accepted */
};

static const struct example inputs[] = {
	{"shell.run", "{'command':'make -j4 2>&1 | tail -n 40'}", NULL},
	{"shell.run",
	 "{'argv':['grep','-rn','TODO','src'],'cwd':'/work','env':{'LANG':'C.UTF-8'},"
	 "'stdin':'','timeout_ms':5000}",
	 NULL},
	{"shell.run", "{'command':'ls','argv':['ls']}",
	 "arguments: needs exactly one of the fields \"command\" or \"argv\", got both"},
	{"shell.run", "{'cwd':'/work'}",
	 "arguments: needs exactly one of the fields \"command\" or \"argv\", got neither"},
	{"shell.run", "{'cmd':'ls'}",
	 "arguments: unknown field \"cmd\" (allowed: command, argv, cwd, env, stdin, timeout_ms)"},
	{"shell.run", "{'argv':[]}", "arguments.argv: must not be empty"},
	{"shell.run", "{'argv':'ls -l'}", "arguments.argv: expected an array, got a string"},
	{"shell.run", "{'command':''}", "arguments.command: must not be empty"},
	{"shell.run", "{'command':'env','env':{'A':1}}",
	 "arguments.env.A: expected a string, got an integer"},
	{"shell.run", "{'command':'sleep 9','timeout_ms':0}",
	 "arguments.timeout_ms: must be at least 1"},
	{"shell.run", "{'command':'sleep 9','timeout_ms':1.5}",
	 "arguments.timeout_ms: expected an integer, got a number"},

	{"fs.read", "{'path':'/work/README.md'}", NULL},
	{"fs.read", "{'path':'src/main.c','offset':120,'limit':40}", NULL},
	{"fs.read", "{'paths':['/work/a.h','/work/a.c'],'head':20}", NULL},
	{"fs.read", "{'pth':'/work/README.md'}",
	 "arguments: unknown field \"pth\" (allowed: path, paths, offset, limit, head, tail)"},
	{"fs.read", "{'path':'a','paths':['b']}",
	 "arguments: needs exactly one of the fields \"path\" or \"paths\", got both"},
	{"fs.read", "{'paths':[]}", "arguments.paths: must not be empty"},
	{"fs.read", "{'paths':['a','']}", "arguments.paths[1]: must not be empty"},
	{"fs.read", "{'path':'a','head':5,'tail':5}",
	 "arguments: must not have both \"head\" and \"tail\""},
	{"fs.read", "{'path':'a','offset':10,'tail':5}",
	 "arguments: must not have both \"tail\" and \"offset\""},
	{"fs.read", "{'path':'a','offset':0}", "arguments.offset: must be at least 1"},

	{"fs.write", "{'path':'/work/notes.md','content':'# Notes\\n'}", NULL},
	{"fs.write",
	 "{'path':'out/logo.png','content':'iVBORw0KGgo=','encoding':'base64','mode':'create',"
	 "'parents':true}",
	 NULL},
	{"fs.write", "{'path':'a','content':'x','mode':'truncate'}",
	 "arguments.mode: must be one of \"create\", \"overwrite\", \"append\""},
	{"fs.write", "{'path':'a','content':'x','encoding':'latin1'}",
	 "arguments.encoding: must be one of \"utf-8\", \"base64\""},
	{"fs.write", "{'path':'a'}", "arguments: missing required field \"content\""},
	{"fs.write", "{'path':'a','content':null}",
	 "arguments.content: expected a string, got null"},

	{"fs.edit",
	 "{'path':'src/main.c','edits':[{'old':'int x = 1;','new':'int x = 2;'},"
	 "{'old':'foo','new':'bar','replace_all':true}],'dry_run':true}",
	 NULL},
	{"fs.edit", "{'path':'a','edits':[]}", "arguments.edits: must not be empty"},
	{"fs.edit", "{'path':'a','edits':[{'old':1,'new':''}]}",
	 "arguments.edits[0].old: expected a string, got an integer"},
	{"fs.edit", "{'path':'a','edits':[{'old':'x','new':'y'},{'old':'x'}]}",
	 "arguments.edits[1]: missing required field \"new\""},
	{"fs.edit", "{'path':'a','edits':[{'old':'','new':'y'}]}",
	 "arguments.edits[0].old: must not be empty"},
	{"fs.edit", "{'path':'a','edits':[{'old':'x','new':'y','all':true}]}",
	 "arguments.edits[0]: unknown field \"all\" (allowed: old, new, replace_all)"},

	{"fs.list", "{'path':'.'}", NULL},
	{"fs.list", "{'path':'/work/src','depth':3,'hidden':true,'pattern':'*.c'}", NULL},
	{"fs.list", "{'path':'/work','depth':0}", NULL},
	{"fs.list", "{'path':'/work','depth':-1}", "arguments.depth: must be at least 0"},
	{"fs.list", "{'path':'/work','depth':21}", "arguments.depth: must be at most 20"},
	{"fs.list", "{'path':'/work','hidden':'yes'}",
	 "arguments.hidden: expected a boolean, got a string"},
	{"fs.list", "{}", "arguments: missing required field \"path\""},

	{"fs.stat", "{'path':'/work/build.log'}", NULL},
	{"fs.stat", "{'path':''}", "arguments.path: must not be empty"},
	{"fs.stat", "{'path':['a']}", "arguments.path: expected a string, got an array"},

	{"fs.mkdir", "{'path':'/work/build/out','parents':true}", NULL},
	{"fs.mkdir", "{'path':'x','parent':true}",
	 "arguments: unknown field \"parent\" (allowed: path, parents)"},

	{"fs.move", "{'source':'/work/draft.md','destination':'/work/docs/final.md'}", NULL},
	{"fs.move", "{'source':'a','destination':'b','overwrite':true}", NULL},
	{"fs.move", "{'source':'a'}", "arguments: missing required field \"destination\""},

	{"fs.delete", "{'path':'/work/build','recursive':true}", NULL},
	{"fs.delete", "{'path':'a','recursive':1}",
	 "arguments.recursive: expected a boolean, got an integer"},

	{"fs.search",
	 "{'path':'/work/src','pattern':'*.c','content':'^int main','regex':true,"
	 "'max_results':50}",
	 NULL},
	{"fs.search", "{'path':'.','content':'TODO'}", NULL},
	{"fs.search", "{'path':'.','max_results':0}", "arguments.max_results: must be at least 1"},
	{"fs.search", "{'path':'.','max_results':10001}",
	 "arguments.max_results: must be at most 10000"},
	{"fs.search", "{'path':'.','query':'x'}",
	 "arguments: unknown field \"query\" (allowed: path, pattern, content, regex, "
	 "max_results)"},

	{"fs.zones", "{}", NULL},
	{"fs.zones", "{'verbose':true}",
	 "arguments: unknown field \"verbose\" (no fields are allowed here)"},
};

static void test_tool_inputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(inputs); i++) {
		const struct example *e = &inputs[i];
		char label[512];
		snprintf(label, sizeof(label), "%s %s", e->tool, e->args);
		json_t *args = js(e->args);
		expect_labelled(json_object_get(tool_file(e->tool), "inputSchema"), args,
				"arguments", e->want, label);
		json_decref(args);
	}

	/* fs.read takes at most 100 paths */
	json_t *args = json_object();
	json_t *paths = json_array();
	for (int i = 0; i < 101; i++)
		json_array_append_new(paths, json_sprintf("/work/f%d", i));
	json_object_set_new(args, "paths", paths);
	expect_json(json_object_get(tool_file("fs.read"), "inputSchema"), args, "arguments",
		    "arguments.paths: must have at most 100 items");
	json_array_remove(paths, 0);
	expect_json(json_object_get(tool_file("fs.read"), "inputSchema"), args, "arguments", NULL);
	json_decref(args);
}

/* What the tools return must fit their outputSchema; these are realistic results. */
static const struct example outputs[] = {
	{"shell.run",
	 "{'exit_code':0,'signal':null,'stdout':'ok\\n','stderr':'','stdout_truncated':false,"
	 "'stderr_truncated':false,'timed_out':false,'duration_ms':12}",
	 NULL},
	{"shell.run",
	 "{'exit_code':null,'signal':'SIGKILL','stdout':'','stderr':'','stdout_truncated':false,"
	 "'stderr_truncated':false,'timed_out':true,'duration_ms':30000}",
	 NULL},
	{"shell.run", "{'exit_code':0,'signal':null,'stdout':'','stderr':''}",
	 "result: missing required field \"stdout_truncated\""},
	{"fs.read",
	 "{'path':'/work/a.c','content':'int x;\\n','encoding':'utf-8','size':7,'truncated':false,"
	 "'total_lines':1,'mime_type':'text/x-c'}",
	 NULL},
	{"fs.read",
	 "{'files':[{'path':'/work/a.c','content':'','encoding':'utf-8','size':0,"
	 "'truncated':false},{'path':'/work/nope','error':'not found'}]}",
	 NULL},
	{"fs.read",
	 "{'path':'/work/a.c','content':'x','encoding':'latin1','size':1,'truncated':false}",
	 "result.encoding: must be one of \"utf-8\", \"base64\""},
	{"fs.write", "{'path':'/work/a','bytes_written':3,'created':true}", NULL},
	{"fs.edit", "{'path':'/work/a','diff':'--- a\\n+++ b\\n','replacements':1,'applied':true}",
	 NULL},
	{"fs.list",
	 "{'path':'/work','entries':[{'path':'/work/a','name':'a','type':'file','size':3,"
	 "'mtime':'2025-11-25T14:03:07Z','mode':'0644'},{'path':'/work/l','name':'l','type':"
	 "'symlink','size':1,'mtime':'2025-11-25T14:03:07Z','mode':'0777','target':'a'}],"
	 "'truncated':false}",
	 NULL},
	{"fs.list",
	 "{'path':'/work','entries':[{'path':'/work/a','name':'a','type':'file','size':3,"
	 "'mtime':'2025-11-25T14:03:07Z','mode':'100644'}],'truncated':false}",
	 "result.entries[0].mode: must match the pattern \"^[0-7]{4}$\""},
	{"fs.stat",
	 "{'path':'/work/a','type':'dir','size':4096,'mtime':'2025-11-25T14:03:07Z','mode':'0755',"
	 "'zone':'work','writable':true}",
	 NULL},
	{"fs.mkdir", "{'path':'/work/b','created':false}", NULL},
	{"fs.move", "{'source':'/work/a','destination':'/work/b'}", NULL},
	{"fs.delete", "{'path':'/work/b','deleted':3}", NULL},
	{"fs.search",
	 "{'matches':[{'path':'/work/a.c','line':3,'text':'int main(void)'},{'path':'/work/b.c'}],"
	 "'truncated':false,'files_scanned':2}",
	 NULL},
	{"fs.zones",
	 "{'zones':[{'name':'work','mode':'rw','path':'/work','host_path':'/home/u/p',"
	 "'free_bytes':1000,'protect':['/work/.git/hooks']},{'name':'scratch','mode':'tmpfs',"
	 "'path':'/scratch','protect':[]}],'backend':'namespace','network':'none','session':"
	 "'persistent','limits':{'timeout_ms':30000,'memory_bytes':536870912,'pids':256,'cpu':1.0,"
	 "'output_bytes':1048576,'enforced':{'memory':true,'pids':true,'cpu':false}}}",
	 NULL},
};

static void test_tool_outputs(void **state)
{
	(void)state;
	for (size_t i = 0; i < ZB_ARRAY_SIZE(outputs); i++) {
		const struct example *e = &outputs[i];
		char label[512];
		snprintf(label, sizeof(label), "%s %s", e->tool, e->args);
		json_t *result = js(e->args);
		expect_labelled(json_object_get(tool_file(e->tool), "outputSchema"), result,
				"result", e->want, label);
		json_decref(result);
	}
}

static int teardown(void **state)
{
	(void)state;
	zb_schema_cache_free();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_properties),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_additional_properties),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_enum_const),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_array_object_sizes),
		cmocka_unit_test(test_one_of),
		cmocka_unit_test(test_one_of_long_messages),
		cmocka_unit_test(test_any_of_all_of),
		cmocka_unit_test(test_not),
		cmocka_unit_test(test_ref),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_boolean_schemas_and_annotations),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_schema_bugs),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_tool_files),
		cmocka_unit_test(test_tool_inputs),
		cmocka_unit_test(test_tool_outputs),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
