/* Device rules and the BPF_CGROUP_DEVICE program generated from them (see devices-bpf.h for the semantics). */
#include "libcontainer-c/devices-bpf.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"

/* The program calls no helper, so this only labels it for bpftool; the kernel checks it for GPL-only helpers. */
#define LC_DEVICES_BPF_LICENSE "Apache-2.0"

const lc_dev_rule lc_dev_default_rules[] = {
	{ true, 'c', -1, -1, LC_DEV_ACC_MKNOD },
	{ true, 'b', -1, -1, LC_DEV_ACC_MKNOD },
	{ true, 'c', 1, 3, LC_DEV_ACC_ALL },    /* null */
	{ true, 'c', 1, 8, LC_DEV_ACC_ALL },    /* random */
	{ true, 'c', 1, 7, LC_DEV_ACC_ALL },    /* full */
	{ true, 'c', 5, 0, LC_DEV_ACC_ALL },    /* tty */
	{ true, 'c', 1, 5, LC_DEV_ACC_ALL },    /* zero */
	{ true, 'c', 1, 9, LC_DEV_ACC_ALL },    /* urandom */
	{ true, 'c', 5, 1, LC_DEV_ACC_ALL },    /* console */
	{ true, 'c', 136, -1, LC_DEV_ACC_ALL }, /* pts/N */
	{ true, 'c', 5, 2, LC_DEV_ACC_ALL },    /* ptmx */
	{ true, 'c', 10, 200, LC_DEV_ACC_ALL }, /* net/tun */
};
const size_t lc_dev_n_default_rules = ELEMENTSOF(lc_dev_default_rules);

static int parse_access(const char *s, unsigned *ret) {
	static const struct {
		char c;
		unsigned bit;
	} bits[] = { { 'r', LC_DEV_ACC_READ }, { 'w', LC_DEV_ACC_WRITE }, { 'm', LC_DEV_ACC_MKNOD } };
	unsigned acc = 0;

	/* Absent or empty means everything, as runc and crun read it. */
	if (!s || !*s) {
		*ret = LC_DEV_ACC_ALL;
		return 0;
	}
	for (; *s; s++) {
		size_t i;
		for (i = 0; i < ELEMENTSOF(bits) && bits[i].c != *s; i++)
			;
		if (i == ELEMENTSOF(bits))
			return -EINVAL;
		acc |= bits[i].bit;
	}
	*ret = acc;
	return 0;
}

static int parse_number(bool has, int64_t v, int64_t *ret) {
	if (!has || v == -1) {
		*ret = -1;
		return 0;
	}
	if (v < 0 || v > UINT32_MAX)
		return -ERANGE;
	*ret = v;
	return 0;
}

int lc_dev_rules_from_spec(const lc_spec_device_cgroup *d, size_t n, bool add_defaults, lc_dev_rule **ret,
			   size_t *ret_n, kc_error *err) {
	size_t total = n + (add_defaults ? lc_dev_n_default_rules : 0);
	_cleanup_free_ lc_dev_rule *rules = NULL;

	if (total > LC_DEV_RULES_MAX)
		return kc_error_set(err, E2BIG, "linux.resources.devices: %zu rules, at most %d", n, LC_DEV_RULES_MAX);
	rules = calloc(total ? total : 1, sizeof *rules);
	if (!rules)
		return kc_error_set(err, ENOMEM, "linux.resources.devices");
	for (size_t i = 0; i < n; i++) {
		lc_dev_rule *r = &rules[i];
		const char *t = d[i].type;

		r->allow = d[i].allow;
		if (!t || strcmp(t, "a") == 0)
			r->type = 'a';
		else if (strcmp(t, "b") == 0 || strcmp(t, "c") == 0)
			r->type = t[0];
		else
			return kc_error_set(err, EINVAL, "linux.resources.devices[%zu].type: `%s` is not a, b or c", i, t);
		if (parse_access(d[i].access, &r->access) < 0)
			return kc_error_set(err, EINVAL, "linux.resources.devices[%zu].access: `%s` is not a subset of rwm",
					    i, d[i].access);
		if (parse_number(d[i].has_major, d[i].major, &r->major) < 0)
			return kc_error_set(err, ERANGE, "linux.resources.devices[%zu].major: %lld out of range", i,
					    (long long)d[i].major);
		if (parse_number(d[i].has_minor, d[i].minor, &r->minor) < 0)
			return kc_error_set(err, ERANGE, "linux.resources.devices[%zu].minor: %lld out of range", i,
					    (long long)d[i].minor);
	}
	if (add_defaults)
		memcpy(rules + n, lc_dev_default_rules, sizeof lc_dev_default_rules);
	*ret = TAKE_PTR(rules);
	*ret_n = total;
	return 0;
}

