#include "launcher/mux.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "health.pb-c.h"
#include "launcher/ttrpc-client.h"
#include "proto/frame.h"
#include "ttrpc.pb-c.h"

/* Caps on what one party can make us hold: over them a client is paused or dropped, never buffered more. */
#define MAX_CLIENTS 256
#define MAX_PENDING_PER_CLIENT 1024
#define QUEUE_CAP (16u << 20)
#define PENDING_BUCKETS 256
#define TICK_NS (50 * 1000 * 1000ULL)
#define PROBE_INTERVAL_NS (1000 * 1000 * 1000ULL)

typedef enum source_kind {
	SRC_AGENT,
	SRC_CLIENT,
	SRC_LISTEN,
	SRC_SIGNAL,
	SRC_TIMER,
} source_kind;

typedef struct wbuf {
	struct wbuf *next;
	size_t len, off;
	uint8_t data[];
} wbuf;

typedef struct conn {
	source_kind kind; /* first: epoll data points at a conn or at a bare source_kind */
	int fd;
	uint32_t events;
	ttrpc_reader reader;
	wbuf *head, *tail;
	size_t queued;
	unsigned pending;
	struct conn *prev, *next;
} conn;

typedef struct pending_call {
	struct pending_call *next;
	uint32_t agent_stream;
	uint32_t client_stream;
	conn *client; /* NULL: a readiness probe of our own */
} pending_call;

typedef struct mux {
	const mux_config *cfg;
	int epfd;
	source_kind signal_src, timer_src, listen_src;
	int sigfd, timerfd, listenfd;
	conn *agent;
	conn *clients;
	unsigned n_clients;
	bool clients_paused;
	uint32_t next_stream;
	pending_call *pending[PENDING_BUCKETS];
	bool ready;
	uint64_t last_probe_ns;
	bool done;
	bool qemu_exited;
	mux_result result;
} mux;

static pending_call **bucket(mux *m, uint32_t stream) {
	return &m->pending[(stream >> 1) % PENDING_BUCKETS];
}

static int pending_add(mux *m, uint32_t agent_stream, conn *client, uint32_t client_stream) {
	pending_call *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	pending_call **b = bucket(m, agent_stream);
	*p = (pending_call){ .next = *b, .agent_stream = agent_stream, .client_stream = client_stream, .client = client };
	*b = p;
	if (client)
		client->pending++;
	return 0;
}

/* Unlinks and returns the call for agent_stream (caller frees), NULL when nobody waits for it any more. */
static pending_call *pending_take(mux *m, uint32_t agent_stream) {
	for (pending_call **pp = bucket(m, agent_stream); *pp; pp = &(*pp)->next)
		if ((*pp)->agent_stream == agent_stream) {
			pending_call *p = *pp;
			*pp = p->next;
			if (p->client)
				p->client->pending--;
			return p;
		}
	return NULL;
}

static int update_events(mux *m, conn *c) {
	uint32_t ev = 0;
	if (c->kind == SRC_AGENT || !m->clients_paused)
		ev |= EPOLLIN;
	if (c->head)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return 0;
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
		return -errno;
	c->events = ev;
	return 0;
}

