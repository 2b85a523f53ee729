/* The rtnetlink transport: builder, strict parser, request/reply by sequence number. */
#include "netconfig/netlink.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

struct nl_sock {
	int fd;
	uint32_t portid;
	uint32_t seq;
	int timeout_ms;
	uint8_t *buf;
	size_t buf_size;
};

/* ---- building ---- */

void *nl_msg_init(nl_msg *m, uint16_t type, uint16_t flags, size_t hdr_size) {
	m->err = 0;
	if (NLMSG_SPACE(hdr_size) > sizeof m->buf) {
		m->err = -EMSGSIZE;
		hdr_size = 0;
	}
	memset(m->buf, 0, NLMSG_SPACE(hdr_size));
	m->hdr.nlmsg_len = NLMSG_SPACE(hdr_size);
	m->hdr.nlmsg_type = type;
	m->hdr.nlmsg_flags = flags;
	return NLMSG_DATA(&m->hdr);
}

int nl_msg_put(nl_msg *m, uint16_t type, const void *data, size_t len) {
	if (m->err)
		return m->err;
	/* rta_len is 16 bits and the message buffer is fixed: both bounds are checked before any write. */
	if (len > UINT16_MAX - RTA_LENGTH(0) || RTA_SPACE(len) > sizeof m->buf - m->hdr.nlmsg_len)
		return m->err = -EMSGSIZE;
	struct rtattr *a = (struct rtattr *)(m->buf + m->hdr.nlmsg_len);
	a->rta_type = type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	memset((uint8_t *)RTA_DATA(a) + len, 0, RTA_SPACE(len) - RTA_LENGTH(len));
	m->hdr.nlmsg_len += RTA_SPACE(len);
	return 0;
}

int nl_msg_put_u8(nl_msg *m, uint16_t type, uint8_t v) {
	return nl_msg_put(m, type, &v, sizeof v);
}

int nl_msg_put_u32(nl_msg *m, uint16_t type, uint32_t v) {
	return nl_msg_put(m, type, &v, sizeof v);
}

int nl_msg_put_str(nl_msg *m, uint16_t type, const char *s) {
	return nl_msg_put(m, type, s, strlen(s) + 1);
}

size_t nl_msg_nest_start(nl_msg *m, uint16_t type) {
	size_t off = m->hdr.nlmsg_len;
	if (nl_msg_put(m, type | NLA_F_NESTED, NULL, 0) < 0)
		return 0;
	return off;
}

void nl_msg_nest_end(nl_msg *m, size_t offset) {
	if (m->err || offset == 0 || offset >= m->hdr.nlmsg_len)
		return;
	struct rtattr *a = (struct rtattr *)(m->buf + offset);
	/* The buffer is far smaller than 64 KiB, so a nest always fits rta_len. */
	a->rta_len = (uint16_t)(m->hdr.nlmsg_len - offset);
}

/* ---- parsing ---- */

int nl_attr_parse(const void *buf, size_t len, const struct rtattr **tb, size_t n_tb) {
	const uint8_t *p = buf;

	memset(tb, 0, n_tb * sizeof *tb);
	while (len >= sizeof(struct rtattr)) {
		const struct rtattr *a = (const struct rtattr *)p;
		if (a->rta_len < sizeof(struct rtattr) || a->rta_len > len)
			return -EBADMSG;
		unsigned type = a->rta_type & NLA_TYPE_MASK;
		if (type < n_tb)
			tb[type] = a;
		/* The last attribute may end the buffer without its alignment padding. */
		size_t step = MIN((size_t)RTA_ALIGN(a->rta_len), len);
		p += step;
		len -= step;
	}
	return len == 0 ? 0 : -EBADMSG;
}

int nl_attr_get_u8(const struct rtattr *a, uint8_t *ret) {
	return nl_attr_get_addr(a, ret, sizeof *ret);
}

int nl_attr_get_u32(const struct rtattr *a, uint32_t *ret) {
	return nl_attr_get_addr(a, ret, sizeof *ret);
}

int nl_attr_get_str(const struct rtattr *a, char *buf, size_t size) {
	size_t n = nl_attr_len(a);
	const char *s = nl_attr_data(a);
	const char *nul = memchr(s, '\0', n);
	if (!nul || (size_t)(nul - s) >= size)
		return -EBADMSG;
	memcpy(buf, s, (size_t)(nul - s) + 1);
	return 0;
}

int nl_attr_get_addr(const struct rtattr *a, void *buf, size_t len) {
	if (nl_attr_len(a) != len)
		return -EBADMSG;
	memcpy(buf, nl_attr_data(a), len);
	return 0;
}

