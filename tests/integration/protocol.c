/* The protocol harness: drives a running agent over its unix socket with well-formed and hostile frames.
 * Usage: protocol-harness SOCKET_PATH. Every case ends by checking that a fresh connection is served. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "common/error.h"
#include "common/util.h"
#include "health.pb-c.h"
#include "proto/frame.h"
#include "tests/harness.h"

static const char *sock_path;

static int dial(void) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		TH_FAIL("socket: %m");
	strncpy(sa.sun_path, sock_path, sizeof sa.sun_path - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		TH_FAIL("connect %s: %m", sock_path);
	return fd;
}

static void send_bytes(int fd, const void *buf, size_t len) {
	if (write_all(fd, buf, len) < 0)
		TH_FAIL("write: %m");
}

static void send_request(int fd, uint32_t id, const char *svc, const char *method, const ProtobufCMessage *msg,
			 int64_t timeout_ns) {
	uint8_t *f;
	size_t len;
	ASSERT_OK(ttrpc_request_build(id, svc, method, msg, timeout_ns, &f, &len));
	send_bytes(fd, f, len);
	free(f);
}

static void send_check(int fd, uint32_t id) {
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	send_request(fd, id, "grpc.Health", "Check", &req.base, 0);
}

static void send_oom(int fd, uint32_t id, int64_t timeout_ns) {
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;
	send_request(fd, id, "grpc.AgentService", "GetOOMEvent", &req.base, timeout_ns);
}

/* Reads one frame within timeout_ms; returns 0, or -ETIMEDOUT / -EPIPE. */
static int read_frame(int fd, int timeout_ms, ttrpc_header *h, uint8_t **payload) {
	uint8_t hdr[10];
	size_t got = 0;
	while (got < 10) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t n = read(fd, hdr + got, 10 - got);
		if (n <= 0)
			return -EPIPE;
		got += (size_t)n;
	}
	ttrpc_header_decode(hdr, h);
	*payload = malloc(h->length + 1);
	if (h->length && read_all(fd, *payload, h->length) < 0)
		return -EPIPE;
	return 0;
}

typedef struct reply {
	uint32_t id;
	int code;
	char msg[256];
	uint8_t *payload;
	size_t len;
} reply;

static void reply_free(reply *r) {
	free(r->payload);
	r->payload = NULL;
}

static int read_reply_timeout(int fd, int timeout_ms, reply *out) {
	ttrpc_header h;
	uint8_t *p = NULL;
	int r = read_frame(fd, timeout_ms, &h, &p);
	if (r < 0) {
		free(p);
		return r;
	}
	if (h.type != TTRPC_TYPE_RESPONSE) {
		free(p);
		TH_FAIL("frame type %u, expected a response", h.type);
	}
	Ttrpc__Response *resp = ttrpc__response__unpack(NULL, h.length, p);
	free(p);
	if (!resp)
		TH_FAIL("undecodable ttrpc.Response on stream %u", h.stream_id);
	*out = (reply){ .id = h.stream_id };
	if (resp->status) {
		out->code = resp->status->code;
		snprintf(out->msg, sizeof out->msg, "%s", resp->status->message);
	}
	out->len = resp->payload.len;
	out->payload = malloc(out->len + 1);
	if (out->len)
		memcpy(out->payload, resp->payload.data, out->len);
	ttrpc__response__free_unpacked(resp, NULL);
	return 0;
}

static void read_reply(int fd, reply *out) {
	int r = read_reply_timeout(fd, 5000, out);
	if (r == -ETIMEDOUT)
		TH_FAIL("no reply within 5 s");
	if (r < 0)
		TH_FAIL("connection closed while waiting for a reply");
}

