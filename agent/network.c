/* The network RPCs: UpdateInterface, UpdateRoutes, ListInterfaces, ListRoutes, AddARPNeighbors (netconfig,
 * inline: short kernel calls), and GetIPTables / SetIPTables (the guest's iptables-save / iptables-restore).
 * A request is validated whole before the first netlink write (network-convert.c); when the kernel refuses a
 * step, what this call already created or changed is undone and the kernel's message returned. Entries that a
 * replace overwrote are not restored. Each call opens its own netlink socket: no state between calls.
 * UpdateInterface by PCI devicePath waits for a NIC that is still being hot-plugged as a pending call. */
#define LOG_SOURCE "network"
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/child.h"
#include "agent/devices.h"
#include "agent/network-pci.h"
#include "agent/network.h"
#include "common/log.h"
#include "common/util.h"
#include "storage/devices.h"
#include "storage/pci.h"

static void iface_cleanup(net_iface *i) {
	net_iface_done(i);
}

static bool same_ip(const nl_ip *a, const nl_ip *b) {
	return a->family == b->family && memcmp(a->addr, b->addr, nl_ip_len(a->family)) == 0;
}

static void describe_ip(const nl_ip *ip, bool with_len, char *buf, size_t size) {
	char a[NL_IP_STR_MAX];
	nl_ip_format(ip, a);
	if (with_len)
		(void)format_checked(buf, size, "%s/%u", a, ip->prefixlen);
	else
		(void)format_checked(buf, size, "%s", a);
}

/* ==== UpdateInterface ==== */

/* What one UpdateInterface changed, to be put back if a later step fails. */
typedef struct iface_txn {
	nl_sock *s;
	nl_link before;        /* the target as found */
	bool target_changed;   /* any RTM_NEWLINK sent for the target */
	bool displaced;        /* another link held the requested name */
	nl_link displaced_before;
	char temp_name[IFNAMSIZ];
	nl_ip *added; /* addresses this call created (not those it replaced) */
	size_t n_added;
} iface_txn;

static void undo_link(nl_sock *s, const nl_link *before, const char *what) {
	kc_error e = { 0 };
	nl_link now;

	if (nl_link_get_by_index(s, before->ifindex, &now, &e) < 0) {
		log_warn("undo %s: %s", what, e.msg);
		return;
	}
	bool rename = strcmp(now.name, before->name) != 0;
	bool hwaddr = now.hwaddr_len != before->hwaddr_len || memcmp(now.hwaddr, before->hwaddr, now.hwaddr_len) != 0;
	/* The kernel renames (and re-addresses most NICs) only while the link is down. */
	if ((rename || hwaddr) && (now.flags & IFF_UP) && nl_link_set_up(s, now.ifindex, false, &e) < 0)
		log_warn("undo %s: set %s down: %s", what, now.name, e.msg);
	nl_link_change c = {
		.set = NL_LINK_SET_MTU | NL_LINK_SET_NOARP | NL_LINK_SET_UP,
		.mtu = before->mtu,
		.noarp = before->flags & IFF_NOARP,
		.up = before->flags & IFF_UP,
	};
	if (rename) {
		c.set |= NL_LINK_SET_NAME;
		memcpy(c.name, before->name, sizeof c.name);
	}
	if (hwaddr && before->hwaddr_len) {
		c.set |= NL_LINK_SET_HWADDR;
		memcpy(c.hwaddr, before->hwaddr, before->hwaddr_len);
		c.hwaddr_len = before->hwaddr_len;
	}
	if (nl_link_change_apply(s, now.ifindex, &c, &e) < 0)
		log_warn("undo %s: restore %s: %s", what, before->name, e.msg);
}

static void iface_undo(iface_txn *t) {
	kc_error e = { 0 };

	/* Free the target's old name first: after the swap the displaced link may hold it. */
	if (t->displaced && nl_link_rename(t->s, t->displaced_before.ifindex, t->temp_name, &e) < 0 && e.err != EEXIST)
		log_debug("undo: park the displaced link: %s", e.msg);
	if (t->target_changed)
		undo_link(t->s, &t->before, "interface");
	if (t->displaced)
		undo_link(t->s, &t->displaced_before, "displaced link");
	for (size_t i = t->n_added; i-- > 0;)
		if (nl_address_del(t->s, t->before.ifindex, &t->added[i], &e) < 0)
			log_warn("undo: remove an address from %s: %s", t->before.name, e.msg);
}

/* By MAC (as upstream, also when devicePath is given: the PCI path is then only waited for), else the
 * interface of the PCI device (pci_ifindex), else by name. */
static int find_target(nl_sock *s, const net_iface *want, int pci_ifindex, nl_link *ret, bool *ret_set_hwaddr,
		       kc_error *err) {
	char mac[NL_HWADDR_STR_MAX];
	int r;

	*ret_set_hwaddr = false;
	if (want->hwaddr_len) {
		r = nl_link_get_by_hwaddr(s, want->hwaddr, want->hwaddr_len, ret, err);
		if (r != -ENOENT || !want->name[0])
			return r < 0 ? kc_error_prefix(err, "interface.hwAddr") : 0;
		/* A VM made from a template keeps the template's MAC: find the NIC by name and give it the MAC the
		 * host expects (as upstream does). */
		r = nl_link_get_by_name(s, want->name, ret, err);
		if (r == -ENOENT) {
			nl_hwaddr_format(want->hwaddr, want->hwaddr_len, mac);
			return kc_error_set(err, ENOENT, "interface: no link with hardware address %s or named \"%s\"",
					    mac, want->name);
		}
		if (r < 0)
			return kc_error_prefix(err, "interface.name");
		*ret_set_hwaddr = true;
		return 0;
	}
	if (pci_ifindex > 0) {
		r = nl_link_get_by_index(s, pci_ifindex, ret, err);
		return r < 0 ? kc_error_prefix(err, "interface.devicePath: link index %d", pci_ifindex) : 0;
	}
	r = nl_link_get_by_name(s, want->name, ret, err);
	return r < 0 ? kc_error_prefix(err, "interface.name") : 0;
}