int nl_msg_parse(const struct nlmsghdr *h, size_t hdr_size, const void **ret_hdr, const struct rtattr **tb,
		 size_t n_tb) {
	if (h->nlmsg_len < NLMSG_LENGTH(hdr_size))
		return -EBADMSG;
	size_t attrs_len = h->nlmsg_len > NLMSG_SPACE(hdr_size) ? h->nlmsg_len - NLMSG_SPACE(hdr_size) : 0;
	int r = nl_attr_parse((const uint8_t *)NLMSG_DATA(h) + NLMSG_ALIGN(hdr_size), attrs_len, tb, n_tb);
	if (r < 0)
		return r;
	if (ret_hdr)
		*ret_hdr = NLMSG_DATA(h);
	return 0;
}

/* The kernel's error, with its extended-ack text when there is one. The TLVs follow struct nlmsgerr, after
 * the echoed request unless NLM_F_CAPPED says it was left out (we ask for that with NETLINK_CAP_ACK). */
static int kernel_error(const struct nlmsghdr *h, int error, size_t tlv_off, kc_error *err) {
	char text[256] = "";
	size_t payload = h->nlmsg_len - NLMSG_HDRLEN;

	if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && tlv_off <= payload) {
		const struct rtattr *tb[NLMSGERR_ATTR_MAX + 1];
		const uint8_t *data = NLMSG_DATA(h);
		if (nl_attr_parse(data + tlv_off, payload - tlv_off, tb, ELEMENTSOF(tb)) >= 0 &&
		    tb[NLMSGERR_ATTR_MSG] && nl_attr_get_str(tb[NLMSGERR_ATTR_MSG], text, sizeof text) < 0)
			text[0] = '\0';
	}
	/* The message goes to the host: keep it to printable ASCII. */
	for (char *c = text; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	if (text[0])
		return kc_error_set(err, -error, "%s (%s)", text, strerror(-error));
	return kc_error_set(err, -error, "%s", strerror(-error));
}

static int handle_error_msg(nl_reply *r, const struct nlmsghdr *h, kc_error *err) {
	const struct nlmsgerr *e = NLMSG_DATA(h);

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e))
		return kc_error_set(err, EBADMSG, "netlink: truncated error message");
	if (e->error > 0 || e->error < -4095)
		return kc_error_set(err, EBADMSG, "netlink: error message with invalid code %d", e->error);
	if (e->error == 0)
		return r->fn_error ? r->fn_error : 1;
	size_t off = sizeof *e;
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return kc_error_set(err, EBADMSG, "netlink: error message echoes an invalid request");
		off = NLMSG_ALIGN(off + e->msg.nlmsg_len - NLMSG_HDRLEN);
	}
	if (r->fn_error)
		return r->fn_error;
	return kernel_error(h, e->error, off, err);
}

/* A dump ends with NLMSG_DONE, whose payload holds the dump's status (and extended-ack TLVs after it). */
static int handle_done_msg(nl_reply *r, const struct nlmsghdr *h, kc_error *err) {
	int status = 0;

	if (h->nlmsg_len >= NLMSG_LENGTH(sizeof status))
		memcpy(&status, NLMSG_DATA(h), sizeof status);
	if (r->fn_error)
		return r->fn_error;
	if (status > 0 || status < -4095)
		return kc_error_set(err, EBADMSG, "netlink: dump ended with invalid status %d", status);
	if (status < 0)
		return kernel_error(h, status, NLMSG_ALIGN(sizeof status), err);
	return 1;
}

static int handle_msg(nl_reply *r, const struct nlmsghdr *h, kc_error *err) {
	switch (h->nlmsg_type) {
	case NLMSG_NOOP:
		return 0;
	case NLMSG_ERROR:
		return handle_error_msg(r, h, err);
	case NLMSG_DONE:
		return handle_done_msg(r, h, err);
	case NLMSG_OVERRUN:
		return kc_error_set(err, EOVERFLOW, "netlink: overrun");
	}
	if (h->nlmsg_type < NLMSG_MIN_TYPE)
		return 0;
	/* A dump that raced with a change is inconsistent: the caller starts it again. */
	if ((h->nlmsg_flags & NLM_F_DUMP_INTR) && !r->fn_error)
		r->fn_error = kc_error_set(err, EAGAIN, "netlink: dump interrupted by a concurrent change");
	if (r->fn && !r->fn_error) {
		int k = r->fn(h, r->userdata, err);
		if (k < 0)
			r->fn_error = k;
	}
	return 0;
}

int nl_reply_feed(nl_reply *r, const void *buf, size_t len, kc_error *err) {
	const uint8_t *p = buf;

	while (len > 0) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)p;
		if (len < sizeof *h)
			return kc_error_set(err, EBADMSG, "netlink: %zu trailing bytes cannot hold a message", len);
		if (h->nlmsg_len < sizeof *h || h->nlmsg_len > len)
			return kc_error_set(err, EBADMSG, "netlink: message length %u out of bounds (%zu bytes left)",
					    h->nlmsg_len, len);
		size_t step = MIN((size_t)NLMSG_ALIGN(h->nlmsg_len), len);
		p += step;
		len -= step;
		/* A late answer to an earlier request that timed out: not ours. */
		if (h->nlmsg_seq != r->seq || h->nlmsg_pid != r->portid)
			continue;
		int k = handle_msg(r, h, err);
		if (k != 0)
			return k;
	}
	return 0;
}

