#include "util.h"

#include <ctype.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static void oom(size_t n)
{
	/* Out of memory: nothing sensible can be answered on the wire any more. */
	fprintf(stderr, "zonebox: out of memory allocating %zu bytes\n", n);
	abort();
}

void *zb_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *zb_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *zb_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

void *zb_grow(void *p, size_t n, size_t size)
{
	if (n == 0)
		return zb_xrealloc(p, 4 * size);
	if (n >= 4 && (n & (n - 1)) == 0)
		return zb_xrealloc(p, 2 * n * size);
	return p;
}

char *zb_xstrdup(const char *s)
{
	return zb_xstrndup(s, strlen(s));
}

char *zb_xstrndup(const char *s, size_t n)
{
	char *p = zb_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *zb_xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		oom(strlen(fmt));
	return s;
}

char *zb_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = zb_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

/* Split "12.5ms" into a number and a unit; the number must be present and finite. */
static int split_number(const char *s, double *ret_value, const char **ret_unit)
{
	char *end = NULL;
	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0 || v != v)
		return -1;
	while (*end == ' ')
		end++;
	*ret_value = v;
	*ret_unit = end;
	return 0;
}

struct unit {
	const char *name;
	double mult;
};

/* A number and one of `units` (case-insensitive) as their product, rounded by adding
 * `round` before truncating. */
static int parse_with_unit(const char *s, const struct unit *units, size_t n, double round,
			   uint64_t *ret)
{
	double v;
	const char *unit;
	if (split_number(s, &v, &unit) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(unit, units[i].name) == 0) {
			double x = v * units[i].mult;
			if (x > (double)UINT64_MAX / 2)
				return -1;
			*ret = (uint64_t)(x + round);
			return 0;
		}
	}
	return -1;
}

int zb_parse_duration_ms(const char *s, uint64_t *ret_ms)
{
	static const struct unit units[] = {{"", 1000},	   {"ms", 1},	 {"s", 1000},
					    {"sec", 1000}, {"m", 60000}, {"min", 60000},
					    {"h", 3600000}};
	return parse_with_unit(s, units, ZB_ARRAY_SIZE(units), 0.5, ret_ms);
}

int zb_parse_size(const char *s, uint64_t *ret_bytes)
{
	static const struct unit units[] = {{"", 1},
					    {"b", 1},
					    {"k", 1024.0},
					    {"kb", 1024.0},
					    {"kib", 1024.0},
					    {"m", 1024.0 * 1024},
					    {"mb", 1024.0 * 1024},
					    {"mib", 1024.0 * 1024},
					    {"g", 1024.0 * 1024 * 1024},
					    {"gb", 1024.0 * 1024 * 1024},
					    {"gib", 1024.0 * 1024 * 1024},
					    {"t", 1024.0 * 1024 * 1024 * 1024},
					    {"tib", 1024.0 * 1024 * 1024 * 1024}};
	return parse_with_unit(s, units, ZB_ARRAY_SIZE(units), 0, ret_bytes);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is invalid or cut off. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t need;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

size_t zb_utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		if (u[i] < 0x80) {
			/* ASCII, most of any text: skip it 16 or 8 bytes at a time. */
			i++;
#ifdef __SSE2__
			while (i + 16 <= len && !_mm_movemask_epi8(_mm_loadu_si128(
							(const __m128i *)(const void *)(u + i))))
				i += 16;
#endif
			while (i + 8 <= len) {
				uint64_t w;
				memcpy(&w, u + i, 8);
				if (w & 0x8080808080808080ull)
					break;
				i += 8;
			}
			continue;
		}
		size_t k = utf8_seq(u + i, len - i);
		if (k == 0)
			break;
		i += k;
	}
	return i;
}

char *zb_utf8_repair(const char *s, size_t len, size_t *ret_len)
{
	/* Worst case every byte becomes a 3-byte U+FFFD. */
	char *out = zb_xmalloc(len * 3 + 1);
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_seq(u + i, len - i);
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, u + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	if (ret_len)
		*ret_len = o;
	return out;
}