static void expect_check_ok(int fd, uint32_t id) {
	reply r;
	read_reply(fd, &r);
	ASSERT_EQ(r.id, id);
	ASSERT_EQ(r.code, 0);
	Grpc__HealthCheckResponse *h = grpc__health_check_response__unpack(NULL, r.len, r.payload);
	ASSERT_TRUE(h != NULL);
	ASSERT_EQ(h->status, GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	grpc__health_check_response__free_unpacked(h, NULL);
	reply_free(&r);
}

static void expect_code(int fd, uint32_t id, int code) {
	reply r;
	read_reply(fd, &r);
	if (r.id != id || r.code != code)
		TH_FAIL("stream %u: code %d (%s) \"%s\", expected stream %u code %d (%s)", r.id, r.code,
			ttrpc_code_name(r.code), r.msg, id, code, ttrpc_code_name(code));
	reply_free(&r);
}

static void expect_silence(int fd, int ms) {
	reply r;
	int rc = read_reply_timeout(fd, ms, &r);
	if (rc == 0)
		TH_FAIL("unexpected reply on stream %u (code %d)", r.id, r.code);
}

/* A new connection is served: the agent survived whatever the case did. */
static void still_serving(void) {
	int fd = dial();
	send_check(fd, 1);
	expect_check_ok(fd, 1);
	close(fd);
}

static void case_check(void) {
	int fd = dial();
	send_check(fd, 1);
	expect_check_ok(fd, 1);
	send_check(fd, 3);
	expect_check_ok(fd, 3);
	close(fd);
}

static void case_golden_frames(void) {
	uint8_t req[] = { 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x0a, 0x0b, 'g', 'r', 'p',
			  'c',  '.',  'H',  'e',  'a',  'l',  't',  'h',  0x12, 0x05, 'C',  'h',  'e',  'c',  'k' };
	const uint8_t want[] = { 0, 0, 0, 4, 0, 0, 0, 1, 2, 0, 0x12, 0x02, 0x08, 0x01 };
	uint8_t got[sizeof want];
	int fd = dial();
	send_bytes(fd, req, sizeof req);
	ASSERT_OK(read_all(fd, got, sizeof got));
	ASSERT_TRUE(memcmp(got, want, sizeof want) == 0);
	close(fd);
}

static void case_version(void) {
	int fd = dial();
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	send_request(fd, 1, "grpc.Health", "Version", &req.base, 0);
	reply r;
	read_reply(fd, &r);
	ASSERT_EQ(r.code, 0);
	Grpc__VersionCheckResponse *v = grpc__version_check_response__unpack(NULL, r.len, r.payload);
	ASSERT_TRUE(v != NULL);
	ASSERT_STREQ(v->grpc_version, "0.0.1");
	ASSERT_TRUE(strlen(v->agent_version) > 0);
	grpc__version_check_response__free_unpacked(v, NULL);
	reply_free(&r);
	close(fd);
}

static void case_guest_details(void) {
	int fd = dial();
	Grpc__GuestDetailsRequest req = GRPC__GUEST_DETAILS_REQUEST__INIT;
	req.mem_block_size = true;
	req.mem_hotplug_probe = true;
	send_request(fd, 1, "grpc.AgentService", "GetGuestDetails", &req.base, 0);
	reply r;
	read_reply(fd, &r);
	ASSERT_EQ(r.code, 0);
	Grpc__GuestDetailsResponse *d = grpc__guest_details_response__unpack(NULL, r.len, r.payload);
	ASSERT_TRUE(d != NULL);
	_cleanup_free_ char *bs = NULL;
	if (read_file_capped(AT_FDCWD, "/sys/devices/system/memory/block_size_bytes", 64, &bs, NULL) >= 0) {
		uint64_t want;
		bs[strcspn(bs, "\n")] = '\0';
		ASSERT_OK(parse_u64(bs, 16, &want));
		ASSERT_EQ(d->mem_block_size_bytes, want);
	}
	ASSERT_EQ(d->support_mem_hotplug_probe, access("/sys/devices/system/memory/probe", F_OK) == 0);
	ASSERT_TRUE(d->agent_details != NULL);
	ASSERT_TRUE(strlen(d->agent_details->version) > 0);
	ASSERT_EQ(d->agent_details->init_daemon, 0);
	grpc__guest_details_response__free_unpacked(d, NULL);
	reply_free(&r);
	close(fd);
}

static void case_unimplemented(void) {
	int fd = dial();
	/* ResizeVolume: the upstream agent itself always answers UNIMPLEMENTED. */
	Grpc__ResizeVolumeRequest lr = GRPC__RESIZE_VOLUME_REQUEST__INIT;
	send_request(fd, 1, "grpc.AgentService", "ResizeVolume", &lr.base, 0);
	expect_code(fd, 1, 12);
	send_request(fd, 3, "grpc.AgentService", "NoSuchMethod", &lr.base, 0);
	expect_code(fd, 3, 12);
	send_request(fd, 5, "grpc.NoSuchService", "Check", &lr.base, 0);
	expect_code(fd, 5, 12);
	send_request(fd, 7, "", "", NULL, 0);
	expect_code(fd, 7, 12);
	close(fd);
	still_serving();
}

static void case_oom_long_poll_1024(void) {
	int fd = dial();
	for (uint32_t i = 0; i < 1024; i++)
		send_oom(fd, 1 + 2 * i, 0);
	for (uint32_t i = 0; i < 100; i++)
		send_check(fd, 10001 + 2 * i);
	for (uint32_t i = 0; i < 100; i++)
		expect_check_ok(fd, 10001 + 2 * i);
	expect_silence(fd, 200);
	close(fd);
	still_serving();
}

static void case_timeout_nano(void) {
	int fd = dial();
	uint64_t t0 = now_ns();
	send_oom(fd, 1, 150 * 1000 * 1000);
	send_oom(fd, 3, 50 * 1000 * 1000);
	send_oom(fd, 5, 0);
	expect_code(fd, 3, KC_DEADLINE_EXCEEDED);
	expect_code(fd, 1, KC_DEADLINE_EXCEEDED);
	uint64_t ms = (now_ns() - t0) / 1000000;
	ASSERT_TRUE(ms >= 140 && ms < 3000);
	/* An absurd deadline must not wrap around into an immediate expiry. */
	send_oom(fd, 9, INT64_MAX);
	expect_silence(fd, 200); /* streams 5 and 9 have no (reachable) deadline */
	/* A call answered at once is not affected by a short deadline. */
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	send_request(fd, 7, "grpc.Health", "Check", &req.base, 1);
	expect_check_ok(fd, 7);
	close(fd);
}

static void case_fifty_connections(void) {
	int fds[50];
	for (int i = 0; i < 50; i++) {
		fds[i] = dial();
		send_oom(fds[i], 1, 0);
		send_check(fds[i], 3);
	}
	for (int i = 49; i >= 0; i--)
		expect_check_ok(fds[i], 3);
	for (int i = 0; i < 50; i++)
		close(fds[i]);
	still_serving();
}

static void case_one_byte_writes(void) {
	uint8_t *f;
	size_t len;
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	int fd = dial();
	ASSERT_OK(ttrpc_request_build(1, "grpc.Health", "Check", &req.base, 0, &f, &len));
	for (size_t i = 0; i < len; i++) {
		send_bytes(fd, f + i, 1);
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	free(f);
	expect_check_ok(fd, 1);
	close(fd);
}

static void case_oversize_frame(void) {
	int fd = dial();
	uint32_t big = TTRPC_MAX_FRAME + 1;
	uint8_t hdr[10];
	ttrpc_header h = { .length = big, .stream_id = 1, .type = TTRPC_TYPE_REQUEST };
	ttrpc_header_encode(&h, hdr);
	send_bytes(fd, hdr, 10);
	expect_code(fd, 1, KC_RESOURCE_EXHAUSTED); /* answered before the payload arrives */
	uint8_t *junk = calloc(1, big);
	memset(junk, 0x0a, big);
	send_bytes(fd, junk, big);
	free(junk);
	send_check(fd, 3);
	expect_check_ok(fd, 3);
	close(fd);
}

static void case_unknown_frame_type(void) {
	int fd = dial();
	uint8_t f[10 + 4] = { 0 };
	ttrpc_header h = { .length = 4, .stream_id = 1, .type = 9 };
	ttrpc_header_encode(&h, f);
	memcpy(f + 10, "junk", 4);
	send_bytes(fd, f, sizeof f);
	h.type = TTRPC_TYPE_DATA;
	h.stream_id = 3;
	ttrpc_header_encode(&h, f);
	send_bytes(fd, f, sizeof f);
	h.type = TTRPC_TYPE_RESPONSE;
	h.length = 0;
	ttrpc_header_encode(&h, f);
	send_bytes(fd, f, 10);
	send_check(fd, 5);
	expect_check_ok(fd, 5);
	expect_silence(fd, 100);
	close(fd);
}

static void case_even_and_active_streams(void) {
	int fd = dial();
	send_check(fd, 2);
	expect_code(fd, 2, KC_INVALID_ARGUMENT);
	send_check(fd, 0);
	expect_code(fd, 0, KC_INVALID_ARGUMENT);
	send_oom(fd, 1, 0);
	send_check(fd, 1);
	expect_code(fd, 1, KC_INVALID_ARGUMENT);
	/* Once a call has ended its stream id may be used again. */
	send_check(fd, 3);
	expect_check_ok(fd, 3);
	send_check(fd, 3);
	expect_check_ok(fd, 3);
	close(fd);
}

static void case_bad_envelope_and_payload(void) {
	int fd = dial();
	uint8_t *f;
	size_t len;
	const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };
	ASSERT_OK(ttrpc_frame_build(1, TTRPC_TYPE_REQUEST, garbage, sizeof garbage, &f, &len));
	send_bytes(fd, f, len);
	free(f);
	expect_code(fd, 1, KC_INVALID_ARGUMENT);
	/* A good envelope around a payload that is not a GuestDetailsRequest (a truncated varint). */
	const uint8_t bad_payload[] = { 0x08, 0xff };
	ASSERT_OK(ttrpc_request_build_raw(3, "grpc.AgentService", "GetGuestDetails", bad_payload, sizeof bad_payload, 0,
					  &f, &len));
	send_bytes(fd, f, len);
	free(f);
	reply r;
	read_reply(fd, &r);
	ASSERT_EQ(r.id, 3);
	ASSERT_EQ(r.code, KC_INVALID_ARGUMENT);
	ASSERT_TRUE(strstr(r.msg, "GetGuestDetails") != NULL);
	reply_free(&r);
	/* A length-delimited field that claims more bytes than the payload holds. */
	const uint8_t wrong_type[] = { 0x0a, 0x05, 0x41 };
	ASSERT_OK(ttrpc_request_build_raw(5, "grpc.AgentService", "GetGuestDetails", wrong_type, sizeof wrong_type, 0,
					  &f, &len));
	send_bytes(fd, f, len);
	free(f);
	expect_code(fd, 5, KC_INVALID_ARGUMENT);
	send_check(fd, 7);
	expect_check_ok(fd, 7);
	close(fd);
}

static void case_disconnects(void) {
	uint8_t *f;
	size_t len;
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ASSERT_OK(ttrpc_request_build(1, "grpc.Health", "Check", &req.base, 0, &f, &len));
	int fd = dial(); /* mid-header */
	send_bytes(fd, f, 5);
	close(fd);
	fd = dial(); /* mid-payload */
	send_bytes(fd, f, len - 3);
	close(fd);
	free(f);
	fd = dial(); /* with calls pending */
	for (uint32_t i = 0; i < 300; i++)
		send_oom(fd, 1 + 2 * i, 0);
	send_check(fd, 9999);
	expect_check_ok(fd, 9999);
	close(fd);
	fd = dial(); /* with replies unread */
	for (uint32_t i = 0; i < 200; i++)
		send_check(fd, 1 + 2 * i);
	close(fd);
	still_serving();
}

/* Over the pending-call cap (4096) the agent stops reading the connection; only when deadlines have
 * ended enough calls to dispatch everything sent before it is the Check behind them answered. */
static void case_pending_cap(void) {
	int fd = dial();
	const uint32_t n = 4200;
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n; i++)
		send_oom(fd, 1 + 2 * i, 300 * 1000 * 1000);
	send_check(fd, 2 * n + 1);
	uint32_t deadlines = 0;
	for (;;) {
		reply r;
		read_reply(fd, &r);
		if (r.id == 2 * n + 1) {
			ASSERT_EQ(r.code, 0);
			reply_free(&r);
			break;
		}
		ASSERT_EQ(r.code, KC_DEADLINE_EXCEEDED);
		deadlines++;
		reply_free(&r);
	}
	ASSERT_TRUE(deadlines >= n - 4096 + 1);
	ASSERT_TRUE(now_ns() - t0 >= 290ULL * 1000 * 1000);
	close(fd);
	still_serving();
}

