/* In-memory containers (instance.h): the spawn steps without a state directory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/exec-internal.h"
#include "libcontainer-c/hooks.h"
#include "libcontainer-c/instance.h"
#include "libcontainer-c/linux-syscalls.h"
#include "libcontainer-c/seccomp.h"

/* How long pause waits for every task to freeze before it thaws them again and fails. */
#define LC_INSTANCE_FREEZE_MS 5000

struct lc_instance {
	char *id;
	lc_config *cfg;
	lc_cgroup *cgroup;
	lc_seccomp_prog *seccomp;
	pid_t pid;
	int pidfd;
	int gate; /* write end of the start pipe; -1 once started */
	bool started;
	bool creating;       /* the create operation has not finished */
	lc_spawn_args spawn; /* what the create operation reads until it ends */
};

pid_t lc_instance_pid(const lc_instance *c) {
	return c->pid;
}
int lc_instance_pidfd(const lc_instance *c) {
	return c->pidfd;
}
const lc_config *lc_instance_config(const lc_instance *c) {
	return c->cfg;
}
lc_cgroup *lc_instance_cgroup(const lc_instance *c) {
	return c->cgroup;
}
bool lc_instance_started(const lc_instance *c) {
	return c->started;
}

lc_instance *lc_instance_free(lc_instance *c) {
	if (!c)
		return NULL;
	if (c->cgroup) {
		(void)lc_cgroup_destroy(c->cgroup, 0, NULL);
		c->cgroup = lc_cgroup_free(c->cgroup);
	}
	c->seccomp = lc_seccomp_prog_free(c->seccomp);
	c->cfg = lc_config_free(c->cfg);
	(void)safe_close(c->pidfd);
	(void)safe_close(c->gate);
	free(c->id);
	free(c);
	return NULL;
}

/* prestart, createRuntime and the container's own hooks get the state the spec defines. The id is the caller's
 * validated one (no quotes or backslashes), so it needs no escaping. */
static int runtime_state(void *userdata, pid_t pid, const char *status, char **ret_state, kc_error *err) {
	lc_instance *c = userdata;
	if (asprintf(ret_state, "{\"ociVersion\":\"1.0.2\",\"id\":\"%s\",\"status\":\"%s\",\"pid\":%d,\"bundle\":\"\"}",
		     c->id, status, (int)pid) < 0)
		return kc_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* The create operation's end: the init is ready behind its gate. */
static int create_done(void *userdata, lc_op *op, kc_error *err) {
	lc_instance *c = userdata;
	c->creating = false;
	return 0;
}

/* The instance keeps its own handle on the init from the clone on, so that the caller can collect it by
 * lc_instance_pidfd() however the operation ends. */
static int take_child(lc_instance *c, const lc_op *op, kc_error *err) {
	int pidfd;
	lc_op_child(op, &c->pid, &pidfd);
	if (pidfd < 0)
		return 0;
	c->pidfd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
	if (c->pidfd < 0)
		return kc_error_set(err, errno, "dup the init's pidfd: %s", strerror(errno));
	return 0;
}

int lc_instance_create_begin(lc_config *cfg, const lc_instance_opts *o, lc_instance **ret, lc_op **ret_op,
			     kc_error *err) {
	_cleanup_(lc_instance_freep) lc_instance *c = NULL;
	int gate[2];
	int r;

	*ret_op = NULL;
	if (!o->id || !o->rootfs)
		return kc_error_set(err, EINVAL, "container: id and root are required");
	if (cfg->process && cfg->process->terminal && o->console_sock_fd < 0)
		return kc_error_set(err, EINVAL, "process.terminal: a terminal needs a console socket");
	c = calloc(1, sizeof *c);
	if (!c)
		return kc_error_set(err, ENOMEM, "out of memory");
	c->pidfd = c->gate = -1;
	c->pid = -1;
	c->creating = true;
	c->id = strdup(o->id);
	if (!c->id)
		return kc_error_set(err, ENOMEM, "out of memory");
	if (cfg->seccomp) {
		if (cfg->seccomp->uses_notify)
			/* The agent protocol's LinuxSeccomp has no listenerPath: nothing could ever answer, and every
			 * such syscall would hang the container. */
			return kc_error_set(err, EINVAL, "linux.seccomp: SCMP_ACT_NOTIFY needs a listener, and the agent "
					    "protocol carries no listenerPath");
		r = lc_seccomp_compile(cfg->seccomp, &c->seccomp, err);
		if (r < 0)
			return r;
	}
	if (!o->no_cgroup) {
		r = lc_spawn_cgroup_create(cfg, o->cgroup_parent, o->id, false, &c->cgroup, err);
		if (r < 0)
			return r;
	}
	/* The start gate is a pipe: the init polls its read end, start writes one byte. Once the read end is
	 * closed here, a write that finds no reader (EPIPE) means the init died. */
	if (pipe2(gate, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "start gate: pipe: %s", strerror(errno));
	_cleanup_close_ int gate_rd = gate[0];
	c->gate = gate[1];
	c->spawn = (lc_spawn_args){
		.cfg = cfg,
		.rootfs = o->rootfs,
		.exec_fifo_fd = gate_rd,
		.start_err_fd = -1,
		.console_sock_fd = o->console_sock_fd,
		.seccomp = c->seccomp,
		.cgroup = c->cgroup,
		.runtime_state = runtime_state,
		.hooks_userdata = c,
		.stdio = cfg->process && cfg->process->terminal ? NULL : o->stdio,
		.seccomp_listener_fd = -1,
	};
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	r = lc_spawn_init_begin(&c->spawn, &op, err);
	if (r < 0 && op) {
		/* Cloned, then failed: the killed init is the caller's to collect through the instance, which goes
		 * (with its cgroup) once it has been. */
		int r2 = take_child(c, op, NULL);
		if (r2 >= 0 && c->pidfd >= 0)
			*ret = TAKE_PTR(c);
		return r;
	}
	if (r < 0)
		return r;
	r = take_child(c, op, err);
	if (r < 0)
		return r; /* freeing op kills the init; the caller's reaper collects it as an unknown child */
	lc_op_set_layer(op, &(lc_op_layer){.done = create_done, .userdata = c});
	c->cfg = cfg;
	*ret = TAKE_PTR(c);
	*ret_op = TAKE_PTR(op);
	return 0;
}

int lc_instance_create(lc_config *cfg, const lc_instance_opts *o, lc_instance **ret, kc_error *err) {
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	lc_instance *c = NULL;

	*ret = NULL;
	int r = lc_instance_create_begin(cfg, o, &c, &op, err);
	if (r >= 0)
		r = lc_op_run(op, err);
	if (r >= 0) {
		*ret = c;
		return 0;
	}
	/* Failed: the init (if it was cloned) is killed; nobody else knows it, so it is collected here before the
	 * cgroup goes. The config stays the caller's. */
	op = lc_op_free(op);
	if (c) {
		if (c->pidfd >= 0)
			(void)waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &(siginfo_t){0}, WEXITED);
		if (c->cgroup)
			(void)lc_cgroup_destroy(c->cgroup, 5000, NULL);
		c->cfg = NULL;
		(void)lc_instance_free(c);
	}
	return r;
}

int lc_instance_start(lc_instance *c, kc_error *err) {
	if (c->creating)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY, "container `%s` is still being created", c->id);
	if (c->started)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EALREADY, "container `%s` is already started", c->id);
	ssize_t n = write(c->gate, "1", 1);
	if (n != 1) {
		int e = n < 0 ? errno : EIO;
		if (e == EPIPE)
			return kc_error_set_code(err, KC_FAILED_PRECONDITION, ESRCH, "container `%s`: its init has exited", c->id);
		return kc_error_set(err, e, "container `%s`: start: %s", c->id, strerror(e));
	}
	c->gate = safe_close(c->gate);
	c->started = true;
	return 0;
}

