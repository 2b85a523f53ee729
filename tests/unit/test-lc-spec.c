/* lc_spec readers and writer: config.json (types, presence, caps), the protobuf Spec reader's conventions, and
 * the round trip lc_spec → proto → lc_spec with the list of what the protocol cannot carry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcontainer-c/spec.h"
#include "oci.pb-c.h"

#define FIXTURE_FULL "tests/data/oci/config-full.json"
#define FIXTURE_CARRIABLE "tests/data/oci/config-carriable.json"

static lc_spec *load(const char *path) {
	lc_spec *s = NULL;
	kc_error err = {0};
	int r = lc_spec_from_file(AT_FDCWD, path, &s, &err);
	if (r < 0)
		fail_msg("%s: %s", path, err.msg);
	return s;
}

static lc_spec *parse_ok(const char *json) {
	lc_spec *s = NULL;
	kc_error err = {0};
	if (lc_spec_from_json(json, strlen(json), &s, &err) < 0)
		fail_msg("%s: %s", json, err.msg);
	return s;
}

/* The reader must fail with exactly this message. */
static void parse_fails(const char *json, size_t len, const char *expected) {
	lc_spec *s = NULL;
	kc_error err = {0};
	int r = lc_spec_from_json(json, len, &s, &err);
	if (r >= 0) {
		(void)lc_spec_free(s);
		fail_msg("accepted: %.200s", json);
	}
	assert_null(s);
	assert_true(r < 0);
	assert_int_equal(err.err, -r);
	assert_string_equal(err.msg, expected);
}
#define PARSE_FAILS(json, expected) parse_fails((json), strlen(json), (expected))

