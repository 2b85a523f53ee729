/* netconfig without a kernel: the request builder and its bounds, the attribute parser against truncated and
 * oversized attributes, the reply state machine (acks, extended acks, dumps, stale replies), the per-object
 * parsers, and the text forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <linux/neighbour.h>
#include <string.h>

#include "netconfig/netconfig.h"

/* ---- builder ---- */

static void test_builder_layout(void **state) {
	nl_msg m;
	struct ifinfomsg *ifi = nl_msg_init(&m, RTM_NEWLINK, 0, sizeof *ifi);
	assert_non_null(ifi);
	assert_int_equal(m.hdr.nlmsg_len, NLMSG_SPACE(sizeof *ifi));
	assert_int_equal(nl_msg_put_u8(&m, 1, 7), 0);
	assert_int_equal(nl_msg_put_str(&m, IFLA_IFNAME, "eth0"), 0);
	size_t nest = nl_msg_nest_start(&m, IFLA_LINKINFO);
	assert_true(nest > 0);
	assert_int_equal(nl_msg_put_str(&m, IFLA_INFO_KIND, "veth"), 0);
	nl_msg_nest_end(&m, nest);
	assert_int_equal(m.hdr.nlmsg_len % 4, 0);

	const struct rtattr *tb[IFLA_MAX + 1];
	const void *hdr;
	assert_int_equal(nl_msg_parse(&m.hdr, sizeof *ifi, &hdr, tb, ELEMENTSOF(tb)), 0);
	assert_ptr_equal(hdr, ifi);
	assert_int_equal(nl_attr_len(tb[1]), 1); /* a u8 keeps its true length; padding is outside */
	char name[IFNAMSIZ];
	assert_int_equal(nl_attr_get_str(tb[IFLA_IFNAME], name, sizeof name), 0);
	assert_string_equal(name, "eth0");
	assert_true(tb[IFLA_LINKINFO]->rta_type & NLA_F_NESTED);
	const struct rtattr *info[IFLA_INFO_MAX + 1];
	assert_int_equal(nl_attr_parse(nl_attr_data(tb[IFLA_LINKINFO]), nl_attr_len(tb[IFLA_LINKINFO]), info,
				       ELEMENTSOF(info)),
			 0);
	assert_int_equal(nl_attr_get_str(info[IFLA_INFO_KIND], name, sizeof name), 0);
	assert_string_equal(name, "veth");
}

