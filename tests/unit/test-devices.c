/* The device table and its waiters: events before and after the waiter, removal, exact matching, the sysfs
 * lookup at registration (fake tree), and MODALIAS resolution through modules.alias globs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init/modules.h"
#include "storage/devices.h"

#define VDA "/devices/pci0000:00/0000:00:01.0/0000:01:00.0/virtio2/block/vda"

static uevent blk(uevent_action a, const char *devpath, const char *devname, const char *devtype) {
	return (uevent){ .action = a, .devpath = devpath, .subsystem = "block", .devname = devname,
			 .devtype = devtype, .has_devnum = true, .major = 254, .minor = 0, .seqnum = 1 };
}

typedef struct seen {
	int calls;
	char devname[64];
	int order;
} seen;

static int order_counter;

static void on_dev(dev_waiter *w, const dev_entry *e, void *userdata) {
	seen *s = userdata;
	s->calls++;
	s->order = ++order_counter;
	snprintf(s->devname, sizeof s->devname, "%s", e->devname ? e->devname : "");
}

static const dev_match pci_disk = { .subsystem = "block",
				    .devpath_prefix = "/devices/pci0000:00/0000:00:01.0/0000:01:00.0",
				    .devtype = "disk",
				    .need_devname = true };

static void test_event_after_waiter(void **state) {
	dev_table t;
	seen s = { 0 };
	const dev_entry *e;
	dev_table_init(&t, "/nonexistent");
	assert_int_equal(dev_table_lookup(&t, &pci_disk, &e), 0);
	assert_int_equal(dev_waiter_add(&t, &pci_disk, "disk at 01/00", on_dev, &s, NULL), 0);
	/* Not ours: another function of the same slot, a partition, another subsystem. */
	uevent other = blk(UEVENT_ADD, "/devices/pci0000:00/0000:00:01.0/0000:01:00.1/virtio3/block/vdb", "vdb", "disk");
	uevent part = blk(UEVENT_ADD, VDA "/vda1", "vda1", "partition");
	uevent pci = { .action = UEVENT_ADD, .devpath = "/devices/pci0000:00/0000:00:01.0/0000:01:00.0",
		       .subsystem = "pci" };
	assert_int_equal(dev_table_apply(&t, &other), 0);
	assert_int_equal(dev_table_apply(&t, &part), 0);
	assert_int_equal(dev_table_apply(&t, &pci), 0);
	assert_int_equal(s.calls, 0);
	uevent add = blk(UEVENT_ADD, VDA, "vda", "disk");
	assert_int_equal(dev_table_apply(&t, &add), 0);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.devname, "vda");
	assert_int_equal(t.n_waiters, 0);
	/* Fired once only. */
	uevent change = blk(UEVENT_CHANGE, VDA, "vda", "disk");
	assert_int_equal(dev_table_apply(&t, &change), 0);
	assert_int_equal(s.calls, 1);
	dev_table_done(&t);
}

static void test_event_before_waiter(void **state) {
	dev_table t;
	const dev_entry *e = NULL;
	dev_table_init(&t, "/nonexistent");
	uevent add = blk(UEVENT_ADD, VDA, "vda", "disk");
	assert_int_equal(dev_table_apply(&t, &add), 0);
	assert_int_equal(dev_table_lookup(&t, &pci_disk, &e), 1);
	assert_string_equal(e->devname, "vda");
	/* Removed again: gone from the table, so a new waiter does wait. */
	uevent rm = blk(UEVENT_REMOVE, VDA, "vda", "disk");
	assert_int_equal(dev_table_apply(&t, &rm), 0);
	assert_int_equal(dev_table_lookup(&t, &pci_disk, &e), 0);
	assert_int_equal(t.n, 0);
	dev_table_done(&t);
}

static void test_prefix_boundary_and_exact(void **state) {
	dev_table t;
	const dev_entry *e;
	dev_table_init(&t, "/nonexistent");
	/* "0000:01:00.0" must not match "0000:01:00.01...": a prefix ends at a component. */
	uevent near = blk(UEVENT_ADD, "/devices/pci0000:00/0000:00:01.0/0000:01:00.01/virtio2/block/vdz", "vdz", "disk");
	assert_int_equal(dev_table_apply(&t, &near), 0);
	assert_int_equal(dev_table_lookup(&t, &pci_disk, &e), 0);
	/* DEVNAME is exact, not a substring. */
	uevent vdab = blk(UEVENT_ADD, "/devices/virtual/block/vdab", "vdab", "disk");
	assert_int_equal(dev_table_apply(&t, &vdab), 0);
	dev_match by_name = { .subsystem = "block", .devname = "vda" };
	assert_int_equal(dev_table_lookup(&t, &by_name, &e), 0);
	dev_match by_name2 = { .subsystem = "block", .devname = "vdab" };
	assert_int_equal(dev_table_lookup(&t, &by_name2, &e), 1);
	dev_table_done(&t);
}

