/* Drives container calls that a one-call-per-connection client cannot, for tests/integration/test-containers.sh:
 *   containers-driver ADDR read CID EID     ReadStdout (1 MiB at a time) until EOF, the bytes to stdout
 *   containers-driver ADDR readerr CID EID  the same with ReadStderr
 *   containers-driver ADDR pending CID      on one connection: WaitProcess and three ReadStdout pending, then
 *                                           Check answered meanwhile, WriteStdin "hi\n", then the reads carry
 *                                           "got hi\n" and EOF and the wait 7; prints "ok" or what differed
 *   containers-driver ADDR stdin CID N      N WriteStdin calls of 1 MiB (chunk k filled with 'A' + k % 26), each
 *                                           reply's len checked, then an empty write closes stdin
 *   containers-driver ADDR leave CID        WaitProcess and ReadStdout sent, then the connection closed
 *   containers-driver ADDR readahead CID EID
 *                                           like read, with READ_AHEAD ReadStdout calls of 1 MiB in flight and a
 *                                           pause before each reply is taken, so the agent's replies fill the
 *                                           socket (its splice from the pipe stops part way and the rest is
 *                                           copied): the bytes to stdout in the order of the calls */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "launcher/ttrpc-client.h"

#define SEC 1000000000LL
#define SVC "grpc.AgentService"

static int send_msg(ttrpc_client *c, const char *svc, const char *method, const ProtobufCMessage *m, uint32_t *ret) {
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return -1;
	protobuf_c_message_pack(m, buf);
	int r = ttrpc_client_send(c, svc, method, buf, n, 0, ret);
	free(buf);
	return r;
}

/* Receives stream's response and unpacks it with desc; NULL on any failure (printed). */
static ProtobufCMessage *recv_msg(ttrpc_client *c, uint32_t stream, int64_t wait, const ProtobufCMessageDescriptor *desc,
				  const char *what) {
	int code = 0;
	char *msg = NULL;
	uint8_t *payload = NULL;
	size_t len = 0;
	int r = ttrpc_client_recv(c, stream, wait, &code, &msg, &payload, &len);
	if (r < 0 || code != 0) {
		printf("%s: r=%d code=%d %s\n", what, r, code, msg ? msg : "");
		free(msg);
		free(payload);
		return NULL;
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, payload);
	free(payload);
	if (!m)
		printf("%s: undecodable\n", what);
	return m;
}

static int do_read(ttrpc_client *c, const char *method, const char *cid, const char *eid) {
	for (;;) {
		Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
		req.container_id = (char *)cid;
		req.exec_id = (char *)eid;
		req.len = 1u << 20;
		uint32_t s;
		if (send_msg(c, SVC, method, &req.base, &s) < 0)
			return 1;
		Grpc__ReadStreamResponse *resp =
			(Grpc__ReadStreamResponse *)recv_msg(c, s, 30 * SEC, &grpc__read_stream_response__descriptor, "read");
		if (!resp)
			return 1;
		size_t n = resp->data.len;
		if (n)
			fwrite(resp->data.data, 1, n, stdout);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		if (!n)
			return 0;
	}
}

#define READ_AHEAD 4

static int send_read(ttrpc_client *c, const char *cid, const char *eid, uint32_t *ret) {
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	req.container_id = (char *)cid;
	req.exec_id = (char *)eid;
	req.len = 1u << 20;
	return send_msg(c, SVC, "ReadStdout", &req.base, ret);
}

static int do_readahead(ttrpc_client *c, const char *cid, const char *eid) {
	uint32_t s[READ_AHEAD];
	bool eof = false;
	for (size_t i = 0; i < READ_AHEAD; i++)
		if (send_read(c, cid, eid, &s[i]) < 0)
			return 1;
	/* Replies come oldest call first; after EOF every call left is answered empty too. */
	for (size_t k = 0, left = READ_AHEAD; left > 0; k++, left--) {
		struct timespec pause = { .tv_nsec = 2 * 1000 * 1000 };
		(void)nanosleep(&pause, NULL);
		Grpc__ReadStreamResponse *resp = (Grpc__ReadStreamResponse *)recv_msg(
			c, s[k % READ_AHEAD], 30 * SEC, &grpc__read_stream_response__descriptor, "readahead");
		if (!resp)
			return 1;
		size_t n = resp->data.len;
		if (n && eof) {
			printf("readahead: %zu bytes after EOF\n", n);
			return 1;
		}
		if (n)
			fwrite(resp->data.data, 1, n, stdout);
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		eof |= n == 0;
		if (!eof) {
			if (send_read(c, cid, eid, &s[k % READ_AHEAD]) < 0)
				return 1;
			left++;
		}
	}
	return 0;
}