static void test_builder_bounds(void **state) {
	static uint8_t big[70000];
	nl_msg m;
	(void)nl_msg_init(&m, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	uint32_t before = m.hdr.nlmsg_len;
	/* rta_len is 16 bits: 70000 bytes cannot be one attribute. */
	assert_int_equal(nl_msg_put(&m, 1, big, sizeof big), -EMSGSIZE);
	assert_int_equal(m.hdr.nlmsg_len, before);
	/* Sticky: everything after the first failure is refused too. */
	assert_int_equal(nl_msg_put_u32(&m, 2, 1), -EMSGSIZE);

	(void)nl_msg_init(&m, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	int r = 0, n = 0;
	while ((r = nl_msg_put(&m, 3, big, 100)) == 0)
		n++;
	assert_int_equal(r, -EMSGSIZE);
	assert_true(m.hdr.nlmsg_len <= NL_MSG_MAX);
	assert_int_equal(n, (NL_MSG_MAX - NLMSG_SPACE(sizeof(struct ifinfomsg))) / RTA_SPACE(100));
	/* A nest that cannot open is reported as 0 and its end is a no-op. */
	assert_int_equal(nl_msg_nest_start(&m, 4), 0);
	nl_msg_nest_end(&m, 0);
	/* A family header larger than the buffer. */
	(void)nl_msg_init(&m, RTM_NEWLINK, 0, NL_MSG_MAX);
	assert_int_equal(m.err, -EMSGSIZE);
}

static void test_link_change_build(void **state) {
	nl_msg m;
	nl_link_change c = { .set = NL_LINK_SET_UP | NL_LINK_SET_NOARP | NL_LINK_SET_MTU | NL_LINK_SET_NAME,
			     .up = true, .noarp = false, .mtu = 1400, .name = "eth1" };
	assert_int_equal(nl_link_change_build(&m, 7, &c), 0);
	const struct ifinfomsg *ifi;
	const struct rtattr *tb[IFLA_MAX + 1];
	assert_int_equal(nl_msg_parse(&m.hdr, sizeof *ifi, (const void **)&ifi, tb, ELEMENTSOF(tb)), 0);
	assert_int_equal(ifi->ifi_index, 7);
	assert_int_equal(ifi->ifi_change, IFF_UP | IFF_NOARP);
	assert_int_equal(ifi->ifi_flags, IFF_UP);
	uint32_t mtu;
	assert_int_equal(nl_attr_get_u32(tb[IFLA_MTU], &mtu), 0);
	assert_int_equal(mtu, 1400);
	assert_non_null(tb[IFLA_IFNAME]);
	assert_null(tb[IFLA_ADDRESS]);
}

static void test_route_build_roundtrip(void **state) {
	nl_msg m;
	nl_route in = { .family = AF_INET, .table = RT_TABLE_MAIN, .protocol = RTPROT_BOOT, .type = RTN_UNICAST,
			.scope = RT_SCOPE_UNIVERSE, .oif = 3, .mtu = 1300, .has_gateway = true, .has_prefsrc = true };
	assert_int_equal(nl_prefix_parse("10.2.0.0/16", &in.dst, NULL), 0);
	assert_int_equal(nl_ip_parse("10.1.0.1", &in.gateway), 0);
	assert_int_equal(nl_ip_parse("10.1.0.2", &in.prefsrc), 0);
	assert_int_equal(nl_route_build(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &in), 0);
	nl_route out;
	assert_int_equal(nl_route_parse(&m.hdr, &out), 1);
	assert_int_equal(out.dst.prefixlen, 16);
	assert_memory_equal(out.dst.addr, in.dst.addr, 4);
	assert_true(out.has_gateway);
	assert_memory_equal(out.gateway.addr, in.gateway.addr, 4);
	assert_true(out.has_prefsrc);
	assert_int_equal(out.oif, 3);
	assert_int_equal(out.mtu, 1300);
	assert_int_equal(out.table, RT_TABLE_MAIN);
	assert_true(nl_route_same_key(&in, &out));
	out.dst.prefixlen = 24;
	assert_false(nl_route_same_key(&in, &out));
}

static void test_address_and_neigh_build(void **state) {
	nl_msg m;
	nl_ip ip;
	assert_int_equal(nl_prefix_parse("192.168.1.5/24", &ip, NULL), 0);
	assert_int_equal(nl_address_build(&m, RTM_NEWADDR, 4, &ip, true), 0);
	assert_true(m.hdr.nlmsg_flags & NLM_F_REPLACE);
	const struct rtattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa;
	assert_int_equal(nl_msg_parse(&m.hdr, sizeof *ifa, (const void **)&ifa, tb, ELEMENTSOF(tb)), 0);
	uint8_t brd[4];
	assert_int_equal(nl_attr_get_addr(tb[IFA_BROADCAST], brd, 4), 0);
	assert_memory_equal(brd, ((uint8_t[]){ 192, 168, 1, 255 }), 4);
	nl_address a;
	assert_int_equal(nl_address_parse(&m.hdr, &a), 1);
	assert_int_equal(a.ifindex, 4);
	assert_int_equal(a.ip.prefixlen, 24);

	nl_neigh n = { .ifindex = 2, .state = NUD_PERMANENT, .lladdr_len = 6 };
	assert_int_equal(nl_ip_parse("fd00::1", &n.dst), 0);
	memcpy(n.lladdr, "\x02\0\0\0\0\x09", 6);
	assert_int_equal(nl_neigh_build(&m, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &n), 0);
	nl_neigh back;
	assert_int_equal(nl_neigh_parse(&m.hdr, &back), 1);
	assert_int_equal(back.dst.family, AF_INET6);
	assert_int_equal(back.state, NUD_PERMANENT);
	assert_int_equal(back.lladdr_len, 6);
}

/* ---- attribute parser ---- */

static void test_attr_truncated_and_oversized(void **state) {
	const struct rtattr *tb[8];
	uint8_t buf[32] __attribute__((aligned(4)));
	struct rtattr *a = (struct rtattr *)buf;

	/* A header cut short. */
	a->rta_len = 8;
	a->rta_type = 1;
	assert_int_equal(nl_attr_parse(buf, 2, tb, ELEMENTSOF(tb)), -EBADMSG);
	/* rta_len below the header size (would loop forever if accepted). */
	a->rta_len = 2;
	assert_int_equal(nl_attr_parse(buf, 8, tb, ELEMENTSOF(tb)), -EBADMSG);
	/* rta_len beyond the buffer. */
	a->rta_len = 12;
	assert_int_equal(nl_attr_parse(buf, 8, tb, ELEMENTSOF(tb)), -EBADMSG);
	/* A valid attribute followed by 2 bytes that cannot hold another. */
	a->rta_len = 8;
	assert_int_equal(nl_attr_parse(buf, 10, tb, ELEMENTSOF(tb)), -EBADMSG);
	/* The last attribute may lack its padding (5 bytes of a u8). */
	a->rta_len = 5;
	assert_int_equal(nl_attr_parse(buf, 5, tb, ELEMENTSOF(tb)), 0);
	assert_ptr_equal(tb[1], a);
	/* Flags are masked off the type; types beyond the table are ignored. */
	a->rta_len = 4;
	a->rta_type = 2 | NLA_F_NESTED;
	struct rtattr *b = (struct rtattr *)(buf + 4);
	b->rta_len = 4;
	b->rta_type = 100;
	assert_int_equal(nl_attr_parse(buf, 8, tb, ELEMENTSOF(tb)), 0);
	assert_ptr_equal(tb[2], a);
	/* Empty is fine. */
	assert_int_equal(nl_attr_parse(buf, 0, tb, ELEMENTSOF(tb)), 0);
}

static void test_attr_getters(void **state) {
	nl_msg m;
	(void)nl_msg_init(&m, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
	(void)nl_msg_put(&m, 1, "abc", 3);             /* no NUL */
	(void)nl_msg_put_str(&m, 2, "0123456789abcdef"); /* 16 chars: too long for IFNAMSIZ */
	(void)nl_msg_put_u8(&m, 3, 1);
	const struct rtattr *tb[4];
	assert_int_equal(nl_msg_parse(&m.hdr, sizeof(struct ifinfomsg), NULL, tb, ELEMENTSOF(tb)), 0);
	char s[IFNAMSIZ];
	uint32_t v;
	assert_int_equal(nl_attr_get_str(tb[1], s, sizeof s), -EBADMSG);
	assert_int_equal(nl_attr_get_str(tb[2], s, sizeof s), -EBADMSG);
	assert_int_equal(nl_attr_get_u32(tb[3], &v), -EBADMSG);
	/* A message shorter than its family header. */
	m.hdr.nlmsg_len = NLMSG_LENGTH(2);
	assert_int_equal(nl_msg_parse(&m.hdr, sizeof(struct ifinfomsg), NULL, tb, ELEMENTSOF(tb)), -EBADMSG);
}

/* ---- object parsers ---- */

static void link_msg(nl_msg *m, int index) {
	struct ifinfomsg *ifi = nl_msg_init(m, RTM_NEWLINK, 0, sizeof *ifi);
	ifi->ifi_index = index;
	ifi->ifi_flags = IFF_UP;
}

static void test_link_parse(void **state) {
	nl_msg m;
	nl_link l;
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	static const uint8_t long_addr[33] = { 0 };

	link_msg(&m, 3);
	(void)nl_msg_put_str(&m, IFLA_IFNAME, "eth0");
	(void)nl_msg_put_u32(&m, IFLA_MTU, 1500);
	(void)nl_msg_put(&m, IFLA_ADDRESS, mac, sizeof mac);
	assert_int_equal(nl_link_parse(&m.hdr, &l), 1);
	assert_string_equal(l.name, "eth0");
	assert_int_equal(l.mtu, 1500);
	assert_int_equal(l.hwaddr_len, 6);

	link_msg(&m, 3); /* no name */
	assert_int_equal(nl_link_parse(&m.hdr, &l), -EBADMSG);
	link_msg(&m, 0); /* no index */
	(void)nl_msg_put_str(&m, IFLA_IFNAME, "x");
	assert_int_equal(nl_link_parse(&m.hdr, &l), -EBADMSG);
	link_msg(&m, 3); /* an address longer than MAX_ADDR_LEN */
	(void)nl_msg_put_str(&m, IFLA_IFNAME, "x");
	(void)nl_msg_put(&m, IFLA_ADDRESS, long_addr, sizeof long_addr);
	assert_int_equal(nl_link_parse(&m.hdr, &l), -EBADMSG);
	link_msg(&m, 3); /* an MTU of the wrong size */
	(void)nl_msg_put_str(&m, IFLA_IFNAME, "x");
	(void)nl_msg_put_u8(&m, IFLA_MTU, 1);
	assert_int_equal(nl_link_parse(&m.hdr, &l), -EBADMSG);
	m.hdr.nlmsg_type = RTM_NEWADDR;
	assert_int_equal(nl_link_parse(&m.hdr, &l), 0);
}

static void test_route_parse_malformed(void **state) {
	nl_msg m;
	nl_route rt;
	struct rtmsg *rtm = nl_msg_init(&m, RTM_NEWROUTE, 0, sizeof *rtm);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 33;
	assert_int_equal(nl_route_parse(&m.hdr, &rt), -EBADMSG);
	rtm->rtm_dst_len = 8;
	(void)nl_msg_put(&m, RTA_DST, "\x0a\0\0", 3); /* 3 bytes for IPv4 */
	assert_int_equal(nl_route_parse(&m.hdr, &rt), -EBADMSG);

	rtm = nl_msg_init(&m, RTM_NEWROUTE, 0, sizeof *rtm);
	rtm->rtm_family = AF_INET;
	size_t nest = nl_msg_nest_start(&m, RTA_METRICS);
	(void)nl_msg_put_u8(&m, RTAX_MTU, 1); /* a metric of the wrong size */
	nl_msg_nest_end(&m, nest);
	assert_int_equal(nl_route_parse(&m.hdr, &rt), -EBADMSG);

	rtm = nl_msg_init(&m, RTM_NEWROUTE, 0, sizeof *rtm);
	rtm->rtm_family = AF_BRIDGE; /* not ours: skipped, not an error */
	assert_int_equal(nl_route_parse(&m.hdr, &rt), 0);
}

/* ---- replies ---- */

typedef struct fixture {
	uint8_t buf[4096] __attribute__((aligned(4)));
	size_t len;
} fixture;

static struct nlmsghdr *append(fixture *f, uint16_t type, uint16_t flags, uint32_t seq, const void *payload,
			       size_t plen) {
	struct nlmsghdr *h = (struct nlmsghdr *)(f->buf + f->len);
	h->nlmsg_len = (uint32_t)NLMSG_LENGTH(plen);
	h->nlmsg_type = type;
	h->nlmsg_flags = flags;
	h->nlmsg_seq = seq;
	h->nlmsg_pid = 77;
	memcpy(NLMSG_DATA(h), payload, plen);
	f->len += NLMSG_ALIGN(h->nlmsg_len);
	return h;
}

static void append_error(fixture *f, uint32_t seq, int error, const char *extack) {
	uint8_t p[512] __attribute__((aligned(4))) = { 0 };
	struct nlmsgerr *e = (struct nlmsgerr *)p;
	size_t len = sizeof *e;
	e->error = error;
	e->msg.nlmsg_len = NLMSG_HDRLEN;
	e->msg.nlmsg_seq = seq;
	if (extack) {
		struct rtattr *a = (struct rtattr *)(p + len);
		a->rta_type = NLMSGERR_ATTR_MSG;
		a->rta_len = (uint16_t)RTA_LENGTH(strlen(extack) + 1);
		memcpy(RTA_DATA(a), extack, strlen(extack) + 1);
		len += RTA_ALIGN(a->rta_len);
	}
	append(f, NLMSG_ERROR, NLM_F_CAPPED | (extack ? NLM_F_ACK_TLVS : 0), seq, p, len);
}

static int count_fn(const struct nlmsghdr *h, void *userdata, kc_error *err) {
	(*(int *)userdata)++;
	return 0;
}

static int failing_fn(const struct nlmsghdr *h, void *userdata, kc_error *err) {
	(*(int *)userdata)++;
	return kc_error_set(err, EBADMSG, "bad entry");
}

static void test_reply_ack_and_stale(void **state) {
	fixture f = { 0 };
	kc_error err = { 0 };
	nl_reply r = { .seq = 5, .portid = 77 };

	append_error(&f, 4, -EEXIST, "an old reply"); /* an earlier request's answer: skipped */
	append_error(&f, 5, 0, NULL);
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), 1);

	/* A reply addressed to another port is not ours either. */
	f.len = 0;
	struct nlmsghdr *h = append(&f, NLMSG_DONE, 0, 5, (int[]){ 0 }, sizeof(int));
	h->nlmsg_pid = 78;
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), 0);
}

