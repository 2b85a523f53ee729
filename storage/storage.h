/* Storage: the drivers that mount what the host describes in a Storage message (virtio-fs, 9p, ephemeral
 * tmpfs and hugetlbfs, local, bind, overlayfs, watchable-bind, block devices), the fs_group ownership change, and the refcounts by mount point. Knows nothing of ttRPC or
 * protobuf: the agent fills a stor_spec from the request.
 *
 * Every mount point lies under the storage root (/run/kata-containers/) and is resolved inside it
 * (common/path.h); the mount goes onto an O_PATH fd of the resolved directory, never onto a path string.
 * stor_mount either leaves the storage completely mounted or leaves nothing behind (no mount, no directory
 * it created). It may block on a remote party for drivers flagged STOR_DRIVER_BLOCKS: the agent runs those
 * in a helper process. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/options.h"

#define STOR_ROOT "/run/kata-containers"
#define STOR_ROOT_PREFIX STOR_ROOT "/"
#define STOR_SHARED_CONTAINERS STOR_ROOT "/shared/containers"
#define STOR_REGISTRY_MAX 4096 /* distinct mount points tracked at once */

/* Where mount points may lie: an open directory and the host-visible prefix that names it. */
typedef struct stor_root {
	int fd;
	const char *prefix; /* with a trailing '/', e.g. STOR_ROOT_PREFIX */
} stor_root;

typedef enum stor_fsgroup_policy {
	STOR_FSGROUP_ALWAYS = 0,           /* types.FSGroupChangePolicy.Always */
	STOR_FSGROUP_ON_ROOT_MISMATCH = 1, /* skip when the root already has the group and the mode */
} stor_fsgroup_policy;

typedef struct stor_spec {
	const char *driver;
	const char *source;
	const char *fstype;
	const char *const *options;
	size_t n_options;
	const char *mount_point;
	bool has_fs_group;
	uint32_t fs_gid;
	stor_fsgroup_policy fs_policy;
	bool shared;
	/* STOR_DRIVER_DEVICE drivers: the guest's node of the device the source names ("/dev/vdb"), filled in by
	 * whoever waited for the device (storage/blockdev.h); NULL: the source must already be a /dev path. */
	const char *device;
	/* The container a CreateContainer storage belongs to (NULL for the sandbox's): overlayfs with
	 * io.katacontainers.fs-opt.overlay-rw puts its upper and work directories in <root>/<container_id>/. */
	const char *container_id;
	/* Storage.driver_options ("KEY=VALUE"): overlayfs acts on io.katacontainers.volume.overlayfs.create_directory
	 * (a directory under the root, created before the mount); other keys and drivers ignore them. */
	const char *const *driver_options;
	size_t n_driver_options;
} stor_spec;

enum {
	STOR_DRIVER_BLOCKS = 1 << 0,  /* may wait on a remote party (a share's server): run it in a helper */
	STOR_DRIVER_NO_MOUNT = 1 << 1, /* only a directory: nothing to unmount */
	STOR_DRIVER_REMOUNT = 1 << 2, /* UpdateEphemeralMounts may remount it with new options */
	STOR_DRIVER_DEVICE = 1 << 3,  /* a block device that may still be on its way: wait for it first */
	STOR_DRIVER_WATCH = 1 << 4,   /* a mirror the agent polls (storage/watch.h) */
};

typedef struct stor_driver stor_driver;
const stor_driver *stor_driver_find(const char *name);
const char *stor_driver_name(const stor_driver *d);
unsigned stor_driver_flags(const stor_driver *d);
/* The registered driver names, for GetGuestDetails.agent_details.storage_handlers. */
const char *const *stor_driver_names(size_t *ret_n);

/* Every check that needs no I/O: known driver, mount point under the root without "..", options within the
 * caps, what the driver needs (a source, a supported fstype). what names the request field, e.g.
 * "storages[2]"; the error names the member ("storages[2].mount_point: ..."). */
int stor_spec_check(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);

/* The refcount key of a mount point: "//" and "/./" collapsed, no trailing '/'. */
int stor_mount_point_key(const char *mount_point, char *buf, size_t size);

int stor_mount(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);
/* Unmounts (lazily: a dead share must not hang the teardown) and removes the directory if it is empty. A
 * mount point that is not mounted any more is not an error. */
int stor_umount(const char *mount_point, unsigned driver_flags, const stor_root *root, kc_error *err);
/* MS_REMOUNT with the spec's options; only for STOR_DRIVER_REMOUNT drivers. */
int stor_remount(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);

/* Gives a tree the group gid the way Kubernetes' fsGroup does: every entry gets the group, files g+rw (g+r
 * when read_only), directories also g+x and setgid. Stays on one filesystem and refuses to follow symlinks. */
int stor_fs_group_apply(int dirfd, uint32_t gid, stor_fsgroup_policy policy, bool read_only, kc_error *err);

/* ---- Refcounts by mount point ---- */

typedef struct stor_entry {
	char *key;
	const stor_driver *driver;
	unsigned refs;
	bool shared; /* kept (mounted) when the last reference goes */
	struct stor_entry *next;
} stor_entry;

typedef struct stor_registry {
	stor_entry *head; /* newest first */
	size_t n;
} stor_registry;

stor_entry *stor_registry_find(const stor_registry *reg, const char *key);
/* A further reference to a known mount point: 1 when it was known (nothing to mount), 0 when not. */
int stor_registry_ref(stor_registry *reg, const char *key);
/* Records a storage that was just mounted, with one reference. */
int stor_registry_add(stor_registry *reg, const char *key, const stor_driver *d, bool shared);
/* Drops one reference. *ret_unmount is set when it was the last one of a storage that is not shared; the
 * entry is then forgotten (ret_driver_flags tells how to unmount it). -ENOENT for an unknown mount point. */
int stor_registry_unref(stor_registry *reg, const char *key, bool *ret_unmount, unsigned *ret_driver_flags);
void stor_registry_clear(stor_registry *reg);
