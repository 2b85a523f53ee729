/* The ttRPC frame codec: header layout, the incremental reader (split input, oversize skipping), and the
 * golden frames of containerd's Go client and server (kata-agent-api.md, "Wire examples"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "proto/frame.h"

static size_t unhex(const char *hex, uint8_t *out) {
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void test_header_roundtrip(void **state) {
	uint8_t b[10];
	ttrpc_header h = { .length = 0x01020304, .stream_id = 0xA0B0C0D1, .type = 2, .flags = 5 }, g;
	ttrpc_header_encode(&h, b);
	const uint8_t want[10] = { 1, 2, 3, 4, 0xA0, 0xB0, 0xC0, 0xD1, 2, 5 };
	assert_memory_equal(b, want, 10);
	ttrpc_header_decode(b, &g);
	assert_int_equal(g.length, h.length);
	assert_int_equal(g.stream_id, h.stream_id);
	assert_int_equal(g.type, 2);
	assert_int_equal(g.flags, 5);
}

static void test_golden_check_request(void **state) {
	uint8_t want[64], *frame;
	size_t wlen = unhex("000000140000000101000a0b677270632e4865616c74681205436865636b", want), len;
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	assert_int_equal(ttrpc_request_build(1, "grpc.Health", "Check", &req.base, 0, &frame, &len), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(frame, want, wlen);
	free(frame);
}

static void test_golden_check_reply(void **state) {
	uint8_t want[32], *frame;
	size_t wlen = unhex("0000000400000001020012020801", want), len;
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	assert_int_equal(ttrpc_response_build(1, 0, NULL, &resp.base, &frame, &len), 0);
	assert_int_equal(len, wlen);
	assert_memory_equal(frame, want, wlen);
	free(frame);
}

static void test_empty_reply_is_bare_header(void **state) {
	uint8_t *frame;
	size_t len;
	assert_int_equal(ttrpc_response_build(7, 0, NULL, NULL, &frame, &len), 0);
	assert_int_equal(len, 10);
	const uint8_t want[10] = { 0, 0, 0, 0, 0, 0, 0, 7, 2, 0 };
	assert_memory_equal(frame, want, 10);
	free(frame);
}

/* The success reply's envelope is written by hand around the packed payload: it must be byte for byte what
 * protobuf-c packs for Response{payload}, across the varint length boundaries, up to the frame limit. */
static void test_reply_envelope_matches_protobuf_c(void **state) {
	static const size_t sizes[] = { 0, 1, 120, 124, 125, 126, 127, 128, 16000, 16380, 16381, 16382, 65536, 70000,
					(4u << 20) - 16 };
	char *text = malloc((4u << 20) + 1);
	assert_non_null(text);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		memset(text, 'x', sizes[i]);
		text[sizes[i]] = '\0';
		Grpc__VersionCheckResponse v = GRPC__VERSION_CHECK_RESPONSE__INIT;
		v.agent_version = text;
		uint8_t *frame = NULL, *want = NULL;
		size_t len = 0, wlen = 0, plen = protobuf_c_message_get_packed_size(&v.base);
		uint8_t *p = malloc(plen + 1);
		assert_non_null(p);
		protobuf_c_message_pack(&v.base, p);
		int r = ttrpc_response_build(5, 0, NULL, &v.base, &frame, &len);
		int rw = ttrpc_response_build_raw(5, 0, NULL, p, plen, &want, &wlen);
		if (r != rw)
			fail_msg("payload of %zu bytes: %d, protobuf-c %d", plen, r, rw);
		if (r == 0) {
			assert_int_equal(len, wlen);
			assert_memory_equal(frame, want, wlen);
		}
		free(frame);
		free(want);
		free(p);
	}
	/* One byte over the frame limit with the envelope: refused like the packed path refuses it. */
	memset(text, 'x', (4u << 20) - 4);
	text[(4u << 20) - 4] = '\0';
	Grpc__VersionCheckResponse big = GRPC__VERSION_CHECK_RESPONSE__INIT;
	big.agent_version = text;
	uint8_t *frame = NULL;
	size_t len;
	assert_int_equal(ttrpc_response_build(5, 0, NULL, &big.base, &frame, &len), -EMSGSIZE);
	free(text);
}

