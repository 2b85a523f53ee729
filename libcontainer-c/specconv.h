/* specconv: lc_spec → lc_config, the validated internal form that the executor runs.
 *
 * All validation of a container configuration lives here, and the rest of libcontainer-c trusts an
 * lc_config: names are resolved to numbers (capabilities to 64-bit masks, rlimits to RLIMIT_*, namespaces to
 * CLONE_NEW*, mount options to MS_* / MOUNT_ATTR_* / propagation, seccomp names to enums), paths that must be
 * absolute are, ranges are checked, and sysctls and the hostname are judged against the namespaces the
 * container really has. Every error names the JSON path of the field and its value:
 *   linux.namespaces[2].type: unknown namespace "foo"
 *
 * An lc_config holds a reference on the lc_spec it was made from; its strings point into that spec. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "libcontainer-c/spec.h"

/* ---- namespaces ---------------------------------------------------------------------------------------- */

typedef enum lc_ns_kind {
	LC_NS_MOUNT,
	LC_NS_UTS,
	LC_NS_IPC,
	LC_NS_PID,
	LC_NS_NET,
	LC_NS_USER,
	LC_NS_CGROUP,
	LC_NS_TIME,
	_LC_NS_MAX,
} lc_ns_kind;

#define LC_NS_BIT(kind) (1u << (kind))

/* The spec's name ("network"), the clone flag, and the /proc/PID/ns/ file name ("net"). */
const char *lc_ns_kind_name(lc_ns_kind k);
unsigned long lc_ns_kind_clone_flag(lc_ns_kind k);
const char *lc_ns_kind_proc_name(lc_ns_kind k);

/* ---- the options the caller passes --------------------------------------------------------------------- */

enum {
	/* process may be absent and process.args empty: a create whose process comes later (lcrun exec
	 * --process, or a runtime-tools config without process). */
	LC_SPECCONV_PROCESS_OPTIONAL = 1 << 0,
};

typedef struct lc_specconv_opts {
	/* Namespaces (LC_NS_BIT) that the container lives in although its spec does not list them, because
	 * someone else owns them: the agent declares the sandbox's net, ipc and uts. They count as the
	 * container's own for sysctls and the hostname; they are not created or joined by the executor. */
	unsigned shared_ns;
	unsigned flags;
} lc_specconv_opts;

/* ---- the validated configuration ----------------------------------------------------------------------- */

typedef struct lc_ns_config {
	bool enabled;     /* listed in linux.namespaces */
	const char *path; /* join this one; NULL: create a new one */
} lc_ns_config;

typedef enum lc_cap_set {
	LC_CAP_BOUNDING,
	LC_CAP_EFFECTIVE,
	LC_CAP_INHERITABLE,
	LC_CAP_PERMITTED,
	LC_CAP_AMBIENT,
	_LC_CAP_SET_MAX,
} lc_cap_set;

typedef struct lc_rlimit_config {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
} lc_rlimit_config;

typedef struct lc_process_config {
	char *const *args; /* NULL-terminated; NULL when empty (LC_SPECCONV_PROCESS_OPTIONAL) */
	size_t n_args;
	char *const *env; /* NULL-terminated, every entry KEY=VALUE; NULL when empty */
	size_t n_env;
	const char *cwd; /* absolute */
	bool terminal;
	bool has_console_size;
	uint16_t console_height, console_width;
	uid_t uid;
	gid_t gid;
	const gid_t *additional_gids; /* exactly as the spec lists them */
	size_t n_additional_gids;
	bool has_umask;
	mode_t umask;
	bool has_capabilities; /* absent: the executor keeps its default (none for create; the container's
				* for exec, as the Kata agent does) */
	uint64_t caps[_LC_CAP_SET_MAX];
	lc_rlimit_config *rlimits; /* resources unique */
	size_t n_rlimits;
	bool no_new_privileges;
	const char *apparmor_profile, *selinux_label;
	bool has_oom_score_adj;
	int oom_score_adj; /* -1000..1000 */
	bool has_scheduler;
	int sched_policy; /* SCHED_* */
	uint64_t sched_flags; /* SCHED_FLAG_* */
	int sched_nice, sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	bool has_io_priority;
	int ioprio_class; /* IOPRIO_CLASS_* (1 RT, 2 BE, 3 IDLE) */
	int ioprio_level; /* 0..7 */
} lc_process_config;

