/* The create and exec operations as an event loop drives them (op.h), on real containers (root; a busybox
 * rootfs made in a tmpdir). The test plays the agent: after every step it runs the reaper an agent runs on
 * SIGCHLD, waitpid(-1, WNOHANG), and asserts that it only ever collects the children the library handed out
 * (the init, the exec'd process), never a hook or a helper, and that no step blocks: a createRuntime hook
 * that sleeps leaves the loop free, a hanging one fails the create at its timeout, exec's process exists from
 * begin on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/instance.h"
#include "libcontainer-c/spec.h"
#include "libcontainer-c/specconv.h"

#define OK(e)                                                                      \
	do {                                                                       \
		int _r = (e);                                                      \
		if (_r < 0)                                                        \
			fail_msg("%s: %d (%s)", #e, _r, err.msg);                  \
	} while (0)

static char tmp[PATH_MAX], rootfs[PATH_MAX];
static kc_error err;

/* ---- the loop and the reaper ------------------------------------------------------------------------------- */

typedef struct reaped {
	pid_t pid;
	int status;
} reaped;
static reaped reaped_list[64];
static size_t n_reaped;

/* What the agent does on SIGCHLD. */
static void reap_all(void) {
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		assert_true(n_reaped < ELEMENTSOF(reaped_list));
		reaped_list[n_reaped++] = (reaped){pid, status};
	}
}

static const reaped *find_reaped(pid_t pid) {
	for (size_t i = 0; i < n_reaped; i++)
		if (reaped_list[i].pid == pid)
			return &reaped_list[i];
	return NULL;
}

/* Waits (bounded) until pid has been collected by reap_all. */
static const reaped *reap_pid(pid_t pid) {
	for (int i = 0; i < 1000 && !find_reaped(pid); i++) {
		reap_all();
		if (!find_reaped(pid))
			(void)poll(NULL, 0, 10);
	}
	return find_reaped(pid);
}

typedef struct drive_stats {
	int steps;
	uint64_t longest_step_ns;
	int r;
} drive_stats;

/* The event loop: poll the op's fd until its deadline, step, reap. */
static drive_stats drive(lc_op *op) {
	drive_stats st = {0};
	for (;;) {
		uint64_t t0 = now_ns();
		st.r = lc_op_step(op, &err);
		uint64_t dt = now_ns() - t0;
		st.longest_step_ns = MAX(st.longest_step_ns, dt);
		st.steps++;
		reap_all();
		if (st.r != -EAGAIN)
			return st;
		uint64_t now = now_ns(), deadline = lc_op_deadline(op);
		int ms = deadline <= now ? 0 : (int)MIN((deadline - now + 999999u) / 1000000u, (uint64_t)50);
		struct pollfd p = {.fd = lc_op_fd(op), .events = POLLIN};
		(void)poll(&p, 1, ms); /* at most 50 ms, so that the reaper runs while the op waits */
	}
}

/* ---- fixtures ---------------------------------------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
	return remove(p);
}

static int setup(void **state) {
	if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0)
		return 0;
	assert_true(format_checked(tmp, sizeof tmp, "/tmp/test-lc-op.XXXXXX") >= 0);
	assert_non_null(mkdtemp(tmp));
	assert_true(format_checked(rootfs, sizeof rootfs, "%s/rootfs", tmp) >= 0);
	char cmd[PATH_MAX * 2];
	assert_true(format_checked(cmd, sizeof cmd,
				   "mkdir -p %s/bin %s/proc && cp /bin/busybox %s/bin/ && for a in sh true sleep; do "
				   "ln -s busybox %s/bin/$a; done", rootfs, rootfs, rootfs, rootfs) >= 0);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int teardown(void **state) {
	if (tmp[0])
		(void)nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static bool need_root(void) {
	if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0) {
		print_message("skipped: needs root and /bin/busybox (namespaces, mounts)\n");
		skip();
		return false;
	}
	return true;
}

/* A config for the busybox rootfs running args, with the hooks given (a JSON object or ""). */
static lc_config *make_config(const char *args, const char *hooks) {
	char json[4096];
	lc_spec *spec = NULL;
	lc_config *cfg = NULL;
	lc_specconv_opts opts = {0};
	assert_true(format_checked(json, sizeof json,
				   "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": %s, \"cwd\": \"/\", \"env\": [\"PATH=/bin\"],"
				   " \"user\": {\"uid\": 0, \"gid\": 0}}, \"root\": {\"path\": \"%s\"}, %s%s%s"
				   " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"ipc\"},"
				   " {\"type\": \"uts\"}]}}",
				   args, rootfs, *hooks ? "\"hooks\": " : "", hooks, *hooks ? "," : "") >= 0);
	OK(lc_spec_from_json(json, strlen(json), &spec, &err));
	OK(lc_config_from_spec(spec, &opts, &cfg, &err));
	lc_spec_free(spec);
	return cfg;
}

