/* Path confinement: host paths checked against their prefix, then resolved inside the root through openat2
 * and through the component-walking fallback, case by case: "..", absolute and relative symlinks that try to
 * leave, symlink loops, magic links, creation of missing directories. Also the storage spec checks, and real
 * mounts (tmpfs, bind, a failing one) inside a private mount namespace when the test runs as root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/path.h"
#include "storage/drivers-internal.h"
#include "storage/storage.h"
#include "storage/watch.h"

static char top[64];
static int rootfd = -1;

static void mk(const char *rel, bool dir) {
	char p[256];
	snprintf(p, sizeof p, "%s/%s", top, rel);
	if (dir)
		assert_int_equal(mkdir(p, 0755), 0);
	else {
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
}

static void ln(const char *target, const char *rel) {
	char p[256];
	snprintf(p, sizeof p, "%s/%s", top, rel);
	assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state) {
	snprintf(top, sizeof top, "/tmp/test-storage-path.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	mk("a", true);
	mk("a/b", true);
	mk("a/file", false);
	mk("etc", true);
	mk("etc/passwd", false);
	ln("/a/b", "abs");               /* absolute, stays inside once rooted */
	ln("/etc", "esc");               /* would be the host's /etc without confinement */
	ln("../../../../..", "up");      /* climbs past the root */
	ln("../file", "a/b/rel");        /* relative, inside */
	ln("loop2", "loop1");
	ln("loop1", "loop2");
	ln("/proc/self/root", "magic");  /* a magic link, rooted: does not exist inside */
	ln("up/a/../esc/passwd", "chain");
	rootfd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state) {
	char cmd[128];
	close(rootfd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

/* Asserts that path resolves (both ways) to the same inode as expect, a path relative to top. */
static void resolves_to(const char *path, const char *expect) {
	char p[256];
	struct stat want, got;
	snprintf(p, sizeof p, "%s/%s", top, expect);
	assert_int_equal(lstat(p, &want), 0);
	for (int fallback = 0; fallback < 2; fallback++) {
		int fd = -1;
		int r = path_open_in_root(rootfd, path, O_PATH, fallback ? PATH_RESOLVE_FORCE_FALLBACK : 0, 0, &fd, NULL);
		if (r < 0)
			fail_msg("`%s` (fallback=%d): %s", path, fallback, strerror(-r));
		assert_int_equal(fstat(fd, &got), 0);
		if (got.st_ino != want.st_ino || got.st_dev != want.st_dev)
			fail_msg("`%s` (fallback=%d) did not resolve to %s", path, fallback, expect);
		close(fd);
	}
}

static void fails_with(const char *path, int open_flags, int expect) {
	for (int fallback = 0; fallback < 2; fallback++) {
		int fd = -1;
		int r = path_open_in_root(rootfd, path, open_flags, fallback ? PATH_RESOLVE_FORCE_FALLBACK : 0, 0, &fd,
					  NULL);
		if (r != expect)
			fail_msg("`%s` (fallback=%d): got %d (%s), want %d", path, fallback, r,
				 r < 0 ? strerror(-r) : "ok", expect);
	}
}

static void test_plain(void **state) {
	resolves_to("a/b", "a/b");
	resolves_to("/a/file", "a/file");
	resolves_to("a//b/./", "a/b");
	resolves_to("", ".");
	resolves_to("/", ".");
}

static void test_dotdot_stops_at_root(void **state) {
	resolves_to("..", ".");
	resolves_to("../../a/file", "a/file");
	resolves_to("a/b/../../../../etc/passwd", "etc/passwd");
}

static void test_symlinks_stay_inside(void **state) {
	resolves_to("abs", "a/b");
	resolves_to("esc/passwd", "etc/passwd"); /* the root's etc, not the host's */
	resolves_to("up", ".");
	resolves_to("up/a/file", "a/file");
	resolves_to("a/b/rel", "a/file");
	resolves_to("chain", "etc/passwd");
}

static void test_bad_paths(void **state) {
	fails_with("loop1", O_PATH, -ELOOP);
	fails_with("magic", O_PATH, -ENOENT);
	fails_with("a/file/x", O_PATH, -ENOTDIR);
	fails_with("nope/x", O_PATH, -ENOENT);
	fails_with("a/file", O_PATH | O_DIRECTORY, -ENOTDIR);
}

static void test_nofollow_last(void **state) {
	for (int fallback = 0; fallback < 2; fallback++) {
		int fd = -1;
		struct stat st;
		unsigned f = PATH_RESOLVE_NOFOLLOW | (fallback ? PATH_RESOLVE_FORCE_FALLBACK : 0);
		assert_int_equal(path_open_in_root(rootfd, "esc", O_PATH, f, 0, &fd, NULL), 0);
		assert_int_equal(fstat(fd, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
		close(fd);
	}
}

static void test_real_open_reopens_safely(void **state) {
	for (int fallback = 0; fallback < 2; fallback++) {
		int fd = -1;
		unsigned f = fallback ? PATH_RESOLVE_FORCE_FALLBACK : 0;
		assert_int_equal(path_open_in_root(rootfd, "esc/passwd", O_RDONLY, f, 0, &fd, NULL), 0);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		assert_false(fcntl(fd, F_GETFL) & O_PATH);
		close(fd);
	}
	int fd;
	assert_int_equal(path_open_in_root(rootfd, "x", O_RDWR | O_CREAT, 0, 0, &fd, NULL), -EINVAL);
}

static void test_mkdir_inside(void **state) {
	int fd = -1;
	bool created = false;
	struct stat st;
	char p[256];

	assert_int_equal(path_open_in_root(rootfd, "esc/newdir/deeper", O_PATH | O_DIRECTORY, PATH_RESOLVE_MKDIR,
					   0750, &fd, &created), 0);
	assert_true(created);
	close(fd);
	snprintf(p, sizeof p, "%s/etc/newdir/deeper", top);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_not_equal(stat("/etc/newdir", &st), 0);

	assert_int_equal(path_open_in_root(rootfd, "up/up/made", O_PATH | O_DIRECTORY, PATH_RESOLVE_MKDIR, 0700,
					   &fd, &created), 0);
	assert_true(created);
	close(fd);
	snprintf(p, sizeof p, "%s/made", top);
	assert_int_equal(stat(p, &st), 0);
	/* Existing: not created. */
	assert_int_equal(path_open_in_root(rootfd, "a/b", O_PATH, PATH_RESOLVE_MKDIR, 0700, &fd, &created), 0);
	assert_false(created);
	close(fd);
}

static void test_parent(void **state) {
	int dfd = -1;
	const char *name = NULL;
	struct stat st, want;
	char p[256];

	assert_int_equal(path_open_parent_in_root(rootfd, "esc/passwd", 0, 0, &dfd, &name), 0);
	assert_string_equal(name, "passwd");
	snprintf(p, sizeof p, "%s/etc", top);
	assert_int_equal(stat(p, &want), 0);
	assert_int_equal(fstat(dfd, &st), 0);
	assert_int_equal(st.st_ino, want.st_ino);
	close(dfd);
	assert_int_equal(path_open_parent_in_root(rootfd, "a/..", 0, 0, &dfd, &name), -EINVAL);
	assert_int_equal(path_open_parent_in_root(rootfd, "", 0, 0, &dfd, &name), -EINVAL);
	assert_int_equal(path_open_parent_in_root(rootfd, "top", 0, 0, &dfd, &name), 0);
	assert_string_equal(name, "top");
	close(dfd);
}

static void test_path_check(void **state) {
	const char *rel = NULL;
	kc_error err = { 0 };
	const char *P = "/run/kata-containers/";

	assert_int_equal(path_check_under("/run/kata-containers/sandbox/shm", P, &rel, "mount_point", &err), 0);
	assert_string_equal(rel, "sandbox/shm");
	assert_int_equal(path_check_under("/run/kata-containers//a/./b", P, &rel, "mp", &err), 0);
	assert_string_equal(rel, "a/./b");
	assert_int_equal(path_check_under("/run/kata-containers/../../etc", P, &rel, "storages[3].mount_point", &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "storages[3].mount_point"));
	assert_non_null(strstr(err.msg, ".."));
	assert_int_equal(path_check_under("/run/kata-containers/a/..", P, &rel, "mp", &err), -EINVAL);
	assert_int_equal(path_check_under("/etc/passwd", P, &rel, "mp", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is not under"));
	assert_int_equal(path_check_under("/run/kata-containersX/a", P, &rel, "mp", &err), -EINVAL);
	assert_int_equal(path_check_under("run/kata-containers/a", P, &rel, "mp", &err), -EINVAL);
	assert_int_equal(path_check_under("/run/kata-containers/", P, &rel, "mp", &err), -EINVAL);
	assert_int_equal(path_check_under("/run/kata-containers//", P, &rel, "mp", &err), -EINVAL);
	assert_int_equal(path_check_under("", P, &rel, "mp", &err), -EINVAL);
	assert_int_equal(path_check_under(NULL, P, &rel, "mp", &err), -EINVAL);
	/* "..." and "..x" are names, not traversal. */
	assert_int_equal(path_check_under("/run/kata-containers/.../..x", P, &rel, "mp", &err), 0);
	char longp[5000];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	memcpy(longp, P, strlen(P));
	assert_int_equal(path_check_under(longp, P, &rel, "mp", &err), -ENAMETOOLONG);
}

static void test_mount_point_key(void **state) {
	char k[64];
	assert_int_equal(stor_mount_point_key("/run/kata-containers//a/./b/", k, sizeof k), 0);
	assert_string_equal(k, "/run/kata-containers/a/b");
	assert_int_equal(stor_mount_point_key("/", k, sizeof k), 0);
	assert_string_equal(k, "/");
	assert_int_equal(stor_mount_point_key("/run/kata-containers/a", k, 8), -ENAMETOOLONG);
}

static void test_spec_check(void **state) {
	stor_root root = { .fd = rootfd, .prefix = "/run/kata-containers/" };
	kc_error err = { 0 };
	const char *opts[] = { "size=1m" };
	stor_spec s = { .driver = "ephemeral", .source = "tmpfs", .mount_point = "/run/kata-containers/x",
			.options = opts, .n_options = 1 };

	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), 0);
	s.driver = "nfs";
	assert_int_equal(stor_spec_check(&s, &root, "storages[1]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[1].driver"));
	s.driver = NULL;
	assert_int_equal(stor_spec_check(&s, &root, "storages[1]", &err), -EINVAL);
	s.driver = "ephemeral";
	s.fstype = "xfs";
	assert_int_equal(stor_spec_check(&s, &root, "storages[2]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[2].fstype"));
	/* hugetlbfs needs its page size and size; size=1m is no whole number of 2 MiB pages. */
	s.fstype = "hugetlbfs";
	assert_int_equal(stor_spec_check(&s, &root, "storages[2]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[2].options: hugetlbfs needs pagesize="));
	s.options = (const char *[]){ "pagesize=2M,size=1m" };
	assert_int_equal(stor_spec_check(&s, &root, "storages[2]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a whole number of 2097152-byte pages"));
	s.options = (const char *[]){ "pagesize=3000", "size=6000" };
	s.n_options = 2;
	assert_int_equal(stor_spec_check(&s, &root, "storages[2]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "pagesize=3000 is not a page size"));
	s.options = (const char *[]){ "pagesize=2097152", "size=8388608" };
	assert_int_equal(stor_spec_check(&s, &root, "storages[2]", &err), 0);
	s.options = opts;
	s.n_options = 1;
	s.fstype = "tmpfs";
	s.mount_point = "/run/kata-containers/../../etc";
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[0].mount_point"));
	s.mount_point = "/run/kata-containers/x";
	s.driver = "9p";
	s.source = "";
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[0].source"));
	s.driver = "bind";
	s.source = "/etc";
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[0].source"));
	s.source = "/run/kata-containers/shared/containers/c1";
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), 0);
	s.has_fs_group = true;
	s.fs_policy = 7;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "group_change_policy"));

	size_t n;
	const char *const *names = stor_driver_names(&n);
	assert_int_equal(n, 11); /* virtio-fs 9p ephemeral local bind overlayfs watchable-bind, blk mmioblk scsi nvdimm */
	for (size_t i = 0; i < n; i++)
		assert_non_null(stor_driver_find(names[i]));
	assert_true(stor_driver_flags(stor_driver_find("9p")) & STOR_DRIVER_BLOCKS);
	assert_true(stor_driver_flags(stor_driver_find("virtio-fs")) & STOR_DRIVER_BLOCKS);
	assert_true(stor_driver_flags(stor_driver_find("ephemeral")) & STOR_DRIVER_REMOUNT);
	assert_true(stor_driver_flags(stor_driver_find("blk")) & STOR_DRIVER_DEVICE);
}

static void test_hugetlb_parse(void **state) {
	struct {
		const char *opts;
		int r;
		uint64_t pagesize, pages;
	} cases[] = {
		{ "pagesize=2097152,size=524288000", 0, 2 << 20, 250 }, /* as the Kata runtime writes it */
		{ "size=4M,pagesize=2M", 0, 2 << 20, 2 },
		{ "pagesize=1G,size=2g", 0, 1 << 30, 2 },
		{ "pagesize=4k,size=4096", 0, 4096, 1 },
		{ "foo=bar,pagesize=2048k,size=2m,nr_inodes=9", 0, 2 << 20, 1 },
		{ "size=2M", -EINVAL, 0, 0 },
		{ "pagesize=2M", -EINVAL, 0, 0 },
		{ "pagesize=,size=2M", -EINVAL, 0, 0 },
		{ "pagesize=2M,size=", -EINVAL, 0, 0 },
		{ "pagesize=abc,size=2M", -EINVAL, 0, 0 },
		{ "pagesize=2MB,size=2M", -EINVAL, 0, 0 },
		{ "pagesize=2M,size=50%", -EINVAL, 0, 0 },
		{ "pagesize=2M,size=0", -EINVAL, 0, 0 },
		{ "pagesize=2048,size=4096", -EINVAL, 0, 0 }, /* not a page size */
		{ "pagesize=2M,size=99999999999999999999", -EINVAL, 0, 0 },
		{ "pagesize=4k,size=17592186044416k", -E2BIG, 0, 0 },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		stor_mount_opts o;
		kc_error err = { 0 };
		uint64_t ps = 0, pages = 0;
		const char *one[] = { cases[i].opts };
		assert_int_equal(stor_options_parse(one, 1, &o, "options", &err), 0);
		int r = stor_hugetlb_parse(&o, &ps, &pages, "storages[0]", &err);
		if (r != cases[i].r)
			fail_msg("`%s`: %d, expected %d (%s)", cases[i].opts, r, cases[i].r, err.msg);
		if (r == 0) {
			assert_int_equal(ps, cases[i].pagesize);
			assert_int_equal(pages, cases[i].pages);
		} else
			assert_non_null(strstr(err.msg, "storages[0].options"));
	}
}

static void pool_set(const char *pool, const char *v) {
	FILE *f = fopen(pool, "we");
	assert_non_null(f);
	assert_true(fputs(v, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static unsigned long long pool_get(const char *pool) {
	unsigned long long v = 0;
	FILE *f = fopen(pool, "re");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%llu", &v), 1);
	fclose(f);
	return v;
}

/* 1 when another request could take the pool's lock now. */
static int pool_free(const char *pool) {
	int fd = open(pool, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	int r = flock(fd, LOCK_EX | LOCK_NB) == 0;
	close(fd);
	return r;
}

/* A claim holds the pool's lock until its mount succeeded or was given up, so no other request sees its pages
 * meanwhile. A rollback takes back exactly the pages its request added: the pool grown by someone else after
 * the reservation keeps that growth (writing back the pool it found would take it too). */
static void test_hugepages_rollback(void **state) {
	char dir[256], pool[300];
	stor_hugepages_claim a, b, none;
	kc_error err = { 0 };

	snprintf(dir, sizeof dir, "%s/hugepages", top);
	snprintf(pool, sizeof pool, "%s/hugepages-2048kB", dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(mkdir(pool, 0755), 0);
	strcat(pool, "/nr_hugepages");
	pool_set(pool, "10\n");
	if (stor_hugepages_reserve(dir, 2 << 20, 100, "storages[0]", &a, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(a.added, 90);
	assert_int_equal(pool_get(pool), 100);
	assert_false(pool_free(pool));
	pool_set(pool, "150\n"); /* grown by something else meanwhile */
	stor_hugepages_release(&a, true);
	assert_true(pool_free(pool));
	assert_int_equal(pool_get(pool), 60);
	/* A mount that succeeded keeps its pages. */
	if (stor_hugepages_reserve(dir, 2 << 20, 100, "storages[1]", &b, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(b.added, 40);
	stor_hugepages_release(&b, false);
	assert_true(pool_free(pool));
	assert_int_equal(pool_get(pool), 100);
	/* A pool that is big enough already: nothing added, nothing to give back. */
	if (stor_hugepages_reserve(dir, 2 << 20, 20, "storages[2]", &none, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(none.added, 0);
	stor_hugepages_release(&none, true);
	assert_int_equal(pool_get(pool), 100);
	/* A page size the kernel lacks: no such pool file. */
	assert_int_equal(stor_hugepages_reserve(dir, 1 << 30, 1, "storages[3]", &none, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[3].options: pagesize=1073741824"));
	assert_non_null(strstr(err.msg, "no such huge page size"));
}

static void test_overlay_check(void **state) {
	stor_root root = { .fd = rootfd, .prefix = "/run/kata-containers/" };
	kc_error err = { 0 };
	stor_spec s = { .driver = "overlayfs", .source = "none", .fstype = "overlay",
			.mount_point = "/run/kata-containers/c1/rootfs", .n_options = 3,
			.options = (const char *[]){ "lowerdir=/run/kata-containers/l1:/run/kata-containers/l2",
						     "upperdir=/run/kata-containers/c1/upper",
						     "workdir=/run/kata-containers/c1/work" } };
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), 0);
	s.n_options = 1; /* read-only: lower layers only */
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), 0);
	s.n_options = 2;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[0].options: upperdir= and workdir= go together"));
	s.options = (const char *[]){ "upperdir=/run/kata-containers/u", "workdir=/run/kata-containers/w" };
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "needs lowerdir="));
	s.options = (const char *[]){ "lowerdir=/run/kata-containers/l1:/etc" };
	s.n_options = 1;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[0].options: lowerdir[1]"));
	s.options = (const char *[]){ "lowerdir=/run/kata-containers/l1", "upperdir=/run/kata-containers/../../u",
				      "workdir=/run/kata-containers/w" };
	s.n_options = 3;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[0].options: upperdir"));
	s.options = (const char *[]){ "lowerdir=/run/kata-containers/a\\:b" };
	s.n_options = 1;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "escaped"));
	s.options = (const char *[]){ "lowerdir=/run/kata-containers/l1::/run/kata-containers/l2" };
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "lowerdir[1]"));
	/* Driver options: create_directory paths checked like layers; other keys ignored. */
	s.options = (const char *[]){ "lowerdir=/run/kata-containers/l1" };
	s.n_options = 1;
	s.driver_options = (const char *[]){ "io.katacontainers.volume.overlayfs.create_directory=/run/kata-containers/c1/d",
					     "io.katacontainers.other=x", "plain" };
	s.n_driver_options = 3;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), 0);
	static const struct {
		const char *option, *want;
	} bad[] = {
		{ "io.katacontainers.volume.overlayfs.create_directory=/run/kata-containers/../etc",
		  "storages[0].driver_options[0]" },
		{ "io.katacontainers.volume.overlayfs.create_directory=/etc/x", "storages[0].driver_options[0]" },
		{ "io.katacontainers.volume.overlayfs.create_directory=c1/d", "storages[0].driver_options[0]" },
		{ "io.katacontainers.volume.overlayfs.create_directory=", "names no directory" },
		{ "io.katacontainers.volume.overlayfs.create_directory=/run/kata-containers/", "itself" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		s.driver_options = (const char *[]){ bad[i].option };
		s.n_driver_options = 1;
		assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
		if (!strstr(err.msg, bad[i].want))
			fail_msg("%s: %s", bad[i].option, err.msg);
	}
	s.n_driver_options = 129;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -E2BIG);
	assert_non_null(strstr(err.msg, "storages[0].driver_options: more than 128 items"));
	s.driver_options = NULL;
	s.n_driver_options = 0;
	/* overlay-rw: the container's own upper and work directories, so it needs the container. */
	s.options = (const char *[]){ "lowerdir=/run/kata-containers/l1", "io.katacontainers.fs-opt.overlay-rw" };
	s.n_options = 2;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "needs the storage's container"));
	s.container_id = "../x";
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	s.container_id = "c1";
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), 0);
	s.fstype = "ext4";
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[0].fstype"));
	/* More layers than the cap. */
	static char many[4096];
	size_t off = (size_t)snprintf(many, sizeof many, "lowerdir=");
	for (int i = 0; i < 40; i++)
		off += (size_t)snprintf(many + off, sizeof many - off, "%s/run/kata-containers/%d", i ? ":" : "", i);
	s.fstype = "overlay";
	s.options = (const char *[]){ many };
	s.n_options = 1;
	assert_int_equal(stor_spec_check(&s, &root, "storages[0]", &err), -E2BIG);
	assert_non_null(strstr(err.msg, "more than 32 layers"));
}

