/* seccomp compilation without privileges: every program libseccomp exports is run here by a small classic-BPF
 * interpreter against hand-made seccomp_data, so that actions, errno values, argument comparisons, the AND/OR
 * rule of several comparisons and foreign architectures are checked on the instructions themselves; a forked
 * child then loads one for real under no_new_privs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libcontainer-c/seccomp.h"

/* ---- a classic BPF interpreter, enough for what libseccomp emits ---------------------------------------- */

static uint32_t bpf_run(const lc_seccomp_prog *p, const struct seccomp_data *d) {
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };

	for (size_t pc = 0; pc < p->n_insns; pc++) {
		const struct sock_filter *f = &p->insns[pc];
		uint32_t k = f->k, v = BPF_SRC(f->code) == BPF_X ? x : k;
		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
		case BPF_LDX: {
			uint32_t *dst = BPF_CLASS(f->code) == BPF_LD ? &a : &x;
			if (BPF_MODE(f->code) == BPF_ABS) {
				assert_true(BPF_SIZE(f->code) == BPF_W && k % 4 == 0 && k + 4 <= sizeof *d);
				memcpy(dst, (const char *)d + k, 4);
			} else if (BPF_MODE(f->code) == BPF_IMM)
				*dst = k;
			else if (BPF_MODE(f->code) == BPF_MEM) {
				assert_true(k < BPF_MEMWORDS);
				*dst = mem[k];
			} else if (BPF_MODE(f->code) == BPF_LEN)
				*dst = sizeof *d;
			else
				fail_msg("unexpected load mode %#x at %zu", f->code, pc);
			break;
		}
		case BPF_ST:
		case BPF_STX:
			assert_true(k < BPF_MEMWORDS);
			mem[k] = BPF_CLASS(f->code) == BPF_ST ? a : x;
			break;
		case BPF_ALU:
			switch (BPF_OP(f->code)) {
			case BPF_ADD: a += v; break;
			case BPF_SUB: a -= v; break;
			case BPF_MUL: a *= v; break;
			case BPF_DIV: assert_true(v != 0); a /= v; break;
			case BPF_OR: a |= v; break;
			case BPF_AND: a &= v; break;
			case BPF_LSH: a <<= v; break;
			case BPF_RSH: a >>= v; break;
			case BPF_NEG: a = -a; break;
			default: fail_msg("unexpected alu op %#x at %zu", f->code, pc);
			}
			break;
		case BPF_JMP: {
			bool t;
			if (BPF_OP(f->code) == BPF_JA) {
				pc += k;
				break;
			}
			switch (BPF_OP(f->code)) {
			case BPF_JEQ: t = a == v; break;
			case BPF_JGT: t = a > v; break;
			case BPF_JGE: t = a >= v; break;
			case BPF_JSET: t = (a & v) != 0; break;
			default: fail_msg("unexpected jump %#x at %zu", f->code, pc); return 0;
			}
			pc += t ? f->jt : f->jf;
			break;
		}
		case BPF_RET:
			return BPF_RVAL(f->code) == BPF_A ? a : k;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		}
	}
	fail_msg("the program fell off its end");
	return 0;
}

/* A call on the native architecture. */
static uint32_t run_call(const lc_seccomp_prog *p, const char *name, uint64_t a0, uint64_t a1) {
	struct seccomp_data d = { .arch = seccomp_arch_native(), .nr = seccomp_syscall_resolve_name(name),
				  .args = { a0, a1 } };
	assert_true(d.nr >= 0);
	return bpf_run(p, &d);
}
#define RUN(p, name, a0, a1) run_call((p), (name), (a0), (a1))

/* ---- building configs ------------------------------------------------------------------------------------ */

static lc_seccomp_config base_config(lc_seccomp_action def, const lc_syscall_config *sc, size_t n) {
	return (lc_seccomp_config){ .default_action = def, .default_errno_ret = EPERM, .syscalls = sc,
				    .n_syscalls = n };
}

