/* Containers and their processes (container.h).
 *
 * CreateContainer: the spec is read and validated, the init is cloned into its namespaces and cgroup and
 * reports ready from behind the start gate. The call is pending from there on: libcontainer-c's create and exec
 * are steps (op.h) that the loop drives from the op's fd and deadline, so a slow hook never stops the agent.
 * With storages or devices the call is pending before that too: devices are awaited in the loop and storages
 * mounted by a helper (see "with storages and devices" below), since both may wait on the outside world.
 * Everything that waits on a process (WaitProcess, RemoveContainer, the stdio reads and writes) is a pending
 * call completed from the SIGCHLD reaper or the stream's fd; a cgroup's removal is retried from a timer.
 *
 * The guest rewrite of the spec, as the Kata agent does it: the network namespace is the guest's (the entry
 * is dropped), IPC and UTS are the sandbox's (joined through CreateSandbox's binds, or the agent's own before
 * a sandbox exists), and specconv is told that all three belong to the sandbox so that the pod's sysctls and
 * hostname are judged as upstream judges them. A container in the sandbox's UTS namespace does not set the
 * hostname: that is the pod's, set by CreateSandbox. */
#define LOG_SOURCE "container"
#include "agent/container.h"
#include "agent/container-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent/child.h"
#include "agent/sandbox.h"
#include "agent/ctr-hooks.h"
#include "agent/ctr-spec.h"
#include "agent/devices.h"
#include "agent/storage-batch.h"
#include "agent/streams.h"
#include "common/log.h"
#include "common/util.h"
#include "libcontainer-c/console.h"
#include "libcontainer-c/instance.h"
#include "libcontainer-c/linux-syscalls.h"
#include "libcontainer-c/spec.h"
#include "common/path.h"
#include "storage/storage.h"

/* How long RemoveContainer and DestroySandbox keep retrying the cgroup's rmdir while killed processes leave
 * it (v1 counts a task until it is reaped), and how often: one attempt per timer tick, never a wait. */
#define CGROUP_DESTROY_MS 5000
#define CGROUP_RETRY_MS 20
#define CONTAINER_STORAGES_MAX 64
#define CREATE_MOUNT_TIMEOUT_MS 120000 /* a share that does not answer: the helper is killed, the call fails */
#define CREATE_UNDO_TIMEOUT_MS 30000

/* ---- lookup ---- */

static void reply_empty(ttrpc_call *call) {
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	ttrpc_call_reply(call, &empty.base);
}

static void *mfree(void *p) {
	free(p);
	return NULL;
}

static inline bool streq(const char *a, const char *b) {
	return strcmp(a, b) == 0;
}

/* ---- libcontainer-c operations in the loop ----
 * An lc_op (create or exec) is stepped when its fd is readable or its deadline passes. The fd changes from
 * step to step and the step may close the old one, so the watch goes before each step and is made anew after:
 * epoll watches the open file, and a watch left on a closed fd would outlive it. */

typedef void (*op_done_fn)(void *userdata, int r, kc_error *err);

typedef struct op_run {
	agent *agent;
	lc_op *op;
	ev_io *io;
	ev_timer timer;
	op_done_fn done;
	void *userdata;
} op_run;

static void op_run_stop(op_run *o) {
	o->io = ev_io_free(o->io);
	if (o->timer.loop)
		ev_timer_disarm(&o->timer);
}

/* Stops watching and frees the op: an unfinished one is aborted (its child SIGKILLed, a hook killed). */
static void op_run_abort(op_run *o) {
	op_run_stop(o);
	o->op = lc_op_free(o->op);
}

static void op_run_step(op_run *o);

static int op_run_io(ev_io *io, int fd, uint32_t revents, void *userdata) {
	op_run_step(userdata);
	return 0;
}

static void op_run_timer(ev_timer *t, void *userdata) {
	op_run_step(userdata);
}

static int op_run_arm(op_run *o, kc_error *err) {
	int fd = lc_op_fd(o->op);
	if (fd >= 0) {
		int r = ev_io_add(o->agent->loop, fd, EPOLLIN, op_run_io, o, "container operation", &o->io);
		if (r < 0)
			return kc_error_set(err, -r, "watch the container operation: %s", strerror(-r));
	}
	int r = ev_timer_arm(&o->timer, lc_op_deadline(o->op));
	if (r < 0)
		return kc_error_set(err, -r, "arm the container operation's deadline: %s", strerror(-r));
	return 0;
}

/* Starts driving op; done(userdata, r, err) follows from the loop (never from here). On failure the op is
 * still the caller's. */
static int op_run_start(op_run *o, agent *a, lc_op *op, op_done_fn done, void *userdata, kc_error *err) {
	*o = (op_run){ .agent = a, .op = op, .done = done, .userdata = userdata };
	ev_timer_init(&o->timer, a->loop, op_run_timer, o);
	int r = op_run_arm(o, err);
	if (r < 0) {
		op_run_stop(o);
		o->op = NULL;
	}
	return r;
}

/* done() may free o. */
static void op_run_step(op_run *o) {
	kc_error err = { 0 };
	op_run_stop(o);
	int r = lc_op_step(o->op, &err);
	if (r == -EAGAIN) {
		r = op_run_arm(o, &err);
		if (r >= 0)
			return;
		op_run_stop(o);
	}
	o->done(o->userdata, r, &err);
}

container_registry *ctr_registry(agent *a) {
	if (!a->containers) {
		a->containers = calloc(1, sizeof(container_registry));
		if (a->containers)
			a->containers->pidns_fd = -1;
	}
	return a->containers;
}

static void pidns_forget(container_registry *reg) {
	reg->pidns_fd = safe_close(reg->pidns_fd);
	reg->pidns_owner = mfree(reg->pidns_owner);
}

unsigned containers_count(const agent *a) {
	return a->containers ? a->containers->n : 0;
}

void containers_foreach(agent *a, void (*fn)(const char *id, lc_instance *inst, void *userdata), void *userdata) {
	for (ctr *c = a->containers ? a->containers->head : NULL; c; c = c->next)
		fn(c->id, c->inst, userdata);
}

static ctr *ctr_find(agent *a, const char *id) {
	for (ctr *c = a->containers ? a->containers->head : NULL; c; c = c->next)
		if (streq(c->id, id))
			return c;
	return NULL;
}

/* A container that RemoveContainer is taking down is already gone for every other call. */
int ctr_get(agent *a, const char *id, ctr **ret, kc_error *err) {
	ctr *c = ctr_find(a, id ? id : "");
	if (!c || c->removing || c->finishing)
		return kc_error_set(err, ENOENT, "container `%s` not found", id ? id : "");
	*ret = c;
	return 0;
}

/* An empty exec_id (and the container's own id) is the init, as upstream resolves it. */
static int proc_get(agent *a, const char *cid, const char *eid, ctr **ret_c, proc **ret_p, kc_error *err) {
	ctr *c;
	int r = ctr_get(a, cid, &c, err);
	if (r < 0)
		return r;
	for (proc *p = c->procs; p; p = p->next)
		if ((!eid || !*eid) ? p->init : streq(p->exec_id, eid)) {
			if (ret_c)
				*ret_c = c;
			*ret_p = p;
			return 0;
		}
	return kc_error_set(err, ENOENT, "process `%s` not found in container `%s`", eid, cid);
}

static int check_id(const char *id, const char *field, kc_error *err) {
	size_t n = id ? strlen(id) : 0;
	if (n == 0)
		return kc_error_set(err, EINVAL, "%s: missing", field);
	if (n > CONTAINER_ID_MAX)
		return kc_error_set(err, EINVAL, "%s: longer than %d bytes", field, CONTAINER_ID_MAX);
	for (const char *s = id; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      ((*s == '_' || *s == '.' || *s == '-') && s != id)))
			return kc_error_set(err, EINVAL, "%s: `%s` has characters other than [A-Za-z0-9_.-]", field, id);
	return 0;
}

