/* PCI paths: parsing, resolution through a fake sysfs tree (bridges' secondary buses), and what the block
 * storage drivers wait for (blk by PCI path, mmioblk and nvdimm by node, scsi with its rescan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/blockdev.h"
#include "storage/pci.h"

static char root[64];

/* Runs `CMD [ARG] ROOT/REL`. */
static void sh(const char *cmd_, const char *arg, const char *rel) {
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "%s %s %s/%s", cmd_, arg, root, rel);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
	snprintf(root, sizeof root, "/tmp/test-pci.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* 00:01.0 a root port with bus 01 behind it; 00:02.0 a bridge (bus 02) holding another bridge at 02:03.0
	 * (bus 05); a pxb-pcie root bus 0x20 with a port at 20:00.0 (bus 21). */
	sh("mkdir -p", "", "devices/pci0000:00/0000:00:01.0/pci_bus/0000:01");
	sh("mkdir -p", "", "devices/pci0000:00/0000:00:02.0/pci_bus/0000:02");
	sh("mkdir -p", "", "devices/pci0000:00/0000:00:02.0/0000:02:03.0/pci_bus/0000:05");
	sh("mkdir -p", "", "devices/pci0000:20/0000:20:00.0/pci_bus/0000:21");
	sh("mkdir -p", "", "devices/pci0000:00/0000:00:04.0"); /* not a bridge */
	/* A virtio-scsi host. */
	sh("mkdir -p", "", "devices/pci0000:00/0000:00:03.0/virtio1/host0/scsi_host/host0");
	sh("mkdir -p", "", "class/scsi_host");
	sh("ln -s", "../../devices/pci0000:00/0000:00:03.0/virtio1/host0/scsi_host/host0", "class/scsi_host/host0");
	sh("touch", "", "devices/pci0000:00/0000:00:03.0/virtio1/host0/scsi_host/host0/scan");
	return 0;
}

static int teardown(void **state) {
	sh("rm -rf", "", "");
	return 0;
}

static void test_parse(void **state) {
	stor_pci_path p;
	assert_int_equal(stor_pci_path_parse("02/00", &p), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.root_bus, 0);
	assert_int_equal(p.hop[0].slot, 2);
	assert_int_equal(p.hop[1].slot, 0);
	assert_int_equal(stor_pci_path_parse("1f.7", &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.hop[0].slot, 0x1f);
	assert_int_equal(p.hop[0].fn, 7);
	assert_int_equal(stor_pci_path_parse("20/00/02", &p), 0);
	assert_int_equal(p.root_bus, 0x20);
	assert_int_equal(p.n, 2);
	static const char *const bad[] = { "", "/02", "02/", "02//00", "xyz", "2g", "02.8", "02.", "20", "123",
					   "02/20/00", "0a.1.1", "02 00", "00/00/00/00/00/00/00/00/00/00/00/00/00/00/00/00/00" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (stor_pci_path_parse(bad[i], &p) != -EINVAL)
			fail_msg("accepted `%s`", bad[i]);
	assert_int_equal(stor_pci_path_parse(NULL, &p), -EINVAL);
}

static void resolve(const char *path, const char *want) {
	stor_pci_path p;
	char buf[256];
	kc_error err = { 0 };
	assert_int_equal(stor_pci_path_parse(path, &p), 0);
	int r = stor_pci_path_to_devpath(root, &p, buf, sizeof buf, &err);
	if (want) {
		if (r < 0)
			fail_msg("%s: %s", path, err.msg);
		assert_string_equal(buf, want);
	} else {
		assert_true(r < 0);
		assert_non_null(strstr(err.msg, "secondary bus"));
	}
}

static void test_resolve(void **state) {
	resolve("01/00", "/devices/pci0000:00/0000:00:01.0/0000:01:00.0");
	resolve("02/03/01.2", "/devices/pci0000:00/0000:00:02.0/0000:02:03.0/0000:05:01.2");
	resolve("20/00/02", "/devices/pci0000:20/0000:20:00.0/0000:21:02.0");
	resolve("05", "/devices/pci0000:00/0000:00:05.0"); /* the device itself need not exist yet */
	resolve("04/00", NULL);                             /* 00:04.0 is no bridge */
	resolve("09/00", NULL);                             /* no such bridge */
}

static void test_blk_by_pci_path(void **state) {
	stor_spec s = { .driver = "blk", .source = "02/03/00", .fstype = "ext4",
			.mount_point = "/run/kata-containers/sandbox/disk" };
	stor_device_wait w;
	kc_error err = { 0 };
	assert_int_equal(stor_device_prepare(&s, root, "storages[0]", &w, &err), 0);
	assert_string_equal(w.m.subsystem, "block");
	assert_string_equal(w.m.devpath_prefix, "/devices/pci0000:00/0000:00:02.0/0000:02:03.0/0000:05:00.0");
	assert_string_equal(w.m.devtype, "disk");
	assert_true(w.m.need_devname);
	assert_non_null(strstr(w.what, "PCI path 02/03/00"));
	s.source = "09/00";
	assert_true(stor_device_prepare(&s, root, "storages[0]", &w, &err) < 0);
	assert_non_null(strstr(err.msg, "storages[0].source: PCI path 09/00"));
}

static void test_nodes(void **state) {
	stor_spec s = { .driver = "mmioblk", .source = "/dev/vdb", .fstype = "ext4" };
	stor_device_wait w;
	kc_error err = { 0 };
	assert_int_equal(stor_device_prepare(&s, root, "storages[1]", &w, &err), 0);
	assert_string_equal(w.m.devname, "vdb");
	assert_null(w.m.devpath_prefix);
	s.driver = "nvdimm";
	s.source = "/dev/pmem0";
	assert_int_equal(stor_device_prepare(&s, root, "storages[1]", &w, &err), 0);
	assert_string_equal(w.m.devname, "pmem0");
}

static void test_scsi(void **state) {
	stor_spec s = { .driver = "scsi", .source = "1:2", .fstype = "ext4" };
	stor_device_wait w;
	kc_error err = { 0 };
	char p[256], got[64] = { 0 };
	assert_int_equal(stor_device_prepare(&s, root, "storages[2]", &w, &err), 0);
	assert_string_equal(w.m.devpath_prefix, "/devices/pci0000:00/0000:00:03.0/virtio1/host0/target0:0:1/0:0:1:2");
	snprintf(p, sizeof p, "%s/devices/pci0000:00/0000:00:03.0/virtio1/host0/scsi_host/host0/scan", root);
	FILE *f = fopen(p, "re");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof got, f));
	fclose(f);
	assert_string_equal(got, "0 1 2"); /* the targeted rescan */
}

