/* Our compiled protobuf-c descriptors against the wire contract in tests/data/kata-agent-wire.md: every
 * message (full name; each field's name, number, type, repeated label, map key and value, oneof name), every
 * enum value, every service method with its input and output in order, and nothing extra on our side.
 * The contract path is argv[1], else $WIRE_CONTRACT, else tests/data/kata-agent-wire.md (run from the repo root).
 * A mutation case edits single contract lines in memory and expects the comparison to name the difference. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <protobuf-c/protobuf-c.h>

/* From the table tests/interop/descriptor-table.sh generates from the protoc-c headers. */
struct wire_oneof {
	const char *c_name;
	const char *case_member;
	unsigned offset;
};
extern const void *const wire_descriptors[];
extern const struct wire_oneof wire_oneofs[];

/* Our one deliberate renaming: status.proto carries google.rpc.Status.details as `google.rpc.Any`, a message of
 * the same wire shape as google.protobuf.Any (type_url=1 string, value=2 bytes), so it needs no import. */
static const struct {
	const char *contract, *ours;
} type_aliases[] = {
	{ "google.protobuf.Any", "google.rpc.Any" },
};
/* Ours but not listed as messages in the contract: the well-known Empty it names, and the Any above. */
static const char *const allowed_extra_messages[] = { "google.protobuf.Empty", "google.rpc.Any" };

#define EXPECTED_AGENT_METHODS 42
#define EXPECTED_HEALTH_METHODS 2

/* ---- the contract, as parsed from the markdown ---- */

struct c_field {
	char *name, *type, *map_key, *map_value, *oneof;
	uint32_t number;
	bool repeated, optional;
};
struct c_message {
	char *name;
	struct c_field *fields;
	size_t n_fields;
};
struct c_value {
	char *name;
	int number;
};
struct c_enum {
	char *name;
	struct c_value *values;
	size_t n_values;
};
struct c_method {
	char *name, *input, *output;
};
struct c_service {
	char *name;
	struct c_method *methods;
	size_t n_methods;
};
struct contract {
	struct c_message *messages;
	size_t n_messages;
	struct c_enum *enums;
	size_t n_enums;
	struct c_service *services;
	size_t n_services;
};

#define GROW(arr, n)                                                                 \
	do {                                                                         \
		(arr) = realloc((arr), ((n) + 1) * sizeof(*(arr)));                  \
		assert_non_null(arr);                                                \
		memset(&(arr)[n], 0, sizeof(*(arr)));                                \
	} while (0)

static char *xstrndup(const char *s, size_t n) {
	char *p = strndup(s, n);
	assert_non_null(p);
	return p;
}

