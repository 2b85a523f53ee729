/* seccomp: compile with libseccomp in the runtime, install with seccomp(2) in the child. See seccomp.h. */
#include "libcontainer-c/seccomp.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"

#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER 1
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_MODE_FILTER
#define SECCOMP_MODE_FILTER 2
#endif

/* libseccomp's arguments go up to index 5 and errno values below 4096 (MAX_ERRNO). */
#define ARGS_MAX 6
#define ERRNO_MAX 4095
/* More than libseccomp knows (it has about 20); a bound for the token array. */
#define ARCHES_MAX 32

DEFINE_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release);

/* ---- name and value tables ---------------------------------------------------------------------------- */

static const struct {
	uint32_t value;
	bool with_errno; /* the low 16 bits carry errnoRet */
	const char *name;
} action_table[] = {
	[LC_SCMP_ACT_KILL_THREAD] = { SCMP_ACT_KILL_THREAD, false, "SCMP_ACT_KILL_THREAD" },
	[LC_SCMP_ACT_KILL_PROCESS] = { SCMP_ACT_KILL_PROCESS, false, "SCMP_ACT_KILL_PROCESS" },
	[LC_SCMP_ACT_TRAP] = { SCMP_ACT_TRAP, false, "SCMP_ACT_TRAP" },
	[LC_SCMP_ACT_ERRNO] = { SCMP_ACT_ERRNO(0), true, "SCMP_ACT_ERRNO" },
	[LC_SCMP_ACT_TRACE] = { SCMP_ACT_TRACE(0), true, "SCMP_ACT_TRACE" },
	[LC_SCMP_ACT_ALLOW] = { SCMP_ACT_ALLOW, false, "SCMP_ACT_ALLOW" },
	[LC_SCMP_ACT_LOG] = { SCMP_ACT_LOG, false, "SCMP_ACT_LOG" },
	[LC_SCMP_ACT_NOTIFY] = { SCMP_ACT_NOTIFY, false, "SCMP_ACT_NOTIFY" },
};