static void test_full_fixture(void **state) {
	_cleanup_(lc_spec_freep) lc_spec *s = load(FIXTURE_FULL);
	const lc_spec_process *p = s->process;

	assert_string_equal(s->oci_version, "1.2.0");
	assert_non_null(p);
	assert_true(p->terminal);
	assert_int_equal(p->console_size->height, 25);
	assert_int_equal(p->user.uid, 1000);
	assert_true(p->user.has_umask);
	assert_int_equal(p->user.umask, 022);
	assert_int_equal(p->user.n_additional_gids, 3);
	assert_int_equal(p->user.additional_gids[2], 0);
	assert_int_equal(p->args.n, 3);
	assert_string_equal(p->args.v[2], "echo hi");
	assert_null(p->args.v[3]); /* NULL-terminated for execve */
	assert_string_equal(p->env.v[2], "EMPTY=");
	assert_int_equal(p->capabilities->inheritable.n, 0);
	assert_string_equal(p->capabilities->permitted.v[3], "CAP_CHECKPOINT_RESTORE");
	assert_int_equal(p->n_rlimits, 2);
	assert_true(p->rlimits[1].hard == UINT64_MAX);
	assert_true(p->no_new_privileges);
	assert_true(p->has_oom_score_adj);
	assert_int_equal(p->oom_score_adj, 0);
	assert_string_equal(p->scheduler->policy, "SCHED_FIFO");
	assert_true(p->scheduler->has_priority);
	assert_false(p->scheduler->has_nice);
	assert_string_equal(p->io_priority->class, "IOPRIO_CLASS_BE");
	assert_true(s->root->readonly);
	assert_string_equal(s->domainname, "example.org");
	assert_int_equal(s->n_mounts, 9);
	assert_string_equal(s->mounts[1].options.v[3], "size=65536k");
	assert_int_equal(s->mounts[7].n_uid_mappings, 1);
	assert_int_equal(s->mounts[7].uid_mappings[0].host_id, 100000);
	assert_int_equal(s->hooks->kind[LC_HOOK_CREATE_CONTAINER].n, 1);
	assert_true(s->hooks->kind[LC_HOOK_CREATE_CONTAINER].v[0].has_timeout);
	assert_int_equal(s->hooks->kind[LC_HOOK_CREATE_CONTAINER].v[0].timeout, 5);
	assert_false(s->hooks->kind[LC_HOOK_PRESTART].v[0].has_timeout);
	assert_string_equal(s->hooks->kind[LC_HOOK_POSTSTOP].v[0].args.v[1], "-f");
	assert_int_equal(s->n_annotations, 2);
	assert_string_equal(s->annotations[1].key, "com.example.key2"); /* document order */

	const lc_spec_linux *l = s->linux;
	assert_int_equal(l->n_sysctl, 5);
	assert_string_equal(l->sysctl[0].key, "net.ipv4.ip_forward");
	const lc_spec_resources *res = l->resources;
	assert_false(res->devices[0].has_major);
	assert_false(res->devices[2].has_minor);
	assert_true(res->devices[3].has_minor);
	assert_int_equal(res->devices[3].minor, 0);
	assert_true(res->memory->has_swappiness);
	assert_int_equal(res->memory->swappiness, 0);
	assert_true(res->memory->has_disable_oom_killer);
	assert_false(res->memory->has_check_before_update);
	assert_int_equal(res->memory->kernel, -1);
	assert_true(res->cpu->has_idle);
	assert_int_equal(res->cpu->idle, 0);
	assert_string_equal(res->cpu->cpus, "0-3,5");
	assert_int_equal(res->pids->limit, 32771);
	assert_int_equal(res->blockio->n_weight_devices, 2);
	assert_false(res->blockio->weight_devices[1].has_leaf_weight);
	assert_int_equal(res->blockio->throttle[LC_THROTTLE_WRITE_IOPS].v[0].rate, 300);
	assert_int_equal(res->blockio->throttle[LC_THROTTLE_READ_IOPS].n, 0);
	assert_string_equal(res->hugepage_limits[1].page_size, "64KB");
	assert_int_equal(res->network->class_id, 1048577);
	assert_string_equal(res->rdma[0].name, "mlx5_1");
	assert_int_equal(res->rdma[0].hca_objects, 10000);
	assert_string_equal(res->unified[1].value, "default 100");
	assert_int_equal(l->n_namespaces, 8);
	assert_null(l->namespaces[0].path);
	assert_false(l->devices[1].has_file_mode);
	assert_true(l->devices[0].has_uid);
	assert_false(l->devices[3].has_major);
	const lc_spec_seccomp *sc = l->seccomp;
	assert_true(sc->has_default_errno_ret);
	assert_int_equal(sc->default_errno_ret, 38);
	assert_string_equal(sc->listener_path, "/run/seccomp-agent.sock");
	assert_int_equal(sc->n_syscalls, 5);
	assert_false(sc->syscalls[0].has_errno_ret);
	assert_true(sc->syscalls[3].has_errno_ret);
	assert_int_equal(sc->syscalls[1].args[1].value, 4294967295u);
	assert_int_equal(sc->syscalls[1].args[1].value_two, 8);
	assert_string_equal(l->personality->domain, "LINUX32");
	assert_int_equal(l->n_time_offsets, 2);
	assert_string_equal(l->time_offsets[1].clock, "boottime");
	assert_int_equal(l->time_offsets[1].secs, -10);
	assert_true(l->intel_rdt->has_enable_cmt);
	assert_false(l->intel_rdt->has_enable_mbm);
	assert_string_equal(l->mount_label, "system_u:object_r:container_file_t:s0:c1,c2");
}

