/* kata-launch's QEMU command line for q35 and microvm, serial and vsock agent channels. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "launcher/qemu.h"

static qemu_config base_config(void) {
	return (qemu_config){
		.qemu = "/usr/bin/qemu-system-x86_64", .name = "t1", .kernel = "/k/vmlinux", .initrd = "/k/initrd.img",
		.state_dir = "/run/kata-launch/t1", .console_log = "/run/kata-launch/t1/console.log",
		.memory_mib = 512, .cpus = 1, .machine = QEMU_MACHINE_Q35, .accel = QEMU_ACCEL_TCG,
	};
}

/* Index of the option's value (the argument after opt, starting the search at from), or -1. */
static int find_after(char **argv, const char *opt, int from) {
	for (int i = from; argv[i]; i++)
		if (strcmp(argv[i], opt) == 0 && argv[i + 1])
			return i + 1;
	return -1;
}

static const char *value_of(char **argv, const char *opt) {
	int i = find_after(argv, opt, 1);
	return i < 0 ? NULL : argv[i];
}

static bool has_arg(char **argv, const char *arg) {
	for (int i = 0; argv[i]; i++)
		if (strcmp(argv[i], arg) == 0)
			return true;
	return false;
}

/* True when some `-device` value equals dev. */
static bool has_device(char **argv, const char *dev) {
	for (int i = find_after(argv, "-device", 1); i > 0; i = find_after(argv, "-device", i))
		if (strcmp(argv[i], dev) == 0)
			return true;
	return false;
}

