/* The newc cpio writer: exact header bytes, padding, device entries, the trailer, reproducibility. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "rootfs-builder/cpio.h"

/* One header field (0 = ino ... 12 = check) of the header at off, parsed from its 8 hex digits. */
static uint32_t field(const uint8_t *p, size_t off, int idx) {
	char buf[9];
	memcpy(buf, p + off + 6 + 8 * idx, 8);
	buf[8] = '\0';
	return (uint32_t)strtoul(buf, NULL, 16);
}
enum { F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_SIZE, F_DMAJ, F_DMIN, F_RMAJ, F_RMIN, F_NAMESIZE, F_CHECK };

static void test_small_archive_bytes(void **state) {
	_cleanup_(cpio_freep) cpio_archive *a = NULL;
	const uint8_t *p;
	size_t len;

	assert_int_equal(cpio_new(0, &a), 0);
	/* Added out of order: the writer sorts. */
	assert_int_equal(cpio_add_file(a, "/etc/hostname", 0644, "vm\n", 3), 0);
	assert_int_equal(cpio_add_dir(a, "etc", 0755), 0);
	assert_int_equal(cpio_finish(a, &p, &len), 0);

	/* "etc": 110 + 4 ("etc\0") = 114, padded to 116; no data. */
	static const char hdr_etc[] = "070701"
				      "00000001" /* ino */
				      "000041ED" /* mode: S_IFDIR | 0755 */
				      "00000000" "00000000" /* uid gid */
				      "00000002" /* nlink */
				      "00000000" /* mtime */
				      "00000000" /* filesize */
				      "00000000" "00000000" /* dev */
				      "00000000" "00000000" /* rdev */
				      "00000004" /* namesize, NUL included */
				      "00000000"; /* check */
	assert_int_equal(strlen(hdr_etc), CPIO_HEADER_SIZE);
	assert_memory_equal(p, hdr_etc, CPIO_HEADER_SIZE);
	assert_memory_equal(p + 110, "etc\0\0\0", 6);

	/* "etc/hostname": at 116; name 13 bytes → 123, padded to 124; data 3 bytes → 127, padded to 128. */
	size_t off = 116;
	assert_memory_equal(p + off, "070701", 6);
	assert_int_equal(field(p, off, F_INO), 2);
	assert_int_equal(field(p, off, F_MODE), S_IFREG | 0644);
	assert_int_equal(field(p, off, F_NLINK), 1);
	assert_int_equal(field(p, off, F_SIZE), 3);
	assert_int_equal(field(p, off, F_NAMESIZE), 13);
	assert_memory_equal(p + off + 110, "etc/hostname\0", 13);
	assert_int_equal(p[off + 123], 0);
	assert_memory_equal(p + off + 124, "vm\n\0", 4);

	/* The trailer at 116 + 128: ino 0, nlink 1, namesize 11, then "TRAILER!!!\0" padded from 121 to 124. */
	off = 116 + 128;
	assert_memory_equal(p + off, "070701", 6);
	assert_int_equal(field(p, off, F_INO), 0);
	assert_int_equal(field(p, off, F_MODE), 0);
	assert_int_equal(field(p, off, F_NLINK), 1);
	assert_int_equal(field(p, off, F_SIZE), 0);
	assert_int_equal(field(p, off, F_NAMESIZE), 11);
	assert_memory_equal(p + off + 110, "TRAILER!!!\0\0", 12);
	assert_int_equal(len, off + 124);
	assert_int_equal(len % 4, 0);
}

static void test_device_and_symlink(void **state) {
	_cleanup_(cpio_freep) cpio_archive *a = NULL;
	const uint8_t *p;
	size_t len;

	assert_int_equal(cpio_new(1700000000, &a), 0);
	assert_int_equal(cpio_add_device(a, "dev/console", S_IFCHR, 0600, 5, 1), 0);
	assert_int_equal(cpio_add_symlink(a, "dev/ptmx", "pts/ptmx"), 0);
	assert_int_equal(cpio_add_device(a, "dev/x", S_IFREG, 0600, 1, 1), -EINVAL);
	assert_int_equal(cpio_add_dir(a, "dev/console", 0755), -EEXIST);
	assert_int_equal(cpio_add_dir(a, "", 0755), -EINVAL);
	assert_int_equal(cpio_finish(a, &p, &len), 0);

	assert_int_equal(field(p, 0, F_MODE), S_IFCHR | 0600);
	assert_int_equal(field(p, 0, F_RMAJ), 5);
	assert_int_equal(field(p, 0, F_RMIN), 1);
	assert_int_equal(field(p, 0, F_DMAJ), 0);
	assert_int_equal(field(p, 0, F_SIZE), 0);
	assert_int_equal(field(p, 0, F_MTIME), 1700000000);
	assert_int_equal(field(p, 0, F_UID), 0);
	assert_int_equal(field(p, 0, F_GID), 0);
	assert_memory_equal(p + 110, "dev/console\0", 12); /* 122, already a multiple of 4 minus 2: pad 2 */
	size_t off = 124;
	assert_int_equal(field(p, off, F_MODE), S_IFLNK | 0777);
	assert_int_equal(field(p, off, F_SIZE), 8);
	assert_int_equal(field(p, off, F_INO), 2);
	/* name "dev/ptmx\0" = 9 → 119, padded to 120; the target is the data, no NUL. */
	assert_memory_equal(p + off + 120, "pts/ptmx", 8);
}

static void build(const char *const *order, size_t n, uint8_t **ret, size_t *ret_len) {
	_cleanup_(cpio_freep) cpio_archive *a = NULL;
	const uint8_t *p;
	size_t len;
	assert_int_equal(cpio_new(0, &a), 0);
	for (size_t i = 0; i < n; i++) {
		if (order[i][0] == 'd')
			assert_int_equal(cpio_add_dir(a, order[i] + 1, 0755), 0);
		else
			assert_int_equal(cpio_add_file(a, order[i] + 1, 0644, order[i], strlen(order[i])), 0);
	}
	assert_int_equal(cpio_add_device(a, "dev/console", S_IFCHR, 0600, 5, 1), 0);
	assert_int_equal(cpio_finish(a, &p, &len), 0);
	/* finish twice gives the same bytes too. */
	assert_int_equal(cpio_finish(a, &p, &len), 0);
	*ret = malloc(len);
	memcpy(*ret, p, len);
	*ret_len = len;
}

static void test_reproducible(void **state) {
	const char *one[] = { "dlib", "dlib/modules", "flib/modules/a.ko", "finit", "ddev", "flib-x" };
	const char *two[] = { "flib-x", "ddev", "finit", "dlib/modules", "flib/modules/a.ko", "dlib" };
	uint8_t *a, *b;
	size_t la, lb;
	build(one, ELEMENTSOF(one), &a, &la);
	build(two, ELEMENTSOF(two), &b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	/* The parent directory precedes its entries even with "lib-x" sorting between them. */
	const char *lib = memmem(a, la, "lib\0", 4), *ko = memmem(a, la, "lib/modules/a.ko", 16);
	assert_non_null(lib);
	assert_non_null(ko);
	assert_true(lib < ko);
	free(a);
	free(b);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_archive_bytes),
		cmocka_unit_test(test_device_and_symlink),
		cmocka_unit_test(test_reproducible),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