static bool exists(const char *rel) {
	char p[256];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", top, rel);
	return lstat(p, &st) == 0;
}

static void put_file(const char *rel, const char *text) {
	char p[256];
	snprintf(p, sizeof p, "%s/%s", top, rel);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void file_is(const char *rel, const char *text) {
	char p[256], buf[64] = "";
	snprintf(p, sizeof p, "%s/%s", top, rel);
	FILE *f = fopen(p, "re");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

static ino_t inode_of(const char *rel) {
	char p[256];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", top, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_ino;
}

static int sync_dirs(const char *src, const char *dst, kc_error *err) {
	int s = openat(rootfd, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC), d = openat(rootfd, dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(s >= 0 && d >= 0);
	int r = stor_watch_sync(s, d, err);
	close(s);
	close(d);
	return r;
}

static void test_watch_sync(void **state) {
	kc_error err = { 0 };
	char p[256];
	mk("ws", true);
	mk("ws/d", true);
	mk("wd", true);
	put_file("ws/a", "one");
	put_file("ws/d/b", "bee");
	ln("../a", "ws/d/l");
	ln("/etc/passwd", "ws/abs"); /* copied as a link, never followed */
	snprintf(p, sizeof p, "%s/ws/fifo", top);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(sync_dirs("ws", "wd", &err), 0);
	file_is("wd/a", "one");
	file_is("wd/d/b", "bee");
	char link[64] = "";
	snprintf(p, sizeof p, "%s/wd/d/l", top);
	assert_int_equal(readlink(p, link, sizeof link), 4);
	assert_false(exists("wd/fifo"));
	snprintf(p, sizeof p, "%s/wd/abs", top);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* Updated in place: the same inode, so a bind of that one file sees the change. */
	ino_t ino = inode_of("wd/a");
	put_file("ws/a", "two!");
	assert_int_equal(sync_dirs("ws", "wd", &err), 0);
	file_is("wd/a", "two!");
	assert_int_equal(inode_of("wd/a"), ino);
	/* Same size, newer mtime: copied too. */
	put_file("ws/a", "six!");
	struct timespec later[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = 2000000000 } };
	snprintf(p, sizeof p, "%s/ws/a", top);
	assert_int_equal(utimensat(AT_FDCWD, p, later, 0), 0);
	assert_int_equal(sync_dirs("ws", "wd", &err), 0);
	file_is("wd/a", "six!");
	/* A directory that went: gone from the copy; a file that became a directory: replaced. */
	snprintf(p, sizeof p, "rm -r '%s/ws/d' && rm '%s/ws/a' && mkdir '%s/ws/a'", top, top, top);
	assert_int_equal(system(p), 0);
	assert_int_equal(sync_dirs("ws", "wd", &err), 0);
	assert_false(exists("wd/d"));
	snprintf(p, sizeof p, "%s/wd/a", top);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	/* Over the limits: 16 entries with the directory itself, 1 MiB; the copy stays as it was. */
	for (int i = 0; i < 13; i++) {
		snprintf(p, sizeof p, "ws/n%d", i);
		put_file(p, "x");
	}
	assert_int_equal(sync_dirs("ws", "wd", &err), 0); /* ws, a, abs, fifo (not counted), n0..n12: 16 */
	put_file("ws/n13", "x");
	assert_int_equal(sync_dirs("ws", "wd", &err), -EFBIG);
	assert_non_null(strstr(err.msg, "more than 16 entries"));
	assert_false(exists("wd/n13"));
	snprintf(p, sizeof p, "rm -r '%s'/ws/n*; truncate -s 1048577 '%s/ws/big'", top, top);
	assert_int_equal(system(p), 0);
	assert_int_equal(sync_dirs("ws", "wd", &err), -EFBIG);
	assert_false(exists("wd/big"));
	snprintf(p, sizeof p, "truncate -s 1048000 '%s/ws/big'", top);
	assert_int_equal(system(p), 0);
	assert_int_equal(sync_dirs("ws", "wd", &err), 0);
	assert_true(exists("wd/big"));
	assert_false(exists("wd/n0"));
}

/* ---- real mounts, in a private mount namespace ---- */

static bool in_private_ns(void) {
	static int state = 0;
	if (state == 0) {
		state = (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) ? 1 : -1;
		/* An fd opened before unshare names a mount of the old namespace, which takes no mounts from us. */
		if (state > 0) {
			close(rootfd);
			rootfd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
		}
	}
	return state > 0;
}


static long fs_type(const char *rel) {
	char p[256];
	struct statfs sf;
	snprintf(p, sizeof p, "%s/%s", top, rel);
	return statfs(p, &sf) == 0 ? (long)sf.f_type : -1;
}

static void test_mounts(void **state) {
	if (!in_private_ns())
		skip();
	/* The test tree lives on the host's /tmp: give it a tmpfs of its own so its st_dev differs from the
	 * mounts made inside it. */
	stor_root root = { .fd = rootfd, .prefix = "/k/" };
	kc_error err = { 0 };
	const char *opts[] = { "nodev", "size=1m", "mode=0750", "fsgid=1234" };
	stor_spec s = { .driver = "ephemeral", .source = "shm", .fstype = "tmpfs", .mount_point = "/k/sb/shm",
			.options = opts, .n_options = 4 };
	struct stat st;
	char p[256];

	if (stor_mount(&s, &root, "storages[0]", &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(fs_type("sb/shm"), 0x01021994); /* TMPFS_MAGIC */
	snprintf(p, sizeof p, "%s/sb/shm", top);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_gid, 1234);
	assert_int_equal(st.st_mode & 07777, 02750);

	/* Remount with a new size: still mounted. */
	const char *bigger[] = { "size=2m" };
	s.options = bigger;
	s.n_options = 1;
	assert_int_equal(stor_remount(&s, &root, "storages[0]", &err), 0);
	struct statfs sf;
	assert_int_equal(statfs(p, &sf), 0);
	assert_int_equal((long)sf.f_blocks * sf.f_bsize, 2 << 20);

	/* A bind of a directory inside the root, read-only, through an escaping symlink as mount point. */
	stor_spec b = { .driver = "bind", .source = "/k/a", .mount_point = "/k/esc/bound",
			.options = (const char *[]){ "ro" }, .n_options = 1 };
	assert_int_equal(stor_mount(&b, &root, "storages[1]", &err), 0);
	assert_true(exists("etc/bound/file"));
	snprintf(p, sizeof p, "%s/etc/bound/newfile", top);
	assert_true(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) < 0 && errno == EROFS);
	assert_int_equal(stor_umount("/k/esc/bound", 0, &root, &err), 0);
	assert_false(exists("etc/bound"));

	/* A mount that fails leaves neither a mount nor the directory it created. */
	const char *bad[] = { "size=notanumber" };
	stor_spec f = { .driver = "ephemeral", .source = "tmpfs", .mount_point = "/k/made/for/nothing",
			.options = bad, .n_options = 1 };
	assert_int_not_equal(stor_mount(&f, &root, "storages[2]", &err), 0);
	assert_non_null(strstr(err.msg, "storages[2]"));
	assert_false(exists("made/for/nothing"));
	/* fs_group that cannot be applied (a read-only bind) undoes the mount. */
	stor_spec g = { .driver = "bind", .source = "/k/a", .mount_point = "/k/rofs",
			.options = (const char *[]){ "ro" }, .n_options = 1, .has_fs_group = true, .fs_gid = 5 };
	assert_int_not_equal(stor_mount(&g, &root, "storages[3]", &err), 0);
	assert_false(exists("rofs"));
	assert_int_not_equal(fs_type("a"), 0x01021994);

	/* local: a directory with mode and group. */
	stor_spec l = { .driver = "local", .mount_point = "/k/sb/local/vol",
			.options = (const char *[]){ "mode=0770", "fsgid=42" }, .n_options = 2 };
	assert_int_equal(stor_mount(&l, &root, "storages[4]", &err), 0);
	snprintf(p, sizeof p, "%s/sb/local/vol", top);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02770);
	assert_int_equal(st.st_gid, 42);
	assert_int_equal(stor_umount("/k/sb/local/vol", STOR_DRIVER_NO_MOUNT, &root, &err), 0);
	assert_false(exists("sb/local/vol"));

	/* overlayfs: the lower layer through an escaping symlink stays inside; upper and work are made inside. */
	stor_spec ov = { .driver = "overlayfs", .source = "none", .mount_point = "/k/ov/merged", .n_options = 3,
			 .options = (const char *[]){ "lowerdir=/k/esc:/k/a", "upperdir=/k/ov/upper",
						      "workdir=/k/ov/work", "io.katacontainers.x=1" } };
	if (stor_mount(&ov, &root, "storages[5]", &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(exists("ov/merged/passwd")); /* top/etc/passwd, not the host's */
	assert_true(exists("ov/merged/file"));
	snprintf(p, sizeof p, "%s/ov/merged/new", top);
	int nfd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(nfd >= 0);
	close(nfd);
	assert_true(exists("ov/upper/new"));
	assert_false(exists("a/new"));
	assert_int_equal(stor_umount("/k/ov/merged", 0, &root, &err), 0);
	assert_false(exists("ov/merged"));
	/* create_directory: made inside the root before the mount, even through the escaping symlink; the upper
	 * and work layers may lie in it. */
	stor_spec ovd = { .driver = "overlayfs", .mount_point = "/k/ovd/merged", .n_options = 3,
			  .options = (const char *[]){ "lowerdir=/k/a", "upperdir=/k/ovd/vol/upper", "workdir=/k/ovd/vol/work" },
			  .n_driver_options = 2,
			  .driver_options = (const char *[]){ "io.katacontainers.volume.overlayfs.create_directory=/k/ovd/vol",
							      "io.katacontainers.volume.overlayfs.create_directory=/k/esc/made" } };
	if (stor_mount(&ovd, &root, "storages[5]", &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(exists("ovd/vol/upper"));
	assert_true(exists("etc/made")); /* esc -> /etc, taken as top/etc */
	assert_int_equal(stor_umount("/k/ovd/merged", 0, &root, &err), 0);
	/* A failed mount takes the directories it created with it. */
	ovd.mount_point = "/k/ovd2/merged";
	ovd.options = (const char *[]){ "lowerdir=/k/nonexistent" };
	ovd.n_options = 1;
	ovd.driver_options = (const char *[]){ "io.katacontainers.volume.overlayfs.create_directory=/k/ovd2-dir" };
	ovd.n_driver_options = 1;
	assert_int_equal(stor_mount(&ovd, &root, "storages[5]", &err), -ENOENT);
	assert_false(exists("ovd2-dir"));
	assert_false(exists("ovd2/merged"));
	/* A missing lower layer: named, and neither the mount point nor upper/work are left. */
	stor_spec ovbad = { .driver = "overlayfs", .mount_point = "/k/ov2/merged", .n_options = 3,
			    .options = (const char *[]){ "lowerdir=/k/a:/k/nonexistent", "upperdir=/k/ov2/upper",
							 "workdir=/k/ov2/work" } };
	assert_int_equal(stor_mount(&ovbad, &root, "storages[6]", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "storages[6].options: lowerdir[1]: `/k/nonexistent`"));
	assert_false(exists("ov2/merged"));
	assert_false(exists("ov2/upper"));
	/* Upper and work on different filesystems: the kernel refuses; what was made goes again. */
	stor_spec ovx = { .driver = "overlayfs", .mount_point = "/k/ov3/merged", .n_options = 3,
			  .options = (const char *[]){ "lowerdir=/k/a", "upperdir=/k/ov3/upper", "workdir=/k/sb/shm/w" } };
	assert_int_not_equal(stor_mount(&ovx, &root, "storages[7]", &err), 0);
	assert_non_null(strstr(err.msg, "storages[7]: mount overlay"));
	assert_false(exists("ov3/merged"));
	assert_false(exists("ov3/upper"));
	assert_false(exists("sb/shm/w"));

	/* watchable-bind: a tmpfs under .../watchable, the copy in it, a record the poll reads. */
	mk("wsrc", true);
	put_file("wsrc/cfg", "v1");
	stor_spec w = { .driver = "watchable-bind", .source = "/k/wsrc",
			.mount_point = "/k/shared/containers/watchable/w1" };
	if (stor_mount(&w, &root, "storages[8]", &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(fs_type("shared/containers/watchable"), 0x01021994);
	file_is("shared/containers/watchable/w1/cfg", "v1");
	put_file("wsrc/cfg", "v2!");
	assert_int_equal(stor_watch_poll(&root, &err), 1);
	file_is("shared/containers/watchable/w1/cfg", "v2!");
	/* Too big from the start: bound from the share instead, and not polled. */
	mk("wbig", true);
	for (int i = 0; i < 20; i++) {
		snprintf(p, sizeof p, "wbig/f%d", i);
		put_file(p, "x");
	}
	stor_spec wb = { .driver = "watchable-bind", .source = "/k/wbig",
			 .mount_point = "/k/shared/containers/watchable/w2" };
	assert_int_equal(stor_mount(&wb, &root, "storages[9]", &err), 0);
	put_file("wbig/f20", "y");
	assert_true(exists("shared/containers/watchable/w2/f20")); /* the share itself */
	assert_int_equal(stor_watch_poll(&root, &err), 1);
	/* A mirror that grows too big turns into a bind at the next round. */
	for (int i = 0; i < 20; i++) {
		snprintf(p, sizeof p, "wsrc/g%d", i);
		put_file(p, "x");
	}
	assert_int_equal(stor_watch_poll(&root, &err), 0);
	put_file("wsrc/late", "z");
	assert_true(exists("shared/containers/watchable/w1/late"));
	/* A single file: mirrored onto a file mount point, updated in place, bound once too big, then forgotten. */
	put_file("wsrc1", "f1");
	stor_spec wf = { .driver = "watchable-bind", .source = "/k/wsrc1",
			 .mount_point = "/k/shared/containers/watchable/f/hosts" };
	if (stor_mount(&wf, &root, "storages[11]", &err) < 0)
		fail_msg("%s", err.msg);
	file_is("shared/containers/watchable/f/hosts", "f1");
	ino_t fino = inode_of("shared/containers/watchable/f/hosts");
	put_file("wsrc1", "f2 longer");
	assert_int_equal(stor_watch_poll(&root, &err), 1); /* w1 and w2 are bound by now: only the file */
	file_is("shared/containers/watchable/f/hosts", "f2 longer");
	assert_int_equal(inode_of("shared/containers/watchable/f/hosts"), fino);
	snprintf(p, sizeof p, "%s/wsrc1", top);
	assert_int_equal(truncate(p, STOR_WATCH_BYTES_MAX + 1), 0);
	assert_int_equal(stor_watch_poll(&root, &err), 0);
	put_file("wsrc1", "f3");
	file_is("shared/containers/watchable/f/hosts", "f3"); /* the bound file itself */
	assert_int_equal(stor_umount(wf.mount_point, STOR_DRIVER_WATCH, &root, &err), 0);
	assert_false(exists("shared/containers/watchable/f/hosts"));
	file_is("wsrc1", "f3");
	/* Neither a directory nor a regular file: refused, nothing made. */
	snprintf(p, sizeof p, "%s/wfifo", top);
	assert_int_equal(mkfifo(p, 0600), 0);
	wf.source = "/k/wfifo";
	wf.mount_point = "/k/shared/containers/watchable/f/fifo";
	assert_int_equal(stor_mount(&wf, &root, "storages[12]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[12].source: `/k/wfifo`: neither a directory nor a regular file"));
	assert_false(exists("shared/containers/watchable/f/fifo"));
	/* Refusals: a mount point outside the watchable tmpfs, the records' own directory, a missing source. */
	w.mount_point = "/k/sb/w";
	assert_int_equal(stor_mount(&w, &root, "storages[10]", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "storages[10].mount_point"));
	w.mount_point = "/k/shared/containers/watchable/.watches/x";
	assert_int_equal(stor_mount(&w, &root, "storages[10]", &err), -EINVAL);
	w.source = "/k/nowhere";
	w.mount_point = "/k/shared/containers/watchable/w3";
	assert_int_equal(stor_mount(&w, &root, "storages[10]", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "storages[10].source: `/k/nowhere`"));
	assert_false(exists("shared/containers/watchable/w3"));
	assert_int_equal(stor_umount("/k/shared/containers/watchable/w1", STOR_DRIVER_WATCH, &root, &err), 0);
	assert_int_equal(stor_umount("/k/shared/containers/watchable/w2", STOR_DRIVER_WATCH, &root, &err), 0);
	assert_false(exists("shared/containers/watchable/w1"));
	assert_false(exists("shared/containers/watchable/w2"));
	assert_true(exists("wbig/f20")); /* the share was unbound, not emptied */
	assert_int_equal(stor_watch_poll(&root, &err), 0);
	/* The last one leaves the tmpfs: a helper cannot know whether another is mounting a watchable storage in
	 * it right now, so the agent, which can, releases it. */
	assert_int_equal(fs_type("shared/containers/watchable"), 0x01021994);
	assert_int_equal(stor_watch_release(&root, &err), 0);
	assert_false(exists("shared/containers/watchable"));
	assert_int_equal(stor_watch_release(&root, &err), 0); /* not mounted any more: not an error */

	assert_int_equal(stor_umount("/k/sb/shm", 0, &root, &err), 0);
	assert_false(exists("sb/shm"));
	/* Not mounted any more: not an error. */
	assert_int_equal(stor_umount("/k/sb/shm", 0, &root, &err), 0);
}

static void test_fs_group(void **state) {
	if (geteuid() != 0)
		skip();
	char p[256];
	struct stat st;
	kc_error err = { 0 };
	mk("g", true);
	mk("g/d", true);
	mk("g/d/f", false);
	ln("/etc/passwd", "g/link");
	snprintf(p, sizeof p, "%s/g/d/f", top);
	assert_int_equal(chmod(p, 04700), 0);
	int fd = openat(rootfd, "g", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(stor_fs_group_apply(fd, 777, STOR_FSGROUP_ALWAYS, false, &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_gid, 777);
	assert_int_equal(st.st_mode & 07777, 0760); /* g+rw, set-id bits dropped */
	snprintf(p, sizeof p, "%s/g/d", top);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02775);
	snprintf(p, sizeof p, "%s/g/link", top);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_gid, 777);
	snprintf(p, sizeof p, "%s/etc/passwd", top);
	assert_int_equal(stat(p, &st), 0);
	assert_int_not_equal(st.st_gid, 777); /* the link was not followed */
	/* OnRootMismatch: the root matches now, so a changed file below stays as it is. */
	snprintf(p, sizeof p, "%s/g/d/f", top);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(stor_fs_group_apply(fd, 777, STOR_FSGROUP_ON_ROOT_MISMATCH, false, &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_dotdot_stops_at_root),
		cmocka_unit_test(test_symlinks_stay_inside),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_nofollow_last),
		cmocka_unit_test(test_real_open_reopens_safely),
		cmocka_unit_test(test_mkdir_inside),
		cmocka_unit_test(test_parent),
		cmocka_unit_test(test_path_check),
		cmocka_unit_test(test_mount_point_key),
		cmocka_unit_test(test_spec_check),
		cmocka_unit_test(test_hugetlb_parse),
		cmocka_unit_test(test_hugepages_rollback),
		cmocka_unit_test(test_overlay_check),
		cmocka_unit_test(test_watch_sync),
		cmocka_unit_test(test_fs_group),
		cmocka_unit_test(test_mounts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
