#define LOG_SOURCE "ttrpc"
#include "agent/server.h"

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/log.h"
#include "common/util.h"
#include "proto/frame.h"

#define CALL_BUCKETS 256
#define INBUF_SIZE (16u * 1024)
#define READS_PER_WAKEUP 8
#define LISTEN_RETRY_NS (100ULL * 1000 * 1000)
#define MAX_DEADLINE_NS (365ULL * 24 * 3600 * 1000000000ULL)
/* While the host side of a serial port is away, look again at this pace in case no wakeup comes. */
#define SERIAL_RETRY_NS (500ULL * 1000 * 1000)

/* A queued frame, owned: a partial write keeps its place in it instead of copying the rest out. */
typedef struct outbuf {
	struct outbuf *next;
	uint8_t *frame;
	size_t cap, len, off;
} outbuf;

/* Replies from REPLY_KEEP_MIN up to REPLY_KEEP_SIZE (a full 1 MiB ReadStdout reply and its envelope) are built
 * in a buffer of REPLY_KEEP_SIZE, and one such buffer is kept once written instead of freed. musl serves
 * allocations this large with mmap, so a fresh one per reply is an mmap, a page fault per 4 KiB and a munmap,
 * which under nested virtualisation cost the agent more than copying the data. One buffer bounds what is kept
 * (its pages are touched only as far as replies reach), whatever the number of containers. Data replies
 * (ttrpc_call_data_buf) use the same buffers, their bytes at DATA_HEADROOM. */
#define REPLY_KEEP_MIN (64u << 10)
#define DATA_HEADROOM 64u
#define REPLY_KEEP_SIZE (DATA_HEADROOM + TTRPC_DATA_MAX)
_Static_assert(DATA_HEADROOM >= TTRPC_DATA_HEADER_MAX, "room for the frame and message headers");
_Static_assert(TTRPC_DATA_MAX + TTRPC_DATA_HEADER_MAX <= TTRPC_MAX_FRAME, "a data reply fits a frame");
/* A 1 MiB reply written in one go instead of in the kernel's default ~200 KiB socket buffer's worth per
 * wakeup: each partial write costs the agent an EPOLLOUT round trip and the host a wakeup per piece. The
 * kernel doubles the value for its bookkeeping. It is a limit, not an allocation: only replies the host has
 * not read yet occupy it, so a connection that reads as it goes holds no more than before. */
#define CONN_SNDBUF (int)(REPLY_KEEP_SIZE + (64u << 10))

typedef struct ttrpc_conn ttrpc_conn;

struct ttrpc_call {
	ttrpc_conn *conn;
	uint32_t stream_id;
	const ProtobufCMethodDescriptor *method;
	const char *service;
	ProtobufCMessage *req;
	int64_t timeout_ns;
	ev_timer deadline;
	void (*cancel)(ttrpc_call *call, void *userdata);
	void *cancel_userdata;
	ttrpc_call *hnext;
	uint32_t held_bytes; /* request bytes counted against the connection while the call is pending */
};

struct ttrpc_conn {
	ttrpc_server *srv;
	int fd;
	ev_io *io;
	bool serial;
	bool broken;     /* write failed or EOF: to be closed (socket) or reset (serial) at a safe point */
	bool processing; /* inside process_input: completions must not re-enter it */
	bool paused;     /* over a cap: not reading */
	bool host_away;  /* serial: the host side is disconnected */
	ttrpc_reader rd;
	ttrpc_call *calls[CALL_BUCKETS];
	uint32_t n_calls;
	size_t held_bytes; /* request bytes of the pending calls: decoded requests live as long as their calls */
	outbuf *out_head, *out_tail;
	size_t out_bytes;
	uint8_t *inbuf;
	size_t in_off, in_len;
	ev_timer serial_retry;
	ttrpc_conn *prev, *next;
	ttrpc_conn *next_broken;
};

typedef struct listener {
	ttrpc_server *srv;
	int fd;
	ev_io *io;
	bool paused;
	struct listener *next;
} listener;

