/* The parts of a container's guest spec rewrite that need the guest's devices and files: CreateContainer's
 * devices (their handlers find the guest's node, then the spec's linux.devices entry at the device's
 * container_path gets the guest's type, major and minor, and a devices-cgroup allow rule is added, as the Kata
 * agent does) and the sandbox's guest hooks appended to the spec's hooks.
 *
 * Handlers, by Device.type:
 *   blk        id: a PCI path ("02/00") of a virtio-blk disk; or vm_path "/dev/vdX"
 *   mmioblk    vm_path "/dev/vdX"
 *   scsi       id "SCSI_ID:LUN" (the host is asked to scan it)
 *   nvdimm     vm_path "/dev/pmemN"
 *   vfio-pci, vfio
 *              options "HOST_BDF=GUEST_PCI_PATH" (one per function): each device found by its PCI path gets
 *              driver_override vfio-pci, is unbound from its driver and probed again; all must share one IOMMU
 *              group, whose /dev/vfio/GROUP becomes the container's device (its path rewritten to the guest's
 *              group), and /dev/vfio/vfio is added when the spec lacks it
 *   vfio-pci-gk the guest kernel keeps the device: only waited for
 * The host-to-guest addresses of the vfio functions also rewrite the process's PCIDEVICE_* variables.
 * Anything else is INVALID_ARGUMENT naming devices[i].type. */
#pragma once

#include <stddef.h>

#include "agent.pb-c.h"
#include "agent/agent.h"
#include "agent/devices.h"
#include "libcontainer-c/spec.h"

#define CTR_DEVICES_MAX 64
#define CTR_VFIO_FUNCTIONS_MAX 8

/* Memory for what the rewrite adds to a spec (its arena is libcontainer-c's): kept by the container as long as
 * the config that points into the spec. */
typedef struct ctr_mem ctr_mem;
ctr_mem *ctr_mem_free(ctr_mem *m);

typedef struct ctr_devices ctr_devices;

/* Checks every device (type, id or vm_path, options, container_path present in spec's linux.devices) and
 * prepares its waits; the wants (*ret_wants, n) go to devices_wait. */
int ctr_devices_prepare(agent *a, Grpc__Device *const *devices, size_t n, const lc_spec *spec, ctr_devices **ret,
			kc_error *err);
void ctr_devices_wants(ctr_devices *d, device_want ***ret_wants, size_t *ret_n);
ctr_devices *ctr_devices_free(ctr_devices *d);

/* After the waits: the guest nodes are looked at and the spec rewritten (devices, resources.devices, allow
 * rules). Additions are allocated in *mem. */
int ctr_devices_apply(ctr_devices *d, lc_spec *spec, ctr_mem **mem, kc_error *err);

/* Appends the executables in DIR/prestart, DIR/poststart and DIR/poststop (regular files with an execute
 * bit, no symlinks, sorted by name, at most 64 each) to the spec's hooks of the same kind, with args
 * [file name, kind], as upstream. A missing directory adds nothing. */
int ctr_guest_hooks_append(const char *dir, lc_spec *spec, ctr_mem **mem, kc_error *err);
