/* watchable-bind: host-shared directories mirrored into a tmpfs by polling (see storage/watch.h). */
#define LOG_SOURCE "storage"
#include "storage/watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/path.h"
#include "common/util.h"
#include "storage/drivers-internal.h"

#define RECORD_MAX (2 * PATH_MAX + 16)
#define RM_DEPTH_MAX 32

typedef struct tally {
	unsigned entries;
	uint64_t bytes;
} tally;

static int reopen_dir(int dfd, const char *name) {
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* fdopendir takes the fd: hand it a second one, so dfd stays the caller's. */
static DIR *open_listing(int dfd) {
	int fd = reopen_dir(dfd, ".");
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d)
		safe_close(fd);
	return d;
}

static bool dot_or_dotdot(const char *n) {
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Counts entries and bytes below dfd; stops early once over a limit. */
static int count_tree(int dfd, tally *t, unsigned depth) {
	DIR *d = open_listing(dfd);
	if (!d)
		return -errno;
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		if (dot_or_dotdot(de->d_name))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno == ENOENT ? 0 : -errno; /* gone meanwhile */
			continue;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
			continue;
		t->entries++;
		if (!S_ISDIR(st.st_mode))
			t->bytes += (uint64_t)st.st_size;
		if (t->entries > STOR_WATCH_ENTRIES_MAX || t->bytes > STOR_WATCH_BYTES_MAX)
			r = -EFBIG;
		else if (S_ISDIR(st.st_mode)) {
			if (depth >= STOR_WATCH_ENTRIES_MAX) {
				r = -EFBIG;
				break;
			}
			int sub = reopen_dir(dfd, de->d_name);
			if (sub >= 0) {
				r = count_tree(sub, t, depth + 1);
				safe_close(sub);
			}
		}
	}
	closedir(d);
	return r;
}

/* Removes name below dfd, a whole tree when it is a directory; never follows a symlink. */
static int remove_tree(int dfd, const char *name, unsigned depth) {
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (depth >= RM_DEPTH_MAX)
		return -ELOOP;
	_cleanup_close_ int sub = reopen_dir(dfd, name);
	if (sub < 0)
		return sub;
	DIR *d = open_listing(sub);
	if (!d)
		return -errno;
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d)))
		if (!dot_or_dotdot(de->d_name) && r == 0)
			r = remove_tree(sub, de->d_name, depth + 1);
	closedir(d);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

