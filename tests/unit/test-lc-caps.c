/* Capability masks and the pure parts of process-security: the plan made from the five sets (kernel rules
 * checked up front, unsupported capabilities set aside), capset's two-word layout, the names in messages,
 * sched_attr and ioprio values, and the checks the entry point makes before it changes anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libcontainer-c/process-security.h"

#define M LC_CAP_MASK

static lc_process_config caps_config(uint64_t bnd, uint64_t eff, uint64_t inh, uint64_t prm, uint64_t amb) {
	lc_process_config p = { .has_capabilities = true };
	p.caps[LC_CAP_BOUNDING] = bnd;
	p.caps[LC_CAP_EFFECTIVE] = eff;
	p.caps[LC_CAP_INHERITABLE] = inh;
	p.caps[LC_CAP_PERMITTED] = prm;
	p.caps[LC_CAP_AMBIENT] = amb;
	return p;
}

static void plan_fails(const lc_process_config *p, const char *msg) {
	lc_caps_plan plan;
	kc_error err = { 0 };
	assert_int_equal(lc_caps_plan_make(p, lc_caps_supported(), &plan, &err), -EINVAL);
	assert_string_equal(err.msg, msg);
}

static void test_plan_copies_sets(void **state) {
	uint64_t nbs = M(CAP_NET_BIND_SERVICE), raw = M(CAP_NET_RAW), chown = M(CAP_CHOWN);
	lc_process_config p = caps_config(nbs | raw | chown, raw | chown, nbs, nbs | raw | chown, nbs);
	lc_caps_plan plan;

	assert_int_equal(lc_caps_plan_make(&p, lc_caps_supported(), &plan, NULL), 0);
	for (int s = 0; s < _LC_CAP_SET_MAX; s++)
		assert_int_equal(plan.set[s], p.caps[s]);
	assert_int_equal(plan.unsupported, 0);
}

/* A capability the kernel lacks is left out of every set and reported, not an error (runc warns). */
static void test_plan_masks_unsupported(void **state) {
	uint64_t supported = M(CAP_CHOWN) | M(CAP_KILL);
	lc_process_config p = caps_config(M(CAP_CHOWN) | M(CAP_BPF), M(CAP_BPF), 0, M(CAP_CHOWN) | M(CAP_BPF), 0);
	lc_caps_plan plan;

	assert_int_equal(lc_caps_plan_make(&p, supported, &plan, NULL), 0);
	assert_int_equal(plan.unsupported, M(CAP_BPF));
	assert_int_equal(plan.set[LC_CAP_BOUNDING], M(CAP_CHOWN));
	assert_int_equal(plan.set[LC_CAP_EFFECTIVE], 0);
	assert_int_equal(plan.set[LC_CAP_PERMITTED], M(CAP_CHOWN));
}

static void test_plan_without_capabilities_is_empty(void **state) {
	lc_process_config p = caps_config(~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL);
	lc_caps_plan plan;

	p.has_capabilities = false;
	assert_int_equal(lc_caps_plan_make(&p, lc_caps_supported(), &plan, NULL), 0);
	for (int s = 0; s < _LC_CAP_SET_MAX; s++)
		assert_int_equal(plan.set[s], 0);
}

static void test_plan_kernel_rules(void **state) {
	uint64_t a = M(CAP_NET_RAW), b = M(CAP_NET_BIND_SERVICE);
	lc_process_config p = caps_config(a | b, a | b, 0, a, 0);
	plan_fails(&p, "process.capabilities.effective: CAP_NET_BIND_SERVICE not in permitted");

	p = caps_config(a, 0, a | b, a | b, 0);
	plan_fails(&p, "process.capabilities.inheritable: CAP_NET_BIND_SERVICE not in bounding");

	p = caps_config(a | b, 0, a, a | b, a | b);
	plan_fails(&p, "process.capabilities.ambient: CAP_NET_BIND_SERVICE not in both permitted and inheritable");
	p = caps_config(a | b, 0, a | b, a, a | b);
	plan_fails(&p, "process.capabilities.ambient: CAP_NET_BIND_SERVICE not in both permitted and inheritable");
}

