/* The QMP client. */
#include "launcher/qmp.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/util.h"

struct qmp {
	int fd;
	int timeout_ms;
	char *buf; /* received, not yet consumed */
	size_t len;
};

qmp *qmp_close(qmp *q) {
	if (q) {
		safe_close(q->fd);
		free(q->buf);
		free(q);
	}
	return NULL;
}

/* The next line (without its '\n') as a JSON object, within the deadline. */
static int read_message(qmp *q, uint64_t deadline, json_object **ret, kc_error *err) {
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - q->buf);
			*nl = '\0';
			json_object *o = json_tokener_parse(q->buf);
			memmove(q->buf, nl + 1, q->len - n - 1);
			q->len -= n + 1;
			if (!o || !json_object_is_type(o, json_type_object)) {
				json_object_put(o);
				return kc_error_set(err, EBADMSG, "QMP: a reply that is not a JSON object");
			}
			*ret = o;
			return 0;
		}
		if (q->len >= QMP_LINE_MAX)
			return kc_error_set(err, EMSGSIZE, "QMP: a reply longer than %u bytes", QMP_LINE_MAX);
		uint64_t now = now_ns();
		if (now >= deadline)
			return kc_error_set(err, ETIMEDOUT, "QMP: no reply in time");
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		int r = poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
		if (r < 0 && errno != EINTR)
			return kc_error_set(err, errno, "QMP: poll: %m");
		if (r <= 0)
			continue;
		char *nb = realloc(q->buf, QMP_LINE_MAX + 1);
		if (!nb)
			return kc_error_set(err, ENOMEM, "QMP: out of memory");
		q->buf = nb;
		ssize_t n = read(q->fd, q->buf + q->len, QMP_LINE_MAX - q->len);
		if (n == 0)
			return kc_error_set(err, EPIPE, "QMP: QEMU closed the monitor");
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return kc_error_set(err, errno, "QMP: read: %m");
		if (n > 0)
			q->len += (size_t)n;
	}
}

static int send_command(qmp *q, const char *command, json_object *args, kc_error *err) {
	json_object *o = json_object_new_object();
	if (!o) {
		json_object_put(args);
		return kc_error_set(err, ENOMEM, "QMP: out of memory");
	}
	json_object_object_add(o, "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(o, "arguments", args);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int r = write_all(q->fd, s, strlen(s));
	if (r >= 0)
		r = write_all(q->fd, "\n", 1);
	json_object_put(o);
	return r < 0 ? kc_error_set(err, -r, "QMP: send %s: %s", command, strerror(-r)) : 0;
}

int qmp_execute(qmp *q, const char *command, json_object *args, json_object **ret, kc_error *err) {
	uint64_t deadline = now_ns() + (uint64_t)q->timeout_ms * 1000000;
	int r = send_command(q, command, args, err);
	if (r < 0)
		return r;
	for (;;) {
		json_object *m, *v;
		r = read_message(q, deadline, &m, err);
		if (r < 0)
			return kc_error_prefix(err, "%s", command);
		if (json_object_object_get_ex(m, "return", &v)) {
			if (ret)
				*ret = json_object_get(v);
			json_object_put(m);
			return 0;
		}
		if (json_object_object_get_ex(m, "error", &v)) {
			json_object *cls = NULL, *desc = NULL;
			(void)json_object_object_get_ex(v, "class", &cls);
			(void)json_object_object_get_ex(v, "desc", &desc);
			r = kc_error_set(err, EIO, "%s: %s: %s", command, cls ? json_object_get_string(cls) : "?",
					 desc ? json_object_get_string(desc) : "?");
			json_object_put(m);
			return r;
		}
		json_object_put(m); /* an event */
	}
}

int qmp_wait_event(qmp *q, const char *name, const char *device, int timeout_ms, kc_error *err) {
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	for (;;) {
		json_object *m, *ev, *data, *dev;
		int r = read_message(q, deadline, &m, err);
		if (r < 0)
			return kc_error_prefix(err, "waiting for %s", name);
		bool hit = json_object_object_get_ex(m, "event", &ev) && strcmp(json_object_get_string(ev), name) == 0;
		if (hit && device)
			hit = json_object_object_get_ex(m, "data", &data) && json_object_object_get_ex(data, "device", &dev) &&
			      strcmp(json_object_get_string(dev), device) == 0;
		json_object_put(m);
		if (hit)
			return 0;
	}
}

int qmp_open(const char *socket_path, int timeout_ms, qmp **ret, kc_error *err) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *greeting;

	if (strlen(socket_path) >= sizeof sa.sun_path)
		return kc_error_set(err, ENAMETOOLONG, "QMP socket path `%s` is too long", socket_path);
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	qmp *q = calloc(1, sizeof *q);
	if (!q)
		return kc_error_set(err, ENOMEM, "QMP: out of memory");
	q->timeout_ms = timeout_ms;
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int r = kc_error_set(err, errno, "QMP: connect %s: %m", socket_path);
		qmp_close(q);
		return r;
	}
	int r = read_message(q, now_ns() + (uint64_t)timeout_ms * 1000000, &greeting, err);
	if (r >= 0) {
		json_object_put(greeting);
		r = qmp_execute(q, "qmp_capabilities", NULL, NULL, err);
	}
	if (r < 0) {
		qmp_close(q);
		return r;
	}
	*ret = q;
	return 0;
}