/* Whether dst/name already holds the copy of st (same size and mtime); a non-file there is removed. */
static int copy_current(int dst, const char *name, const struct stat *st) {
	struct stat old;
	if (fstatat(dst, name, &old, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISREG(old.st_mode))
		return old.st_size == st->st_size && old.st_mtim.tv_sec == st->st_mtim.tv_sec &&
		       old.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
	int r = remove_tree(dst, name, 0);
	return r < 0 ? r : 0;
}

/* Copies the open file in (whose stat is st) onto dst/name. In place: a container holding a bind of this very
 * file sees the new contents. */
static int write_copy(int in, const struct stat *st, int dst, const char *name) {
	_cleanup_close_ int out = openat(dst, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	/* A file that grew after the count fails here; the next round sees it too big. */
	int r = copy_fd(in, out, STOR_WATCH_BYTES_MAX);
	if (r < 0)
		return r;
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	if (fchown(out, st->st_uid, st->st_gid) < 0 || fchmod(out, st->st_mode & 07777) < 0 ||
	    futimens(out, times) < 0)
		return -errno;
	return 0;
}

static int sync_file(int src, int dst, const char *name, const struct stat *st) {
	int r = copy_current(dst, name, st);
	if (r != 0)
		return r < 0 ? r : 0;
	_cleanup_close_ int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -errno;
	return write_copy(in, st, dst, name);
}

static int sync_link(int src, int dst, const char *name, const struct stat *st) {
	char target[PATH_MAX], old[PATH_MAX];
	ssize_t n = readlinkat(src, name, target, sizeof target - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	target[n] = '\0';
	ssize_t m = readlinkat(dst, name, old, sizeof old - 1);
	if (m < 0 || m != n || memcmp(old, target, (size_t)n) != 0) {
		int r = remove_tree(dst, name, 0);
		if (r < 0)
			return r;
		if (symlinkat(target, dst, name) < 0)
			return -errno;
	}
	return fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int mirror_dir(int src, int dst, unsigned depth);

static int sync_dir(int src, int dst, const char *name, const struct stat *st, unsigned depth) {
	struct stat old;
	if (fstatat(dst, name, &old, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(old.st_mode)) {
		int r = remove_tree(dst, name, 0);
		if (r < 0)
			return r;
	}
	if (mkdirat(dst, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	_cleanup_close_ int s = reopen_dir(src, name), d = reopen_dir(dst, name);
	if (s == -ENOENT)
		return 0;
	if (s < 0 || d < 0)
		return s < 0 ? s : d;
	int r = mirror_dir(s, d, depth + 1);
	if (r < 0)
		return r;
	return fchown(d, st->st_uid, st->st_gid) < 0 || fchmod(d, st->st_mode & 07777) < 0 ? -errno : 0;
}

static int mirror_dir(int src, int dst, unsigned depth) {
	struct dirent *de;
	int r = 0;

	if (depth > STOR_WATCH_ENTRIES_MAX)
		return -EFBIG;
	DIR *d = open_listing(src);
	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		if (dot_or_dotdot(de->d_name))
			continue;
		if (fstatat(src, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno == ENOENT ? 0 : -errno;
			continue;
		}
		if (S_ISREG(st.st_mode))
			r = sync_file(src, dst, de->d_name, &st);
		else if (S_ISLNK(st.st_mode))
			r = sync_link(src, dst, de->d_name, &st);
		else if (S_ISDIR(st.st_mode))
			r = sync_dir(src, dst, de->d_name, &st, depth);
	}
	closedir(d);
	if (r < 0)
		return r;
	/* What the source no longer has (or holds as a type we do not mirror) goes. */
	d = open_listing(dst);
	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		if (dot_or_dotdot(de->d_name))
			continue;
		if (fstatat(src, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode)))
			r = remove_tree(dst, de->d_name, 0);
	}
	closedir(d);
	return r;
}

int stor_watch_sync(int srcfd, int dstfd, kc_error *err) {
	tally t = { .entries = 1 }; /* the directory itself, as upstream counts it */
	int r = count_tree(srcfd, &t, 0);
	if (r == -EFBIG)
		return kc_error_set(err, EFBIG, "more than %d entries or %u bytes to watch", STOR_WATCH_ENTRIES_MAX,
				    STOR_WATCH_BYTES_MAX);
	if (r >= 0)
		r = mirror_dir(srcfd, dstfd, 0);
	if (r < 0)
		return kc_error_set(err, -r, "mirror: %s", strerror(-r));
	return 0;
}

int stor_watch_sync_file(int srcfd, int dstdir, const char *name, kc_error *err) {
	struct stat st;
	if (fstat(srcfd, &st) < 0)
		return kc_error_set(err, errno, "mirror: %m");
	if (!S_ISREG(st.st_mode))
		return kc_error_set(err, EINVAL, "mirror: no longer a regular file");
	if ((uint64_t)st.st_size > STOR_WATCH_BYTES_MAX)
		return kc_error_set(err, EFBIG, "more than %u bytes to watch", STOR_WATCH_BYTES_MAX);
	int r = copy_current(dstdir, name, &st);
	if (r == 0 && lseek(srcfd, 0, SEEK_SET) < 0)
		r = -errno;
	if (r == 0)
		r = write_copy(srcfd, &st, dstdir, name);
	if (r == -EFBIG)
		return kc_error_set(err, EFBIG, "more than %u bytes to watch", STOR_WATCH_BYTES_MAX);
	if (r < 0)
		return kc_error_set(err, -r, "mirror: %s", strerror(-r));
	return 0;
}

/* ---- the driver ---- */

int stor_check_watchable(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	char field[128], prefix[PATH_MAX];
	const char *rel;
	(void)format_checked(field, sizeof field, "%s.source", what);
	int r = path_check_under(s->source, root->prefix, &rel, field, err);
	if (r < 0)
		return r;
	(void)format_checked(field, sizeof field, "%s.mount_point", what);
	(void)format_checked(prefix, sizeof prefix, "%s%s/", root->prefix, STOR_WATCHABLE_REL);
	r = path_check_under(s->mount_point, prefix, &rel, field, err);
	if (r < 0)
		return r;
	if (startswith(rel, STOR_WATCH_RECORDS) && (rel[strlen(STOR_WATCH_RECORDS)] == '\0' ||
						    rel[strlen(STOR_WATCH_RECORDS)] == '/'))
		return kc_error_set(err, EINVAL, "%s: `%s` is the watcher's own", field, s->mount_point);
	return 0;
}

/* The tmpfs under every watchable storage, mounted on first use: on the shared directory it would otherwise
 * be the host's files we write. Not noexec: a configmap may carry the scripts a container runs. */
static int mount_tmpfs(const stor_root *root, const char *what, kc_error *err) {
	_cleanup_close_ int fd = -EBADF;
	struct stat st, parent;
	char p[PATH_FD_PATH_MAX];

	int r = path_open_in_root(root->fd, STOR_WATCHABLE_REL, O_RDONLY | O_DIRECTORY, PATH_RESOLVE_MKDIR, 0755, &fd,
				  NULL);
	if (r < 0)
		return kc_error_set(err, -r, "%s: %s%s: %s", what, root->prefix, STOR_WATCHABLE_REL, strerror(-r));
	if (fstat(fd, &st) < 0 || fstatat(fd, "..", &parent, 0) < 0)
		return kc_error_set(err, errno, "%s: %s%s: %m", what, root->prefix, STOR_WATCHABLE_REL);
	if (st.st_dev != parent.st_dev)
		return 0;
	path_fd_path(fd, p);
	if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return kc_error_set(err, errno, "%s: mount tmpfs on %s%s: %m", what, root->prefix, STOR_WATCHABLE_REL);
	return 0;
}

/* The source, resolved inside the root, looked at through O_PATH first: a FIFO or a device node on the share is
 * never opened for reading (that could block the helper or have side effects). A directory or a regular file. */
static int open_source(const stor_root *root, const char *source, int *ret_fd, struct stat *ret_st) {
	_cleanup_close_ int pfd = -EBADF;
	char p[PATH_FD_PATH_MAX];
	struct stat st;

	int r = path_open_in_root(root->fd, source + strlen(root->prefix), O_PATH, 0, 0, &pfd, NULL);
	if (r < 0)
		return r;
	if (fstat(pfd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return -EINVAL;
	path_fd_path(pfd, p);
	int fd = open(p, O_RDONLY | O_NOCTTY | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	*ret_st = st;
	return 0;
}

static const char *source_error(int r) {
	return r == -EINVAL ? "neither a directory nor a regular file" : strerror(-r);
}

/* A single-file source (a configmap key, an /etc/hosts-like file) is mirrored onto a file: the mount point is
 * made one here, before the driver table would make it a directory. */
int stor_prepare_watchable(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	_cleanup_close_ int src = -EBADF, dfd = -EBADF, fd = -EBADF;
	const char *name;
	struct stat st;

	int r = mount_tmpfs(root, what, err);
	if (r < 0)
		return r;
	r = open_source(root, s->source, &src, &st);
	if (r < 0)
		return kc_error_set(err, -r, "%s.source: `%s`: %s", what, s->source, source_error(r));
	if (S_ISDIR(st.st_mode))
		return 0;
	r = path_open_parent_in_root(root->fd, s->mount_point + strlen(root->prefix), PATH_RESOLVE_MKDIR, 0755, &dfd,
				     &name);
	if (r >= 0) {
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
		r = fd < 0 ? -errno : 0;
	}
	if (r < 0)
		return kc_error_set(err, -r, "%s.mount_point: `%s`: %s", what, s->mount_point, strerror(-r));
	return STOR_PREPARED_FILE;
}

static uint64_t fnv1a(const char *s) {
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static int open_records(const stor_root *root, bool create, int *ret) {
	return path_open_in_root(root->fd, STOR_WATCHABLE_REL "/" STOR_WATCH_RECORDS, O_RDONLY | O_DIRECTORY,
				 create ? PATH_RESOLVE_MKDIR : 0, 0700, ret, NULL);
}

/* "<source>\n<target>\n" and "bind\n" once it fell back; written whole, then renamed into place. */
static int write_record(const stor_root *root, const char *source, const char *target, bool bound) {
	_cleanup_close_ int dfd = -EBADF, fd = -EBADF;
	char name[32], tmp[40], text[RECORD_MAX];
	int r = open_records(root, true, &dfd);
	if (r < 0)
		return r;
	(void)format_checked(name, sizeof name, "%016llx", (unsigned long long)fnv1a(target));
	(void)format_checked(tmp, sizeof tmp, "%s.tmp", name);
	if (format_checked(text, sizeof text, "%s\n%s\n%s", source, target, bound ? "bind\n" : "") < 0)
		return -ENAMETOOLONG;
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, strlen(text));
	if (r >= 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	return r;
}

static void drop_record(const stor_root *root, const char *target) {
	_cleanup_close_ int dfd = -EBADF;
	char name[32];
	if (open_records(root, false, &dfd) < 0)
		return;
	(void)format_checked(name, sizeof name, "%016llx", (unsigned long long)fnv1a(target));
	(void)unlinkat(dfd, name, 0);
}

static int bind_source(int srcfd, const char *target_path) {
	char p[PATH_FD_PATH_MAX];
	path_fd_path(srcfd, p);
	return mount(p, target_path, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
}

/* Mirrors src (a directory or a file, as st says) onto target, inside the root. */
static int sync_target(const stor_root *root, int src, const struct stat *st, const char *target, kc_error *err) {
	_cleanup_close_ int dst = -EBADF;
	const char *name;
	int r;

	if (S_ISDIR(st->st_mode)) {
		r = path_open_in_root(root->fd, target + strlen(root->prefix), O_RDONLY | O_DIRECTORY, 0, 0, &dst, NULL);
		if (r < 0)
			return kc_error_set(err, -r, "%s: %s", target, strerror(-r));
		return stor_watch_sync(src, dst, err);
	}
	r = path_open_parent_in_root(root->fd, target + strlen(root->prefix), 0, 0, &dst, &name);
	if (r < 0)
		return kc_error_set(err, -r, "%s: %s", target, strerror(-r));
	return stor_watch_sync_file(src, dst, name, err);
}

int stor_mount_watchable(mount_job *job, kc_error *err) {
	const stor_root *root = job->root;
	_cleanup_close_ int src = -EBADF;
	struct stat st;
	bool bound = false;

	int r = open_source(root, job->s->source, &src, &st);
	if (r < 0)
		return kc_error_set(err, -r, "%s.source: `%s`: %s", job->what, job->s->source, source_error(r));
	r = sync_target(root, src, &st, job->s->mount_point, err);
	if (r == -EFBIG) {
		/* As upstream: too much to copy every 2 s, so the share itself, without update notifications. */
		log_info("%s: %s: %s; bind-mounted instead", job->what, job->s->source, err->msg);
		kc_error_clear(err);
		r = bind_source(src, job->target);
		if (r < 0)
			return kc_error_set(err, -r, "%s: bind `%s` on %s: %s", job->what, job->s->source,
					    job->s->mount_point, strerror(-r));
		bound = true;
	} else if (r < 0)
		return kc_error_prefix(err, "%s: `%s` to %s", job->what, job->s->source, job->s->mount_point);
	r = write_record(root, job->s->source, job->s->mount_point, bound);
	if (r < 0) {
		if (bound)
			(void)umount2(job->target, MNT_DETACH);
		return kc_error_set(err, -r, "%s: record the watch of %s: %s", job->what, job->s->mount_point,
				    strerror(-r));
	}
	return 0;
}

int stor_watch_release(const stor_root *root, kc_error *err) {
	_cleanup_close_ int top = -EBADF;
	char p[PATH_FD_PATH_MAX];
	int r = path_open_in_root(root->fd, STOR_WATCHABLE_REL, O_PATH | O_DIRECTORY, 0, 0, &top, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return kc_error_set(err, -r, "unmount %s%s: %s", root->prefix, STOR_WATCHABLE_REL, strerror(-r));
	path_fd_path(top, p);
	/* EINVAL: not a mount point (never mounted, or gone already). */
	if (umount2(p, MNT_DETACH) < 0 && errno != EINVAL)
		return kc_error_set(err, errno, "unmount %s%s: %m", root->prefix, STOR_WATCHABLE_REL);
	top = safe_close(top);
	stor_remove_dir(root, STOR_WATCHABLE_REL);
	return 0;
}

int stor_watch_forget(const stor_root *root, const char *mount_point) {
	const char *rel = mount_point + strlen(root->prefix);
	_cleanup_close_ int dfd = -EBADF, fd = -EBADF;
	const char *name;
	char p[PATH_FD_PATH_MAX];

	drop_record(root, mount_point);
	int r = path_open_in_root(root->fd, rel, O_PATH, 0, 0, &fd, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	path_fd_path(fd, p);
	(void)umount2(p, MNT_DETACH); /* the bind of a storage that grew too big; EINVAL otherwise */
	fd = safe_close(fd);
	r = path_open_parent_in_root(root->fd, rel, 0, 0, &dfd, &name);
	if (r < 0)
		return r;
	/* Our copy, inside our tmpfs: nothing of the host's. The tmpfs stays: the agent decides when it goes. */
	return remove_tree(dfd, name, 0);
}

/* ---- the poll ---- */

static int parse_record(const stor_root *root, char *text, char **ret_source, char **ret_target, bool *ret_bound) {
	char prefix[PATH_MAX];
	char *nl1 = strchr(text, '\n'), *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (!nl1 || !nl2)
		return -EBADMSG;
	*nl1 = *nl2 = '\0';
	*ret_source = text;
	*ret_target = nl1 + 1;
	*ret_bound = strcmp(nl2 + 1, "bind\n") == 0;
	(void)format_checked(prefix, sizeof prefix, "%s%s/", root->prefix, STOR_WATCHABLE_REL);
	return startswith(text, root->prefix) && startswith(nl1 + 1, prefix) ? 0 : -EBADMSG;
}

/* One storage: 1 when it is still polled, 0 when not (bound, or gone). */
static int poll_one(const stor_root *root, const char *source, const char *target, kc_error *err) {
	_cleanup_close_ int src = -EBADF, dst = -EBADF;
	char p[PATH_FD_PATH_MAX];
	struct stat st;

	int r = path_open_in_root(root->fd, target + strlen(root->prefix), O_PATH, PATH_RESOLVE_NOFOLLOW, 0, &dst, NULL);
	if (r == -ENOENT) {
		drop_record(root, target);
		return 0;
	}
	if (r >= 0)
		r = open_source(root, source, &src, &st);
	if (r < 0)
		return kc_error_set(err, -r, "watch %s: %s", source, source_error(r));
	r = sync_target(root, src, &st, target, err);
	if (r != -EFBIG)
		return r < 0 ? kc_error_prefix(err, "watch %s", source) : 1;
	log_info("watch %s: %s; bind-mounted on %s instead", source, err->msg, target);
	kc_error_clear(err);
	path_fd_path(dst, p);
	r = bind_source(src, p);
	if (r >= 0)
		r = write_record(root, source, target, true);
	return r < 0 ? kc_error_set(err, -r, "watch %s: bind on %s: %s", source, target, strerror(-r)) : 0;
}

int stor_watch_poll(const stor_root *root, kc_error *err) {
	_cleanup_close_ int dfd = -EBADF;
	int polled = 0;

	int r = open_records(root, false, &dfd);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return kc_error_set(err, -r, "%s%s/%s: %s", root->prefix, STOR_WATCHABLE_REL, STOR_WATCH_RECORDS,
				    strerror(-r));
	DIR *d = open_listing(dfd);
	if (!d)
		return kc_error_set(err, errno, "%s%s/%s: %m", root->prefix, STOR_WATCHABLE_REL, STOR_WATCH_RECORDS);
	struct dirent *de;
	while ((de = readdir(d))) {
		_cleanup_free_ char *text = NULL;
		char *source, *target;
		bool bound;
		kc_error e = { 0 };
		if (dot_or_dotdot(de->d_name) || strchr(de->d_name, '.'))
			continue;
		if (read_file_capped(dfd, de->d_name, RECORD_MAX, &text, NULL) < 0 ||
		    parse_record(root, text, &source, &target, &bound) < 0)
			continue;
		if (bound)
			continue;
		/* One share that fails must not stop the others. */
		r = poll_one(root, source, target, &e);
		if (r < 0)
			log_warn("%s", e.msg);
		else
			polled += r;
		if (r < 0)
			polled++; /* still watched: it may answer next time */
	}
	closedir(d);
	return polled;
}
