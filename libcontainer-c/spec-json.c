/* config.json → lc_spec, with json-c, driven by the field table in spec.c. Host builds only: the agent gets
 * the spec as protobuf. */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "libcontainer-c/json-cleanup.h"
#include "libcontainer-c/spec-internal.h"

#define AT(base, off, T) (*(T *)((char *)(base) + (off)))

/* json-c's own default; the runtime-spec nests eight levels at most. */
#define JSON_DEPTH_MAX 32

_Static_assert(offsetof(lc_spec_rdma, name) == 0, "LC_F_OBJMAP stores the key in the first member");
_Static_assert(offsetof(lc_spec_time_offset, clock) == 0, "LC_F_OBJMAP stores the key in the first member");

typedef struct reader {
	lc_arena *arena;
	kc_error *err;
	/* The JSON path of the value being read, for messages: `process.rlimits[2].hard`. Keys come from the
	 * table except map keys, which are cut short so that a path always fits. */
	char path[512];
	size_t len;
} reader;

static size_t path_push(reader *r, const char *fmt, ...) _printf_(2, 3);
static size_t path_push(reader *r, const char *fmt, ...) {
	size_t old = r->len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r->path + r->len, sizeof r->path - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len = MIN(r->len + (size_t)n, sizeof r->path - 1);
	return old;
}

static void path_pop(reader *r, size_t old) {
	r->len = old;
	r->path[old] = '\0';
}

static size_t path_push_key(reader *r, const char *key) {
	return r->len == 0 ? path_push(r, "%s", key) : path_push(r, ".%s", key);
}

static const char *path_or_root(const reader *r) {
	return r->len ? r->path : "(config)";
}

static const char *json_type_phrase(json_object *v) {
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a non-integer number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "something else";
}

static int wrong_type(reader *r, json_object *v, const char *want) {
	return kc_error_set(r->err, EINVAL, "%s: expected %s, got %s", path_or_root(r), want, json_type_phrase(v));
}

static int no_memory(reader *r) {
	if (lc_arena_over_cap(r->arena))
		return kc_error_set(r->err, E2BIG, "%s: the spec needs more than %u MiB of memory", path_or_root(r),
				    LC_SPEC_ARENA_MAX >> 20);
	return kc_error_set(r->err, ENOMEM, "%s: out of memory", path_or_root(r));
}

static int check_count(reader *r, size_t n) {
	if (n > LC_SPEC_ARRAY_MAX)
		return kc_error_set(r->err, E2BIG, "%s: %zu entries, at most %u allowed", path_or_root(r), n,
				    LC_SPEC_ARRAY_MAX);
	return 0;
}

/* A C string from a JSON string: capped, and without the NUL bytes that "\u0000" can smuggle in, which would
 * make the C view of the value differ from what the author of the config wrote. */
static int read_str(reader *r, json_object *v, char **ret) {
	if (!json_object_is_type(v, json_type_string))
		return wrong_type(r, v, "a string");
	const char *s = json_object_get_string(v);
	int len = json_object_get_string_len(v);
	if (len < 0 || (size_t)len > LC_SPEC_STRING_MAX)
		return kc_error_set(r->err, E2BIG, "%s: string longer than %u bytes", path_or_root(r),
				    LC_SPEC_STRING_MAX);
	if (memchr(s, '\0', (size_t)len))
		return kc_error_set(r->err, EINVAL, "%s: string contains a NUL byte", path_or_root(r));
	char *p = lc_arena_strndup(r->arena, s, (size_t)len);
	if (!p)
		return no_memory(r);
	*ret = p;
	return 0;
}

/* json-c keeps integers as int64, or as uint64 above INT64_MAX; it clamps literals beyond 64 bits to the
 * nearest bound, which the range checks below cannot tell from the bound itself. */
static int read_i64(reader *r, json_object *v, int64_t min, int64_t max, int64_t *ret) {
	if (!json_object_is_type(v, json_type_int))
		return wrong_type(r, v, "an integer");
	int64_t i = json_object_get_int64(v);
	if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return kc_error_set(r->err, ERANGE, "%s: %" PRIu64 " is out of range", path_or_root(r),
				    json_object_get_uint64(v));
	if (i < min || i > max)
		return kc_error_set(r->err, ERANGE, "%s: %" PRId64 " is out of range %" PRId64 "..%" PRId64,
				    path_or_root(r), i, min, max);
	*ret = i;
	return 0;
}

static int read_u64(reader *r, json_object *v, uint64_t max, uint64_t *ret) {
	if (!json_object_is_type(v, json_type_int))
		return wrong_type(r, v, "an unsigned integer");
	if (json_object_get_int64(v) < 0)
		return kc_error_set(r->err, ERANGE, "%s: %" PRId64 " is negative, expected an unsigned integer",
				    path_or_root(r), json_object_get_int64(v));
	uint64_t u = json_object_get_uint64(v);
	if (u > max)
		return kc_error_set(r->err, ERANGE, "%s: %" PRIu64 " is out of range 0..%" PRIu64, path_or_root(r), u,
				    max);
	*ret = u;
	return 0;
}

