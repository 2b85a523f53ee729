#include "launcher/json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/util.h"

/* Requests typed by hand stay small; this bounds recursion on hostile or mistaken input. */
#define MAX_DEPTH 64

typedef int (*parse_fn)(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err);
typedef struct json_object *(*emit_fn)(const ProtobufCFieldDescriptor *f, const void *src, int flags);
typedef bool (*is_default_fn)(const void *src);

typedef struct type_ops {
	size_t size;
	parse_fn parse;
	emit_fn emit;
	is_default_fn is_default;
} type_ops;

static int message_from_json(const ProtobufCMessageDescriptor *desc, struct json_object *obj, int depth,
			     ProtobufCMessage **ret, kc_error *err);

static void json_object_putp(struct json_object **o) {
	if (*o)
		json_object_put(*o);
}
static void json_tokener_freep(struct json_tokener **t) {
	if (*t)
		json_tokener_free(*t);
}
static struct json_object *message_to_json(const ProtobufCMessage *msg, int flags);

/* Integers: the decimal text of a JSON number or a JSON string, so 64-bit values keep every digit. */
static int int_text(struct json_object *v, const char **ret, kc_error *err) {
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_string))
		return kc_error_set(err, EINVAL, "expected an integer, got %s",
				    json_type_to_name(json_object_get_type(v)));
	*ret = json_object_get_string(v);
	return 0;
}

static int parse_signed(struct json_object *v, int64_t min, int64_t max, int64_t *ret, kc_error *err) {
	const char *s;
	int64_t x;
	int r = int_text(v, &s, err);
	if (r < 0)
		return r;
	if (parse_i64(s, &x) < 0 || x < min || x > max)
		return kc_error_set(err, ERANGE, "`%s` is not an integer in [%lld, %lld]", s, (long long)min,
				    (long long)max);
	*ret = x;
	return 0;
}

static int parse_unsigned(struct json_object *v, uint64_t max, uint64_t *ret, kc_error *err) {
	const char *s;
	uint64_t x;
	int r = int_text(v, &s, err);
	if (r < 0)
		return r;
	if (parse_u64(s, 10, &x) < 0 || x > max)
		return kc_error_set(err, ERANGE, "`%s` is not an integer in [0, %llu]", s, (unsigned long long)max);
	*ret = x;
	return 0;
}

static int parse_i32(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	int64_t x;
	int r = parse_signed(v, INT32_MIN, INT32_MAX, &x, err);
	if (r >= 0)
		*(int32_t *)dst = (int32_t)x;
	return r;
}

static int parse_i64v(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	return parse_signed(v, INT64_MIN, INT64_MAX, (int64_t *)dst, err);
}

static int parse_u32(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	uint64_t x;
	int r = parse_unsigned(v, UINT32_MAX, &x, err);
	if (r >= 0)
		*(uint32_t *)dst = (uint32_t)x;
	return r;
}

static int parse_u64v(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	return parse_unsigned(v, UINT64_MAX, (uint64_t *)dst, err);
}

static int parse_real(struct json_object *v, double *ret, kc_error *err) {
	if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) {
		*ret = json_object_get_double(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		/* The proto3 JSON mapping spells the non-finite values as strings. */
		static const struct {
			const char *name;
			double value;
		} special[] = { { "NaN", NAN }, { "Infinity", INFINITY }, { "-Infinity", -INFINITY } };
		const char *s = json_object_get_string(v);
		for (size_t i = 0; i < ELEMENTSOF(special); i++)
			if (strcmp(s, special[i].name) == 0) {
				*ret = special[i].value;
				return 0;
			}
		char *end = NULL;
		errno = 0;
		double d = strtod(s, &end);
		if (*s && !*end && errno == 0) {
			*ret = d;
			return 0;
		}
	}
	return kc_error_set(err, EINVAL, "expected a number, got %s", json_type_to_name(json_object_get_type(v)));
}

static int parse_float(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	double d;
	int r = parse_real(v, &d, err);
	if (r >= 0)
		*(float *)dst = (float)d;
	return r;
}

static int parse_double(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	return parse_real(v, (double *)dst, err);
}

static int parse_boolean(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	if (!json_object_is_type(v, json_type_boolean))
		return kc_error_set(err, EINVAL, "expected true or false, got %s",
				    json_type_to_name(json_object_get_type(v)));
	*(protobuf_c_boolean *)dst = json_object_get_boolean(v) ? 1 : 0;
	return 0;
}

