/* kata-launch's protobuf <-> JSON conversion and method lookup, against the real agent descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "launcher/json.h"
#include "launcher/methods.h"
#include "oci.pb-c.h"
#include "types.pb-c.h"

static ProtobufCMessage *parse_ok(const ProtobufCMessageDescriptor *d, const char *text) {
	kc_error err = {};
	ProtobufCMessage *m = NULL;
	int r = pbjson_parse_message(d, text, &m, &err);
	if (r < 0)
		fail_msg("parse of %s failed: %d %s", text, r, err.msg);
	assert_non_null(m);
	return m;
}

/* Parses text expecting failure, and checks the message mentions needle. */
static void parse_fails(const ProtobufCMessageDescriptor *d, const char *text, const char *needle) {
	kc_error err = {};
	ProtobufCMessage *m = NULL;
	int r = pbjson_parse_message(d, text, &m, &err);
	if (r >= 0)
		fail_msg("parse of %s succeeded, expected an error with `%s`", text, needle);
	assert_null(m);
	if (!strstr(err.msg, needle))
		fail_msg("error `%s` does not mention `%s`", err.msg, needle);
}

/* The message printed as compact JSON (json-c keeps insertion order, which is field-number order). */
static char *to_json(const ProtobufCMessage *m, int flags) {
	struct json_object *o = NULL;
	assert_int_equal(pbjson_from_message(m, flags, &o), 0);
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static void free_msg(ProtobufCMessage *m) {
	protobuf_c_message_free_unpacked(m, NULL);
}

static void test_round_trip_nested(void **state) {
	const char *in = "{\"mem_block_size_bytes\":134217728,\"agent_details\":{\"version\":\"0.1.0\",\"init_daemon\":true,"
			 "\"device_handlers\":[\"blk\",\"scsi\"]},\"support_mem_hotplug_probe\":true}";
	ProtobufCMessage *m = parse_ok(&grpc__guest_details_response__descriptor, in);
	Grpc__GuestDetailsResponse *g = (Grpc__GuestDetailsResponse *)m;
	assert_int_equal(g->mem_block_size_bytes, 134217728);
	assert_non_null(g->agent_details);
	assert_true(g->agent_details->init_daemon);
	assert_int_equal(g->agent_details->n_device_handlers, 2);
	assert_string_equal(g->agent_details->device_handlers[1], "scsi");

	char *out = to_json(m, 0);
	assert_string_equal(out, in);

	/* Through the wire and back: the JSON must survive protobuf encoding unchanged. */
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len);
	protobuf_c_message_pack(m, buf);
	ProtobufCMessage *m2 = protobuf_c_message_unpack(&grpc__guest_details_response__descriptor, NULL, len, buf);
	assert_non_null(m2);
	char *out2 = to_json(m2, 0);
	assert_string_equal(out2, in);
	free(out2);
	free_msg(m2);
	free(buf);
	free(out);
	free_msg(m);
}

static void test_defaults_omitted_or_emitted(void **state) {
	ProtobufCMessage *m = parse_ok(&grpc__guest_details_response__descriptor, "{}");
	char *out = to_json(m, 0);
	assert_string_equal(out, "{}");
	free(out);
	out = to_json(m, PBJSON_EMIT_DEFAULTS);
	assert_string_equal(out, "{\"mem_block_size_bytes\":0,\"agent_details\":{},\"support_mem_hotplug_probe\":false}");
	free(out);
	free_msg(m);
}

