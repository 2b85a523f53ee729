/* The cgroup manager on this machine's real cgroup tree (as root): create a test-unique cgroup, apply limits
 * and read them back, move a sleeping child in, freeze and thaw it, stats, kill all, an OOM kill seen by the
 * watch, a BPF device program on cgroup2, and destroy, asserting that nothing is left behind. Run by
 * test-lc-cgroup.sh; prints cmocka-style case lines (tests/harness.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/cgroup-internal.h"
#include "libcontainer-c/devices-bpf.h"
#include "tests/harness.h"

static lc_cgroup_layout *layout;
static lc_cgroup *cg;
static char path[128];
static pid_t sleeper = -1;
static kc_error err;
static char *root_subtree; /* cgroup2 root's cgroup.subtree_control before the run, restored after it */

#define ASSERT_LC(e)                                                                     \
	do {                                                                             \
		int _r = (e);                                                            \
		if (_r < 0)                                                              \
			TH_FAIL("%s failed: %d (%s)", #e, _r, err.msg);                   \
	} while (0)

/* A child that waits for a byte on fd, then runs fn and exits with its result. */
static pid_t spawn(int *ret_go, int (*fn)(void)) {
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(100);
		_exit(fn());
	}
	close(p[0]);
	*ret_go = p[1];
	return pid;
}

static void go(int fd) {
	(void)!write(fd, "x", 1);
	close(fd);
}

static int sleep_forever(void) {
	for (;;)
		pause();
	return 0;
}

static char *read_cg_file(int controller_or_unified, const char *file) {
	char p[PATH_MAX];
	char *text = NULL;
	int h = controller_or_unified;
	if (read_file_capped(AT_FDCWD, lc_cg_fullpath(cg, h, file, p), 1 << 16, &text, NULL) < 0)
		return NULL;
	text[strcspn(text, "\n")] = '\0';
	return text;
}

static void assert_file(lc_cgroup_controller c, const char *file, const char *want) {
	int h = layout->where[c];
	if (h < 0)
		return;
	_cleanup_free_ char *t = read_cg_file(h, file);
	if (!t || strcmp(t, want) != 0)
		TH_FAIL("%s: `%s`, want `%s`", file, t ? t : "(unreadable)", want);
}

static bool in_cgroup(pid_t pid, const char *line_prefix) {
	char p[64], want[256];
	_cleanup_free_ char *text = NULL;
	(void)format_checked(p, sizeof p, "/proc/%d/cgroup", (int)pid);
	(void)format_checked(want, sizeof want, "%s%s\n", line_prefix, path);
	return read_file_capped(AT_FDCWD, p, 1 << 16, &text, NULL) >= 0 && strstr(text, want);
}

static bool exists_anywhere(const char *suffix) {
	for (size_t i = 0; i < layout->n_h; i++) {
		char p[PATH_MAX];
		struct stat st;
		(void)format_checked(p, sizeof p, "%s%s", layout->h[i].mount, suffix);
		if (stat(p, &st) == 0)
			return true;
	}
	return false;
}

/* ---- cases --------------------------------------------------------------------------------------------------- */

static void test_layout(void) {
	ASSERT_LC(lc_cgroup_layout_detect(NULL, &layout, &err));
	if (layout->unified >= 0) {
		char p[PATH_MAX];
		(void)format_checked(p, sizeof p, "%s/cgroup.subtree_control", layout->h[layout->unified].mount);
		(void)read_file_capped(AT_FDCWD, p, 4096, &root_subtree, NULL);
	}
	printf("# layout %s, %zu hierarchies, cgroup2 %s\n", lc_cgroup_mode_name(layout->mode), layout->n_h,
	       layout->unified >= 0 ? layout->h[layout->unified].mount : "none");
	ASSERT_TRUE(layout->where[LC_CG_MEMORY] >= 0 || layout->where[LC_CG_PIDS] >= 0);
}