static int parse_enum(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	const ProtobufCEnumDescriptor *ed = f->descriptor;
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
		if (ev) {
			*(int32_t *)dst = ev->value;
			return 0;
		}
		int64_t x;
		if (parse_i64(s, &x) < 0)
			return kc_error_set(err, EINVAL, "`%s` is not a value of enum %s", s, ed->name);
	}
	/* proto3 enums are open: any int32 travels, named or not. */
	return parse_i32(f, v, dst, err);
}

static int parse_string(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	if (!json_object_is_type(v, json_type_string))
		return kc_error_set(err, EINVAL, "expected a string, got %s", json_type_to_name(json_object_get_type(v)));
	char *s = strdup(json_object_get_string(v));
	if (!s)
		return -ENOMEM;
	*(char **)dst = s;
	return 0;
}

static int parse_bytes(const ProtobufCFieldDescriptor *f, struct json_object *v, void *dst, kc_error *err) {
	ProtobufCBinaryData *b = dst;
	if (!json_object_is_type(v, json_type_string))
		return kc_error_set(err, EINVAL, "expected a base64 string, got %s",
				    json_type_to_name(json_object_get_type(v)));
	int r = pbjson_base64_decode(json_object_get_string(v), &b->data, &b->len);
	if (r == -EINVAL)
		return kc_error_set(err, EINVAL, "invalid base64");
	return r;
}

static struct json_object *emit_i32(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	return json_object_new_int(*(const int32_t *)src);
}
static struct json_object *emit_i64(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	return json_object_new_int64(*(const int64_t *)src);
}
static struct json_object *emit_u32(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	return json_object_new_int64(*(const uint32_t *)src);
}
static struct json_object *emit_u64(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	return json_object_new_uint64(*(const uint64_t *)src);
}
static struct json_object *emit_real(double d) {
	if (isnan(d))
		return json_object_new_string("NaN");
	if (isinf(d))
		return json_object_new_string(d > 0 ? "Infinity" : "-Infinity");
	return json_object_new_double(d);
}
static struct json_object *emit_float(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	return emit_real(*(const float *)src);
}
static struct json_object *emit_double(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	return emit_real(*(const double *)src);
}
static struct json_object *emit_bool(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	return json_object_new_boolean(*(const protobuf_c_boolean *)src);
}
static struct json_object *emit_enum(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	int32_t x = *(const int32_t *)src;
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, x);
	return ev ? json_object_new_string(ev->name) : json_object_new_int(x);
}
static struct json_object *emit_string(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	const char *s = *(char *const *)src;
	return json_object_new_string(s ? s : "");
}
static struct json_object *emit_bytes(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	const ProtobufCBinaryData *b = src;
	_cleanup_free_ char *s = NULL;
	if (pbjson_base64_encode(b->data, b->len, &s) < 0)
		return NULL;
	return json_object_new_string(s);
}
static struct json_object *emit_message(const ProtobufCFieldDescriptor *f, const void *src, int flags) {
	const ProtobufCMessage *m = *(ProtobufCMessage *const *)src;
	return m ? message_to_json(m, flags) : json_object_new_object();
}

static bool zero4(const void *p) {
	return *(const uint32_t *)p == 0;
}
static bool zero8(const void *p) {
	return *(const uint64_t *)p == 0;
}
static bool zero_float(const void *p) {
	return *(const float *)p == 0;
}
static bool zero_double(const void *p) {
	return *(const double *)p == 0;
}
static bool empty_string(const void *p) {
	const char *s = *(char *const *)p;
	return !s || !*s;
}
static bool empty_bytes(const void *p) {
	return ((const ProtobufCBinaryData *)p)->len == 0;
}
static bool null_message(const void *p) {
	return *(void *const *)p == NULL;
}

