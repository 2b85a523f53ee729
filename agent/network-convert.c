/* Proto network messages to netconfig requests and back. Every field is checked here, before the first
 * netlink write, so that a bad request changes nothing; errors name the field as the proto spells it. */
#include <linux/neighbour.h>
#include <stdio.h>
#include <string.h>

#include "agent/network.h"
#include "common/util.h"

#define invalid(err, ...) kc_error_set_code(err, KC_INVALID_ARGUMENT, EINVAL, __VA_ARGS__)

static const char *str_or_empty(const char *s) {
	return s ? s : "";
}

/* Host strings are echoed in messages; refuse the overlong ones before they are parsed or echoed. */
static int check_len(const char *s, size_t max, const char *field, kc_error *err) {
	if (strnlen(s, max + 1) > max)
		return invalid(err, "%s: longer than %zu bytes", field, max);
	return 0;
}

static const char *family_name(int family) {
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* The proto family is v4 (0) when the host left it unset, so only an explicit v6 can contradict an
 * address; v4 with an IPv6 address is taken as unset. */
static int check_family(Types__IPFamily family, const nl_ip *ip, const char *field, kc_error *err) {
	if (family != TYPES__IPFAMILY__v4 && family != TYPES__IPFAMILY__v6)
		return invalid(err, "%s.family: %d is not v4 (0) or v6 (1)", field, (int)family);
	if (family == TYPES__IPFAMILY__v6 && ip->family != AF_INET6)
		return invalid(err, "%s.family: v6 does not match an IPv4 address", field);
	return 0;
}

static int ip_address_from_proto(const Types__IPAddress *in, const char *field, nl_ip *ret, kc_error *err) {
	const char *addr = str_or_empty(in->address), *mask = str_or_empty(in->mask);

	if (nl_ip_parse(addr, ret) < 0)
		return invalid(err, "%s.address: \"%.64s\" is not an IPv4 or IPv6 address", field, addr);
	int r = check_family(in->family, ret, field, err);
	if (r < 0)
		return r;
	if (nl_prefixlen_parse(mask, ret->family, &ret->prefixlen) < 0)
		return invalid(err, "%s.mask: \"%.16s\" is not a prefix length for %s", field, mask,
			       family_name(ret->family));
	return 0;
}

void net_iface_done(net_iface *i) {
	free(i->addrs);
	i->addrs = NULL;
	i->n_addrs = 0;
}

static int iface_addresses(const Types__Interface *in, net_iface *ret, kc_error *err) {
	char field[64];

	if (in->n_ipaddresses > NET_MAX_ADDRESSES)
		return invalid(err, "interface.IPAddresses: %zu entries, at most %d", in->n_ipaddresses,
			       NET_MAX_ADDRESSES);
	if (in->n_ipaddresses == 0)
		return 0;
	ret->addrs = calloc(in->n_ipaddresses, sizeof *ret->addrs);
	if (!ret->addrs)
		return kc_error_set(err, ENOMEM, "interface.IPAddresses: out of memory");
	for (size_t i = 0; i < in->n_ipaddresses; i++) {
		(void)format_checked(field, sizeof field, "interface.IPAddresses[%zu]", i);
		int r = ip_address_from_proto(in->ipaddresses[i], field, &ret->addrs[i], err);
		if (r < 0)
			return r;
		ret->n_addrs++;
	}
	return 0;
}

int net_iface_from_proto(const Types__Interface *in, net_iface *ret, kc_error *err) {
	net_iface i = { 0 };
	int r;

	if (!in)
		return invalid(err, "interface: missing");
	const char *hw = str_or_empty(in->hwaddr), *name = str_or_empty(in->name);
	if ((r = check_len(hw, NET_MAX_STR, "interface.hwAddr", err)) < 0 ||
	    (r = check_len(name, NET_MAX_STR, "interface.name", err)) < 0 ||
	    (r = check_len(str_or_empty(in->devicepath), NET_MAX_STR, "interface.devicePath", err)) < 0 ||
	    (r = check_len(str_or_empty(in->device), NET_MAX_STR, "interface.device", err)) < 0 ||
	    (r = check_len(str_or_empty(in->type), NET_MAX_STR, "interface.type", err)) < 0)
		return r;
	if (hw[0] && nl_hwaddr_parse(hw, i.hwaddr, &i.hwaddr_len) < 0)
		return invalid(err, "interface.hwAddr: \"%s\" is not a hardware address", hw);
	if (name[0]) {
		if (!nl_ifname_valid(name))
			return invalid(err, "interface.name: \"%s\" is not a valid interface name", name);
		memcpy(i.name, name, strlen(name) + 1);
	}
	if (in->mtu > UINT32_MAX)
		return invalid(err, "interface.mtu: %llu is out of range", (unsigned long long)in->mtu);
	i.mtu = (uint32_t)in->mtu;
	i.noarp = in->raw_flags & IFF_NOARP;
	i.has_device_path = in->devicepath && in->devicepath[0];
	if (!i.hwaddr_len && !i.name[0] && !i.has_device_path)
		return invalid(err, "interface: hwAddr (or name) is needed to find the link");
	r = iface_addresses(in, &i, err);
	if (r < 0) {
		net_iface_done(&i);
		return r;
	}
	*ret = i;
	return 0;
}

/* "ADDR" or "ADDR/LEN". An address without a length is a host route, except the all-zero address, which
 * stands for the default route (ListRoutes reports default gateway routes as "0.0.0.0"). */
static int route_dest(const char *s, const char *field, nl_ip *ret, kc_error *err) {
	bool has_len;

	if (nl_prefix_parse(s, ret, &has_len) < 0)
		return invalid(err, "%s.dest: \"%.64s\" is not an address or prefix", field, s);
	if (!has_len && nl_ip_is_zero(ret))
		ret->prefixlen = 0;
	if (!nl_ip_is_network(ret))
		return invalid(err, "%s.dest: \"%s\" has bits set beyond its prefix length", field, s);
	return 0;
}

/* As upstream: a source with a length above 0 is a source prefix (RTA_SRC); otherwise the address is the
 * preferred source (RTA_PREFSRC). */
static int route_source(const char *s, const char *field, nl_route *rt, kc_error *err) {
	nl_ip ip;
	bool has_len;

	if (nl_prefix_parse(s, &ip, &has_len) < 0)
		return invalid(err, "%s.source: \"%.64s\" is not an address or prefix", field, s);
	if (has_len && ip.prefixlen > 0) {
		if (!nl_ip_is_network(&ip))
			return invalid(err, "%s.source: \"%s\" has bits set beyond its prefix length", field, s);
		rt->src = ip;
	} else {
		ip.prefixlen = (uint8_t)nl_ip_max_prefix(ip.family);
		rt->prefsrc = ip;
		rt->has_prefsrc = true;
	}
	return 0;
}

/* Every address of a route must be of one family; a route without any takes the proto family. */
static int route_family(const Types__Route *in, const char *field, net_route *ret, kc_error *err) {
	nl_route *rt = &ret->route;
	const nl_ip *ips[] = { in->dest && in->dest[0] ? &rt->dst : NULL, rt->has_gateway ? &rt->gateway : NULL,
			       rt->src.family ? &rt->src : NULL, rt->has_prefsrc ? &rt->prefsrc : NULL };
	static const char *const names[] = { "dest", "gateway", "source", "source" };
	int family = 0;

	if (in->family != TYPES__IPFAMILY__v4 && in->family != TYPES__IPFAMILY__v6)
		return invalid(err, "%s.family: %d is not v4 (0) or v6 (1)", field, (int)in->family);
	for (size_t i = 0; i < ELEMENTSOF(ips); i++) {
		if (!ips[i])
			continue;
		if (family && ips[i]->family != family)
			return invalid(err, "%s.%s: an %s address in an %s route", field, names[i],
				       family_name(ips[i]->family), family_name(family));
		family = ips[i]->family;
	}
	if (!family)
		family = in->family == TYPES__IPFAMILY__v6 ? AF_INET6 : AF_INET;
	else if (in->family == TYPES__IPFAMILY__v6 && family != AF_INET6)
		return invalid(err, "%s.family: v6 does not match its IPv4 addresses", field);
	rt->family = (uint8_t)family;
	rt->dst.family = rt->src.family = (uint8_t)family;
	return 0;
}

int net_route_from_proto(const Types__Route *in, size_t index, net_route *ret, kc_error *err) {
	net_route out = { .index = index };
	nl_route *rt = &out.route;
	char field[64];
	int r;

	(void)format_checked(field, sizeof field, "routes.Routes[%zu]", index);
	const char *dest = str_or_empty(in->dest), *gw = str_or_empty(in->gateway), *src = str_or_empty(in->source),
		   *dev = str_or_empty(in->device);
	if (dest[0] && (r = route_dest(dest, field, &rt->dst, err)) < 0)
		return r;
	if (gw[0]) {
		if (nl_ip_parse(gw, &rt->gateway) < 0)
			return invalid(err, "%s.gateway: \"%.64s\" is not an IPv4 or IPv6 address", field, gw);
		rt->has_gateway = true;
	}
	if (src[0] && (r = route_source(src, field, rt, err)) < 0)
		return r;
	r = route_family(in, field, &out, err);
	if (r < 0)
		return r;
	if (dev[0]) {
		if (!nl_ifname_valid(dev))
			return invalid(err, "%s.device: \"%.64s\" is not a valid interface name", field, dev);
		memcpy(out.device, dev, strlen(dev) + 1);
	}
	if (in->scope > 255)
		return invalid(err, "%s.scope: %u is out of range (0-255)", field, in->scope);
	rt->scope = (uint8_t)in->scope;
	rt->flags = in->flags;
	rt->mtu = in->mtu;
	rt->table = RT_TABLE_MAIN;
	rt->protocol = RTPROT_BOOT;
	rt->type = RTN_UNICAST;
	*ret = out;
	return 0;
}

int net_routes_from_proto(const Grpc__Routes *in, net_route **ret, size_t *ret_n, kc_error *err) {
	if (!in)
		return invalid(err, "routes: missing");
	if (in->n_routes > NET_MAX_ROUTES)
		return invalid(err, "routes.Routes: %zu entries, at most %d", in->n_routes, NET_MAX_ROUTES);
	_cleanup_free_ net_route *routes = calloc(MAX(in->n_routes, (size_t)1), sizeof *routes);
	if (!routes)
		return kc_error_set(err, ENOMEM, "routes: out of memory");
	for (size_t i = 0; i < in->n_routes; i++) {
		int r = net_route_from_proto(in->routes[i], i, &routes[i], err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(routes);
	*ret_n = in->n_routes;
	return 0;
}

int net_neigh_from_proto(const Types__ARPNeighbor *in, size_t index, net_neigh *ret, kc_error *err) {
	net_neigh out = { .index = index };
	nl_neigh *n = &out.neigh;
	char field[64], ipfield[80];
	int r;

	(void)format_checked(field, sizeof field, "neighbors.ARPNeighbors[%zu]", index);
	(void)format_checked(ipfield, sizeof ipfield, "%s.toIPAddress", field);
	if (!in->toipaddress)
		return invalid(err, "%s: missing", ipfield);
	const char *addr = str_or_empty(in->toipaddress->address);
	/* The mask of a neighbour's address means nothing; upstream ignores it too. */
	if (nl_ip_parse(addr, &n->dst) < 0)
		return invalid(err, "%s.address: \"%.64s\" is not an IPv4 or IPv6 address", ipfield, addr);
	if ((r = check_family(in->toipaddress->family, &n->dst, ipfield, err)) < 0)
		return r;
	const char *dev = str_or_empty(in->device), *ll = str_or_empty(in->lladdr);
	if (!dev[0])
		return invalid(err, "%s.device: missing", field);
	if (!nl_ifname_valid(dev))
		return invalid(err, "%s.device: \"%.64s\" is not a valid interface name", field, dev);
	memcpy(out.device, dev, strlen(dev) + 1);
	if (ll[0] && nl_hwaddr_parse(ll, n->lladdr, &n->lladdr_len) < 0)
		return invalid(err, "%s.lladdr: \"%.100s\" is not a hardware address", field, ll);
	/* NUD_* states are single bits of a 16-bit field (8 used); 0 asks for a permanent entry. */
	if (in->state < 0 || in->state > 0xff)
		return invalid(err, "%s.state: %d is not a neighbour state (NUD_*)", field, in->state);
	n->state = in->state ? (uint16_t)in->state : NUD_PERMANENT;
	if (in->flags < 0 || in->flags > 0xff)
		return invalid(err, "%s.flags: %d is out of range (0-255)", field, in->flags);
	n->flags = (uint8_t)in->flags;
	*ret = out;
	return 0;
}

int net_neighs_from_proto(const Grpc__ARPNeighbors *in, net_neigh **ret, size_t *ret_n, kc_error *err) {
	if (!in)
		return invalid(err, "neighbors: missing");
	if (in->n_arpneighbors > NET_MAX_NEIGHBORS)
		return invalid(err, "neighbors.ARPNeighbors: %zu entries, at most %d", in->n_arpneighbors,
			       NET_MAX_NEIGHBORS);
	_cleanup_free_ net_neigh *neighs = calloc(MAX(in->n_arpneighbors, (size_t)1), sizeof *neighs);
	if (!neighs)
		return kc_error_set(err, ENOMEM, "neighbors: out of memory");
	for (size_t i = 0; i < in->n_arpneighbors; i++) {
		int r = net_neigh_from_proto(in->arpneighbors[i], i, &neighs[i], err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(neighs);
	*ret_n = in->n_arpneighbors;
	return 0;
}

/* ---- back to proto ---- */

static void format_prefix(const nl_ip *ip, char *buf, size_t size) {
	char a[NL_IP_STR_MAX];
	nl_ip_format(ip, a);
	(void)format_checked(buf, size, "%s/%u", a, ip->prefixlen);
}

void net_route_to_proto(const nl_route *r, const char *device, net_route_out *out) {
	*out = (net_route_out){ .pb = TYPES__ROUTE__INIT };
	if (r->dst.prefixlen > 0)
		format_prefix(&r->dst, out->dest, sizeof out->dest);
	else if (r->has_gateway)
		/* Upstream reports a default gateway route's destination as the bare all-zero address ("::1" for
		 * IPv6, which reads as loopback; we say "::"). UpdateRoutes reads both back as the default. */
		(void)format_checked(out->dest, sizeof out->dest, "%s", r->family == AF_INET6 ? "::" : "0.0.0.0");
	if (r->has_gateway)
		nl_ip_format(&r->gateway, out->gateway);
	if (r->src.prefixlen > 0)
		format_prefix(&r->src, out->source, sizeof out->source);
	else if (r->has_prefsrc)
		nl_ip_format(&r->prefsrc, out->source);
	(void)format_checked(out->device, sizeof out->device, "%s", device ? device : "");
	out->pb.dest = out->dest;
	out->pb.gateway = out->gateway;
	out->pb.source = out->source;
	out->pb.device = out->device;
	out->pb.scope = r->scope;
	out->pb.family = r->family == AF_INET6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	/* Only the flags a host may set: the kernel's state bits (RTNH_F_LINKDOWN, DEAD, OFFLOAD, TRAP) would make
	 * the kernel refuse the route if the host sent the listing back. */
	out->pb.flags = r->flags & (RTNH_F_ONLINK | RTNH_F_PERVASIVE);
	out->pb.mtu = r->mtu;
}

void net_addr_to_proto(const nl_ip *ip, net_addr_out *out) {
	*out = (net_addr_out){ .pb = TYPES__IPADDRESS__INIT };
	nl_ip_format(ip, out->address);
	(void)format_checked(out->mask, sizeof out->mask, "%u", ip->prefixlen);
	out->pb.family = ip->family == AF_INET6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	out->pb.address = out->address;
	out->pb.mask = out->mask;
}

void net_iface_to_proto(const nl_link *l, net_iface_out *out) {
	*out = (net_iface_out){ .pb = TYPES__INTERFACE__INIT };
	(void)format_checked(out->name, sizeof out->name, "%s", l->name);
	nl_hwaddr_format(l->hwaddr, l->hwaddr_len, out->hwaddr);
	(void)format_checked(out->type, sizeof out->type, "%s", l->kind);
	out->pb.name = out->name;
	out->pb.hwaddr = out->hwaddr;
	out->pb.type = out->type;
	out->pb.mtu = l->mtu;
	out->pb.raw_flags = l->flags;
}