/* Whether the kernel already has this address on the link; replacing it then creates nothing to undo.
 * IPv4 keys an address by address and prefix length, IPv6 by address alone. */
static bool address_present(const nl_address *list, size_t n, const nl_ip *ip) {
	for (size_t i = 0; i < n; i++)
		if (same_ip(&list[i].ip, ip) && (ip->family == AF_INET6 || list[i].ip.prefixlen == ip->prefixlen))
			return true;
	return false;
}

static int add_addresses(iface_txn *t, const net_iface *want, kc_error *err) {
	_cleanup_free_ nl_address *existing = NULL;
	size_t n_existing;
	char text[NL_IP_STR_MAX + 4];

	int r = nl_address_list(t->s, AF_UNSPEC, t->before.ifindex, &existing, &n_existing, err);
	if (r < 0)
		return r;
	bool v6_off = nl_ipv6_disabled("/proc");
	for (size_t i = 0; i < want->n_addrs; i++) {
		const nl_ip *ip = &want->addrs[i];
		describe_ip(ip, true, text, sizeof text);
		if (ip->family == AF_INET6 && v6_off) {
			log_debug("IPv6 is disabled: not adding %s to %s", text, t->before.name);
			continue;
		}
		bool is_new = !address_present(existing, n_existing, ip);
		r = nl_address_add(t->s, t->before.ifindex, ip, true, err);
		if (r < 0)
			return kc_error_prefix(err, "interface.IPAddresses[%zu]: add %s to %s", i, text, t->before.name);
		if (is_new)
			t->added[t->n_added++] = *ip;
	}
	return 0;
}

/* Another link holds the requested name: park it under "<name>_temp" (down, as a rename needs), to give it
 * the target's old name once the target has taken the new one. */
static int displace_clash(iface_txn *t, const char *name, kc_error *err) {
	kc_error e = { 0 };
	nl_link other;

	int r = nl_link_get_by_name(t->s, name, &other, &e);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		*err = e;
		return r;
	}
	size_t keep = MIN(strlen(name), (size_t)IFNAMSIZ - 1 - strlen("_temp"));
	(void)format_checked(t->temp_name, sizeof t->temp_name, "%.*s_temp", (int)keep, name);
	nl_link_change c = { .set = NL_LINK_SET_UP | NL_LINK_SET_NAME, .up = false };
	memcpy(c.name, t->temp_name, sizeof c.name);
	t->displaced = true;
	t->displaced_before = other;
	r = nl_link_change_apply(t->s, other.ifindex, &c, err);
	if (r < 0)
		return kc_error_prefix(err, "interface.name: move link %s (index %d) holding \"%s\" out of the way", name,
				       other.ifindex, name);
	log_info("UpdateInterface: %s (index %d) renamed %s to free its name", name, other.ifindex, t->temp_name);
	return 0;
}

/* The displaced link takes the target's old name, and its own up state back. */
static int restore_displaced(iface_txn *t, kc_error *err) {
	nl_link_change c = { .set = NL_LINK_SET_NAME | NL_LINK_SET_UP, .up = t->displaced_before.flags & IFF_UP };
	memcpy(c.name, t->before.name, sizeof c.name);
	int r = nl_link_change_apply(t->s, t->displaced_before.ifindex, &c, err);
	return r < 0 ? kc_error_prefix(err, "interface.name: rename the displaced link to %s", t->before.name) : 0;
}

static int iface_apply(iface_txn *t, const net_iface *want, bool set_hwaddr, kc_error *err) {
	const nl_link *l = &t->before;
	bool rename = want->name[0] && strcmp(want->name, l->name) != 0;
	int r;

	/* Upstream sets the link down unconditionally; we do only when the kernel needs it (a rename or a new
	 * MAC), because a down link loses its routes and IPv6 addresses, and a repeated call must change
	 * nothing. */
	if ((rename || set_hwaddr) && (l->flags & IFF_UP)) {
		t->target_changed = true;
		r = nl_link_set_up(t->s, l->ifindex, false, err);
		if (r < 0)
			return kc_error_prefix(err, "interface: set %s down", l->name);
	}
	r = add_addresses(t, want, err);
	if (r < 0)
		return r;
	if (rename && (r = displace_clash(t, want->name, err)) < 0)
		return r;
	nl_link_change c = { .set = NL_LINK_SET_UP | NL_LINK_SET_NOARP, .up = true, .noarp = want->noarp };
	if (want->mtu) {
		c.set |= NL_LINK_SET_MTU;
		c.mtu = want->mtu;
	}
	if (rename) {
		c.set |= NL_LINK_SET_NAME;
		memcpy(c.name, want->name, sizeof c.name);
	}
	if (set_hwaddr) {
		c.set |= NL_LINK_SET_HWADDR;
		memcpy(c.hwaddr, want->hwaddr, want->hwaddr_len);
		c.hwaddr_len = want->hwaddr_len;
	}
	/* The kernel applies an RTM_NEWLINK attribute by attribute: a refusal may follow a partial change. */
	t->target_changed = true;
	r = nl_link_change_apply(t->s, l->ifindex, &c, err);
	if (r < 0)
		return kc_error_prefix(err, "interface: set %s (index %d)%s%s%s%s up", l->name, l->ifindex,
				       want->mtu ? " mtu" : "", rename ? " name" : "", set_hwaddr ? " address" : "",
				       want->noarp ? " noarp" : " arp");
	if (t->displaced)
		return restore_displaced(t, err);
	return 0;
}

