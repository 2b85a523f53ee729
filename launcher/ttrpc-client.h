/* A small blocking ttRPC client over one connected stream socket, for kata-launch and the tests.
 *
 * Calls are unary. Several may be outstanding from one thread: ttrpc_client_send() returns the stream id,
 * ttrpc_client_recv() waits for that stream's response and buffers responses for the other outstanding
 * streams as they arrive. Responses for streams nobody waits for (abandoned after a timeout) are dropped.
 * No globals: every piece of state lives in the ttrpc_client. */
#pragma once

#include <stdint.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "common/macro.h"

typedef struct ttrpc_client ttrpc_client;

/* Connects a stream socket to "unix:///path", "unix://@abstract", "unix://path" or a plain path
 * (a leading '@' means the abstract namespace). Returns the fd (close-on-exec) or -errno. */
int ttrpc_client_dial(const char *address);

/* Wraps a connected socket; takes ownership of fd (also on failure). */
int ttrpc_client_new(int fd, ttrpc_client **ret);
/* ttrpc_client_dial() + ttrpc_client_new(). */
int ttrpc_client_connect(const char *address, ttrpc_client **ret);
ttrpc_client *ttrpc_client_free(ttrpc_client *c);
DEFINE_CLEANUP_FUNC(ttrpc_client *, ttrpc_client_free);

int ttrpc_client_fd(const ttrpc_client *c);

/* Sends one request; timeout_ns > 0 travels as timeout_nano. Returns the (odd) stream id in *ret_stream. */
int ttrpc_client_send(ttrpc_client *c, const char *service, const char *method, const uint8_t *payload,
		      size_t payload_len, int64_t timeout_ns, uint32_t *ret_stream);

/* Waits up to wait_ns (<= 0: forever) for the response of stream. On success *ret_code holds the status
 * code, *ret_msg its message (malloc'd, NULL when OK) and *ret_payload and *ret_len the payload (NULL/0 when
 * empty). -ETIMEDOUT abandons the stream (a late response is dropped); -EPIPE when the peer closed;
 * -ENOENT when stream is not outstanding; -EBADMSG for an undecodable response. */
int ttrpc_client_recv(ttrpc_client *c, uint32_t stream, int64_t wait_ns, int *ret_code, char **ret_msg,
		      uint8_t **ret_payload, size_t *ret_len);

/* ttrpc_client_recv() without moving the payload out of the frame it came in, for bulk replies decoded in place
 * (ttrpc_message_find_bytes): *ret_frame is the received frame (caller frees; NULL when empty) and
 * *ret_payload, *ret_len the payload inside it. */
int ttrpc_client_recv_frame(ttrpc_client *c, uint32_t stream, int64_t wait_ns, int *ret_code, char **ret_msg,
			    uint8_t **ret_frame, const uint8_t **ret_payload, size_t *ret_len);

/* send + recv. The local wait is timeout_ns plus a grace second, so the server's own deadline answer wins. */
int ttrpc_client_call_raw(ttrpc_client *c, const char *service, const char *method, const uint8_t *payload,
			  size_t payload_len, int64_t timeout_ns, uint8_t **ret_payload, size_t *ret_len,
			  int *ret_code, char **ret_msg);

/* Packs req, calls, and unpacks the response with resp_desc (only when the code is OK; *ret_resp is then
 * a message to free with protobuf_c_message_free_unpacked, never NULL). */
int ttrpc_client_call(ttrpc_client *c, const char *service, const char *method, const ProtobufCMessage *req,
		      const ProtobufCMessageDescriptor *resp_desc, int64_t timeout_ns, ProtobufCMessage **ret_resp,
		      int *ret_code, char **ret_msg);
