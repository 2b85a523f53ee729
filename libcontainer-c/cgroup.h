/* The cgroup manager: a container's cgroup on cgroup v2 (the guest), v1, and the hybrid layout (v1 controllers
 * plus a cgroup2 mount at <root>/unified, which the development machines have and crun 1.8.1 refuses).
 *
 * Everything goes through files under the cgroup filesystem (no systemd, no D-Bus): a systemd-style
 * cgroupsPath ("slice:prefix:name") is recognised and mapped to the plain path systemd would use, but no unit
 * is created. Every controller is served by exactly one hierarchy (lc_cgroup_layout.where): on hybrid, a
 * controller bound to a v1 hierarchy is used there and one that only cgroup2 offers (hugetlb on this host) is
 * used on cgroup2, so one resources struct applies to the mix. The cgroup2 directory exists in hybrid mode too,
 * so that cgroup.kill, cgroup.freeze (where v1 has no freezer) and BPF device programs have somewhere to live.
 *
 * All writes name the file and value in the error (`write "max" to /sys/fs/cgroup/x/memory.max: Invalid
 * argument`). Nothing here waits without a bound: freeze and destroy take a timeout, and the OOM watch is an fd
 * the caller's loop polls. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "libcontainer-c/spec.h"

#define LC_CGROUP_ROOT_DEFAULT "/sys/fs/cgroup"
/* Hierarchies one layout keeps; a v1 host has about a dozen. */
#define LC_CGROUP_HIER_MAX 24

typedef enum lc_cgroup_mode {
	LC_CGROUP_V1 = 1,
	LC_CGROUP_HYBRID,
	LC_CGROUP_V2,
} lc_cgroup_mode;

typedef enum lc_cgroup_controller {
	LC_CG_CPU,
	LC_CG_CPUACCT, /* v1 only; on v2 the cpu controller's cpu.stat */
	LC_CG_CPUSET,
	LC_CG_MEMORY,
	LC_CG_DEVICES, /* v1 controller; on v2 a BPF_CGROUP_DEVICE program on the cgroup2 directory */
	LC_CG_FREEZER, /* v1 controller; on v2 cgroup.freeze, part of the core */
	LC_CG_IO,      /* "blkio" on v1, "io" on v2 */
	LC_CG_PIDS,
	LC_CG_HUGETLB,
	LC_CG_NET_CLS, /* v1 only */
	LC_CG_NET_PRIO, /* v1 only */
	LC_CG_RDMA,
	LC_CG_MISC,
	LC_CG_PERF_EVENT,
	_LC_CG_MAX,
} lc_cgroup_controller;

#define LC_CG_BIT(c) (1u << (c))

/* The kernel's name: "blkio" for LC_CG_IO on v1, "io" on v2; NULL where that version has no such controller. */
const char *lc_cgroup_controller_name(lc_cgroup_controller c, bool v2);

typedef struct lc_cgroup_hierarchy {
	char *mount;          /* absolute mount point */
	char *options;        /* v1: the controllers and name= as mounted ("cpu,cpuacct", "name=systemd"); v2: "" */
	bool v2;
	unsigned controllers; /* LC_CG_BIT: bound to this v1 hierarchy; v2: listed in its root cgroup.controllers */
} lc_cgroup_hierarchy;

typedef struct lc_cgroup_layout lc_cgroup_layout;
struct lc_cgroup_layout {
	unsigned n_ref;
	lc_cgroup_mode mode;
	char *root;
	lc_cgroup_hierarchy h[LC_CGROUP_HIER_MAX];
	size_t n_h;
	int unified;              /* index of the cgroup2 hierarchy in h, -1 on pure v1 */
	int where[_LC_CG_MAX];    /* index in h of the hierarchy that serves each controller, -1: unavailable */
	/* Tests only (cgroup-internal.h): write_hook sees the full path and value before every write; bpf_hook,
	 * when set, receives the device program (struct bpf_insn[n]) instead of the kernel. */
	void (*write_hook)(void *userdata, const char *path, const char *value);
	int (*bpf_hook)(void *userdata, const void *insns, size_t n);
	void *hook_data;
};