static void test_reply_extack(void **state) {
	fixture f = { 0 };
	kc_error err = { 0 };
	nl_reply r = { .seq = 9, .portid = 77 };

	append_error(&f, 9, -ENETUNREACH, "Nexthop has invalid gateway");
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -ENETUNREACH);
	assert_string_equal(err.msg, "Nexthop has invalid gateway (Network is unreachable)");

	f.len = 0;
	append_error(&f, 9, -EINVAL, NULL);
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EINVAL);
	assert_string_equal(err.msg, "Invalid argument");

	/* Not capped: the TLVs follow the echoed request. */
	f.len = 0;
	uint8_t p[256] __attribute__((aligned(4))) = { 0 };
	struct nlmsgerr *e = (struct nlmsgerr *)p;
	e->error = -EBUSY;
	e->msg.nlmsg_len = NLMSG_HDRLEN + 8;
	struct rtattr *a = (struct rtattr *)(p + sizeof *e + 8);
	a->rta_type = NLMSGERR_ATTR_MSG;
	a->rta_len = RTA_LENGTH(5);
	memcpy(RTA_DATA(a), "busy", 5);
	append(&f, NLMSG_ERROR, NLM_F_ACK_TLVS, 9, p, sizeof *e + 8 + RTA_ALIGN(a->rta_len));
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EBUSY);
	assert_string_equal(err.msg, "busy (Device or resource busy)");

	/* An echoed request longer than the message: the error still comes through, without text. */
	f.len = 0;
	e->msg.nlmsg_len = 4000;
	append(&f, NLMSG_ERROR, NLM_F_ACK_TLVS, 9, p, sizeof *e);
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EBUSY);
	assert_string_equal(err.msg, "Device or resource busy");
}

