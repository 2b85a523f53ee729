#include "libcontainer-c/arena.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (16u * 1024u)
#define ALIGN 16u

typedef struct block {
	struct block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
} block;

struct lc_arena {
	block *head;
	size_t total, max;
	bool over_cap;
};

lc_arena *lc_arena_new(size_t max) {
	lc_arena *a = calloc(1, sizeof *a);
	if (a)
		a->max = max;
	return a;
}

lc_arena *lc_arena_free(lc_arena *a) {
	if (!a)
		return NULL;
	for (block *b = a->head, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
	return NULL;
}

static block *grow(lc_arena *a, size_t need) {
	/* Small requests share blocks; a large one gets a block of its own placed behind the head, so the
	 * head's free space stays usable for the small ones that follow. */
	size_t size = need > BLOCK_SIZE / 4 ? need : BLOCK_SIZE;
	if (size > SIZE_MAX - sizeof(block) || a->total + sizeof(block) + size > a->max ||
	    a->total + sizeof(block) + size < a->total) {
		a->over_cap = true;
		return NULL;
	}
	block *b = malloc(sizeof(block) + size);
	if (!b)
		return NULL;
	b->size = size;
	b->used = 0;
	a->total += sizeof(block) + size;
	if (size != BLOCK_SIZE && a->head) {
		b->next = a->head->next;
		a->head->next = b;
	} else {
		b->next = a->head;
		a->head = b;
	}
	return b;
}

void *lc_arena_alloc(lc_arena *a, size_t size) {
	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - ALIGN)
		return NULL;
	size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	block *b = a->head;
	if (!b || b->size - b->used < size) {
		b = grow(a, size);
		if (!b)
			return NULL;
	}
	void *p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

void *lc_arena_allocn(lc_arena *a, size_t n, size_t size) {
	if (size && n > SIZE_MAX / size)
		return NULL;
	return lc_arena_alloc(a, n * size);
}

char *lc_arena_strndup(lc_arena *a, const char *s, size_t len) {
	if (len == SIZE_MAX)
		return NULL;
	char *p = lc_arena_alloc(a, len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

char *lc_arena_strdup(lc_arena *a, const char *s) {
	return s ? lc_arena_strndup(a, s, strlen(s)) : NULL;
}

char *lc_arena_printf(lc_arena *a, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = lc_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	(void)vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

int lc_arena_over_cap(const lc_arena *a) {
	return a->over_cap;
}

size_t lc_arena_used(const lc_arena *a) {
	return a->total;
}