int lc_instance_exec_begin(lc_instance *c, const lc_instance_exec_opts *o, lc_op **ret, kc_error *err) {
	lc_process_config p = *o->process;

	if (c->creating)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY, "container `%s` is still being created", c->id);
	if (p.terminal && o->console_sock_fd < 0)
		return kc_error_set(err, EINVAL, "process.terminal: a terminal needs a console socket");
	/* As the Kata agent does: a process without capabilities gets the container's. */
	if (!p.has_capabilities && c->cfg->process && c->cfg->process->has_capabilities) {
		p.has_capabilities = true;
		memcpy(p.caps, c->cfg->process->caps, sizeof p.caps);
	}
	lc_exec_args a = {
		.target_pidfd = c->pidfd,
		.ns_flags = lc_ns_flags_differing(c->pid),
		.process = &p,
		.console_sock_fd = o->console_sock_fd,
		.seccomp = c->seccomp,
		.has_personality = c->cfg->has_personality,
		.personality = c->cfg->personality,
		.cgroup = c->cgroup,
		.stdio = p.terminal ? NULL : o->stdio,
		.seccomp_listener_fd = -1,
	};
	return lc_spawn_exec_begin(&a, ret, err);
}

int lc_instance_kill_all(lc_instance *c, int sig, kc_error *err) {
	if (c->cgroup)
		return lc_cgroup_kill_all(c->cgroup, sig, err);
	if (lc_pidfd_send_signal(c->pidfd, sig) < 0 && errno != ESRCH)
		return kc_error_set(err, errno, "signal %d to the init of `%s`: %s", sig, c->id, strerror(errno));
	return 0;
}

int lc_instance_pause(lc_instance *c, bool pause, kc_error *err) {
	if (c->creating)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY, "container `%s` is still being created", c->id);
	if (!c->cgroup)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ENOENT, "container `%s` has no cgroup", c->id);
	return lc_cgroup_freeze(c->cgroup, pause, LC_INSTANCE_FREEZE_MS, err);
}

int lc_instance_destroy_cgroup(lc_instance *c, unsigned timeout_ms, kc_error *err) {
	if (!c->cgroup)
		return 0;
	int r = lc_cgroup_destroy(c->cgroup, timeout_ms, err);
	if (r < 0)
		return r;
	c->cgroup = lc_cgroup_free(c->cgroup);
	return 0;
}