/* Absent and 0 are different things for every field with a presence flag. */
static void test_presence(void **state) {
	_cleanup_(lc_spec_freep) lc_spec *zero = parse_ok(
		"{\"process\":{\"oomScoreAdj\":0,\"user\":{\"umask\":0}},"
		"\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"timeout\":0}]},"
		"\"linux\":{\"resources\":{\"memory\":{\"limit\":0,\"swappiness\":0},\"cpu\":{\"shares\":0,\"quota\":0},"
		"\"devices\":[{\"allow\":true,\"major\":0,\"minor\":0}]},"
		"\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":0,\"minor\":0,\"fileMode\":0}],"
		"\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":0,"
		"\"syscalls\":[{\"names\":[\"x\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":0}]}}}");
	_cleanup_(lc_spec_freep) lc_spec *absent = parse_ok(
		"{\"process\":{\"user\":{}},\"hooks\":{\"prestart\":[{\"path\":\"/x\"}]},"
		"\"linux\":{\"resources\":{\"memory\":{},\"cpu\":{},\"devices\":[{\"allow\":true}]},"
		"\"devices\":[{\"path\":\"/dev/x\",\"type\":\"p\"}],"
		"\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"x\"],\"action\":\"SCMP_ACT_ERRNO\"}]}}}");

	assert_true(zero->process->has_oom_score_adj);
	assert_false(absent->process->has_oom_score_adj);
	assert_true(zero->process->user.has_umask);
	assert_false(absent->process->user.has_umask);
	assert_true(zero->hooks->kind[LC_HOOK_PRESTART].v[0].has_timeout);
	assert_false(absent->hooks->kind[LC_HOOK_PRESTART].v[0].has_timeout);
	assert_true(zero->linux->resources->memory->has_limit);
	assert_false(absent->linux->resources->memory->has_limit);
	assert_true(zero->linux->resources->memory->has_swappiness);
	assert_false(absent->linux->resources->memory->has_swappiness);
	assert_true(zero->linux->resources->cpu->has_shares && zero->linux->resources->cpu->has_quota);
	assert_false(absent->linux->resources->cpu->has_shares || absent->linux->resources->cpu->has_quota);
	assert_true(zero->linux->resources->devices[0].has_major && zero->linux->resources->devices[0].has_minor);
	assert_false(absent->linux->resources->devices[0].has_major || absent->linux->resources->devices[0].has_minor);
	assert_true(zero->linux->devices[0].has_major && zero->linux->devices[0].has_file_mode);
	assert_false(absent->linux->devices[0].has_major || absent->linux->devices[0].has_file_mode);
	assert_true(zero->linux->seccomp->has_default_errno_ret && zero->linux->seccomp->syscalls[0].has_errno_ret);
	assert_false(absent->linux->seccomp->has_default_errno_ret || absent->linux->seccomp->syscalls[0].has_errno_ret);
	assert_false(lc_spec_equal(zero, absent));

	/* null is absent (Go writes null for nil); empty arrays and absent arrays are the same. */
	_cleanup_(lc_spec_freep) lc_spec *nulls = parse_ok(
		"{\"process\":null,\"hostname\":null,\"mounts\":null,\"linux\":{\"resources\":{\"memory\":{\"limit\":null}},"
		"\"maskedPaths\":[]}}");
	assert_null(nulls->process);
	assert_null(nulls->hostname);
	assert_int_equal(nulls->n_mounts, 0);
	assert_false(nulls->linux->resources->memory->has_limit);
	assert_int_equal(nulls->linux->masked_paths.n, 0);
	assert_null(nulls->linux->masked_paths.v);
	/* "" is kept as a present string by the JSON reader. */
	_cleanup_(lc_spec_freep) lc_spec *empty = parse_ok("{\"hostname\":\"\"}");
	assert_non_null(empty->hostname);
	assert_string_equal(empty->hostname, "");
}

