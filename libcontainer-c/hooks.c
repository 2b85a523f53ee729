/* OCI hooks (hooks.h). The hook gets a fresh pipe as stdin holding the state JSON (written whole before the
 * clone, so no one ever blocks on it), inherits stdout and stderr, and nothing else: every other fd is closed
 * before execve. */
#include "libcontainer-c/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/linux-syscalls.h"

static _noreturn_ void hook_child(const lc_hook_config *h, int in) {
	sigset_t none;
	char *const argv_default[] = {(char *)h->path, NULL};

	if (dup2(in, STDIN_FILENO) < 0)
		_exit(126);
	/* A session (and process group) of its own, whose id is the hook's pid: at the timeout the whole group is
	 * killed, so what the hook started (a sleep under sh) cannot outlive it holding its stdout and stderr. Not
	 * on our terminal either: no SIGTTOU, and no signal from the caller's job control. */
	if (setsid() < 0)
		_exit(126);
	(void)lc_close_range(3, ~0U, 0);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* Not execvp: the spec wants path itself, absolute; args[0] is only what the hook sees as its name. */
	execve(h->path, h->args ? h->args : argv_default, h->env ? h->env : (char *const[]){NULL});
	_exit(errno == ENOENT ? 127 : 126);
}

int lc_hook_spawn(const lc_hook_config *h, const char *state_json, lc_hook_run *ret, kc_error *err) {
	int p[2], pidfd = -1;
	size_t len = strlen(state_json);

	if (len > LC_HOOK_STATE_MAX)
		return kc_error_set(err, E2BIG, "hook `%s`: state JSON too large", h->path);
	if (pipe2(p, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "hook `%s`: pipe: %s", h->path, strerror(errno));
	_cleanup_close_ int rd = p[0], wr = p[1];
	/* A pipe holds 64 KiB: the whole state goes in now, and the hook sees EOF after it. */
	(void)fcntl(wr, F_SETPIPE_SZ, LC_HOOK_STATE_MAX);
	int r = write_all(wr, state_json, len);
	if (r < 0)
		return kc_error_set(err, -r, "hook `%s`: write state: %s", h->path, strerror(-r));
	wr = safe_close(wr);

	lc_clone_args ca = {.flags = CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)&pidfd, .exit_signal = 0};
	pid_t pid = lc_clone3(&ca);
	if (pid < 0)
		return kc_error_set(err, -pid, "hook `%s`: clone3: %s", h->path, strerror(-pid));
	if (pid == 0)
		hook_child(h, rd);
	int64_t t = h->timeout > 0 ? h->timeout : LC_HOOK_TIMEOUT_DEFAULT_S;
	*ret = (lc_hook_run){
		.pid = pid,
		.pidfd = pidfd,
		.deadline_ns = now_ns() + (uint64_t)t * 1000000000ULL,
		.hook = h,
	};
	return 0;
}

/* The hook is not reaped yet, so its pid, the id of its process group, cannot have been reused: the group
 * kill reaches the hook and every descendant that did not leave the group (one that made a session of its own
 * escapes; only a cgroup would hold it). The pidfd kill covers the hook itself in any case. */
static void hook_kill(const lc_hook_run *run) {
	(void)kill(-run->pid, SIGKILL);
	(void)lc_pidfd_send_signal(run->pidfd, SIGKILL);
}

int lc_hook_finish(lc_hook_run *run, bool block, kc_error *err) {
	struct pollfd p = {.fd = run->pidfd, .events = POLLIN};
	const lc_hook_config *h = run->hook;
	bool timed_out = false;
	siginfo_t si = {0};
	int r;

	for (;;) {
		uint64_t now = now_ns();
		int ms = !block ? 0 : now >= run->deadline_ns ? 0 : (int)MIN((run->deadline_ns - now + 999999) / 1000000, (uint64_t)INT32_MAX);
		r = poll(&p, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0)
			break;
		if (now_ns() < run->deadline_ns) {
			if (!block)
				return -EAGAIN;
			continue;
		}
		timed_out = true;
		hook_kill(run);
		break;
	}
	while (waitid((idtype_t)P_PIDFD, (id_t)run->pidfd, &si, WEXITED | __WALL) < 0)
		if (errno != EINTR) {
			r = -errno;
			run->pidfd = safe_close(run->pidfd);
			return kc_error_set(err, -r, "hook `%s`: wait: %s", h->path, strerror(-r));
		}
	run->pidfd = safe_close(run->pidfd);
	if (timed_out)
		return kc_error_set(err, ETIMEDOUT, "hook `%s`: timed out after %" PRId64 " s, killed", h->path,
				    h->timeout > 0 ? h->timeout : (int64_t)LC_HOOK_TIMEOUT_DEFAULT_S);
	if (si.si_code == CLD_EXITED && si.si_status == 0)
		return 0;
	if (si.si_code == CLD_EXITED)
		return kc_error_set(err, si.si_status == 127 ? ENOENT : si.si_status == 126 ? EACCES : EIO,
				    "hook `%s`: exited with status %d%s", h->path, si.si_status,
				    si.si_status == 127 ? " (not found)" : si.si_status == 126 ? " (cannot execute)" : "");
	return kc_error_set(err, EIO, "hook `%s`: killed by signal %d", h->path, si.si_status);
}

int lc_hooks_run(const lc_config *cfg, lc_hook_kind kind, const char *state_json, kc_error *err) {
	for (size_t i = 0; i < cfg->n_hooks[kind]; i++) {
		lc_hook_run run;
		int r = lc_hook_spawn(&cfg->hooks[kind][i], state_json, &run, err);
		if (r >= 0)
			r = lc_hook_finish(&run, true, err);
		if (r < 0)
			return kc_error_prefix(err, "hooks.%s[%zu]", lc_hook_kind_name(kind), i);
	}
	return 0;
}