static int read_strv(reader *r, json_object *v, lc_strv *ret) {
	if (!json_object_is_type(v, json_type_array))
		return wrong_type(r, v, "an array of strings");
	size_t n = json_object_array_length(v);
	int k = check_count(r, n);
	if (k < 0)
		return k;
	if (n == 0)
		return 0;
	char **items = lc_arena_allocn(r->arena, n + 1, sizeof(char *));
	if (!items)
		return no_memory(r);
	for (size_t i = 0; i < n; i++) {
		size_t old = path_push(r, "[%zu]", i);
		k = read_str(r, json_object_array_get_idx(v, i), &items[i]);
		if (k < 0)
			return k;
		path_pop(r, old);
	}
	ret->v = items;
	ret->n = n;
	return 0;
}

static int read_u32v(reader *r, json_object *v, uint32_t **ret, size_t *ret_n) {
	if (!json_object_is_type(v, json_type_array))
		return wrong_type(r, v, "an array of unsigned integers");
	size_t n = json_object_array_length(v);
	int k = check_count(r, n);
	if (k < 0)
		return k;
	if (n == 0)
		return 0;
	uint32_t *items = lc_arena_allocn(r->arena, n, sizeof(uint32_t));
	if (!items)
		return no_memory(r);
	for (size_t i = 0; i < n; i++) {
		uint64_t u;
		size_t old = path_push(r, "[%zu]", i);
		k = read_u64(r, json_object_array_get_idx(v, i), UINT32_MAX, &u);
		if (k < 0)
			return k;
		path_pop(r, old);
		items[i] = (uint32_t)u;
	}
	*ret = items;
	*ret_n = n;
	return 0;
}

static int key_ok(reader *r, const char *key) {
	if (strlen(key) > LC_SPEC_STRING_MAX)
		return kc_error_set(r->err, E2BIG, "%s: key longer than %u bytes", path_or_root(r), LC_SPEC_STRING_MAX);
	return 0;
}

static int read_kv(reader *r, json_object *v, lc_kv **ret, size_t *ret_n) {
	if (!json_object_is_type(v, json_type_object))
		return wrong_type(r, v, "an object of strings");
	size_t n = (size_t)json_object_object_length(v), i = 0;
	int k = check_count(r, n);
	if (k < 0)
		return k;
	if (n == 0)
		return 0;
	lc_kv *items = lc_arena_allocn(r->arena, n, sizeof(lc_kv));
	if (!items)
		return no_memory(r);
	json_object_object_foreach(v, key, val) {
		size_t old = path_push(r, "[\"%.64s\"]", key);
		k = key_ok(r, key);
		if (k < 0)
			return k;
		items[i].key = lc_arena_strdup(r->arena, key);
		if (!items[i].key)
			return no_memory(r);
		k = read_str(r, val, &items[i].value);
		if (k < 0)
			return k;
		path_pop(r, old);
		i++;
	}
	*ret = items;
	*ret_n = i;
	return 0;
}

static int read_object(reader *r, const lc_object_desc *d, json_object *v, void *dst);

static int read_objv(reader *r, const lc_field *f, json_object *v, void *dst) {
	bool map = f->kind == LC_F_OBJMAP;
	if (!json_object_is_type(v, map ? json_type_object : json_type_array))
		return wrong_type(r, v, map ? "an object" : "an array of objects");
	size_t n = map ? (size_t)json_object_object_length(v) : json_object_array_length(v);
	int k = check_count(r, n);
	if (k < 0)
		return k;
	if (n == 0)
		return 0;
	char *items = lc_arena_allocn(r->arena, n, f->sub->size);
	if (!items)
		return no_memory(r);
	if (map) {
		size_t i = 0;
		json_object_object_foreach(v, key, val) {
			void *e = items + i++ * f->sub->size;
			size_t old = path_push(r, "[\"%.64s\"]", key);
			k = key_ok(r, key);
			if (k < 0)
				return k;
			AT(e, 0, char *) = lc_arena_strdup(r->arena, key);
			if (!AT(e, 0, char *))
				return no_memory(r);
			k = read_object(r, f->sub, val, e);
			if (k < 0)
				return k;
			path_pop(r, old);
		}
		n = i;
	} else
		for (size_t i = 0; i < n; i++) {
			size_t old = path_push(r, "[%zu]", i);
			k = read_object(r, f->sub, json_object_array_get_idx(v, i), items + i * f->sub->size);
			if (k < 0)
				return k;
			path_pop(r, old);
		}
	AT(dst, f->off, void *) = items;
	AT(dst, f->count_off, size_t) = n;
	return 0;
}

