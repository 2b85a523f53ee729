/* Storages of one request as a batch (storage-batch.h). */
#define LOG_SOURCE "storage"
#include "agent/storage-batch.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "agent/child.h"
#include "agent/sandbox.h"
#include "agent/watch.h"
#include "storage/watch.h"
#include "common/log.h"
#include "common/util.h"
#include "init/init.h"

/* Unmounts are lazy (MNT_DETACH): a helper that takes this long is stuck on something else. */
#define STORAGE_RELEASE_TIMEOUT_MS 30000

int storage_root_open(stor_root *ret, kc_error *err) {
	if (mkdir(STOR_ROOT, 0755) < 0 && errno != EEXIST)
		return kc_error_set(err, errno, "mkdir %s: %m", STOR_ROOT);
	int fd = open(STOR_ROOT, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "open %s: %m", STOR_ROOT);
	*ret = (stor_root){ .fd = fd, .prefix = STOR_ROOT_PREFIX };
	return 0;
}

typedef struct root_work {
	storage_work_fn work;
	void *userdata;
} root_work;

int storage_in_root(storage_work_fn work, void *userdata, kc_error *err) {
	stor_root root;
	int r = storage_root_open(&root, err);
	if (r < 0)
		return r;
	r = work(userdata, &root, err);
	safe_close(root.fd);
	return r;
}

static int in_root(void *userdata, kc_error *err) {
	const root_work *w = userdata;
	return storage_in_root(w->work, w->userdata, err);
}

int storage_helper_run(agent *a, const char *what, storage_work_fn work, void *userdata, uint32_t timeout_ms,
		       helper_done_fn done, void *done_userdata) {
	/* helper_run forks before it returns, and the helper never comes back up this stack: its copy of w lives
	 * as long as it does. */
	root_work w = { .work = work, .userdata = userdata };
	return helper_run(a, what, in_root, &w, timeout_ms, done, done_userdata);
}

void storage_spec_from_proto(const Grpc__Storage *s, stor_spec *ret) {
	*ret = (stor_spec){
		.driver = s->driver,
		.source = s->source,
		.fstype = s->fstype,
		.options = (const char *const *)s->options,
		.n_options = s->n_options,
		.mount_point = s->mount_point,
		.has_fs_group = s->fs_group != NULL,
		.fs_gid = s->fs_group ? s->fs_group->group_id : 0,
		.fs_policy = s->fs_group ? (stor_fsgroup_policy)s->fs_group->group_change_policy : STOR_FSGROUP_ALWAYS,
		.shared = s->shared,
		.driver_options = (const char *const *)s->driver_options,
		.n_driver_options = s->n_driver_options,
	};
}

storage_batch *storage_batch_free(storage_batch *b) {
	if (!b)
		return NULL;
	storage_batch_leave(b);
	for (size_t i = 0; i < b->n && b->keys; i++)
		free(b->keys[i]);
	free(b->keys);
	free(b->drivers);
	free(b->shared);
	free(b->to_mount);
	free(b->held);
	free(b->releasing);
	free(b->specs);
	free(b->wants);
	free(b->want_of);
	agent_shared_free(b->mounted, b->mounted_size);
	ev_timer_disarm(&b->wake);
	free(b);
	return NULL;
}

static int prepare_waits(agent *a, storage_batch *b, kc_error *err) {
	b->wants = calloc(b->n, sizeof *b->wants);
	b->want_of = calloc(b->n, sizeof *b->want_of);
	if (!b->wants || !b->want_of)
		return kc_error_set(err, ENOMEM, "storages: out of memory");
	for (size_t i = 0; i < b->n; i++) {
		if (!b->to_mount[i] || !(stor_driver_flags(b->drivers[i]) & STOR_DRIVER_DEVICE))
			continue;
		device_want *dw = &b->wants[b->n_wants];
		(void)format_checked(dw->field_buf, sizeof dw->field_buf, "storages[%zu]", i);
		dw->field = dw->field_buf;
		int r = stor_device_prepare(&b->specs[i], a->sysfs, dw->field, &dw->w, err);
		if (r < 0)
			return r;
		b->want_of[b->n_wants++] = i;
	}
	return 0;
}

