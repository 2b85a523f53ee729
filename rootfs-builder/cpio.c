#include "rootfs-builder/cpio.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "common/macro.h"

/* The newc format stores sizes in 8 hex digits. */
#define CPIO_FILE_MAX 0xffffffffu

typedef struct cpio_entry {
	char *name;
	uint32_t mode;
	uint32_t rdev_major, rdev_minor;
	uint8_t *data;
	size_t len;
} cpio_entry;

struct cpio_archive {
	uint32_t mtime;
	cpio_entry *entries;
	size_t n, cap;
	uint8_t *out;
	size_t out_len, out_cap;
};

int cpio_new(uint32_t mtime, cpio_archive **ret) {
	cpio_archive *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->mtime = mtime;
	*ret = a;
	return 0;
}

cpio_archive *cpio_free(cpio_archive *a) {
	if (!a)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		free(a->entries[i].name);
		free(a->entries[i].data);
	}
	free(a->entries);
	free(a->out);
	free(a);
	return NULL;
}

static int add(cpio_archive *a, const char *name, uint32_t mode, const void *data, size_t len, unsigned major,
	       unsigned minor) {
	assert_return(a && name, -EINVAL);
	while (*name == '/')
		name++;
	size_t nlen = strlen(name);
	if (nlen == 0 || nlen >= CPIO_NAME_MAX)
		return -EINVAL;
	if (len > CPIO_FILE_MAX)
		return -EFBIG;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->entries[i].name, name) == 0)
			return -EEXIST;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		cpio_entry *e = reallocarray(a->entries, cap, sizeof(*e));
		if (!e)
			return -ENOMEM;
		a->entries = e;
		a->cap = cap;
	}
	cpio_entry e = { .mode = mode, .rdev_major = major, .rdev_minor = minor, .len = len };
	e.name = strdup(name);
	e.data = len ? malloc(len) : NULL;
	if (!e.name || (len && !e.data)) {
		free(e.name);
		free(e.data);
		return -ENOMEM;
	}
	if (len)
		memcpy(e.data, data, len);
	a->entries[a->n++] = e;
	return 0;
}

int cpio_add_dir(cpio_archive *a, const char *name, mode_t perm) {
	return add(a, name, S_IFDIR | (perm & 07777), NULL, 0, 0, 0);
}

int cpio_add_file(cpio_archive *a, const char *name, mode_t perm, const void *data, size_t len) {
	assert_return(data || len == 0, -EINVAL);
	return add(a, name, S_IFREG | (perm & 07777), data, len, 0, 0);
}

int cpio_add_symlink(cpio_archive *a, const char *name, const char *target) {
	assert_return(target && *target, -EINVAL);
	/* newc stores the link target as the file data, without a NUL. */
	return add(a, name, S_IFLNK | 0777, target, strlen(target), 0, 0);
}

int cpio_add_device(cpio_archive *a, const char *name, mode_t type, mode_t perm, unsigned major, unsigned minor) {
	assert_return(type == S_IFCHR || type == S_IFBLK, -EINVAL);
	return add(a, name, type | (perm & 07777), NULL, 0, major, minor);
}

static int out_reserve(cpio_archive *a, size_t more) {
	if (a->out_cap - a->out_len >= more)
		return 0;
	size_t cap = a->out_cap ? a->out_cap : 4096;
	while (cap - a->out_len < more) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	uint8_t *p = realloc(a->out, cap);
	if (!p)
		return -ENOMEM;
	a->out = p;
	a->out_cap = cap;
	return 0;
}

static void out_put(cpio_archive *a, const void *p, size_t n) {
	memcpy(a->out + a->out_len, p, n);
	a->out_len += n;
}

/* Zero bytes up to the next multiple of 4: the header+name and the data are each padded that way. */
static void out_pad4(cpio_archive *a) {
	static const uint8_t zero[3];
	out_put(a, zero, (4 - (a->out_len & 3)) & 3);
}

static int emit(cpio_archive *a, uint32_t ino, const cpio_entry *e, uint32_t mtime) {
	char hdr[CPIO_HEADER_SIZE + 1];
	size_t nsize = strlen(e->name) + 1;
	int r = out_reserve(a, CPIO_HEADER_SIZE + nsize + 3 + e->len + 3);
	if (r < 0)
		return r;
	/* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize,
	 * check. nlink is 2 for directories ("." and the entry) as the kernel's own gen_init_cpio writes it. */
	int n = snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ino,
			 e->mode, 0u, 0u, S_ISDIR(e->mode) ? 2u : 1u, mtime, e->len, 0u, 0u, e->rdev_major,
			 e->rdev_minor, nsize, 0u);
	if (n != CPIO_HEADER_SIZE)
		return -EINVAL;
	out_put(a, hdr, CPIO_HEADER_SIZE);
	out_put(a, e->name, nsize);
	out_pad4(a);
	if (e->len)
		out_put(a, e->data, e->len);
	out_pad4(a);
	return 0;
}

static int entry_cmp(const void *x, const void *y) {
	return strcmp(((const cpio_entry *)x)->name, ((const cpio_entry *)y)->name);
}

int cpio_finish(cpio_archive *a, const uint8_t **ret_data, size_t *ret_len) {
	static const cpio_entry trailer = { .name = (char *)"TRAILER!!!" };
	int r;

	assert_return(a && ret_data && ret_len, -EINVAL);
	/* Sorted by name, so a parent directory ("etc") comes before what is in it ("etc/x"): a prefix sorts
	 * first. The kernel's unpacker needs the directory before its entries. */
	qsort(a->entries, a->n, sizeof(*a->entries), entry_cmp);
	a->out_len = 0;
	for (size_t i = 0; i < a->n; i++) {
		r = emit(a, (uint32_t)(i + 1), &a->entries[i], a->mtime);
		if (r < 0)
			return r;
	}
	r = emit(a, 0, &trailer, 0);
	if (r < 0)
		return r;
	*ret_data = a->out;
	*ret_len = a->out_len;
	return 0;
}