static int conn_new(mux *m, int fd, source_kind kind, conn **ret) {
	conn *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->kind = kind;
	c->fd = fd;
	c->events = EPOLLIN;
	if (kind == SRC_CLIENT && m->clients_paused)
		c->events = 0;
	ttrpc_reader_init(&c->reader, TTRPC_MAX_FRAME);
	struct epoll_event e = { .events = c->events, .data.ptr = c };
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		int r = -errno;
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static void conn_free(mux *m, conn *c) {
	while (c->head) {
		wbuf *b = c->head;
		c->head = b->next;
		free(b);
	}
	ttrpc_reader_reset(&c->reader);
	(void)epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	(void)safe_close(c->fd);
	free(c);
}

static void set_clients_paused(mux *m, bool paused) {
	if (m->clients_paused == paused)
		return;
	m->clients_paused = paused;
	for (conn *c = m->clients; c; c = c->next)
		(void)update_events(m, c);
}

/* Writes what the socket takes now; the rest waits for EPOLLOUT. */
static int conn_flush(mux *m, conn *c) {
	while (c->head) {
		wbuf *b = c->head;
		ssize_t n = write(c->fd, b->data + b->off, b->len - b->off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		b->off += (size_t)n;
		c->queued -= (size_t)n;
		if (b->off < b->len)
			break;
		c->head = b->next;
		if (!c->head)
			c->tail = NULL;
		free(b);
	}
	if (c == m->agent && m->clients_paused && c->queued < QUEUE_CAP / 2)
		set_clients_paused(m, false);
	return update_events(m, c);
}

/* Queues one frame: a header for stream_id and type, then payload. */
static int conn_queue(mux *m, conn *c, uint32_t stream_id, uint8_t type, const uint8_t *payload, size_t len) {
	wbuf *b = malloc(sizeof *b + TTRPC_HEADER_SIZE + len);
	if (!b)
		return -ENOMEM;
	ttrpc_header h = { .length = (uint32_t)len, .stream_id = stream_id, .type = type };
	ttrpc_header_encode(&h, b->data);
	if (len)
		memcpy(b->data + TTRPC_HEADER_SIZE, payload, len);
	b->len = TTRPC_HEADER_SIZE + len;
	b->off = 0;
	b->next = NULL;
	if (c->tail)
		c->tail->next = b;
	else
		c->head = b;
	c->tail = b;
	c->queued += b->len;
	return conn_flush(m, c);
}

static int send_status(mux *m, conn *c, uint32_t stream, int code, const char *msg) {
	_cleanup_free_ uint8_t *frame = NULL;
	size_t len;
	int r = ttrpc_response_build_raw(stream, code, msg, NULL, 0, &frame, &len);
	if (r < 0)
		return r;
	return conn_queue(m, c, stream, TTRPC_TYPE_RESPONSE, frame + TTRPC_HEADER_SIZE, len - TTRPC_HEADER_SIZE);
}

static void client_close(mux *m, conn *c) {
	/* Forget its calls: their responses become unknown streams and are dropped when they arrive. */
	for (size_t i = 0; i < PENDING_BUCKETS && c->pending; i++)
		for (pending_call **pp = &m->pending[i]; *pp;) {
			pending_call *p = *pp;
			if (p->client == c) {
				*pp = p->next;
				free(p);
				c->pending--;
			} else
				pp = &p->next;
		}
	if (c->prev)
		c->prev->next = c->next;
	else
		m->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->n_clients--;
	conn_free(m, c);
}

static void fail_all_pending(mux *m, const char *why) {
	for (size_t i = 0; i < PENDING_BUCKETS; i++)
		while (m->pending[i]) {
			pending_call *p = m->pending[i];
			m->pending[i] = p->next;
			if (p->client) {
				p->client->pending--;
				(void)send_status(m, p->client, p->client_stream, KC_UNAVAILABLE, why);
			}
			free(p);
		}
}

static uint32_t alloc_stream(mux *m) {
	uint32_t s = m->next_stream;
	m->next_stream += 2;
	if (m->next_stream < s) /* wrapped: start over at 1, odd as the protocol wants */
		m->next_stream = 1;
	return s;
}

static int send_probe(mux *m) {
	uint32_t s = alloc_stream(m);
	_cleanup_free_ uint8_t *frame = NULL;
	size_t len;
	int r = ttrpc_request_build_raw(s, "grpc.Health", "Check", NULL, 0, 0, &frame, &len);
	if (r < 0)
		return r;
	r = pending_add(m, s, NULL, 0);
	if (r < 0)
		return r;
	m->last_probe_ns = now_ns();
	return conn_queue(m, m->agent, s, TTRPC_TYPE_REQUEST, frame + TTRPC_HEADER_SIZE, len - TTRPC_HEADER_SIZE);
}

static int listen_api(mux *m) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = m->cfg->api_path;
	int r;

	r = format_checked(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (r < 0)
		return r;
	(void)unlink(path);
	m->listenfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->listenfd < 0)
		return -errno;
	/* The API drives the VM (DestroySandbox): owner only. */
	mode_t old = umask(0077);
	r = bind(m->listenfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(m->listenfd, 64) < 0)
		return -errno;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &m->listen_src };
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->listenfd, &e) < 0)
		return -errno;
	return 0;
}

