/* CreateSandbox, DestroySandbox's teardown and UpdateEphemeralMounts.
 *
 * CreateSandbox checks the whole request in the agent (so a bad field fails before anything changes), then
 * does everything that touches the system in one helper child, in this order: kernel modules, sandbox
 * storages, the guest's hostname, the shared IPC and UTS namespaces (the helper unshares them, names the
 * hostname in the new UTS namespace too, and binds its /proc/self/ns/{ipc,uts} under the sandbox dir), DNS.
 * The helper shares the agent's mounts, so what it mounts is the agent's; a 9p or virtio-fs share that
 * never answers holds up the helper, not the loop.
 *
 * Nothing stays half made: the helper undoes its own work when a step fails, and before each step that
 * leaves something behind it marks the step in a page shared with the agent. If the helper is killed (its
 * timeout) or nobody waits for the answer any more (the call was cancelled), the agent reads the marks after
 * the helper has exited and a second helper undoes exactly those steps. */
#define LOG_SOURCE "sandbox"
#include "agent/sandbox.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/child.h"
#include "agent/container.h"
#include "agent/devices.h"
#include "agent/storage-batch.h"
#include "common/log.h"
#include "common/util.h"
#include "init/init.h"
#include "common/path.h"
#include "storage/watch.h"

#define CREATE_TIMEOUT_MS 120000
#define TEARDOWN_TIMEOUT_MS 30000
#define MODULE_NAME_MAX 55 /* MODULE_NAME_LEN - 1 on 64-bit */
#define MODULE_PARAMS_MAX 4096

typedef enum sb_state {
	SB_NONE,
	SB_CREATING, /* the create helper (or its cleanup) runs */
	SB_CREATED,
	SB_DESTROYING,
} sb_state;

typedef struct sandbox {
	sb_state state;
	char *id;
	char *hook_path;
	bool ns_bound, resolv_bound;
	stor_registry storages; /* the sandbox's and its containers' storages, by mount point */
	storage_batch *inflight; /* batches whose helpers mount or unmount (agent/storage-batch.h) */
	struct teardown_job *teardown; /* a DestroySandbox waiting for those batches */
} sandbox;

static struct teardown_job *teardown_job_free(struct teardown_job *t);

/* What the create helper got done, written by it and read by the agent after it exited. A mark is set before
 * the step, so a helper killed inside the mount call is covered too (undoing a step that did not happen is
 * harmless: the unmount finds nothing). */
typedef struct create_progress {
	uint8_t ns, resolv;
} create_progress;

typedef struct create_job {
	agent *agent;
	ttrpc_call *call; /* NULL once cancelled */
	create_progress *prog;
	storage_batch *storages;
	/* Read by the helper only: they point into the request, which the helper has its own copy of. */
	const char *hostname;
	const char **mod_names;
	char **mod_params;
	size_t n_mods;
	char *resolv; /* the resolv.conf text; NULL: no DNS */
	char *id, *hook_path;
	devices_batch *devices; /* block storages' devices being waited for; their node names live here */
	char hostname_copy[SANDBOX_HOSTNAME_MAX + 1]; /* for the log line */
} create_job;

