/* lcrun's commands over the container's cgroup: pause, resume, ps, update and events --stats. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/cli/lcrun.h"
#include "libcontainer-c/container.h"
#include "libcontainer-c/spec.h"

static int one_id(int argc, char **argv) {
	if (argc != 2)
		return usage_error(argv[0], "expected exactly one container id");
	return 0;
}

int cmd_pause(int argc, char **argv) {
	kc_error e = {0};
	if (one_id(argc, argv))
		return 1;
	return lc_container_pause(opt_root, argv[1], true, &e) < 0 ? fail(&e) : 0;
}

int cmd_resume(int argc, char **argv) {
	kc_error e = {0};
	if (one_id(argc, argv))
		return 1;
	return lc_container_pause(opt_root, argv[1], false, &e) < 0 ? fail(&e) : 0;
}

/* The command name of pid, from /proc/PID/comm; "?" once it is gone. */
static void comm_of(pid_t pid, char *buf, size_t size) {
	char path[64];
	_cleanup_free_ char *text = NULL;
	(void)snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	if (read_file_capped(AT_FDCWD, path, 256, &text, NULL) < 0) {
		(void)snprintf(buf, size, "?");
		return;
	}
	text[strcspn(text, "\n")] = '\0';
	(void)snprintf(buf, size, "%s", text);
}

/* runc runs ps(1) and filters its table; we print the two columns that matter, or the pids as a JSON array as
 * `runc ps --format json` does. */
int cmd_ps(int argc, char **argv) {
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {}};
	_cleanup_free_ pid_t *pids = NULL;
	bool json = false;
	size_t n = 0;
	kc_error e = {0};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
		if (o != 'f' || (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0))
			return usage_error("ps", "usage: ps [--format table|json] ID");
		json = strcmp(optarg, "json") == 0;
	}
	if (argc - optind != 1)
		return usage_error("ps", "usage: ps [--format table|json] ID");
	if (lc_container_pids(opt_root, argv[optind], &pids, &n, &e) < 0)
		return fail(&e);
	if (json) {
		fputc('[', stdout);
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		fputs("]\n", stdout);
		return 0;
	}
	printf("%-10s %s\n", "PID", "CMD");
	for (size_t i = 0; i < n; i++) {
		char comm[64];
		comm_of(pids[i], comm, sizeof comm);
		printf("%-10d %s\n", (int)pids[i], comm);
	}
	return 0;
}

/* ---- update ---------------------------------------------------------------------------------------------- */

/* runc's sizes (docker's RAMInBytes): a number with an optional binary suffix b, k, m, g, t (kb, mib, ...
 * too), or -1 for unlimited. */
static int parse_size(const char *s, int64_t *ret) {
	static const char units[] = "bkmgt";
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (v == -1 && !*end) {
		*ret = -1;
		return 0;
	}
	if (v < 0)
		return -EINVAL;
	int shift = 0;
	if (*end) {
		const char *u = strchr(units, (char)tolower((unsigned char)*end));
		if (!u)
			return -EINVAL;
		shift = (int)(u - units) * 10;
		end++;
		if (strcasecmp(end, "") != 0 && strcasecmp(end, "b") != 0 && strcasecmp(end, "ib") != 0)
			return -EINVAL;
	}
	if (shift && v > (INT64_MAX >> shift))
		return -ERANGE;
	*ret = (int64_t)v << shift;
	return 0;
}

static json_object *sub(json_object *parent, const char *key) {
	json_object *o;
	if (json_object_object_get_ex(parent, key, &o))
		return o;
	o = json_object_new_object();
	json_object_object_add(parent, key, o);
	return o;
}

typedef struct update_flag {
	const char *name;
	const char *section, *key;
	enum { U_SIZE, U_INT, U_UINT, U_STR } kind;
} update_flag;

static const update_flag update_flags[] = {
	{"memory", "memory", "limit", U_SIZE},
	{"memory-reservation", "memory", "reservation", U_SIZE},
	{"memory-swap", "memory", "swap", U_SIZE},
	{"kernel-memory", "memory", "kernel", U_SIZE},
	{"kernel-memory-tcp", "memory", "kernelTCP", U_SIZE},
	{"cpu-share", "cpu", "shares", U_UINT},
	{"cpu-quota", "cpu", "quota", U_INT},
	{"cpu-period", "cpu", "period", U_UINT},
	{"cpu-rt-runtime", "cpu", "realtimeRuntime", U_INT},
	{"cpu-rt-period", "cpu", "realtimePeriod", U_UINT},
	{"cpuset-cpus", "cpu", "cpus", U_STR},
	{"cpuset-mems", "cpu", "mems", U_STR},
	{"pids-limit", "pids", "limit", U_INT},
	{"blkio-weight", "blockIO", "weight", U_UINT},
};