static void test_error_reply(void **state) {
	uint8_t *frame;
	size_t len;
	assert_int_equal(ttrpc_response_build(3, 12, "nope", NULL, &frame, &len), 0);
	ttrpc_header h;
	ttrpc_header_decode(frame, &h);
	assert_int_equal(h.length, len - 10);
	Ttrpc__Response *r = ttrpc__response__unpack(NULL, h.length, frame + 10);
	assert_non_null(r);
	assert_non_null(r->status);
	assert_int_equal(r->status->code, 12);
	assert_string_equal(r->status->message, "nope");
	assert_int_equal(r->payload.len, 0);
	ttrpc__response__free_unpacked(r, NULL);
	free(frame);
	assert_string_equal(ttrpc_code_name(12), "UNIMPLEMENTED");
	assert_string_equal(ttrpc_code_name(99), "UNKNOWN_CODE");
}

/* Feeds data in pieces of `step` bytes, collecting events. */
static int feed_all(ttrpc_reader *r, const uint8_t *data, size_t len, size_t step, int *frames, int *oversize,
		    uint32_t *last_len) {
	size_t off = 0;
	while (off < len) {
		size_t chunk = step < len - off ? step : len - off;
		size_t done = 0;
		while (done < chunk) {
			size_t used;
			ttrpc_read_event ev;
			int rc = ttrpc_reader_feed(r, data + off + done, chunk - done, &used, &ev);
			if (rc < 0)
				return rc;
			done += used;
			if (ev == TTRPC_READ_FRAME) {
				(*frames)++;
				*last_len = r->header.length;
				free(ttrpc_reader_take_payload(r));
			} else if (ev == TTRPC_READ_OVERSIZE)
				(*oversize)++;
		}
		off += chunk;
	}
	return 0;
}

static void test_reader_split_input(void **state) {
	uint8_t buf[200];
	size_t n = unhex("000000140000000101000a0b677270632e4865616c74681205436865636b"
			 "0000000000000003020000000000050000000000"
			 "00000003000000090100010203",
			 buf);
	for (size_t step = 1; step <= n; step++) {
		ttrpc_reader r;
		int frames = 0, over = 0;
		uint32_t last = 99;
		ttrpc_reader_init(&r, 0);
		assert_int_equal(feed_all(&r, buf, n, step, &frames, &over, &last), 0);
		assert_int_equal(frames, 4);
		assert_int_equal(over, 0);
		assert_int_equal(last, 3);
		assert_true(ttrpc_reader_idle(&r));
		ttrpc_reader_reset(&r);
	}
}

static void test_reader_oversize_skipped(void **state) {
	/* A frame declared one byte over the cap, then a good one: the first is reported and skipped. */
	const uint32_t cap = 64;
	size_t big = cap + 1;
	uint8_t *buf = calloc(1, 10 + big + 10 + 2);
	ttrpc_header h = { .length = (uint32_t)big, .stream_id = 1, .type = 1 };
	ttrpc_header_encode(&h, buf);
	memset(buf + 10, 0xAB, big);
	ttrpc_header g = { .length = 2, .stream_id = 3, .type = 1 };
	ttrpc_header_encode(&g, buf + 10 + big);
	for (size_t step = 1; step < 20; step += 6) {
		ttrpc_reader r;
		int frames = 0, over = 0;
		uint32_t last = 0;
		ttrpc_reader_init(&r, cap);
		assert_int_equal(feed_all(&r, buf, 10 + big + 12, step, &frames, &over, &last), 0);
		assert_int_equal(over, 1);
		assert_int_equal(frames, 1);
		assert_int_equal(last, 2);
		ttrpc_reader_reset(&r);
	}
	free(buf);
}

