/* Private to the cgroup manager (cgroup*.c, devices-bpf.c) and its tests. */
#pragma once

#include <limits.h>

#include "libcontainer-c/cgroup.h"

/* Files we read are small kernel texts; cgroup.procs is the big one (a pid and a newline each). */
#define LC_CG_READ_MAX   (256u << 10)
#define LC_CG_PROCS_MAX  (8u << 20)
/* Descendants walked by pids, kill and destroy; a container making deeper trees than this is hostile. */
#define LC_CG_DEPTH_MAX  32

struct lc_cgroup {
	lc_cgroup_layout *layout;
	char *path;                     /* "/a/b" */
	unsigned flags;
	int dirfd[LC_CGROUP_HIER_MAX];  /* O_RDONLY|O_DIRECTORY per hierarchy (BPF attach refuses O_PATH) */
	/* Per hierarchy, the offset in path of the first component this handle created (destroy removes up to
	 * there), or 0 when the leaf existed already (destroy removes the leaf only). */
	size_t created_from[LC_CGROUP_HIER_MAX];
	int bpf_prog_fd;                /* our device program on the cgroup2 directory, -EBADF when none */
};

/* The hierarchy index serving controller c, or -1. */
static inline int lc_cg_where(const lc_cgroup *cg, lc_cgroup_controller c) {
	return cg->layout->where[c];
}
static inline bool lc_cg_is_v2(const lc_cgroup *cg, int h) {
	return cg->layout->h[h].v2;
}

/* "<mount><path>/<file>" into buf (PATH_MAX); file may be NULL for the directory. Never fails for a path that
 * lc_cgroup_open() accepted (it checked the longest one); on overflow the buffer holds "...". */
const char *lc_cg_fullpath(const lc_cgroup *cg, int h, const char *file, char buf[static PATH_MAX]);

/* One write(2) of value to file in hierarchy h. The error names the value and the full path; on ENOENT under a
 * cgroup2 directory it says whether the controller is enabled there. */
int lc_cg_write(lc_cgroup *cg, int h, const char *file, const char *value, kc_error *err);
/* The error lc_cg_write() reports for a write that failed with r. */
int lc_cg_write_error(lc_cgroup *cg, int h, const char *file, const char *value, int r, kc_error *err);
/* Same, without filling err (for "try this name, then its alias"): -errno. */
int lc_cg_try_write(lc_cgroup *cg, int h, const char *file, const char *value);
/* Whole file, NUL-terminated, at most LC_CG_READ_MAX bytes. */
int lc_cg_read(lc_cgroup *cg, int h, const char *file, char **ret, kc_error *err);
/* A file holding one unsigned number, or "max" (UINT64_MAX). */
int lc_cg_read_u64(lc_cgroup *cg, int h, const char *file, uint64_t *ret, kc_error *err);
/* "key value" lines (memory.stat, cpu.stat, memory.events): the value of key, -ENOENT when absent. */
int lc_cg_keyed_u64(const char *text, const char *key, uint64_t *ret);

/* Reads cgroup.procs of the directory dirfd (relative path "." or a descendant). */
int lc_cg_read_procs_at(int dirfd, pid_t **pids, size_t *n, size_t *cap);

/* cgroup-resources.c */
int lc_cg_apply_devices(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err);

/* Tests: observe every write (full path, value) before it is made, and take the device program instead of
 * loading it. */
static inline void lc_cgroup_layout_set_hooks(lc_cgroup_layout *l,
					      void (*write_hook)(void *userdata, const char *path, const char *value),
					      int (*bpf_hook)(void *userdata, const void *insns, size_t n),
					      void *userdata) {
	l->write_hook = write_hook;
	l->bpf_hook = bpf_hook;
	l->hook_data = userdata;
}