enum {
	LC_MOUNT_BIND = 1 << 0,       /* bind or rbind (MS_BIND also in flags) */
	LC_MOUNT_IDMAP = 1 << 1,      /* idmap/ridmap option or mount mappings: an idmapped bind */
	LC_MOUNT_TMPCOPYUP = 1 << 2,  /* tmpfs seeded with the image's content at the target (crun/podman) */
};

typedef struct lc_mount_config {
	const char *destination; /* absolute (a relative one is taken relative to /, as the spec says) */
	const char *source;      /* may be NULL for pseudo filesystems */
	const char *type;        /* NULL for a bind without type */
	unsigned long flags;     /* MS_* for mount(2): RDONLY, NOSUID, BIND, REC, REMOUNT, ... */
	unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (| MS_REC), applied after; 0: none */
	/* mount_setattr(2) attributes applied recursively (AT_RECURSIVE) after the mount: the r* options
	 * ("rro", "rnosuid"), and for an idmapped mount MOUNT_ATTR_IDMAP. attr_clr includes MOUNT_ATTR__ATIME
	 * whenever an atime mode is set, as the kernel requires. */
	uint64_t attr_set, attr_clr;
	bool idmap_recursive; /* "ridmap" */
	const char *data;     /* the options that are not flags, comma-joined; NULL when none */
	unsigned lc_flags;    /* LC_MOUNT_* */
	const lc_id_mapping *uid_mappings, *gid_mappings; /* for LC_MOUNT_IDMAP; NULL: the container's */
	size_t n_uid_mappings, n_gid_mappings;
} lc_mount_config;

typedef struct lc_device_config {
	const char *path;   /* absolute, under /dev */
	mode_t type;        /* S_IFCHR, S_IFBLK or S_IFIFO ("u" is S_IFCHR, unbuffered) */
	dev_t rdev;         /* makedev(major, minor); 0 for a fifo */
	mode_t file_mode;   /* permission bits; 0666 when the spec has none */
	uid_t uid;
	gid_t gid;
} lc_device_config;

typedef struct lc_sysctl_config {
	const char *key, *value;
	const char *proc_path; /* relative to /proc/sys: "net/ipv4/ip_forward" (dots and slashes swapped
				* as sysctl(8) does when the key uses '/' as the separator) */
} lc_sysctl_config;

typedef struct lc_hook_config {
	const char *path; /* absolute */
	char *const *args, *const *env; /* NULL-terminated or NULL */
	size_t n_args, n_env;
	int64_t timeout; /* seconds; 0: none given (the executor applies its own bound) */
} lc_hook_config;

/* Seccomp with every name resolved; the executor maps these to libseccomp values. */
typedef enum lc_seccomp_action {
	LC_SCMP_ACT_KILL_THREAD, /* SCMP_ACT_KILL is an alias */
	LC_SCMP_ACT_KILL_PROCESS,
	LC_SCMP_ACT_TRAP,
	LC_SCMP_ACT_ERRNO,
	LC_SCMP_ACT_TRACE,
	LC_SCMP_ACT_ALLOW,
	LC_SCMP_ACT_LOG,
	LC_SCMP_ACT_NOTIFY,
} lc_seccomp_action;

typedef enum lc_seccomp_op {
	LC_SCMP_CMP_NE,
	LC_SCMP_CMP_LT,
	LC_SCMP_CMP_LE,
	LC_SCMP_CMP_EQ,
	LC_SCMP_CMP_GE,
	LC_SCMP_CMP_GT,
	LC_SCMP_CMP_MASKED_EQ,
} lc_seccomp_op;

typedef struct lc_seccomp_arg_config {
	unsigned index; /* 0..5 */
	lc_seccomp_op op;
	uint64_t value, value_two;
} lc_seccomp_arg_config;

typedef struct lc_syscall_config {
	char *const *names; /* non-empty, each 1..LC_SYSCALL_NAME_MAX bytes; resolved by libseccomp later */
	size_t n_names;
	lc_seccomp_action action;
	int errno_ret; /* for ERRNO and TRACE: the spec's errnoRet, else EPERM */
	const lc_seccomp_arg_config *args;
	size_t n_args;
} lc_syscall_config;

