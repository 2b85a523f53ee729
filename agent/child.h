/* Children of the agent: one registry of pids the agent waits for, fed by the single SIGCHLD reaper, and a
 * way to run a function that may block on the outside world (a 9p or virtio-fs mount, a stat loop over a
 * share, a module load) in a forked helper whose completion comes back through the event loop. A helper
 * shares the agent's namespaces and mounts (fork, not clone with new namespaces), so a mount it makes is
 * the agent's mount. */
#pragma once

#include <sys/types.h>

#include "common/error.h"

typedef struct agent agent;

typedef void (*child_exit_fn)(pid_t pid, int status, void *userdata);

/* Calls fn once pid has exited (status as from waitpid). The pid must be a child of the agent. */
int child_watch(agent *a, pid_t pid, child_exit_fn fn, void *userdata);
/* Forgets a watch (the child is still reaped, silently, when it exits). */
void child_unwatch(agent *a, pid_t pid);
/* Called by the SIGCHLD handler for each reaped pid; returns 1 when a watch took it. */
int child_reaped(agent *a, pid_t pid, int status);
void child_registry_free(agent *a);

/* Runs work(userdata, err) in a forked helper. done() gets the result: >= 0, or -errno with err carrying the
 * helper's message; a helper killed by a signal or that timed out is reported as such. timeout_ms 0 = none,
 * otherwise the helper is SIGKILLed when it runs longer. Returns the helper's pid or -errno.
 * The helper closes every fd above stderr it inherited (the host's connections, container pipes, ...) before
 * work runs, so work opens what it needs itself; helper_run_keep_fd keeps one fd the caller hands over. */
typedef int (*helper_work_fn)(void *userdata, kc_error *err);
typedef void (*helper_done_fn)(int result, const kc_error *err, void *userdata);
int helper_run(agent *a, const char *what, helper_work_fn work, void *work_userdata, uint32_t timeout_ms,
	       helper_done_fn done, void *done_userdata);
int helper_run_keep_fd(agent *a, const char *what, helper_work_fn work, void *work_userdata, uint32_t timeout_ms,
		       helper_done_fn done, void *done_userdata, int keep_fd);
/* The caller no longer wants the result (its call was cancelled): the helper is killed and done() is not
 * called. */
void helper_abandon(agent *a, pid_t pid);
/* helper_run returns -EAGAIN (RESOURCE_EXHAUSTED for the host) while 32 helpers are running. */