static bool inflight_mounts(const storage_batch *list, const char *key) {
	for (const storage_batch *o = list; o; o = o->next)
		for (size_t i = 0; i < o->n; i++)
			if (o->to_mount[i] && strcmp(o->keys[i], key) == 0)
				return true;
	return false;
}

/* A mount point and an unmount in flight are in each other's way when one is the other or lies below it: the
 * unmount (MNT_DETACH) takes what is mounted below it along, and a mount above would cover its path. */
static bool nested(const char *a, const char *b) {
	size_t la = strlen(a), lb = strlen(b), l = la < lb ? la : lb;
	const char *longer = la < lb ? b : a;
	return strncmp(a, b, l) == 0 && (longer[l] == '\0' || longer[l] == '/');
}

/* The key of an unmount in flight that one of b's new mount points waits for; NULL when none. */
static const char *unmount_in_way(const storage_batch *b) {
	for (const storage_batch *o = *b->list; o; o = o->next) {
		for (size_t i = 0; o != b && o->release_tmpfs && i < b->n; i++)
			if (b->to_mount[i] && nested(b->keys[i], STOR_WATCHABLE))
				return STOR_WATCHABLE;
		for (size_t k = 0; o != b && k < o->n; k++)
			for (size_t i = 0; o->releasing[k] && i < b->n; i++)
				if (b->to_mount[i] && nested(b->keys[i], o->keys[k]))
					return o->keys[k];
	}
	return NULL;
}

static void wake(ev_timer *t, void *userdata) {
	storage_batch *b = userdata;
	/* Another unmount may have started in its way since it was woken: it waits for that one too. */
	if (!b->ready || unmount_in_way(b))
		return;
	storage_batch_ready_fn ready = b->ready;
	b->ready = NULL;
	ready(b, b->ready_userdata);
}

void storage_batch_join(storage_batch *b) {
	if (b->on_list)
		return;
	b->next = *b->list;
	*b->list = b;
	b->on_list = true;
}

void storage_batch_leave(storage_batch *b) {
	if (!b->on_list)
		return;
	for (storage_batch **p = b->list; *p; p = &(*p)->next)
		if (*p == b) {
			*p = b->next;
			break;
		}
	b->next = NULL;
	b->on_list = false;
	/* From the loop, not from here: the caller is in the middle of freeing its request. */
	for (storage_batch *o = *b->list; o; o = o->next)
		if (o->ready && !unmount_in_way(o) && ev_timer_arm(&o->wake, now_ns()) < 0)
			log_error("storages: out of memory: a request waiting for an unmount is stuck until its deadline");
}

int storage_batch_wait_unmounts(storage_batch *b, storage_batch_ready_fn ready, void *userdata) {
	const char *key = unmount_in_way(b);
	if (!key)
		return 0;
	log_info("storages: waiting for the unmount of %s before mounting", key);
	b->ready = ready;
	b->ready_userdata = userdata;
	return 1;
}

bool storage_batch_waiting(const storage_batch *b) {
	return b && b->ready;
}

void storage_batch_stop_waiting(storage_batch *b) {
	if (!b)
		return;
	b->ready = NULL;
	ev_timer_disarm(&b->wake);
}

static storage_batch *batch_alloc(agent *a, stor_registry *reg, storage_batch **list, size_t n) {
	_cleanup_(storage_batch_freep) storage_batch *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->agent = a;
	b->reg = reg;
	b->list = list;
	ev_timer_init(&b->wake, a->loop, wake, b);
	b->specs = calloc(n + 1, sizeof(*b->specs));
	b->keys = calloc(n + 1, sizeof(*b->keys));
	b->drivers = calloc(n + 1, sizeof(*b->drivers));
	b->shared = calloc(n + 1, sizeof(*b->shared));
	b->to_mount = calloc(n + 1, sizeof(*b->to_mount));
	b->held = calloc(n + 1, sizeof(*b->held));
	b->releasing = calloc(n + 1, sizeof(*b->releasing));
	b->mounted_size = n ? n : 1;
	b->mounted = agent_shared_alloc(b->mounted_size);
	if (!b->specs || !b->keys || !b->drivers || !b->shared || !b->to_mount || !b->held || !b->releasing ||
	    !b->mounted)
		return NULL;
	b->n = n;
	return TAKE_PTR(b);
}