/* ---- processes ---- */

static void proc_free(proc *p) {
	for (waiter *w; (w = p->waiters);) {
		p->waiters = w->next;
		ttrpc_call *call = w->call;
		free(w);
		ttrpc_call_fail(call, KC_NOT_FOUND, "process `%s` was removed before it exited", p->exec_id);
	}
	if (!p->exited)
		child_unwatch(p->c->agent, p->pid); /* reaped as an orphan */
	ev_timer_disarm(&p->gc);
	p->out = stream_reader_free(p->out);
	p->err = stream_reader_free(p->err);
	p->in = stream_writer_free(p->in);
	(void)safe_close(p->pidfd);
	free(p->exec_id);
	free(p);
}

static void proc_unlink(proc *p) {
	ctr *c = p->c;
	for (proc **pp = &c->procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			c->n_procs--;
			return;
		}
}

/* An exec'd process is forgotten once it exited, was waited for, and the host read both outputs to EOF. */
static bool proc_done(const proc *p) {
	return !p->init && p->exited && p->waited && (!p->out || stream_reader_eof(p->out)) &&
	       (!p->err || stream_reader_eof(p->err));
}

static void proc_gc(ev_timer *t, void *userdata) {
	proc *p = userdata;
	if (!proc_done(p))
		return;
	proc_unlink(p);
	proc_free(p);
}

static void proc_gc_soon(proc *p) {
	if (proc_done(p))
		(void)ev_timer_arm(&p->gc, now_ns());
}

static void reply_status(ttrpc_call *call, int status) {
	Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;
	resp.status = status;
	ttrpc_call_reply(call, &resp.base);
}

static void ctr_finish_start(ctr *c);
static void ctr_bury(ctr *c);
static void remove_timeout(ev_timer *t, void *userdata);
static void cg_retry(ev_timer *t, void *userdata);

static bool ctr_all_exited(const ctr *c) {
	for (const proc *p = c->procs; p; p = p->next)
		if (!p->exited)
			return false;
	return true;
}

static void proc_exited(pid_t pid, int status, void *userdata) {
	proc *p = userdata;
	p->exited = true;
	p->status = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
	log_debug("container %s process %s (pid %d) exited: %d", p->c->id, p->exec_id, (int)pid, p->status);
	if (p->out)
		stream_reader_process_exited(p->out);
	if (p->err)
		stream_reader_process_exited(p->err);
	for (waiter *w; (w = p->waiters);) {
		p->waiters = w->next;
		ttrpc_call *call = w->call;
		free(w);
		p->waited = true;
		reply_status(call, p->status);
	}
	ctr *c = p->c;
	if (p->init)
		ctr_oom_poll(c);
	if (c->removing || c->buried) {
		if (!c->finishing && ctr_all_exited(c))
			ctr_finish_start(c);
		return;
	}
	proc_gc_soon(p);
}

static void stream_eof_hook(proc *p) {
	proc_gc_soon(p);
}

/* The process's stdio in the agent: the pty master, or the agent's ends of the three pipes. child_fds get the
 * process's ends (or the console socket for a terminal). */
typedef struct stdio_setup {
	int fds[3];       /* the process's 0, 1, 2 */
	int ours[3];      /* stdin writer, stdout reader, stderr reader */
	int console[2];   /* [0] ours, [1] the child's */
} stdio_setup;

static void stdio_setup_done(stdio_setup *s) {
	for (int i = 0; i < 3; i++) {
		s->fds[i] = safe_close(s->fds[i]);
		s->ours[i] = safe_close(s->ours[i]);
	}
	s->console[0] = safe_close(s->console[0]);
	s->console[1] = safe_close(s->console[1]);
}

static int stdio_prepare(const agent *a, bool tty, stdio_setup *s, kc_error *err) {
	*s = (stdio_setup){ .fds = { -1, -1, -1 }, .ours = { -1, -1, -1 }, .console = { -1, -1 } };
	if (tty) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->console) < 0)
			return kc_error_set(err, errno, "console socket: %m");
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		int pfd[2];
		if (pipe2(pfd, O_CLOEXEC) < 0) {
			stdio_setup_done(s);
			return kc_error_set(err, errno, "stdio pipe: %m");
		}
		/* stdin: the process reads; stdout and stderr: the process writes. */
		s->fds[i] = i == 0 ? pfd[0] : pfd[1];
		s->ours[i] = i == 0 ? pfd[1] : pfd[0];
		/* agent.container_pipe_size, as upstream applies it; the kernel's default when unset or refused. */
		if (a->cfg.container_pipe_size && fcntl(pfd[0], F_SETPIPE_SZ, (int)a->cfg.container_pipe_size) < 0)
			log_debug("F_SETPIPE_SZ %u: %m", a->cfg.container_pipe_size);
	}
	return 0;
}

static void on_reader_eof(void *userdata) {
	stream_eof_hook(userdata);
}

/* After the spawn: the process's ends are closed (so EOF works), ours become streams. */
static int proc_attach_stdio(agent *a, proc *p, stdio_setup *s, kc_error *err) {
	int r;
	for (int i = 0; i < 3; i++)
		s->fds[i] = safe_close(s->fds[i]);
	s->console[1] = safe_close(s->console[1]);
	if (p->tty) {
		int master = -1;
		r = lc_console_recv_master(s->console[0], &master, err);
		if (r < 0)
			return r;
		int dup_in = fcntl(master, F_DUPFD_CLOEXEC, 3);
		if (dup_in < 0) {
			safe_close(master);
			return kc_error_set(err, errno, "dup the pty master: %m");
		}
		p->tty_fd = master;
		r = stream_reader_new(a, master, true, on_reader_eof, p, &p->out);
		if (r < 0) {
			safe_close(master);
			safe_close(dup_in);
			return kc_error_set(err, -r, "stdout stream: %s", strerror(-r));
		}
		r = stream_writer_new(a, dup_in, true, &p->in);
		if (r < 0) {
			safe_close(dup_in);
			return kc_error_set(err, -r, "stdin stream: %s", strerror(-r));
		}
		return 0;
	}
	r = stream_writer_new(a, s->ours[0], false, &p->in);
	if (r >= 0) {
		s->ours[0] = -1;
		r = stream_reader_new(a, s->ours[1], false, on_reader_eof, p, &p->out);
	}
	if (r >= 0) {
		s->ours[1] = -1;
		r = stream_reader_new(a, s->ours[2], false, on_reader_eof, p, &p->err);
	}
	if (r >= 0)
		s->ours[2] = -1;
	if (r < 0)
		return kc_error_set(err, -r, "stdio streams: %s", strerror(-r));
	return 0;
}

static proc *proc_new(ctr *c, const char *exec_id, bool tty) {
	proc *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->exec_id = strdup(exec_id);
	if (!p->exec_id) {
		free(p);
		return NULL;
	}
	p->c = c;
	p->pidfd = -1;
	p->tty_fd = -1;
	p->tty = tty;
	ev_timer_init(&p->gc, c->agent->loop, proc_gc, p);
	return p;
}

/* An ExecProcess whose process is cloned but has not exec'd yet: its record joins the container's processes
 * once the exec operation ends well. */
struct exec_job {
	ctr *c;
	proc *p;
	ttrpc_call *call; /* NULL once cancelled */
	op_run run;
	stdio_setup st; /* attached once the process has exec'd: a terminal's master comes before the exec */
	exec_job *next;
};

static void exec_job_unlink(exec_job *j) {
	for (exec_job **pp = &j->c->execs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			j->c->n_execs--;
			return;
		}
}

/* The process is SIGKILLed by the op and reaped as an orphan; the call (if any) fails with why. */
static void exec_job_abort(exec_job *j, const char *why) {
	exec_job_unlink(j);
	op_run_abort(&j->run);
	stdio_setup_done(&j->st);
	proc_free(j->p);
	if (j->call)
		ttrpc_call_fail(j->call, KC_UNAVAILABLE, "exec in container `%s`: %s", j->c->id, why);
	free(j);
}

