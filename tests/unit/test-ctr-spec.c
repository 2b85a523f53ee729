/* The container spec rewrite for the guest (agent/ctr-spec.c): device checks, the linux.devices and
 * resources.devices rewrite with the added allow rule, and guest hooks read from a directory. Device waits
 * are not run here: the found node is filled in as the wait would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent/ctr-spec.h"

static const char spec_json[] =
	"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"/r\"},"
	"\"hooks\":{\"prestart\":[{\"path\":\"/spec-hook\"}]},"
	"\"linux\":{\"devices\":[{\"path\":\"/dev/xda\",\"type\":\"b\",\"major\":8,\"minor\":0},"
	"{\"path\":\"/dev/other\",\"type\":\"b\",\"major\":8,\"minor\":16}],"
	"\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
	"{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":0,\"access\":\"rw\"},"
	"{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":16,\"access\":\"r\"}]}}}";

static lc_spec *spec_new(void) {
	lc_spec *s = NULL;
	kc_error err = { 0 };
	if (lc_spec_from_json(spec_json, strlen(spec_json), &s, &err) < 0)
		fail_msg("%s", err.msg);
	return s;
}

static agent test_agent = { .sysfs = "/sys" };

static Grpc__Device device(const char *type, const char *id, const char *vm_path, const char *container_path) {
	Grpc__Device d = GRPC__DEVICE__INIT;
	d.type = (char *)type;
	d.id = (char *)id;
	d.vm_path = (char *)vm_path;
	d.container_path = (char *)container_path;
	return d;
}

static void prepare_fails(Grpc__Device *d, const char *want) {
	lc_spec *s = spec_new();
	ctr_devices *cd = NULL;
	kc_error err = { 0 };
	Grpc__Device *v[] = { d };
	assert_true(ctr_devices_prepare(&test_agent, v, 1, s, &cd, &err) < 0);
	if (!strstr(err.msg, want))
		fail_msg("error `%s` lacks `%s`", err.msg, want);
	assert_null(cd);
	lc_spec_free(s);
}

static void test_bad_devices(void **state) {
	Grpc__Device d = device("floppy", "", "/dev/fd0", "/dev/xda");
	prepare_fails(&d, "devices[0].type: unknown device type `floppy`");
	d = device("blk", "zz/01", "", "/dev/xda");
	prepare_fails(&d, "devices[0].id");
	d = device("blk", "", "/dev/../etc/passwd", "/dev/xda");
	prepare_fails(&d, "devices[0].vm_path");
	d = device("blk", "", "/dev/null", "/dev/missing");
	prepare_fails(&d, "devices[0].container_path: `/dev/missing` is not among");
	d = device("blk", "", "/dev/null", "");
	prepare_fails(&d, "devices[0].container_path: missing");
	d = device("scsi", "1:x", "", "/dev/xda");
	prepare_fails(&d, "devices[0].id: `1:x` is not SCSI_ID:LUN");
	char *opts[] = { "0000:01:00.0" };
	d = device("vfio-pci", "", "", "/dev/xda");
	d.n_options = 1;
	d.options = opts;
	prepare_fails(&d, "devices[0].options[0]: `0000:01:00.0` is not HOST_BDF=GUEST_PCI_PATH");
	opts[0] = "01:00.0=02";
	prepare_fails(&d, "devices[0].options[0]: `01:00.0=02` is not HOST_BDF=GUEST_PCI_PATH");
	d.n_options = 0;
	prepare_fails(&d, "devices[0].options: a vfio-pci device needs");
	(void)state;
}

static void test_duplicate_container_path(void **state) {
	lc_spec *s = spec_new();
	ctr_devices *cd = NULL;
	kc_error err = { 0 };
	Grpc__Device a = device("blk", "", "/dev/null", "/dev/xda"), b = device("mmioblk", "", "/dev/zero", "/dev/xda");
	Grpc__Device *v[] = { &a, &b };
	assert_true(ctr_devices_prepare(&test_agent, v, 2, s, &cd, &err) < 0);
	assert_non_null(strstr(err.msg, "devices[1].container_path: `/dev/xda` is also devices[0]'s"));
	lc_spec_free(s);
	(void)state;
}

static void test_rewrite(void **state) {
	lc_spec *s = spec_new();
	ctr_devices *cd = NULL;
	ctr_mem *mem = NULL;
	kc_error err = { 0 };
	device_want **wants;
	size_t n;
	struct stat st;
	Grpc__Device d = device("blk", "", "/dev/null", "/dev/xda");
	Grpc__Device *v[] = { &d };

	assert_int_equal(ctr_devices_prepare(&test_agent, v, 1, s, &cd, &err), 0);
	ctr_devices_wants(cd, &wants, &n);
	assert_int_equal(n, 1);
	assert_string_equal(wants[0]->w.m.subsystem, "block");
	assert_string_equal(wants[0]->w.m.devname, "null");
	/* What the wait finds: the node (a character device here, so the type changes too). */
	strcpy(wants[0]->node, "/dev/null");
	assert_int_equal(ctr_devices_apply(cd, s, &mem, &err), 0);
	assert_int_equal(stat("/dev/null", &st), 0);

	const lc_spec_device *dev = &s->linux->devices[0];
	assert_string_equal(dev->path, "/dev/xda");
	assert_string_equal(dev->type, "c");
	assert_int_equal(dev->major, major(st.st_rdev));
	assert_int_equal(dev->minor, minor(st.st_rdev));
	/* The other device is untouched. */
	assert_int_equal(s->linux->devices[1].major, 8);
	assert_int_equal(s->linux->devices[1].minor, 16);

	const lc_spec_resources *res = s->linux->resources;
	assert_int_equal(res->n_devices, 4);
	/* The rule that named the host's 8:0 names the guest's numbers; 8:16 stays. */
	assert_string_equal(res->devices[1].type, "c");
	assert_int_equal(res->devices[1].major, major(st.st_rdev));
	assert_string_equal(res->devices[1].access, "rw");
	assert_int_equal(res->devices[2].major, 8);
	assert_int_equal(res->devices[2].minor, 16);
	/* The added allow rule. */
	assert_true(res->devices[3].allow);
	assert_string_equal(res->devices[3].type, "c");
	assert_int_equal(res->devices[3].minor, minor(st.st_rdev));
	assert_string_equal(res->devices[3].access, "rwm");

	ctr_devices_free(cd);
	lc_spec_free(s);
	ctr_mem_free(mem);
	(void)state;
}

