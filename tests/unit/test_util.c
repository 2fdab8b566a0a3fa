/* Unit tests of the duration and size parsers in server/util.c, which the config loader and the
 * tools use for "30s" and "64M". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>

#include "util.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

struct good {
	const char *text;
	uint64_t value;
};

static void duration_valid(void **state)
{
	(void)state;
	static const struct good cases[] = {
		{"30s", 30000},
		{"500ms", 500},
		{"2m", 120000},
		{"1h", 3600000},
		{"30", 30000}, /* a bare number is seconds */
		{"0", 0},
		{"1.5", 1500},
		{"1.5s", 1500},
		{"0.25m", 15000},
		{"10sec", 10000},
		{"3min", 180000},
		{"2H", 7200000}, /* units in any case */
		{"1MS", 1},
		{"5Sec", 5000},
		{"30 s", 30000}, /* spaces between number and unit */
		{"0.5ms", 1},	 /* rounded to the nearest millisecond */
		{"0.4ms", 0},
		{"1.0005s", 1001},
		{"86400s", 86400000},
		{"1000h", UINT64_C(3600000000)},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		uint64_t ms = UINT64_MAX;
		if (zb_parse_duration_ms(cases[i].text, &ms) != 0)
			fail_msg("\"%s\" was refused", cases[i].text);
		if (ms != cases[i].value)
			fail_msg("\"%s\": got %" PRIu64 ", wanted %" PRIu64, cases[i].text, ms,
				 cases[i].value);
	}
}

static void duration_invalid(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"",	" 30s",	 "-1s",	   "+1s",  "s",	    "ms",   "30x",    "30 seconds",
		"1d",	"1w",	 "30s ",   "30s5", "1.5.5", "1,5s", "nan",    "inf",
		"-inf", "1e400", "1e300h", "30\n", "s30",   "30ss", "30 m s", "--1",
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		uint64_t ms = 12345;
		if (zb_parse_duration_ms(cases[i], &ms) != -1)
			fail_msg("\"%s\" was accepted as %" PRIu64 " ms", cases[i], ms);
		/* A refused value leaves the output alone, so callers can keep a default. */
		assert_int_equal(ms, 12345);
	}
	uint64_t ms = 7;
	assert_int_equal(zb_parse_duration_ms(NULL, &ms), -1);
	assert_int_equal(ms, 7);
}

static void size_valid(void **state)
{
	(void)state;
	static const struct good cases[] = {
		{"64M", 64 * MIB},
		{"1G", GIB},
		{"512k", 512 * KIB},
		{"1MiB", MIB},
		{"1024", 1024}, /* a bare number is bytes */
		{"0", 0},
		{"1b", 1},
		{"100B", 100},
		{"1k", KIB},
		{"1KB", KIB},
		{"1kib", KIB},
		{"2mb", 2 * MIB},
		{"3gb", 3 * GIB},
		{"1GiB", GIB},
		{"1t", TIB},
		{"2TiB", 2 * TIB},
		{"1.5k", 1536},
		{"0.5M", 512 * KIB},
		{"1 M", MIB}, /* spaces between number and unit */
		{"0.5", 0},   /* fractions of a byte are dropped */
		{"16M", 16 * MIB},
		{"4096T", 4096 * TIB},
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		uint64_t bytes = UINT64_MAX;
		if (zb_parse_size(cases[i].text, &bytes) != 0)
			fail_msg("\"%s\" was refused", cases[i].text);
		if (bytes != cases[i].value)
			fail_msg("\"%s\": got %" PRIu64 ", wanted %" PRIu64, cases[i].text, bytes,
				 cases[i].value);
	}
}

static void size_invalid(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"",
		" 1M",
		"-1",
		"+1",
		"M",
		"MiB",
		"1X",
		"1 MB B",
		"1P",
		"1PiB",
		"1Mi",
		"1M ",
		"1MM",
		"1.5.5",
		"1,5M",
		"nan",
		"inf",
		"1e400",
		"99999999999999999999T",
		"1\n",
		"k1",
		"--1",
	};
	for (size_t i = 0; i < ZB_ARRAY_SIZE(cases); i++) {
		uint64_t bytes = 12345;
		if (zb_parse_size(cases[i], &bytes) != -1)
			fail_msg("\"%s\" was accepted as %" PRIu64 " bytes", cases[i], bytes);
		assert_int_equal(bytes, 12345);
	}
	uint64_t bytes = 7;
	assert_int_equal(zb_parse_size(NULL, &bytes), -1);
	assert_int_equal(bytes, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(duration_valid),
		cmocka_unit_test(duration_invalid),
		cmocka_unit_test(size_valid),
		cmocka_unit_test(size_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
