/* Statistics (the agent protocol's CgroupStats, from v1 or v2 files) and OOM notification. */
#include "libcontainer-c/cgroup-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

#include "common/util.h"

#define STAT_MAP_MAX 256
#define BLKIO_MAX    4096
#define HUGETLB_MAX  8

/* Files a controller may lack on some kernel (memory.peak before 5.19, swap without swap accounting) leave the
 * value alone. */
static int read_opt_u64(lc_cgroup *cg, int h, const char *file, uint64_t *ret, kc_error *err) {
	uint64_t v;
	int r = lc_cg_read_u64(cg, h, file, &v, NULL);
	if (r == -ENOENT || r == -EOPNOTSUPP)
		return 0;
	if (r < 0)
		return lc_cg_read_u64(cg, h, file, ret, err);
	*ret = v;
	return 0;
}

static int read_opt(lc_cgroup *cg, int h, const char *file, char **ret, kc_error *err) {
	int r = read_file_capped(cg->dirfd[h], file, LC_CG_READ_MAX, ret, NULL);
	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	return r < 0 ? lc_cg_read(cg, h, file, ret, err) : 0;
}

static void keyed(const char *text, const char *key, uint64_t *ret) {
	uint64_t v;
	if (text && lc_cg_keyed_u64(text, key, &v) >= 0)
		*ret = v;
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- cpu --------------------------------------------------------------------------------------------------- */

static int parse_percpu(const char *text, lc_cgroup_stats *s) {
	size_t n = 0;
	for (const char *p = text; *p;) {
		p += strspn(p, " \n");
		if (!*p)
			break;
		n++;
		p += strcspn(p, " \n");
	}
	if (n == 0 || n > 8192)
		return 0;
	s->cpu.percpu = calloc(n, sizeof *s->cpu.percpu);
	if (!s->cpu.percpu)
		return -ENOMEM;
	char *end;
	const char *p = text;
	for (size_t i = 0; i < n; i++) {
		s->cpu.percpu[i] = strtoull(p, &end, 10);
		p = end;
	}
	s->cpu.n_percpu = n;
	return 0;
}

static int stats_cpu(lc_cgroup *cg, lc_cgroup_stats *s, kc_error *err) {
	_cleanup_free_ char *stat = NULL, *acct = NULL, *percpu = NULL;
	int h = lc_cg_where(cg, LC_CG_CPUACCT), r;

	if (h >= 0 && lc_cg_is_v2(cg, h)) {
		/* cpu.stat counts microseconds. */
		static const struct {
			const char *key;
			size_t off;
		} keys[] = {
			{ "usage_usec", offsetof(lc_cgroup_stats, cpu.total) },
			{ "user_usec", offsetof(lc_cgroup_stats, cpu.user) },
			{ "system_usec", offsetof(lc_cgroup_stats, cpu.kernel) },
			{ "throttled_usec", offsetof(lc_cgroup_stats, cpu.throttled_time) },
		};
		r = read_opt(cg, h, "cpu.stat", &stat, err);
		if (r < 0 || !stat)
			return r;
		for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
			uint64_t v;
			if (lc_cg_keyed_u64(stat, keys[i].key, &v) >= 0)
				*(uint64_t *)((char *)s + keys[i].off) = v * 1000;
		}
		keyed(stat, "nr_periods", &s->cpu.periods);
		keyed(stat, "nr_throttled", &s->cpu.throttled_periods);
		return 0;
	}
	if (h >= 0) {
		r = read_opt_u64(cg, h, "cpuacct.usage", &s->cpu.total, err);
		if (r >= 0)
			r = read_opt_u64(cg, h, "cpuacct.usage_user", &s->cpu.user, err);
		if (r >= 0)
			r = read_opt_u64(cg, h, "cpuacct.usage_sys", &s->cpu.kernel, err);
		if (r >= 0 && s->cpu.user == 0 && s->cpu.kernel == 0) {
			/* Older kernels: cpuacct.stat in USER_HZ ticks. */
			r = read_opt(cg, h, "cpuacct.stat", &acct, err);
			long hz = sysconf(_SC_CLK_TCK);
			uint64_t u = 0, k = 0;
			keyed(acct, "user", &u);
			keyed(acct, "system", &k);
			if (hz > 0) {
				s->cpu.user = u * (1000000000ULL / (uint64_t)hz);
				s->cpu.kernel = k * (1000000000ULL / (uint64_t)hz);
			}
		}
		if (r >= 0)
			r = read_opt(cg, h, "cpuacct.usage_percpu", &percpu, err);
		if (r >= 0 && percpu)
			r = parse_percpu(percpu, s);
		if (r < 0)
			return r == -ENOMEM ? kc_error_set(err, ENOMEM, "cpu stats") : r;
	}
	int c = lc_cg_where(cg, LC_CG_CPU);
	if (c >= 0 && !lc_cg_is_v2(cg, c)) {
		r = read_opt(cg, c, "cpu.stat", &stat, err);
		if (r < 0)
			return r;
		keyed(stat, "nr_periods", &s->cpu.periods);
		keyed(stat, "nr_throttled", &s->cpu.throttled_periods);
		keyed(stat, "throttled_time", &s->cpu.throttled_time);
	}
	return 0;
}