/* No SCSI host yet (the controller not bound): a wait for the host, then the scan once it is there. */
static void test_scsi_before_host(void **state) {
	stor_spec s = { .driver = "scsi", .source = "3:4", .fstype = "ext4" };
	stor_device_wait w;
	kc_error err = { 0 };
	char empty[64], p[256], got[64] = { 0 };
	snprintf(empty, sizeof empty, "/tmp/test-pci-nohost.XXXXXX");
	assert_non_null(mkdtemp(empty));
	assert_int_equal(stor_device_prepare(&s, empty, "storages[3]", &w, &err), 0);
	assert_true(w.scsi_wait_host);
	assert_string_equal(w.m.subsystem, "scsi_host");
	assert_null(w.m.devpath_prefix);
	assert_non_null(strstr(w.what, "SCSI host for SCSI 3:4"));
	/* Still none when the scan is attempted: an error naming the address, not a wait for nothing. */
	assert_true(stor_device_scsi_scan(&w, empty, "storages[3]", &err) < 0);
	assert_non_null(strstr(err.msg, "storages[3].source: SCSI host for 3:4"));
	assert_int_equal(rmdir(empty), 0);
	/* The host came: the targeted scan, and the wait is for the disk now. */
	assert_int_equal(stor_device_scsi_scan(&w, root, "storages[3]", &err), 0);
	assert_false(w.scsi_wait_host);
	assert_string_equal(w.m.subsystem, "block");
	assert_string_equal(w.m.devtype, "disk");
	assert_string_equal(w.m.devpath_prefix, "/devices/pci0000:00/0000:00:03.0/virtio1/host0/target0:0:3/0:0:3:4");
	assert_non_null(strstr(w.what, "block device of SCSI 3:4"));
	snprintf(p, sizeof p, "%s/devices/pci0000:00/0000:00:03.0/virtio1/host0/scsi_host/host0/scan", root);
	FILE *f = fopen(p, "re");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof got, f));
	fclose(f);
	assert_string_equal(got, "0 3 4");
}

static void test_source_checks(void **state) {
	stor_root r = { .fd = -1, .prefix = "/run/kata-containers/" };
	kc_error err = { 0 };
	static const struct {
		const char *driver, *source, *fstype, *want;
	} cases[] = {
		{ "blk", "02/00", "ext4", NULL },
		{ "blk", "/dev/vdc", "xfs", NULL },
		{ "blk", "../../etc", "ext4", "storages[0].source" },
		{ "blk", "/dev/../etc/passwd", "ext4", "storages[0].source" },
		{ "blk", "02/00", "", "storages[0].fstype" },
		{ "blk", "02/00", "ext4,rw", "storages[0].fstype" },
		{ "mmioblk", "02/00", "ext4", "storages[0].source" },
		{ "scsi", "0:0", "ext4", NULL },
		{ "scsi", "0:99999", "ext4", "storages[0].source" },
		{ "scsi", "a:b", "ext4", "storages[0].source" },
		{ "nvdimm", "/dev/pmem0", "ext4", NULL },
		{ "nvdimm", "/dev/pmem0/x", "ext4", "storages[0].source" },
		{ "floppy", "/dev/fd0", "vfat", "storages[0].driver" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		stor_spec s = { .driver = cases[i].driver, .source = cases[i].source, .fstype = cases[i].fstype,
				.mount_point = "/run/kata-containers/sandbox/d" };
		kc_error_clear(&err);
		int rc = stor_spec_check(&s, &r, "storages[0]", &err);
		if (!cases[i].want && rc < 0)
			fail_msg("case %zu refused: %s", i, err.msg);
		if (cases[i].want && (rc >= 0 || !strstr(err.msg, cases[i].want)))
			fail_msg("case %zu: got %d `%s`, wanted an error naming %s", i, rc, err.msg, cases[i].want);
	}
	stor_spec s = { .driver = "blk", .source = "02/00", .fstype = "ext4",
			.mount_point = "/run/kata-containers/../etc" };
	assert_true(stor_spec_check(&s, &r, "storages[0]", &err) < 0);
	assert_non_null(strstr(err.msg, "mount_point"));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),          cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_blk_by_pci_path), cmocka_unit_test(test_nodes),
		cmocka_unit_test(test_scsi), cmocka_unit_test(test_scsi_before_host),           cmocka_unit_test(test_source_checks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
