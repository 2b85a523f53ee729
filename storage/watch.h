/* The watchable-bind storage: a host-shared directory (a configmap, a secret), or a single file, mirrored into a
 * tmpfs of the guest by polling, because inotify does not cross 9p or virtio-fs, so a container watching the
 * tmpfs copy sees the host's updates. A file source is mirrored onto a file at the mount point. As upstream (watcher.rs): the tmpfs is <root>/shared/containers/watchable/, a storage holds at
 * most 16 entries (the directory itself included) and 1 MiB of files and link targets; one that grows past
 * either is bind-mounted from the share instead and no longer polled. Files are updated in place (same inode),
 * so a bind of one file into a container sees new contents too.
 *
 * Each mirrored storage leaves a record (source, target, whether it fell back to a bind) in
 * <watchable>/.watches/, which the periodic poll reads: the poll runs in a helper process and needs nothing
 * from the agent's memory. Every path is resolved inside the storage root. */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "storage/storage.h"

#define STOR_WATCHABLE_REL "shared/containers/watchable"
#define STOR_WATCHABLE STOR_ROOT "/" STOR_WATCHABLE_REL
#define STOR_WATCH_RECORDS ".watches"
#define STOR_WATCH_ENTRIES_MAX 16
#define STOR_WATCH_BYTES_MAX (1u << 20)
#define STOR_WATCH_INTERVAL_MS 2000

/* Mirrors the directory srcfd into dstfd: new and changed entries copied (files in place, mode, owner and
 * mtime kept), vanished ones removed; symlinks copied as links, never followed; other types skipped. -EFBIG
 * (dst untouched) when src holds more than STOR_WATCH_ENTRIES_MAX entries or STOR_WATCH_BYTES_MAX bytes. */
int stor_watch_sync(int srcfd, int dstfd, kc_error *err);

/* Mirrors the regular file srcfd (open for reading) onto dstdir/name, in place, with mode, owner and mtime; a
 * copy already current (size and mtime) is left alone. -EFBIG (dst untouched) past STOR_WATCH_BYTES_MAX. */
int stor_watch_sync_file(int srcfd, int dstdir, const char *name, kc_error *err);

/* Unmounts the tmpfs under the watchable storages, with every copy and record in it, and removes its directory;
 * not mounted is not an error. The agent calls it once no watchable storage is left and none is being mounted:
 * only the agent sees both (a helper cannot see a mount that another helper is about to make), so unmounting a
 * watchable storage (stor_umount) leaves the tmpfs. */
int stor_watch_release(const stor_root *root, kc_error *err);

/* One round over every record under root: mirrors each storage still polled, turns one that grew too big into a
 * bind mount, forgets records whose target is gone. Returns how many storages are still polled. */
int stor_watch_poll(const stor_root *root, kc_error *err);
