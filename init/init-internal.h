/* Helpers shared by the files of init/; not part of its interface. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* True when path is the root of a mount whose statfs magic is magic: the magic alone is not enough, since an
 * empty /dev on a tmpfs initramfs has TMPFS_MAGIC too, so the device must also differ from the parent's. */
bool init_is_mounted(const char *path, long magic);

/* mkdir that accepts an existing directory. */
int init_mkdir(const char *path, mode_t mode);