static char *trim(char *s) {
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static void contract_free(struct contract *c) {
	for (size_t i = 0; i < c->n_messages; i++) {
		for (size_t j = 0; j < c->messages[i].n_fields; j++) {
			struct c_field *f = &c->messages[i].fields[j];
			free(f->name), free(f->type), free(f->map_key), free(f->map_value), free(f->oneof);
		}
		free(c->messages[i].fields);
		free(c->messages[i].name);
	}
	for (size_t i = 0; i < c->n_enums; i++) {
		for (size_t j = 0; j < c->enums[i].n_values; j++)
			free(c->enums[i].values[j].name);
		free(c->enums[i].values);
		free(c->enums[i].name);
	}
	for (size_t i = 0; i < c->n_services; i++) {
		for (size_t j = 0; j < c->services[i].n_methods; j++) {
			struct c_method *m = &c->services[i].methods[j];
			free(m->name), free(m->input), free(m->output);
		}
		free(c->services[i].methods);
		free(c->services[i].name);
	}
	free(c->messages), free(c->enums), free(c->services);
	memset(c, 0, sizeof(*c));
}

/* Splits `s` in place at commas outside <...> and (...); returns the count. */
static size_t split_items(char *s, char **items, size_t max) {
	size_t n = 0;
	int depth = 0;
	char *start = s;
	for (char *p = s;; p++) {
		if (*p == '<' || *p == '(')
			depth++;
		else if (*p == '>' || *p == ')')
			depth--;
		else if ((*p == ',' && depth == 0) || *p == '\0') {
			bool end = *p == '\0';
			*p = '\0';
			assert_true(n < max);
			items[n++] = trim(start);
			if (end)
				return n;
			start = p + 1;
		}
	}
}

/* `name=number type [(oneof X)] [(proto3 optional)]`, type being `T`, `repeated T` or `map<K, V>`. */
static int parse_field(char *item, struct c_field *f) {
	char *eq = strchr(item, '=');
	if (!eq)
		return -EINVAL;
	f->name = xstrndup(item, (size_t)(eq - item));
	char *end;
	errno = 0;
	unsigned long num = strtoul(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end != ' ' || num == 0 || num > 536870911)
		return -EINVAL;
	f->number = (uint32_t)num;
	char *p = end + 1;
	if (strncmp(p, "repeated ", 9) == 0) {
		f->repeated = true;
		p += 9;
	}
	if (strncmp(p, "map<", 4) == 0) {
		char *comma = strchr(p, ','), *close = strchr(p, '>');
		if (!comma || !close || comma > close || f->repeated)
			return -EINVAL;
		f->map_key = xstrndup(p + 4, (size_t)(comma - p - 4));
		char *v = comma + 1;
		while (*v == ' ')
			v++;
		f->map_value = xstrndup(v, (size_t)(close - v));
		p = close + 1;
	} else {
		size_t n = strcspn(p, " ");
		if (n == 0)
			return -EINVAL;
		f->type = xstrndup(p, n);
		p += n;
	}
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (strncmp(p, "(oneof ", 7) == 0) {
			char *close = strchr(p, ')');
			if (!close || f->oneof)
				return -EINVAL;
			f->oneof = xstrndup(p + 7, (size_t)(close - p - 7));
			p = close + 1;
		} else if (strncmp(p, "(proto3 optional)", 17) == 0) {
			f->optional = true;
			p += 17;
		} else
			return -EINVAL;
	}
	/* proto3 `optional` is a synthetic single-member oneof; the contract names it. */
	if (f->optional && !f->oneof)
		return -EINVAL;
	return 0;
}

static int parse_message(const char *name, char *body, struct contract *c) {
	GROW(c->messages, c->n_messages);
	struct c_message *m = &c->messages[c->n_messages++];
	m->name = strdup(name);
	assert_non_null(m->name);
	if (strcmp(body, "(no fields)") == 0)
		return 0;
	char *items[128];
	size_t n = split_items(body, items, 128);
	for (size_t i = 0; i < n; i++) {
		GROW(m->fields, m->n_fields);
		int r = parse_field(items[i], &m->fields[m->n_fields++]);
		if (r < 0) {
			fprintf(stderr, "contract: message %s: cannot parse field `%s`\n", name, items[i]);
			return r;
		}
	}
	return 0;
}

static int parse_enum(const char *name, char *body, struct contract *c) {
	GROW(c->enums, c->n_enums);
	struct c_enum *e = &c->enums[c->n_enums++];
	e->name = strdup(name);
	assert_non_null(e->name);
	char *items[64];
	size_t n = split_items(body, items, 64);
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(items[i], '='), *end;
		if (!eq)
			goto bad;
		long v = strtol(eq + 1, &end, 10);
		if (end == eq + 1 || *end != '\0')
			goto bad;
		GROW(e->values, e->n_values);
		e->values[e->n_values].name = xstrndup(items[i], (size_t)(eq - items[i]));
		e->values[e->n_values++].number = (int)v;
		continue;
	bad:
		fprintf(stderr, "contract: enum %s: cannot parse value `%s`\n", name, items[i]);
		return -EINVAL;
	}
	return 0;
}

/* `- `Name`(In) returns (Out)` inside a `service `X`:` block. */
static int parse_method(char *line, struct c_service *s) {
	char *name_end = strchr(line + 3, '`');
	if (!name_end || name_end[1] != '(')
		return -EINVAL;
	char *in = name_end + 2, *in_end = strchr(in, ')');
	if (!in_end || strncmp(in_end, ") returns (", 11) != 0)
		return -EINVAL;
	char *out = in_end + 11, *out_end = strchr(out, ')');
	if (!out_end || out_end[1] != '\0')
		return -EINVAL;
	GROW(s->methods, s->n_methods);
	struct c_method *m = &s->methods[s->n_methods++];
	m->name = xstrndup(line + 3, (size_t)(name_end - line - 3));
	m->input = xstrndup(in, (size_t)(in_end - in));
	m->output = xstrndup(out, (size_t)(out_end - out));
	return 0;
}