/* Configures the link the request names and answers the call. pci_ifindex: the interface found under
 * devicePath, 0 for none. */
static int configure_interface(ttrpc_call *call, const Grpc__UpdateInterfaceRequest *req, const net_iface *want,
			       int pci_ifindex, kc_error *err) {
	_cleanup_(nl_sock_freep) nl_sock *s = NULL;
	_cleanup_free_ nl_ip *added = NULL;
	bool set_hwaddr;

	int r = nl_sock_open(&s, err);
	if (r < 0)
		return r;
	iface_txn t = { .s = s };
	r = find_target(s, want, pci_ifindex, &t.before, &set_hwaddr, err);
	if (r < 0)
		return r;
	added = t.added = calloc(MAX(want->n_addrs, (size_t)1), sizeof *t.added);
	if (!added)
		return kc_error_set(err, ENOMEM, "UpdateInterface: out of memory");
	r = iface_apply(&t, want, set_hwaddr, err);
	if (r < 0) {
		log_warn("UpdateInterface on %s failed, undoing: %s", t.before.name, err->msg);
		iface_undo(&t);
		return r;
	}
	log_info("UpdateInterface: %s (index %d) configured as %s with %zu address(es)", t.before.name,
		 t.before.ifindex, want->name[0] ? want->name : t.before.name, want->n_addrs);
	ttrpc_call_reply(call, &req->interface->base);
	return 0;
}

/* ---- devicePath: the NIC may still be on its way ---- */

typedef struct iface_wait {
	agent *agent;
	ttrpc_call *call;
	const Grpc__UpdateInterfaceRequest *req; /* owned by the call, which lives until answered */
	net_iface want;
	char devpath[PATH_MAX];
	dev_waiter *waiter;
	ev_timer timer;
	ev_timer retry; /* no device table yet: look at sysfs again */
	uint64_t started;
} iface_wait;

static void iface_wait_free(iface_wait *w) {
	struct dev_table *t = devices_table(w->agent);
	if (w->waiter && t)
		dev_waiter_cancel(t, w->waiter);
	ev_timer_disarm(&w->timer);
	ev_timer_disarm(&w->retry);
	net_iface_done(&w->want);
	free(w);
}

/* Looks at sysfs for the NIC's interface: 1 when the link can be configured now (*ret_ifindex is 0 when it is
 * to be found by MAC), 0 when it is not there yet. */
static int pci_lookup(agent *a, const char *path, const char *devpath, const net_iface *want, int *ret_ifindex,
		      kc_error *err) {
	char name[IFNAMSIZ];
	int ifindex = 0;

	int r = net_pci_interface(a->sysfs, devpath, name, &ifindex, err);
	if (r < 0)
		return kc_error_prefix(err, "interface.devicePath %s", path);
	if (r > 1 && !want->hwaddr_len) {
		char why[KC_ERROR_MSG_MAX];
		memcpy(why, err->msg, sizeof why);
		return kc_error_set_code(err, KC_INVALID_ARGUMENT, EINVAL,
					 "interface.devicePath %s: %.300s; give interface.hwAddr to pick one", path, why);
	}
	if (r == 1)
		log_debug("UpdateInterface: PCI path %s is %s (index %d)", path, name, ifindex);
	*ret_ifindex = r == 1 ? ifindex : 0;
	return r > 0;
}

#define IFACE_RETRY_NS (50 * 1000000ULL)

static void iface_wait_on_device(dev_waiter *dw, const dev_entry *e, void *userdata);

/* Waits for the next net device under the PCI device. A request read while the serial transport comes up
 * (main.c reads what is already waiting before the device table exists) finds no table: it then looks at
 * sysfs again shortly, until the table is there to wait on. */
static int iface_wait_register(iface_wait *w, kc_error *err) {
	struct dev_table *t = devices_table(w->agent);
	dev_match m = { .subsystem = "net", .devpath_prefix = w->devpath };
	int r;

	if (!t) {
		r = ev_timer_arm(&w->retry, now_ns() + IFACE_RETRY_NS);
		return r < 0 ? kc_error_set(err, -r, "interface.devicePath: arm a timer: %s", strerror(-r)) : 0;
	}
	r = dev_waiter_add(t, &m, "network interface", iface_wait_on_device, w, &w->waiter);
	return r < 0 ? kc_error_set(err, -r, "interface.devicePath: wait for %s: %s", w->devpath, strerror(-r)) : 0;
}

/* Looks again: configures and answers, or goes on waiting; frees w once the call is answered. */
static void iface_wait_check(iface_wait *w) {
	kc_error err = { 0 };
	int ifindex;

	int r = pci_lookup(w->agent, w->req->interface->devicepath, w->devpath, &w->want, &ifindex, &err);
	if (r == 0)
		r = iface_wait_register(w, &err);
	if (r == 0)
		return;
	if (r > 0) {
		log_info("UpdateInterface: the NIC at PCI path %s came after %.3f s", w->req->interface->devicepath,
			 (double)(now_ns() - w->started) / 1e9);
		r = configure_interface(w->call, w->req, &w->want, ifindex, &err);
	}
	if (r < 0)
		ttrpc_call_fail_error(w->call, &err);
	iface_wait_free(w);
}