static void ctr_execs_abort(ctr *c, const char *why) {
	while (c->execs)
		exec_job_abort(c->execs, why);
}

/* ---- containers ---- */

static void ctr_free(ctr *c) {
	if (!c)
		return;
	ctr_execs_abort(c, "the container is gone");
	ev_timer_disarm(&c->cg_timer);
	for (proc *p; (p = c->procs);) {
		c->procs = p->next;
		proc_free(p);
	}
	ev_timer_disarm(&c->remove_timer);
	ctr_oom_unwatch(c);
	c->inst = lc_instance_free(c->inst);
	for (size_t i = 0; i < c->n_storage_keys; i++)
		free(c->storage_keys[i]);
	free(c->storage_keys);
	ctr_mem_free(c->mem);
	free(c->id);
	free(c);
}

/* The agent owns its cgroup parent. The first container's open made it, but the last container to go is not
 * always that one (lc_cgroup_destroy removes only the ancestors its own open created), so the parent goes when
 * no container is left. Something still inside keeps it (rmdir fails, once). */
static void cgroup_parent_cleanup(void) {
	_cleanup_(lc_cgroup_layout_freep) lc_cgroup_layout *l = NULL;
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;
	if (lc_cgroup_layout_detect(NULL, &l, NULL) < 0 || lc_cgroup_open(l, CONTAINER_CGROUP_PARENT, 0, &cg, NULL) < 0)
		return;
	(void)lc_cgroup_destroy(cg, 0, NULL);
}

static void ctr_unlink(ctr *c) {
	container_registry *reg = c->agent->containers;
	for (ctr **pp = &reg->head; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			if (reg->pidns_owner && streq(reg->pidns_owner, c->id))
				pidns_forget(reg);
			if (--reg->n == 0)
				cgroup_parent_cleanup();
			return;
		}
}

/* The sandbox's namespace file when CreateSandbox made it; NULL: the agent's own namespace is the shared one. */
static const char *sandbox_ns(const char *path) {
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? path : NULL;
}

/* The guest rewrite of the namespaces (see the top of this file). The spec's strings live in its arena; the
 * sandbox paths are literals, which lc_spec_free never frees. */
static void rewrite_namespaces(lc_spec *spec, const char *pidns_path, bool *ret_uts_joined) {
	lc_spec_linux *l = spec->linux;
	size_t n = 0;
	*ret_uts_joined = false;
	for (size_t i = 0; l && i < l->n_namespaces; i++) {
		lc_spec_namespace ns = l->namespaces[i];
		const char *t = ns.type ? ns.type : "";
		if (streq(t, "network"))
			continue;
		if (streq(t, "pid") && pidns_path)
			ns.path = (char *)pidns_path;
		if (streq(t, "ipc") || streq(t, "uts")) {
			const char *path = sandbox_ns(streq(t, "ipc") ? SANDBOX_NS_IPC : SANDBOX_NS_UTS);
			if (!path)
				continue;
			ns.path = (char *)path;
			if (streq(t, "uts"))
				*ret_uts_joined = true;
		}
		l->namespaces[n++] = ns;
	}
	if (l)
		l->n_namespaces = n;
}

/* root.path must lie under /run/kata-containers and is resolved inside it. The init needs a path, not an fd: an
 * fd opened here names a mount of the agent's namespace, which the init's new mount namespace cannot bind. So
 * the result is the path the resolution inside the root arrived at (a symlink in the host's string cannot lead
 * out), checked to be under the root still. */
static int resolve_rootfs(const lc_spec *spec, char ret[PATH_MAX], kc_error *err) {
	_cleanup_close_ int fd = -1;
	char fdpath[PATH_FD_PATH_MAX];
	const char *rel;

	if (!spec->root || !spec->root->path || !*spec->root->path)
		return kc_error_set(err, EINVAL, "OCI.Root.Path: missing");
	int r = path_check_under(spec->root->path, STOR_ROOT_PREFIX, &rel, "OCI.Root.Path", err);
	if (r < 0)
		return r;
	_cleanup_close_ int root = open(STOR_ROOT, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0)
		return kc_error_set(err, errno, "OCI.Root.Path: open %s: %m", STOR_ROOT);
	r = path_open_in_root(root, rel, O_PATH | O_DIRECTORY, 0, 0, &fd, NULL);
	if (r < 0)
		return kc_error_set(err, -r, "OCI.Root.Path: `%s`: %s", spec->root->path, strerror(-r));
	path_fd_path(fd, fdpath);
	ssize_t n = readlink(fdpath, ret, PATH_MAX - 1);
	if (n <= 0 || n >= PATH_MAX - 1)
		return kc_error_set(err, n < 0 ? errno : ENAMETOOLONG, "OCI.Root.Path: cannot name the resolved root");
	ret[n] = '\0';
	if (!startswith(ret, STOR_ROOT_PREFIX))
		return kc_error_set(err, EINVAL, "OCI.Root.Path: resolves to `%s`, outside %s", ret, STOR_ROOT);
	return 0;
}

/* What the create needs of the request once its devices and storages are there. */
typedef struct create_args {
	const char *id;
	bool sandbox_pidns;
} create_args;

/* What a create in progress holds until its operation ends: lc_instance_create_begin wants the root path and
 * the init's stdio kept until then. */
typedef struct create_run {
	ctr *c;
	op_run run;
	stdio_setup st;
	char rootfs[PATH_MAX];
	bool own_pidns; /* the first container: it defines the sandbox's pid namespace */
} create_run;

/* The op is over or abandoned: a container whose create failed is killed and buried (its init is collected
 * by the reaper, then its cgroup goes). */
static void create_run_end(create_run *cr, bool failed) {
	if (!cr->c)
		return; /* nothing begun, or over already */
	op_run_abort(&cr->run);
	stdio_setup_done(&cr->st);
	if (failed && cr->c) {
		if (cr->c->inst)
			ctr_bury(cr->c);
		else
			ctr_free(cr->c);
	}
	cr->c = NULL;
}

/* Builds the container from the rewritten spec (it takes the spec's reference) and begins its create; the
 * loop drives the rest (create_op_done). On failure nothing is left but a buried init. */