static void test_create(void) {
	(void)format_checked(path, sizeof path, "/lc-test-%d", (int)getpid());
	ASSERT_LC(lc_cgroup_open(layout, path, LC_CGROUP_CREATE | LC_CGROUP_DEFAULT_DEVICES, &cg, &err));
	for (size_t i = 0; i < layout->n_h; i++) {
		char p[PATH_MAX];
		struct stat st;
		if (stat(lc_cg_fullpath(cg, (int)i, NULL, p), &st) < 0)
			TH_FAIL("%s missing after create", p);
	}
}

static lc_spec_hugepage_limit huge[] = { { "2MB", 4194304 } };

static void test_apply_and_read_back(void) {
	lc_spec_memory m = { .has_limit = true, .limit = 64 << 20, .has_reservation = true, .reservation = 32 << 20 };
	lc_spec_cpu c = { .has_shares = true, .shares = 512, .has_quota = true, .quota = 20000, .has_period = true,
			  .period = 100000, .cpus = "0", .mems = "0" };
	lc_spec_pids p = { .has_limit = true, .limit = 50 };
	lc_spec_resources res = { .memory = &m, .cpu = &c, .pids = &p };
	int hh = layout->where[LC_CG_HUGETLB];
	char hp[PATH_MAX];
	struct stat st;
	/* hugetlb only where this kernel has 2 MB pages. */
	if (hh >= 0 && stat(lc_cg_fullpath(cg, hh, lc_cg_is_v2(cg, hh) ? "hugetlb.2MB.max" :
									   "hugetlb.2MB.limit_in_bytes", hp), &st) == 0) {
		res.hugepage_limits = huge;
		res.n_hugepage_limits = 1;
	}
	ASSERT_LC(lc_cgroup_apply(cg, &res, false, &err));
	int mh = layout->where[LC_CG_MEMORY];
	if (mh >= 0 && lc_cg_is_v2(cg, mh)) {
		assert_file(LC_CG_MEMORY, "memory.max", "67108864");
		assert_file(LC_CG_MEMORY, "memory.low", "33554432");
	} else {
		assert_file(LC_CG_MEMORY, "memory.limit_in_bytes", "67108864");
		assert_file(LC_CG_MEMORY, "memory.soft_limit_in_bytes", "33554432");
	}
	int ch = layout->where[LC_CG_CPU];
	if (ch >= 0 && lc_cg_is_v2(cg, ch)) {
		assert_file(LC_CG_CPU, "cpu.weight", "59");
		assert_file(LC_CG_CPU, "cpu.max", "20000 100000");
	} else {
		assert_file(LC_CG_CPU, "cpu.shares", "512");
		assert_file(LC_CG_CPU, "cpu.cfs_quota_us", "20000");
		assert_file(LC_CG_CPU, "cpu.cfs_period_us", "100000");
	}
	assert_file(LC_CG_CPUSET, "cpuset.cpus", "0");
	assert_file(LC_CG_CPUSET, "cpuset.mems", "0");
	assert_file(LC_CG_PIDS, "pids.max", "50");
	if (res.n_hugepage_limits)
		assert_file(LC_CG_HUGETLB, lc_cg_is_v2(cg, hh) ? "hugetlb.2MB.max" : "hugetlb.2MB.limit_in_bytes",
			    "4194304");
	/* v1 devices: the default list only (no "a *:* rwm"). */
	int dh = layout->where[LC_CG_DEVICES];
	if (dh >= 0 && !lc_cg_is_v2(cg, dh)) {
		char dp[PATH_MAX];
		_cleanup_free_ char *list = NULL;
		ASSERT_OK(read_file_capped(AT_FDCWD, lc_cg_fullpath(cg, dh, "devices.list", dp), 1 << 16, &list, NULL));
		ASSERT_TRUE(strstr(list, "c 1:3 rwm") != NULL);
		ASSERT_TRUE(strstr(list, "a *:* rwm") == NULL);
	}
	/* An update that only lowers pids keeps the rest. */
	p.limit = 40;
	lc_spec_resources upd = { .pids = &p };
	ASSERT_LC(lc_cgroup_apply(cg, &upd, true, &err));
	assert_file(LC_CG_PIDS, "pids.max", "40");
	assert_file(LC_CG_CPUSET, "cpuset.cpus", "0");
}

