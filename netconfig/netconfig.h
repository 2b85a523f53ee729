/* netconfig: links, addresses, routes and neighbours over rtnetlink (netlink.h), plus the text forms the
 * host sends (addresses, prefixes, MACs, interface names). Depends on common/ only. Every operation takes an
 * open nl_sock and fills the error object with the kernel's own message when it refuses. */
#pragma once

#include <linux/if.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "netconfig/netlink.h"

#define NL_HWADDR_MAX 32     /* MAX_ADDR_LEN */
#define NL_IP_STR_MAX 64     /* INET6_ADDRSTRLEN and "/128", rounded up */
#define NL_HWADDR_STR_MAX (NL_HWADDR_MAX * 3)
/* A dump returns at most this many entries; a guest with more is not one we configure. */
#define NL_DUMP_MAX 16384

/* ---- text forms (inet.c) ---- */

typedef struct nl_ip {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefixlen;
	uint8_t addr[16];
} nl_ip;

static inline size_t nl_ip_len(int family) {
	return family == AF_INET6 ? 16 : 4;
}
static inline unsigned nl_ip_max_prefix(int family) {
	return family == AF_INET6 ? 128 : 32;
}

/* A bare address: "10.0.0.1" or "fd00::1"; prefixlen is set to the full length. */
int nl_ip_parse(const char *s, nl_ip *ret);
/* A prefix length for family: decimal digits only, within 0..32 or 0..128. */
int nl_prefixlen_parse(const char *s, int family, uint8_t *ret);
/* "ADDR" or "ADDR/LEN"; ret_has_len tells which (may be NULL). */
int nl_prefix_parse(const char *s, nl_ip *ret, bool *ret_has_len);
/* Whether bits beyond prefixlen are zero (the kernel refuses an IPv4 route destination otherwise). */
bool nl_ip_is_network(const nl_ip *ip);
bool nl_ip_is_zero(const nl_ip *ip);
/* The address without its length. */
void nl_ip_format(const nl_ip *ip, char buf[static NL_IP_STR_MAX]);
/* "aa:bb:cc:dd:ee:ff": 1 to NL_HWADDR_MAX octets of two hex digits separated by colons. */
int nl_hwaddr_parse(const char *s, uint8_t buf[static NL_HWADDR_MAX], uint8_t *ret_len);
void nl_hwaddr_format(const uint8_t *a, size_t len, char buf[static NL_HWADDR_STR_MAX]);
/* The kernel's rule for interface names (dev_valid_name): 1-15 bytes, no '/', ':' or whitespace, not "."
 * or "..". */
bool nl_ifname_valid(const char *s);

/* ---- links (link.c) ---- */

typedef struct nl_link {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[32]; /* IFLA_INFO_KIND ("veth", ...), empty for physical devices */
	uint8_t hwaddr[NL_HWADDR_MAX];
	uint8_t hwaddr_len;
	uint32_t mtu;
	uint32_t flags; /* IFF_* */
	uint16_t type;  /* ARPHRD_* */
} nl_link;

/* Parses an RTM_NEWLINK message: 1 parsed, 0 not a link message, -EBADMSG malformed. */
int nl_link_parse(const struct nlmsghdr *h, nl_link *ret);
int nl_link_list(nl_sock *s, nl_link **ret, size_t *ret_n, kc_error *err);
/* -ENOENT (with a message) when there is no such link. */
int nl_link_get_by_name(nl_sock *s, const char *name, nl_link *ret, kc_error *err);
int nl_link_get_by_index(nl_sock *s, int ifindex, nl_link *ret, kc_error *err);
int nl_link_get_by_hwaddr(nl_sock *s, const uint8_t *hwaddr, size_t len, nl_link *ret, kc_error *err);

enum {
	NL_LINK_SET_MTU = 1 << 0,
	NL_LINK_SET_NAME = 1 << 1,
	NL_LINK_SET_NOARP = 1 << 2,
	NL_LINK_SET_UP = 1 << 3,
	NL_LINK_SET_HWADDR = 1 << 4,
};

/* Attributes to change in one RTM_NEWLINK; only those named in `set` are sent. */
typedef struct nl_link_change {
	unsigned set;
	uint32_t mtu;
	char name[IFNAMSIZ];
	bool noarp;
	bool up;
	uint8_t hwaddr[NL_HWADDR_MAX];
	uint8_t hwaddr_len;
} nl_link_change;

/* Builds the request (exposed for the unit tests). */
int nl_link_change_build(nl_msg *m, int ifindex, const nl_link_change *c);
int nl_link_change_apply(nl_sock *s, int ifindex, const nl_link_change *c, kc_error *err);
int nl_link_set_up(nl_sock *s, int ifindex, bool up, kc_error *err);
int nl_link_rename(nl_sock *s, int ifindex, const char *name, kc_error *err);
/* Brings lo up (PID 1 at boot). */
int nl_loopback_up(kc_error *err);

