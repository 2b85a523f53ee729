/* kata-launch's blocking ttRPC client against a scripted peer on a socketpair: stream ids, zero-length
 * responses, out-of-order and foreign streams, status codes, deadlines, EOF. The peer writes its frames
 * before the client reads, so one thread suffices. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "health.pb-c.h"
#include "launcher/ttrpc-client.h"
#include "proto/frame.h"
#include "ttrpc.pb-c.h"

typedef struct fixture {
	ttrpc_client *client;
	int peer;
} fixture;

static int setup(void **state) {
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fixture *f = calloc(1, sizeof *f);
	assert_int_equal(ttrpc_client_new(sv[0], &f->client), 0);
	f->peer = sv[1];
	*state = f;
	return 0;
}

static int teardown(void **state) {
	fixture *f = *state;
	ttrpc_client_free(f->client);
	if (f->peer >= 0)
		close(f->peer);
	free(f);
	return 0;
}

/* Reads one request frame from the peer side and decodes it. */
static Ttrpc__Request *peer_read_request(fixture *f, uint32_t *ret_stream) {
	uint8_t hdr[TTRPC_HEADER_SIZE];
	ttrpc_header h;
	assert_int_equal(read_all(f->peer, hdr, sizeof hdr), 0);
	ttrpc_header_decode(hdr, &h);
	assert_int_equal(h.type, TTRPC_TYPE_REQUEST);
	uint8_t *buf = malloc(h.length + 1);
	assert_int_equal(read_all(f->peer, buf, h.length), 0);
	Ttrpc__Request *req = ttrpc__request__unpack(NULL, h.length, buf);
	free(buf);
	assert_non_null(req);
	*ret_stream = h.stream_id;
	return req;
}

static void peer_respond(fixture *f, uint32_t stream, int code, const char *msg, const ProtobufCMessage *payload) {
	uint8_t *frame;
	size_t len;
	assert_int_equal(ttrpc_response_build(stream, code, msg, payload, &frame, &len), 0);
	assert_int_equal(write_all(f->peer, frame, len), 0);
	free(frame);
}

static void peer_write_raw(fixture *f, uint32_t stream, uint8_t type, const uint8_t *data, size_t len) {
	uint8_t *frame;
	size_t flen;
	assert_int_equal(ttrpc_frame_build(stream, type, data, len, &frame, &flen), 0);
	assert_int_equal(write_all(f->peer, frame, flen), 0);
	free(frame);
}

