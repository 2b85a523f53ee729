/* Reads the .modinfo section of a kernel module file (an ELF64 relocatable object): the NUL-separated
 * "key=value" strings modinfo prints (name, depends, softdep, alias, ...). Host-side only: it is how
 * mkinitrd builds modules.dep for a kernel package that ships none (depmod runs at package install). */
#pragma once

#include <stddef.h>

#define MODINFO_MAX (1u << 20)

/* Fills *ret with a malloc'ed copy of the section, NUL-terminated, and *ret_len with its length. */
int modinfo_read(int dirfd, const char *path, char **ret, size_t *ret_len);

/* Calls fn(key, value, userdata) for every "key=value" string; stops at a negative return and passes it on. */
int modinfo_foreach(const char *info, size_t len, int (*fn)(const char *key, const char *value, void *userdata),
		    void *userdata);