/* ---- memory ------------------------------------------------------------------------------------------------ */

static int parse_stat_map(const char *text, lc_cgroup_stats *s) {
	size_t n = 0;
	for (const char *p = text; *p; p += strcspn(p, "\n"), p += *p == '\n')
		n++;
	n = MIN(n, (size_t)STAT_MAP_MAX);
	if (n == 0)
		return 0;
	s->memory.stats = calloc(n, sizeof *s->memory.stats);
	if (!s->memory.stats)
		return -ENOMEM;
	for (const char *p = text; *p && s->memory.n_stats < n; p += strcspn(p, "\n"), p += *p == '\n') {
		lc_cgroup_stat_kv *kv = &s->memory.stats[s->memory.n_stats];
		unsigned long long v;
		if (sscanf(p, "%47s %llu", kv->name, &v) != 2)
			continue;
		kv->value = v;
		s->memory.n_stats++;
	}
	return 0;
}

static int memory_v2_stats(lc_cgroup *cg, int h, lc_cgroup_stats *s, const char *stat, kc_error *err) {
	_cleanup_free_ char *events = NULL;
	uint64_t swap = 0, swap_max = UINT64_MAX;
	int r;

	s->memory.use_hierarchy = true;
	r = read_opt_u64(cg, h, "memory.current", &s->memory.usage.usage, err);
	if (r >= 0)
		r = read_opt_u64(cg, h, "memory.peak", &s->memory.usage.max_usage, err);
	if (r >= 0)
		r = read_opt_u64(cg, h, "memory.max", &s->memory.usage.limit, err);
	if (r >= 0)
		r = read_opt(cg, h, "memory.events", &events, err);
	if (r >= 0)
		r = read_opt_u64(cg, h, "memory.swap.current", &swap, err);
	if (r >= 0)
		r = read_opt_u64(cg, h, "memory.swap.max", &swap_max, err);
	if (r < 0)
		return r;
	/* failcnt: how often the limit was hit, which v2 counts as the "max" event. */
	keyed(events, "max", &s->memory.usage.failcnt);
	keyed(stat, "file", &s->memory.cache);
	/* The protocol's swap figures are v1's memsw (memory + swap), as runc reports them on v2. */
	s->memory.swap.usage = add_sat(s->memory.usage.usage, swap);
	s->memory.swap.limit = add_sat(s->memory.usage.limit, swap_max);
	return 0;
}