enum {
	LC_SECCOMP_FLAG_TSYNC = 1 << 0,
	LC_SECCOMP_FLAG_LOG = 1 << 1,
	LC_SECCOMP_FLAG_SPEC_ALLOW = 1 << 2,
	LC_SECCOMP_FLAG_WAIT_KILLABLE_RECV = 1 << 3,
};

#define LC_SYSCALL_NAME_MAX 64

typedef struct lc_seccomp_config {
	lc_seccomp_action default_action;
	int default_errno_ret;
	/* libseccomp's names ("x86_64", "aarch64") for seccomp_arch_resolve_name(): the executor stays the
	 * only place that needs libseccomp, and an architecture this libseccomp lacks fails there. */
	const char **architectures;
	size_t n_architectures;
	unsigned flags; /* LC_SECCOMP_FLAG_* */
	const char *listener_path, *listener_metadata; /* set when any action is NOTIFY */
	const lc_syscall_config *syscalls;
	size_t n_syscalls;
	bool uses_notify;
} lc_seccomp_config;

typedef struct lc_time_offset_config {
	bool set;
	int64_t secs;
	uint32_t nanosecs;
} lc_time_offset_config;

typedef struct lc_config {
	lc_spec *spec; /* referenced; everything the executor needs is below, resolved */
	struct lc_arena *arena;

	lc_ns_config ns[_LC_NS_MAX];
	unsigned long clone_flags; /* CLONE_NEW* of the namespaces to create (no path) */
	unsigned shared_ns;        /* opts.shared_ns */
	lc_id_mapping *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;

	lc_process_config *process; /* NULL only with LC_SPECCONV_PROCESS_OPTIONAL */
	const char *rootfs;         /* root.path, as given (the bundle-relative resolution is the caller's) */
	bool rootfs_readonly;
	unsigned long rootfs_propagation; /* MS_* | MS_REC; 0: not set, the executor's default applies */
	const char *hostname, *domainname;
	lc_mount_config *mounts;
	size_t n_mounts;
	lc_device_config *devices;
	size_t n_devices;
	lc_sysctl_config *sysctl;
	size_t n_sysctl;
	lc_hook_config *hooks[_LC_HOOK_MAX];
	size_t n_hooks[_LC_HOOK_MAX];
	char *const *masked_paths, *const *readonly_paths; /* absolute */
	size_t n_masked_paths, n_readonly_paths;
	const char *mount_label, *cgroups_path;
	/* Range-checked; see specconv.c for each rule. Pointers into the spec; NULL when absent. */
	const lc_spec_resources *resources;
	lc_seccomp_config *seccomp; /* NULL: no seccomp */
	bool has_personality;
	unsigned long personality; /* PER_LINUX or PER_LINUX32 */
	lc_time_offset_config time_monotonic, time_boottime;
	const lc_spec_intel_rdt *intel_rdt;
} lc_config;

int lc_config_from_spec(lc_spec *spec, const lc_specconv_opts *opts, lc_config **ret, kc_error *err);
lc_config *lc_config_free(lc_config *c);
static inline void lc_config_freep(lc_config **c) {
	if (*c)
		(void)lc_config_free(*c);
}

/* ---- the name tables, for the executor and lcrun (`features`) ------------------------------------------ */

/* CAP_CHOWN..CAP_CHECKPOINT_RESTORE; -1 when unknown. */
int lc_capability_from_name(const char *name);
const char *lc_capability_to_name(int cap);
#define LC_CAP_LAST 40
/* RLIMIT_*; -1 when unknown. */
int lc_rlimit_from_name(const char *name);
const char *lc_rlimit_to_name(int resource);

/* The names specconv accepts, for `lcrun features`: entry i of a table, NULL past its end. */
typedef enum lc_name_table {
	LC_NAMES_MOUNT_OPTIONS,
	LC_NAMES_SECCOMP_ACTIONS,
	LC_NAMES_SECCOMP_OPERATORS,
	LC_NAMES_SECCOMP_FLAGS,
	LC_NAMES_SECCOMP_ARCHES,
} lc_name_table;
const char *lc_name_at(lc_name_table t, size_t i);
