/* The lifecycle over the state directory: each entry point is a short, bounded sequence of steps, so that lcrun
 * can run each as its own process and the agent can call them from its loop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/console.h"
#include "libcontainer-c/container.h"
#include "libcontainer-c/exec-internal.h"
#include "libcontainer-c/hooks.h"
#include "libcontainer-c/linux-syscalls.h"
#include "libcontainer-c/seccomp.h"
#include "libcontainer-c/specconv.h"
#include "libcontainer-c/state-internal.h"

#define LC_OCI_VERSION_DEFAULT "1.0.2"
/* How long delete --force waits for a killed init to die. */
#define LC_KILL_WAIT_MS 10000
/* How long delete waits for a killed container's processes to leave its cgroup before rmdir gives up. */
#define LC_CGROUP_DESTROY_MS 5000

/* ---- signals -------------------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	int sig;
} signal_table[] = {
	{"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},       {"TRAP", SIGTRAP},
	{"ABRT", SIGABRT},     {"IOT", SIGIOT},       {"BUS", SIGBUS},     {"FPE", SIGFPE},       {"KILL", SIGKILL},
	{"USR1", SIGUSR1},     {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},
	{"TERM", SIGTERM},     {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},     {"STOP", SIGSTOP},
	{"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},       {"XCPU", SIGXCPU},
	{"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH},   {"IO", SIGIO},
	{"POLL", SIGPOLL},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int lc_signal_from_string(const char *s) {
	uint64_t n;

	if (!s || !*s)
		return -EINVAL;
	if (parse_u64(s, 10, &n) >= 0)
		return n >= 1 && n <= (uint64_t)SIGRTMAX ? (int)n : -EINVAL;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
		if (strcasecmp(s, signal_table[i].name) == 0)
			return signal_table[i].sig;
	/* RTMIN, RTMIN+n, RTMAX-n as kill(1) writes them. */
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		bool min = strncasecmp(s, "RTMIN", 5) == 0;
		const char *rest = s + 5;
		uint64_t off = 0;
		if (*rest && ((min && *rest != '+') || (!min && *rest != '-') || parse_u64(rest + 1, 10, &off) < 0))
			return -EINVAL;
		int sig = min ? SIGRTMIN + (int)off : SIGRTMAX - (int)off;
		return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -EINVAL;
	}
	return -EINVAL;
}

/* ---- warnings ------------------------------------------------------------------------------------------------ */

static void (*warn_fn)(void *userdata, const char *msg);
static void *warn_userdata;

void lc_set_warn_handler(void (*fn)(void *userdata, const char *msg), void *userdata) {
	warn_fn = fn;
	warn_userdata = userdata;
}

static void warn(const kc_error *e) {
	if (warn_fn)
		warn_fn(warn_userdata, e->msg);
}

/* ---- hooks ------------------------------------------------------------------------------------------------- */

/* The state the spec gives hooks on stdin: ociVersion, id, status, pid, bundle, annotations. */
static char *hook_state(const lc_config *cfg, const char *id, const char *bundle, pid_t pid, const char *status) {
	json_object *doc = json_object_new_object(), *ann = json_object_new_object();
	json_object_object_add(doc, "ociVersion",
			       json_object_new_string(cfg->spec->oci_version ? cfg->spec->oci_version : LC_OCI_VERSION_DEFAULT));
	json_object_object_add(doc, "id", json_object_new_string(id));
	json_object_object_add(doc, "status", json_object_new_string(status));
	json_object_object_add(doc, "pid", json_object_new_int(pid));
	json_object_object_add(doc, "bundle", json_object_new_string(bundle));
	for (size_t i = 0; i < cfg->spec->n_annotations; i++)
		json_object_object_add(ann, cfg->spec->annotations[i].key,
				       json_object_new_string(cfg->spec->annotations[i].value));
	json_object_object_add(doc, "annotations", ann);
	char *text = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	return text;
}

static bool doc_flag(const lc_state *s, const char *key) {
	json_object *v;
	return json_object_object_get_ex(s->doc, key, &v) && json_object_get_boolean(v);
}

static bool late_hooks(const lc_state *s) {
	return doc_flag(s, "lcrun-late-hooks");
}

/* How long start waits for the process to be executed: the startContainer hooks' bounds plus a margin. */
static uint64_t start_wait_ms(const lc_state *s) {
	json_object *v;
	int64_t t = json_object_object_get_ex(s->doc, "lcrun-start-wait-s", &v) ? json_object_get_int64(v) : 0;
	return (uint64_t)(t > 0 ? t : 0) * 1000 + LC_SYNC_TIMEOUT_MS;
}

