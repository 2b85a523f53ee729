/* stdio streams of container processes (streams.h). Each stream keeps a FIFO of the calls waiting on it; the
 * fd is in the loop only while that FIFO is non-empty, so an idle pipe costs nothing and a hung-up one cannot
 * spin the loop. A call is unlinked before it is answered: answering may end its connection, whose cancel
 * hooks then unlink the other calls of that connection. */
#define LOG_SOURCE "streams"
#include "agent/streams.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "common/log.h"
#include "common/util.h"

typedef struct pending {
	ttrpc_call *call;
	void *owner;
	const uint8_t *data; /* writes: into the request */
	size_t len, off;     /* reads: len is the size asked for */
	bool close;          /* writes: the empty write that closes stdin */
	struct pending *prev, *next;
} pending;

typedef struct queue {
	pending *head, *tail;
	unsigned n;
} queue;

static void queue_push(queue *q, pending *p) {
	p->prev = q->tail;
	p->next = NULL;
	if (q->tail)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->n++;
}

static void queue_unlink(queue *q, pending *p) {
	if (p->prev)
		p->prev->next = p->next;
	else
		q->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		q->tail = p->prev;
	q->n--;
}

/* ---- readers ---- */

struct stream_reader {
	agent *agent;
	int fd;
	bool tty, eof, exited;
	uint64_t drain_deadline;
	void (*on_eof)(void *userdata);
	void *userdata;
	ev_io *io;
	ev_timer drain;
	queue q;
};

/* ReadStreamResponse's one field, `bytes data = 1` (agent.proto). */
#define READ_STREAM_DATA_FIELD 1
_Static_assert(STREAM_READ_MAX <= TTRPC_DATA_MAX, "a reply fits the lent buffer");

static void reply_data(ttrpc_call *call, const uint8_t *data, size_t n) {
	Grpc__ReadStreamResponse resp = GRPC__READ_STREAM_RESPONSE__INIT;
	resp.data.data = (uint8_t *)data;
	resp.data.len = n;
	ttrpc_call_reply(call, &resp.base);
}

static void reader_cancel(ttrpc_call *call, void *userdata) {
	pending *p = userdata;
	stream_reader *s = p->owner;
	queue_unlink(&s->q, p);
	free(p);
	if (!s->q.head)
		s->io = ev_io_free(s->io);
}

static void reader_answer_eof(stream_reader *s) {
	bool first = !s->eof;
	s->eof = true;
	s->io = ev_io_free(s->io);
	ev_timer_disarm(&s->drain);
	for (pending *p; (p = s->q.head);) {
		queue_unlink(&s->q, p);
		ttrpc_call *call = p->call;
		free(p);
		reply_data(call, NULL, 0);
	}
	if (first && s->on_eof)
		s->on_eof(s->userdata);
}

/* Answers the oldest call with what the pipe holds, up to its len; a terminal is read until len is filled or
 * nothing is left. Returns 1 when that call was answered, 0 when the stream is empty for now. */
static int reader_step(stream_reader *s, pending *p) {
	size_t want = MIN(MAX(p->len, (size_t)1), (size_t)STREAM_READ_MAX), got = 0;
	ssize_t n;
	int avail;
	/* Bytes waiting in a pipe go to the host without passing through the agent (spliced). A terminal cannot
	 * splice, and an empty pipe may be at EOF, which only a read tells. */
	if (!s->tty && ioctl(s->fd, FIONREAD, &avail) >= 0 && avail > 0) {
		queue_unlink(&s->q, p);
		ttrpc_call *call = p->call;
		free(p);
		ttrpc_call_reply_pipe(call, READ_STREAM_DATA_FIELD, s->fd, MIN((size_t)avail, want));
		return 1;
	}
	/* The bytes go straight into the reply frame, which the server keeps from one reply to the next. */
	uint8_t *buf = ttrpc_call_data_buf(p->call);
	if (!buf)
		return 0; /* tried again on the next readiness or read */
	/* One read returns at most what the pipe holds; the writer refills it while we copy, so reading on
	 * until EAGAIN carries several pipes' worth per reply and saves the round trips in between. An error or
	 * EOF after some data is left for the next call to see, once the data has gone out. */
	for (;;) {
		n = read(s->fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == want)
			break;
	}
	if (got > 0) {
		queue_unlink(&s->q, p);
		ttrpc_call *call = p->call;
		free(p);
		ttrpc_call_reply_data(call, READ_STREAM_DATA_FIELD, buf, got);
		return 1;
	}
	int e = errno;
	ttrpc_call_data_buf_put(p->call, buf);
	if (n < 0 && e == EAGAIN) {
		if (s->exited && now_ns() >= s->drain_deadline) {
			reader_answer_eof(s);
			return 1;
		}
		return 0;
	}
	/* 0: every writer closed. A pty master reads EIO once the slave's last holder is gone. Any other error
	 * ends the stream too: nothing more can come from it. */
	if (n < 0 && !(s->tty && e == EIO))
		log_warn("read from a container stream: %s; reporting EOF", strerror(e));
	reader_answer_eof(s);
	return 1;
}