/* PCIDEVICE_* variables name host addresses; the container sees the guest's (vfio-pci-gk needs no IOMMU,
 * so the test needs no device either: the wait's result is filled in). */
static void test_pci_env(void **state) {
	static const char json[] =
		"{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"/r\"},\"process\":{\"cwd\":\"/\",\"args\":[\"x\"],"
		"\"env\":[\"PCIDEVICE_intel_com_sriov=0000:3b:00.0,0000:3B:00.1\","
		"\"PCIDEVICE_intel_com_sriov_INFO={\\\"0000:3b:00.0\\\":{\\\"x\\\":1},\\\"0000:3B:00.1\\\":{}}\","
		"\"PCIDEVICE_words=not-an-address\",\"OTHER=0000:3b:00.0\"]},\"linux\":{}}";
	lc_spec *s = NULL;
	ctr_devices *cd = NULL;
	ctr_mem *mem = NULL;
	kc_error err = { 0 };
	device_want **wants;
	size_t n;
	char *opts[] = { "0000:3b:00.0=02", "0000:3b:00.1=03" };
	Grpc__Device d = device("vfio-pci-gk", "", "", "/dev/vfio/12");
	d.n_options = 2;
	d.options = opts;
	Grpc__Device *v[] = { &d };

	if (lc_spec_from_json(json, strlen(json), &s, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ctr_devices_prepare(&test_agent, v, 1, s, &cd, &err), 0);
	ctr_devices_wants(cd, &wants, &n);
	assert_int_equal(n, 2);
	assert_string_equal(wants[0]->w.m.subsystem, "pci");
	assert_string_equal(wants[0]->w.m.devpath_prefix, "/devices/pci0000:00/0000:00:02.0");
	strcpy(wants[0]->devpath, "/devices/pci0000:00/0000:00:02.0");
	strcpy(wants[1]->devpath, "/devices/pci0000:00/0000:00:03.0");
	assert_int_equal(ctr_devices_apply(cd, s, &mem, &err), 0);
	assert_string_equal(s->process->env.v[0], "PCIDEVICE_intel_com_sriov=0000:00:02.0,0000:00:03.0");
	assert_string_equal(s->process->env.v[1],
			    "PCIDEVICE_intel_com_sriov_INFO={\"0000:00:02.0\":{\"x\":1},\"0000:00:03.0\":{}}");
	assert_string_equal(s->process->env.v[2], "PCIDEVICE_words=not-an-address");
	assert_string_equal(s->process->env.v[3], "OTHER=0000:3b:00.0");
	ctr_devices_free(cd);
	ctr_mem_free(mem);
	lc_spec_free(s);

	/* An address that is none of the container's devices fails, naming the variable. */
	static const char json2[] = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"/r\"},\"process\":{\"cwd\":\"/\","
				    "\"args\":[\"x\"],\"env\":[\"PCIDEVICE_a=0000:3b:00.7\"]},\"linux\":{}}";
	s = NULL;
	mem = NULL;
	if (lc_spec_from_json(json2, strlen(json2), &s, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ctr_devices_prepare(&test_agent, v, 1, s, &cd, &err), 0);
	ctr_devices_wants(cd, &wants, &n);
	strcpy(wants[0]->devpath, "/devices/pci0000:00/0000:00:02.0");
	strcpy(wants[1]->devpath, "/devices/pci0000:00/0000:00:03.0");
	assert_true(ctr_devices_apply(cd, s, &mem, &err) < 0);
	assert_non_null(strstr(err.msg, "PCIDEVICE_a: host PCI address 0000:3b:00.7 is none of"));
	ctr_devices_free(cd);
	ctr_mem_free(mem);
	lc_spec_free(s);
	(void)state;
}

static void touch(const char *path, mode_t mode) {
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_guest_hooks(void **state) {
	char dir[] = "/tmp/test-ctr-spec.XXXXXX", p[256];
	lc_spec *s = spec_new();
	ctr_mem *mem = NULL;
	kc_error err = { 0 };

	assert_non_null(mkdtemp(dir));
	const char *subdirs[] = { "prestart", "poststop" };
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, subdirs[i]);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	snprintf(p, sizeof p, "%s/prestart/20-b", dir);
	touch(p, 0755);
	snprintf(p, sizeof p, "%s/prestart/10-a", dir);
	touch(p, 0700);
	snprintf(p, sizeof p, "%s/prestart/30-not-exec", dir);
	touch(p, 0644);
	snprintf(p, sizeof p, "%s/prestart/40-link", dir);
	assert_int_equal(symlink("/bin/true", p), 0);
	snprintf(p, sizeof p, "%s/poststop/stop", dir);
	touch(p, 0755);

	assert_int_equal(ctr_guest_hooks_append(dir, s, &mem, &err), 0);
	const lc_spec_hook_list *pre = &s->hooks->kind[LC_HOOK_PRESTART];
	assert_int_equal(pre->n, 3);
	assert_string_equal(pre->v[0].path, "/spec-hook");
	snprintf(p, sizeof p, "%s/prestart/10-a", dir);
	assert_string_equal(pre->v[1].path, p);
	assert_int_equal(pre->v[1].args.n, 2);
	assert_string_equal(pre->v[1].args.v[0], "10-a");
	assert_string_equal(pre->v[1].args.v[1], "prestart");
	assert_null(pre->v[1].args.v[2]);
	assert_string_equal(pre->v[2].args.v[0], "20-b");
	assert_int_equal(s->hooks->kind[LC_HOOK_POSTSTART].n, 0);
	assert_int_equal(s->hooks->kind[LC_HOOK_POSTSTOP].n, 1);
	assert_string_equal(s->hooks->kind[LC_HOOK_POSTSTOP].v[0].args.v[1], "poststop");

	/* No directory, or no hook path: nothing added, no error. */
	assert_int_equal(ctr_guest_hooks_append("/nonexistent-hooks", s, &mem, &err), 0);
	assert_int_equal(ctr_guest_hooks_append("", s, &mem, &err), 0);
	assert_int_equal(s->hooks->kind[LC_HOOK_PRESTART].n, 3);

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	lc_spec_free(s);
	ctr_mem_free(mem);
	(void)state;
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_devices),
		cmocka_unit_test(test_duplicate_container_path),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_guest_hooks),
		cmocka_unit_test(test_pci_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
