/* lc_spec: the OCI runtime-spec (Linux) as C structs, filled from config.json (host builds) or from Kata's
 * protobuf Spec (the agent), and written back to a protobuf Spec (kata-launch).
 *
 * Presence conventions, the same in every struct:
 *   - an optional object is a pointer, NULL when absent;
 *   - a string is NULL when absent; a present string is kept as given, "" included (the proto reader cannot
 *     tell "" from absent and reads both as NULL);
 *   - an optional scalar has a `has_<name>` flag wherever absent and 0 mean different things (oomScoreAdj,
 *     umask, swappiness, memory limits, device major/minor wildcards, cpu shares/quota, errnoRet, ...);
 *   - an array is `T *name; size_t n_name;` (strings: lc_strv); absent and empty are the same, because no
 *     field of the spec gives them different meanings;
 *   - JSON null is read as absent, as Go's decoder does.
 * Nothing here is validated beyond types and size caps: that is specconv's job (specconv.h).
 *
 * Memory: everything hanging off an lc_spec lives in one arena owned by it; lc_spec_free() releases it all.
 * lc_spec is reference counted so that an lc_config can keep the strings it points at alive. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Caps on everything a config controls. A config.json larger than LC_SPEC_JSON_MAX, a string longer than
 * LC_SPEC_STRING_MAX bytes, or an array or map with more than LC_SPEC_ARRAY_MAX entries is rejected. */
#define LC_SPEC_JSON_MAX   (16u << 20)
#define LC_SPEC_STRING_MAX (64u << 10)
#define LC_SPEC_ARRAY_MAX  65536u
/* The arena behind one spec never grows past this; with the caps above a legal spec needs far less. */
#define LC_SPEC_ARENA_MAX  (256u << 20)

/* A string vector. In an lc_spec it lives in the spec's arena; v is NULL-terminated whenever n > 0, so it
 * can go to execve as it is. */
typedef struct lc_strv {
	char **v;
	size_t n;
} lc_strv;

/* For an lc_strv the caller owns (the dropped-field list of lc_spec_to_proto): frees items and array. */
void lc_strv_clear(lc_strv *l);

typedef struct lc_kv {
	char *key, *value;
} lc_kv;

typedef struct lc_id_mapping {
	uint32_t container_id, host_id, size;
} lc_id_mapping;

typedef struct lc_spec_rlimit {
	char *type; /* "RLIMIT_NOFILE" */
	uint64_t soft, hard;
} lc_spec_rlimit;

typedef struct lc_spec_user {
	uint32_t uid, gid;
	bool has_umask;
	uint32_t umask;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char *username;
} lc_spec_user;

typedef struct lc_spec_capabilities {
	lc_strv bounding, effective, inheritable, permitted, ambient;
} lc_spec_capabilities;

typedef struct lc_spec_scheduler {
	char *policy; /* "SCHED_OTHER", ... */
	bool has_nice, has_priority, has_runtime, has_deadline, has_period;
	int32_t nice, priority;
	uint64_t runtime, deadline, period;
	lc_strv flags;
} lc_spec_scheduler;

typedef struct lc_spec_io_priority {
	char *class; /* "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE" */
	int32_t priority;
} lc_spec_io_priority;

typedef struct lc_spec_console_size {
	uint32_t height, width;
} lc_spec_console_size;

typedef struct lc_spec_process {
	bool terminal;
	lc_spec_console_size *console_size;
	lc_spec_user user;
	lc_strv args, env;
	char *cwd;
	lc_spec_capabilities *capabilities;
	lc_spec_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	char *apparmor_profile, *selinux_label;
	bool has_oom_score_adj;
	int64_t oom_score_adj; /* int64 so that out-of-range values reach specconv and get a precise error */
	lc_spec_scheduler *scheduler;
	lc_spec_io_priority *io_priority;
} lc_spec_process;

typedef struct lc_spec_root {
	char *path;
	bool readonly;
} lc_spec_root;

typedef struct lc_spec_mount {
	char *destination, *type, *source;
	lc_strv options;
	lc_id_mapping *uid_mappings, *gid_mappings; /* idmapped mounts */
	size_t n_uid_mappings, n_gid_mappings;
} lc_spec_mount;

typedef struct lc_spec_hook {
	char *path;
	lc_strv args, env;
	bool has_timeout;
	int64_t timeout; /* seconds */
} lc_spec_hook;