static int memory_v1_data(lc_cgroup *cg, int h, const char *prefix, lc_cgroup_memory_data *d, kc_error *err) {
	static const char *const suffix[] = { "usage_in_bytes", "max_usage_in_bytes", "failcnt", "limit_in_bytes" };
	uint64_t *out[] = { &d->usage, &d->max_usage, &d->failcnt, &d->limit };
	char file[64];
	for (size_t i = 0; i < ELEMENTSOF(suffix); i++) {
		(void)format_checked(file, sizeof file, "%s%s", prefix, suffix[i]);
		int r = read_opt_u64(cg, h, file, out[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int stats_memory(lc_cgroup *cg, lc_cgroup_stats *s, kc_error *err) {
	_cleanup_free_ char *stat = NULL;
	int h = lc_cg_where(cg, LC_CG_MEMORY), r;

	if (h < 0)
		return 0;
	r = read_opt(cg, h, "memory.stat", &stat, err);
	if (r < 0)
		return r;
	if (stat && parse_stat_map(stat, s) < 0)
		return kc_error_set(err, ENOMEM, "memory stats");
	if (lc_cg_is_v2(cg, h))
		return memory_v2_stats(cg, h, s, stat, err);
	uint64_t hier = 1;
	r = memory_v1_data(cg, h, "memory.", &s->memory.usage, err);
	if (r >= 0)
		r = memory_v1_data(cg, h, "memory.memsw.", &s->memory.swap, err);
	if (r >= 0)
		r = memory_v1_data(cg, h, "memory.kmem.", &s->memory.kernel, err);
	if (r >= 0)
		r = read_opt_u64(cg, h, "memory.use_hierarchy", &hier, err);
	if (r < 0)
		return r;
	s->memory.use_hierarchy = hier != 0;
	keyed(stat, "total_cache", &s->memory.cache);
	if (s->memory.cache == 0)
		keyed(stat, "cache", &s->memory.cache);
	return 0;
}

/* ---- pids, blkio, hugetlb ---------------------------------------------------------------------------------- */

static int stats_pids(lc_cgroup *cg, lc_cgroup_stats *s, kc_error *err) {
	int h = lc_cg_where(cg, LC_CG_PIDS);
	if (h < 0)
		return 0;
	int r = read_opt_u64(cg, h, "pids.current", &s->pids.current, err);
	return r < 0 ? r : read_opt_u64(cg, h, "pids.max", &s->pids.limit, err);
}

static int blkio_add(lc_cgroup_blkio_list *l, uint64_t major, uint64_t minor, const char *op, uint64_t value) {
	if (l->n == BLKIO_MAX)
		return 0;
	if ((l->n & (l->n - 1)) == 0) {
		lc_cgroup_blkio_entry *p = reallocarray(l->v, l->n ? l->n * 2 : 8, sizeof *p);
		if (!p)
			return -ENOMEM;
		l->v = p;
	}
	lc_cgroup_blkio_entry *e = &l->v[l->n++];
	*e = (lc_cgroup_blkio_entry){ .major = major, .minor = minor, .value = value };
	(void)format_checked(e->op, sizeof e->op, "%s", op);
	return 0;
}

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6" per device. */
static int parse_io_stat(const char *text, lc_cgroup_stats *s) {
	static const struct {
		const char *key, *op;
		bool bytes;
	} keys[] = { { "rbytes", "Read", true }, { "wbytes", "Write", true }, { "dbytes", "Discard", true },
		     { "rios", "Read", false },  { "wios", "Write", false },  { "dios", "Discard", false } };
	for (const char *p = text; *p; p += strcspn(p, "\n"), p += *p == '\n') {
		unsigned long long maj, min;
		int used;
		if (sscanf(p, "%llu:%llu%n", &maj, &min, &used) != 2)
			continue;
		const char *end = p + strcspn(p, "\n");
		for (const char *q = p + used; q < end;) {
			char key[16];
			unsigned long long v;
			int n;
			q += strspn(q, " ");
			if (q >= end || sscanf(q, "%15[a-z]=%llu%n", key, &v, &n) != 2)
				break;
			q += n;
			for (size_t i = 0; i < ELEMENTSOF(keys); i++)
				if (strcmp(key, keys[i].key) == 0 &&
				    blkio_add(keys[i].bytes ? &s->blkio.service_bytes : &s->blkio.serviced, maj, min,
					      keys[i].op, v) < 0)
					return -ENOMEM;
		}
	}
	return 0;
}

/* v1: "8:0 Read 123" lines and a closing "Total 246" without a device, which the protocol does not carry. */
static int parse_blkio_v1(const char *text, lc_cgroup_blkio_list *l) {
	for (const char *p = text; p && *p; p += strcspn(p, "\n"), p += *p == '\n') {
		unsigned long long maj, min, v;
		char op[8];
		if (sscanf(p, "%llu:%llu %7s %llu", &maj, &min, op, &v) == 4 && blkio_add(l, maj, min, op, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int stats_blkio(lc_cgroup *cg, lc_cgroup_stats *s, kc_error *err) {
	int h = lc_cg_where(cg, LC_CG_IO), r;
	if (h < 0)
		return 0;
	if (lc_cg_is_v2(cg, h)) {
		_cleanup_free_ char *text = NULL;
		r = read_opt(cg, h, "io.stat", &text, err);
		if (r >= 0 && text && parse_io_stat(text, s) < 0)
			return kc_error_set(err, ENOMEM, "blkio stats");
		return r;
	}
	/* The throttle files count every I/O; the CFQ/BFQ ones only what that scheduler saw. */
	static const struct {
		const char *file, *fallback;
		size_t off;
	} v1[] = {
		{ "blkio.throttle.io_service_bytes_recursive", "blkio.io_service_bytes_recursive",
		  offsetof(lc_cgroup_stats, blkio.service_bytes) },
		{ "blkio.throttle.io_serviced_recursive", "blkio.io_serviced_recursive",
		  offsetof(lc_cgroup_stats, blkio.serviced) },
	};
	for (size_t i = 0; i < ELEMENTSOF(v1); i++) {
		_cleanup_free_ char *text = NULL;
		r = read_opt(cg, h, v1[i].file, &text, err);
		if (r >= 0 && !text)
			r = read_opt(cg, h, v1[i].fallback, &text, err);
		if (r < 0)
			return r;
		if (parse_blkio_v1(text, (lc_cgroup_blkio_list *)((char *)s + v1[i].off)) < 0)
			return kc_error_set(err, ENOMEM, "blkio stats");
	}
	return 0;
}

/* Page sizes are found from the files present ("hugetlb.2MB.max"), so no /sys/kernel/mm lookup is needed. */
static int stats_hugetlb(lc_cgroup *cg, lc_cgroup_stats *s, kc_error *err) {
	int h = lc_cg_where(cg, LC_CG_HUGETLB);
	bool v2;
	if (h < 0)
		return 0;
	v2 = lc_cg_is_v2(cg, h);
	int dfd = openat(cg->dirfd[h], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return kc_error_set(err, errno, "hugetlb stats: %m");
	DIR *d = fdopendir(dfd);
	if (!d) {
		(void)safe_close(dfd);
		return kc_error_set(err, errno, "hugetlb stats: %m");
	}
	const char *want = v2 ? ".max" : ".limit_in_bytes";
	int r = 0;
	for (struct dirent *e; r >= 0 && (e = readdir(d));) {
		size_t len = strlen(e->d_name), wl = strlen(want);
		if (strncmp(e->d_name, "hugetlb.", 8) != 0 || len <= 8 + wl || strcmp(e->d_name + len - wl, want) != 0)
			continue;
		if (s->n_hugetlb == HUGETLB_MAX)
			break;
		if (!s->hugetlb && !(s->hugetlb = calloc(HUGETLB_MAX, sizeof *s->hugetlb))) {
			r = kc_error_set(err, ENOMEM, "hugetlb stats");
			break;
		}
		lc_cgroup_hugetlb_stats *hs = &s->hugetlb[s->n_hugetlb];
		size_t plen = len - 8 - wl;
		/* "hugetlb.2MB.rsvd.max" is the reservation counterpart, not another size. */
		if (plen >= sizeof hs->page_size || memchr(e->d_name + 8, '.', plen))
			continue;
		memcpy(hs->page_size, e->d_name + 8, plen);
		hs->page_size[plen] = '\0';
		char file[64];
		if (v2) {
			_cleanup_free_ char *events = NULL;
			(void)format_checked(file, sizeof file, "hugetlb.%s.current", hs->page_size);
			r = read_opt_u64(cg, h, file, &hs->usage, err);
			(void)format_checked(file, sizeof file, "hugetlb.%s.events", hs->page_size);
			if (r >= 0)
				r = read_opt(cg, h, file, &events, err);
			keyed(events, "max", &hs->failcnt);
		} else {
			(void)format_checked(file, sizeof file, "hugetlb.%s.usage_in_bytes", hs->page_size);
			r = read_opt_u64(cg, h, file, &hs->usage, err);
			(void)format_checked(file, sizeof file, "hugetlb.%s.max_usage_in_bytes", hs->page_size);
			if (r >= 0)
				r = read_opt_u64(cg, h, file, &hs->max_usage, err);
			(void)format_checked(file, sizeof file, "hugetlb.%s.failcnt", hs->page_size);
			if (r >= 0)
				r = read_opt_u64(cg, h, file, &hs->failcnt, err);
		}
		s->n_hugetlb++;
	}
	closedir(d);
	return r;
}

void lc_cgroup_stats_clear(lc_cgroup_stats *s) {
	if (!s)
		return;
	free(s->cpu.percpu);
	free(s->memory.stats);
	free(s->blkio.service_bytes.v);
	free(s->blkio.serviced.v);
	free(s->hugetlb);
	*s = (lc_cgroup_stats){};
}

int lc_cgroup_stats_read(lc_cgroup *cg, lc_cgroup_stats *ret, kc_error *err) {
	static int (*const readers[])(lc_cgroup *, lc_cgroup_stats *, kc_error *) = {
		stats_cpu, stats_memory, stats_pids, stats_blkio, stats_hugetlb,
	};
	lc_cgroup_stats s = {};
	for (size_t i = 0; i < ELEMENTSOF(readers); i++) {
		int r = readers[i](cg, &s, err);
		if (r < 0) {
			lc_cgroup_stats_clear(&s);
			return r;
		}
	}
	*ret = s;
	return 0;
}

/* ---- OOM --------------------------------------------------------------------------------------------------- */

struct lc_cgroup_oom {
	bool v2;
	int fd;      /* inotify (v2) or eventfd (v1): what the caller polls */
	int ctl_fd;  /* v1: memory.oom_control, registered with the eventfd */
	int dirfd;   /* the memory cgroup's directory */
	uint64_t count, v1_events;
};

lc_cgroup_oom *lc_cgroup_oom_free(lc_cgroup_oom *w) {
	if (!w)
		return NULL;
	(void)safe_close(w->fd);
	(void)safe_close(w->ctl_fd);
	(void)safe_close(w->dirfd);
	free(w);
	return NULL;
}

int lc_cgroup_oom_fd(const lc_cgroup_oom *w) {
	return w->fd;
}

/* The kill counter: memory.events "oom_kill" on v2, memory.oom_control "oom_kill" on v1 (4.13+). -ENOENT
 * once the cgroup is gone, -ENODATA where v1 has no such line. */
static int read_oom_kills(int dirfd, bool v2, uint64_t *ret) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(dirfd, v2 ? "memory.events" : "memory.oom_control", 4096, &text, NULL);
	if (r < 0)
		return r == -ENODEV ? -ENOENT : r;
	r = lc_cg_keyed_u64(text, "oom_kill", ret);
	return r == -ENOENT ? -ENODATA : r;
}

static int oom_counter(lc_cgroup_oom *w, uint64_t *ret) {
	return read_oom_kills(w->dirfd, w->v2, ret);
}

int lc_cgroup_oom_kills(lc_cgroup *cg, uint64_t *ret) {
	int h = lc_cg_where(cg, LC_CG_MEMORY);
	if (h < 0)
		return -EOPNOTSUPP;
	return read_oom_kills(cg->dirfd[h], lc_cg_is_v2(cg, h), ret);
}

int lc_cgroup_oom_watch(lc_cgroup *cg, lc_cgroup_oom **ret, kc_error *err) {
	_cleanup_(lc_cgroup_oom_freep) lc_cgroup_oom *w = NULL;
	char path[PATH_MAX];
	int h = lc_cg_where(cg, LC_CG_MEMORY), r;

	if (h < 0)
		return kc_error_set(err, EOPNOTSUPP, "OOM watch for %s: no memory controller", cg->path);
	w = calloc(1, sizeof *w);
	if (!w)
		return kc_error_set(err, ENOMEM, "OOM watch");
	w->fd = w->ctl_fd = -EBADF;
	w->v2 = lc_cg_is_v2(cg, h);
	w->dirfd = fcntl(cg->dirfd[h], F_DUPFD_CLOEXEC, 3);
	if (w->dirfd < 0)
		return kc_error_set(err, errno, "OOM watch: %m");
	if (w->v2) {
		char target[64];
		w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (w->fd < 0)
			return kc_error_set(err, errno, "OOM watch: inotify: %m");
		/* Through our directory fd, so a path swapped meanwhile cannot redirect the watch. */
		(void)format_checked(target, sizeof target, "/proc/self/fd/%d/memory.events", w->dirfd);
		if (inotify_add_watch(w->fd, target, IN_MODIFY) < 0)
			return kc_error_set(err, errno, "OOM watch: inotify on %s: %m",
					    lc_cg_fullpath(cg, h, "memory.events", path));
	} else {
		char value[2 * DECIMAL_STR_MAX(int) + 1];
		w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->fd < 0)
			return kc_error_set(err, errno, "OOM watch: eventfd: %m");
		w->ctl_fd = openat(w->dirfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
		if (w->ctl_fd < 0)
			return kc_error_set(err, errno, "OOM watch: open %s: %m",
					    lc_cg_fullpath(cg, h, "memory.oom_control", path));
		(void)format_checked(value, sizeof value, "%d %d", w->fd, w->ctl_fd);
		r = lc_cg_write(cg, h, "cgroup.event_control", value, err);
		if (r < 0)
			return kc_error_prefix(err, "OOM watch");
	}
	r = oom_counter(w, &w->count);
	if (r < 0 && r != -ENODATA)
		return kc_error_set(err, r, "OOM watch: read %s: %s",
				    lc_cg_fullpath(cg, h, w->v2 ? "memory.events" : "memory.oom_control", path),
				    strerror(-r));
	*ret = TAKE_PTR(w);
	return 0;
}

int lc_cgroup_oom_read(lc_cgroup_oom *w, uint64_t *ret_count, uint64_t *ret_new, kc_error *err) {
	uint64_t count = 0;
	bool gone = false;
	int r;

	if (w->v2) {
		/* Drain; an IN_IGNORED means the watched file went away with its cgroup. */
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		for (;;) {
			ssize_t n = read(w->fd, buf, sizeof buf);
			if (n <= 0)
				break;
			for (char *p = buf; p < buf + n;) {
				const struct inotify_event *e = (const struct inotify_event *)p;
				if (e->mask & IN_IGNORED)
					gone = true;
				p += sizeof *e + e->len;
			}
		}
	} else {
		uint64_t events;
		if (read(w->fd, &events, sizeof events) == (ssize_t)sizeof events)
			w->v1_events += events;
	}
	r = oom_counter(w, &count);
	if (r == -ENODATA)
		count = w->v1_events; /* v1 before 4.13: every OOM situation the eventfd saw */
	else if (r == -ENOENT || gone)
		return kc_error_set(err, ENOENT, "OOM watch: the cgroup is gone");
	else if (r < 0)
		return kc_error_set(err, r, "OOM watch: read the OOM counter: %s", strerror(-r));
	*ret_new = count > w->count ? count - w->count : 0;
	w->count = count;
	*ret_count = count;
	return 0;
}
