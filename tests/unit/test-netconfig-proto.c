/* The network RPCs' translation layer: every field of UpdateInterface, UpdateRoutes and AddARPNeighbors
 * validated before any netlink write, with the field named in the error; and the listing back to proto. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <linux/neighbour.h>
#include <string.h>

#include "agent/network.h"

static Types__IPAddress addr(Types__IPFamily family, const char *a, const char *mask) {
	Types__IPAddress x = TYPES__IPADDRESS__INIT;
	x.family = family;
	x.address = (char *)a;
	x.mask = (char *)mask;
	return x;
}

static int iface(Types__IPAddress *addrs, size_t n, const char *hw, const char *name, net_iface *ret,
		 kc_error *err) {
	Types__IPAddress *ptrs[4];
	Types__Interface in = TYPES__INTERFACE__INIT;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &addrs[i];
	in.ipaddresses = ptrs;
	in.n_ipaddresses = n;
	in.hwaddr = (char *)hw;
	in.name = (char *)name;
	in.mtu = 1400;
	in.raw_flags = IFF_NOARP;
	return net_iface_from_proto(&in, ret, err);
}

static void test_interface_ok(void **state) {
	Types__IPAddress a[2] = { addr(TYPES__IPFAMILY__v4, "10.0.0.2", "24"),
				  addr(TYPES__IPFAMILY__v4, "fd00::2", "64") /* v4 is "unset" */ };
	net_iface i;
	kc_error err = { 0 };
	assert_int_equal(iface(a, 2, "02:00:00:00:00:01", "eth0", &i, &err), 0);
	assert_int_equal(i.hwaddr_len, 6);
	assert_string_equal(i.name, "eth0");
	assert_int_equal(i.mtu, 1400);
	assert_true(i.noarp);
	assert_int_equal(i.n_addrs, 2);
	assert_int_equal(i.addrs[1].family, AF_INET6);
	assert_int_equal(i.addrs[1].prefixlen, 64);
	net_iface_done(&i);
}

static void expect_iface_error(Types__IPAddress *a, size_t n, const char *hw, const char *name, const char *msg) {
	net_iface i = { 0 };
	kc_error err = { 0 };
	assert_int_equal(iface(a, n, hw, name, &i, &err), -EINVAL);
	assert_int_equal(kc_error_code(&err), KC_INVALID_ARGUMENT);
	assert_string_equal(err.msg, msg);
	assert_null(i.addrs);
}

static void test_interface_errors(void **state) {
	Types__IPAddress a[2] = { addr(TYPES__IPFAMILY__v4, "10.0.0.2", "24"),
				  addr(TYPES__IPFAMILY__v4, "10.0.0.3", "33") };
	expect_iface_error(a, 2, "02:00:00:00:00:01", "", "interface.IPAddresses[1].mask: \"33\" is not a prefix length for IPv4");
	a[1] = addr(TYPES__IPFAMILY__v4, "10.0.0", "24");
	expect_iface_error(a, 2, "02:00:00:00:00:01", "",
			   "interface.IPAddresses[1].address: \"10.0.0\" is not an IPv4 or IPv6 address");
	a[1] = addr(TYPES__IPFAMILY__v6, "10.0.0.3", "24");
	expect_iface_error(a, 2, "02:00:00:00:00:01", "",
			   "interface.IPAddresses[1].family: v6 does not match an IPv4 address");
	a[1] = addr(7, "10.0.0.3", "24");
	expect_iface_error(a, 2, "02:00:00:00:00:01", "", "interface.IPAddresses[1].family: 7 is not v4 (0) or v6 (1)");
	a[1] = addr(TYPES__IPFAMILY__v6, "fd00::1", "129");
	expect_iface_error(a, 2, "02:00:00:00:00:01", "",
			   "interface.IPAddresses[1].mask: \"129\" is not a prefix length for IPv6");
	expect_iface_error(a, 1, "02:00:00:00:00:", "", "interface.hwAddr: \"02:00:00:00:00:\" is not a hardware address");
	expect_iface_error(a, 1, "zz", "", "interface.hwAddr: \"zz\" is not a hardware address");
	expect_iface_error(a, 1, "", "eth/0", "interface.name: \"eth/0\" is not a valid interface name");
	expect_iface_error(a, 1, "", "a234567890123456", "interface.name: \"a234567890123456\" is not a valid interface name");
	expect_iface_error(a, 1, "", "", "interface: hwAddr (or name) is needed to find the link");
}

