/* Routes: RTM_NEWROUTE with replace, RTM_DELROUTE for undo, and dumps of one family. */
#include <string.h>

#include "netconfig/netconfig.h"

static int get_ip(const struct rtattr *a, uint8_t family, uint8_t prefixlen, nl_ip *ret) {
	ret->family = family;
	ret->prefixlen = prefixlen;
	return nl_attr_get_addr(a, ret->addr, nl_ip_len(family));
}

static int parse_metrics(const struct rtattr *a, uint32_t *ret_mtu) {
	const struct rtattr *tb[RTAX_MAX + 1];
	int r = nl_attr_parse(nl_attr_data(a), nl_attr_len(a), tb, ELEMENTSOF(tb));
	if (r < 0)
		return r;
	if (tb[RTAX_MTU])
		return nl_attr_get_u32(tb[RTAX_MTU], ret_mtu);
	return 0;
}

int nl_route_parse(const struct nlmsghdr *h, nl_route *ret) {
	const struct rtattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm;
	nl_route rt = { 0 };
	uint32_t oif = 0;
	int r;

	if (h->nlmsg_type != RTM_NEWROUTE)
		return 0;
	r = nl_msg_parse(h, sizeof *rtm, (const void **)&rtm, tb, ELEMENTSOF(tb));
	if (r < 0)
		return r;
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return 0;
	uint8_t f = rtm->rtm_family;
	if (rtm->rtm_dst_len > nl_ip_max_prefix(f) || rtm->rtm_src_len > nl_ip_max_prefix(f))
		return -EBADMSG;
	rt.family = f;
	rt.scope = rtm->rtm_scope;
	rt.protocol = rtm->rtm_protocol;
	rt.type = rtm->rtm_type;
	rt.flags = rtm->rtm_flags;
	rt.table = rtm->rtm_table;
	rt.dst = (nl_ip){ .family = f, .prefixlen = rtm->rtm_dst_len };
	rt.src = (nl_ip){ .family = f, .prefixlen = rtm->rtm_src_len };
	/* rtm_table is 8 bits; RTA_TABLE holds the real id. */
	if (tb[RTA_TABLE] && (r = nl_attr_get_u32(tb[RTA_TABLE], &rt.table)) < 0)
		return r;
	if (tb[RTA_DST] && (r = get_ip(tb[RTA_DST], f, rtm->rtm_dst_len, &rt.dst)) < 0)
		return r;
	if (tb[RTA_SRC] && (r = get_ip(tb[RTA_SRC], f, rtm->rtm_src_len, &rt.src)) < 0)
		return r;
	if (tb[RTA_GATEWAY]) {
		r = get_ip(tb[RTA_GATEWAY], f, (uint8_t)nl_ip_max_prefix(f), &rt.gateway);
		if (r < 0)
			return r;
		rt.has_gateway = true;
	}
	if (tb[RTA_PREFSRC]) {
		r = get_ip(tb[RTA_PREFSRC], f, (uint8_t)nl_ip_max_prefix(f), &rt.prefsrc);
		if (r < 0)
			return r;
		rt.has_prefsrc = true;
	}
	if (tb[RTA_OIF] && (r = nl_attr_get_u32(tb[RTA_OIF], &oif)) < 0)
		return r;
	if (oif > INT32_MAX)
		return -EBADMSG;
	rt.oif = (int)oif;
	if (tb[RTA_PRIORITY] && (r = nl_attr_get_u32(tb[RTA_PRIORITY], &rt.priority)) < 0)
		return r;
	if (tb[RTA_METRICS] && (r = parse_metrics(tb[RTA_METRICS], &rt.mtu)) < 0)
		return r;
	*ret = rt;
	return 1;
}

int nl_route_build(nl_msg *m, uint16_t type, uint16_t flags, const nl_route *rt) {
	size_t len = nl_ip_len(rt->family);

	struct rtmsg *rtm = nl_msg_init(m, type, flags, sizeof *rtm);
	rtm->rtm_family = rt->family;
	rtm->rtm_dst_len = rt->dst.prefixlen;
	rtm->rtm_src_len = rt->src.prefixlen;
	rtm->rtm_table = rt->table < 256 ? (uint8_t)rt->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = rt->protocol;
	rtm->rtm_scope = rt->scope;
	rtm->rtm_type = rt->type;
	rtm->rtm_flags = rt->flags;
	(void)nl_msg_put_u32(m, RTA_TABLE, rt->table);
	if (rt->dst.prefixlen > 0)
		(void)nl_msg_put(m, RTA_DST, rt->dst.addr, len);
	if (rt->src.prefixlen > 0)
		(void)nl_msg_put(m, RTA_SRC, rt->src.addr, len);
	if (rt->has_gateway)
		(void)nl_msg_put(m, RTA_GATEWAY, rt->gateway.addr, len);
	if (rt->has_prefsrc)
		(void)nl_msg_put(m, RTA_PREFSRC, rt->prefsrc.addr, len);
	if (rt->oif > 0)
		(void)nl_msg_put_u32(m, RTA_OIF, (uint32_t)rt->oif);
	if (rt->priority)
		(void)nl_msg_put_u32(m, RTA_PRIORITY, rt->priority);
	if (rt->mtu) {
		size_t nest = nl_msg_nest_start(m, RTA_METRICS);
		(void)nl_msg_put_u32(m, RTAX_MTU, rt->mtu);
		nl_msg_nest_end(m, nest);
	}
	return m->err;
}

int nl_route_replace(nl_sock *s, const nl_route *rt, kc_error *err) {
	nl_msg m;
	(void)nl_route_build(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, rt);
	return nl_sock_request(s, &m, NULL, NULL, err);
}

int nl_route_del(nl_sock *s, const nl_route *rt, kc_error *err) {
	nl_msg m;
	(void)nl_route_build(&m, RTM_DELROUTE, 0, rt);
	return nl_sock_request(s, &m, NULL, NULL, err);
}

static int parse_entry(const struct nlmsghdr *h, void *entry, const void *filter) {
	const uint32_t *table = filter;
	int r = nl_route_parse(h, entry);
	if (r > 0 && *table && ((nl_route *)entry)->table != *table)
		return 0;
	return r;
}

int nl_route_list(nl_sock *s, int family, uint32_t table, nl_route **ret, size_t *ret_n, kc_error *err) {
	nl_msg m;
	struct rtmsg *rtm = nl_msg_init(&m, RTM_GETROUTE, NLM_F_DUMP, sizeof *rtm);
	rtm->rtm_family = (uint8_t)family;
	int r = nl_dump_collect(s, &m, sizeof(nl_route), parse_entry, &table, (void **)ret, ret_n, err);
	return r < 0 ? kc_error_prefix(err, "list routes") : 0;
}

static bool same_prefix(const nl_ip *a, const nl_ip *b, size_t len) {
	return a->prefixlen == b->prefixlen && memcmp(a->addr, b->addr, len) == 0;
}

/* IPv6 gives a route without RTA_PRIORITY the metric 1024 (IP6_RT_PRIO_USER); IPv4 keeps 0. */
static uint32_t effective_priority(const nl_route *r) {
	return r->family == AF_INET6 && r->priority == 0 ? 1024 : r->priority;
}

bool nl_route_same_key(const nl_route *a, const nl_route *b) {
	size_t len = nl_ip_len(a->family);
	return a->family == b->family && a->table == b->table && effective_priority(a) == effective_priority(b) &&
	       same_prefix(&a->dst, &b->dst, len) && same_prefix(&a->src, &b->src, len);
}
