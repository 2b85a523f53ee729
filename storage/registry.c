#include <string.h>

#include "storage/storage.h"

stor_entry *stor_registry_find(const stor_registry *reg, const char *key) {
	for (stor_entry *e = reg->head; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

int stor_registry_ref(stor_registry *reg, const char *key) {
	stor_entry *e = stor_registry_find(reg, key);
	if (!e)
		return 0;
	if (e->refs == UINT32_MAX)
		return -EOVERFLOW;
	e->refs++;
	return 1;
}

int stor_registry_add(stor_registry *reg, const char *key, const stor_driver *d, bool shared) {
	if (stor_registry_find(reg, key))
		return -EEXIST;
	if (reg->n >= STOR_REGISTRY_MAX)
		return -ENOSPC;
	stor_entry *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return -ENOMEM;
	}
	e->driver = d;
	e->refs = 1;
	e->shared = shared;
	e->next = reg->head;
	reg->head = e;
	reg->n++;
	return 0;
}

int stor_registry_unref(stor_registry *reg, const char *key, bool *ret_unmount, unsigned *ret_driver_flags) {
	for (stor_entry **p = &reg->head; *p; p = &(*p)->next) {
		stor_entry *e = *p;
		if (strcmp(e->key, key) != 0)
			continue;
		if (e->refs > 0)
			e->refs--;
		*ret_unmount = false;
		*ret_driver_flags = stor_driver_flags(e->driver);
		/* A shared storage stays mounted with no reference; the next one finds it and mounts nothing. */
		if (e->refs > 0 || e->shared)
			return 0;
		*ret_unmount = true;
		*p = e->next;
		reg->n--;
		free(e->key);
		free(e);
		return 0;
	}
	return -ENOENT;
}

void stor_registry_clear(stor_registry *reg) {
	while (reg->head) {
		stor_entry *e = reg->head;
		reg->head = e->next;
		free(e->key);
		free(e);
	}
	reg->n = 0;
}
