/* The per-container state directory (container.h describes its files). Private to libcontainer-c. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "libcontainer-c/cgroup.h"
#include "libcontainer-c/container.h"

typedef struct lc_state {
	int dirfd;       /* <root>/<id>, O_DIRECTORY */
	char *id;
	json_object *doc; /* state.json as stored */
	pid_t pid;
	uint64_t start_time; /* /proc/PID/stat field 22 when created: a recycled pid does not match */
	lc_status status;
	const char *cgroup_path; /* in doc; NULL for a container made without one */
} lc_state;

int lc_id_check(const char *id, kc_error *err);
/* Makes <root> (0700) if needed and <root>/<id> (0700); -EEXIST names the duplicate id. */
int lc_state_dir_create(const char *root, const char *id, int *ret_dirfd, kc_error *err);
/* Removes what a state directory may hold, then the directory. Missing files are fine. */
int lc_state_dir_remove(const char *root, const char *id);
/* -ENOENT: "container `id` does not exist". Computes the status from the pid, its start time and exec.fifo;
 * paused only after lc_state_check_paused(), which costs a look at the cgroup, so that the lifecycle steps
 * that do not care (start, kill, delete) skip it. */
int lc_state_load(const char *root, const char *id, lc_state **ret, kc_error *err);
lc_state *lc_state_free(lc_state *s);
/* created or running → paused when the container's cgroup is frozen (crun's rule). */
void lc_state_check_paused(lc_state *s);
static inline void lc_state_freep(lc_state **s) {
	if (*s)
		(void)lc_state_free(*s);
}
/* Writes state.json atomically (temporary file + rename). */
int lc_state_save(int dirfd, json_object *doc, kc_error *err);
/* 0 and the start time of pid; -ESRCH when it is gone or a zombie. */
int lc_proc_start_time(pid_t pid, uint64_t *ret);
/* Joins the container's cgroup (never creates it): -ENOENT when it has none or it is gone. */
int lc_state_cgroup_open(const lc_state *s, lc_cgroup **ret, kc_error *err);