static void test_enter_and_pids(void) {
	int fd;
	pid_t *pids = NULL;
	size_t n = 0;
	sleeper = spawn(&fd, sleep_forever);
	ASSERT_TRUE(sleeper > 0);
	go(fd);
	ASSERT_LC(lc_cgroup_enter(cg, sleeper, &err));
	if (layout->where[LC_CG_MEMORY] >= 0 && !layout->h[layout->where[LC_CG_MEMORY]].v2)
		ASSERT_TRUE(in_cgroup(sleeper, ":memory:") || in_cgroup(sleeper, ",memory:"));
	if (layout->unified >= 0)
		ASSERT_TRUE(in_cgroup(sleeper, "0::"));
	ASSERT_LC(lc_cgroup_pids(cg, true, &pids, &n, &err));
	ASSERT_EQ(n, 1);
	ASSERT_EQ(pids[0], sleeper);
	free(pids);
}

static void test_freeze_thaw(void) {
	lc_freezer_state st;
	if (layout->where[LC_CG_FREEZER] < 0)
		TH_SKIP("no freezer on this host");
	ASSERT_LC(lc_cgroup_freeze(cg, true, 2000, &err));
	ASSERT_LC(lc_cgroup_freezer_state(cg, &st, &err));
	ASSERT_EQ(st, LC_FREEZER_FROZEN);
	int fh = layout->where[LC_CG_FREEZER];
	assert_file(LC_CG_FREEZER, lc_cg_is_v2(cg, fh) ? "cgroup.freeze" : "freezer.state",
		    lc_cg_is_v2(cg, fh) ? "1" : "FROZEN");
	ASSERT_LC(lc_cgroup_freeze(cg, false, 2000, &err));
	ASSERT_LC(lc_cgroup_freezer_state(cg, &st, &err));
	ASSERT_EQ(st, LC_FREEZER_THAWED);
	/* Thawed means running again: a signal is handled at once. */
	ASSERT_EQ(kill(sleeper, 0), 0);
}

static void test_stats(void) {
	lc_cgroup_stats s;
	ASSERT_LC(lc_cgroup_stats_read(cg, &s, &err));
	printf("# stats: cpu %" PRIu64 " ns, memory %" PRIu64 " of %" PRIu64 ", pids %" PRIu64 "/%" PRIu64
	       ", %zu memory.stat keys, %zu percpu\n",
	       s.cpu.total, s.memory.usage.usage, s.memory.usage.limit, s.pids.current, s.pids.limit, s.memory.n_stats,
	       s.cpu.n_percpu);
	lc_cgroup_stats copy = s;
	lc_cgroup_stats_clear(&s);
	if (layout->where[LC_CG_PIDS] >= 0) {
		ASSERT_EQ(copy.pids.current, 1);
		ASSERT_EQ(copy.pids.limit, 40);
	}
	if (layout->where[LC_CG_MEMORY] >= 0) {
		ASSERT_EQ(copy.memory.usage.limit, 64 << 20);
		/* Usage may be 0: v1 does not move a task's existing charges with it and the sleeper allocates
		 * nothing after the move. */
		ASSERT_TRUE(copy.memory.usage.usage <= copy.memory.usage.limit);
		ASSERT_TRUE(copy.memory.n_stats > 0);
	}
}

static int wait_signal(pid_t pid) {
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) ? WTERMSIG(status) : 1000 + WEXITSTATUS(status);
}