/* Hook kinds in the order the lifecycle runs them; lc_hook_kind_name() gives the JSON key. */
typedef enum lc_hook_kind {
	LC_HOOK_PRESTART,
	LC_HOOK_CREATE_RUNTIME,
	LC_HOOK_CREATE_CONTAINER,
	LC_HOOK_START_CONTAINER,
	LC_HOOK_POSTSTART,
	LC_HOOK_POSTSTOP,
	_LC_HOOK_MAX,
} lc_hook_kind;
const char *lc_hook_kind_name(lc_hook_kind k);

typedef struct lc_spec_hook_list {
	lc_spec_hook *v;
	size_t n;
} lc_spec_hook_list;

typedef struct lc_spec_hooks {
	lc_spec_hook_list kind[_LC_HOOK_MAX];
} lc_spec_hooks;

typedef struct lc_spec_namespace {
	char *type; /* "pid", "network", ... */
	char *path;
} lc_spec_namespace;

typedef struct lc_spec_device {
	char *type, *path; /* "c", "b", "u", "p" */
	bool has_major, has_minor, has_file_mode, has_uid, has_gid;
	int64_t major, minor;
	uint32_t file_mode, uid, gid;
} lc_spec_device;

/* linux.resources.devices[]: an absent major or minor is the wildcard. */
typedef struct lc_spec_device_cgroup {
	bool allow;
	char *type, *access;
	bool has_major, has_minor;
	int64_t major, minor;
} lc_spec_device_cgroup;

typedef struct lc_spec_memory {
	bool has_limit, has_reservation, has_swap, has_kernel, has_kernel_tcp, has_swappiness;
	bool has_disable_oom_killer, has_use_hierarchy, has_check_before_update;
	int64_t limit, reservation, swap, kernel, kernel_tcp;
	uint64_t swappiness;
	bool disable_oom_killer, use_hierarchy, check_before_update;
} lc_spec_memory;

typedef struct lc_spec_cpu {
	bool has_shares, has_quota, has_burst, has_period, has_realtime_runtime, has_realtime_period, has_idle;
	uint64_t shares, burst, period, realtime_period;
	int64_t quota, realtime_runtime, idle;
	char *cpus, *mems;
} lc_spec_cpu;

typedef struct lc_spec_pids {
	bool has_limit;
	int64_t limit;
} lc_spec_pids;

typedef struct lc_spec_weight_device {
	int64_t major, minor;
	bool has_weight, has_leaf_weight;
	uint32_t weight, leaf_weight; /* uint16 in the spec; range-checked by specconv */
} lc_spec_weight_device;

typedef struct lc_spec_throttle_device {
	int64_t major, minor;
	uint64_t rate;
} lc_spec_throttle_device;

typedef enum lc_throttle_kind {
	LC_THROTTLE_READ_BPS,
	LC_THROTTLE_WRITE_BPS,
	LC_THROTTLE_READ_IOPS,
	LC_THROTTLE_WRITE_IOPS,
	_LC_THROTTLE_MAX,
} lc_throttle_kind;

typedef struct lc_spec_throttle_list {
	lc_spec_throttle_device *v;
	size_t n;
} lc_spec_throttle_list;

typedef struct lc_spec_blockio {
	bool has_weight, has_leaf_weight;
	uint32_t weight, leaf_weight;
	lc_spec_weight_device *weight_devices;
	size_t n_weight_devices;
	lc_spec_throttle_list throttle[_LC_THROTTLE_MAX];
} lc_spec_blockio;

typedef struct lc_spec_hugepage_limit {
	char *page_size; /* "2MB" */
	uint64_t limit;
} lc_spec_hugepage_limit;

typedef struct lc_spec_interface_priority {
	char *name;
	uint32_t priority;
} lc_spec_interface_priority;

typedef struct lc_spec_network {
	bool has_class_id;
	uint32_t class_id;
	lc_spec_interface_priority *priorities;
	size_t n_priorities;
} lc_spec_network;

/* linux.resources.rdma is a map; `name` is its key. */
typedef struct lc_spec_rdma {
	char *name;
	bool has_hca_handles, has_hca_objects;
	uint32_t hca_handles, hca_objects;
} lc_spec_rdma;

typedef struct lc_spec_resources {
	lc_spec_device_cgroup *devices;
	size_t n_devices;
	lc_spec_memory *memory;
	lc_spec_cpu *cpu;
	lc_spec_pids *pids;
	lc_spec_blockio *blockio;
	lc_spec_hugepage_limit *hugepage_limits;
	size_t n_hugepage_limits;
	lc_spec_network *network;
	lc_spec_rdma *rdma;
	size_t n_rdma;
	lc_kv *unified;
	size_t n_unified;
} lc_spec_resources;

typedef struct lc_spec_seccomp_arg {
	uint32_t index;
	uint64_t value, value_two; /* valueTwo absent is 0, which is what libseccomp takes for "unused" */
	char *op;
} lc_spec_seccomp_arg;