static void test_camel_case_names(void **state) {
	ProtobufCMessage *m = parse_ok(&grpc__guest_details_request__descriptor,
				       "{\"memBlockSize\":true,\"mem_hotplug_probe\":true}");
	Grpc__GuestDetailsRequest *r = (Grpc__GuestDetailsRequest *)m;
	assert_true(r->mem_block_size);
	assert_true(r->mem_hotplug_probe);
	free_msg(m);

	/* Names already capitalised in the proto: exact and with a lower-case first letter. */
	m = parse_ok(&grpc__set_guest_date_time_request__descriptor, "{\"Sec\":5,\"usec\":\"7\"}");
	Grpc__SetGuestDateTimeRequest *t = (Grpc__SetGuestDateTimeRequest *)m;
	assert_int_equal(t->sec, 5);
	assert_int_equal(t->usec, 7);
	char *out = to_json(m, 0);
	assert_string_equal(out, "{\"Sec\":5,\"Usec\":7}");
	free(out);
	free_msg(m);

	m = parse_ok(&types__interface__descriptor,
		     "{\"ipAddresses\":[{\"family\":\"v6\",\"address\":\"::1\"}],\"hwAddr\":\"02:00\",\"rawFlags\":3}");
	Types__Interface *i = (Types__Interface *)m;
	assert_int_equal(i->n_ipaddresses, 1);
	assert_int_equal(i->ipaddresses[0]->family, TYPES__IPFAMILY__v6);
	assert_string_equal(i->hwaddr, "02:00");
	assert_int_equal(i->raw_flags, 3);
	free_msg(m);

	m = parse_ok(&grpc__create_container_request__descriptor, "{\"oci\":{\"version\":\"1\"}}");
	assert_non_null(((Grpc__CreateContainerRequest *)m)->oci);
	free_msg(m);
}

static void test_int64_from_strings_and_numbers(void **state) {
	ProtobufCMessage *m = parse_ok(&grpc__mem_hotplug_by_probe_request__descriptor,
				       "{\"memHotplugProbeAddr\":[\"18446744073709551615\",1,\"4294967296\"]}");
	Grpc__MemHotplugByProbeRequest *r = (Grpc__MemHotplugByProbeRequest *)m;
	assert_int_equal(r->n_memhotplugprobeaddr, 3);
	assert_true(r->memhotplugprobeaddr[0] == UINT64_MAX);
	assert_int_equal(r->memhotplugprobeaddr[2], 4294967296ULL);
	char *out = to_json(m, 0);
	assert_string_equal(out, "{\"memHotplugProbeAddr\":[18446744073709551615,1,4294967296]}");
	free(out);
	free_msg(m);

	m = parse_ok(&grpc__set_guest_date_time_request__descriptor, "{\"Sec\":-9223372036854775808}");
	assert_true(((Grpc__SetGuestDateTimeRequest *)m)->sec == INT64_MIN);
	free_msg(m);
}

static void test_maps(void **state) {
	ProtobufCMessage *m = parse_ok(&grpc__spec__descriptor,
				       "{\"Version\":\"1.0.2\",\"annotations\":{\"a\":\"1\",\"io.kata\":\"x y\"}}");
	Grpc__Spec *s = (Grpc__Spec *)m;
	assert_string_equal(s->version, "1.0.2");
	assert_int_equal(s->n_annotations, 2);
	assert_string_equal(s->annotations[0]->key, "a");
	assert_string_equal(s->annotations[1]->value, "x y");
	char *out = to_json(m, 0);
	assert_string_equal(out, "{\"Version\":\"1.0.2\",\"Annotations\":{\"a\":\"1\",\"io.kata\":\"x y\"}}");
	free(out);
	free_msg(m);

	/* map<string, uint64>: values converted with the value field's type. */
	m = parse_ok(&grpc__memory_stats__descriptor, "{\"stats\":{\"cache\":\"12\",\"rss\":34}}");
	Grpc__MemoryStats *ms = (Grpc__MemoryStats *)m;
	assert_int_equal(ms->n_stats, 2);
	out = to_json(m, 0);
	assert_string_equal(out, "{\"stats\":{\"cache\":12,\"rss\":34}}");
	free(out);
	free_msg(m);

	parse_fails(&grpc__memory_stats__descriptor, "{\"stats\":{\"cache\":\"x\"}}", "stats: cache:");
}

