/* The storages of one request (CreateSandbox's, CreateContainer's) as a batch, so both calls share one
 * sequence: every entry checked and keyed against the sandbox's refcounts before anything happens; block
 * devices awaited in the loop (a pending call); the mounts done by a helper child that marks each one in a
 * page shared with the agent before it starts it; exactly the marked mounts undone (newest first) when
 * anything fails or the helper dies; references recorded only once everything worked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "agent/agent.h"
#include "agent/devices.h"
#include "storage/storage.h"

typedef struct storage_batch {
	size_t n;
	stor_spec *specs; /* point into the request: only until storage_batch_drop_request */
	char **keys;
	const stor_driver **drivers;
	bool *shared, *to_mount;
	bool *held; /* a reference to a storage that was already mounted, taken at once so it cannot go meanwhile */
	uint8_t *mounted; /* the shared page: the helper's marks */
	device_want *wants; /* the block storages' devices */
	size_t n_wants;
	size_t *want_of; /* index into specs of each want */
	struct storage_batch *next; /* the sandbox's list of batches in flight */
} storage_batch;

/* The storage root, /run/kata-containers (created when missing), as an O_PATH fd. */
int storage_root_open(stor_root *ret, kc_error *err);

/* A Storage message as the storage layer reads it. The pointers point into s. */
void storage_spec_from_proto(const Grpc__Storage *s, stor_spec *ret);

/* container_id (NULL for the sandbox's storages) must outlive the batch: overlay-rw storages put their upper
 * and work directories under it.
 * Checks every entry (the error names "storages[i].field"), computes the keys and which mount points are new
 * (not in reg, not named earlier in the request: those are one more reference), and prepares the device
 * waits of the new block storages. max caps the count. A mount point already in reg gets its reference now
 * (held), so that a RemoveContainer meanwhile cannot unmount it under this request. A new mount point that a batch in the inflight list
 * is mounting is FAILED_PRECONDITION: two helpers must not stack two mounts on one point. */
int storage_batch_new(agent *a, stor_registry *reg, const storage_batch *inflight, const char *container_id,
		      Grpc__Storage *const *storages, size_t n, size_t max, storage_batch **ret, kc_error *err);
storage_batch *storage_batch_free(storage_batch *b);
DEFINE_CLEANUP_FUNC(storage_batch *, storage_batch_free);

/* Points each block storage at the node its wait found; call once the waits are done. */
void storage_batch_devices_found(storage_batch *b);
/* After the helper has its copy: the request's strings may go. */
void storage_batch_drop_request(storage_batch *b);

/* In a helper: loads the share filesystems' modules, then mounts the new entries in order. A failing mount
 * leaves nothing of itself; the earlier ones stay marked for storage_batch_undo. */
int storage_batch_mount(agent *a, storage_batch *b, const stor_root *root, kc_error *err);
/* In a helper: unmounts every marked entry, newest first, and clears the marks. */
int storage_batch_undo(storage_batch *b, const stor_root *root, kc_error *err);
bool storage_batch_any_mounted(const storage_batch *b);

/* In the agent, after the helper succeeded: a reference for every entry (the held ones have theirs); a new
 * watchable-bind storage starts the agent's watcher. */
void storage_batch_commit(agent *a, storage_batch *b, stor_registry *reg);
/* In the agent, when the request fails: gives the held references back. One that was the last (its other
 * holders went meanwhile) is marked for storage_batch_undo, which then unmounts it with the batch's own. */
void storage_batch_release(storage_batch *b, stor_registry *reg);