static int create_begin(agent *a, const create_args *args, lc_spec *spec_in, create_run *cr, op_done_fn done,
			void *userdata, kc_error *err) {
	_cleanup_(lc_spec_freep) lc_spec *spec = spec_in;
	_cleanup_(lc_config_freep) lc_config *cfg = NULL;
	bool uts_joined;
	lc_op *op = NULL;
	int r;

	container_registry *reg = ctr_registry(a);
	if (!reg)
		return kc_error_set(err, ENOMEM, "out of memory");
	const char *pidns_path = NULL;
	if (args->sandbox_pidns && reg->pidns_fd >= 0)
		pidns_path = reg->pidns_path;
	else if (args->sandbox_pidns && reg->n > 0)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ESRCH,
					 "sandbox_pidns: the sandbox has no pid namespace (its first container is gone)");
	cr->own_pidns = !pidns_path;
	r = resolve_rootfs(spec, cr->rootfs, err);
	if (r < 0)
		return r;
	rewrite_namespaces(spec, pidns_path, &uts_joined);
	lc_specconv_opts opts = { .shared_ns = LC_NS_BIT(LC_NS_NET) | LC_NS_BIT(LC_NS_IPC) | LC_NS_BIT(LC_NS_UTS) };
	r = lc_config_from_spec(spec, &opts, &cfg, err);
	if (r < 0)
		return kc_error_prefix(err, "OCI");
	if (uts_joined)
		cfg->hostname = cfg->domainname = NULL;

	ctr *c = calloc(1, sizeof *c);
	if (!c || !(c->id = strdup(args->id))) {
		free(c);
		return kc_error_set(err, ENOMEM, "out of memory");
	}
	c->agent = a;
	ev_timer_init(&c->remove_timer, a->loop, remove_timeout, c);
	ev_timer_init(&c->cg_timer, a->loop, cg_retry, c);
	bool tty = cfg->process && cfg->process->terminal;
	proc *p = proc_new(c, c->id, tty);
	if (!p) {
		ctr_free(c);
		return kc_error_set(err, ENOMEM, "out of memory");
	}
	p->init = true;
	c->procs = p;
	c->n_procs = 1;
	cr->c = c;

	r = stdio_prepare(a, tty, &cr->st, err);
	if (r < 0) {
		create_run_end(cr, true);
		return r;
	}
	lc_instance_opts o = {
		.id = c->id,
		.rootfs = cr->rootfs,
		.cgroup_parent = CONTAINER_CGROUP_PARENT,
		.stdio = cr->st.fds,
		.console_sock_fd = cr->st.console[1],
	};
	r = lc_instance_create_begin(cfg, &o, &c->inst, &op, err);
	if (r >= 0)
		TAKE_PTR(cfg); /* the instance's now */
	if (c->inst) {
		/* Cloned: the init is the reaper's from now on, whatever follows. */
		p->pid = lc_instance_pid(c->inst);
		int r2 = child_watch(a, p->pid, proc_exited, p);
		if (r2 < 0) {
			p->exited = true; /* reaped as an orphan: nothing to wait for */
			if (r >= 0)
				r = kc_error_set(err, -r2, "watch the init: %s", strerror(-r2));
		}
	}
	if (r >= 0)
		r = op_run_start(&cr->run, a, op, done, userdata, err);
	if (r < 0) {
		(void)lc_op_free(op);
		create_run_end(cr, true);
		return kc_error_prefix(err, "create container `%s`", args->id);
	}
	return 0;
}

/* The create operation ended well: the init's stdio goes into the loop (a terminal's master has been sent by
 * now) and the container joins the table. On failure the container is buried. */
static int create_link(create_run *cr, ctr **ret, kc_error *err) {
	ctr *c = cr->c;
	container_registry *reg = c->agent->containers;
	proc *p = c->procs;
	int r = proc_attach_stdio(c->agent, p, &cr->st, err);
	create_run_end(cr, r < 0);
	if (r < 0)
		return r;
	/* The first container defines the sandbox's pid namespace (upstream: the pause container's). */
	if (reg->pidns_fd < 0 && cr->own_pidns) {
		char path[64];
		(void)snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)p->pid);
		reg->pidns_fd = open(path, O_RDONLY | O_CLOEXEC);
		reg->pidns_owner = reg->pidns_fd >= 0 ? strdup(c->id) : NULL;
		if (reg->pidns_fd >= 0 && !reg->pidns_owner)
			reg->pidns_fd = safe_close(reg->pidns_fd);
		if (reg->pidns_fd >= 0)
			(void)snprintf(reg->pidns_path, sizeof reg->pidns_path, "/proc/self/fd/%d", reg->pidns_fd);
	}
	c->next = reg->head;
	reg->head = c;
	reg->n++;
	log_info("container %s created (init pid %d)", c->id, (int)p->pid);
	*ret = c;
	return 0;
}

/* ---- CreateContainer with storages and devices: a pending call ----
 * The devices of the container and of its block storages are awaited in the loop under one hotplug deadline;
 * the handlers' spec rewrite follows; the new storages are mounted by a helper (storage-batch.h); then the
 * container is created as without them. A failure after a mount undoes the mounts (a second helper) before
 * the answer; a cancelled call has its mounts undone the same way. References are recorded only for a
 * container that exists. */

struct create_job {
	agent *agent;
	ttrpc_call *call; /* NULL once cancelled or answered */
	create_args args;
	char *id;
	lc_spec *spec;
	ctr_mem *mem;
	storage_batch *storages;
	ctr_devices *devices;
	devices_batch *wait;
	create_run cr; /* the create operation, once devices and storages are there */
	kc_error failure; /* the answer, while the undo helper runs */
	create_job *next;
};

static create_job *create_job_free(create_job *j) {
	if (!j)
		return NULL;
	container_registry *reg = j->agent->containers;
	for (create_job **pp = reg ? &reg->creating : NULL; pp && *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			reg->n_creating--;
			break;
		}
	create_run_end(&j->cr, true);
	if (j->storages) {
		storage_batch_leave(j->storages);
		/* Held references of a request refused in its handler; the failure paths gave theirs back already. */
		storage_batch_release(j->storages);
		if (storage_batch_any_mounted(j->storages))
			log_error("CreateContainer %s: a storage stays mounted", j->id);
	}
	devices_batch_free(j->wait);
	storage_batch_free(j->storages);
	ctr_devices_free(j->devices);
	lc_spec_free(j->spec);
	ctr_mem_free(j->mem);
	free(j->id);
	free(j);
	return NULL;
}
DEFINE_CLEANUP_FUNC(create_job *, create_job_free);

static bool creating(agent *a, const char *id) {
	for (create_job *j = a->containers ? a->containers->creating : NULL; j; j = j->next)
		if (streq(j->id, id))
			return true;
	return false;
}

static int mount_work(void *userdata, const stor_root *root, kc_error *err) {
	create_job *j = userdata;
	int r = storage_batch_mount(j->agent, j->storages, root, err);
	if (r < 0)
		(void)storage_batch_undo(j->storages, root, NULL);
	return r;
}

static int undo_work(void *userdata, const stor_root *root, kc_error *err) {
	create_job *j = userdata;
	return storage_batch_undo(j->storages, root, err);
}

static void job_answer_failure(create_job *j) {
	if (j->call) {
		log_error("CreateContainer %s: %s", j->id, j->failure.msg);
		ttrpc_call_fail_error(j->call, &j->failure);
	}
	create_job_free(j);
}

static void undo_done(int result, const kc_error *err, void *userdata) {
	create_job *j = userdata;
	if (result < 0)
		log_error("CreateContainer %s: undo the storages: %s", j->id, err->msg);
	job_answer_failure(j);
}

/* Answers with err once nothing of the job is mounted any more. */
static void job_fail(create_job *j, const kc_error *err) {
	j->failure = *err;
	if (j->storages)
		storage_batch_release(j->storages);
	if (j->storages && storage_batch_any_mounted(j->storages) &&
	    storage_helper_run(j->agent, "CreateContainer undo", undo_work, j, CREATE_UNDO_TIMEOUT_MS, undo_done, j) > 0)
		return;
	job_answer_failure(j);
}

static void create_op_done(void *userdata, int r, kc_error *err);

/* Begins the container's create from the job's spec; create_op_done follows from the loop. */
static int job_create(create_job *j, kc_error *err) {
	return create_begin(j->agent, &j->args, TAKE_PTR(j->spec), &j->cr, create_op_done, j, err);
}

/* The container exists: it joins the table and takes its storages' references. */
static int job_created(create_job *j, kc_error *err) {
	size_t n = j->storages ? j->storages->n : 0;
	_cleanup_free_ char **keys = NULL;
	/* Before the container joins the table: a failure here still undoes the mounts. */
	if (n && !(keys = calloc(n, sizeof *keys)))
		return kc_error_set(err, ENOMEM, "out of memory for the storage references");
	ctr *c;
	int r = create_link(&j->cr, &c, err);
	if (r < 0)
		return r;
	c->mem = TAKE_PTR(j->mem);
	if (n) {
		storage_batch_commit(j->storages);
		c->storage_keys = TAKE_PTR(keys);
		for (size_t i = 0; i < n; i++)
			c->storage_keys[c->n_storage_keys++] = TAKE_PTR(j->storages->keys[i]);
	}
	return 0;
}

static void create_op_done(void *userdata, int r, kc_error *err) {
	create_job *j = userdata;
	if (r >= 0)
		r = job_created(j, err);
	if (r < 0) {
		create_run_end(&j->cr, true);
		(void)kc_error_prefix(err, "create container `%s`", j->id);
		job_fail(j, err);
		return;
	}
	reply_empty(j->call);
	j->call = NULL;
	create_job_free(j);
}