static void reader_serve(stream_reader *s);

static int reader_on_io(ev_io *io, int fd, uint32_t revents, void *userdata) {
	reader_serve(userdata);
	return 0;
}

static void reader_serve(stream_reader *s) {
	while (s->q.head && !s->eof)
		if (reader_step(s, s->q.head) == 0)
			break;
	if (s->eof || !s->q.head) {
		s->io = ev_io_free(s->io);
		return;
	}
	if (!s->io && ev_io_add(s->agent->loop, s->fd, EPOLLIN, reader_on_io, s, "container stream", &s->io) < 0)
		log_warn("cannot watch a container stream: %m");
}

static void reader_drain_done(ev_timer *t, void *userdata) {
	reader_serve(userdata);
}

int stream_reader_new(agent *a, int fd, bool tty, void (*on_eof)(void *userdata), void *userdata,
		      stream_reader **ret) {
	stream_reader *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	int r = fd_set_nonblock(fd, true);
	if (r < 0) {
		free(s);
		return r;
	}
	/* The process writes on while a reply travels to the host and the next ReadStdout comes back; with the
	 * kernel's 64 KiB it stalls on a full pipe for most of that time. A pipe as large as one reply
	 * (STREAM_READ_MAX) lets it write the next reply's worth meanwhile. Its pages are allocated only as they
	 * fill, so a process whose host keeps up costs no more than before; one whose host does not read holds
	 * at most 1 MiB per stream of kernel memory, which the process's own writes pay for (memcg). The agent
	 * has CAP_SYS_RESOURCE, so fs.pipe-max-size does not apply; a refusal leaves the kernel's size. */
	if (!tty && !a->cfg.container_pipe_size && fcntl(fd, F_SETPIPE_SZ, (int)STREAM_PIPE_SIZE) < 0)
		log_debug("F_SETPIPE_SZ %u on a container stream: %m", STREAM_PIPE_SIZE);
	s->agent = a;
	s->fd = fd;
	s->tty = tty;
	s->on_eof = on_eof;
	s->userdata = userdata;
	ev_timer_init(&s->drain, a->loop, reader_drain_done, s);
	*ret = s;
	return 0;
}

stream_reader *stream_reader_free(stream_reader *s) {
	if (!s)
		return NULL;
	s->on_eof = NULL;
	reader_answer_eof(s);
	(void)safe_close(s->fd);
	free(s);
	return NULL;
}

int stream_reader_read(stream_reader *s, ttrpc_call *call, uint32_t len, kc_error *err) {
	if (s->eof) {
		reply_data(call, NULL, 0);
		return 0;
	}
	if (s->q.n >= STREAM_PENDING_MAX)
		return kc_error_set(err, EAGAIN, "%u reads already wait on this stream", s->q.n);
	pending *p = calloc(1, sizeof *p);
	if (!p)
		return kc_error_set(err, ENOMEM, "out of memory");
	p->call = call;
	p->owner = s;
	p->len = len;
	queue_push(&s->q, p);
	/* Only the oldest call reads; a newer one answered first would reorder the bytes. */
	if (s->q.head == p && reader_step(s, p) == 1)
		return 0;
	if (!s->io && ev_io_add(s->agent->loop, s->fd, EPOLLIN, reader_on_io, s, "container stream", &s->io) < 0) {
		queue_unlink(&s->q, p);
		free(p);
		return kc_error_set(err, EIO, "cannot watch the stream");
	}
	ttrpc_call_on_cancel(call, reader_cancel, p);
	return TTRPC_PENDING;
}

void stream_reader_process_exited(stream_reader *s) {
	if (s->exited)
		return;
	s->exited = true;
	s->drain_deadline = now_ns() + (uint64_t)STREAM_DRAIN_MS * 1000000u;
	(void)ev_timer_arm(&s->drain, s->drain_deadline);
}

bool stream_reader_eof(const stream_reader *s) {
	return s->eof;
}

/* ---- writers ---- */

struct stream_writer {
	agent *agent;
	int fd;
	bool tty, broken;
	ev_io *io;
	queue q;
};

static void reply_len(ttrpc_call *call, size_t len) {
	Grpc__WriteStreamResponse resp = GRPC__WRITE_STREAM_RESPONSE__INIT;
	resp.len = (uint32_t)len;
	ttrpc_call_reply(call, &resp.base);
}