static const type_ops ops[] = {
	[PROTOBUF_C_TYPE_INT32] = { 4, parse_i32, emit_i32, zero4 },
	[PROTOBUF_C_TYPE_SINT32] = { 4, parse_i32, emit_i32, zero4 },
	[PROTOBUF_C_TYPE_SFIXED32] = { 4, parse_i32, emit_i32, zero4 },
	[PROTOBUF_C_TYPE_INT64] = { 8, parse_i64v, emit_i64, zero8 },
	[PROTOBUF_C_TYPE_SINT64] = { 8, parse_i64v, emit_i64, zero8 },
	[PROTOBUF_C_TYPE_SFIXED64] = { 8, parse_i64v, emit_i64, zero8 },
	[PROTOBUF_C_TYPE_UINT32] = { 4, parse_u32, emit_u32, zero4 },
	[PROTOBUF_C_TYPE_FIXED32] = { 4, parse_u32, emit_u32, zero4 },
	[PROTOBUF_C_TYPE_UINT64] = { 8, parse_u64v, emit_u64, zero8 },
	[PROTOBUF_C_TYPE_FIXED64] = { 8, parse_u64v, emit_u64, zero8 },
	[PROTOBUF_C_TYPE_FLOAT] = { 4, parse_float, emit_float, zero_float },
	[PROTOBUF_C_TYPE_DOUBLE] = { 8, parse_double, emit_double, zero_double },
	[PROTOBUF_C_TYPE_BOOL] = { sizeof(protobuf_c_boolean), parse_boolean, emit_bool, zero4 },
	[PROTOBUF_C_TYPE_ENUM] = { 4, parse_enum, emit_enum, zero4 },
	[PROTOBUF_C_TYPE_STRING] = { sizeof(char *), parse_string, emit_string, empty_string },
	[PROTOBUF_C_TYPE_BYTES] = { sizeof(ProtobufCBinaryData), parse_bytes, emit_bytes, empty_bytes },
	/* Messages parse through parse_value, which carries the nesting depth. */
	[PROTOBUF_C_TYPE_MESSAGE] = { sizeof(void *), NULL, emit_message, null_message },
};

static const type_ops *ops_for(const ProtobufCFieldDescriptor *f) {
	if ((size_t)f->type >= ELEMENTSOF(ops) || !ops[f->type].emit)
		return NULL;
	return &ops[f->type];
}

/* protoc's json_name: underscores dropped, the letter after each one upper-cased. */
static void json_name(const char *name, char *buf, size_t size) {
	size_t o = 0;
	bool up = false;
	for (const char *p = name; *p && o + 1 < size; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		buf[o++] = up ? (char)toupper((unsigned char)*p) : *p;
		up = false;
	}
	buf[o] = '\0';
}

static bool same_letters(const char *a, const char *b) {
	for (;;) {
		while (*a == '_')
			a++;
		while (*b == '_')
			b++;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		if (!*a)
			return true;
		a++, b++;
	}
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc, const char *key) {
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
	if (f)
		return f;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		char jn[256];
		json_name(desc->fields[i].name, jn, sizeof jn);
		if (strcmp(jn, key) == 0)
			return &desc->fields[i];
		/* lowerCamelCase of a name the proto already capitalises: `sec` for `Sec`, `oCI` for `OCI`. */
		if (jn[0] && tolower((unsigned char)jn[0]) == key[0] && key[0] != jn[0] && strcmp(jn + 1, key + 1) == 0)
			return &desc->fields[i];
	}
	/* Last resort for acronyms (`ipAddresses` for `IPAddresses`, `oci` for `OCI`): the same letters ignoring
	 * case and underscores, when exactly one field has them. */
	const ProtobufCFieldDescriptor *found = NULL;
	for (unsigned i = 0; i < desc->n_fields; i++)
		if (same_letters(desc->fields[i].name, key)) {
			if (found)
				return NULL;
			found = &desc->fields[i];
		}
	return found;
}

/* protobuf-c keeps no map flag: a map field is a repeated `<Name>Entry` message with key=1 and value=2. */
static bool is_map_field(const ProtobufCFieldDescriptor *f) {
	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	const ProtobufCMessageDescriptor *d = f->descriptor;
	size_t n = strlen(d->short_name);
	return d->n_fields == 2 && n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 && d->fields[0].id == 1 &&
	       strcmp(d->fields[0].name, "key") == 0 && d->fields[1].id == 2 && strcmp(d->fields[1].name, "value") == 0;
}

static void *member(ProtobufCMessage *m, unsigned offset) {
	return (uint8_t *)m + offset;
}
static const void *cmember(const ProtobufCMessage *m, unsigned offset) {
	return (const uint8_t *)m + offset;
}

static int parse_value(const ProtobufCFieldDescriptor *f, struct json_object *v, int depth, void *dst, kc_error *err) {
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return message_from_json(f->descriptor, v, depth + 1, (ProtobufCMessage **)dst, err);
	return ops_for(f)->parse(f, v, dst, err);
}

/* A map key arrives as a JSON object key: a string, converted to the key field's type. */
static int parse_map_key(const ProtobufCFieldDescriptor *kf, const char *key, void *dst, kc_error *err) {
	_cleanup_(json_object_putp) struct json_object *kv = NULL;
	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
			return kc_error_set(err, EINVAL, "map key `%s` is not true or false", key);
		kv = json_object_new_boolean(strcmp(key, "true") == 0);
	} else
		kv = json_object_new_string(key);
	if (!kv)
		return -ENOMEM;
	return ops_for(kf)->parse(kf, kv, dst, err);
}