static void test_kill_all(void) {
	/* SIGKILL: cgroup.kill where cgroup2 has it. */
	ASSERT_LC(lc_cgroup_kill_all(cg, SIGKILL, &err));
	ASSERT_EQ(wait_signal(sleeper), SIGKILL);
	sleeper = -1;
	/* Another signal: freeze, signal every pid, thaw. */
	int fd;
	pid_t a = spawn(&fd, sleep_forever);
	go(fd);
	ASSERT_LC(lc_cgroup_enter(cg, a, &err));
	ASSERT_LC(lc_cgroup_kill_all(cg, SIGTERM, &err));
	ASSERT_EQ(wait_signal(a), SIGTERM);
	lc_freezer_state st;
	if (layout->where[LC_CG_FREEZER] >= 0) {
		ASSERT_LC(lc_cgroup_freezer_state(cg, &st, &err));
		ASSERT_EQ(st, LC_FREEZER_THAWED);
	}
}

static int eat_memory(void) {
	const size_t size = 256u << 20;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 2;
	for (size_t i = 0; i < size; i += 4096)
		p[i] = 1;
	return 3; /* not killed */
}

static void test_oom_watch(void) {
	lc_cgroup *oom = NULL;
	lc_cgroup_oom *w = NULL;
	char sub[160];
	uint64_t count = 0, fresh = 0;
	int fd;

	if (layout->where[LC_CG_MEMORY] < 0)
		TH_SKIP("no memory controller on this host");
	(void)format_checked(sub, sizeof sub, "%s/oom", path);
	ASSERT_LC(lc_cgroup_open(layout, sub, LC_CGROUP_CREATE | LC_CGROUP_DEFAULT_DEVICES, &oom, &err));
	/* No swap either, or the child would page out instead of being killed. */
	lc_spec_memory m = { .has_limit = true, .limit = 16 << 20, .has_swap = true, .swap = 16 << 20 };
	lc_spec_resources res = { .memory = &m };
	if (lc_cgroup_apply(oom, &res, false, &err) < 0) {
		char why[KC_ERROR_MSG_MAX];
		(void)format_checked(why, sizeof why, "%s", err.msg);
		(void)lc_cgroup_destroy(oom, 1000, NULL);
		lc_cgroup_free(oom);
		TH_SKIP("memory controller not usable here: %s", why);
	}
	ASSERT_LC(lc_cgroup_oom_watch(oom, &w, &err));
	pid_t pid = spawn(&fd, eat_memory);
	ASSERT_LC(lc_cgroup_enter(oom, pid, &err));
	go(fd);
	ASSERT_EQ(wait_signal(pid), SIGKILL);
	struct pollfd p = { .fd = lc_cgroup_oom_fd(w), .events = POLLIN };
	ASSERT_EQ(poll(&p, 1, 5000), 1);
	ASSERT_LC(lc_cgroup_oom_read(w, &count, &fresh, &err));
	printf("# oom kills counted %" PRIu64 ", new %" PRIu64 "\n", count, fresh);
	ASSERT_TRUE(count >= 1 && fresh >= 1);
	lc_cgroup_oom_free(w);
	/* Left for destroy to remove (descendants first). */
	lc_cgroup_free(oom);
}

static int open_null(void) {
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return 0;
	return errno == EPERM ? 1 : 2;
}

static int bpf_prog_count(int cgfd) {
	uint32_t ids[16];
	union bpf_attr q = {};
	q.query.target_fd = (uint32_t)cgfd;
	q.query.attach_type = BPF_CGROUP_DEVICE;
	q.query.prog_ids = (uint64_t)(uintptr_t)ids;
	q.query.prog_cnt = 16;
	if (syscall(__NR_bpf, BPF_PROG_QUERY, &q, sizeof q) < 0)
		return -errno;
	return (int)q.query.prog_cnt;
}

