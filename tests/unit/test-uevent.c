/* The kernel uevent parser: the messages the kernel sends, and every way a message can be malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "storage/uevent.h"

/* Builds a message from records separated by '|' (each becomes a NUL-terminated record). */
static size_t msg(char *buf, size_t size, const char *spec) {
	size_t n = strlen(spec);
	assert_true(n + 1 <= size);
	memcpy(buf, spec, n + 1);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '|')
			buf[i] = '\0';
	return n + 1;
}

#define BLK_ADD "add@/devices/pci0000:00/0000:00:01.0/0000:01:00.0/virtio2/block/vda|ACTION=add|" \
		"DEVPATH=/devices/pci0000:00/0000:00:01.0/0000:01:00.0/virtio2/block/vda|SUBSYSTEM=block|" \
		"MAJOR=254|MINOR=0|DEVNAME=vda|DEVTYPE=disk|DISKSEQ=3|SEQNUM=1234"

static void test_block_add(void **state) {
	char buf[4096];
	uevent e;
	size_t len = msg(buf, sizeof buf, BLK_ADD);
	assert_int_equal(uevent_parse(buf, len, &e), 0);
	assert_int_equal(e.action, UEVENT_ADD);
	assert_string_equal(e.devpath, "/devices/pci0000:00/0000:00:01.0/0000:01:00.0/virtio2/block/vda");
	assert_string_equal(e.subsystem, "block");
	assert_string_equal(e.devname, "vda");
	assert_string_equal(e.devtype, "disk");
	assert_true(e.has_devnum);
	assert_int_equal(e.major, 254);
	assert_int_equal(e.minor, 0);
	assert_int_equal(e.seqnum, 1234);
	assert_null(e.modalias);
}

static void test_pci_add_with_modalias(void **state) {
	char buf[4096];
	uevent e;
	size_t len = msg(buf, sizeof buf,
			 "add@/devices/pci0000:00/0000:00:01.0/0000:01:00.0|ACTION=add|"
			 "DEVPATH=/devices/pci0000:00/0000:00:01.0/0000:01:00.0|SUBSYSTEM=pci|PCI_CLASS=10000|"
			 "PCI_ID=1AF4:1042|MODALIAS=pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00|SEQNUM=7");
	assert_int_equal(uevent_parse(buf, len, &e), 0);
	assert_string_equal(e.modalias, "pci:v00001AF4d00001042sv00001AF4sd00001100bc01sc00i00");
	assert_false(e.has_devnum);
	assert_null(e.devname);
	assert_null(e.driver);
}

static void test_actions(void **state) {
	static const char *const names[] = { "add", "remove", "change", "move", "online", "offline", "bind", "unbind" };
	char spec[256], buf[256];
	uevent e;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(spec, sizeof spec, "%s@/devices/system/memory/memory9|ACTION=%s|DEVPATH=/devices/system/memory/"
			 "memory9|SUBSYSTEM=memory|SEQNUM=%zu", names[i], names[i], i);
		size_t len = msg(buf, sizeof buf, spec);
		assert_int_equal(uevent_parse(buf, len, &e), 0);
		assert_int_equal(e.action, (uevent_action)i);
		assert_string_equal(uevent_action_to_string(e.action), names[i]);
	}
}

static void test_malformed(void **state) {
	static const char *const bad[] = {
		"", /* empty */
		"add/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1", /* no '@' */
		"fly@/devices/x|ACTION=fly|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1", /* unknown action */
		"add@/devices/x|ACTION=remove|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1", /* header disagrees */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/y|SUBSYSTEM=block|SEQNUM=1",
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SEQNUM=1",                         /* no SUBSYSTEM */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block",                  /* no SEQNUM */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=x",         /* bad SEQNUM */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|NOEQUALS", /* record without = */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|=v",       /* empty key */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|lower=v",  /* bad key */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1||X=1",     /* empty record */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SUBSYSTEM=net|SEQNUM=1", /* duplicate */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|MAJOR=8", /* MAJOR alone */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|MAJOR=8|MINOR=-1",
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|MAJOR=99999999999|MINOR=0",
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|DEVNAME=../etc/passwd",
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|DEVNAME=/dev/vda",
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|DEVNAME=a//b",
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=block|SEQNUM=1|DEVNAME=a b",
		"add@/devices/../x|ACTION=add|DEVPATH=/devices/../x|SUBSYSTEM=block|SEQNUM=1", /* traversal */
		"add@devices/x|ACTION=add|DEVPATH=devices/x|SUBSYSTEM=block|SEQNUM=1",         /* relative */
		"add@/devices/x|ACTION=add|DEVPATH=/devices/x|SUBSYSTEM=../block|SEQNUM=1",
	};
	char buf[1024];
	uevent e;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = msg(buf, sizeof buf, bad[i]);
		if (uevent_parse(buf, len, &e) != -EBADMSG)
			fail_msg("accepted malformed message %zu: %s", i, bad[i]);
	}
	/* Not NUL-terminated (a truncated datagram). */
	size_t len = msg(buf, sizeof buf, BLK_ADD);
	assert_int_equal(uevent_parse(buf, len - 1, &e), -EBADMSG);
	assert_int_equal(uevent_parse(NULL, 10, &e), -EBADMSG);
	/* udevd's re-broadcast: "libudev\0" then a binary header. */
	static const char udev[] = "libudev\0\xfe\xed\xca\xfe";
	assert_int_equal(uevent_parse(udev, sizeof udev, &e), -EBADMSG);
}

