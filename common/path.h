/* Host paths are hostile: every one is checked against the prefix it must lie under, then resolved inside
 * that prefix's directory as if it were "/": ".." stops at the root, an absolute symlink starts again from the
 * root, and magic links (/proc/PID/fd/N) are refused, so nothing a path or a planted symlink says can leave
 * the root. openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) does this in the kernel; where it is missing
 * (Linux < 5.6, or a seccomp filter answering ENOSYS/EPERM) a component walk over O_PATH fds does the same,
 * and the unit tests run every case through both. Creating missing directories always takes the walk. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

#define PATH_SYMLINKS_MAX 40 /* as the kernel's MAXSYMLINKS */
#define PATH_DEPTH_MAX 256   /* directory levels held open during a walk */

enum {
	PATH_RESOLVE_MKDIR = 1 << 0,          /* create missing directories (mkdir_mode), last one included */
	PATH_RESOLVE_NOFOLLOW = 1 << 1,       /* a symlink as the last component is opened itself (O_PATH) */
	PATH_RESOLVE_FORCE_FALLBACK = 1 << 2, /* tests: take the component walk even when openat2 works */
};

/* Opens path inside rootfd with open_flags (O_CLOEXEC is added; O_CREAT is refused: create with the parent
 * fd). A leading '/' is the root. ret_created (may be NULL) says whether the last component was made by
 * PATH_RESOLVE_MKDIR. */
int path_open_in_root(int rootfd, const char *path, int open_flags, unsigned flags, mode_t mkdir_mode,
		      int *ret_fd, bool *ret_created);

/* Splits path into its parent (opened inside rootfd as an O_PATH directory fd, created with mkdir_mode
 * under PATH_RESOLVE_MKDIR) and its last component, which must be a plain name (not "", "." or ".."). */
int path_open_parent_in_root(int rootfd, const char *path, unsigned flags, mode_t mkdir_mode, int *ret_dirfd,
			     const char **ret_name);

/* Checks a host path against the directory it must lie under: absolute, below prefix (which ends in '/'),
 * shorter than PATH_MAX, no ".." component, no NUL. Returns the part after the prefix in ret_rel (never
 * empty). The error names the field (what). */
int path_check_under(const char *path, const char *prefix, const char **ret_rel, const char *what, kc_error *err);

/* /proc/self/fd/N for mount(2) and umount2(2) on an fd. */
#define PATH_FD_PATH_MAX 32
void path_fd_path(int fd, char buf[PATH_FD_PATH_MAX]);
