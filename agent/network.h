/* The network RPCs (network.c) and their translation layer (network-convert.c): proto messages to netconfig
 * requests and back. Conversion validates every field before anything touches the kernel, and names the
 * field in its error (`interface.IPAddresses[1].mask: "33" is not a prefix length for IPv4`). It uses no
 * netlink and no server, so the unit tests run it directly. */
#pragma once

#include "agent.pb-c.h"
#include "netconfig/netconfig.h"
#include "types.pb-c.h"

/* Host-controlled counts and lengths. */
#define NET_MAX_ADDRESSES 1024
#define NET_MAX_ROUTES 1024
#define NET_MAX_NEIGHBORS 1024
#define NET_MAX_STR 256 /* devicePath, type, device */

typedef struct net_iface {
	uint8_t hwaddr[NL_HWADDR_MAX];
	uint8_t hwaddr_len; /* 0: find the link by name */
	char name[IFNAMSIZ]; /* empty: keep the name */
	uint32_t mtu;        /* 0: keep the MTU */
	bool noarp;
	bool has_device_path;
	nl_ip *addrs;
	size_t n_addrs;
} net_iface;

void net_iface_done(net_iface *i);
int net_iface_from_proto(const Types__Interface *in, net_iface *ret, kc_error *err);

typedef struct net_route {
	nl_route route;       /* oif still 0: the device is looked up by name */
	char device[IFNAMSIZ]; /* empty: the kernel picks the device from the gateway */
	size_t index;         /* position in the request, for messages */
} net_route;

int net_route_from_proto(const Types__Route *in, size_t index, net_route *ret, kc_error *err);
/* All routes of a request, in the request's order. */
int net_routes_from_proto(const Grpc__Routes *in, net_route **ret, size_t *ret_n, kc_error *err);

typedef struct net_neigh {
	nl_neigh neigh;
	char device[IFNAMSIZ];
	size_t index;
} net_neigh;

int net_neigh_from_proto(const Types__ARPNeighbor *in, size_t index, net_neigh *ret, kc_error *err);
int net_neighs_from_proto(const Grpc__ARPNeighbors *in, net_neigh **ret, size_t *ret_n, kc_error *err);

/* Listing: a proto entry with the storage of its strings. */
typedef struct net_route_out {
	Types__Route pb;
	char dest[NL_IP_STR_MAX + 4];
	char gateway[NL_IP_STR_MAX];
	char source[NL_IP_STR_MAX + 4];
	char device[IFNAMSIZ];
} net_route_out;

void net_route_to_proto(const nl_route *r, const char *device, net_route_out *out);

typedef struct net_addr_out {
	Types__IPAddress pb;
	char address[NL_IP_STR_MAX];
	char mask[4];
} net_addr_out;

void net_addr_to_proto(const nl_ip *ip, net_addr_out *out);

typedef struct net_iface_out {
	Types__Interface pb;
	char name[IFNAMSIZ];
	char hwaddr[NL_HWADDR_STR_MAX];
	char type[32];
} net_iface_out;

/* The addresses are attached by the caller (pb.ipaddresses). */
void net_iface_to_proto(const nl_link *l, net_iface_out *out);