static void test_types(void **state) {
	PARSE_FAILS("{\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1,\"soft\":1},"
		    "{\"type\":\"RLIMIT_CORE\",\"hard\":1,\"soft\":1},{\"type\":\"RLIMIT_AS\",\"hard\":\"10\",\"soft\":1}]}}",
		    "process.rlimits[2].hard: expected an unsigned integer, got a string");
	PARSE_FAILS("{\"process\":{\"rlimits\":[{\"hard\":-1}]}}",
		    "process.rlimits[0].hard: -1 is negative, expected an unsigned integer");
	PARSE_FAILS("{\"process\":{\"user\":{\"uid\":4294967296}}}",
		    "process.user.uid: 4294967296 is out of range 0..4294967295");
	PARSE_FAILS("{\"process\":{\"user\":{\"uid\":1.5}}}",
		    "process.user.uid: expected an unsigned integer, got a non-integer number");
	PARSE_FAILS("{\"process\":{\"oomScoreAdj\":\"-500\"}}", "process.oomScoreAdj: expected an integer, got a string");
	PARSE_FAILS("{\"process\":{\"scheduler\":{\"nice\":2147483648}}}",
		    "process.scheduler.nice: 2147483648 is out of range -2147483648..2147483647");
	PARSE_FAILS("{\"linux\":{\"resources\":{\"memory\":{\"limit\":9223372036854775808}}}}",
		    "linux.resources.memory.limit: 9223372036854775808 is out of range");
	PARSE_FAILS("{\"process\":{\"terminal\":1}}", "process.terminal: expected a boolean, got an integer");
	PARSE_FAILS("{\"process\":{\"args\":\"sh\"}}", "process.args: expected an array of strings, got a string");
	PARSE_FAILS("{\"process\":{\"args\":[\"sh\",1]}}", "process.args[1]: expected a string, got an integer");
	PARSE_FAILS("{\"process\":{\"env\":[\"A=1\",null]}}", "process.env[1]: expected a string, got null");
	PARSE_FAILS("{\"process\":[]}", "process: expected an object, got an array");
	PARSE_FAILS("{\"mounts\":{}}", "mounts: expected an array of objects, got an object");
	PARSE_FAILS("{\"mounts\":[{\"destination\":\"/a\"},\"x\"]}", "mounts[1]: expected an object, got a string");
	PARSE_FAILS("{\"annotations\":{\"a\":\"b\",\"c\":3}}", "annotations[\"c\"]: expected a string, got an integer");
	PARSE_FAILS("{\"linux\":{\"sysctl\":[]}}", "linux.sysctl: expected an object of strings, got an array");
	PARSE_FAILS("{\"linux\":{\"timeOffsets\":{\"monotonic\":{\"secs\":\"1\"}}}}",
		    "linux.timeOffsets[\"monotonic\"].secs: expected an integer, got a string");
	PARSE_FAILS("{\"linux\":{\"resources\":{\"rdma\":{\"mlx\":[]}}}}",
		    "linux.resources.rdma[\"mlx\"]: expected an object, got an array");
	PARSE_FAILS("{\"process\":{\"user\":{\"additionalGids\":[1,-2]}}}",
		    "process.user.additionalGids[1]: -2 is negative, expected an unsigned integer");
	PARSE_FAILS("{\"hostname\":\"a\\u0000b\"}", "hostname: string contains a NUL byte");
	PARSE_FAILS("[]", "(config): expected an object, got an array");
	PARSE_FAILS("{\"a\":1} x", "config.json: unexpected character at offset 8");
	PARSE_FAILS("{\"a\":1}}", "config.json: unexpected character at offset 7");
	PARSE_FAILS("{\"a\":", "config.json: unexpected end of input");
	PARSE_FAILS("", "config.json: unexpected end of input");
	PARSE_FAILS("{\"a\":[1,]}", "config.json: unexpected character at offset 8");

	/* Unknown keys are extensions: ignored, whatever their type. */
	_cleanup_(lc_spec_freep) lc_spec *s = parse_ok("{\"x-ext\":[1,{}],\"process\":{\"newThing\":\"y\",\"cwd\":\"/\"},"
						    "\"linux\":{\"netDevices\":{\"eth0\":{}}}}");
	assert_string_equal(s->process->cwd, "/");
}

static void test_caps(void **state) {
	/* A string one byte over 64 KiB. */
	size_t n = LC_SPEC_STRING_MAX + 1;
	char *json = malloc(n + 64);
	assert_non_null(json);
	int off = sprintf(json, "{\"hostname\":\"");
	memset(json + off, 'a', n);
	strcpy(json + off + n, "\"}");
	PARSE_FAILS(json, "hostname: string longer than 65536 bytes");
	/* Exactly 64 KiB is fine. */
	strcpy(json + off + n - 1, "\"}");
	_cleanup_(lc_spec_freep) lc_spec *ok = parse_ok(json);
	assert_int_equal(strlen(ok->hostname), LC_SPEC_STRING_MAX);
	free(json);

	/* An array of 65537 entries. */
	size_t entries = LC_SPEC_ARRAY_MAX + 1;
	json = malloc(entries * 4 + 64);
	assert_non_null(json);
	char *p = json + sprintf(json, "{\"linux\":{\"maskedPaths\":[");
	for (size_t i = 0; i < entries; i++)
		p += sprintf(p, "%s\"\"", i ? "," : "");
	strcpy(p, "]}}");
	PARSE_FAILS(json, "linux.maskedPaths: 65537 entries, at most 65536 allowed");
	free(json);

	/* A map of 65537 keys. */
	json = malloc(entries * 16 + 64);
	assert_non_null(json);
	p = json + sprintf(json, "{\"annotations\":{");
	for (size_t i = 0; i < entries; i++)
		p += sprintf(p, "%s\"k%zu\":\"\"", i ? "," : "", i);
	strcpy(p, "}}");
	PARSE_FAILS(json, "annotations: 65537 entries, at most 65536 allowed");
	free(json);

	/* More than 16 MiB of text is refused before parsing. */
	parse_fails("{}", (size_t)LC_SPEC_JSON_MAX + 1, "config.json: 16777217 bytes, at most 16777216 allowed");

	/* Nesting deeper than the reader's bound is a parse error, not a stack overflow. */
	json = malloc(20000 * 2 + 16);
	assert_non_null(json);
	p = json + sprintf(json, "{\"x\":");
	for (int i = 0; i < 20000; i++)
		*p++ = '[';
	for (int i = 0; i < 20000; i++)
		*p++ = ']';
	strcpy(p, "}");
	lc_spec *s = NULL;
	kc_error err = {0};
	assert_true(lc_spec_from_json(json, strlen(json), &s, &err) < 0);
	assert_non_null(strstr(err.msg, "config.json: nesting too deep"));
	free(json);
}

