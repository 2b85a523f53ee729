/* Mount options as the host sends them (Storage.options: "ro", "nodev", "size=64m", "trans=virtio", ...) turned
 * into what mount(2) takes: MS_* flags, propagation flags for a second mount call, and the fs-specific data
 * string. Table-driven; an option the table does not know is fs-specific data. Pure logic, fuzzed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Caps on host input. The kernel copies at most one page of mount data, so a longer data string would be
 * cut silently: refuse it instead. */
#define STOR_OPTIONS_MAX 128     /* items, after splitting on ',' */
#define STOR_OPTION_LEN_MAX 1024 /* one item */
#define STOR_DATA_MAX 4096       /* the data string, NUL included */

typedef struct stor_mount_opts {
	unsigned long flags;       /* MS_* for the mount call */
	unsigned long propagation; /* MS_SHARED/MS_PRIVATE/MS_SLAVE/MS_UNBINDABLE (| MS_REC), applied afterwards */
	size_t data_len;
	char data[STOR_DATA_MAX]; /* "a=b,c" */
} stor_mount_opts;

/* Parses n option strings; each may itself be a comma-separated list, empty items are skipped. Later flags
 * win over earlier ones ("ro,rw" is rw), as with mount(8). what names the field in errors. */
int stor_options_parse(const char *const *opts, size_t n, stor_mount_opts *ret, const char *what, kc_error *err);

/* Removes every `key=value` (or bare `key`) item from the data string and copies the last value into buf. Returns 1 when the
 * key was present, 0 when not, -ENAMETOOLONG when the value does not fit in size. */
int stor_options_take(stor_mount_opts *o, const char *key, char *buf, size_t size);

/* True when the data string holds an item `key` or `key=...`. */
bool stor_options_has(const stor_mount_opts *o, const char *key);

/* Appends one data item; -E2BIG over STOR_DATA_MAX. */
int stor_options_append(stor_mount_opts *o, const char *item);

/* Removes every data item that starts with prefix (the runtime's "io.katacontainers." annotations, which no
 * filesystem knows); returns how many went. */
int stor_options_drop_prefix(stor_mount_opts *o, const char *prefix);