static int do_pending(ttrpc_client *c, const char *cid) {
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__ReadStreamRequest rd = GRPC__READ_STREAM_REQUEST__INIT;
	Grpc__CheckRequest chk = GRPC__CHECK_REQUEST__INIT;
	Grpc__WriteStreamRequest wr = GRPC__WRITE_STREAM_REQUEST__INIT;
	uint32_t sw, sr[3], sc, swr;
	char out[256] = "";

	w.container_id = w.exec_id = rd.container_id = rd.exec_id = wr.container_id = wr.exec_id = (char *)cid;
	rd.len = 100;
	if (send_msg(c, SVC, "WaitProcess", &w.base, &sw) < 0)
		return 1;
	for (int i = 0; i < 3; i++)
		if (send_msg(c, SVC, "ReadStdout", &rd.base, &sr[i]) < 0)
			return 1;
	if (send_msg(c, "grpc.Health", "Check", &chk.base, &sc) < 0)
		return 1;
	ProtobufCMessage *m = recv_msg(c, sc, 5 * SEC, &grpc__health_check_response__descriptor, "Check");
	if (!m)
		return 1;
	protobuf_c_message_free_unpacked(m, NULL);
	wr.data.data = (uint8_t *)"hi\n";
	wr.data.len = 3;
	if (send_msg(c, SVC, "WriteStdin", &wr.base, &swr) < 0)
		return 1;
	Grpc__WriteStreamResponse *wresp =
		(Grpc__WriteStreamResponse *)recv_msg(c, swr, 10 * SEC, &grpc__write_stream_response__descriptor, "WriteStdin");
	if (!wresp)
		return 1;
	if (wresp->len != 3) {
		printf("WriteStdin len %u\n", wresp->len);
		return 1;
	}
	protobuf_c_message_free_unpacked(&wresp->base, NULL);
	/* The reads are answered in order: the data, then EOF for the rest. */
	for (int i = 0; i < 3; i++) {
		Grpc__ReadStreamResponse *r =
			(Grpc__ReadStreamResponse *)recv_msg(c, sr[i], 10 * SEC, &grpc__read_stream_response__descriptor, "ReadStdout");
		if (!r)
			return 1;
		size_t have = strlen(out);
		if (r->data.len && r->data.len < sizeof out - have - 1) {
			memcpy(out + have, r->data.data, r->data.len);
			out[have + r->data.len] = '\0';
		}
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	Grpc__WaitProcessResponse *wp =
		(Grpc__WaitProcessResponse *)recv_msg(c, sw, 10 * SEC, &grpc__wait_process_response__descriptor, "WaitProcess");
	if (!wp)
		return 1;
	int status = wp->status;
	protobuf_c_message_free_unpacked(&wp->base, NULL);
	if (strcmp(out, "got hi\n") != 0 || status != 7) {
		printf("output `%s`, status %d\n", out, status);
		return 1;
	}
	printf("ok\n");
	return 0;
}

static int do_stdin(ttrpc_client *c, const char *cid, int n) {
	static uint8_t chunk[1 << 20];
	for (int k = 0; k <= n; k++) {
		Grpc__WriteStreamRequest wr = GRPC__WRITE_STREAM_REQUEST__INIT;
		wr.container_id = wr.exec_id = (char *)cid;
		memset(chunk, 'A' + k % 26, sizeof chunk);
		wr.data.data = chunk;
		wr.data.len = k < n ? sizeof chunk : 0; /* the last one closes stdin */
		uint32_t s;
		if (send_msg(c, SVC, "WriteStdin", &wr.base, &s) < 0)
			return 1;
		Grpc__WriteStreamResponse *resp =
			(Grpc__WriteStreamResponse *)recv_msg(c, s, 30 * SEC, &grpc__write_stream_response__descriptor, "WriteStdin");
		if (!resp)
			return 1;
		if (resp->len != wr.data.len) {
			printf("WriteStdin %d: len %u, sent %zu\n", k, resp->len, wr.data.len);
			return 1;
		}
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	return 0;
}

static int do_leave(ttrpc_client *c, const char *cid) {
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	Grpc__ReadStreamRequest rd = GRPC__READ_STREAM_REQUEST__INIT;
	uint32_t s1, s2;
	w.container_id = w.exec_id = rd.container_id = rd.exec_id = (char *)cid;
	rd.len = 100;
	if (send_msg(c, SVC, "WaitProcess", &w.base, &s1) < 0 || send_msg(c, SVC, "ReadStdout", &rd.base, &s2) < 0)
		return 1;
	return 0; /* the connection closes with the client */
}

int main(int argc, char **argv) {
	_cleanup_(ttrpc_client_freep) ttrpc_client *c = NULL;
	if (argc < 4) {
		fprintf(stderr, "usage: containers-driver ADDR read CID EID | ADDR pending CID\n");
		return 2;
	}
	int r = ttrpc_client_connect(argv[1], &c);
	if (r < 0) {
		fprintf(stderr, "connect %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	if (strcmp(argv[2], "read") == 0 && argc == 5)
		return do_read(c, "ReadStdout", argv[3], argv[4]);
	if (strcmp(argv[2], "readerr") == 0 && argc == 5)
		return do_read(c, "ReadStderr", argv[3], argv[4]);
	if (strcmp(argv[2], "pending") == 0)
		return do_pending(c, argv[3]);
	if (strcmp(argv[2], "stdin") == 0 && argc == 5)
		return do_stdin(c, argv[3], atoi(argv[4]));
	if (strcmp(argv[2], "readahead") == 0 && argc == 5)
		return do_readahead(c, argv[3], argv[4]);
	if (strcmp(argv[2], "leave") == 0)
		return do_leave(c, argv[3]);
	fprintf(stderr, "unknown mode `%s`\n", argv[2]);
	return 2;
}