static const enum scmp_compare op_table[] = {
	[LC_SCMP_CMP_NE] = SCMP_CMP_NE, [LC_SCMP_CMP_LT] = SCMP_CMP_LT,
	[LC_SCMP_CMP_LE] = SCMP_CMP_LE, [LC_SCMP_CMP_EQ] = SCMP_CMP_EQ,
	[LC_SCMP_CMP_GE] = SCMP_CMP_GE, [LC_SCMP_CMP_GT] = SCMP_CMP_GT,
	[LC_SCMP_CMP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

static const struct {
	unsigned lc_flag;
	unsigned long kernel_flag;
} flag_table[] = {
	{ LC_SECCOMP_FLAG_TSYNC, SECCOMP_FILTER_FLAG_TSYNC },
	{ LC_SECCOMP_FLAG_LOG, SECCOMP_FILTER_FLAG_LOG },
	{ LC_SECCOMP_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_SPEC_ALLOW },
	{ LC_SECCOMP_FLAG_WAIT_KILLABLE_RECV, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV },
};

unsigned lc_seccomp_action_value(lc_seccomp_action a, int errno_ret) {
	if ((size_t)a >= ELEMENTSOF(action_table))
		return SCMP_ACT_KILL_PROCESS;
	return action_table[a].value | (action_table[a].with_errno ? ((unsigned)errno_ret & 0xffffu) : 0);
}

static int action_resolve(lc_seccomp_action a, int errno_ret, const char *field, uint32_t *ret, kc_error *err) {
	if ((size_t)a >= ELEMENTSOF(action_table))
		return kc_error_set(err, EINVAL, "%s: unknown action %d", field, (int)a);
	if (action_table[a].with_errno && (errno_ret < 0 || errno_ret > ERRNO_MAX))
		return kc_error_set(err, EINVAL, "%s: errnoRet %d is out of range 0..%d", field, errno_ret,
				    ERRNO_MAX);
	*ret = lc_seccomp_action_value(a, errno_ret);
	return 0;
}

/* ---- flags ---------------------------------------------------------------------------------------------- */

/* Whether this kernel knows a seccomp(2) filter flag. With a NULL program the kernel validates the flags and
 * then faults copying the program: EFAULT means known, EINVAL unknown. Nothing is installed either way. */
static bool kernel_knows_flags(unsigned long flags) {
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, NULL);
	return r < 0 && errno == EFAULT;
}

static void resolve_flags(const lc_seccomp_config *c, lc_seccomp_prog *p) {
	unsigned long base = p->notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;

	p->load_flags = base;
	for (size_t i = 0; i < ELEMENTSOF(flag_table); i++) {
		unsigned long f = flag_table[i].kernel_flag;
		if (!(c->flags & flag_table[i].lc_flag))
			continue;
		/* The kernel takes WAIT_KILLABLE_RECV only with a listener: without one it means nothing. */
		if (f == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV && !p->notify) {
			p->dropped_flags |= flag_table[i].lc_flag;
			continue;
		}
		/* TSYNC with a listener is refused unless TSYNC_ESRCH says how a failed sync is reported. */
		if (f == SECCOMP_FILTER_FLAG_TSYNC && p->notify)
			f |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
		if (!kernel_knows_flags(base | f)) {
			p->dropped_flags |= flag_table[i].lc_flag;
			continue;
		}
		p->load_flags |= (unsigned)f;
	}
}

/* ---- rules ---------------------------------------------------------------------------------------------- */

typedef struct compile_state {
	scmp_filter_ctx ctx;
	uint32_t default_action;
	uint32_t arches[ARCHES_MAX]; /* every architecture in the filter, native first */
	size_t n_arches;
	lc_seccomp_prog *prog; /* counters only; the program is made at the end */
	size_t summary_len;
} compile_state;

static void note_skipped(compile_state *s, const char *name) {
	lc_seccomp_prog *p = s->prog;
	size_t room = sizeof p->skipped_summary - s->summary_len;

	p->n_skipped_names++;
	if (s->summary_len == SIZE_MAX)
		return;
	/* Keep room for " (+N more)" so the summary says how many it left out. */
	if (strlen(name) + 2 + 24 < room) {
		int n = snprintf(p->skipped_summary + s->summary_len, room, "%s%s", s->summary_len ? ", " : "", name);
		s->summary_len += (size_t)n;
	} else
		s->summary_len = SIZE_MAX;
}

static void finish_summary(compile_state *s) {
	lc_seccomp_prog *p = s->prog;
	size_t shown = 0;

	if (s->summary_len != SIZE_MAX)
		return;
	for (const char *q = p->skipped_summary; *q; q++)
		shown += *q == ',';
	shown += p->skipped_summary[0] != '\0';
	size_t len = strlen(p->skipped_summary);
	(void)snprintf(p->skipped_summary + len, sizeof p->skipped_summary - len, " (+%zu more)",
		       p->n_skipped_names - shown);
}

/* Architectures on which libseccomp rewrites a syscall that has no number of its own into a multiplexer
 * (socketcall, ipc): there a negative "pseudo" number can still become a rule. */
static const uint32_t multiplexing_arches[] = {
	SCMP_ARCH_X86, SCMP_ARCH_S390, SCMP_ARCH_S390X, SCMP_ARCH_PPC, SCMP_ARCH_PPC64, SCMP_ARCH_PPC64LE,
	SCMP_ARCH_MIPS, SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPS64, SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPS64N32,
	SCMP_ARCH_MIPSEL64N32,
};

static bool arch_has_name(uint32_t arch, const char *name) {
	int nr = seccomp_syscall_resolve_name_arch(arch, name);
	if (nr >= 0)
		return true;
	if (nr == __NR_SCMP_ERROR)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(multiplexing_arches); i++)
		if (multiplexing_arches[i] == arch)
			return true;
	return false;
}

/* A name counts when some architecture of the filter has it. libseccomp takes the native number (negative
 * for a syscall the native architecture lacks) and maps it for each architecture of the filter; a name no
 * architecture has would add a rule that matches nothing, so it is skipped and reported instead. */
static bool name_resolves(const compile_state *s, const char *name, int *ret_nr) {
	int nr = seccomp_syscall_resolve_name(name);
	bool anywhere = false;

	if (nr == __NR_SCMP_ERROR)
		return false;
	for (size_t i = 0; i < s->n_arches && !anywhere; i++)
		anywhere = arch_has_name(s->arches[i], name);
	if (!anywhere)
		return false;
	*ret_nr = nr;
	return true;
}

