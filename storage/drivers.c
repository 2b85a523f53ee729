/* The storage drivers and the one mount sequence they share:
 *   check -> options -> resolve (and create) the mount point inside the root -> mount onto its fd ->
 *   propagation -> ownership -> done; any failure after the mount unmounts it, and a directory the sequence
 *   created is removed again. */
#define LOG_SOURCE "storage"
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include "common/log.h"
#include "common/util.h"
#include "storage/drivers-internal.h"
#include "common/path.h"
#include "storage/storage.h"

#define MOUNT_POINT_MODE 0755
#define SOURCE_MAX 4096 /* a share tag or a path */

static void detach(const stor_root *root, const char *rel) {
	_cleanup_close_ int fd = -EBADF;
	char p[PATH_FD_PATH_MAX];
	if (path_open_in_root(root->fd, rel, O_PATH | O_DIRECTORY, 0, 0, &fd, NULL) < 0)
		return;
	path_fd_path(fd, p);
	(void)umount2(p, MNT_DETACH);
}

void stor_remove_dir(const stor_root *root, const char *rel) {
	_cleanup_close_ int dfd = -EBADF;
	const char *name;
	if (path_open_parent_in_root(root->fd, rel, 0, 0, &dfd, &name) < 0)
		return;
	/* Only an empty directory goes; anything else stays (ENOTEMPTY, EBUSY, ENOTDIR). */
	(void)unlinkat(dfd, name, AT_REMOVEDIR);
}

int stor_mount_fs(mount_job *job, const char *source, const char *fstype, kc_error *err) {
	const char *data = job->o.data_len ? job->o.data : NULL;
	if (mount(source, job->target, fstype, job->o.flags, data) < 0)
		return kc_error_set(err, errno, "%s: mount %s `%s` on %s: %m", job->what, fstype, source,
				    job->s->mount_point);
	return 0;
}

/* ---- virtio-fs and 9p: a share tag from the host ---- */

static int check_tag(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	if (!s->source || !*s->source)
		return kc_error_set(err, EINVAL, "%s.source: the share tag is empty", what);
	if (strlen(s->source) >= SOURCE_MAX)
		return kc_error_set(err, ENAMETOOLONG, "%s.source: longer than %d bytes", what, SOURCE_MAX - 1);
	return 0;
}

static int mount_virtiofs(mount_job *job, kc_error *err) {
	return stor_mount_fs(job, job->s->source, "virtiofs", err);
}

/* The Go runtime sends trans=virtio,version=9p2000.L,cache=mmap,nodev and msize; a bare request still
 * means a virtio transport with the Linux dialect, not the kernel's default of TCP and 9P2000. */
static int mount_9p(mount_job *job, kc_error *err) {
	if (!stor_options_has(&job->o, "trans") && stor_options_append(&job->o, "trans=virtio") < 0)
		return kc_error_set(err, E2BIG, "%s.options: too long", job->what);
	if (!stor_options_has(&job->o, "version") && stor_options_append(&job->o, "version=9p2000.L") < 0)
		return kc_error_set(err, E2BIG, "%s.options: too long", job->what);
	return stor_mount_fs(job, job->s->source, "9p", err);
}

/* ---- ephemeral: tmpfs in guest memory (emptyDir medium Memory, the sandbox shm), or hugetlbfs ---- */

#define HUGEPAGES_SYSFS "/sys/kernel/mm/hugepages"
#define HUGEPAGES_MAX (1ull << 32) /* pages asked for at once: far beyond any guest's memory */

static bool is_hugetlbfs(const stor_spec *s) {
	return s->fstype && strcmp(s->fstype, "hugetlbfs") == 0;
}

/* A byte count as hugetlbfs reads it: digits with an optional K, M or G (binary). */
static int parse_bytes(const char *s, uint64_t *ret) {
	char num[32];
	size_t digits = strspn(s, "0123456789");
	unsigned shift = 0;
	uint64_t v;

	if (digits == 0 || digits >= sizeof num)
		return -EINVAL;
	switch (s[digits]) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	default: return -EINVAL;
	}
	if (s[digits] && s[digits + 1])
		return -EINVAL;
	memcpy(num, s, digits);
	num[digits] = '\0';
	if (parse_u64(num, 10, &v) < 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*ret = v << shift;
	return 0;
}

