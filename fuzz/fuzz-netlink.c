/* Netlink replies as the kernel could send them, or not: the reply state machine (acks, extended acks,
 * dumps) and, for every data message, each object parser. Input layout: 4 bytes of sequence number, 4 of
 * port id, then one datagram. */
#include <string.h>

#include "netconfig/netconfig.h"

static int parse_all(const struct nlmsghdr *h, void *userdata, kc_error *err) {
	nl_link l;
	nl_address a;
	nl_route r;
	nl_neigh n;
	(void)nl_link_parse(h, &l);
	(void)nl_address_parse(h, &a);
	(void)nl_route_parse(h, &r);
	(void)nl_neigh_parse(h, &n);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	nl_reply r = { .fn = parse_all };
	kc_error err = { 0 };

	if (size < 8)
		return 0;
	memcpy(&r.seq, data, 4);
	memcpy(&r.portid, data + 4, 4);
	/* The receive buffer is malloc'ed and so aligned; give the parser the same. */
	uint8_t *buf = malloc(size - 8 + 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 8, size - 8);
	(void)nl_reply_feed(&r, buf, size - 8, &err);
	free(buf);
	return 0;
}
