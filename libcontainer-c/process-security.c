/* process-security: the ordered privilege and limit steps of a container process. See process-security.h. */
#include "libcontainer-c/process-security.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/util.h"

#ifndef SYS_sched_setattr
#define SYS_sched_setattr 314
#endif
#ifndef SYS_ioprio_set
#define SYS_ioprio_set 251
#endif
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_LEVEL_MASK 0x7

/* Where no process.user.umask is given: the same default as runc and crun, rather than whatever the runtime
 * happened to run with. */
#define DEFAULT_UMASK 0022

/* ---- limits (step 1) -------------------------------------------------------------------------------------- */

int lc_rlimits_apply(const lc_process_config *p, pid_t pid, kc_error *err) {
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const lc_rlimit_config *rl = &p->rlimits[i];
		struct rlimit lim = { .rlim_cur = (rlim_t)rl->soft, .rlim_max = (rlim_t)rl->hard };
		if (prlimit(pid, rl->resource, &lim, NULL) < 0)
			return kc_error_set(err, errno, "process.rlimits[%zu]: %s soft %llu hard %llu: %s", i,
					    lc_rlimit_to_name(rl->resource) ?: "?", (unsigned long long)rl->soft,
					    (unsigned long long)rl->hard, strerror(errno));
	}
	return 0;
}

int lc_oom_score_adj_apply(const lc_process_config *p, pid_t pid, kc_error *err) {
	char path[sizeof "/proc//oom_score_adj" + DECIMAL_STR_MAX(pid_t)], value[DECIMAL_STR_MAX(int)];
	int r;

	if (!p->has_oom_score_adj)
		return 0;
	if (pid == 0)
		r = format_checked(path, sizeof path, "/proc/self/oom_score_adj");
	else
		r = format_checked(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
	if (r < 0)
		return kc_error_set(err, r, "process.oomScoreAdj: path for pid %d", (int)pid);
	(void)format_checked(value, sizeof value, "%d", p->oom_score_adj);
	r = write_string_file(path, value);
	if (r < 0)
		return kc_error_set(err, r, "process.oomScoreAdj: writing %d to %s: %s", p->oom_score_adj, path,
				    strerror(-r));
	return 0;
}

void lc_sched_attr_from_config(const lc_process_config *p, lc_sched_attr *ret) {
	*ret = (lc_sched_attr){
		.size = sizeof *ret,
		.sched_policy = (uint32_t)p->sched_policy,
		.sched_flags = p->sched_flags,
		.sched_nice = p->sched_nice,
		.sched_priority = (uint32_t)p->sched_priority,
		.sched_runtime = p->sched_runtime,
		.sched_deadline = p->sched_deadline,
		.sched_period = p->sched_period,
	};
}

int lc_scheduler_apply(const lc_process_config *p, pid_t pid, kc_error *err) {
	lc_sched_attr attr;

	if (!p->has_scheduler)
		return 0;
	lc_sched_attr_from_config(p, &attr);
	if (syscall(SYS_sched_setattr, pid, &attr, 0) < 0)
		return kc_error_set(err, errno, "process.scheduler: sched_setattr(policy %d, nice %d, priority %d): %s",
				    p->sched_policy, p->sched_nice, p->sched_priority, strerror(errno));
	return 0;
}

int lc_ioprio_value(int ioprio_class, int level) {
	return (ioprio_class << IOPRIO_CLASS_SHIFT) | (level & IOPRIO_LEVEL_MASK);
}

int lc_ioprio_apply(const lc_process_config *p, pid_t pid, kc_error *err) {
	if (!p->has_io_priority)
		return 0;
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, pid, lc_ioprio_value(p->ioprio_class, p->ioprio_level)) < 0)
		return kc_error_set(err, errno, "process.ioPriority: ioprio_set(class %d, priority %d): %s",
				    p->ioprio_class, p->ioprio_level, strerror(errno));
	return 0;
}

int lc_process_apply_limits(const lc_process_config *p, pid_t pid, kc_error *err) {
	int r = lc_rlimits_apply(p, pid, err);
	if (r < 0)
		return r;
	r = lc_oom_score_adj_apply(p, pid, err);
	if (r < 0)
		return r;
	r = lc_scheduler_apply(p, pid, err);
	if (r < 0)
		return r;
	return lc_ioprio_apply(p, pid, err);
}

int lc_personality_apply(unsigned long persona, kc_error *err) {
	/* personality() returns the previous persona; only -1 with errno set is a failure. */
	errno = 0;
	if (personality(persona) == -1 && errno != 0)
		return kc_error_set(err, errno, "linux.personality: %#lx: %s", persona, strerror(errno));
	return 0;
}

/* ---- seccomp (steps 3 and 8) ------------------------------------------------------------------------------ */

static int install_seccomp(const lc_security_params *sp, kc_error *err) {
	_cleanup_close_ int listener = -EBADF;
	int r;

	r = lc_seccomp_install(sp->seccomp, &listener, err);
	if (r < 0)
		return r;
	if (listener < 0)
		return 0;
	r = sp->listener_cb(listener, sp->userdata, err);
	if (r < 0)
		return err && err->err ? r : kc_error_set(err, r, "seccomp: handing over the listener fd");
	return 0;
}

static bool seccomp_is_late(const lc_security_params *sp) {
	return sp->seccomp && sp->process->no_new_privileges;
}

/* ---- the entry point -------------------------------------------------------------------------------------- */

int lc_process_apply_security(const lc_security_params *sp, kc_error *err) {
	const lc_process_config *p;
	lc_caps_plan plan;
	int r;

	assert_return(sp && sp->process, -EINVAL);
	p = sp->process;
	if (sp->seccomp && sp->seccomp->notify && !sp->listener_cb)
		return kc_error_set(err, EINVAL, "linux.seccomp: SCMP_ACT_NOTIFY needs a listener (the runtime "
				    "passed no listener callback)");
	/* Everything that can be checked is checked before the first change. */
	r = lc_caps_plan_make(p, lc_caps_supported(), &plan, err);
	if (r < 0)
		return r;

	if (!(sp->flags & LC_SECURITY_LIMITS_APPLIED)) {
		r = lc_process_apply_limits(p, 0, err);
		if (r < 0)
			return r;
	}
	if (sp->has_personality) {
		r = lc_personality_apply(sp->personality, err);
		if (r < 0)
			return r;
	}
	(void)umask(p->has_umask ? p->umask : DEFAULT_UMASK);

	if (sp->seccomp && !p->no_new_privileges) {
		r = install_seccomp(sp, err);
		if (r < 0)
			return r;
	}

	r = lc_caps_drop_bounding(plan.set[LC_CAP_BOUNDING], err);
	if (r < 0)
		return r;
	r = lc_identity_switch(p, err);
	if (r < 0)
		return r;
	r = lc_caps_set(&plan, err);
	if (r < 0)
		return r;

	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kc_error_set(err, errno, "process.noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS): %s",
				    strerror(errno));

	if (seccomp_is_late(sp) && !(sp->flags & LC_SECURITY_DEFER_SECCOMP))
		return install_seccomp(sp, err);
	return 0;
}

int lc_process_apply_late_seccomp(const lc_security_params *sp, kc_error *err) {
	assert_return(sp && sp->process, -EINVAL);
	if (!seccomp_is_late(sp) || !(sp->flags & LC_SECURITY_DEFER_SECCOMP))
		return 0;
	return install_seccomp(sp, err);
}
