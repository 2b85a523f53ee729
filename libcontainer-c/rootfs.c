/* The container's mount namespace, built in the child. Every destination inside the rootfs is resolved inside
 * it (path_open_in_root: openat2 RESOLVE_IN_ROOT, or a component walk) and every mount is attached onto the
 * resulting O_PATH fd with move_mount, so a symlink planted or swapped in the image can redirect a mount only
 * to somewhere else inside the rootfs (CVE-2021-30465, CVE-2019-19921). Mounts are built detached (open_tree
 * for binds, fsopen/fsmount otherwise) and get their attributes before they become visible. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/exec-internal.h"
#include "libcontainer-c/instance.h"
#include "libcontainer-c/linux-syscalls.h"
#include "common/path.h"

/* Whether path resolution inside the rootfs may use openat2(RESOLVE_IN_ROOT). Off forces the component walk, the
 * path taken on kernels before 5.6 and under seccomp filters that refuse openat2, so that tests can run every
 * rootfs case through it on a kernel that has openat2 (crun's CI does the same with a preloaded ENOSYS).
 * Read once: the child of a spawn reads the value its parent had. */
static int openat2_state = -1; /* -1: not decided yet, 0: off, 1: on */

void lc_openat2_set_enabled(bool enabled) {
	openat2_state = enabled;
}

bool lc_openat2_enabled(void) {
	if (openat2_state < 0) {
		const char *v = getenv(LC_NO_OPENAT2_ENV);
		openat2_state = !(v && *v && strcmp(v, "0") != 0);
	}
	return openat2_state;
}

/* The flags every resolution inside the rootfs adds to its own. */
static unsigned resolve_flags(void) {
	return lc_openat2_enabled() ? 0 : PATH_RESOLVE_FORCE_FALLBACK;
}

/* MS_* flags that mount_setattr expresses; the rest of a mount's flags (MS_BIND, MS_REC, MS_REMOUNT, ...)
 * describe the operation. */
static const struct {
	unsigned long ms;
	uint64_t attr;
} ms_attrs[] = {
	{MS_RDONLY, MOUNT_ATTR_RDONLY},
	{MS_NOSUID, MOUNT_ATTR_NOSUID},
	{MS_NODEV, MOUNT_ATTR_NODEV},
	{MS_NOEXEC, MOUNT_ATTR_NOEXEC},
	{MS_NODIRATIME, MOUNT_ATTR_NODIRATIME},
};
static const struct {
	unsigned long ms;
	uint64_t attr;
} ms_atime[] = {
	{MS_NOATIME, MOUNT_ATTR_NOATIME},
	{MS_STRICTATIME, MOUNT_ATTR_STRICTATIME},
	{MS_RELATIME, MOUNT_ATTR_RELATIME},
};

static void attrs_from_flags(unsigned long flags, lc_mount_attr *a) {
	for (size_t i = 0; i < ELEMENTSOF(ms_attrs); i++)
		if (flags & ms_attrs[i].ms)
			a->attr_set |= ms_attrs[i].attr;
	for (size_t i = 0; i < ELEMENTSOF(ms_atime); i++)
		if (flags & ms_atime[i].ms) {
			a->attr_set |= ms_atime[i].attr;
			a->attr_clr |= MOUNT_ATTR__ATIME; /* the kernel wants the atime field cleared to set one */
		}
}

/* The default devices every container gets (runtime-spec "Default Devices"). */
static const struct {
	const char *name;
	unsigned major, minor;
} default_devices[] = {
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
	const char *name, *target;
} dev_symlinks[] = {
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
	{"core", "/proc/kcore"},
	{"ptmx", "pts/ptmx"},
};