struct ttrpc_server {
	ev_loop *loop;
	const ttrpc_service *services;
	size_t n_services;
	void *ctx;
	ttrpc_limits limits;
	ttrpc_conn *conns;
	uint32_t n_conns;
	listener *listeners;
	ttrpc_conn *broken;
	ev_timer reap_timer;
	ev_timer listen_retry;
	uint8_t *reply_kept; /* REPLY_KEEP_SIZE bytes, or NULL */
};

static void conn_read(ttrpc_conn *c);
static void conn_process(ttrpc_conn *c);
static void listeners_resume(ttrpc_server *s);

/* ---- calls ---- */

static ttrpc_call **call_slot(ttrpc_conn *c, uint32_t id) {
	return &c->calls[(id >> 1) % CALL_BUCKETS];
}

static ttrpc_call *call_find(ttrpc_conn *c, uint32_t id) {
	for (ttrpc_call *k = *call_slot(c, id); k; k = k->hnext)
		if (k->stream_id == id)
			return k;
	return NULL;
}

static void call_unlink(ttrpc_call *call) {
	ttrpc_conn *c = call->conn;
	for (ttrpc_call **p = call_slot(c, call->stream_id); *p; p = &(*p)->hnext)
		if (*p == call) {
			*p = call->hnext;
			c->n_calls--;
			return;
		}
}

static bool conn_over_cap(const ttrpc_conn *c) {
	const ttrpc_limits *l = &c->srv->limits;
	return c->n_calls >= l->max_pending || c->out_bytes >= l->max_queued_bytes || c->held_bytes >= l->max_held_bytes;
}

static void conn_set_events(ttrpc_conn *c) {
	uint32_t ev = c->serial ? EPOLLET : 0;
	if (!c->paused && !c->broken)
		ev |= EPOLLIN;
	if (c->out_head && !c->broken)
		ev |= EPOLLOUT;
	if (c->io && ev_io_set_events(c->io, ev) < 0)
		log_warn("cannot update events of connection fd %d", c->fd);
}

/* Called whenever a call ends or output drains: resumes a connection paused at a cap. */
static void conn_maybe_resume(ttrpc_conn *c) {
	if (!c->paused || c->broken || c->processing || conn_over_cap(c))
		return;
	c->paused = false;
	conn_process(c);
	if (!c->paused) {
		conn_set_events(c);
		/* Edge-triggered serial ports will not report bytes that arrived while paused. */
		if (c->serial)
			conn_read(c);
	}
}

static void call_free(ttrpc_call *call) {
	ttrpc_conn *c = call->conn;
	call_unlink(call);
	c->held_bytes -= call->held_bytes;
	ev_timer_disarm(&call->deadline);
	if (call->req)
		protobuf_c_message_free_unpacked(call->req, NULL);
	free(call);
	conn_maybe_resume(c);
}

/* ---- output ---- */

static void conn_mark_broken(ttrpc_conn *c) {
	ttrpc_server *s = c->srv;
	if (c->broken)
		return;
	c->broken = true;
	c->next_broken = s->broken;
	s->broken = c;
	conn_set_events(c);
	(void)ev_timer_arm(&s->reap_timer, 1);
}

static uint8_t *reply_buf_get(ttrpc_server *s, size_t len, size_t *ret_cap) {
	if (len < REPLY_KEEP_MIN || len > REPLY_KEEP_SIZE) {
		*ret_cap = len;
		return malloc(len);
	}
	*ret_cap = REPLY_KEEP_SIZE;
	if (s->reply_kept)
		return TAKE_PTR(s->reply_kept);
	return malloc(REPLY_KEEP_SIZE);
}

static void reply_buf_put(ttrpc_server *s, uint8_t *frame, size_t cap) {
	if (cap == REPLY_KEEP_SIZE && !s->reply_kept)
		s->reply_kept = frame;
	else
		free(frame);
}

