/* The line framer and the JSON-RPC envelopes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/rpc.h"

struct seen {
	char lines[16][256];
	int n;
	int oversize;
};

static void on_line(void *ud, const char *line, size_t len)
{
	struct seen *s = ud;
	assert_true(s->n < 16);
	assert_true(len < 256);
	memcpy(s->lines[s->n], line, len);
	s->lines[s->n][len] = '\0';
	s->n++;
}

static void on_oversize(void *ud, size_t max)
{
	struct seen *s = ud;
	s->oversize++;
}

static void feed_str(struct zb_framer *f, const char *s)
{
	zb_framer_feed(f, s, strlen(s));
}

static void test_one_line(void **state)
{
	struct seen s = {0};
	struct zb_framer f;
	zb_framer_init(&f, 1024, on_line, on_oversize, &s);
	feed_str(&f, "{\"a\":1}\n");
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "{\"a\":1}");
	zb_framer_free(&f);
}

static void test_merged_lines_in_one_read(void **state)
{
	struct seen s = {0};
	struct zb_framer f;
	zb_framer_init(&f, 1024, on_line, on_oversize, &s);
	feed_str(&f, "one\ntwo\r\n\n  \nthree\n");
	assert_int_equal(s.n, 3);
	assert_string_equal(s.lines[0], "one");
	assert_string_equal(s.lines[1], "two");
	assert_string_equal(s.lines[2], "three");
	zb_framer_free(&f);
}

static void test_split_across_reads(void **state)
{
	struct seen s = {0};
	struct zb_framer f;
	zb_framer_init(&f, 1024, on_line, on_oversize, &s);
	const char *msg = "{\"jsonrpc\":\"2.0\",\"id\":1}\n{\"x\":2}\n";
	/* Every byte in its own read. */
	for (size_t i = 0; i < strlen(msg); i++)
		zb_framer_feed(&f, msg + i, 1);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.lines[0], "{\"jsonrpc\":\"2.0\",\"id\":1}");
	assert_string_equal(s.lines[1], "{\"x\":2}");
	zb_framer_free(&f);
}

static void test_partial_then_rest(void **state)
{
	struct seen s = {0};
	struct zb_framer f;
	zb_framer_init(&f, 1024, on_line, on_oversize, &s);
	feed_str(&f, "abc");
	assert_int_equal(s.n, 0);
	feed_str(&f, "def\nghi");
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "abcdef");
	zb_framer_finish(&f);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.lines[1], "ghi");
	zb_framer_free(&f);
}

static void test_oversize_line_dropped_once(void **state)
{
	struct seen s = {0};
	struct zb_framer f;
	zb_framer_init(&f, 8, on_line, on_oversize, &s);
	feed_str(&f, "12345");
	feed_str(&f, "67890"); /* over the cap: reported now */
	assert_int_equal(s.oversize, 1);
	feed_str(&f, "more more"); /* still the same line: no second report */
	feed_str(&f, "end\nok\n");
	assert_int_equal(s.oversize, 1);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.lines[0], "ok");
	/* Exactly at the cap is fine. */
	feed_str(&f, "12345678\n");
	assert_int_equal(s.n, 2);
	feed_str(&f, "123456789\nz\n");
	assert_int_equal(s.oversize, 2);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.lines[2], "z");
	zb_framer_free(&f);
}

/* The cap counts the message, not the CR of a CRLF line end, in one read or split. */
static void test_cap_excludes_crlf(void **state)
{
	struct seen s = {0};
	struct zb_framer f;
	zb_framer_init(&f, 8, on_line, on_oversize, &s);
	feed_str(&f, "12345678\r\n");
	feed_str(&f, "abcdefgh\r");
	feed_str(&f, "\n");
	feed_str(&f, "abcd");
	feed_str(&f, "efgh\r\n");
	assert_int_equal(s.oversize, 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.lines[1], "abcdefgh");
	feed_str(&f, "123456789\r\n"); /* nine bytes of message: over */
	feed_str(&f, "12345678x");
	feed_str(&f, "\n"); /* the ninth byte was no CR: over */
	feed_str(&f, "12345678\r\r\n");
	assert_int_equal(s.oversize, 3);
	assert_int_equal(s.n, 3);
	/* At end of input, a last line without its newline: the same cap. */
	feed_str(&f, "123456789");
	zb_framer_finish(&f);
	assert_int_equal(s.oversize, 4);
	feed_str(&f, "12345678\r");
	zb_framer_finish(&f);
	assert_int_equal(s.oversize, 4);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.lines[3], "12345678");
	zb_framer_free(&f);
}

static void test_oversize_in_single_read(void **state)
{
	struct seen s = {0};
	struct zb_framer f;
	zb_framer_init(&f, 4, on_line, on_oversize, &s);
	feed_str(&f, "a\nbbbbbbbbbb\nc\n");
	assert_int_equal(s.oversize, 1);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.lines[0], "a");
	assert_string_equal(s.lines[1], "c");
	zb_framer_free(&f);
}

static void test_eof_drops_oversize_tail(void **state)
{
	struct seen s = {0};
	struct zb_framer f;
	zb_framer_init(&f, 4, on_line, on_oversize, &s);
	feed_str(&f, "toolongline");
	zb_framer_finish(&f);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.oversize, 1);
	zb_framer_free(&f);
}

