/* Protobuf messages <-> JSON through protobuf-c descriptors and json-c, for `kata-launch ctl`.
 *
 * Input accepts the proto field name and its lowerCamelCase JSON name (`mem_block_size` or `memBlockSize`;
 * names that are capitalised in the proto, like `OCI` or `Sec`, also match with a lower-case first letter),
 * nested messages, arrays for repeated fields, JSON objects for map fields, base64 for bytes, enums by name or
 * number, 64-bit integers as numbers or strings, and oneof members (at most one per oneof). `null` leaves a
 * field unset. An unknown field or a value of the wrong type is an error naming the field path.
 *
 * Output uses proto field names and prints the fields that are set: proto3 scalars at their default value,
 * empty repeated fields and absent messages are left out unless PBJSON_EMIT_DEFAULTS is given. Enums print by
 * name (the number when it has no name), bytes as base64, maps as objects, and 64-bit integers as JSON
 * numbers. */
#pragma once

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>

#include "common/error.h"

enum {
	PBJSON_EMIT_DEFAULTS = 1 << 0,
};

/* Builds a message of type desc from a JSON object. Free the result with protobuf_c_message_free_unpacked(m, NULL). */
int pbjson_to_message(const ProtobufCMessageDescriptor *desc, struct json_object *obj, ProtobufCMessage **ret,
		      kc_error *err);
/* Same from JSON text. */
int pbjson_parse_message(const ProtobufCMessageDescriptor *desc, const char *text, ProtobufCMessage **ret,
			 kc_error *err);

/* Converts a message to a new JSON object (caller puts it with json_object_put). */
int pbjson_from_message(const ProtobufCMessage *msg, int flags, struct json_object **ret);

/* Base64 (RFC 4648; the URL-safe alphabet and missing padding are accepted on input). */
int pbjson_base64_decode(const char *s, uint8_t **ret, size_t *ret_len);
int pbjson_base64_encode(const uint8_t *data, size_t len, char **ret);