/* Builds the detached mount for m: a clone of the source tree for binds, a fresh superblock otherwise. */
static int make_tree(const lc_mount_config *m, size_t i, int *ret, kc_error *err) {
	int fd;
	if (m->lc_flags & LC_MOUNT_BIND) {
		fd = lc_open_tree(AT_FDCWD, m->source,
				  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & MS_REC) ? AT_RECURSIVE : 0));
		if (fd < 0)
			return kc_error_set(err, -fd, "mounts[%zu].source: bind `%s`: %s", i, m->source, strerror(-fd));
		*ret = fd;
		return 0;
	}
	/* Both cgroup types get a cgroup2 instance: on a hybrid host a fresh v1 mount of every controller cannot
	 * be made, and inside a cgroup namespace cgroup2 shows the container's own subtree. */
	const char *type = (streq_ptr(m->type, "cgroup") || streq_ptr(m->type, "cgroup2")) ? "cgroup2" : m->type;
	_cleanup_close_ int fs = lc_fsopen(type, FSOPEN_CLOEXEC);
	if (fs < 0)
		return kc_error_set(err, -fs, "mounts[%zu].type: `%s`: %s", i, m->type, strerror(-fs));
	int r = 0;
	if (m->source && *m->source && strcmp(type, "cgroup2") != 0)
		r = lc_fsconfig(fs, FSCONFIG_SET_STRING, "source", m->source, 0);
	if (r < 0)
		return kc_error_set(err, -r, "mounts[%zu].source: `%s`: %s", i, m->source, strerror(-r));
	if (m->data && strcmp(type, "cgroup2") != 0) {
		char opts[LC_SPEC_STRING_MAX];
		r = format_checked(opts, sizeof opts, "%s", m->data);
		if (r < 0)
			return kc_error_set(err, -r, "mounts[%zu].options: too long", i);
		for (char *save = NULL, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(o, '=');
			if (eq)
				*eq = '\0';
			r = eq ? lc_fsconfig(fs, FSCONFIG_SET_STRING, o, eq + 1, 0)
			       : lc_fsconfig(fs, FSCONFIG_SET_FLAG, o, NULL, 0);
			if (r < 0)
				return kc_error_set(err, -r, "mounts[%zu].options: `%s%s%s` for %s: %s", i, o, eq ? "=" : "",
						    eq ? eq + 1 : "", m->type, strerror(-r));
		}
	}
	r = lc_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (r < 0)
		return kc_error_set(err, -r, "mounts[%zu]: create %s filesystem: %s", i, m->type, strerror(-r));
	fd = lc_fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (fd < 0)
		return kc_error_set(err, -fd, "mounts[%zu]: fsmount %s: %s", i, m->type, strerror(-fd));
	*ret = fd;
	return 0;
}

/* /proc and /sys may only cover a real directory directly below the root: over a symlink they could be made
 * to appear (and be written to, by the runtime) somewhere else (CVE-2019-16884, CVE-2019-19921). */
static int open_top_dir(int rootfd, const lc_mount_config *m, size_t i, int *ret, kc_error *err) {
	const char *want = streq_ptr(m->type, "proc") ? "/proc" : "/sys";
	const char *d = m->destination;
	while (d[0] == '/' && d[1] == '/')
		d++;
	if (strcmp(d, want) != 0)
		return kc_error_set(err, EINVAL, "mounts[%zu].destination: %s may only be mounted on %s, not `%s`", i,
				    m->type, want, m->destination);
	if (mkdirat(rootfd, want + 1, 0555) < 0 && errno != EEXIST)
		return kc_error_set(err, errno, "mounts[%zu].destination: mkdir %s: %s", i, want, strerror(errno));
	int fd = openat(rootfd, want + 1, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno == ENOTDIR || errno == ELOOP ? ENOTDIR : errno,
				    "mounts[%zu].destination: %s in the rootfs is not a real directory", i, want);
	*ret = fd;
	return 0;
}

