/* A bump allocator that owns every string and array of one lc_spec or lc_config, so each of them has exactly
 * one free function and no reader needs an unwind path per field. Private to libcontainer-c. */
#pragma once

#include <stddef.h>

typedef struct lc_arena lc_arena;

/* An arena that refuses to grow past max bytes in total (blocks included); the readers pass a cap derived
 * from their input caps, so a hostile spec cannot make it grow without bound. */
lc_arena *lc_arena_new(size_t max);
lc_arena *lc_arena_free(lc_arena *a);

/* Zeroed, aligned for any type. NULL when out of memory or over the cap (lc_arena_over_cap() says which). */
void *lc_arena_alloc(lc_arena *a, size_t size);
/* n zeroed elements of size; NULL on overflow as well. */
void *lc_arena_allocn(lc_arena *a, size_t n, size_t size);
char *lc_arena_strndup(lc_arena *a, const char *s, size_t len);
char *lc_arena_strdup(lc_arena *a, const char *s);
/* printf into the arena; NULL when out of memory. */
char *lc_arena_printf(lc_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lc_arena_over_cap(const lc_arena *a);
size_t lc_arena_used(const lc_arena *a);