static void writer_cancel(ttrpc_call *call, void *userdata) {
	pending *p = userdata;
	stream_writer *w = p->owner;
	queue_unlink(&w->q, p);
	free(p);
	if (!w->q.head)
		w->io = ev_io_free(w->io);
}

static void writer_fail_all(stream_writer *w, int e) {
	w->broken = true;
	w->io = ev_io_free(w->io);
	for (pending *p; (p = w->q.head);) {
		queue_unlink(&w->q, p);
		ttrpc_call *call = p->call;
		size_t done = p->off;
		free(p);
		ttrpc_call_fail(call, KC_UNAVAILABLE, "stdin: %s after %zu bytes (the process closed it or is gone)",
				strerror(e), done);
	}
}

static void writer_serve(stream_writer *w);

static int writer_on_io(ev_io *io, int fd, uint32_t revents, void *userdata) {
	writer_serve(userdata);
	return 0;
}

static void writer_serve(stream_writer *w) {
	for (pending *p; (p = w->q.head);) {
		if (p->close) {
			queue_unlink(&w->q, p);
			ttrpc_call *call = p->call;
			free(p);
			if (!w->tty)
				w->fd = safe_close(w->fd);
			reply_len(call, 0);
			continue;
		}
		if (w->fd < 0) {
			writer_fail_all(w, EBADF);
			return;
		}
		while (p->off < p->len) {
			ssize_t n = write(w->fd, p->data + p->off, p->len - p->off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0) {
				writer_fail_all(w, errno);
				return;
			}
			p->off += (size_t)n;
		}
		if (p->off < p->len)
			break;
		queue_unlink(&w->q, p);
		ttrpc_call *call = p->call;
		size_t len = p->len;
		free(p);
		reply_len(call, len);
	}
	if (!w->q.head) {
		w->io = ev_io_free(w->io);
		return;
	}
	if (!w->io && ev_io_add(w->agent->loop, w->fd, EPOLLOUT, writer_on_io, w, "container stdin", &w->io) < 0)
		writer_fail_all(w, EIO);
}

int stream_writer_new(agent *a, int fd, bool tty, stream_writer **ret) {
	stream_writer *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	int r = fd_set_nonblock(fd, true);
	if (r < 0) {
		free(w);
		return r;
	}
	w->agent = a;
	w->fd = fd;
	w->tty = tty;
	*ret = w;
	return 0;
}

stream_writer *stream_writer_free(stream_writer *w) {
	if (!w)
		return NULL;
	writer_fail_all(w, EPIPE);
	(void)safe_close(w->fd);
	free(w);
	return NULL;
}

int stream_writer_write(stream_writer *w, ttrpc_call *call, const uint8_t *data, size_t len, kc_error *err) {
	size_t off = 0;

	if (w->broken || (w->fd < 0 && !w->q.head))
		return kc_error_set_code(err, KC_UNAVAILABLE, EPIPE, "stdin is closed");
	if (w->q.n >= STREAM_PENDING_MAX)
		return kc_error_set(err, EAGAIN, "%u writes already wait on stdin", w->q.n);
	/* Nothing queued ahead: write what the pipe takes now, and answer at once when that is everything. */
	if (!w->q.head) {
		if (len == 0) {
			if (!w->tty)
				w->fd = safe_close(w->fd);
			reply_len(call, 0);
			return 0;
		}
		while (off < len) {
			ssize_t n = write(w->fd, data + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0)
				return kc_error_set_code(err, KC_UNAVAILABLE, errno,
							 "stdin: %s after %zu bytes (the process closed it or is gone)",
							 strerror(errno), off);
			off += (size_t)n;
		}
		if (off == len) {
			reply_len(call, len);
			return 0;
		}
		if (ev_io_add(w->agent->loop, w->fd, EPOLLOUT, writer_on_io, w, "container stdin", &w->io) < 0)
			return kc_error_set(err, EIO, "stdin: cannot watch the pipe after %zu bytes", off);
	}
	pending *p = calloc(1, sizeof *p);
	if (!p) {
		if (!w->q.head)
			w->io = ev_io_free(w->io);
		return kc_error_set(err, ENOMEM, "out of memory");
	}
	p->call = call;
	p->owner = w;
	p->data = data;
	p->len = len;
	p->off = off;
	p->close = len == 0;
	queue_push(&w->q, p);
	ttrpc_call_on_cancel(call, writer_cancel, p);
	return TTRPC_PENDING;
}

void stream_writer_close(stream_writer *w) {
	if (w->tty || w->q.head)
		return; /* a queued close, or the writes, finish first; a terminal stays open */
	w->fd = safe_close(w->fd);
}