static void test_reply_malformed(void **state) {
	fixture f = { 0 };
	kc_error err = { 0 };
	nl_reply r = { .seq = 1, .portid = 77 };

	/* nlmsg_len beyond the datagram. */
	struct nlmsghdr *h = append(&f, NLMSG_DONE, 0, 1, (int[]){ 0 }, sizeof(int));
	h->nlmsg_len = 200;
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EBADMSG);
	/* nlmsg_len below a header. */
	h->nlmsg_len = 8;
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EBADMSG);
	/* Trailing bytes that cannot hold a header (after a message for another request). */
	h->nlmsg_len = NLMSG_LENGTH(sizeof(int));
	h->nlmsg_seq = 99;
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len + 4, &err), -EBADMSG);
	/* An error message too short for struct nlmsgerr. */
	f.len = 0;
	append(&f, NLMSG_ERROR, 0, 1, (int[]){ -1 }, sizeof(int));
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EBADMSG);
	/* A positive error code is no kernel's. */
	f.len = 0;
	append_error(&f, 1, 5, NULL);
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EBADMSG);
}

static void test_reply_dump(void **state) {
	fixture f = { 0 };
	kc_error err = { 0 };
	int n = 0;
	nl_reply r = { .seq = 3, .portid = 77, .fn = count_fn, .userdata = &n };
	struct ifinfomsg ifi = { 0 };

	append(&f, RTM_NEWLINK, NLM_F_MULTI, 3, &ifi, sizeof ifi);
	append(&f, RTM_NEWLINK, NLM_F_MULTI, 3, &ifi, sizeof ifi);
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), 0); /* more to come */
	f.len = 0;
	append(&f, RTM_NEWLINK, NLM_F_MULTI, 3, &ifi, sizeof ifi);
	append(&f, NLMSG_DONE, NLM_F_MULTI, 3, (int[]){ 0 }, sizeof(int));
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), 1);
	assert_int_equal(n, 3);

	/* A dump that fails part-way reports the kernel's status from NLMSG_DONE. */
	f.len = 0;
	append(&f, NLMSG_DONE, NLM_F_MULTI, 3, (int[]){ -EMSGSIZE }, sizeof(int));
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EMSGSIZE);

	/* The callback's error is remembered, later entries are not parsed, and it is returned at the end. */
	n = 0;
	r = (nl_reply){ .seq = 3, .portid = 77, .fn = failing_fn, .userdata = &n };
	f.len = 0;
	append(&f, RTM_NEWLINK, NLM_F_MULTI, 3, &ifi, sizeof ifi);
	append(&f, RTM_NEWLINK, NLM_F_MULTI, 3, &ifi, sizeof ifi);
	append(&f, NLMSG_DONE, NLM_F_MULTI, 3, (int[]){ 0 }, sizeof(int));
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EBADMSG);
	assert_int_equal(n, 1);

	/* A dump interrupted by a concurrent change asks to be started again. */
	n = 0;
	r = (nl_reply){ .seq = 3, .portid = 77, .fn = count_fn, .userdata = &n };
	f.len = 0;
	append(&f, RTM_NEWLINK, NLM_F_MULTI | NLM_F_DUMP_INTR, 3, &ifi, sizeof ifi);
	append(&f, NLMSG_DONE, NLM_F_MULTI, 3, (int[]){ 0 }, sizeof(int));
	assert_int_equal(nl_reply_feed(&r, f.buf, f.len, &err), -EAGAIN);
}