static void test_call_check(void **state) {
	fixture *f = *state;
	uint32_t s1, s2, ps;

	/* Stream ids are odd and increase. */
	assert_int_equal(ttrpc_client_send(f->client, "grpc.Health", "Check", NULL, 0, 0, &s1), 0);
	assert_int_equal(ttrpc_client_send(f->client, "grpc.Health", "Version", NULL, 0, 5000000000LL, &s2), 0);
	assert_int_equal(s1, 1);
	assert_int_equal(s2, 3);

	Ttrpc__Request *req = peer_read_request(f, &ps);
	assert_int_equal(ps, 1);
	assert_string_equal(req->service, "grpc.Health");
	assert_string_equal(req->method, "Check");
	assert_int_equal(req->payload.len, 0);
	assert_int_equal(req->timeout_nano, 0);
	ttrpc__request__free_unpacked(req, NULL);
	req = peer_read_request(f, &ps);
	assert_int_equal(ps, 3);
	assert_int_equal(req->timeout_nano, 5000000000LL);
	ttrpc__request__free_unpacked(req, NULL);

	/* Answers out of order, with a response for a stream nobody asked about in between. */
	Grpc__VersionCheckResponse v = GRPC__VERSION_CHECK_RESPONSE__INIT;
	v.grpc_version = "0.0.1";
	peer_respond(f, 3, 0, NULL, &v.base);
	peer_respond(f, 99, 0, NULL, NULL);
	Grpc__HealthCheckResponse h = GRPC__HEALTH_CHECK_RESPONSE__INIT;
	h.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	peer_respond(f, 1, 0, NULL, &h.base);

	int code;
	char *msg;
	uint8_t *payload;
	size_t len;
	assert_int_equal(ttrpc_client_recv(f->client, s1, 1000000000LL, &code, &msg, &payload, &len), 0);
	assert_int_equal(code, 0);
	assert_null(msg);
	Grpc__HealthCheckResponse *hr = grpc__health_check_response__unpack(NULL, len, payload);
	assert_non_null(hr);
	assert_int_equal(hr->status, GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	grpc__health_check_response__free_unpacked(hr, NULL);
	free(payload);

	/* Stream 3's answer arrived first and was kept for it. */
	assert_int_equal(ttrpc_client_recv(f->client, s2, 1000000000LL, &code, &msg, &payload, &len), 0);
	Grpc__VersionCheckResponse *vr = grpc__version_check_response__unpack(NULL, len, payload);
	assert_string_equal(vr->grpc_version, "0.0.1");
	grpc__version_check_response__free_unpacked(vr, NULL);
	free(payload);

	/* Done streams are forgotten. */
	assert_int_equal(ttrpc_client_recv(f->client, s2, 1000000, &code, &msg, &payload, &len), -ENOENT);
}

static void test_zero_length_and_typed_call(void **state) {
	fixture *f = *state;
	uint32_t ps;

	/* A successful Empty reply is a bare header; queue it before the blocking call reads. */
	peer_write_raw(f, 1, TTRPC_TYPE_RESPONSE, NULL, 0);
	int code = -1;
	char *msg = (char *)"x";
	ProtobufCMessage *resp = NULL;
	assert_int_equal(ttrpc_client_call(f->client, "grpc.Health", "Check", NULL, &grpc__health_check_response__descriptor,
					   0, &resp, &code, &msg),
			 0);
	assert_int_equal(code, 0);
	assert_null(msg);
	assert_non_null(resp);
	assert_int_equal(((Grpc__HealthCheckResponse *)resp)->status, 0);
	protobuf_c_message_free_unpacked(resp, NULL);
	Ttrpc__Request *req = peer_read_request(f, &ps);
	ttrpc__request__free_unpacked(req, NULL);
}

static void test_status_error(void **state) {
	fixture *f = *state;
	peer_respond(f, 1, 12, "not here", NULL);
	int code;
	char *msg = NULL;
	ProtobufCMessage *resp = (ProtobufCMessage *)&code;
	assert_int_equal(ttrpc_client_call(f->client, "grpc.AgentService", "ListRoutes", NULL, NULL, 0, &resp, &code, &msg),
			 0);
	assert_int_equal(code, 12);
	assert_string_equal(msg, "not here");
	assert_null(resp);
	free(msg);
}

static void test_timeout_then_late_answer_dropped(void **state) {
	fixture *f = *state;
	uint32_t s1, s2;
	int code;
	char *msg;
	uint8_t *payload;
	size_t len;

	assert_int_equal(ttrpc_client_send(f->client, "grpc.AgentService", "GetOOMEvent", NULL, 0, 0, &s1), 0);
	uint64_t t0 = now_ns();
	assert_int_equal(ttrpc_client_recv(f->client, s1, 50000000LL, &code, &msg, &payload, &len), -ETIMEDOUT);
	assert_true(now_ns() - t0 >= 50000000ULL);

	/* The abandoned stream's answer comes late, then the next call's. */
	assert_int_equal(ttrpc_client_send(f->client, "grpc.Health", "Check", NULL, 0, 0, &s2), 0);
	peer_respond(f, s1, 0, NULL, NULL);
	peer_respond(f, s2, 5, "second", NULL);
	assert_int_equal(ttrpc_client_recv(f->client, s2, 1000000000LL, &code, &msg, &payload, &len), 0);
	assert_int_equal(code, 5);
	assert_string_equal(msg, "second");
	free(msg);
}

static void test_eof(void **state) {
	fixture *f = *state;
	uint32_t s;
	int code;
	char *msg;
	uint8_t *payload;
	size_t len;
	assert_int_equal(ttrpc_client_send(f->client, "grpc.Health", "Check", NULL, 0, 0, &s), 0);
	f->peer = safe_close(f->peer);
	assert_int_equal(ttrpc_client_recv(f->client, s, 1000000000LL, &code, &msg, &payload, &len), -EPIPE);
	assert_int_equal(ttrpc_client_send(f->client, "grpc.Health", "Check", NULL, 0, 0, &s), -EPIPE);
}

static void test_dial(void **state) {
	char dir[] = "/tmp/test-launcher-ttrpc.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128], addr[160];
	snprintf(path, sizeof path, "%s/s.sock", dir);
	snprintf(addr, sizeof addr, "unix://%s", path);

	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(l, 4), 0);
	int fd = ttrpc_client_dial(addr);
	assert_true(fd >= 0);
	close(fd);
	fd = ttrpc_client_dial(path);
	assert_true(fd >= 0);
	close(fd);
	close(l);
	unlink(path);
	rmdir(dir);

	/* Abstract names: "@name", no trailing NUL in the address length. */
	char name[64];
	snprintf(name, sizeof name, "@test-launcher-ttrpc-%d", (int)getpid());
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name))), 0);
	assert_int_equal(listen(l, 4), 0);
	snprintf(addr, sizeof addr, "unix://%s", name);
	fd = ttrpc_client_dial(addr);
	assert_true(fd >= 0);
	close(fd);
	close(l);

	assert_int_equal(ttrpc_client_dial("unix:///nonexistent/x.sock"), -ENOENT);
	assert_int_equal(ttrpc_client_dial("unix://"), -EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_and_typed_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_then_late_answer_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
		cmocka_unit_test(test_dial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