static void test_from_file(void **state) {
	lc_spec *s = NULL;
	kc_error err = {0};
	assert_int_equal(lc_spec_from_file(AT_FDCWD, "tests/data/oci/does-not-exist.json", &s, &err), -ENOENT);
	assert_string_equal(err.msg, "tests/data/oci/does-not-exist.json: No such file or directory");
	int dirfd = open("tests/data/oci", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dirfd >= 0);
	assert_int_equal(lc_spec_from_file(dirfd, "config-full.json", &s, &err), 0);
	assert_string_equal(s->hostname, "runc");
	s = lc_spec_free(s);
	close(dirfd);
}

/* Packs, unpacks and reads back: the round trip goes through the wire bytes, not just the structs. */
static lc_spec *through_wire(const Grpc__Spec *p) {
	size_t len = grpc__spec__get_packed_size(p);
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	assert_int_equal(grpc__spec__pack(p, buf), len);
	Grpc__Spec *q = grpc__spec__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(q);
	lc_spec *s = NULL;
	kc_error err = {0};
	if (lc_spec_from_proto(q, &s, &err) < 0)
		fail_msg("%s", err.msg);
	grpc__spec__free_unpacked(q, NULL);
	return s;
}

static void test_proto_round_trip(void **state) {
	_cleanup_(lc_spec_freep) lc_spec *s = load(FIXTURE_CARRIABLE);
	Grpc__Spec *p = NULL;
	lc_strv dropped = {0};
	kc_error err = {0};

	assert_int_equal(lc_spec_to_proto(s, &p, &dropped, &err), 0);
	assert_int_equal(dropped.n, 0);
	assert_string_equal(p->linux->resources->memory->limit == 268435456 ? "ok" : "bad", "ok");
	assert_int_equal(p->linux->resources->devices[0]->major, -1); /* the explicit wildcard */
	assert_int_equal(p->linux->seccomp->syscalls[2]->errno_ret_case, GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET);
	_cleanup_(lc_spec_freep) lc_spec *back = through_wire(p);
	assert_true(lc_spec_equal(s, back));
	assert_int_equal(back->linux->seccomp->syscalls[2].errno_ret, 0);
	assert_true(back->linux->seccomp->syscalls[2].has_errno_ret);
	p = lc_spec_proto_free(p);
	lc_strv_clear(&dropped);

	/* Without the dropped list it works too. */
	assert_int_equal(lc_spec_to_proto(s, &p, NULL, &err), 0);
	p = lc_spec_proto_free(p);
}

