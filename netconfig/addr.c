/* Addresses: RTM_NEWADDR / RTM_DELADDR / dumps, and whether IPv6 is on at all. */
#include <fcntl.h>
#include <string.h>

#include "common/util.h"
#include "netconfig/netconfig.h"

int nl_address_parse(const struct nlmsghdr *h, nl_address *ret) {
	const struct rtattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa;
	nl_address a = { 0 };

	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	int r = nl_msg_parse(h, sizeof *ifa, (const void **)&ifa, tb, ELEMENTSOF(tb));
	if (r < 0)
		return r;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	if (ifa->ifa_prefixlen > nl_ip_max_prefix(ifa->ifa_family))
		return -EBADMSG;
	/* IFA_ADDRESS is the peer on a point-to-point link; IFA_LOCAL, when present, is ours. */
	const struct rtattr *addr = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!addr)
		return -EBADMSG;
	a.ifindex = (int)ifa->ifa_index;
	a.ip.family = ifa->ifa_family;
	a.ip.prefixlen = ifa->ifa_prefixlen;
	r = nl_attr_get_addr(addr, a.ip.addr, nl_ip_len(a.ip.family));
	if (r < 0)
		return r;
	a.scope = ifa->ifa_scope;
	a.flags = ifa->ifa_flags;
	/* IFA_FLAGS carries the flags that do not fit the 8-bit header field. */
	if (tb[IFA_FLAGS] && (r = nl_attr_get_u32(tb[IFA_FLAGS], &a.flags)) < 0)
		return r;
	*ret = a;
	return 1;
}

int nl_address_build(nl_msg *m, uint16_t type, int ifindex, const nl_ip *ip, bool replace) {
	uint16_t flags = type == RTM_NEWADDR ? NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL) : 0;
	size_t len = nl_ip_len(ip->family);

	struct ifaddrmsg *ifa = nl_msg_init(m, type, flags, sizeof *ifa);
	ifa->ifa_family = ip->family;
	ifa->ifa_prefixlen = ip->prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	(void)nl_msg_put(m, IFA_LOCAL, ip->addr, len);
	(void)nl_msg_put(m, IFA_ADDRESS, ip->addr, len);
	/* IPv4 wants its broadcast address spelled out (as `ip addr add ... brd +` does); /31 and /32 have none
	 * (RFC 3021). */
	if (type == RTM_NEWADDR && ip->family == AF_INET && ip->prefixlen < 31) {
		uint8_t brd[4];
		memcpy(brd, ip->addr, 4);
		for (unsigned bit = ip->prefixlen; bit < 32; bit++)
			brd[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		(void)nl_msg_put(m, IFA_BROADCAST, brd, 4);
	}
	return m->err;
}

int nl_address_add(nl_sock *s, int ifindex, const nl_ip *ip, bool replace, kc_error *err) {
	nl_msg m;
	(void)nl_address_build(&m, RTM_NEWADDR, ifindex, ip, replace);
	return nl_sock_request(s, &m, NULL, NULL, err);
}

int nl_address_del(nl_sock *s, int ifindex, const nl_ip *ip, kc_error *err) {
	nl_msg m;
	(void)nl_address_build(&m, RTM_DELADDR, ifindex, ip, false);
	return nl_sock_request(s, &m, NULL, NULL, err);
}

static int parse_entry(const struct nlmsghdr *h, void *entry, const void *filter) {
	const int *ifindex = filter;
	int r = nl_address_parse(h, entry);
	if (r > 0 && *ifindex > 0 && ((nl_address *)entry)->ifindex != *ifindex)
		return 0;
	return r;
}

int nl_address_list(nl_sock *s, int family, int ifindex, nl_address **ret, size_t *ret_n, kc_error *err) {
	nl_msg m;
	struct ifaddrmsg *ifa = nl_msg_init(&m, RTM_GETADDR, NLM_F_DUMP, sizeof *ifa);
	ifa->ifa_family = (uint8_t)family;
	int r = nl_dump_collect(s, &m, sizeof(nl_address), parse_entry, &ifindex, (void **)ret, ret_n, err);
	return r < 0 ? kc_error_prefix(err, "list addresses") : 0;
}

static bool sysctl_set(const char *procfs, const char *name) {
	_cleanup_free_ char *s = NULL;
	char path[256];
	uint64_t v;

	if (format_checked(path, sizeof path, "%s/sys/net/ipv6/conf/%s/disable_ipv6", procfs, name) < 0 ||
	    read_file_capped(AT_FDCWD, path, 32, &s, NULL) < 0)
		return false;
	s[strcspn(s, "\n")] = '\0';
	return parse_u64(s, 10, &v) >= 0 && v != 0;
}

bool nl_ipv6_disabled(const char *procfs) {
	char path[256];

	if (format_checked(path, sizeof path, "%s/sys/net/ipv6", procfs) < 0)
		return false;
	/* A kernel without IPv6 (or booted with ipv6.disable=1) has no such directory at all. */
	if (access(path, F_OK) < 0)
		return true;
	return sysctl_set(procfs, "all") && sysctl_set(procfs, "default");
}