static int conn_flush(ttrpc_conn *c) {
	while (c->out_head) {
		struct iovec iov[16];
		int n = 0;
		for (outbuf *b = c->out_head; b && n < (int)ELEMENTSOF(iov); b = b->next, n++)
			iov[n] = (struct iovec){ .iov_base = b->frame + b->off, .iov_len = b->len - b->off };
		ssize_t w = writev(c->fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->out_bytes -= (size_t)w;
		while (w > 0) {
			outbuf *b = c->out_head;
			size_t left = b->len - b->off;
			if ((size_t)w < left) {
				b->off += (size_t)w;
				break;
			}
			w -= (ssize_t)left;
			c->out_head = b->next;
			if (!c->out_head)
				c->out_tail = NULL;
			reply_buf_put(c->srv, b->frame, b->cap);
			free(b);
		}
	}
	return 0;
}

/* Queues one frame, bytes start..end of an owned buffer of cap bytes, and writes what the socket takes now. */
static void conn_send_at(ttrpc_conn *c, uint8_t *frame, size_t cap, size_t start, size_t end) {
	size_t off = start;
	if (c->broken) {
		reply_buf_put(c->srv, frame, cap);
		return;
	}
	if (!c->out_head) {
		ssize_t w;
		do
			w = write(c->fd, frame + start, end - start);
		while (w < 0 && errno == EINTR);
		if (w == (ssize_t)(end - start)) {
			reply_buf_put(c->srv, frame, cap);
			return;
		}
		if (w < 0 && errno != EAGAIN) {
			log_debug("write to connection fd %d: %m", c->fd);
			reply_buf_put(c->srv, frame, cap);
			conn_mark_broken(c);
			return;
		}
		off += w < 0 ? 0 : (size_t)w;
	}
	outbuf *b = malloc(sizeof *b);
	if (!b) {
		reply_buf_put(c->srv, frame, cap);
		conn_mark_broken(c);
		return;
	}
	*b = (outbuf){ .frame = frame, .cap = cap, .len = end, .off = off };
	c->out_bytes += end - off;
	if (c->out_tail) {
		c->out_tail->next = b;
		c->out_tail = b;
		return;
	}
	c->out_head = c->out_tail = b;
	conn_set_events(c);
}

static void conn_send(ttrpc_conn *c, uint8_t *frame, size_t cap, size_t len) {
	conn_send_at(c, frame, cap, 0, len);
}

static void send_status(ttrpc_conn *c, uint32_t stream_id, int code, const char *msg) {
	uint8_t *frame;
	size_t len;
	if (ttrpc_response_build(stream_id, code, msg, NULL, &frame, &len) < 0) {
		conn_mark_broken(c);
		return;
	}
	conn_send(c, frame, len, len);
}

/* ---- answering ---- */

void ttrpc_call_reply(ttrpc_call *call, const ProtobufCMessage *resp) {
	size_t len, cap;
	uint8_t *frame = NULL;
	int r = ttrpc_response_frame_size(resp, &len);
	if (r >= 0 && !(frame = reply_buf_get(call->conn->srv, len, &cap)))
		r = -ENOMEM;
	if (r < 0)
		send_status(call->conn, call->stream_id, KC_RESOURCE_EXHAUSTED,
			    r == -EMSGSIZE ? "reply exceeds the 4 MiB frame limit" : "out of memory building reply");
	else {
		ttrpc_response_pack(call->stream_id, resp, frame);
		conn_send(call->conn, frame, cap, len);
	}
	call_free(call);
}

uint8_t *ttrpc_call_data_buf(ttrpc_call *call) {
	size_t cap;
	uint8_t *buf = reply_buf_get(call->conn->srv, REPLY_KEEP_SIZE, &cap);
	return buf ? buf + DATA_HEADROOM : NULL;
}

void ttrpc_call_data_buf_put(ttrpc_call *call, uint8_t *data) {
	reply_buf_put(call->conn->srv, data - DATA_HEADROOM, REPLY_KEEP_SIZE);
}

void ttrpc_call_reply_data(ttrpc_call *call, uint32_t field, uint8_t *data, size_t n) {
	if (field < 1 || field > 15 || n > TTRPC_DATA_MAX) {
		ttrpc_call_data_buf_put(call, data);
		ttrpc_call_fail(call, KC_INTERNAL, "data reply of %zu bytes in field %u", n, field);
		return;
	}
	if (n == 0) {
		/* The empty message: a Response without payload, as ttrpc_call_reply() sends it. */
		ttrpc_call_data_buf_put(call, data);
		send_status(call->conn, call->stream_id, 0, NULL);
	} else {
		size_t hlen = ttrpc_response_data_header(call->stream_id, field, n, data);
		conn_send_at(call->conn, data - DATA_HEADROOM, REPLY_KEEP_SIZE, DATA_HEADROOM - hlen, DATA_HEADROOM + n);
	}
	call_free(call);
}

/* Reads exactly n bytes that are known to wait in pipe fd. */
static int read_promised(int fd, uint8_t *buf, size_t n) {
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		got += (size_t)r;
	}
	return 0;
}

