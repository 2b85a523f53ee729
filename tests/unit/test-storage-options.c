/* Mount option parsing: flags from the table, everything else into the data string, the caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "storage/options.h"

static stor_mount_opts parse_ok(const char *const *opts, size_t n) {
	stor_mount_opts o;
	kc_error err = { 0 };
	int r = stor_options_parse(opts, n, &o, "options", &err);
	if (r < 0)
		fail_msg("parse failed: %s", err.msg);
	return o;
}

static void test_9p_as_go_sends_it(void **state) {
	const char *opts[] = { "trans=virtio", "version=9p2000.L", "cache=mmap", "nodev", "msize=8192" };
	stor_mount_opts o = parse_ok(opts, 5);
	assert_int_equal(o.flags, MS_NODEV);
	assert_int_equal(o.propagation, 0);
	assert_string_equal(o.data, "trans=virtio,version=9p2000.L,cache=mmap,msize=8192");
	assert_int_equal(o.data_len, strlen(o.data));
}

static void test_flags_and_negations(void **state) {
	const char *opts[] = { "ro", "nosuid", "noexec", "rw", "suid", "noatime", "sync", "async", "dirsync" };
	stor_mount_opts o = parse_ok(opts, ELEMENTSOF(opts));
	assert_int_equal(o.flags, MS_NOEXEC | MS_NOATIME | MS_DIRSYNC);
	assert_string_equal(o.data, "");
	const char *again[] = { "rw", "ro" };
	o = parse_ok(again, 2);
	assert_int_equal(o.flags, MS_RDONLY);
}

static void test_comma_lists_and_empty_items(void **state) {
	const char *opts[] = { "ro,,size=64m", "", ",mode=1777,", NULL, "nodev" };
	stor_mount_opts o = parse_ok(opts, ELEMENTSOF(opts));
	assert_int_equal(o.flags, MS_RDONLY | MS_NODEV);
	assert_string_equal(o.data, "size=64m,mode=1777");
}

static void test_bind_and_propagation(void **state) {
	const char *opts[] = { "rbind", "rshared", "private" };
	stor_mount_opts o = parse_ok(opts, 3);
	assert_int_equal(o.flags, MS_BIND | MS_REC);
	assert_int_equal(o.propagation, MS_PRIVATE); /* the last one named */
	const char *s[] = { "bind", "rslave" };
	o = parse_ok(s, 2);
	assert_int_equal(o.flags, MS_BIND);
	assert_int_equal(o.propagation, MS_SLAVE | MS_REC);
}

static void test_near_misses_are_data(void **state) {
	/* Prefixes and case variants of flag names are not flags. */
	const char *opts[] = { "Ro", "rox", "r", "nodev=1", "defaults" };
	stor_mount_opts o = parse_ok(opts, ELEMENTSOF(opts));
	assert_int_equal(o.flags, 0);
	assert_string_equal(o.data, "Ro,rox,r,nodev=1");
}

static void test_caps(void **state) {
	stor_mount_opts o;
	kc_error err = { 0 };
	char big[2000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	const char *one[] = { big };
	assert_int_equal(stor_options_parse(one, 1, &o, "storages[0].options", &err), -E2BIG);
	assert_non_null(strstr(err.msg, "storages[0].options[0]"));

	/* Many short items: the item cap. */
	static char many[STOR_OPTIONS_MAX + 1][16];
	const char *list[STOR_OPTIONS_MAX + 1];
	for (int i = 0; i <= STOR_OPTIONS_MAX; i++) {
		snprintf(many[i], sizeof many[i], "o%d", i);
		list[i] = many[i];
	}
	assert_int_equal(stor_options_parse(list, STOR_OPTIONS_MAX, &o, "options", &err), 0);
	assert_int_equal(stor_options_parse(list, STOR_OPTIONS_MAX + 1, &o, "options", &err), -E2BIG);

	/* Items within their cap whose sum exceeds a page of mount data. */
	char mid[1000];
	memset(mid, 'b', sizeof mid - 1);
	mid[sizeof mid - 1] = '\0';
	const char *five[] = { mid, mid, mid, mid, mid };
	assert_int_equal(stor_options_parse(five, 4, &o, "options", &err), 0);
	assert_int_equal(o.data_len, 4 * 999 + 3);
	assert_int_equal(stor_options_parse(five, 5, &o, "options", &err), -E2BIG);
	assert_non_null(strstr(err.msg, "exceeds"));
}

static void test_take_and_has(void **state) {
	const char *opts[] = { "fsgid=1000", "size=1m", "fsgidx=3", "fsgid=2000", "mode=0700" };
	stor_mount_opts o = parse_ok(opts, ELEMENTSOF(opts));
	char v[16];
	assert_true(stor_options_has(&o, "fsgid"));
	assert_false(stor_options_has(&o, "fsg"));
	assert_int_equal(stor_options_take(&o, "fsgid", v, sizeof v), 1);
	assert_string_equal(v, "2000"); /* the last one */
	assert_string_equal(o.data, "size=1m,fsgidx=3,mode=0700");
	assert_int_equal(stor_options_take(&o, "fsgid", v, sizeof v), 0);
	assert_int_equal(stor_options_take(&o, "mode", v, 4), -ENAMETOOLONG);
	assert_int_equal(stor_options_take(&o, "size", v, sizeof v), 1);
	assert_string_equal(o.data, "fsgidx=3,mode=0700");
	assert_int_equal(stor_options_append(&o, "trans=virtio"), 0);
	assert_string_equal(o.data, "fsgidx=3,mode=0700,trans=virtio");
	assert_true(stor_options_has(&o, "trans"));
}

static void test_drop_prefix(void **state) {
	const char *opts[] = { "io.katacontainers.fs-opt.overlay-rw", "lowerdir=/a", "io.katacontainers.x=1,ro",
			       "io.katacontainersy", "io.kata" };
	stor_mount_opts o = parse_ok(opts, ELEMENTSOF(opts));
	assert_int_equal(stor_options_drop_prefix(&o, "io.katacontainers."), 2);
	assert_string_equal(o.data, "lowerdir=/a,io.katacontainersy,io.kata");
	assert_int_equal(o.data_len, strlen(o.data));
	assert_int_equal(o.flags, MS_RDONLY);
	assert_int_equal(stor_options_drop_prefix(&o, "nothing"), 0);
	assert_int_equal(stor_options_drop_prefix(&o, ""), 3);
	assert_string_equal(o.data, "");
	assert_int_equal(o.data_len, 0);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_9p_as_go_sends_it),
		cmocka_unit_test(test_flags_and_negations),
		cmocka_unit_test(test_comma_lists_and_empty_items),
		cmocka_unit_test(test_bind_and_propagation),
		cmocka_unit_test(test_near_misses_are_data),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_take_and_has),
		cmocka_unit_test(test_drop_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