/* capset's version 3 splits each set into two 32-bit words: CAP_BPF (39) lands in the second. */
static void test_kernel_layout(void **state) {
	lc_cap_data d[2];
	uint64_t e, p, i;

	lc_caps_to_kernel(M(CAP_BPF) | M(CAP_CHOWN), M(CAP_CHECKPOINT_RESTORE), M(31), d);
	assert_int_equal(d[0].effective, 1u << CAP_CHOWN);
	assert_int_equal(d[1].effective, 1u << (CAP_BPF - 32));
	assert_int_equal(d[0].permitted, 0);
	assert_int_equal(d[1].permitted, 1u << (CAP_CHECKPOINT_RESTORE - 32));
	assert_int_equal(d[0].inheritable, 1u << 31);
	assert_int_equal(d[1].inheritable, 0);
	lc_caps_from_kernel(d, &e, &p, &i);
	assert_int_equal(e, M(CAP_BPF) | M(CAP_CHOWN));
	assert_int_equal(p, M(CAP_CHECKPOINT_RESTORE));
	assert_int_equal(i, M(31));
}

static void test_format(void **state) {
	char buf[64], tiny[16];

	lc_caps_format(M(CAP_CHOWN) | M(CAP_KILL), buf, sizeof buf);
	assert_string_equal(buf, "CAP_CHOWN, CAP_KILL");
	lc_caps_format(0, buf, sizeof buf);
	assert_string_equal(buf, "none");
	lc_caps_format(M(62), buf, sizeof buf);
	assert_string_equal(buf, "62");
	lc_caps_format(M(CAP_CHOWN) | M(CAP_DAC_OVERRIDE), tiny, sizeof tiny);
	assert_int_equal(strlen(tiny), sizeof tiny - 1);
	assert_string_equal(tiny + sizeof tiny - 4, "...");
}

/* The probe agrees with the running kernel's own view of its last capability. */
static void test_last_cap(void **state) {
	int last = lc_caps_last_cap();
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int want = -1;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &want), 1);
	fclose(f);
	assert_int_equal(last, want);
	assert_int_equal(lc_caps_supported(), (UINT64_C(1) << (want + 1)) - 1);
}

static void test_sched_attr(void **state) {
	lc_process_config p = { .has_scheduler = true, .sched_policy = SCHED_BATCH, .sched_nice = 7,
				.sched_flags = 1 /* RESET_ON_FORK */, .sched_runtime = 10, .sched_deadline = 20,
				.sched_period = 30 };
	lc_sched_attr a;

	lc_sched_attr_from_config(&p, &a);
	assert_int_equal(a.size, 56); /* SCHED_ATTR_SIZE_VER1 */
	assert_int_equal(a.sched_policy, SCHED_BATCH);
	assert_int_equal(a.sched_nice, 7);
	assert_int_equal(a.sched_flags, 1);
	assert_int_equal(a.sched_runtime, 10);
	assert_int_equal(a.sched_deadline, 20);
	assert_int_equal(a.sched_period, 30);
	assert_int_equal(offsetof(lc_sched_attr, sched_runtime), 24);
}

static void test_ioprio_value(void **state) {
	assert_int_equal(lc_ioprio_value(2, 6), (2 << 13) | 6); /* IOPRIO_CLASS_BE, level 6 */
	assert_int_equal(lc_ioprio_value(1, 0), 1 << 13);
	assert_int_equal(lc_ioprio_value(3, 7), (3 << 13) | 7);
}

/* Invalid combinations fail before the process has been changed at all: umask still as it was. */
static void test_entry_checks_first(void **state) {
	lc_process_config p = caps_config(0, M(CAP_KILL), 0, 0, 0);
	lc_security_params sp = { .process = &p };
	kc_error err = { 0 };
	mode_t before = umask(0077);

	p.has_umask = true;
	p.umask = 0;
	assert_int_equal(lc_process_apply_security(&sp, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "process.capabilities.effective: CAP_KILL"));
	assert_int_equal(umask(before), 0077);
}

static void test_entry_notify_needs_callback(void **state) {
	lc_seccomp_prog prog = { .notify = true, .n_insns = 1 };
	lc_process_config p = { 0 };
	lc_security_params sp = { .process = &p, .seccomp = &prog };
	kc_error err = { 0 };

	assert_int_equal(lc_process_apply_security(&sp, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "SCMP_ACT_NOTIFY needs a listener"));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_copies_sets),
		cmocka_unit_test(test_plan_masks_unsupported),
		cmocka_unit_test(test_plan_without_capabilities_is_empty),
		cmocka_unit_test(test_plan_kernel_rules),
		cmocka_unit_test(test_kernel_layout),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_last_cap),
		cmocka_unit_test(test_sched_attr),
		cmocka_unit_test(test_ioprio_value),
		cmocka_unit_test(test_entry_checks_first),
		cmocka_unit_test(test_entry_notify_needs_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