/* poststart and poststop: their failures are the spec's warnings, never the operation's errors. */
static void run_late_hooks(const lc_state *s, lc_hook_kind kind, const char *status) {
	_cleanup_(lc_spec_freep) lc_spec *spec = NULL;
	_cleanup_(lc_config_freep) lc_config *cfg = NULL;
	lc_specconv_opts opts = {.flags = LC_SPECCONV_PROCESS_OPTIONAL};
	json_object *v;
	kc_error e = {0};

	if (!late_hooks(s))
		return;
	if (lc_spec_from_file(s->dirfd, "config.json", &spec, &e) < 0 || lc_config_from_spec(spec, &opts, &cfg, &e) < 0) {
		kc_error_prefix(&e, "container `%s`: %s hooks: frozen config.json", s->id, lc_hook_kind_name(kind));
		warn(&e);
		return;
	}
	const char *bundle = json_object_object_get_ex(s->doc, "bundle", &v) ? json_object_get_string(v) : "";
	_cleanup_free_ char *state = hook_state(cfg, s->id, bundle, kind == LC_HOOK_POSTSTOP ? 0 : s->pid, status);
	if (state && lc_hooks_run(cfg, kind, state, &e) < 0) {
		kc_error_prefix(&e, "container `%s` (ignored)", s->id);
		warn(&e);
	}
}

/* ---- create ------------------------------------------------------------------------------------------------ */

static int load_config(int bundlefd, const char *bundle, char **ret_text, size_t *ret_len, lc_config **ret,
		       kc_error *err) {
	_cleanup_(lc_spec_freep) lc_spec *spec = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	lc_specconv_opts opts = {0};

	int r = read_file_capped(bundlefd, "config.json", LC_SPEC_JSON_MAX, &text, &len);
	if (r < 0)
		return kc_error_set(err, -r, "%s/config.json: %s", bundle, strerror(-r));
	r = lc_spec_from_json(text, len, &spec, err);
	if (r < 0)
		return kc_error_prefix(err, "%s/config.json", bundle);
	r = lc_config_from_spec(spec, &opts, ret, err);
	if (r < 0)
		return kc_error_prefix(err, "%s/config.json", bundle);
	*ret_text = TAKE_PTR(text);
	*ret_len = len;
	return 0;
}

static void rfc3339_now(char buf[64]) {
	struct timespec ts;
	struct tm tm;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, 64, "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(buf + n, 64 - n, ".%09ldZ", ts.tv_nsec);
}

static json_object *state_doc(const lc_config *cfg, const char *id, const char *bundle, const char *rootfs, pid_t pid,
			      uint64_t start_time, const char *cgroup_path) {
	char created[64];
	json_object *doc = json_object_new_object(), *ann = json_object_new_object();

	rfc3339_now(created);
	json_object_object_add(doc, "ociVersion",
			       json_object_new_string(cfg->spec->oci_version ? cfg->spec->oci_version : LC_OCI_VERSION_DEFAULT));
	json_object_object_add(doc, "id", json_object_new_string(id));
	json_object_object_add(doc, "pid", json_object_new_int(pid));
	json_object_object_add(doc, "bundle", json_object_new_string(bundle));
	json_object_object_add(doc, "rootfs", json_object_new_string(rootfs));
	json_object_object_add(doc, "created", json_object_new_string(created));
	/* runc prints "" for root. */
	json_object_object_add(doc, "owner", json_object_new_string(""));
	for (size_t i = 0; i < cfg->spec->n_annotations; i++)
		json_object_object_add(ann, cfg->spec->annotations[i].key,
				       json_object_new_string(cfg->spec->annotations[i].value));
	json_object_object_add(doc, "annotations", ann);
	json_object_object_add(doc, "lcrun-start-time", json_object_new_int64((int64_t)start_time));
	if (cgroup_path)
		json_object_object_add(doc, "lcrun-cgroup-path", json_object_new_string(cgroup_path));
	/* So that start and delete read the frozen config only when they have hooks to run, and start waits for
	 * the process to be executed only when a hook runs around it. */
	if (cfg->n_hooks[LC_HOOK_POSTSTART] || cfg->n_hooks[LC_HOOK_POSTSTOP])
		json_object_object_add(doc, "lcrun-late-hooks", json_object_new_boolean(true));
	if (cfg->n_hooks[LC_HOOK_START_CONTAINER])
		json_object_object_add(doc, "lcrun-start-hooks", json_object_new_boolean(true));
	if (cfg->n_hooks[LC_HOOK_POSTSTART] || cfg->n_hooks[LC_HOOK_POSTSTOP] || cfg->n_hooks[LC_HOOK_START_CONTAINER]) {
		int64_t t = 0;
		for (size_t i = 0; i < cfg->n_hooks[LC_HOOK_START_CONTAINER]; i++) {
			int64_t h = cfg->hooks[LC_HOOK_START_CONTAINER][i].timeout;
			t += h > 0 ? MIN(h, (int64_t)86400) : LC_HOOK_TIMEOUT_DEFAULT_S;
		}
		json_object_object_add(doc, "lcrun-start-wait-s", json_object_new_int64(t));
	}
	return doc;
}