/* The mount point: a directory, or for a bind of a non-directory an empty file, created inside the rootfs. */
static int open_destination(int rootfd, const lc_mount_config *m, size_t i, int *ret, kc_error *err) {
	struct stat st;
	int r;

	if (streq_ptr(m->type, "proc") || streq_ptr(m->type, "sysfs"))
		return open_top_dir(rootfd, m, i, ret, err);
	bool file = (m->lc_flags & LC_MOUNT_BIND) && stat(m->source, &st) == 0 && !S_ISDIR(st.st_mode);
	if (file) {
		_cleanup_close_ int dirfd = -1;
		const char *name;
		r = path_open_parent_in_root(rootfd, m->destination, PATH_RESOLVE_MKDIR | resolve_flags(), 0755, &dirfd, &name);
		if (r < 0)
			return kc_error_set(err, -r, "mounts[%zu].destination: `%s`: %s", i, m->destination, strerror(-r));
		if (mknodat(dirfd, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
			return kc_error_set(err, errno, "mounts[%zu].destination: create `%s`: %s", i, m->destination,
					    strerror(errno));
		r = path_open_in_root(rootfd, m->destination, O_PATH, resolve_flags(), 0, ret, NULL);
	} else
		r = path_open_in_root(rootfd, m->destination, O_PATH | O_DIRECTORY, PATH_RESOLVE_MKDIR | resolve_flags(), 0755, ret, NULL);
	if (r < 0)
		return kc_error_set(err, -r, "mounts[%zu].destination: `%s`: %s", i, m->destination, strerror(-r));
	return 0;
}

static int mount_one(int rootfd, const lc_mount_config *m, size_t i, kc_error *err) {
	_cleanup_close_ int dest = -1, tree = -1;
	lc_mount_attr a = {0};
	int r;

	r = open_destination(rootfd, m, i, &dest, err);
	if (r < 0)
		return r;
	r = make_tree(m, i, &tree, err);
	if (r < 0)
		return r;
	attrs_from_flags(m->flags, &a);
	a.attr_set |= m->attr_set;
	a.attr_clr |= m->attr_clr;
	if (a.attr_set || a.attr_clr) {
		/* Plain flags act on the top mount only, the r* options (m->attr_*) on the whole tree: the spec's
		 * "ro" on an rbind leaves submounts as they were, like mount -o remount,bind,ro does. */
		unsigned at = AT_EMPTY_PATH | ((m->attr_set || m->attr_clr) ? AT_RECURSIVE : 0);
		r = lc_mount_setattr(tree, "", at, &a);
		if (r < 0)
			return kc_error_set(err, -r, "mounts[%zu]: set attributes on `%s`: %s", i, m->destination,
					    strerror(-r));
	}
	r = lc_move_mount(tree, "", dest, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	if (r < 0)
		return kc_error_set(err, -r, "mounts[%zu]: attach on `%s`: %s", i, m->destination, strerror(-r));
	if (m->propagation) {
		lc_mount_attr p = {.propagation = m->propagation & ~(unsigned long)MS_REC};
		r = lc_mount_setattr(tree, "", AT_EMPTY_PATH | ((m->propagation & MS_REC) ? AT_RECURSIVE : 0), &p);
		if (r < 0)
			return kc_error_set(err, -r, "mounts[%zu]: propagation on `%s`: %s", i, m->destination,
					    strerror(-r));
	}
	return 0;
}

/* Creates one device node, replacing whatever the image has at that name: a symlink there (/dev/null -> /host
 * file) must never be followed by the chown below or by the container's first open. */
static int make_device(int rootfd, const char *path, mode_t type, dev_t rdev, mode_t mode, uid_t uid, gid_t gid,
		       const char *field, kc_error *err) {
	_cleanup_close_ int dirfd = -1;
	const char *name;
	int r = path_open_parent_in_root(rootfd, path, PATH_RESOLVE_MKDIR | resolve_flags(), 0755, &dirfd, &name);
	if (r < 0)
		return kc_error_set(err, -r, "%s: `%s`: %s", field, path, strerror(-r));
	/* mknodat never follows a symlink (EEXIST): what the image has there is removed and the node made again. */
	int made = mknodat(dirfd, name, type | (mode & 07777), rdev);
	if (made < 0 && errno == EEXIST) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
			return kc_error_set(err, errno, "%s: remove the image's `%s`: %s", field, path, strerror(errno));
		made = mknodat(dirfd, name, type | (mode & 07777), rdev);
	}
	if (made < 0) {
		if (errno != EPERM || type == S_IFIFO)
			return kc_error_set(err, errno, "%s: mknod `%s`: %s", field, path, strerror(errno));
		/* No mknod here (a user namespace): bind the host's node onto an empty file instead. */
		char host[PATH_MAX];
		r = format_checked(host, sizeof host, "/dev/%s", path + strlen("/dev/"));
		if (r < 0 || mknodat(dirfd, name, S_IFREG | 0644, 0) < 0)
			return kc_error_set(err, errno, "%s: create `%s`: %s", field, path, strerror(errno));
		_cleanup_close_ int target = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int tree = lc_open_tree(AT_FDCWD, host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (target < 0 || tree < 0)
			return kc_error_set(err, target < 0 ? errno : -tree, "%s: bind host `%s`", field, host);
		r = lc_move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
		if (r < 0)
			return kc_error_set(err, -r, "%s: bind host `%s`: %s", field, host, strerror(-r));
		return 0;
	}
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return kc_error_set(err, errno, "%s: chown `%s`: %s", field, path, strerror(errno));
	return 0;
}

static int setup_dev(int rootfd, const lc_config *cfg, kc_error *err) {
	char path[PATH_MAX];
	int r;

	for (size_t i = 0; i < ELEMENTSOF(default_devices); i++) {
		(void)snprintf(path, sizeof path, "/dev/%s", default_devices[i].name);
		r = make_device(rootfd, path, S_IFCHR, makedev(default_devices[i].major, default_devices[i].minor),
				0666, 0, 0, "default device", err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const lc_device_config *d = &cfg->devices[i];
		char field[48];
		(void)snprintf(field, sizeof field, "linux.devices[%zu].path", i);
		r = make_device(rootfd, d->path, d->type, d->rdev, d->file_mode, d->uid, d->gid, field, err);
		if (r < 0)
			return r;
	}
	_cleanup_close_ int devfd = -1;
	r = path_open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY, PATH_RESOLVE_MKDIR | resolve_flags(), 0755, &devfd, NULL);
	if (r < 0)
		return kc_error_set(err, -r, "open /dev in the rootfs: %s", strerror(-r));
	for (size_t i = 0; i < ELEMENTSOF(dev_symlinks); i++)
		if (symlinkat(dev_symlinks[i].target, devfd, dev_symlinks[i].name) < 0 && errno != EEXIST)
			return kc_error_set(err, errno, "symlink /dev/%s: %s", dev_symlinks[i].name, strerror(errno));
	return 0;
}

/* Makes fd's directory the root. pivot_root detaches the host's tree entirely; on an initramfs root it is
 * refused (EINVAL) and MS_MOVE + chroot is the only way, as it is with no_pivot. */
static int enter_root(int rootfd, bool no_pivot, kc_error *err) {
	if (fchdir(rootfd) < 0)
		return kc_error_set(err, errno, "chdir to the rootfs: %s", strerror(errno));
	if (!no_pivot) {
		/* pivot_root(".", "."): the old root ends up stacked on the new one and is detached right away, so
		 * no directory for it is needed inside the rootfs. */
		int r = lc_pivot_root(".", ".");
		if (r == 0) {
			if (umount2(".", MNT_DETACH) < 0)
				return kc_error_set(err, errno, "detach the old root: %s", strerror(errno));
			if (chdir("/") < 0)
				return kc_error_set(err, errno, "chdir /: %s", strerror(errno));
			return 0;
		}
		if (r != -EINVAL)
			return kc_error_set(err, -r, "pivot_root: %s", strerror(-r));
	}
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return kc_error_set(err, errno, "move the rootfs to /: %s", strerror(errno));
	if (chroot(".") < 0 || chdir("/") < 0)
		return kc_error_set(err, errno, "chroot into the rootfs: %s", strerror(errno));
	return 0;
}

static int mask_path(int rootfd, const char *path, size_t i, kc_error *err) {
	_cleanup_close_ int target = -1, tree = -1;
	struct stat st;
	int r = path_open_in_root(rootfd, path, O_PATH, resolve_flags(), 0, &target, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return kc_error_set(err, -r, "linux.maskedPaths[%zu]: `%s`: %s", i, path, strerror(-r));
	if (fstat(target, &st) < 0)
		return kc_error_set(err, errno, "linux.maskedPaths[%zu]: stat `%s`: %s", i, path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		/* An empty read-only tmpfs hides a directory. */
		_cleanup_close_ int fs = lc_fsopen("tmpfs", FSOPEN_CLOEXEC);
		r = fs < 0 ? fs : lc_fsconfig(fs, FSCONFIG_SET_STRING, "size", "0", 0);
		if (r >= 0)
			r = lc_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
		if (r >= 0)
			r = tree = lc_fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
									  MOUNT_ATTR_NOEXEC);
	} else
		r = tree = lc_open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (r < 0)
		return kc_error_set(err, -r, "linux.maskedPaths[%zu]: mask `%s`: %s", i, path, strerror(-r));
	r = lc_move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	if (r < 0)
		return kc_error_set(err, -r, "linux.maskedPaths[%zu]: mask `%s`: %s", i, path, strerror(-r));
	return 0;
}

static int readonly_path(int rootfd, const char *path, size_t i, kc_error *err) {
	_cleanup_close_ int target = -1, tree = -1;
	int r = path_open_in_root(rootfd, path, O_PATH, resolve_flags(), 0, &target, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return kc_error_set(err, -r, "linux.readonlyPaths[%zu]: `%s`: %s", i, path, strerror(-r));
	tree = lc_open_tree(target, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0)
		return kc_error_set(err, -tree, "linux.readonlyPaths[%zu]: bind `%s`: %s", i, path, strerror(-tree));
	lc_mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
	r = lc_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a);
	if (r >= 0)
		r = lc_move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	if (r < 0)
		return kc_error_set(err, -r, "linux.readonlyPaths[%zu]: make `%s` read-only: %s", i, path, strerror(-r));
	return 0;
}

int lc_rootfs_setup(const lc_config *cfg, const char *rootfs, bool no_pivot, int host_procfd,
		    int (*before_pivot)(void *userdata, kc_error *err), void *userdata, kc_error *err) {
	int r;
	(void)host_procfd;

	if (!(cfg->clone_flags & CLONE_NEWNS) && !cfg->ns[LC_NS_MOUNT].path)
		return kc_error_set(err, EINVAL, "linux.namespaces: a container without a mount namespace is not supported");
	/* rslave first: nothing we mount may propagate back to the host, while host mounts still reach us. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return kc_error_set(err, errno, "make / rslave: %s", strerror(errno));

	_cleanup_close_ int dir = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return kc_error_set(err, errno, "root.path: `%s`: %s", rootfs, strerror(errno));
	/* The rootfs becomes a mount of its own (pivot_root needs one); after move_mount the tree fd refers to the
	 * root of that new mount, which is the only handle on the rootfs used from here on. */
	_cleanup_close_ int root = lc_open_tree(dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	if (root < 0)
		return kc_error_set(err, -root, "root.path: bind `%s`: %s", rootfs, strerror(-root));
	r = lc_move_mount(root, "", dir, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	if (r < 0)
		return kc_error_set(err, -r, "root.path: attach `%s`: %s", rootfs, strerror(-r));

	for (size_t i = 0; i < cfg->n_mounts; i++) {
		r = mount_one(root, &cfg->mounts[i], i, err);
		if (r < 0)
			return r;
	}
	r = setup_dev(root, cfg, err);
	if (r < 0)
		return r;
	/* The hooks' moment: every mount is in place and the host's root is still ours. */
	if (before_pivot) {
		r = before_pivot(userdata, err);
		if (r < 0)
			return r;
	}
	r = enter_root(root, no_pivot, err);
	if (r < 0)
		return r;
	root = safe_close(root);
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return kc_error_set(err, errno, "open the new root: %s", strerror(errno));
	if (cfg->rootfs_propagation && mount(NULL, "/", NULL, cfg->rootfs_propagation, NULL) < 0)
		return kc_error_set(err, errno, "linux.rootfsPropagation: %s", strerror(errno));
	for (size_t i = 0; i < cfg->n_masked_paths; i++) {
		r = mask_path(root, cfg->masked_paths[i], i, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < cfg->n_readonly_paths; i++) {
		r = readonly_path(root, cfg->readonly_paths[i], i, err);
		if (r < 0)
			return r;
	}
	if (cfg->rootfs_readonly) {
		lc_mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
		r = lc_mount_setattr(root, "", AT_EMPTY_PATH, &a);
		if (r < 0)
			return kc_error_set(err, -r, "root.readonly: %s", strerror(-r));
	}
	return 0;
}
