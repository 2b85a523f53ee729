/* A container held in memory, for a caller that lives as long as its containers (the agent): no state
 * directory, no JSON, no exec fifo on disk. Built on the spawn steps: create clones the init into its
 * namespaces and cgroup and leaves it blocked before exec on a pipe that start writes to; exec joins the
 * running container. Every wait is bounded (the spawn sync timeout, the freezer and cgroup timeouts).
 *
 * The library never reaps: the init and every exec'd process are the caller's children, handed out by pid and
 * pidfd; the caller's SIGCHLD loop collects them. Only a child the caller never learned about (a failed create)
 * is collected here, by its pidfd, before the call returns. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "libcontainer-c/cgroup.h"
#include "libcontainer-c/op.h"
#include "libcontainer-c/specconv.h"

typedef struct lc_instance lc_instance;

/* Library-wide: whether paths inside a rootfs may be resolved with openat2(RESOLVE_IN_ROOT). Off forces the
 * component-walking fallback everywhere (what kernels before 5.6, or a seccomp filter refusing openat2, get),
 * so the fallback can be tested on any kernel. Default: on, unless the environment has LC_NO_OPENAT2 set to
 * anything but "" or "0" (read at the first resolution). Set it before creating containers. */
#define LC_NO_OPENAT2_ENV "LC_NO_OPENAT2"
void lc_openat2_set_enabled(bool enabled);
bool lc_openat2_enabled(void);

typedef struct lc_instance_opts {
	const char *id;
	/* The root, an absolute path the caller has already resolved (e.g. /proc/self/fd/N of an O_PATH fd it
	 * holds until create returns). */
	const char *rootfs;
	/* Where an empty or relative linux.cgroupsPath goes ("/kata"); no_cgroup: none at all. */
	const char *cgroup_parent;
	bool no_cgroup;
	/* fds 0, 1, 2 of the init (pipes); NULL: inherited. Ignored for a terminal, whose slave is its stdio. */
	const int *stdio;
	/* With process.terminal: the socket the pty master is sent to (lc_console_recv_master reads it). */
	int console_sock_fd;
} lc_instance_opts;

/* Creates the container from cfg (owned by the instance on success, kept for exec's defaults): cgroup made and resources applied,
 * init cloned and blocked before exec. On failure nothing is left (no process, no cgroup) and cfg is still the
 * caller's. Blocking (bounded): lc_instance_create_begin and lc_op_run. */
int lc_instance_create(lc_config *cfg, const lc_instance_opts *o, lc_instance **ret, kc_error *err);

/* The same as steps (op.h), for an event loop. Inline: cgroup, seccomp compilation, clone3 of the init, id
 * maps. Then drive *ret_op: lc_op_fd()/lc_op_deadline() into the loop, lc_op_step() on either, until it returns
 * 0 (the init is ready behind its gate; lc_instance_start may follow) or an error. lc_instance_pid() and
 * lc_instance_pidfd() are valid from begin on: watch the init with the reaper at once (it is the caller's
 * child and exits with SIGCHLD); the instance keeps its own pidfd, so freeing the op never loses it.
 *   - begin fails with *ret NULL: nothing was cloned, nothing is left, cfg is still the caller's;
 *   - begin fails with *ret set (cloned, then failed; cfg still the caller's), or a step fails (cfg is the
 *     instance's): the init has been SIGKILLed; free the op, collect the init in the reaper, then
 *     lc_instance_free() (which removes the cgroup, now empty).
 * c->cfg, opts' rootfs and stdio fds must stay valid until the op has ended. Exec, start and pause refuse an
 * instance whose create has not finished. Usage:
 *
 *     r = lc_instance_create_begin(cfg, &o, &c, &op, &err);     // then watch lc_instance_pidfd(c)
 *     loop: poll(lc_op_fd(op), until lc_op_deadline(op)); r = lc_op_step(op, &err); while r == -EAGAIN
 *     op = lc_op_free(op);                                     // r == 0: created
 */
int lc_instance_create_begin(lc_config *cfg, const lc_instance_opts *o, lc_instance **ret, lc_op **ret_op,
			     kc_error *err);
/* Kills nothing: the caller kills (lc_instance_kill_all) and collects first; this releases memory and fds and
 * removes the cgroup when it is empty (a busy one is left, reported by lc_instance_destroy). */
lc_instance *lc_instance_free(lc_instance *c);
static inline void lc_instance_freep(lc_instance **c) {
	if (*c)
		(void)lc_instance_free(*c);
}

pid_t lc_instance_pid(const lc_instance *c);
int lc_instance_pidfd(const lc_instance *c);
const lc_config *lc_instance_config(const lc_instance *c);
lc_cgroup *lc_instance_cgroup(const lc_instance *c); /* NULL without a cgroup */
bool lc_instance_started(const lc_instance *c);

/* Releases the start gate: the init execs its process. -ESRCH when the init is already gone. */
int lc_instance_start(lc_instance *c, kc_error *err);

typedef struct lc_instance_exec_opts {
	const lc_process_config *process; /* process.capabilities absent: the container's */
	const int *stdio;                 /* as in lc_instance_opts */
	int console_sock_fd;              /* for process->terminal */
} lc_instance_exec_opts;

/* Runs a process in the running container (its namespaces, cgroup, seccomp), as steps: the process is cloned
 * at begin (lc_op_child() gives its pid and pidfd at once: watch it in the reaper), and the op ends when it has
 * exec'd, or failed (it then exits 126/127/1 by itself, or was SIGKILLed at the timeout). Take the child with lc_op_take_child() before lc_op_free(). o and its fds are
 * copied into the child at begin and need not outlive the call. */
int lc_instance_exec_begin(lc_instance *c, const lc_instance_exec_opts *o, lc_op **ret, kc_error *err);

/* sig to every process of the container: through the cgroup (cgroup.kill for SIGKILL), or to the init alone
 * without one. */
int lc_instance_kill_all(lc_instance *c, int sig, kc_error *err);
/* Freezes or thaws the cgroup (bounded). */
int lc_instance_pause(lc_instance *c, bool pause, kc_error *err);
/* Removes the cgroup, waiting at most timeout_ms for exiting processes to leave it. The delete step of an event
 * loop: timeout_ms 0 is one attempt that never waits; -EBUSY (processes still leaving, the killed ones not yet
 * reaped) means try again later, from a timer or after the next reap. */
int lc_instance_destroy_cgroup(lc_instance *c, unsigned timeout_ms, kc_error *err);