/* The fallback of ttrpc_call_reply_pipe: bytes start.. of the frame (header at hdr, hlen bytes, then n data bytes
 * from fd) read into a reply buffer and sent as usual; frees call. Without a buffer before any of the frame is
 * out, only this call fails (its bytes stay in the pipe for the next read). */
static void reply_pipe_copy(ttrpc_call *call, const uint8_t *hdr, size_t hlen, int fd, size_t n, size_t start) {
	ttrpc_conn *c = call->conn;
	uint8_t *data = ttrpc_call_data_buf(call);
	if (!data && hdr && start == 0) {
		ttrpc_call_fail(call, KC_RESOURCE_EXHAUSTED, "out of memory for a reply of %zu bytes", n);
		return;
	}
	int r = data ? read_promised(fd, data, n) : -ENOMEM;
	if (r < 0) {
		/* The frame is promised or the bytes are gone: the session cannot go on. */
		log_warn("reply of %zu bytes from a pipe: %s; dropping the connection", n, strerror(-r));
		if (data)
			ttrpc_call_data_buf_put(call, data);
		conn_mark_broken(c);
		call_free(call);
		return;
	}
	if (hlen)
		memcpy(data - hlen, hdr, hlen);
	conn_send_at(c, data - DATA_HEADROOM, REPLY_KEEP_SIZE, DATA_HEADROOM - hlen + start, DATA_HEADROOM + n);
	call_free(call);
}

