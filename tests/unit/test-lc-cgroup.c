/* The cgroup manager against fake cgroup trees in a tmpdir: layout detection (v1, hybrid, v2) from mountinfo
 * text, cgroupsPath resolution, the files and values written for full resources structs on v2, v1 and hybrid
 * (seen through the write hook, in order), the conversions, errors that name the field, file and value,
 * unified keys that try to leave the cgroup, freezer, pids, stats and the OOM watch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "libcontainer-c/cgroup-internal.h"
#include "libcontainer-c/devices-bpf.h"
#include "tests/unit/test-lc-cgroup-interp.h"

#define OK(e)                                                                      \
	do {                                                                       \
		int _r = (e);                                                      \
		if (_r < 0)                                                        \
			fail_msg("%s: %d (%s)", #e, _r, err.msg);                  \
	} while (0)

static char tmp[PATH_MAX];

/* ---- the fake tree ----------------------------------------------------------------------------------------- */

static void mkfile(const char *rel, const char *content) {
	char path[PATH_MAX];
	assert_true(format_checked(path, sizeof path, "%s/%s", tmp, rel) >= 0);
	for (char *s = path + strlen(tmp) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		(void)mkdir(path, 0755);
		*s = '/';
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, content, strlen(content)), 0);
	close(fd);
}

static char *slurp(const char *rel) {
	char path[PATH_MAX], *text = NULL;
	assert_true(format_checked(path, sizeof path, "%s/%s", tmp, rel) >= 0);
	assert_int_equal(read_file_capped(AT_FDCWD, path, 1 << 20, &text, NULL), 0);
	return text;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
	return remove(p);
}

static int setup(void **state) {
	(void)format_checked(tmp, sizeof tmp, "/tmp/test-lc-cgroup.XXXXXX");
	assert_non_null(mkdtemp(tmp));
	return 0;
}

