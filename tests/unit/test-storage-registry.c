/* Refcounts by mount point: a second reference mounts nothing, the last one unmounts unless shared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "storage/storage.h"

static void test_refcount(void **state) {
	stor_registry reg = { 0 };
	const stor_driver *eph = stor_driver_find("ephemeral");
	bool unmount = true;
	unsigned flags = 0;

	assert_int_equal(stor_registry_ref(&reg, "/run/kata-containers/a"), 0); /* unknown: mount it */
	assert_int_equal(stor_registry_add(&reg, "/run/kata-containers/a", eph, false), 0);
	assert_int_equal(stor_registry_add(&reg, "/run/kata-containers/a", eph, false), -EEXIST);
	assert_int_equal(stor_registry_ref(&reg, "/run/kata-containers/a"), 1); /* known: no-op */
	assert_int_equal(stor_registry_find(&reg, "/run/kata-containers/a")->refs, 2);
	assert_int_equal(stor_registry_unref(&reg, "/run/kata-containers/a", &unmount, &flags), 0);
	assert_false(unmount);
	assert_int_equal(stor_registry_unref(&reg, "/run/kata-containers/a", &unmount, &flags), 0);
	assert_true(unmount);
	assert_int_equal(flags, STOR_DRIVER_REMOUNT);
	assert_null(stor_registry_find(&reg, "/run/kata-containers/a"));
	assert_int_equal(reg.n, 0);
	assert_int_equal(stor_registry_unref(&reg, "/run/kata-containers/a", &unmount, &flags), -ENOENT);
	stor_registry_clear(&reg);
}

static void test_shared_stays(void **state) {
	stor_registry reg = { 0 };
	const stor_driver *vfs = stor_driver_find("virtio-fs");
	bool unmount = true;
	unsigned flags = 0;

	assert_int_equal(stor_registry_add(&reg, "/run/kata-containers/shared/containers", vfs, true), 0);
	assert_int_equal(stor_registry_unref(&reg, "/run/kata-containers/shared/containers", &unmount, &flags), 0);
	assert_false(unmount);
	assert_true(flags & STOR_DRIVER_BLOCKS);
	/* Still known with no reference: the next user finds it mounted. */
	assert_int_equal(stor_registry_find(&reg, "/run/kata-containers/shared/containers")->refs, 0);
	assert_int_equal(stor_registry_ref(&reg, "/run/kata-containers/shared/containers"), 1);
	assert_int_equal(stor_registry_find(&reg, "/run/kata-containers/shared/containers")->refs, 1);
	assert_int_equal(stor_registry_add(&reg, "/run/kata-containers/b", vfs, false), 0);
	assert_int_equal(reg.n, 2);
	stor_registry_clear(&reg);
	assert_int_equal(reg.n, 0);
	assert_null(reg.head);
}

static void test_cap(void **state) {
	stor_registry reg = { 0 };
	char key[64];
	for (int i = 0; i < STOR_REGISTRY_MAX; i++) {
		snprintf(key, sizeof key, "/run/kata-containers/%d", i);
		assert_int_equal(stor_registry_add(&reg, key, NULL, false), 0);
	}
	assert_int_equal(stor_registry_add(&reg, "/run/kata-containers/one-more", NULL, false), -ENOSPC);
	stor_registry_clear(&reg);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_shared_stays),
		cmocka_unit_test(test_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