static int write_pid_file(const char *path, pid_t pid, kc_error *err) {
	char tmp[PATH_MAX], buf[DECIMAL_STR_MAX(pid_t)];
	int r = format_checked(tmp, sizeof tmp, "%s.lcrun-tmp", path);
	if (r < 0)
		return kc_error_set(err, -r, "--pid-file `%s`: path too long", path);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return kc_error_set(err, errno, "--pid-file `%s`: %s", path, strerror(errno));
	(void)snprintf(buf, sizeof buf, "%d", (int)pid);
	r = write_all(fd, buf, strlen(buf));
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return kc_error_set(err, -r, "--pid-file `%s`: %s", path, strerror(-r));
	}
	return 0;
}

/* The filter is compiled here, in the runtime: the child only installs it (one seccomp(2) call). */
static int compile_seccomp(const lc_config *cfg, lc_seccomp_prog **ret, kc_error *err) {
	if (!cfg->seccomp)
		return 0;
	return lc_seccomp_compile(cfg->seccomp, ret, err);
}

/* SCMP_ACT_NOTIFY: the socket at linux.seccomp.listenerPath, connected by the runtime (the path is the host's);
 * -1 without a notifying profile. */
static int listener_connect(const lc_config *cfg, int *ret, kc_error *err) {
	*ret = -1;
	if (!cfg->seccomp || !cfg->seccomp->uses_notify)
		return 0;
	const char *path = cfg->seccomp->listener_path;
	if (!path || !*path)
		return kc_error_set(err, EINVAL, "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener path");
	int r = lc_console_socket_connect(path, ret, err);
	if (r < 0)
		return kc_error_set(err, -r, "linux.seccomp.listenerPath: connect to `%s`: %s", path, strerror(-r));
	return 0;
}

/* Anything in linux.resources beyond device rules. */
static bool resources_limit(const lc_spec_resources *r) {
	return r && (r->memory || r->cpu || r->pids || r->blockio || r->n_hugepage_limits || r->network || r->n_rdma ||
		     r->n_unified);
}

/* The container's cgroup: linux.cgroupsPath resolved below the caller's parent (lcrun: /lcrun), created with
 * the default devices allowed and linux.resources applied, before the init exists. */
static int cgroup_create(const lc_config *cfg, const char *id, const lc_create_opts *o, lc_cgroup **ret,
			 kc_error *err) {
	if (o->no_cgroup)
		return 0;
	int r = lc_spawn_cgroup_create(cfg, o->cgroup_parent ? o->cgroup_parent : LC_CGROUP_PARENT_DEFAULT, id,
				       o->rootless, ret, err);
	if (r >= 0 || !o->rootless || (r != -EACCES && r != -EPERM && r != -EROFS))
		return r;
	/* Rootless without a delegated cgroup, as runc: the container stays in its caller's, unless it asks for
	 * limits that only a cgroup of its own could hold. */
	if (resources_limit(cfg->resources))
		return kc_error_prefix(err, "linux.resources: a rootless container gets limits only in a cgroup "
				       "delegated to its user");
	*err = (kc_error){0};
	return 0;
}

/* A create in progress: what the spawn operation reads until it ends, and what is undone if it fails. */
typedef struct create_ctx {
	char *root, *id, *bundle, *pid_file;
	int statefd;
	lc_config *cfg;
	lc_seccomp_prog *prog;
	lc_cgroup *cg;
	char rootfs[PATH_MAX];
	lc_spawn_args a;
	int listener; /* connected to linux.seccomp.listenerPath until the init has it */
} create_ctx;