void ttrpc_call_reply_pipe(ttrpc_call *call, uint32_t field, int fd, size_t n) {
	ttrpc_conn *c = call->conn;
	uint8_t hbuf[TTRPC_DATA_HEADER_MAX];
	size_t hlen, done = 0;
	ssize_t w;

	if (field < 1 || field > 15 || n == 0 || n > TTRPC_DATA_MAX) {
		ttrpc_call_fail(call, KC_INTERNAL, "data reply of %zu bytes in field %u", n, field);
		return;
	}
	hlen = ttrpc_response_data_header(call->stream_id, field, n, hbuf + sizeof hbuf);
	const uint8_t *hdr = hbuf + sizeof hbuf - hlen;
	/* Splicing needs the socket to ourselves: nothing queued ahead, and a socket (not the serial port). */
	if (c->broken || c->serial || c->out_head) {
		reply_pipe_copy(call, hdr, hlen, fd, n, 0);
		return;
	}
	do
		w = send(c->fd, hdr, hlen, MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN) {
		log_debug("write to connection fd %d: %m", c->fd);
		conn_mark_broken(c);
		call_free(call);
		return;
	}
	if (w < (ssize_t)hlen) {
		reply_pipe_copy(call, hdr, hlen, fd, n, w < 0 ? 0 : (size_t)w);
		return;
	}
	while (done < n) {
		ssize_t k = splice(fd, NULL, c->fd, NULL, n - done, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	/* A full socket (EAGAIN), or a kernel or socket type that cannot splice (EINVAL): the rest is copied. A
	 * failed socket shows again on that copy's write. */
	if (done < n)
		reply_pipe_copy(call, NULL, 0, fd, n - done, 0);
	else
		call_free(call);
}

void ttrpc_call_fail(ttrpc_call *call, int code, const char *fmt, ...) {
	char msg[KC_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	send_status(call->conn, call->stream_id, code, msg);
	call_free(call);
}

void ttrpc_call_fail_error(ttrpc_call *call, const kc_error *err) {
	int code = kc_error_code(err);
	ttrpc_call_fail(call, code ? code : KC_INTERNAL, "%s", err->msg[0] ? err->msg : strerror(err->err));
}

void ttrpc_call_on_cancel(ttrpc_call *call, void (*fn)(ttrpc_call *call, void *userdata), void *userdata) {
	call->cancel = fn;
	call->cancel_userdata = userdata;
}

const char *ttrpc_call_method(const ttrpc_call *call) {
	return call->method ? call->method->name : "?";
}

static void call_cancel(ttrpc_call *call) {
	if (call->cancel)
		call->cancel(call, call->cancel_userdata);
	call_free(call);
}

/* Ends a pending call from the server's side: its owner forgets it first (the cancel hook), then the caller
 * gets the status. */
static void call_abort(ttrpc_call *call, int code, const char *msg) {
	if (call->cancel)
		call->cancel(call, call->cancel_userdata);
	call->cancel = NULL;
	ttrpc_call_fail(call, code, "/%s/%s: %s", call->service, call->method->name, msg);
}

static void deadline_fired(ev_timer *t, void *userdata) {
	ttrpc_call *call = userdata;
	char msg[64];
	(void)snprintf(msg, sizeof msg, "deadline of %lld ns exceeded", (long long)call->timeout_ns);
	call_abort(call, KC_DEADLINE_EXCEEDED, msg);
}

/* ---- dispatch ---- */

static const ProtobufCMethodDescriptor *find_method(ttrpc_server *s, const char *service, const char *method,
						     ttrpc_handler_fn *ret_handler, const char **ret_service) {
	for (size_t i = 0; i < s->n_services; i++) {
		const ProtobufCServiceDescriptor *d = s->services[i].desc;
		if (strcmp(d->name, service) != 0)
			continue;
		const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(d, method);
		if (!m)
			return NULL;
		*ret_handler = s->services[i].handlers[m - d->methods];
		*ret_service = d->name;
		return m;
	}
	return NULL;
}

static void dispatch(ttrpc_conn *c, uint32_t stream_id, const uint8_t *payload, size_t len) {
	ttrpc_server *s = c->srv;
	Ttrpc__Request *req;
	ttrpc_handler_fn handler = NULL;
	const char *service = NULL;
	kc_error err = { 0 };

	if ((stream_id & 1) == 0) {
		send_status(c, stream_id, KC_INVALID_ARGUMENT, "stream id must be odd for client requests");
		return;
	}
	if (call_find(c, stream_id)) {
		send_status(c, stream_id, KC_INVALID_ARGUMENT, "stream id is already in use by a call in progress");
		return;
	}
	req = ttrpc__request__unpack(NULL, len, payload);
	if (!req) {
		send_status(c, stream_id, KC_INVALID_ARGUMENT, "cannot decode the ttrpc.Request envelope");
		return;
	}
	const ProtobufCMethodDescriptor *m = find_method(s, req->service, req->method, &handler, &service);
	if (!m || !handler) {
		send_status(c, stream_id, KC_UNIMPLEMENTED,
			    !m ? "method does not exist" : "method is not implemented by this agent");
		log_debug("/%.100s/%.100s: %s", req->service, req->method, !m ? "unknown" : "unimplemented");
		ttrpc__request__free_unpacked(req, NULL);
		return;
	}

	ttrpc_call *call = calloc(1, sizeof *call);
	if (!call) {
		send_status(c, stream_id, KC_RESOURCE_EXHAUSTED, "out of memory");
		ttrpc__request__free_unpacked(req, NULL);
		return;
	}
	call->conn = c;
	call->stream_id = stream_id;
	call->method = m;
	call->service = service;
	call->timeout_ns = req->timeout_nano;
	ev_timer_init(&call->deadline, s->loop, deadline_fired, call);
	call->hnext = *call_slot(c, stream_id);
	*call_slot(c, stream_id) = call;
	c->n_calls++;

	/* A missing payload is an empty message (an empty CheckRequest encodes to nothing). */
	call->req = protobuf_c_message_unpack(m->input, NULL, req->payload.len, req->payload.data);
	ttrpc__request__free_unpacked(req, NULL);
	if (!call->req) {
		ttrpc_call_fail(call, KC_INVALID_ARGUMENT, "/%s/%s: cannot decode %s", call->service, m->name,
				m->input->name);
		return;
	}

	int r = handler(s->ctx, call, call->req, &err);
	if (r == TTRPC_PENDING) {
		call->held_bytes = (uint32_t)len;
		c->held_bytes += len;
		/* A deadline beyond a year is no deadline: it also keeps now + timeout from wrapping around. */
		if (call->timeout_ns > 0 && (uint64_t)call->timeout_ns < MAX_DEADLINE_NS &&
		    ev_timer_arm(&call->deadline, now_ns() + (uint64_t)call->timeout_ns) < 0)
			call_abort(call, KC_RESOURCE_EXHAUSTED, "cannot arm the deadline");
		return;
	}
	if (r < 0)
		ttrpc_call_fail_error(call, &err);
	/* r == 0: the handler answered (and freed) the call. */
}

/* Works through buffered input until it is used up or a cap is reached. */
static void conn_process(ttrpc_conn *c) {
	c->processing = true;
	while (c->in_off < c->in_len && !c->broken) {
		if (conn_over_cap(c)) {
			c->paused = true;
			break;
		}
		size_t used;
		ttrpc_read_event ev;
		int r = ttrpc_reader_feed(&c->rd, c->inbuf + c->in_off, c->in_len - c->in_off, &used, &ev);
		c->in_off += used;
		if (r < 0) {
			/* The payload could not be buffered: it is being skipped; tell the caller. */
			send_status(c, c->rd.header.stream_id, KC_RESOURCE_EXHAUSTED, "out of memory for request");
			continue;
		}
		if (ev == TTRPC_READ_OVERSIZE) {
			if (c->rd.header.type == TTRPC_TYPE_REQUEST) {
				char msg[96];
				(void)snprintf(msg, sizeof msg, "frame of %u bytes exceeds the limit of %u bytes",
					       c->rd.header.length, c->rd.max_frame);
				send_status(c, c->rd.header.stream_id, KC_RESOURCE_EXHAUSTED, msg);
			}
			continue;
		}
		if (ev != TTRPC_READ_FRAME)
			continue;
		_cleanup_free_ uint8_t *payload = ttrpc_reader_take_payload(&c->rd);
		if (c->rd.header.type != TTRPC_TYPE_REQUEST) {
			log_debug("skipping frame of type %u on stream %u", c->rd.header.type, c->rd.header.stream_id);
			continue;
		}
		dispatch(c, c->rd.header.stream_id, payload, c->rd.header.length);
	}
	if (c->in_off >= c->in_len)
		c->in_off = c->in_len = 0;
	c->processing = false;
	if (c->paused)
		conn_set_events(c);
}

/* ---- connection lifetime ---- */

static void conn_drop_session(ttrpc_conn *c) {
	for (size_t i = 0; i < CALL_BUCKETS; i++)
		while (c->calls[i])
			call_cancel(c->calls[i]);
	while (c->out_head) {
		outbuf *b = c->out_head;
		c->out_head = b->next;
		reply_buf_put(c->srv, b->frame, b->cap);
		free(b);
	}
	c->out_tail = NULL;
	c->out_bytes = 0;
	ttrpc_reader_reset(&c->rd);
	c->in_off = c->in_len = 0;
}

static void conn_free(ttrpc_conn *c) {
	ttrpc_server *s = c->srv;
	c->processing = true; /* no resume while tearing down */
	conn_drop_session(c);
	c->io = ev_io_free(c->io);
	ev_timer_disarm(&c->serial_retry);
	safe_close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	ttrpc_reader_reset(&c->rd);
	free(c->inbuf);
	free(c);
	listeners_resume(s);
}

/* The host side of the serial port went away: forget the session, keep the fd, wait without spinning. */
static void serial_reset(ttrpc_conn *c) {
	if (!c->host_away)
		log_info("host disconnected from the serial port; session reset");
	c->processing = true;
	conn_drop_session(c);
	c->processing = false;
	c->broken = false;
	c->paused = false;
	c->host_away = true;
	conn_set_events(c);
	(void)ev_timer_arm(&c->serial_retry, now_ns() + SERIAL_RETRY_NS);
}

static void reap_broken(ev_timer *t, void *userdata) {
	ttrpc_server *s = userdata;
	while (s->broken) {
		ttrpc_conn *c = s->broken;
		s->broken = c->next_broken;
		c->next_broken = NULL;
		if (c->serial)
			serial_reset(c);
		else
			conn_free(c);
	}
}

static void host_returned(ttrpc_conn *c) {
	if (!c->host_away)
		return;
	log_info("host connected to the serial port");
	c->host_away = false;
	ev_timer_disarm(&c->serial_retry);
}

static void conn_read(ttrpc_conn *c) {
	for (int i = 0;; i++) {
		if (c->paused || c->broken)
			return;
		if (i == READS_PER_WAKEUP) {
			/* Let the rest of the loop run. A socket reports the remaining bytes again (level-triggered);
			 * an edge-triggered serial port would not, so come back to it at once through its timer. */
			if (c->serial)
				(void)ev_timer_arm(&c->serial_retry, now_ns());
			return;
		}
		ssize_t n = read(c->fd, c->inbuf, INBUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				host_returned(c);
				return;
			}
			log_debug("read from connection fd %d: %m", c->fd);
			conn_mark_broken(c);
			return;
		}
		if (n == 0) {
			if (c->serial && c->host_away) {
				(void)ev_timer_arm(&c->serial_retry, now_ns() + SERIAL_RETRY_NS);
				return;
			}
			if (!c->serial && ttrpc_reader_mid_header(&c->rd))
				log_debug("connection fd %d closed in the middle of a frame header", c->fd);
			conn_mark_broken(c);
			return;
		}
		host_returned(c);
		c->in_off = 0;
		c->in_len = (size_t)n;
		conn_process(c);
	}
}

static void serial_retry(ev_timer *t, void *userdata) {
	conn_read(userdata);
}

static int conn_io(ev_io *io, int fd, uint32_t revents, void *userdata) {
	ttrpc_conn *c = userdata;
	if (revents & EPOLLOUT) {
		int r = conn_flush(c);
		if (r < 0) {
			log_debug("write to connection fd %d: %s", c->fd, strerror(-r));
			conn_mark_broken(c);
		} else {
			conn_set_events(c);
			conn_maybe_resume(c);
		}
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(c);
	return 0;
}

static int conn_new(ttrpc_server *s, int fd, bool serial, ttrpc_conn **ret) {
	ttrpc_conn *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->inbuf = malloc(INBUF_SIZE);
	if (!c->inbuf) {
		free(c);
		return -ENOMEM;
	}
	c->srv = s;
	c->fd = fd;
	c->serial = serial;
	/* SO_SNDBUFFORCE passes net.core.wmem_max (the agent is root); a refusal (a vsock transport that sizes its
	 * own buffers) leaves the default, which only costs round trips. */
	if (!serial) {
		int sz = CONN_SNDBUF;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz) < 0)
			log_debug("SO_SNDBUF %d on connection fd %d: %m", sz, fd);
	}
	ttrpc_reader_init(&c->rd, s->limits.max_frame);
	ev_timer_init(&c->serial_retry, s->loop, serial_retry, c);
	int r = ev_io_add(s->loop, fd, serial ? EPOLLIN | EPOLLET : EPOLLIN, conn_io, c, "ttrpc connection", &c->io);
	if (r < 0) {
		free(c->inbuf);
		free(c);
		return r;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	if (ret)
		*ret = c;
	return 0;
}

/* ---- listeners ---- */

static void listener_set_paused(listener *l, bool paused) {
	if (l->paused == paused)
		return;
	l->paused = paused;
	(void)ev_io_set_events(l->io, paused ? 0 : EPOLLIN);
}

static void listeners_resume(ttrpc_server *s) {
	if (s->n_conns >= s->limits.max_conns)
		return;
	for (listener *l = s->listeners; l; l = l->next)
		listener_set_paused(l, false);
}

static int listener_io(ev_io *io, int fd, uint32_t revents, void *userdata) {
	listener *l = userdata;
	ttrpc_server *s = l->srv;
	for (int i = 0; i < 16; i++) {
		if (s->n_conns >= s->limits.max_conns) {
			/* Leave further clients in the backlog until a connection closes. */
			listener_set_paused(l, true);
			return 0;
		}
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* The client stays in the backlog and level-triggered epoll would report it again at
				 * once: pause, and look again a little later (or when a connection closes). */
				log_warn("accept: %m; pausing the listener");
				listener_set_paused(l, true);
				(void)ev_timer_arm(&s->listen_retry, now_ns() + LISTEN_RETRY_NS);
				return 0;
			}
			/* Anything else (EAGAIN, EINTR, ECONNABORTED, EPROTO, network errors) concerns one client;
			 * the listener must never be disabled, or the host could not come back. */
			if (errno != EAGAIN && errno != EINTR)
				log_debug("accept: %m");
			return 0;
		}
		if (conn_new(s, cfd, false, NULL) < 0) {
			log_warn("dropping a new connection: out of memory");
			safe_close(cfd);
		}
	}
	return 0;
}

