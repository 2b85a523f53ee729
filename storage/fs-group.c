/* fs_group: what the kubelet's SetVolumeOwnership does for a pod's fsGroup, applied inside the guest. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "common/path.h"
#include "storage/storage.h"

#define FSGROUP_DEPTH_MAX 128

static int chmod_fd(int fd, mode_t mode) {
	char p[PATH_FD_PATH_MAX];
	/* An O_PATH fd takes no fchmod; chmod through its /proc link changes exactly that inode. */
	path_fd_path(fd, p);
	return chmod(p, mode) < 0 ? -errno : 0;
}

/* One entry: the group, then the mode bits. fd is O_PATH|O_NOFOLLOW, so a symlink is itself changed
 * (lchown) and never followed out of the volume. */
static int apply_one(int fd, const struct stat *st, gid_t gid, mode_t mask) {
	if (fchownat(fd, "", (uid_t)-1, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(st->st_mode))
		return 0;
	mode_t mode = (st->st_mode & 07777) | mask;
	if (S_ISDIR(st->st_mode))
		mode |= 0110 | S_ISGID;
	else
		/* chown has cleared setuid/setgid on a file: putting them back would arm a set-id binary with a
		 * group the volume's owner did not choose. */
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
	return chmod_fd(fd, mode);
}

static int walk_dir(int dirfd, dev_t dev, gid_t gid, mode_t mask, unsigned depth, kc_error *err) {
	if (depth > FSGROUP_DEPTH_MAX)
		return kc_error_set(err, ELOOP, "fs_group: directories nested deeper than %d", FSGROUP_DEPTH_MAX);
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return kc_error_set(err, errno, "fs_group: open directory: %m");
	DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		safe_close(dfd);
		return kc_error_set(err, r, "fs_group: fdopendir: %s", strerror(-r));
	}
	int r = 0;
	struct dirent *de;
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		_cleanup_close_ int fd = openat(dirfd, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0) {
			if (errno == ENOENT)
				continue; /* removed while we walk */
			r = kc_error_set(err, errno, "fs_group: `%s`: %m", de->d_name);
			break;
		}
		if (st.st_dev != dev)
			continue; /* another filesystem mounted inside: not ours to change */
		r = apply_one(fd, &st, gid, mask);
		if (r < 0) {
			r = kc_error_set(err, r, "fs_group: `%s`: %s", de->d_name, strerror(-r));
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dirfd, de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				r = kc_error_set(err, errno, "fs_group: `%s`: %m", de->d_name);
				break;
			}
			r = walk_dir(sub, dev, gid, mask, depth + 1, err);
			if (r < 0)
				(void)kc_error_prefix(err, "%s", de->d_name);
		}
	}
	if (r >= 0 && errno)
		r = kc_error_set(err, errno, "fs_group: readdir: %m");
	closedir(d);
	return r;
}

int stor_fs_group_apply(int dirfd, uint32_t gid, stor_fsgroup_policy policy, bool read_only, kc_error *err) {
	mode_t mask = read_only ? 0440 : 0660;
	struct stat st;
	_cleanup_close_ int root = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0 || fstat(root, &st) < 0)
		return kc_error_set(err, errno, "fs_group: %m");
	if (policy == STOR_FSGROUP_ON_ROOT_MISMATCH && st.st_gid == gid && (st.st_mode & S_ISGID) &&
	    (st.st_mode & mask) == mask)
		return 0;
	int r = apply_one(root, &st, gid, mask);
	if (r < 0)
		return kc_error_set(err, r, "fs_group: volume root: %s", strerror(-r));
	return walk_dir(root, st.st_dev, gid, mask, 0, err);
}