int storage_batch_new(agent *a, stor_registry *reg, storage_batch **list, const char *container_id,
		      Grpc__Storage *const *storages, size_t n, size_t max, storage_batch **ret, kc_error *err) {
	_cleanup_(storage_batch_freep) storage_batch *b = NULL;
	stor_root root = { .fd = -EBADF, .prefix = STOR_ROOT_PREFIX };
	char what[32], key[PATH_MAX];

	if (n > max)
		return kc_error_set(err, E2BIG, "storages: more than %zu", max);
	b = batch_alloc(a, reg, list, n);
	if (!b)
		return kc_error_set(err, ENOMEM, "storages: out of memory");
	for (size_t i = 0; i < n; i++) {
		(void)format_checked(what, sizeof what, "storages[%zu]", i);
		storage_spec_from_proto(storages[i], &b->specs[i]);
		b->specs[i].container_id = container_id;
		int r = stor_spec_check(&b->specs[i], &root, what, err);
		if (r < 0)
			return r;
		r = stor_mount_point_key(b->specs[i].mount_point, key, sizeof key);
		if (r < 0)
			return kc_error_set(err, r, "%s.mount_point: too long", what);
		b->keys[i] = strdup(key);
		if (!b->keys[i])
			return kc_error_set(err, ENOMEM, "storages: out of memory");
		b->drivers[i] = stor_driver_find(b->specs[i].driver);
		b->shared[i] = b->specs[i].shared;
		/* A mount point already known, or named earlier in this request, is one more reference. */
		const stor_entry *e = reg ? stor_registry_find(reg, key) : NULL;
		bool known = e != NULL;
		/* One mount point, one driver: a release or undo unmounts with the flags of the driver it records. */
		if (e && e->driver != b->drivers[i])
			return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY,
						 "%s.driver: %s is mounted by driver `%s`, not `%s`", what, key,
						 stor_driver_name(e->driver), b->specs[i].driver);
		for (size_t k = 0; k < i && !known; k++) {
			known = strcmp(b->keys[k], key) == 0;
			if (known && b->drivers[k] != b->drivers[i])
				return kc_error_set(err, EINVAL, "%s.driver: %s is named with driver `%s` earlier in the request",
						    what, key, b->specs[k].driver);
		}
		b->to_mount[i] = !known;
		if (!known && inflight_mounts(*list, key))
			return kc_error_set_code(err, KC_FAILED_PRECONDITION, EBUSY,
						 "%s.mount_point: %s is being mounted by another request", what, key);
	}
	int r = prepare_waits(a, b, err);
	if (r < 0)
		return r;
	/* Nothing fails after this point, so no reference is taken for a batch that never existed. */
	for (size_t i = 0; reg && i < n; i++)
		if (!b->to_mount[i] && stor_registry_find(reg, b->keys[i]))
			b->held[i] = stor_registry_ref(reg, b->keys[i]) > 0;
	*ret = TAKE_PTR(b);
	return 0;
}

void storage_batch_devices_found(storage_batch *b) {
	for (size_t k = 0; k < b->n_wants; k++)
		b->specs[b->want_of[k]].device = b->wants[k].node[0] ? b->wants[k].node : NULL;
}

void storage_batch_drop_request(storage_batch *b) {
	b->mount_started = true;
	free(b->specs);
	b->specs = NULL;
	free(b->wants);
	b->wants = NULL;
	b->n_wants = 0;
}

/* The filesystems of remote shares are modules in our kernel, loaded in the background at boot: a request
 * that comes early must not find them missing (the kernel's own request_module has no modprobe to call).
 * Loading a live module is a no-op; one that fails is left to the mount to report. */
static const struct {
	const char *driver;
	const char *modules[2];
} driver_modules[] = {
	{ "9p", { "9p", "9pnet_virtio" } },
	{ "virtio-fs", { "virtiofs", NULL } },
};