static void create_ctx_free(create_ctx *c) {
	if (!c)
		return;
	(void)safe_close(c->statefd);
	(void)safe_close(c->listener);
	c->cg = lc_cgroup_free(c->cg);
	c->prog = lc_seccomp_prog_free(c->prog);
	c->cfg = lc_config_free(c->cfg);
	free(c->root);
	free(c->id);
	free(c->bundle);
	free(c->pid_file);
	free(c);
}
DEFINE_CLEANUP_FUNC(create_ctx *, create_ctx_free);

/* The state the hooks get: prestart (deprecated, same moment) and createRuntime in the runtime's namespaces,
 * then createContainer and startContainer in the container's. */
static int create_state(void *userdata, pid_t pid, const char *status, char **ret_state, kc_error *err) {
	create_ctx *c = userdata;
	*ret_state = hook_state(c->cfg, c->id, c->bundle, pid, status);
	return *ret_state ? 0 : kc_error_set(err, ENOMEM, "out of memory");
}

/* The init is ready: state.json and the pid file make it a created container. */
static int create_done(void *userdata, lc_op *op, kc_error *err) {
	create_ctx *c = userdata;
	uint64_t start_time = 0;
	pid_t pid;
	int pidfd;

	lc_op_child(op, &pid, &pidfd);
	int r = lc_proc_start_time(pid, &start_time);
	if (r < 0)
		return kc_error_set(err, -r, "container init %d: %s", (int)pid, strerror(-r));
	json_object *doc = state_doc(c->cfg, c->id, c->bundle, c->rootfs, pid, start_time, c->cg ? lc_cgroup_get_path(c->cg) : NULL);
	r = lc_state_save(c->statefd, doc, err);
	json_object_put(doc);
	if (r >= 0 && c->pid_file)
		r = write_pid_file(c->pid_file, pid, err);
	return r;
}

/* A failed create leaves nothing: the init (killed by the operation) is collected here, since the caller of
 * this state-directory API never watched it, then the cgroup and the state directory go. */
static void create_cleanup(void *userdata, lc_op *op, bool succeeded) {
	create_ctx *c = userdata;
	if (!succeeded) {
		pid_t pid;
		int pidfd;
		lc_op_child(op, &pid, &pidfd);
		if (pidfd >= 0) {
			siginfo_t si;
			(void)lc_pidfd_send_signal(pidfd, SIGKILL);
			while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
				;
		}
		if (c->cg)
			(void)lc_cgroup_destroy(c->cg, LC_CGROUP_DESTROY_MS, NULL);
		c->statefd = safe_close(c->statefd);
		(void)lc_state_dir_remove(c->root, c->id);
	}
	create_ctx_free(c);
}