static void test_proto_dropped(void **state) {
	_cleanup_(lc_spec_freep) lc_spec *s = load(FIXTURE_FULL);
	Grpc__Spec *p = NULL;
	lc_strv dropped = {0};
	kc_error err = {0};
	static const char *const expected[] = {
		"process.user.umask",
		"process.oomScoreAdj",
		"process.scheduler",
		"process.ioPriority",
		"mounts[7].uidMappings",
		"mounts[7].gidMappings",
		"domainname",
		"linux.resources.memory.swappiness",
		"linux.resources.memory.useHierarchy",
		"linux.resources.cpu.burst",
		"linux.resources.cpu.idle",
		"linux.resources.rdma",
		"linux.resources.unified",
		"linux.seccomp.defaultErrnoRet",
		"linux.seccomp.listenerPath",
		"linux.seccomp.listenerMetadata",
		"linux.intelRdt.closID",
		"linux.intelRdt.memBwSchema",
		"linux.intelRdt.enableCMT",
		"linux.personality",
		"linux.timeOffsets",
	};

	assert_int_equal(lc_spec_to_proto(s, &p, &dropped, &err), 0);
	for (size_t i = 0; i < dropped.n; i++)
		print_message("dropped: %s\n", dropped.v[i]);
	assert_int_equal(dropped.n, ELEMENTSOF(expected));
	for (size_t i = 0; i < ELEMENTSOF(expected); i++)
		assert_string_equal(dropped.v[i], expected[i]);
	assert_null(dropped.v[dropped.n]);

	/* What is carried arrives; what is not is absent on the other side. */
	_cleanup_(lc_spec_freep) lc_spec *back = through_wire(p);
	assert_null(back->domainname);
	assert_null(back->process->scheduler);
	assert_false(back->process->user.has_umask);
	assert_false(back->process->has_oom_score_adj);
	assert_null(back->linux->personality);
	assert_int_equal(back->linux->n_time_offsets, 0);
	assert_int_equal(back->linux->resources->n_unified, 0);
	assert_false(back->linux->resources->memory->has_swappiness);
	assert_string_equal(back->linux->intel_rdt->l3_cache_schema, "L3:0=7f0;1=1f");
	assert_int_equal(back->n_mounts, 9);
	assert_int_equal(back->mounts[7].n_uid_mappings, 0);
	assert_int_equal(back->hooks->kind[LC_HOOK_POSTSTOP].n, 1);
	assert_int_equal(back->linux->seccomp->n_syscalls, 5);
	assert_int_equal(back->linux->resources->blockio->throttle[LC_THROTTLE_READ_BPS].v[0].rate, 600);
	/* The device rule 5:0 keeps its real minor 0; 136:* stays a wildcard. */
	assert_true(back->linux->resources->devices[3].has_minor);
	assert_false(back->linux->resources->devices[2].has_minor);
	p = lc_spec_proto_free(p);
	lc_strv_clear(&dropped);
	assert_null(dropped.v);
}