static void load_fs_modules(agent *a, const storage_batch *b) {
	for (size_t k = 0; k < ELEMENTSOF(driver_modules) && a->moddir[0]; k++) {
		bool needed = false;
		for (size_t i = 0; i < b->n && !needed; i++)
			needed = b->to_mount[i] && strcmp(b->specs[i].driver, driver_modules[k].driver) == 0;
		if (!needed)
			continue;
		size_t n = driver_modules[k].modules[1] ? 2 : 1;
		kc_error e = { 0 };
		if (init_load_modules(a->moddir, driver_modules[k].modules, n, &e) < 0)
			log_warn("%s storage: %s", driver_modules[k].driver, e.msg);
	}
	/* A block device's filesystem (ext4, xfs) is a module too; its name is the fstype, which the check
	 * limited to [a-z0-9_.]. A built-in filesystem has no module: that failure is only logged. */
	for (size_t i = 0; i < b->n && a->moddir[0]; i++) {
		const char *fs = b->specs[i].fstype;
		if (!b->to_mount[i] || !(stor_driver_flags(b->drivers[i]) & STOR_DRIVER_DEVICE) || !fs || !*fs)
			continue;
		kc_error e = { 0 };
		if (init_load_modules(a->moddir, &fs, 1, &e) < 0)
			log_debug("storages[%zu]: filesystem module %s: %s", i, fs, e.msg);
	}
}

int storage_batch_mount(agent *a, storage_batch *b, const stor_root *root, kc_error *err) {
	char what[32];
	load_fs_modules(a, b);
	for (size_t i = 0; i < b->n; i++) {
		if (!b->to_mount[i])
			continue;
		(void)format_checked(what, sizeof what, "storages[%zu]", i);
		b->mounted[i] = 1;
		int r = stor_mount(&b->specs[i], root, what, err);
		if (r < 0) {
			b->mounted[i] = 0; /* stor_mount leaves nothing behind */
			return r;
		}
	}
	return 0;
}

int storage_batch_undo(storage_batch *b, const stor_root *root, kc_error *err) {
	int first = 0;
	for (size_t i = b->n; i-- > 0;) {
		if (!b->mounted[i])
			continue;
		kc_error e = { 0 };
		int r = stor_umount(b->keys[i], stor_driver_flags(b->drivers[i]), root, &e);
		if (r < 0 && first == 0)
			first = kc_error_set(err, r, "undo: %s", e.msg);
		b->mounted[i] = 0;
	}
	if (b->release_tmpfs) {
		kc_error e = { 0 };
		int r = stor_watch_release(root, &e);
		if (r < 0 && first == 0)
			first = kc_error_set(err, r, "undo: %s", e.msg);
	}
	return first;
}

bool storage_batch_any_mounted(const storage_batch *b) {
	if (b->release_tmpfs)
		return true;
	for (size_t i = 0; i < b->n; i++)
		if (b->mounted[i])
			return true;
	return false;
}

void storage_batch_commit(storage_batch *b) {
	stor_registry *reg = b->reg;
	for (size_t i = 0; i < b->n; i++) {
		b->mounted[i] = 0; /* the registry's now: nothing of it is the batch's to undo */
		if (b->held[i]) {
			b->held[i] = false;
			continue;
		}
		/* The checks before the helper found each key absent (to_mount) or present; the caller keeps other
		 * changes to the registry out while its batch runs. */
		int r = b->to_mount[i] ? stor_registry_add(reg, b->keys[i], b->drivers[i], b->shared[i])
				       : stor_registry_ref(reg, b->keys[i]);
		if (r < 0)
			log_error("storage %s: cannot record its reference: %s", b->keys[i], strerror(-r));
		if (b->to_mount[i] && (stor_driver_flags(b->drivers[i]) & STOR_DRIVER_WATCH))
			watch_kick(b->agent);
	}
}

static bool watchable(const storage_batch *b, size_t i) {
	return stor_driver_flags(b->drivers[i]) & STOR_DRIVER_WATCH;
}

/* Whether the watchable tmpfs is still needed, not counting b: a watchable storage in the registry (its own
 * release decides later), or one that a request on the list mounts or is about to (it may wait for devices or
 * unmounts yet). That request then owes the decision should it fail: it may never mount anything. */
static bool watchable_needed(const storage_batch *b) {
	for (const stor_entry *e = b->reg->head; e; e = e->next)
		if (stor_driver_flags(e->driver) & STOR_DRIVER_WATCH)
			return true;
	for (storage_batch *o = *b->list; o; o = o->next)
		for (size_t i = 0; o != b && !o->released && i < o->n; i++)
			if (o->to_mount[i] && watchable(o, i)) {
				o->tmpfs_owed = true;
				return true;
			}
	return false;
}