static int parse_line(char *line, struct contract *c, struct c_service **service) {
	char *t = trim(line);
	if (strncmp(t, "service `", 9) == 0) {
		char *end = strchr(t + 9, '`');
		if (!end || strcmp(end, "`:") != 0)
			return -EINVAL;
		GROW(c->services, c->n_services);
		*service = &c->services[c->n_services++];
		(*service)->name = xstrndup(t + 9, (size_t)(end - t - 9));
		return 0;
	}
	if (strncmp(t, "- `", 3) == 0 && strstr(t, ") returns (")) {
		if (!*service)
			return -EINVAL;
		return parse_method(t, *service);
	}
	bool is_enum = strncmp(t, "- enum `", 8) == 0;
	if (!is_enum && strncmp(t, "- `", 3) != 0)
		return 0; /* prose */
	*service = NULL;
	char *name = t + (is_enum ? 8 : 3), *end = strchr(name, '`');
	if (!end || strncmp(end, "`: ", 3) != 0)
		return -EINVAL;
	*end = '\0';
	char *body = trim(end + 3);
	return is_enum ? parse_enum(name, body, c) : parse_message(name, body, c);
}

/* Joins continuation lines (indented, not a list item) to the line before, then parses each. */
static int contract_parse(const char *text, struct contract *ret) {
	struct contract c = {};
	struct c_service *service = NULL;
	char *copy = strdup(text), *logical = NULL;
	size_t logical_len = 0;
	int r = 0;
	assert_non_null(copy);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		bool continuation = false;
		if (line) {
			char *t = line;
			while (isspace((unsigned char)*t))
				t++;
			continuation = line != t && *t != '\0' && strncmp(t, "- ", 2) != 0;
		}
		if (logical && (!line || !continuation)) {
			char *shown = strdup(logical); /* parse_line cuts its argument up */
			assert_non_null(shown);
			r = parse_line(logical, &c, &service);
			if (r < 0)
				fprintf(stderr, "contract: cannot parse line `%s`\n", shown);
			free(shown);
			if (r < 0)
				break;
			free(logical);
			logical = NULL;
		}
		if (!line)
			break;
		if (continuation && logical) {
			char *t = trim(line);
			size_t n = strlen(t);
			logical = realloc(logical, logical_len + n + 2);
			assert_non_null(logical);
			logical[logical_len++] = ' ';
			memcpy(logical + logical_len, t, n + 1);
			logical_len += n;
		} else {
			logical = strdup(line);
			assert_non_null(logical);
			logical_len = strlen(logical);
		}
	}
	free(logical);
	free(copy);
	if (r < 0) {
		contract_free(&c);
		return r;
	}
	*ret = c;
	return 0;
}

/* ---- comparison ---- */

struct report {
	unsigned count;
	bool quiet;
	char *log; /* every mismatch, one a line */
	size_t log_len;
};

__attribute__((format(printf, 2, 3))) static void mismatch(struct report *rep, const char *fmt, ...) {
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	rep->count++;
	if (!rep->quiet)
		fprintf(stderr, "wire mismatch: %s\n", buf);
	rep->log = realloc(rep->log, rep->log_len + (size_t)n + 2);
	assert_non_null(rep->log);
	memcpy(rep->log + rep->log_len, buf, (size_t)n);
	rep->log_len += (size_t)n;
	rep->log[rep->log_len++] = '\n';
	rep->log[rep->log_len] = '\0';
}

static const void *find_descriptor(uint32_t magic, const char *name) {
	for (size_t i = 0; wire_descriptors[i]; i++) {
		const uint32_t *m = wire_descriptors[i];
		if (*m != magic)
			continue;
		/* All three descriptor kinds start with magic, then the full name. */
		const char *n = ((const ProtobufCMessageDescriptor *)wire_descriptors[i])->name;
		if (magic == PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC)
			n = ((const ProtobufCEnumDescriptor *)wire_descriptors[i])->name;
		else if (magic == PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC)
			n = ((const ProtobufCServiceDescriptor *)wire_descriptors[i])->name;
		if (strcmp(n, name) == 0)
			return wire_descriptors[i];
	}
	return NULL;
}

