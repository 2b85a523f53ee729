#define LOG_SOURCE "agent"
#include "agent/child.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "common/log.h"
#include "common/util.h"

struct child_watch_entry {
	pid_t pid;
	child_exit_fn fn;
	void *userdata;
	child_watch_entry *next;
};

int child_watch(agent *a, pid_t pid, child_exit_fn fn, void *userdata) {
	child_watch_entry *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	*e = (child_watch_entry){ .pid = pid, .fn = fn, .userdata = userdata, .next = a->children };
	a->children = e;
	return 0;
}

void child_unwatch(agent *a, pid_t pid) {
	for (child_watch_entry **p = &a->children; *p; p = &(*p)->next)
		if ((*p)->pid == pid) {
			child_watch_entry *e = *p;
			*p = e->next;
			free(e);
			return;
		}
}

int child_reaped(agent *a, pid_t pid, int status) {
	for (child_watch_entry **p = &a->children; *p; p = &(*p)->next)
		if ((*p)->pid == pid) {
			child_watch_entry *e = *p;
			*p = e->next;
			child_exit_fn fn = e->fn;
			void *ud = e->userdata;
			free(e);
			if (fn)
				fn(pid, status, ud);
			return 1;
		}
	return 0;
}

/* ---- helpers ---- */

#define HELPERS_MAX 32

/* What a failed helper writes to its pipe: less than PIPE_BUF, so one write arrives whole or not at all. */
typedef struct helper_report {
	int result;
	int code;
	int err;
	char msg[KC_ERROR_MSG_MAX];
} helper_report;
_Static_assert(sizeof(helper_report) <= 4096, "one atomic pipe write");

typedef struct helper {
	agent *agent;
	pid_t pid;
	int report_fd;
	ev_timer timer;
	bool timed_out, abandoned;
	uint32_t timeout_ms;
	char what[96];
	helper_done_fn done;
	void *done_userdata;
} helper;

static void helper_free(helper *h) {
	h->agent->n_helpers--;
	ev_timer_disarm(&h->timer);
	safe_close(h->report_fd);
	free(h);
}

static void helper_exited(pid_t pid, int status, void *userdata) {
	helper *h = userdata;
	helper_report rep = { 0 };
	kc_error err = { 0 };
	int result;

	if (h->abandoned) {
		helper_free(h);
		return;
	}
	ssize_t n = read(h->report_fd, &rep, sizeof rep);
	if (h->timed_out)
		result = kc_error_set(&err, ETIMEDOUT, "%s: timed out after %u ms", h->what, h->timeout_ms);
	else if (WIFSIGNALED(status))
		result = kc_error_set(&err, EINTR, "%s: helper killed by signal %d", h->what, WTERMSIG(status));
	else if (n == (ssize_t)sizeof rep && rep.result < 0) {
		rep.msg[sizeof rep.msg - 1] = '\0';
		result = kc_error_set_code(&err, rep.code, rep.err, "%s", rep.msg);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		result = n == (ssize_t)sizeof rep ? rep.result : 0;
	else
		result = kc_error_set(&err, EIO, "%s: helper exited with status %d and no report", h->what,
				      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	h->done(result, &err, h->done_userdata);
	helper_free(h);
}

static void helper_timeout(ev_timer *t, void *userdata) {
	helper *h = userdata;
	h->timed_out = true;
	(void)kill(h->pid, SIGKILL);
}

/* A helper is a fork of PID 1 and holds a copy of every fd the agent had: the listeners, the host's
 * connections, container stdin pipes, pidfds. One stuck on a hung share would keep a connection the agent
 * closed half-open, or a stdin the host closed open, so the process never sees EOF; and epoll keeps
 * reporting a file the agent closed while a copy lives. So everything above stderr goes, but the report pipe
 * and the one fd the caller handed over. */
static void close_fds(unsigned from, unsigned to) {
	/* musl has no close_range(); the guest kernel (6.1) has the syscall. Older kernels: one by one. */
	if (syscall(SYS_close_range, from, to, 0) == 0 || errno != ENOSYS)
		return;
	long max = sysconf(_SC_OPEN_MAX);
	for (unsigned fd = from; fd <= to && (max < 0 || fd < (unsigned long)max); fd++)
		(void)close((int)fd);
}

static void close_inherited_fds(int report_fd, int keep_fd) {
	int keep[2] = { report_fd, keep_fd };
	unsigned from = STDERR_FILENO + 1;
	if (keep[0] > keep[1] && keep[1] >= 0) {
		keep[0] = keep_fd;
		keep[1] = report_fd;
	}
	for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned)keep[i] > from)
			close_fds(from, (unsigned)keep[i] - 1);
		from = (unsigned)keep[i] + 1;
	}
	close_fds(from, ~0U);
}

