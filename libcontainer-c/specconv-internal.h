/* The name tables behind specconv: mount options, seccomp names, namespaces, scheduler. Private. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "libcontainer-c/specconv.h"

/* mount_setattr(2) attributes, defined here because glibc's <sys/mount.h> and <linux/mount.h> clash and musl
 * has neither. The values are kernel ABI. */
#define LC_MOUNT_ATTR_RDONLY      0x00000001ULL
#define LC_MOUNT_ATTR_NOSUID      0x00000002ULL
#define LC_MOUNT_ATTR_NODEV       0x00000004ULL
#define LC_MOUNT_ATTR_NOEXEC      0x00000008ULL
#define LC_MOUNT_ATTR__ATIME      0x00000070ULL
#define LC_MOUNT_ATTR_RELATIME    0x00000000ULL
#define LC_MOUNT_ATTR_NOATIME     0x00000010ULL
#define LC_MOUNT_ATTR_STRICTATIME 0x00000020ULL
#define LC_MOUNT_ATTR_NODIRATIME  0x00000080ULL
#define LC_MOUNT_ATTR_IDMAP       0x00100000ULL
#define LC_MOUNT_ATTR_NOSYMFOLLOW 0x00200000ULL

typedef enum lc_mount_option_kind {
	LC_MOPT_FLAG,        /* MS_* for mount(2) */
	LC_MOPT_PROPAGATION, /* MS_SHARED etc., possibly | MS_REC */
	LC_MOPT_ATTR,        /* MOUNT_ATTR_*, recursive */
	LC_MOPT_ATIME_ATTR,  /* a MOUNT_ATTR__ATIME mode, recursive */
	LC_MOPT_LC,          /* LC_MOUNT_* */
	LC_MOPT_IGNORE,      /* "defaults" */
} lc_mount_option_kind;

typedef struct lc_mount_option {
	const char *name;
	lc_mount_option_kind kind;
	bool clear; /* "rw", "suid", "rsuid": the flag is cleared */
	uint64_t value;
} lc_mount_option;

const lc_mount_option *lc_mount_option_lookup(const char *name);

int lc_ns_kind_from_name(const char *name); /* -1 when unknown */
/* rootfsPropagation and mount propagation names: MS_* | MS_REC for the r* forms; 0 when unknown. */
unsigned long lc_propagation_from_name(const char *name);

int lc_seccomp_action_from_name(const char *name);
int lc_seccomp_op_from_name(const char *name);
unsigned lc_seccomp_flag_from_name(const char *name); /* 0 when unknown */
/* "SCMP_ARCH_X86_64" → "x86_64", the name libseccomp's seccomp_arch_resolve_name() takes; NULL if unknown. */
const char *lc_seccomp_arch_from_name(const char *name);

int lc_sched_policy_from_name(const char *name);
uint64_t lc_sched_flag_from_name(const char *name); /* 0 when unknown */
int lc_ioprio_class_from_name(const char *name);