/* A net device under the PCI device was announced. */
static void iface_wait_on_device(dev_waiter *dw, const dev_entry *e, void *userdata) {
	iface_wait *w = userdata;
	w->waiter = NULL; /* freed by the table after this call */
	iface_wait_check(w);
}

static void iface_wait_retry(ev_timer *t, void *userdata) {
	iface_wait_check(userdata);
}

static void iface_wait_deadline(ev_timer *t, void *userdata) {
	iface_wait *w = userdata;
	ttrpc_call_fail(w->call, KC_DEADLINE_EXCEEDED,
			"interface.devicePath: timeout after %.3f s waiting for a network interface at PCI path %s (%s)",
			(double)(now_ns() - w->started) / 1e9, w->req->interface->devicepath, w->devpath);
	iface_wait_free(w);
}

static void iface_wait_cancel(ttrpc_call *call, void *userdata) {
	iface_wait_free(userdata);
}

static int update_interface(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__UpdateInterfaceRequest *req = (const Grpc__UpdateInterfaceRequest *)req_;
	_cleanup_(iface_cleanup) net_iface want = { 0 };
	char devpath[PATH_MAX];
	stor_pci_path pci;
	int ifindex = 0;

	int r = net_iface_from_proto(req->interface, &want, err);
	if (r < 0 || !want.has_device_path)
		return r < 0 ? r : configure_interface(call, req, &want, 0, err);
	const char *path = req->interface->devicepath;
	if (stor_pci_path_parse(path, &pci) < 0)
		return kc_error_set_code(err, KC_INVALID_ARGUMENT, EINVAL,
					 "interface.devicePath: `%.80s` is not a PCI path (SS[.F]/SS[.F]..., hex)", path);
	r = stor_pci_path_to_devpath(a->sysfs, &pci, devpath, sizeof devpath, err);
	if (r < 0)
		return kc_error_prefix(err, "interface.devicePath %s", path);
	r = pci_lookup(a, path, devpath, &want, &ifindex, err);
	if (r < 0)
		return r;
	if (r > 0)
		return configure_interface(call, req, &want, ifindex, err);

	/* Not there yet: hot-plugged just before this call. Wait for its net device's uevent. */
	iface_wait *w = calloc(1, sizeof *w);
	if (!w)
		return kc_error_set(err, ENOMEM, "UpdateInterface: out of memory");
	*w = (iface_wait){ .agent = a, .call = call, .req = req, .want = want, .started = now_ns() };
	want = (net_iface){ 0 }; /* the addresses belong to w now */
	memcpy(w->devpath, devpath, sizeof devpath);
	ev_timer_init(&w->timer, a->loop, iface_wait_deadline, w);
	ev_timer_init(&w->retry, a->loop, iface_wait_retry, w);
	r = iface_wait_register(w, err);
	if (r >= 0 && (r = ev_timer_arm(&w->timer, w->started + (uint64_t)a->cfg.hotplug_timeout_ms * 1000000)) < 0)
		r = kc_error_set(err, -r, "UpdateInterface: arm the hotplug deadline: %s", strerror(-r));
	if (r < 0) {
		iface_wait_free(w);
		return r;
	}
	log_info("UpdateInterface: waiting up to %u ms for a network interface at PCI path %s (%s)",
		 a->cfg.hotplug_timeout_ms, path, devpath);
	ttrpc_call_on_cancel(call, iface_wait_cancel, w);
	return TTRPC_PENDING;
}

/* ==== ListInterfaces ==== */

static int list_interfaces(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	_cleanup_(nl_sock_freep) nl_sock *s = NULL;
	_cleanup_free_ nl_link *links = NULL;
	_cleanup_free_ nl_address *addrs = NULL;
	size_t n_links, n_addrs, k = 0;

	int r = nl_sock_open(&s, err);
	if (r >= 0)
		r = nl_link_list(s, &links, &n_links, err);
	if (r >= 0)
		r = nl_address_list(s, AF_UNSPEC, 0, &addrs, &n_addrs, err);
	if (r < 0)
		return r;
	_cleanup_free_ net_iface_out *ifs = calloc(MAX(n_links, (size_t)1), sizeof *ifs);
	_cleanup_free_ Types__Interface **ifp = calloc(MAX(n_links, (size_t)1), sizeof *ifp);
	_cleanup_free_ net_addr_out *ads = calloc(MAX(n_addrs, (size_t)1), sizeof *ads);
	_cleanup_free_ Types__IPAddress **adp = calloc(MAX(n_addrs, (size_t)1), sizeof *adp);
	if (!ifs || !ifp || !ads || !adp)
		return kc_error_set(err, ENOMEM, "ListInterfaces: out of memory");
	for (size_t i = 0; i < n_links; i++) {
		net_iface_to_proto(&links[i], &ifs[i]);
		ifs[i].pb.ipaddresses = adp + k;
		for (size_t j = 0; j < n_addrs; j++) {
			if (addrs[j].ifindex != links[i].ifindex)
				continue;
			net_addr_to_proto(&addrs[j].ip, &ads[k]);
			adp[k] = &ads[k].pb;
			k++;
			ifs[i].pb.n_ipaddresses++;
		}
		ifp[i] = &ifs[i].pb;
	}
	Grpc__Interfaces resp = GRPC__INTERFACES__INIT;
	resp.n_interfaces = n_links;
	resp.interfaces = ifp;
	ttrpc_call_reply(call, &resp.base);
	return 0;
}