int stor_hugetlb_parse(const stor_mount_opts *o, uint64_t *ret_pagesize, uint64_t *ret_pages, const char *what,
		       kc_error *err) {
	stor_mount_opts copy = *o;
	char v[32];
	uint64_t pagesize, size;

	int r = stor_options_take(&copy, "pagesize", v, sizeof v);
	if (r <= 0 || parse_bytes(v, &pagesize) < 0)
		return kc_error_set(err, EINVAL, "%s.options: hugetlbfs needs pagesize= in bytes (or with K, M, G)",
				    what);
	/* Page sizes are powers of two of at least 4 KiB: anything else names no hugepages-<N>kB pool. */
	if (pagesize < 4096 || (pagesize & (pagesize - 1)))
		return kc_error_set(err, EINVAL, "%s.options: pagesize=%s is not a page size", what, v);
	r = stor_options_take(&copy, "size", v, sizeof v);
	if (r <= 0 || parse_bytes(v, &size) < 0)
		return kc_error_set(err, EINVAL, "%s.options: hugetlbfs needs size= in bytes (or with K, M, G)", what);
	if (size == 0 || size % pagesize)
		return kc_error_set(err, EINVAL, "%s.options: size=%s is not a whole number of %llu-byte pages", what,
				    v, (unsigned long long)pagesize);
	if (size / pagesize > HUGEPAGES_MAX)
		return kc_error_set(err, E2BIG, "%s.options: size=%s is more than %llu pages", what, v,
				    HUGEPAGES_MAX);
	*ret_pagesize = pagesize;
	*ret_pages = size / pagesize;
	return 0;
}

static int read_u64_file(const char *path, uint64_t *ret) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(AT_FDCWD, path, 64, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	return parse_u64(text, 10, ret);
}

/* The pool of one huge page size (nr_hugepages) is shared by every hugetlbfs storage, and helpers change it at
 * the same time. Each change is a read-modify-write under an exclusive flock of that file, and a request
 * remembers how many pages it added: its rollback lowers the pool by exactly that, so what other requests
 * added meanwhile stays. */
