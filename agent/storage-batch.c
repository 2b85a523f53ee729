/* Storages of one request as a batch (storage-batch.h). */
#define LOG_SOURCE "storage"
#include "agent/storage-batch.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "agent/sandbox.h"
#include "agent/watch.h"
#include "common/log.h"
#include "common/util.h"
#include "init/init.h"

int storage_root_open(stor_root *ret, kc_error *err) {
	if (mkdir(STOR_ROOT, 0755) < 0 && errno != EEXIST)
		return kc_error_set(err, errno, "mkdir %s: %m", STOR_ROOT);
	int fd = open(STOR_ROOT, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "open %s: %m", STOR_ROOT);
	*ret = (stor_root){ .fd = fd, .prefix = STOR_ROOT_PREFIX };
	return 0;
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
	for (size_t i = 0; i < b->n && b->keys; i++)
		free(b->keys[i]);
	free(b->keys);
	free(b->drivers);
	free(b->shared);
	free(b->to_mount);
	free(b->held);
	free(b->specs);
	free(b->wants);
	free(b->want_of);
	agent_shared_free(b->mounted, b->n ? b->n : 1);
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

static bool inflight_mounts(const storage_batch *inflight, const char *key) {
	for (const storage_batch *o = inflight; o; o = o->next)
		for (size_t i = 0; i < o->n; i++)
			if (o->to_mount[i] && strcmp(o->keys[i], key) == 0)
				return true;
	return false;
}

int storage_batch_new(agent *a, stor_registry *reg, const storage_batch *inflight, const char *container_id,
		      Grpc__Storage *const *storages, size_t n, size_t max, storage_batch **ret, kc_error *err) {
	_cleanup_(storage_batch_freep) storage_batch *b = NULL;
	stor_root root = { .fd = -EBADF, .prefix = STOR_ROOT_PREFIX };
	char what[32], key[PATH_MAX];

	if (n > max)
		return kc_error_set(err, E2BIG, "storages: more than %zu", max);
	b = calloc(1, sizeof *b);
	if (!b)
		return kc_error_set(err, ENOMEM, "storages: out of memory");
	b->specs = calloc(n + 1, sizeof(*b->specs));
	b->keys = calloc(n + 1, sizeof(*b->keys));
	b->drivers = calloc(n + 1, sizeof(*b->drivers));
	b->shared = calloc(n + 1, sizeof(*b->shared));
	b->to_mount = calloc(n + 1, sizeof(*b->to_mount));
	b->held = calloc(n + 1, sizeof(*b->held));
	b->mounted = agent_shared_alloc(n ? n : 1);
	if (!b->specs || !b->keys || !b->drivers || !b->shared || !b->to_mount || !b->held || !b->mounted)
		return kc_error_set(err, ENOMEM, "storages: out of memory");
	b->n = n;
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
		if (!known && inflight_mounts(inflight, key))
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
	return first;
}

bool storage_batch_any_mounted(const storage_batch *b) {
	for (size_t i = 0; i < b->n; i++)
		if (b->mounted[i])
			return true;
	return false;
}

void storage_batch_commit(agent *a, storage_batch *b, stor_registry *reg) {
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
			watch_kick(a);
	}
}

void storage_batch_release(storage_batch *b, stor_registry *reg) {
	for (size_t i = 0; i < b->n; i++) {
		bool unmount = false;
		unsigned flags;
		if (!b->held[i])
			continue;
		b->held[i] = false;
		if (reg && stor_registry_unref(reg, b->keys[i], &unmount, &flags) >= 0 && unmount)
			b->mounted[i] = 1;
	}
}
