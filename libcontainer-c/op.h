/* Operations as steps, for a caller that runs an event loop (the agent) and must never block on a container.
 *
 * Creating a container and running a process in one take a child and some waiting: for the child's word over
 * the sync socket, for prestart and createRuntime hooks. A `*_begin()` function does the short kernel work
 * inline (config checks, cgroup, clone3, id maps) and hands back an lc_op that says what to wait for:
 *
 *     lc_op_fd(op)        a file descriptor to watch for POLLIN (the sync socket, or a running hook's pidfd;
 *                         it changes from step to step, so ask again after each one)
 *     lc_op_deadline(op)  a CLOCK_MONOTONIC instant (ns, as now_ns()) at which to step even if the fd is quiet
 *
 * and the caller calls lc_op_step() when either happens. A step never blocks: it returns -EAGAIN (watch the new
 * fd and deadline), 0 (done), or a negative errno with err filled (failed; the operation is over).
 *
 * Children: the child an operation makes (the container's init, or the exec'd process) is the caller's child
 * from the moment it exists (lc_op_child() gives its pid and pidfd right after begin) and exits with SIGCHLD,
 * so the caller's own reaper collects it, whether the operation succeeded or failed (on failure it has been
 * SIGKILLed, or exits with 126/127/1 by itself). The library reaps nothing of the caller's. The only children it
 * collects are hooks, by pidfd. They are cloned with no exit signal, but execve() resets a process's exit
 * signal to SIGCHLD, so once a hook has exec'd a waitpid(-1) elsewhere CAN take it, and the op then fails with
 * ECHILD. A caller with such a reaper must leave an op's hooks alone: peek with waitid(WNOWAIT) and step the
 * ops whose fd is readable before reaping (the agent does this), or wait for specific pids only (lcrun).
 * No helper process is involved: to put a child into a pid namespace, the caller's thread
 * enters it for its children only (setns CLONE_NEWPID) around the clone and returns to its own.
 *
 * Lifetime: what a begin function was given (config, instance) must outlive the op. lc_op_free() on an
 * unfinished op aborts it: the child is SIGKILLed (still the caller's to collect), a running hook is killed and
 * collected.
 *
 * Blocking callers use lc_op_run(), a poll loop over the same steps; every wait in it is bounded by the
 * deadlines above (the sync timeout, each hook's timeout or LC_HOOK_TIMEOUT_DEFAULT_S). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

typedef struct lc_op lc_op;

int lc_op_fd(const lc_op *op);
uint64_t lc_op_deadline(const lc_op *op);
int lc_op_step(lc_op *op, kc_error *err);
/* The child's pid and pidfd (borrowed: valid until lc_op_take_child or lc_op_free), -1 before there is one. */
void lc_op_child(const lc_op *op, pid_t *ret_pid, int *ret_pidfd);
/* Hands the child's pidfd to the caller (the op no longer closes it). */
void lc_op_take_child(lc_op *op, pid_t *ret_pid, int *ret_pidfd);
lc_op *lc_op_free(lc_op *op);
static inline void lc_op_freep(lc_op **op) {
	if (*op)
		(void)lc_op_free(*op);
}
/* Steps op to its end, polling its fd until each deadline. */
int lc_op_run(lc_op *op, kc_error *err);