/* ---- addresses (addr.c) ---- */

typedef struct nl_address {
	int ifindex;
	nl_ip ip; /* IFA_LOCAL, else IFA_ADDRESS */
	uint8_t scope;
	uint32_t flags; /* IFA_F_* */
} nl_address;

int nl_address_parse(const struct nlmsghdr *h, nl_address *ret);
int nl_address_build(nl_msg *m, uint16_t type, int ifindex, const nl_ip *ip, bool replace);
/* Adds ip (with its prefixlen) to the link; replace updates an existing one instead of failing. */
int nl_address_add(nl_sock *s, int ifindex, const nl_ip *ip, bool replace, kc_error *err);
int nl_address_del(nl_sock *s, int ifindex, const nl_ip *ip, kc_error *err);
/* family AF_UNSPEC for both; ifindex 0 for every link. */
int nl_address_list(nl_sock *s, int family, int ifindex, nl_address **ret, size_t *ret_n, kc_error *err);
/* Whether IPv6 is off in this network namespace: no IPv6 at all, or disable_ipv6 set for both `all` and
 * `default` (procfs is "/proc", or a test's copy). */
bool nl_ipv6_disabled(const char *procfs);

/* ---- routes (route.c) ---- */

typedef struct nl_route {
	uint8_t family;
	uint8_t scope;    /* RT_SCOPE_* */
	uint8_t protocol; /* RTPROT_* */
	uint8_t type;     /* RTN_* */
	uint32_t table;
	uint32_t flags; /* rtm_flags (RTNH_F_ONLINK, ...) */
	uint32_t priority;
	nl_ip dst;     /* prefixlen 0 for the default route */
	nl_ip src;     /* RTA_SRC: source-specific routing, prefixlen 0 when unset */
	nl_ip gateway; /* RTA_GATEWAY, when has_gateway */
	nl_ip prefsrc; /* RTA_PREFSRC, when has_prefsrc */
	bool has_gateway;
	bool has_prefsrc;
	int oif;
	uint32_t mtu; /* RTAX_MTU, 0 when unset */
} nl_route;

int nl_route_parse(const struct nlmsghdr *h, nl_route *ret);
int nl_route_build(nl_msg *m, uint16_t type, uint16_t flags, const nl_route *r);
/* RTM_NEWROUTE with NLM_F_CREATE | NLM_F_REPLACE. */
int nl_route_replace(nl_sock *s, const nl_route *r, kc_error *err);
int nl_route_del(nl_sock *s, const nl_route *r, kc_error *err);
/* Routes of one family (AF_INET or AF_INET6) in table (0 for all tables). */
int nl_route_list(nl_sock *s, int family, uint32_t table, nl_route **ret, size_t *ret_n, kc_error *err);
/* Whether b would replace a: the kernel's key of a route (family, table, destination, source, metric). */
bool nl_route_same_key(const nl_route *a, const nl_route *b);

/* ---- neighbours (neigh.c) ---- */

typedef struct nl_neigh {
	int ifindex;
	nl_ip dst;
	uint8_t lladdr[NL_HWADDR_MAX];
	uint8_t lladdr_len; /* 0: no NDA_LLADDR */
	uint16_t state;     /* NUD_* */
	uint8_t flags;      /* NTF_* */
} nl_neigh;

int nl_neigh_parse(const struct nlmsghdr *h, nl_neigh *ret);
int nl_neigh_build(nl_msg *m, uint16_t type, uint16_t flags, const nl_neigh *n);
/* RTM_NEWNEIGH with NLM_F_CREATE | NLM_F_REPLACE. */
int nl_neigh_replace(nl_sock *s, const nl_neigh *n, kc_error *err);
int nl_neigh_del(nl_sock *s, const nl_neigh *n, kc_error *err);
int nl_neigh_list(nl_sock *s, int family, nl_neigh **ret, size_t *ret_n, kc_error *err);

/* ---- shared by the files above (dump.c) ---- */

/* A parser from a message to one entry: 1 keep, 0 skip, <0 malformed. */
typedef int (*nl_entry_parse_fn)(const struct nlmsghdr *h, void *entry, const void *filter);
/* Sends the dump request m and collects every entry parse keeps into a new array (at most NL_DUMP_MAX);
 * an interrupted dump is started again, twice at most. */
int nl_dump_collect(nl_sock *s, nl_msg *m, size_t entry_size, nl_entry_parse_fn parse, const void *filter,
		    void **ret, size_t *ret_n, kc_error *err);