static int on_probe_response(mux *m, const uint8_t *payload, size_t len) {
	if (m->ready)
		return 0;
	Ttrpc__Response *resp = ttrpc__response__unpack(NULL, len, payload);
	if (!resp)
		return 0;
	bool serving = false;
	if (!resp->status || resp->status->code == 0) {
		Grpc__HealthCheckResponse *h =
			grpc__health_check_response__unpack(NULL, resp->payload.len, resp->payload.data);
		serving = h && h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
		if (h)
			grpc__health_check_response__free_unpacked(h, NULL);
	}
	ttrpc__response__free_unpacked(resp, NULL);
	if (!serving)
		return 0;

	uint64_t elapsed = now_ns() - m->cfg->start_ns;
	int r = listen_api(m);
	if (r < 0) {
		fprintf(stderr, "kata-launch: cannot listen on %s: %s\n", m->cfg->api_path, strerror(-r));
		return r;
	}
	m->ready = true;
	m->result.ready = 1;
	if (m->cfg->on_ready)
		m->cfg->on_ready(m->cfg->userdata, elapsed);
	return 0;
}

static int on_agent_frame(mux *m, conn *a) {
	ttrpc_header *h = &a->reader.header;
	if (h->type != TTRPC_TYPE_RESPONSE)
		return 0;
	_cleanup_free_ pending_call *p = pending_take(m, h->stream_id);
	_cleanup_free_ uint8_t *payload = ttrpc_reader_take_payload(&a->reader);
	if (!p)
		return 0;
	if (!p->client)
		return on_probe_response(m, payload, h->length);
	int r = conn_queue(m, p->client, p->client_stream, TTRPC_TYPE_RESPONSE, payload, h->length);
	if (r < 0 || p->client->queued > QUEUE_CAP) {
		/* A client that does not read its responses is dropped rather than buffered without bound. */
		client_close(m, p->client);
	}
	return 0;
}

static void agent_lost(mux *m) {
	fail_all_pending(m, "agent connection lost");
	conn_free(m, m->agent);
	m->agent = NULL;
	set_clients_paused(m, false);
	if (!m->cfg->qemu_pid) {
		m->result.exit = MUX_EXIT_AGENT_EOF;
		m->done = true;
	}
}

static void on_agent_readable(mux *m) {
	conn *a = m->agent;
	uint8_t buf[64 * 1024];
	ssize_t n = read(a->fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		agent_lost(m);
		return;
	}
	for (size_t off = 0; off < (size_t)n;) {
		size_t used;
		ttrpc_read_event ev;
		int r = ttrpc_reader_feed(&a->reader, buf + off, (size_t)n - off, &used, &ev);
		off += used;
		if (r < 0) {
			agent_lost(m);
			return;
		}
		if (ev == TTRPC_READ_FRAME)
			(void)on_agent_frame(m, a);
		else if (ev == TTRPC_READ_OVERSIZE) {
			_cleanup_free_ pending_call *p = pending_take(m, a->reader.header.stream_id);
			if (p && p->client)
				(void)send_status(m, p->client, p->client_stream, KC_RESOURCE_EXHAUSTED,
						  "response larger than the 4 MiB frame limit");
		}
	}
}

