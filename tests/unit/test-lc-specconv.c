/* specconv: the full fixture resolved into an lc_config, and every class of invalid field rejected with the
 * exact message (field path and value). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "libcontainer-c/specconv.h"

#define CAP(n) (UINT64_C(1) << (n))
#define ROOT "\"root\":{\"path\":\"rootfs\"}"
#define PROC "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}"
/* A minimal valid config with extra top-level members. */
#define CFG(...) "{" ROOT "," PROC __VA_OPT__(",") __VA_ARGS__ "}"
#define CFG_PROC(proc, ...) "{" ROOT ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"," proc "}" __VA_OPT__(",") __VA_ARGS__ "}"

/* The agent's view: net, ipc and uts belong to the sandbox. */
#define SANDBOX_NS (LC_NS_BIT(LC_NS_NET) | LC_NS_BIT(LC_NS_IPC) | LC_NS_BIT(LC_NS_UTS))

static int convert(const char *json, unsigned shared, unsigned flags, lc_config **ret, kc_error *err) {
	_cleanup_(lc_spec_freep) lc_spec *s = NULL;
	int r = lc_spec_from_json(json, strlen(json), &s, err);
	if (r < 0)
		fail_msg("reader rejected %s: %s", json, err->msg);
	lc_specconv_opts opts = {.shared_ns = shared, .flags = flags};
	return lc_config_from_spec(s, &opts, ret, err);
}

static lc_config *convert_ok(const char *json, unsigned shared, unsigned flags) {
	lc_config *c = NULL;
	kc_error err = {0};
	if (convert(json, shared, flags, &c, &err) < 0)
		fail_msg("%s\n  -> %s", json, err.msg);
	return c;
}

