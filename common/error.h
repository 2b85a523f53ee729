/* The error object that the host-facing layers fill once at the failure site. It carries errno, an optional
 * gRPC status code (0 = derive from errno), and a message with context. Its storage is fixed, so reporting an
 * error never allocates. */
#pragma once

#include <stdarg.h>
#include "common/macro.h"

#define KC_ERROR_MSG_MAX 512

typedef struct kc_error {
	int err;  /* positive errno, 0 when unset */
	int code; /* gRPC status code, 0 when it is derived from err */
	char msg[KC_ERROR_MSG_MAX];
} kc_error;

/* gRPC status codes, as the ttRPC status carries them. */
enum {
	KC_OK = 0,
	KC_CANCELLED = 1,
	KC_UNKNOWN = 2,
	KC_INVALID_ARGUMENT = 3,
	KC_DEADLINE_EXCEEDED = 4,
	KC_NOT_FOUND = 5,
	KC_ALREADY_EXISTS = 6,
	KC_PERMISSION_DENIED = 7,
	KC_RESOURCE_EXHAUSTED = 8,
	KC_FAILED_PRECONDITION = 9,
	KC_ABORTED = 10,
	KC_OUT_OF_RANGE = 11,
	KC_UNIMPLEMENTED = 12,
	KC_INTERNAL = 13,
	KC_UNAVAILABLE = 14,
	KC_DATA_LOSS = 15,
	KC_UNAUTHENTICATED = 16,
};

/* Fills err (if not NULL) and returns -errnum. The message is truncated with "..." if too long. */
int kc_error_set(kc_error *err, int errnum, const char *fmt, ...) _printf_(3, 4);
/* Same, with an explicit status code. */
int kc_error_set_code(kc_error *err, int code, int errnum, const char *fmt, ...) _printf_(4, 5);
/* Prepends "context: " to the message already set; returns -err->err. */
int kc_error_prefix(kc_error *err, const char *fmt, ...) _printf_(2, 3);
/* The gRPC code for the error: the explicit one, else one derived from errno. */
int kc_error_code(const kc_error *err);
void kc_error_clear(kc_error *err);
