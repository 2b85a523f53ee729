/* Thin wrappers over the syscalls the executor needs and that neither glibc 2.36 nor musl wraps everywhere
 * (clone3, pidfds, close_range, the new mount API, pivot_root). Private to libcontainer-c. The constants are
 * the kernel's ABI, defined here only when the libc headers lack them: <linux/mount.h> cannot be included next
 * to glibc's <sys/mount.h>. */
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef FSCONFIG_SET_FLAG
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#define MOUNT_ATTR__ATIME 0x00000070
#define MOUNT_ATTR_RELATIME 0x00000000
#define MOUNT_ATTR_NOATIME 0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME 0x00000080
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#define SYS_move_mount 429
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args up to CLONE_ARGS_SIZE_VER2 (cgroup). */
typedef struct lc_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
		cgroup;
} lc_clone_args;

/* struct mount_attr (MOUNT_ATTR_SIZE_VER0). */
typedef struct lc_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
} lc_mount_attr;

/* Fork-like: 0 in the child, the pid in the parent, -errno on failure. No glibc fork handlers run in the
 * child, which is fine for a single-threaded caller and is what lets us pass namespace flags at birth. */
static inline pid_t lc_clone3(lc_clone_args *a) {
	long r = syscall(SYS_clone3, a, sizeof *a);
	return r < 0 ? -errno : (pid_t)r;
}
static inline int lc_pidfd_open(pid_t pid) {
	long r = syscall(SYS_pidfd_open, pid, 0);
	return r < 0 ? -errno : (int)r; /* pidfds are always close-on-exec */
}
static inline int lc_pidfd_send_signal(int pidfd, int sig) {
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}
static inline int lc_close_range(unsigned first, unsigned last, unsigned flags) {
	return syscall(SYS_close_range, first, last, flags) < 0 ? -errno : 0;
}
static inline int lc_open_tree(int dfd, const char *path, unsigned flags) {
	long r = syscall(SYS_open_tree, dfd, path, flags);
	return r < 0 ? -errno : (int)r;
}
static inline int lc_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags) {
	return syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags) < 0 ? -errno : 0;
}
static inline int lc_fsopen(const char *fs, unsigned flags) {
	long r = syscall(SYS_fsopen, fs, flags);
	return r < 0 ? -errno : (int)r;
}
static inline int lc_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux) {
	return syscall(SYS_fsconfig, fd, cmd, key, value, aux) < 0 ? -errno : 0;
}
static inline int lc_fsmount(int fd, unsigned flags, unsigned attrs) {
	long r = syscall(SYS_fsmount, fd, flags, attrs);
	return r < 0 ? -errno : (int)r;
}
static inline int lc_mount_setattr(int dfd, const char *path, unsigned flags, lc_mount_attr *attr) {
	return syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr) < 0 ? -errno : 0;
}
static inline int lc_pivot_root(const char *new_root, const char *put_old) {
	return syscall(SYS_pivot_root, new_root, put_old) < 0 ? -errno : 0;
}