/* Everything before the clone: config, state directory files, seccomp, cgroup. */
static int create_prepare(create_ctx *c, const lc_create_opts *o, int *ret_fifo, int *ret_start_err, kc_error *err) {
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	_cleanup_close_ int bundlefd = open(o->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bundlefd < 0)
		return kc_error_set(err, errno, "bundle `%s`: %s", o->bundle, strerror(errno));
	r = load_config(bundlefd, o->bundle, &text, &len, &c->cfg, err);
	if (r < 0)
		return r;
	const lc_config *cfg = c->cfg;
	if (!cfg->rootfs || !*cfg->rootfs)
		return kc_error_set(err, EINVAL, "root.path: missing");
	r = cfg->rootfs[0] == '/' ? format_checked(c->rootfs, sizeof c->rootfs, "%s", cfg->rootfs)
				  : format_checked(c->rootfs, sizeof c->rootfs, "%s/%s", o->bundle, cfg->rootfs);
	if (r < 0)
		return kc_error_set(err, -r, "root.path: too long");
	struct stat st;
	if (stat(c->rootfs, &st) < 0)
		return kc_error_set(err, errno, "root.path: `%s`: %s", c->rootfs, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return kc_error_set(err, ENOTDIR, "root.path: `%s` is not a directory", c->rootfs);
	if (cfg->process && cfg->process->terminal && o->console_sock_fd < 0)
		return kc_error_set(err, EINVAL, "process.terminal: a terminal needs --console-socket");

	/* The frozen config, for exec's defaults. */
	_cleanup_close_ int cfd = openat(c->statefd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (cfd < 0 || write_all(cfd, text, len) < 0)
		return kc_error_set(err, errno, "save config.json in the state directory: %s", strerror(errno));

	if (mkfifoat(c->statefd, "exec.fifo", 0600) < 0)
		return kc_error_set(err, errno, "exec fifo: %s", strerror(errno));
	/* The init inherits the read end; ours is closed as soon as it is cloned, so that the init is the only
	 * reader start can find. */
	*ret_fifo = openat(c->statefd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*ret_fifo < 0)
		return kc_error_set(err, errno, "exec fifo: %s", strerror(errno));
	/* The init's word to `start` should a startContainer hook fail: start is not its parent and cannot
	 * collect its exit status. */
	if (cfg->n_hooks[LC_HOOK_START_CONTAINER]) {
		*ret_start_err = openat(c->statefd, "start.err", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (*ret_start_err < 0)
			return kc_error_set(err, errno, "start.err in the state directory: %s", strerror(errno));
	}
	r = compile_seccomp(cfg, &c->prog, err);
	if (r < 0)
		return r;
	r = listener_connect(cfg, &c->listener, err);
	if (r < 0)
		return r;
	return cgroup_create(cfg, c->id, o, &c->cg, err);
}

static char *strdup_or_null(const char *s, bool *oom) {
	char *d = s ? strdup(s) : NULL;
	*oom |= s && !d;
	return d;
}

int lc_container_create_begin(const char *root, const char *id, const lc_create_opts *o, lc_op **ret, kc_error *err) {
	_cleanup_(create_ctx_freep) create_ctx *c = NULL;
	_cleanup_close_ int fifo = -1, start_err = -1;
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	bool oom = false;

	*ret = NULL;
	int r = lc_id_check(id, err);
	if (r < 0)
		return r;
	if (!o->bundle || o->bundle[0] != '/')
		return kc_error_set(err, EINVAL, "bundle: must be an absolute path");
	c = calloc(1, sizeof *c);
	if (!c)
		return kc_error_set(err, ENOMEM, "out of memory");
	c->statefd = c->listener = -1;
	c->root = strdup_or_null(root, &oom);
	c->id = strdup_or_null(id, &oom);
	c->bundle = strdup_or_null(o->bundle, &oom);
	c->pid_file = strdup_or_null(o->pid_file, &oom);
	if (oom)
		return kc_error_set(err, ENOMEM, "out of memory");
	r = lc_state_dir_create(root, id, &c->statefd, err);
	if (r < 0)
		return r;
	r = create_prepare(c, o, &fifo, &start_err, err);
	if (r >= 0) {
		c->a = (lc_spawn_args){
			.runtime_state = create_state,
			.hooks_userdata = c,
			.cgroup = c->cg,
			.seccomp = c->prog,
			.cfg = c->cfg,
			.rootfs = c->rootfs,
			.exec_fifo_fd = fifo,
			.start_err_fd = start_err,
			.console_sock_fd = o->console_sock_fd,
			.preserve_fds = o->preserve_fds,
			.no_pivot = o->no_pivot,
			.seccomp_listener_fd = c->listener,
		};
		r = lc_spawn_init_begin(&c->a, &op, err);
		c->listener = safe_close(c->listener); /* the init's now */
	}
	if (!op) {
		if (c->cg)
			(void)lc_cgroup_destroy(c->cg, LC_CGROUP_DESTROY_MS, NULL);
		c->statefd = safe_close(c->statefd);
		(void)lc_state_dir_remove(root, id);
		return r;
	}
	/* From here the op owns the context: its cleanup undoes a failed create. */
	lc_op_set_layer(op, &(lc_op_layer){.done = create_done, .cleanup = create_cleanup, .userdata = TAKE_PTR(c)});
	if (r < 0)
		return r;
	*ret = TAKE_PTR(op);
	return 0;
}

int lc_container_create(const char *root, const char *id, const lc_create_opts *o, pid_t *ret_pid, int *ret_pidfd,
			kc_error *err) {
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	int r = lc_container_create_begin(root, id, o, &op, err);
	if (r >= 0)
		r = lc_op_run(op, err);
	if (r < 0)
		return r;
	lc_op_take_child(op, ret_pid, ret_pidfd);
	return 0;
}

/* ---- the others ---------------------------------------------------------------------------------------------- */

/* A pidfd for the recorded init, verified against the start time after it is opened, so that a recycled pid is
 * never signalled. */
static int open_init(const lc_state *s, int *ret, kc_error *err) {
	uint64_t st;
	int fd = lc_pidfd_open(s->pid);
	if (fd < 0)
		return kc_error_set(err, ESRCH, "container `%s` is not running", s->id);
	if (lc_proc_start_time(s->pid, &st) < 0 || st != s->start_time) {
		(void)close(fd);
		return kc_error_set(err, ESRCH, "container `%s` is not running", s->id);
	}
	*ret = fd;
	return 0;
}

static int wait_pidfd(int pidfd, int timeout_ms) {
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int r;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
}

/* A failing startContainer hook: the init wrote why into start.err before it exited. The spec wants an error
 * and a stopped container; poststart does not run. The init is waited for (bounded) so that `state` says
 * stopped once start has returned. */
static int start_error(const lc_state *s, int pidfd, kc_error *err) {
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_file_capped(s->dirfd, "start.err", KC_ERROR_MSG_MAX, &text, &len);
	if (r < 0 || len == 0)
		return 0;
	(void)wait_pidfd(pidfd, LC_KILL_WAIT_MS);
	return kc_error_set_code(err, KC_FAILED_PRECONDITION, EIO, "container `%s` stopped: %.*s", s->id, (int)len, text);
}

int lc_container_start(const char *root, const char *id, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_close_ int pidfd = -1;

	int r = lc_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	if (s->status != LC_STATUS_CREATED)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EINVAL,
					 "container `%s` is %s, not created: cannot start it", id, lc_status_name(s->status));
	r = open_init(s, &pidfd, err);
	if (r < 0)
		return r;
	/* Non-blocking: with no reader left (the init died) the open fails with ENXIO instead of waiting. */
	_cleanup_close_ int fifo = openat(s->dirfd, "exec.fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0)
		return kc_error_set(err, errno == ENXIO ? ESRCH : errno, "container `%s`: %s", id,
				    errno == ENXIO ? "the init exited before start" : strerror(errno));
	if (write(fifo, "0", 1) != 1)
		return kc_error_set(err, errno, "container `%s`: write exec fifo: %s", id, strerror(errno));
	/* poststart runs after the process was executed, and a startContainer hook's failure is known only then:
	 * the init's end of the fifo closes at its execve (or its death), which a writer sees as POLLERR. Bounded
	 * by the startContainer hooks' timeouts. */
	bool start_hooks = doc_flag(s, "lcrun-start-hooks");
	if (late_hooks(s) || start_hooks) {
		struct pollfd p = {.fd = fifo, .events = 0};
		int ms = (int)MIN(start_wait_ms(s), (uint64_t)INT32_MAX);
		while (poll(&p, 1, ms) < 0 && errno == EINTR)
			;
	}
	/* From here on the container is running (or stopped); an exec failure is the process's own exit status. */
	if (unlinkat(s->dirfd, "exec.fifo", 0) < 0)
		return kc_error_set(err, errno, "container `%s`: remove exec fifo: %s", id, strerror(errno));
	if (start_hooks) {
		r = start_error(s, pidfd, err);
		if (r < 0)
			return r;
	}
	run_late_hooks(s, LC_HOOK_POSTSTART, "running");
	return 0;
}

int lc_container_state(const char *root, const char *id, char **ret_json, lc_status *ret_status, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	static const char *const keys[] = {"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner", "annotations"};
	json_object *v;

	int r = lc_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	lc_state_check_paused(s);
	json_object *out = json_object_new_object();
	if (!out)
		return kc_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (strcmp(keys[i], "status") == 0)
			json_object_object_add(out, "status", json_object_new_string(lc_status_name(s->status)));
		else if (strcmp(keys[i], "pid") == 0) /* runc and crun print 0 once it is stopped */
			json_object_object_add(out, "pid", json_object_new_int(s->status == LC_STATUS_STOPPED ? 0 : s->pid));
		else if (json_object_object_get_ex(s->doc, keys[i], &v))
			json_object_object_add(out, keys[i], json_object_get(v));
	}
	const char *text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								       JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = strdup(text);
	json_object_put(out);
	if (!copy)
		return kc_error_set(err, ENOMEM, "out of memory");
	*ret_json = copy;
	if (ret_status)
		*ret_status = s->status;
	return 0;
}

int lc_container_kill(const char *root, const char *id, int sig, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_close_ int pidfd = -1;

	if (sig <= 0 || sig > SIGRTMAX)
		return kc_error_set(err, EINVAL, "invalid signal %d", sig);
	int r = lc_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	if (s->status == LC_STATUS_STOPPED)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ESRCH, "container `%s` is not running", id);
	r = open_init(s, &pidfd, err);
	if (r < 0)
		return r;
	r = lc_pidfd_send_signal(pidfd, sig);
	if (r < 0)
		return kc_error_set(err, -r, "container `%s`: send signal %d: %s", id, sig, strerror(-r));
	return 0;
}

int lc_container_delete(const char *root, const char *id, bool force, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	int r = lc_state_load(root, id, &s, err);
	if (r == -ENOENT && s == NULL && lc_id_check(id, NULL) >= 0) {
		/* A state directory without state.json is a create that died half way: clean it. */
		struct stat st;
		char p[PATH_MAX];
		if (format_checked(p, sizeof p, "%s/%s", root, id) >= 0 && stat(p, &st) == 0 && force) {
			(void)lc_state_dir_remove(root, id);
			return 0;
		}
	}
	if (r < 0)
		return r;
	/* A created container has not run anything yet: runc and crun delete it without --force. */
	if ((s->status == LC_STATUS_RUNNING || s->status == LC_STATUS_PAUSED) && !force)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY,
					 "container `%s` is running: stop it first or use --force", id);
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;
	if (s->cgroup_path) {
		r = lc_state_cgroup_open(s, &cg, err);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	if (s->status != LC_STATUS_STOPPED) {
		_cleanup_close_ int pidfd = -1;
		r = open_init(s, &pidfd, err);
		if (r >= 0) {
			/* SIGKILL to the init of a pid namespace takes every process in it down with it; the cgroup
			 * catches those of a container without one. A frozen container dies once thawed. */
			r = cg ? lc_cgroup_kill_all(cg, SIGKILL, err) : 0;
			if (r >= 0)
				r = lc_pidfd_send_signal(pidfd, SIGKILL);
			if (r < 0 && r != -ESRCH)
				return kc_error_set(err, -r, "container `%s`: SIGKILL: %s", id, strerror(-r));
			if (cg)
				(void)lc_cgroup_freeze(cg, false, 1000, NULL);
			r = wait_pidfd(pidfd, LC_KILL_WAIT_MS);
			if (r < 0)
				return kc_error_set(err, -r, "container `%s`: the init did not die after SIGKILL", id);
		}
	}
	if (cg) {
		/* Whatever is left (a daemon outside the pid namespace, say) goes with the container. A look first:
		 * on v1 without cgroup.kill, killing means a freeze and a thaw even when nobody is there. */
		_cleanup_free_ pid_t *left = NULL;
		size_t n_left = 1;
		(void)lc_cgroup_pids(cg, true, &left, &n_left, NULL);
		r = n_left > 0 ? lc_cgroup_kill_all(cg, SIGKILL, err) : 0;
		if (r >= 0)
			r = lc_cgroup_destroy(cg, LC_CGROUP_DESTROY_MS, err);
		if (r < 0)
			return kc_error_prefix(err, "container `%s`", id);
	}
	run_late_hooks(s, LC_HOOK_POSTSTOP, "stopped");
	r = lc_state_dir_remove(root, id);
	if (r < 0)
		return kc_error_set(err, -r, "container `%s`: remove state directory: %s", id, strerror(-r));
	return 0;
}

/* ---- exec ---------------------------------------------------------------------------------------------------- */

#define LC_EXEC_ENV_MAX 4096
/* NGROUPS_MAX of the kernel, as specconv caps the config's list: setgroups(2) refuses more. */
#define LC_EXEC_GROUPS_MAX 65536

int lc_container_exec_begin(const char *root, const char *id, const lc_exec_opts *o, lc_op **ret, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_(lc_config_freep) lc_config *cfg = NULL;
	_cleanup_(lc_spec_freep) lc_spec *spec = NULL;
	_cleanup_close_ int pidfd = -1;
	_cleanup_free_ char **env = NULL;
	lc_specconv_opts sopts = {.flags = LC_SPECCONV_PROCESS_OPTIONAL};

	*ret = NULL;
	if (!o->args || !o->args[0])
		return kc_error_set(err, EINVAL, "exec: no command given");
	int r = lc_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	lc_state_check_paused(s);
	if (s->status == LC_STATUS_STOPPED)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ESRCH, "container `%s` is not running", id);
	/* The new process would be frozen on its first step, and the helper with it. */
	if (s->status == LC_STATUS_PAUSED)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY, "container `%s` is paused", id);
	r = open_init(s, &pidfd, err);
	if (r < 0)
		return r;
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;
	if (s->cgroup_path) {
		r = lc_state_cgroup_open(s, &cg, err);
		if (r < 0)
			return r;
	}
	r = lc_spec_from_file(s->dirfd, "config.json", &spec, err);
	if (r >= 0)
		r = lc_config_from_spec(spec, &sopts, &cfg, err);
	if (r < 0)
		return kc_error_prefix(err, "container `%s`: frozen config.json", id);

	/* The container's process is the template: its user, cwd, environment, limits. */
	lc_process_config p = cfg->process ? *cfg->process : (lc_process_config){.cwd = "/"};
	size_t n_env = 0, n_extra = 0;
	for (char *const *e = p.env; e && *e && !o->env_replace; e++)
		n_env++;
	for (char *const *e = o->env; e && *e; e++)
		n_extra++;
	if (n_env + n_extra > LC_EXEC_ENV_MAX)
		return kc_error_set(err, E2BIG, "exec: more than %d environment entries", LC_EXEC_ENV_MAX);
	env = calloc(n_env + n_extra + 1, sizeof *env);
	if (!env)
		return kc_error_set(err, ENOMEM, "out of memory");
	/* --env overrides an entry of the same name rather than adding a duplicate. */
	size_t n = 0;
	for (size_t i = 0; i < n_env; i++) {
		size_t k = strcspn(p.env[i], "=");
		bool overridden = false;
		for (size_t j = 0; j < n_extra; j++)
			overridden |= strncmp(o->env[j], p.env[i], k) == 0 && o->env[j][k] == '=';
		if (!overridden)
			env[n++] = p.env[i];
	}
	for (size_t j = 0; j < n_extra; j++) {
		if (!strchr(o->env[j], '='))
			return kc_error_set(err, EINVAL, "exec: --env `%s`: expected KEY=VALUE", o->env[j]);
		env[n++] = o->env[j];
	}
	p.args = o->args;
	p.env = env;
	if (o->cwd)
		p.cwd = o->cwd;
	if (!p.cwd)
		p.cwd = "/";
	if (o->has_user) {
		p.uid = o->uid;
		p.gid = o->gid;
		if (o->n_additional_gids > LC_EXEC_GROUPS_MAX)
			return kc_error_set(err, E2BIG, "exec: process.user.additionalGids: %zu groups, at most %d allowed",
					    o->n_additional_gids, LC_EXEC_GROUPS_MAX);
		p.additional_gids = o->additional_gids;
		p.n_additional_gids = o->n_additional_gids;
	}
	p.terminal = o->tty;
	if (p.terminal && o->console_sock_fd < 0)
		return kc_error_set(err, EINVAL, "exec: a terminal needs --console-socket");

	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *prog = NULL;
	r = compile_seccomp(cfg, &prog, err);
	if (r < 0)
		return r;
	_cleanup_close_ int listener = -1;
	_cleanup_free_ char *state = NULL;
	r = listener_connect(cfg, &listener, err);
	if (r < 0)
		return r;
	if (listener >= 0) {
		json_object *v;
		const char *bundle = json_object_object_get_ex(s->doc, "bundle", &v) ? json_object_get_string(v) : "";
		state = hook_state(cfg, id, bundle, s->pid, "running");
		if (!state)
			return kc_error_set(err, ENOMEM, "out of memory");
	}
	lc_exec_args a = {
		.seccomp_listener_fd = listener,
		.seccomp_state = state,
		.seccomp_metadata = cfg->seccomp ? cfg->seccomp->listener_metadata : NULL,
		.cgroup = cg,
		.seccomp = prog,
		.has_personality = cfg->has_personality,
		.personality = cfg->personality,
		.target_pidfd = pidfd,
		.ns_flags = lc_ns_flags_differing(s->pid),
		.process = &p,
		.console_sock_fd = o->console_sock_fd,
		.preserve_fds = o->preserve_fds,
	};
	return lc_spawn_exec_begin(&a, ret, err);
}

int lc_container_exec(const char *root, const char *id, const lc_exec_opts *o, pid_t *ret_pid, int *ret_pidfd,
		      kc_error *err) {
	_cleanup_(lc_op_freep) lc_op *op = NULL;

	*ret_pid = -1;
	*ret_pidfd = -1;
	int r = lc_container_exec_begin(root, id, o, &op, err);
	if (r < 0)
		return r;
	r = lc_op_run(op, err);
	lc_op_take_child(op, ret_pid, ret_pidfd);
	return r;
}
