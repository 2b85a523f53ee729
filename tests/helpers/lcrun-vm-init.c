/* lcrun-vm-init: /init of build/lcrun-test-initrd.img (tests/vm/test-lcrun-vm.sh). It brings the guest up as
 * the agent would (base mounts, a tmpfs root so that pivot_root works, cgroup2 alone on /sys/fs/cgroup), runs
 * the lcrun suite (`busybox sh /suite/lcrun-vm-suite.sh`) with the console as its stdout, reaping every
 * orphan meanwhile as PID 1 must, prints
 *
 *   lcrun-vm: suite exited with status N
 *
 * and then execs the static agent, which finds its mounts in place and serves the host: kata-launch boot
 * reports the guest ready once the suite is over, and stops it the usual way. */
#define LOG_SOURCE "lcrun-vm-init"
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "init/init.h"

#define AGENT "/bin/kata-agent"
#define SHELL "/bin/busybox"
#define SUITE "/suite/lcrun-vm-suite.sh"
/* Far above what the suite needs under TCG (~20 s): a hang in it must still end with the agent up, so the host
 * sees the case lines so far and a missing `done` line rather than a boot that never completes. */
#define SUITE_TIMEOUT_S 600

static volatile sig_atomic_t timed_out;
static void on_alarm(int sig) {
	timed_out = 1;
}

static void say(const char *fmt, ...) _printf_(1, 2);
static void say(const char *fmt, ...) {
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	(void)write_all(STDOUT_FILENO, line, (size_t)n);
}

/* Runs the suite in a process group of its own and reaps until it is gone; orphans it leaves are reaped on
 * the way. At the time limit the whole group is killed. */
static int run_suite(void) {
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART: the alarm interrupts waitpid */
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		(void)setpgid(0, 0);
		char *const argv[] = { SHELL, "sh", SUITE, NULL };
		char *const envp[] = { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", NULL };
		execve(SHELL, argv, envp);
		say("lcrun-vm: exec %s: %s\n", SHELL, strerror(errno));
		_exit(127);
	}
	(void)setpgid(pid, pid);
	(void)sigaction(SIGALRM, &sa, NULL);
	alarm(SUITE_TIMEOUT_S);
	for (;;) {
		int status;
		pid_t p = waitpid(-1, &status, 0);
		if (p < 0 && errno == EINTR) {
			if (timed_out) {
				say("lcrun-vm: suite still running after %d s: killing it\n", SUITE_TIMEOUT_S);
				(void)kill(-pid, SIGKILL);
				timed_out = 0;
			}
			continue;
		}
		if (p < 0)
			return -errno;
		if (p == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
}

int main(int argc, char **argv) {
	kc_error err = {};
	int r;

	if (getpid() != 1) {
		fprintf(stderr, "lcrun-vm-init: runs only as PID 1 of the test VM\n");
		return 1;
	}
	if (init_mount_base(&err) < 0)
		say("lcrun-vm: base mounts: %s\n", err.msg);
	/* Re-execs this binary from the new root on success; returns only when it stayed (or was already there). */
	if (init_leave_initramfs(argv, &err) < 0)
		say("lcrun-vm: leaving the initramfs: %s\n", err.msg);
	if (init_mount_cgroups(false, &err) < 0)
		say("lcrun-vm: cgroup2: %s\n", err.msg);

	r = run_suite();
	alarm(0);
	if (r < 0)
		say("lcrun-vm: suite could not run: %s\n", strerror(-r));
	else
		say("lcrun-vm: suite exited with status %d\n", r);

	char *const agent_argv[] = { AGENT, NULL };
	execv(AGENT, agent_argv);
	say("lcrun-vm: exec %s: %s; powering off\n", AGENT, strerror(errno));
	init_poweroff();
}
