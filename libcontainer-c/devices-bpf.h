/* Device access rules (linux.resources.devices) and the cgroup-v2 BPF_CGROUP_DEVICE program made from them.
 *
 * Semantics, the same on v1 and v2 as far as v1 can express them: default deny; rules are considered in order
 * and the last one that matches decides (runc's rule). An allow rule matches a request when it grants every
 * access bit asked for; a deny rule matches when it names any of them, so denying "w" also refuses an open for
 * "rw" (runc lets that through to earlier rules; v1's deny exceptions behave like ours). Type "a" matches
 * every device, whatever major and minor say. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/bpf.h>

#include "common/error.h"
#include "libcontainer-c/spec.h"

/* The kernel's BPF_DEVCG_ACC_* bits, also used for v1's "rwm". */
enum {
	LC_DEV_ACC_MKNOD = 1 << 0,
	LC_DEV_ACC_READ = 1 << 1,
	LC_DEV_ACC_WRITE = 1 << 2,
	LC_DEV_ACC_ALL = 7,
};

typedef struct lc_dev_rule {
	bool allow;
	char type;             /* 'a', 'b' or 'c' */
	int64_t major, minor;  /* -1: any */
	unsigned access;       /* LC_DEV_ACC_* */
} lc_dev_rule;

/* Rules appended after the spec's with LC_CGROUP_DEFAULT_DEVICES: mknod of any device, and /dev/null, zero,
 * full, random, urandom, tty, console, ptmx, pts/N, net/tun. */
extern const lc_dev_rule lc_dev_default_rules[];
extern const size_t lc_dev_n_default_rules;

/* Rules in one program; more is a hostile spec (the verifier's limit is far above what this makes). */
#define LC_DEV_RULES_MAX 4096

/* Checks and converts linux.resources.devices (errors name `linux.resources.devices[N].field`); with
 * add_defaults the default rules follow. *ret is malloc'd. */
int lc_dev_rules_from_spec(const lc_spec_device_cgroup *d, size_t n, bool add_defaults, lc_dev_rule **ret,
			   size_t *ret_n, kc_error *err);

/* v1 form for devices.allow / devices.deny: "a", or "c 1:3 rwm" with '*' for a wildcard. */
int lc_dev_rule_format_v1(const lc_dev_rule *r, char *buf, size_t size);

/* The program: reads the request (type, access, major, minor) from struct bpf_cgroup_dev_ctx, tries the
 * rules last to first and returns the first match's verdict (1 allow, 0 deny), else 0. Code after a rule that
 * matches everything would be unreachable, which the verifier refuses, so generation stops there. *ret is
 * malloc'd. */
int lc_devices_bpf_generate(const lc_dev_rule *rules, size_t n, struct bpf_insn **ret, size_t *ret_n,
			    kc_error *err);

/* The name our programs carry (BPF_OBJ_NAME_LEN), so that an update finds the one an earlier process
 * attached. */
#define LC_DEVICES_BPF_NAME "lc_devices"

/* bpf(BPF_PROG_LOAD) as BPF_PROG_TYPE_CGROUP_DEVICE; the fd is close-on-exec (the kernel makes BPF fds so).
 * A verifier rejection quotes the end of the verifier's log. */
int lc_devices_bpf_load(const struct bpf_insn *insns, size_t n, int *ret_fd, kc_error *err);

/* Attaches prog_fd to the cgroup2 directory cgroup_fd (BPF_F_ALLOW_MULTI, so the programs of ancestors keep
 * applying), then detaches every other program named LC_DEVICES_BPF_NAME attached directly to it: until then
 * both run and both must allow, so replacing never opens a window. */
int lc_devices_bpf_attach(int cgroup_fd, int prog_fd, kc_error *err);
