/* Small shared helpers: allocation that aborts on out-of-memory, cleanup attributes, and
 * ownership transfer macros (the systemd idiom). */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ZB_UNUSED	 __attribute__((unused))
#define ZB_PRINTF(a, b)	 __attribute__((format(printf, a, b)))

void *zb_xmalloc(size_t n);
void *zb_xcalloc(size_t n, size_t size);
void *zb_xrealloc(void *p, size_t n);
/* Room for element n of an array grown one at a time: doubles at powers of two, so that
 * appending stays linear on hostile input (a 100,000-command string). */
void *zb_grow(void *p, size_t n, size_t size);
char *zb_xstrdup(const char *s);
char *zb_xstrndup(const char *s, size_t n);
char *zb_xasprintf(const char *fmt, ...) ZB_PRINTF(1, 2);
char *zb_xvasprintf(const char *fmt, va_list ap) ZB_PRINTF(1, 0);

static inline void zb_freep(void *p)
{
	free(*(void **)p);
}

static inline void zb_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_(f)	__attribute__((cleanup(f)))
#define _cleanup_free_	_cleanup_(zb_freep)
#define _cleanup_close_ _cleanup_(zb_closep)

/* Hand a pointer or fd over to a new owner, leaving the cleanup variable empty. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* Parse "30s", "500ms", "2m", "1h" or a bare number of seconds into milliseconds. */
int zb_parse_duration_ms(const char *s, uint64_t *ret_ms);
/* Parse "64M", "1G", "512k", "1MiB" or a bare number of bytes. */
int zb_parse_size(const char *s, uint64_t *ret_bytes);

/* Length of the longest prefix of s[0..len) that is valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
size_t zb_utf8_valid_prefix(const char *s, size_t len);
/* A copy of s with every invalid UTF-8 sequence replaced by U+FFFD; *ret_len gets its length.
 * NUL bytes are kept (JSON can carry them). */
char *zb_utf8_repair(const char *s, size_t len, size_t *ret_len);