/* ---- the socket ---- */

int nl_sock_open(nl_sock **ret, kc_error *err) {
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	socklen_t salen = sizeof sa;
	const int one = 1;

	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return kc_error_set(err, errno, "netlink socket: %m");
	/* Both are optional: without them errors still arrive, only without the kernel's text. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return kc_error_set(err, errno, "netlink bind: %m");
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
		return kc_error_set(err, errno, "netlink getsockname: %m");
	nl_sock *s = calloc(1, sizeof *s);
	if (!s)
		return kc_error_set(err, ENOMEM, "netlink: out of memory");
	s->fd = TAKE_FD(fd);
	s->portid = sa.nl_pid;
	s->seq = (uint32_t)now_ns();
	s->timeout_ms = NL_TIMEOUT_MS;
	*ret = s;
	return 0;
}

nl_sock *nl_sock_free(nl_sock *s) {
	if (!s)
		return NULL;
	safe_close(s->fd);
	free(s->buf);
	free(s);
	return NULL;
}

void nl_sock_set_timeout(nl_sock *s, int timeout_ms) {
	s->timeout_ms = timeout_ms;
}

static int wait_readable(nl_sock *s, uint64_t deadline, kc_error *err) {
	for (;;) {
		uint64_t now = now_ns();
		if (now >= deadline)
			return kc_error_set(err, ETIMEDOUT, "netlink: no reply from the kernel within %d ms",
					    s->timeout_ms);
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int n = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return kc_error_set(err, errno, "netlink poll: %m");
	}
}

/* Receives one datagram from the kernel into s->buf; datagrams from anyone else are dropped. */
static int recv_kernel(nl_sock *s, size_t *ret_len, kc_error *err) {
	uint64_t deadline = now_ns() + (uint64_t)s->timeout_ms * 1000000;

	for (;;) {
		int r = wait_readable(s, deadline, err);
		if (r < 0)
			return r;
		/* Learn the datagram's size first, so that no dump message is ever cut. */
		ssize_t n = recv(s->fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return kc_error_set(err, errno, "netlink receive: %m");
		}
		if ((size_t)n > NL_RECV_MAX) {
			(void)recv(s->fd, NULL, 0, MSG_DONTWAIT);
			return kc_error_set(err, EMSGSIZE, "netlink: a %zd-byte datagram exceeds %u bytes", n,
					    NL_RECV_MAX);
		}
		if ((size_t)n > s->buf_size || !s->buf) {
			size_t size = MAX((size_t)n, (size_t)32768);
			uint8_t *b = realloc(s->buf, size);
			if (!b)
				return kc_error_set(err, ENOMEM, "netlink: out of memory");
			s->buf = b;
			s->buf_size = size;
		}
		struct sockaddr_nl sa = { 0 };
		struct iovec iov = { .iov_base = s->buf, .iov_len = s->buf_size };
		struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof sa, .msg_iov = &iov, .msg_iovlen = 1 };
		n = recvmsg(s->fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return kc_error_set(err, errno, "netlink receive: %m");
		}
		if (mh.msg_flags & MSG_TRUNC)
			return kc_error_set(err, EMSGSIZE, "netlink: truncated datagram");
		if (mh.msg_namelen != sizeof sa || sa.nl_family != AF_NETLINK || sa.nl_pid != 0)
			continue;
		*ret_len = (size_t)n;
		return 0;
	}
}

int nl_sock_request(nl_sock *s, nl_msg *m, nl_msg_fn fn, void *userdata, kc_error *err) {
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (m->err)
		return kc_error_set(err, -m->err, "netlink: request does not fit %d bytes", NL_MSG_MAX);
	if (++s->seq == 0)
		s->seq = 1;
	m->hdr.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	m->hdr.nlmsg_seq = s->seq;
	m->hdr.nlmsg_pid = s->portid;
	for (;;) {
		ssize_t n = sendto(s->fd, m->buf, m->hdr.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
		if (n == (ssize_t)m->hdr.nlmsg_len)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		return kc_error_set(err, n < 0 ? errno : EIO, "netlink send: %s", n < 0 ? strerror(errno) : "short write");
	}
	nl_reply r = { .seq = s->seq, .portid = s->portid, .fn = fn, .userdata = userdata };
	for (;;) {
		size_t len = 0;
		int k = recv_kernel(s, &len, err);
		if (k < 0)
			return k;
		k = nl_reply_feed(&r, s->buf, len, err);
		if (k != 0)
			return k < 0 ? k : 0;
	}
}
