/* Links: RTM_GETLINK by name, index or dump, and one RTM_NEWLINK for every attribute change. */
#include <string.h>

#include "netconfig/netconfig.h"

/* Counters are large and useless here; leaving them out keeps dump datagrams small. */
#define EXT_MASK RTEXT_FILTER_SKIP_STATS

static int parse_linkinfo(const struct rtattr *a, nl_link *l) {
	const struct rtattr *tb[IFLA_INFO_MAX + 1];
	int r = nl_attr_parse(nl_attr_data(a), nl_attr_len(a), tb, ELEMENTSOF(tb));
	if (r < 0)
		return r;
	if (tb[IFLA_INFO_KIND])
		return nl_attr_get_str(tb[IFLA_INFO_KIND], l->kind, sizeof l->kind);
	return 0;
}

int nl_link_parse(const struct nlmsghdr *h, nl_link *ret) {
	const struct rtattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi;
	nl_link l = { 0 };
	int r;

	if (h->nlmsg_type != RTM_NEWLINK)
		return 0;
	r = nl_msg_parse(h, sizeof *ifi, (const void **)&ifi, tb, ELEMENTSOF(tb));
	if (r < 0)
		return r;
	if (ifi->ifi_index <= 0 || !tb[IFLA_IFNAME])
		return -EBADMSG;
	l.ifindex = ifi->ifi_index;
	l.flags = ifi->ifi_flags;
	l.type = ifi->ifi_type;
	r = nl_attr_get_str(tb[IFLA_IFNAME], l.name, sizeof l.name);
	if (r < 0)
		return r;
	if (tb[IFLA_MTU] && (r = nl_attr_get_u32(tb[IFLA_MTU], &l.mtu)) < 0)
		return r;
	if (tb[IFLA_ADDRESS]) {
		size_t n = nl_attr_len(tb[IFLA_ADDRESS]);
		if (n > sizeof l.hwaddr)
			return -EBADMSG;
		memcpy(l.hwaddr, nl_attr_data(tb[IFLA_ADDRESS]), n);
		l.hwaddr_len = (uint8_t)n;
	}
	if (tb[IFLA_LINKINFO] && (r = parse_linkinfo(tb[IFLA_LINKINFO], &l)) < 0)
		return r;
	*ret = l;
	return 1;
}

static int parse_entry(const struct nlmsghdr *h, void *entry, const void *filter) {
	return nl_link_parse(h, entry);
}