/* Detects the layout under root (NULL: /sys/fs/cgroup) from /proc/self/mountinfo: cgroup2 mounted on root is
 * v2; cgroup (v1) mounts directly below root are v1, and with a cgroup2 mount beside them (root/unified)
 * hybrid. Controllers: the v1 mount options (co-mounts like cpu,cpuacct share one hierarchy) and the cgroup2
 * root's cgroup.controllers. */
int lc_cgroup_layout_detect(const char *root, lc_cgroup_layout **ret, kc_error *err);
/* The same from mountinfo text (tests point it at a fake tree in a tmpdir). */
int lc_cgroup_layout_parse(const char *root, const char *mountinfo, lc_cgroup_layout **ret, kc_error *err);
lc_cgroup_layout *lc_cgroup_layout_ref(lc_cgroup_layout *l);
lc_cgroup_layout *lc_cgroup_layout_free(lc_cgroup_layout *l);
static inline void lc_cgroup_layout_freep(lc_cgroup_layout **l) {
	if (*l)
		(void)lc_cgroup_layout_free(*l);
}
const char *lc_cgroup_mode_name(lc_cgroup_mode m); /* "v1", "hybrid", "v2" */

/* ---- paths ------------------------------------------------------------------------------------------------- */

/* linux.cgroupsPath → an absolute, normalised cgroup path ("/a/b", never "/"):
 *   NULL or ""            default_parent/id
 *   "/a/b"                itself, relative to the root of every hierarchy
 *   "a/b"                 default_parent/a/b
 *   "slice:prefix:name"   the path systemd would give the scope: "machine-x.slice:lcrun:c1" →
 *                         "/machine.slice/machine-x.slice/lcrun-c1.scope" (an empty slice is system.slice; a
 *                         name ending in ".slice" is used as is). *ret_systemd says this mapping happened.
 * "." and ".." components, NUL bytes and paths longer than PATH_MAX are rejected. default_parent NULL is "/". */
int lc_cgroup_path_resolve(const char *cgroups_path, const char *default_parent, const char *id, char **ret,
			   bool *ret_systemd, kc_error *err);

/* ---- one cgroup -------------------------------------------------------------------------------------------- */

typedef struct lc_cgroup lc_cgroup;

enum {
	/* mkdir what is missing (ancestors included; on v2 the ancestors' cgroup.subtree_control get every
	 * controller the root offers). Without it the cgroup must exist: join. */
	LC_CGROUP_CREATE = 1 << 0,
	/* After the spec's device rules, allow the devices every container needs (null, zero, full, random,
	 * urandom, tty, console, ptmx, pts/N, net/tun, and mknod of any), as runc appends them. */
	LC_CGROUP_DEFAULT_DEVICES = 1 << 1,
	/* No device policy at all (rootless: v1 devices.allow and the v2 BPF program both need CAP_SYS_ADMIN on
	 * the host, and a container in a user namespace cannot mknod; its devices are what the host's file
	 * permissions give it). */
	LC_CGROUP_NO_DEVICES = 1 << 2,
};

/* path as lc_cgroup_path_resolve() returns it. Holds a reference on the layout. Directories this call creates
 * are remembered, so lc_cgroup_destroy() removes them and nothing that existed before. */
int lc_cgroup_open(lc_cgroup_layout *l, const char *path, unsigned flags, lc_cgroup **ret, kc_error *err);
lc_cgroup *lc_cgroup_free(lc_cgroup *cg);
static inline void lc_cgroup_freep(lc_cgroup **cg) {
	if (*cg)
		(void)lc_cgroup_free(*cg);
}

const char *lc_cgroup_get_path(const lc_cgroup *cg);
const lc_cgroup_layout *lc_cgroup_get_layout(const lc_cgroup *cg);
/* The cgroup2 directory (O_DIRECTORY, close-on-exec, owned by cg), for clone3(CLONE_INTO_CGROUP) on v2;
 * -ENOENT on pure v1. On hybrid the v1 hierarchies still need lc_cgroup_enter() or lc_cgroup_enter_self(). */
int lc_cgroup_unified_fd(const lc_cgroup *cg);