static void test_devices_bpf(void) {
	static const lc_dev_rule deny_null[] = { { true, 'a', -1, -1, LC_DEV_ACC_ALL }, { false, 'c', 1, 3, LC_DEV_ACC_ALL } };
	static const lc_dev_rule allow_all[] = { { true, 'a', -1, -1, LC_DEV_ACC_ALL } };
	struct bpf_insn *insns = NULL;
	size_t n = 0;
	int prog = -1, fd, cgfd = lc_cgroup_unified_fd(cg);

	if (cgfd < 0)
		TH_SKIP("no cgroup2 hierarchy here: BPF device programs need one");
	ASSERT_LC(lc_devices_bpf_generate(deny_null, 2, &insns, &n, &err));
	int r = lc_devices_bpf_load(insns, n, &prog, &err);
	free(insns);
	if (r == -EPERM || r == -EINVAL || r == -ENOSYS || r == -EOPNOTSUPP)
		TH_SKIP("the kernel refuses BPF_PROG_TYPE_CGROUP_DEVICE here: %s", err.msg);
	ASSERT_LC(r);
	ASSERT_LC(lc_devices_bpf_attach(cgfd, prog, &err));
	close(prog);
	ASSERT_EQ(bpf_prog_count(cgfd), 1);
	pid_t pid = spawn(&fd, open_null);
	ASSERT_LC(lc_cgroup_enter(cg, pid, &err));
	go(fd);
	ASSERT_EQ(wait_signal(pid), 1000 + 1); /* EPERM from the program */

	/* Replacing: the new program goes on, ours comes off; /dev/null opens again. */
	ASSERT_LC(lc_devices_bpf_generate(allow_all, 1, &insns, &n, &err));
	ASSERT_LC(lc_devices_bpf_load(insns, n, &prog, &err));
	free(insns);
	ASSERT_LC(lc_devices_bpf_attach(cgfd, prog, &err));
	close(prog);
	ASSERT_EQ(bpf_prog_count(cgfd), 1);
	pid = spawn(&fd, open_null);
	ASSERT_LC(lc_cgroup_enter(cg, pid, &err));
	go(fd);
	ASSERT_EQ(wait_signal(pid), 1000 + 0);
}

/* The same through lc_cgroup_apply: devices served by cgroup2 (as on the guest; here rerouted, since this
 * host's v1 devices controller normally has them), installed on create and replaced on update. */
static void test_devices_bpf_via_apply(void) {
	lc_spec_device_cgroup deny_null[] = {
		{ .allow = false, .type = "c", .has_major = true, .major = 1, .has_minor = true, .minor = 3,
		  .access = "rwm" },
	};
	lc_spec_device_cgroup allow_null[] = {
		{ .allow = true, .type = "c", .has_major = true, .major = 1, .has_minor = true, .minor = 3,
		  .access = "rwm" },
	};
	int cgfd = lc_cgroup_unified_fd(cg), saved = layout->where[LC_CG_DEVICES], fd, r;
	pid_t pid;

	if (cgfd < 0)
		TH_SKIP("no cgroup2 hierarchy here");
	layout->where[LC_CG_DEVICES] = layout->unified;
	/* The defaults allow /dev/null and come last, so deny it with defaults off: a fresh handle. */
	lc_cgroup *h = NULL;
	r = lc_cgroup_open(layout, path, 0, &h, &err);
	lc_spec_resources res = { .devices = deny_null, .n_devices = 1 };
	if (r >= 0)
		r = lc_cgroup_apply(h, &res, false, &err);
	if (r >= 0) {
		pid = spawn(&fd, open_null);
		r = lc_cgroup_enter(h, pid, &err);
		go(fd);
		if (wait_signal(pid) != 1000 + 1)
			r = -1000;
	}
	if (r >= 0) {
		res.devices = allow_null;
		r = lc_cgroup_apply(h, &res, true, &err);
	}
	if (r >= 0 && bpf_prog_count(cgfd) != 1)
		r = -1001;
	if (r >= 0) {
		pid = spawn(&fd, open_null);
		r = lc_cgroup_enter(h, pid, &err);
		go(fd);
		if (wait_signal(pid) != 1000 + 0)
			r = -1002;
	}
	layout->where[LC_CG_DEVICES] = saved;
	lc_cgroup_free(h);
	if (r < 0)
		TH_FAIL("step failed: %d (%s)", r, err.msg);
}