static void listen_retry(ev_timer *t, void *userdata) {
	listeners_resume(userdata);
}

int ttrpc_server_add_listener(ttrpc_server *s, int fd, kc_error *err) {
	listener *l = calloc(1, sizeof *l);
	if (!l) {
		safe_close(fd);
		return kc_error_set(err, ENOMEM, "listener");
	}
	l->srv = s;
	l->fd = fd;
	int r = ev_io_add(s->loop, fd, EPOLLIN, listener_io, l, "ttrpc listener", &l->io);
	if (r < 0) {
		safe_close(fd);
		free(l);
		return kc_error_set(err, -r, "watch listener: %s", strerror(-r));
	}
	l->next = s->listeners;
	s->listeners = l;
	return 0;
}

int ttrpc_server_add_serial(ttrpc_server *s, int fd, kc_error *err) {
	ttrpc_conn *c;
	int r = fd_set_nonblock(fd, true);
	if (r >= 0)
		r = conn_new(s, fd, true, &c);
	if (r < 0) {
		safe_close(fd);
		return kc_error_set(err, -r, "serial port connection: %s", strerror(-r));
	}
	/* Bytes may already be waiting: edge-triggered epoll only reports new ones. */
	conn_read(c);
	return 0;
}

int ttrpc_server_new(ev_loop *loop, const ttrpc_service *services, size_t n_services, void *ctx,
		     const ttrpc_limits *limits, ttrpc_server **ret) {
	ttrpc_server *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->services = services;
	s->n_services = n_services;
	s->ctx = ctx;
	s->limits = limits ? *limits : TTRPC_DEFAULT_LIMITS;
	if (s->limits.max_frame == 0 || s->limits.max_frame > TTRPC_MAX_FRAME)
		s->limits.max_frame = TTRPC_MAX_FRAME;
	ev_timer_init(&s->reap_timer, loop, reap_broken, s);
	ev_timer_init(&s->listen_retry, loop, listen_retry, s);
	*ret = s;
	return 0;
}

ttrpc_server *ttrpc_server_free(ttrpc_server *s) {
	if (!s)
		return NULL;
	ev_timer_disarm(&s->reap_timer);
	ev_timer_disarm(&s->listen_retry);
	s->broken = NULL;
	while (s->conns)
		conn_free(s->conns);
	while (s->listeners) {
		listener *l = s->listeners;
		s->listeners = l->next;
		ev_io_free(l->io);
		safe_close(l->fd);
		free(l);
	}
	free(s->reply_kept);
	free(s);
	return NULL;
}

void ttrpc_server_flush(ttrpc_server *s, int timeout_ms) {
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	for (ttrpc_conn *c = s->conns; c; c = c->next) {
		while (c->out_head && !c->broken) {
			uint64_t now = now_ns();
			if (now >= end)
				return;
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			if (poll(&p, 1, (int)((end - now) / 1000000ULL) + 1) <= 0)
				break;
			if (conn_flush(c) < 0)
				break;
		}
	}
}

unsigned ttrpc_server_n_connections(const ttrpc_server *s) {
	return s->n_conns;
}
