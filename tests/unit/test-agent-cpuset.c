/* Container cpusets after CPUs come online: a fake v1 cpuset tree and a fake v2 tree in a tmpdir, and fake
 * containers (the registry and the instances are replaced below), checked file by file. */
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

#include "agent/container.h"
#include "agent/cpuset.h"
#include "common/util.h"
#include "libcontainer-c/instance.h"

static char top[64];

/* ---- fakes for what cpusets_refresh asks of the containers ---- */

typedef struct fake_ctr {
	const char *id, *path, *pin; /* pin: linux.resources.cpu.cpus, NULL: none */
	lc_spec_cpu cpu;
	lc_spec_resources res;
	lc_spec_linux lx;
	lc_spec spec;
	lc_config cfg;
} fake_ctr;

static fake_ctr fakes[3];
static size_t n_fakes;
static lc_cgroup_layout layout;

unsigned containers_count(const agent *a) {
	return (unsigned)n_fakes;
}

void containers_foreach(agent *a, void (*fn)(const char *id, lc_instance *inst, void *userdata), void *userdata) {
	for (size_t i = 0; i < n_fakes; i++)
		fn(fakes[i].id, (lc_instance *)&fakes[i], userdata);
}

lc_cgroup *lc_instance_cgroup(const lc_instance *c) {
	return (lc_cgroup *)c;
}

const lc_config *lc_instance_config(const lc_instance *c) {
	fake_ctr *f = (fake_ctr *)c;
	f->cpu = (lc_spec_cpu){ .cpus = (char *)f->pin };
	f->res = (lc_spec_resources){ .cpu = &f->cpu };
	f->lx = (lc_spec_linux){ .resources = &f->res };
	f->spec = (lc_spec){ .linux = &f->lx };
	f->cfg = (lc_config){ .spec = &f->spec };
	return &f->cfg;
}

const lc_cgroup_layout *lc_cgroup_get_layout(const lc_cgroup *cg) {
	return &layout;
}

const char *lc_cgroup_get_path(const lc_cgroup *cg) {
	return ((const fake_ctr *)cg)->path;
}

/* ---- the tree ---- */

static void put(const char *rel, const char *value) {
	char p[256];
	snprintf(p, sizeof p, "%s/%s", top, rel);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	char cmd[300];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s'", p);
	assert_int_equal(system(cmd), 0);
	*slash = '/';
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(value, f);
	assert_int_equal(fclose(f), 0);
}

static void expect(const char *rel, const char *value) {
	char p[256];
	_cleanup_free_ char *s = NULL;
	snprintf(p, sizeof p, "%s/%s", top, rel);
	assert_int_equal(read_file_capped(AT_FDCWD, p, 4096, &s, NULL), 0);
	s[strcspn(s, "\n")] = '\0';
	if (strcmp(s, value) != 0)
		fail_msg("%s: `%s`, expected `%s`", rel, s, value);
}

static int setup(void **state) {
	snprintf(top, sizeof top, "/tmp/test-agent-cpuset.XXXXXX");
	return mkdtemp(top) ? 0 : -1;
}

static int teardown(void **state) {
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_v1_widens_parents_first(void **state) {
	char mount[128];
	kc_error err = { 0 };
	snprintf(mount, sizeof mount, "%s/v1", top);
	put("v1/cpuset.cpus", "0-1");
	put("v1/kata/cpuset.cpus", "0");
	put("v1/kata/c1/cpuset.cpus", "0");
	put("v1/kata/c2/cpuset.cpus", "0");
	assert_int_equal(cpuset_widen_path(mount, "/kata/c1", false, "0-1", &err), 2);
	expect("v1/kata/cpuset.cpus", "0-1");
	expect("v1/kata/c1/cpuset.cpus", "0-1");
	/* Pinned: the parents only (already wide now), the container keeps its set. */
	assert_int_equal(cpuset_widen_path(mount, "/kata/c2", true, "0-1", &err), 0);
	expect("v1/kata/c2/cpuset.cpus", "0");
	/* Repeating changes nothing. */
	assert_int_equal(cpuset_widen_path(mount, "//kata/c1/", false, "0-1", &err), 0);
	/* A cgroup that went away meanwhile: nothing to do. */
	assert_int_equal(cpuset_widen_path(mount, "/kata/gone", false, "0-1", &err), 0);
	/* A file that cannot be read is an error that names it. */
	put("v1/kata/c4/cpuset.cpus/x", "");
	assert_true(cpuset_widen_path(mount, "/kata/c4", false, "0-1", &err) < 0);
	assert_non_null(strstr(err.msg, "kata/c4/cpuset.cpus"));
}

static void test_v2_leaves_inherited_alone(void **state) {
	char mount[128];
	kc_error err = { 0 };
	snprintf(mount, sizeof mount, "%s/v2", top);
	put("v2/kata/cpuset.cpus", "");
	put("v2/kata/c1/cpuset.cpus", "\n");
	put("v2/kata/c3/cpuset.cpus", "0");
	assert_int_equal(cpuset_widen_path(mount, "/kata/c1", false, "0-3", &err), 0);
	expect("v2/kata/cpuset.cpus", "");
	expect("v2/kata/c1/cpuset.cpus", "");
	assert_int_equal(cpuset_widen_path(mount, "/kata/c3", false, "0-3", &err), 1);
	expect("v2/kata/c3/cpuset.cpus", "0-3");
	/* No cpuset controller below /kata: nothing to widen there. */
	assert_int_equal(cpuset_widen_path(mount, "/kata/nocontroller/x", false, "0-3", &err), 0);
}

static void test_refresh_every_container(void **state) {
	char sysfs[128], mount[128];
	snprintf(sysfs, sizeof sysfs, "%s/sys", top);
	snprintf(mount, sizeof mount, "%s/r", top);
	put("sys/devices/system/cpu/online", "0-2\n");
	put("r/kata/cpuset.cpus", "0");
	put("r/kata/a/cpuset.cpus", "0");
	put("r/kata/b/cpuset.cpus", "0");
	layout = (lc_cgroup_layout){ .n_h = 1 };
	for (int i = 0; i < _LC_CG_MAX; i++)
		layout.where[i] = -1;
	layout.h[0] = (lc_cgroup_hierarchy){ .mount = mount };
	layout.where[LC_CG_CPUSET] = 0;
	fakes[0] = (fake_ctr){ .id = "a", .path = "/kata/a" };
	fakes[1] = (fake_ctr){ .id = "b", .path = "/kata/b", .pin = "0" };
	fakes[2] = (fake_ctr){ .id = "gone", .path = "/kata/gone" }; /* removed meanwhile: skipped */
	n_fakes = 3;
	agent a = { .sysfs = sysfs };
	cpusets_refresh(&a);
	expect("r/kata/cpuset.cpus", "0-2");
	expect("r/kata/a/cpuset.cpus", "0-2");
	expect("r/kata/b/cpuset.cpus", "0");
	/* Without a cpuset controller at all: nothing is touched. */
	layout.where[LC_CG_CPUSET] = -1;
	put("sys/devices/system/cpu/online", "0-3\n");
	cpusets_refresh(&a);
	expect("r/kata/a/cpuset.cpus", "0-2");
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_widens_parents_first),
		cmocka_unit_test(test_v2_leaves_inherited_alone),
		cmocka_unit_test(test_refresh_every_container),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