static void job_finish(create_job *j) {
	kc_error err = { 0 };
	if (!j->call) {
		(void)kc_error_set(&err, ECANCELED, "the call went away");
		job_fail(j, &err);
		return;
	}
	if (job_create(j, &err) < 0)
		job_fail(j, &err);
}

static void mount_done(int result, const kc_error *err, void *userdata) {
	create_job *j = userdata;
	if (result < 0) {
		job_fail(j, err); /* the helper undid its own mounts */
		return;
	}
	job_finish(j);
}

static int start_mount_helper(create_job *j, kc_error *err) {
	int r = storage_helper_run(j->agent, "CreateContainer storages", mount_work, j, CREATE_MOUNT_TIMEOUT_MS,
				   mount_done, j);
	if (r < 0)
		return kc_error_set(err, -r, "storages: cannot start a helper: %s", strerror(-r));
	storage_batch_drop_request(j->storages); /* the helper has its copy; the call may go */
	return 0;
}

/* The unmounts of earlier requests that were in the way are done. */
static void job_unmounts_done(storage_batch *b, void *userdata) {
	create_job *j = userdata;
	kc_error e = { 0 };
	if (start_mount_helper(j, &e) < 0)
		job_fail(j, &e);
}

/* The devices are there: the spec rewrite, then the mounts, once no unmount of an earlier request is in their
 * way. Returns 1 when a helper mounts or will (mount_done follows), 0 when there is nothing to mount, -errno
 * with err filled (nothing mounted). */
static int job_after_devices(create_job *j, kc_error *err) {
	int r = 0;
	bool mounts = false;
	if (j->storages)
		storage_batch_devices_found(j->storages);
	if (j->devices)
		r = ctr_devices_apply(j->devices, j->spec, &j->mem, err);
	for (size_t i = 0; j->storages && i < j->storages->n; i++)
		mounts |= j->storages->to_mount[i];
	/* The waits are over; the batch keeps the device nodes for its helper. */
	j->wait = devices_batch_free(j->wait);
	if (r < 0)
		return r;
	if (!mounts)
		return 0;
	if (storage_batch_wait_unmounts(j->storages, job_unmounts_done, j) > 0)
		return 1;
	r = start_mount_helper(j, err);
	return r < 0 ? r : 1;
}

static void job_devices_ready(int result, const kc_error *err, void *userdata) {
	create_job *j = userdata;
	kc_error e = { 0 };
	if (result < 0) {
		j->wait = devices_batch_free(j->wait);
		job_fail(j, err);
		return;
	}
	int r = job_after_devices(j, &e);
	if (r < 0)
		job_fail(j, &e);
	else if (r == 0)
		job_finish(j);
}

/* The job stops wherever it is: a device wait ends, a create operation is aborted (its init killed and
 * buried), a mount helper's mounts are undone once it is done (job_finish sees no call). The call, if it is
 * still there, fails with code and why. */
static void create_job_abort(create_job *j, int code, const char *why) {
	kc_error e = { 0 };
	if (j->call)
		ttrpc_call_fail(j->call, code, "container `%s`: %s", j->id, why);
	j->call = NULL;
	(void)kc_error_set(&e, ECANCELED, "%s", why);
	if (j->wait || storage_batch_waiting(j->storages)) {
		/* Nothing of ours is mounted yet, but held references go back. */
		j->wait = devices_batch_free(j->wait);
		storage_batch_stop_waiting(j->storages);
		job_fail(j, &e);
	} else if (j->cr.c) {
		create_run_end(&j->cr, true);
		job_fail(j, &e);
	}
}

static void create_cancel(ttrpc_call *call, void *userdata) {
	create_job *j = userdata;
	j->call = NULL;
	create_job_abort(j, KC_CANCELLED, "the call went away");
}

static int create_container(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__CreateContainerRequest *req = (const Grpc__CreateContainerRequest *)req_;
	_cleanup_(create_job_freep) create_job *j = NULL;
	int r;

	r = check_id(req->container_id, "container_id", err);
	if (r < 0)
		return r;
	if (ctr_find(a, req->container_id) || creating(a, req->container_id))
		return kc_error_set(err, EEXIST, "container `%s` already exists", req->container_id);
	if (sandbox_destroying(a))
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY, "container `%s`: the sandbox is being destroyed",
					 req->container_id);
	container_registry *reg = ctr_registry(a);
	if (!reg)
		return kc_error_set(err, ENOMEM, "out of memory");
	if (reg->n + reg->n_creating >= CONTAINERS_MAX)
		return kc_error_set(err, EAGAIN, "%d containers already exist", CONTAINERS_MAX);
	if (!req->oci)
		return kc_error_set(err, EINVAL, "OCI: missing");
	if (req->sandbox_pidns && reg->pidns_fd < 0 && reg->n > 0)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ESRCH,
					 "sandbox_pidns: the sandbox has no pid namespace (its first container is gone)");
	if (req->stdin_port || req->stdout_port || req->stderr_port)
		return kc_error_set(err, EOPNOTSUPP, "stdin_port: passfd stdio is not supported");

	j = calloc(1, sizeof *j);
	if (!j || !(j->id = strdup(req->container_id)))
		return kc_error_set(err, ENOMEM, "out of memory");
	j->agent = a;
	j->args = (create_args){ .id = j->id, .sandbox_pidns = req->sandbox_pidns };
	r = lc_spec_from_proto(req->oci, &j->spec, err);
	if (r < 0)
		return kc_error_prefix(err, "OCI");
	r = ctr_guest_hooks_append(sandbox_guest_hook_path(a), j->spec, &j->mem, err);
	if (r < 0)
		return r;
	storage_batch **inflight = NULL;
	stor_registry *storages = sandbox_storages(a, &inflight);
	if (!storages)
		return kc_error_set(err, ENOMEM, "out of memory");
	if (req->n_storages) {
		r = storage_batch_new(a, storages, inflight, j->id, req->storages, req->n_storages, CONTAINER_STORAGES_MAX,
				      &j->storages, err);
		if (r < 0)
			return r;
	}
	if (req->n_devices) {
		r = ctr_devices_prepare(a, req->devices, req->n_devices, j->spec, &j->devices, err);
		if (r < 0)
			return r;
	}
	device_want **dev_wants = NULL, *wants[CONTAINER_STORAGES_MAX + CTR_DEVICES_MAX * CTR_VFIO_FUNCTIONS_MAX];
	size_t n_dev = 0, n = 0;
	if (j->devices)
		ctr_devices_wants(j->devices, &dev_wants, &n_dev);
	for (size_t i = 0; i < n_dev; i++)
		wants[n++] = dev_wants[i];
	for (size_t i = 0; j->storages && i < j->storages->n_wants; i++)
		wants[n++] = &j->storages->wants[i];
	j->call = call;
	j->next = reg->creating;
	reg->creating = j;
	reg->n_creating++;
	if (j->storages)
		storage_batch_join(j->storages);
	ttrpc_call_on_cancel(call, create_cancel, j);
	r = n ? devices_wait(a, wants, n, job_devices_ready, j, &j->wait, err) : 0;
	if (r == 0) {
		/* Every device is there already: unless a helper mounts, the create begins now. */
		r = job_after_devices(j, err);
		if (r == 0)
			r = job_create(j, err);
	}
	if (r < 0) {
		j->call = NULL;
		return r; /* the cleanup frees the job: nothing is mounted */
	}
	TAKE_PTR(j);
	return TTRPC_PENDING;
}


