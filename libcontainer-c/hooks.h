/* OCI hooks: each one a short-lived child of the caller with the container's state JSON on stdin, its own args
 * and env, and a deadline after which it is SIGKILLed. The child is cloned with no exit signal, so a caller's
 * waitpid(-1) loop never collects it (only __WALL/__WCLONE waits do), and it is reaped here by its pidfd: the
 * one kind of child the library reaps itself, because nobody else knows it exists.
 *
 * For an event loop: lc_hook_spawn() returns at once with a pidfd to watch and a deadline; lc_hook_finish()
 * collects it (killing it first when the deadline passed). lc_hooks_run() is the blocking form lcrun and the
 * container's init use: every hook of a kind in order, each bounded, stopping at the first failure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "libcontainer-c/specconv.h"

/* When a hook gives no timeout: the spec sets none, but nothing may wait without a bound. */
#define LC_HOOK_TIMEOUT_DEFAULT_S 60
/* State JSON larger than a pipe's buffer would block the writer; ours is a few hundred bytes. */
#define LC_HOOK_STATE_MAX 65536

typedef struct lc_hook_run {
	pid_t pid;
	int pidfd;            /* readable (POLLIN) when the hook exited */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC (now_ns()) */
	const lc_hook_config *hook;
} lc_hook_run;

int lc_hook_spawn(const lc_hook_config *h, const char *state_json, lc_hook_run *ret, kc_error *err);
/* Waits for the hook until its deadline (block: poll the pidfd; !block: only look), SIGKILLs it past the
 * deadline, and reaps it. Returns 0 when it exited 0; -EAGAIN (!block, still running, err untouched);
 * otherwise an error naming the hook and how it failed (exit status, signal, timeout). */
int lc_hook_finish(lc_hook_run *run, bool block, kc_error *err);
/* Runs cfg's hooks of one kind one after the other. The error names "hooks.KIND[i]". */
int lc_hooks_run(const lc_config *cfg, lc_hook_kind kind, const char *state_json, kc_error *err);