static int update_flag_set(json_object *res, const update_flag *f, const char *value) {
	json_object *sec = strcmp(f->section, "-") ? sub(res, f->section) : res;
	int64_t v;
	uint64_t u;

	switch (f->kind) {
	case U_SIZE:
		if (parse_size(value, &v) < 0)
			return -EINVAL;
		json_object_object_add(sec, f->key, json_object_new_int64(v));
		return 0;
	case U_INT:
		if (parse_i64(value, &v) < 0)
			return -EINVAL;
		json_object_object_add(sec, f->key, json_object_new_int64(v));
		return 0;
	case U_UINT:
		if (parse_u64(value, 10, &u) < 0 || u > INT64_MAX)
			return -EINVAL;
		json_object_object_add(sec, f->key, json_object_new_int64((int64_t)u));
		return 0;
	case U_STR:
		json_object_object_add(sec, f->key, json_object_new_string(value));
		return 0;
	}
	return -EINVAL;
}

/* A LinuxResources object, read from a file or stdin ("-"). */
static int read_resources_file(const char *path, json_object **ret, kc_error *e) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(AT_FDCWD, strcmp(path, "-") == 0 ? "/dev/stdin" : path,
				 LC_SPEC_JSON_MAX, &text, NULL);
	if (r < 0)
		return kc_error_set(e, -r, "-r `%s`: %s", path, strerror(-r));
	json_object *o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object)) {
		if (o)
			json_object_put(o);
		return kc_error_set(e, EINVAL, "-r `%s`: not a JSON object", path);
	}
	*ret = o;
	return 0;
}

/* Flags and -r both become one LinuxResources object, read by the config.json reader as linux.resources of an
 * otherwise empty spec: one parser, one set of type checks and error messages. */
int cmd_update(int argc, char **argv) {
	struct option opts[ELEMENTSOF(update_flags) + 2];
	_cleanup_(json_object_putp) json_object *res = NULL;
	_cleanup_(lc_spec_freep) lc_spec *spec = NULL;
	const char *file = NULL;
	kc_error e = {0};
	int o, idx;

	for (size_t i = 0; i < ELEMENTSOF(update_flags); i++)
		opts[i] = (struct option){update_flags[i].name, required_argument, NULL, 1000 + (int)i};
	opts[ELEMENTSOF(update_flags)] = (struct option){"resources", required_argument, NULL, 'r'};
	opts[ELEMENTSOF(update_flags) + 1] = (struct option){0};
	res = json_object_new_object();
	optind = 1;
	while ((o = getopt_long(argc, argv, "+r:", opts, &idx)) != -1) {
		if (o == 'r') {
			file = optarg;
			continue;
		}
		if (o < 1000 || o >= 1000 + (int)ELEMENTSOF(update_flags))
			return usage_error("update", "usage: update [-r FILE] [--memory N] [--cpu-quota N] ... ID");
		const update_flag *f = &update_flags[o - 1000];
		if (update_flag_set(res, f, optarg) < 0) {
			fprintf(stderr, "lcrun update: --%s: invalid value `%s`\n", f->name, optarg);
			return 1;
		}
	}
	if (argc - optind != 1)
		return usage_error("update", "usage: update [-r FILE] [--memory N] [--cpu-quota N] ... ID");
	if (file) {
		if (json_object_object_length(res) > 0)
			return usage_error("update", "-r and resource flags cannot be combined");
		json_object_put(TAKE_PTR(res));
		if (read_resources_file(file, &res, &e) < 0)
			return fail(&e);
	}
	_cleanup_(json_object_putp) json_object *doc = json_object_new_object();
	json_object_object_add(sub(doc, "linux"), "resources", json_object_get(res));
	const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	if (lc_spec_from_json(text, strlen(text), &spec, &e) < 0) {
		kc_error_prefix(&e, "update");
		return fail(&e);
	}
	if (lc_container_update(opt_root, argv[optind], spec->linux->resources, &e) < 0)
		return fail(&e);
	return 0;
}

/* ---- events --stats ---------------------------------------------------------------------------------------- */

static json_object *u64(uint64_t v) {
	return json_object_new_uint64(v);
}

