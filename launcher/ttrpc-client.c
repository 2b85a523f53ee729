#include "launcher/ttrpc-client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "proto/frame.h"
#include "ttrpc.pb-c.h"

/* Outstanding calls are few (a CLI, a test): a small array searched linearly is enough. */
#define MAX_OUTSTANDING 1024

typedef struct outstanding {
	uint32_t stream;
	bool done;
	uint8_t *frame; /* the ttrpc.Response bytes, NULL when the frame was empty */
	size_t len;
} outstanding;

struct ttrpc_client {
	int fd;
	uint32_t next_stream;
	bool eof;
	ttrpc_reader reader;
	outstanding *calls;
	size_t n_calls;
};

int ttrpc_client_dial(const char *address) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = address;
	socklen_t salen;

	if (startswith(address, "unix://"))
		path = address + strlen("unix://");
	if (path[0] == '\0')
		return -EINVAL;
	size_t n = strlen(path);
	if (n >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, n);
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	if (path[0] == '@') {
		/* Abstract names are not NUL-terminated: the length says where they end. */
		sa.sun_path[0] = '\0';
		salen--;
	}

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0)
		return -errno;
	return TAKE_FD(fd);
}

int ttrpc_client_new(int fd, ttrpc_client **ret) {
	ttrpc_client *c = calloc(1, sizeof *c);
	if (!c) {
		(void)safe_close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->next_stream = 1;
	ttrpc_reader_init(&c->reader, TTRPC_MAX_FRAME);
	*ret = c;
	return 0;
}

int ttrpc_client_connect(const char *address, ttrpc_client **ret) {
	int fd = ttrpc_client_dial(address);
	if (fd < 0)
		return fd;
	return ttrpc_client_new(fd, ret);
}

ttrpc_client *ttrpc_client_free(ttrpc_client *c) {
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_calls; i++)
		free(c->calls[i].frame);
	free(c->calls);
	ttrpc_reader_reset(&c->reader);
	(void)safe_close(c->fd);
	free(c);
	return NULL;
}

int ttrpc_client_fd(const ttrpc_client *c) {
	return c->fd;
}

static outstanding *find_call(ttrpc_client *c, uint32_t stream) {
	for (size_t i = 0; i < c->n_calls; i++)
		if (c->calls[i].stream == stream)
			return &c->calls[i];
	return NULL;
}

static void drop_call(ttrpc_client *c, outstanding *o) {
	free(o->frame);
	*o = c->calls[--c->n_calls];
}

