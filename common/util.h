/* Small helpers shared by every layer: checked formatting, bounded file reads, number parsing, time. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/macro.h"

/* snprintf that fails with -ENAMETOOLONG instead of truncating. */
int format_checked(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);

/* Reads at most max bytes of a file (relative to dirfd, or AT_FDCWD) into a NUL-terminated buffer.
 * -EFBIG when the file holds more. */
int read_file_capped(int dirfd, const char *path, size_t max, char **ret, size_t *ret_size);
/* Writes a whole string to an existing file (sysfs/procfs style), opened O_WRONLY|O_CLOEXEC. */
int write_string_file(const char *path, const char *s);

/* Strict decimal parsers: the whole string must be a number in range. */
int parse_u64(const char *s, int base, uint64_t *ret);
int parse_i64(const char *s, int64_t *ret);
/* Booleans as the Kata agent reads them: true/false, or an integer (non-zero is true). */
int parse_bool(const char *s, bool *ret);

/* Writes all of buf to a blocking fd, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* Copies from in to out until EOF: 0, -errno, or -EFBIG once more than max bytes came (UINT64_MAX: no bound). */
int copy_fd(int in, int out, uint64_t max);
/* Reads exactly len bytes from a blocking fd; -EPIPE on early EOF. */
int read_all(int fd, void *buf, size_t len);

int fd_set_nonblock(int fd, bool nonblock);

/* CLOCK_MONOTONIC / CLOCK_REALTIME in nanoseconds. */
uint64_t now_ns(void);
uint64_t realtime_ns(void);

bool streq_ptr(const char *a, const char *b);
static inline bool startswith(const char *s, const char *prefix) {
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}
