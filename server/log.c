#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const level_names[] = {"debug", "info",     "notice", "warning",
					  "error", "critical", "alert",	 "emergency"};

static enum zb_log_level stderr_level = ZB_LOG_INFO;
static void (*sink_fn)(void *ud, enum zb_log_level level, const char *msg);
static void *sink_ud;
static enum zb_log_level sink_level = ZB_LOG_EMERGENCY;
static bool in_sink; /* a sink that logs must not recurse */

int zb_log_level_parse(const char *name)
{
	for (size_t i = 0; i < ZB_ARRAY_SIZE(level_names); i++)
		if (name && strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *zb_log_level_name(enum zb_log_level level)
{
	return level < ZB_ARRAY_SIZE(level_names) ? level_names[level] : "unknown";
}

void zb_log_set_stderr_level(enum zb_log_level level)
{
	stderr_level = level;
}

void zb_log_set_sink(void (*sink)(void *ud, enum zb_log_level level, const char *msg), void *ud,
		     enum zb_log_level level)
{
	sink_fn = sink;
	sink_ud = ud;
	sink_level = level;
}

void zb_log(enum zb_log_level level, const char *fmt, ...)
{
	bool to_stderr = level >= stderr_level;
	bool to_sink = sink_fn && level >= sink_level && !in_sink;
	if (!to_stderr && !to_sink)
		return;
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (to_stderr)
		fprintf(stderr, "zonebox: %s: %s\n", zb_log_level_name(level), buf);
	if (to_sink) {
		in_sink = true;
		sink_fn(sink_ud, level, buf);
		in_sink = false;
	}
}
