/* A newc ("070701") cpio writer for initramfs images. Entries are collected, then written sorted by name with
 * inode numbers assigned in that order, uid/gid 0 and one mtime, so the same inputs give the same bytes no
 * matter the order they were added in or the host they were built on. Device nodes are plain entries here:
 * building an initrd needs neither root nor mknod. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/macro.h"

#define CPIO_NAME_MAX 1024
#define CPIO_HEADER_SIZE 110

typedef struct cpio_archive cpio_archive;

int cpio_new(uint32_t mtime, cpio_archive **ret);
cpio_archive *cpio_free(cpio_archive *a);
DEFINE_CLEANUP_FUNC(cpio_archive *, cpio_free);

/* Names are relative ("dev/console"); a leading "/" is dropped. A second entry with the same name is -EEXIST.
 * perm is the permission bits (07777); the file type comes from the function. */
int cpio_add_dir(cpio_archive *a, const char *name, mode_t perm);
int cpio_add_file(cpio_archive *a, const char *name, mode_t perm, const void *data, size_t len);
int cpio_add_symlink(cpio_archive *a, const char *name, const char *target);
/* type is S_IFCHR or S_IFBLK. */
int cpio_add_device(cpio_archive *a, const char *name, mode_t type, mode_t perm, unsigned major, unsigned minor);

/* Writes all entries and the TRAILER!!! into one buffer; the archive keeps ownership of it. Can be called
 * again (entries are not consumed). */
int cpio_finish(cpio_archive *a, const uint8_t **ret_data, size_t *ret_len);