/* ==== ListRoutes, and the answer of UpdateRoutes ==== */

static const char *link_name(const nl_link *links, size_t n, int ifindex) {
	for (size_t i = 0; i < n; i++)
		if (links[i].ifindex == ifindex)
			return links[i].name;
	return "";
}

/* The main table, IPv4 then IPv6, one dump after the other (the kernel refuses a second dump on a socket
 * while one is running). */
static int reply_routes(nl_sock *s, ttrpc_call *call, kc_error *err) {
	_cleanup_free_ nl_link *links = NULL;
	_cleanup_free_ nl_route *v4 = NULL, *v6 = NULL;
	size_t n_links, n4, n6;

	int r = nl_link_list(s, &links, &n_links, err);
	if (r >= 0)
		r = nl_route_list(s, AF_INET, RT_TABLE_MAIN, &v4, &n4, err);
	if (r >= 0)
		r = nl_route_list(s, AF_INET6, RT_TABLE_MAIN, &v6, &n6, err);
	if (r < 0)
		return r;
	size_t n = n4 + n6;
	_cleanup_free_ net_route_out *outs = calloc(MAX(n, (size_t)1), sizeof *outs);
	_cleanup_free_ Types__Route **ptrs = calloc(MAX(n, (size_t)1), sizeof *ptrs);
	if (!outs || !ptrs)
		return kc_error_set(err, ENOMEM, "ListRoutes: out of memory");
	for (size_t i = 0; i < n; i++) {
		const nl_route *rt = i < n4 ? &v4[i] : &v6[i - n4];
		net_route_to_proto(rt, link_name(links, n_links, rt->oif), &outs[i]);
		ptrs[i] = &outs[i].pb;
	}
	Grpc__Routes resp = GRPC__ROUTES__INIT;
	resp.n_routes = n;
	resp.routes = ptrs;
	ttrpc_call_reply(call, &resp.base);
	return 0;
}

static int list_routes(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	_cleanup_(nl_sock_freep) nl_sock *s = NULL;
	int r = nl_sock_open(&s, err);
	if (r < 0)
		return r;
	return reply_routes(s, call, err);
}

/* ==== UpdateRoutes ==== */

static void describe_route(const net_route *nr, char *buf, size_t size) {
	char dst[NL_IP_STR_MAX + 4] = "default", gw[NL_IP_STR_MAX] = "";
	if (nr->route.dst.prefixlen)
		describe_ip(&nr->route.dst, true, dst, sizeof dst);
	if (nr->route.has_gateway)
		describe_ip(&nr->route.gateway, false, gw, sizeof gw);
	(void)format_checked(buf, size, "%s%s%s%s%s", dst, gw[0] ? " via " : "", gw, nr->device[0] ? " dev " : "",
			     nr->device);
}

static int route_existed(const nl_route *list, size_t n, const nl_route *rt) {
	for (size_t i = 0; i < n; i++)
		if (nl_route_same_key(&list[i], rt))
			return true;
	return false;
}

static int resolve_devices(nl_sock *s, net_route *routes, size_t n, kc_error *err) {
	for (size_t i = 0; i < n; i++) {
		nl_link l;
		if (!routes[i].device[0])
			continue;
		int r = nl_link_get_by_name(s, routes[i].device, &l, err);
		if (r < 0)
			return kc_error_prefix(err, "routes.Routes[%zu].device", i);
		routes[i].route.oif = l.ifindex;
	}
	return 0;
}

static int update_routes(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__UpdateRoutesRequest *req = (const Grpc__UpdateRoutesRequest *)req_;
	_cleanup_(nl_sock_freep) nl_sock *s = NULL;
	_cleanup_free_ net_route *routes = NULL;
	_cleanup_free_ nl_route *v4 = NULL, *v6 = NULL;
	_cleanup_free_ size_t *added = NULL;
	size_t n, n4, n6, n_added = 0;
	char text[200];

	int r = net_routes_from_proto(req->routes, &routes, &n, err);
	if (r >= 0)
		r = nl_sock_open(&s, err);
	if (r >= 0)
		r = resolve_devices(s, routes, n, err);
	/* What exists already, so that undo removes only the routes this call created. */
	if (r >= 0)
		r = nl_route_list(s, AF_INET, RT_TABLE_MAIN, &v4, &n4, err);
	if (r >= 0)
		r = nl_route_list(s, AF_INET6, RT_TABLE_MAIN, &v6, &n6, err);
	if (r < 0)
		return r;
	added = calloc(MAX(n, (size_t)1), sizeof *added);
	if (!added)
		return kc_error_set(err, ENOMEM, "UpdateRoutes: out of memory");
	/* Routes without a gateway first: a gateway must be reachable through one of them to be accepted. */
	for (int pass = 0; pass < 2 && r >= 0; pass++)
		for (size_t i = 0; i < n && r >= 0; i++) {
			const nl_route *rt = &routes[i].route;
			if (rt->has_gateway != (pass == 1))
				continue;
			bool existed = rt->family == AF_INET ? route_existed(v4, n4, rt) : route_existed(v6, n6, rt);
			r = nl_route_replace(s, rt, err);
			if (r == -EEXIST)
				r = 0;
			else if (r < 0) {
				describe_route(&routes[i], text, sizeof text);
				(void)kc_error_prefix(err, "routes.Routes[%zu]: replace %s", i, text);
			} else if (!existed)
				added[n_added++] = i;
		}
	if (r < 0) {
		log_warn("UpdateRoutes failed, removing the %zu route(s) it added: %s", n_added, err->msg);
		for (size_t j = n_added; j-- > 0;) {
			kc_error e = { 0 };
			if (nl_route_del(s, &routes[added[j]].route, &e) < 0)
				log_warn("undo: remove route %zu: %s", added[j], e.msg);
		}
		return r;
	}
	log_info("UpdateRoutes: %zu route(s) applied", n);
	return reply_routes(s, call, err);
}

