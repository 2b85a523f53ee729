/* The agent's side of devices: the uevent socket in the loop feeding the device table (storage/devices.h),
 * what the agent does as devices arrive (memory blocks onlined, driver modules loaded by MODALIAS), waits for
 * the devices of block storages as pending work with the hotplug deadline, OnlineCPUMem and
 * MemHotplugByProbe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/agent.h"
#include "agent/child.h"
#include "storage/storage.h"

typedef struct agent_devices agent_devices;

/* Opens the uevent socket and watches it. As PID 1 also triggers coldplug and loads driver modules for
 * devices without a driver; until devices_boot_modules_done() the module requests are only queued (the boot
 * loads the whole initrd set anyway). A socket that cannot be opened is logged: waits then rely on sysfs
 * lookups at registration. */
int devices_start(agent *a, kc_error *err);
void devices_boot_modules_done(agent *a);
void devices_free(agent *a);

/* Waits for the devices of the STOR_DRIVER_DEVICE storages among specs[i] with to_mount[i], and points each
 * one's spec.device at the node found. Returns 0 when every device is there already (done is not called), 1
 * when waiting (done is called later from the loop: result 0, or -ETIMEDOUT with err at DEADLINE_EXCEEDED
 * naming the first missing device), -errno with err filled. The node names live in *ret, which the caller
 * frees with devices_batch_free once it no longer needs specs[i].device; freeing a batch that is still
 * waiting cancels it (done is not called). */
typedef struct devices_batch devices_batch;
int devices_wait_storages(agent *a, stor_spec *specs, const bool *to_mount, size_t n, helper_done_fn done,
			  void *userdata, devices_batch **ret, kc_error *err);
devices_batch *devices_batch_free(devices_batch *b);

/* The device table, for a caller that waits for a device on its own terms (UpdateInterface by devicePath);
 * NULL when the agent has none. */
struct dev_table *devices_table(agent *a);
