/* linux.resources → cgroup files. One function per resource group, each picking the hierarchy that serves its
 * controller (v1 or v2, which on hybrid can differ per controller) and writing that version's files. Errors
 * name the spec field, then the file and value (lc_cg_write). */
#include "libcontainer-c/cgroup-internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "libcontainer-c/devices-bpf.h"

/* ---- conversions ------------------------------------------------------------------------------------------- */

uint64_t lc_cgroup_shares_to_weight(uint64_t shares) {
	if (shares == 0)
		return 0;
	if (shares <= 2)
		return 1;
	if (shares >= 262144)
		return 10000;
	/* Quadratic in log2(shares) through (2, 1), (1024, 100) and (262144, 10000): the v1 default maps to the
	 * v2 default, which the old linear formula (1024 → 39) did not. */
	double l = log2((double)shares);
	double w = ceil(pow(10.0, (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0));
	return w < 1 ? 1 : w > 10000 ? 10000 : (uint64_t)w;
}

uint64_t lc_cgroup_blkio_weight_to_io_weight(uint64_t weight) {
	if (weight <= 10)
		return 1;
	if (weight >= 1000)
		return 10000;
	return 1 + (weight - 10) * 9999 / 990;
}

int lc_cgroup_swap_to_v2(bool has_limit, int64_t limit, int64_t swap, int64_t *ret) {
	/* 0 (no swap) and -1 (unlimited) mean the same on both versions. */
	if (swap == 0 || swap == -1) {
		*ret = swap;
		return 0;
	}
	if (swap < -1 || !has_limit || limit <= 0 || swap < limit)
		return -EINVAL;
	*ret = swap - limit;
	return 0;
}

/* ---- writing ----------------------------------------------------------------------------------------------- */

static int need(lc_cgroup *cg, lc_cgroup_controller c, const char *field, kc_error *err) {
	int h = lc_cg_where(cg, c);
	if (h < 0)
		return kc_error_set(err, EOPNOTSUPP, "%s: no %s controller on this host (%s layout)", field,
				    lc_cgroup_controller_name(c, cg->layout->mode == LC_CGROUP_V2) ?:
					    lc_cgroup_controller_name(c, false),
				    lc_cgroup_mode_name(cg->layout->mode));
	return h;
}

static int v1_only(const char *field, kc_error *err) {
	return kc_error_set(err, EOPNOTSUPP, "%s: cgroup v1 only, this controller is on cgroup v2", field);
}

static int write_field(lc_cgroup *cg, int h, const char *field, const char *file, const char *value,
		       kc_error *err) {
	int r = lc_cg_write(cg, h, file, value, err);
	return r < 0 ? kc_error_prefix(err, "%s", field) : 0;
}

static int field_error(lc_cgroup *cg, int h, const char *field, const char *file, const char *value, int r,
		       kc_error *err) {
	(void)lc_cg_write_error(cg, h, file, value, r, err);
	return kc_error_prefix(err, "%s", field);
}

static int write_u64(lc_cgroup *cg, int h, const char *field, const char *file, uint64_t v, kc_error *err) {
	char buf[DECIMAL_STR_MAX(uint64_t)];
	(void)format_checked(buf, sizeof buf, "%" PRIu64, v);
	return write_field(cg, h, field, file, buf, err);
}

/* v2 limits: a negative value is "max". v1 takes the number itself (-1 is unlimited there). */
static int write_limit(lc_cgroup *cg, int h, const char *field, const char *file, int64_t v, kc_error *err) {
	char buf[DECIMAL_STR_MAX(int64_t)];
	if (v < 0 && lc_cg_is_v2(cg, h))
		return write_field(cg, h, field, file, "max", err);
	(void)format_checked(buf, sizeof buf, "%" PRId64, v);
	return write_field(cg, h, field, file, buf, err);
}

/* The first name, or the alias where the kernel only has that one (BFQ's blkio.bfq.* on v1, for instance). */
static int write_aliased(lc_cgroup *cg, int h, const char *field, const char *file, const char *alias,
			 const char *value, kc_error *err) {
	int r = lc_cg_try_write(cg, h, file, value);
	if (r != -ENOENT)
		return r < 0 ? field_error(cg, h, field, file, value, r, err) : 0;
	return write_field(cg, h, field, alias, value, err);
}

/* ---- memory ------------------------------------------------------------------------------------------------ */

static int memory_check_usage(lc_cgroup *cg, int h, const lc_spec_memory *m, kc_error *err) {
	uint64_t usage;
	int r;

	if (!m->has_limit || m->limit <= 0)
		return 0;
	r = lc_cg_read_u64(cg, h, lc_cg_is_v2(cg, h) ? "memory.current" : "memory.usage_in_bytes", &usage, err);
	if (r < 0)
		return kc_error_prefix(err, "linux.resources.memory.checkBeforeUpdate");
	if ((uint64_t)m->limit <= usage)
		return kc_error_set(err, EBUSY, "linux.resources.memory.limit: %" PRId64
				    " is not above the current usage %" PRIu64 " (checkBeforeUpdate)", m->limit, usage);
	return 0;
}

static int memory_v2(lc_cgroup *cg, int h, const lc_spec_memory *m, kc_error *err) {
	int r;

	if (m->has_swappiness)
		return v1_only("linux.resources.memory.swappiness", err);
	if (m->has_kernel_tcp)
		return v1_only("linux.resources.memory.kernelTCP", err);
	if (m->has_disable_oom_killer && m->disable_oom_killer)
		return v1_only("linux.resources.memory.disableOOMKiller", err);
	if (m->has_use_hierarchy && !m->use_hierarchy)
		return kc_error_set(err, EOPNOTSUPP, "linux.resources.memory.useHierarchy: cgroup v2 is always "
				    "hierarchical");
	if (m->has_limit) {
		r = write_limit(cg, h, "linux.resources.memory.limit", "memory.max", m->limit, err);
		if (r < 0)
			return r;
	}
	if (m->has_swap || (m->has_limit && m->limit == -1)) {
		int64_t swap = -1;
		/* An unlimited memory with no word on swap unlimits swap too, as v1's memsw must follow. */
		if (m->has_swap && lc_cgroup_swap_to_v2(m->has_limit, m->limit, m->swap, &swap) < 0)
			return kc_error_set(err, EINVAL, "linux.resources.memory.swap: %" PRId64 " with limit %s%" PRId64
					    ": memory+swap needs a memory limit no larger than it", m->swap,
					    m->has_limit ? "" : "(absent) ", m->has_limit ? m->limit : 0);
		char buf[DECIMAL_STR_MAX(int64_t)] = "max";
		if (swap >= 0)
			(void)format_checked(buf, sizeof buf, "%" PRId64, swap);
		r = lc_cg_try_write(cg, h, "memory.swap.max", buf);
		/* No memory.swap.max: the kernel has no swap accounting; there is no swap to limit. */
		if (r < 0 && r != -ENOENT)
			return field_error(cg, h, "linux.resources.memory.swap", "memory.swap.max", buf, r, err);
	}
	if (m->has_reservation)
		return write_limit(cg, h, "linux.resources.memory.reservation", "memory.low", m->reservation, err);
	return 0;
}

static int memory_v1_limits(lc_cgroup *cg, int h, const lc_spec_memory *m, kc_error *err) {
	char lim[DECIMAL_STR_MAX(int64_t)], sw[DECIMAL_STR_MAX(int64_t)];
	bool want_memsw = m->has_swap || (m->has_limit && m->limit == -1);
	int r;

	(void)format_checked(lim, sizeof lim, "%" PRId64, m->limit);
	(void)format_checked(sw, sizeof sw, "%" PRId64, m->has_swap ? m->swap : -1);
	if (m->has_limit) {
		r = lc_cg_try_write(cg, h, "memory.limit_in_bytes", lim);
		/* memory.limit_in_bytes may not exceed memory.memsw.limit_in_bytes: raising both needs memsw first. */
		if (r == -EINVAL && want_memsw) {
			r = write_field(cg, h, "linux.resources.memory.swap", "memory.memsw.limit_in_bytes", sw, err);
			if (r < 0)
				return r;
			want_memsw = false;
			r = lc_cg_try_write(cg, h, "memory.limit_in_bytes", lim);
		}
		if (r < 0)
			return field_error(cg, h, "linux.resources.memory.limit", "memory.limit_in_bytes", lim, r, err);
	}
	if (want_memsw) {
		r = lc_cg_try_write(cg, h, "memory.memsw.limit_in_bytes", sw);
		/* No memsw files: swap accounting is off (swapaccount=0), so there is no swap to limit. */
		if (r < 0 && r != -ENOENT)
			return field_error(cg, h, "linux.resources.memory.swap", "memory.memsw.limit_in_bytes", sw, r, err);
	}
	return 0;
}

static int memory_v1(lc_cgroup *cg, int h, const lc_spec_memory *m, bool update, kc_error *err) {
	int r = memory_v1_limits(cg, h, m, err);
	if (r < 0)
		return r;
	if (m->has_reservation) {
		r = write_limit(cg, h, "linux.resources.memory.reservation", "memory.soft_limit_in_bytes",
				m->reservation, err);
		if (r < 0)
			return r;
	}
	if (m->has_kernel_tcp) {
		r = write_limit(cg, h, "linux.resources.memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes",
				m->kernel_tcp, err);
		if (r < 0)
			return r;
	}
	if (m->has_swappiness) {
		r = write_u64(cg, h, "linux.resources.memory.swappiness", "memory.swappiness", m->swappiness, err);
		if (r < 0)
			return r;
	}
	/* "0" is the kernel's default: only an update needs to say it. */
	if (m->has_disable_oom_killer && (m->disable_oom_killer || update)) {
		r = write_field(cg, h, "linux.resources.memory.disableOOMKiller", "memory.oom_control",
				m->disable_oom_killer ? "1" : "0", err);
		if (r < 0)
			return r;
	}
	if (m->has_use_hierarchy)
		return write_field(cg, h, "linux.resources.memory.useHierarchy", "memory.use_hierarchy",
				   m->use_hierarchy ? "1" : "0", err);
	return 0;
}

/* memory.kernel is ignored on both versions: Linux 5.16 removed kernel memory limits and the spec deprecates
 * the field (runc ignores it too). */
static int apply_memory(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	const lc_spec_memory *m = res->memory;
	if (!m)
		return 0;
	int h = need(cg, LC_CG_MEMORY, "linux.resources.memory", err);
	if (h < 0)
		return h;
	if (update && m->has_check_before_update && m->check_before_update) {
		int r = memory_check_usage(cg, h, m, err);
		if (r < 0)
			return r;
	}
	return lc_cg_is_v2(cg, h) ? memory_v2(cg, h, m, err) : memory_v1(cg, h, m, update, err);
}

/* ---- cpu --------------------------------------------------------------------------------------------------- */

/* An update that gives only the quota or only the period keeps the other one. */
static void cpu_max_current(lc_cgroup *cg, int h, int64_t *quota, uint64_t *period) {
	_cleanup_free_ char *text = NULL;
	char q[32];
	unsigned long long p;
	if (lc_cg_read(cg, h, "cpu.max", &text, NULL) < 0 || sscanf(text, "%31s %llu", q, &p) != 2)
		return;
	*period = p;
	if (strcmp(q, "max") == 0)
		*quota = -1;
	else
		(void)parse_i64(q, quota);
}

static int cpu_v2(lc_cgroup *cg, int h, const lc_spec_cpu *c, bool update, kc_error *err) {
	bool have_q = c->has_quota && c->quota != 0, have_p = c->has_period && c->period != 0;
	int r;

	if (c->has_realtime_runtime || c->has_realtime_period)
		return v1_only("linux.resources.cpu.realtimeRuntime/realtimePeriod", err);
	/* shares 0 is Docker's "not set". */
	if (c->has_shares && c->shares != 0) {
		r = write_u64(cg, h, "linux.resources.cpu.shares", "cpu.weight", lc_cgroup_shares_to_weight(c->shares),
			      err);
		if (r < 0)
			return r;
	}
	if (have_q || have_p) {
		int64_t quota = -1;
		uint64_t period = 100000;
		char buf[64];
		if (update)
			cpu_max_current(cg, h, &quota, &period);
		if (have_q)
			quota = c->quota;
		if (have_p)
			period = c->period;
		if (quota < 0)
			(void)format_checked(buf, sizeof buf, "max %" PRIu64, period);
		else
			(void)format_checked(buf, sizeof buf, "%" PRId64 " %" PRIu64, quota, period);
		r = write_field(cg, h, "linux.resources.cpu.quota/period", "cpu.max", buf, err);
		if (r < 0)
			return r;
	}
	if (c->has_burst) {
		r = write_u64(cg, h, "linux.resources.cpu.burst", "cpu.max.burst", c->burst, err);
		if (r < 0)
			return r;
	}
	if (c->has_idle)
		return write_limit(cg, h, "linux.resources.cpu.idle", "cpu.idle", c->idle, err);
	return 0;
}

static int cpu_v1(lc_cgroup *cg, int h, const lc_spec_cpu *c, kc_error *err) {
	bool have_q = c->has_quota && c->quota != 0, have_p = c->has_period && c->period != 0;
	bool period_later = false;
	char period[DECIMAL_STR_MAX(uint64_t)];
	int r;

	if (c->has_shares && c->shares != 0) {
		r = write_u64(cg, h, "linux.resources.cpu.shares", "cpu.shares", c->shares, err);
		if (r < 0)
			return r;
	}
	(void)format_checked(period, sizeof period, "%" PRIu64, c->period);
	if (have_p) {
		r = lc_cg_try_write(cg, h, "cpu.cfs_period_us", period);
		/* A shorter period can make the old quota exceed the parent's (EINVAL): set the quota first. */
		if (r == -EINVAL && have_q)
			period_later = true;
		else if (r < 0)
			return field_error(cg, h, "linux.resources.cpu.period", "cpu.cfs_period_us", period, r, err);
	}
	if (have_q) {
		r = write_limit(cg, h, "linux.resources.cpu.quota", "cpu.cfs_quota_us", c->quota, err);
		if (r < 0)
			return r;
	}
	if (period_later) {
		r = write_field(cg, h, "linux.resources.cpu.period", "cpu.cfs_period_us", period, err);
		if (r < 0)
			return r;
	}
	/* The period bounds the runtime, so it goes first. */
	if (c->has_realtime_period) {
		r = write_u64(cg, h, "linux.resources.cpu.realtimePeriod", "cpu.rt_period_us", c->realtime_period, err);
		if (r < 0)
			return r;
	}
	if (c->has_realtime_runtime) {
		r = write_limit(cg, h, "linux.resources.cpu.realtimeRuntime", "cpu.rt_runtime_us", c->realtime_runtime,
				err);
		if (r < 0)
			return r;
	}
	if (c->has_burst) {
		r = write_u64(cg, h, "linux.resources.cpu.burst", "cpu.cfs_burst_us", c->burst, err);
		if (r < 0)
			return r;
	}
	if (c->has_idle)
		return write_limit(cg, h, "linux.resources.cpu.idle", "cpu.idle", c->idle, err);
	return 0;
}

static int apply_cpu(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	const lc_spec_cpu *c = res->cpu;
	if (!c)
		return 0;
	if (c->has_shares || c->has_quota || c->has_period || c->has_burst || c->has_idle || c->has_realtime_period ||
	    c->has_realtime_runtime) {
		int h = need(cg, LC_CG_CPU, "linux.resources.cpu", err);
		if (h < 0)
			return h;
		int r = lc_cg_is_v2(cg, h) ? cpu_v2(cg, h, c, update, err) : cpu_v1(cg, h, c, err);
		if (r < 0)
			return r;
	}
	/* The same file names on both versions. An empty string leaves the set as it is. */
	if ((c->cpus && *c->cpus) || (c->mems && *c->mems)) {
		int h = need(cg, LC_CG_CPUSET, "linux.resources.cpu.cpus/mems", err);
		if (h < 0)
			return h;
		if (c->cpus && *c->cpus) {
			int r = write_field(cg, h, "linux.resources.cpu.cpus", "cpuset.cpus", c->cpus, err);
			if (r < 0)
				return r;
		}
		if (c->mems && *c->mems)
			return write_field(cg, h, "linux.resources.cpu.mems", "cpuset.mems", c->mems, err);
	}
	return 0;
}

/* ---- pids -------------------------------------------------------------------------------------------------- */

static int apply_pids(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	if (!res->pids || !res->pids->has_limit)
		return 0;
	int h = need(cg, LC_CG_PIDS, "linux.resources.pids", err);
	if (h < 0)
		return h;
	/* The spec: 0 or -1 is no limit; pids.max spells that "max" on both versions. */
	if (res->pids->limit <= 0)
		return write_field(cg, h, "linux.resources.pids.limit", "pids.max", "max", err);
	return write_u64(cg, h, "linux.resources.pids.limit", "pids.max", (uint64_t)res->pids->limit, err);
}

/* ---- block I/O --------------------------------------------------------------------------------------------- */

static const struct {
	const char *field, *v1_file, *v2_key;
} throttles[_LC_THROTTLE_MAX] = {
	[LC_THROTTLE_READ_BPS] = { "throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps" },
	[LC_THROTTLE_WRITE_BPS] = { "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps" },
	[LC_THROTTLE_READ_IOPS] = { "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops" },
	[LC_THROTTLE_WRITE_IOPS] = { "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops" },
};

static int blkio_v2(lc_cgroup *cg, int h, const lc_spec_blockio *b, kc_error *err) {
	char buf[128], field[96];
	int r;

	if (b->has_leaf_weight)
		return v1_only("linux.resources.blockIO.leafWeight", err);
	/* BFQ's io.bfq.weight takes blkio's 1..1000 scale; without BFQ, io.weight (1..10000) converted. */
	if (b->has_weight && b->weight != 0) {
		(void)format_checked(buf, sizeof buf, "%" PRIu32, b->weight);
		r = lc_cg_try_write(cg, h, "io.bfq.weight", buf);
		if (r == -ENOENT) {
			(void)format_checked(buf, sizeof buf, "%" PRIu64, lc_cgroup_blkio_weight_to_io_weight(b->weight));
			r = write_field(cg, h, "linux.resources.blockIO.weight", "io.weight", buf, err);
		} else if (r < 0)
			r = field_error(cg, h, "linux.resources.blockIO.weight", "io.bfq.weight", buf, r, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < b->n_weight_devices; i++) {
		const lc_spec_weight_device *d = &b->weight_devices[i];
		if (!d->has_weight)
			continue; /* leafWeight has no v2 counterpart */
		(void)format_checked(field, sizeof field, "linux.resources.blockIO.weightDevice[%zu]", i);
		(void)format_checked(buf, sizeof buf, "%" PRId64 ":%" PRId64 " %" PRIu32, d->major, d->minor, d->weight);
		r = lc_cg_try_write(cg, h, "io.bfq.weight", buf);
		if (r == -ENOENT) {
			(void)format_checked(buf, sizeof buf, "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor,
					     lc_cgroup_blkio_weight_to_io_weight(d->weight));
			r = write_field(cg, h, field, "io.weight", buf, err);
		} else if (r < 0)
			r = field_error(cg, h, field, "io.bfq.weight", buf, r, err);
		if (r < 0)
			return r;
	}
	for (size_t k = 0; k < _LC_THROTTLE_MAX; k++)
		for (size_t i = 0; i < b->throttle[k].n; i++) {
			const lc_spec_throttle_device *d = &b->throttle[k].v[i];
			(void)format_checked(field, sizeof field, "linux.resources.blockIO.%s[%zu]", throttles[k].field, i);
			/* v1 reads rate 0 as "no limit"; io.max spells that "max". */
			if (d->rate == 0)
				(void)format_checked(buf, sizeof buf, "%" PRId64 ":%" PRId64 " %s=max", d->major, d->minor,
						     throttles[k].v2_key);
			else
				(void)format_checked(buf, sizeof buf, "%" PRId64 ":%" PRId64 " %s=%" PRIu64, d->major,
						     d->minor, throttles[k].v2_key, d->rate);
			r = write_field(cg, h, field, "io.max", buf, err);
			if (r < 0)
				return r;
		}
	return 0;
}

static int blkio_v1(lc_cgroup *cg, int h, const lc_spec_blockio *b, kc_error *err) {
	char buf[128], field[96];
	int r;

	if (b->has_weight && b->weight != 0) {
		(void)format_checked(buf, sizeof buf, "%" PRIu32, b->weight);
		r = write_aliased(cg, h, "linux.resources.blockIO.weight", "blkio.weight", "blkio.bfq.weight", buf, err);
		if (r < 0)
			return r;
	}
	if (b->has_leaf_weight && b->leaf_weight != 0) {
		(void)format_checked(buf, sizeof buf, "%" PRIu32, b->leaf_weight);
		r = write_field(cg, h, "linux.resources.blockIO.leafWeight", "blkio.leaf_weight", buf, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < b->n_weight_devices; i++) {
		const lc_spec_weight_device *d = &b->weight_devices[i];
		(void)format_checked(field, sizeof field, "linux.resources.blockIO.weightDevice[%zu]", i);
		if (d->has_weight) {
			(void)format_checked(buf, sizeof buf, "%" PRId64 ":%" PRId64 " %" PRIu32, d->major, d->minor,
					     d->weight);
			r = write_aliased(cg, h, field, "blkio.weight_device", "blkio.bfq.weight_device", buf, err);
			if (r < 0)
				return r;
		}
		if (d->has_leaf_weight) {
			(void)format_checked(buf, sizeof buf, "%" PRId64 ":%" PRId64 " %" PRIu32, d->major, d->minor,
					     d->leaf_weight);
			r = write_field(cg, h, field, "blkio.leaf_weight_device", buf, err);
			if (r < 0)
				return r;
		}
	}
	for (size_t k = 0; k < _LC_THROTTLE_MAX; k++)
		for (size_t i = 0; i < b->throttle[k].n; i++) {
			const lc_spec_throttle_device *d = &b->throttle[k].v[i];
			(void)format_checked(field, sizeof field, "linux.resources.blockIO.%s[%zu]", throttles[k].field, i);
			(void)format_checked(buf, sizeof buf, "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor,
					     d->rate);
			r = write_field(cg, h, field, throttles[k].v1_file, buf, err);
			if (r < 0)
				return r;
		}
	return 0;
}

static int apply_blockio(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	const lc_spec_blockio *b = res->blockio;
	bool any = b && (b->has_weight || b->has_leaf_weight || b->n_weight_devices);
	for (size_t k = 0; b && k < _LC_THROTTLE_MAX; k++)
		any = any || b->throttle[k].n > 0;
	if (!any)
		return 0;
	int h = need(cg, LC_CG_IO, "linux.resources.blockIO", err);
	if (h < 0)
		return h;
	return lc_cg_is_v2(cg, h) ? blkio_v2(cg, h, b, err) : blkio_v1(cg, h, b, err);
}

/* ---- hugetlb, network, rdma -------------------------------------------------------------------------------- */

/* The kernel's page size names: digits and KB, MB or GB ("2MB", "1GB", "64KB"). */
static bool page_size_valid(const char *s) {
	size_t digits = strspn(s, "0123456789");
	return digits > 0 && digits < 8 && strchr("KMG", s[digits]) && s[digits] && s[digits + 1] == 'B' &&
	       s[digits + 2] == '\0';
}

static int apply_hugetlb(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	char field[64], file[64];
	if (res->n_hugepage_limits == 0)
		return 0;
	int h = need(cg, LC_CG_HUGETLB, "linux.resources.hugepageLimits", err);
	if (h < 0)
		return h;
	for (size_t i = 0; i < res->n_hugepage_limits; i++) {
		const lc_spec_hugepage_limit *p = &res->hugepage_limits[i];
		(void)format_checked(field, sizeof field, "linux.resources.hugepageLimits[%zu]", i);
		if (!p->page_size || !page_size_valid(p->page_size))
			return kc_error_set(err, EINVAL, "%s.pageSize: `%s` is not a page size like 2MB", field,
					    p->page_size ?: "");
		(void)format_checked(file, sizeof file, "hugetlb.%s.%s", p->page_size,
				     lc_cg_is_v2(cg, h) ? "max" : "limit_in_bytes");
		int r = write_u64(cg, h, field, file, p->limit, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int apply_network(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	const lc_spec_network *n = res->network;
	char field[64], buf[64];
	int r;

	if (!n || (!n->has_class_id && n->n_priorities == 0))
		return 0;
	/* net_cls and net_prio never existed on cgroup v2 (their job moved to BPF and the network stack). */
	if (n->has_class_id) {
		int h = need(cg, LC_CG_NET_CLS, "linux.resources.network.classID", err);
		if (h < 0)
			return h;
		r = write_u64(cg, h, "linux.resources.network.classID", "net_cls.classid", n->class_id, err);
		if (r < 0)
			return r;
	}
	if (n->n_priorities == 0)
		return 0;
	int h = need(cg, LC_CG_NET_PRIO, "linux.resources.network.priorities", err);
	if (h < 0)
		return h;
	for (size_t i = 0; i < n->n_priorities; i++) {
		const lc_spec_interface_priority *p = &n->priorities[i];
		(void)format_checked(field, sizeof field, "linux.resources.network.priorities[%zu]", i);
		if (!p->name || !*p->name || strlen(p->name) >= 16 || strpbrk(p->name, " \t\n/"))
			return kc_error_set(err, EINVAL, "%s.name: `%s` is not an interface name", field, p->name ?: "");
		(void)format_checked(buf, sizeof buf, "%s %" PRIu32, p->name, p->priority);
		r = write_field(cg, h, field, "net_prio.ifpriomap", buf, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int apply_rdma(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	char field[64], buf[192];
	if (res->n_rdma == 0)
		return 0;
	int h = need(cg, LC_CG_RDMA, "linux.resources.rdma", err);
	if (h < 0)
		return h;
	for (size_t i = 0; i < res->n_rdma; i++) {
		const lc_spec_rdma *d = &res->rdma[i];
		size_t used;
		(void)format_checked(field, sizeof field, "linux.resources.rdma[%zu]", i);
		if (!d->name || !*d->name || strlen(d->name) > 64 || strpbrk(d->name, " \t\n=/"))
			return kc_error_set(err, EINVAL, "%s: `%s` is not an RDMA device name", field, d->name ?: "");
		if (!d->has_hca_handles && !d->has_hca_objects)
			continue;
		(void)format_checked(buf, sizeof buf, "%s", d->name);
		used = strlen(buf);
		if (d->has_hca_handles)
			used += (size_t)format_checked(buf + used, sizeof buf - used, " hca_handle=%" PRIu32, d->hca_handles);
		if (d->has_hca_objects)
			(void)format_checked(buf + used, sizeof buf - used, " hca_object=%" PRIu32, d->hca_objects);
		int r = write_field(cg, h, field, "rdma.max", buf, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- unified ----------------------------------------------------------------------------------------------- */

/* A key is a file of this cgroup: one name, no path. The cgroup.* files that move processes, change the tree
 * or kill are ours to drive. */
static bool unified_key_valid(const char *k) {
	static const char *const allowed_core[] = { "cgroup.max.depth", "cgroup.max.descendants" };
	if (!k || !*k || strchr(k, '/') || strcmp(k, ".") == 0 || strcmp(k, "..") == 0 || !strchr(k, '.'))
		return false;
	if (strncmp(k, "cgroup.", 7) != 0)
		return true;
	for (size_t i = 0; i < ELEMENTSOF(allowed_core); i++)
		if (strcmp(k, allowed_core[i]) == 0)
			return true;
	return false;
}

static int apply_unified(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	char field[96];
	if (res->n_unified == 0)
		return 0;
	int h = cg->layout->unified;
	if (h < 0)
		return kc_error_set(err, EOPNOTSUPP, "linux.resources.unified: needs cgroup v2, this host has v1 only");
	for (size_t i = 0; i < res->n_unified; i++) {
		const lc_kv *kv = &res->unified[i];
		if (!unified_key_valid(kv->key))
			return kc_error_set(err, EINVAL, "linux.resources.unified: key `%s` is not a file of this cgroup",
					    kv->key ?: "");
		(void)format_checked(field, sizeof field, "linux.resources.unified[%.60s]", kv->key);
		if (!kv->value)
			continue;
		/* One write per line: io.max and similar files take one entry per write. */
		for (const char *p = kv->value; *p;) {
			size_t len = strcspn(p, "\n");
			if (len > 0) {
				_cleanup_free_ char *line = strndup(p, len);
				if (!line)
					return kc_error_set(err, ENOMEM, "%s", field);
				int r = write_field(cg, h, field, kv->key, line, err);
				if (r < 0)
					return r;
			}
			p += len;
			p += *p == '\n';
		}
	}
	return 0;
}

/* ---- devices ----------------------------------------------------------------------------------------------- */

static int devices_v1(lc_cgroup *cg, int h, const lc_dev_rule *rules, size_t n, kc_error *err) {
	char buf[64];
	int r = write_field(cg, h, "linux.resources.devices", "devices.deny", "a", err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (lc_dev_rule_format_v1(&rules[i], buf, sizeof buf) < 0)
			return kc_error_set(err, EINVAL, "linux.resources.devices[%zu]: cannot format", i);
		r = write_field(cg, h, "linux.resources.devices", rules[i].allow ? "devices.allow" : "devices.deny", buf,
				err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int devices_v2(lc_cgroup *cg, int h, const lc_dev_rule *rules, size_t n, kc_error *err) {
	_cleanup_free_ struct bpf_insn *insns = NULL;
	_cleanup_close_ int prog = -EBADF;
	char path[PATH_MAX];
	size_t n_insns;
	int r;

	r = lc_devices_bpf_generate(rules, n, &insns, &n_insns, err);
	if (r < 0)
		return r;
	if (cg->layout->bpf_hook)
		return cg->layout->bpf_hook(cg->layout->hook_data, insns, n_insns);
	r = lc_devices_bpf_load(insns, n_insns, &prog, err);
	if (r >= 0)
		r = lc_devices_bpf_attach(cg->dirfd[h], prog, err);
	if (r < 0)
		return kc_error_prefix(err, "linux.resources.devices: %s", lc_cg_fullpath(cg, h, NULL, path));
	(void)safe_close(cg->bpf_prog_fd);
	cg->bpf_prog_fd = TAKE_FD(prog);
	return 0;
}

int lc_cg_apply_devices(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	_cleanup_free_ lc_dev_rule *rules = NULL;
	size_t n_spec = res ? res->n_devices : 0, n;
	int r;

	/* An update without rules keeps the policy; a create always installs one (deny by default). */
	if ((update && n_spec == 0) || (cg->flags & LC_CGROUP_NO_DEVICES))
		return 0;
	r = lc_dev_rules_from_spec(res ? res->devices : NULL, n_spec, cg->flags & LC_CGROUP_DEFAULT_DEVICES, &rules,
				   &n, err);
	if (r < 0)
		return r;
	int h = need(cg, LC_CG_DEVICES, "linux.resources.devices", err);
	if (h < 0)
		return h;
	return lc_cg_is_v2(cg, h) ? devices_v2(cg, h, rules, n, err) : devices_v1(cg, h, rules, n, err);
}

/* ---- entry ------------------------------------------------------------------------------------------------- */

typedef int (*apply_fn)(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err);

/* Devices first, so that a container is never briefly unrestricted; unified last, so that its raw values
 * win over what the typed fields wrote (runc's order). */
static const apply_fn appliers[] = {
	lc_cg_apply_devices, apply_memory, apply_cpu, apply_pids, apply_blockio,
	apply_hugetlb,       apply_network, apply_rdma, apply_unified,
};

int lc_cgroup_apply(lc_cgroup *cg, const lc_spec_resources *res, bool update, kc_error *err) {
	for (size_t i = 0; i < ELEMENTSOF(appliers); i++) {
		if (!res && appliers[i] != lc_cg_apply_devices)
			continue;
		int r = appliers[i](cg, res, update, err);
		if (r < 0)
			return r;
	}
	return 0;
}
