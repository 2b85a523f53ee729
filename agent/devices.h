/* The agent's side of devices: the uevent socket in the loop feeding the device table (storage/devices.h),
 * what the agent does as devices arrive (memory blocks onlined, driver modules loaded by MODALIAS), waits for
 * the devices of block storages as pending work with the hotplug deadline, OnlineCPUMem and
 * MemHotplugByProbe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/agent.h"
#include "agent/child.h"
#include "storage/blockdev.h"
#include "storage/storage.h"

typedef struct agent_devices agent_devices;

/* Creates the device table and opens and watches the uevent socket: before the agent serves, so that no
 * request finds the table missing. The agent loads driver modules for devices without a driver; until
 * devices_boot_modules_done() the module requests are only queued (the boot loads the whole initrd set
 * anyway). A socket that cannot be opened is logged: waits then rely on sysfs lookups at registration. */
int devices_start(agent *a, kc_error *err);
/* As PID 1: announces the devices that appeared before the socket existed (`add` to every uevent file). */
int devices_coldplug(agent *a, kc_error *err);
void devices_boot_modules_done(agent *a);
void devices_free(agent *a);

/* Waits for the devices of the STOR_DRIVER_DEVICE storages among specs[i] with to_mount[i], and points each
 * one's spec.device at the node found. Returns 0 when every device is there already (done is not called), 1
 * when waiting (done is called later from the loop: result 0, or -ETIMEDOUT with err at DEADLINE_EXCEEDED
 * naming the first missing device), -errno with err filled. The node names live in *ret, which the caller
 * frees with devices_batch_free once it no longer needs specs[i].device; freeing a batch that is still
 * waiting cancels it (done is not called). */
typedef struct devices_batch devices_batch;

/* One device to wait for: what to match (stor_device_wait; its match points into itself, so a want is not
 * copied once prepared), the request field it came from, and an optional next step. then() runs in the loop
 * when the device is there: 0 when the want is satisfied, 1 after pointing w at the next thing to wait for
 * (under the same deadline: a vfio group node after a driver rebind), -errno with err filled to fail the
 * whole wait. */
typedef struct device_want device_want;
typedef int (*device_want_fn)(device_want *dw, kc_error *err);
struct device_want {
	stor_device_wait w;
	const char *field; /* "devices[0]" */
	char field_buf[32];
	device_want_fn then;
	void *userdata;
	/* What was found last: the node (when the device has one), its DEVPATH and number. */
	char node[80];
	char devpath[UEVENT_DEVPATH_MAX];
	bool has_devnum;
	uint32_t major, minor;
};

/* Waits for every want (caller-owned, alive until the batch is freed) with one hotplug deadline. Returns and
 * calls done as devices_wait_storages does. */
int devices_wait(agent *a, device_want *const *wants, size_t n, helper_done_fn done, void *userdata,
		 devices_batch **ret, kc_error *err);
int devices_wait_storages(agent *a, stor_spec *specs, const bool *to_mount, size_t n, helper_done_fn done,
			  void *userdata, devices_batch **ret, kc_error *err);
devices_batch *devices_batch_free(devices_batch *b);

/* The device table, for a caller that waits for a device on its own terms (UpdateInterface by devicePath);
 * NULL when the agent has none. */
struct dev_table *devices_table(agent *a);
