/* Name tables: capabilities, rlimits, namespaces, mount options, propagation, seccomp, scheduling. Tables
 * rather than switch ladders so that lcrun `features` can list them and a new name is one row. */
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include "common/macro.h"
#include "libcontainer-c/specconv-internal.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef MS_LAZYTIME
#define MS_LAZYTIME (1 << 25)
#endif

/* Indexed by capability number (linux/capability.h). */
static const char *const cap_names[LC_CAP_LAST + 1] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

int lc_capability_from_name(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(cap_names); i++)
		if (strcmp(cap_names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *lc_capability_to_name(int cap) {
	return cap >= 0 && cap <= LC_CAP_LAST ? cap_names[cap] : NULL;
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{"RLIMIT_CPU", RLIMIT_CPU},
	{"RLIMIT_FSIZE", RLIMIT_FSIZE},
	{"RLIMIT_DATA", RLIMIT_DATA},
	{"RLIMIT_STACK", RLIMIT_STACK},
	{"RLIMIT_CORE", RLIMIT_CORE},
	{"RLIMIT_RSS", RLIMIT_RSS},
	{"RLIMIT_NPROC", RLIMIT_NPROC},
	{"RLIMIT_NOFILE", RLIMIT_NOFILE},
	{"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
	{"RLIMIT_AS", RLIMIT_AS},
	{"RLIMIT_LOCKS", RLIMIT_LOCKS},
	{"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
	{"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", RLIMIT_NICE},
	{"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

int lc_rlimit_from_name(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(rlimits); i++)
		if (strcmp(rlimits[i].name, name) == 0)
			return rlimits[i].resource;
	return -1;
}

const char *lc_rlimit_to_name(int resource) {
	for (size_t i = 0; i < ELEMENTSOF(rlimits); i++)
		if (rlimits[i].resource == resource)
			return rlimits[i].name;
	return NULL;
}

static const struct {
	const char *name, *proc_name;
	unsigned long flag;
} namespaces[_LC_NS_MAX] = {
	[LC_NS_MOUNT] = {"mount", "mnt", CLONE_NEWNS},
	[LC_NS_UTS] = {"uts", "uts", CLONE_NEWUTS},
	[LC_NS_IPC] = {"ipc", "ipc", CLONE_NEWIPC},
	[LC_NS_PID] = {"pid", "pid", CLONE_NEWPID},
	[LC_NS_NET] = {"network", "net", CLONE_NEWNET},
	[LC_NS_USER] = {"user", "user", CLONE_NEWUSER},
	[LC_NS_CGROUP] = {"cgroup", "cgroup", CLONE_NEWCGROUP},
	[LC_NS_TIME] = {"time", "time", CLONE_NEWTIME},
};

int lc_ns_kind_from_name(const char *name) {
	for (int i = 0; i < _LC_NS_MAX; i++)
		if (strcmp(namespaces[i].name, name) == 0)
			return i;
	return -1;
}

const char *lc_ns_kind_name(lc_ns_kind k) {
	return (unsigned)k < _LC_NS_MAX ? namespaces[k].name : NULL;
}

const char *lc_ns_kind_proc_name(lc_ns_kind k) {
	return (unsigned)k < _LC_NS_MAX ? namespaces[k].proc_name : NULL;
}

unsigned long lc_ns_kind_clone_flag(lc_ns_kind k) {
	return (unsigned)k < _LC_NS_MAX ? namespaces[k].flag : 0;
}

#define MFLAG(n, f) {n, LC_MOPT_FLAG, false, f}
#define MCLEAR(n, f) {n, LC_MOPT_FLAG, true, f}
#define MPROP(n, f) {n, LC_MOPT_PROPAGATION, false, f}
#define MATTR(n, f) {n, LC_MOPT_ATTR, false, f}
#define MATTR_CLEAR(n, f) {n, LC_MOPT_ATTR, true, f}
static const lc_mount_option mount_options[] = {
	{"defaults", LC_MOPT_IGNORE, false, 0},
	MFLAG("ro", MS_RDONLY),
	MCLEAR("rw", MS_RDONLY),
	MFLAG("nosuid", MS_NOSUID),
	MCLEAR("suid", MS_NOSUID),
	MFLAG("nodev", MS_NODEV),
	MCLEAR("dev", MS_NODEV),
	MFLAG("noexec", MS_NOEXEC),
	MCLEAR("exec", MS_NOEXEC),
	MFLAG("sync", MS_SYNCHRONOUS),
	MCLEAR("async", MS_SYNCHRONOUS),
	MFLAG("dirsync", MS_DIRSYNC),
	MFLAG("remount", MS_REMOUNT),
	MFLAG("mand", MS_MANDLOCK),
	MCLEAR("nomand", MS_MANDLOCK),
	MCLEAR("atime", MS_NOATIME),
	MFLAG("noatime", MS_NOATIME),
	MCLEAR("diratime", MS_NODIRATIME),
	MFLAG("nodiratime", MS_NODIRATIME),
	MFLAG("relatime", MS_RELATIME),
	MCLEAR("norelatime", MS_RELATIME),
	MFLAG("strictatime", MS_STRICTATIME),
	MCLEAR("nostrictatime", MS_STRICTATIME),
	MFLAG("lazytime", MS_LAZYTIME),
	MCLEAR("nolazytime", MS_LAZYTIME),
	MFLAG("nosymfollow", MS_NOSYMFOLLOW),
	MCLEAR("symfollow", MS_NOSYMFOLLOW),
	MFLAG("bind", MS_BIND),
	MFLAG("rbind", MS_BIND | MS_REC),
	MPROP("private", MS_PRIVATE),
	MPROP("rprivate", MS_PRIVATE | MS_REC),
	MPROP("shared", MS_SHARED),
	MPROP("rshared", MS_SHARED | MS_REC),
	MPROP("slave", MS_SLAVE),
	MPROP("rslave", MS_SLAVE | MS_REC),
	MPROP("unbindable", MS_UNBINDABLE),
	MPROP("runbindable", MS_UNBINDABLE | MS_REC),
	MATTR("rro", LC_MOUNT_ATTR_RDONLY),
	MATTR_CLEAR("rrw", LC_MOUNT_ATTR_RDONLY),
	MATTR("rnosuid", LC_MOUNT_ATTR_NOSUID),
	MATTR_CLEAR("rsuid", LC_MOUNT_ATTR_NOSUID),
	MATTR("rnodev", LC_MOUNT_ATTR_NODEV),
	MATTR_CLEAR("rdev", LC_MOUNT_ATTR_NODEV),
	MATTR("rnoexec", LC_MOUNT_ATTR_NOEXEC),
	MATTR_CLEAR("rexec", LC_MOUNT_ATTR_NOEXEC),
	MATTR("rnodiratime", LC_MOUNT_ATTR_NODIRATIME),
	MATTR_CLEAR("rdiratime", LC_MOUNT_ATTR_NODIRATIME),
	MATTR("rnosymfollow", LC_MOUNT_ATTR_NOSYMFOLLOW),
	MATTR_CLEAR("rsymfollow", LC_MOUNT_ATTR_NOSYMFOLLOW),
	/* The atime modes are one 3-bit field: setting one replaces the others; clearing one falls back to
	 * relatime, the kernel's default. */
	{"rrelatime", LC_MOPT_ATIME_ATTR, false, LC_MOUNT_ATTR_RELATIME},
	{"rnorelatime", LC_MOPT_ATIME_ATTR, true, LC_MOUNT_ATTR_RELATIME},
	{"rnoatime", LC_MOPT_ATIME_ATTR, false, LC_MOUNT_ATTR_NOATIME},
	{"ratime", LC_MOPT_ATIME_ATTR, true, LC_MOUNT_ATTR_NOATIME},
	{"rstrictatime", LC_MOPT_ATIME_ATTR, false, LC_MOUNT_ATTR_STRICTATIME},
	{"rnostrictatime", LC_MOPT_ATIME_ATTR, true, LC_MOUNT_ATTR_STRICTATIME},
	{"idmap", LC_MOPT_LC, false, LC_MOUNT_IDMAP},
	{"ridmap", LC_MOPT_LC, true, LC_MOUNT_IDMAP}, /* `clear` marks the recursive form here */
	{"tmpcopyup", LC_MOPT_LC, false, LC_MOUNT_TMPCOPYUP},
};

const lc_mount_option *lc_mount_option_lookup(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(mount_options); i++)
		if (strcmp(mount_options[i].name, name) == 0)
			return &mount_options[i];
	return NULL;
}

unsigned long lc_propagation_from_name(const char *name) {
	const lc_mount_option *o = lc_mount_option_lookup(name);
	return o && o->kind == LC_MOPT_PROPAGATION ? o->value : 0;
}

static const struct {
	const char *name;
	int value;
} seccomp_actions[] = {
	{"SCMP_ACT_KILL", LC_SCMP_ACT_KILL_THREAD},
	{"SCMP_ACT_KILL_THREAD", LC_SCMP_ACT_KILL_THREAD},
	{"SCMP_ACT_KILL_PROCESS", LC_SCMP_ACT_KILL_PROCESS},
	{"SCMP_ACT_TRAP", LC_SCMP_ACT_TRAP},
	{"SCMP_ACT_ERRNO", LC_SCMP_ACT_ERRNO},
	{"SCMP_ACT_TRACE", LC_SCMP_ACT_TRACE},
	{"SCMP_ACT_ALLOW", LC_SCMP_ACT_ALLOW},
	{"SCMP_ACT_LOG", LC_SCMP_ACT_LOG},
	{"SCMP_ACT_NOTIFY", LC_SCMP_ACT_NOTIFY},
}, seccomp_ops[] = {
	{"SCMP_CMP_NE", LC_SCMP_CMP_NE},
	{"SCMP_CMP_LT", LC_SCMP_CMP_LT},
	{"SCMP_CMP_LE", LC_SCMP_CMP_LE},
	{"SCMP_CMP_EQ", LC_SCMP_CMP_EQ},
	{"SCMP_CMP_GE", LC_SCMP_CMP_GE},
	{"SCMP_CMP_GT", LC_SCMP_CMP_GT},
	{"SCMP_CMP_MASKED_EQ", LC_SCMP_CMP_MASKED_EQ},
}, seccomp_flags[] = {
	{"SECCOMP_FILTER_FLAG_TSYNC", LC_SECCOMP_FLAG_TSYNC},
	{"SECCOMP_FILTER_FLAG_LOG", LC_SECCOMP_FLAG_LOG},
	{"SECCOMP_FILTER_FLAG_SPEC_ALLOW", LC_SECCOMP_FLAG_SPEC_ALLOW},
	{"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", LC_SECCOMP_FLAG_WAIT_KILLABLE_RECV},
}, sched_policies[] = {
	{"SCHED_OTHER", 0},
	{"SCHED_FIFO", 1},
	{"SCHED_RR", 2},
	{"SCHED_BATCH", 3},
	{"SCHED_IDLE", 5},
	{"SCHED_DEADLINE", 6},
}, sched_flags[] = {
	/* linux/sched.h SCHED_FLAG_*, which libcs do not export. */
	{"SCHED_FLAG_RESET_ON_FORK", 0x01},
	{"SCHED_FLAG_RECLAIM", 0x02},
	{"SCHED_FLAG_DL_OVERRUN", 0x04},
	{"SCHED_FLAG_KEEP_POLICY", 0x08},
	{"SCHED_FLAG_KEEP_PARAMS", 0x10},
	{"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
	{"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40},
}, ioprio_classes[] = {
	{"IOPRIO_CLASS_RT", 1},
	{"IOPRIO_CLASS_BE", 2},
	{"IOPRIO_CLASS_IDLE", 3},
};

#define LOOKUP(table, name, missing)                                    \
	({                                                              \
		int _v = (missing);                                     \
		for (size_t _i = 0; _i < ELEMENTSOF(table); _i++)       \
			if (strcmp((table)[_i].name, (name)) == 0) {    \
				_v = (table)[_i].value;                 \
				break;                                  \
			}                                               \
		_v;                                                     \
	})

int lc_seccomp_action_from_name(const char *name) {
	return LOOKUP(seccomp_actions, name, -1);
}

int lc_seccomp_op_from_name(const char *name) {
	return LOOKUP(seccomp_ops, name, -1);
}

unsigned lc_seccomp_flag_from_name(const char *name) {
	return (unsigned)LOOKUP(seccomp_flags, name, 0);
}

int lc_sched_policy_from_name(const char *name) {
	return LOOKUP(sched_policies, name, -1);
}

uint64_t lc_sched_flag_from_name(const char *name) {
	return (uint64_t)LOOKUP(sched_flags, name, 0);
}

int lc_ioprio_class_from_name(const char *name) {
	return LOOKUP(ioprio_classes, name, -1);
}

/* The spec's SCMP_ARCH_* names and libseccomp's own names for them. */
static const struct {
	const char *spec, *libseccomp;
} seccomp_arches[] = {
	{"SCMP_ARCH_X86", "x86"},
	{"SCMP_ARCH_X86_64", "x86_64"},
	{"SCMP_ARCH_X32", "x32"},
	{"SCMP_ARCH_ARM", "arm"},
	{"SCMP_ARCH_AARCH64", "aarch64"},
	{"SCMP_ARCH_MIPS", "mips"},
	{"SCMP_ARCH_MIPS64", "mips64"},
	{"SCMP_ARCH_MIPS64N32", "mips64n32"},
	{"SCMP_ARCH_MIPSEL", "mipsel"},
	{"SCMP_ARCH_MIPSEL64", "mipsel64"},
	{"SCMP_ARCH_MIPSEL64N32", "mipsel64n32"},
	{"SCMP_ARCH_PPC", "ppc"},
	{"SCMP_ARCH_PPC64", "ppc64"},
	{"SCMP_ARCH_PPC64LE", "ppc64le"},
	{"SCMP_ARCH_S390", "s390"},
	{"SCMP_ARCH_S390X", "s390x"},
	{"SCMP_ARCH_PARISC", "parisc"},
	{"SCMP_ARCH_PARISC64", "parisc64"},
	{"SCMP_ARCH_RISCV64", "riscv64"},
	{"SCMP_ARCH_LOONGARCH64", "loongarch64"},
	{"SCMP_ARCH_M68K", "m68k"},
	{"SCMP_ARCH_SH", "sh"},
	{"SCMP_ARCH_SHEB", "sheb"},
};

const char *lc_seccomp_arch_from_name(const char *name) {
	for (size_t i = 0; i < ELEMENTSOF(seccomp_arches); i++)
		if (strcmp(seccomp_arches[i].spec, name) == 0)
			return seccomp_arches[i].libseccomp;
	return NULL;
}

const char *lc_name_at(lc_name_table t, size_t i) {
	switch (t) {
	case LC_NAMES_MOUNT_OPTIONS:
		return i < ELEMENTSOF(mount_options) ? mount_options[i].name : NULL;
	case LC_NAMES_SECCOMP_ACTIONS:
		return i < ELEMENTSOF(seccomp_actions) ? seccomp_actions[i].name : NULL;
	case LC_NAMES_SECCOMP_OPERATORS:
		return i < ELEMENTSOF(seccomp_ops) ? seccomp_ops[i].name : NULL;
	case LC_NAMES_SECCOMP_FLAGS:
		return i < ELEMENTSOF(seccomp_flags) ? seccomp_flags[i].name : NULL;
	case LC_NAMES_SECCOMP_ARCHES:
		return i < ELEMENTSOF(seccomp_arches) ? seccomp_arches[i].spec : NULL;
	}
	return NULL;
}