/* The inode of a namespace link, e.g. ns_ino("self", "pid_for_children"). */
static ino_t ns_ino(const char *pid, const char *ns) {
	char path[64];
	struct stat st;
	assert_true(format_checked(path, sizeof path, "/proc/%s/ns/%s", pid, ns) >= 0);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static lc_instance_opts opts_for(const char *id) {
	return (lc_instance_opts){.id = id, .rootfs = rootfs, .no_cgroup = true, .console_sock_fd = -1};
}

/* ---- tests ------------------------------------------------------------------------------------------------- */

/* A createRuntime hook that takes a second: the create is pending meanwhile, no step blocks, the reaper finds
 * nothing to collect (the hook has no exit signal), and the create then completes. */
static void test_create_with_slow_hook(void **state) {
	if (!need_root())
		return;
	lc_config *cfg = make_config("[\"true\"]", "{\"createRuntime\": [{\"path\": \"/bin/busybox\", \"args\": [\"sleep\", \"1\"], \"timeout\": 30}]}");
	lc_instance_opts o = opts_for("op-slow-hook");
	lc_instance *c = NULL;
	lc_op *op = NULL;
	n_reaped = 0;

	uint64_t t0 = now_ns();
	OK(lc_instance_create_begin(cfg, &o, &c, &op, &err));
	pid_t init = lc_instance_pid(c);
	assert_true(init > 0);
	assert_true(lc_instance_pidfd(c) >= 0);
	drive_stats st = drive(op);
	if (st.r < 0)
		fail_msg("create: %s", err.msg);
	uint64_t total = now_ns() - t0;
	op = lc_op_free(op);
	/* The hook slept ~1 s while the loop kept turning: many steps, none of them long. */
	assert_true(total >= 900000000u);
	assert_true(st.steps >= 10);
	assert_true(st.longest_step_ns < 300000000u);
	assert_int_equal(n_reaped, 0); /* the hook never reached waitpid(-1) */

	OK(lc_instance_start(c, &err));
	const reaped *r = reap_pid(init);
	assert_non_null(r);
	assert_true(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0);
	assert_int_equal(n_reaped, 1);
	lc_instance_free(c);
}

/* A createRuntime hook that hangs: the create fails at its 1 s timeout naming the hook; the killed init is the
 * loop's to collect, and the hook is gone without the reaper ever seeing it. */
static void test_create_hook_timeout(void **state) {
	if (!need_root())
		return;
	lc_config *cfg = make_config("[\"true\"]", "{\"createRuntime\": [{\"path\": \"/bin/busybox\", \"args\": [\"sleep\", \"100\"], \"timeout\": 1}]}");
	lc_instance_opts o = opts_for("op-hang-hook");
	lc_instance *c = NULL;
	lc_op *op = NULL;
	n_reaped = 0;

	uint64_t t0 = now_ns();
	OK(lc_instance_create_begin(cfg, &o, &c, &op, &err));
	pid_t init = lc_instance_pid(c);
	drive_stats st = drive(op);
	uint64_t total = now_ns() - t0;
	assert_int_equal(st.r, -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "hooks.createRuntime[0]"));
	assert_non_null(strstr(err.msg, "timed out after 1 s"));
	assert_true(total >= 900000000u && total < 10000000000u);
	assert_true(st.longest_step_ns < 300000000u);
	op = lc_op_free(op);
	const reaped *r = reap_pid(init);
	assert_non_null(r);
	assert_true(WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGKILL);
	assert_int_equal(n_reaped, 1);
	lc_instance_free(c); /* the config went with it: a failed step leaves it to the instance */
}

/* exec as steps: the process exists from begin on (lc_op_child), is the loop's own child, and the only one:
 * no helper process is ever collected. A missing executable fails the op and the process exits 127. */
