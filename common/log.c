#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int log_level = LOG_LVL_INFO;
static int log_fd = STDERR_FILENO;
static bool log_text;

void log_set_text(bool text) {
	log_text = text;
}

static const char *const level_names[] = { "critical", "error", "warning", "info", "debug", "trace" };

void log_set_level(int level) {
	if (level >= LOG_LVL_CRIT && level <= LOG_LVL_TRACE)
		log_level = level;
}

int log_get_level(void) {
	return log_level;
}

void log_set_fd(int fd) {
	log_fd = fd;
}

int log_level_from_string(const char *s) {
	static const struct {
		const char *name;
		int level;
	} names[] = {
		{ "critical", LOG_LVL_CRIT }, { "fatal", LOG_LVL_CRIT }, { "panic", LOG_LVL_CRIT },
		{ "error", LOG_LVL_ERROR },   { "warn", LOG_LVL_WARN },  { "warning", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO },     { "debug", LOG_LVL_DEBUG }, { "trace", LOG_LVL_TRACE },
	};
	for (size_t i = 0; s && i < ELEMENTSOF(names); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].level;
	return -EINVAL;
}

const char *log_level_to_string(int level) {
	if (level < 0 || (size_t)level >= ELEMENTSOF(level_names))
		return "unknown";
	return level_names[level];
}

/* Appends s to buf as JSON string content, escaping quotes, backslashes and control characters; stops
 * (without splitting an escape) when the buffer is full. */
static size_t json_escape(char *buf, size_t pos, size_t size, const char *s) {
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t n;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			n = 6;
		} else {
			esc[0] = (char)c;
			n = 1;
		}
		if (pos + n >= size)
			break;
		memcpy(buf + pos, esc, n);
		pos += n;
	}
	return pos;
}

void log_emit(int level, const char *source, const char *fmt, ...) {
	char msg[1024], line[2048];
	struct timespec ts;
	va_list ap;
	int saved = errno;

	if (level > log_level || log_fd < 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	(void)clock_gettime(CLOCK_REALTIME, &ts);

	if (log_text) {
		struct tm tm;
		char when[32];
		(void)gmtime_r(&ts.tv_sec, &tm);
		(void)strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
		int t = snprintf(line, sizeof line, "time=\"%s.%06ldZ\" level=%s source=%s msg=\"", when, ts.tv_nsec / 1000,
				 log_level_to_string(level), source);
		size_t tpos = t > 0 ? (size_t)t : 0;
		tpos = json_escape(line, tpos, sizeof line - 2, msg);
		memcpy(line + tpos, "\"\n", 2);
		(void)!write(log_fd, line, tpos + 2);
		errno = saved;
		return;
	}
	int n = snprintf(line, sizeof line, "{\"time\":%lld.%06ld,\"level\":\"%s\",\"source\":\"%s\",\"msg\":\"",
			 (long long)ts.tv_sec, ts.tv_nsec / 1000, log_level_to_string(level), source);
	size_t pos = n > 0 ? (size_t)n : 0;
	pos = json_escape(line, pos, sizeof line - 3, msg);
	memcpy(line + pos, "\"}\n", 3);
	pos += 3;
	(void)!write(log_fd, line, pos);
	errno = saved;
}
