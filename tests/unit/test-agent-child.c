/* Helpers forked by the agent: results, errors with their message and code, deaths, timeouts, abandonment,
 * all delivered through the event loop and the one SIGCHLD reaper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/child.h"
#include "common/util.h"

static agent A;
static int sigfd = -1;
static ev_io *sig_io;
static int n_done, last_result;
static kc_error last_err;

static int on_sigchld(ev_io *io, int fd, uint32_t revents, void *ud) {
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			(void)child_reaped(&A, pid, status);
	}
	return 0;
}

static int setup(void **state) {
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m, NULL);
	A = (agent){ 0 };
	assert_int_equal(ev_loop_new(&A.loop), 0);
	sigfd = signalfd(-1, &m, SFD_CLOEXEC | SFD_NONBLOCK);
	assert_true(sigfd >= 0);
	assert_int_equal(ev_io_add(A.loop, sigfd, EPOLLIN, on_sigchld, NULL, "sigchld", &sig_io), 0);
	n_done = 0;
	return 0;
}

static int teardown(void **state) {
	child_registry_free(&A);
	ev_io_free(sig_io);
	A.loop = ev_loop_free(A.loop);
	close(sigfd);
	return 0;
}

static void done(int result, const kc_error *err, void *ud) {
	n_done++;
	last_result = result;
	last_err = *err;
}

/* Runs the loop until done() was called `want` times or 5 s passed. */
static void run_until(int want) {
	uint64_t end = now_ns() + 5000000000ULL;
	while (n_done < want && now_ns() < end)
		(void)ev_loop_iterate(A.loop, 50);
}

static int work_ok(void *ud, kc_error *err) {
	return 42;
}

static int work_fail(void *ud, kc_error *err) {
	return kc_error_set_code(err, KC_FAILED_PRECONDITION, ENOENT, "mount 9p share `%s`: no such tag", (char *)ud);
}

static int work_crash(void *ud, kc_error *err) {
	raise(SIGKILL);
	return 0;
}

_noreturn_ static int work_hang(void *ud, kc_error *err) {
	for (;;)
		pause();
}

static int on_nothing(ev_io *io, int fd, uint32_t revents, void *ud) {
	return 0;
}

static int pipe_fds[2], kept_fd;

/* In the helper: every fd the agent had is closed (a watched pipe end and an unwatched one alike), except
 * the one handed over. */
static int work_check_fds(void *ud, kc_error *err) {
	if (fcntl(pipe_fds[0], F_GETFD) >= 0)
		return kc_error_set(err, EEXIST, "the watched fd %d is still open in the helper", pipe_fds[0]);
	if (fcntl(pipe_fds[1], F_GETFD) >= 0)
		return kc_error_set(err, EEXIST, "the unwatched fd %d is still open in the helper", pipe_fds[1]);
	if (fcntl(kept_fd, F_GETFD) < 0)
		return kc_error_set(err, EBADF, "the handed-over fd %d was closed", kept_fd);
	return 7;
}

static void test_helper_drops_inherited_fds(void **state) {
	ev_io *io;
	assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
	kept_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(kept_fd >= 0);
	assert_int_equal(ev_io_add(A.loop, pipe_fds[0], EPOLLIN, on_nothing, NULL, "pipe", &io), 0);
	assert_true(helper_run_keep_fd(&A, "fds", work_check_fds, NULL, 0, done, NULL, kept_fd) > 0);
	run_until(1);
	assert_int_equal(n_done, 1);
	if (last_result < 0)
		fail_msg("%s", last_err.msg);
	assert_int_equal(last_result, 7);
	assert_true(fcntl(pipe_fds[0], F_GETFD) >= 0); /* the agent's own copies are untouched */
	ev_io_free(io);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	close(kept_fd);
}

static void test_result(void **state) {
	assert_true(helper_run(&A, "ok", work_ok, NULL, 0, done, NULL) > 0);
	run_until(1);
	assert_int_equal(n_done, 1);
	assert_int_equal(last_result, 42);
}

static void test_error_carries_message_and_code(void **state) {
	assert_true(helper_run(&A, "mount", work_fail, "kataShared", 0, done, NULL) > 0);
	run_until(1);
	assert_int_equal(last_result, -ENOENT);
	assert_int_equal(kc_error_code(&last_err), KC_FAILED_PRECONDITION);
	assert_string_equal(last_err.msg, "mount 9p share `kataShared`: no such tag");
}

static void test_killed(void **state) {
	assert_true(helper_run(&A, "crasher", work_crash, NULL, 0, done, NULL) > 0);
	run_until(1);
	assert_true(last_result < 0);
	assert_non_null(strstr(last_err.msg, "crasher: helper killed by signal 9"));
}

static void test_timeout(void **state) {
	uint64_t t0 = now_ns();
	assert_true(helper_run(&A, "stat loop", work_hang, NULL, 100, done, NULL) > 0);
	run_until(1);
	assert_int_equal(last_result, -ETIMEDOUT);
	assert_non_null(strstr(last_err.msg, "stat loop: timed out after 100 ms"));
	assert_true(now_ns() - t0 < 3000000000ULL);
}

static void test_abandon(void **state) {
	int pid = helper_run(&A, "hang", work_hang, NULL, 0, done, NULL);
	assert_true(pid > 0);
	assert_true(helper_run(&A, "ok", work_ok, NULL, 0, done, NULL) > 0);
	helper_abandon(&A, pid);
	run_until(1);
	/* Let the abandoned one be reaped too: nothing else may be reported. */
	for (int i = 0; i < 10; i++)
		(void)ev_loop_iterate(A.loop, 20);
	assert_int_equal(n_done, 1);
	assert_int_equal(last_result, 42);
	assert_null(A.children);
	assert_int_equal(kill(pid, 0), -1);
}

static void test_cap(void **state) {
	int pids[32];
	for (int i = 0; i < 32; i++) {
		pids[i] = helper_run(&A, "hang", work_hang, NULL, 0, done, NULL);
		assert_true(pids[i] > 0);
	}
	assert_int_equal(helper_run(&A, "one too many", work_ok, NULL, 0, done, NULL), -EAGAIN);
	for (int i = 0; i < 32; i++)
		helper_abandon(&A, pids[i]);
	for (int i = 0; i < 100 && A.n_helpers > 0; i++)
		(void)ev_loop_iterate(A.loop, 20);
	assert_int_equal(A.n_helpers, 0);
	assert_true(helper_run(&A, "ok", work_ok, NULL, 0, done, NULL) > 0);
	run_until(1);
	assert_int_equal(last_result, 42);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_carries_message_and_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_drops_inherited_fds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