/* ---- text forms ---- */

static void test_ip_text(void **state) {
	nl_ip ip;
	bool has_len;
	char s[NL_IP_STR_MAX];

	assert_int_equal(nl_ip_parse("10.0.0.1", &ip), 0);
	assert_int_equal(ip.family, AF_INET);
	assert_int_equal(ip.prefixlen, 32);
	assert_int_equal(nl_ip_parse("fd00::1", &ip), 0);
	assert_int_equal(ip.family, AF_INET6);
	nl_ip_format(&ip, s);
	assert_string_equal(s, "fd00::1");
	static const char *const bad[] = { "", "10.0.0", "10.0.0.256", "010.0.0.1", " 10.0.0.1", "10.0.0.1/24",
					   "fe80::1%eth0", "1:2:3:4:5:6:7:8:9", "::g" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(nl_ip_parse(bad[i], &ip), -EINVAL);

	uint8_t len;
	assert_int_equal(nl_prefixlen_parse("24", AF_INET, &len), 0);
	assert_int_equal(len, 24);
	assert_int_equal(nl_prefixlen_parse("33", AF_INET, &len), -ERANGE);
	assert_int_equal(nl_prefixlen_parse("128", AF_INET6, &len), 0);
	assert_int_equal(nl_prefixlen_parse("-1", AF_INET, &len), -EINVAL);
	assert_int_equal(nl_prefixlen_parse("", AF_INET, &len), -EINVAL);
	assert_int_equal(nl_prefixlen_parse("1000", AF_INET6, &len), -EINVAL);
	assert_int_equal(nl_prefixlen_parse("2 ", AF_INET, &len), -EINVAL);

	assert_int_equal(nl_prefix_parse("10.1.0.0/16", &ip, &has_len), 0);
	assert_true(has_len);
	assert_true(nl_ip_is_network(&ip));
	assert_int_equal(nl_prefix_parse("10.1.0.1/16", &ip, &has_len), 0);
	assert_false(nl_ip_is_network(&ip));
	assert_int_equal(nl_prefix_parse("::/0", &ip, &has_len), 0);
	assert_true(nl_ip_is_zero(&ip));
	assert_int_equal(nl_prefix_parse("10.1.0.0/", &ip, &has_len), -EINVAL);
	assert_int_equal(nl_prefix_parse("10.1.0.0/16/1", &ip, &has_len), -EINVAL);
	char longs[200];
	memset(longs, '1', sizeof longs - 1);
	longs[sizeof longs - 1] = '\0';
	assert_int_equal(nl_prefix_parse(longs, &ip, &has_len), -EINVAL);
}

static void test_hwaddr_and_names(void **state) {
	uint8_t a[NL_HWADDR_MAX], n;
	char s[NL_HWADDR_STR_MAX];

	assert_int_equal(nl_hwaddr_parse("02:AB:cd:00:00:ff", a, &n), 0);
	assert_int_equal(n, 6);
	nl_hwaddr_format(a, n, s);
	assert_string_equal(s, "02:ab:cd:00:00:ff");
	static const char *const bad[] = { "", "2:ab:cd:00:00:ff", "02:ab:cd:00:00:ff:", "02::ab", "0g:00",
					   "02-ab-cd-00-00-ff" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(nl_hwaddr_parse(bad[i], a, &n), -EINVAL);
	/* 33 octets do not fit MAX_ADDR_LEN. */
	char too_long[33 * 3];
	for (int i = 0; i < 33; i++)
		memcpy(too_long + i * 3, i < 32 ? "00:" : "00", 3);
	assert_int_equal(nl_hwaddr_parse(too_long, a, &n), -EINVAL);

	assert_true(nl_ifname_valid("eth0"));
	assert_true(nl_ifname_valid("a23456789012345"));
	assert_false(nl_ifname_valid("a234567890123456"));
	assert_false(nl_ifname_valid(""));
	assert_false(nl_ifname_valid("."));
	assert_false(nl_ifname_valid(".."));
	assert_false(nl_ifname_valid("a/b"));
	assert_false(nl_ifname_valid("a:b"));
	assert_false(nl_ifname_valid("a b"));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builder_layout),
		cmocka_unit_test(test_builder_bounds),
		cmocka_unit_test(test_link_change_build),
		cmocka_unit_test(test_route_build_roundtrip),
		cmocka_unit_test(test_address_and_neigh_build),
		cmocka_unit_test(test_attr_truncated_and_oversized),
		cmocka_unit_test(test_attr_getters),
		cmocka_unit_test(test_link_parse),
		cmocka_unit_test(test_route_parse_malformed),
		cmocka_unit_test(test_reply_ack_and_stale),
		cmocka_unit_test(test_reply_extack),
		cmocka_unit_test(test_reply_malformed),
		cmocka_unit_test(test_reply_dump),
		cmocka_unit_test(test_ip_text),
		cmocka_unit_test(test_hwaddr_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
