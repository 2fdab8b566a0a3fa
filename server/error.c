#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int zb_error_set(struct zb_error **err, enum zb_error_kind kind, int errnum, const char *fmt, ...)
{
	if (!err)
		return -1;
	/* Keep the first error: it is the root cause; later ones are usually consequences. */
	if (*err)
		return -1;
	struct zb_error *e = zb_xcalloc(1, sizeof(*e));
	va_list ap;
	va_start(ap, fmt);
	e->msg = zb_xvasprintf(fmt, ap);
	va_end(ap);
	e->kind = kind;
	e->errnum = errnum;
	*err = e;
	return -1;
}

int zb_error_prefix(struct zb_error **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -1;
	char *prefix = NULL;
	va_list ap;
	va_start(ap, fmt);
	prefix = zb_xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = zb_xasprintf("%s: %s", prefix, (*err)->msg);
	free(prefix);
	free((*err)->msg);
	(*err)->msg = msg;
	return -1;
}

void zb_error_free(struct zb_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}
