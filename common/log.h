/* Structured logging: one JSON object per line ({"time":..., "level":..., "source":..., "msg":...}) to a
 * file descriptor (the console when PID 1, stderr otherwise). Messages are formatted into a fixed buffer:
 * logging never allocates and never blocks for long (the fd is written with one write()). Never log
 * request payloads: environment variables carry secrets. */
#pragma once

#include <stdbool.h>

#include "common/macro.h"

enum {
	LOG_LVL_CRIT = 0,
	LOG_LVL_ERROR = 1,
	LOG_LVL_WARN = 2,
	LOG_LVL_INFO = 3,
	LOG_LVL_DEBUG = 4,
	LOG_LVL_TRACE = 5,
};

void log_set_level(int level);
int log_get_level(void);
void log_set_fd(int fd);
/* text: logrus' text form (time="..." level=info msg="..."), for runc-compatible CLIs; default JSON. */
void log_set_text(bool text);
/* Parses logrus level names (critical|fatal|panic, error, warn|warning, info, debug, trace). */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

void log_emit(int level, const char *source, const char *fmt, ...) _printf_(3, 4);

#define log_error(...) log_emit(LOG_LVL_ERROR, LOG_SOURCE, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_LVL_WARN, LOG_SOURCE, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LVL_INFO, LOG_SOURCE, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_LVL_DEBUG, LOG_SOURCE, __VA_ARGS__)

#ifndef LOG_SOURCE
#define LOG_SOURCE "agent"
#endif