static void test_reader_mid_header(void **state) {
	ttrpc_reader r;
	size_t used;
	ttrpc_read_event ev;
	const uint8_t part[4] = { 0, 0, 0, 1 };
	ttrpc_reader_init(&r, 0);
	assert_false(ttrpc_reader_mid_header(&r));
	assert_int_equal(ttrpc_reader_feed(&r, part, 4, &used, &ev), 0);
	assert_int_equal(used, 4);
	assert_int_equal(ev, TTRPC_READ_MORE);
	assert_true(ttrpc_reader_mid_header(&r));
	ttrpc_reader_reset(&r);
	assert_true(ttrpc_reader_idle(&r));
}

static void test_frame_build_limit(void **state) {
	uint8_t *f = NULL;
	size_t len;
	assert_int_equal(ttrpc_frame_build(1, 1, NULL, TTRPC_MAX_FRAME + 1, &f, &len), -EMSGSIZE);
	assert_null(f);
}

/* A data reply framed in place (ReadStdout's path) is byte for byte the frame ttrpc_response_build() packs for
 * the same ReadStreamResponse, across the varint boundaries of both lengths. */
static void test_data_reply_matches_protobuf_c(void **state) {
	static const size_t sizes[] = { 1, 2, 125, 126, 127, 128, 16379, 16380, 16381, 16382, 16383, 16384, 65536,
					(1u << 20) };
	uint8_t *buf = malloc(TTRPC_DATA_HEADER_MAX + (1u << 20));
	assert_non_null(buf);
	uint8_t *data = buf + TTRPC_DATA_HEADER_MAX;
	for (size_t i = 0; i < (1u << 20); i++)
		data[i] = (uint8_t)(i * 13);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		Grpc__ReadStreamResponse m = GRPC__READ_STREAM_RESPONSE__INIT;
		m.data.data = data;
		m.data.len = sizes[i];
		uint8_t *want;
		size_t wlen;
		assert_int_equal(ttrpc_response_build(7, 0, NULL, &m.base, &want, &wlen), 0);
		size_t hlen = ttrpc_response_data_header(7, 1, sizes[i], data);
		assert_true(hlen <= TTRPC_DATA_HEADER_MAX);
		if (hlen + sizes[i] != wlen || memcmp(data - hlen, want, wlen) != 0)
			fail_msg("%zu bytes: framed in place as %zu, packed as %zu bytes", sizes[i], hlen + sizes[i], wlen);
		free(want);
	}
	free(buf);
}

static void test_find_bytes(void **state) {
	const uint8_t *p;
	size_t n;
	/* Unknown fields of every wire type before it are skipped; the last occurrence wins, as in protobuf-c. */
	static const uint8_t msg[] = { 0x10, 0x96, 0x01,			  /* 2: varint 150 */
				       0x19, 1, 2, 3, 4, 5, 6, 7, 8,		  /* 3: fixed64 */
				       0x25, 1, 2, 3, 4,			  /* 4: fixed32 */
				       0x0a, 0x02, 'h', 'i',			  /* 1: "hi" */
				       0x2a, 0x01, 'x',				  /* 5: bytes */
				       0x0a, 0x03, 'a', 'b', 'c' };		  /* 1: "abc" */
	assert_int_equal(ttrpc_message_find_bytes(msg, sizeof msg, 1, &p, &n), 1);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "abc", 3);
	assert_ptr_equal(p, msg + sizeof msg - 3);
	Grpc__ReadStreamResponse *m = grpc__read_stream_response__unpack(NULL, sizeof msg, msg);
	assert_non_null(m);
	assert_int_equal(m->data.len, 3);
	grpc__read_stream_response__free_unpacked(m, NULL);
	assert_int_equal(ttrpc_message_find_bytes(msg, sizeof msg, 5, &p, &n), 1);
	assert_int_equal(n, 1);
	/* Absent, and the empty message (which may come as NULL). */
	assert_int_equal(ttrpc_message_find_bytes(msg, sizeof msg, 6, &p, &n), 0);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(ttrpc_message_find_bytes(NULL, 0, 1, &p, &n), 0);
	/* Every cut through the message is refused, except the cuts between fields. */
	static const size_t ends[] = { 3, 12, 17, 21, 24 };
	for (size_t cut = 1; cut < sizeof msg; cut++) {
		bool boundary = false;
		for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
			boundary |= cut == ends[i];
		int r = ttrpc_message_find_bytes(msg, cut, 1, &p, &n);
		if (boundary ? r < 0 : r != -EBADMSG)
			fail_msg("cut at %zu: %d", cut, r);
	}
	/* The field with another wire type, groups, an 11-byte varint. */
	static const uint8_t wrong_type[] = { 0x08, 0x01 }, group[] = { 0x0b, 0x0c },
			     long_varint[] = { 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
	assert_int_equal(ttrpc_message_find_bytes(wrong_type, sizeof wrong_type, 1, &p, &n), -EBADMSG);
	assert_int_equal(ttrpc_message_find_bytes(group, sizeof group, 1, &p, &n), -EBADMSG);
	assert_int_equal(ttrpc_message_find_bytes(long_varint, sizeof long_varint, 1, &p, &n), -EBADMSG);
	/* A length past the end. */
	static const uint8_t overrun[] = { 0x0a, 0x05, 'a', 'b' };
	assert_int_equal(ttrpc_message_find_bytes(overrun, sizeof overrun, 1, &p, &n), -EBADMSG);
}