static void test_full_fixture(void **state) {
	_cleanup_(lc_spec_freep) lc_spec *s = NULL;
	_cleanup_(lc_config_freep) lc_config *c = NULL;
	kc_error err = {0};

	assert_int_equal(lc_spec_from_file(AT_FDCWD, "tests/data/oci/config-full.json", &s, &err), 0);
	if (lc_config_from_spec(s, NULL, &c, &err) < 0)
		fail_msg("%s", err.msg);

	/* namespaces */
	assert_int_equal(c->clone_flags, CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS |
						 CLONE_NEWUSER | CLONE_NEWCGROUP | 0x80 /* CLONE_NEWTIME */);
	assert_true(c->ns[LC_NS_TIME].enabled);
	assert_null(c->ns[LC_NS_NET].path);
	assert_int_equal(c->n_uid_mappings, 1);
	assert_int_equal(c->uid_mappings[0].size, 32000);

	/* process */
	const lc_process_config *p = c->process;
	assert_non_null(p);
	assert_string_equal(p->args[0], "sh");
	assert_null(p->args[3]);
	assert_int_equal(p->n_env, 3);
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->n_additional_gids, 3);
	assert_true(p->has_umask);
	assert_int_equal(p->umask, 022);
	assert_true(p->has_console_size);
	assert_int_equal(p->console_width, 80);
	assert_true(p->has_capabilities);
	assert_true(p->caps[LC_CAP_BOUNDING] == (CAP(29) | CAP(5) | CAP(10)));
	assert_true(p->caps[LC_CAP_PERMITTED] == (CAP(29) | CAP(5) | CAP(10) | CAP(40)));
	assert_true(p->caps[LC_CAP_INHERITABLE] == 0);
	assert_true(p->caps[LC_CAP_AMBIENT] == CAP(0));
	assert_int_equal(p->n_rlimits, 2);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p->rlimits[1].resource, RLIMIT_CORE);
	assert_true(p->rlimits[1].hard == UINT64_MAX);
	assert_true(p->has_oom_score_adj);
	assert_int_equal(p->oom_score_adj, 0);
	assert_true(p->has_scheduler);
	assert_int_equal(p->sched_policy, SCHED_FIFO);
	assert_int_equal(p->sched_priority, 10);
	assert_int_equal(p->sched_flags, 0x01);
	assert_true(p->has_io_priority);
	assert_int_equal(p->ioprio_class, 2);
	assert_int_equal(p->ioprio_level, 4);

	assert_string_equal(c->rootfs, "rootfs");
	assert_true(c->rootfs_readonly);
	assert_int_equal(c->rootfs_propagation, MS_SLAVE | MS_REC);
	assert_string_equal(c->hostname, "runc");
	assert_string_equal(c->domainname, "example.org");

	/* mounts */
	assert_int_equal(c->n_mounts, 9);
	assert_int_equal(c->mounts[0].flags, 0);
	assert_null(c->mounts[0].data);
	assert_int_equal(c->mounts[1].flags, MS_NOSUID | MS_STRICTATIME);
	assert_string_equal(c->mounts[1].data, "mode=755,size=65536k");
	assert_int_equal(c->mounts[2].flags, MS_NOSUID | MS_NOEXEC);
	assert_string_equal(c->mounts[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
	assert_int_equal(c->mounts[5].flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
	assert_int_equal(c->mounts[6].flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY);
	const lc_mount_config *m = &c->mounts[7];
	assert_int_equal(m->flags, MS_BIND | MS_REC);
	assert_int_equal(m->propagation, MS_PRIVATE | MS_REC);
	assert_true(m->lc_flags == (LC_MOUNT_BIND | LC_MOUNT_IDMAP));
	assert_true(m->attr_set == (0x1 | 0x2 | 0x10 | 0x100000)); /* RDONLY NOSUID NOATIME IDMAP */
	assert_true(m->attr_clr == 0x70);                            /* MOUNT_ATTR__ATIME */
	assert_false(m->idmap_recursive);
	assert_int_equal(m->n_uid_mappings, 1);
	assert_null(m->data);
	m = &c->mounts[8];
	assert_string_equal(m->destination, "/relative/target");
	assert_null(m->type);
	assert_int_equal(m->flags, MS_BIND | MS_RDONLY);
	assert_int_equal(m->propagation, MS_SLAVE);

	/* hooks */
	assert_int_equal(c->n_hooks[LC_HOOK_PRESTART], 1);
	assert_string_equal(c->hooks[LC_HOOK_PRESTART][0].args[1], "arg1");
	assert_int_equal(c->hooks[LC_HOOK_PRESTART][0].timeout, 0);
	assert_int_equal(c->hooks[LC_HOOK_CREATE_CONTAINER][0].timeout, 5);
	assert_int_equal(c->n_hooks[LC_HOOK_POSTSTOP], 1);

	/* devices */
	assert_int_equal(c->n_devices, 4);
	assert_int_equal(c->devices[0].type, S_IFCHR);
	assert_true(c->devices[0].rdev == makedev(10, 229));
	assert_int_equal(c->devices[0].file_mode, 0666);
	assert_int_equal(c->devices[1].type, S_IFBLK);
	assert_int_equal(c->devices[1].file_mode, 0666); /* default */
	assert_int_equal(c->devices[2].type, S_IFCHR);   /* "u" */
	assert_int_equal(c->devices[2].file_mode, 0600);
	assert_int_equal(c->devices[3].type, S_IFIFO);

	/* sysctl: dots become slashes, and a '/' in a dotted key is a literal dot */
	assert_int_equal(c->n_sysctl, 5);
	assert_string_equal(c->sysctl[0].proc_path, "net/ipv4/ip_forward");
	assert_string_equal(c->sysctl[3].proc_path, "fs/mqueue/msg_max");
	assert_string_equal(c->sysctl[4].proc_path, "net/ipv4/conf/eth0.100/forwarding");
	assert_string_equal(c->sysctl[4].value, "0");

	/* seccomp */
	const lc_seccomp_config *sc = c->seccomp;
	assert_non_null(sc);
	assert_int_equal(sc->default_action, LC_SCMP_ACT_ERRNO);
	assert_int_equal(sc->default_errno_ret, 38);
	assert_int_equal(sc->n_architectures, 3);
	assert_string_equal(sc->architectures[0], "x86_64");
	assert_string_equal(sc->architectures[2], "x32");
	assert_int_equal(sc->flags, LC_SECCOMP_FLAG_LOG | LC_SECCOMP_FLAG_SPEC_ALLOW);
	assert_true(sc->uses_notify);
	assert_string_equal(sc->listener_path, "/run/seccomp-agent.sock");
	assert_int_equal(sc->n_syscalls, 5);
	assert_int_equal(sc->syscalls[0].n_names, 3);
	assert_int_equal(sc->syscalls[0].action, LC_SCMP_ACT_ALLOW);
	assert_int_equal(sc->syscalls[1].args[1].op, LC_SCMP_CMP_MASKED_EQ);
	assert_true(sc->syscalls[1].args[1].value == 4294967295u);
	assert_int_equal(sc->syscalls[1].args[1].value_two, 8);
	assert_int_equal(sc->syscalls[2].action, LC_SCMP_ACT_NOTIFY);
	assert_int_equal(sc->syscalls[3].errno_ret, 1);
	assert_int_equal(sc->syscalls[4].action, LC_SCMP_ACT_KILL_PROCESS);

	assert_int_equal(c->n_masked_paths, 4);
	assert_int_equal(c->n_readonly_paths, 5);
	assert_true(c->has_personality);
	assert_int_equal(c->personality, PER_LINUX32);
	assert_true(c->time_monotonic.set);
	assert_int_equal(c->time_monotonic.secs, 3600);
	assert_int_equal(c->time_monotonic.nanosecs, 5);
	assert_true(c->time_boottime.set);
	assert_int_equal(c->time_boottime.secs, -10);
	assert_non_null(c->resources);
	assert_string_equal(c->cgroups_path, "/myRuntime/myContainer");
	assert_string_equal(c->intel_rdt->clos_id, "guaranteed_group");

	/* The config keeps the spec alive: dropping the caller's reference leaves every string valid. */
	s = lc_spec_free(s);
	assert_string_equal(c->process->cwd, "/");
	assert_string_equal(c->mounts[7].source, "/srv/data");
}

typedef struct bad_case {
	const char *json;
	unsigned shared;
	const char *msg;
} bad_case;

static const bad_case bad_cases[] = {
	/* root, process */
	{"{" PROC "}", 0, "root: missing"},
	{"{\"root\":{}," PROC "}", 0, "root.path: missing"},
	{"{" ROOT "}", 0, "process: missing"},
	{"{" ROOT ",\"process\":{\"cwd\":\"/\"}}", 0, "process.args: empty"},
	{"{" ROOT ",\"process\":{\"args\":[\"\"],\"cwd\":\"/\"}}", 0, "process.args[0]: empty"},
	{"{" ROOT ",\"process\":{\"args\":[\"sh\"]}}", 0, "process.cwd: missing"},
	{"{" ROOT ",\"process\":{\"args\":[\"sh\"],\"cwd\":\"work\"}}", 0, "process.cwd: \"work\" is not an absolute path"},
	{CFG_PROC("\"env\":[\"A=1\",\"NOVALUE\"]"), 0, "process.env[1]: \"NOVALUE\" is not KEY=VALUE"},
	{CFG_PROC("\"env\":[\"=x\"]"), 0, "process.env[0]: \"=x\" is not KEY=VALUE"},
	{CFG_PROC("\"user\":{\"umask\":512}"), 0, "process.user.umask: 01000 is out of range 0..0777"},
	{CFG_PROC("\"oomScoreAdj\":1001"), 0, "process.oomScoreAdj: 1001 is out of range -1000..1000"},
	{CFG_PROC("\"oomScoreAdj\":-1001"), 0, "process.oomScoreAdj: -1001 is out of range -1000..1000"},
	{CFG_PROC("\"consoleSize\":{\"height\":70000,\"width\":1}"), 0,
	 "process.consoleSize: 70000x1 is larger than 65535x65535"},
	/* capabilities */
	{CFG_PROC("\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_SYS_ADMIN\",\"CAP_FOO\"]}"), 0,
	 "process.capabilities.bounding[3]: unknown capability \"CAP_FOO\""},
	{CFG_PROC("\"capabilities\":{\"ambient\":[\"chown\"]}"), 0,
	 "process.capabilities.ambient[0]: unknown capability \"chown\""},
	/* rlimits */
	{CFG_PROC("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1},{\"type\":\"RLIMIT_FOO\"}]"), 0,
	 "process.rlimits[1].type: unknown rlimit \"RLIMIT_FOO\""},
	{CFG_PROC("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1},"
		  "{\"type\":\"RLIMIT_NOFILE\",\"soft\":2,\"hard\":2}]"),
	 0, "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\""},
	{CFG_PROC("\"rlimits\":[{\"type\":\"RLIMIT_NPROC\",\"soft\":2048,\"hard\":1024}]"), 0,
	 "process.rlimits[0]: soft limit 2048 is above hard limit 1024"},
	{CFG_PROC("\"rlimits\":[{\"soft\":1,\"hard\":1}]"), 0, "process.rlimits[0].type: missing"},
	/* scheduler, ioPriority */
	{CFG_PROC("\"scheduler\":{\"policy\":\"SCHED_FAST\"}"), 0, "process.scheduler.policy: unknown policy \"SCHED_FAST\""},
	{CFG_PROC("\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"nice\":20}"), 0,
	 "process.scheduler.nice: 20 is out of range -20..19"},
	{CFG_PROC("\"scheduler\":{\"policy\":\"SCHED_RR\",\"priority\":0}"), 0,
	 "process.scheduler.priority: 0 is out of range 1..99 for SCHED_RR"},
	{CFG_PROC("\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"flags\":[\"SCHED_FLAG_X\"]}"), 0,
	 "process.scheduler.flags[0]: unknown flag \"SCHED_FLAG_X\""},
	{CFG_PROC("\"scheduler\":{\"policy\":\"SCHED_DEADLINE\",\"runtime\":10,\"deadline\":5}"), 0,
	 "process.scheduler: SCHED_DEADLINE needs runtime <= deadline <= period"},
	{CFG_PROC("\"ioPriority\":{\"class\":\"IOPRIO_CLASS_XX\"}"), 0, "process.ioPriority.class: unknown class \"IOPRIO_CLASS_XX\""},
	{CFG_PROC("\"ioPriority\":{\"class\":\"IOPRIO_CLASS_RT\",\"priority\":8}"), 0,
	 "process.ioPriority.priority: 8 is out of range 0..7"},
	/* namespaces and mappings */
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"foo\"}]}"), 0,
	 "linux.namespaces[2].type: unknown namespace \"foo\""},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\",\"path\":\"/proc/1/ns/pid\"}]}"), 0,
	 "linux.namespaces[1].type: duplicate namespace \"pid\""},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"run/netns/x\"}]}"), 0,
	 "linux.namespaces[0].path: \"run/netns/x\" is not an absolute path"},
	{CFG("\"linux\":{\"namespaces\":[{}]}"), 0, "linux.namespaces[0].type: missing"},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}"), 0,
	 "linux.namespaces: a new user namespace needs linux.uidMappings and linux.gidMappings"},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}"),
	 0, "linux.namespaces: a new user namespace needs linux.uidMappings and linux.gidMappings"},
	{CFG("\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}"),
	 0, "linux.uidMappings: mappings need a user namespace (linux.namespaces has no \"user\")"},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"user\",\"path\":\"/proc/1/ns/user\"}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}"),
	 0, "linux.gidMappings: cannot be applied to the user namespace joined at \"/proc/1/ns/user\""},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":0}],"
	     "\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}"),
	 0, "linux.uidMappings[0].size: 0 is not a valid mapping size"},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":[{\"containerID\":4294967295,\"hostID\":1,"
	     "\"size\":2}],\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}"),
	 0, "linux.uidMappings[0]: containerID 4294967295 + size 2 overflows 32 bits"},
	/* hostname and sysctls are judged against the namespaces the container really has */
	{CFG("\"hostname\":\"box\""), 0, "hostname: \"box\" needs a UTS namespace"},
	{CFG("\"domainname\":\"example.org\""), LC_NS_BIT(LC_NS_NET), "domainname: \"example.org\" needs a UTS namespace"},
	{CFG("\"hostname\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"linux\":{\"namespaces\":[{\"type\":\"uts\"}]}"),
	 0, "hostname: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is longer than 64 bytes"},
	{CFG("\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}}"), 0,
	 "linux.sysctl[\"net.ipv4.ip_forward\"]: needs a network namespace"},
	{CFG("\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"},\"namespaces\":[{\"type\":\"ipc\"}]}"),
	 LC_NS_BIT(LC_NS_UTS), "linux.sysctl[\"net.ipv4.ip_forward\"]: needs a network namespace"},
	{CFG("\"linux\":{\"sysctl\":{\"kernel.shmmax\":\"1\"},\"namespaces\":[{\"type\":\"network\"}]}"), 0,
	 "linux.sysctl[\"kernel.shmmax\"]: needs an IPC namespace"},
	{CFG("\"linux\":{\"sysctl\":{\"fs.mqueue.queues_max\":\"1\"}}"), LC_NS_BIT(LC_NS_NET),
	 "linux.sysctl[\"fs.mqueue.queues_max\"]: needs an IPC namespace"},
	{CFG("\"linux\":{\"sysctl\":{\"kernel.hostname\":\"x\"}}"), LC_NS_BIT(LC_NS_IPC),
	 "linux.sysctl[\"kernel.hostname\"]: needs a UTS namespace"},
	{CFG("\"linux\":{\"sysctl\":{\"vm.swappiness\":\"10\"}}"), SANDBOX_NS,
	 "linux.sysctl[\"vm.swappiness\"]: not a namespaced sysctl"},
	{CFG("\"linux\":{\"sysctl\":{\"kernel.pid_max\":\"10\"}}"), SANDBOX_NS,
	 "linux.sysctl[\"kernel.pid_max\"]: not a namespaced sysctl"},
	{CFG("\"linux\":{\"sysctl\":{\"net/../../kernel/x\":\"1\"}}"), SANDBOX_NS, "linux.sysctl[\"net/../../kernel/x\"]: invalid key"},
	{CFG("\"linux\":{\"sysctl\":{\"net..ipv4\":\"1\"}}"), SANDBOX_NS, "linux.sysctl[\"net..ipv4\"]: invalid key"},
	{CFG("\"linux\":{\"sysctl\":{\"\":\"1\"}}"), SANDBOX_NS, "linux.sysctl[\"\"]: invalid key"},
	/* mounts */
	{CFG("\"mounts\":[{\"type\":\"tmpfs\"}]"), 0, "mounts[0].destination: missing"},
	{CFG("\"mounts\":[{\"destination\":\"/a\",\"options\":[\"rbind\"]}]"), 0,
	 "mounts[0].source: missing for a bind mount"},
	{CFG("\"mounts\":[{\"destination\":\"/a\",\"type\":\"bind\"}]"), 0, "mounts[0].source: missing for a bind mount"},
	{CFG("\"mounts\":[{\"destination\":\"/a\",\"source\":\"/b\",\"options\":[\"bind\",\"shared\",\"rprivate\"]}]"), 0,
	 "mounts[0].options[2]: \"rprivate\" conflicts with \"shared\""},
	{CFG("\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[\"size=1m\",\"\"]}]"), 0,
	 "mounts[0].options[1]: empty"},
	{CFG("\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"source\":\"t\",\"options\":[\"idmap\"]}]"), 0,
	 "mounts[0]: an idmapped mount must be a bind mount"},
	{CFG("\"mounts\":[{\"destination\":\"/a\",\"source\":\"/b\",\"options\":[\"rbind\",\"idmap\"]}]"), 0,
	 "mounts[0].options: \"idmap\" needs mount uidMappings/gidMappings or a new user namespace"},
	{CFG("\"mounts\":[{\"destination\":\"/a\",\"source\":\"/b\",\"options\":[\"rbind\"],"
	     "\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}]"),
	 0, "mounts[0].uidMappings: needs gidMappings too"},
	{CFG("\"mounts\":[{\"destination\":\"/a\",\"source\":\"/b\",\"options\":[\"rbind\"],"
	     "\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":0}],\"gidMappings\":[{\"size\":1}]}]"),
	 0, "mounts[0].uidMappings[0].size: 0 is not a valid mapping size"},
	/* hooks */
	{CFG("\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\"},{\"path\":\"hook\"}]}"), 0,
	 "hooks.prestart[1].path: \"hook\" is not an absolute path"},
	{CFG("\"hooks\":{\"createRuntime\":[{}]}"), 0, "hooks.createRuntime[0].path: missing"},
	{CFG("\"hooks\":{\"poststop\":[{\"path\":\"/x\",\"timeout\":0}]}"), 0, "hooks.poststop[0].timeout: 0 must be positive"},
	{CFG("\"hooks\":{\"startContainer\":[{\"path\":\"/x\",\"timeout\":-5}]}"), 0,
	 "hooks.startContainer[0].timeout: -5 must be positive"},
	{CFG("\"hooks\":{\"poststart\":[{\"path\":\"/x\",\"env\":[\"X\"]}]}"), 0, "hooks.poststart[0].env[0]: \"X\" is not KEY=VALUE"},
	/* devices */
	{CFG("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"x\"}]}"), 0,
	 "linux.devices[0].type: unknown device type \"x\""},
	{CFG("\"linux\":{\"devices\":[{\"path\":\"/tmp/x\",\"type\":\"c\",\"major\":1,\"minor\":3}]}"), 0,
	 "linux.devices[0].path: \"/tmp/x\" is not under /dev"},
	{CFG("\"linux\":{\"devices\":[{\"path\":\"/dev/../etc/x\",\"type\":\"c\",\"major\":1,\"minor\":3}]}"), 0,
	 "linux.devices[0].path: \"/dev/../etc/x\" is not under /dev"},
	{CFG("\"linux\":{\"devices\":[{\"path\":\"dev/x\",\"type\":\"p\"}]}"), 0,
	 "linux.devices[0].path: \"dev/x\" is not an absolute path"},
	{CFG("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"minor\":3}]}"), 0,
	 "linux.devices[0].major: required for type \"c\""},
	{CFG("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"b\",\"major\":8}]}"), 0,
	 "linux.devices[0].minor: required for type \"b\""},
	{CFG("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"c\",\"major\":4096,\"minor\":0}]}"), 0,
	 "linux.devices[0].major: 4096 is out of range 0..4095"},
	{CFG("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"p\"},{\"path\":\"/dev/x\",\"type\":\"p\"}]}"), 0,
	 "linux.devices[1].path: duplicate device \"/dev/x\""},
	{CFG("\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"p\",\"fileMode\":4294967295}]}"), 0,
	 "linux.devices[0].fileMode: 037777777777 has bits beyond 07777"},
	/* resources */
	{CFG("\"linux\":{\"resources\":{\"cpu\":{\"shares\":1}}}"), 0, "linux.resources.cpu.shares: 1 is out of range 2..262144"},
	{CFG("\"linux\":{\"resources\":{\"cpu\":{\"quota\":999}}}"), 0,
	 "linux.resources.cpu.quota: 999 is out of range (-1, or at least 1000)"},
	{CFG("\"linux\":{\"resources\":{\"cpu\":{\"quota\":0}}}"), 0,
	 "linux.resources.cpu.quota: 0 is out of range (-1, or at least 1000)"},
	{CFG("\"linux\":{\"resources\":{\"cpu\":{\"period\":2000000}}}"), 0,
	 "linux.resources.cpu.period: 2000000 is out of range 1000..1000000"},
	{CFG("\"linux\":{\"resources\":{\"cpu\":{\"cpus\":\"0-3,\"}}}"), 0, "linux.resources.cpu.cpus: \"0-3,\" is not a CPU list"},
	{CFG("\"linux\":{\"resources\":{\"cpu\":{\"mems\":\"3-1\"}}}"), 0, "linux.resources.cpu.mems: \"3-1\" is not a node list"},
	{CFG("\"linux\":{\"resources\":{\"pids\":{\"limit\":-2}}}"), 0,
	 "linux.resources.pids.limit: -2 is out of range -1..9223372036854775807"},
	{CFG("\"linux\":{\"resources\":{\"memory\":{\"limit\":0}}}"), 0,
	 "linux.resources.memory.limit: 0 is not a usable limit (-1 is unlimited)"},
	{CFG("\"linux\":{\"resources\":{\"memory\":{\"limit\":-5}}}"), 0,
	 "linux.resources.memory.limit: -5 is out of range -1..9223372036854775807"},
	{CFG("\"linux\":{\"resources\":{\"memory\":{\"limit\":1024,\"reservation\":2048}}}"), 0,
	 "linux.resources.memory.reservation: 2048 is above the limit 1024"},
	{CFG("\"linux\":{\"resources\":{\"memory\":{\"limit\":4096,\"swap\":2048}}}"), 0,
	 "linux.resources.memory.swap: 2048 is below the limit 4096 (swap counts memory plus swap)"},
	{CFG("\"linux\":{\"resources\":{\"memory\":{\"swappiness\":101}}}"), 0,
	 "linux.resources.memory.swappiness: 101 is out of range 0..100"},
	{CFG("\"linux\":{\"resources\":{\"blockIO\":{\"weight\":5}}}"), 0, "linux.resources.blockIO.weight: 5 is out of range 10..1000"},
	{CFG("\"linux\":{\"resources\":{\"blockIO\":{\"leafWeight\":1001}}}"), 0,
	 "linux.resources.blockIO.leafWeight: 1001 is out of range 10..1000"},
	{CFG("\"linux\":{\"resources\":{\"blockIO\":{\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":9}]}}}"), 0,
	 "linux.resources.blockIO.weightDevice[0].weight: 9 is out of range 10..1000"},
	{CFG("\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}}"), 0,
	 "linux.resources.devices[0].type: unknown type \"x\""},
	{CFG("\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}}"), 0,
	 "linux.resources.devices[0].access: \"rwx\" is not a combination of r, w, m"},
	{CFG("\"linux\":{\"resources\":{\"devices\":[{\"allow\":true,\"major\":-2}]}}"), 0,
	 "linux.resources.devices[0].major: -2 is out of range -1..2147483647"},
	{CFG("\"linux\":{\"resources\":{\"hugepageLimits\":[{\"pageSize\":\"2M\",\"limit\":1}]}}"), 0,
	 "linux.resources.hugepageLimits[0].pageSize: \"2M\" is not a page size like 2MB"},
	{CFG("\"linux\":{\"resources\":{\"hugepageLimits\":[{\"pageSize\":\"2MB\"},{\"pageSize\":\"2MB\"}]}}"), 0,
	 "linux.resources.hugepageLimits[1].pageSize: duplicate \"2MB\""},
	{CFG("\"linux\":{\"resources\":{\"unified\":{\"../cgroup.procs\":\"1\"}}}"), 0,
	 "linux.resources.unified[\"../cgroup.procs\"]: not a cgroup v2 file name"},
	{CFG("\"linux\":{\"resources\":{\"network\":{\"priorities\":[{\"priority\":1}]}}}"), 0,
	 "linux.resources.network.priorities[0].name: missing"},
	/* seccomp */
	{CFG("\"linux\":{\"seccomp\":{}}"), 0, "linux.seccomp.defaultAction: missing"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_FOO\"}}"), 0,
	 "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\""},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/x\"}}"), 0,
	 "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":1}}"), 0,
	 "linux.seccomp.defaultErrnoRet: not allowed with SCMP_ACT_ALLOW"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
	     "\"SCMP_ARCH_VAX\"]}}"),
	 0, "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\""},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_X\"]}}"), 0,
	 "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_X\""},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]}}"),
	 0, "linux.seccomp.syscalls[0].names: empty"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\",\"\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\"}]}}"),
	 0, "linux.seccomp.syscalls[0].names[1]: \"\" is not a syscall name"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"]}]}}"), 0,
	 "linux.seccomp.syscalls[0].action: missing"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_LOG\",\"errnoRet\":1}]}}"),
	 0, "linux.seccomp.syscalls[0].errnoRet: not allowed with SCMP_ACT_LOG"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"op\":\"SCMP_CMP_EQ\"}]}]}}"),
	 0, "linux.seccomp.syscalls[0].args[0].index: 6 is out of range 0..5"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":1,\"op\":\"SCMP_CMP_XOR\"}]}]}}"),
	 0, "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_XOR\""},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mount\"],"
	     "\"action\":\"SCMP_ACT_NOTIFY\"}]}}"),
	 0, "linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY"},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/s\",\"syscalls\":[{\"names\":"
	     "[\"read\",\"write\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}}"),
	 0, "linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot apply to \"write\""},
	{CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"sock\"}}"), 0,
	 "linux.seccomp.listenerPath: \"sock\" is not an absolute path"},
	/* paths, propagation, personality, time */
	{CFG("\"linux\":{\"maskedPaths\":[\"/proc/kcore\",\"proc/keys\"]}"), 0,
	 "linux.maskedPaths[1]: \"proc/keys\" is not an absolute path"},
	{CFG("\"linux\":{\"readonlyPaths\":[\"\"]}"), 0, "linux.readonlyPaths[0]: missing"},
	{CFG("\"linux\":{\"rootfsPropagation\":\"rsharedd\"}"), 0, "linux.rootfsPropagation: unknown propagation \"rsharedd\""},
	{CFG("\"linux\":{\"rootfsPropagation\":\"nosuid\"}"), 0, "linux.rootfsPropagation: unknown propagation \"nosuid\""},
	{CFG("\"linux\":{\"personality\":{\"domain\":\"LINUX64\"}}"), 0, "linux.personality.domain: unknown domain \"LINUX64\""},
	{CFG("\"linux\":{\"timeOffsets\":{\"monotonic\":{\"secs\":1}}}"), 0, "linux.timeOffsets: needs a new time namespace"},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"time\"}],\"timeOffsets\":{\"realtime\":{\"secs\":1}}}"), 0,
	 "linux.timeOffsets[\"realtime\"]: unknown clock"},
	{CFG("\"linux\":{\"namespaces\":[{\"type\":\"time\"}],\"timeOffsets\":{\"boottime\":{\"nanosecs\":1000000000}}}"), 0,
	 "linux.timeOffsets[\"boottime\"].nanosecs: 1000000000 is not below one second"},
	{CFG("\"linux\":{\"cgroupsPath\":\"/a/../../b\"}"), 0, "linux.cgroupsPath: \"/a/../../b\" contains \"..\""},
	{CFG("\"linux\":{\"intelRdt\":{\"closID\":\"../x\"}}"), 0, "linux.intelRdt.closID: \"../x\" is not a resctrl group name"},
};