static int parse_map(const ProtobufCFieldDescriptor *f, struct json_object *v, int depth, size_t *n, void **arr,
		     kc_error *err) {
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	size_t count = (size_t)json_object_object_length(v);
	ProtobufCMessage **entries = calloc(count ? count : 1, sizeof *entries);
	int r;

	if (!entries)
		return -ENOMEM;
	*arr = entries;
	json_object_object_foreach(v, key, val) {
		ProtobufCMessage *e = calloc(1, ed->sizeof_message);
		if (!e)
			return -ENOMEM;
		protobuf_c_message_init(ed, e);
		entries[(*n)++] = e;
		r = parse_map_key(&ed->fields[0], key, member(e, ed->fields[0].offset), err);
		if (r < 0)
			return r;
		if (json_object_is_type(val, json_type_null))
			continue;
		r = parse_value(&ed->fields[1], val, depth, member(e, ed->fields[1].offset), err);
		if (r < 0)
			return kc_error_prefix(err, "%s", key);
	}
	return 0;
}

static int parse_repeated(const ProtobufCFieldDescriptor *f, struct json_object *v, int depth, ProtobufCMessage *m,
			  kc_error *err) {
	size_t *n = member(m, f->quantifier_offset);
	void **arr = member(m, f->offset);
	int r;

	if (is_map_field(f) && json_object_is_type(v, json_type_object))
		return parse_map(f, v, depth, n, arr, err);
	if (!json_object_is_type(v, json_type_array))
		return kc_error_set(err, EINVAL, "expected an array, got %s", json_type_to_name(json_object_get_type(v)));
	size_t count = json_object_array_length(v);
	size_t esize = ops_for(f)->size;
	uint8_t *data = calloc(count ? count : 1, esize);
	if (!data)
		return -ENOMEM;
	*arr = data;
	for (size_t i = 0; i < count; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		if (json_object_is_type(e, json_type_null))
			return kc_error_set(err, EINVAL, "[%zu]: null in an array", i);
		r = parse_value(f, e, depth, data + i * esize, err);
		if (r < 0)
			return kc_error_prefix(err, "[%zu]", i);
		/* Counted as it is filled, so free_unpacked releases exactly what was allocated. */
		*n = i + 1;
	}
	return 0;
}

static int parse_field(const ProtobufCFieldDescriptor *f, struct json_object *v, int depth, ProtobufCMessage *m,
		       kc_error *err) {
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return parse_repeated(f, v, depth, m, err);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t *which = member(m, f->quantifier_offset);
		if (*which != 0 && *which != f->id)
			return kc_error_set(err, EINVAL, "another member of the same oneof is already set");
		int r = parse_value(f, v, depth, member(m, f->offset), err);
		if (r < 0)
			return r;
		*which = f->id;
		return 0;
	}
	int r = parse_value(f, v, depth, member(m, f->offset), err);
	if (r >= 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
		*(protobuf_c_boolean *)member(m, f->quantifier_offset) = 1;
	return r;
}

static void message_freep(ProtobufCMessage **m) {
	if (*m)
		protobuf_c_message_free_unpacked(*m, NULL);
}

static int message_from_json(const ProtobufCMessageDescriptor *desc, struct json_object *obj, int depth,
			     ProtobufCMessage **ret, kc_error *err) {
	if (depth > MAX_DEPTH)
		return kc_error_set(err, ELOOP, "nested deeper than %d levels", MAX_DEPTH);
	if (!json_object_is_type(obj, json_type_object))
		return kc_error_set(err, EINVAL, "expected an object for %s, got %s", desc->name,
				    json_type_to_name(json_object_get_type(obj)));

	_cleanup_(message_freep) ProtobufCMessage *m = calloc(1, desc->sizeof_message);
	if (!m)
		return -ENOMEM;
	protobuf_c_message_init(desc, m);

	json_object_object_foreach(obj, key, val) {
		const ProtobufCFieldDescriptor *f = find_field(desc, key);
		if (!f)
			return kc_error_set(err, EINVAL, "unknown field `%s` in %s", key, desc->name);
		if (!ops_for(f))
			return kc_error_set(err, EOPNOTSUPP, "field `%s`: unsupported type", key);
		int r = parse_field(f, val, depth, m, err);
		if (r < 0)
			return kc_error_prefix(err, "%s", f->name);
	}
	*ret = TAKE_PTR(m);
	return 0;
}

int pbjson_to_message(const ProtobufCMessageDescriptor *desc, struct json_object *obj, ProtobufCMessage **ret,
		      kc_error *err) {
	return message_from_json(desc, obj, 0, ret, err);
}