/* The reader's conventions on a message as the Go runtime sends it: nil pointers arrive as zeros. */
static void test_proto_conventions(void **state) {
	Grpc__Spec spec = GRPC__SPEC__INIT;
	Grpc__Process process = GRPC__PROCESS__INIT;
	Grpc__User user = GRPC__USER__INIT;
	Grpc__Linux lnx = GRPC__LINUX__INIT;
	Grpc__LinuxResources res = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxMemory mem = GRPC__LINUX_MEMORY__INIT;
	Grpc__LinuxCPU cpu = GRPC__LINUX_CPU__INIT;
	Grpc__LinuxPids pids = GRPC__LINUX_PIDS__INIT;
	Grpc__LinuxDeviceCgroup rule_all = GRPC__LINUX_DEVICE_CGROUP__INIT, rule_tty = GRPC__LINUX_DEVICE_CGROUP__INIT;
	Grpc__LinuxDeviceCgroup *rules[] = {&rule_all, &rule_tty};
	Grpc__LinuxNamespace ns_ipc = GRPC__LINUX_NAMESPACE__INIT;
	Grpc__LinuxNamespace *nss[] = {&ns_ipc};
	Grpc__LinuxDevice dev = GRPC__LINUX_DEVICE__INIT;
	Grpc__LinuxDevice *devs[] = {&dev};
	Grpc__LinuxSeccomp sc = GRPC__LINUX_SECCOMP__INIT;
	Grpc__LinuxSyscall call_a = GRPC__LINUX_SYSCALL__INIT, call_b = GRPC__LINUX_SYSCALL__INIT;
	Grpc__LinuxSyscall *calls[] = {&call_a, &call_b};
	char *names[] = {"mkdir"};
	char *args[] = {"sh", ""};
	lc_spec *s = NULL;
	kc_error err = {0};

	spec.process = &process;
	process.user = &user;
	process.args = args, process.n_args = 2;
	process.cwd = "";
	spec.linux = &lnx;
	lnx.resources = &res;
	res.memory = &mem;
	mem.reservation = 1 << 20;
	res.cpu = &cpu;
	cpu.cpus = "";
	res.pids = &pids;
	res.devices = rules, res.n_devices = 2;
	rule_all.access = "rwm";
	rule_tty.type = "c", rule_tty.major = 5, rule_tty.minor = 0, rule_tty.allow = true;
	lnx.namespaces = nss, lnx.n_namespaces = 1;
	ns_ipc.type = "ipc";
	lnx.devices = devs, lnx.n_devices = 1;
	dev.path = "/dev/null", dev.type = "c", dev.major = 1, dev.minor = 3;
	lnx.seccomp = &sc;
	sc.defaultaction = "SCMP_ACT_ALLOW";
	sc.syscalls = calls, sc.n_syscalls = 2;
	call_a.names = names, call_a.n_names = 1, call_a.action = "SCMP_ACT_ERRNO";
	call_b.names = names, call_b.n_names = 1, call_b.action = "SCMP_ACT_ERRNO";
	call_b.errno_ret_case = GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET, call_b.errnoret = 0;

	assert_int_equal(lc_spec_from_proto(&spec, &s, &err), 0);
	assert_null(s->oci_version);       /* "" is absent */
	assert_null(s->root);              /* no message, no root */
	assert_null(s->process->cwd);
	assert_string_equal(s->process->args.v[1], ""); /* but "" inside an array is a value */
	assert_false(s->process->has_oom_score_adj);   /* OOMScoreAdj 0 = nil */
	assert_null(s->process->capabilities);
	assert_null(s->process->console_size);
	assert_false(s->linux->resources->memory->has_limit);
	assert_true(s->linux->resources->memory->has_reservation);
	assert_false(s->linux->resources->memory->has_swappiness);
	assert_false(s->linux->resources->memory->has_disable_oom_killer);
	assert_false(s->linux->resources->cpu->has_shares);
	assert_null(s->linux->resources->cpu->cpus);
	assert_true(s->linux->resources->pids->has_limit); /* the message is the presence */
	assert_false(s->linux->resources->devices[0].has_major || s->linux->resources->devices[0].has_minor);
	assert_true(s->linux->resources->devices[1].has_major && s->linux->resources->devices[1].has_minor);
	assert_null(s->linux->namespaces[0].path); /* "" = create */
	assert_true(s->linux->devices[0].has_major && s->linux->devices[0].has_minor);
	assert_false(s->linux->devices[0].has_file_mode || s->linux->devices[0].has_uid);
	assert_false(s->linux->seccomp->syscalls[0].has_errno_ret);
	assert_true(s->linux->seccomp->syscalls[1].has_errno_ret); /* the oneof carries presence, even for 0 */
	assert_false(s->linux->seccomp->has_default_errno_ret);
	assert_null(s->hooks);
	s = lc_spec_free(s);

	/* Caps hold on this path too. */
	char big[LC_SPEC_STRING_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	spec.hostname = big;
	assert_int_equal(lc_spec_from_proto(&spec, &s, &err), -E2BIG);
	assert_string_equal(err.msg, "hostname: string longer than 65536 bytes");
	assert_null(s);
}

static void test_equal_and_ref(void **state) {
	_cleanup_(lc_spec_freep) lc_spec *a = load(FIXTURE_FULL);
	_cleanup_(lc_spec_freep) lc_spec *b = load(FIXTURE_FULL);
	assert_true(lc_spec_equal(a, b));
	b->linux->seccomp->syscalls[1].args[0].op[9] = 'N'; /* SCMP_CMP_EQ -> SCMP_CMP_NQ */
	assert_false(lc_spec_equal(a, b));
	b->linux->seccomp->syscalls[1].args[0].op[9] = 'E';
	assert_true(lc_spec_equal(a, b));
	b->linux->resources->memory->has_swappiness = false;
	assert_false(lc_spec_equal(a, b));

	lc_spec *r = lc_spec_ref(a);
	assert_ptr_equal(r, a);
	assert_null(lc_spec_free(r)); /* one reference left: a is still usable */
	assert_string_equal(a->hostname, "runc");
	assert_null(lc_spec_free(NULL));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_fixture),    cmocka_unit_test(test_presence),
		cmocka_unit_test(test_types),           cmocka_unit_test(test_caps),
		cmocka_unit_test(test_from_file),       cmocka_unit_test(test_proto_round_trip),
		cmocka_unit_test(test_proto_dropped),   cmocka_unit_test(test_proto_conventions),
		cmocka_unit_test(test_equal_and_ref),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