static int on_client_request(mux *m, conn *c, const ttrpc_header *h, const uint8_t *payload) {
	if (!m->agent)
		return send_status(m, c, h->stream_id, KC_UNAVAILABLE, "agent not connected");
	if (c->pending >= MAX_PENDING_PER_CLIENT)
		return send_status(m, c, h->stream_id, KC_RESOURCE_EXHAUSTED, "too many calls pending");
	uint32_t s = alloc_stream(m);
	int r = pending_add(m, s, c, h->stream_id);
	if (r < 0)
		return send_status(m, c, h->stream_id, KC_RESOURCE_EXHAUSTED, "out of memory");
	r = conn_queue(m, m->agent, s, TTRPC_TYPE_REQUEST, payload, h->length);
	if (r < 0)
		return r;
	if (m->agent->queued > QUEUE_CAP)
		set_clients_paused(m, true);
	return 0;
}

static void on_client_readable(mux *m, conn *c) {
	uint8_t buf[64 * 1024];
	ssize_t n = read(c->fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		client_close(m, c);
		return;
	}
	for (size_t off = 0; off < (size_t)n;) {
		size_t used;
		ttrpc_read_event ev;
		int r = ttrpc_reader_feed(&c->reader, buf + off, (size_t)n - off, &used, &ev);
		off += used;
		if (r < 0) {
			client_close(m, c);
			return;
		}
		if (ev == TTRPC_READ_OVERSIZE)
			r = send_status(m, c, c->reader.header.stream_id, KC_RESOURCE_EXHAUSTED,
					"request larger than the 4 MiB frame limit");
		else if (ev == TTRPC_READ_FRAME && c->reader.header.type == TTRPC_TYPE_REQUEST) {
			_cleanup_free_ uint8_t *payload = ttrpc_reader_take_payload(&c->reader);
			r = on_client_request(m, c, &c->reader.header, payload);
		}
		if (r < 0 || c->queued > QUEUE_CAP) {
			client_close(m, c);
			return;
		}
	}
}

static void on_accept(mux *m) {
	int fd = accept4(m->listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (m->n_clients >= MAX_CLIENTS) {
		(void)safe_close(fd);
		return;
	}
	conn *c;
	if (conn_new(m, fd, SRC_CLIENT, &c) < 0) {
		(void)safe_close(fd);
		return;
	}
	c->next = m->clients;
	if (m->clients)
		m->clients->prev = c;
	m->clients = c;
	m->n_clients++;
}

static int dial_vsock(const char *address) {
	unsigned cid, port;
	if (sscanf(address, "vsock://%u:%u", &cid, &port) != 2)
		return -EINVAL;
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The guest may not listen yet; a short connect timeout keeps the probe ticking. */
	struct timeval tv = { .tv_sec = 1 };
	(void)setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof tv);
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -errno;
	return TAKE_FD(fd);
}

static void try_connect_agent(mux *m) {
	const char *addr = m->cfg->agent_address;
	int fd = startswith(addr, "vsock://") ? dial_vsock(addr) : ttrpc_client_dial(addr);
	if (fd < 0)
		return; /* QEMU has not created the socket yet, or the guest does not listen yet */
	if (fd_set_nonblock(fd, true) < 0 || conn_new(m, fd, SRC_AGENT, &m->agent) < 0) {
		(void)safe_close(fd);
		m->agent = NULL;
	}
}

static void kill_qemu(mux *m, int sig) {
	if (m->cfg->qemu_pid && !m->qemu_exited)
		(void)kill(m->cfg->qemu_pid, sig);
}

static void on_tick(mux *m) {
	uint64_t expirations;
	(void)!read(m->timerfd, &expirations, sizeof expirations);
	if (!m->agent)
		try_connect_agent(m);
	if (m->ready)
		return;
	uint64_t now = now_ns();
	if (now - m->cfg->start_ns > m->cfg->ready_timeout_ns) {
		m->result.exit = MUX_EXIT_TIMEOUT;
		m->done = true;
		return;
	}
	if (m->agent && now - m->last_probe_ns >= PROBE_INTERVAL_NS)
		(void)send_probe(m);
}