_noreturn_ static void helper_child(int report_fd, int keep_fd, helper_work_fn work, void *userdata) {
	helper_report rep = { 0 };
	kc_error err = { 0 };
	sigset_t none;

	/* The agent blocks the signals it reads through signalfd; the helper should die of them normally. */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	close_inherited_fds(report_fd, keep_fd);
	rep.result = work(userdata, &err);
	if (rep.result < 0) {
		rep.code = err.code;
		rep.err = err.err ? err.err : -rep.result;
		(void)snprintf(rep.msg, sizeof rep.msg, "%s", err.msg[0] ? err.msg : strerror(rep.err));
	}
	(void)!write(report_fd, &rep, sizeof rep);
	_exit(rep.result < 0 ? 1 : 0);
}

int helper_run(agent *a, const char *what, helper_work_fn work, void *work_userdata, uint32_t timeout_ms,
	       helper_done_fn done, void *done_userdata) {
	return helper_run_keep_fd(a, what, work, work_userdata, timeout_ms, done, done_userdata, -EBADF);
}

int helper_run_keep_fd(agent *a, const char *what, helper_work_fn work, void *work_userdata, uint32_t timeout_ms,
		       helper_done_fn done, void *done_userdata, int keep_fd) {
	int fds[2];
	/* Each helper is a copy of PID 1; pipelined calls on a hung share must not fork without bound. */
	if (a->n_helpers >= HELPERS_MAX)
		return -EAGAIN;
	helper *h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	a->n_helpers++;
	h->agent = a;
	h->report_fd = -EBADF;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		int r = -errno;
		helper_free(h);
		return r;
	}
	h->report_fd = fds[0];
	h->timeout_ms = timeout_ms;
	h->done = done;
	h->done_userdata = done_userdata;
	(void)snprintf(h->what, sizeof h->what, "%s", what);
	ev_timer_init(&h->timer, a->loop, helper_timeout, h);

	pid_t pid = fork();
	if (pid < 0) {
		int r = -errno;
		safe_close(fds[1]);
		helper_free(h);
		return r;
	}
	if (pid == 0) {
		safe_close(fds[0]);
		helper_child(fds[1], keep_fd, work, work_userdata);
	}
	safe_close(fds[1]);
	h->pid = pid;
	int r = child_watch(a, pid, helper_exited, h);
	if (r < 0) {
		/* Without a watch nobody would finish the call: stop the helper and report. */
		(void)kill(pid, SIGKILL);
		helper_free(h);
		return r;
	}
	if (timeout_ms)
		(void)ev_timer_arm(&h->timer, now_ns() + (uint64_t)timeout_ms * 1000000ULL);
	return pid;
}

/* At shutdown: helpers still running (one stuck on a hung share, say) are killed; nobody waits for their
 * results any more. One in uninterruptible sleep dies when the kernel lets it, as an orphan. */
void child_registry_free(agent *a) {
	while (a->children) {
		child_watch_entry *e = a->children;
		a->children = e->next;
		if (e->fn == helper_exited) {
			helper *h = e->userdata;
			(void)kill(h->pid, SIGKILL);
			helper_free(h);
		}
		free(e);
	}
}

void helper_abandon(agent *a, pid_t pid) {
	for (child_watch_entry *e = a->children; e; e = e->next)
		if (e->pid == pid && e->fn == helper_exited) {
			helper *h = e->userdata;
			h->abandoned = true;
			ev_timer_disarm(&h->timer);
			(void)kill(pid, SIGKILL);
			return;
		}
}
