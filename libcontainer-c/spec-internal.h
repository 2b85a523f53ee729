/* The field table of lc_spec: one row per JSON key with its C member, so that the config.json reader, the deep
 * comparison and the allocation of a fresh spec walk the same description instead of three hand-written
 * copies of the runtime-spec that could drift apart. Private to libcontainer-c. */
#pragma once

#include <stddef.h>

#include "libcontainer-c/arena.h"
#include "libcontainer-c/spec.h"

typedef enum lc_field_kind {
	LC_F_STR,    /* char *, NULL when absent */
	LC_F_BOOL,   /* bool */
	LC_F_I32,    /* int32_t */
	LC_F_U32,    /* uint32_t */
	LC_F_I64,    /* int64_t */
	LC_F_U64,    /* uint64_t */
	LC_F_STRV,   /* lc_strv */
	LC_F_U32V,   /* uint32_t * + size_t count */
	LC_F_KV,     /* JSON object of strings: lc_kv * + size_t count, in document order */
	LC_F_OBJ,    /* T *, NULL when absent */
	LC_F_OBJV,   /* T * + size_t count */
	LC_F_OBJMAP, /* JSON object of objects: T * + count; the key goes to T's first member, a char * */
	LC_F_EMBED,  /* T embedded by value; absent leaves it zeroed */
} lc_field_kind;

typedef struct lc_object_desc lc_object_desc;

typedef struct lc_field {
	const char *key;
	lc_field_kind kind;
	size_t off;
	ptrdiff_t has_off; /* offset of the bool presence flag of a scalar, or -1 */
	size_t count_off;  /* offset of the size_t count of an array or map */
	const lc_object_desc *sub;
} lc_field;

struct lc_object_desc {
	size_t size;
	const lc_field *fields;
	size_t n_fields;
};

extern const lc_object_desc lc_spec_desc;

/* The arena of a spec, for readers that fill it. */
static inline lc_arena *lc_spec_arena(lc_spec *s) {
	return s->arena;
}
