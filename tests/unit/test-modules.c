/* The modules.dep / softdep / alias parsers and the load-order resolver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include "common/util.h"
#include "init/modules.h"

static const char DEP[] =
	"kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko\n"
	"kernel/fs/jbd2/jbd2.ko:\n"
	"kernel/fs/mbcache.ko:\n"
	"kernel/lib/crc16.ko:\n"
	"kernel/crypto/crc32c_generic.ko:\n"
	"kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko "
	"kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko "
	"kernel/drivers/virtio/virtio_ring.ko\n"
	"kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n"
	"kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
	"kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
	"kernel/drivers/virtio/virtio_ring.ko:\n"
	"kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko "
	"kernel/drivers/virtio/virtio_ring.ko\n";
static const char SOFTDEP[] = "# Soft dependencies extracted from modules themselves.\n"
			      "softdep ext4 pre: crypto-crc32c\n"
			      "softdep jbd2 pre: crypto-crc32c\n";
static const char ALIAS[] = "# Aliases extracted from modules themselves.\n"
			    "alias crypto-crc32c crc32c_generic\n"
			    "alias crc32c crc32c_generic\n"
			    "alias fs-ext4 ext4\n"
			    "alias virtio:d00000004v* virtio_rng\n";

static kmod_db *load(const char *dep, const char *softdep, const char *alias) {
	kmod_db *db = NULL;
	kc_error err = {};
	assert_int_equal(kmod_db_new(&db), 0);
	assert_int_equal(kmod_db_parse_dep(db, dep, strlen(dep), &err), 0);
	if (softdep)
		assert_int_equal(kmod_db_parse_softdep(db, softdep, strlen(softdep), &err), 0);
	if (alias)
		assert_int_equal(kmod_db_parse_alias(db, alias, strlen(alias), &err), 0);
	return db;
}

static ssize_t pos(const kmod_plan *p, const char *name) {
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->mods[i]->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static void assert_before(const kmod_plan *p, const char *a, const char *b) {
	ssize_t pa = pos(p, a), pb = pos(p, b);
	if (pa < 0 || pb < 0 || pa >= pb)
		fail_msg("expected %s (at %zd) before %s (at %zd)", a, pa, b, pb);
}

static void test_parse_basic(void **state) {
	_cleanup_(kmod_db_freep) kmod_db *db = load(DEP, SOFTDEP, ALIAS);
	assert_int_equal(kmod_db_count(db), 11);
	assert_int_equal(kmod_db_malformed(db), 0);
	const kmod_module *m = kmod_db_find(db, "ext4");
	assert_non_null(m);
	assert_string_equal(m->path, "kernel/fs/ext4/ext4.ko");
	assert_int_equal(m->n_deps, 3);
	assert_string_equal(m->deps[0], "jbd2");
	assert_int_equal(m->n_pre, 1);
	assert_string_equal(m->pre[0], "crypto_crc32c");
	assert_null(kmod_db_find(db, "xfs"));
}

static void test_order_deps_first_each_once(void **state) {
	_cleanup_(kmod_db_freep) kmod_db *db = load(DEP, NULL, NULL);
	kmod_plan p = {};
	kc_error err = {};
	const char *roots[] = { "virtio_pci", "virtio-rng", "virtio" };

	assert_int_equal(kmod_closure(db, roots, ELEMENTSOF(roots), 0, &p, &err), 0);
	assert_int_equal(p.n, 6);
	assert_before(&p, "virtio_ring", "virtio");
	assert_before(&p, "virtio", "virtio_pci");
	assert_before(&p, "virtio_pci_legacy_dev", "virtio_pci");
	assert_before(&p, "virtio_pci_modern_dev", "virtio_pci");
	assert_before(&p, "virtio", "virtio_rng");
	for (size_t i = 0; i < p.n; i++)
		for (size_t j = i + 1; j < p.n; j++)
			assert_ptr_not_equal(p.mods[i], p.mods[j]);
	kmod_plan_done(&p);
}

static void test_softdep_through_alias(void **state) {
	_cleanup_(kmod_db_freep) kmod_db *db = load(DEP, SOFTDEP, ALIAS);
	kmod_plan p = {};
	const char *roots[] = { "ext4" };

	assert_int_equal(kmod_closure(db, roots, 1, 0, &p, NULL), 0);
	assert_int_equal(p.n, 5);
	assert_before(&p, "crc32c_generic", "jbd2");
	assert_before(&p, "jbd2", "ext4");
	assert_before(&p, "mbcache", "ext4");
	assert_before(&p, "crc16", "ext4");
	assert_string_equal(p.mods[p.n - 1]->name, "ext4");
	kmod_plan_done(&p);

	/* A root given as an alias, and an alias with a glob pattern. */
	const kmod_module *r[4];
	assert_int_equal(kmod_resolve(db, "fs-ext4", r, 4), 1);
	assert_string_equal(r[0]->name, "ext4");
	assert_int_equal(kmod_resolve(db, "virtio:d00000004v00001AF4", r, 4), 1);
	assert_string_equal(r[0]->name, "virtio_rng");
	assert_int_equal(kmod_resolve(db, "nothing-like-this", r, 4), 0);
}

