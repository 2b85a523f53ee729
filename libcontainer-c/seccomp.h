/* seccomp: an lc_seccomp_config compiled to a classic BPF program by libseccomp, and installed by the child.
 *
 * Compile in the runtime (before the clone, or while the child sets up its mounts), install in the child: the
 * child then never runs libseccomp (no allocations, no kernel probing, nothing that can fail for reasons other
 * than the kernel refusing the filter), and the program is plain memory that survives fork and can be sent
 * over a socket. crun splits it the same way.
 *
 * Compilation follows runc and crun wherever they agree, because profiles are written against them:
 *   - a syscall name libseccomp cannot resolve is skipped, not an error: profiles list the syscalls of kernels
 *     newer than the libseccomp that reads them. Skipped names are counted and summarised for the caller's log.
 *   - a rule whose action equals the default action adds nothing and is skipped (libseccomp refuses it).
 *   - the comparisons of one rule are ANDed; when two of them test the same argument (libseccomp cannot chain
 *     two comparisons on one argument) each comparison becomes its own rule, i.e. they are ORed.
 *   - MASKED_EQ takes the mask in `value` and the expected value in `valueTwo`.
 *   - the native architecture is always in the filter; listed ones are added to it.
 * The flags (TSYNC, LOG, SPEC_ALLOW, WAIT_KILLABLE_RECV) are seccomp(2) flags given at install time; those
 * this kernel does not know are dropped and reported in `dropped_flags`. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "libcontainer-c/specconv.h"

/* What the kernel runs at most (BPF_MAXINSNS); a longer program is refused when compiling, not in the child. */
#define LC_SECCOMP_MAX_INSNS 4096

typedef struct lc_seccomp_prog {
	unsigned load_flags;    /* SECCOMP_FILTER_FLAG_* for seccomp(2); NEW_LISTENER when `notify` */
	bool notify;            /* some rule notifies: installing yields a listener fd */
	unsigned dropped_flags; /* LC_SECCOMP_FLAG_* asked for but unknown to this kernel (or meaningless) */
	size_t n_skipped_names; /* syscall names that resolve on none of the filter's architectures */
	size_t n_default_rules; /* rules skipped because their action is the default action */
	size_t n_rules;         /* libseccomp rules added */
	char skipped_summary[256]; /* "foo, bar, ... (+N more)": the skipped names, for the caller's log */
	size_t n_insns;
	struct sock_filter insns[];
} lc_seccomp_prog;

/* Runs in the runtime, never in the container's child. Errors name the field: linux.seccomp.syscalls[3]... */
int lc_seccomp_compile(const lc_seccomp_config *c, lc_seccomp_prog **ret, kc_error *err);
lc_seccomp_prog *lc_seccomp_prog_free(lc_seccomp_prog *p);
DEFINE_CLEANUP_FUNC(lc_seccomp_prog *, lc_seccomp_prog_free);

/* Installs prog on the calling thread (in the child). Without no_new_privs this needs CAP_SYS_ADMIN in the
 * caller's user namespace, which is why lc_process_apply_security() orders it before dropping capabilities
 * in that case. For a notifying filter, *ret_listener_fd gets the listener (close-on-exec, as the kernel
 * creates it); otherwise -EBADF. ret_listener_fd may be NULL only for a filter that does not notify. */
int lc_seccomp_install(const lc_seccomp_prog *prog, int *ret_listener_fd, kc_error *err);

/* The libseccomp value for an action (SCMP_ACT_ERRNO(errno_ret) and so on); for tests and `features`. */
unsigned lc_seccomp_action_value(lc_seccomp_action a, int errno_ret);