static int teardown(void **state) {
	(void)nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

typedef struct wlog {
	char *path[1024], *value[1024];
	size_t n;
	struct bpf_insn *prog;
	size_t n_prog;
} wlog;

static void hook(void *u, const char *path, const char *value) {
	wlog *l = u;
	if (l->n < ELEMENTSOF(l->path)) {
		l->path[l->n] = strdup(path);
		l->value[l->n++] = strdup(value);
	}
}

static int bpf_hook(void *u, const void *insns, size_t n) {
	wlog *l = u;
	free(l->prog);
	l->prog = malloc(n * sizeof *l->prog);
	memcpy(l->prog, insns, n * sizeof *l->prog);
	l->n_prog = n;
	return 0;
}

static void wlog_clear(wlog *l) {
	for (size_t i = 0; i < l->n; i++) {
		free(l->path[i]);
		free(l->value[i]);
	}
	free(l->prog);
	*l = (wlog){};
}

static bool ends_with(const char *s, const char *suffix) {
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The position of the write (suffix, value) in the log, failing the test when it is missing. */
#define assert_written(l, suffix, value) assert_written_(l, suffix, value, __LINE__)
static size_t assert_written_(const wlog *l, const char *suffix, const char *value, int line) {
	for (size_t i = 0; i < l->n; i++)
		if (ends_with(l->path[i], suffix) && strcmp(l->value[i], value) == 0)
			return i;
	for (size_t i = 0; i < l->n; i++)
		print_message("  wrote `%s` to %s\n", l->value[i], l->path[i]);
	fail_msg("line %d: no write of `%s` to *%s", line, value, suffix);
	return 0;
}

static bool wrote_to(const wlog *l, const char *suffix) {
	for (size_t i = 0; i < l->n; i++)
		if (ends_with(l->path[i], suffix))
			return true;
	return false;
}

static const char *const v2_leaf_files[] = {
	"cgroup.procs",    "cgroup.freeze",   "cgroup.kill",   "memory.max",      "memory.swap.max", "memory.low",
	"memory.high",     "cpu.weight",      "cpu.max.burst", "cpu.idle",        "cpuset.cpus",     "cpuset.mems",
	"pids.max",        "io.weight",       "io.max",        "hugetlb.2MB.max", "rdma.max",
};
#define V2_CONTROLLERS "cpuset cpu io memory hugetlb pids rdma misc\n"

static lc_cgroup_layout *fake_v2(void) {
	char mi[2 * PATH_MAX];
	lc_cgroup_layout *l = NULL;
	kc_error err = {};

	mkfile("cg/cgroup.controllers", V2_CONTROLLERS);
	mkfile("cg/cgroup.subtree_control", "");
	mkfile("cg/lc/cgroup.controllers", V2_CONTROLLERS);
	mkfile("cg/lc/cgroup.subtree_control", "memory\n");
	for (size_t i = 0; i < ELEMENTSOF(v2_leaf_files); i++) {
		char rel[128];
		(void)format_checked(rel, sizeof rel, "cg/lc/ctr/%s", v2_leaf_files[i]);
		mkfile(rel, "");
	}
	mkfile("cg/lc/ctr/cgroup.controllers", V2_CONTROLLERS);
	mkfile("cg/lc/ctr/cpu.max", "max 100000\n");
	mkfile("cg/lc/ctr/cgroup.events", "populated 1\nfrozen 0\n");
	(void)format_checked(mi, sizeof mi,
			     "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
			     "30 23 0:26 / %s/cg rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
			     "rw,nsdelegate,memory_recursiveprot\n",
			     tmp);
	char root[PATH_MAX];
	(void)format_checked(root, sizeof root, "%s/cg", tmp);
	OK(lc_cgroup_layout_parse(root, mi, &l, &err));
	return l;
}

static const struct {
	const char *dir, *opts;
} v1_hier[] = {
	{ "cpu,cpuacct", "rw,cpu,cpuacct" }, { "cpuset", "rw,cpuset" },   { "memory", "rw,memory" },
	{ "devices", "rw,devices" },         { "freezer", "rw,freezer" }, { "blkio", "rw,blkio" },
	{ "pids", "rw,pids" },               { "hugetlb", "rw,hugetlb" }, { "net_cls,net_prio", "rw,net_cls,net_prio" },
	{ "rdma", "rw,rdma" },               { "systemd", "rw,xattr,release_agent=/x,name=systemd" },
};

static const char *const v1_leaf_files[] = {
	"cgroup.procs", "tasks", "cgroup.event_control", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
	"memory.soft_limit_in_bytes", "memory.kmem.tcp.limit_in_bytes", "memory.swappiness", "memory.oom_control",
	"memory.use_hierarchy", "cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.rt_period_us",
	"cpu.rt_runtime_us", "cpu.cfs_burst_us", "cpu.idle", "cpuset.cpus", "cpuset.mems", "pids.max",
	/* no blkio.weight, blkio.weight_device: this kernel's BFQ names them blkio.bfq.* */
	"blkio.bfq.weight", "blkio.bfq.weight_device", "blkio.leaf_weight", "blkio.throttle.read_bps_device",
	"blkio.throttle.write_iops_device", "hugetlb.2MB.limit_in_bytes", "net_cls.classid", "net_prio.ifpriomap",
	"rdma.max", "devices.allow", "devices.deny", "freezer.state",
};

/* with_unified: the hybrid layout of the development machines, cgroup2 at <root>/unified offering hugetlb
 * (which v1 then does not mount) and, unless with_freezer, no v1 freezer. */
static lc_cgroup_layout *fake_v1(bool with_unified, bool with_freezer) {
	char mi[16384], root[PATH_MAX];
	size_t used;
	lc_cgroup_layout *l = NULL;
	kc_error err = {};

	(void)format_checked(root, sizeof root, "%s/cg", tmp);
	used = (size_t)format_checked(mi, sizeof mi, "31 23 0:28 / %s ro,nosuid - tmpfs tmpfs ro,mode=755\n", root);
	for (size_t i = 0; i < ELEMENTSOF(v1_hier); i++) {
		if (with_unified && strcmp(v1_hier[i].dir, "hugetlb") == 0)
			continue;
		if (!with_freezer && strcmp(v1_hier[i].dir, "freezer") == 0)
			continue;
		used += (size_t)format_checked(mi + used, sizeof mi - used,
					       "%zu 31 0:%zu / %s/%s rw,nosuid,relatime shared:%zu - cgroup cgroup %s\n",
					       40 + i, 40 + i, root, v1_hier[i].dir, i, v1_hier[i].opts);
		for (size_t k = 0; k < ELEMENTSOF(v1_leaf_files); k++) {
			char rel[256];
			(void)format_checked(rel, sizeof rel, "cg/%s/lc/ctr/%s", v1_hier[i].dir, v1_leaf_files[k]);
			mkfile(rel, "");
		}
	}
	if (with_unified) {
		(void)format_checked(mi + used, sizeof mi - used,
				     "60 31 0:60 / %s/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", root);
		mkfile("cg/unified/cgroup.controllers", "hugetlb\n");
		mkfile("cg/unified/cgroup.subtree_control", "");
		mkfile("cg/unified/lc/ctr/cgroup.controllers", "hugetlb\n");
		mkfile("cg/unified/lc/ctr/cgroup.procs", "");
		mkfile("cg/unified/lc/ctr/hugetlb.2MB.max", "");
		mkfile("cg/unified/lc/ctr/cgroup.freeze", "0\n");
		mkfile("cg/unified/lc/ctr/cgroup.events", "populated 1\nfrozen 0\n");
	}
	OK(lc_cgroup_layout_parse(root, mi, &l, &err));
	return l;
}

static lc_cgroup *open_ctr(lc_cgroup_layout *l, wlog *log, unsigned flags) {
	lc_cgroup *cg = NULL;
	kc_error err = {};
	lc_cgroup_layout_set_hooks(l, hook, bpf_hook, log);
	OK(lc_cgroup_open(l, "/lc/ctr", flags, &cg, &err));
	return cg;
}

/* ---- layout ------------------------------------------------------------------------------------------------ */

static void test_layout_v2(void **state) {
	lc_cgroup_layout *l = fake_v2();
	assert_int_equal(l->mode, LC_CGROUP_V2);
	assert_int_equal(l->n_h, 1);
	assert_int_equal(l->unified, 0);
	assert_true(l->h[0].controllers & LC_CG_BIT(LC_CG_MEMORY));
	assert_true(l->h[0].controllers & LC_CG_BIT(LC_CG_IO));
	for (size_t c = 0; c < _LC_CG_MAX; c++) {
		bool v1_only = c == LC_CG_NET_CLS || c == LC_CG_NET_PRIO || c == LC_CG_PERF_EVENT;
		assert_int_equal(l->where[c], v1_only ? -1 : 0);
	}
	lc_cgroup_layout_free(l);
}

static void test_layout_v1(void **state) {
	lc_cgroup_layout *l = fake_v1(false, true);
	assert_int_equal(l->mode, LC_CGROUP_V1);
	assert_int_equal(l->n_h, ELEMENTSOF(v1_hier));
	assert_int_equal(l->unified, -1);
	/* Co-mounts share one hierarchy. */
	assert_int_equal(l->where[LC_CG_CPU], l->where[LC_CG_CPUACCT]);
	assert_int_equal(l->where[LC_CG_NET_CLS], l->where[LC_CG_NET_PRIO]);
	assert_string_equal(l->h[l->where[LC_CG_CPU]].options, "cpu,cpuacct");
	assert_true(ends_with(l->h[l->where[LC_CG_MEMORY]].mount, "/cg/memory"));
	assert_int_equal(l->where[LC_CG_MISC], -1);
	/* The named hierarchy is kept (processes join it too) but serves no controller. */
	bool named = false;
	for (size_t i = 0; i < l->n_h; i++)
		if (strcmp(l->h[i].options, "name=systemd") == 0)
			named = l->h[i].controllers == 0;
	assert_true(named);
	lc_cgroup_layout_free(l);
}

static void test_layout_hybrid(void **state) {
	lc_cgroup_layout *l = fake_v1(true, true);
	assert_int_equal(l->mode, LC_CGROUP_HYBRID);
	assert_true(l->unified >= 0);
	assert_true(ends_with(l->h[l->unified].mount, "/cg/unified"));
	assert_int_equal(l->h[l->unified].controllers, LC_CG_BIT(LC_CG_HUGETLB));
	assert_int_equal(l->where[LC_CG_HUGETLB], l->unified);
	assert_false(l->h[l->where[LC_CG_MEMORY]].v2);
	assert_false(l->h[l->where[LC_CG_FREEZER]].v2);
	assert_false(l->h[l->where[LC_CG_DEVICES]].v2);
	lc_cgroup_layout_free(l);

	/* Without a v1 freezer, cgroup2's cgroup.freeze does the job. */
	teardown(state);
	setup(state);
	l = fake_v1(true, false);
	assert_int_equal(l->where[LC_CG_FREEZER], l->unified);
	lc_cgroup_layout_free(l);
}

static void test_layout_mountinfo_quirks(void **state) {
	lc_cgroup_layout *l = NULL;
	kc_error err = {};
	/* An escaped space in the mount point; a root mounted over later hides what was below it. */
	static const char mi[] = "40 31 0:40 / /x/cg\\040root/memory rw - cgroup cgroup rw,memory\n"
				 "50 1 0:50 / /x/cg\\040root rw - cgroup2 cgroup2 rw\n"
				 "51 50 0:51 / /x/cg\\040root/sub rw - cgroup cgroup rw,pids\n"
				 "garbage line\n";
	OK(lc_cgroup_layout_parse("/x/cg root/", mi, &l, &err));
	assert_int_equal(l->mode, LC_CGROUP_V2);
	assert_int_equal(l->n_h, 1);
	assert_string_equal(l->h[0].mount, "/x/cg root");
	lc_cgroup_layout_free(l);

	assert_int_equal(lc_cgroup_layout_parse("/nowhere", mi, &l, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nowhere"));
}

static void test_layout_detect_this_host(void **state) {
	lc_cgroup_layout *l = NULL;
	kc_error err = {};
	/* Whatever this machine has, detection must make sense of it. */
	if (lc_cgroup_layout_detect(NULL, &l, &err) < 0)
		skip();
	assert_true(l->mode == LC_CGROUP_V1 || l->mode == LC_CGROUP_HYBRID || l->mode == LC_CGROUP_V2);
	assert_true(l->n_h > 0);
	print_message("  this host: %s, %zu hierarchies\n", lc_cgroup_mode_name(l->mode), l->n_h);
	lc_cgroup_layout_free(l);
}

/* ---- paths ------------------------------------------------------------------------------------------------- */

static void test_path_resolve(void **state) {
	static const struct {
		const char *in, *parent, *id, *want;
		bool systemd;
	} ok[] = {
		{ NULL, "/kata", "c1", "/kata/c1", false },
		{ "", NULL, "c1", "/c1", false },
		{ "/a//b/", NULL, "x", "/a/b", false },
		{ "a/b", "/kata/", "x", "/kata/a/b", false },
		{ "machine-x.slice:lcrun:c1", NULL, "x", "/machine.slice/machine-x.slice/lcrun-c1.scope", true },
		{ ":lcrun:c1", NULL, "x", "/system.slice/lcrun-c1.scope", true },
		{ "a-b-c.slice::n", NULL, "x", "/a.slice/a-b.slice/a-b-c.slice/n.scope", true },
		{ "-.slice:p:n", NULL, "x", "/p-n.scope", true },
		{ "user.slice:p:sub.slice", NULL, "x", "/user.slice/sub.slice", true },
	};
	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		char *p = NULL;
		bool systemd = !ok[i].systemd;
		kc_error err = {};
		OK(lc_cgroup_path_resolve(ok[i].in, ok[i].parent, ok[i].id, &p, &systemd, &err));
		assert_string_equal(p, ok[i].want);
		assert_int_equal(systemd, ok[i].systemd);
		free(p);
	}
	static const struct {
		const char *in, *id, *want;
	} bad[] = {
		{ "/a/../b", "x", "`.` and `..`" },
		{ "./a", "x", "`.` and `..`" },
		{ "/", "x", "root cgroup" },
		{ NULL, "a/b", "unusable" },
		{ "bad:p:n", "x", "expected NAME.slice" },
		{ "-a.slice:p:n", "x", "misplaced" },
		{ "a.slice:p:", "x", "slice:prefix:name" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char *p = NULL;
		kc_error err = {};
		assert_true(lc_cgroup_path_resolve(bad[i].in, NULL, bad[i].id, &p, NULL, &err) < 0);
		if (!strstr(err.msg, bad[i].want))
			fail_msg("case %zu: `%s` lacks `%s`", i, err.msg, bad[i].want);
		assert_null(p);
	}
}

/* ---- conversions ------------------------------------------------------------------------------------------- */

static void test_conversions(void **state) {
	static const uint64_t shares[][2] = {
		{ 0, 0 },     { 1, 1 },     { 2, 1 },     { 3, 2 },         { 128, 21 },        { 512, 59 },
		{ 1024, 100 }, { 2048, 174 }, { 100000, 4340 }, { 262143, 10000 }, { 262144, 10000 }, { 1 << 20, 10000 },
	};
	for (size_t i = 0; i < ELEMENTSOF(shares); i++)
		if (lc_cgroup_shares_to_weight(shares[i][0]) != shares[i][1])
			fail_msg("shares %" PRIu64 ": weight %" PRIu64 ", want %" PRIu64, shares[i][0],
				 lc_cgroup_shares_to_weight(shares[i][0]), shares[i][1]);
	assert_int_equal(lc_cgroup_blkio_weight_to_io_weight(10), 1);
	assert_int_equal(lc_cgroup_blkio_weight_to_io_weight(500), 4950);
	assert_int_equal(lc_cgroup_blkio_weight_to_io_weight(1000), 10000);

	int64_t v;
	assert_int_equal(lc_cgroup_swap_to_v2(true, 1 << 30, 2LL << 30, &v), 0);
	assert_int_equal(v, 1 << 30);
	assert_int_equal(lc_cgroup_swap_to_v2(true, 1 << 30, 1 << 30, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(lc_cgroup_swap_to_v2(false, 0, -1, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(lc_cgroup_swap_to_v2(true, 1 << 30, 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(lc_cgroup_swap_to_v2(false, 0, 1 << 30, &v), -EINVAL);
	assert_int_equal(lc_cgroup_swap_to_v2(true, 2 << 20, 1 << 20, &v), -EINVAL);
	assert_int_equal(lc_cgroup_swap_to_v2(true, -1, 1 << 20, &v), -EINVAL);
}

/* ---- a full resources struct ------------------------------------------------------------------------------- */

static lc_spec_device_cgroup devices[] = {
	{ .allow = false, .access = "rwm" },
	{ .allow = true, .type = "c", .has_major = true, .major = 1, .has_minor = true, .minor = 3, .access = "rwm" },
	{ .allow = true, .type = "b", .has_major = true, .major = 8, .access = "r" },
};
static lc_spec_memory memory = {
	.has_limit = true, .limit = 1LL << 30, .has_reservation = true, .reservation = 512LL << 20,
	.has_swap = true, .swap = 2LL << 30,
};
static lc_spec_cpu cpu = {
	.has_shares = true, .shares = 1024, .has_quota = true, .quota = 50000, .has_period = true, .period = 100000,
	.has_burst = true, .burst = 1000, .cpus = "0-1", .mems = "0",
};
static lc_spec_pids pids = { .has_limit = true, .limit = 100 };
static lc_spec_weight_device wdev[] = { { .major = 8, .minor = 0, .has_weight = true, .weight = 300 } };
static lc_spec_throttle_device rbps[] = { { 8, 0, 1048576 } }, wiops[] = { { 8, 16, 0 } };
static lc_spec_hugepage_limit huge[] = { { "2MB", 4194304 } };
static lc_spec_rdma rdma[] = { { "mlx5_0", true, true, 3, 100 } };
static lc_kv unified[] = { { "memory.high", "900000000" }, { "io.max", "8:16 rbps=1\n8:32 wbps=2\n" } };

static lc_spec_blockio blockio(void) {
	lc_spec_blockio b = { .has_weight = true, .weight = 500, .weight_devices = wdev, .n_weight_devices = 1 };
	b.throttle[LC_THROTTLE_READ_BPS] = (lc_spec_throttle_list){ rbps, 1 };
	b.throttle[LC_THROTTLE_WRITE_IOPS] = (lc_spec_throttle_list){ wiops, 1 };
	return b;
}

static void test_apply_v2_full(void **state) {
	lc_cgroup_layout *l = fake_v2();
	wlog log = {};
	kc_error err = {};
	lc_spec_blockio b = blockio();
	lc_spec_resources res = {
		.devices = devices, .n_devices = ELEMENTSOF(devices), .memory = &memory, .cpu = &cpu, .pids = &pids,
		.blockio = &b, .hugepage_limits = huge, .n_hugepage_limits = 1, .rdma = rdma, .n_rdma = 1,
		.unified = unified, .n_unified = ELEMENTSOF(unified),
	};
	lc_cgroup *cg = open_ctr(l, &log, LC_CGROUP_CREATE | LC_CGROUP_DEFAULT_DEVICES);

	/* Creating enabled the root's controllers in the ancestors' subtree_control (lc had memory already). */
	assert_written(&log, "/cg/cgroup.subtree_control", "+memory");
	assert_written(&log, "/cg/lc/cgroup.subtree_control", "+cpu");
	for (size_t i = 0; i < log.n; i++)
		if (ends_with(log.path[i], "/cg/lc/cgroup.subtree_control"))
			assert_string_not_equal(log.value[i], "+memory");
	wlog_clear(&log);

	OK(lc_cgroup_apply(cg, &res, false, &err));
	assert_written(&log, "/lc/ctr/memory.max", "1073741824");
	assert_written(&log, "/lc/ctr/memory.swap.max", "1073741824"); /* memory+swap 2G minus memory 1G */
	assert_written(&log, "/lc/ctr/memory.low", "536870912");
	assert_written(&log, "/lc/ctr/cpu.weight", "100");
	assert_written(&log, "/lc/ctr/cpu.max", "50000 100000");
	assert_written(&log, "/lc/ctr/cpu.max.burst", "1000");
	assert_written(&log, "/lc/ctr/cpuset.cpus", "0-1");
	assert_written(&log, "/lc/ctr/cpuset.mems", "0");
	assert_written(&log, "/lc/ctr/pids.max", "100");
	/* No io.bfq.weight in this tree: io.weight, converted. */
	assert_written(&log, "/lc/ctr/io.weight", "4950");
	assert_written(&log, "/lc/ctr/io.weight", "8:0 2930");
	assert_written(&log, "/lc/ctr/io.max", "8:0 rbps=1048576");
	assert_written(&log, "/lc/ctr/io.max", "8:16 wiops=max");
	assert_written(&log, "/lc/ctr/hugetlb.2MB.max", "4194304");
	assert_written(&log, "/lc/ctr/rdma.max", "mlx5_0 hca_handle=3 hca_object=100");
	/* unified: last, one write per line. */
	size_t high = assert_written(&log, "/lc/ctr/memory.high", "900000000");
	size_t l1 = assert_written(&log, "/lc/ctr/io.max", "8:16 rbps=1");
	size_t l2 = assert_written(&log, "/lc/ctr/io.max", "8:32 wbps=2");
	assert_true(high > assert_written(&log, "/lc/ctr/pids.max", "100") && l1 < l2);
	/* The file holds the last value written, as the kernel would have it. */
	char *t = slurp("cg/lc/ctr/cpu.max");
	assert_string_equal(t, "50000 100000");
	free(t);

	/* Devices went to the BPF program: deny all, c 1:3, b 8:* r, then the defaults. */
	assert_non_null(log.prog);
	assert_true(interp_all_reachable(log.prog, log.n_prog));
	const char *why = NULL;
	assert_int_equal(interp_dev_prog(log.prog, log.n_prog, BPF_DEVCG_DEV_CHAR, LC_DEV_ACC_READ, 1, 3, &why), 1);
	assert_int_equal(interp_dev_prog(log.prog, log.n_prog, BPF_DEVCG_DEV_BLOCK, LC_DEV_ACC_READ, 8, 1, &why), 1);
	assert_int_equal(interp_dev_prog(log.prog, log.n_prog, BPF_DEVCG_DEV_BLOCK, LC_DEV_ACC_WRITE, 8, 1, &why), 0);
	assert_int_equal(interp_dev_prog(log.prog, log.n_prog, BPF_DEVCG_DEV_CHAR, LC_DEV_ACC_READ, 4, 1, &why), 0);

	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_apply_v2_update_and_special_values(void **state) {
	lc_cgroup_layout *l = fake_v2();
	wlog log = {};
	kc_error err = {};
	lc_cgroup *cg = open_ctr(l, &log, 0);
	mkfile("cg/lc/ctr/cpu.max", "20000 50000\n");
	wlog_clear(&log);
	lc_cgroup_layout_set_hooks(l, hook, bpf_hook, &log);

	/* Update: only the quota, the period stays; no devices: the policy stays (no program). pids 0 is "max";
	 * memory -1 is "max" and takes swap with it; shares 0 (Docker's unset) writes nothing. */
	lc_spec_cpu c = { .has_quota = true, .quota = 30000, .has_shares = true, .shares = 0 };
	lc_spec_pids p = { .has_limit = true, .limit = 0 };
	lc_spec_memory m = { .has_limit = true, .limit = -1 };
	lc_spec_resources res = { .cpu = &c, .pids = &p, .memory = &m };
	OK(lc_cgroup_apply(cg, &res, true, &err));
	assert_written(&log, "/lc/ctr/cpu.max", "30000 50000");
	assert_written(&log, "/lc/ctr/pids.max", "max");
	assert_written(&log, "/lc/ctr/memory.max", "max");
	assert_written(&log, "/lc/ctr/memory.swap.max", "max");
	assert_false(wrote_to(&log, "/cpu.weight"));
	assert_null(log.prog);

	/* quota -1 alone: unlimited, keeping the period. */
	wlog_clear(&log);
	lc_cgroup_layout_set_hooks(l, hook, bpf_hook, &log);
	c = (lc_spec_cpu){ .has_quota = true, .quota = -1 };
	OK(lc_cgroup_apply(cg, &res, true, &err));
	assert_written(&log, "/lc/ctr/cpu.max", "max 50000"); /* the period the file holds */
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_apply_v2_rejects_v1_only(void **state) {
	lc_cgroup_layout *l = fake_v2();
	wlog log = {};
	lc_cgroup *cg = open_ctr(l, &log, 0);
	lc_spec_network net = { .has_class_id = true, .class_id = 0x100001 };
	lc_spec_memory swappiness = { .has_swappiness = true, .swappiness = 10 };
	lc_spec_cpu rt = { .has_realtime_runtime = true, .realtime_runtime = 1000 };
	lc_spec_blockio leaf = { .has_leaf_weight = true, .leaf_weight = 10 };
	lc_spec_memory swap_only = { .has_swap = true, .swap = 1 << 30 };
	const struct {
		lc_spec_resources res;
		const char *want;
	} cases[] = {
		{ { .network = &net }, "linux.resources.network.classID: no net_cls controller" },
		{ { .memory = &swappiness }, "linux.resources.memory.swappiness: cgroup v1 only" },
		{ { .cpu = &rt }, "realtimeRuntime" },
		{ { .blockio = &leaf }, "linux.resources.blockIO.leafWeight" },
		{ { .memory = &swap_only }, "linux.resources.memory.swap: 1073741824 with limit (absent)" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		kc_error err = {};
		assert_true(lc_cgroup_apply(cg, &cases[i].res, true, &err) < 0);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: `%s` lacks `%s`", i, err.msg, cases[i].want);
	}
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_errors_name_field_file_value(void **state) {
	lc_cgroup_layout *l = fake_v2();
	wlog log = {};
	kc_error err = {};
	char path[PATH_MAX];
	lc_cgroup *cg = open_ctr(l, &log, 0);

	/* A directory where the file should be: the write fails (EISDIR) and says where and what. */
	(void)format_checked(path, sizeof path, "%s/cg/lc/ctr/pids.max", tmp);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	lc_spec_pids p = { .has_limit = true, .limit = 42 };
	lc_spec_resources res = { .pids = &p };
	assert_int_equal(lc_cgroup_apply(cg, &res, true, &err), -EISDIR);
	assert_non_null(strstr(err.msg, "linux.resources.pids.limit: write `42` to "));
	assert_non_null(strstr(err.msg, path));

	/* A controller not enabled for the cgroup: the missing file comes with that hint. */
	mkfile("cg/lc/ctr/cgroup.controllers", "cpu io pids\n");
	(void)format_checked(path, sizeof path, "%s/cg/lc/ctr/memory.max", tmp);
	assert_int_equal(unlink(path), 0);
	lc_spec_memory m = { .has_limit = true, .limit = 4096 };
	res = (lc_spec_resources){ .memory = &m };
	assert_int_equal(lc_cgroup_apply(cg, &res, true, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "write `4096` to "));
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "controller `memory` is not enabled"));

	/* Joining a cgroup that does not exist names it. */
	lc_cgroup *missing = NULL;
	assert_int_equal(lc_cgroup_open(l, "/lc/nope", 0, &missing, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/cg/lc/nope"));
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_unified_key_escape_rejected(void **state) {
	lc_cgroup_layout *l = fake_v2();
	wlog log = {};
	lc_cgroup *cg = open_ctr(l, &log, 0);
	static const char *const keys[] = {
		"../memory.max", "memory.max/../../x", "..", ".", "", "/etc/passwd", "cgroup.procs",
		"cgroup.subtree_control", "cgroup.kill", "nodot",
	};
	wlog_clear(&log);
	lc_cgroup_layout_set_hooks(l, hook, bpf_hook, &log);
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		lc_kv kv = { (char *)keys[i], "1" };
		lc_spec_resources res = { .unified = &kv, .n_unified = 1 };
		kc_error err = {};
		assert_int_equal(lc_cgroup_apply(cg, &res, true, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "linux.resources.unified: key"));
	}
	assert_int_equal(log.n, 0);
	/* The two core limits a container may set itself are fine. */
	mkfile("cg/lc/ctr/cgroup.max.depth", "max\n");
	lc_kv ok = { "cgroup.max.depth", "3" };
	lc_spec_resources res = { .unified = &ok, .n_unified = 1 };
	kc_error err = {};
	OK(lc_cgroup_apply(cg, &res, true, &err));
	assert_written(&log, "/lc/ctr/cgroup.max.depth", "3");
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_apply_v1_full(void **state) {
	lc_cgroup_layout *l = fake_v1(false, true);
	wlog log = {};
	kc_error err = {};
	lc_spec_blockio b = blockio();
	lc_spec_memory m = memory;
	m.has_swappiness = true, m.swappiness = 60;
	m.has_disable_oom_killer = true, m.disable_oom_killer = true;
	m.has_kernel_tcp = true, m.kernel_tcp = 1 << 20;
	m.has_kernel = true, m.kernel = 1 << 20; /* ignored */
	lc_spec_cpu c = cpu;
	c.has_shares = true, c.shares = 512;
	c.has_realtime_period = true, c.realtime_period = 1000000;
	c.has_realtime_runtime = true, c.realtime_runtime = 950000;
	lc_spec_interface_priority prio[] = { { "eth0", 5 } };
	lc_spec_network net = { .has_class_id = true, .class_id = 0x100001, .priorities = prio, .n_priorities = 1 };
	lc_spec_resources res = {
		.devices = devices, .n_devices = ELEMENTSOF(devices), .memory = &m, .cpu = &c, .pids = &pids,
		.blockio = &b, .hugepage_limits = huge, .n_hugepage_limits = 1, .network = &net, .rdma = rdma,
		.n_rdma = 1,
	};
	lc_cgroup *cg = open_ctr(l, &log, 0);

	OK(lc_cgroup_apply(cg, &res, false, &err));
	assert_written(&log, "memory/lc/ctr/memory.limit_in_bytes", "1073741824");
	assert_written(&log, "memory/lc/ctr/memory.memsw.limit_in_bytes", "2147483648"); /* memory+swap as is */
	assert_written(&log, "memory/lc/ctr/memory.soft_limit_in_bytes", "536870912");
	assert_written(&log, "memory/lc/ctr/memory.swappiness", "60");
	assert_written(&log, "memory/lc/ctr/memory.oom_control", "1");
	assert_written(&log, "memory/lc/ctr/memory.kmem.tcp.limit_in_bytes", "1048576");
	assert_false(wrote_to(&log, "memory.kmem.limit_in_bytes"));
	assert_written(&log, "cpu,cpuacct/lc/ctr/cpu.shares", "512");
	assert_written(&log, "cpu,cpuacct/lc/ctr/cpu.cfs_period_us", "100000");
	assert_written(&log, "cpu,cpuacct/lc/ctr/cpu.cfs_quota_us", "50000");
	size_t rp = assert_written(&log, "cpu,cpuacct/lc/ctr/cpu.rt_period_us", "1000000");
	size_t rr = assert_written(&log, "cpu,cpuacct/lc/ctr/cpu.rt_runtime_us", "950000");
	assert_true(rp < rr);
	assert_written(&log, "cpu,cpuacct/lc/ctr/cpu.cfs_burst_us", "1000");
	assert_written(&log, "cpuset/lc/ctr/cpuset.cpus", "0-1");
	assert_written(&log, "cpuset/lc/ctr/cpuset.mems", "0");
	assert_written(&log, "pids/lc/ctr/pids.max", "100");
	assert_written(&log, "blkio/lc/ctr/blkio.bfq.weight", "500");
	assert_written(&log, "blkio/lc/ctr/blkio.bfq.weight_device", "8:0 300");
	assert_written(&log, "blkio/lc/ctr/blkio.throttle.read_bps_device", "8:0 1048576");
	assert_written(&log, "blkio/lc/ctr/blkio.throttle.write_iops_device", "8:16 0");
	assert_written(&log, "hugetlb/lc/ctr/hugetlb.2MB.limit_in_bytes", "4194304");
	assert_written(&log, "net_cls,net_prio/lc/ctr/net_cls.classid", "1048577");
	assert_written(&log, "net_cls,net_prio/lc/ctr/net_prio.ifpriomap", "eth0 5");
	assert_written(&log, "rdma/lc/ctr/rdma.max", "mlx5_0 hca_handle=3 hca_object=100");
	/* Devices: deny everything first, then the rules in order. */
	size_t d0 = assert_written(&log, "devices/lc/ctr/devices.deny", "a");
	size_t d1 = assert_written(&log, "devices/lc/ctr/devices.allow", "c 1:3 rwm");
	size_t d2 = assert_written(&log, "devices/lc/ctr/devices.allow", "b 8:* r");
	assert_true(d0 < d1 && d1 < d2);
	assert_int_equal(strcmp(log.value[d0 + 1], "a"), 0); /* the spec's own "deny all" */
	assert_true(d0 < assert_written(&log, "memory/lc/ctr/memory.limit_in_bytes", "1073741824"));

	/* unified has no place on v1. */
	lc_spec_resources u = { .unified = unified, .n_unified = 1 };
	assert_int_equal(lc_cgroup_apply(cg, &u, true, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "linux.resources.unified: needs cgroup v2"));
	lc_cgroup_free(cg);
	wlog_clear(&log);

	/* Rootless: the limits, and no device policy at all. */
	cg = open_ctr(l, &log, LC_CGROUP_NO_DEVICES);
	OK(lc_cgroup_apply(cg, &res, false, &err));
	assert_written(&log, "memory/lc/ctr/memory.limit_in_bytes", "1073741824");
	assert_false(wrote_to(&log, "devices.deny"));
	assert_false(wrote_to(&log, "devices.allow"));
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_apply_hybrid_mixes_versions(void **state) {
	lc_cgroup_layout *l = fake_v1(true, true);
	wlog log = {};
	kc_error err = {};
	lc_spec_resources res = { .memory = &memory, .hugepage_limits = huge, .n_hugepage_limits = 1 };
	lc_cgroup *cg = open_ctr(l, &log, 0);
	assert_true(lc_cgroup_unified_fd(cg) >= 0);
	OK(lc_cgroup_apply(cg, &res, true, &err));
	assert_written(&log, "cg/memory/lc/ctr/memory.limit_in_bytes", "1073741824");
	assert_written(&log, "cg/unified/lc/ctr/hugetlb.2MB.max", "4194304");

	/* Entering writes the pid to every hierarchy, cgroup2 included. */
	wlog_clear(&log);
	lc_cgroup_layout_set_hooks(l, hook, bpf_hook, &log);
	OK(lc_cgroup_enter(cg, 4242, &err));
	assert_int_equal(log.n, l->n_h);
	assert_written(&log, "cg/unified/lc/ctr/cgroup.procs", "4242");
	assert_written(&log, "cg/systemd/lc/ctr/cgroup.procs", "4242");

	/* A child entering itself moves one thread ("0" to v1 tasks, never cgroup.procs there), and on cgroup2
	 * writes cgroup.procs only when CLONE_INTO_CGROUP did not place it. */
	wlog_clear(&log);
	OK(lc_cgroup_enter_self(cg, false, &err));
	assert_int_equal(log.n, l->n_h);
	assert_written(&log, "cg/systemd/lc/ctr/tasks", "0");
	assert_written(&log, "cg/memory/lc/ctr/tasks", "0");
	assert_written(&log, "cg/unified/lc/ctr/cgroup.procs", "0");
	wlog_clear(&log);
	OK(lc_cgroup_enter_self(cg, true, &err));
	assert_int_equal(log.n, l->n_h - 1);
	for (size_t i = 0; i < log.n; i++)
		assert_null(strstr(log.path[i], "unified"));
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_create_v1_and_destroy_what_was_made(void **state) {
	lc_cgroup_layout *l = fake_v1(false, true);
	wlog log = {};
	kc_error err = {};
	lc_cgroup *cg = NULL;
	char path[PATH_MAX];
	struct stat st;

	/* The cpuset parent has cpus and mems; a new child gets them (v1 starts it empty). */
	mkfile("cg/cpuset/lc/cpuset.cpus", "0-3\n");
	mkfile("cg/cpuset/lc/cpuset.mems", "0\n");
	lc_cgroup_layout_set_hooks(l, hook, bpf_hook, &log);
	OK(lc_cgroup_open(l, "/lc/new/deeper", LC_CGROUP_CREATE, &cg, &err));
	(void)format_checked(path, sizeof path, "%s/cg/pids/lc/new/deeper", tmp);
	assert_int_equal(stat(path, &st), 0);
	OK(lc_cgroup_destroy(cg, 0, &err));
	assert_int_equal(stat(path, &st), -1);
	(void)format_checked(path, sizeof path, "%s/cg/pids/lc/new", tmp);
	assert_int_equal(stat(path, &st), -1); /* we made it, so it goes */
	(void)format_checked(path, sizeof path, "%s/cg/pids/lc", tmp);
	assert_int_equal(stat(path, &st), 0); /* it was there before */
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

/* ---- freezer, pids ----------------------------------------------------------------------------------------- */

static void test_freeze_v2(void **state) {
	lc_cgroup_layout *l = fake_v2();
	wlog log = {};
	kc_error err = {};
	lc_freezer_state st;
	lc_cgroup *cg = open_ctr(l, &log, 0);

	mkfile("cg/lc/ctr/cgroup.events", "populated 1\nfrozen 1\n");
	OK(lc_cgroup_freeze(cg, true, 100, &err));
	assert_written(&log, "/lc/ctr/cgroup.freeze", "1");
	OK(lc_cgroup_freezer_state(cg, &st, &err));
	assert_int_equal(st, LC_FREEZER_FROZEN);

	/* Never reports frozen: undone, and the error says so. */
	mkfile("cg/lc/ctr/cgroup.events", "populated 1\nfrozen 0\n");
	wlog_clear(&log);
	lc_cgroup_layout_set_hooks(l, hook, bpf_hook, &log);
	assert_int_equal(lc_cgroup_freeze(cg, true, 30, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "not frozen after 30 ms"));
	size_t on = assert_written(&log, "/lc/ctr/cgroup.freeze", "1");
	assert_true(on < assert_written(&log, "/lc/ctr/cgroup.freeze", "0"));
	OK(lc_cgroup_freezer_state(cg, &st, &err));
	assert_int_equal(st, LC_FREEZER_THAWED);
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_freeze_v1_and_pids(void **state) {
	lc_cgroup_layout *l = fake_v1(true, true);
	wlog log = {};
	kc_error err = {};
	lc_freezer_state st;
	lc_cgroup *cg = open_ctr(l, &log, 0);
	pid_t *p = NULL;
	size_t n = 0;

	/* A fake freezer.state reads back what was written, which is what a quick kernel freeze looks like. */
	OK(lc_cgroup_freeze(cg, true, 100, &err));
	assert_written(&log, "freezer/lc/ctr/freezer.state", "FROZEN");
	OK(lc_cgroup_freezer_state(cg, &st, &err));
	assert_int_equal(st, LC_FREEZER_FROZEN);
	OK(lc_cgroup_freeze(cg, false, 100, &err));
	assert_written(&log, "freezer/lc/ctr/freezer.state", "THAWED");

	/* pids come from the v1 freezer hierarchy, descendants included when asked. */
	mkfile("cg/freezer/lc/ctr/cgroup.procs", "10\n11\n");
	mkfile("cg/freezer/lc/ctr/sub/cgroup.procs", "12\n");
	mkfile("cg/freezer/lc/ctr/sub/deeper/cgroup.procs", "13\n");
	mkfile("cg/unified/lc/ctr/cgroup.procs", "99\n");
	OK(lc_cgroup_pids(cg, false, &p, &n, &err));
	assert_int_equal(n, 2);
	free(p);
	OK(lc_cgroup_pids(cg, true, &p, &n, &err));
	assert_int_equal(n, 4);
	assert_int_equal(p[0] + p[1] + p[2] + p[3], 10 + 11 + 12 + 13);
	free(p);
	mkfile("cg/freezer/lc/ctr/cgroup.procs", "10\nbogus\n");
	assert_int_equal(lc_cgroup_pids(cg, false, &p, &n, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "freezer/lc/ctr"));
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

/* ---- stats ------------------------------------------------------------------------------------------------- */

static void test_stats_v2(void **state) {
	lc_cgroup_layout *l = fake_v2();
	wlog log = {};
	kc_error err = {};
	lc_cgroup_stats s;
	lc_cgroup *cg = open_ctr(l, &log, 0);

	mkfile("cg/lc/ctr/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\n"
				     "nr_throttled 2\nthrottled_usec 7\n");
	mkfile("cg/lc/ctr/memory.current", "4096\n");
	mkfile("cg/lc/ctr/memory.peak", "8192\n");
	mkfile("cg/lc/ctr/memory.max", "max\n");
	mkfile("cg/lc/ctr/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
	mkfile("cg/lc/ctr/memory.stat", "anon 100\nfile 200\nkernel 7\n");
	mkfile("cg/lc/ctr/memory.swap.current", "10\n");
	mkfile("cg/lc/ctr/memory.swap.max", "1000\n");
	mkfile("cg/lc/ctr/pids.current", "4\n");
	mkfile("cg/lc/ctr/pids.max", "max\n");
	mkfile("cg/lc/ctr/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
	mkfile("cg/lc/ctr/hugetlb.2MB.current", "2097152\n");
	mkfile("cg/lc/ctr/hugetlb.2MB.events", "max 5\n");
	mkfile("cg/lc/ctr/hugetlb.2MB.rsvd.max", "max\n");
	OK(lc_cgroup_stats_read(cg, &s, &err));
	assert_int_equal(s.cpu.total, 1500000);
	assert_int_equal(s.cpu.user, 1000000);
	assert_int_equal(s.cpu.kernel, 500000);
	assert_int_equal(s.cpu.periods, 10);
	assert_int_equal(s.cpu.throttled_periods, 2);
	assert_int_equal(s.cpu.throttled_time, 7000);
	assert_null(s.cpu.percpu);
	assert_int_equal(s.memory.usage.usage, 4096);
	assert_int_equal(s.memory.usage.max_usage, 8192);
	assert_true(s.memory.usage.limit == UINT64_MAX);
	assert_int_equal(s.memory.usage.failcnt, 3);
	assert_int_equal(s.memory.cache, 200);
	assert_int_equal(s.memory.swap.usage, 4106);
	assert_true(s.memory.swap.limit == UINT64_MAX);
	assert_int_equal(s.memory.n_stats, 3);
	assert_string_equal(s.memory.stats[2].name, "kernel");
	assert_int_equal(s.pids.current, 4);
	assert_true(s.pids.limit == UINT64_MAX);
	assert_int_equal(s.blkio.service_bytes.n, 3);
	assert_string_equal(s.blkio.service_bytes.v[1].op, "Write");
	assert_int_equal(s.blkio.service_bytes.v[1].value, 200);
	assert_int_equal(s.blkio.serviced.v[0].value, 1);
	assert_int_equal(s.n_hugetlb, 1);
	assert_string_equal(s.hugetlb[0].page_size, "2MB");
	assert_int_equal(s.hugetlb[0].usage, 2097152);
	assert_int_equal(s.hugetlb[0].failcnt, 5);
	lc_cgroup_stats_clear(&s);
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_stats_v1(void **state) {
	lc_cgroup_layout *l = fake_v1(false, true);
	wlog log = {};
	kc_error err = {};
	lc_cgroup_stats s;
	lc_cgroup *cg = open_ctr(l, &log, 0);

	mkfile("cg/cpu,cpuacct/lc/ctr/cpuacct.usage", "3000\n");
	mkfile("cg/cpu,cpuacct/lc/ctr/cpuacct.usage_percpu", "1000 2000 \n");
	mkfile("cg/cpu,cpuacct/lc/ctr/cpuacct.usage_user", "2500\n");
	mkfile("cg/cpu,cpuacct/lc/ctr/cpuacct.usage_sys", "500\n");
	mkfile("cg/cpu,cpuacct/lc/ctr/cpu.stat", "nr_periods 4\nnr_throttled 1\nthrottled_time 99\n");
	mkfile("cg/memory/lc/ctr/memory.usage_in_bytes", "100\n");
	mkfile("cg/memory/lc/ctr/memory.max_usage_in_bytes", "150\n");
	mkfile("cg/memory/lc/ctr/memory.failcnt", "2\n");
	mkfile("cg/memory/lc/ctr/memory.limit_in_bytes", "9223372036854771712\n");
	mkfile("cg/memory/lc/ctr/memory.memsw.usage_in_bytes", "120\n");
	mkfile("cg/memory/lc/ctr/memory.memsw.limit_in_bytes", "9223372036854771712\n");
	mkfile("cg/memory/lc/ctr/memory.use_hierarchy", "1\n");
	mkfile("cg/memory/lc/ctr/memory.stat", "cache 40\nrss 60\ntotal_cache 45\n");
	mkfile("cg/pids/lc/ctr/pids.current", "3\n");
	mkfile("cg/pids/lc/ctr/pids.max", "64\n");
	mkfile("cg/blkio/lc/ctr/blkio.throttle.io_service_bytes_recursive",
	       "8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 30\nTotal 30\n");
	mkfile("cg/blkio/lc/ctr/blkio.throttle.io_serviced_recursive", "8:0 Read 1\nTotal 1\n");
	mkfile("cg/hugetlb/lc/ctr/hugetlb.2MB.usage_in_bytes", "0\n");
	mkfile("cg/hugetlb/lc/ctr/hugetlb.2MB.max_usage_in_bytes", "2097152\n");
	mkfile("cg/hugetlb/lc/ctr/hugetlb.2MB.failcnt", "1\n");
	OK(lc_cgroup_stats_read(cg, &s, &err));
	assert_int_equal(s.cpu.total, 3000);
	assert_int_equal(s.cpu.user, 2500);
	assert_int_equal(s.cpu.kernel, 500);
	assert_int_equal(s.cpu.n_percpu, 2);
	assert_int_equal(s.cpu.percpu[1], 2000);
	assert_int_equal(s.cpu.throttled_time, 99);
	assert_int_equal(s.memory.usage.usage, 100);
	assert_int_equal(s.memory.usage.max_usage, 150);
	assert_int_equal(s.memory.usage.failcnt, 2);
	assert_true(s.memory.usage.limit == 9223372036854771712ULL);
	assert_int_equal(s.memory.swap.usage, 120);
	assert_int_equal(s.memory.cache, 45);
	assert_true(s.memory.use_hierarchy);
	assert_int_equal(s.pids.current, 3);
	assert_int_equal(s.pids.limit, 64);
	assert_int_equal(s.blkio.service_bytes.n, 6); /* the device-less Total is not carried */
	assert_int_equal(s.blkio.serviced.n, 1);
	assert_int_equal(s.n_hugetlb, 1);
	assert_int_equal(s.hugetlb[0].max_usage, 2097152);
	lc_cgroup_stats_clear(&s);
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

/* ---- OOM --------------------------------------------------------------------------------------------------- */

static void test_oom_watch_v2(void **state) {
	lc_cgroup_layout *l = fake_v2();
	wlog log = {};
	kc_error err = {};
	lc_cgroup_oom *w = NULL;
	uint64_t count, fresh;
	lc_cgroup *cg = open_ctr(l, &log, 0);

	mkfile("cg/lc/ctr/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
	OK(lc_cgroup_oom_watch(cg, &w, &err));
	struct pollfd p = { .fd = lc_cgroup_oom_fd(w), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 0);
	/* The kernel rewrites memory.events in place; here we do, which inotify sees the same way. */
	char path[PATH_MAX];
	(void)format_checked(path, sizeof path, "%s/cg/lc/ctr/memory.events", tmp);
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_int_equal(write_all(fd, "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n", 35), 0);
	close(fd);
	assert_int_equal(poll(&p, 1, 1000), 1);
	OK(lc_cgroup_oom_read(w, &count, &fresh, &err));
	assert_int_equal(count, 2);
	assert_int_equal(fresh, 2);
	OK(lc_cgroup_oom_read(w, &count, &fresh, &err));
	assert_int_equal(fresh, 0);
	assert_int_equal(poll(&p, 1, 0), 0);
	/* The cgroup goes away: the watch says so. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(lc_cgroup_oom_read(w, &count, &fresh, &err), -ENOENT);
	lc_cgroup_oom_free(w);
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

static void test_oom_watch_v1(void **state) {
	lc_cgroup_layout *l = fake_v1(false, true);
	wlog log = {};
	kc_error err = {};
	lc_cgroup_oom *w = NULL;
	uint64_t count, fresh;
	lc_cgroup *cg = open_ctr(l, &log, 0);

	mkfile("cg/memory/lc/ctr/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n");
	OK(lc_cgroup_oom_watch(cg, &w, &err));
	/* Registered: "<eventfd> <oom_control fd>" to cgroup.event_control. */
	bool registered = false;
	for (size_t i = 0; i < log.n; i++)
		if (ends_with(log.path[i], "memory/lc/ctr/cgroup.event_control")) {
			int a, b;
			registered = sscanf(log.value[i], "%d %d", &a, &b) == 2 && a == lc_cgroup_oom_fd(w);
		}
	assert_true(registered);
	OK(lc_cgroup_oom_read(w, &count, &fresh, &err));
	assert_int_equal(count, 5);
	assert_int_equal(fresh, 0);
	mkfile("cg/memory/lc/ctr/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 6\n");
	OK(lc_cgroup_oom_read(w, &count, &fresh, &err));
	assert_int_equal(count, 6);
	assert_int_equal(fresh, 1);
	lc_cgroup_oom_free(w);
	lc_cgroup_free(cg);
	wlog_clear(&log);
	lc_cgroup_layout_free(l);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layout_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layout_hybrid, setup, teardown),
		cmocka_unit_test(test_layout_mountinfo_quirks),
		cmocka_unit_test(test_layout_detect_this_host),
		cmocka_unit_test(test_path_resolve),
		cmocka_unit_test(test_conversions),
		cmocka_unit_test_setup_teardown(test_apply_v2_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_v2_update_and_special_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_v2_rejects_v1_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_name_field_file_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unified_key_escape_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_v1_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_hybrid_mixes_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_v1_and_destroy_what_was_made, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_v1_and_pids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_watch_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_watch_v1, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