static void test_interface_caps(void **state) {
	Types__Interface in = TYPES__INTERFACE__INIT;
	net_iface i = { 0 };
	kc_error err = { 0 };
	in.hwaddr = (char *)"02:00:00:00:00:01";
	in.n_ipaddresses = NET_MAX_ADDRESSES + 1; /* refused on the count, before any entry is read */
	assert_int_equal(net_iface_from_proto(&in, &i, &err), -EINVAL);
	assert_string_equal(err.msg, "interface.IPAddresses: 1025 entries, at most 1024");
	in.n_ipaddresses = 0;
	in.mtu = 1ULL << 32;
	assert_int_equal(net_iface_from_proto(&in, &i, &err), -EINVAL);
	assert_string_equal(err.msg, "interface.mtu: 4294967296 is out of range");
	in.mtu = 0;
	char longpath[NET_MAX_STR + 2];
	memset(longpath, 'p', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = '\0';
	in.devicepath = longpath;
	assert_int_equal(net_iface_from_proto(&in, &i, &err), -EINVAL);
	assert_string_equal(err.msg, "interface.devicePath: longer than 256 bytes");
	assert_int_equal(net_iface_from_proto(NULL, &i, &err), -EINVAL);
}

static int route(const char *dest, const char *gw, const char *src, Types__IPFamily family, uint32_t scope,
		 net_route *ret, kc_error *err) {
	Types__Route r = TYPES__ROUTE__INIT;
	r.dest = (char *)dest;
	r.gateway = (char *)gw;
	r.source = (char *)src;
	r.device = (char *)"eth0";
	r.family = family;
	r.scope = scope;
	r.mtu = 1300;
	return net_route_from_proto(&r, 2, ret, err);
}

static void test_routes(void **state) {
	net_route r;
	kc_error err = { 0 };

	assert_int_equal(route("", "10.0.0.1", "", 0, 0, &r, &err), 0);
	assert_int_equal(r.route.family, AF_INET);
	assert_int_equal(r.route.dst.prefixlen, 0);
	assert_true(r.route.has_gateway);
	assert_int_equal(r.route.table, RT_TABLE_MAIN);
	assert_int_equal(r.route.protocol, RTPROT_BOOT);
	assert_int_equal(r.route.mtu, 1300);
	assert_string_equal(r.device, "eth0");
	/* ListRoutes' own spelling of the default route reads back as the default route. */
	assert_int_equal(route("0.0.0.0", "10.0.0.1", "", 0, 0, &r, &err), 0);
	assert_int_equal(r.route.dst.prefixlen, 0);
	assert_int_equal(route("::", "fd00::1", "", 0, 0, &r, &err), 0);
	assert_int_equal(r.route.family, AF_INET6);
	assert_int_equal(r.route.dst.prefixlen, 0);
	/* A bare address is a host route. */
	assert_int_equal(route("10.1.2.3", "", "", 0, 253, &r, &err), 0);
	assert_int_equal(r.route.dst.prefixlen, 32);
	assert_int_equal(r.route.scope, 253);
	/* source: a prefix above /0 is RTA_SRC, anything else the preferred source. */
	assert_int_equal(route("10.1.0.0/16", "", "10.0.0.2", 0, 0, &r, &err), 0);
	assert_true(r.route.has_prefsrc);
	assert_int_equal(r.route.src.prefixlen, 0);
	assert_int_equal(route("fd01::/64", "", "fd00::/64", 1, 0, &r, &err), 0);
	assert_false(r.route.has_prefsrc);
	assert_int_equal(r.route.src.prefixlen, 64);
	/* No address at all: the proto family decides. */
	assert_int_equal(route("", "", "", TYPES__IPFAMILY__v6, 0, &r, &err), 0);
	assert_int_equal(r.route.family, AF_INET6);
}

static void expect_route_error(const char *dest, const char *gw, const char *src, Types__IPFamily family,
			       uint32_t scope, const char *msg) {
	net_route r;
	kc_error err = { 0 };
	assert_int_equal(route(dest, gw, src, family, scope, &r, &err), -EINVAL);
	assert_int_equal(kc_error_code(&err), KC_INVALID_ARGUMENT);
	assert_string_equal(err.msg, msg);
}

static void test_route_errors(void **state) {
	expect_route_error("10.1.0.1/16", "", "", 0, 0,
			   "routes.Routes[2].dest: \"10.1.0.1/16\" has bits set beyond its prefix length");
	expect_route_error("10.1.0.0/33", "", "", 0, 0, "routes.Routes[2].dest: \"10.1.0.0/33\" is not an address or prefix");
	expect_route_error("", "10.0.0", "", 0, 0, "routes.Routes[2].gateway: \"10.0.0\" is not an IPv4 or IPv6 address");
	expect_route_error("10.1.0.0/16", "fd00::1", "", 0, 0, "routes.Routes[2].gateway: an IPv6 address in an IPv4 route");
	expect_route_error("10.1.0.0/16", "", "", TYPES__IPFAMILY__v6, 0,
			   "routes.Routes[2].family: v6 does not match its IPv4 addresses");
	expect_route_error("", "", "", 5, 0, "routes.Routes[2].family: 5 is not v4 (0) or v6 (1)");
	expect_route_error("", "10.0.0.1", "", 0, 256, "routes.Routes[2].scope: 256 is out of range (0-255)");
	expect_route_error("", "10.0.0.1", "10.0.0.0/8x", 0, 0,
			   "routes.Routes[2].source: \"10.0.0.0/8x\" is not an address or prefix");

	Grpc__Routes rs = GRPC__ROUTES__INIT;
	net_route *out;
	size_t n;
	kc_error err = { 0 };
	rs.n_routes = NET_MAX_ROUTES + 1;
	assert_int_equal(net_routes_from_proto(&rs, &out, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "routes.Routes: 1025 entries, at most 1024");
	assert_int_equal(net_routes_from_proto(NULL, &out, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "routes: missing");
}

static void test_neighbours(void **state) {
	Types__IPAddress ip = addr(TYPES__IPFAMILY__v4, "10.0.0.1", "");
	Types__ARPNeighbor in = TYPES__ARPNEIGHBOR__INIT;
	net_neigh n;
	kc_error err = { 0 };

	in.toipaddress = &ip;
	in.device = (char *)"eth0";
	in.lladdr = (char *)"02:00:00:00:00:09";
	assert_int_equal(net_neigh_from_proto(&in, 0, &n, &err), 0);
	assert_int_equal(n.neigh.state, NUD_PERMANENT); /* 0 asks for a permanent entry */
	assert_int_equal(n.neigh.lladdr_len, 6);
	in.state = NUD_REACHABLE;
	assert_int_equal(net_neigh_from_proto(&in, 0, &n, &err), 0);
	assert_int_equal(n.neigh.state, NUD_REACHABLE);

	in.state = -1;
	assert_int_equal(net_neigh_from_proto(&in, 3, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "neighbors.ARPNeighbors[3].state: -1 is not a neighbour state (NUD_*)");
	in.state = 0;
	in.lladdr = (char *)"02:00";
	assert_int_equal(net_neigh_from_proto(&in, 3, &n, &err), 0); /* any length up to MAX_ADDR_LEN */
	in.lladdr = (char *)"02:0";
	assert_int_equal(net_neigh_from_proto(&in, 3, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "neighbors.ARPNeighbors[3].lladdr: \"02:0\" is not a hardware address");
	in.lladdr = (char *)"";
	in.device = (char *)"";
	assert_int_equal(net_neigh_from_proto(&in, 3, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "neighbors.ARPNeighbors[3].device: missing");
	in.device = (char *)"eth0";
	ip.address = (char *)"fd00::1::2";
	assert_int_equal(net_neigh_from_proto(&in, 3, &n, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "neighbors.ARPNeighbors[3].toIPAddress.address: \"fd00::1::2\" is not an IPv4 or IPv6 address");
	in.toipaddress = NULL;
	assert_int_equal(net_neigh_from_proto(&in, 3, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "neighbors.ARPNeighbors[3].toIPAddress: missing");
}

static void test_to_proto(void **state) {
	nl_route r = { .family = AF_INET, .has_gateway = true, .scope = 0, .flags = RTNH_F_LINKDOWN | RTNH_F_ONLINK };
	net_route_out o;
	assert_int_equal(nl_ip_parse("10.0.0.1", &r.gateway), 0);
	r.dst.family = AF_INET;
	net_route_to_proto(&r, "eth0", &o);
	assert_string_equal(o.pb.dest, "0.0.0.0");
	assert_string_equal(o.pb.gateway, "10.0.0.1");
	assert_string_equal(o.pb.device, "eth0");
	assert_int_equal(o.pb.flags, RTNH_F_ONLINK);

	assert_int_equal(nl_prefix_parse("10.9.0.0/16", &r.dst, NULL), 0);
	assert_int_equal(nl_ip_parse("10.0.0.2", &r.prefsrc), 0);
	r.has_prefsrc = true;
	net_route_to_proto(&r, NULL, &o);
	assert_string_equal(o.pb.dest, "10.9.0.0/16");
	assert_string_equal(o.pb.source, "10.0.0.2");
	assert_string_equal(o.pb.device, "");

	nl_route r6 = { .family = AF_INET6, .has_gateway = true };
	assert_int_equal(nl_ip_parse("fd00::1", &r6.gateway), 0);
	r6.dst.family = AF_INET6;
	net_route_to_proto(&r6, "eth0", &o);
	assert_string_equal(o.pb.dest, "::");
	assert_int_equal(o.pb.family, TYPES__IPFAMILY__v6);

	nl_ip ip;
	net_addr_out a;
	assert_int_equal(nl_prefix_parse("fd00::2/64", &ip, NULL), 0);
	net_addr_to_proto(&ip, &a);
	assert_string_equal(a.pb.address, "fd00::2");
	assert_string_equal(a.pb.mask, "64");
	assert_int_equal(a.pb.family, TYPES__IPFAMILY__v6);

	nl_link l = { .ifindex = 2, .name = "eth0", .kind = "veth", .hwaddr = { 2, 0, 0, 0, 0, 1 }, .hwaddr_len = 6,
		      .mtu = 1500, .flags = IFF_UP };
	net_iface_out io;
	net_iface_to_proto(&l, &io);
	assert_string_equal(io.pb.name, "eth0");
	assert_string_equal(io.pb.hwaddr, "02:00:00:00:00:01");
	assert_string_equal(io.pb.type, "veth");
	assert_int_equal(io.pb.mtu, 1500);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interface_ok),   cmocka_unit_test(test_interface_errors),
		cmocka_unit_test(test_interface_caps), cmocka_unit_test(test_routes),
		cmocka_unit_test(test_route_errors),   cmocka_unit_test(test_neighbours),
		cmocka_unit_test(test_to_proto),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