static void test_destroy_leaves_nothing(void) {
	pid_t *pids = NULL;
	size_t n = 0;
	ASSERT_LC(lc_cgroup_pids(cg, true, &pids, &n, &err));
	free(pids);
	ASSERT_EQ(n, 0);
	ASSERT_LC(lc_cgroup_destroy(cg, 2000, &err));
	ASSERT_TRUE(!exists_anywhere(path));
	cg = lc_cgroup_free(cg);
}

static void test_destroy_with_live_process(void) {
	/* A process still inside: destroy retries until its bound and says why. */
	lc_cgroup *busy = NULL;
	char p2[160];
	int fd;
	(void)format_checked(p2, sizeof p2, "%s-busy", path);
	ASSERT_LC(lc_cgroup_open(layout, p2, LC_CGROUP_CREATE, &busy, &err));
	pid_t pid = spawn(&fd, sleep_forever);
	go(fd);
	ASSERT_LC(lc_cgroup_enter(busy, pid, &err));
	ASSERT_EQ(lc_cgroup_destroy(busy, 50, &err), -EBUSY);
	ASSERT_TRUE(strstr(err.msg, "processes still in it") != NULL);
	ASSERT_LC(lc_cgroup_kill_all(busy, SIGKILL, &err));
	ASSERT_EQ(wait_signal(pid), SIGKILL);
	ASSERT_LC(lc_cgroup_destroy(busy, 2000, &err));
	ASSERT_TRUE(!exists_anywhere(p2));
	lc_cgroup_free(busy);
}

/* Creating our cgroup enabled the root's controllers below the cgroup2 root (hugetlb on hybrid hosts); the
 * host had them off, so switch back what we switched on. */
static void restore_root_subtree(void) {
	_cleanup_free_ char *now = NULL;
	char p[PATH_MAX];
	if (!layout || layout->unified < 0 || !root_subtree)
		return;
	(void)format_checked(p, sizeof p, "%s/cgroup.subtree_control", layout->h[layout->unified].mount);
	if (read_file_capped(AT_FDCWD, p, 4096, &now, NULL) < 0)
		return;
	for (char *save = NULL, *t = strtok_r(now, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		char word[64];
		bool had = false;
		for (const char *q = root_subtree; *q;) {
			size_t len = strcspn(q, " \n");
			had = had || (len == strlen(t) && strncmp(q, t, len) == 0);
			q += len;
			q += strspn(q, " \n");
		}
		if (!had && format_checked(word, sizeof word, "-%s", t) >= 0)
			(void)write_string_file(p, word);
	}
	free(root_subtree);
	root_subtree = NULL;
}

static void cleanup(void) {
	if (sleeper > 0) {
		kill(sleeper, SIGKILL);
		waitpid(sleeper, NULL, 0);
	}
	if (cg) {
		(void)lc_cgroup_kill_all(cg, SIGKILL, NULL);
		(void)lc_cgroup_destroy(cg, 2000, NULL);
		lc_cgroup_free(cg);
	}
	restore_root_subtree();
	lc_cgroup_layout_free(layout);
}

int main(void) {
	static const th_case cases[] = {
		{ "layout", test_layout },
		{ "create", test_create },
		{ "apply-and-read-back", test_apply_and_read_back },
		{ "enter-and-pids", test_enter_and_pids },
		{ "freeze-thaw", test_freeze_thaw },
		{ "stats", test_stats },
		{ "kill-all", test_kill_all },
		/* Before the OOM case: its child cgroup makes this one an inner node, which on cgroup2 may not hold
		 * processes once controllers are enabled below it. */
		{ "devices-bpf-v2", test_devices_bpf },
		{ "devices-bpf-v2-via-apply", test_devices_bpf_via_apply },
		{ "oom-watch", test_oom_watch },
		{ "destroy-leaves-nothing", test_destroy_leaves_nothing },
		{ "destroy-busy-bounded", test_destroy_with_live_process },
	};
	if (geteuid() != 0) {
		printf("[  SKIPPED ] lc-cgroup: needs root\n");
		return 77;
	}
	int r = th_run(cases, ELEMENTSOF(cases));
	cleanup();
	return r;
}

TH_MAIN()