static void test_softdep_without_provider_ignored(void **state) {
	/* No crc32c provider at all: ext4 still resolves, as modprobe ignores a softdep nobody provides. */
	_cleanup_(kmod_db_freep) kmod_db *db = load(DEP, SOFTDEP, "alias crypto-crc32c crc32c_intel\n");
	kmod_plan p = {};
	const char *roots[] = { "ext4" };
	assert_int_equal(kmod_closure(db, roots, 1, 0, &p, NULL), 0);
	assert_int_equal(pos(&p, "crc32c_generic"), -1);
	assert_int_equal(p.n, 4);
	kmod_plan_done(&p);
}

static void test_dash_underscore(void **state) {
	_cleanup_(kmod_db_freep) kmod_db *db = load("kernel/a/foo-bar.ko: kernel/a/dep_x.ko\nkernel/a/dep-x.ko:\n",
						   "softdep foo_bar pre: some-thing\n",
						   "alias some_thing dep-x\n");
	assert_non_null(kmod_db_find(db, "foo-bar"));
	assert_non_null(kmod_db_find(db, "foo_bar"));
	assert_ptr_equal(kmod_db_find(db, "foo-bar"), kmod_db_find(db, "foo_bar"));
	assert_string_equal(kmod_db_find(db, "dep_x")->path, "kernel/a/dep-x.ko");

	char buf[8];
	assert_int_equal(kmod_name_normalize("a-b-c", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "a_b_c");
	assert_int_equal(kmod_name_normalize("toolongname", buf, sizeof(buf)), -ENAMETOOLONG);

	kmod_plan p = {};
	const char *roots[] = { "foo-bar" };
	assert_int_equal(kmod_closure(db, roots, 1, 0, &p, NULL), 0);
	assert_int_equal(p.n, 2);
	assert_before(&p, "dep_x", "foo_bar");
	kmod_plan_done(&p);
}

static void test_cycle_rejected(void **state) {
	_cleanup_(kmod_db_freep) kmod_db *db = load("k/a.ko: k/b.ko\nk/b.ko: k/c.ko\nk/c.ko: k/a.ko\nk/d.ko:\n",
						   "softdep d pre: d\n", NULL);
	kmod_plan p = {};
	kc_error err = {};
	const char *roots[] = { "a" };
	assert_int_equal(kmod_closure(db, roots, 1, 0, &p, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "cycle"));
	assert_null(p.mods);

	/* Keep going: the cycle is reported and skipped, the rest loads; a softdep on itself is harmless. */
	const char *all[] = { "a", "d" };
	kc_error_clear(&err);
	assert_int_equal(kmod_closure(db, all, 2, KMOD_KEEP_GOING, &p, &err), 1);
	assert_int_equal(err.err, ELOOP);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.mods[0]->name, "d");
	kmod_plan_done(&p);
}

static void test_missing_reported(void **state) {
	_cleanup_(kmod_db_freep) kmod_db *db = load("k/a.ko: k/gone.ko\nk/b.ko:\n", NULL, NULL);
	kmod_plan p = {};
	kc_error err = {};
	const char *roots[] = { "a" };
	assert_int_equal(kmod_closure(db, roots, 1, 0, &p, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "gone"));
	assert_non_null(strstr(err.msg, "a"));

	const char *roots2[] = { "nosuch", "b" };
	kc_error_clear(&err);
	assert_int_equal(kmod_closure(db, roots2, 2, 0, &p, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "nosuch"));
	assert_int_equal(kmod_closure(db, roots2, 2, KMOD_KEEP_GOING, &p, &err), 1);
	assert_int_equal(p.n, 1);
	kmod_plan_done(&p);
}

