/* Neighbours: RTM_NEWNEIGH with replace (static ARP/NDP entries the host hands over), delete, dumps. */
#include <linux/neighbour.h>
#include <string.h>

#include "netconfig/netconfig.h"

int nl_neigh_parse(const struct nlmsghdr *h, nl_neigh *ret) {
	const struct rtattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm;
	nl_neigh n = { 0 };

	if (h->nlmsg_type != RTM_NEWNEIGH)
		return 0;
	int r = nl_msg_parse(h, sizeof *ndm, (const void **)&ndm, tb, ELEMENTSOF(tb));
	if (r < 0)
		return r;
	/* Bridge FDB entries (AF_BRIDGE) share the message type; they are not ours. */
	if ((ndm->ndm_family != AF_INET && ndm->ndm_family != AF_INET6) || !tb[NDA_DST])
		return 0;
	n.ifindex = ndm->ndm_ifindex;
	n.state = ndm->ndm_state;
	n.flags = ndm->ndm_flags;
	n.dst.family = ndm->ndm_family;
	n.dst.prefixlen = (uint8_t)nl_ip_max_prefix(ndm->ndm_family);
	r = nl_attr_get_addr(tb[NDA_DST], n.dst.addr, nl_ip_len(ndm->ndm_family));
	if (r < 0)
		return r;
	if (tb[NDA_LLADDR]) {
		size_t len = nl_attr_len(tb[NDA_LLADDR]);
		if (len > sizeof n.lladdr)
			return -EBADMSG;
		memcpy(n.lladdr, nl_attr_data(tb[NDA_LLADDR]), len);
		n.lladdr_len = (uint8_t)len;
	}
	*ret = n;
	return 1;
}

int nl_neigh_build(nl_msg *m, uint16_t type, uint16_t flags, const nl_neigh *n) {
	struct ndmsg *ndm = nl_msg_init(m, type, flags, sizeof *ndm);
	ndm->ndm_family = n->dst.family;
	ndm->ndm_ifindex = n->ifindex;
	ndm->ndm_state = n->state;
	ndm->ndm_flags = n->flags;
	ndm->ndm_type = RTN_UNICAST;
	(void)nl_msg_put(m, NDA_DST, n->dst.addr, nl_ip_len(n->dst.family));
	if (n->lladdr_len)
		(void)nl_msg_put(m, NDA_LLADDR, n->lladdr, n->lladdr_len);
	return m->err;
}

int nl_neigh_replace(nl_sock *s, const nl_neigh *n, kc_error *err) {
	nl_msg m;
	(void)nl_neigh_build(&m, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, n);
	return nl_sock_request(s, &m, NULL, NULL, err);
}

int nl_neigh_del(nl_sock *s, const nl_neigh *n, kc_error *err) {
	nl_msg m;
	(void)nl_neigh_build(&m, RTM_DELNEIGH, 0, n);
	return nl_sock_request(s, &m, NULL, NULL, err);
}

static int parse_entry(const struct nlmsghdr *h, void *entry, const void *filter) {
	return nl_neigh_parse(h, entry);
}

int nl_neigh_list(nl_sock *s, int family, nl_neigh **ret, size_t *ret_n, kc_error *err) {
	nl_msg m;
	struct ndmsg *ndm = nl_msg_init(&m, RTM_GETNEIGH, NLM_F_DUMP, sizeof *ndm);
	ndm->ndm_family = (uint8_t)family;
	int r = nl_dump_collect(s, &m, sizeof(nl_neigh), parse_entry, NULL, (void **)ret, ret_n, err);
	return r < 0 ? kc_error_prefix(err, "list neighbours") : 0;
}