/* ==== AddARPNeighbors ==== */

static bool neigh_existed(const nl_neigh *list, size_t n, const nl_neigh *x) {
	for (size_t i = 0; i < n; i++)
		if (list[i].ifindex == x->ifindex && same_ip(&list[i].dst, &x->dst))
			return true;
	return false;
}

static int add_arp_neighbors(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__AddARPNeighborsRequest *req = (const Grpc__AddARPNeighborsRequest *)req_;
	_cleanup_(nl_sock_freep) nl_sock *s = NULL;
	_cleanup_free_ net_neigh *neighs = NULL;
	_cleanup_free_ nl_neigh *existing = NULL;
	_cleanup_free_ size_t *added = NULL;
	size_t n, n_existing, n_added = 0;
	char text[NL_IP_STR_MAX];

	int r = net_neighs_from_proto(req->neighbors, &neighs, &n, err);
	if (r >= 0)
		r = nl_sock_open(&s, err);
	for (size_t i = 0; i < n && r >= 0; i++) {
		nl_link l;
		r = nl_link_get_by_name(s, neighs[i].device, &l, err);
		if (r < 0)
			(void)kc_error_prefix(err, "neighbors.ARPNeighbors[%zu].device", i);
		else
			neighs[i].neigh.ifindex = l.ifindex;
	}
	if (r >= 0)
		r = nl_neigh_list(s, AF_UNSPEC, &existing, &n_existing, err);
	if (r < 0)
		return r;
	added = calloc(MAX(n, (size_t)1), sizeof *added);
	if (!added)
		return kc_error_set(err, ENOMEM, "AddARPNeighbors: out of memory");
	for (size_t i = 0; i < n; i++) {
		const nl_neigh *x = &neighs[i].neigh;
		bool existed = neigh_existed(existing, n_existing, x);
		r = nl_neigh_replace(s, x, err);
		if (r < 0) {
			describe_ip(&x->dst, false, text, sizeof text);
			(void)kc_error_prefix(err, "neighbors.ARPNeighbors[%zu]: replace %s dev %s", i, text,
					      neighs[i].device);
			log_warn("AddARPNeighbors failed, removing the %zu entries it added: %s", n_added, err->msg);
			for (size_t j = n_added; j-- > 0;) {
				kc_error e = { 0 };
				if (nl_neigh_del(s, &neighs[added[j]].neigh, &e) < 0)
					log_warn("undo: remove neighbour %zu: %s", added[j], e.msg);
			}
			return r;
		}
		if (!existed)
			added[n_added++] = i;
	}
	log_info("AddARPNeighbors: %zu entries", n);
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	ttrpc_call_reply(call, &empty.base);
	return 0;
}

/* ==== GetIPTables / SetIPTables ==== */

/* The tools run in a helper (below); this bounds each run. iptables-restore gets `--wait 5` for the xtables
 * lock, so a healthy run ends well within it. */
#define IPT_TIMEOUT_MS 8000
#define IPT_OUTPUT_MAX (4u << 20)
#define IPT_STDERR_MAX 1024

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int find_tool(const char *name, char *buf, size_t size) {
	static const char *const dirs[] = { "/usr/sbin", "/sbin" };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (format_checked(buf, size, "%s/%s", dirs[i], name) >= 0 && access(buf, X_OK) == 0)
			return 0;
	return -ENOENT;
}

typedef struct tool_run {
	uint8_t *out;
	size_t out_len, out_cap;
	char errtext[IPT_STDERR_MAX + 1];
	size_t err_len;
} tool_run;

static void move_fd(int fd, int target) {
	if (fd == target)
		(void)fcntl(fd, F_SETFD, 0);
	else if (dup2(fd, target /* cloexec-ok: onto the child's stdio, meant to survive exec */) < 0)
		_exit(127);
}

/* The child: stdio from the pipes, default signal state, and nothing else open across exec. Only
 * async-signal-safe calls. An exec failure goes back over the close-on-exec pipe. */