static bool args_share_an_index(const lc_syscall_config *sc) {
	unsigned seen = 0;
	for (size_t i = 0; i < sc->n_args; i++) {
		if (seen & (1u << sc->args[i].index))
			return true;
		seen |= 1u << sc->args[i].index;
	}
	return false;
}

static int add_one(compile_state *s, uint32_t action, int nr, unsigned n, const struct scmp_arg_cmp *cmp,
		   size_t i, size_t j, const char *name, kc_error *err) {
	int r = seccomp_rule_add_array(s->ctx, action, nr, n, cmp);
	if (r < 0)
		return kc_error_set(err, r, "linux.seccomp.syscalls[%zu].names[%zu]: libseccomp refused a rule for "
				    "\"%s\": %s", i, j, name, strerror(-r));
	s->prog->n_rules++;
	return 0;
}

static int add_syscall(compile_state *s, const lc_syscall_config *sc, size_t i, kc_error *err) {
	struct scmp_arg_cmp cmp[ARGS_MAX];
	char field[64];
	uint32_t action;
	int r;

	(void)snprintf(field, sizeof field, "linux.seccomp.syscalls[%zu].action", i);
	r = action_resolve(sc->action, sc->errno_ret, field, &action, err);
	if (r < 0)
		return r;
	if (sc->n_args > ARGS_MAX)
		return kc_error_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args: %zu comparisons, at most %d", i,
				    sc->n_args, ARGS_MAX);
	for (size_t k = 0; k < sc->n_args; k++) {
		const lc_seccomp_arg_config *a = &sc->args[k];
		if (a->index >= ARGS_MAX || (size_t)a->op >= ELEMENTSOF(op_table))
			return kc_error_set(err, EINVAL, "linux.seccomp.syscalls[%zu].args[%zu]: index %u or op %d "
					    "out of range", i, k, a->index, (int)a->op);
		cmp[k] = (struct scmp_arg_cmp){ .arg = a->index, .op = op_table[a->op], .datum_a = a->value,
						.datum_b = a->value_two };
	}
	if (action == s->default_action) {
		s->prog->n_default_rules++;
		return 0;
	}
	if (sc->action == LC_SCMP_ACT_NOTIFY)
		s->prog->notify = true;

	bool separate = args_share_an_index(sc);
	for (size_t j = 0; j < sc->n_names; j++) {
		int nr;
		if (!name_resolves(s, sc->names[j], &nr)) {
			note_skipped(s, sc->names[j]);
			continue;
		}
		if (!separate) {
			r = add_one(s, action, nr, (unsigned)sc->n_args, cmp, i, j, sc->names[j], err);
			if (r < 0)
				return r;
			continue;
		}
		for (size_t k = 0; k < sc->n_args; k++) {
			r = add_one(s, action, nr, 1, &cmp[k], i, j, sc->names[j], err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int add_arches(compile_state *s, const lc_seccomp_config *c, kc_error *err) {
	s->arches[s->n_arches++] = seccomp_arch_native();
	if (c->n_architectures > ARCHES_MAX - 1)
		return kc_error_set(err, E2BIG, "linux.seccomp.architectures: %zu entries, at most %d",
				    c->n_architectures, ARCHES_MAX - 1);
	for (size_t i = 0; i < c->n_architectures; i++) {
		uint32_t token = seccomp_arch_resolve_name(c->architectures[i]);
		if (token == 0)
			return kc_error_set(err, EINVAL, "linux.seccomp.architectures[%zu]: \"%s\" is unknown to "
					    "libseccomp %u.%u.%u", i, c->architectures[i], SCMP_VER_MAJOR,
					    SCMP_VER_MINOR, SCMP_VER_MICRO);
		int r = seccomp_arch_add(s->ctx, token);
		if (r == -EEXIST)
			continue;
		if (r < 0)
			return kc_error_set(err, r, "linux.seccomp.architectures[%zu]: adding \"%s\": %s", i,
					    c->architectures[i], strerror(-r));
		s->arches[s->n_arches++] = token;
	}
	return 0;
}

/* ---- export --------------------------------------------------------------------------------------------- */

/* libseccomp 2.5 exports only to an fd; a memfd keeps it off the filesystem and holds any size. */
static int export_program(compile_state *s, lc_seccomp_prog **ret, kc_error *err) {
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r;

	fd = memfd_create("lc-seccomp-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "seccomp: memfd_create: %s", strerror(errno));
	r = seccomp_export_bpf(s->ctx, fd);
	if (r < 0)
		return kc_error_set(err, r, "seccomp: exporting the BPF program: %s", strerror(-r));
	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "seccomp: fstat of the exported program: %s", strerror(errno));
	size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
	if (st.st_size <= 0 || (size_t)st.st_size % sizeof(struct sock_filter) != 0)
		return kc_error_set(err, EIO, "seccomp: libseccomp exported %lld bytes, not whole instructions",
				    (long long)st.st_size);
	if (n > LC_SECCOMP_MAX_INSNS)
		return kc_error_set(err, E2BIG, "linux.seccomp: the filter compiles to %zu instructions, the kernel "
				    "takes at most %d", n, LC_SECCOMP_MAX_INSNS);

	lc_seccomp_prog *p = calloc(1, sizeof *p + n * sizeof(struct sock_filter));
	if (!p)
		return kc_error_set(err, ENOMEM, "seccomp: out of memory for %zu instructions", n);
	*p = *s->prog;
	p->n_insns = n;
	ssize_t got = pread(fd, p->insns, n * sizeof(struct sock_filter), 0);
	if (got != (ssize_t)(n * sizeof(struct sock_filter))) {
		free(p);
		return kc_error_set(err, got < 0 ? errno : EIO, "seccomp: reading the exported program back");
	}
	*ret = p;
	return 0;
}

int lc_seccomp_compile(const lc_seccomp_config *c, lc_seccomp_prog **ret, kc_error *err) {
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	lc_seccomp_prog counters = { 0 };
	compile_state s = { .prog = &counters };
	int r;

	assert_return(c && ret, -EINVAL);
	/* Every syscall the runtime makes after loading (handing the listener to the parent among them) would
	 * wait on a listener that nobody holds yet. runc refuses this too. */
	if (c->default_action == LC_SCMP_ACT_NOTIFY)
		return kc_error_set(err, EINVAL, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default "
				    "action");
	r = action_resolve(c->default_action, c->default_errno_ret, "linux.seccomp.defaultAction",
			   &s.default_action, err);
	if (r < 0)
		return r;
	ctx = seccomp_init(s.default_action);
	if (!ctx)
		return kc_error_set(err, EINVAL, "linux.seccomp.defaultAction: libseccomp refused %s",
				    action_table[c->default_action].name);
	s.ctx = ctx;
	r = add_arches(&s, c, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->n_syscalls; i++) {
		r = add_syscall(&s, &c->syscalls[i], i, err);
		if (r < 0)
			return r;
	}
	finish_summary(&s);
	resolve_flags(c, &counters);
	return export_program(&s, ret, err);
}

lc_seccomp_prog *lc_seccomp_prog_free(lc_seccomp_prog *p) {
	free(p);
	return NULL;
}

/* ---- install (child) ------------------------------------------------------------------------------------ */

int lc_seccomp_install(const lc_seccomp_prog *prog, int *ret_listener_fd, kc_error *err) {
	struct sock_fprog fprog = { .len = (unsigned short)prog->n_insns, .filter = (struct sock_filter *)prog->insns };
	long r;

	assert_return(prog && prog->n_insns > 0 && prog->n_insns <= LC_SECCOMP_MAX_INSNS, -EINVAL);
	assert_return(ret_listener_fd || !prog->notify, -EINVAL);

	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog->load_flags, &fprog);
	/* Kernels before 3.17 have no seccomp(2); prctl installs the same program when no flag is needed. */
	if (r < 0 && errno == ENOSYS && prog->load_flags == 0)
		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
	if (r < 0)
		return kc_error_set(err, errno, "seccomp: loading the filter (%zu instructions, flags %#x): %s%s",
				    prog->n_insns, prog->load_flags, strerror(errno),
				    errno == EACCES ? " (neither no_new_privs nor CAP_SYS_ADMIN)" : "");
	if (ret_listener_fd)
		*ret_listener_fd = prog->notify ? (int)r : -EBADF;
	return 0;
}