/* Moves pid (all its threads) into the cgroup in every hierarchy (cgroup.procs). */
int lc_cgroup_enter(lc_cgroup *cg, pid_t pid, kc_error *err);
/* Moves the calling process, which must be single-threaded (a freshly cloned child), into the cgroup in every
 * hierarchy, skipping cgroup2 when unified_done (born there by CLONE_INTO_CGROUP). On v1 it writes "0" to
 * `tasks`: the move of one thread by itself is the one migration the kernel makes without write-locking the
 * global threadgroup rwsem, whose writer waits out an RCU grace period (10-14 ms per container on the
 * development machines, where cgroup.procs was the largest cost of `lcrun run`). cgroup2 has no such file for
 * a domain cgroup: there it is cgroup.procs. */
int lc_cgroup_enter_self(lc_cgroup *cg, bool unified_done, kc_error *err);

/* Writes linux.resources. res NULL or a member NULL: nothing of it is written, except that on create
 * (update false) the device policy is always installed (deny by default; LC_CGROUP_DEFAULT_DEVICES adds the
 * defaults). On update, an empty device list leaves the device policy as it is, a non-empty one replaces it
 * (v2: our earlier program is detached after the new one is attached, so there is no moment without one).
 * Fields that only exist on v1 (swappiness, kernelTCP, disableOOMKiller, realtime, leaf weights, network) are
 * errors on a v2 controller, as `unified` is on a v1 one. */
int lc_cgroup_apply(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err);

/* ---- freezer, processes, kill ------------------------------------------------------------------------------ */

typedef enum lc_freezer_state {
	LC_FREEZER_THAWED,
	LC_FREEZER_FREEZING,
	LC_FREEZER_FROZEN,
} lc_freezer_state;

/* Freezes or thaws and waits at most timeout_ms for the state (v2: cgroup.events "frozen 1"; v1:
 * freezer.state FROZEN). A freeze that does not complete in time is undone (thawed) and fails with
 * -ETIMEDOUT, so the cgroup is never left half frozen. */
int lc_cgroup_freeze(lc_cgroup *cg, bool frozen, unsigned timeout_ms, kc_error *err);
int lc_cgroup_freezer_state(lc_cgroup *cg, lc_freezer_state *ret, kc_error *err);

/* The pids in cgroup.procs (of the pids hierarchy on v1, else the first one), with recursive those of every
 * descendant as well. At most LC_CGROUP_PIDS_MAX; *ret is malloc'd (NULL when none). */
#define LC_CGROUP_PIDS_MAX (1u << 20)
int lc_cgroup_pids(lc_cgroup *cg, bool recursive, pid_t **ret, size_t *ret_n, kc_error *err);

/* Sends sig to every process in the cgroup and its descendants. SIGKILL uses cgroup.kill where the kernel has
 * it (5.14+); otherwise, and for other signals, the cgroup is frozen (bounded), every pid signalled, and thawed,
 * so nothing can fork in between. */
int lc_cgroup_kill_all(lc_cgroup *cg, int sig, kc_error *err);

/* Removes the cgroup, its descendants (leaves first) and the ancestors lc_cgroup_open() created, in every
 * hierarchy. A directory still busy with exiting processes is retried every few milliseconds for at most
 * timeout_ms (0: one attempt), then -EBUSY. */
int lc_cgroup_destroy(lc_cgroup *cg, unsigned timeout_ms, kc_error *err);

/* ---- stats ------------------------------------------------------------------------------------------------- */

/* Mirrors the agent protocol's CgroupStats. Times are nanoseconds; a limit with no value ("max") is UINT64_MAX.
 * Fields a layout cannot provide stay 0 (percpu and the memsw view on v2 are built as runc does: swap_usage is
 * memory plus swap, as v1's memsw counters are). */
typedef struct lc_cgroup_memory_data {
	uint64_t usage, max_usage, failcnt, limit;
} lc_cgroup_memory_data;

typedef struct lc_cgroup_stat_kv {
	char name[48];
	uint64_t value;
} lc_cgroup_stat_kv;

typedef struct lc_cgroup_blkio_entry {
	uint64_t major, minor;
	char op[8]; /* "Read", "Write", "Sync", "Async", "Discard", "Total" */
	uint64_t value;
} lc_cgroup_blkio_entry;

typedef struct lc_cgroup_blkio_list {
	lc_cgroup_blkio_entry *v;
	size_t n;
} lc_cgroup_blkio_list;