static void test_bad_fields(void **state) {
	for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
		lc_config *c = NULL;
		kc_error err = {0};
		int r = convert(bad_cases[i].json, bad_cases[i].shared, 0, &c, &err);
		if (r >= 0) {
			(void)lc_config_free(c);
			fail_msg("case %zu accepted: %s", i, bad_cases[i].json);
		}
		assert_int_equal(r, -EINVAL);
		assert_null(c);
		if (strcmp(err.msg, bad_cases[i].msg) != 0)
			fail_msg("case %zu: %s\n  got:      %s\n  expected: %s", i, bad_cases[i].json, err.msg, bad_cases[i].msg);
	}
}

/* What the agent does: the sandbox's net, ipc and uts are shared, so namespaced settings pass even though
 * the spec (stripped by the host) lists none of them. */
static void test_shared_namespaces(void **state) {
	_cleanup_(lc_config_freep) lc_config *c = convert_ok(
		CFG("\"hostname\":\"pod\",\"linux\":{\"sysctl\":{\"net.ipv4.ping_group_range\":\"0 1\","
					    "\"kernel.msgmax\":\"8192\",\"kernel.domainname\":\"x\"}}"),
		SANDBOX_NS, 0);
	assert_int_equal(c->clone_flags, 0);
	assert_false(c->ns[LC_NS_NET].enabled);
	assert_int_equal(c->shared_ns, SANDBOX_NS);
	assert_string_equal(c->hostname, "pod");
	assert_int_equal(c->n_sysctl, 3);
	assert_string_equal(c->sysctl[1].proc_path, "kernel/msgmax");

	/* A joined namespace counts as the container's own. */
	_cleanup_(lc_config_freep) lc_config *j = convert_ok(
		CFG("\"linux\":{\"namespaces\":[{\"type\":\"network\",\"path\":\"/var/run/netns/a\"}],"
		    "\"sysctl\":{\"net.core.somaxconn\":\"1024\"}}"),
		0, 0);
	assert_string_equal(j->ns[LC_NS_NET].path, "/var/run/netns/a");
	assert_int_equal(j->clone_flags, 0);
}