static void test_waiter_order_and_cancel(void **state) {
	dev_table t;
	seen a = { 0 }, b = { 0 }, c = { 0 };
	dev_waiter *wb;
	dev_table_init(&t, "/nonexistent");
	order_counter = 0;
	assert_int_equal(dev_waiter_add(&t, &pci_disk, "a", on_dev, &a, NULL), 0);
	assert_int_equal(dev_waiter_add(&t, &pci_disk, "b", on_dev, &b, &wb), 0);
	assert_int_equal(dev_waiter_add(&t, &pci_disk, "c", on_dev, &c, NULL), 0);
	assert_string_equal(dev_waiter_what(wb), "b");
	dev_waiter_cancel(&t, wb);
	uevent add = blk(UEVENT_ADD, VDA, "vda", "disk");
	assert_int_equal(dev_table_apply(&t, &add), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 0);
	assert_int_equal(c.calls, 1);
	assert_true(a.order < c.order); /* oldest first */
	dev_table_done(&t);
}

/* A callback that registers a new waiter for the same device must not be woken by the same event (it would
 * loop forever). */
static dev_table *reg_table;
static int rearm_calls;
static void rearm(dev_waiter *w, const dev_entry *e, void *userdata) {
	rearm_calls++;
	dev_match m = { .subsystem = "cpu" };
	assert_int_equal(dev_waiter_add(reg_table, &m, "cpu", rearm, NULL, NULL), 0);
}

static void test_rearm_in_callback(void **state) {
	dev_table t;
	dev_table_init(&t, "/nonexistent");
	reg_table = &t;
	rearm_calls = 0;
	dev_match m = { .subsystem = "cpu" };
	assert_int_equal(dev_waiter_add(&t, &m, "cpu", rearm, NULL, NULL), 0);
	uevent cpu = { .action = UEVENT_ADD, .devpath = "/devices/system/cpu/cpu1", .subsystem = "cpu" };
	assert_int_equal(dev_table_apply(&t, &cpu), 0);
	assert_int_equal(rearm_calls, 1);
	assert_int_equal(t.n_waiters, 1);
	dev_table_done(&t);
}

static void test_bind_keeps_devname(void **state) {
	dev_table t;
	const dev_entry *e;
	dev_table_init(&t, "/nonexistent");
	uevent add = blk(UEVENT_ADD, VDA, "vda", "disk");
	uevent bind = { .action = UEVENT_BIND, .devpath = VDA, .subsystem = "block", .driver = "x" };
	assert_int_equal(dev_table_apply(&t, &add), 0);
	assert_int_equal(dev_table_apply(&t, &bind), 0);
	assert_int_equal(dev_table_lookup(&t, &pci_disk, &e), 1);
	assert_string_equal(e->devname, "vda");
	assert_string_equal(e->driver, "x");
	assert_int_equal(t.n, 1);
	dev_table_done(&t);
}

static void test_table_cap(void **state) {
	dev_table t;
	char p[64];
	dev_table_init(&t, "/nonexistent");
	for (int i = 0; i < DEV_TABLE_MAX; i++) {
		snprintf(p, sizeof p, "/devices/virtual/x/d%d", i);
		uevent e = { .action = UEVENT_ADD, .devpath = p, .subsystem = "x" };
		assert_int_equal(dev_table_apply(&t, &e), 0);
	}
	uevent one = { .action = UEVENT_ADD, .devpath = "/devices/virtual/x/more", .subsystem = "x" };
	assert_int_equal(dev_table_apply(&t, &one), -ENOSPC);
	assert_int_equal(t.stats.table_full, 1);
	dev_table_done(&t);
}

