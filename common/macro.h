/* The shared macro set: cleanup attributes, ownership transfer, sizes. Kept small on purpose. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Upper bound of the decimal digits of an integer type, sign and NUL included. */
#define DECIMAL_STR_MAX(type) (2 + (sizeof(type) <= 1 ? 3 : sizeof(type) <= 2 ? 5 : sizeof(type) <= 4 ? 10 : 20))

/* Hand ownership out of a cleanup-managed variable. */
#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _tp_ = (p);    \
		(p) = NULL;                  \
		_tp_;                        \
	})
#define TAKE_FD(fd)                 \
	({                          \
		int _tfd_ = (fd);   \
		(fd) = -EBADF;      \
		_tfd_;              \
	})

/* Defines name(type *p) that calls func(*p) when *p is set, for use with _cleanup_. */
#define DEFINE_CLEANUP_FUNC(type, func)            \
	static inline void func##p(type *p) {      \
		if (*p)                            \
			func(*p);                  \
	}

static inline void freep(void *p) {
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes fd if it is valid; returns -EBADF so that `fd = safe_close(fd);` resets it. */
static inline int safe_close(int fd) {
	if (fd >= 0) {
		int saved = errno;
		(void)close(fd);
		errno = saved;
	}
	return -EBADF;
}
static inline void closep(int *fd) {
	(void)safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Returns early with -EINVAL when a programming-error precondition fails; never aborts (PID 1 must live). */
#define assert_return(expr, r)              \
	do {                                \
		if (_unlikely_(!(expr)))    \
			return (r);         \
	} while (0)

static inline int negative_errno(void) {
	return errno > 0 ? -errno : -EIO;
}
