/* Dispatch: the server core driven line by line, with its replies captured instead of
 * written, on a real loop (tool calls finish asynchronously). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/config.h"
#include "server/mcp.h"
#include "server/schema.h"

struct fixture {
	uv_loop_t loop;
	struct zb_server *srv;
	json_t *sent; /* array of everything sent */
};

static void capture(void *ud, json_t *msg)
{
	struct fixture *f = ud;
	json_array_append_new(f->sent, msg);
}

static const char config_yaml[] = "sandbox:\n"
				  "  backend: \"null\"\n"
				  "  zones:\n"
				  "    - {name: work, mode: tmpfs, size: 1M}\n"
				  "approval:\n"
				  "  default: allow\n"
				  "server: {tools_page_size: 4}\n";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uv_loop_init(&f->loop);
	struct zb_error *err = NULL;
	struct zb_config *cfg =
		zb_config_load_string(config_yaml, strlen(config_yaml), "test.yaml", "/", &err);
	if (!cfg) {
		fprintf(stderr, "%s\n", err->msg);
		return -1;
	}
	f->sent = json_array();
	f->srv = zb_server_new(&f->loop, cfg, capture, f);
	*state = f;
	return 0;
}

static void shutdown_done(void *arg)
{
	*(bool *)arg = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	bool done = false;
	zb_server_shutdown(f->srv, shutdown_done, &done);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(done);
	zb_server_free(f->srv);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	json_decref(f->sent);
	free(f);
	return 0;
}

static void line(struct fixture *f, const char *s)
{
	zb_server_handle_line(f->srv, s, strlen(s));
}

/* The last message sent, borrowed. */
static json_t *last(struct fixture *f)
{
	size_t n = json_array_size(f->sent);
	assert_true(n > 0);
	return json_array_get(f->sent, n - 1);
}

static int error_code(json_t *m)
{
	return (int)json_integer_value(json_object_get(json_object_get(m, "error"), "code"));
}

static void init(struct fixture *f)
{
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
		"\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
	json_t *r = json_object_get(last(f), "result");
	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), "2025-06-18");
}

static void test_ping_before_init(void **state)
{
	struct fixture *f = *state;
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	assert_non_null(json_object_get(last(f), "result"));
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
	assert_int_equal(error_code(last(f)), -32600);
}

static void test_parse_and_envelope_errors(void **state)
{
	struct fixture *f = *state;
	init(f);
	line(f, "{not json");
	assert_int_equal(error_code(last(f)), -32700);
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}");
	assert_int_equal(error_code(last(f)), -32700);
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}");
	assert_int_equal(error_code(last(f)), -32600);
	assert_true(json_is_null(json_object_get(last(f), "id")));
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"x/y\"}");
	assert_int_equal(error_code(last(f)), -32601);
	assert_int_equal(json_integer_value(json_object_get(last(f), "id")), 3);
	size_t before = json_array_size(f->sent);
	line(f, "{\"jsonrpc\":\"2.0\",\"method\":\"x/y\"}"); /* a notification: no reply */
	assert_int_equal(json_array_size(f->sent), before);
}

static void test_pagination(void **state)
{
	struct fixture *f = *state;
	init(f);
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	json_t *r = json_object_get(last(f), "result");
	assert_int_equal(json_array_size(json_object_get(r, "tools")), 4);
	const char *cursor = json_string_value(json_object_get(r, "nextCursor"));
	assert_non_null(cursor);
	char buf[256];
	snprintf(buf, sizeof(buf),
		 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"cursor\":"
		 "\"%s\"}}",
		 cursor);
	line(f, buf);
	r = json_object_get(last(f), "result");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(r, "tools"), 0), "name")),
			    "fs.list");
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"cursor\":"
		"\"zb1:abc\"}}");
	assert_int_equal(error_code(last(f)), -32602);
}

static void test_tool_call_async_result(void **state)
{
	struct fixture *f = *state;
	init(f);
	size_t before = json_array_size(f->sent);
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"tools/call\",\"params\":{"
		"\"name\":\"shell_run\",\"arguments\":{\"argv\":[\"echo\",\"hi\"]}}}");
	/* Not answered synchronously: the backend reports from the loop. */
	assert_int_equal(json_array_size(f->sent), before);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	json_t *r = json_object_get(last(f), "result");
	assert_non_null(r);
	assert_true(json_is_false(json_object_get(r, "isError")));
	json_t *sc = json_object_get(r, "structuredContent");
	assert_string_equal(json_string_value(json_object_get(sc, "stdout")), "hi\n");
}

static void test_schema_error_names_field(void **state)
{
	struct fixture *f = *state;
	init(f);
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
		"\"name\":\"fs.write\",\"arguments\":{\"path\":\"x\",\"content\":1}}}");
	json_t *m = last(f);
	assert_int_equal(error_code(m), -32602);
	const char *msg =
		json_string_value(json_object_get(json_object_get(m, "error"), "message"));
	assert_non_null(strstr(msg, "content"));
}

static void test_cancel_drops_reply(void **state)
{
	struct fixture *f = *state;
	init(f);
	size_t before = json_array_size(f->sent);
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{"
		"\"name\":\"shell.run\",\"arguments\":{\"argv\":[\"sleep\",\"10000\"]}}}");
	line(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
		"\"requestId\":5}}");
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(json_array_size(f->sent), before);
}

static void test_batch(void **state)
{
	struct fixture *f = *state;
	line(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
		"\"protocolVersion\":\"2025-03-26\",\"capabilities\":{}}}");
	line(f, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{"
		"\"name\":\"shell.run\",\"arguments\":{\"argv\":[\"echo\",\"b\"]}}}]");
	uv_run(&f->loop, UV_RUN_DEFAULT);
	json_t *m = last(f);
	assert_true(json_is_array(m));
	assert_int_equal(json_array_size(m), 2);
}

int main(void)
{
	json_set_alloc_funcs(zb_xmalloc, free);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping_before_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_and_envelope_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pagination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tool_call_async_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_error_names_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_drops_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	zb_schema_cache_free();
	return r;
}