_noreturn_ static void tool_child(const char *path, char *const argv[], int in, int out, int errfd, int report) {
	static char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	sigset_t none;

	move_fd(in, STDIN_FILENO);
	move_fd(out, STDOUT_FILENO);
	move_fd(errfd, STDERR_FILENO);
	(void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	execve(path, argv, envp);
	int e = errno;
	(void)!write(report, &e, sizeof e);
	_exit(e == ENOENT ? 127 : 126);
}

static int append_out(tool_run *t, const uint8_t *buf, size_t n) {
	if (n > IPT_OUTPUT_MAX - t->out_len)
		return -E2BIG;
	if (t->out_len + n > t->out_cap) {
		size_t cap = MIN(MAX(t->out_cap * 2, t->out_len + n), (size_t)IPT_OUTPUT_MAX);
		uint8_t *p = realloc(t->out, cap);
		if (!p)
			return -ENOMEM;
		t->out = p;
		t->out_cap = cap;
	}
	memcpy(t->out + t->out_len, buf, n);
	t->out_len += n;
	return 0;
}

/* Feeds stdin and collects stdout (capped) and stderr (its start) until both close or the deadline; takes
 * ownership of the three fds. */
static int tool_io(int in_fd, int out_fd, int err_fd, const uint8_t *data, size_t len, tool_run *t, kc_error *err) {
	/* Owned from here: every return, early ones included, closes all three. */
	_cleanup_close_ int in = in_fd, out = out_fd, errfd = err_fd;
	uint64_t deadline = now_ns() + (uint64_t)IPT_TIMEOUT_MS * 1000000;
	size_t written = 0;
	uint8_t buf[65536];

	if (in >= 0 && len == 0)
		in = safe_close(in);
	while (out >= 0 || errfd >= 0) {
		struct pollfd p[3] = { { .fd = out, .events = POLLIN }, { .fd = errfd, .events = POLLIN },
				       { .fd = in, .events = POLLOUT } };
		uint64_t now = now_ns();
		if (now >= deadline)
			return kc_error_set(err, ETIMEDOUT, "no result within %d ms", IPT_TIMEOUT_MS);
		int k = poll(p, 3, (int)((deadline - now) / 1000000) + 1);
		if (k < 0 && errno != EINTR)
			return kc_error_set(err, errno, "poll: %m");
		if (k <= 0)
			continue;
		if (in >= 0 && p[2].revents) {
			ssize_t w = write(in, data + written, MIN(len - written, (size_t)65536));
			if (w > 0)
				written += (size_t)w;
			/* A tool that stops reading (EPIPE) answers on stderr and by its exit status. */
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == len)
				in = safe_close(in);
		}
		for (int i = 0; i < 2; i++) {
			int *fd = i == 0 ? &out : &errfd;
			if (*fd < 0 || !p[i].revents)
				continue;
			ssize_t n = read(*fd, buf, sizeof buf);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				*fd = safe_close(*fd);
				continue;
			}
			if (i == 0 && append_out(t, buf, (size_t)n) < 0)
				return kc_error_set(err, E2BIG, "output exceeds %u bytes", IPT_OUTPUT_MAX);
			if (i == 1) {
				size_t keep = MIN((size_t)n, IPT_STDERR_MAX - t->err_len);
				memcpy(t->errtext + t->err_len, buf, keep);
				t->err_len += keep;
			}
		}
	}
	return 0;
}