static int pool_lock(const char *pool, int *ret_fd) {
	int fd = open(pool, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int r = -errno;
		safe_close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int pool_write(const char *pool, uint64_t pages) {
	char v[DECIMAL_STR_MAX(uint64_t)];
	_cleanup_close_ int fd = open(pool, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	(void)format_checked(v, sizeof v, "%llu", (unsigned long long)pages);
	return write_all(fd, v, strlen(v));
}

/* With the lock held. */
static void pool_lower(const char *pool, uint64_t pages) {
	uint64_t now;
	if (pages == 0 || read_u64_file(pool, &now) < 0)
		return;
	(void)pool_write(pool, now > pages ? now - pages : 0);
}

int stor_hugepages_reserve(const char *dir, uint64_t pagesize, uint64_t pages, const char *what,
			   stor_hugepages_claim *ret, kc_error *err) {
	_cleanup_close_ int lock = -EBADF;
	stor_hugepages_claim c = { 0 };
	uint64_t old, now;

	if (format_checked(c.pool, sizeof c.pool, "%s/hugepages-%llukB/nr_hugepages", dir,
			   (unsigned long long)(pagesize >> 10)) < 0)
		return kc_error_set(err, ENAMETOOLONG, "%s: %s: path too long", what, dir);
	int r = pool_lock(c.pool, &lock);
	if (r >= 0)
		r = read_u64_file(c.pool, &old);
	if (r < 0)
		return kc_error_set(err, r == -ENOENT ? EINVAL : -r, "%s.options: pagesize=%llu: %s: %s", what,
				    (unsigned long long)pagesize, c.pool,
				    r == -ENOENT ? "the kernel has no such huge page size" : strerror(-r));
	if (old < pages) {
		/* The kernel turns free memory into huge pages until it has them all or runs out, and the guest's
		 * containers would pay for a request larger than the guest: refuse it before writing. */
		struct sysinfo si;
		if (sysinfo(&si) == 0 && pages > (uint64_t)si.totalram * si.mem_unit / pagesize)
			return kc_error_set(err, ENOMEM,
					    "%s: %llu huge pages of %llu kB are more than the guest's %llu MiB of memory",
					    what, (unsigned long long)pages, (unsigned long long)(pagesize >> 10),
					    (unsigned long long)((uint64_t)si.totalram * si.mem_unit >> 20));
		r = pool_write(c.pool, pages);
		if (r >= 0)
			r = read_u64_file(c.pool, &now);
		if (r < 0)
			return kc_error_set(err, -r, "%s: reserve %llu huge pages of %llu kB: %s", what,
					    (unsigned long long)pages, (unsigned long long)(pagesize >> 10), strerror(-r));
		/* The kernel reserves what it can and says nothing: the read-back tells. */
		c.added = now > old ? now - old : 0;
		if (now < pages) {
			pool_lower(c.pool, c.added);
			return kc_error_set(err, ENOMEM, "%s: the kernel reserved only %llu of %llu huge pages of %llu kB",
					    what, (unsigned long long)now, (unsigned long long)pages,
					    (unsigned long long)(pagesize >> 10));
		}
	}
	c.lock = TAKE_FD(lock);
	*ret = c;
	return 0;
}

void stor_hugepages_release(stor_hugepages_claim *c, bool rollback) {
	if (rollback)
		pool_lower(c->pool, c->added);
	c->lock = safe_close(c->lock);
}

static int check_ephemeral(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	stor_mount_opts o;
	uint64_t pagesize, pages;
	char field[128];

	if (is_hugetlbfs(s)) {
		(void)format_checked(field, sizeof field, "%s.options", what);
		int r = stor_options_parse(s->options, s->n_options, &o, field, err);
		return r < 0 ? r : stor_hugetlb_parse(&o, &pagesize, &pages, what, err);
	}
	if (s->fstype && *s->fstype && strcmp(s->fstype, "tmpfs") != 0)
		return kc_error_set(err, EINVAL,
				    "%s.fstype: `%s` is not supported for ephemeral storage (tmpfs or hugetlbfs)", what,
				    s->fstype);
	return 0;
}

static int mount_ephemeral(mount_job *job, kc_error *err) {
	const char *src = job->s->source && *job->s->source ? job->s->source : NULL;
	stor_hugepages_claim claim;
	uint64_t pagesize, pages;

	if (!is_hugetlbfs(job->s))
		return stor_mount_fs(job, src ? src : "tmpfs", "tmpfs", err);
	int r = stor_hugetlb_parse(&job->o, &pagesize, &pages, job->what, err);
	if (r >= 0)
		r = stor_hugepages_reserve(HUGEPAGES_SYSFS, pagesize, pages, job->what, &claim, err);
	if (r < 0)
		return r;
	/* pagesize= and size= stay in the data: hugetlbfs takes both. */
	r = stor_mount_fs(job, src ? src : "nodev", "hugetlbfs", err);
	stor_hugepages_release(&claim, r < 0);
	return r;
}

/* ---- bind: a directory that already exists under the root ---- */

static int check_bind(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	const char *rel;
	char field[128];
	(void)format_checked(field, sizeof field, "%s.source", what);
	return path_check_under(s->source, root->prefix, &rel, field, err);
}

static int mount_bind(mount_job *job, kc_error *err) {
	const char *rel = job->s->source + strlen(job->root->prefix);
	_cleanup_close_ int src = -EBADF;
	char srcpath[PATH_FD_PATH_MAX];

	/* The source is as hostile as the mount point: resolved inside the same root. */
	int r = path_open_in_root(job->root->fd, rel, O_PATH, 0, 0, &src, NULL);
	if (r < 0)
		return kc_error_set(err, r, "%s.source: `%s`: %s", job->what, job->s->source, strerror(-r));
	path_fd_path(src, srcpath);
	if (mount(srcpath, job->target, NULL, MS_BIND | (job->o.flags & MS_REC), NULL) < 0)
		return kc_error_set(err, errno, "%s: bind `%s` on %s: %m", job->what, job->s->source,
				    job->s->mount_point);
	/* A bind mount takes its flags only from a remount, on the new mount (not the directory it covers). */
	unsigned long extra = job->o.flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
	if (!extra)
		return 0;
	_cleanup_close_ int m = -EBADF;
	char mp[PATH_FD_PATH_MAX];
	r = path_open_in_root(job->root->fd, job->s->mount_point + strlen(job->root->prefix), O_PATH | O_DIRECTORY,
			      0, 0, &m, NULL);
	if (r < 0) {
		detach(job->root, job->s->mount_point + strlen(job->root->prefix));
		return kc_error_set(err, r, "%s: reopen %s: %s", job->what, job->s->mount_point, strerror(-r));
	}
	path_fd_path(m, mp);
	if (mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | extra, NULL) < 0) {
		int e = errno;
		(void)umount2(mp, MNT_DETACH);
		return kc_error_set(err, e, "%s: remount bind of %s with its options: %s", job->what,
				    job->s->mount_point, strerror(e));
	}
	return 0;
}

static const stor_driver drivers[] = {
	{ "virtio-fs", STOR_DRIVER_BLOCKS, check_tag, mount_virtiofs, NULL },
	{ "9p", STOR_DRIVER_BLOCKS, check_tag, mount_9p, NULL },
	{ "ephemeral", STOR_DRIVER_REMOUNT, check_ephemeral, mount_ephemeral, NULL },
	{ "local", STOR_DRIVER_NO_MOUNT, NULL, NULL, NULL },
	{ "bind", 0, check_bind, mount_bind, NULL },
	{ "overlayfs", 0, stor_check_overlay, stor_mount_overlay, NULL },
	{ "watchable-bind", STOR_DRIVER_WATCH, stor_check_watchable, stor_mount_watchable, stor_prepare_watchable },
	STOR_DEVICE_DRIVERS,
};

static const char *const driver_names[] = { "virtio-fs", "9p", "ephemeral", "local", "bind", "overlayfs",
					       "watchable-bind", STOR_DEVICE_DRIVER_NAMES };
_Static_assert(ELEMENTSOF(driver_names) == ELEMENTSOF(drivers), "one name per driver");

const stor_driver *stor_driver_find(const char *name) {
	for (size_t i = 0; name && i < ELEMENTSOF(drivers); i++)
		if (strcmp(drivers[i].name, name) == 0)
			return &drivers[i];
	return NULL;
}

const char *stor_driver_name(const stor_driver *d) {
	return d->name;
}

unsigned stor_driver_flags(const stor_driver *d) {
	return d ? d->flags : 0;
}

const char *const *stor_driver_names(size_t *ret_n) {
	*ret_n = ELEMENTSOF(driver_names);
	return driver_names;
}

int stor_mount_point_key(const char *mount_point, char *buf, size_t size) {
	size_t out = 0;
	for (const char *p = mount_point; *p;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0)
			break;
		if (!(len == 1 && p[0] == '.')) {
			if (out + 1 + len >= size)
				return -ENAMETOOLONG;
			buf[out++] = '/';
			memcpy(buf + out, p, len);
			out += len;
		}
		p += len;
	}
	if (size < 2)
		return -ENAMETOOLONG;
	if (out == 0)
		buf[out++] = '/';
	buf[out] = '\0';
	return 0;
}

int stor_spec_check(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	const stor_driver *d = stor_driver_find(s->driver);
	stor_mount_opts o;
	char field[128];
	const char *rel;

	if (!d)
		return kc_error_set(err, EINVAL, "%s.driver: unknown storage driver `%s`", what,
				    s->driver ? s->driver : "");
	(void)format_checked(field, sizeof field, "%s.mount_point", what);
	int r = path_check_under(s->mount_point, root->prefix, &rel, field, err);
	if (r < 0)
		return r;
	(void)format_checked(field, sizeof field, "%s.options", what);
	r = stor_options_parse(s->options, s->n_options, &o, field, err);
	if (r < 0)
		return r;
	/* Only the bind driver binds, and it confines its source. Through any other driver `rbind` would turn
	 * the unchecked source (a tmpfs name, a share tag) into a bind of any guest path, e.g. `/` with the
	 * agent binary in it; `remount` and `move` would act on whatever is mounted there already. */
	if ((o.flags & (MS_BIND | MS_REC | MS_REMOUNT | MS_MOVE)) && strcmp(d->name, "bind") != 0)
		return kc_error_set(err, EINVAL, "%s: bind, rbind, remount and move are not options of the `%s` driver",
				    field, d->name);
	/* 9p over anything but virtio (trans=fd,rfdno=N) would speak 9P over a descriptor of the agent's. */
	if (strcmp(d->name, "9p") == 0 && stor_options_has(&o, "trans")) {
		char t[16];
		if (stor_options_take(&o, "trans", t, sizeof t) < 0 || strcmp(t, "virtio") != 0)
			return kc_error_set(err, EINVAL, "%s: 9p shares use trans=virtio", field);
	}
	if (s->has_fs_group && s->fs_policy != STOR_FSGROUP_ALWAYS && s->fs_policy != STOR_FSGROUP_ON_ROOT_MISMATCH)
		return kc_error_set(err, EINVAL, "%s.fs_group.group_change_policy: unknown policy %d", what,
				    (int)s->fs_policy);
	return d->check ? d->check(s, root, what, err) : 0;
}

/* fsgid= and mode= are the agent's, not the filesystem's: taken out of the data and applied to the root of
 * the mounted tree (ephemeral) or to the directory (local). */
static int take_ownership_options(mount_job *job, kc_error *err) {
	char v[32];
	uint64_t n;
	int r = stor_options_take(&job->o, "fsgid", v, sizeof v);
	if (r < 0 || (r > 0 && (parse_u64(v, 10, &n) < 0 || n >= UINT32_MAX)))
		return kc_error_set(err, EINVAL, "%s.options: fsgid must be a group id", job->what);
	if (r > 0) {
		job->has_fsgid = true;
		job->fsgid = (gid_t)n;
	}
	if (job->s->driver && strcmp(job->s->driver, "local") != 0)
		return 0;
	r = stor_options_take(&job->o, "mode", v, sizeof v);
	if (r < 0 || (r > 0 && (parse_u64(v, 8, &n) < 0 || n > 07777)))
		return kc_error_set(err, EINVAL, "%s.options: mode must be octal permissions", job->what);
	if (r > 0) {
		job->has_mode = true;
		job->mode = (mode_t)n;
	}
	return 0;
}

static int apply_ownership(mount_job *job, int fd, kc_error *err) {
	char p[PATH_FD_PATH_MAX];
	struct stat st;

	path_fd_path(fd, p);
	if (job->has_mode && chmod(p, job->mode) < 0)
		return kc_error_set(err, errno, "%s: chmod %s: %m", job->what, job->s->mount_point);
	if (job->has_fsgid) {
		if (fchownat(fd, "", (uid_t)-1, job->fsgid, AT_EMPTY_PATH) < 0 || fstat(fd, &st) < 0 ||
		    chmod(p, (st.st_mode & 07777) | S_ISGID) < 0)
			return kc_error_set(err, errno, "%s: fsgid on %s: %m", job->what, job->s->mount_point);
	}
	if (job->s->has_fs_group) {
		int r = stor_fs_group_apply(fd, job->s->fs_gid, job->s->fs_policy, job->o.flags & MS_RDONLY, err);
		if (r < 0)
			return kc_error_prefix(err, "%s: %s", job->what, job->s->mount_point);
	}
	return 0;
}

int stor_mount(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	mount_job job = { .s = s, .root = root, .what = what };
	_cleanup_close_ int target = -EBADF, mounted_root = -EBADF;
	bool created = false, mounted = false, file = false;
	char field[128];

	int r = stor_spec_check(s, root, what, err);
	if (r < 0)
		return r;
	const stor_driver *d = stor_driver_find(s->driver);
	const char *rel = s->mount_point + strlen(root->prefix);
	(void)format_checked(field, sizeof field, "%s.options", what);
	r = stor_options_parse(s->options, s->n_options, &job.o, field, err);
	if (r >= 0)
		r = take_ownership_options(&job, err);
	if (r < 0)
		return r;

	if (d->prepare && (r = d->prepare(s, root, what, err)) < 0)
		return r;
	file = d->prepare && r == STOR_PREPARED_FILE;
	int oflags = file ? O_PATH : O_PATH | O_DIRECTORY;
	r = path_open_in_root(root->fd, rel, oflags, file ? PATH_RESOLVE_NOFOLLOW : PATH_RESOLVE_MKDIR,
			      MOUNT_POINT_MODE, &target, &created);
	if (r < 0) {
		r = kc_error_set(err, r, "%s.mount_point: `%s`: %s", what, s->mount_point, strerror(-r));
		goto fail;
	}
	path_fd_path(target, job.target);

	if (d->mount) {
		r = d->mount(&job, err);
		if (r < 0)
			goto fail;
		mounted = true;
	}
	/* The fd taken before the mount names the covered directory; propagation and ownership go to the new
	 * mount. */
	r = path_open_in_root(root->fd, rel, oflags, file ? PATH_RESOLVE_NOFOLLOW : 0, 0, &mounted_root, NULL);
	if (r < 0) {
		r = kc_error_set(err, r, "%s: reopen %s after mounting: %s", what, s->mount_point, strerror(-r));
		goto fail;
	}
	if (mounted && job.o.propagation) {
		char mp[PATH_FD_PATH_MAX];
		path_fd_path(mounted_root, mp);
		if (mount(NULL, mp, NULL, job.o.propagation, NULL) < 0) {
			r = kc_error_set(err, errno, "%s: propagation of %s: %m", what, s->mount_point);
			goto fail;
		}
	}
	r = apply_ownership(&job, mounted_root, err);
	if (r < 0)
		goto fail;
	return 0;

fail:
	/* A watchable storage's "mount" is a copy and a record: both go, or the poll would keep the copy alive; so
	 * does the file its prepare step made as the mount point of a single-file source. */
	if (file || (mounted && (d->flags & STOR_DRIVER_WATCH)))
		(void)stor_watch_forget(root, s->mount_point);
	else if (mounted)
		detach(root, rel);
	if (created)
		stor_remove_dir(root, rel);
	return r;
}

int stor_umount(const char *mount_point, unsigned driver_flags, const stor_root *root, kc_error *err) {
	const char *rel;
	_cleanup_close_ int fd = -EBADF;
	char p[PATH_FD_PATH_MAX];

	int r = path_check_under(mount_point, root->prefix, &rel, "mount_point", err);
	if (r < 0)
		return r;
	if (driver_flags & STOR_DRIVER_WATCH) {
		r = stor_watch_forget(root, mount_point);
		return r < 0 ? kc_error_set(err, -r, "unmount %s: %s", mount_point, strerror(-r)) : 0;
	}
	if (!(driver_flags & STOR_DRIVER_NO_MOUNT)) {
		r = path_open_in_root(root->fd, rel, O_PATH | O_DIRECTORY, 0, 0, &fd, NULL);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return kc_error_set(err, r, "unmount %s: %s", mount_point, strerror(-r));
		path_fd_path(fd, p);
		/* EINVAL: not a mount point (any more), which is what we want. */
		if (umount2(p, MNT_DETACH) < 0 && errno != EINVAL)
			return kc_error_set(err, errno, "unmount %s: %m", mount_point);
		fd = safe_close(fd);
	}
	stor_remove_dir(root, rel);
	return 0;
}

int stor_remount(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	mount_job job = { .s = s, .root = root, .what = what };
	_cleanup_close_ int fd = -EBADF;
	char field[128];

	int r = stor_spec_check(s, root, what, err);
	if (r < 0)
		return r;
	if (!(stor_driver_flags(stor_driver_find(s->driver)) & STOR_DRIVER_REMOUNT))
		return kc_error_set(err, EINVAL, "%s.driver: `%s` storage cannot be remounted (ephemeral only)", what,
				    s->driver);
	(void)format_checked(field, sizeof field, "%s.options", what);
	r = stor_options_parse(s->options, s->n_options, &job.o, field, err);
	if (r >= 0)
		r = take_ownership_options(&job, err);
	if (r < 0)
		return r;
	r = path_open_in_root(root->fd, s->mount_point + strlen(root->prefix), O_PATH | O_DIRECTORY, 0, 0, &fd,
			      NULL);
	if (r < 0)
		return kc_error_set(err, r, "%s.mount_point: `%s`: %s", what, s->mount_point, strerror(-r));
	path_fd_path(fd, job.target);
	const char *data = job.o.data_len ? job.o.data : NULL;
	if (mount(NULL, job.target, NULL, MS_REMOUNT | (job.o.flags & ~(unsigned long)MS_BIND), data) < 0)
		return kc_error_set(err, errno, "%s: remount %s: %m", what, s->mount_point);
	return apply_ownership(&job, fd, err);
}