static void test_malformed_lines(void **state) {
	static const char bad[] = "no colon here\n"
				  ":\n"
				  "/abs/path.ko:\n"
				  "kernel/../../etc/evil.ko:\n"
				  "kernel/notko.txt:\n"
				  "kernel/two.ko kernel/words.ko:\n"
				  "kernel/x.ko: kernel/bad dep\n"
				  "kernel/good.ko:\n"
				  "kernel/good.ko: kernel/dup.ko\n"
				  "\n   \n# comment\n"
				  "kernel/last.ko:"; /* no trailing newline */
	_cleanup_(kmod_db_freep) kmod_db *db = load(bad, "softdep\nsoftdep good\nsoftdep good x y\nnotsoftdep a pre: b\n",
						   "alias\nalias onlypattern\nalias a b c\n");
	assert_int_equal(kmod_db_count(db), 2);
	assert_non_null(kmod_db_find(db, "good"));
	assert_non_null(kmod_db_find(db, "last"));
	assert_int_equal(kmod_db_find(db, "good")->n_deps, 0);
	/* softdep lines without pre:/post: are ignored like modprobe does, not counted. */
	assert_int_equal(kmod_db_malformed(db), 8 + 2 + 3);
	assert_int_equal(kmod_db_find(db, "good")->n_pre, 0);

	/* A NUL in the middle of a line. */
	static const char nul[] = "kernel/a\0b.ko:\nkernel/c.ko:\n";
	_cleanup_(kmod_db_freep) kmod_db *db2 = NULL;
	assert_int_equal(kmod_db_new(&db2), 0);
	assert_int_equal(kmod_db_parse_dep(db2, nul, sizeof(nul) - 1, NULL), 0);
	assert_int_equal(kmod_db_count(db2), 1);
	assert_int_equal(kmod_db_malformed(db2), 1);
}

static void test_overlong_lines(void **state) {
	size_t len = KMOD_LINE_MAX * 3 + 64;
	_cleanup_free_ char *text = malloc(len + 1);
	assert_non_null(text);
	size_t n = (size_t)sprintf(text, "kernel/ok.ko:\nkernel/long.ko:");
	while (n < KMOD_LINE_MAX + 100)
		n += (size_t)sprintf(text + n, " k/d.ko");
	n += (size_t)sprintf(text + n, "\nkernel/after.ko:\n");
	_cleanup_(kmod_db_freep) kmod_db *db = NULL;
	assert_int_equal(kmod_db_new(&db), 0);
	assert_int_equal(kmod_db_parse_dep(db, text, n, NULL), 0);
	assert_int_equal(kmod_db_count(db), 2);
	assert_null(kmod_db_find(db, "long"));
	assert_non_null(kmod_db_find(db, "after"));
	assert_int_equal(kmod_db_malformed(db), 1);

	/* A name longer than KMOD_NAME_MAX fits in a line but not in a name. */
	char line[KMOD_NAME_MAX + 32];
	memset(line, 'n', sizeof(line));
	memcpy(line + KMOD_NAME_MAX + 10, ".ko:\n", 6);
	assert_int_equal(kmod_db_parse_dep(db, line, strlen(line), NULL), 0);
	assert_int_equal(kmod_db_count(db), 2);
	assert_int_equal(kmod_db_malformed(db), 2);
}

static void test_too_many_deps(void **state) {
	/* More hard deps than KMOD_DEPS_MAX on one line: the line is refused rather than half-read. */
	size_t cap = (KMOD_DEPS_MAX + 2) * 12 + 32;
	_cleanup_free_ char *text = malloc(cap);
	size_t n = (size_t)sprintf(text, "k/m.ko:");
	for (int i = 0; i <= KMOD_DEPS_MAX; i++)
		n += (size_t)sprintf(text + n, " k/%d.ko", i % 1000);
	text[n++] = '\n';
	_cleanup_(kmod_db_freep) kmod_db *db = NULL;
	assert_int_equal(kmod_db_new(&db), 0);
	assert_int_equal(kmod_db_parse_dep(db, text, n, NULL), 0);
	assert_int_equal(kmod_db_count(db), 0);
	assert_int_equal(kmod_db_malformed(db), 1);
}

