/* kata-launch's networking: the NIC a VM boots with (`--net none|user`), and the guest configuration the
 * Kata runtime would send for a pod's NIC (UpdateInterface, UpdateRoutes, the sandbox DNS).
 *
 * `user` is QEMU's user-mode network (slirp) with `restrict=on`: the guest reaches nothing outside QEMU, so no
 * packet leaves the machine. Its addresses are slirp's defaults, which kata-launch tells the agent instead
 * of leaving the guest to ask DHCP (the agent, like upstream's, runs no DHCP client). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent.pb-c.h"
#include "common/error.h"
#include "launcher/ttrpc-client.h"

typedef enum launch_net {
	LAUNCH_NET_NONE,
	LAUNCH_NET_USER,
	_LAUNCH_NET_MAX,
} launch_net;

/* The boot NIC: a locally administered MAC, and on q35 a fixed slot of the root bus, so that both the MAC
 * and the PCI path are known before the guest runs (the disk of `boot --disk` sits at 05). */
#define LAUNCH_NET_MAC "02:4b:4c:00:00:01"
#define LAUNCH_NET_PCI_SLOT 0x07 /* 05 is --disk, 06 --pci-device */
#define LAUNCH_NET_PCI_PATH "07"
#define LAUNCH_NET_IFNAME "eth0"

/* QEMU slirp's defaults (-netdev user): the guest's address, the virtual gateway and DNS server. */
#define LAUNCH_NET_GUEST_ADDR "10.0.2.15"
#define LAUNCH_NET_GUEST_PREFIX "24"
#define LAUNCH_NET_SUBNET "10.0.2.0/24"
#define LAUNCH_NET_GATEWAY "10.0.2.2"
#define LAUNCH_NET_DNS "10.0.2.3"

int launch_net_from_string(const char *s, launch_net *ret);

/* Appends the NIC's QEMU arguments to argv (a NULL-terminated vector from qemu_build_argv, reallocated);
 * pci: the machine has PCI (q35), else virtio-mmio (microvm). Nothing for LAUNCH_NET_NONE. */
int launch_net_qemu_args(launch_net n, bool pci, char ***argv);

/* The guest's resolv.conf that CreateSandbox writes from its dns lines (the agent's path, as upstream's). */
#define LAUNCH_NET_SANDBOX_RESOLV "/run/kata-containers/sandbox/resolv.conf"

/* Configures the guest side as the Kata runtime does for a pod NIC, before CreateSandbox: UpdateInterface
 * (found by MAC, named, addressed, up; on q35 also by devicePath, so the agent waits for a NIC whose driver
 * is still loading), then UpdateRoutes (the subnet on the link, the default gateway). Nothing for
 * LAUNCH_NET_NONE. pci: the NIC sits on PCI (q35), else virtio-mmio. */
int launch_net_configure(ttrpc_client *c, launch_net n, bool pci, int64_t timeout_ns, kc_error *err);

/* The resolv.conf lines for CreateSandbox.dns (static storage); *ret_n is 0 for LAUNCH_NET_NONE. */
char **launch_net_dns(launch_net n, size_t *ret_n);

/* For `kata-launch run`: configures the network (launch_net_configure), puts its DNS into sb, and gives the
 * container the sandbox's resolv.conf (a read-only bind over /etc/resolv.conf, as a CRI runtime gives a pod
 * its DNS) unless the spec mounts something there already. */
int launch_net_sandbox(ttrpc_client *c, launch_net n, bool pci, Grpc__CreateSandboxRequest *sb, Grpc__Spec *spec,
		       kc_error *err);