typedef struct lc_cgroup_hugetlb_stats {
	char page_size[16]; /* "2MB", "1GB" */
	uint64_t usage, max_usage, failcnt;
} lc_cgroup_hugetlb_stats;

typedef struct lc_cgroup_stats {
	struct {
		uint64_t total, user, kernel;
		uint64_t *percpu; /* v1 cpuacct.usage_percpu; NULL on v2 */
		size_t n_percpu;
		uint64_t periods, throttled_periods, throttled_time;
	} cpu;
	struct {
		uint64_t cache;
		lc_cgroup_memory_data usage, swap, kernel;
		bool use_hierarchy;
		lc_cgroup_stat_kv *stats; /* memory.stat, in file order */
		size_t n_stats;
	} memory;
	struct {
		uint64_t current, limit;
	} pids;
	struct {
		lc_cgroup_blkio_list service_bytes, serviced; /* the *_recursive lists of the protocol */
	} blkio;
	lc_cgroup_hugetlb_stats *hugetlb;
	size_t n_hugetlb;
} lc_cgroup_stats;

/* Fills what the available controllers offer; a controller that is absent leaves its part zeroed. */
int lc_cgroup_stats_read(lc_cgroup *cg, lc_cgroup_stats *ret, kc_error *err);
void lc_cgroup_stats_clear(lc_cgroup_stats *s);

/* ---- OOM events -------------------------------------------------------------------------------------------- */

/* v2: an inotify fd on memory.events (the kernel signals a modification when oom_kill changes); v1: an eventfd
 * registered for memory.oom_control through cgroup.event_control. Either way the fd becomes readable
 * (POLLIN) when something may have happened; lc_cgroup_oom_read() drains it and says what. */
typedef struct lc_cgroup_oom lc_cgroup_oom;

int lc_cgroup_oom_watch(lc_cgroup *cg, lc_cgroup_oom **ret, kc_error *err);
int lc_cgroup_oom_fd(const lc_cgroup_oom *w);
/* The OOM kills counted so far (memory.events oom_kill; v1 memory.oom_control oom_kill, or the events seen
 * when the kernel has no such line) and how many are new since the last call. -ENOENT when the cgroup is gone
 * (v1 signals the eventfd on removal; v2 reports IN_IGNORED): stop watching. */
int lc_cgroup_oom_read(lc_cgroup_oom *w, uint64_t *ret_count, uint64_t *ret_new, kc_error *err);
lc_cgroup_oom *lc_cgroup_oom_free(lc_cgroup_oom *w);
/* The OOM kill counter read once, without a watch (v2 memory.events, v1 memory.oom_control "oom_kill").
 * -EOPNOTSUPP without a memory controller, -ENODATA where v1 has no such line. */
int lc_cgroup_oom_kills(lc_cgroup *cg, uint64_t *ret);
static inline void lc_cgroup_oom_freep(lc_cgroup_oom **w) {
	if (*w)
		(void)lc_cgroup_oom_free(*w);
}

/* ---- conversions (exported for tests and for `lcrun features`) ---------------------------------------------- */

/* cpu.shares (2..262144) → cpu.weight (1..10000) with the quadratic-in-log formula crun (1.14+) and
 * opencontainers/cgroups 0.0.3 use, so 1024 (the v1 default) maps to 100 (the v2 default):
 *   weight = ceil(10^((log2(s)^2 + 125 log2(s)) / 612 - 7/34)), s <= 2 → 1, s >= 262144 → 10000.
 * 0 means "not set" (Docker) and returns 0. */
uint64_t lc_cgroup_shares_to_weight(uint64_t shares);
/* blkio weight (10..1000) → io.weight (1..10000), linear, for kernels without BFQ's io.bfq.weight. */
uint64_t lc_cgroup_blkio_weight_to_io_weight(uint64_t weight);
/* OCI memory.swap is memory+swap; cgroup v2 memory.swap.max is swap alone. Returns the value for
 * memory.swap.max (-1 = "max"), or -EINVAL when swap is set without a memory limit or below it. */
int lc_cgroup_swap_to_v2(bool has_limit, int64_t limit, int64_t swap, int64_t *ret);
