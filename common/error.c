#include "common/error.h"

#include <stdio.h>
#include <string.h>

static void vformat(char *buf, size_t size, const char *fmt, va_list ap) {
	int n = vsnprintf(buf, size, fmt, ap);
	if (n >= (int)size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

static int vset(kc_error *err, int code, int errnum, const char *fmt, va_list ap) {
	if (errnum < 0)
		errnum = -errnum;
	if (errnum == 0)
		errnum = EIO;
	if (!err)
		return -errnum;
	err->err = errnum;
	err->code = code;
	vformat(err->msg, sizeof err->msg, fmt, ap);
	return -errnum;
}

int kc_error_set(kc_error *err, int errnum, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	int r = vset(err, 0, errnum, fmt, ap);
	va_end(ap);
	return r;
}

int kc_error_set_code(kc_error *err, int code, int errnum, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	int r = vset(err, code, errnum, fmt, ap);
	va_end(ap);
	return r;
}

int kc_error_prefix(kc_error *err, const char *fmt, ...) {
	char prefix[KC_ERROR_MSG_MAX], old[KC_ERROR_MSG_MAX];
	va_list ap;

	if (!err)
		return -EIO;
	va_start(ap, fmt);
	vformat(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	int n = snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
	if (n >= (int)sizeof err->msg)
		memcpy(err->msg + sizeof err->msg - 4, "...", 4);
	return -(err->err ? err->err : EIO);
}

int kc_error_code(const kc_error *err) {
	if (err->code)
		return err->code;
	switch (err->err) {
	case 0:
		return KC_OK;
	case EINVAL:
	case E2BIG:
	case ENAMETOOLONG:
	case EBADMSG:
	case ENOTDIR: /* a host path through a file */
	case EISDIR:
	case ELOOP: /* a symlink loop or a refused symlink */
		return KC_INVALID_ARGUMENT;
	case ENOENT:
	case ESRCH:
		return KC_NOT_FOUND;
	case EEXIST:
		return KC_ALREADY_EXISTS;
	case EPERM:
	case EACCES:
		return KC_PERMISSION_DENIED;
	case ENOMEM:
	case ENOSPC:
	case EMFILE:
	case ENFILE:
	case EAGAIN: /* a cap on concurrent work was reached */
		return KC_RESOURCE_EXHAUSTED;
	case EBUSY:
	case ESTALE:
		return KC_FAILED_PRECONDITION;
	case ETIMEDOUT:
	case ETIME:
		return KC_DEADLINE_EXCEEDED;
	case EOPNOTSUPP:
	case ENOSYS:
		return KC_UNIMPLEMENTED;
	case ECANCELED:
		return KC_CANCELLED;
	default:
		return KC_INTERNAL;
	}
}

void kc_error_clear(kc_error *err) {
	if (!err)
		return;
	err->err = 0;
	err->code = 0;
	err->msg[0] = '\0';
}
