/* The executor's private interfaces: the sync protocol between the runtime and the children it clones, the
 * child-side rootfs and console steps, and the spawn entry points that container.c drives. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "libcontainer-c/cgroup.h"
#include "libcontainer-c/op.h"
#include "libcontainer-c/process-security.h"
#include "libcontainer-c/seccomp.h"
#include "libcontainer-c/specconv.h"

/* ---- sync protocol ---------------------------------------------------------------------------------------
 * One SOCK_SEQPACKET socketpair per spawn, close-on-exec on both ends, so message boundaries are kept and the
 * parent sees EOF once every child holding the other end has exec'd or exited. Each datagram is one lc_sync_msg
 * of at most LC_SYNC_MSG_MAX bytes; a longer one is truncated by the kernel and rejected by the receiver.
 *
 *   create:  parent -> child  GO        (after uid/gid maps and cgroup placement; the child waits for it)
 *            child  -> parent READY     (rootfs, cwd, security and the executable done; the child now
 *                                        blocks reading the exec fifo until `start` writes one byte)
 *            child  -> parent HOOKS     (only when the config has hooks: mounts done, before pivot_root; the
 *                                        parent runs prestart and createRuntime, writes the state JSON into
 *                                        the hook-state pipe and answers GO; the child then runs the
 *                                        createContainer hooks, keeping the state for startContainer)
 *            child  -> parent ERROR     (err = errno, text = the message) at any step; the child then exits
 *   exec:    process -> parent ERROR    (as above; the process is the parent's child from the clone on)
 *            EOF                        (the process exec'd: its end was close-on-exec)
 */
enum {
	LC_SYNC_GO = 1,
	LC_SYNC_READY = 2,
	LC_SYNC_ERROR = 3,
	LC_SYNC_HOOKS = 5,
};

#define LC_SYNC_TEXT_MAX KC_ERROR_MSG_MAX
typedef struct lc_sync_msg {
	uint32_t type;
	int32_t err;
	int64_t value;
	char text[LC_SYNC_TEXT_MAX];
} lc_sync_msg;
#define LC_SYNC_MSG_MAX sizeof(lc_sync_msg)

/* How long the runtime waits for a child's next message before it gives up and kills it. */
#define LC_SYNC_TIMEOUT_MS 60000

int lc_sync_send(int fd, uint32_t type, int64_t value, const kc_error *e);
/* Waits at most timeout_ms. Returns 1 with a message, 0 on EOF, -ETIMEDOUT, or -errno. */
int lc_sync_recv(int fd, int timeout_ms, lc_sync_msg *ret);
/* Sends err (type ERROR) to the parent and exits the child with status 1 (127 for ENOENT, 126 for EACCES). */
_noreturn_ void lc_child_fail(int syncfd, const kc_error *err);

/* ---- spawning -------------------------------------------------------------------------------------------- */

typedef struct lc_spawn_args {
	const lc_config *cfg;
	const char *rootfs;     /* absolute host path */
	int exec_fifo_fd;       /* the read end of the state dir's exec.fifo (O_NONBLOCK): the start gate */
	/* Where the init writes why it stopped between the start gate and execve (a failing startContainer
	 * hook), for a `start` that is not its parent to report; -1: nowhere (the message goes to stderr). */
	int start_err_fd;
	int console_sock_fd;    /* connected console socket, or -1 */
	unsigned preserve_fds;  /* fds 3..3+n-1 reach the process */
	bool no_pivot;
	const lc_seccomp_prog *seccomp; /* compiled by the runtime from cfg->seccomp; NULL: none */
	/* The container's cgroup, created and configured; NULL: none. The init is in it before it runs anything
	 * of the container: born there (clone3 CLONE_INTO_CGROUP) on pure v2, else moved in by the parent
	 * before GO. */
	lc_cgroup *cgroup;
	/* Called in the parent when the child reports HOOKS: the state JSON (malloc'd) for the init pid that
	 * prestart, createRuntime and the container's own hooks get on stdin (status "created"; "creating" for the
	 * seccomp listener); the operation then runs prestart and createRuntime as steps. Required when the config
	 * has any of prestart, createRuntime, createContainer or startContainer, or a seccomp listener. */
	int (*runtime_state)(void *userdata, pid_t pid, const char *status, char **ret_state, kc_error *err);
	void *hooks_userdata;
	/* The process's fds 0, 1 and 2 (the agent's stdio pipes); NULL: inherited from the caller. A terminal's
	 * slave replaces them. */
	const int *stdio;
	/* SCMP_ACT_NOTIFY: a socket the caller connected to linux.seccomp.listenerPath (required then, else -1).
	 * Once the filter is installed the child sends the listener fd over it with the container process state
	 * (runtime_state with status "creating"). */
	int seccomp_listener_fd;
} lc_spawn_args;

