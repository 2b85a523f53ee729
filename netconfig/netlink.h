/* The rtnetlink transport of netconfig: a request builder with bounds checks, a strict attribute parser, and
 * one request/reply exchange per call (a fresh sequence number, NLM_F_ACK, a wait bounded by a timeout for the
 * matching NLMSG_ERROR or NLMSG_DONE). Only messages from the kernel (nl_pid 0) that answer the request in
 * flight are accepted; every length is checked before it is used. */
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Our requests are a few hundred bytes; a fixed buffer keeps building allocation-free. */
#define NL_MSG_MAX 4096
/* One received datagram. The kernel sizes dump datagrams at 32 KiB, more for a link with many VFs. */
#define NL_RECV_MAX (1u << 20)
/* A request to the kernel answers in microseconds; this only bounds a broken kernel or a lost reply. */
#define NL_TIMEOUT_MS 5000

typedef struct nl_msg {
	union {
		struct nlmsghdr hdr;
		uint8_t buf[NL_MSG_MAX];
	};
	int err; /* sticky: the first put that did not fit; nl_sock_request refuses the message */
} nl_msg;

/* Starts a request: the header plus a zeroed family header (struct ifinfomsg, ...) of hdr_size bytes, which
 * is returned. NLM_F_REQUEST and NLM_F_ACK are added by nl_sock_request. */
void *nl_msg_init(nl_msg *m, uint16_t type, uint16_t flags, size_t hdr_size);
int nl_msg_put(nl_msg *m, uint16_t type, const void *data, size_t len);
int nl_msg_put_u8(nl_msg *m, uint16_t type, uint8_t v);
int nl_msg_put_u32(nl_msg *m, uint16_t type, uint32_t v);
/* The string with its NUL, as the kernel's NLA_STRING/NLA_NUL_STRING policies expect. */
int nl_msg_put_str(nl_msg *m, uint16_t type, const char *s);
/* Opens a nested attribute; returns its offset for nl_msg_nest_end, or 0 when it did not fit. */
size_t nl_msg_nest_start(nl_msg *m, uint16_t type);
void nl_msg_nest_end(nl_msg *m, size_t offset);

/* Attribute parsing. tb has n_tb slots, indexed by type (flags masked off); types beyond are ignored, the
 * last of duplicates wins (as in the kernel). -EBADMSG when an attribute header or length is out of bounds or
 * bytes are left over that cannot hold an attribute. */
int nl_attr_parse(const void *buf, size_t len, const struct rtattr **tb, size_t n_tb);
static inline size_t nl_attr_len(const struct rtattr *a) {
	return a->rta_len - RTA_LENGTH(0);
}
static inline const void *nl_attr_data(const struct rtattr *a) {
	return RTA_DATA(a);
}
/* Typed getters: -EBADMSG when the payload has the wrong size. */
int nl_attr_get_u8(const struct rtattr *a, uint8_t *ret);
int nl_attr_get_u32(const struct rtattr *a, uint32_t *ret);
/* A NUL-terminated string that fits size bytes (NUL included). */
int nl_attr_get_str(const struct rtattr *a, char *buf, size_t size);
/* The payload of an address attribute: exactly len bytes. */
int nl_attr_get_addr(const struct rtattr *a, void *buf, size_t len);

/* The family header and attributes of a message: -EBADMSG when nlmsg_len cannot hold hdr_size bytes. */
int nl_msg_parse(const struct nlmsghdr *h, size_t hdr_size, const void **ret_hdr, const struct rtattr **tb,
		 size_t n_tb);

/* Called for each data message of a reply (RTM_NEW* of a dump or a get). <0 stops the reply: the rest is
 * drained and the error returned. */
typedef int (*nl_msg_fn)(const struct nlmsghdr *h, void *userdata, kc_error *err);

/* The state of one reply; nl_reply_feed is the pure part of the receive path (and the fuzzing target). */
typedef struct nl_reply {
	uint32_t seq;
	uint32_t portid;
	nl_msg_fn fn;
	void *userdata;
	int fn_error; /* first error of fn, reported once the reply is complete */
} nl_reply;

/* Processes one datagram: 1 when the reply is complete (ack, NLMSG_DONE, or the kernel's error, returned <0
 * with err holding its extended-ack message), 0 when more datagrams belong to it, <0 on a malformed message.
 * Messages for another sequence number or port (a reply to an earlier request that timed out) are skipped. */
int nl_reply_feed(nl_reply *r, const void *buf, size_t len, kc_error *err);

typedef struct nl_sock nl_sock;

int nl_sock_open(nl_sock **ret, kc_error *err);
nl_sock *nl_sock_free(nl_sock *s);
DEFINE_CLEANUP_FUNC(nl_sock *, nl_sock_free)
/* For tests: the wait for one datagram, in milliseconds. */
void nl_sock_set_timeout(nl_sock *s, int timeout_ms);

/* Sends m (NLM_F_REQUEST | NLM_F_ACK added, a fresh sequence number) and waits for its reply; fn (may be
 * NULL) sees each data message. A kernel error comes back as its -errno, with err holding the extended-ack
 * message when the kernel gave one. */
int nl_sock_request(nl_sock *s, nl_msg *m, nl_msg_fn fn, void *userdata, kc_error *err);