static void on_signal(mux *m) {
	struct signalfd_siginfo si;
	while (read(m->sigfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			int status;
			if (m->cfg->qemu_pid && waitpid(m->cfg->qemu_pid, &status, WNOHANG) == m->cfg->qemu_pid) {
				m->qemu_exited = true;
				m->result.exit = MUX_EXIT_QEMU;
				m->result.qemu_status = status;
				m->done = true;
			}
			continue;
		}
		/* SIGTERM/SIGINT: stop the VM; its exit ends the loop. */
		if (m->cfg->qemu_pid)
			kill_qemu(m, SIGTERM);
		else {
			m->result.exit = MUX_EXIT_SIGNAL;
			m->done = true;
		}
	}
}

static void dispatch(mux *m, struct epoll_event *e) {
	source_kind kind = *(source_kind *)e->data.ptr;
	conn *c = e->data.ptr;

	switch (kind) {
	case SRC_SIGNAL:
		on_signal(m);
		return;
	case SRC_TIMER:
		on_tick(m);
		return;
	case SRC_LISTEN:
		on_accept(m);
		return;
	case SRC_AGENT:
	case SRC_CLIENT:
		break;
	}
	if (e->events & EPOLLOUT) {
		if (conn_flush(m, c) < 0) {
			if (kind == SRC_AGENT)
				agent_lost(m);
			else
				client_close(m, c);
			return;
		}
	}
	if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (kind == SRC_AGENT)
			on_agent_readable(m);
		else
			on_client_readable(m, c);
	}
}

static int setup(mux *m) {
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	/* A client that closes while we write to it must not kill the daemon. */
	(void)signal(SIGPIPE, SIG_IGN);

	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	m->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->epfd < 0 || m->sigfd < 0 || m->timerfd < 0)
		return -errno;
	struct itimerspec its = { .it_interval = { .tv_nsec = TICK_NS }, .it_value = { .tv_nsec = 1 } };
	if (timerfd_settime(m->timerfd, 0, &its, NULL) < 0)
		return -errno;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &m->signal_src };
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->sigfd, &e) < 0)
		return -errno;
	e.data.ptr = &m->timer_src;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->timerfd, &e) < 0)
		return -errno;
	return 0;
}

static void teardown(mux *m) {
	while (m->clients)
		client_close(m, m->clients);
	fail_all_pending(m, "shutting down");
	if (m->agent)
		conn_free(m, m->agent);
	if (m->listenfd >= 0) {
		(void)unlink(m->cfg->api_path);
		(void)safe_close(m->listenfd);
	}
	(void)safe_close(m->timerfd);
	(void)safe_close(m->sigfd);
	(void)safe_close(m->epfd);
}

static bool source_live(mux *m, void *ptr) {
	if (ptr == &m->signal_src || ptr == &m->timer_src || ptr == &m->listen_src || ptr == m->agent)
		return ptr != NULL;
	for (conn *c = m->clients; c; c = c->next)
		if (ptr == c)
			return true;
	return false;
}

int mux_run(const mux_config *c, mux_result *ret) {
	mux m = {
		.cfg = c, .epfd = -EBADF, .sigfd = -EBADF, .timerfd = -EBADF, .listenfd = -EBADF,
		.signal_src = SRC_SIGNAL, .timer_src = SRC_TIMER, .listen_src = SRC_LISTEN, .next_stream = 1,
	};
	int r = setup(&m);
	if (r < 0) {
		teardown(&m);
		return r;
	}
	while (!m.done) {
		struct epoll_event ev[32];
		int n = epoll_wait(m.epfd, ev, ELEMENTSOF(ev), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		for (int i = 0; i < n && !m.done; i++) {
			/* A connection closed earlier in this batch may still have events here: look pointers up
			 * before touching what they point at. */
			if (!source_live(&m, ev[i].data.ptr))
				continue;
			dispatch(&m, &ev[i]);
		}
	}
	if (m.result.exit == MUX_EXIT_TIMEOUT && c->qemu_pid) {
		/* The VM is of no use without its agent; do not leave it running. */
		kill_qemu(&m, SIGKILL);
		int status;
		(void)waitpid(c->qemu_pid, &status, 0);
		m.result.qemu_status = status;
	}
	teardown(&m);
	if (r < 0)
		return r;
	*ret = m.result;
	return 0;
}