static lc_seccomp_prog *compile_ok(const lc_seccomp_config *c) {
	lc_seccomp_prog *p = NULL;
	kc_error err = { 0 };
	int r = lc_seccomp_compile(c, &p, &err);
	if (r < 0)
		fail_msg("compile failed: %s", err.msg);
	assert_non_null(p);
	assert_true(p->n_insns > 0 && p->n_insns <= LC_SECCOMP_MAX_INSNS);
	return p;
}

static void compile_fails(const lc_seccomp_config *c, int want, const char *needle) {
	lc_seccomp_prog *p = NULL;
	kc_error err = { 0 };
	assert_int_equal(lc_seccomp_compile(c, &p, &err), -want);
	assert_null(p);
	if (!strstr(err.msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static char *names_getcwd[] = { "getcwd", NULL };

/* ---- cases ----------------------------------------------------------------------------------------------- */

static void test_errno_rule(void **state) {
	lc_syscall_config sc[] = { { .names = names_getcwd, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = 42 } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 1);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	assert_int_equal(RUN(p, "getcwd", 0, 0), SECCOMP_RET_ERRNO | 42);
	assert_int_equal(RUN(p, "getpid", 0, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(RUN(p, "mkdir", 0, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(p->n_rules, 1);
	assert_int_equal(p->n_skipped_names, 0);
	assert_false(p->notify);
	assert_int_equal(p->load_flags, 0);
}

static void test_every_action(void **state) {
	static char *n0[] = { "getcwd", NULL }, *n1[] = { "mkdir", NULL }, *n2[] = { "rmdir", NULL },
		    *n3[] = { "chdir", NULL }, *n4[] = { "fchdir", NULL }, *n5[] = { "getpid", NULL },
		    *n6[] = { "getppid", NULL }, *n7[] = { "uname", NULL };
	lc_syscall_config sc[] = {
		{ .names = n0, .n_names = 1, .action = LC_SCMP_ACT_KILL_THREAD },
		{ .names = n1, .n_names = 1, .action = LC_SCMP_ACT_KILL_PROCESS },
		{ .names = n2, .n_names = 1, .action = LC_SCMP_ACT_TRAP },
		{ .names = n3, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = 5 },
		{ .names = n4, .n_names = 1, .action = LC_SCMP_ACT_TRACE, .errno_ret = 7 },
		{ .names = n5, .n_names = 1, .action = LC_SCMP_ACT_ALLOW },
		{ .names = n6, .n_names = 1, .action = LC_SCMP_ACT_LOG },
		{ .names = n7, .n_names = 1, .action = LC_SCMP_ACT_NOTIFY },
	};
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ERRNO, sc, ELEMENTSOF(sc));
	c.default_errno_ret = ENOSYS;
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	assert_int_equal(RUN(p, "getcwd", 0, 0), SECCOMP_RET_KILL_THREAD);
	assert_int_equal(RUN(p, "mkdir", 0, 0), SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(RUN(p, "rmdir", 0, 0), SECCOMP_RET_TRAP);
	assert_int_equal(RUN(p, "chdir", 0, 0), SECCOMP_RET_ERRNO | 5);
	assert_int_equal(RUN(p, "fchdir", 0, 0), SECCOMP_RET_TRACE | 7);
	assert_int_equal(RUN(p, "getpid", 0, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(RUN(p, "getppid", 0, 0), SECCOMP_RET_LOG);
	assert_int_equal(RUN(p, "uname", 0, 0), SECCOMP_RET_USER_NOTIF);
	/* defaultErrnoRet */
	assert_int_equal(RUN(p, "write", 0, 0), SECCOMP_RET_ERRNO | ENOSYS);
	assert_int_equal(p->n_rules, 8);
	assert_true(p->notify);
	assert_true(p->load_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
}

/* Each op on the first argument, at and around its boundary; 64-bit values keep their high word. */
static void test_every_op(void **state) {
	static char *n[7][2] = { { "read" }, { "write" }, { "close" }, { "dup" }, { "dup2" }, { "lseek" }, { "ioctl" } };
	static const lc_seccomp_arg_config a[7] = {
		{ 0, LC_SCMP_CMP_NE, 5, 0 },         { 0, LC_SCMP_CMP_LT, 5, 0 }, { 0, LC_SCMP_CMP_LE, 5, 0 },
		{ 0, LC_SCMP_CMP_EQ, 0x100000005ULL, 0 }, { 0, LC_SCMP_CMP_GE, 5, 0 }, { 0, LC_SCMP_CMP_GT, 5, 0 },
		{ 0, LC_SCMP_CMP_MASKED_EQ, 0xf, 2 },
	};
	lc_syscall_config sc[7];
	for (int i = 0; i < 7; i++)
		sc[i] = (lc_syscall_config){ .names = n[i], .n_names = 1, .action = LC_SCMP_ACT_ERRNO,
					     .errno_ret = 100 + i, .args = &a[i], .n_args = 1 };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 7);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);
	const uint32_t E = SECCOMP_RET_ERRNO, OK = SECCOMP_RET_ALLOW;

	assert_int_equal(RUN(p, "read", 4, 0), E | 100);
	assert_int_equal(RUN(p, "read", 5, 0), OK);
	assert_int_equal(RUN(p, "write", 4, 0), E | 101);
	assert_int_equal(RUN(p, "write", 5, 0), OK);
	assert_int_equal(RUN(p, "close", 5, 0), E | 102);
	assert_int_equal(RUN(p, "close", 6, 0), OK);
	assert_int_equal(RUN(p, "dup", 0x100000005ULL, 0), E | 103);
	assert_int_equal(RUN(p, "dup", 5, 0), OK);
	assert_int_equal(RUN(p, "dup2", 5, 0), E | 104);
	assert_int_equal(RUN(p, "dup2", 4, 0), OK);
	assert_int_equal(RUN(p, "lseek", 6, 0), E | 105);
	assert_int_equal(RUN(p, "lseek", 5, 0), OK);
	/* MASKED_EQ: value is the mask, valueTwo the expected value. */
	assert_int_equal(RUN(p, "ioctl", 0x12, 0), E | 106);
	assert_int_equal(RUN(p, "ioctl", 0x2, 0), E | 106);
	assert_int_equal(RUN(p, "ioctl", 0x13, 0), OK);
}

/* Comparisons on different arguments of one rule must all hold. */
static void test_args_are_anded(void **state) {
	static char *n[] = { "socket", NULL };
	static const lc_seccomp_arg_config a[] = {
		{ 0, LC_SCMP_CMP_EQ, AF_INET, 0 },
		{ 1, LC_SCMP_CMP_MASKED_EQ, 0xf, SOCK_DGRAM },
	};
	lc_syscall_config sc[] = { { .names = n, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = EACCES,
				     .args = a, .n_args = 2 } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 1);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	assert_int_equal(RUN(p, "socket", AF_INET, SOCK_DGRAM | SOCK_CLOEXEC), SECCOMP_RET_ERRNO | EACCES);
	assert_int_equal(RUN(p, "socket", AF_INET, SOCK_STREAM), SECCOMP_RET_ALLOW);
	assert_int_equal(RUN(p, "socket", AF_UNIX, SOCK_DGRAM), SECCOMP_RET_ALLOW);
	assert_int_equal(p->n_rules, 1);
}

/* Two comparisons on the same argument cannot be chained by libseccomp: like runc, each becomes its own rule. */
static void test_same_index_is_ored(void **state) {
	static char *n[] = { "socket", NULL };
	static const lc_seccomp_arg_config a[] = {
		{ 0, LC_SCMP_CMP_EQ, AF_INET, 0 },
		{ 0, LC_SCMP_CMP_EQ, AF_INET6, 0 },
	};
	lc_syscall_config sc[] = { { .names = n, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = EACCES,
				     .args = a, .n_args = 2 } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 1);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	assert_int_equal(RUN(p, "socket", AF_INET, 0), SECCOMP_RET_ERRNO | EACCES);
	assert_int_equal(RUN(p, "socket", AF_INET6, 0), SECCOMP_RET_ERRNO | EACCES);
	assert_int_equal(RUN(p, "socket", AF_UNIX, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(p->n_rules, 2);
}

static void test_unknown_names_skipped(void **state) {
	static char *n0[] = { "lc_no_such_syscall", "getcwd", NULL }, *n1[] = { "nope_one", "nope_two", NULL };
	lc_syscall_config sc[] = {
		{ .names = n0, .n_names = 2, .action = LC_SCMP_ACT_ERRNO, .errno_ret = 1 },
		{ .names = n1, .n_names = 2, .action = LC_SCMP_ACT_KILL_PROCESS },
	};
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 2);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	assert_int_equal(RUN(p, "getcwd", 0, 0), SECCOMP_RET_ERRNO | 1);
	assert_int_equal(p->n_rules, 1);
	assert_int_equal(p->n_skipped_names, 3);
	assert_string_equal(p->skipped_summary, "lc_no_such_syscall, nope_one, nope_two");
}

static void test_skipped_summary_is_bounded(void **state) {
	static char names[200][24];
	static char *v[201];
	for (int i = 0; i < 200; i++) {
		(void)snprintf(names[i], sizeof names[i], "lc_unknown_%03d", i);
		v[i] = names[i];
	}
	lc_syscall_config sc[] = { { .names = v, .n_names = 200, .action = LC_SCMP_ACT_ERRNO, .errno_ret = 1 } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 1);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	assert_int_equal(p->n_skipped_names, 200);
	assert_int_equal(p->n_rules, 0);
	assert_true(strlen(p->skipped_summary) < sizeof p->skipped_summary);
	assert_non_null(strstr(p->skipped_summary, "lc_unknown_000, lc_unknown_001"));
	/* The count of what was left out adds up with what is shown. */
	const char *more = strstr(p->skipped_summary, " (+");
	assert_non_null(more);
	size_t shown = 1;
	for (const char *q = p->skipped_summary; q < more; q++)
		shown += *q == ',';
	assert_int_equal(strtoul(more + 3, NULL, 10), 200 - shown);
}

/* libseccomp refuses a rule with the default action; like runc and crun it is skipped, an errno that
 * differs is a different action. */
static void test_rule_with_default_action(void **state) {
	static char *n1[] = { "mkdir", NULL };
	lc_syscall_config sc[] = {
		{ .names = names_getcwd, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = EPERM },
		{ .names = n1, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = EACCES },
	};
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ERRNO, sc, 2);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	assert_int_equal(p->n_default_rules, 1);
	assert_int_equal(p->n_rules, 1);
	assert_int_equal(RUN(p, "getcwd", 0, 0), SECCOMP_RET_ERRNO | EPERM);
	assert_int_equal(RUN(p, "mkdir", 0, 0), SECCOMP_RET_ERRNO | EACCES);
}

#if defined(__x86_64__)
/* Listed architectures get the rule under their own syscall numbers; one not in the filter is killed. */
static void test_architectures(void **state) {
	static const char *arches[] = { "x86", "x32", "x86_64" };
	lc_syscall_config sc[] = { { .names = names_getcwd, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = 9 } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 1);
	c.architectures = arches;
	c.n_architectures = ELEMENTSOF(arches);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	struct seccomp_data d = { .arch = AUDIT_ARCH_I386, .nr = 183 /* getcwd on i386 */ };
	assert_int_equal(bpf_run(p, &d), SECCOMP_RET_ERRNO | 9);
	d.nr = 20; /* getpid on i386 */
	assert_int_equal(bpf_run(p, &d), SECCOMP_RET_ALLOW);
	d = (struct seccomp_data){ .arch = AUDIT_ARCH_X86_64, .nr = 0x40000000 | 79 /* x32 getcwd */ };
	assert_int_equal(bpf_run(p, &d), SECCOMP_RET_ERRNO | 9);
	d = (struct seccomp_data){ .arch = AUDIT_ARCH_X86_64, .nr = 79 };
	assert_int_equal(bpf_run(p, &d), SECCOMP_RET_ERRNO | 9);
	d = (struct seccomp_data){ .arch = AUDIT_ARCH_AARCH64, .nr = 17 };
	assert_int_equal(bpf_run(p, &d) & SECCOMP_RET_ACTION_FULL, SECCOMP_RET_KILL_THREAD);
}

/* "socketcall" exists for x86 only: with x86 in the filter it is a rule there; without, it is skipped. */
static void test_name_of_another_arch(void **state) {
	static char *n[] = { "socketcall", NULL };
	static const char *arches[] = { "x86" };
	lc_syscall_config sc[] = { { .names = n, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = 3 } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 1);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *native = compile_ok(&c);
	assert_int_equal(native->n_skipped_names, 1);
	assert_int_equal(native->n_rules, 0);

	c.architectures = arches;
	c.n_architectures = 1;
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);
	assert_int_equal(p->n_skipped_names, 0);
	struct seccomp_data d = { .arch = AUDIT_ARCH_I386, .nr = 102 /* socketcall on i386 */ };
	assert_int_equal(bpf_run(p, &d), SECCOMP_RET_ERRNO | 3);
}
#endif

static void test_errors(void **state) {
	static const char *bad_arch[] = { "x86_64", "pdp11" };
	static const lc_seccomp_arg_config bad_index[] = { { 6, LC_SCMP_CMP_EQ, 1, 0 } };
	static const lc_seccomp_arg_config seven[7] = { { .index = 0 }, { .index = 1 }, { .index = 2 }, { .index = 3 },
							{ .index = 4 }, { .index = 5 }, { .index = 0 } };
	lc_syscall_config sc[] = { { .names = names_getcwd, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = 1 } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 1);

	c.architectures = bad_arch;
	c.n_architectures = 2;
	compile_fails(&c, EINVAL, "linux.seccomp.architectures[1]: \"pdp11\" is unknown");
	c.n_architectures = 0;

	sc[0].errno_ret = 5000;
	compile_fails(&c, EINVAL, "linux.seccomp.syscalls[0].action: errnoRet 5000 is out of range");
	sc[0].errno_ret = 1;

	sc[0].args = bad_index;
	sc[0].n_args = 1;
	compile_fails(&c, EINVAL, "linux.seccomp.syscalls[0].args[0]: index 6");
	sc[0].args = seven;
	sc[0].n_args = 7;
	compile_fails(&c, EINVAL, "linux.seccomp.syscalls[0].args: 7 comparisons");
	sc[0].n_args = 0;

	c.default_action = LC_SCMP_ACT_NOTIFY;
	compile_fails(&c, EINVAL, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default");
	c.default_action = LC_SCMP_ACT_ERRNO;
	c.default_errno_ret = -1;
	compile_fails(&c, EINVAL, "linux.seccomp.defaultAction: errnoRet -1");
	c.default_action = (lc_seccomp_action)99;
	compile_fails(&c, EINVAL, "linux.seccomp.defaultAction: unknown action 99");
}

static void test_flags(void **state) {
	static char *n[] = { "uname", NULL };
	lc_syscall_config notify[] = { { .names = n, .n_names = 1, .action = LC_SCMP_ACT_NOTIFY } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, NULL, 0);
	c.flags = LC_SECCOMP_FLAG_TSYNC | LC_SECCOMP_FLAG_LOG | LC_SECCOMP_FLAG_SPEC_ALLOW |
		  LC_SECCOMP_FLAG_WAIT_KILLABLE_RECV;
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	/* Every kernel this runs on (>= 4.17) has TSYNC, LOG and SPEC_ALLOW. WAIT_KILLABLE_RECV without a
	 * listener means nothing and the kernel would refuse it. */
	assert_int_equal(p->load_flags, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
						SECCOMP_FILTER_FLAG_SPEC_ALLOW);
	assert_int_equal(p->dropped_flags, LC_SECCOMP_FLAG_WAIT_KILLABLE_RECV);

	/* With a listener, TSYNC needs TSYNC_ESRCH, and WAIT_KILLABLE_RECV applies where the kernel has it
	 * (5.19); either it is loaded or reported as dropped, never silently lost. */
	c.syscalls = notify;
	c.n_syscalls = 1;
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *q = compile_ok(&c);
	assert_true(q->load_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
	assert_true(q->load_flags & SECCOMP_FILTER_FLAG_TSYNC);
	assert_true(q->load_flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
	assert_true(!!(q->load_flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) !=
		    !!(q->dropped_flags & LC_SECCOMP_FLAG_WAIT_KILLABLE_RECV));
}

/* The real kernel agrees with the interpreter: a child under no_new_privs loads the program (with every flag
 * the kernel took) and getcwd fails with errnoRet while getpid works; a notifying filter yields a listener. */
static void test_install_in_child(void **state) {
	static char *n[] = { "uname", NULL };
	lc_syscall_config sc[] = {
		{ .names = names_getcwd, .n_names = 1, .action = LC_SCMP_ACT_ERRNO, .errno_ret = 42 },
		{ .names = n, .n_names = 1, .action = LC_SCMP_ACT_NOTIFY },
	};
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 2);
	c.flags = LC_SECCOMP_FLAG_LOG | LC_SECCOMP_FLAG_SPEC_ALLOW | LC_SECCOMP_FLAG_TSYNC |
		  LC_SECCOMP_FLAG_WAIT_KILLABLE_RECV;
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[256];
		int listener = -1;
		kc_error err = { 0 };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(10);
		if (lc_seccomp_install(p, &listener, &err) < 0)
			_exit(11);
		if (listener < 0 || !(fcntl(listener, F_GETFD) & FD_CLOEXEC))
			_exit(12);
		if (syscall(SYS_getcwd, buf, sizeof buf) != -1 || errno != 42)
			_exit(13);
		if (getpid() <= 0)
			_exit(14);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Without a place to put the listener, a notifying filter is not loaded at all. */
static void test_install_notify_needs_listener(void **state) {
	static char *n[] = { "uname", NULL };
	lc_syscall_config sc[] = { { .names = n, .n_names = 1, .action = LC_SCMP_ACT_NOTIFY } };
	lc_seccomp_config c = base_config(LC_SCMP_ACT_ALLOW, sc, 1);
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *p = compile_ok(&c);
	assert_int_equal(lc_seccomp_install(p, NULL, NULL), -EINVAL);
}

static void test_action_values(void **state) {
	assert_int_equal(lc_seccomp_action_value(LC_SCMP_ACT_ERRNO, 38), SCMP_ACT_ERRNO(38));
	assert_int_equal(lc_seccomp_action_value(LC_SCMP_ACT_TRACE, 1), SCMP_ACT_TRACE(1));
	assert_int_equal(lc_seccomp_action_value(LC_SCMP_ACT_ALLOW, 38), SCMP_ACT_ALLOW);
	assert_int_equal(lc_seccomp_action_value(LC_SCMP_ACT_KILL_PROCESS, 0), SCMP_ACT_KILL_PROCESS);
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_rule),
		cmocka_unit_test(test_every_action),
		cmocka_unit_test(test_every_op),
		cmocka_unit_test(test_args_are_anded),
		cmocka_unit_test(test_same_index_is_ored),
		cmocka_unit_test(test_unknown_names_skipped),
		cmocka_unit_test(test_skipped_summary_is_bounded),
		cmocka_unit_test(test_rule_with_default_action),
#if defined(__x86_64__)
		cmocka_unit_test(test_architectures),
		cmocka_unit_test(test_name_of_another_arch),
#endif
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_install_in_child),
		cmocka_unit_test(test_install_notify_needs_listener),
		cmocka_unit_test(test_action_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
