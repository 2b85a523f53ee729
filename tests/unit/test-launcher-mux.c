/* kata-launch's client multiplexer against a scripted agent: the readiness probe, stream-id remapping for
 * clients that reuse the same ids, responses routed back out of order, a client leaving with a call pending,
 * and UNAVAILABLE for pending calls when the agent connection drops. The multiplexer runs in a child. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "health.pb-c.h"
#include "launcher/mux.h"
#include "launcher/ttrpc-client.h"
#include "proto/frame.h"
#include "ttrpc.pb-c.h"

typedef struct fixture {
	char dir[64];
	char agent_path[128], api_path[128];
	int listener;
	int agent; /* our end of the multiplexer's agent connection */
	pid_t mux;
} fixture;

typedef struct request {
	uint32_t stream;
	char method[64];
} request;

static request agent_read_request(fixture *f) {
	uint8_t hdr[TTRPC_HEADER_SIZE];
	ttrpc_header h;
	request r = {};
	assert_int_equal(read_all(f->agent, hdr, sizeof hdr), 0);
	ttrpc_header_decode(hdr, &h);
	assert_int_equal(h.type, TTRPC_TYPE_REQUEST);
	uint8_t *buf = malloc(h.length + 1);
	assert_int_equal(read_all(f->agent, buf, h.length), 0);
	Ttrpc__Request *req = ttrpc__request__unpack(NULL, h.length, buf);
	assert_non_null(req);
	r.stream = h.stream_id;
	snprintf(r.method, sizeof r.method, "%s", req->method);
	ttrpc__request__free_unpacked(req, NULL);
	free(buf);
	return r;
}

static void agent_respond(fixture *f, uint32_t stream, int code, const char *msg, const ProtobufCMessage *payload) {
	uint8_t *frame;
	size_t len;
	assert_int_equal(ttrpc_response_build(stream, code, msg, payload, &frame, &len), 0);
	assert_int_equal(write_all(f->agent, frame, len), 0);
	free(frame);
}

static void agent_answer_serving(fixture *f, uint32_t stream) {
	Grpc__HealthCheckResponse h = GRPC__HEALTH_CHECK_RESPONSE__INIT;
	h.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	agent_respond(f, stream, 0, NULL, &h.base);
}

static int setup(void **state) {
	fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/test-launcher-mux.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->agent_path, sizeof f->agent_path, "%s/agent.sock", f->dir);
	snprintf(f->api_path, sizeof f->api_path, "%s/api.sock", f->dir);

	f->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	assert_true(strlen(f->agent_path) < sizeof sa.sun_path);
	memcpy(sa.sun_path, f->agent_path, strlen(f->agent_path) + 1);
	assert_int_equal(bind(f->listener, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->listener, 4), 0);

	f->mux = fork();
	assert_true(f->mux >= 0);
	if (f->mux == 0) {
		char addr[160];
		snprintf(addr, sizeof addr, "unix://%s", f->agent_path);
		mux_config c = { .agent_address = addr, .api_path = f->api_path, .start_ns = now_ns(),
				 .ready_timeout_ns = 10 * 1000000000ULL };
		mux_result res;
		_exit(mux_run(&c, &res) < 0 ? 2 : res.ready ? 0 : 1);
	}
	f->agent = accept4(f->listener, NULL, NULL, SOCK_CLOEXEC);
	assert_true(f->agent >= 0);

	/* The readiness probe: the API socket appears only after SERVING. */
	request probe = agent_read_request(f);
	assert_string_equal(probe.method, "Check");
	assert_true(probe.stream & 1);
	assert_int_equal(access(f->api_path, F_OK), -1);
	agent_answer_serving(f, probe.stream);
	for (int i = 0; i < 200 && access(f->api_path, F_OK) < 0; i++)
		usleep(10000);
	assert_int_equal(access(f->api_path, F_OK), 0);
	*state = f;
	return 0;
}

static int teardown(void **state) {
	fixture *f = *state;
	int status;
	kill(f->mux, SIGTERM);
	assert_int_equal(waitpid(f->mux, &status, 0), f->mux);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The API socket goes with the daemon. */
	assert_int_equal(access(f->api_path, F_OK), -1);
	if (f->agent >= 0)
		close(f->agent);
	close(f->listener);
	unlink(f->agent_path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static ttrpc_client *client(fixture *f) {
	ttrpc_client *c = NULL;
	assert_int_equal(ttrpc_client_connect(f->api_path, &c), 0);
	return c;
}

static void expect_code(ttrpc_client *c, uint32_t stream, int want_code, const char *want_msg) {
	int code;
	char *msg = NULL;
	uint8_t *payload = NULL;
	size_t len;
	assert_int_equal(ttrpc_client_recv(c, stream, 5000000000LL, &code, &msg, &payload, &len), 0);
	assert_int_equal(code, want_code);
	if (want_msg)
		assert_string_equal(msg, want_msg);
	free(msg);
	free(payload);
}

static void test_remap_two_clients(void **state) {
	fixture *f = *state;
	ttrpc_client *a = client(f), *b = client(f);
	uint32_t sa, sb;

	/* Both clients use stream 1: the agent must see two different ids. */
	assert_int_equal(ttrpc_client_send(a, "grpc.AgentService", "GetOOMEvent", NULL, 0, 0, &sa), 0);
	request ra = agent_read_request(f);
	assert_int_equal(ttrpc_client_send(b, "grpc.Health", "Check", NULL, 0, 0, &sb), 0);
	request rb = agent_read_request(f);
	assert_int_equal(sa, 1);
	assert_int_equal(sb, 1);
	assert_string_equal(ra.method, "GetOOMEvent");
	assert_string_equal(rb.method, "Check");
	assert_int_not_equal(ra.stream, rb.stream);
	assert_true(ra.stream & 1);
	assert_true(rb.stream & 1);

	/* b's answer goes first, while a's long poll stays pending. */
	agent_respond(f, rb.stream, 7, "for b", NULL);
	expect_code(b, sb, 7, "for b");
	agent_respond(f, ra.stream, 5, "for a", NULL);
	expect_code(a, sa, 5, "for a");
	ttrpc_client_free(a);
	ttrpc_client_free(b);
}

static void test_client_leaves_with_call_pending(void **state) {
	fixture *f = *state;
	ttrpc_client *a = client(f), *b = client(f);
	uint32_t sa, sb;

	assert_int_equal(ttrpc_client_send(a, "grpc.AgentService", "GetOOMEvent", NULL, 0, 0, &sa), 0);
	request ra = agent_read_request(f);
	ttrpc_client_free(a);
	usleep(50000);
	/* Its late answer is dropped; b is served as usual. */
	agent_respond(f, ra.stream, 0, NULL, NULL);
	assert_int_equal(ttrpc_client_send(b, "grpc.Health", "Check", NULL, 0, 0, &sb), 0);
	request rb = agent_read_request(f);
	agent_answer_serving(f, rb.stream);
	expect_code(b, sb, 0, NULL);
	ttrpc_client_free(b);
}

static void test_agent_drop_fails_pending(void **state) {
	fixture *f = *state;
	ttrpc_client *a = client(f);
	uint32_t sa;

	assert_int_equal(ttrpc_client_send(a, "grpc.AgentService", "GetOOMEvent", NULL, 0, 0, &sa), 0);
	(void)agent_read_request(f);
	f->agent = safe_close(f->agent);
	expect_code(a, sa, 14, "agent connection lost");
	ttrpc_client_free(a);
	/* Standalone (no QEMU), the multiplexer ends when its agent goes: teardown checks it exited cleanly. */
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_remap_two_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_leaves_with_call_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_drop_fails_pending, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