static void test_caps(void **state) {
	static char buf[UEVENT_MSG_MAX * 2];
	uevent e;
	/* Too many records. */
	size_t off = (size_t)snprintf(buf, sizeof buf, "add@/devices/x") + 1;
	off += (size_t)snprintf(buf + off, sizeof buf - off, "ACTION=add") + 1;
	off += (size_t)snprintf(buf + off, sizeof buf - off, "DEVPATH=/devices/x") + 1;
	off += (size_t)snprintf(buf + off, sizeof buf - off, "SUBSYSTEM=block") + 1;
	off += (size_t)snprintf(buf + off, sizeof buf - off, "SEQNUM=1") + 1;
	size_t base = off;
	assert_int_equal(uevent_parse(buf, off, &e), 0);
	for (int i = 0; i < UEVENT_RECORDS_MAX; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "K%d=v", i) + 1;
	assert_int_equal(uevent_parse(buf, off, &e), -EBADMSG);
	/* A value over the cap. */
	off = base;
	memcpy(buf + off, "BIG=", 4);
	memset(buf + off + 4, 'a', UEVENT_VALUE_MAX + 1);
	off += 4 + UEVENT_VALUE_MAX + 1;
	buf[off++] = '\0';
	assert_int_equal(uevent_parse(buf, off, &e), -EBADMSG);
	/* A message over the cap. */
	assert_int_equal(uevent_parse(buf, UEVENT_MSG_MAX + 1, &e), -EBADMSG);
}

static void test_sysfs_file(void **state) {
	char text[] = "MAJOR=254\nMINOR=16\nDEVNAME=vdb\nDEVTYPE=disk\nDISKSEQ=4\n";
	uevent e;
	assert_int_equal(uevent_parse_sysfs(text, strlen(text), "/devices/virtual/block/vdb", "block", &e), 0);
	assert_int_equal(e.action, UEVENT_ADD);
	assert_string_equal(e.devname, "vdb");
	assert_int_equal(e.minor, 16);
	assert_string_equal(e.subsystem, "block");
	char bad[] = "DEVNAME=../../x\n";
	assert_int_equal(uevent_parse_sysfs(bad, strlen(bad), "/devices/x", "block", &e), -EBADMSG);
	char nul[] = "DEVNAME=a\0b\n";
	assert_int_equal(uevent_parse_sysfs(nul, sizeof nul - 1, "/devices/x", "block", &e), -EBADMSG);
}

/* A message sent by a process (sender port id != 0) is refused; the kernel's own are the only ones taken. */
static void test_foreign_sender(void **state) {
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0) {
		skip();
		return;
	}
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t sl = sizeof sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	int tx = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	assert_true(tx >= 0);
	char buf[UEVENT_MSG_MAX];
	size_t len = msg(buf, sizeof buf, BLK_ADD);
	struct sockaddr_nl to = { .nl_family = AF_NETLINK, .nl_pid = sa.nl_pid };
	/* Unicast from one socket to another: the kernel stamps the sender's port id. */
	assert_true(sendto(tx, buf, len, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)len);
	size_t got = 0;
	assert_int_equal(uevent_receive(fd, buf, sizeof buf, &got), -EPERM);
	assert_int_equal(uevent_receive(fd, buf, sizeof buf, &got), -EAGAIN);
	close(tx);
	close(fd);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_add),     cmocka_unit_test(test_pci_add_with_modalias),
		cmocka_unit_test(test_actions),       cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_caps),          cmocka_unit_test(test_sysfs_file),
		cmocka_unit_test(test_foreign_sender),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