static int start_container(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__StartContainerRequest *req = (const Grpc__StartContainerRequest *)req_;
	ctr *c;
	int r = ctr_get(ctx, req->container_id, &c, err);
	if (r < 0)
		return r;
	r = lc_instance_start(c->inst, err);
	if (r < 0)
		return r;
	ctr_oom_watch(c);
	ctr_hooks_run(c->agent, lc_instance_config(c->inst), LC_HOOK_POSTSTART, c->id, lc_instance_pid(c->inst), "running");
	reply_empty(call);
	return 0;
}

/* ---- exec ---- */

/* The process of an ExecProcess request as an lc_process_config: read through the same spec reader and
 * validation as a container's process, inside a spec that has only it. */
static int exec_process_config(const Grpc__Process *proto, lc_spec **ret_spec, lc_config **ret_cfg, kc_error *err) {
	Grpc__Spec s = GRPC__SPEC__INIT;
	Grpc__Root root = GRPC__ROOT__INIT;
	root.path = (char *)"/";
	s.process = (Grpc__Process *)proto;
	s.root = &root;
	int r = lc_spec_from_proto(&s, ret_spec, err);
	if (r < 0)
		return kc_error_prefix(err, "process");
	lc_specconv_opts opts = { .shared_ns = ~0u };
	r = lc_config_from_spec(*ret_spec, &opts, ret_cfg, err);
	if (r < 0)
		return r;
	return 0;
}

/* The process has exec'd (it joins the container's processes) or failed (it exits by itself, or was killed at
 * the deadline, and is reaped as an orphan). */
static void exec_op_done(void *userdata, int r, kc_error *err) {
	exec_job *j = userdata;
	ctr *c = j->c;
	proc *p = j->p;
	exec_job_unlink(j);
	lc_op_take_child(j->run.op, &p->pid, &p->pidfd);
	j->run.op = lc_op_free(j->run.op);
	if (r >= 0)
		r = proc_attach_stdio(c->agent, p, &j->st, err);
	stdio_setup_done(&j->st);
	ttrpc_call *call = j->call;
	free(j);
	if (r < 0) {
		(void)lc_pidfd_send_signal(p->pidfd, SIGKILL); /* reaped as an orphan */
		proc_free(p);
		(void)kc_error_prefix(err, "exec in container `%s`", c->id);
		ttrpc_call_fail_error(call, err);
		return;
	}
	p->next = c->procs->next; /* the init stays first */
	c->procs->next = p;
	c->n_procs++;
	proc_gc_soon(p);
	reply_empty(call);
}

static void exec_cancel(ttrpc_call *call, void *userdata) {
	exec_job *j = userdata;
	j->call = NULL;
	exec_job_abort(j, "the call went away");
}

static int exec_process(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__ExecProcessRequest *req = (const Grpc__ExecProcessRequest *)req_;
	_cleanup_(lc_spec_freep) lc_spec *spec = NULL;
	_cleanup_(lc_config_freep) lc_config *cfg = NULL;
	ctr *c;
	int r;

	r = ctr_get(a, req->container_id, &c, err);
	if (r < 0)
		return r;
	r = check_id(req->exec_id, "exec_id", err);
	if (r < 0)
		return r;
	for (proc *q = c->procs; q; q = q->next)
		if (streq(q->exec_id, req->exec_id))
			return kc_error_set(err, EEXIST, "process `%s` already exists in container `%s`", req->exec_id, c->id);
	for (exec_job *q = c->execs; q; q = q->next)
		if (streq(q->p->exec_id, req->exec_id))
			return kc_error_set(err, EEXIST, "process `%s` already exists in container `%s`", req->exec_id, c->id);
	if (c->n_procs + c->n_execs >= CONTAINER_PROCESSES_MAX)
		return kc_error_set(err, EAGAIN, "container `%s` has %d processes", c->id, CONTAINER_PROCESSES_MAX);
	if (!req->process)
		return kc_error_set(err, EINVAL, "process: missing");
	if (!lc_instance_started(c->inst) || c->procs->exited)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ESRCH, "container `%s` is not running", c->id);
	/* The exec helper would freeze on its first step in the container's cgroup. */
	if (c->paused)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY, "container `%s` is paused", c->id);
	r = exec_process_config(req->process, &spec, &cfg, err);
	if (r < 0)
		return r;

	bool tty = cfg->process->terminal;
	proc *p = proc_new(c, req->exec_id, tty);
	if (!p)
		return kc_error_set(err, ENOMEM, "out of memory");
	stdio_setup st;
	r = stdio_prepare(a, tty, &st, err);
	if (r < 0) {
		proc_free(p);
		return r;
	}
	lc_instance_exec_opts o = { .process = cfg->process, .stdio = st.fds, .console_sock_fd = st.console[1] };
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	r = lc_instance_exec_begin(c->inst, &o, &op, err);
	if (r < 0) {
		/* A process that was cloned but failed to exec is reaped as an orphan. */
		stdio_setup_done(&st);
		p->exited = true;
		proc_free(p);
		return kc_error_prefix(err, "exec in container `%s`", c->id);
	}
	/* The process is the reaper's from the clone on; the op keeps its pidfd until it ends. */
	lc_op_child(op, &p->pid, &(int){ -1 });
	r = child_watch(a, p->pid, proc_exited, p);
	if (r < 0)
		kc_error_set(err, -r, "watch the process: %s", strerror(-r));
	exec_job *j = r >= 0 ? calloc(1, sizeof *j) : NULL;
	if (r >= 0 && !j)
		r = kc_error_set(err, ENOMEM, "out of memory");
	if (r >= 0) {
		*j = (exec_job){ .c = c, .p = p, .call = call, .st = st };
		r = op_run_start(&j->run, a, op, exec_op_done, j, err);
	}
	if (r < 0) {
		free(j);
		stdio_setup_done(&st);
		proc_free(p); /* freeing the op kills the process; the reaper collects it as an orphan */
		return kc_error_prefix(err, "exec in container `%s`", c->id);
	}
	TAKE_PTR(op);
	j->next = c->execs;
	c->execs = j;
	c->n_execs++;
	ttrpc_call_on_cancel(call, exec_cancel, j);
	return TTRPC_PENDING;
}

/* ---- signals and waits ---- */

/* Does the process catch sig? /proc/PID/status SigCgt is a hex mask of the caught signals. */
static bool catches_signal(pid_t pid, int sig) {
	char path[64];
	_cleanup_free_ char *text = NULL;
	(void)snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (read_file_capped(AT_FDCWD, path, 1 << 16, &text, NULL) < 0)
		return true; /* unknown: leave the signal as it is */
	const char *l = strstr(text, "\nSigCgt:");
	uint64_t mask;
	if (!l)
		return true;
	l += strlen("\nSigCgt:");
	while (*l == ' ' || *l == '\t')
		l++;
	char hex[17];
	size_t n = strspn(l, "0123456789abcdefABCDEF");
	if (n == 0 || n > 16)
		return true;
	memcpy(hex, l, n);
	hex[n] = '\0';
	if (parse_u64(hex, 16, &mask) < 0)
		return true;
	return mask & (1ULL << (sig - 1));
}

static int signal_process(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__SignalProcessRequest *req = (const Grpc__SignalProcessRequest *)req_;
	ctr *c;
	proc *p;
	int sig = (int)req->signal;

	if (req->signal == 0 || req->signal > (uint32_t)SIGRTMAX)
		return kc_error_set(err, EINVAL, "signal: %u is not a signal", req->signal);
	int r = proc_get(a, req->container_id, req->exec_id, &c, &p, err);
	if (r < 0)
		return r;
	bool all = (!req->exec_id || !*req->exec_id) && sig == SIGKILL;
	if (all) {
		r = lc_instance_kill_all(c->inst, SIGKILL, err);
		if (r < 0 && r != -ESRCH)
			return kc_error_prefix(err, "container `%s`", c->id);
	} else if (!p->exited) {
		/* An init without a SIGTERM handler would ignore it (a pid namespace's init only gets the signals it
		 * handles): k8s's pause container is one. Before start the init is ours and has it blocked. */
		if (p->init && sig == SIGTERM && (!lc_instance_started(c->inst) || !catches_signal(p->pid, SIGTERM)))
			sig = SIGKILL;
		int fd = p->init ? lc_instance_pidfd(c->inst) : p->pidfd;
		r = lc_pidfd_send_signal(fd, sig);
		if (r < 0 && r != -ESRCH)
			return kc_error_set(err, -r, "signal %d to process `%s` of container `%s`: %s", sig, p->exec_id,
					    c->id, strerror(-r));
	}
	reply_empty(call);
	return 0;
}

