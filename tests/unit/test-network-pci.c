/* UpdateInterface by PCI path: from the path through the bridges to the interface the device carries, against
 * a fake sysfs tree (virtio-net under virtioN/net/, a plain NIC under net/, a device without its interface
 * yet, one with two, symlinks that must not be followed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/network-pci.h"
#include "storage/pci.h"

static char root[64];

static void sh(const char *fmt, ...) {
	char rel[512], cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "cd %s && %s", root, rel);
	assert_int_equal(system(cmd), 0);
}

#define RP "devices/pci0000:00/0000:00:02.0" /* a root port; bus 01 behind it */

static int setup(void **state) {
	snprintf(root, sizeof root, "/tmp/test-network-pci.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	sh("mkdir -p " RP "/pci_bus/0000:01");
	/* 01:00.0 virtio-net: the interface under virtio3/net/eth1, beside the usual symlinks. */
	sh("mkdir -p " RP "/0000:01:00.0/virtio3/net/eth1 && echo 7 >" RP "/0000:01:00.0/virtio3/net/eth1/ifindex");
	sh("ln -s ../../../bus/virtio/drivers/virtio_net " RP "/0000:01:00.0/virtio3/driver");
	sh("mkdir -p devices/virtual/net/lo && echo 1 >devices/virtual/net/lo/ifindex");
	/* A symlink named like a virtio device, pointing at another device's interface: never followed. */
	sh("ln -s ../../../virtual " RP "/0000:01:00.0/virtio9");
	/* 00:03.0 an e1000-style NIC: net/ens3 right under the function. */
	sh("mkdir -p devices/pci0000:00/0000:00:03.0/net/ens3 && echo 12 >devices/pci0000:00/0000:00:03.0/net/ens3/ifindex");
	/* 00:04.0 present, driver not bound yet: no interface. */
	sh("mkdir -p devices/pci0000:00/0000:00:04.0/virtio4");
	/* 00:05.0 two interfaces (a multi-port card). */
	sh("mkdir -p devices/pci0000:00/0000:00:05.0/net/p0 devices/pci0000:00/0000:00:05.0/net/p1");
	/* 00:06.0 sysfs without an ifindex value that makes sense. */
	sh("mkdir -p devices/pci0000:00/0000:00:06.0/net/bad0 && echo 0 >devices/pci0000:00/0000:00:06.0/net/bad0/ifindex");
	/* 00:07.0 net/ is a symlink: not a directory of this device. */
	sh("mkdir -p devices/pci0000:00/0000:00:07.0 && ln -s ../../virtual/net devices/pci0000:00/0000:00:07.0/net");
	return 0;
}

static int teardown(void **state) {
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* Resolves a PCI path the way UpdateInterface does; returns net_pci_interface's answer. */
static int lookup(const char *path, char *name, int *ifindex, kc_error *err) {
	stor_pci_path p;
	char devpath[256];
	assert_int_equal(stor_pci_path_parse(path, &p), 0);
	int r = stor_pci_path_to_devpath(root, &p, devpath, sizeof devpath, err);
	if (r < 0)
		return r;
	return net_pci_interface(root, devpath, name, ifindex, err);
}

static void test_virtio_net_behind_a_port(void **state) {
	char name[IFNAMSIZ] = "";
	int ifindex = 0;
	kc_error err = { 0 };
	int r = lookup("02/00", name, &ifindex, &err);
	if (r != 1)
		fail_msg("r=%d: %s", r, err.msg);
	assert_string_equal(name, "eth1");
	assert_int_equal(ifindex, 7);
}

static void test_plain_nic(void **state) {
	char name[IFNAMSIZ] = "";
	int ifindex = 0;
	kc_error err = { 0 };
	assert_int_equal(lookup("03", name, &ifindex, &err), 1);
	assert_string_equal(name, "ens3");
	assert_int_equal(ifindex, 12);
}

static void test_not_there_yet(void **state) {
	char name[IFNAMSIZ] = "";
	int ifindex = -1;
	kc_error err = { 0 };
	assert_int_equal(lookup("04", name, &ifindex, &err), 0);       /* device, no interface yet */
	assert_int_equal(lookup("02/01", name, &ifindex, &err), 0);    /* no device at all yet */
	assert_int_equal(lookup("1f.7", name, &ifindex, &err), 0);
	assert_int_equal(ifindex, -1);
	assert_int_equal(lookup("07", name, &ifindex, &err), 0);       /* net/ is a symlink: ignored */
}

static void test_two_interfaces(void **state) {
	char name[IFNAMSIZ];
	int ifindex;
	kc_error err = { 0 };
	assert_int_equal(lookup("05", name, &ifindex, &err), 2);
	assert_non_null(strstr(err.msg, "carries 2 network interfaces"));
	assert_non_null(strstr(err.msg, "p0"));
}

static void test_bad_sysfs(void **state) {
	char name[IFNAMSIZ];
	int ifindex;
	kc_error err = { 0 };
	assert_true(lookup("06", name, &ifindex, &err) < 0);
	assert_non_null(strstr(err.msg, "bad0: ifindex"));
	/* A bridge that does not exist: the path cannot be resolved at all. */
	assert_true(lookup("09/00", name, &ifindex, &err) < 0);
	assert_non_null(strstr(err.msg, "secondary bus"));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_virtio_net_behind_a_port),
		cmocka_unit_test(test_plain_nic),
		cmocka_unit_test(test_not_there_yet),
		cmocka_unit_test(test_two_interfaces),
		cmocka_unit_test(test_bad_sysfs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
