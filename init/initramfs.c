#define LOG_SOURCE "init"
#include "init/init.h"

#include <dirent.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include "common/log.h"
#include "common/util.h"
#include "init/init-internal.h"

#define NEWROOT "/.newroot"
#define NEWROOT_NAME ".newroot"
/* The initrd is a flat, shallow tree; anything deeper than this is not ours. */
#define COPY_DEPTH_MAX 32
/* The bulk of the initrd: bind-mounted into the new root instead of copied (a copy costs ~0.4 s of boot under
 * TCG), and left in place when the old root is emptied. */
#define KEPT_DIR "lib/modules"

/* Mounts init_mount_base makes at the top level; devpts, /dev/shm and cgroups ride along as submounts. They
 * are moved into the new root rather than re-made after exec: moving keeps whatever is already in them (files
 * under /run, the devpts instance behind open ptys) and leaves no window in which /proc is missing. */
static const char *const carried_mounts[] = { "/proc", "/sys", "/dev", "/run" };

static int rootfs_fstype(char *buf, size_t size) {
	_cleanup_free_ char *text = NULL;
	int r, found = -ENOENT;
	char *save = NULL;

	r = read_file_capped(AT_FDCWD, "/proc/self/mountinfo", 1 << 20, &text, NULL);
	if (r < 0)
		return r;
	/* "36 1 0:2 / / rw - rootfs rootfs rw": the last mount on "/" is the one we see. */
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mnt[8], fstype[32];
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %7s", mnt) != 1 || strcmp(mnt, "/") != 0)
			continue;
		if (sscanf(sep + 3, "%31s", fstype) != 1)
			continue;
		found = format_checked(buf, size, "%s", fstype);
	}
	return found;
}

/* The initramfs is the "rootfs" mount (ramfs or tmpfs underneath). Asking mountinfo, not only statfs, is what
 * keeps the re-executed PID 1 from copying again: the tmpfs we move over / has TMPFS_MAGIC too. */
static int on_initramfs(kc_error *err) {
	struct statfs sfs;
	char fstype[32];
	int r;

	if (statfs("/", &sfs) < 0)
		return kc_error_set(err, errno, "statfs /");
	if ((long)sfs.f_type != RAMFS_MAGIC && (long)sfs.f_type != TMPFS_MAGIC)
		return 0;
	r = rootfs_fstype(fstype, sizeof(fstype));
	if (r < 0)
		return kc_error_set(err, r, "find the / mount in /proc/self/mountinfo");
	return strcmp(fstype, "rootfs") == 0;
}

/* keep is a relative path ("lib/modules") or NULL. Returns the rest of it below name when name is on it ("" when
 * name is the kept directory itself), NULL when name is off it. */
static const char *keep_below(const char *keep, const char *name) {
	size_t n = strlen(name);
	if (!keep || strncmp(keep, name, n) != 0 || (keep[n] != '/' && keep[n] != '\0'))
		return NULL;
	return keep[n] == '/' ? keep + n + 1 : keep + n;
}

static int copy_tree(int src_dir, int dst_dir, dev_t root_dev, unsigned depth, const char *keep, kc_error *err);