static void test_deep_chain_bounded(void **state) {
	/* A 1000-long chain stops at the depth cap with an error instead of exhausting the stack. */
	size_t cap = 1000 * 40;
	_cleanup_free_ char *text = malloc(cap);
	size_t n = 0;
	for (int i = 0; i < 1000; i++)
		n += (size_t)sprintf(text + n, "k/m%d.ko: k/m%d.ko\n", i, i + 1);
	n += (size_t)sprintf(text + n, "k/m1000.ko:\n");
	_cleanup_(kmod_db_freep) kmod_db *db = NULL;
	assert_int_equal(kmod_db_new(&db), 0);
	assert_int_equal(kmod_db_parse_dep(db, text, n, NULL), 0);
	assert_int_equal(kmod_db_count(db), 1001);
	kmod_plan p = {};
	const char *roots[] = { "m0" };
	assert_int_equal(kmod_closure(db, roots, 1, 0, &p, NULL), -ELOOP);
	const char *roots2[] = { "m900" };
	assert_int_equal(kmod_closure(db, roots2, 1, 0, &p, NULL), 0);
	assert_int_equal(p.n, 101);
	assert_string_equal(p.mods[0]->name, "m1000");
	kmod_plan_done(&p);
}

/* The pinned kernel's modules directory, or -1 with the reason printed. */
static int open_real_moddir(void) {
	char path[512];
	_cleanup_free_ char *v = NULL;
	const char *build = getenv("BUILD") ?: "build";

	if (format_checked(path, sizeof(path), "%s/kernel/version", build) < 0 ||
	    read_file_capped(AT_FDCWD, path, 127, &v, NULL) < 0) {
		print_message("no %s/kernel/version: the pinned kernel is not unpacked\n", build);
		return -1;
	}
	v[strcspn(v, "\n")] = '\0';
	if (format_checked(path, sizeof(path), "%s/kernel/root/lib/modules/%s", build, v) < 0)
		return -1;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || faccessat(fd, "modules.dep", R_OK, 0) < 0) {
		print_message("no modules.dep in %s (written by `make build/initrd.img`)\n", path);
		return -1;
	}
	return TAKE_FD(fd);
}

static void test_real_kernel(void **state) {
	/* skip() longjmps: nothing with a cleanup attribute may be live when it runs. */
	int raw = open_real_moddir();
	if (raw < 0)
		skip();
	_cleanup_close_ int fd = raw;

	_cleanup_(kmod_db_freep) kmod_db *db = NULL;
	kc_error err = {};
	assert_int_equal(kmod_db_load_dir(fd, &db, &err), 0);
	assert_true(kmod_db_count(db) > 1000);
	assert_int_equal(kmod_db_malformed(db), 0);

	kmod_plan p = {};
	const char *roots[] = { "ext4" };
	assert_int_equal(kmod_closure(db, roots, 1, 0, &p, &err), 0);
	assert_string_equal(p.mods[p.n - 1]->name, "ext4");
	assert_before(&p, "jbd2", "ext4");
	assert_before(&p, "mbcache", "ext4");
	assert_before(&p, "crc16", "ext4");
	ssize_t g = pos(&p, "crc32c_generic"), i = pos(&p, "crc32c_intel");
	assert_true(g >= 0 || i >= 0);
	assert_true((g >= 0 && g < pos(&p, "jbd2")) || (i >= 0 && i < pos(&p, "jbd2")));
	kmod_plan_done(&p);

	const char *roots2[] = { "9p", "virtio-rng", "vsock_loopback" };
	assert_int_equal(kmod_closure(db, roots2, 3, 0, &p, &err), 0);
	assert_before(&p, "netfs", "9p");
	assert_before(&p, "fscache", "9p");
	assert_before(&p, "9pnet", "9p");
	assert_before(&p, "virtio_ring", "virtio_rng");
	assert_before(&p, "vmw_vsock_virtio_transport_common", "vsock_loopback");
	kmod_plan_done(&p);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_basic),
		cmocka_unit_test(test_order_deps_first_each_once),
		cmocka_unit_test(test_softdep_through_alias),
		cmocka_unit_test(test_softdep_without_provider_ignored),
		cmocka_unit_test(test_dash_underscore),
		cmocka_unit_test(test_cycle_rejected),
		cmocka_unit_test(test_missing_reported),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_overlong_lines),
		cmocka_unit_test(test_too_many_deps),
		cmocka_unit_test(test_deep_chain_bounded),
		cmocka_unit_test(test_real_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