/* send() with MSG_NOSIGNAL: a peer that went away is -EPIPE for this call, not SIGPIPE for the process. */
static int send_all(int fd, const uint8_t *buf, size_t len) {
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int ttrpc_client_send(ttrpc_client *c, const char *service, const char *method, const uint8_t *payload,
		      size_t payload_len, int64_t timeout_ns, uint32_t *ret_stream) {
	_cleanup_free_ uint8_t *frame = NULL;
	size_t frame_len;
	int r;

	if (c->eof)
		return -EPIPE;
	if (c->n_calls >= MAX_OUTSTANDING)
		return -EBUSY;
	outstanding *calls = realloc(c->calls, (c->n_calls + 1) * sizeof *calls);
	if (!calls)
		return -ENOMEM;
	c->calls = calls;

	uint32_t stream = c->next_stream;
	r = ttrpc_request_build_raw(stream, service, method, payload, payload_len, timeout_ns > 0 ? timeout_ns : 0,
				    &frame, &frame_len);
	if (r < 0)
		return r;
	r = send_all(c->fd, frame, frame_len);
	if (r < 0)
		return r;
	/* Odd ids are client-initiated; wrap-around is not a concern for one connection's lifetime. */
	c->next_stream += 2;
	c->calls[c->n_calls++] = (outstanding){ .stream = stream };
	*ret_stream = stream;
	return 0;
}

static void deliver(ttrpc_client *c) {
	if (c->reader.header.type != TTRPC_TYPE_RESPONSE)
		return;
	outstanding *o = find_call(c, c->reader.header.stream_id);
	if (!o || o->done)
		return;
	o->done = true;
	o->len = c->reader.header.length;
	o->frame = ttrpc_reader_take_payload(&c->reader);
}

/* Reads what is available and files every complete response under its stream. */
static int pump(ttrpc_client *c) {
	/* One client per thread: a static buffer for headers and small frames. The rest of a payload is read
	 * straight into the frame: a 1 MiB ReadStdout reply is then copied once, by the kernel. */
	static _Thread_local uint8_t buf[64 * 1024];
	uint8_t *dst;
	size_t gap = ttrpc_reader_payload_gap(&c->reader, &dst);
	ssize_t n = gap > 0 ? read(c->fd, dst, gap) : read(c->fd, buf, sizeof buf);
	if (n < 0 && errno != ECONNRESET)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	/* A peer that closed with our request unread resets the connection: the same as EOF for us. */
	if (n <= 0) {
		c->eof = true;
		return -EPIPE;
	}
	if (gap > 0) {
		if (ttrpc_reader_payload_add(&c->reader, (size_t)n) == TTRPC_READ_FRAME)
			deliver(c);
		return 0;
	}
	size_t off = 0;
	while (off < (size_t)n) {
		size_t used;
		ttrpc_read_event ev;
		int r = ttrpc_reader_feed(&c->reader, buf + off, (size_t)n - off, &used, &ev);
		if (r < 0)
			return r;
		off += used;
		if (ev == TTRPC_READ_FRAME)
			deliver(c);
	}
	return 0;
}

/* A ttrpc.Response in place: the payload (field 2) is found where it lies in the frame instead of being copied
 * out by protobuf-c; only a status (field 1, the failure path) is decoded by protobuf-c. */
static int decode_response(const uint8_t *frame, size_t len, int *ret_code, char **ret_msg,
			   const uint8_t **ret_payload, size_t *ret_len) {
	const uint8_t *payload, *status;
	size_t plen, slen;
	int code = 0;
	_cleanup_free_ char *msg = NULL;

	if (ttrpc_message_find_bytes(frame, len, 2, &payload, &plen) < 0 ||
	    ttrpc_message_find_bytes(frame, len, 1, &status, &slen) < 0)
		return -EBADMSG;
	if (status) {
		Google__Rpc__Status *st = google__rpc__status__unpack(NULL, slen, status);
		if (!st)
			return -EBADMSG;
		code = st->code;
		if (code != 0 && !(msg = strdup(st->message ? st->message : ""))) {
			google__rpc__status__free_unpacked(st, NULL);
			return -ENOMEM;
		}
		google__rpc__status__free_unpacked(st, NULL);
	}
	*ret_code = code;
	*ret_msg = TAKE_PTR(msg);
	*ret_payload = code == 0 ? payload : NULL;
	*ret_len = code == 0 ? plen : 0;
	return 0;
}

int ttrpc_client_recv_frame(ttrpc_client *c, uint32_t stream, int64_t wait_ns, int *ret_code, char **ret_msg,
			    uint8_t **ret_frame, const uint8_t **ret_payload, size_t *ret_len) {
	uint64_t deadline = wait_ns > 0 ? now_ns() + (uint64_t)wait_ns : 0;
	outstanding *o;
	int r;

	for (;;) {
		o = find_call(c, stream);
		if (!o)
			return -ENOENT;
		if (o->done)
			break;
		if (c->eof) {
			drop_call(c, o);
			return -EPIPE;
		}
		int timeout_ms = -1;
		if (deadline) {
			uint64_t now = now_ns();
			if (now >= deadline) {
				drop_call(c, o);
				return -ETIMEDOUT;
			}
			timeout_ms = (int)MIN((deadline - now + 999999) / 1000000, (uint64_t)INT32_MAX);
		}
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		r = poll(&p, 1, timeout_ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0) {
			r = pump(c);
			if (r < 0 && r != -EPIPE)
				return r;
		}
	}
	r = decode_response(o->frame, o->len, ret_code, ret_msg, ret_payload, ret_len);
	if (r >= 0)
		*ret_frame = TAKE_PTR(o->frame);
	drop_call(c, o);
	return r;
}

int ttrpc_client_recv(ttrpc_client *c, uint32_t stream, int64_t wait_ns, int *ret_code, char **ret_msg,
		      uint8_t **ret_payload, size_t *ret_len) {
	uint8_t *frame = NULL;
	const uint8_t *payload;
	size_t len;
	int r = ttrpc_client_recv_frame(c, stream, wait_ns, ret_code, ret_msg, &frame, &payload, &len);
	if (r < 0)
		return r;
	/* The payload moves to the front of its frame, which becomes the caller's buffer: no second one. */
	if (len > 0)
		memmove(frame, payload, len);
	else {
		free(frame);
		frame = NULL;
	}
	*ret_payload = frame;
	*ret_len = len;
	return 0;
}

/* The local wait of a call: its timeout plus a grace second, so that the server's own deadline answer wins. */
static int64_t call_wait_ns(int64_t timeout_ns) {
	return timeout_ns > 0 ? timeout_ns + 1000000000LL : 0;
}

int ttrpc_client_call_raw(ttrpc_client *c, const char *service, const char *method, const uint8_t *payload,
			  size_t payload_len, int64_t timeout_ns, uint8_t **ret_payload, size_t *ret_len,
			  int *ret_code, char **ret_msg) {
	uint32_t stream;
	int r = ttrpc_client_send(c, service, method, payload, payload_len, timeout_ns, &stream);
	if (r < 0)
		return r;
	return ttrpc_client_recv(c, stream, call_wait_ns(timeout_ns), ret_code, ret_msg, ret_payload, ret_len);
}

int ttrpc_client_call(ttrpc_client *c, const char *service, const char *method, const ProtobufCMessage *req,
		      const ProtobufCMessageDescriptor *resp_desc, int64_t timeout_ns, ProtobufCMessage **ret_resp,
		      int *ret_code, char **ret_msg) {
	_cleanup_free_ uint8_t *in = NULL, *frame = NULL;
	_cleanup_free_ char *msg = NULL;
	const uint8_t *out = NULL;
	size_t in_len = 0, out_len = 0;
	uint32_t stream;
	int code, r;

	if (req) {
		in_len = protobuf_c_message_get_packed_size(req);
		if (in_len > TTRPC_MAX_FRAME)
			return -EMSGSIZE;
		if (in_len > 0) {
			in = malloc(in_len);
			if (!in)
				return -ENOMEM;
			(void)protobuf_c_message_pack(req, in);
		}
	}
	r = ttrpc_client_send(c, service, method, in, in_len, timeout_ns, &stream);
	if (r < 0)
		return r;
	/* Unpacked from where it lies in the frame: no copy of the payload before protobuf-c's own. */
	r = ttrpc_client_recv_frame(c, stream, call_wait_ns(timeout_ns), &code, &msg, &frame, &out, &out_len);
	if (r < 0)
		return r;
	ProtobufCMessage *resp = NULL;
	if (code == 0 && resp_desc) {
		/* An empty payload is the all-defaults message; protobuf-c unpacks zero bytes fine. */
		resp = protobuf_c_message_unpack(resp_desc, NULL, out_len, out);
		if (!resp)
			return -EBADMSG;
	}
	if (ret_resp)
		*ret_resp = resp;
	else if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	*ret_code = code;
	*ret_msg = TAKE_PTR(msg);
	return 0;
}
