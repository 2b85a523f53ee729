/* caps: capability sets with capset/prctl, and the identity switch that has to keep them. See caps.h. */
#include "libcontainer-c/caps.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

_Static_assert(sizeof(lc_cap_data) == sizeof(struct __user_cap_data_struct), "capset layout");
_Static_assert(offsetof(lc_cap_data, inheritable) == offsetof(struct __user_cap_data_struct, inheritable),
	       "capset layout");

static const char *const set_names[_LC_CAP_SET_MAX] = {
	[LC_CAP_BOUNDING] = "bounding", [LC_CAP_EFFECTIVE] = "effective", [LC_CAP_INHERITABLE] = "inheritable",
	[LC_CAP_PERMITTED] = "permitted", [LC_CAP_AMBIENT] = "ambient",
};

/* A kernel fact that never changes while we run, so caching it process-wide is safe (and fork inherits it). */
static int cached_last_cap = -1;

int lc_caps_last_cap(void) {
	if (cached_last_cap >= 0)
		return cached_last_cap;
	/* PR_CAPBSET_READ fails with EINVAL past the last capability the kernel has: a binary search over 0..63
	 * (six calls on the container start path instead of two dozen). */
	int lo = 0, hi = 63;
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (prctl(PR_CAPBSET_READ, (unsigned long)mid, 0, 0, 0) >= 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	cached_last_cap = lo;
	return lo;
}

uint64_t lc_caps_supported(void) {
	int last = lc_caps_last_cap();
	return last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;
}

void lc_caps_format(uint64_t mask, char *buf, size_t size) {
	size_t len = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	if (mask == 0) {
		(void)snprintf(buf, size, "none");
		return;
	}
	for (int cap = 0; cap < 64; cap++) {
		if (!(mask & LC_CAP_MASK(cap)))
			continue;
		const char *name = lc_capability_to_name(cap);
		char num[16];
		if (!name) {
			(void)snprintf(num, sizeof num, "%d", cap);
			name = num;
		}
		int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", name);
		if (n < 0 || (size_t)n >= size - len) {
			if (size > 4)
				memcpy(buf + size - 4, "...", 4);
			return;
		}
		len += (size_t)n;
	}
}

static int subset_error(uint64_t extra, const char *set, const char *rule, kc_error *err) {
	char names[256];
	lc_caps_format(extra, names, sizeof names);
	return kc_error_set(err, EINVAL, "process.capabilities.%s: %s %s", set, names, rule);
}

int lc_caps_plan_make(const lc_process_config *p, uint64_t supported, lc_caps_plan *ret, kc_error *err) {
	lc_caps_plan plan = { 0 };

	if (p->has_capabilities)
		for (int s = 0; s < _LC_CAP_SET_MAX; s++) {
			plan.unsupported |= p->caps[s] & ~supported;
			plan.set[s] = p->caps[s] & supported;
		}
	uint64_t extra = plan.set[LC_CAP_EFFECTIVE] & ~plan.set[LC_CAP_PERMITTED];
	if (extra)
		return subset_error(extra, set_names[LC_CAP_EFFECTIVE], "not in permitted", err);
	extra = plan.set[LC_CAP_INHERITABLE] & ~plan.set[LC_CAP_BOUNDING];
	if (extra)
		return subset_error(extra, set_names[LC_CAP_INHERITABLE], "not in bounding", err);
	extra = plan.set[LC_CAP_AMBIENT] & ~(plan.set[LC_CAP_PERMITTED] & plan.set[LC_CAP_INHERITABLE]);
	if (extra)
		return subset_error(extra, set_names[LC_CAP_AMBIENT], "not in both permitted and inheritable", err);
	*ret = plan;
	return 0;
}

void lc_caps_to_kernel(uint64_t effective, uint64_t permitted, uint64_t inheritable, lc_cap_data ret[2]) {
	for (int i = 0; i < 2; i++)
		ret[i] = (lc_cap_data){
			.effective = (uint32_t)(effective >> (32 * i)),
			.permitted = (uint32_t)(permitted >> (32 * i)),
			.inheritable = (uint32_t)(inheritable >> (32 * i)),
		};
}

void lc_caps_from_kernel(const lc_cap_data d[2], uint64_t *ret_effective, uint64_t *ret_permitted,
			 uint64_t *ret_inheritable) {
	*ret_effective = d[0].effective | (uint64_t)d[1].effective << 32;
	*ret_permitted = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*ret_inheritable = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
}

int lc_caps_get(uint64_t *ret_effective, uint64_t *ret_permitted, uint64_t *ret_inheritable) {
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	lc_cap_data d[2];

	if (syscall(SYS_capget, &hdr, d) < 0)
		return negative_errno();
	lc_caps_from_kernel(d, ret_effective, ret_permitted, ret_inheritable);
	return 0;
}

int lc_caps_drop_bounding(uint64_t keep, kc_error *err) {
	int last = lc_caps_last_cap();

	for (int cap = 0; cap <= last; cap++) {
		if (keep & LC_CAP_MASK(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) >= 0)
			continue;
		/* Dropping needs CAP_SETPCAP even for a capability already gone; those are fine, so that an exec
		 * into a container whose bounding set is already small works without it. Asked only on failure:
		 * one call per capability on the usual path. */
		int e = errno;
		if (prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) == 0)
			continue;
		return kc_error_set(err, e, "process.capabilities.bounding: dropping %s: %s",
				    lc_capability_to_name(cap) ?: "?", strerror(e));
	}
	return 0;
}

