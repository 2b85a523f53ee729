/* UpdateInterface by PCI path: the network interface a PCI device carries, read from sysfs. Kept apart from
 * network.c (no netlink, no server) so the unit tests run it against a fake sysfs tree. */
#pragma once

#include <net/if.h>

#include "common/error.h"

#define NET_PCI_IFACES_MAX 8 /* interfaces one PCI function may carry before we refuse to pick one */

/* The interface under the PCI device at devpath (a sysfs DEVPATH, "/devices/pci0000:00/0000:00:02.0/..."): a
 * NIC's net/<ifname> sits directly under the PCI function (e1000, ...) or under its virtio device
 * (virtioN/net/<ifname>). Returns how many interfaces it carries: 1 with the name and ifindex; 0 when the device
 * or its interface is not there yet; more than 1 (at most NET_PCI_IFACES_MAX) with err saying which, for a
 * caller that cannot pick one by MAC; -errno with err filled when sysfs cannot be read. */
int net_pci_interface(const char *sysfs, const char *devpath, char ret_name[IFNAMSIZ], int *ret_ifindex,
		      kc_error *err);