static int copy_entry(int src_dir, int dst_dir, const char *name, dev_t root_dev, unsigned depth, const char *keep,
		      kc_error *err) {
	struct stat st;
	int r;

	if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kc_error_set(err, errno, "stat %s", name);

	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(dst_dir, name, st.st_mode & 07777) < 0 && errno != EEXIST)
			return kc_error_set(err, errno, "mkdir %s", name);
		/* A mount point (/proc, /sys, /dev, /run, ...): keep the directory, not what is mounted there. The
		 * kept directory is bind-mounted here later. */
		const char *below = keep_below(keep, name);
		if (st.st_dev != root_dev || (below && !*below))
			return 0;
		_cleanup_close_ int s = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int d = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0 || d < 0)
			return kc_error_set(err, errno, "open directory %s", name);
		r = copy_tree(s, d, root_dev, depth + 1, below, err);
		if (r < 0)
			return kc_error_prefix(err, "%s", name);
		(void)fchmod(d, st.st_mode & 07777);
	} else if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int s = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0)
			return kc_error_set(err, errno, "open %s", name);
		_cleanup_close_ int d = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (d < 0)
			return kc_error_set(err, errno, "create %s", name);
		r = copy_fd(s, d, UINT64_MAX);
		if (r < 0)
			return kc_error_set(err, r, "copy %s", name);
		/* chown before chmod: chown clears set-id bits. */
		if (fchown(d, st.st_uid, st.st_gid) < 0 || fchmod(d, st.st_mode & 07777) < 0)
			return kc_error_set(err, errno, "set owner and mode of %s", name);
		return 0;
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(src_dir, name, target, sizeof(target) - 1);
		if (n < 0)
			return kc_error_set(err, errno, "readlink %s", name);
		target[n] = '\0';
		if (symlinkat(target, dst_dir, name) < 0)
			return kc_error_set(err, errno, "symlink %s", name);
	} else {
		/* Device nodes (the initrd's /dev/console), fifos, sockets. */
		if (mknodat(dst_dir, name, st.st_mode, st.st_rdev) < 0)
			return kc_error_set(err, errno, "mknod %s", name);
	}
	if (fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return kc_error_set(err, errno, "chown %s", name);
	return 0;
}

static int copy_tree(int src_dir, int dst_dir, dev_t root_dev, unsigned depth, const char *keep, kc_error *err) {
	if (depth > COPY_DEPTH_MAX)
		return kc_error_set(err, ELOOP, "tree deeper than %d", COPY_DEPTH_MAX);
	int fd = fcntl(src_dir, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return kc_error_set(err, errno, "dup directory fd");
	DIR *d = fdopendir(fd);
	if (!d) {
		safe_close(fd);
		return kc_error_set(err, errno, "opendir");
	}
	int r = 0;
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (depth == 0 && !strcmp(de->d_name, NEWROOT_NAME))
			continue;
		r = copy_entry(src_dir, dst_dir, de->d_name, root_dev, depth, keep, err);
	}
	closedir(d);
	return r;
}

/* Best effort: whatever cannot be removed just stays in memory. Stays on the old root's device. */
static unsigned remove_tree(int dir, dev_t root_dev, unsigned depth, const char *keep) {
	unsigned failed = 0;
	int fd = fcntl(dir, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		safe_close(fd);
		return 1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dir, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != root_dev) {
			failed++;
			continue;
		}
		const char *below = S_ISDIR(st.st_mode) ? keep_below(keep, de->d_name) : NULL;
		if (below && !*below)
			continue; /* the new root's bind mount shows it */
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0 && depth < COPY_DEPTH_MAX)
				failed += remove_tree(sub, root_dev, depth + 1, below);
			if (below)
				continue; /* holds the kept directory: not empty */
		}
		if (unlinkat(dir, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
			failed++;
	}
	closedir(d);
	return failed;
}