int lc_dev_rule_format_v1(const lc_dev_rule *r, char *buf, size_t size) {
	char maj[24] = "*", min[24] = "*", acc[4];
	size_t k = 0;
	int n;

	if (r->type == 'a')
		n = snprintf(buf, size, "a");
	else {
		if (r->major >= 0)
			(void)snprintf(maj, sizeof maj, "%lld", (long long)r->major);
		if (r->minor >= 0)
			(void)snprintf(min, sizeof min, "%lld", (long long)r->minor);
		if (r->access & LC_DEV_ACC_READ)
			acc[k++] = 'r';
		if (r->access & LC_DEV_ACC_WRITE)
			acc[k++] = 'w';
		if (r->access & LC_DEV_ACC_MKNOD)
			acc[k++] = 'm';
		acc[k] = '\0';
		n = snprintf(buf, size, "%c %s:%s %s", r->type, maj, min, acc);
	}
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- generation -------------------------------------------------------------------------------------------- */

/* Registers after the prologue: r2 access bits, r3 device type, r4 major, r5 minor; r1 is scratch once the
 * context has been read. */
enum { R_ACC = 2, R_TYPE = 3, R_MAJOR = 4, R_MINOR = 5, R_TMP = 1 };

typedef struct emitter {
	struct bpf_insn *v;
	size_t n, cap;
	int err;
} emitter;

static size_t emit(emitter *e, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
	if (e->err)
		return 0;
	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : 64;
		struct bpf_insn *p = reallocarray(e->v, ncap, sizeof *p);
		if (!p) {
			e->err = -ENOMEM;
			return 0;
		}
		e->v = p;
		e->cap = ncap;
	}
	e->v[e->n] = (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
	return e->n++;
}

static bool rule_matches_all(const lc_dev_rule *r) {
	return r->type == 'a' && r->access == LC_DEV_ACC_ALL;
}

/* One rule: each check jumps to the next rule on mismatch (offsets patched once the block's end is known). */
static void emit_rule(emitter *e, const lc_dev_rule *r) {
	size_t jumps[4], nj = 0;

	if (r->type != 'a')
		jumps[nj++] = emit(e, BPF_JMP | BPF_JNE | BPF_K, R_TYPE, 0, 0,
				   r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
	if (r->access != LC_DEV_ACC_ALL) {
		emit(e, BPF_ALU64 | BPF_MOV | BPF_X, R_TMP, R_ACC, 0, 0);
		if (r->allow) {
			/* Asks for a bit the rule does not grant: not this rule. */
			emit(e, BPF_ALU64 | BPF_AND | BPF_K, R_TMP, 0, 0, (int32_t)(~r->access & LC_DEV_ACC_ALL));
			jumps[nj++] = emit(e, BPF_JMP | BPF_JNE | BPF_K, R_TMP, 0, 0, 0);
		} else {
			/* Asks for none of the bits the rule denies: not this rule. */
			emit(e, BPF_ALU64 | BPF_AND | BPF_K, R_TMP, 0, 0, (int32_t)r->access);
			jumps[nj++] = emit(e, BPF_JMP | BPF_JEQ | BPF_K, R_TMP, 0, 0, 0);
		}
	}
	if (r->type != 'a' && r->major >= 0)
		jumps[nj++] = emit(e, BPF_JMP | BPF_JNE | BPF_K, R_MAJOR, 0, 0, (int32_t)(uint32_t)r->major);
	if (r->type != 'a' && r->minor >= 0)
		jumps[nj++] = emit(e, BPF_JMP | BPF_JNE | BPF_K, R_MINOR, 0, 0, (int32_t)(uint32_t)r->minor);
	emit(e, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
	emit(e, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	if (e->err)
		return;
	for (size_t i = 0; i < nj; i++)
		e->v[jumps[i]].off = (int16_t)(e->n - jumps[i] - 1);
}

int lc_devices_bpf_generate(const lc_dev_rule *rules, size_t n, struct bpf_insn **ret, size_t *ret_n,
			    kc_error *err) {
	emitter e = {};
	bool open_end = true;

	if (n > LC_DEV_RULES_MAX)
		return kc_error_set(err, E2BIG, "device rules: %zu, at most %d", n, LC_DEV_RULES_MAX);
	/* struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; } */
	emit(&e, BPF_LDX | BPF_MEM | BPF_W, R_ACC, BPF_REG_1, 0, 0);
	emit(&e, BPF_ALU64 | BPF_MOV | BPF_X, R_TYPE, R_ACC, 0, 0);
	emit(&e, BPF_ALU64 | BPF_AND | BPF_K, R_TYPE, 0, 0, 0xffff);
	emit(&e, BPF_ALU64 | BPF_RSH | BPF_K, R_ACC, 0, 0, 16);
	emit(&e, BPF_LDX | BPF_MEM | BPF_W, R_MAJOR, BPF_REG_1, 4, 0);
	emit(&e, BPF_LDX | BPF_MEM | BPF_W, R_MINOR, BPF_REG_1, 8, 0);
	for (size_t i = n; i-- > 0;) {
		emit_rule(&e, &rules[i]);
		if (rule_matches_all(&rules[i])) {
			open_end = false;
			break;
		}
	}
	if (open_end) {
		emit(&e, BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
		emit(&e, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	}
	if (e.err || e.n > INT16_MAX) {
		free(e.v);
		return kc_error_set(err, e.err ? -e.err : E2BIG, "device rules: cannot generate the BPF program");
	}
	*ret = e.v;
	*ret_n = e.n;
	return 0;
}

/* ---- load and attach --------------------------------------------------------------------------------------- */

static int sys_bpf(int cmd, union bpf_attr *attr) {
	long r = syscall(__NR_bpf, cmd, attr, sizeof *attr);
	return r < 0 ? -errno : (int)r;
}

int lc_devices_bpf_load(const struct bpf_insn *insns, size_t n, int *ret_fd, kc_error *err) {
	union bpf_attr attr = {
		.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
		.insns = (uint64_t)(uintptr_t)insns,
		.insn_cnt = (uint32_t)n,
		.license = (uint64_t)(uintptr_t)LC_DEVICES_BPF_LICENSE,
	};
	memcpy(attr.prog_name, LC_DEVICES_BPF_NAME, sizeof LC_DEVICES_BPF_NAME);
	/* BPF fds are created close-on-exec by the kernel. */
	int fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0) {
		*ret_fd = fd;
		return 0;
	}
	if (fd != -EINVAL && fd != -EACCES)
		return kc_error_set(err, -fd, "load the device BPF program: %s", strerror(-fd));
	/* Rejected by the verifier: load again with a log to say why. */
	const size_t log_size = 64u << 10;
	_cleanup_free_ char *log = calloc(1, log_size);
	if (!log)
		return kc_error_set(err, -fd, "load the device BPF program: %s", strerror(-fd));
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = (uint32_t)log_size;
	attr.log_level = 1;
	int fd2 = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd2 >= 0) {
		*ret_fd = fd2;
		return 0;
	}
	size_t len = strnlen(log, log_size);
	while (len > 0 && log[len - 1] == '\n')
		log[--len] = '\0';
	const char *tail = len > 200 ? log + len - 200 : log;
	return kc_error_set(err, -fd, "load the device BPF program: %s (verifier: %s)", strerror(-fd), tail);
}

static int prog_info(int fd, struct bpf_prog_info *info) {
	union bpf_attr attr = {};
	*info = (struct bpf_prog_info){};
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof *info;
	attr.info.info = (uint64_t)(uintptr_t)info;
	return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
}

/* Detaches the programs named ours attached directly to cgroup_fd, except keep_id. */
static int detach_ours(int cgroup_fd, uint32_t keep_id, kc_error *err) {
	uint32_t ids[64];
	union bpf_attr q = {};
	struct bpf_prog_info info;
	int r;

	q.query.target_fd = (uint32_t)cgroup_fd;
	q.query.attach_type = BPF_CGROUP_DEVICE;
	q.query.prog_ids = (uint64_t)(uintptr_t)ids;
	q.query.prog_cnt = ELEMENTSOF(ids);
	r = sys_bpf(BPF_PROG_QUERY, &q);
	if (r < 0)
		return kc_error_set(err, -r, "query the cgroup's device programs: %s", strerror(-r));
	for (uint32_t i = 0; i < q.query.prog_cnt && i < ELEMENTSOF(ids); i++) {
		if (ids[i] == keep_id)
			continue;
		union bpf_attr g = { .prog_id = ids[i] };
		_cleanup_close_ int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
		if (fd < 0)
			continue; /* gone meanwhile */
		if (prog_info(fd, &info) < 0 || strncmp(info.name, LC_DEVICES_BPF_NAME, sizeof info.name) != 0)
			continue;
		union bpf_attr d = {
			.target_fd = (uint32_t)cgroup_fd,
			.attach_bpf_fd = (uint32_t)fd,
			.attach_type = BPF_CGROUP_DEVICE,
		};
		r = sys_bpf(BPF_PROG_DETACH, &d);
		if (r < 0 && r != -ENOENT)
			return kc_error_set(err, -r, "detach the earlier device program (id %u): %s", ids[i],
					    strerror(-r));
	}
	return 0;
}

int lc_devices_bpf_attach(int cgroup_fd, int prog_fd, kc_error *err) {
	struct bpf_prog_info info;
	union bpf_attr a = {
		.target_fd = (uint32_t)cgroup_fd,
		.attach_bpf_fd = (uint32_t)prog_fd,
		.attach_type = BPF_CGROUP_DEVICE,
		.attach_flags = BPF_F_ALLOW_MULTI,
	};
	int r = sys_bpf(BPF_PROG_ATTACH, &a);
	if (r < 0)
		return kc_error_set(err, -r, "attach the device BPF program: %s", strerror(-r));
	r = prog_info(prog_fd, &info);
	if (r < 0)
		return kc_error_set(err, -r, "device BPF program info: %s", strerror(-r));
	return detach_ours(cgroup_fd, info.id, err);
}