static void waiter_cancel(ttrpc_call *call, void *userdata) {
	waiter *w = userdata;
	for (waiter **pp = &w->p->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	free(w);
}

static int wait_process(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__WaitProcessRequest *req = (const Grpc__WaitProcessRequest *)req_;
	proc *p;
	int r = proc_get(ctx, req->container_id, req->exec_id, NULL, &p, err);
	if (r < 0)
		return r;
	if (p->exited) {
		p->waited = true;
		reply_status(call, p->status);
		proc_gc_soon(p);
		return 0;
	}
	waiter *w = calloc(1, sizeof *w);
	if (!w)
		return kc_error_set(err, ENOMEM, "out of memory");
	w->call = call;
	w->p = p;
	w->next = p->waiters;
	p->waiters = w;
	ttrpc_call_on_cancel(call, waiter_cancel, w);
	return TTRPC_PENDING;
}

/* ---- removal ---- */

/* ---- storages given back ---- */

typedef struct release_job {
	ttrpc_call *call; /* NULL once cancelled */
} release_job;

static void release_done(int result, const kc_error *err, void *userdata) {
	release_job *rj = userdata;
	if (rj->call) {
		if (result < 0)
			ttrpc_call_fail_error(rj->call, err);
		else
			reply_empty(rj->call);
	}
	free(rj);
}

static void release_cancel(ttrpc_call *call, void *userdata) {
	release_job *rj = userdata;
	rj->call = NULL;
}

/* Drops the container's storage references; the ones that were last are unmounted by a helper, which then
 * answers call (when given). Returns 1 when the helper will answer, 0 when the caller answers. */
static int ctr_release_storages(ctr *c, ttrpc_call *call) {
	char what[16 + CONTAINER_ID_MAX];
	release_job *rj = call ? calloc(1, sizeof *rj) : NULL;
	if (rj)
		rj->call = call;
	(void)format_checked(what, sizeof what, "container %s", c->id);
	if (storage_release(c->agent, c->storage_keys, c->n_storage_keys, what, rj ? release_done : NULL, rj) > 0) {
		if (rj)
			ttrpc_call_on_cancel(call, release_cancel, rj);
		return rj ? 1 : 0;
	}
	free(rj);
	return 0;
}

/* Every process of c is gone: the cgroup goes next, one rmdir attempt per tick of cg_timer (killed tasks may
 * take a moment to leave it), then the record. */
static void ctr_finish_start(ctr *c) {
	c->finishing = true;
	c->cg_deadline = now_ns() + CGROUP_DESTROY_MS * 1000000ULL;
	ev_timer_disarm(&c->remove_timer);
	if (ev_timer_arm(&c->cg_timer, now_ns()) < 0)
		cg_retry(&c->cg_timer, c);
}

/* Ends a wait of containers_wait_gone: err NULL when everything went. */
static void gone_fire(container_registry *reg, agent *a, const kc_error *err) {
	containers_gone_fn fn = reg->gone_fn;
	if (!fn)
		return;
	reg->gone_fn = NULL;
	ev_timer_disarm(&reg->gone_timer);
	fn(a, err, reg->gone_userdata);
}

static void ctr_bury_done(ctr *c) {
	agent *a = c->agent;
	container_registry *reg = a->containers;
	for (ctr **pp = &reg->dying; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ctr_free(c);
	if (reg->n == 0 && !reg->dying)
		cgroup_parent_cleanup();
	if (!reg->dying)
		gone_fire(reg, a, reg->gone_err.msg[0] ? &reg->gone_err : NULL);
}

static void gone_timeout(ev_timer *t, void *userdata) {
	agent *a = userdata;
	container_registry *reg = a->containers;
	ctr *c = reg->dying;
	kc_error err = { 0 };
	if (!c) {
		gone_fire(reg, a, NULL);
		return;
	}
	lc_cgroup *cg = c->inst ? lc_instance_cgroup(c->inst) : NULL;
	(void)kc_error_set_code(&err, KC_DEADLINE_EXCEEDED, ETIMEDOUT, "container `%s`: cgroup %s not removed in time: %s",
			  c->id, cg ? lc_cgroup_get_path(cg) : "(none)",
			  c->finishing ? "it stays busy" : "its processes have not exited");
	gone_fire(reg, a, reg->gone_err.msg[0] ? &reg->gone_err : &err);
}

int containers_wait_gone(agent *a, unsigned timeout_ms, containers_gone_fn fn, void *userdata) {
	container_registry *reg = a->containers;
	if (!reg || !reg->dying)
		return 0;
	if (reg->gone_fn)
		return -EBUSY;
	reg->gone_fn = fn;
	reg->gone_userdata = userdata;
	reg->gone_err = (kc_error){ 0 };
	ev_timer_init(&reg->gone_timer, a->loop, gone_timeout, a);
	if (ev_timer_arm(&reg->gone_timer, now_ns() + (uint64_t)timeout_ms * 1000000ULL) < 0) {
		reg->gone_fn = NULL;
		return -ENOMEM;
	}
	return 1;
}

static void cg_retry(ev_timer *t, void *userdata) {
	ctr *c = userdata;
	kc_error err = { 0 };
	int r = c->inst ? lc_instance_destroy_cgroup(c->inst, 0, &err) : 0;
	if (r == -EBUSY && now_ns() < c->cg_deadline &&
	    ev_timer_arm(&c->cg_timer, now_ns() + CGROUP_RETRY_MS * 1000000ULL) >= 0)
		return;
	if (c->buried) {
		container_registry *reg = c->agent->containers;
		if (r < 0)
			log_warn("container %s: %s", c->id, err.msg);
		if (r < 0 && reg->gone_fn && !reg->gone_err.msg[0]) {
			reg->gone_err = err;
			(void)kc_error_prefix(&reg->gone_err, "container `%s`", c->id);
		}
		ctr_bury_done(c);
		return;
	}
	ttrpc_call *call = c->removing;
	c->removing = NULL;
	ctr_unlink(c);
	log_info("container %s removed", c->id);
	ctr_hooks_run(c->agent, lc_instance_config(c->inst), LC_HOOK_POSTSTOP, c->id, 0, "stopped");
	bool later = ctr_release_storages(c, r < 0 ? NULL : call) > 0;
	ctr_free(c);
	if (!call || later)
		return;
	if (r < 0)
		ttrpc_call_fail_error(call, &err);
	else
		reply_empty(call);
}

static void remove_timeout(ev_timer *t, void *userdata) {
	ctr *c = userdata;
	ttrpc_call *call = c->removing;
	/* The container stays in the table, killed: a later RemoveContainer finds it again. */
	c->removing = NULL;
	ttrpc_call_fail(call, KC_DEADLINE_EXCEEDED, "container `%s`: its processes did not exit in time", c->id);
}

/* Once the cgroup is being removed the removal goes on without the call. */
static void remove_cancel(ttrpc_call *call, void *userdata) {
	ctr *c = userdata;
	if (!c->finishing)
		ev_timer_disarm(&c->remove_timer);
	c->removing = NULL;
}

static void ctr_kill(ctr *c) {
	kc_error err = { 0 };
	ctr_execs_abort(c, "the container is being removed");
	/* A v1 freezer keeps even SIGKILLed tasks from dying: thaw first. */
	if (c->paused && c->inst && lc_instance_pause(c->inst, false, NULL) >= 0)
		c->paused = false;
	if (c->inst && lc_instance_kill_all(c->inst, SIGKILL, &err) < 0)
		log_warn("container %s: %s", c->id, err.msg);
	/* Without a cgroup (or a kill that failed) each process is killed by its own pidfd. */
	for (proc *p = c->procs; p; p = p->next)
		if (!p->exited)
			(void)lc_pidfd_send_signal(p->init ? lc_instance_pidfd(c->inst) : p->pidfd, SIGKILL);
}

/* c, out of the table, is killed and freed once the reaper has its processes and its cgroup is gone. */
static void ctr_bury(ctr *c) {
	container_registry *reg = c->agent->containers;
	c->buried = true;
	ctr_kill(c);
	c->next = reg->dying;
	reg->dying = c;
	if (ctr_all_exited(c))
		ctr_finish_start(c);
}

static int remove_container(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__RemoveContainerRequest *req = (const Grpc__RemoveContainerRequest *)req_;
	ctr *c;
	int r = ctr_get(a, req->container_id, &c, err);
	if (r < 0)
		return r;
	ctr_kill(c);
	c->removing = call;
	ttrpc_call_on_cancel(call, remove_cancel, c);
	if (ctr_all_exited(c))
		ctr_finish_start(c);
	else if (req->timeout)
		(void)ev_timer_arm(&c->remove_timer, now_ns() + (uint64_t)req->timeout * 1000000000ULL);
	return TTRPC_PENDING;
}

static void create_job_abort(create_job *j, int code, const char *why);

static bool op_fd_ready(lc_op *op) {
	int fd = op ? lc_op_fd(op) : -1;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return fd >= 0 && poll(&pfd, 1, 0) > 0;
}

int containers_step_ready(agent *a) {
	container_registry *reg = a->containers;
	for (create_job *j = reg ? reg->creating : NULL; j; j = j->next) {
		if (!j->cr.c || !op_fd_ready(j->cr.run.op))
			continue;
		op_run_step(&j->cr.run); /* may free j and change the list: one at a time */
		return 1;
	}
	/* An exec'd process that died before its exec is told apart by looking at its zombie (libcontainer-c's
	 * exec_eof): its op goes first, while the zombie is still there. */
	for (ctr *c = reg ? reg->head : NULL; c; c = c->next)
		for (exec_job *j = c->execs; j; j = j->next) {
			if (!op_fd_ready(j->run.op))
				continue;
			op_run_step(&j->run);
			return 1;
		}
	return 0;
}

/* DestroySandbox, and the agent's exit: every container is killed. At DestroySandbox the cgroups go from the
 * loop like RemoveContainer's; at exit (the server is gone) nothing runs the loop again, so the records are
 * freed at once and a cgroup still busy is left. */
void containers_destroy_all(agent *a) {
	container_registry *reg = a->containers;
	if (!reg)
		return;
	for (create_job *j; (j = reg->creating);) {
		/* Off the list at once: a job whose helper still mounts stays until the helper is done. */
		reg->creating = j->next;
		reg->n_creating--;
		j->next = NULL;
		create_job_abort(j, KC_UNAVAILABLE, "the sandbox is being destroyed");
	}
	for (ctr *c; (c = reg->head);) {
		reg->head = c->next;
		reg->n--;
		if (c->removing) {
			ttrpc_call *call = c->removing;
			c->removing = NULL;
			ev_timer_disarm(&c->remove_timer);
			reply_empty(call);
		}
		ctr_bury(c);
	}
	pidns_forget(reg);
	for (unsigned i = 0; i < reg->n_oom; i++)
		reg->oom_queue[i] = mfree(reg->oom_queue[i]);
	reg->n_oom = 0;
	if (!a->server) {
		kc_error stop = { 0 };
		(void)kc_error_set(&stop, ECANCELED, "the agent is stopping");
		gone_fire(reg, a, &stop);
		for (ctr *c; (c = reg->dying);) {
			kc_error err = { 0 };
			if (c->inst && lc_instance_destroy_cgroup(c->inst, 0, &err) < 0)
				log_warn("container %s: %s", c->id, err.msg);
			reg->dying = c->next;
			ctr_free(c);
		}
	}
	if (reg->dying)
		return; /* the registry stays until they are gone */
	cgroup_parent_cleanup();
	free(reg);
	a->containers = NULL;
}

/* ---- stdio ---- */

static int read_stream(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, bool is_err, kc_error *err) {
	const Grpc__ReadStreamRequest *req = (const Grpc__ReadStreamRequest *)req_;
	proc *p;
	int r = proc_get(ctx, req->container_id, req->exec_id, NULL, &p, err);
	if (r < 0)
		return r;
	stream_reader *s = is_err ? p->err : p->out;
	if (!s) {
		/* A terminal has one output, read through ReadStdout: stderr is at its end at once. */
		Grpc__ReadStreamResponse resp = GRPC__READ_STREAM_RESPONSE__INIT;
		ttrpc_call_reply(call, &resp.base);
		return 0;
	}
	r = stream_reader_read(s, call, req->len, err);
	if (r == 0)
		proc_gc_soon(p);
	return r;
}

static int read_stdout(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	return read_stream(ctx, call, req, false, err);
}

static int read_stderr(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	return read_stream(ctx, call, req, true, err);
}

static int write_stdin(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__WriteStreamRequest *req = (const Grpc__WriteStreamRequest *)req_;
	proc *p;
	int r = proc_get(ctx, req->container_id, req->exec_id, NULL, &p, err);
	if (r < 0)
		return r;
	return stream_writer_write(p->in, call, req->data.data, req->data.len, err);
}

static int close_stdin(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__CloseStdinRequest *req = (const Grpc__CloseStdinRequest *)req_;
	proc *p;
	int r = proc_get(ctx, req->container_id, req->exec_id, NULL, &p, err);
	if (r < 0)
		return r;
	stream_writer_close(p->in);
	reply_empty(call);
	return 0;
}

static int tty_win_resize(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__TtyWinResizeRequest *req = (const Grpc__TtyWinResizeRequest *)req_;
	proc *p;
	int r = proc_get(ctx, req->container_id, req->exec_id, NULL, &p, err);
	if (r < 0)
		return r;
	if (!p->tty || p->tty_fd < 0)
		return kc_error_set_code(err, KC_UNAVAILABLE, ENOTTY, "process `%s` has no terminal", p->exec_id);
	if (req->row > UINT16_MAX || req->column > UINT16_MAX)
		return kc_error_set(err, EINVAL, "row, column: %u x %u is too large", req->row, req->column);
	struct winsize ws = { .ws_row = (unsigned short)req->row, .ws_col = (unsigned short)req->column };
	if (ioctl(p->tty_fd, TIOCSWINSZ, &ws) < 0)
		return kc_error_set(err, errno, "TIOCSWINSZ: %m");
	reply_empty(call);
	return 0;
}

AGENT_HANDLER(grpc__agent_service__descriptor, "CreateContainer", create_container);
AGENT_HANDLER(grpc__agent_service__descriptor, "StartContainer", start_container);
AGENT_HANDLER(grpc__agent_service__descriptor, "RemoveContainer", remove_container);
AGENT_HANDLER(grpc__agent_service__descriptor, "ExecProcess", exec_process);
AGENT_HANDLER(grpc__agent_service__descriptor, "SignalProcess", signal_process);
AGENT_HANDLER(grpc__agent_service__descriptor, "WaitProcess", wait_process);
AGENT_HANDLER(grpc__agent_service__descriptor, "ReadStdout", read_stdout);
AGENT_HANDLER(grpc__agent_service__descriptor, "ReadStderr", read_stderr);
AGENT_HANDLER(grpc__agent_service__descriptor, "WriteStdin", write_stdin);
AGENT_HANDLER(grpc__agent_service__descriptor, "CloseStdin", close_stdin);
AGENT_HANDLER(grpc__agent_service__descriptor, "TtyWinResize", tty_win_resize);