static void test_bytes_base64(void **state) {
	ProtobufCMessage *m = parse_ok(&grpc__copy_file_request__descriptor,
				       "{\"path\":\"/run/x\",\"data\":\"aGVsbG8=\",\"fileSize\":\"5\"}");
	Grpc__CopyFileRequest *c = (Grpc__CopyFileRequest *)m;
	assert_int_equal(c->data.len, 5);
	assert_memory_equal(c->data.data, "hello", 5);
	assert_int_equal(c->file_size, 5);
	char *out = to_json(m, 0);
	assert_string_equal(out, "{\"path\":\"/run/x\",\"file_size\":5,\"data\":\"aGVsbG8=\"}");
	free(out);
	free_msg(m);

	/* URL-safe alphabet without padding decodes the same bytes. */
	m = parse_ok(&grpc__copy_file_request__descriptor, "{\"data\":\"-_8\"}");
	c = (Grpc__CopyFileRequest *)m;
	assert_int_equal(c->data.len, 2);
	assert_int_equal(c->data.data[0], 0xfb);
	assert_int_equal(c->data.data[1], 0xff);
	free_msg(m);

	parse_fails(&grpc__copy_file_request__descriptor, "{\"data\":\"a*==\"}", "data: invalid base64");
	parse_fails(&grpc__copy_file_request__descriptor, "{\"data\":12}", "data: expected a base64 string");
}