static json_object *memory_entry(const lc_cgroup_memory_data *m) {
	json_object *o = json_object_new_object();
	json_object_object_add(o, "limit", u64(m->limit));
	json_object_object_add(o, "usage", u64(m->usage));
	json_object_object_add(o, "max", u64(m->max_usage));
	json_object_object_add(o, "failcnt", u64(m->failcnt));
	return o;
}

static json_object *blkio_list(const lc_cgroup_blkio_list *l) {
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < l->n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "major", u64(l->v[i].major));
		json_object_object_add(o, "minor", u64(l->v[i].minor));
		json_object_object_add(o, "op", json_object_new_string(l->v[i].op));
		json_object_object_add(o, "value", u64(l->v[i].value));
		json_object_array_add(a, o);
	}
	return a;
}

/* runc's `events --stats` shape: {"type":"stats","id":ID,"data":{"cpu":...,"memory":...,"pids":...,...}}. */
static json_object *stats_json(const char *id, const lc_cgroup_stats *s) {
	json_object *data = json_object_new_object(), *cpu = sub(data, "cpu"), *usage = sub(cpu, "usage");
	json_object *percpu = json_object_new_array();
	for (size_t i = 0; i < s->cpu.n_percpu; i++)
		json_object_array_add(percpu, u64(s->cpu.percpu[i]));
	json_object_object_add(usage, "total", u64(s->cpu.total));
	json_object_object_add(usage, "percpu", percpu);
	json_object_object_add(usage, "kernel", u64(s->cpu.kernel));
	json_object_object_add(usage, "user", u64(s->cpu.user));
	json_object *thr = sub(cpu, "throttling");
	json_object_object_add(thr, "periods", u64(s->cpu.periods));
	json_object_object_add(thr, "throttledPeriods", u64(s->cpu.throttled_periods));
	json_object_object_add(thr, "throttledTime", u64(s->cpu.throttled_time));

	json_object *mem = sub(data, "memory"), *raw = json_object_new_object();
	json_object_object_add(mem, "cache", u64(s->memory.cache));
	json_object_object_add(mem, "usage", memory_entry(&s->memory.usage));
	json_object_object_add(mem, "swap", memory_entry(&s->memory.swap));
	json_object_object_add(mem, "kernel", memory_entry(&s->memory.kernel));
	for (size_t i = 0; i < s->memory.n_stats; i++)
		json_object_object_add(raw, s->memory.stats[i].name, u64(s->memory.stats[i].value));
	json_object_object_add(mem, "raw", raw);

	json_object *pids = sub(data, "pids");
	json_object_object_add(pids, "current", u64(s->pids.current));
	json_object_object_add(pids, "limit", u64(s->pids.limit == UINT64_MAX ? 0 : s->pids.limit));

	json_object *blkio = sub(data, "blkio");
	json_object_object_add(blkio, "ioServiceBytesRecursive", blkio_list(&s->blkio.service_bytes));
	json_object_object_add(blkio, "ioServicedRecursive", blkio_list(&s->blkio.serviced));

	json_object *huge = sub(data, "hugetlb");
	for (size_t i = 0; i < s->n_hugetlb; i++) {
		json_object *h = json_object_new_object();
		json_object_object_add(h, "usage", u64(s->hugetlb[i].usage));
		json_object_object_add(h, "max", u64(s->hugetlb[i].max_usage));
		json_object_object_add(h, "failcnt", u64(s->hugetlb[i].failcnt));
		json_object_object_add(huge, s->hugetlb[i].page_size, h);
	}

	json_object *ev = json_object_new_object();
	json_object_object_add(ev, "type", json_object_new_string("stats"));
	json_object_object_add(ev, "id", json_object_new_string(id));
	json_object_object_add(ev, "data", data);
	return ev;
}

/* Only --stats (one snapshot): the streaming form would be a loop with no end, which lcrun leaves to the
 * caller's own polling. */
int cmd_events(int argc, char **argv) {
	static const struct option opts[] = {{"stats", no_argument, NULL, 's'}, {"interval", required_argument, NULL, 'i'}, {}};
	lc_cgroup_stats st = {0};
	bool stats = false;
	kc_error e = {0};
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (o == 's')
			stats = true;
		else if (o != 'i')
			return usage_error("events", "usage: events --stats ID");
	}
	if (!stats)
		return usage_error("events", "only `events --stats` is supported");
	if (argc - optind != 1)
		return usage_error("events", "usage: events --stats ID");
	if (lc_container_stats(opt_root, argv[optind], &st, &e) < 0)
		return fail(&e);
	json_object *ev = stats_json(argv[optind], &st);
	printf("%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	json_object_put(ev);
	lc_cgroup_stats_clear(&st);
	return 0;
}
