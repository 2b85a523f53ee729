/* kata-launch --net: the NIC's QEMU arguments and the guest configuration that goes with it. */
#include "launcher/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

#define AGENT_SERVICE "grpc.AgentService"
#define RT_SCOPE_LINK_VALUE 253 /* linux/rtnetlink.h RT_SCOPE_LINK, as the runtime sends it */

static const char *const names[_LAUNCH_NET_MAX] = {
	[LAUNCH_NET_NONE] = "none",
	[LAUNCH_NET_USER] = "user",
};

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

/* The boot NIC's driver loads with the rest of the initrd's modules while the agent already serves; under
 * TCG that may take longer than the agent's hotplug timeout (3 s by default). On q35 the agent waits on the
 * PCI path and answers DEADLINE_EXCEEDED when its timeout is up; virtio-mmio has no path to wait on, so the NIC
 * is looked for by MAC (NOT_FOUND until it exists). Either is asked again until this much time has passed. */
#define BOOT_NIC_WAIT_NS (60 * 1000000000LL)

int launch_net_configure(ttrpc_client *c, launch_net n, bool pci, int64_t timeout_ns, kc_error *err) {
	int r;

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
	if (pci)
		iface.devicepath = LAUNCH_NET_PCI_PATH;
	Grpc__UpdateInterfaceRequest ui = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	ui.interface = &iface;
	uint64_t until = now_ns() + BOOT_NIC_WAIT_NS;
	for (;;) {
		r = call(c, "UpdateInterface", &ui.base, &types__interface__descriptor, timeout_ns, err);
		if (r >= 0 || kc_error_code(err) != (pci ? KC_DEADLINE_EXCEEDED : KC_NOT_FOUND) || now_ns() >= until)
			break;
		kc_error_clear(err);
		if (!pci)
			(void)nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000 }, NULL);
	}
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

/* A read-only bind of the sandbox's resolv.conf over /etc/resolv.conf, appended to the spec's mounts (the
 * spec is freed with protobuf-c's free_unpacked, so everything added is malloc'd). */
static int add_resolv_mount(Grpc__Spec *spec) {
	static const char *const opts[] = { "rbind", "ro" };
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (spec->mounts[i]->destination && strcmp(spec->mounts[i]->destination, "/etc/resolv.conf") == 0)
			return 0;
	Grpc__Mount *m = calloc(1, sizeof *m);
	Grpc__Mount **v = realloc(spec->mounts, (spec->n_mounts + 1) * sizeof *v);
	if (v)
		spec->mounts = v;
	if (!m || !v) {
		free(m);
		return -ENOMEM;
	}
	grpc__mount__init(m);
	m->destination = strdup("/etc/resolv.conf");
	m->source = strdup(LAUNCH_NET_SANDBOX_RESOLV);
	m->type = strdup("bind");
	m->options = calloc(ELEMENTSOF(opts), sizeof *m->options);
	for (size_t i = 0; m->options && i < ELEMENTSOF(opts); i++)
		if ((m->options[i] = strdup(opts[i])))
			m->n_options++;
	spec->mounts[spec->n_mounts++] = m; /* owned by the spec from here, complete or not */
	return m->destination && m->source && m->type && m->n_options == ELEMENTSOF(opts) ? 0 : -ENOMEM;
}

int launch_net_sandbox(ttrpc_client *c, launch_net n, bool pci, Grpc__CreateSandboxRequest *sb, Grpc__Spec *spec,
		       kc_error *err) {
	if (n == LAUNCH_NET_NONE)
		return 0;
	int r = launch_net_configure(c, n, pci, 60 * 1000000000LL, err);
	if (r < 0)
		return r;
	sb->dns = launch_net_dns(n, &sb->n_dns);
	r = add_resolv_mount(spec);
	return r < 0 ? kc_error_set(err, -r, "adding the resolv.conf mount to the spec: %s", strerror(-r)) : 0;
}
