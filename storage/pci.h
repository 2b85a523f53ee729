/* PCI paths as the Kata runtime names hot-plugged devices: "SS[.F]/SS[.F]/..." in hex, one slot (and
 * function, default 0) per bus level, starting on the root bus. "02/00" is slot 2 of the root bus (a bridge
 * or root port), then slot 0 of the bus behind it. A first hop of 0x20 or more (without a function) names
 * the root bus itself, as a pxb-pcie expander gives: "20/00/02". Bus numbers are not part of the path: the
 * firmware assigns them, so each bridge's secondary bus is read from sysfs. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define STOR_PCI_HOPS_MAX 16
#define STOR_PCI_PATH_MAX 64 /* characters of a path string */

typedef struct stor_pci_path {
	uint8_t root_bus;
	size_t n;
	struct {
		uint8_t slot; /* 0..0x1f */
		uint8_t fn;   /* 0..7 */
	} hop[STOR_PCI_HOPS_MAX];
} stor_pci_path;

/* -EINVAL for anything but the forms above (no empty hop, no leading or trailing '/'). */
int stor_pci_path_parse(const char *s, stor_pci_path *ret);

/* The sysfs DEVPATH of the device the path names, "/devices/pci0000:00/0000:00:02.0/0000:01:00.0": every
 * bridge on the way must exist below sysfs (its secondary bus is read from its pci_bus/ directory); the
 * device itself need not exist yet, so a waiter can be registered for it. */
int stor_pci_path_to_devpath(const char *sysfs, const stor_pci_path *p, char *buf, size_t size, kc_error *err);