static bool has_device_prefix(char **argv, const char *prefix) {
	for (int i = find_after(argv, "-device", 1); i > 0; i = find_after(argv, "-device", i))
		if (strncmp(argv[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void test_q35_tcg(void **state) {
	qemu_config c = base_config();
	char **argv = NULL;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_string_equal(argv[0], "/usr/bin/qemu-system-x86_64");
	assert_string_equal(value_of(argv, "-machine"), "q35,accel=tcg");
	assert_string_equal(value_of(argv, "-cpu"), "max");
	assert_string_equal(value_of(argv, "-m"), "512M");
	assert_string_equal(value_of(argv, "-smp"), "1");
	for (const char *const *f = (const char *const[]){ "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
							    NULL };
	     *f; f++)
		assert_true(has_arg(argv, *f));
	assert_string_equal(value_of(argv, "-serial"), "file:/run/kata-launch/t1/console.log");
	assert_string_equal(value_of(argv, "-kernel"), "/k/vmlinux");
	assert_string_equal(value_of(argv, "-initrd"), "/k/initrd.img");
	assert_string_equal(value_of(argv, "-qmp"), "unix:/run/kata-launch/t1/qmp.sock,server=on,wait=off");
	assert_true(has_device(argv, "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1"));
	assert_true(has_device(argv, "virtio-serial-pci,id=serial0"));
	assert_true(has_device(argv, "virtserialport,bus=serial0.0,chardev=agentch,name=agent.channel.0"));
	assert_string_equal(value_of(argv, "-chardev"),
			    "socket,id=agentch,path=/run/kata-launch/t1/agent.sock,server=on,wait=off");
	assert_false(has_device_prefix(argv, "vhost-vsock"));

	const char *append = value_of(argv, "-append");
	assert_non_null(append);
	assert_non_null(strstr(append, "console=ttyS0 quiet panic=1 no_timer_check tsc=reliable"));
	assert_non_null(strstr(append, "cryptomgr.notests reboot=k"));
	assert_non_null(strstr(append, " agent.server_addr=serial://agent.channel.0"));
	/* No user extras: the line ends with the agent address. */
	assert_string_equal(append + strlen(append) - strlen("agent.channel.0"), "agent.channel.0");
	strv_free(argv);
}

static void test_microvm(void **state) {
	qemu_config c = base_config();
	c.machine = QEMU_MACHINE_MICROVM;
	c.cpus = 2;
	c.memory_mib = 256;
	char **argv = NULL;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	/* Without ioapic2=off microvm hangs under TCG as soon as a virtio-mmio device exists. */
	assert_string_equal(value_of(argv, "-machine"), "microvm,accel=tcg,ioapic2=off");
	assert_string_equal(value_of(argv, "-smp"), "2");
	assert_string_equal(value_of(argv, "-m"), "256M");
	assert_true(has_device(argv, "virtio-serial-device,id=serial0"));
	assert_true(has_device(argv, "virtserialport,bus=serial0.0,chardev=agentch,name=agent.channel.0"));
	assert_false(has_device_prefix(argv, "virtio-serial-pci"));
	assert_false(has_device_prefix(argv, "pcie-root-port"));
	assert_null(strstr(value_of(argv, "-append"), "tsc_early_khz"));
	strv_free(argv);

	/* With the host's TSC rate known, TCG microvm skips the flaky PIT calibration; q35 is left alone. */
	c.host_tsc_khz = 2445430;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_non_null(strstr(value_of(argv, "-append"), " tsc_early_khz=2445430 agent.server_addr="));
	strv_free(argv);
	c.machine = QEMU_MACHINE_Q35;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_null(strstr(value_of(argv, "-append"), "tsc_early_khz"));
	strv_free(argv);
}

static void test_kvm_and_vsock(void **state) {
	qemu_config c = base_config();
	c.accel = QEMU_ACCEL_KVM;
	c.vsock_cid = 42;
	c.append = "agent.log=debug foo=bar";
	char **argv = NULL;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_string_equal(value_of(argv, "-machine"), "q35,accel=kvm");
	assert_string_equal(value_of(argv, "-cpu"), "host");
	assert_true(has_device(argv, "vhost-vsock-pci,id=vsock0,guest-cid=42"));
	assert_false(has_device_prefix(argv, "virtserialport"));
	assert_null(value_of(argv, "-chardev"));
	const char *append = value_of(argv, "-append");
	assert_non_null(strstr(append, "agent.server_addr=vsock://-1:1024 agent.log=debug foo=bar"));
	strv_free(argv);

	c.machine = QEMU_MACHINE_MICROVM;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_true(has_device(argv, "vhost-vsock-device,id=vsock0,guest-cid=42"));
	strv_free(argv);
}

static void test_rejects(void **state) {
	qemu_config c = base_config();
	char **argv = NULL;
	/* QEMU would split the option at the comma. */
	c.state_dir = "/run/a,b";
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	c = base_config();
	c.console_log = "/tmp/x,y.log";
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	c = base_config();
	c.accel = QEMU_ACCEL_AUTO; /* must be resolved before building */
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	assert_null(argv);
}

static void test_share(void **state) {
	qemu_config c = base_config();
	char **argv = NULL;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_null(value_of(argv, "-fsdev"));
	argv = strv_free(argv);

	qemu_share sh[3] = { { "/srv/bundle", "kataShared", false }, { "/srv/data", "kataBind0", true } };
	c.shares = sh;
	c.n_shares = 2;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_string_equal(value_of(argv, "-fsdev"), "local,id=fsdev0,path=/srv/bundle,security_model=none,multidevs=remap");
	assert_true(has_arg(argv, "local,id=fsdev1,path=/srv/data,security_model=none,multidevs=remap,readonly=on"));
	assert_true(has_device(argv, "virtio-9p-pci,fsdev=fsdev0,mount_tag=kataShared"));
	assert_true(has_device(argv, "virtio-9p-pci,fsdev=fsdev1,mount_tag=kataBind0"));
	assert_null(value_of(argv, "-object"));
	argv = strv_free(argv);

	c.machine = QEMU_MACHINE_MICROVM;
	sh[0].tag = "vol-1";
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_true(has_device(argv, "virtio-9p-device,fsdev=fsdev0,mount_tag=vol-1"));
	assert_false(has_device_prefix(argv, "virtio-9p-pci"));
	argv = strv_free(argv);

	/* QEMU would split the option at a comma; a tag is short, plain and unique. */
	sh[0].dir = "/srv/a,b";
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	sh[0].dir = "/srv/x";
	sh[0].tag = "a,mount_tag=b";
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	sh[0].tag = "";
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	sh[0].tag = "abcdefghijklmnopqrstuvwxyz0123456789";
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	sh[0].tag = "kataBind0";
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	c.n_shares = QEMU_SHARES_MAX + 1;
	assert_int_equal(qemu_build_argv(&c, &argv), -EINVAL);
	assert_null(argv);
}

/* virtio-fs: one vhost-user device per share, the guest RAM in a shared memfd named by the machine. */
static void test_virtiofs(void **state) {
	qemu_config c = base_config();
	char **argv = NULL;
	qemu_share sh[2] = { { "/srv/bundle", "kataShared", false }, { "/srv/data", "kataBind0", true } };
	c.shares = sh;
	c.n_shares = 2;
	c.share_fs = QEMU_SHARE_VIRTIOFS;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_null(value_of(argv, "-fsdev"));
	assert_null(value_of(argv, "-global"));
	assert_string_equal(value_of(argv, "-machine"), "q35,accel=tcg,memory-backend=mem0");
	assert_string_equal(value_of(argv, "-object"), "memory-backend-memfd,id=mem0,size=512M,share=on");
	assert_true(has_arg(argv, "socket,id=vfs1,path=/run/kata-launch/t1/vfs1.sock"));
	assert_true(has_device(argv, "vhost-user-fs-pci,chardev=vfs0,tag=kataShared"));
	assert_true(has_device(argv, "vhost-user-fs-pci,chardev=vfs1,tag=kataBind0"));
	argv = strv_free(argv);

	c.machine = QEMU_MACHINE_MICROVM;
	assert_int_equal(qemu_build_argv(&c, &argv), 0);
	assert_string_equal(value_of(argv, "-machine"), "microvm,accel=tcg,ioapic2=off,memory-backend=mem0");
	assert_true(has_device(argv, "vhost-user-fs-device,chardev=vfs0,tag=kataShared"));
	assert_string_equal(value_of(argv, "-global"), "virtio-mmio.force-legacy=false");
	argv = strv_free(argv);

	assert_int_equal(qemu_virtiofsd_argv("/usr/lib/qemu/virtiofsd", "/run/kata-launch/t1", 1, &sh[1], &argv), 0);
	assert_string_equal(argv[0], "/usr/lib/qemu/virtiofsd");
	assert_true(has_arg(argv, "--socket-path=/run/kata-launch/t1/vfs1.sock"));
	assert_true(has_arg(argv, "source=/srv/data"));
	argv = strv_free(argv);

	qemu_share_fs f;
	assert_int_equal(qemu_share_fs_from_string("virtio-fs", &f), 0);
	assert_int_equal(f, QEMU_SHARE_VIRTIOFS);
	assert_string_equal(qemu_share_fs_to_string(QEMU_SHARE_9P), "9p");
	assert_int_equal(qemu_share_fs_from_string("nfs", &f), -EINVAL);
}

static void test_names(void **state) {
	qemu_machine m;
	qemu_accel a;
	assert_int_equal(qemu_machine_from_string("microvm", &m), 0);
	assert_int_equal(m, QEMU_MACHINE_MICROVM);
	assert_string_equal(qemu_machine_to_string(QEMU_MACHINE_Q35), "q35");
	assert_int_equal(qemu_machine_from_string("pc", &m), -EINVAL);
	assert_int_equal(qemu_accel_from_string("kvm", &a), 0);
	assert_int_equal(a, QEMU_ACCEL_KVM);
	assert_int_equal(qemu_accel_from_string("hvf", &a), -EINVAL);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_q35_tcg),
		cmocka_unit_test(test_microvm),
		cmocka_unit_test(test_kvm_and_vsock),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_share),
		cmocka_unit_test(test_virtiofs),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