int nl_link_list(nl_sock *s, nl_link **ret, size_t *ret_n, kc_error *err) {
	nl_msg m;
	struct ifinfomsg *ifi = nl_msg_init(&m, RTM_GETLINK, NLM_F_DUMP, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	(void)nl_msg_put_u32(&m, IFLA_EXT_MASK, EXT_MASK);
	int r = nl_dump_collect(s, &m, sizeof(nl_link), parse_entry, NULL, (void **)ret, ret_n, err);
	return r < 0 ? kc_error_prefix(err, "list links") : 0;
}

typedef struct get_one {
	nl_link *link;
	bool found;
} get_one;

static int on_link(const struct nlmsghdr *h, void *userdata, kc_error *err) {
	get_one *g = userdata;
	int r = nl_link_parse(h, g->link);
	if (r < 0)
		return kc_error_set(err, -r, "malformed link message");
	if (r > 0)
		g->found = true;
	return 0;
}

static int get_link(nl_sock *s, int ifindex, const char *name, nl_link *ret, kc_error *err) {
	nl_msg m;
	nl_link l;
	get_one g = { .link = &l };

	struct ifinfomsg *ifi = nl_msg_init(&m, RTM_GETLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (name)
		(void)nl_msg_put_str(&m, IFLA_IFNAME, name);
	(void)nl_msg_put_u32(&m, IFLA_EXT_MASK, EXT_MASK);
	int r = nl_sock_request(s, &m, on_link, &g, err);
	if (r == -ENODEV || (r >= 0 && !g.found)) {
		if (name)
			return kc_error_set(err, ENOENT, "no link named \"%s\"", name);
		return kc_error_set(err, ENOENT, "no link with index %d", ifindex);
	}
	if (r < 0)
		return r;
	*ret = l;
	return 0;
}

int nl_link_get_by_name(nl_sock *s, const char *name, nl_link *ret, kc_error *err) {
	if (!nl_ifname_valid(name))
		return kc_error_set(err, EINVAL, "\"%s\" is not a valid interface name", name);
	return get_link(s, 0, name, ret, err);
}

int nl_link_get_by_index(nl_sock *s, int ifindex, nl_link *ret, kc_error *err) {
	if (ifindex <= 0)
		return kc_error_set(err, EINVAL, "invalid interface index %d", ifindex);
	return get_link(s, ifindex, NULL, ret, err);
}

/* The kernel has no lookup by hardware address: dump and compare. */
int nl_link_get_by_hwaddr(nl_sock *s, const uint8_t *hwaddr, size_t len, nl_link *ret, kc_error *err) {
	_cleanup_free_ nl_link *links = NULL;
	size_t n;
	char text[NL_HWADDR_STR_MAX];

	int r = nl_link_list(s, &links, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (links[i].hwaddr_len == len && memcmp(links[i].hwaddr, hwaddr, len) == 0) {
			*ret = links[i];
			return 0;
		}
	nl_hwaddr_format(hwaddr, len, text);
	return kc_error_set(err, ENOENT, "no link with hardware address %s", text);
}

int nl_link_change_build(nl_msg *m, int ifindex, const nl_link_change *c) {
	struct ifinfomsg *ifi = nl_msg_init(m, RTM_NEWLINK, 0, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	/* ifi_change selects the flags this request sets; the others stay as they are. */
	if (c->set & NL_LINK_SET_UP) {
		ifi->ifi_change |= IFF_UP;
		ifi->ifi_flags |= c->up ? IFF_UP : 0;
	}
	if (c->set & NL_LINK_SET_NOARP) {
		ifi->ifi_change |= IFF_NOARP;
		ifi->ifi_flags |= c->noarp ? IFF_NOARP : 0;
	}
	if (c->set & NL_LINK_SET_MTU)
		(void)nl_msg_put_u32(m, IFLA_MTU, c->mtu);
	if (c->set & NL_LINK_SET_NAME)
		(void)nl_msg_put_str(m, IFLA_IFNAME, c->name);
	if (c->set & NL_LINK_SET_HWADDR)
		(void)nl_msg_put(m, IFLA_ADDRESS, c->hwaddr, c->hwaddr_len);
	return m->err;
}

int nl_link_change_apply(nl_sock *s, int ifindex, const nl_link_change *c, kc_error *err) {
	nl_msg m;

	if ((c->set & NL_LINK_SET_NAME) && !nl_ifname_valid(c->name))
		return kc_error_set(err, EINVAL, "\"%s\" is not a valid interface name", c->name);
	if ((c->set & NL_LINK_SET_HWADDR) && (c->hwaddr_len == 0 || c->hwaddr_len > NL_HWADDR_MAX))
		return kc_error_set(err, EINVAL, "invalid hardware address length %u", c->hwaddr_len);
	(void)nl_link_change_build(&m, ifindex, c);
	return nl_sock_request(s, &m, NULL, NULL, err);
}

int nl_link_set_up(nl_sock *s, int ifindex, bool up, kc_error *err) {
	nl_link_change c = { .set = NL_LINK_SET_UP, .up = up };
	return nl_link_change_apply(s, ifindex, &c, err);
}

int nl_link_rename(nl_sock *s, int ifindex, const char *name, kc_error *err) {
	nl_link_change c = { .set = NL_LINK_SET_NAME };
	size_t n = strlen(name);
	if (n >= sizeof c.name)
		return kc_error_set(err, EINVAL, "\"%s\" is not a valid interface name", name);
	memcpy(c.name, name, n + 1);
	return nl_link_change_apply(s, ifindex, &c, err);
}

int nl_loopback_up(kc_error *err) {
	_cleanup_(nl_sock_freep) nl_sock *s = NULL;
	nl_link lo;

	int r = nl_sock_open(&s, err);
	if (r < 0)
		return r;
	r = nl_link_get_by_name(s, "lo", &lo, err);
	if (r < 0)
		return r;
	if (lo.flags & IFF_UP)
		return 0;
	r = nl_link_set_up(s, lo.ifindex, true, err);
	return r < 0 ? kc_error_prefix(err, "bring lo up") : 0;
}
