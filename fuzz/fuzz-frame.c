/* The agent's input path for one connection: the frame reader over arbitrarily split input, the
 * ttrpc.Request envelope, and the request message of whichever method the envelope names; for responses, the
 * client's in-place decoding against protobuf-c's. The first input
 * byte picks the split size so the fuzzer explores partial reads too. */
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "proto/frame.h"

static void decode_request(const uint8_t *p, size_t len) {
	Ttrpc__Request *req = ttrpc__request__unpack(NULL, len, p);
	if (!req)
		return;
	const ProtobufCServiceDescriptor *svcs[] = { &grpc__agent_service__descriptor, &grpc__health__descriptor };
	for (size_t i = 0; i < 2; i++) {
		if (strcmp(svcs[i]->name, req->service) != 0)
			continue;
		const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(svcs[i], req->method);
		if (!m)
			break;
		ProtobufCMessage *msg = protobuf_c_message_unpack(m->input, NULL, req->payload.len, req->payload.data);
		if (msg) {
			/* Re-encoding must work for anything that decoded. */
			size_t n = protobuf_c_message_get_packed_size(msg);
			uint8_t *out = malloc(n ? n : 1);
			if (out)
				(void)protobuf_c_message_pack(msg, out);
			free(out);
			protobuf_c_message_free_unpacked(msg, NULL);
		}
	}
	ttrpc__request__free_unpacked(req, NULL);
}

/* The client's in-place decoding of a reply (ttrpc_message_find_bytes) against protobuf-c's: whatever protobuf-c
 * decodes, it decodes too, to the same bytes. */
static void decode_reply(const uint8_t *p, size_t len) {
	const uint8_t *b;
	size_t n;
	Ttrpc__Response *resp = ttrpc__response__unpack(NULL, len, p);
	if (resp) {
		if (ttrpc_message_find_bytes(p, len, 2, &b, &n) < 0 || n != resp->payload.len ||
		    (n && memcmp(b, resp->payload.data, n) != 0))
			abort();
		ttrpc__response__free_unpacked(resp, NULL);
	}
	Grpc__ReadStreamResponse *rs = grpc__read_stream_response__unpack(NULL, len, p);
	if (rs) {
		if (ttrpc_message_find_bytes(p, len, 1, &b, &n) < 0 || n != rs->data.len ||
		    (n && memcmp(b, rs->data.data, n) != 0))
			abort();
		grpc__read_stream_response__free_unpacked(rs, NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	ttrpc_reader r;
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	/* A small cap so oversize handling is reached with small inputs. */
	ttrpc_reader_init(&r, 4096);
	for (size_t off = 0; off < size;) {
		size_t chunk = step < size - off ? step : size - off, done = 0;
		while (done < chunk) {
			size_t used;
			ttrpc_read_event ev;
			if (ttrpc_reader_feed(&r, data + off + done, chunk - done, &used, &ev) < 0)
				break;
			done += used;
			if (ev == TTRPC_READ_FRAME) {
				uint8_t *p = ttrpc_reader_take_payload(&r);
				if (r.header.type == TTRPC_TYPE_REQUEST)
					decode_request(p, r.header.length);
				else if (r.header.type == TTRPC_TYPE_RESPONSE)
					decode_reply(p, r.header.length);
				free(p);
			}
		}
		off += chunk;
	}
	ttrpc_reader_reset(&r);
	return 0;
}