static void test_process_optional(void **state) {
	lc_config *c = NULL;
	kc_error err = {0};
	assert_int_equal(convert("{" ROOT "}", 0, 0, &c, &err), -EINVAL);
	c = convert_ok("{" ROOT "}", 0, LC_SPECCONV_PROCESS_OPTIONAL);
	assert_null(c->process);
	c = lc_config_free(c);
	c = convert_ok("{" ROOT ",\"process\":{\"cwd\":\"/\"}}", 0, LC_SPECCONV_PROCESS_OPTIONAL);
	assert_non_null(c->process);
	assert_null(c->process->args);
	c = lc_config_free(c);
}

/* Edge values that are valid and must stay valid. */
static void test_good_edges(void **state) {
	static const char *const good[] = {
		CFG_PROC("\"oomScoreAdj\":-1000,\"user\":{\"umask\":511}"),
		CFG_PROC("\"capabilities\":{\"bounding\":[\"CAP_CHECKPOINT_RESTORE\",\"CAP_CHOWN\",\"CAP_CHOWN\"]}"),
		CFG_PROC("\"rlimits\":[{\"type\":\"RLIMIT_RTTIME\",\"soft\":5,\"hard\":5}]"),
		CFG_PROC("\"scheduler\":{\"policy\":\"SCHED_DEADLINE\",\"runtime\":1,\"deadline\":2,\"period\":3}"),
		CFG("\"linux\":{\"resources\":{\"memory\":{\"limit\":-1,\"swap\":-1,\"reservation\":0},"
		    "\"cpu\":{\"quota\":-1,\"shares\":262144,\"period\":1000,\"cpus\":\"\"},\"pids\":{\"limit\":0}}}"),
		CFG("\"linux\":{\"resources\":{\"pids\":{\"limit\":-1},\"blockIO\":{\"weight\":1000}}}"),
		CFG("\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_KILL\",\"syscalls\":[{\"names\":[\"a\"],"
		    "\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":65535,\"args\":[{\"index\":5,\"op\":\"SCMP_CMP_NE\"}]}]}}"),
		CFG("\"mounts\":[{\"destination\":\"/a\",\"source\":\"/b\",\"options\":[\"rbind\",\"rprivate\",\"rprivate\","
		    "\"rw\",\"defaults\",\"ridmap\"],\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}],"
		    "\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}]"),
		CFG("\"linux\":{\"sysctl\":{\"net/ipv4/conf/eth0.100/forwarding\":\"1\"}}"),
		CFG("\"linux\":{\"devices\":[{\"path\":\"/dev/net/tun\",\"type\":\"c\",\"major\":10,\"minor\":200}]}"),
	};
	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		lc_config *c = convert_ok(good[i], SANDBOX_NS, 0);
		if (i == 7) {
			assert_true(c->mounts[0].idmap_recursive);
			assert_int_equal(c->mounts[0].flags, MS_BIND | MS_REC);
		}
		if (i == 8)
			assert_string_equal(c->sysctl[0].proc_path, "net/ipv4/conf/eth0.100/forwarding");
		if (i == 6)
			assert_int_equal(c->seccomp->syscalls[0].errno_ret, 65535);
		(void)lc_config_free(c);
	}
}

