/* The ttRPC frame codec shared by the agent (server) and kata-launch and the tests (clients).
 *
 * A frame is a 10-byte big-endian header {length u32, stream_id u32, type u8, flags u8} followed by
 * `length` payload bytes. Requests carry a ttrpc.Request, responses a ttrpc.Response. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ttrpc.pb-c.h"

#define TTRPC_HEADER_SIZE 10u
#define TTRPC_MAX_FRAME (4u << 20)

enum {
	TTRPC_TYPE_REQUEST = 1,
	TTRPC_TYPE_RESPONSE = 2,
	TTRPC_TYPE_DATA = 3,
};

typedef struct ttrpc_header {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
} ttrpc_header;

void ttrpc_header_encode(const ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE]);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], ttrpc_header *ret);

/* Incremental frame reader. Feed it whatever bytes arrived; it reports whole frames, and frames whose
 * declared length is over the cap (their payload is then discarded as it arrives, without buffering). */
typedef enum ttrpc_read_event {
	TTRPC_READ_MORE,     /* all input consumed, no complete frame yet */
	TTRPC_READ_FRAME,    /* r->header and r->payload hold a frame; take or release the payload */
	TTRPC_READ_OVERSIZE, /* r->header holds an oversized frame's header; its payload will be skipped */
} ttrpc_read_event;

typedef struct ttrpc_reader {
	uint32_t max_frame;
	ttrpc_header header;
	uint8_t hdr[TTRPC_HEADER_SIZE];
	size_t hdr_len;
	uint8_t *payload; /* malloc'd, header.length bytes (NULL when length is 0) */
	size_t payload_len;
	uint32_t skip;    /* bytes of an oversized frame still to discard */
	bool in_payload;
} ttrpc_reader;

void ttrpc_reader_init(ttrpc_reader *r, uint32_t max_frame);
/* Resets to a frame boundary, dropping any partial frame. */
void ttrpc_reader_reset(ttrpc_reader *r);
/* Consumes up to len bytes; *ret_consumed says how many. Call again with the rest until it returns
 * TTRPC_READ_MORE. Returns -ENOMEM when the payload buffer cannot be allocated. */
int ttrpc_reader_feed(ttrpc_reader *r, const uint8_t *buf, size_t len, size_t *ret_consumed,
		      ttrpc_read_event *ret_event);
/* True when the reader sits inside a header: some but not all of its 10 bytes have arrived. */
bool ttrpc_reader_mid_header(const ttrpc_reader *r);
/* True when the reader holds nothing of a frame. */
bool ttrpc_reader_idle(const ttrpc_reader *r);
/* Hands out the payload of the last TTRPC_READ_FRAME (caller frees). */
uint8_t *ttrpc_reader_take_payload(ttrpc_reader *r);
/* Reading straight into the payload, for a caller with bulk frames (a 1 MiB ReadStdout reply) that would
 * otherwise read into a buffer of its own and have feed copy it: how many bytes of the current payload are
 * still missing and where they go (0 when the reader is not inside a payload). */
size_t ttrpc_reader_payload_gap(const ttrpc_reader *r, uint8_t **ret_dst);
/* Counts n (<= the gap) bytes written there; TTRPC_READ_FRAME once the payload is whole, as from feed. */
ttrpc_read_event ttrpc_reader_payload_add(ttrpc_reader *r, size_t n);

/* Builds one whole frame (header + payload) in a new buffer. */
int ttrpc_frame_build(uint32_t stream_id, uint8_t type, const uint8_t *payload, size_t len, uint8_t **ret,
		      size_t *ret_len);

/* Frames a ttrpc.Response: status code 0 sends no status field (as the Go server does); a non-zero code
 * sends Status{code, message} and no payload. */
int ttrpc_response_build(uint32_t stream_id, int code, const char *message, const ProtobufCMessage *payload,
			 uint8_t **ret, size_t *ret_len);
/* The same successful Response in two steps, for a caller that brings its own buffer: the whole frame's
 * size (-EMSGSIZE over the frame limit), then the frame packed into buf, which holds at least that. */
int ttrpc_response_frame_size(const ProtobufCMessage *payload, size_t *ret_len);
void ttrpc_response_pack(uint32_t stream_id, const ProtobufCMessage *payload, uint8_t *buf);
/* A successful Response whose payload is a message made of one bytes field (ReadStreamResponse.data), framed
 * where its n bytes already lie, so they are never copied: writes the frame header, the Response envelope and
 * the field's key and length into the bytes just before data, and returns how many it wrote (at most
 * TTRPC_DATA_HEADER_MAX; the caller sends from data minus that). field is 1..15 and 0 < n <= TTRPC_MAX_FRAME
 * minus TTRPC_DATA_HEADER_MAX. Byte for byte what ttrpc_response_build() makes of the same message. */
#define TTRPC_DATA_HEADER_MAX (TTRPC_HEADER_SIZE + 2 * (1 + 5))
size_t ttrpc_response_data_header(uint32_t stream_id, uint32_t field, size_t n, uint8_t *data);
/* Finds the last bytes (length-delimited) field `field` of an encoded message without copying it, walking
 * and checking every field on the way. Returns 1 with *ret / *ret_len set, 0 when the message has no such
 * field (*ret NULL, *ret_len 0), -EBADMSG for a truncated or malformed message or a field `field` of another
 * wire type. */
int ttrpc_message_find_bytes(const uint8_t *msg, size_t len, uint32_t field, const uint8_t **ret, size_t *ret_len);

/* Frames a ttrpc.Request for service/method with an encoded message; timeout_nano 0 leaves it out. */
int ttrpc_request_build(uint32_t stream_id, const char *service, const char *method,
			const ProtobufCMessage *payload, int64_t timeout_nano, uint8_t **ret, size_t *ret_len);

/* Same, with an already-encoded payload. */
int ttrpc_request_build_raw(uint32_t stream_id, const char *service, const char *method, const uint8_t *payload,
			    size_t payload_len, int64_t timeout_nano, uint8_t **ret, size_t *ret_len);
int ttrpc_response_build_raw(uint32_t stream_id, int code, const char *message, const uint8_t *payload,
			     size_t payload_len, uint8_t **ret, size_t *ret_len);

/* Status code names, "OK" .. "UNAUTHENTICATED"; "UNKNOWN_CODE" out of range. */
const char *ttrpc_code_name(int code);