/* A client that never reads its replies: the agent stops reading from it once the queued reply bytes
 * reach the cap, so the client's writes stall; everyone else is still served; every reply is delivered
 * once the client reads. Requests go out in batches and replies are parsed in bulk to keep this fast. */
static void case_queued_bytes_cap(void) {
	int fd = dial();
	int sz = 64 * 1024;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	ASSERT_OK(fd_set_nonblock(fd, true));
	Grpc__GuestDetailsRequest req = GRPC__GUEST_DETAILS_REQUEST__INIT;
	enum { BATCH = 1024 };
	static uint8_t batch[BATCH * 64];
	uint32_t sent = 0;
	uint64_t stalled_since = 0;
	size_t blen = 0, boff = 0;
	/* GetGuestDetails replies are several times the request size, so replies outgrow requests. */
	for (;;) {
		if (boff == blen) {
			blen = boff = 0;
			for (int k = 0; k < BATCH; k++) {
				uint8_t *f;
				size_t len;
				ASSERT_OK(ttrpc_request_build(1 + 2 * (sent + (uint32_t)k), "grpc.AgentService", "GetGuestDetails",
							      &req.base, 0, &f, &len));
				ASSERT_TRUE(blen + len <= sizeof batch);
				memcpy(batch + blen, f, len);
				blen += len;
				free(f);
			}
			sent += BATCH;
			ASSERT_TRUE(sent < 2000000); /* the agent would have to buffer ~100 MB */
		}
		ssize_t w = write(fd, batch + boff, blen - boff);
		if (w > 0) {
			boff += (size_t)w;
			stalled_since = 0;
			continue;
		}
		ASSERT_TRUE(w < 0 && errno == EAGAIN);
		if (!stalled_since)
			stalled_since = now_ns();
		if (now_ns() - stalled_since > 1000000000ULL)
			break;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	still_serving();
	/* Send the rest of the last batch; the agent resumes as the replies are read below. */
	uint32_t expected = sent, got = 0;
	ttrpc_reader rd;
	ttrpc_reader_init(&rd, 0);
	static uint8_t in[256 * 1024];
	uint64_t deadline = now_ns() + 60ULL * 1000000000ULL;
	while (got < expected) {
		ASSERT_TRUE(now_ns() < deadline);
		if (boff < blen) {
			ssize_t w = write(fd, batch + boff, blen - boff);
			if (w > 0)
				boff += (size_t)w;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			continue;
		ssize_t n = read(fd, in, sizeof in);
		ASSERT_TRUE(n > 0);
		for (size_t off = 0; off < (size_t)n;) {
			size_t used;
			ttrpc_read_event ev;
			ASSERT_OK(ttrpc_reader_feed(&rd, in + off, (size_t)n - off, &used, &ev));
			off += used;
			if (ev != TTRPC_READ_FRAME)
				continue;
			uint8_t *payload = ttrpc_reader_take_payload(&rd);
			Ttrpc__Response *resp = ttrpc__response__unpack(NULL, rd.header.length, payload);
			free(payload);
			ASSERT_TRUE(resp != NULL);
			ASSERT_TRUE(resp->status == NULL);
			ttrpc__response__free_unpacked(resp, NULL);
			ASSERT_EQ(rd.header.stream_id, 1 + 2 * got);
			got++;
		}
	}
	ttrpc_reader_reset(&rd);
	close(fd);
}

int main(int argc, char **argv) {
	static const th_case cases[] = {
		{ "check", case_check },
		{ "golden-frames", case_golden_frames },
		{ "version", case_version },
		{ "guest-details", case_guest_details },
		{ "unimplemented", case_unimplemented },
		{ "oom-long-poll-1024", case_oom_long_poll_1024 },
		{ "timeout-nano", case_timeout_nano },
		{ "fifty-connections", case_fifty_connections },
		{ "one-byte-writes", case_one_byte_writes },
		{ "oversize-frame", case_oversize_frame },
		{ "unknown-frame-type", case_unknown_frame_type },
		{ "even-and-active-streams", case_even_and_active_streams },
		{ "bad-envelope-and-payload", case_bad_envelope_and_payload },
		{ "disconnects", case_disconnects },
		{ "pending-cap", case_pending_cap },
		{ "queued-bytes-cap", case_queued_bytes_cap },
	};
	if (argc != 2) {
		fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
		return 2;
	}
	sock_path = argv[1];
	return th_run(cases, ELEMENTSOF(cases));
}

TH_MAIN()