typedef struct lc_spec_syscall {
	lc_strv names;
	char *action;
	bool has_errno_ret;
	uint32_t errno_ret;
	lc_spec_seccomp_arg *args;
	size_t n_args;
} lc_spec_syscall;

typedef struct lc_spec_seccomp {
	char *default_action;
	bool has_default_errno_ret;
	uint32_t default_errno_ret;
	lc_strv architectures, flags;
	char *listener_path, *listener_metadata;
	lc_spec_syscall *syscalls;
	size_t n_syscalls;
} lc_spec_seccomp;

typedef struct lc_spec_personality {
	char *domain; /* "LINUX", "LINUX32" */
	lc_strv flags;
} lc_spec_personality;

/* linux.timeOffsets is a map keyed by clock ("monotonic", "boottime"); `clock` is its key. */
typedef struct lc_spec_time_offset {
	char *clock;
	int64_t secs;
	uint32_t nanosecs;
} lc_spec_time_offset;

typedef struct lc_spec_intel_rdt {
	char *clos_id, *l3_cache_schema, *mem_bw_schema;
	bool has_enable_cmt, has_enable_mbm;
	bool enable_cmt, enable_mbm;
} lc_spec_intel_rdt;

typedef struct lc_spec_linux {
	lc_id_mapping *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	lc_kv *sysctl;
	size_t n_sysctl;
	lc_spec_resources *resources;
	char *cgroups_path;
	lc_spec_namespace *namespaces;
	size_t n_namespaces;
	lc_spec_device *devices;
	size_t n_devices;
	lc_spec_seccomp *seccomp;
	char *rootfs_propagation;
	lc_strv masked_paths, readonly_paths;
	char *mount_label;
	lc_spec_personality *personality;
	lc_spec_time_offset *time_offsets;
	size_t n_time_offsets;
	lc_spec_intel_rdt *intel_rdt;
} lc_spec_linux;

typedef struct lc_spec {
	unsigned n_ref;
	struct lc_arena *arena;

	char *oci_version;
	lc_spec_process *process;
	lc_spec_root *root;
	char *hostname, *domainname;
	lc_spec_mount *mounts;
	size_t n_mounts;
	lc_spec_hooks *hooks;
	lc_kv *annotations;
	size_t n_annotations;
	lc_spec_linux *linux;
} lc_spec;

/* An empty spec (all absent), for builders and tests. */
int lc_spec_new(lc_spec **ret);
lc_spec *lc_spec_ref(lc_spec *s);
/* Drops one reference; the last one frees the spec and everything in it. NULL-safe; returns NULL. */
lc_spec *lc_spec_free(lc_spec *s);
static inline void lc_spec_freep(lc_spec **s) {
	if (*s)
		(void)lc_spec_free(*s);
}

/* Deep comparison of everything the spec holds (presence flags included). */
bool lc_spec_equal(const lc_spec *a, const lc_spec *b);

/* config.json (host builds; json-c). Strict types: a value of the wrong JSON type is an error that names its
 * path (`process.rlimits[2].hard: expected an unsigned integer, got a string`); unknown keys are ignored, as
 * the spec allows extensions. Text over LC_SPEC_JSON_MAX, strings over LC_SPEC_STRING_MAX or with a NUL byte,
 * and arrays or maps over LC_SPEC_ARRAY_MAX entries are rejected. */
int lc_spec_from_json(const char *text, size_t len, lc_spec **ret, kc_error *err);
/* Reads path relative to dirfd (AT_FDCWD allowed), at most LC_SPEC_JSON_MAX bytes. */
int lc_spec_from_file(int dirfd, const char *path, lc_spec **ret, kc_error *err);

/* Kata's protobuf Spec (oci.proto). proto3 scalars have no presence; how each absence is inferred is written
 * next to the field in spec-proto.c (in short: 0 or "" reads as absent where the Go runtime sends 0 for nil). */
struct Grpc__Spec;
int lc_spec_from_proto(const struct Grpc__Spec *p, lc_spec **ret, kc_error *err);

/* Builds a protobuf Spec (heap, free with lc_spec_proto_free()). ret_dropped (optional) receives the JSON
 * paths of the fields that were set but that the protocol cannot carry (domainname, process.user.umask,
 * linux.personality, linux.resources.unified, ...), including values that would read back as absent
 * (a present 0 where proto 0 means unset), so the caller can warn. */
int lc_spec_to_proto(const lc_spec *s, struct Grpc__Spec **ret, lc_strv *ret_dropped, kc_error *err);
struct Grpc__Spec *lc_spec_proto_free(struct Grpc__Spec *p);
