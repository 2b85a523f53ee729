/* process-security: everything about a container process's privileges and limits that is applied in the
 * child between the rootfs setup and execve, in one ordered entry point, plus the steps the runtime may apply
 * to the child's pid from outside.
 *
 * The order lc_process_apply_security() follows, and why:
 *   1. rlimits, oom_score_adj, scheduler, I/O priority: raising a hard rlimit, lowering oom_score_adj below
 *      its minimum, a real-time policy or class all need privilege (CAP_SYS_RESOURCE, CAP_SYS_NICE,
 *      CAP_SYS_ADMIN), so before any capability is dropped. The kernel checks these against the initial
 *      user namespace: when the container has its own user namespace the runtime applies them to the
 *      child's pid with lc_process_apply_limits() (before or right after the clone) and passes
 *      LC_SECURITY_LIMITS_APPLIED. (crun sets rlimits before entering the user namespace for this reason.)
 *   2. personality, umask: no privilege needed; early so that nothing below depends on them.
 *   3. seccomp, when no_new_privileges is false: loading a filter without no_new_privs needs CAP_SYS_ADMIN,
 *      so it must precede the capability drop (runc and crun do the same). The profile then has to allow
 *      the syscalls of steps 4-6 (prctl, capset, setgroups, setresgid, setresuid), as Docker's default does.
 *   4. bounding set: PR_CAPBSET_DROP needs CAP_SETPCAP, which the final sets may not include.
 *   5. PR_SET_KEEPCAPS, setgroups (exactly the listed gids), setresgid, setresuid, KEEPCAPS off: groups and
 *      gid before uid, while CAP_SETGID is still effective; KEEPCAPS so the permitted set survives a switch
 *      away from uid 0.
 *   6. capset effective/permitted/inheritable, then ambient: after the uid switch, which clears the effective
 *      and ambient sets; ambient last because the kernel raises only what is permitted and inheritable.
 *   7. PR_SET_NO_NEW_PRIVS, as crun does after the capabilities.
 *   8. seccomp, when no_new_privileges is true: last, so that the fewest syscalls run under the filter;
 *      with LC_SECURITY_DEFER_SECCOMP the caller does it with lc_process_apply_late_seccomp() right before
 *      execve, after anything else it still has to do (the start gate, closing fds).
 *
 * Errors are reported in err and never logged: the child sends them to the runtime over its sync socket. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "libcontainer-c/caps.h"
#include "libcontainer-c/seccomp.h"
#include "libcontainer-c/specconv.h"

enum {
	/* The runtime applied rlimits, oom_score_adj, scheduler and I/O priority to this process already. */
	LC_SECURITY_LIMITS_APPLIED = 1 << 0,
	/* With no_new_privileges: skip step 8 here; the caller calls lc_process_apply_late_seccomp(). */
	LC_SECURITY_DEFER_SECCOMP = 1 << 1,
};

typedef struct lc_security_params {
	const lc_process_config *process;
	const lc_seccomp_prog *seccomp; /* compiled by the runtime; NULL: no filter */
	bool has_personality;
	unsigned long personality;      /* PER_LINUX, PER_LINUX32 */
	unsigned flags;                 /* LC_SECURITY_* */
	/* For a notifying filter (required then): called right after it is installed, before any other syscall
	 * of ours could be the one that notifies and waits for a listener nobody holds yet. The fd is borrowed:
	 * send it on (SCM_RIGHTS) or dup it; it is closed when the callback returns. */
	int (*listener_cb)(int listener_fd, void *userdata, kc_error *err);
	void *userdata;
} lc_security_params;

/* Steps 1-8 in the child. Checks everything that can be checked before changing anything. */
int lc_process_apply_security(const lc_security_params *sp, kc_error *err);
/* Step 8 when LC_SECURITY_DEFER_SECCOMP was given; a no-op otherwise (and without a filter). */
int lc_process_apply_late_seccomp(const lc_security_params *sp, kc_error *err);

/* Step 1 on any process (pid 0: the caller), from the runtime or from the child. */
int lc_process_apply_limits(const lc_process_config *p, pid_t pid, kc_error *err);
int lc_rlimits_apply(const lc_process_config *p, pid_t pid, kc_error *err);
int lc_oom_score_adj_apply(const lc_process_config *p, pid_t pid, kc_error *err);
int lc_scheduler_apply(const lc_process_config *p, pid_t pid, kc_error *err);
int lc_ioprio_apply(const lc_process_config *p, pid_t pid, kc_error *err);
int lc_personality_apply(unsigned long persona, kc_error *err);

/* struct sched_attr as sched_setattr(2) takes it (SCHED_ATTR_SIZE_VER1): glibc 2.36 and musl lack it. */
typedef struct lc_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
} lc_sched_attr;
void lc_sched_attr_from_config(const lc_process_config *p, lc_sched_attr *ret);
/* IOPRIO_PRIO_VALUE(class, level) */
int lc_ioprio_value(int ioprio_class, int level);