void *agent_shared_alloc(size_t size) {
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void agent_shared_free(void *p, size_t size) {
	if (p)
		(void)munmap(p, size);
}

static void *mfree(void *p) {
	free(p);
	return NULL;
}

static sandbox *sandbox_get(agent *a) {
	if (!a->sandbox)
		a->sandbox = calloc(1, sizeof(sandbox));
	return a->sandbox;
}

const char *sandbox_guest_hook_path(const agent *a) {
	return a->sandbox && a->sandbox->hook_path ? a->sandbox->hook_path : "";
}

static void sandbox_reset(sandbox *sb) {
	sb->id = mfree(sb->id);
	sb->hook_path = mfree(sb->hook_path);
	sb->ns_bound = sb->resolv_bound = false;
	sb->state = SB_NONE;
}

void sandbox_free(agent *a) {
	if (!a->sandbox)
		return;
	/* The agent is stopping: no helper now; the mounts stay with the mount namespace. */
	teardown_job_free(TAKE_PTR(a->sandbox->teardown));
	sandbox_reset(a->sandbox);
	stor_registry_clear(&a->sandbox->storages);
	a->sandbox = mfree(a->sandbox);
}

stor_registry *sandbox_storages(agent *a, storage_batch ***ret_inflight) {
	sandbox *sb = sandbox_get(a);
	if (!sb)
		return NULL;
	if (ret_inflight)
		*ret_inflight = &sb->inflight;
	return &sb->storages;
}

/* ---- steps, run in a helper ---- */

static const char *const ns_names[] = { "ipc", "uts" };

static void unbind_namespaces(const stor_root *root) {
	for (size_t i = 0; i < ELEMENTSOF(ns_names); i++) {
		char rel[64], p[PATH_FD_PATH_MAX];
		_cleanup_close_ int fd = -EBADF, dfd = -EBADF;
		const char *name;
		(void)format_checked(rel, sizeof rel, "sandbox/ns/%s", ns_names[i]);
		if (path_open_in_root(root->fd, rel, O_PATH, PATH_RESOLVE_NOFOLLOW, 0, &fd, NULL) < 0)
			continue;
		path_fd_path(fd, p);
		(void)umount2(p, MNT_DETACH);
		if (path_open_parent_in_root(root->fd, rel, 0, 0, &dfd, &name) >= 0)
			(void)unlinkat(dfd, name, 0);
	}
}

/* The helper moves into new IPC and UTS namespaces and binds them to files, which keep them alive after
 * it exits; containers join them through those files. */
static int bind_namespaces(create_job *j, const stor_root *root, kc_error *err) {
	_cleanup_close_ int dfd = -EBADF;
	int r = path_open_in_root(root->fd, "sandbox/ns", O_PATH | O_DIRECTORY, PATH_RESOLVE_MKDIR, 0755, &dfd, NULL);
	if (r < 0)
		return kc_error_set(err, r, "%s/ns: %s", SANDBOX_DIR, strerror(-r));
	if (unshare(CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		return kc_error_set(err, errno, "unshare the sandbox IPC and UTS namespaces: %m");
	if (j->hostname[0] && sethostname(j->hostname, strlen(j->hostname)) < 0)
		return kc_error_set(err, errno, "hostname: sethostname in the sandbox UTS namespace: %m");
	j->prog->ns = 1;
	for (size_t i = 0; i < ELEMENTSOF(ns_names); i++) {
		char src[64], p[PATH_FD_PATH_MAX];
		_cleanup_close_ int fd = openat(dfd, ns_names[i], O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444);
		if (fd < 0)
			return kc_error_set(err, errno, "%s/ns/%s: %m", SANDBOX_DIR, ns_names[i]);
		(void)format_checked(src, sizeof src, "/proc/self/ns/%s", ns_names[i]);
		path_fd_path(fd, p);
		if (mount(src, p, NULL, MS_BIND, NULL) < 0)
			return kc_error_set(err, errno, "bind %s on %s/ns/%s: %m", src, SANDBOX_DIR, ns_names[i]);
	}
	return 0;
}

static void unbind_resolv(void) {
	char p[PATH_FD_PATH_MAX];
	_cleanup_close_ int fd = open("/etc/resolv.conf", O_PATH | O_CLOEXEC);
	if (fd < 0)
		return;
	path_fd_path(fd, p);
	(void)umount2(p, MNT_DETACH);
}

static int write_resolv(int dfd, const char *text, kc_error *err) {
	_cleanup_close_ int fd = openat(dfd, "resolv.conf.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
					0644);
	if (fd < 0)
		return kc_error_set(err, errno, "dns: create %s.tmp: %m", SANDBOX_RESOLV);
	int r = write_all(fd, text, strlen(text));
	if (r < 0)
		return kc_error_set(err, r, "dns: write %s.tmp: %s", SANDBOX_RESOLV, strerror(-r));
	if (renameat(dfd, "resolv.conf.tmp", dfd, "resolv.conf") < 0)
		return kc_error_set(err, errno, "dns: rename to %s: %m", SANDBOX_RESOLV);
	return 0;
}

/* The sandbox resolv.conf goes over the guest's /etc/resolv.conf only when that exists and is not a
 * directory, as upstream does: an image without one keeps none. */
static int bind_resolv(create_job *j, const stor_root *root, kc_error *err) {
	_cleanup_close_ int dfd = -EBADF, src = -EBADF, etc = -EBADF;
	char sp[PATH_FD_PATH_MAX], ep[PATH_FD_PATH_MAX];
	struct stat st;

	int r = path_open_in_root(root->fd, "sandbox", O_PATH | O_DIRECTORY, PATH_RESOLVE_MKDIR, 0755, &dfd, NULL);
	if (r < 0)
		return kc_error_set(err, r, "dns: %s: %s", SANDBOX_DIR, strerror(-r));
	r = write_resolv(dfd, j->resolv, err);
	if (r < 0)
		return r;
	etc = open("/etc/resolv.conf", O_PATH | O_CLOEXEC);
	if (etc < 0 && errno == ENOENT)
		return 0;
	if (etc < 0 || fstat(etc, &st) < 0)
		return kc_error_set(err, errno, "dns: /etc/resolv.conf: %m");
	if (S_ISDIR(st.st_mode))
		return 0;
	src = openat(dfd, "resolv.conf", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return kc_error_set(err, errno, "dns: %s: %m", SANDBOX_RESOLV);
	path_fd_path(src, sp);
	path_fd_path(etc, ep);
	j->prog->resolv = 1;
	if (mount(sp, ep, NULL, MS_BIND, NULL) < 0)
		return kc_error_set(err, errno, "dns: bind %s over /etc/resolv.conf: %m", SANDBOX_RESOLV);
	return 0;
}

/* Undoes every step marked in the progress page, newest first, and clears the marks. */
static int undo_progress(create_job *j, const stor_root *root, kc_error *err) {
	int first = 0;
	if (j->prog->resolv)
		unbind_resolv();
	if (j->prog->ns)
		unbind_namespaces(root);
	j->prog->resolv = j->prog->ns = 0;
	if (j->storages)
		first = storage_batch_undo(j->storages, root, err);
	return first;
}

static int create_work(void *userdata, const stor_root *root, kc_error *err) {
	create_job *j = userdata;
	int r;
	if (j->n_mods) {
		r = init_load_modules_params(j->agent->moddir, j->mod_names, (const char *const *)j->mod_params,
					     j->n_mods, err);
		if (r < 0) {
			(void)kc_error_prefix(err, "kernel_modules");
			return r;
		}
	}
	if (j->storages) {
		r = storage_batch_mount(j->agent, j->storages, root, err);
		if (r < 0)
			goto undo;
	}
	/* The guest's own hostname first: the new UTS namespace starts as a copy of it. */
	if (j->hostname[0] && sethostname(j->hostname, strlen(j->hostname)) < 0) {
		r = kc_error_set(err, errno, "hostname: sethostname `%s`: %m", j->hostname);
		goto undo;
	}
	r = bind_namespaces(j, root, err);
	if (r >= 0 && j->resolv)
		r = bind_resolv(j, root, err);
	if (r >= 0)
		return r;
undo:
	(void)undo_progress(j, root, NULL);
	return r;
}

static int cleanup_work(void *userdata, const stor_root *root, kc_error *err) {
	return undo_progress(userdata, root, err);
}

/* ---- the agent's side ---- */

static create_job *create_job_free(create_job *j) {
	if (!j)
		return NULL;
	for (size_t i = 0; i < j->n_mods && j->mod_params; i++)
		free(j->mod_params[i]);
	if (j->storages) {
		storage_batch_leave(j->storages);
		storage_batch_release(j->storages);
	}
	storage_batch_free(j->storages);
	free(j->mod_names);
	free(j->mod_params);
	free(j->resolv);
	free(j->id);
	free(j->hook_path);
	devices_batch_free(j->devices);
	agent_shared_free(j->prog, sizeof *j->prog);
	free(j);
	return NULL;
}
DEFINE_CLEANUP_FUNC(create_job *, create_job_free);

static bool progress_any(const create_job *j) {
	return j->prog->ns || j->prog->resolv || (j->storages && storage_batch_any_mounted(j->storages));
}

static void cleanup_done(int result, const kc_error *err, void *userdata) {
	create_job *j = userdata;
	if (result < 0)
		log_error("CreateSandbox cleanup: %s", err->msg);
	else
		log_info("CreateSandbox cleanup: undone");
	sandbox_reset(j->agent->sandbox);
	create_job_free(j);
}

static void commit(create_job *j) {
	sandbox *sb = j->agent->sandbox;
	if (j->storages)
		storage_batch_commit(j->storages);
	sb->id = TAKE_PTR(j->id);
	sb->hook_path = TAKE_PTR(j->hook_path);
	sb->ns_bound = j->prog->ns;
	sb->resolv_bound = j->prog->resolv;
	sb->state = SB_CREATED;
}

static void create_done(int result, const kc_error *err, void *userdata) {
	create_job *j = userdata;
	agent *a = j->agent;

	if (result >= 0 && j->call) {
		Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
		commit(j);
		log_info("sandbox `%s` created: hostname `%s`, %zu storages mounted, %zu kernel modules, dns %s",
			 a->sandbox->id, j->hostname_copy, a->sandbox->storages.n, j->n_mods,
			 a->sandbox->resolv_bound ? "bound over /etc/resolv.conf" : j->resolv ? "written" : "none");
		ttrpc_call_reply(j->call, &empty.base);
		create_job_free(j);
		return;
	}
	if (result < 0)
		log_error("CreateSandbox: %s", err->msg);
	else
		log_warn("CreateSandbox: the call went away before the sandbox was ready; undoing it");
	if (j->call)
		ttrpc_call_fail_error(j->call, err);
	j->call = NULL;
	if (j->storages)
		storage_batch_release(j->storages);
	if (progress_any(j) && storage_helper_run(a, "CreateSandbox cleanup", cleanup_work, j, TEARDOWN_TIMEOUT_MS,
						  cleanup_done, j) > 0)
		return;
	sandbox_reset(a->sandbox);
	create_job_free(j);
}

static void create_cancel(ttrpc_call *call, void *userdata) {
	create_job *j = userdata;
	if (j->devices || storage_batch_waiting(j->storages)) {
		/* Still waiting for devices or unmounts: nothing was mounted yet, but held references go back. */
		kc_error e = { 0 };
		j->devices = devices_batch_free(j->devices);
		storage_batch_stop_waiting(j->storages);
		j->call = NULL;
		(void)kc_error_set(&e, ECANCELED, "the call went away");
		create_done(-ECANCELED, &e, j);
		return;
	}
	/* The helper goes on: killing it mid-mount would leave a mount nobody knows of. Its work is undone when
	 * it has finished (create_done). */
	j->call = NULL;
}

static bool printable(const char *s, const char *extra_bad) {
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (extra_bad && strchr(extra_bad, *p)))
			return false;
	return true;
}

static int check_names(const Grpc__CreateSandboxRequest *req, kc_error *err) {
	size_t hl = strlen(req->hostname);
	if (hl > SANDBOX_HOSTNAME_MAX || !printable(req->hostname, " /\\"))
		return kc_error_set(err, EINVAL, "hostname: `%.80s` is not a host name of at most %d characters",
				    req->hostname, SANDBOX_HOSTNAME_MAX);
	if (strlen(req->sandbox_id) > SANDBOX_ID_MAX || !printable(req->sandbox_id, NULL))
		return kc_error_set(err, EINVAL, "sandbox_id: longer than %d bytes or not printable", SANDBOX_ID_MAX);
	if (req->guest_hook_path[0] &&
	    (req->guest_hook_path[0] != '/' || strlen(req->guest_hook_path) >= PATH_MAX))
		return kc_error_set(err, EINVAL, "guest_hook_path: `%.200s` is not an absolute path",
				    req->guest_hook_path);
	return 0;
}

static int prepare_dns(create_job *j, const Grpc__CreateSandboxRequest *req, kc_error *err) {
	size_t total = 1;
	if (req->n_dns == 0)
		return 0;
	if (req->n_dns > SANDBOX_DNS_MAX)
		return kc_error_set(err, E2BIG, "dns: more than %d lines", SANDBOX_DNS_MAX);
	for (size_t i = 0; i < req->n_dns; i++) {
		/* One entry is one line: an embedded newline would smuggle in lines nobody checked. */
		if (strlen(req->dns[i]) > SANDBOX_DNS_LINE_MAX || !printable(req->dns[i], NULL))
			return kc_error_set(err, EINVAL, "dns[%zu]: longer than %d bytes or holds control characters", i,
					    SANDBOX_DNS_LINE_MAX);
		total += strlen(req->dns[i]) + 1;
	}
	j->resolv = malloc(total);
	if (!j->resolv)
		return kc_error_set(err, ENOMEM, "dns: out of memory");
	size_t off = 0;
	for (size_t i = 0; i < req->n_dns; i++) {
		size_t l = strlen(req->dns[i]);
		memcpy(j->resolv + off, req->dns[i], l);
		off += l;
		j->resolv[off++] = '\n';
	}
	j->resolv[off] = '\0';
	return 0;
}

static int prepare_modules(create_job *j, const agent *a, const Grpc__CreateSandboxRequest *req, kc_error *err) {
	if (req->n_kernel_modules == 0)
		return 0;
	if (req->n_kernel_modules > SANDBOX_MODULES_MAX)
		return kc_error_set(err, E2BIG, "kernel_modules: more than %d", SANDBOX_MODULES_MAX);
	j->mod_names = calloc(req->n_kernel_modules, sizeof(*j->mod_names));
	j->mod_params = calloc(req->n_kernel_modules, sizeof(*j->mod_params));
	if (!j->mod_names || !j->mod_params)
		return kc_error_set(err, ENOMEM, "kernel_modules: out of memory");
	j->n_mods = req->n_kernel_modules;
	for (size_t i = 0; i < req->n_kernel_modules; i++) {
		const Grpc__KernelModule *m = req->kernel_modules[i];
		size_t nl = strlen(m->name);
		if (nl == 0 || nl > MODULE_NAME_MAX || strspn(m->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
							  "0123456789_-") != nl)
			return kc_error_set(err, EINVAL, "kernel_modules[%zu].name: `%.80s` is not a module name", i,
					    m->name);
		if (m->n_parameters > SANDBOX_MODULE_PARAMS_MAX)
			return kc_error_set(err, E2BIG, "kernel_modules[%zu].parameters: more than %d", i,
					    SANDBOX_MODULE_PARAMS_MAX);
		j->mod_names[i] = m->name;
		/* finit_module takes the parameters as one string, "a=1 b=2", as modprobe would pass them. */
		size_t total = 1;
		for (size_t k = 0; k < m->n_parameters; k++) {
			size_t l = strlen(m->parameters[k]);
			if (l == 0 || l > SANDBOX_MODULE_PARAM_LEN_MAX || !printable(m->parameters[k], NULL))
				return kc_error_set(err, EINVAL, "kernel_modules[%zu].parameters[%zu]: empty, too long or "
						    "not printable", i, k);
			total += l + 1;
		}
		if (total > MODULE_PARAMS_MAX)
			return kc_error_set(err, E2BIG, "kernel_modules[%zu].parameters: more than %d bytes", i,
					    MODULE_PARAMS_MAX);
		char *p = j->mod_params[i] = calloc(1, total);
		if (!p)
			return kc_error_set(err, ENOMEM, "kernel_modules: out of memory");
		for (size_t k = 0; k < m->n_parameters; k++) {
			if (k)
				*p++ = ' ';
			size_t l = strlen(m->parameters[k]);
			memcpy(p, m->parameters[k], l);
			p += l;
		}
	}
	if (!a->moddir[0])
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ENOENT,
					 "kernel_modules: this agent has no kernel modules directory (not PID 1)");
	return 0;
}

static int start_create_helper(create_job *j, kc_error *err) {
	int r = storage_helper_run(j->agent, "CreateSandbox", create_work, j, CREATE_TIMEOUT_MS, create_done, j);
	if (r < 0)
		return kc_error_set(err, r, "CreateSandbox: cannot start a helper: %s", strerror(-r));
	/* The helper has its copy of the request and of the device nodes; ours may go with the call. */
	j->devices = devices_batch_free(j->devices);
	if (j->storages)
		storage_batch_drop_request(j->storages);
	j->hostname = "";
	return 0;
}

/* The unmounts of earlier requests that were in the way of the storages are done. */
static void unmounts_done(storage_batch *b, void *userdata) {
	create_job *j = userdata;
	kc_error e = { 0 };
	if (start_create_helper(j, &e) < 0)
		create_done(e.err ? -e.err : -EIO, &e, j);
}

/* The helper starts once no unmount in flight is in the way of the storages. */
static int start_when_unmounted(create_job *j, kc_error *err) {
	if (storage_batch_wait_unmounts(j->storages, unmounts_done, j) > 0)
		return 0;
	return start_create_helper(j, err);
}

static void devices_ready(int result, const kc_error *err, void *userdata) {
	create_job *j = userdata;
	kc_error e = { 0 };
	if (result >= 0 && j->storages)
		storage_batch_devices_found(j->storages);
	if (result >= 0 && start_when_unmounted(j, &e) >= 0)
		return;
	if (result < 0)
		e = *err;
	j->devices = devices_batch_free(j->devices);
	create_done(e.err ? -e.err : -EIO, &e, j);
}

static int dup_string(const char *s, char **ret, kc_error *err) {
	*ret = strdup(s);
	return *ret ? 0 : kc_error_set(err, ENOMEM, "out of memory");
}

static int create_sandbox(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__CreateSandboxRequest *req = (const Grpc__CreateSandboxRequest *)req_;
	_cleanup_(create_job_freep) create_job *j = NULL;
	sandbox *sb = sandbox_get(a);
	int r;

	if (!sb)
		return kc_error_set(err, ENOMEM, "CreateSandbox: out of memory");
	/* One sandbox per VM: a second CreateSandbox asks to create what exists, ALREADY_EXISTS as for a
	 * duplicate container id. While one is being created or destroyed, the state is in motion:
	 * FAILED_PRECONDITION, worth retrying later. */
	if (sb->state == SB_CREATED)
		return kc_error_set_code(err, KC_ALREADY_EXISTS, EEXIST, "sandbox `%s` already exists", sb->id);
	if (sb->state != SB_NONE)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY, "a sandbox is being %s",
					 sb->state == SB_CREATING ? "created" : "destroyed");
	r = check_names(req, err);
	if (r < 0)
		return r;
	j = calloc(1, sizeof *j);
	if (!j)
		return kc_error_set(err, ENOMEM, "CreateSandbox: out of memory");
	j->agent = a;
	j->hostname = req->hostname;
	(void)format_checked(j->hostname_copy, sizeof j->hostname_copy, "%s", req->hostname);
	r = storage_batch_new(a, &sb->storages, &sb->inflight, NULL, req->storages, req->n_storages, SANDBOX_STORAGES_MAX,
			      &j->storages, err);
	if (r >= 0)
		r = prepare_modules(j, a, req, err);
	if (r >= 0)
		r = prepare_dns(j, req, err);
	if (r >= 0)
		r = dup_string(req->sandbox_id, &j->id, err);
	if (r >= 0)
		r = dup_string(req->guest_hook_path, &j->hook_path, err);
	if (r < 0)
		return r;
	j->prog = agent_shared_alloc(sizeof *j->prog);
	if (!j->prog)
		return kc_error_set(err, ENOMEM, "CreateSandbox: shared page: %m");

	/* Block storages wait for their devices in the loop first (a pending call, Check still answers); the
	 * helper then mounts the nodes found. */
	device_want *wants[SANDBOX_STORAGES_MAX];
	for (size_t i = 0; i < j->storages->n_wants; i++)
		wants[i] = &j->storages->wants[i];
	storage_batch_join(j->storages);
	r = devices_wait(a, wants, j->storages->n_wants, devices_ready, j, &j->devices, err);
	if (r == 0) {
		storage_batch_devices_found(j->storages);
		r = start_when_unmounted(j, err);
	}
	if (r < 0)
		return r;
	j->call = call;
	sb->state = SB_CREATING;
	ttrpc_call_on_cancel(call, create_cancel, j);
	TAKE_PTR(j);
	return TTRPC_PENDING;
}

/* ---- DestroySandbox ---- */

/* Kill every container, wait (bounded) until their processes and cgroups are gone, then unmount what the
 * sandbox and its containers mounted, in a helper, and only then reply: a host that sees OK may count on the
 * guest being clean. */
#define DESTROY_CGROUPS_MS 10000

typedef struct teardown_job {
	agent *agent;
	ttrpc_call *call;
	sandbox_destroyed_fn done;
	bool created;    /* CreateSandbox had finished: its namespaces, resolv.conf and files go too */
	kc_error cg_err; /* a container's cgroup that did not go (cg_failed) */
	bool cg_failed;
	size_t n;
	char **keys;
	unsigned *flags;
	bool ns, resolv;
	ev_timer inflight_poll; /* armed while storages are still mounted or unmounted by helpers */
} teardown_job;

static teardown_job *teardown_job_free(teardown_job *t) {
	if (!t)
		return NULL;
	ev_timer_disarm(&t->inflight_poll);
	for (size_t i = 0; i < t->n && t->keys; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->flags);
	free(t);
	return NULL;
}
DEFINE_CLEANUP_FUNC(teardown_job *, teardown_job_free);

static int teardown_work(void *userdata, const stor_root *root, kc_error *err) {
	teardown_job *t = userdata;
	kc_error e = { 0 };
	int first = 0, r;
	if (t->resolv)
		unbind_resolv();
	if (t->ns)
		unbind_namespaces(root);
	/* The registry lists the newest first: unmount in reverse order of mounting. */
	for (size_t i = 0; i < t->n; i++) {
		r = stor_umount(t->keys[i], t->flags[i], root, &e);
		if (r < 0 && first == 0)
			first = kc_error_set(err, r, "%s", e.msg);
	}
	/* Every watchable storage went with the rest. */
	r = stor_watch_release(root, &e);
	if (r < 0 && first == 0)
		first = kc_error_set(err, r, "%s", e.msg);
	/* What CreateSandbox wrote besides mounts; the directories go only when empty. */
	(void)unlinkat(root->fd, "sandbox/resolv.conf", 0);
	(void)unlinkat(root->fd, "sandbox/ns", AT_REMOVEDIR);
	(void)unlinkat(root->fd, "sandbox", AT_REMOVEDIR);
	return first;
}

/* The end: the reply names a cgroup that did not go; an unmount that failed is logged, as before (the mount
 * namespace goes with the VM). */
static void teardown_finish(teardown_job *t) {
	sandbox *sb = t->agent->sandbox;
	if (sb)
		sandbox_reset(sb);
	t->done(t->agent, t->call, t->cg_failed ? &t->cg_err : NULL);
	teardown_job_free(t);
}

static void teardown_done(int result, const kc_error *err, void *userdata) {
	teardown_job *t = userdata;
	if (result < 0)
		log_error("DestroySandbox teardown: %s", err->msg);
	/* Every storage was unmounted, the containers' too (they were destroyed first). */
	stor_registry_clear(&t->agent->sandbox->storages);
	teardown_finish(t);
}

/* The storages as they are once the containers are gone (a create aborted meanwhile may have given some
 * back), then the helper. Returns 1 while the helper runs, 0 when t is finished. */
static int teardown_storages(teardown_job *t) {
	agent *a = t->agent;
	sandbox *sb = a->sandbox;
	size_t i = 0;

	if (!sb || (!t->created && sb->storages.n == 0)) {
		teardown_finish(t);
		return 0;
	}
	t->ns = sb->ns_bound;
	t->resolv = sb->resolv_bound;
	t->keys = calloc(sb->storages.n + 1, sizeof(*t->keys));
	t->flags = calloc(sb->storages.n + 1, sizeof(*t->flags));
	for (stor_entry *e = sb->storages.head; e && t->keys && t->flags; e = e->next, i++) {
		t->keys[i] = strdup(e->key);
		t->flags[i] = stor_driver_flags(e->driver);
		t->n = i + 1;
		if (!t->keys[i])
			break;
	}
	int r = t->keys && t->flags && t->n == sb->storages.n && (t->n == 0 || t->keys[t->n - 1]) ? 0 : -ENOMEM;
	if (r < 0) {
		/* Nothing unmounted: the registry keeps what is still mounted, and the call says so. */
		kc_error_set(&t->cg_err, ENOMEM, "DestroySandbox: out of memory listing the storages: they stay mounted");
		t->cg_failed = true;
		teardown_finish(t);
		return 0;
	}
	if (r >= 0) {
		r = storage_helper_run(a, "DestroySandbox", teardown_work, t, TEARDOWN_TIMEOUT_MS, teardown_done, t);
		if (r >= 0)
			return 1;
	}
	/* Without a helper, still tear down and let PID 1 power off: better a stalled loop for a moment than a VM
	 * that never stops. */
	log_warn("DestroySandbox: cannot start a helper (%s): tearing down inline", strerror(-r));
	kc_error e = { 0 };
	int result = storage_in_root(teardown_work, t, &e);
	teardown_done(result, &e, t);
	return 0;
}

#define TEARDOWN_INFLIGHT_POLL_MS 20

static void teardown_inflight_tick(ev_timer *timer, void *userdata);

/* A create the teardown aborted, or a removal, may still have a helper mounting or unmounting with references on
 * the registry: the storages go once every such batch is done (each helper has its own timeout). Returns 0 when
 * t is finished, 1 while it waits. */
static int teardown_after_inflight(teardown_job *t) {
	sandbox *sb = t->agent->sandbox;
	if (sb && sb->inflight) {
		if (ev_timer_arm(&t->inflight_poll, now_ns() + TEARDOWN_INFLIGHT_POLL_MS * 1000000ull) >= 0) {
			sb->teardown = t;
			return 1;
		}
		log_warn("DestroySandbox: cannot wait for the storages still being mounted or unmounted");
	}
	if (sb)
		sb->teardown = NULL;
	return teardown_storages(t);
}

static void teardown_inflight_tick(ev_timer *timer, void *userdata) {
	(void)teardown_after_inflight(userdata);
}

static void teardown_containers_gone(agent *a, const kc_error *err, void *userdata) {
	teardown_job *t = userdata;
	/* The agent is stopping (its server is gone): no helper now; the mounts stay with the mount namespace. */
	if (!a->server) {
		teardown_job_free(t);
		return;
	}
	if (err) {
		log_error("DestroySandbox: %s", err->msg);
		t->cg_err = *err;
		t->cg_failed = true;
	}
	(void)teardown_after_inflight(t);
}

static void teardown_cancel(ttrpc_call *call, void *userdata) {
	teardown_job *t = userdata;
	t->call = NULL;
}

bool sandbox_destroying(const agent *a) {
	return a->sandbox && a->sandbox->state == SB_DESTROYING;
}

int sandbox_teardown(agent *a, ttrpc_call *call, sandbox_destroyed_fn done, kc_error *err) {
	/* Made if need be, so that the state can say "destroying" while the containers go. */
	sandbox *sb = sandbox_get(a);
	_cleanup_(teardown_job_freep) teardown_job *t = NULL;

	/* Powering off under a running create or teardown helper would leave mounts nobody knows about. */
	if (sb && (sb->state == SB_CREATING || sb->state == SB_DESTROYING))
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY, "DestroySandbox: the sandbox is being %s",
					 sb->state == SB_CREATING ? "created" : "destroyed");
	t = calloc(1, sizeof *t);
	if (!t)
		return kc_error_set(err, ENOMEM, "DestroySandbox: out of memory");
	*t = (teardown_job){ .agent = a, .call = call, .done = done, .created = sb && sb->state == SB_CREATED };
	ev_timer_init(&t->inflight_poll, a->loop, teardown_inflight_tick, t);
	/* Containers first: their processes may use the sandbox's storages and namespaces. */
	containers_destroy_all(a);
	int r = containers_wait_gone(a, DESTROY_CGROUPS_MS, teardown_containers_gone, t);
	if (r == -EBUSY)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY,
					 "DestroySandbox: another DestroySandbox is waiting for the containers");
	if (r < 0) {
		t->cg_failed = true;
		kc_error_set(&t->cg_err, -r, "DestroySandbox: cannot wait for the containers' cgroups: %s", strerror(-r));
	}
	teardown_job *job = TAKE_PTR(t);
	if (r <= 0 && teardown_after_inflight(job) == 0)
		return 0; /* done already answered */
	sb = a->sandbox;
	if (sb)
		sb->state = SB_DESTROYING;
	ttrpc_call_on_cancel(call, teardown_cancel, job);
	return TTRPC_PENDING;
}

