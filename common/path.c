#include "common/path.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/util.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

void path_fd_path(int fd, char buf[PATH_FD_PATH_MAX]) {
	(void)snprintf(buf, PATH_FD_PATH_MAX, "/proc/self/fd/%d", fd);
}

int path_check_under(const char *path, const char *prefix, const char **ret_rel, const char *what, kc_error *err) {
	size_t plen = strlen(prefix);

	if (!path || !*path)
		return kc_error_set(err, EINVAL, "%s: empty path", what);
	if (strlen(path) >= PATH_MAX)
		return kc_error_set(err, ENAMETOOLONG, "%s: path longer than %d bytes", what, PATH_MAX - 1);
	if (strncmp(path, prefix, plen) != 0)
		return kc_error_set(err, EINVAL, "%s: `%s` is not under %s", what, path, prefix);
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return kc_error_set(err, EINVAL, "%s: `%s` has a `..` component", what, path);
		p += len;
		while (*p == '/')
			p++;
	}
	const char *rel = path + plen;
	while (*rel == '/')
		rel++;
	if (!*rel)
		return kc_error_set(err, EINVAL, "%s: `%s` names %s itself", what, path, prefix);
	*ret_rel = rel;
	return 0;
}

static int try_openat2(int rootfd, const char *path, int open_flags, unsigned flags) {
	struct open_how how = {
		.flags = (uint64_t)(open_flags | O_CLOEXEC | ((flags & PATH_RESOLVE_NOFOLLOW) ? O_NOFOLLOW : 0)),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	/* EAGAIN: a concurrent rename made the kernel unsure that ".." stayed inside; try again a few times. */
	for (int i = 0; i < 8; i++) {
		long fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

/* The component walk. The stack holds one fd per directory level below the root, so ".." pops a level and
 * can never climb above the root; no path string is ever handed to the kernel with more than one component,
 * and every component is opened with O_NOFOLLOW, a symlink being read and spliced into the remaining path
 * by us. */
typedef struct walk {
	int stack[PATH_DEPTH_MAX];
	size_t depth;
	int rootfd;
	char rem[2 * PATH_MAX];
	size_t pos;
} walk;

static int walk_cur(const walk *w) {
	return w->depth ? w->stack[w->depth - 1] : w->rootfd;
}

static void walk_pop_all(walk *w) {
	while (w->depth)
		safe_close(w->stack[--w->depth]);
}

/* Replaces the consumed part of the remaining path with the symlink target. */
static int walk_splice(walk *w, const char *target) {
	const char *rest = w->rem + w->pos;
	size_t tlen = strlen(target), rlen = strlen(rest);
	if (tlen + 1 + rlen >= sizeof w->rem)
		return -ENAMETOOLONG;
	memmove(w->rem + tlen + 1, rest, rlen + 1);
	memcpy(w->rem, target, tlen);
	w->rem[tlen] = '/';
	w->pos = 0;
	if (target[0] == '/')
		walk_pop_all(w);
	return 0;
}

/* mkdirat honours the umask; the mode asked for is set exactly through an fd of the new directory. */
static int make_dir(int dirfd, const char *name, mode_t mode) {
	if (mkdirat(dirfd, name, mode) < 0)
		return errno == EEXIST ? 0 : -errno;
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		return -errno;
	return 1;
}

static int walk_last(walk *w, int fd, const struct stat *st, const char *name, int open_flags, int *ret_fd) {
	if ((open_flags & O_DIRECTORY) && !S_ISDIR(st->st_mode))
		return -ENOTDIR;
	if (open_flags & O_PATH) {
		*ret_fd = fd;
		return 0;
	}
	/* Reopen for real I/O by name below the same parent, refusing a symlink swapped in meanwhile, and check
	 * that it is the object the walk found. */
	int nfd = openat(walk_cur(w), name, open_flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (nfd < 0)
		return -errno;
	struct stat nst;
	if (fstat(nfd, &nst) < 0 || nst.st_dev != st->st_dev || nst.st_ino != st->st_ino) {
		safe_close(nfd);
		return -ESTALE;
	}
	safe_close(fd);
	*ret_fd = nfd;
	return 0;
}

static int walk_run(walk *w, int open_flags, unsigned flags, mode_t mode, int *ret_fd, bool *ret_created) {
	char name[NAME_MAX + 1], target[PATH_MAX];
	unsigned links = 0;
	bool created = false;

	for (;;) {
		while (w->rem[w->pos] == '/')
			w->pos++;
		if (!w->rem[w->pos]) {
			/* Ended on a directory already open ("", "a/.."): open it again with the flags asked for. */
			int fd = openat(walk_cur(w), ".", open_flags | O_CLOEXEC | O_NOCTTY);
			if (fd < 0)
				return -errno;
			*ret_fd = fd;
			*ret_created = created;
			return 0;
		}
		const char *comp = w->rem + w->pos;
		size_t len = strcspn(comp, "/");
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, comp, len);
		name[len] = '\0';
		w->pos += len;
		size_t p = w->pos;
		while (w->rem[p] == '/')
			p++;
		bool last = !w->rem[p];

		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			if (w->depth)
				safe_close(w->stack[--w->depth]);
			continue;
		}
		created = false;
		_cleanup_close_ int fd = openat(walk_cur(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && (flags & PATH_RESOLVE_MKDIR)) {
			int r = make_dir(walk_cur(w), name, mode);
			if (r < 0)
				return r;
			created = r > 0;
			fd = openat(walk_cur(w), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0)
			return -errno;
		struct stat st;
		if (fstat(fd, &st) < 0)
			return -errno;
		if (S_ISLNK(st.st_mode) && !(last && (flags & PATH_RESOLVE_NOFOLLOW))) {
			if (++links > PATH_SYMLINKS_MAX)
				return -ELOOP;
			ssize_t n = readlinkat(fd, "", target, sizeof target);
			if (n < 0)
				return -errno;
			if ((size_t)n >= sizeof target)
				return -ENAMETOOLONG;
			target[n] = '\0';
			int r = walk_splice(w, target);
			if (r < 0)
				return r;
			continue;
		}
		if (!last) {
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
			if (w->depth == PATH_DEPTH_MAX)
				return -ENAMETOOLONG;
			w->stack[w->depth++] = TAKE_FD(fd);
			continue;
		}
		int r = walk_last(w, fd, &st, name, open_flags, ret_fd);
		if (r < 0)
			return r;
		fd = -EBADF; /* walk_last took it (returned or closed) */
		*ret_created = created;
		return 0;
	}
}

static int walk_open(int rootfd, const char *path, int open_flags, unsigned flags, mode_t mode, int *ret_fd,
		     bool *ret_created) {
	_cleanup_free_ walk *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	size_t len = strlen(path);
	if (len >= sizeof w->rem / 2)
		return -ENAMETOOLONG;
	w->rootfd = rootfd;
	memcpy(w->rem, path, len + 1);
	int r = walk_run(w, open_flags, flags, mode, ret_fd, ret_created);
	walk_pop_all(w);
	return r;
}

int path_open_in_root(int rootfd, const char *path, int open_flags, unsigned flags, mode_t mkdir_mode,
		      int *ret_fd, bool *ret_created) {
	bool created = false;
	int fd = -EBADF, r;

	assert_return(!(open_flags & O_CREAT), -EINVAL);
	if (!(flags & (PATH_RESOLVE_MKDIR | PATH_RESOLVE_FORCE_FALLBACK))) {
		fd = try_openat2(rootfd, path, open_flags, flags);
		/* ENOSYS: no openat2; EPERM: a seccomp filter that predates it; E2BIG: an older open_how. */
		if (fd >= 0 || (fd != -ENOSYS && fd != -EPERM && fd != -E2BIG)) {
			if (fd < 0)
				return fd;
			*ret_fd = fd;
			if (ret_created)
				*ret_created = false;
			return 0;
		}
	}
	r = walk_open(rootfd, path, open_flags, flags, mkdir_mode, &fd, &created);
	if (r < 0)
		return r;
	*ret_fd = fd;
	if (ret_created)
		*ret_created = created;
	return 0;
}

int path_open_parent_in_root(int rootfd, const char *path, unsigned flags, mode_t mkdir_mode, int *ret_dirfd,
			     const char **ret_name) {
	char parent[PATH_MAX];
	size_t len = strlen(path);

	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len == 0 || len >= sizeof parent)
		return len == 0 ? -EINVAL : -ENAMETOOLONG;
	size_t slash = len;
	while (slash > 0 && path[slash - 1] != '/')
		slash--;
	const char *name = path + slash;
	size_t nlen = len - slash;
	if ((nlen == 1 && name[0] == '.') || (nlen == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	/* The name must end the string: a trailing '/' would be lost otherwise. */
	if (path[len] != '\0')
		return -EINVAL;
	memcpy(parent, path, slash);
	parent[slash] = '\0';
	int r = path_open_in_root(rootfd, parent, O_PATH | O_DIRECTORY, flags & ~PATH_RESOLVE_NOFOLLOW, mkdir_mode,
				  ret_dirfd, NULL);
	if (r < 0)
		return r;
	*ret_name = name;
	return 0;
}