static void put(const char *root, const char *rel, const char *text) {
	char p[512], cmd[600];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A device that was there before anyone listened is found in sysfs when the waiter registers. */
static void test_sysfs_lookup(void **state) {
	char root[] = "/tmp/test-devices.XXXXXX", p[128], cmd[600];
	assert_non_null(mkdtemp(root));
	put(root, "devices/pci0000:00/0000:00:01.0/0000:01:00.0/virtio2/block/vda/uevent",
	    "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\nDISKSEQ=1\n");
	snprintf(p, sizeof p, "%s/class/block", root);
	snprintf(cmd, sizeof cmd, "mkdir -p %s && ln -s ../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/virtio2/"
		 "block/vda %s/vda", p, p);
	assert_int_equal(system(cmd), 0);
	dev_table t;
	const dev_entry *e = NULL;
	dev_table_init(&t, root);
	assert_int_equal(dev_table_lookup(&t, &pci_disk, &e), 1);
	assert_string_equal(e->devname, "vda");
	assert_string_equal(e->devpath, VDA);
	assert_int_equal(e->major, 254);
	dev_table_done(&t);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

/* Events were lost (socket overflow): a rescan finds in sysfs what a waiter waits for, and wakes it. */
static void test_rescan_after_overflow(void **state) {
	char root[] = "/tmp/test-devices.XXXXXX", cmd[600];
	assert_non_null(mkdtemp(root));
	dev_table t;
	seen s = { 0 };
	dev_table_init(&t, root);
	assert_int_equal(dev_waiter_add(&t, &pci_disk, "disk at 01/00", on_dev, &s, NULL), 0);
	dev_table_rescan(&t);
	assert_int_equal(s.calls, 0); /* nothing there yet */
	put(root, "devices/pci0000:00/0000:00:01.0/0000:01:00.0/virtio2/block/vda/uevent",
	    "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n");
	snprintf(cmd, sizeof cmd, "mkdir -p %s/class/block && ln -s ../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/"
		 "virtio2/block/vda %s/class/block/vda", root, root);
	assert_int_equal(system(cmd), 0);
	dev_table_rescan(&t);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.devname, "vda");
	assert_int_equal(t.n_waiters, 0);
	dev_table_done(&t);
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

/* MODALIAS strings as the kernel sends them, against modules.alias lines as depmod writes them. */
static void test_modalias(void **state) {
	static const char alias[] =
		"alias virtio:d00000002v* virtio_blk\n"
		"alias virtio:d00000008v* virtio_scsi\n"
		"alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n"
		"alias pci:v*d*sv*sd*bc01sc08i02* nvme\n"
		"alias acpi*:ACPI0012:* nfit\n"
		"alias nd:t4* nd_pmem\n";
	static const char dep[] = "kernel/virtio_blk.ko:\nkernel/virtio_scsi.ko:\nkernel/virtio_pci.ko:\n"
				  "kernel/nvme.ko:\nkernel/nfit.ko:\nkernel/nd_pmem.ko:\n";
	kmod_db *db = NULL;
	const kmod_module *hits[4];
	assert_int_equal(kmod_db_new(&db), 0);
	assert_int_equal(kmod_db_parse_dep(db, dep, strlen(dep), NULL), 0);
	assert_int_equal(kmod_db_parse_alias(db, alias, strlen(alias), NULL), 0);
	assert_int_equal(kmod_resolve(db, "virtio:d00000002v00001AF4", hits, 4), 1);
	assert_string_equal(hits[0]->name, "virtio_blk");
	assert_int_equal(kmod_resolve(db, "virtio:d00000008v00001AF4", hits, 4), 1);
	assert_string_equal(hits[0]->name, "virtio_scsi");
	assert_int_equal(kmod_resolve(db, "pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00", hits, 4), 1);
	assert_string_equal(hits[0]->name, "virtio_pci");
	assert_int_equal(kmod_resolve(db, "acpi:ACPI0012:", hits, 4), 1);
	assert_string_equal(hits[0]->name, "nfit");
	assert_int_equal(kmod_resolve(db, "nd:t4", hits, 4), 1);
	assert_string_equal(hits[0]->name, "nd_pmem");
	assert_int_equal(kmod_resolve(db, "virtio:d00000003v00001AF4", hits, 4), 0); /* not in this index */
	kmod_db_free(db);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_after_waiter),
		cmocka_unit_test(test_event_before_waiter),
		cmocka_unit_test(test_prefix_boundary_and_exact),
		cmocka_unit_test(test_waiter_order_and_cancel),
		cmocka_unit_test(test_rearm_in_callback),
		cmocka_unit_test(test_bind_keeps_devname),
		cmocka_unit_test(test_table_cap),
		cmocka_unit_test(test_sysfs_lookup),
		cmocka_unit_test(test_rescan_after_overflow),
		cmocka_unit_test(test_modalias),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