static int run_tool(const char *path, char *const argv[], const uint8_t *in, size_t in_len, tool_run *t,
		    kc_error *err) {
	int p_in[2], p_out[2], p_err[2], p_rep[2];
	int e = 0, status, r;

	if (pipe2(p_in, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe: %m");
	if (pipe2(p_out, O_CLOEXEC) < 0) {
		r = -errno;
		goto close_in;
	}
	if (pipe2(p_err, O_CLOEXEC) < 0) {
		r = -errno;
		goto close_out;
	}
	if (pipe2(p_rep, O_CLOEXEC) < 0) {
		r = -errno;
		goto close_err;
	}
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		safe_close(p_rep[0]);
		safe_close(p_rep[1]);
		goto close_err;
	}
	if (pid == 0)
		tool_child(path, argv, p_in[0], p_out[1], p_err[1], p_rep[1]);
	safe_close(p_in[0]);
	safe_close(p_out[1]);
	safe_close(p_err[1]);
	safe_close(p_rep[1]);
	/* EOF means the exec happened; otherwise the child's errno. */
	ssize_t n;
	do
		n = read(p_rep[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	safe_close(p_rep[0]);
	if (n == (ssize_t)sizeof e) {
		safe_close(p_in[1]);
		safe_close(p_out[0]);
		safe_close(p_err[0]);
		(void)waitpid(pid, &status, 0);
		return kc_error_set(err, e, "exec %s: %s", path, strerror(e));
	}
	(void)fd_set_nonblock(p_in[1], true);
	r = tool_io(p_in[1], p_out[0], p_err[0], in, in_len, t, err);
	if (r < 0)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return kc_error_prefix(err, "%s", path);
	t->errtext[t->err_len] = '\0';
	t->errtext[strcspn(t->errtext, "\n")] = '\0';
	if (WIFSIGNALED(status))
		return kc_error_set(err, EIO, "%s killed by signal %d: %s", path, WTERMSIG(status), t->errtext);
	if (WEXITSTATUS(status) != 0)
		return kc_error_set(err, EIO, "%s exited with status %d: %s", path, WEXITSTATUS(status), t->errtext);
	return 0;

close_err:
	safe_close(p_err[0]);
	safe_close(p_err[1]);
close_out:
	safe_close(p_out[0]);
	safe_close(p_out[1]);
close_in:
	safe_close(p_in[0]);
	safe_close(p_in[1]);
	return kc_error_set(err, -r, "starting %s: %s", path, strerror(-r));
}

static int iptables(bool ipv6, const char *suffix, char *const extra[], const ProtobufCBinaryData *in,
		    tool_run *t, kc_error *err) {
	char name[32], path[64];
	char *argv[8] = { name };

	(void)format_checked(name, sizeof name, "%s-%s", ipv6 ? "ip6tables" : "iptables", suffix);
	if (find_tool(name, path, sizeof path) < 0)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ENOENT,
					 "%s is not installed in the guest (looked in /usr/sbin and /sbin)", name);
	for (size_t i = 0; extra && extra[i] && i + 2 < ELEMENTSOF(argv); i++)
		argv[i + 1] = extra[i];
	return run_tool(path, argv, in ? in->data : NULL, in ? in->len : 0, t, err);
}

/* The tools run in a helper so the loop keeps serving while they work (iptables-restore may wait for the
 * xtables lock). Their output comes back through a memfd the helper fills. */
typedef struct ipt_job {
	agent *agent;
	ttrpc_call *call;
	pid_t pid;
	bool ipv6, restore;
	const ProtobufCBinaryData *in; /* the request's data; the helper has its own copy after fork */
	int out_fd;
} ipt_job;

static ipt_job *ipt_job_free(ipt_job *j) {
	if (j) {
		safe_close(j->out_fd);
		free(j);
	}
	return NULL;
}

static int ipt_work(void *userdata, kc_error *err) {
	static char *const wait_args[] = { (char *)"--wait", (char *)"5", NULL };
	ipt_job *j = userdata;
	tool_run t = { 0 };
	int r = iptables(j->ipv6, j->restore ? "restore" : "save", j->restore ? wait_args : NULL,
			 j->restore ? j->in : NULL, &t, err);
	if (r >= 0 && t.out_len > 0 && write_all(j->out_fd, t.out, t.out_len) < 0)
		r = kc_error_set(err, errno, "keep the output: %m");
	free(t.out);
	return r;
}

static void ipt_done(int result, const kc_error *err, void *userdata) {
	ipt_job *j = userdata;
	ttrpc_call *call = j->call;
	struct stat st;
	_cleanup_free_ uint8_t *out = NULL;
	size_t len = 0;

	if (result >= 0 && fstat(j->out_fd, &st) == 0 && st.st_size > 0) {
		len = MIN((size_t)st.st_size, (size_t)IPT_OUTPUT_MAX);
		out = malloc(len);
		if (!out || pread(j->out_fd, out, len, 0) != (ssize_t)len)
			result = -EIO;
	}
	if (result < 0)
		ttrpc_call_fail_error(call, err->err ? err : &(kc_error){ .err = EIO, .msg = "read the tool's output" });
	else if (j->restore) {
		Grpc__SetIPTablesResponse resp = GRPC__SET_IPTABLES_RESPONSE__INIT;
		resp.data.data = out;
		resp.data.len = len;
		ttrpc_call_reply(call, &resp.base);
	} else {
		Grpc__GetIPTablesResponse resp = GRPC__GET_IPTABLES_RESPONSE__INIT;
		resp.data.data = out;
		resp.data.len = len;
		ttrpc_call_reply(call, &resp.base);
	}
	ipt_job_free(j);
}

static void ipt_cancel(ttrpc_call *call, void *userdata) {
	ipt_job *j = userdata;
	helper_abandon(j->agent, j->pid); /* ipt_done will not run */
	ipt_job_free(j);
}

static int ipt_start(agent *a, ttrpc_call *call, bool ipv6, bool restore, const ProtobufCBinaryData *in,
		     kc_error *err) {
	char name[32], path[64];
	/* Said at once, without a helper, when the guest has no such tool. */
	(void)format_checked(name, sizeof name, "%s-%s", ipv6 ? "ip6tables" : "iptables", restore ? "restore" : "save");
	if (find_tool(name, path, sizeof path) < 0)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ENOENT,
					 "%s is not installed in the guest (looked in /usr/sbin and /sbin)", name);
	ipt_job *j = calloc(1, sizeof *j);
	if (!j)
		return kc_error_set(err, ENOMEM, "out of memory");
	*j = (ipt_job){ .agent = a, .call = call, .ipv6 = ipv6, .restore = restore, .in = in, .out_fd = -EBADF };
	j->out_fd = memfd_create("iptables-output", MFD_CLOEXEC);
	if (j->out_fd < 0) {
		int e = errno;
		ipt_job_free(j);
		return kc_error_set(err, e, "memfd for the output: %s", strerror(e));
	}
	int r = helper_run_keep_fd(a, name, ipt_work, j, IPT_TIMEOUT_MS + 2000, ipt_done, j, j->out_fd);
	if (r < 0) {
		ipt_job_free(j);
		return kc_error_set(err, -r, "%s: cannot start a helper: %s", name, strerror(-r));
	}
	j->pid = r;
	ttrpc_call_on_cancel(call, ipt_cancel, j);
	return TTRPC_PENDING;
}

static int get_iptables(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__GetIPTablesRequest *req = (const Grpc__GetIPTablesRequest *)req_;
	return ipt_start(ctx, call, req->is_ipv6, false, NULL, err);
}

static int set_iptables(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__SetIPTablesRequest *req = (const Grpc__SetIPTablesRequest *)req_;
	if (req->data.len > IPT_OUTPUT_MAX)
		return kc_error_set_code(err, KC_INVALID_ARGUMENT, E2BIG, "data: %zu bytes, at most %u", req->data.len,
					 IPT_OUTPUT_MAX);
	return ipt_start(ctx, call, req->is_ipv6, true, &req->data, err);
}

AGENT_HANDLER(grpc__agent_service__descriptor, "UpdateInterface", update_interface);
AGENT_HANDLER(grpc__agent_service__descriptor, "UpdateRoutes", update_routes);
AGENT_HANDLER(grpc__agent_service__descriptor, "ListInterfaces", list_interfaces);
AGENT_HANDLER(grpc__agent_service__descriptor, "ListRoutes", list_routes);
AGENT_HANDLER(grpc__agent_service__descriptor, "AddARPNeighbors", add_arp_neighbors);
AGENT_HANDLER(grpc__agent_service__descriptor, "GetIPTables", get_iptables);
AGENT_HANDLER(grpc__agent_service__descriptor, "SetIPTables", set_iptables);
