/* Shared between the storage drivers' files: the mount job and the driver table's row. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "storage/options.h"
#include "common/path.h"
#include "storage/storage.h"

typedef struct mount_job {
	const stor_spec *s;
	const stor_root *root;
	const char *what;
	stor_mount_opts o;
	char target[PATH_FD_PATH_MAX]; /* the mount point directory's fd, as a path for mount(2) */
	bool has_fsgid, has_mode;
	gid_t fsgid;
	mode_t mode;
} mount_job;

#define STOR_PREPARED_FILE 1

struct stor_driver {
	const char *name;
	unsigned flags;
	/* Checks the driver's own needs (source, fstype); NULL: none. */
	int (*check)(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);
	/* Mounts onto job->target; NULL: nothing to mount (a plain directory). */
	int (*mount)(mount_job *job, kc_error *err);
	/* Before the mount point is resolved (and created); NULL: nothing. STOR_PREPARED_FILE: it made the mount
	 * point a file, which is then opened as one instead of created as a directory. */
	int (*prepare)(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);
};

int stor_mount_fs(mount_job *job, const char *source, const char *fstype, kc_error *err);
/* Removes rel (inside the root) if it is an empty directory: what a failed attempt created. */
void stor_remove_dir(const stor_root *root, const char *rel);

/* overlayfs (storage/overlay.c). */
int stor_check_overlay(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);
int stor_mount_overlay(mount_job *job, kc_error *err);

/* watchable-bind (storage/watch.c); forget drops the record and the copy (or the bind that replaced it). */
int stor_check_watchable(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);
int stor_prepare_watchable(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);
int stor_mount_watchable(mount_job *job, kc_error *err);
int stor_watch_forget(const stor_root *root, const char *mount_point);

/* hugetlbfs ephemeral storage: pagesize= and size= from the data (bytes, or with a K/M/G suffix). */
int stor_hugetlb_parse(const stor_mount_opts *o, uint64_t *ret_pagesize, uint64_t *ret_pages, const char *what,
		       kc_error *err);

/* What one request added to the pool of a huge page size: <dir>/hugepages-<N>kB/nr_hugepages, dir being
 * /sys/kernel/mm/hugepages outside tests. The claim holds the pool's lock (flock of nr_hugepages) until it is
 * released, so that no other request sees its pages before its mount has succeeded or been given up. */
typedef struct stor_hugepages_claim {
	char pool[256];
	uint64_t added;
	int lock;
} stor_hugepages_claim;
/* Raises the pool to at least pages (never lowers it: other mounts use it) and checks that the kernel really
 * reserved them; when it reserved fewer, what was added is taken back and the call fails (nothing held). */
int stor_hugepages_reserve(const char *dir, uint64_t pagesize, uint64_t pages, const char *what,
			   stor_hugepages_claim *ret, kc_error *err);
/* Ends the claim: after a failed mount (rollback) it first gives back exactly what its reservation added,
 * whatever else changed the pool meanwhile. */
void stor_hugepages_release(stor_hugepages_claim *c, bool rollback);

/* The block-device drivers (storage/blockdev.c), as rows of the driver table and their names. */
int stor_check_blockdev(const stor_spec *s, const stor_root *root, const char *what, kc_error *err);
int stor_mount_blockdev(mount_job *job, kc_error *err);
#define STOR_DEVICE_DRIVERS                                                            \
	{ "blk", STOR_DRIVER_DEVICE, stor_check_blockdev, stor_mount_blockdev, NULL },       \
	{ "mmioblk", STOR_DRIVER_DEVICE, stor_check_blockdev, stor_mount_blockdev, NULL },   \
	{ "scsi", STOR_DRIVER_DEVICE, stor_check_blockdev, stor_mount_blockdev, NULL },      \
	{ "nvdimm", STOR_DRIVER_DEVICE, stor_check_blockdev, stor_mount_blockdev, NULL }
#define STOR_DEVICE_DRIVER_NAMES "blk", "mmioblk", "scsi", "nvdimm"
