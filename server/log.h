/* Logs go to stderr (stdout carries protocol only) and, once the client asked for them with
 * logging/setLevel, also to the client as notifications/message. Levels are MCP's (RFC 5424). */
#pragma once

#include "util.h"

enum zb_log_level {
	ZB_LOG_DEBUG,
	ZB_LOG_INFO,
	ZB_LOG_NOTICE,
	ZB_LOG_WARNING,
	ZB_LOG_ERROR,
	ZB_LOG_CRITICAL,
	ZB_LOG_ALERT,
	ZB_LOG_EMERGENCY,
};

/* Returns -1 for an unknown name. */
int zb_log_level_parse(const char *name);
const char *zb_log_level_name(enum zb_log_level level);

void zb_log_set_stderr_level(enum zb_log_level level);
/* Messages at or above `level` are also handed to `sink` (the MCP client). */
void zb_log_set_sink(void (*sink)(void *ud, enum zb_log_level level, const char *msg), void *ud,
		     enum zb_log_level level);

void zb_log(enum zb_log_level level, const char *fmt, ...) ZB_PRINTF(2, 3);

#define zb_debug(...)	zb_log(ZB_LOG_DEBUG, __VA_ARGS__)
#define zb_info(...)	zb_log(ZB_LOG_INFO, __VA_ARGS__)
#define zb_notice(...)	zb_log(ZB_LOG_NOTICE, __VA_ARGS__)
#define zb_warning(...) zb_log(ZB_LOG_WARNING, __VA_ARGS__)
#define zb_err(...)	zb_log(ZB_LOG_ERROR, __VA_ARGS__)