/* A caller reading the rest of a payload straight into the reader gets the same frame as one feeding it. */
static void test_reader_direct_payload(void **state) {
	ttrpc_reader r;
	uint8_t *frame, *dst;
	size_t len, used;
	ttrpc_read_event ev;
	uint8_t payload[1000];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)i;
	assert_int_equal(ttrpc_frame_build(3, TTRPC_TYPE_RESPONSE, payload, sizeof payload, &frame, &len), 0);
	ttrpc_reader_init(&r, 0);
	assert_int_equal(ttrpc_reader_payload_gap(&r, &dst), 0); /* no header yet */
	assert_int_equal(ttrpc_reader_feed(&r, frame, TTRPC_HEADER_SIZE + 100, &used, &ev), 0);
	assert_int_equal(ev, TTRPC_READ_MORE);
	assert_int_equal(ttrpc_reader_payload_gap(&r, &dst), sizeof payload - 100);
	memcpy(dst, frame + TTRPC_HEADER_SIZE + 100, 500);
	assert_int_equal(ttrpc_reader_payload_add(&r, 500), TTRPC_READ_MORE);
	assert_int_equal(ttrpc_reader_payload_gap(&r, &dst), sizeof payload - 600);
	memcpy(dst, frame + TTRPC_HEADER_SIZE + 600, sizeof payload - 600);
	assert_int_equal(ttrpc_reader_payload_add(&r, sizeof payload - 600), TTRPC_READ_FRAME);
	assert_int_equal(r.header.stream_id, 3);
	uint8_t *got = ttrpc_reader_take_payload(&r);
	assert_memory_equal(got, payload, sizeof payload);
	free(got);
	assert_int_equal(ttrpc_reader_payload_gap(&r, &dst), 0);
	assert_true(ttrpc_reader_idle(&r));
	ttrpc_reader_reset(&r);
	free(frame);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_roundtrip),        cmocka_unit_test(test_golden_check_request),
		cmocka_unit_test(test_golden_check_reply),      cmocka_unit_test(test_empty_reply_is_bare_header),
		cmocka_unit_test(test_error_reply),             cmocka_unit_test(test_reader_split_input),
		cmocka_unit_test(test_reader_oversize_skipped), cmocka_unit_test(test_reader_mid_header),
		cmocka_unit_test(test_frame_build_limit),       cmocka_unit_test(test_reply_envelope_matches_protobuf_c),
		cmocka_unit_test(test_data_reply_matches_protobuf_c), cmocka_unit_test(test_find_bytes),
		cmocka_unit_test(test_reader_direct_payload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
