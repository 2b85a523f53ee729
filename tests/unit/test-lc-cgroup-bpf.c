/* The device rules and the BPF_CGROUP_DEVICE program made from them, run in a small interpreter: a table of
 * requests (type, major, minor, access) against rule sets, with the expected verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "libcontainer-c/devices-bpf.h"
#include "tests/unit/test-lc-cgroup-interp.h"

enum { R = LC_DEV_ACC_READ, W = LC_DEV_ACC_WRITE, M = LC_DEV_ACC_MKNOD, RW = R | W, RWM = LC_DEV_ACC_ALL };
enum { CHR = BPF_DEVCG_DEV_CHAR, BLK = BPF_DEVCG_DEV_BLOCK };

typedef struct req {
	uint32_t type, major, minor, access;
	int allow;
} req;

static void check(const lc_dev_rule *rules, size_t n, const req *reqs, size_t n_reqs) {
	struct bpf_insn *p = NULL;
	size_t n_insns = 0;
	kc_error err = {};

	assert_int_equal(lc_devices_bpf_generate(rules, n, &p, &n_insns, &err), 0);
	assert_true(interp_all_reachable(p, n_insns));
	for (size_t i = 0; i < n_reqs; i++) {
		const char *why = NULL;
		int v = interp_dev_prog(p, n_insns, reqs[i].type, reqs[i].access, reqs[i].major, reqs[i].minor, &why);
		if (v != reqs[i].allow)
			fail_msg("request %zu (%c %u:%u access %u): got %d (%s), want %d", i,
				 reqs[i].type == CHR ? 'c' : 'b', reqs[i].major, reqs[i].minor, reqs[i].access, v,
				 why ? why : "-", reqs[i].allow);
	}
	free(p);
}

static void test_no_rules_denies_everything(void **state) {
	static const req reqs[] = {
		{ CHR, 1, 3, R, 0 }, { BLK, 8, 0, RWM, 0 }, { CHR, 0, 0, M, 0 },
	};
	check(NULL, 0, reqs, ELEMENTSOF(reqs));
}

static void test_exact_rule(void **state) {
	static const lc_dev_rule rules[] = { { true, 'c', 1, 3, RWM } };
	static const req reqs[] = {
		{ CHR, 1, 3, R, 1 }, { CHR, 1, 3, RW, 1 }, { CHR, 1, 3, M, 1 },
		{ CHR, 1, 5, R, 0 }, { CHR, 2, 3, R, 0 }, { BLK, 1, 3, R, 0 },
	};
	check(rules, ELEMENTSOF(rules), reqs, ELEMENTSOF(reqs));
}

static void test_last_match_wins(void **state) {
	/* A later deny overrides the earlier allow; a later allow overrides an earlier deny. */
	static const lc_dev_rule rules[] = {
		{ true, 'c', 1, 3, RWM },
		{ false, 'c', 1, 3, W },
		{ false, 'c', 1, 5, RWM },
		{ true, 'c', 1, 5, R },
	};
	static const req reqs[] = {
		{ CHR, 1, 3, R, 1 },  { CHR, 1, 3, M, 1 },  { CHR, 1, 3, W, 0 },
		{ CHR, 1, 3, RW, 0 }, /* a deny matches when it names any requested bit */
		{ CHR, 1, 5, R, 1 },  { CHR, 1, 5, RW, 0 }, /* the allow does not grant w; the deny does match */
		{ CHR, 1, 5, M, 0 },
	};
	check(rules, ELEMENTSOF(rules), reqs, ELEMENTSOF(reqs));
}

static void test_wildcards(void **state) {
	static const lc_dev_rule rules[] = {
		{ true, 'c', -1, -1, M },
		{ true, 'c', 136, -1, RWM },
		{ true, 'b', 8, -1, R },
		{ true, 'c', -1, 7, RW },
	};
	static const req reqs[] = {
		{ CHR, 4, 5, M, 1 },   { CHR, 4, 5, R, 0 },  { BLK, 4, 5, M, 0 },   { CHR, 136, 0, RW, 1 },
		{ CHR, 136, 99, RWM, 1 }, { CHR, 137, 0, R, 0 }, { BLK, 8, 16, R, 1 }, { BLK, 8, 16, W, 0 },
		{ BLK, 9, 0, R, 0 },   { CHR, 42, 7, RW, 1 },
		/* rwm in one request: no single rule grants all three bits ("c *:7 rw" lacks m, "c *:* m" lacks rw). */
		{ CHR, 42, 7, RWM, 0 },
	};
	check(rules, ELEMENTSOF(rules), reqs, ELEMENTSOF(reqs));
}

static void test_type_a(void **state) {
	/* "a" allows everything; a later partial deny takes its bits back everywhere. */
	static const lc_dev_rule rules[] = { { true, 'a', -1, -1, RWM }, { false, 'a', -1, -1, W } };
	static const req reqs[] = {
		{ CHR, 1, 3, R, 1 }, { BLK, 8, 0, M, 1 }, { CHR, 1, 3, W, 0 }, { BLK, 8, 0, RW, 0 },
	};
	check(rules, ELEMENTSOF(rules), reqs, ELEMENTSOF(reqs));
}