static void test_exec_steps(void **state) {
	if (!need_root())
		return;
	lc_config *cfg = make_config("[\"sleep\", \"100\"]", "");
	lc_instance_opts o = opts_for("op-exec");
	lc_instance *c = NULL;
	n_reaped = 0;

	OK(lc_instance_create(cfg, &o, &c, &err));
	OK(lc_instance_start(c, &err));
	pid_t init = lc_instance_pid(c);

	static char *const seven[] = {"sh", "-c", "exit 7", NULL};
	static char *const missing[] = {"no-such-program", NULL};
	char *const *argvs[] = {seven, missing};
	for (size_t i = 0; i < ELEMENTSOF(argvs); i++) {
		lc_process_config p = {.args = argvs[i], .env = (char *[]){"PATH=/bin", NULL}, .cwd = "/"};
		lc_instance_exec_opts xo = {.process = &p, .console_sock_fd = -1};
		lc_op *op = NULL;
		pid_t pid;
		int pidfd;
		OK(lc_instance_exec_begin(c, &xo, &op, &err));
		lc_op_child(op, &pid, &pidfd);
		assert_true(pid > 0 && pidfd >= 0);
		/* Born in the container's pid namespace, while we are back in ours for our next children. */
		char spid[16], sinit[16];
		(void)snprintf(spid, sizeof spid, "%d", (int)pid);
		(void)snprintf(sinit, sizeof sinit, "%d", (int)init);
		assert_true(ns_ino(spid, "pid") == ns_ino(sinit, "pid"));
		assert_true(ns_ino("self", "pid_for_children") == ns_ino("self", "pid"));
		drive_stats st = drive(op);
		lc_op_take_child(op, &pid, &pidfd);
		op = lc_op_free(op);
		const reaped *r = reap_pid(pid);
		assert_non_null(r);
		assert_true(WIFEXITED(r->status));
		if (i == 0) {
			assert_int_equal(st.r, 0);
			assert_int_equal(WEXITSTATUS(r->status), 7);
		} else {
			assert_int_equal(st.r, -ENOENT);
			assert_non_null(strstr(err.msg, "no-such-program"));
			assert_int_equal(WEXITSTATUS(r->status), 127);
		}
		(void)close(pidfd);
	}
	assert_int_equal(n_reaped, 2);

	OK(lc_instance_kill_all(c, SIGKILL, &err));
	assert_non_null(reap_pid(init));
	assert_int_equal(n_reaped, 3);
	lc_instance_free(c);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* nothing else was ever our child */
}

/* A container joining another's pid namespace by path (the agent's sandbox pid namespace): its init is born
 * there, the caller's own children are not. */
static void test_create_in_pid_namespace(void **state) {
	if (!need_root())
		return;
	lc_config *cfg = make_config("[\"sleep\", \"100\"]", "");
	lc_instance_opts o = opts_for("op-pidns-a");
	lc_instance *a = NULL, *b = NULL;
	n_reaped = 0;
	OK(lc_instance_create(cfg, &o, &a, &err));
	OK(lc_instance_start(a, &err));
	char sa[16], sb[16], json[4096];
	(void)snprintf(sa, sizeof sa, "%d", (int)lc_instance_pid(a));

	lc_spec *spec = NULL;
	lc_config *cfg_b = NULL;
	lc_specconv_opts sopts = {0};
	assert_true(format_checked(json, sizeof json,
				   "{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sleep\", \"100\"], \"cwd\": \"/\","
				   " \"env\": [\"PATH=/bin\"], \"user\": {\"uid\": 0, \"gid\": 0}}, \"root\": {\"path\": \"%s\"},"
				   " \"linux\": {\"namespaces\": [{\"type\": \"pid\", \"path\": \"/proc/%s/ns/pid\"},"
				   " {\"type\": \"mount\"}]}}", rootfs, sa) >= 0);
	OK(lc_spec_from_json(json, strlen(json), &spec, &err));
	OK(lc_config_from_spec(spec, &sopts, &cfg_b, &err));
	lc_spec_free(spec);
	o = opts_for("op-pidns-b");
	OK(lc_instance_create(cfg_b, &o, &b, &err));
	(void)snprintf(sb, sizeof sb, "%d", (int)lc_instance_pid(b));
	assert_true(ns_ino(sb, "pid") == ns_ino(sa, "pid"));
	assert_true(ns_ino("self", "pid_for_children") == ns_ino("self", "pid"));
	assert_int_equal(n_reaped, 0);

	OK(lc_instance_kill_all(b, SIGKILL, &err));
	OK(lc_instance_kill_all(a, SIGKILL, &err));
	assert_non_null(reap_pid(lc_instance_pid(b)));
	assert_non_null(reap_pid(lc_instance_pid(a)));
	lc_instance_free(b);
	lc_instance_free(a);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_with_slow_hook),
		cmocka_unit_test(test_create_hook_timeout),
		cmocka_unit_test(test_exec_steps),
		cmocka_unit_test(test_create_in_pid_namespace),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