/* ---- UpdateEphemeralMounts: tmpfs remounts are local kernel work, done inline ---- */

static int update_ephemeral_mounts(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__UpdateEphemeralMountsRequest *req = (const Grpc__UpdateEphemeralMountsRequest *)req_;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	stor_root root = { .fd = -EBADF, .prefix = STOR_ROOT_PREFIX };
	char what[32], key[PATH_MAX];
	int r;

	if (req->n_storages > SANDBOX_STORAGES_MAX)
		return kc_error_set(err, E2BIG, "storages: more than %d", SANDBOX_STORAGES_MAX);
	/* Everything is checked before the first remount. */
	for (size_t i = 0; i < req->n_storages; i++) {
		stor_spec s;
		(void)format_checked(what, sizeof what, "storages[%zu]", i);
		storage_spec_from_proto(req->storages[i], &s);
		if (strcmp(s.driver, "ephemeral") != 0)
			return kc_error_set(err, EINVAL, "%s.driver: `%s` is not ephemeral; only ephemeral storages "
					    "can be updated", what, s.driver);
		r = stor_spec_check(&s, &root, what, err);
		if (r < 0)
			return r;
		r = stor_mount_point_key(s.mount_point, key, sizeof key);
		if (r < 0)
			return kc_error_set(err, r, "%s.mount_point: too long", what);
		stor_entry *e = a->sandbox ? stor_registry_find(&a->sandbox->storages, key) : NULL;
		if (!e)
			return kc_error_set(err, ENOENT, "%s.mount_point: no storage is mounted at %s", what, key);
		if (!(stor_driver_flags(e->driver) & STOR_DRIVER_REMOUNT))
			return kc_error_set(err, EINVAL, "%s.mount_point: %s is a %s storage, not ephemeral", what, key,
					    stor_driver_name(e->driver));
	}
	r = storage_root_open(&root, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < req->n_storages && r >= 0; i++) {
		stor_spec s;
		(void)format_checked(what, sizeof what, "storages[%zu]", i);
		storage_spec_from_proto(req->storages[i], &s);
		r = stor_remount(&s, &root, what, err);
	}
	safe_close(root.fd);
	if (r < 0)
		return r;
	ttrpc_call_reply(call, &empty.base);
	return 0;
}

AGENT_HANDLER(grpc__agent_service__descriptor, "CreateSandbox", create_sandbox);
AGENT_HANDLER(grpc__agent_service__descriptor, "UpdateEphemeralMounts", update_ephemeral_mounts);