static void test_mount_options(void **state) {
	_cleanup_(lc_config_freep) lc_config *c = convert_ok(
		CFG("\"mounts\":[{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[\"ro\",\"rw\",\"nosuid\",\"suid\","
		    "\"nodev\",\"noexec\",\"exec\",\"sync\",\"async\",\"dirsync\",\"remount\",\"mand\",\"nomand\",\"noatime\","
		    "\"atime\",\"nodiratime\",\"lazytime\",\"nosymfollow\",\"rnoexec\",\"rexec\",\"rnodev\",\"rstrictatime\","
		    "\"rrelatime\",\"tmpcopyup\",\"unbindable\",\"uid=0\"]}]"),
		0, 0);
	const lc_mount_config *m = &c->mounts[0];
	assert_int_equal(m->flags, MS_NODEV | MS_DIRSYNC | MS_REMOUNT | MS_NODIRATIME | (1 << 25) | 256);
	assert_int_equal(m->propagation, MS_UNBINDABLE);
	assert_true(m->attr_set == 0x4);         /* rnodev; rexec cleared rnoexec; rrelatime is 0 */
	assert_true(m->attr_clr == (0x8 | 0x70)); /* exec, and the atime field */
	assert_int_equal(m->lc_flags, LC_MOUNT_TMPCOPYUP);
	assert_string_equal(m->data, "uid=0");

	/* Data over one page is refused rather than truncated by the kernel. */
	char json[8000];
	int n = snprintf(json, sizeof json, "%s", "{" ROOT "," PROC ",\"mounts\":[{\"destination\":\"/a\",\"options\":[");
	for (int i = 0; i < 600; i++)
		n += snprintf(json + n, sizeof json - (size_t)n, "%s\"o%04d=x\"", i ? "," : "", i);
	snprintf(json + n, sizeof json - (size_t)n, "]}]}");
	lc_config *bad = NULL;
	kc_error err = {0};
	assert_int_equal(convert(json, 0, 0, &bad, &err), -EINVAL);
	assert_string_equal(err.msg, "mounts[0].options: filesystem data longer than 4095 bytes");
}