static int read_field(reader *r, const lc_field *f, json_object *v, void *dst) {
	int64_t i;
	uint64_t u;
	int k;

	switch (f->kind) {
	case LC_F_STR:
		return read_str(r, v, &AT(dst, f->off, char *));
	case LC_F_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return wrong_type(r, v, "a boolean");
		AT(dst, f->off, bool) = json_object_get_boolean(v);
		break;
	case LC_F_I32:
		k = read_i64(r, v, INT32_MIN, INT32_MAX, &i);
		if (k < 0)
			return k;
		AT(dst, f->off, int32_t) = (int32_t)i;
		break;
	case LC_F_U32:
		k = read_u64(r, v, UINT32_MAX, &u);
		if (k < 0)
			return k;
		AT(dst, f->off, uint32_t) = (uint32_t)u;
		break;
	case LC_F_I64:
		k = read_i64(r, v, INT64_MIN, INT64_MAX, &AT(dst, f->off, int64_t));
		if (k < 0)
			return k;
		break;
	case LC_F_U64:
		k = read_u64(r, v, UINT64_MAX, &AT(dst, f->off, uint64_t));
		if (k < 0)
			return k;
		break;
	case LC_F_STRV:
		return read_strv(r, v, &AT(dst, f->off, lc_strv));
	case LC_F_U32V:
		return read_u32v(r, v, &AT(dst, f->off, uint32_t *), &AT(dst, f->count_off, size_t));
	case LC_F_KV:
		return read_kv(r, v, &AT(dst, f->off, lc_kv *), &AT(dst, f->count_off, size_t));
	case LC_F_OBJ: {
		void *o = lc_arena_alloc(r->arena, f->sub->size);
		if (!o)
			return no_memory(r);
		k = read_object(r, f->sub, v, o);
		if (k < 0)
			return k;
		AT(dst, f->off, void *) = o;
		break;
	}
	case LC_F_EMBED:
		return read_object(r, f->sub, v, (char *)dst + f->off);
	case LC_F_OBJV:
	case LC_F_OBJMAP:
		return read_objv(r, f, v, dst);
	}
	if (f->has_off >= 0)
		AT(dst, f->has_off, bool) = true;
	return 0;
}

static int read_object(reader *r, const lc_object_desc *d, json_object *v, void *dst) {
	if (!json_object_is_type(v, json_type_object))
		return wrong_type(r, v, "an object");
	for (size_t i = 0; i < d->n_fields; i++) {
		const lc_field *f = &d->fields[i];
		json_object *fv;
		/* Absent and null are the same: Go's encoder writes null for a nil slice or pointer. */
		if (!json_object_object_get_ex(v, f->key, &fv) || !fv)
			continue;
		size_t old = path_push_key(r, f->key);
		int k = read_field(r, f, fv, dst);
		if (k < 0)
			return k;
		path_pop(r, old);
	}
	return 0;
}


int lc_spec_from_json(const char *text, size_t len, lc_spec **ret, kc_error *err) {
	_cleanup_(json_tokener_freep) json_tokener *tok = NULL;
	_cleanup_(json_object_putp) json_object *root = NULL;
	_cleanup_(lc_spec_freep) lc_spec *s = NULL;
	int k;

	assert_return(text || len == 0, -EINVAL);
	assert_return(ret, -EINVAL);
	if (len > LC_SPEC_JSON_MAX)
		return kc_error_set(err, EFBIG, "config.json: %zu bytes, at most %u allowed", len, LC_SPEC_JSON_MAX);

	tok = json_tokener_new_ex(JSON_DEPTH_MAX);
	if (!tok)
		return kc_error_set(err, ENOMEM, "config.json: out of memory");
	/* Strict: no trailing garbage, no comments, no unquoted or control characters in strings. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (!root || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue || jerr == json_tokener_success)
			return kc_error_set(err, EINVAL, "config.json: unexpected end of input");
		return kc_error_set(err, EINVAL, "config.json: %s at offset %zu", json_tokener_error_desc(jerr),
				    json_tokener_get_parse_end(tok));
	}
	/* json-c stops after the first value; anything but whitespace behind it is garbage. */
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
			return kc_error_set(err, EINVAL, "config.json: trailing data at offset %zu", i);

	k = lc_spec_new(&s);
	if (k < 0)
		return kc_error_set(err, k, "config.json: out of memory");
	reader r = {.arena = lc_spec_arena(s), .err = err};
	k = read_object(&r, &lc_spec_desc, root, s);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(s);
	return 0;
}

int lc_spec_from_file(int dirfd, const char *path, lc_spec **ret, kc_error *err) {
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	assert_return(path, -EINVAL);
	int k = read_file_capped(dirfd, path, LC_SPEC_JSON_MAX, &text, &len);
	if (k == -EFBIG)
		return kc_error_set(err, k, "%s: larger than %u bytes", path, LC_SPEC_JSON_MAX);
	if (k < 0)
		return kc_error_set(err, k, "%s: %s", path, strerror(-k));
	k = lc_spec_from_json(text, len, ret, err);
	if (k < 0)
		return kc_error_prefix(err, "%s", path);
	return 0;
}