void storage_batch_release(storage_batch *b) {
	bool watch_gone = b->tmpfs_owed;
	if (b->released)
		return;
	b->released = true;
	for (size_t i = 0; i < b->n; i++) {
		bool unmount = false;
		unsigned flags;
		/* Its own watchable mount, if the helper got that far, goes with the undo. */
		if (b->to_mount[i] && b->mount_started && watchable(b, i))
			watch_gone = true;
		if (!b->held[i])
			continue;
		b->held[i] = false;
		if (stor_registry_unref(b->reg, b->keys[i], &unmount, &flags) >= 0 && unmount) {
			b->mounted[i] = b->releasing[i] = true;
			watch_gone |= watchable(b, i);
		}
	}
	/* Decided here, in the loop, where every request is seen: a helper that looked at the tmpfs could not see
	 * a watchable storage another helper is about to mount. */
	if (watch_gone && !watchable_needed(b))
		b->release_tmpfs = true;
}

int storage_batch_new_release(agent *a, stor_registry *reg, storage_batch **list, char *const *keys, size_t n,
			      storage_batch **ret) {
	_cleanup_(storage_batch_freep) storage_batch *b = batch_alloc(a, reg, list, n);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const stor_entry *e = stor_registry_find(reg, keys[i]);
		const stor_driver *d = e ? e->driver : NULL;
		bool unmount = false;
		unsigned flags = 0;
		if (stor_registry_unref(reg, keys[i], &unmount, &flags) < 0 || !unmount)
			continue;
		if (!b) {
			log_error("storage %s: out of memory: it stays mounted", keys[i]);
			continue;
		}
		b->keys[m] = strdup(keys[i]);
		if (!b->keys[m]) {
			log_error("storage %s: out of memory: it stays mounted", keys[i]);
			continue;
		}
		b->drivers[m] = d;
		b->mounted[m] = b->releasing[m] = true;
		m++;
	}
	if (!b)
		return -ENOMEM;
	b->n = m;
	for (size_t i = 0; i < m && !b->release_tmpfs; i++)
		b->release_tmpfs = watchable(b, i) && !watchable_needed(b);
	*ret = m ? TAKE_PTR(b) : NULL;
	return 0;
}

/* ---- a container's storages given back ---- */

typedef struct release_op {
	storage_batch *b;
	helper_done_fn done;
	void *userdata;
	char *what;
} release_op;

static int release_work(void *userdata, const stor_root *root, kc_error *err) {
	release_op *op = userdata;
	return storage_batch_undo(op->b, root, err);
}

static void release_done(int result, const kc_error *err, void *userdata) {
	release_op *op = userdata;
	if (result < 0)
		log_error("%s: unmount its storages: %s", op->what, err->msg);
	storage_batch_free(op->b); /* off the list: requests that waited for these unmounts go on */
	if (op->done)
		op->done(result, err, op->userdata);
	free(op->what);
	free(op);
}

int storage_release(agent *a, char *const *keys, size_t n, const char *what, helper_done_fn done, void *userdata) {
	storage_batch **list = NULL;
	storage_batch *b = NULL;
	stor_registry *reg = n ? sandbox_storages(a, &list) : NULL;
	if (!reg || storage_batch_new_release(a, reg, list, keys, n, &b) < 0 || !b)
		return 0;
	release_op *op = calloc(1, sizeof *op);
	if (!op || !(op->what = strdup(what))) {
		log_error("%s: out of memory: its storages stay mounted", what);
		free(op);
		storage_batch_free(b);
		return 0;
	}
	op->b = b;
	op->done = done;
	op->userdata = userdata;
	storage_batch_join(b);
	if (storage_helper_run(a, "unmount storages", release_work, op, STORAGE_RELEASE_TIMEOUT_MS, release_done, op) > 0)
		return 1;
	kc_error e = { 0 };
	log_warn("%s: no helper for its storages: unmounting inline", what);
	op->done = NULL;
	release_done(storage_in_root(release_work, op, &e), &e, op);
	return 0;
}
