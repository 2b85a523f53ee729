/* caps: the five capability sets of a process and the uid/gid switch they have to survive.
 *
 * The sets come from specconv as 64-bit masks indexed by capability number. They are applied with capset(2)
 * and prctl(2) directly rather than through libcap-ng: libcap-ng keeps process-global state, reads
 * /proc/<pid>/status (the container's /proc by then) to refresh it, silently skips the bounding set without
 * CAP_SETPCAP, and reports coded negative values instead of errno, while these steps must fail loudly, name the
 * capability and stay syscalls only in a child that has already pivoted.
 *
 * The child-side order (lc_process_apply_security() drives it):
 *   1. lc_caps_drop_bounding()   needs CAP_SETPCAP, so while the caps are still full
 *   2. lc_identity_switch()      PR_SET_KEEPCAPS keeps the permitted set across setresuid; groups and gid
 *                                first, while CAP_SETGID is still effective (setresuid to non-root clears
 *                                the effective set, and the ambient set)
 *   3. lc_caps_set()             effective/permitted/inheritable with capset, then ambient (which the kernel
 *                                raises only for a capability in both permitted and inheritable) */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "libcontainer-c/specconv.h"

#define LC_CAP_MASK(cap) (UINT64_C(1) << (cap))

/* The highest capability number this kernel knows (probed once with PR_CAPBSET_READ, no /proc needed). */
int lc_caps_last_cap(void);
/* Every capability this kernel knows. */
uint64_t lc_caps_supported(void);

typedef struct lc_caps_plan {
	uint64_t set[_LC_CAP_SET_MAX];
	/* Requested capabilities this kernel does not have: left out, as runc does; the runtime may warn. */
	uint64_t unsupported;
} lc_caps_plan;

/* Checks and masks the sets of p against the capabilities the kernel supports. Pure. The kernel rules checked
 * here, so that they fail with a name rather than a bare EPERM from capset in the child:
 *   effective ⊆ permitted; inheritable ⊆ bounding (capset refuses more once the bounding set is dropped);
 *   ambient ⊆ permitted ∩ inheritable.
 * Without process.capabilities every set is empty. */
int lc_caps_plan_make(const lc_process_config *p, uint64_t supported, lc_caps_plan *ret, kc_error *err);

/* capset(2)'s version 3 layout: two 32-bit words per set. */
typedef struct lc_cap_data {
	uint32_t effective, permitted, inheritable;
} lc_cap_data;
void lc_caps_to_kernel(uint64_t effective, uint64_t permitted, uint64_t inheritable, lc_cap_data ret[2]);
void lc_caps_from_kernel(const lc_cap_data d[2], uint64_t *ret_effective, uint64_t *ret_permitted,
			 uint64_t *ret_inheritable);

/* "CAP_CHOWN, CAP_KILL" (numbers for caps without a name); "none" when empty; truncated with "..." */
void lc_caps_format(uint64_t mask, char *buf, size_t size);

/* The child's steps, in this order. */
int lc_caps_drop_bounding(uint64_t keep, kc_error *err);
int lc_identity_switch(const lc_process_config *p, kc_error *err);
int lc_caps_set(const lc_caps_plan *plan, kc_error *err);

/* The current effective/permitted/inheritable sets (capget). */
int lc_caps_get(uint64_t *ret_effective, uint64_t *ret_permitted, uint64_t *ret_inheritable);
