/* The sandbox: what CreateSandbox sets up for the pod (hostname, DNS, sandbox storages, kernel modules, the
 * guest hooks directory, the shared IPC and UTS namespaces) and DestroySandbox takes down again. One per
 * agent, hanging off the agent struct (no globals).
 *
 * Paths in the guest:
 *   /run/kata-containers/sandbox/resolv.conf   the DNS lines, bound over /etc/resolv.conf
 *   /run/kata-containers/sandbox/ns/{ipc,uts}  bind mounts that keep the shared namespaces alive
 * (The Rust agent keeps its namespaces under /var/run/sandbox-ns; keeping them under /run/kata-containers puts
 * everything the sandbox owns in one tree that the storage root confines and DestroySandbox empties.) */
#pragma once

#include <stddef.h>

#include "agent.pb-c.h"
#include "agent/agent.h"
#include "storage/storage.h"

#define SANDBOX_DIR STOR_ROOT "/sandbox"
#define SANDBOX_NS_IPC SANDBOX_DIR "/ns/ipc"
#define SANDBOX_NS_UTS SANDBOX_DIR "/ns/uts"
#define SANDBOX_RESOLV SANDBOX_DIR "/resolv.conf"

/* Caps on CreateSandbox input. */
#define SANDBOX_STORAGES_MAX 64
#define SANDBOX_DNS_MAX 64
#define SANDBOX_DNS_LINE_MAX 1024
#define SANDBOX_MODULES_MAX 64
#define SANDBOX_MODULE_PARAMS_MAX 64
#define SANDBOX_MODULE_PARAM_LEN_MAX 1024
#define SANDBOX_ID_MAX 256
#define SANDBOX_HOSTNAME_MAX 64

/* The sandbox's state is gone: DestroySandbox kills every container, waits until their processes and cgroups
 * are gone (at most 10 s), unmounts the storages in a helper, then calls done(a, call, err): err NULL when
 * everything went, else it names a container's cgroup that is still there (the teardown went on all the same).
 * Returns 0 when done was called at once, TTRPC_PENDING while it waits; call is NULL in done when the caller
 * went away meanwhile. */
typedef void (*sandbox_destroyed_fn)(agent *a, ttrpc_call *call, const kc_error *err);
int sandbox_teardown(agent *a, ttrpc_call *call, sandbox_destroyed_fn done, kc_error *err);
/* A DestroySandbox is under way: a new container would take references on storages being unmounted. */
bool sandbox_destroying(const agent *a);

/* Frees the state at agent exit. Mounts stay: they belong to the mount namespace, which outlives us only in
 * the standalone test setup. */
void sandbox_free(agent *a);

/* The directory CreateSandbox named for guest hooks ("" when none), for container creation. */
const char *sandbox_guest_hook_path(const agent *a);

/* Memory a helper child writes and the agent reads after it exited (MAP_SHARED, anonymous): how a helper
 * returns more than a status, and what it got done before it was killed. */
void *agent_shared_alloc(size_t size);
void agent_shared_free(void *p, size_t size);

/* The refcounts of every storage of the sandbox and its containers (made on first use, before any
 * CreateSandbox too, so containers of an agent without a sandbox have them), and the list of batches whose
 * helpers mount or unmount (storage_batch_join). NULL when out of memory. */
struct storage_batch;
stor_registry *sandbox_storages(agent *a, struct storage_batch ***ret_inflight);