static const char *our_name_for(const char *contract_type) {
	for (size_t i = 0; i < sizeof(type_aliases) / sizeof(type_aliases[0]); i++)
		if (strcmp(type_aliases[i].contract, contract_type) == 0)
			return type_aliases[i].ours;
	return contract_type;
}

static const char *scalar_name(ProtobufCType t) {
	static const char *const names[] = {
		[PROTOBUF_C_TYPE_INT32] = "int32",     [PROTOBUF_C_TYPE_SINT32] = "sint32",
		[PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
		[PROTOBUF_C_TYPE_SINT64] = "sint64",   [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
		[PROTOBUF_C_TYPE_UINT32] = "uint32",   [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
		[PROTOBUF_C_TYPE_UINT64] = "uint64",   [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
		[PROTOBUF_C_TYPE_FLOAT] = "float",     [PROTOBUF_C_TYPE_DOUBLE] = "double",
		[PROTOBUF_C_TYPE_BOOL] = "bool",       [PROTOBUF_C_TYPE_STRING] = "string",
		[PROTOBUF_C_TYPE_BYTES] = "bytes",
	};
	if ((size_t)t < sizeof(names) / sizeof(names[0]) && names[t])
		return names[t];
	return NULL;
}

/* The type as the contract spells it: a scalar keyword, or the full name of a message or enum. */
static const char *field_type_name(const ProtobufCFieldDescriptor *f) {
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return ((const ProtobufCMessageDescriptor *)f->descriptor)->name;
	if (f->type == PROTOBUF_C_TYPE_ENUM)
		return ((const ProtobufCEnumDescriptor *)f->descriptor)->name;
	const char *s = scalar_name(f->type);
	return s ? s : "(unknown type)";
}

/* protoc-c keeps only the lower_case form of a oneof name (`ErrnoRet` becomes `errno_ret_case`), so names
 * compare with case and underscores folded; oneof names never reach the wire. */
static bool oneof_name_matches(const char *contract, const char *ours) {
	for (;;) {
		while (*contract == '_')
			contract++;
		while (*ours == '_')
			ours++;
		if (!*contract || !*ours)
			return !*contract && !*ours;
		if (tolower((unsigned char)*contract++) != tolower((unsigned char)*ours++))
			return false;
	}
}

static const char *our_oneof(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f) {
	for (size_t i = 0; wire_oneofs[i].c_name; i++)
		if (strcmp(wire_oneofs[i].c_name, d->c_name) == 0 && wire_oneofs[i].offset == f->quantifier_offset)
			return wire_oneofs[i].case_member;
	return NULL;
}

/* `stats` → `StatsEntry`, `hugetlb_stats` → `HugetlbStatsEntry`: protoc's name for a map's entry message. */
static void map_entry_name(const char *msg, const char *field, char *buf, size_t size) {
	int w = snprintf(buf, size, "%s.", msg);
	assert_true(w > 0 && (size_t)w < size);
	size_t n = (size_t)w;
	bool up = true;
	for (const char *p = field; *p && n + 1 < size; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		buf[n++] = up ? (char)toupper((unsigned char)*p) : *p;
		up = false;
	}
	assert_true(n + sizeof("Entry") <= size);
	memcpy(buf + n, "Entry", sizeof("Entry"));
}

static void compare_map(const struct c_message *cm, const struct c_field *cf, const ProtobufCFieldDescriptor *f,
			struct report *rep) {
	char want[256];
	map_entry_name(cm->name, cf->name, want, sizeof(want));
	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) {
		mismatch(rep, "message %s field %s: contract says map<%s, %s>, ours is not a map", cm->name, cf->name,
			 cf->map_key, cf->map_value);
		return;
	}
	const ProtobufCMessageDescriptor *e = f->descriptor;
	if (strcmp(e->name, want) != 0) {
		mismatch(rep, "message %s field %s: map entry is %s, want %s", cm->name, cf->name, e->name, want);
		return;
	}
	const ProtobufCFieldDescriptor *k = protobuf_c_message_descriptor_get_field(e, 1);
	const ProtobufCFieldDescriptor *v = protobuf_c_message_descriptor_get_field(e, 2);
	if (e->n_fields != 2 || !k || !v || strcmp(k->name, "key") != 0 || strcmp(v->name, "value") != 0) {
		mismatch(rep, "message %s field %s: %s is not a key=1, value=2 entry", cm->name, cf->name, e->name);
		return;
	}
	if (strcmp(field_type_name(k), cf->map_key) != 0 || strcmp(field_type_name(v), our_name_for(cf->map_value)) != 0)
		mismatch(rep, "message %s field %s: map<%s, %s>, want map<%s, %s>", cm->name, cf->name,
			 field_type_name(k), field_type_name(v), cf->map_key, cf->map_value);
}

static void compare_field(const struct c_message *cm, const struct c_field *cf, const ProtobufCMessageDescriptor *d,
			  struct report *rep) {
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, cf->number);
	if (!f) {
		mismatch(rep, "message %s field %s=%u: missing from ours", cm->name, cf->name, cf->number);
		return;
	}
	if (strcmp(f->name, cf->name) != 0)
		mismatch(rep, "message %s field number %u: named %s, want %s", cm->name, cf->number, f->name, cf->name);
	if (cf->map_key) {
		compare_map(cm, cf, f, rep);
	} else {
		const char *want = our_name_for(cf->type);
		if (strcmp(field_type_name(f), want) != 0)
			mismatch(rep, "message %s field %s: type %s, want %s", cm->name, cf->name, field_type_name(f), want);
		bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
		if (repeated != cf->repeated)
			mismatch(rep, "message %s field %s: %s, want %s", cm->name, cf->name,
				 repeated ? "repeated" : "singular", cf->repeated ? "repeated" : "singular");
		if (f->label == PROTOBUF_C_LABEL_REQUIRED)
			mismatch(rep, "message %s field %s: required, want proto3 singular", cm->name, cf->name);
	}
	bool in_oneof = f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF;
	if (in_oneof != (cf->oneof != NULL)) {
		mismatch(rep, "message %s field %s: %s oneof, want %s%s", cm->name, cf->name, in_oneof ? "in a" : "not in a",
			 cf->oneof ? "oneof " : "no oneof", cf->oneof ? cf->oneof : "");
	} else if (in_oneof) {
		const char *ours = our_oneof(d, f);
		if (!ours || !oneof_name_matches(cf->oneof, ours))
			mismatch(rep, "message %s field %s: oneof %s, want oneof %s", cm->name, cf->name,
				 ours ? ours : "(unknown)", cf->oneof);
	}
}

static void compare_message(const struct c_message *cm, struct report *rep) {
	const ProtobufCMessageDescriptor *d = find_descriptor(PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, cm->name);
	if (!d) {
		mismatch(rep, "message %s: missing from ours", cm->name);
		return;
	}
	for (size_t i = 0; i < cm->n_fields; i++)
		compare_field(cm, &cm->fields[i], d, rep);
	for (unsigned i = 0; i < d->n_fields; i++) {
		bool listed = false;
		for (size_t j = 0; j < cm->n_fields && !listed; j++)
			listed = cm->fields[j].number == d->fields[i].id;
		if (!listed)
			mismatch(rep, "message %s field %s=%u: extra, not in the contract", cm->name, d->fields[i].name,
				 d->fields[i].id);
	}
}

static void compare_enum(const struct c_enum *ce, struct report *rep) {
	const ProtobufCEnumDescriptor *d = find_descriptor(PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC, ce->name);
	if (!d) {
		mismatch(rep, "enum %s: missing from ours", ce->name);
		return;
	}
	for (size_t i = 0; i < ce->n_values; i++) {
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(d, ce->values[i].name);
		if (!v)
			mismatch(rep, "enum %s value %s: missing from ours", ce->name, ce->values[i].name);
		else if (v->value != ce->values[i].number)
			mismatch(rep, "enum %s value %s: %d, want %d", ce->name, ce->values[i].name, v->value,
				 ce->values[i].number);
	}
	if (d->n_value_names != ce->n_values)
		mismatch(rep, "enum %s: %u values, want %zu", ce->name, d->n_value_names, ce->n_values);
}

static void compare_service(const struct c_service *cs, struct report *rep) {
	const ProtobufCServiceDescriptor *d = find_descriptor(PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC, cs->name);
	if (!d) {
		mismatch(rep, "service %s: missing from ours", cs->name);
		return;
	}
	for (size_t i = 0; i < cs->n_methods || i < d->n_methods; i++) {
		const struct c_method *want = i < cs->n_methods ? &cs->methods[i] : NULL;
		const ProtobufCMethodDescriptor *m = i < d->n_methods ? &d->methods[i] : NULL;
		if (!m) {
			mismatch(rep, "service %s method #%zu %s: missing from ours", cs->name, i + 1, want->name);
			continue;
		}
		if (!want) {
			mismatch(rep, "service %s method #%zu %s: extra, not in the contract", cs->name, i + 1, m->name);
			continue;
		}
		if (strcmp(m->name, want->name) != 0 || strcmp(m->input->name, our_name_for(want->input)) != 0 ||
		    strcmp(m->output->name, our_name_for(want->output)) != 0)
			mismatch(rep, "service %s method #%zu: %s(%s) returns (%s), want %s(%s) returns (%s)", cs->name,
				 i + 1, m->name, m->input->name, m->output->name, want->name, want->input, want->output);
	}
}

static bool contract_has(const struct contract *c, uint32_t magic, const char *name) {
	if (magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
		for (size_t i = 0; i < c->n_messages; i++)
			if (strcmp(c->messages[i].name, name) == 0)
				return true;
		for (size_t i = 0; i < sizeof(allowed_extra_messages) / sizeof(allowed_extra_messages[0]); i++)
			if (strcmp(allowed_extra_messages[i], name) == 0)
				return true;
		/* A map's entry message: checked with its field. */
		for (size_t i = 0; i < c->n_messages; i++)
			for (size_t j = 0; j < c->messages[i].n_fields; j++) {
				char entry[256];
				if (!c->messages[i].fields[j].map_key)
					continue;
				map_entry_name(c->messages[i].name, c->messages[i].fields[j].name, entry, sizeof(entry));
				if (strcmp(entry, name) == 0)
					return true;
			}
		return false;
	}
	if (magic == PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC) {
		for (size_t i = 0; i < c->n_enums; i++)
			if (strcmp(c->enums[i].name, name) == 0)
				return true;
		return false;
	}
	for (size_t i = 0; i < c->n_services; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return true;
	return false;
}

static void compare_extras(const struct contract *c, struct report *rep) {
	for (size_t i = 0; wire_descriptors[i]; i++) {
		uint32_t magic = *(const uint32_t *)wire_descriptors[i];
		const char *name, *kind;
		if (magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
			name = ((const ProtobufCMessageDescriptor *)wire_descriptors[i])->name, kind = "message";
		else if (magic == PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC)
			name = ((const ProtobufCEnumDescriptor *)wire_descriptors[i])->name, kind = "enum";
		else
			name = ((const ProtobufCServiceDescriptor *)wire_descriptors[i])->name, kind = "service";
		if (!contract_has(c, magic, name))
			mismatch(rep, "%s %s: extra, not in the contract", kind, name);
	}
}

static unsigned compare_all(const struct contract *c, struct report *rep) {
	for (size_t i = 0; i < c->n_messages; i++)
		compare_message(&c->messages[i], rep);
	for (size_t i = 0; i < c->n_enums; i++)
		compare_enum(&c->enums[i], rep);
	for (size_t i = 0; i < c->n_services; i++)
		compare_service(&c->services[i], rep);
	compare_extras(c, rep);
	return rep->count;
}

/* ---- cases ---- */

static const char *contract_path;
static char *contract_text;

static char *read_file(const char *path) {
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = realloc(buf, len + n + 1);
		if (!buf)
			break;
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static const struct c_service *find_service(const struct contract *c, const char *name) {
	for (size_t i = 0; i < c->n_services; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}

static void test_contract_parses(void **state) {
	struct contract c;
	assert_int_equal(contract_parse(contract_text, &c), 0);
	/* Sanity on the parse itself, so that a contract file that stopped matching our grammar cannot pass
	 * by yielding nothing. */
	assert_true(c.n_messages > 100);
	assert_true(c.n_enums >= 4);
	assert_int_equal(c.n_services, 2);
	const struct c_service *a = find_service(&c, "grpc.AgentService"), *h = find_service(&c, "grpc.Health");
	assert_non_null(a);
	assert_non_null(h);
	assert_int_equal(a->n_methods, EXPECTED_AGENT_METHODS);
	assert_int_equal(h->n_methods, EXPECTED_HEALTH_METHODS);
	contract_free(&c);
}

static void test_service_counts(void **state) {
	const ProtobufCServiceDescriptor *a = find_descriptor(PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC, "grpc.AgentService");
	const ProtobufCServiceDescriptor *h = find_descriptor(PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC, "grpc.Health");
	assert_non_null(a);
	assert_non_null(h);
	assert_int_equal(a->n_methods, EXPECTED_AGENT_METHODS);
	assert_int_equal(h->n_methods, EXPECTED_HEALTH_METHODS);
}

static void test_descriptors_match_contract(void **state) {
	struct contract c;
	struct report rep = {};
	assert_int_equal(contract_parse(contract_text, &c), 0);
	unsigned n = compare_all(&c, &rep);
	if (n)
		fprintf(stderr, "%u mismatches between our protos and %s\n", n, contract_path);
	free(rep.log);
	contract_free(&c);
	assert_int_equal(n, 0);
}

/* The aliased google.rpc.Any must keep google.protobuf.Any's wire shape. */
static void test_alias_shape(void **state) {
	const ProtobufCMessageDescriptor *d = find_descriptor(PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "google.rpc.Any");
	assert_non_null(d);
	assert_int_equal(d->n_fields, 2);
	const ProtobufCFieldDescriptor *t = protobuf_c_message_descriptor_get_field(d, 1);
	const ProtobufCFieldDescriptor *v = protobuf_c_message_descriptor_get_field(d, 2);
	assert_non_null(t);
	assert_non_null(v);
	assert_string_equal(t->name, "type_url");
	assert_int_equal(t->type, PROTOBUF_C_TYPE_STRING);
	assert_string_equal(v->name, "value");
	assert_int_equal(v->type, PROTOBUF_C_TYPE_BYTES);
	d = find_descriptor(PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "google.protobuf.Empty");
	assert_non_null(d);
	assert_int_equal(d->n_fields, 0);
}

static const struct mutation {
	const char *from, *to; /* first occurrence of `from` becomes `to` */
	const char *expect[2]; /* one mismatch line must name both */
} mutations[] = {
	{ "`grpc.Box`: Height=1 uint32", "`grpc.Box`: Height=9 uint32", { "grpc.Box", "Height" } },
	{ "`grpc.WaitProcessResponse`: status=1 int32", "`grpc.WaitProcessResponse`: status=1 uint32",
	  { "grpc.WaitProcessResponse", "status" } },
	{ "`grpc.Process`: Terminal=1 bool", "`grpc.Process`: terminal=1 bool", { "grpc.Process", "Terminal" } },
	{ "Args=4 repeated string, Env=5", "Args=4 string, Env=5", { "grpc.Process", "Args" } },
	{ "Annotations=7 map<string, string>", "Annotations=7 map<string, bytes>", { "grpc.Spec", "Annotations" } },
	{ "stats=6 map<string, uint64>", "stats=6 repeated string", { "grpc.MemoryStats", "stats" } },
	{ "errnoret=3 uint32 (oneof ErrnoRet)", "errnoret=3 uint32 (oneof Errno)", { "grpc.LinuxSyscall", "errnoret" } },
	{ "errnoret=3 uint32 (oneof ErrnoRet)", "errnoret=3 uint32", { "grpc.LinuxSyscall", "errnoret" } },
	{ "`grpc.Root`: Path=1 string, Readonly=2 bool", "`grpc.Root`: Path=1 string", { "grpc.Root", "Readonly" } },
	{ "`grpc.Root`: Path=1 string", "`grpc.Root`: Path=1 string, Mode=3 uint32", { "grpc.Root", "Mode" } },
	{ "family=6 types.IPFamily", "family=6 types.FSGroupChangePolicy", { "types.Route", "family" } },
	{ "toIPAddress=1 types.IPAddress", "toIPAddress=1 types.Interface", { "types.ARPNeighbor", "toIPAddress" } },
	{ "NOT_SERVING=2", "NOT_SERVING=3", { "grpc.HealthCheckResponse.ServingStatus", "NOT_SERVING" } },
	{ "OnRootMismatch=1", "OnRootMismatch=1, Never=2", { "types.FSGroupChangePolicy", "Never" } },
	{ "`ListRoutes`(grpc.ListRoutesRequest) returns (grpc.Routes)",
	  "`ListRoutes`(grpc.ListRoutesRequest) returns (grpc.Interfaces)", { "grpc.AgentService", "ListRoutes" } },
	{ "  - `SetPolicy`(grpc.SetPolicyRequest) returns (google.protobuf.Empty)\n", "", { "grpc.AgentService", "SetPolicy" } },
	{ "  - `Check`(grpc.CheckRequest) returns (grpc.HealthCheckResponse)\n", "", { "grpc.Health", "Check" } },
	{ "`grpc.Windows`: dummy=1 string", "`grpc.Window`: dummy=1 string", { "grpc.Window", "missing" } },
	{ "- `grpc.GetMetricsRequest`: (no fields)\n", "", { "grpc.GetMetricsRequest", "extra" } },
	{ "metadata=5 repeated", "metadata=6 repeated", { "ttrpc.Request", "metadata" } },
};

static char *apply(const char *text, const struct mutation *m) {
	const char *at = strstr(text, m->from);
	if (!at)
		return NULL;
	size_t pre = (size_t)(at - text), from = strlen(m->from), to = strlen(m->to), rest = strlen(at + from);
	char *out = malloc(pre + to + rest + 1);
	assert_non_null(out);
	memcpy(out, text, pre);
	memcpy(out + pre, m->to, to);
	memcpy(out + pre + to, at + from, rest + 1);
	return out;
}

static bool log_has_line_with(const char *log, const char *a, const char *b) {
	for (const char *line = log; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		char *l = xstrndup(line, n);
		bool hit = strstr(l, a) && strstr(l, b);
		free(l);
		if (hit)
			return true;
		line = end ? end + 1 : NULL;
	}
	return false;
}

static void test_mutations_are_caught(void **state) {
	unsigned missed = 0;
	for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		const struct mutation *m = &mutations[i];
		char *text = apply(contract_text, m);
		if (!text) {
			fprintf(stderr, "mutation %zu: `%s` not found in the contract\n", i, m->from);
			missed++;
			continue;
		}
		struct contract c;
		struct report rep = { .quiet = true };
		assert_int_equal(contract_parse(text, &c), 0);
		compare_all(&c, &rep);
		if (!rep.log || !log_has_line_with(rep.log, m->expect[0], m->expect[1])) {
			fprintf(stderr, "mutation %zu (`%s` -> `%s`) not reported with %s and %s; got:\n%s", i, m->from,
				m->to, m->expect[0], m->expect[1], rep.log ? rep.log : "(nothing)\n");
			missed++;
		}
		free(rep.log);
		contract_free(&c);
		free(text);
	}
	assert_int_equal(missed, 0);
}

static void test_malformed_line_is_an_error(void **state) {
	static const struct mutation bad[] = {
		{ "Height=1 uint32", "Height=x uint32", { NULL, NULL } },
		{ "Height=1 uint32", "Height=1", { NULL, NULL } },
		{ "(oneof ErrnoRet)", "(oneof ErrnoRet) (frobbed)", { NULL, NULL } },
		{ "service `grpc.Health`:", "service `grpc.Health`", { NULL, NULL } },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = apply(contract_text, &bad[i]);
		assert_non_null(text);
		struct contract c;
		assert_int_equal(contract_parse(text, &c), -EINVAL);
		free(text);
	}
}

int main(int argc, char **argv) {
	contract_path = argc > 1 ? argv[1] : getenv("WIRE_CONTRACT");
	if (!contract_path)
		contract_path = "tests/data/kata-agent-wire.md";
	contract_text = read_file(contract_path);
	if (!contract_text) {
		fprintf(stderr, "cannot read the wire contract %s: %s (run from the repo root, or pass its path)\n",
			contract_path, strerror(errno));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_parses),
		cmocka_unit_test(test_service_counts),
		cmocka_unit_test(test_descriptors_match_contract),
		cmocka_unit_test(test_alias_shape),
		cmocka_unit_test(test_mutations_are_caught),
		cmocka_unit_test(test_malformed_line_is_an_error),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	free(contract_text);
	return r;
}