static void test_enums(void **state) {
	ProtobufCMessage *m = parse_ok(&grpc__health_check_response__descriptor, "{\"status\":\"SERVING\"}");
	assert_int_equal(((Grpc__HealthCheckResponse *)m)->status, GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
	char *out = to_json(m, 0);
	assert_string_equal(out, "{\"status\":\"SERVING\"}");
	free(out);
	free_msg(m);

	m = parse_ok(&grpc__health_check_response__descriptor, "{\"status\":2}");
	out = to_json(m, 0);
	assert_string_equal(out, "{\"status\":\"NOT_SERVING\"}");
	free(out);
	free_msg(m);

	/* Open enums: a number without a name travels and prints as the number. */
	m = parse_ok(&grpc__health_check_response__descriptor, "{\"status\":7}");
	out = to_json(m, 0);
	assert_string_equal(out, "{\"status\":7}");
	free(out);
	free_msg(m);

	parse_fails(&grpc__health_check_response__descriptor, "{\"status\":\"BUSY\"}", "not a value of enum");
}

static void test_oneof(void **state) {
	ProtobufCMessage *m = parse_ok(&grpc__mem_agent_memcg_config__descriptor,
				       "{\"disabled\":false,\"swappinessMax\":3,\"period_secs\":\"60\"}");
	Grpc__MemAgentMemcgConfig *c = (Grpc__MemAgentMemcgConfig *)m;
	assert_int_equal(c->_disabled_case, GRPC__MEM_AGENT_MEMCG_CONFIG___DISABLED_DISABLED);
	assert_int_equal(c->swappiness_max, 3);
	assert_int_equal(c->_swap_case, 0);
	/* A set oneof member prints even at its default value: presence is what the oneof encodes. */
	char *out = to_json(m, 0);
	assert_string_equal(out, "{\"disabled\":false,\"swappiness_max\":3,\"period_secs\":60}");
	free(out);
	free_msg(m);
}

static void test_errors(void **state) {
	parse_fails(&grpc__guest_details_request__descriptor, "{\"memBlokSize\":true}",
		    "unknown field `memBlokSize` in grpc.GuestDetailsRequest");
	parse_fails(&grpc__guest_details_request__descriptor, "{\"mem_block_size\":\"yes\"}",
		    "mem_block_size: expected true or false, got string");
	parse_fails(&grpc__copy_file_request__descriptor, "{\"uid\":2147483648}", "uid:");
	parse_fails(&grpc__copy_file_request__descriptor, "{\"file_mode\":-1}", "file_mode:");
	parse_fails(&grpc__copy_file_request__descriptor, "{\"path\":[]}", "path: expected a string, got array");
	parse_fails(&grpc__guest_details_response__descriptor, "{\"agent_details\":{\"version\":1}}",
		    "agent_details: version: expected a string");
	parse_fails(&grpc__guest_details_response__descriptor, "{\"agent_details\":{\"device_handlers\":\"blk\"}}",
		    "agent_details: device_handlers: expected an array");
	parse_fails(&grpc__guest_details_response__descriptor, "{\"agent_details\":{\"device_handlers\":[\"a\",2]}}",
		    "device_handlers: [1]: expected a string");
	parse_fails(&grpc__guest_details_response__descriptor, "{\"agent_details\":{\"bogus\":1}}",
		    "agent_details: unknown field `bogus`");
	parse_fails(&grpc__guest_details_request__descriptor, "[]", "expected an object");
	parse_fails(&grpc__guest_details_request__descriptor, "{\"mem_block_size\":true", "invalid JSON");
	parse_fails(&grpc__guest_details_request__descriptor, "{} x", "trailing data");
	parse_fails(&grpc__set_guest_date_time_request__descriptor, "{\"Sec\":1.5}", "Sec: expected an integer");
}

static void test_null_leaves_unset(void **state) {
	ProtobufCMessage *m = parse_ok(&grpc__guest_details_response__descriptor,
				       "{\"agent_details\":null,\"mem_block_size_bytes\":null}");
	assert_null(((Grpc__GuestDetailsResponse *)m)->agent_details);
	free_msg(m);
}

static void test_method_lookup(void **state) {
	rpc_method m;
	assert_int_equal(rpc_method_find("Check", &m), 0);
	assert_string_equal(m.service, "grpc.Health");
	assert_ptr_equal(m.desc->output, &grpc__health_check_response__descriptor);
	assert_int_equal(rpc_method_find("GetGuestDetails", &m), 0);
	assert_string_equal(m.service, "grpc.AgentService");
	assert_ptr_equal(m.desc->input, &grpc__guest_details_request__descriptor);
	assert_int_equal(rpc_method_find("grpc.Health/Version", &m), 0);
	assert_string_equal(m.desc->name, "Version");
	assert_int_equal(rpc_method_find("/grpc.AgentService/CreateContainer", &m), 0);
	assert_int_equal(rpc_method_find("AgentService/DestroySandbox", &m), 0);
	assert_int_equal(rpc_method_find("Health/CreateContainer", &m), -ENOENT);
	assert_int_equal(rpc_method_find("NoSuchMethod", &m), -ENOENT);
}

static void test_base64(void **state) {
	static const struct {
		const char *plain, *b64;
	} cases[] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *s = NULL;
		assert_int_equal(pbjson_base64_encode((const uint8_t *)cases[i].plain, strlen(cases[i].plain), &s), 0);
		assert_string_equal(s, cases[i].b64);
		free(s);
		uint8_t *d = NULL;
		size_t n = 99;
		assert_int_equal(pbjson_base64_decode(cases[i].b64, &d, &n), 0);
		assert_int_equal(n, strlen(cases[i].plain));
		if (n)
			assert_memory_equal(d, cases[i].plain, n);
		free(d);
	}
	uint8_t *d = NULL;
	size_t n;
	assert_int_equal(pbjson_base64_decode("Z", &d, &n), -EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_nested),
		cmocka_unit_test(test_defaults_omitted_or_emitted),
		cmocka_unit_test(test_camel_case_names),
		cmocka_unit_test(test_int64_from_strings_and_numbers),
		cmocka_unit_test(test_maps),
		cmocka_unit_test(test_bytes_base64),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_oneof),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_null_leaves_unset),
		cmocka_unit_test(test_method_lookup),
		cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
