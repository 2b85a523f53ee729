/* kata-launch --net: the NIC's QEMU arguments and the guest configuration that goes with it. */
#include "launcher/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define AGENT_SERVICE "grpc.AgentService"
#define RT_SCOPE_LINK_VALUE 253 /* linux/rtnetlink.h RT_SCOPE_LINK, as the runtime sends it */

static const char *const names[_LAUNCH_NET_MAX] = {
	[LAUNCH_NET_NONE] = "none",
	[LAUNCH_NET_USER] = "user",
};

const char *launch_net_to_string(launch_net n) {
	return (unsigned)n < _LAUNCH_NET_MAX ? names[n] : NULL;
}

int launch_net_from_string(const char *s, launch_net *ret) {
	for (size_t i = 0; i < _LAUNCH_NET_MAX; i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (launch_net)i;
			return 0;
		}
	return -EINVAL;
}

static int strv_append(char ***argv, const char *s) {
	size_t n = 0;
	while ((*argv)[n])
		n++;
	char *copy = strdup(s);
	char **v = copy ? realloc(*argv, (n + 2) * sizeof *v) : NULL;
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	v[n] = copy;
	v[n + 1] = NULL;
	*argv = v;
	return 0;
}

int launch_net_qemu_args(launch_net n, bool pci, char ***argv) {
	char dev[160];
	int r;

	if (n == LAUNCH_NET_NONE)
		return 0;
	if (n != LAUNCH_NET_USER)
		return -EINVAL;
	/* restrict=on: slirp forwards nothing to the host or beyond; the guest sees its virtual gateway only. */
	if (pci)
		r = format_checked(dev, sizeof dev, "virtio-net-pci,netdev=net0,mac=%s,bus=pcie.0,addr=0x%x",
				   LAUNCH_NET_MAC, LAUNCH_NET_PCI_SLOT);
	else
		r = format_checked(dev, sizeof dev, "virtio-net-device,netdev=net0,mac=%s", LAUNCH_NET_MAC);
	if (r < 0)
		return r;
	const char *const add[] = { "-netdev", "user,id=net0,restrict=on", "-device", dev };
	for (size_t i = 0; i < ELEMENTSOF(add); i++) {
		r = strv_append(argv, add[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int call(ttrpc_client *c, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp_desc, int64_t timeout_ns, kc_error *err) {
	ProtobufCMessage *resp = NULL;
	char *msg = NULL;
	int code = 0;

	int r = ttrpc_client_call(c, AGENT_SERVICE, method, req, resp_desc, timeout_ns, &resp, &code, &msg);
	if (r < 0)
		return kc_error_set(err, -r, "%s: %s", method, strerror(-r));
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (code != 0) {
		r = kc_error_set_code(err, code, EIO, "%s: %s", method, msg ? msg : "");
		free(msg);
		return r;
	}
	free(msg);
	return 0;
}

int launch_net_configure(ttrpc_client *c, launch_net n, int64_t timeout_ns, kc_error *err) {
	if (n == LAUNCH_NET_NONE)
		return 0;

	Types__IPAddress addr = TYPES__IPADDRESS__INIT;
	addr.family = TYPES__IPFAMILY__v4;
	addr.address = LAUNCH_NET_GUEST_ADDR;
	addr.mask = LAUNCH_NET_GUEST_PREFIX;
	Types__IPAddress *addrs[] = { &addr };
	Types__Interface iface = TYPES__INTERFACE__INIT;
	iface.name = LAUNCH_NET_IFNAME;
	iface.hwaddr = LAUNCH_NET_MAC;
	iface.mtu = 1500;
	iface.ipaddresses = addrs;
	iface.n_ipaddresses = ELEMENTSOF(addrs);
	Grpc__UpdateInterfaceRequest ui = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	ui.interface = &iface;
	int r = call(c, "UpdateInterface", &ui.base, &types__interface__descriptor, timeout_ns, err);
	if (r < 0)
		return r;

	/* The subnet on the link, then the default gateway through it: the order the runtime sends them in. */
	Types__Route subnet = TYPES__ROUTE__INIT, def = TYPES__ROUTE__INIT;
	subnet.dest = LAUNCH_NET_SUBNET;
	subnet.device = LAUNCH_NET_IFNAME;
	subnet.source = LAUNCH_NET_GUEST_ADDR;
	subnet.scope = RT_SCOPE_LINK_VALUE;
	def.gateway = LAUNCH_NET_GATEWAY;
	def.device = LAUNCH_NET_IFNAME;
	Types__Route *routes[] = { &subnet, &def };
	Grpc__Routes rs = GRPC__ROUTES__INIT;
	rs.routes = routes;
	rs.n_routes = ELEMENTSOF(routes);
	Grpc__UpdateRoutesRequest ur = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	ur.routes = &rs;
	return call(c, "UpdateRoutes", &ur.base, &grpc__routes__descriptor, timeout_ns, err);
}

char **launch_net_dns(launch_net n, size_t *ret_n) {
	static char *user_dns[] = { (char *)"nameserver " LAUNCH_NET_DNS };
	if (n != LAUNCH_NET_USER) {
		*ret_n = 0;
		return NULL;
	}
	*ret_n = ELEMENTSOF(user_dns);
	return user_dns;
}
