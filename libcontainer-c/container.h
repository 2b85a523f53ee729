/* The container lifecycle, as runc and crun expose it: create (the init process set up and blocked before exec),
 * start, state, kill, delete, exec. State lives in a directory per container under a root (lcrun's --root), so
 * that each call can be a separate process: <root>/<id>/state.json (what `state` prints, plus the init's start
 * time against pid reuse), config.json (the frozen spec, for exec's defaults) and exec.fifo (the start gate,
 * present exactly while the container is `created`).
 *
 * The library never reaps: create and exec hand back the pid and a pidfd of a child the caller must collect
 * (lcrun waits on the pidfd; the agent's SIGCHLD loop does it there). Every wait is bounded. Host builds only
 * (json-c): the agent keeps its containers in memory and drives the spawn steps itself (instance.h).
 *
 * create and exec also come as steps (op.h): `*_begin` does the short work and returns the operation to drive
 * from a poll loop; lcrun is such a loop. The blocking forms are begin + lc_op_run. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "libcontainer-c/cgroup.h"
#include "libcontainer-c/op.h"

#define LC_STATE_ROOT_DEFAULT "/run/lcrun"
#define LC_ID_MAX 255
/* Where a container whose linux.cgroupsPath is empty or relative goes, unless the caller says otherwise. */
#define LC_CGROUP_PARENT_DEFAULT "/lcrun"

typedef enum lc_status {
	LC_STATUS_CREATED,
	LC_STATUS_RUNNING,
	LC_STATUS_STOPPED,
	LC_STATUS_PAUSED, /* running (or created) with its cgroup frozen */
} lc_status;

const char *lc_status_name(lc_status s);

typedef struct lc_create_opts {
	const char *bundle;       /* absolute; config.json is read from here and relative paths resolve here */
	int console_sock_fd;      /* connected console socket, -1 without; required when process.terminal */
	const char *pid_file;     /* NULL: none */
	unsigned preserve_fds;    /* fds 3..3+n-1 pass to the process */
	bool no_pivot;
	const char *cgroup_parent; /* for an empty or relative linux.cgroupsPath; NULL: LC_CGROUP_PARENT_DEFAULT */
	bool no_cgroup;           /* no cgroup at all (tests of the rest, hosts without cgroupfs) */
	/* An unprivileged caller: a cgroup only where its user was delegated one (it may create the directory),
	 * else none, unless linux.resources asks for limits; never a device policy. */
	bool rootless;
} lc_create_opts;

/* Creates the container: state directory, exec fifo, the init cloned into its namespaces with its rootfs built,
 * blocked before exec until lc_container_start(). ret_pid/ret_pidfd: the init, the caller's child to reap.
 * Errors: -EEXIST (duplicate id), -EINVAL (config, with the field named in err), others. On failure nothing is
 * left: no process, no state directory, no mount (all mounts live in the init's mount namespace). */
int lc_container_create(const char *root, const char *id, const lc_create_opts *o, pid_t *ret_pid, int *ret_pidfd,
			kc_error *err);
/* As steps: on success *ret is the operation; when it has ended with 0, lc_op_take_child() gives the init.
 * lc_op_free() of a failed or unfinished one removes everything, collecting the killed init itself (a caller of
 * this API has no reaper of its own for it). o is read during begin only. */
int lc_container_create_begin(const char *root, const char *id, const lc_create_opts *o, lc_op **ret, kc_error *err);
/* Lets a created container's init exec its process. Bounded: fails if the init died. */
int lc_container_start(const char *root, const char *id, kc_error *err);
/* The OCI state JSON (runc's fields: ociVersion, id, pid, status, bundle, rootfs, created, owner,
 * annotations), malloc'd. */
int lc_container_state(const char *root, const char *id, char **ret_json, lc_status *ret_status, kc_error *err);
/* Sends sig to the init through a pidfd (checked against the recorded start time). The container must be created
 * or running. */
int lc_container_kill(const char *root, const char *id, int sig, kc_error *err);
/* Removes a stopped (or created) container; a running one only with force, after SIGKILL and a bounded wait for
 * its init to die. */
int lc_container_delete(const char *root, const char *id, bool force, kc_error *err);

typedef struct lc_exec_opts {
	char *const *args;        /* NULL-terminated, non-empty */
	char *const *env;         /* extra KEY=VALUE entries added to the container's environment; may be NULL */
	bool env_replace;         /* env is the whole environment (exec --process), not additions */
	const char *cwd;          /* NULL: the container's */
	bool has_user;
	uid_t uid;
	gid_t gid;
	const gid_t *additional_gids; /* with has_user: the supplementary groups (none when n is 0) */
	size_t n_additional_gids;
	bool tty;
	int console_sock_fd;
	unsigned preserve_fds;
} lc_exec_opts;

/* Runs a process in a created or running container: its namespaces (all that differ from ours), its user and cwd
 * by default. ret_pid/ret_pidfd: the caller's child to reap; set even when the process failed to exec after it
 * was cloned (its exit status, 126/127, is then the caller's to collect), else -1. */
int lc_container_exec(const char *root, const char *id, const lc_exec_opts *o, pid_t *ret_pid, int *ret_pidfd,
		      kc_error *err);
/* As steps: the process exists once begin returns (lc_op_child()); take it with lc_op_take_child() however the
 * operation ends. */
int lc_container_exec_begin(const char *root, const char *id, const lc_exec_opts *o, lc_op **ret, kc_error *err);

/* Where the library reports what it ignores by the spec's rules (a failing poststart or poststop hook). The
 * handler must not block; NULL: nothing is reported. */
void lc_set_warn_handler(void (*fn)(void *userdata, const char *msg), void *userdata);

/* Signal names as kill(1) and runc take them: "KILL", "SIGKILL", "9"; -EINVAL when unknown. */
int lc_signal_from_string(const char *s);

/* CVE-2019-5736: re-execs the calling program from a sealed memfd copy unless it already runs from one. Call it
 * first thing in main(). */
int lc_self_ensure_sealed(char *const argv[], char *const envp[], kc_error *err);

/* ---- through the container's cgroup (container-cgroup.c) ---------------------------------------------------
 * Each fails with -ENOENT ("has no cgroup") for a container created with no_cgroup. */

/* Freezes (pause) or thaws (resume) a running container; bounded (the freezer gives up and thaws). */
int lc_container_pause(const char *root, const char *id, bool pause, kc_error *err);
/* sig to every process of the container (its cgroup), not only the init. */
int lc_container_kill_all(const char *root, const char *id, int sig, kc_error *err);
/* The host pids in the container's cgroup and its descendants; *ret malloc'd. */
int lc_container_pids(const char *root, const char *id, pid_t **ret, size_t *ret_n, kc_error *err);
/* Applies res to a created, running or paused container (update semantics: absent fields stay). */
int lc_container_update(const char *root, const char *id, const lc_spec_resources *res, kc_error *err);
/* cgroup statistics (cpu, memory, pids, blkio, hugetlb); clear with lc_cgroup_stats_clear(). */
int lc_container_stats(const char *root, const char *id, lc_cgroup_stats *ret, kc_error *err);
