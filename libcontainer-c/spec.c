/* lc_spec: allocation, reference counting, the field table and the deep comparison built on it. */
#include "libcontainer-c/spec-internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const hook_kind_names[_LC_HOOK_MAX] = {
	[LC_HOOK_PRESTART] = "prestart",
	[LC_HOOK_CREATE_RUNTIME] = "createRuntime",
	[LC_HOOK_CREATE_CONTAINER] = "createContainer",
	[LC_HOOK_START_CONTAINER] = "startContainer",
	[LC_HOOK_POSTSTART] = "poststart",
	[LC_HOOK_POSTSTOP] = "poststop",
};

const char *lc_hook_kind_name(lc_hook_kind k) {
	return (unsigned)k < _LC_HOOK_MAX ? hook_kind_names[k] : NULL;
}

void lc_strv_clear(lc_strv *l) {
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- the table ---------------------------------------------------------------------------------------- */

#define DESC(T, rows) {sizeof(T), rows, ELEMENTSOF(rows)}
/* plain member; member with a presence flag; array or map with its count; object, array or map of T */
#define F(k, kind, T, m) {k, kind, offsetof(T, m), -1, 0, NULL}
#define FH(k, kind, T, m) {k, kind, offsetof(T, m), offsetof(T, has_##m), 0, NULL}
#define FN(k, kind, T, m) {k, kind, offsetof(T, m), -1, offsetof(T, n_##m), NULL}
#define FO(k, T, m, d) {k, LC_F_OBJ, offsetof(T, m), -1, 0, &d}
#define FE(k, T, m, d) {k, LC_F_EMBED, offsetof(T, m), -1, 0, &d}
#define FV(k, kind, T, m, d) {k, kind, offsetof(T, m), -1, offsetof(T, n_##m), &d}

static const lc_field id_mapping_rows[] = {
	F("containerID", LC_F_U32, lc_id_mapping, container_id),
	F("hostID", LC_F_U32, lc_id_mapping, host_id),
	F("size", LC_F_U32, lc_id_mapping, size),
};
static const lc_object_desc id_mapping_desc = DESC(lc_id_mapping, id_mapping_rows);

static const lc_field rlimit_rows[] = {
	F("type", LC_F_STR, lc_spec_rlimit, type),
	F("soft", LC_F_U64, lc_spec_rlimit, soft),
	F("hard", LC_F_U64, lc_spec_rlimit, hard),
};
static const lc_object_desc rlimit_desc = DESC(lc_spec_rlimit, rlimit_rows);

static const lc_field user_rows[] = {
	F("uid", LC_F_U32, lc_spec_user, uid),
	F("gid", LC_F_U32, lc_spec_user, gid),
	FH("umask", LC_F_U32, lc_spec_user, umask),
	FN("additionalGids", LC_F_U32V, lc_spec_user, additional_gids),
	F("username", LC_F_STR, lc_spec_user, username),
};
static const lc_object_desc user_desc = DESC(lc_spec_user, user_rows);

static const lc_field caps_rows[] = {
	F("bounding", LC_F_STRV, lc_spec_capabilities, bounding),
	F("effective", LC_F_STRV, lc_spec_capabilities, effective),
	F("inheritable", LC_F_STRV, lc_spec_capabilities, inheritable),
	F("permitted", LC_F_STRV, lc_spec_capabilities, permitted),
	F("ambient", LC_F_STRV, lc_spec_capabilities, ambient),
};
static const lc_object_desc caps_desc = DESC(lc_spec_capabilities, caps_rows);

static const lc_field scheduler_rows[] = {
	F("policy", LC_F_STR, lc_spec_scheduler, policy),
	FH("nice", LC_F_I32, lc_spec_scheduler, nice),
	FH("priority", LC_F_I32, lc_spec_scheduler, priority),
	F("flags", LC_F_STRV, lc_spec_scheduler, flags),
	FH("runtime", LC_F_U64, lc_spec_scheduler, runtime),
	FH("deadline", LC_F_U64, lc_spec_scheduler, deadline),
	FH("period", LC_F_U64, lc_spec_scheduler, period),
};
static const lc_object_desc scheduler_desc = DESC(lc_spec_scheduler, scheduler_rows);

static const lc_field io_priority_rows[] = {
	F("class", LC_F_STR, lc_spec_io_priority, class),
	F("priority", LC_F_I32, lc_spec_io_priority, priority),
};
static const lc_object_desc io_priority_desc = DESC(lc_spec_io_priority, io_priority_rows);

static const lc_field console_size_rows[] = {
	F("height", LC_F_U32, lc_spec_console_size, height),
	F("width", LC_F_U32, lc_spec_console_size, width),
};
static const lc_object_desc console_size_desc = DESC(lc_spec_console_size, console_size_rows);

static const lc_field process_rows[] = {
	F("terminal", LC_F_BOOL, lc_spec_process, terminal),
	FO("consoleSize", lc_spec_process, console_size, console_size_desc),
	FE("user", lc_spec_process, user, user_desc),
	F("args", LC_F_STRV, lc_spec_process, args),
	F("env", LC_F_STRV, lc_spec_process, env),
	F("cwd", LC_F_STR, lc_spec_process, cwd),
	FO("capabilities", lc_spec_process, capabilities, caps_desc),
	FV("rlimits", LC_F_OBJV, lc_spec_process, rlimits, rlimit_desc),
	F("noNewPrivileges", LC_F_BOOL, lc_spec_process, no_new_privileges),
	F("apparmorProfile", LC_F_STR, lc_spec_process, apparmor_profile),
	F("selinuxLabel", LC_F_STR, lc_spec_process, selinux_label),
	FH("oomScoreAdj", LC_F_I64, lc_spec_process, oom_score_adj),
	FO("scheduler", lc_spec_process, scheduler, scheduler_desc),
	FO("ioPriority", lc_spec_process, io_priority, io_priority_desc),
};
static const lc_object_desc process_desc = DESC(lc_spec_process, process_rows);

static const lc_field root_rows[] = {
	F("path", LC_F_STR, lc_spec_root, path),
	F("readonly", LC_F_BOOL, lc_spec_root, readonly),
};
static const lc_object_desc root_desc = DESC(lc_spec_root, root_rows);

static const lc_field mount_rows[] = {
	F("destination", LC_F_STR, lc_spec_mount, destination),
	F("type", LC_F_STR, lc_spec_mount, type),
	F("source", LC_F_STR, lc_spec_mount, source),
	F("options", LC_F_STRV, lc_spec_mount, options),
	FV("uidMappings", LC_F_OBJV, lc_spec_mount, uid_mappings, id_mapping_desc),
	FV("gidMappings", LC_F_OBJV, lc_spec_mount, gid_mappings, id_mapping_desc),
};
static const lc_object_desc mount_desc = DESC(lc_spec_mount, mount_rows);

static const lc_field hook_rows[] = {
	F("path", LC_F_STR, lc_spec_hook, path),
	F("args", LC_F_STRV, lc_spec_hook, args),
	F("env", LC_F_STRV, lc_spec_hook, env),
	FH("timeout", LC_F_I64, lc_spec_hook, timeout),
};
static const lc_object_desc hook_desc = DESC(lc_spec_hook, hook_rows);

#define HOOK_ROW(k, kind_)                                                                                        \
	{k, LC_F_OBJV, offsetof(lc_spec_hooks, kind[kind_].v), -1, offsetof(lc_spec_hooks, kind[kind_].n), &hook_desc}
static const lc_field hooks_rows[] = {
	HOOK_ROW("prestart", LC_HOOK_PRESTART),
	HOOK_ROW("createRuntime", LC_HOOK_CREATE_RUNTIME),
	HOOK_ROW("createContainer", LC_HOOK_CREATE_CONTAINER),
	HOOK_ROW("startContainer", LC_HOOK_START_CONTAINER),
	HOOK_ROW("poststart", LC_HOOK_POSTSTART),
	HOOK_ROW("poststop", LC_HOOK_POSTSTOP),
};
static const lc_object_desc hooks_desc = DESC(lc_spec_hooks, hooks_rows);

static const lc_field namespace_rows[] = {
	F("type", LC_F_STR, lc_spec_namespace, type),
	F("path", LC_F_STR, lc_spec_namespace, path),
};
static const lc_object_desc namespace_desc = DESC(lc_spec_namespace, namespace_rows);

static const lc_field device_rows[] = {
	F("type", LC_F_STR, lc_spec_device, type),
	F("path", LC_F_STR, lc_spec_device, path),
	FH("major", LC_F_I64, lc_spec_device, major),
	FH("minor", LC_F_I64, lc_spec_device, minor),
	FH("fileMode", LC_F_U32, lc_spec_device, file_mode),
	FH("uid", LC_F_U32, lc_spec_device, uid),
	FH("gid", LC_F_U32, lc_spec_device, gid),
};
static const lc_object_desc device_desc = DESC(lc_spec_device, device_rows);

static const lc_field device_cgroup_rows[] = {
	F("allow", LC_F_BOOL, lc_spec_device_cgroup, allow),
	F("type", LC_F_STR, lc_spec_device_cgroup, type),
	FH("major", LC_F_I64, lc_spec_device_cgroup, major),
	FH("minor", LC_F_I64, lc_spec_device_cgroup, minor),
	F("access", LC_F_STR, lc_spec_device_cgroup, access),
};
static const lc_object_desc device_cgroup_desc = DESC(lc_spec_device_cgroup, device_cgroup_rows);

static const lc_field memory_rows[] = {
	FH("limit", LC_F_I64, lc_spec_memory, limit),
	FH("reservation", LC_F_I64, lc_spec_memory, reservation),
	FH("swap", LC_F_I64, lc_spec_memory, swap),
	FH("kernel", LC_F_I64, lc_spec_memory, kernel),
	FH("kernelTCP", LC_F_I64, lc_spec_memory, kernel_tcp),
	FH("swappiness", LC_F_U64, lc_spec_memory, swappiness),
	FH("disableOOMKiller", LC_F_BOOL, lc_spec_memory, disable_oom_killer),
	FH("useHierarchy", LC_F_BOOL, lc_spec_memory, use_hierarchy),
	FH("checkBeforeUpdate", LC_F_BOOL, lc_spec_memory, check_before_update),
};
static const lc_object_desc memory_desc = DESC(lc_spec_memory, memory_rows);

static const lc_field cpu_rows[] = {
	FH("shares", LC_F_U64, lc_spec_cpu, shares),
	FH("quota", LC_F_I64, lc_spec_cpu, quota),
	FH("burst", LC_F_U64, lc_spec_cpu, burst),
	FH("period", LC_F_U64, lc_spec_cpu, period),
	FH("realtimeRuntime", LC_F_I64, lc_spec_cpu, realtime_runtime),
	FH("realtimePeriod", LC_F_U64, lc_spec_cpu, realtime_period),
	F("cpus", LC_F_STR, lc_spec_cpu, cpus),
	F("mems", LC_F_STR, lc_spec_cpu, mems),
	FH("idle", LC_F_I64, lc_spec_cpu, idle),
};
static const lc_object_desc cpu_desc = DESC(lc_spec_cpu, cpu_rows);

static const lc_field pids_rows[] = {
	FH("limit", LC_F_I64, lc_spec_pids, limit),
};
static const lc_object_desc pids_desc = DESC(lc_spec_pids, pids_rows);

static const lc_field weight_device_rows[] = {
	F("major", LC_F_I64, lc_spec_weight_device, major),
	F("minor", LC_F_I64, lc_spec_weight_device, minor),
	FH("weight", LC_F_U32, lc_spec_weight_device, weight),
	FH("leafWeight", LC_F_U32, lc_spec_weight_device, leaf_weight),
};
static const lc_object_desc weight_device_desc = DESC(lc_spec_weight_device, weight_device_rows);

static const lc_field throttle_device_rows[] = {
	F("major", LC_F_I64, lc_spec_throttle_device, major),
	F("minor", LC_F_I64, lc_spec_throttle_device, minor),
	F("rate", LC_F_U64, lc_spec_throttle_device, rate),
};
static const lc_object_desc throttle_device_desc = DESC(lc_spec_throttle_device, throttle_device_rows);

#define THROTTLE_ROW(k, kind_)                                                                          \
	{k, LC_F_OBJV, offsetof(lc_spec_blockio, throttle[kind_].v), -1,                                 \
	 offsetof(lc_spec_blockio, throttle[kind_].n), &throttle_device_desc}
static const lc_field blockio_rows[] = {
	FH("weight", LC_F_U32, lc_spec_blockio, weight),
	FH("leafWeight", LC_F_U32, lc_spec_blockio, leaf_weight),
	FV("weightDevice", LC_F_OBJV, lc_spec_blockio, weight_devices, weight_device_desc),
	THROTTLE_ROW("throttleReadBpsDevice", LC_THROTTLE_READ_BPS),
	THROTTLE_ROW("throttleWriteBpsDevice", LC_THROTTLE_WRITE_BPS),
	THROTTLE_ROW("throttleReadIOPSDevice", LC_THROTTLE_READ_IOPS),
	THROTTLE_ROW("throttleWriteIOPSDevice", LC_THROTTLE_WRITE_IOPS),
};
static const lc_object_desc blockio_desc = DESC(lc_spec_blockio, blockio_rows);

static const lc_field hugepage_rows[] = {
	F("pageSize", LC_F_STR, lc_spec_hugepage_limit, page_size),
	F("limit", LC_F_U64, lc_spec_hugepage_limit, limit),
};
static const lc_object_desc hugepage_desc = DESC(lc_spec_hugepage_limit, hugepage_rows);

static const lc_field priority_rows[] = {
	F("name", LC_F_STR, lc_spec_interface_priority, name),
	F("priority", LC_F_U32, lc_spec_interface_priority, priority),
};
static const lc_object_desc priority_desc = DESC(lc_spec_interface_priority, priority_rows);

static const lc_field network_rows[] = {
	FH("classID", LC_F_U32, lc_spec_network, class_id),
	FV("priorities", LC_F_OBJV, lc_spec_network, priorities, priority_desc),
};
static const lc_object_desc network_desc = DESC(lc_spec_network, network_rows);

static const lc_field rdma_rows[] = {
	FH("hcaHandles", LC_F_U32, lc_spec_rdma, hca_handles),
	FH("hcaObjects", LC_F_U32, lc_spec_rdma, hca_objects),
};
static const lc_object_desc rdma_desc = DESC(lc_spec_rdma, rdma_rows);

static const lc_field resources_rows[] = {
	FV("devices", LC_F_OBJV, lc_spec_resources, devices, device_cgroup_desc),
	FO("memory", lc_spec_resources, memory, memory_desc),
	FO("cpu", lc_spec_resources, cpu, cpu_desc),
	FO("pids", lc_spec_resources, pids, pids_desc),
	FO("blockIO", lc_spec_resources, blockio, blockio_desc),
	FV("hugepageLimits", LC_F_OBJV, lc_spec_resources, hugepage_limits, hugepage_desc),
	FO("network", lc_spec_resources, network, network_desc),
	FV("rdma", LC_F_OBJMAP, lc_spec_resources, rdma, rdma_desc),
	FN("unified", LC_F_KV, lc_spec_resources, unified),
};
static const lc_object_desc resources_desc = DESC(lc_spec_resources, resources_rows);

static const lc_field seccomp_arg_rows[] = {
	F("index", LC_F_U32, lc_spec_seccomp_arg, index),
	F("value", LC_F_U64, lc_spec_seccomp_arg, value),
	F("valueTwo", LC_F_U64, lc_spec_seccomp_arg, value_two),
	F("op", LC_F_STR, lc_spec_seccomp_arg, op),
};
static const lc_object_desc seccomp_arg_desc = DESC(lc_spec_seccomp_arg, seccomp_arg_rows);

static const lc_field syscall_rows[] = {
	F("names", LC_F_STRV, lc_spec_syscall, names),
	F("action", LC_F_STR, lc_spec_syscall, action),
	FH("errnoRet", LC_F_U32, lc_spec_syscall, errno_ret),
	FV("args", LC_F_OBJV, lc_spec_syscall, args, seccomp_arg_desc),
};
static const lc_object_desc syscall_desc = DESC(lc_spec_syscall, syscall_rows);

static const lc_field seccomp_rows[] = {
	F("defaultAction", LC_F_STR, lc_spec_seccomp, default_action),
	FH("defaultErrnoRet", LC_F_U32, lc_spec_seccomp, default_errno_ret),
	F("architectures", LC_F_STRV, lc_spec_seccomp, architectures),
	F("flags", LC_F_STRV, lc_spec_seccomp, flags),
	F("listenerPath", LC_F_STR, lc_spec_seccomp, listener_path),
	F("listenerMetadata", LC_F_STR, lc_spec_seccomp, listener_metadata),
	FV("syscalls", LC_F_OBJV, lc_spec_seccomp, syscalls, syscall_desc),
};
static const lc_object_desc seccomp_desc = DESC(lc_spec_seccomp, seccomp_rows);

static const lc_field personality_rows[] = {
	F("domain", LC_F_STR, lc_spec_personality, domain),
	F("flags", LC_F_STRV, lc_spec_personality, flags),
};
static const lc_object_desc personality_desc = DESC(lc_spec_personality, personality_rows);

static const lc_field time_offset_rows[] = {
	F("secs", LC_F_I64, lc_spec_time_offset, secs),
	F("nanosecs", LC_F_U32, lc_spec_time_offset, nanosecs),
};
static const lc_object_desc time_offset_desc = DESC(lc_spec_time_offset, time_offset_rows);

static const lc_field intel_rdt_rows[] = {
	F("closID", LC_F_STR, lc_spec_intel_rdt, clos_id),
	F("l3CacheSchema", LC_F_STR, lc_spec_intel_rdt, l3_cache_schema),
	F("memBwSchema", LC_F_STR, lc_spec_intel_rdt, mem_bw_schema),
	FH("enableCMT", LC_F_BOOL, lc_spec_intel_rdt, enable_cmt),
	FH("enableMBM", LC_F_BOOL, lc_spec_intel_rdt, enable_mbm),
};
static const lc_object_desc intel_rdt_desc = DESC(lc_spec_intel_rdt, intel_rdt_rows);

static const lc_field linux_rows[] = {
	FV("uidMappings", LC_F_OBJV, lc_spec_linux, uid_mappings, id_mapping_desc),
	FV("gidMappings", LC_F_OBJV, lc_spec_linux, gid_mappings, id_mapping_desc),
	FN("sysctl", LC_F_KV, lc_spec_linux, sysctl),
	FO("resources", lc_spec_linux, resources, resources_desc),
	F("cgroupsPath", LC_F_STR, lc_spec_linux, cgroups_path),
	FV("namespaces", LC_F_OBJV, lc_spec_linux, namespaces, namespace_desc),
	FV("devices", LC_F_OBJV, lc_spec_linux, devices, device_desc),
	FO("seccomp", lc_spec_linux, seccomp, seccomp_desc),
	F("rootfsPropagation", LC_F_STR, lc_spec_linux, rootfs_propagation),
	F("maskedPaths", LC_F_STRV, lc_spec_linux, masked_paths),
	F("readonlyPaths", LC_F_STRV, lc_spec_linux, readonly_paths),
	F("mountLabel", LC_F_STR, lc_spec_linux, mount_label),
	FO("personality", lc_spec_linux, personality, personality_desc),
	FV("timeOffsets", LC_F_OBJMAP, lc_spec_linux, time_offsets, time_offset_desc),
	FO("intelRdt", lc_spec_linux, intel_rdt, intel_rdt_desc),
};
static const lc_object_desc linux_desc = DESC(lc_spec_linux, linux_rows);

static const lc_field spec_rows[] = {
	F("ociVersion", LC_F_STR, lc_spec, oci_version),
	FO("process", lc_spec, process, process_desc),
	FO("root", lc_spec, root, root_desc),
	F("hostname", LC_F_STR, lc_spec, hostname),
	F("domainname", LC_F_STR, lc_spec, domainname),
	FV("mounts", LC_F_OBJV, lc_spec, mounts, mount_desc),
	FO("hooks", lc_spec, hooks, hooks_desc),
	FN("annotations", LC_F_KV, lc_spec, annotations),
	FO("linux", lc_spec, linux, linux_desc),
};
const lc_object_desc lc_spec_desc = DESC(lc_spec, spec_rows);

/* ---- lifetime ----------------------------------------------------------------------------------------- */

int lc_spec_new(lc_spec **ret) {
	lc_spec *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->arena = lc_arena_new(LC_SPEC_ARENA_MAX);
	if (!s->arena) {
		free(s);
		return -ENOMEM;
	}
	s->n_ref = 1;
	*ret = s;
	return 0;
}

lc_spec *lc_spec_ref(lc_spec *s) {
	if (s)
		s->n_ref++;
	return s;
}

lc_spec *lc_spec_free(lc_spec *s) {
	if (!s || --s->n_ref > 0)
		return NULL;
	(void)lc_arena_free(s->arena);
	free(s);
	return NULL;
}

/* ---- comparison --------------------------------------------------------------------------------------- */

#define AT(base, off, T) (*(T *)((char *)(base) + (off)))

static bool str_equal(const char *a, const char *b) {
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_equal(const lc_strv *a, const lc_strv *b) {
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!str_equal(a->v[i], b->v[i]))
			return false;
	return true;
}

static bool object_equal(const lc_object_desc *d, const void *a, const void *b);

static bool field_equal(const lc_field *f, const void *a, const void *b) {
	if (f->has_off >= 0) {
		bool ha = AT(a, f->has_off, bool), hb = AT(b, f->has_off, bool);
		if (ha != hb)
			return false;
		if (!ha)
			return true;
	}
	size_t n = 0;
	if (f->kind == LC_F_U32V || f->kind == LC_F_KV || f->kind == LC_F_OBJV || f->kind == LC_F_OBJMAP) {
		n = AT(a, f->count_off, size_t);
		if (n != AT(b, f->count_off, size_t))
			return false;
	}
	switch (f->kind) {
	case LC_F_STR:
		return str_equal(AT(a, f->off, char *), AT(b, f->off, char *));
	case LC_F_BOOL:
		return AT(a, f->off, bool) == AT(b, f->off, bool);
	case LC_F_I32:
	case LC_F_U32:
		return AT(a, f->off, uint32_t) == AT(b, f->off, uint32_t);
	case LC_F_I64:
	case LC_F_U64:
		return AT(a, f->off, uint64_t) == AT(b, f->off, uint64_t);
	case LC_F_STRV:
		return strv_equal(&AT(a, f->off, lc_strv), &AT(b, f->off, lc_strv));
	case LC_F_U32V:
		return n == 0 || memcmp(AT(a, f->off, uint32_t *), AT(b, f->off, uint32_t *), n * sizeof(uint32_t)) == 0;
	case LC_F_KV: {
		const lc_kv *ka = AT(a, f->off, lc_kv *), *kb = AT(b, f->off, lc_kv *);
		for (size_t i = 0; i < n; i++)
			if (!str_equal(ka[i].key, kb[i].key) || !str_equal(ka[i].value, kb[i].value))
				return false;
		return true;
	}
	case LC_F_OBJ: {
		const void *oa = AT(a, f->off, void *), *ob = AT(b, f->off, void *);
		if (!oa || !ob)
			return oa == ob;
		return object_equal(f->sub, oa, ob);
	}
	case LC_F_EMBED:
		return object_equal(f->sub, (const char *)a + f->off, (const char *)b + f->off);
	case LC_F_OBJV:
	case LC_F_OBJMAP: {
		const char *va = AT(a, f->off, char *), *vb = AT(b, f->off, char *);
		for (size_t i = 0; i < n; i++) {
			const void *ea = va + i * f->sub->size, *eb = vb + i * f->sub->size;
			if (f->kind == LC_F_OBJMAP && !str_equal(AT(ea, 0, char *), AT(eb, 0, char *)))
				return false;
			if (!object_equal(f->sub, ea, eb))
				return false;
		}
		return true;
	}
	}
	return false;
}

static bool object_equal(const lc_object_desc *d, const void *a, const void *b) {
	for (size_t i = 0; i < d->n_fields; i++)
		if (!field_equal(&d->fields[i], a, b))
			return false;
	return true;
}

bool lc_spec_equal(const lc_spec *a, const lc_spec *b) {
	if (!a || !b)
		return a == b;
	return object_equal(&lc_spec_desc, a, b);
}
