/* The storages of one request (CreateSandbox's, CreateContainer's) as a batch, so both calls share one
 * sequence: every entry checked and keyed against the sandbox's refcounts before anything happens; block
 * devices awaited in the loop (a pending call); the mounts done by a helper child that marks each one in a
 * page shared with the agent before it starts it; exactly the marked mounts undone (newest first) when
 * anything fails or the helper dies; references recorded only once everything worked. A storage whose last
 * reference goes (RemoveContainer, a failed request that held it) is unmounted by a helper too, from a batch
 * on the same list: a request for that mount point meanwhile waits for the unmount before it mounts, since the
 * helper would otherwise detach the new mount. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "agent/agent.h"
#include "agent/devices.h"
#include "storage/storage.h"

typedef struct storage_batch storage_batch;
/* Called from the loop once no unmount in flight is in the batch's way (storage_batch_wait_unmounts). */
typedef void (*storage_batch_ready_fn)(storage_batch *b, void *userdata);

struct storage_batch {
	agent *agent;
	stor_registry *reg;   /* the sandbox's refcounts */
	storage_batch **list; /* the sandbox's batches in flight, which this one joins */
	size_t n;
	stor_spec *specs; /* point into the request: only until storage_batch_drop_request */
	char **keys;
	const stor_driver **drivers;
	bool *shared, *to_mount;
	bool *held; /* a reference to a storage that was already mounted, taken at once so it cannot go meanwhile */
	/* The last reference went back here (storage_batch_release, storage_batch_new_release): this batch's undo
	 * unmounts it, and until the batch leaves the list no request mounts on that point, above or below it. */
	bool *releasing;
	/* No watchable storage is left once this batch's undo is done, nor being mounted: the undo unmounts the
	 * watchable tmpfs too, and until the batch leaves the list no request mounts under it. */
	bool release_tmpfs;
	bool tmpfs_owed;    /* a batch whose watchable storages went left the tmpfs to this one's */
	bool mount_started; /* its helper was given the mounts (storage_batch_drop_request) */
	bool released;      /* storage_batch_release ran: what it mounts is going, or the registry's already */
	uint8_t *mounted; /* the shared page: the helper's marks */
	size_t mounted_size;
	device_want *wants; /* the block storages' devices */
	size_t n_wants;
	size_t *want_of; /* index into specs of each want */
	ev_timer wake;  /* a batch that waited for unmounts goes on from here */
	storage_batch_ready_fn ready;
	void *ready_userdata;
	bool on_list;
	storage_batch *next; /* on *list */
};

/* The storage root, /run/kata-containers (created when missing), as an O_PATH fd. */
int storage_root_open(stor_root *ret, kc_error *err);

/* Work on storages in a helper: the helper opens the storage root, hands it to work and closes it again;
 * otherwise as helper_run (agent/child.h). storage_in_root does the same inline (when no helper can be had). */
typedef int (*storage_work_fn)(void *userdata, const stor_root *root, kc_error *err);
int storage_helper_run(agent *a, const char *what, storage_work_fn work, void *userdata, uint32_t timeout_ms,
		       helper_done_fn done, void *done_userdata);
int storage_in_root(storage_work_fn work, void *userdata, kc_error *err);

/* A Storage message as the storage layer reads it. The pointers point into s. */
void storage_spec_from_proto(const Grpc__Storage *s, stor_spec *ret);

/* container_id (NULL for the sandbox's storages) must outlive the batch: overlay-rw storages put their upper
 * and work directories under it. reg and list (the batches in flight) must outlive it too.
 * Checks every entry (the error names "storages[i].field"), computes the keys and which mount points are new
 * (not in reg, not named earlier in the request: those are one more reference), and prepares the device
 * waits of the new block storages. max caps the count. A mount point already in reg gets its reference now
 * (held), so that a RemoveContainer meanwhile cannot unmount it under this request. A new mount point that a
 * batch on the list is mounting is FAILED_PRECONDITION: two helpers must not stack two mounts on one point. One
 * that a batch on the list is unmounting is accepted: its mount waits (storage_batch_wait_unmounts). */
int storage_batch_new(agent *a, stor_registry *reg, storage_batch **list, const char *container_id,
		      Grpc__Storage *const *storages, size_t n, size_t max, storage_batch **ret, kc_error *err);
/* In the agent, when a container goes: one reference given back for each of keys. The storages whose last
 * reference that was go into a batch of their own, marked for storage_batch_undo (with the watchable tmpfs when
 * the last watchable storage goes), which the caller puts on the list and runs in a helper. *ret is NULL when
 * none was the last. Out of memory, the references still go back and what would have been unmounted stays
 * mounted (logged); -ENOMEM. */
int storage_batch_new_release(agent *a, stor_registry *reg, storage_batch **list, char *const *keys, size_t n,
			      storage_batch **ret);
storage_batch *storage_batch_free(storage_batch *b);
DEFINE_CLEANUP_FUNC(storage_batch *, storage_batch_free);

/* Points each block storage at the node its wait found; call once the waits are done. */
void storage_batch_devices_found(storage_batch *b);
/* After the helper has its copy: the request's strings may go, and the mounts may have begun. */
void storage_batch_drop_request(storage_batch *b);

/* The list of batches in flight: a batch is on it from its request's arrival until nothing of its helpers'
 * work is left to do (mounts or their undo), so that requests that come meanwhile see what it mounts and what
 * it unmounts. Leaving wakes the batches that waited only for this one. Both are no-ops when already done. */
void storage_batch_join(storage_batch *b);
void storage_batch_leave(storage_batch *b);
/* Before the mount helper starts (b on the list): 0 when no unmount in flight is in its way, so it may mount
 * now; 1 when one is: ready(b, userdata) then follows from the loop once every such unmount is done. */
int storage_batch_wait_unmounts(storage_batch *b, storage_batch_ready_fn ready, void *userdata);
bool storage_batch_waiting(const storage_batch *b);
/* The request went away while waiting: ready is not called. */
void storage_batch_stop_waiting(storage_batch *b);

/* In a helper: loads the share filesystems' modules, then mounts the new entries in order. A failing mount
 * leaves nothing of itself; the earlier ones stay marked for storage_batch_undo. */
int storage_batch_mount(agent *a, storage_batch *b, const stor_root *root, kc_error *err);
/* In a helper: unmounts every marked entry, newest first, and clears the marks; then the watchable tmpfs when
 * the agent said so (release_tmpfs). */
int storage_batch_undo(storage_batch *b, const stor_root *root, kc_error *err);
/* Whether storage_batch_undo has anything to do. */
bool storage_batch_any_mounted(const storage_batch *b);

/* In the agent, after the helper succeeded: a reference for every entry (the held ones have theirs); a new
 * watchable-bind storage starts the agent's watcher. */
void storage_batch_commit(storage_batch *b);
/* In the agent, when the request fails: gives the held references back. One that was the last (its other
 * holders went meanwhile) is marked for storage_batch_undo, which then unmounts it with the batch's own, and
 * so is the watchable tmpfs when this batch's watchable storages were the last ones. Once: a second call (the
 * job's free after its failure path) does nothing. */
void storage_batch_release(storage_batch *b);

/* In the agent: gives back a container's references (storage_batch_new_release) and unmounts the storages whose
 * last references they were in a helper, the batch on the list meanwhile. Returns 1 when done(result, err,
 * userdata) follows from the loop; 0 when there was nothing to unmount, or no helper to be had and the unmounts
 * ran inline (logged): done is not called. what names the owner in log lines ("container c1"). */
int storage_release(agent *a, char *const *keys, size_t n, const char *what, helper_done_fn done, void *userdata);