static void test_names(void **state) {
	assert_int_equal(lc_capability_from_name("CAP_CHOWN"), 0);
	assert_int_equal(lc_capability_from_name("CAP_SYS_ADMIN"), 21);
	assert_int_equal(lc_capability_from_name("CAP_CHECKPOINT_RESTORE"), LC_CAP_LAST);
	assert_int_equal(lc_capability_from_name("CAP_NOPE"), -1);
	assert_string_equal(lc_capability_to_name(39), "CAP_BPF");
	assert_null(lc_capability_to_name(41));
	assert_int_equal(lc_rlimit_from_name("RLIMIT_MEMLOCK"), RLIMIT_MEMLOCK);
	assert_string_equal(lc_rlimit_to_name(RLIMIT_NOFILE), "RLIMIT_NOFILE");
	assert_string_equal(lc_ns_kind_name(LC_NS_NET), "network");
	assert_string_equal(lc_ns_kind_proc_name(LC_NS_MOUNT), "mnt");
	assert_int_equal(lc_ns_kind_clone_flag(LC_NS_USER), CLONE_NEWUSER);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_fixture),      cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_shared_namespaces), cmocka_unit_test(test_process_optional),
		cmocka_unit_test(test_good_edges),        cmocka_unit_test(test_mount_options),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
