/* The block-device storage drivers (blk, mmioblk, scsi, nvdimm): what each one's source names and what the
 * agent waits for before the mount. The mount itself runs through the common sequence in drivers.c, on the
 * node the wait found (stor_spec.device).
 *
 *   blk      "02/00" (a PCI path: the virtio-blk device's disk) or "/dev/vdX"
 *   mmioblk  "/dev/vdX" (virtio-mmio, no PCI address)
 *   scsi     "ID:LUN" (the SCSI host is asked to scan that target first; a single host, channel 0, as Kata)
 *   nvdimm   "/dev/pmemN" */
#pragma once

#include "common/error.h"
#include "storage/devices.h"
#include "storage/storage.h"

typedef struct stor_device_wait {
	dev_match m; /* points into the buffers below */
	char prefix[UEVENT_DEVPATH_MAX];
	char devname[64];
	char what[UEVENT_DEVPATH_MAX + 128]; /* "block device at PCI path 02/00 (/devices/...)" */
	/* scsi: the address; scsi_wait_host while m waits for the SCSI host (not yet bound) instead of the disk. */
	bool scsi_wait_host;
	unsigned scsi_id, scsi_lun;
	char scsi_addr[24];
} stor_device_wait;

/* What to wait for, for a storage whose driver has STOR_DRIVER_DEVICE. scsi writes "0 ID LUN" to the host's
 * scan file here (short kernel work; the disk's uevent follows). what prefixes error messages. */
int stor_device_prepare(const stor_spec *s, const char *sysfs, const char *what, stor_device_wait *ret,
			kc_error *err);
/* scsi once a SCSI host exists (after prepare left scsi_wait_host set, when it appears): the targeted scan of
 * the address, and w pointed at the disk. */
int stor_device_scsi_scan(stor_device_wait *w, const char *sysfs, const char *what, kc_error *err);