static int switch_groups(const lc_process_config *p, kc_error *err) {
	if (setgroups(p->n_additional_gids, p->additional_gids) == 0)
		return 0;
	int e = errno;
	/* In a user namespace whose /proc/PID/setgroups is "deny" (rootless), setgroups fails even with
	 * CAP_SETGID. With no group asked for there is nothing we could have set: go on, as crun does. */
	uint64_t eff, prm, inh;
	if (e == EPERM && p->n_additional_gids == 0 && lc_caps_get(&eff, &prm, &inh) >= 0 &&
	    (eff & LC_CAP_MASK(CAP_SETGID)))
		return 0;
	return kc_error_set(err, e, "process.user.additionalGids: setgroups of %zu groups: %s", p->n_additional_gids,
			    strerror(e));
}

int lc_identity_switch(const lc_process_config *p, kc_error *err) {
	int pdeathsig = 0, r;

	/* A credential change clears the parent-death signal; the runtime may rely on it. */
	(void)prctl(PR_GET_PDEATHSIG, &pdeathsig, 0, 0, 0);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return kc_error_set(err, errno, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
	r = switch_groups(p, err);
	if (r < 0)
		return r;
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return kc_error_set(err, errno, "process.user.gid: setresgid(%u): %s", (unsigned)p->gid,
				    strerror(errno));
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return kc_error_set(err, errno, "process.user.uid: setresuid(%u): %s", (unsigned)p->uid,
				    strerror(errno));
	/* Only for the switch above: the flag would otherwise survive into the container until execve. */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return kc_error_set(err, errno, "prctl(PR_SET_KEEPCAPS, 0): %s", strerror(errno));
	if (pdeathsig > 0 && prctl(PR_SET_PDEATHSIG, (unsigned long)pdeathsig, 0, 0, 0) < 0)
		return kc_error_set(err, errno, "prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
	return 0;
}

int lc_caps_set(const lc_caps_plan *plan, kc_error *err) {
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	lc_cap_data d[2];

	lc_caps_to_kernel(plan->set[LC_CAP_EFFECTIVE], plan->set[LC_CAP_PERMITTED], plan->set[LC_CAP_INHERITABLE], d);
	if (syscall(SYS_capset, &hdr, d) < 0) {
		char want[256];
		lc_caps_format(plan->set[LC_CAP_PERMITTED], want, sizeof want);
		return kc_error_set(err, errno, "process.capabilities: capset (permitted: %s): %s", want,
				    strerror(errno));
	}
	/* Clear first: an exec into a container must not keep the runtime's ambient set. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kc_error_set(err, errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL): %s", strerror(errno));
	for (int cap = 0; cap < 64; cap++) {
		if (!(plan->set[LC_CAP_AMBIENT] & LC_CAP_MASK(cap)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0, 0) < 0)
			return kc_error_set(err, errno, "process.capabilities.ambient: raising %s: %s",
					    lc_capability_to_name(cap) ?: "?", strerror(errno));
	}
	return 0;
}