static void test_envelopes(void **state)
{
	json_t *id = json_integer(7);
	json_t *m = zb_rpc_result(id, json_pack("{s:i}", "x", 1));
	char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"id\":7,\"jsonrpc\":\"2.0\",\"result\":{\"x\":1}}");
	free(s);
	json_decref(m);
	m = zb_rpc_error(NULL, ZB_RPC_PARSE_ERROR, "bad \xff", NULL);
	s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"error\":{\"code\":-32700,\"message\":\"bad \xef\xbf\xbd\"},"
			       "\"id\":null,\"jsonrpc\":\"2.0\"}");
	free(s);
	json_decref(m);
	json_decref(id);
}

static void test_json_text_repairs(void **state)
{
	json_t *j = zb_json_text("a\xc3\x28z\xed\xa0\x80!", 8);
	assert_non_null(j);
	assert_string_equal(json_string_value(j),
			    "a\xef\xbf\xbd(z\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");
	json_decref(j);
	j = zb_json_text("ok \xe2\x82\xac", 6);
	assert_string_equal(json_string_value(j), "ok \xe2\x82\xac");
	json_decref(j);
}

/* zb_json_dumps(v) is byte for byte what jansson writes for v. */
static void assert_dumps_like_jansson(const json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t len;
	char *got = zb_json_dumps(v, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(want);
	free(got);
}

/* zb_json_dumps must write exactly what jansson writes, for every kind of value. */
static void test_dumps_matches_jansson(void **state)
{
	static const char *const docs[] = {
		"{}",
		"[]",
		"\"\"",
		"null",
		"[true,false,null,0,-1,9223372036854775807,-9223372036854775808]",
		"[0.5,1e300,-2.25,100.0,1.0e-7,3.141592653589793]",
		"{\"a\":{\"b\":[1,{\"c\":\"d\"}]},\"e\":\"\"}",
		"\"quote \\\" backslash \\\\ slash / nl \\n cr \\r tab \\t bs \\b ff \\f\"",
		"\"ctl \\u0001 \\u001f nul \\u0000 del \\u007f\"",
		"\"utf-8 \\u00e9 \\u20ac \\ud83d\\ude00 \\u2028\"",
		"{\"k\\n\\\"ey\":\"v\"}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_error_t je;
		json_t *v = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		assert_non_null(v);
		assert_dumps_like_jansson(v);
		json_decref(v);
	}
	/* A large string with escapes throughout. */
	size_t n = 1 << 20;
	char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i % 97 == 0 ? '\n' : i % 89 == 0 ? '"' : 'a' + (char)(i % 26));
	json_t *v = json_stringn(big, n);
	assert_dumps_like_jansson(v);
	free(big);
	json_decref(v);
}

/* The word-at-a-time paths (escaping in zb_json_dumps, the UTF-8 check) against jansson,
 * which goes byte by byte: random strings full of what needs care, at every alignment and
 * length around the 8-byte words, valid and invalid UTF-8 alike. */
static void test_word_paths_match_bytewise(void **state)
{
	static const char *const pieces[] = {"a",
					     "Z",
					     " ",
					     "\"",
					     "\\",
					     "\n",
					     "\t",
					     "\x01",
					     "\x1f",
					     "\x7f",
					     "/",
					     "\xc3\xa9",
					     "\xe2\x82\xac",
					     "\xf0\x9f\x98\x80",
					     "\xc3",
					     "\x80",
					     "\xed\xa0\x80",
					     "abcdefgh",
					     "\x20",
					     "\x21",
					     "\x23",
					     "\x5b",
					     "\x5d"};
	const size_t np = sizeof(pieces) / sizeof(pieces[0]);
	unsigned seed = 12345;
	char buf[400];
	for (int round = 0; round < 20000; round++) {
		size_t len = 0, want_pieces = (size_t)(rand_r(&seed) % 40);
		/* Long clean runs now and then, so both the word loop and its exits are hit. */
		size_t pad = (size_t)(rand_r(&seed) % 20);
		memset(buf, 'x', pad);
		len = pad;
		for (size_t k = 0; k < want_pieces; k++) {
			const char *p = pieces[rand_r(&seed) % np];
			size_t pl = strlen(p);
			if (len + pl >= sizeof(buf))
				break;
			memcpy(buf + len, p, pl);
			len += pl;
		}
		/* The UTF-8 check: the same answer as a check one byte at a time (jansson's). */
		size_t valid = zb_utf8_valid_prefix(buf, len);
		json_t *whole = json_stringn(buf, len);
		assert_int_equal(valid == len, whole != NULL);
		if (valid < len) {
			json_t *pre = json_stringn(buf, valid);
			assert_non_null(pre);
			json_decref(pre);
		}
		json_decref(whole);
		/* The escape: byte for byte what jansson writes, for the valid part. */
		json_t *v = json_stringn(buf, valid);
		assert_non_null(v);
		assert_dumps_like_jansson(v);
		json_decref(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_merged_lines_in_one_read),
		cmocka_unit_test(test_split_across_reads),
		cmocka_unit_test(test_partial_then_rest),
		cmocka_unit_test(test_oversize_line_dropped_once),
		cmocka_unit_test(test_oversize_in_single_read),
		cmocka_unit_test(test_cap_excludes_crlf),
		cmocka_unit_test(test_eof_drops_oversize_tail),
		cmocka_unit_test(test_envelopes),
		cmocka_unit_test(test_json_text_repairs),
		cmocka_unit_test(test_dumps_matches_jansson),
		cmocka_unit_test(test_word_paths_match_bytewise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