static void test_allow_all_last_is_minimal(void **state) {
	/* Everything before an allow-all is dead code, which the verifier would refuse: not generated. */
	static const lc_dev_rule rules[] = { { false, 'c', 1, 3, RWM }, { true, 'a', -1, -1, RWM } };
	static const req reqs[] = { { CHR, 1, 3, R, 1 }, { BLK, 8, 0, RWM, 1 } };
	struct bpf_insn *p = NULL;
	size_t n = 0;
	kc_error err = {};
	check(rules, ELEMENTSOF(rules), reqs, ELEMENTSOF(reqs));
	assert_int_equal(lc_devices_bpf_generate(rules, ELEMENTSOF(rules), &p, &n, &err), 0);
	assert_int_equal(n, 6 + 2); /* prologue, then r0 = 1; exit */
	free(p);
}

static void test_defaults_from_spec(void **state) {
	lc_spec_device_cgroup spec[] = {
		{ .allow = false, .type = NULL, .access = "rwm" },                                /* deny all */
		{ .allow = true, .type = "b", .has_major = true, .major = 8, .access = "r" },    /* b 8:* r */
		{ .allow = false, .type = "c", .has_major = true, .major = 10, .has_minor = true, .minor = 200,
		  .access = "rwm" },                                                                /* defaults win */
	};
	lc_dev_rule *rules = NULL;
	size_t n = 0;
	kc_error err = {};
	static const req reqs[] = {
		{ CHR, 1, 3, RW, 1 },    { CHR, 1, 5, RW, 1 },  { CHR, 1, 9, R, 1 },     { CHR, 5, 2, RW, 1 },
		{ CHR, 136, 3, RW, 1 },  { CHR, 10, 200, RW, 1 }, { CHR, 4, 1, M, 1 },   { BLK, 8, 0, M, 1 },
		{ BLK, 8, 0, R, 1 },     { BLK, 8, 0, W, 0 },   { CHR, 4, 1, R, 0 },     { CHR, 10, 229, RW, 0 },
	};
	assert_int_equal(lc_dev_rules_from_spec(spec, ELEMENTSOF(spec), true, &rules, &n, &err), 0);
	assert_int_equal(n, ELEMENTSOF(spec) + lc_dev_n_default_rules);
	assert_int_equal(rules[0].type, 'a');
	assert_int_equal(rules[1].minor, -1);
	check(rules, n, reqs, ELEMENTSOF(reqs));
	free(rules);
}

static void test_spec_errors_name_the_field(void **state) {
	static const struct {
		lc_spec_device_cgroup d;
		const char *want;
	} bad[] = {
		{ { .allow = true, .type = "x" }, "linux.resources.devices[0].type: `x`" },
		{ { .allow = true, .type = "c", .access = "rwx" }, "linux.resources.devices[0].access: `rwx`" },
		{ { .allow = true, .type = "c", .has_major = true, .major = 1LL << 33 }, "linux.resources.devices[0].major" },
		{ { .allow = true, .type = "b", .has_minor = true, .minor = -5 }, "linux.resources.devices[0].minor" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		lc_dev_rule *rules = NULL;
		size_t n = 0;
		kc_error err = {};
		assert_true(lc_dev_rules_from_spec(&bad[i].d, 1, false, &rules, &n, &err) < 0);
		if (!strstr(err.msg, bad[i].want))
			fail_msg("case %zu: `%s` does not contain `%s`", i, err.msg, bad[i].want);
		assert_null(rules);
	}
}

static void test_v1_format(void **state) {
	static const struct {
		lc_dev_rule r;
		const char *want;
	} cases[] = {
		{ { true, 'a', -1, -1, RWM }, "a" },
		{ { true, 'c', 1, 3, RWM }, "c 1:3 rwm" },
		{ { false, 'b', -1, -1, M }, "b *:* m" },
		{ { true, 'c', 136, -1, RW }, "c 136:* rw" },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char buf[64];
		assert_int_equal(lc_dev_rule_format_v1(&cases[i].r, buf, sizeof buf), 0);
		assert_string_equal(buf, cases[i].want);
	}
}

static void test_interpreter_catches_bad_programs(void **state) {
	/* The interpreter must be able to fail, or the tests above prove nothing. */
	struct bpf_insn fall_off[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 } };
	struct bpf_insn unset[] = { { .code = BPF_JMP | BPF_EXIT } };
	struct bpf_insn dead[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	const char *why = NULL;
	assert_int_equal(interp_dev_prog(fall_off, 1, CHR, R, 1, 3, &why), -1);
	assert_int_equal(interp_dev_prog(unset, 1, CHR, R, 1, 3, &why), -1);
	assert_false(interp_all_reachable(dead, 3));
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_rules_denies_everything),
		cmocka_unit_test(test_exact_rule),
		cmocka_unit_test(test_last_match_wins),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_type_a),
		cmocka_unit_test(test_allow_all_last_is_minimal),
		cmocka_unit_test(test_defaults_from_spec),
		cmocka_unit_test(test_spec_errors_name_the_field),
		cmocka_unit_test(test_v1_format),
		cmocka_unit_test(test_interpreter_catches_bad_programs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
