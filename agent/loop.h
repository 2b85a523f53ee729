/* The agent's one event loop: epoll for fds, one timerfd driving a min-heap of timers. Single-threaded;
 * every callback runs to completion. A callback that fails is reported and its source disabled; it never
 * ends the loop. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct ev_loop ev_loop;
typedef struct ev_io ev_io;
typedef struct ev_timer ev_timer;

/* Returns <0 to have the source disabled (logged with the source's name). */
typedef int (*ev_io_fn)(ev_io *io, int fd, uint32_t revents, void *userdata);
typedef void (*ev_timer_fn)(ev_timer *t, void *userdata);

int ev_loop_new(ev_loop **ret);
ev_loop *ev_loop_free(ev_loop *l);

/* Watches fd (not owned) for events (EPOLLIN, EPOLLOUT, EPOLLET, ...). */
int ev_io_add(ev_loop *l, int fd, uint32_t events, ev_io_fn fn, void *userdata, const char *name, ev_io **ret);
int ev_io_set_events(ev_io *io, uint32_t events);
/* Stops watching and frees; safe inside the io's own callback. Returns NULL. */
ev_io *ev_io_free(ev_io *io);

/* A timer is embedded in its owner and armed/disarmed without allocation. */
struct ev_timer {
	ev_loop *loop;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	size_t heap_index;    /* SIZE_MAX when not armed */
	ev_timer_fn fn;
	void *userdata;
};
void ev_timer_init(ev_timer *t, ev_loop *l, ev_timer_fn fn, void *userdata);
int ev_timer_arm(ev_timer *t, uint64_t deadline_ns);
void ev_timer_disarm(ev_timer *t);
static inline bool ev_timer_armed(const ev_timer *t) {
	return t->heap_index != (size_t)-1;
}

/* Runs until ev_loop_exit(); returns the exit code given there. */
int ev_loop_run(ev_loop *l);
void ev_loop_exit(ev_loop *l, int code);
/* One iteration with a timeout in ms (-1 blocks); for tests and bounded flushes. */
int ev_loop_iterate(ev_loop *l, int timeout_ms);