static int copy_root(kc_error *err) {
	struct stat root_st;
	int r;

	if (stat("/", &root_st) < 0)
		return kc_error_set(err, errno, "stat /");
	r = init_mkdir(NEWROOT, 0755);
	if (r < 0)
		return kc_error_set(err, r, "mkdir " NEWROOT);
	if (mount("tmpfs", NEWROOT, "tmpfs", 0, "mode=0755") < 0)
		return kc_error_set(err, errno, "mount tmpfs on " NEWROOT);
	_cleanup_close_ int src = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int dst = open(NEWROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || dst < 0)
		return kc_error_set(err, errno, "open / and " NEWROOT);
	/* Only a real directory is kept by a bind mount; a symlink or nothing there is copied as it is. */
	struct stat kept_st;
	bool kept = fstatat(src, KEPT_DIR, &kept_st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(kept_st.st_mode) &&
		    kept_st.st_dev == root_st.st_dev;
	r = copy_tree(src, dst, root_st.st_dev, 0, kept ? KEPT_DIR : NULL, err);
	if (r < 0)
		return kc_error_prefix(err, "copy / into " NEWROOT);
	if (kept && mount("/" KEPT_DIR, NEWROOT "/" KEPT_DIR, NULL, MS_BIND, NULL) < 0)
		return kc_error_set(err, errno, "bind /" KEPT_DIR " into " NEWROOT);
	return 0;
}

static void drop_newroot(void) {
	(void)umount2(NEWROOT, MNT_DETACH);
	(void)rmdir(NEWROOT);
}

/* Moves the first count carried mounts from one root to another ("" is the current root); *ret_done says how
 * far it got, so a failure can be undone. */
static int move_mounts(const char *from, const char *to, size_t count, size_t *ret_done, kc_error *err) {
	for (size_t i = 0; i < count; i++) {
		if (ret_done)
			*ret_done = i;
		char src[64], dst[64];
		if (format_checked(src, sizeof(src), "%s%s", from, carried_mounts[i]) < 0 ||
		    format_checked(dst, sizeof(dst), "%s%s", to, carried_mounts[i]) < 0)
			return kc_error_set(err, ENAMETOOLONG, "mount path");
		struct stat st, pst;
		char parent[80];
		(void)format_checked(parent, sizeof(parent), "%s/..", src);
		if (stat(src, &st) < 0 || stat(parent, &pst) < 0 || st.st_dev == pst.st_dev)
			continue; /* not a mount point (devtmpfs may have failed) */
		if (mount(src, dst, NULL, MS_MOVE, NULL) < 0)
			return kc_error_set(err, errno, "move mount %s to %s", src, dst);
	}
	if (ret_done)
		*ret_done = count;
	return 0;
}

int init_leave_initramfs(char *const argv[], kc_error *err) {
	int r;

	assert_return(argv && argv[0] && argv[0][0] == '/', -EINVAL);
	r = on_initramfs(err);
	if (r <= 0)
		return r;
	log_info("root is the initramfs: copying it to a tmpfs so that pivot_root works");

	r = copy_root(err);
	if (r < 0) {
		drop_newroot();
		return r;
	}
	/* Kept open across the switch: once the new root sits on /, this fd is the only way to the old contents. */
	_cleanup_close_ int old_root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat old_st;
	if (old_root < 0 || fstat(old_root, &old_st) < 0) {
		drop_newroot();
		return kc_error_set(err, errno, "open old root");
	}

	size_t moved = 0;
	r = move_mounts("", NEWROOT, ELEMENTSOF(carried_mounts), &moved, err);
	if (r < 0) {
		(void)move_mounts(NEWROOT, "", moved, NULL, NULL);
		drop_newroot();
		return r;
	}
	if (chdir(NEWROOT) < 0 || mount(NEWROOT, "/", NULL, MS_MOVE, NULL) < 0) {
		r = kc_error_set(err, errno, "move " NEWROOT " onto /");
		if (chdir("/") < 0)
			log_warn("chdir / after a failed switch: %m");
		(void)move_mounts(NEWROOT, "", ELEMENTSOF(carried_mounts), NULL, NULL);
		drop_newroot();
		return r;
	}
	if (chroot(".") < 0 || chdir("/") < 0)
		return kc_error_set(err, errno, "chroot into the new root");

	unsigned left = remove_tree(old_root, old_st.st_dev, 0, KEPT_DIR);
	if (left)
		log_warn("left %u entries of the old initramfs in memory", left);
	old_root = safe_close(old_root);

	execv(argv[0], argv);
	return kc_error_set(err, errno, "re-exec %s in the new root", argv[0]);
}
