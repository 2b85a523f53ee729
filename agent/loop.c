#define LOG_SOURCE "loop"
#include "agent/loop.h"

#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/util.h"

#define MAX_EVENTS 64

struct ev_io {
	ev_loop *loop;
	int fd;
	uint32_t events;
	ev_io_fn fn;
	void *userdata;
	const char *name;
	bool dead;
	ev_io *next_dead;
};

struct ev_loop {
	int epfd;
	int timerfd;
	ev_timer **heap;
	size_t n_timers, heap_size;
	uint64_t armed_for; /* deadline the timerfd is set to, 0 = disarmed */
	ev_io *dead;        /* freed at the end of the iteration, so stale epoll events never touch freed memory */
	bool exit;
	int exit_code;
};

int ev_loop_new(ev_loop **ret) {
	ev_loop *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->epfd < 0 || l->timerfd < 0) {
		int r = -errno;
		ev_loop_free(l);
		return r;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->timerfd, &ev) < 0) {
		int r = -errno;
		ev_loop_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

static void reap_dead(ev_loop *l) {
	while (l->dead) {
		ev_io *io = l->dead;
		l->dead = io->next_dead;
		free(io);
	}
}

ev_loop *ev_loop_free(ev_loop *l) {
	if (!l)
		return NULL;
	reap_dead(l);
	safe_close(l->epfd);
	safe_close(l->timerfd);
	free(l->heap);
	free(l);
	return NULL;
}

int ev_io_add(ev_loop *l, int fd, uint32_t events, ev_io_fn fn, void *userdata, const char *name, ev_io **ret) {
	ev_io *io = calloc(1, sizeof *io);
	if (!io)
		return -ENOMEM;
	*io = (ev_io){ .loop = l, .fd = fd, .events = events, .fn = fn, .userdata = userdata, .name = name };
	struct epoll_event ev = { .events = events, .data.ptr = io };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(io);
		return r;
	}
	*ret = io;
	return 0;
}

int ev_io_set_events(ev_io *io, uint32_t events) {
	if (io->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = io };
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

ev_io *ev_io_free(ev_io *io) {
	if (!io || io->dead)
		return NULL;
	/* epoll watches the open file, not the fd number: an fd closed before this, while a forked child still
	 * holds the file, leaves the watch live and its events would reach freed memory. Say so loudly. */
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0 && errno == EBADF)
		log_error("event source %s: fd %d was closed before its watch was removed", io->name ? io->name : "?",
			  io->fd);
	io->dead = true;
	io->next_dead = io->loop->dead;
	io->loop->dead = io;
	return NULL;
}

/* Timer heap: a binary min-heap on deadline_ns; each timer knows its slot for O(log n) removal. */
static void heap_swap(ev_loop *l, size_t a, size_t b) {
	ev_timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_index = a;
	l->heap[b]->heap_index = b;
}

static void heap_up(ev_loop *l, size_t i) {
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (l->heap[p]->deadline_ns <= l->heap[i]->deadline_ns)
			break;
		heap_swap(l, i, p);
		i = p;
	}
}

static void heap_down(ev_loop *l, size_t i) {
	for (;;) {
		size_t c = 2 * i + 1, m = i;
		if (c < l->n_timers && l->heap[c]->deadline_ns < l->heap[m]->deadline_ns)
			m = c;
		if (c + 1 < l->n_timers && l->heap[c + 1]->deadline_ns < l->heap[m]->deadline_ns)
			m = c + 1;
		if (m == i)
			break;
		heap_swap(l, i, m);
		i = m;
	}
}

static void rearm_timerfd(ev_loop *l) {
	uint64_t want = l->n_timers ? l->heap[0]->deadline_ns : 0;
	if (want == l->armed_for)
		return;
	struct itimerspec its = { 0 };
	if (want) {
		/* An absolute time of 0 would disarm: keep at least 1 ns. */
		uint64_t d = MAX(want, 1ULL);
		its.it_value.tv_sec = (time_t)(d / 1000000000ULL);
		its.it_value.tv_nsec = (long)(d % 1000000000ULL);
	}
	if (timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_error("timerfd_settime: %m");
	l->armed_for = want;
}

void ev_timer_init(ev_timer *t, ev_loop *l, ev_timer_fn fn, void *userdata) {
	*t = (ev_timer){ .loop = l, .heap_index = (size_t)-1, .fn = fn, .userdata = userdata };
}

int ev_timer_arm(ev_timer *t, uint64_t deadline_ns) {
	ev_loop *l = t->loop;
	if (ev_timer_armed(t))
		ev_timer_disarm(t);
	if (l->n_timers == l->heap_size) {
		size_t n = l->heap_size ? l->heap_size * 2 : 64;
		ev_timer **h = realloc(l->heap, n * sizeof *h);
		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->heap_size = n;
	}
	t->deadline_ns = deadline_ns;
	t->heap_index = l->n_timers;
	l->heap[l->n_timers++] = t;
	heap_up(l, t->heap_index);
	rearm_timerfd(l);
	return 0;
}

void ev_timer_disarm(ev_timer *t) {
	ev_loop *l = t->loop;
	if (!l || !ev_timer_armed(t))
		return;
	size_t i = t->heap_index;
	l->n_timers--;
	if (i != l->n_timers) {
		l->heap[i] = l->heap[l->n_timers];
		l->heap[i]->heap_index = i;
		heap_down(l, i);
		heap_up(l, i);
	}
	t->heap_index = (size_t)-1;
	rearm_timerfd(l);
}

static void run_timers(ev_loop *l) {
	uint64_t expirations;
	(void)!read(l->timerfd, &expirations, sizeof expirations);
	l->armed_for = 0;
	uint64_t now = now_ns();
	while (l->n_timers > 0 && l->heap[0]->deadline_ns <= now) {
		ev_timer *t = l->heap[0];
		ev_timer_disarm(t);
		t->fn(t, t->userdata);
	}
	rearm_timerfd(l);
}

int ev_loop_iterate(ev_loop *l, int timeout_ms) {
	struct epoll_event events[MAX_EVENTS];
	int n = epoll_wait(l->epfd, events, MAX_EVENTS, timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		ev_io *io = events[i].data.ptr;
		if (!io) {
			run_timers(l);
			continue;
		}
		if (io->dead)
			continue;
		int r = io->fn(io, io->fd, events[i].events, io->userdata);
		if (r < 0 && !io->dead) {
			log_error("event source %s failed: %s; disabled", io->name ? io->name : "?", strerror(-r));
			ev_io_free(io);
		}
	}
	reap_dead(l);
	return n;
}

int ev_loop_run(ev_loop *l) {
	while (!l->exit) {
		int r = ev_loop_iterate(l, -1);
		if (r < 0) {
			log_error("epoll_wait: %s", strerror(-r));
			return r;
		}
	}
	return l->exit_code;
}

void ev_loop_exit(ev_loop *l, int code) {
	l->exit = true;
	l->exit_code = code;
}