/* Does the config need the HOOKS step of the create protocol? */
bool lc_spawn_needs_hooks(const lc_config *cfg);

/* What a layer above the spawn steps (container.c, instance.c) does at the end of an operation: done() when
 * the child is ready (a failure there fails the operation), cleanup() from lc_op_free (succeeded: done() ran
 * and returned 0). */
typedef struct lc_op_layer {
	int (*done)(void *userdata, lc_op *op, kc_error *err);
	void (*cleanup)(void *userdata, lc_op *op, bool succeeded);
	void *userdata;
} lc_op_layer;
void lc_op_set_layer(lc_op *op, const lc_op_layer *layer);

/* Clones the container's init into its new namespaces (id maps written, cgroup entered, GO sent) and returns
 * the operation that waits for it to be ready and blocked on the start gate, running prestart and createRuntime
 * on the way. a, and what it points to, must outlive the op. On a failure after the clone, *ret is set all
 * the same (the child, killed, is in it) and must be freed. */
int lc_spawn_init_begin(const lc_spawn_args *a, lc_op **ret, kc_error *err);

typedef struct lc_exec_args {
	int target_pidfd;         /* the container's init */
	unsigned ns_flags;        /* CLONE_NEW* to join */
	const lc_process_config *process;
	int console_sock_fd;      /* or -1 */
	unsigned preserve_fds;
	const lc_seccomp_prog *seccomp;
	bool has_personality;
	unsigned long personality;
	lc_cgroup *cgroup;        /* the container's (a leaf); the helper joins it before setns, NULL: none */
	const int *stdio;         /* fds 0, 1, 2 of the process, as in lc_spawn_args; NULL: inherited */
	/* SCMP_ACT_NOTIFY, as in lc_spawn_args: the connected listener socket, the container's state JSON and
	 * linux.seccomp.listenerMetadata (may be NULL). */
	int seccomp_listener_fd;
	const char *seccomp_state;
	const char *seccomp_metadata;
} lc_exec_args;

/* Runs a process inside a running container: cloned as the caller's child straight into the container's pid
 * namespace (and its cgroup on pure v2), it joins the other namespaces through the pidfd with dumpable off and
 * execs. The op ends when it has exec'd (EOF on the sync socket) or reported why not. The args are copied into
 * the child at begin: they need not outlive the op. */
int lc_spawn_exec_begin(const lc_exec_args *a, lc_op **ret, kc_error *err);

/* ---- the child's steps ----------------------------------------------------------------------------------- */

/* Mount namespace setup up to and including pivot_root (or MS_MOVE + chroot on initramfs, or chroot with
 * no_pivot), then masked and readonly paths and the readonly root. host_procfd: the host's /proc (O_PATH),
 * for sysctls, opened before anything of the container's is mounted. */
int lc_rootfs_setup(const lc_config *cfg, const char *rootfs, bool no_pivot, int host_procfd,
		    int (*before_pivot)(void *userdata, kc_error *err), void *userdata, kc_error *err);
/* Resolves the executable as execvpe would, with the container's PATH; fills ret (PATH_MAX). */
int lc_find_executable(const char *file, char *const *env, char *ret, size_t size, kc_error *err);
/* Checks that the cwd is reachable from the root after chdir (CVE-2024-21626: a leaked host directory fd
 * as cwd shows as "(unreachable)"). */
int lc_chdir_verified(const char *cwd, kc_error *err);
/* Fills the security module's parameters for p: seccomp deferred to the last step before execve when
 * noNewPrivileges (exec_process does it after the start gate and closing fds). */
void lc_security_params_init(lc_security_params *sp, const lc_process_config *p, const lc_seccomp_prog *seccomp,
			     bool has_personality, unsigned long personality);

/* One sendmsg of data with fd attached (SCM_RIGHTS). */
int lc_send_fd(int sock, int fd, const void *data, size_t len);

/* Console: in the child, after pivot_root: opens a pty from the container's /dev/ptmx, sends the master to
 * the console socket (SCM_RIGHTS) and makes the slave the controlling terminal and stdio. */
int lc_console_setup_child(int console_sock_fd, const lc_process_config *p, kc_error *err);

/* CLONE_NEW* of the namespaces of pid that differ from ours: what an exec into its container joins. */
unsigned lc_ns_flags_differing(pid_t pid);

/* Creates the container's cgroup (linux.cgroupsPath under parent) and applies linux.resources; rootless: no
 * device policy (LC_CGROUP_NO_DEVICES). */
int lc_spawn_cgroup_create(const lc_config *cfg, const char *parent, const char *id, bool rootless, lc_cgroup **ret,
			   kc_error *err);
