/* Dumps collected into arrays, shared by the link, address, route and neighbour lists. */
#include <string.h>

#include "netconfig/netconfig.h"

typedef struct collector {
	size_t entry_size;
	nl_entry_parse_fn parse;
	const void *filter;
	uint8_t *items;
	size_t n, cap;
} collector;

static int collect_one(const struct nlmsghdr *h, void *userdata, kc_error *err) {
	collector *c = userdata;

	if (c->n == c->cap) {
		if (c->cap >= NL_DUMP_MAX)
			return kc_error_set(err, E2BIG, "netlink dump: more than %d entries", NL_DUMP_MAX);
		size_t cap = c->cap ? MIN(c->cap * 2, (size_t)NL_DUMP_MAX) : 16;
		uint8_t *p = reallocarray(c->items, cap, c->entry_size);
		if (!p)
			return kc_error_set(err, ENOMEM, "netlink dump: out of memory");
		c->items = p;
		c->cap = cap;
	}
	void *entry = c->items + c->n * c->entry_size;
	memset(entry, 0, c->entry_size);
	int r = c->parse(h, entry, c->filter);
	if (r < 0)
		return kc_error_set(err, -r, "netlink dump: malformed message of type %u", h->nlmsg_type);
	if (r > 0)
		c->n++;
	return 0;
}

int nl_dump_collect(nl_sock *s, nl_msg *m, size_t entry_size, nl_entry_parse_fn parse, const void *filter,
		    void **ret, size_t *ret_n, kc_error *err) {
	collector c = { .entry_size = entry_size, .parse = parse, .filter = filter };
	int r = -EAGAIN;

	/* A dump that raced with a change (NLM_F_DUMP_INTR) is inconsistent; a fresh one usually is not. */
	for (int attempt = 0; attempt < 3 && r == -EAGAIN; attempt++) {
		c.n = 0;
		r = nl_sock_request(s, m, collect_one, &c, err);
	}
	if (r < 0) {
		free(c.items);
		return r;
	}
	*ret = c.items;
	*ret_n = c.n;
	return 0;
}