int pbjson_parse_message(const ProtobufCMessageDescriptor *desc, const char *text, ProtobufCMessage **ret,
			 kc_error *err) {
	enum json_tokener_error jerr;
	_cleanup_(json_object_putp) struct json_object *obj = NULL;
	_cleanup_(json_tokener_freep) struct json_tokener *tok = json_tokener_new();

	if (!tok)
		return -ENOMEM;
	obj = json_tokener_parse_ex(tok, text, -1);
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success)
		return kc_error_set(err, EINVAL, "invalid JSON: %s", json_tokener_error_desc(jerr));
	/* A complete value followed by anything but blanks is a mistake worth reporting. */
	for (const char *p = text + tok->char_offset; *p; p++)
		if (!isspace((unsigned char)*p))
			return kc_error_set(err, EINVAL, "invalid JSON: trailing data at offset %zu", (size_t)(p - text));
	return pbjson_to_message(desc, obj, ret, err);
}

static bool field_present(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m, int flags) {
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)cmember(m, f->quantifier_offset) > 0 || (flags & PBJSON_EMIT_DEFAULTS);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)cmember(m, f->quantifier_offset) == f->id;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset && f->type != PROTOBUF_C_TYPE_MESSAGE &&
	    f->type != PROTOBUF_C_TYPE_STRING)
		return *(const protobuf_c_boolean *)cmember(m, f->quantifier_offset);
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return !null_message(cmember(m, f->offset)) || (flags & PBJSON_EMIT_DEFAULTS);
	return !ops[f->type].is_default(cmember(m, f->offset)) || (flags & PBJSON_EMIT_DEFAULTS);
}

static struct json_object *emit_map(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m, int flags) {
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	size_t n = *(const size_t *)cmember(m, f->quantifier_offset);
	ProtobufCMessage *const *entries = *(ProtobufCMessage *const *const *)cmember(m, f->offset);
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
		_cleanup_(json_object_putp) struct json_object *k = ops[kf->type].emit(kf, cmember(entries[i], kf->offset), flags);
		struct json_object *v = ops[vf->type].emit(vf, cmember(entries[i], vf->offset), flags);
		if (!k || !v || json_object_object_add(o, json_object_get_string(k), v) < 0) {
			json_object_put(v);
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

static struct json_object *emit_field(const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m, int flags) {
	const type_ops *t = &ops[f->type];
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return t->emit(f, cmember(m, f->offset), flags);
	if (is_map_field(f))
		return emit_map(f, m, flags);
	size_t n = *(const size_t *)cmember(m, f->quantifier_offset);
	const uint8_t *data = *(const uint8_t *const *)cmember(m, f->offset);
	struct json_object *a = json_object_new_array_ext((int)n);
	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = t->emit(f, data + i * t->size, flags);
		if (!e || json_object_array_add(a, e) < 0) {
			json_object_put(e);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static struct json_object *message_to_json(const ProtobufCMessage *msg, int flags) {
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	/* Fields in declaration order read like the .proto; the descriptor keeps them sorted by number. */
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		if (!ops_for(f) || !field_present(f, msg, flags))
			continue;
		struct json_object *v = emit_field(f, msg, flags);
		if (!v || json_object_object_add(o, f->name, v) < 0) {
			json_object_put(v);
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

int pbjson_from_message(const ProtobufCMessage *msg, int flags, struct json_object **ret) {
	struct json_object *o = message_to_json(msg, flags);
	if (!o)
		return -ENOMEM;
	*ret = o;
	return 0;
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int pbjson_base64_encode(const uint8_t *data, size_t len, char **ret) {
	size_t out_len = (len + 2) / 3 * 4;
	char *out = malloc(out_len + 1), *p = out;
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		*p++ = b64_alphabet[(v >> 18) & 63];
		*p++ = b64_alphabet[(v >> 12) & 63];
		*p++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*p++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	*p = '\0';
	*ret = out;
	return 0;
}

static int b64_value(char c) {
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	const char *p = c ? strchr(b64_alphabet, c) : NULL;
	return p ? (int)(p - b64_alphabet) : -1;
}

int pbjson_base64_decode(const char *s, uint8_t **ret, size_t *ret_len) {
	size_t len = strlen(s);
	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	_cleanup_free_ uint8_t *out = malloc(len / 4 * 3 + 3);
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (o == 0) {
		*ret = NULL;
		*ret_len = 0;
		return 0;
	}
	*ret = TAKE_PTR(out);
	*ret_len = o;
	return 0;
}
