/* What goes through a container's cgroup: PauseContainer, ResumeContainer, UpdateContainer, StatsContainer, and
 * the OOM watch that feeds GetOOMEvent. Each is short kernel work on cgroupfs, done inline and bounded (the
 * freezer gives up and thaws after its timeout). */
#define LOG_SOURCE "container"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.pb-c.h"
#include "agent/container-internal.h"
#include "agent/container.h"
#include "common/log.h"
#include "common/util.h"
#include "libcontainer-c/spec.h"

static void reply_empty(ttrpc_call *call) {
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	ttrpc_call_reply(call, &empty.base);
}

static int get_cgroup(agent *a, const char *id, ctr **ret_c, lc_cgroup **ret_cg, kc_error *err) {
	int r = ctr_get(a, id, ret_c, err);
	if (r < 0)
		return r;
	*ret_cg = lc_instance_cgroup((*ret_c)->inst);
	if (!*ret_cg)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ENOENT, "container `%s` has no cgroup", id);
	return 0;
}

static int pause_resume(agent *a, ttrpc_call *call, const char *id, bool pause, kc_error *err) {
	ctr *c;
	lc_cgroup *cg;
	int r = get_cgroup(a, id, &c, &cg, err);
	if (r < 0)
		return r;
	if (pause == c->paused)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EINVAL, "container `%s` is %s", id,
					 pause ? "already paused" : "not paused");
	r = lc_instance_pause(c->inst, pause, err);
	if (r < 0)
		return kc_error_prefix(err, "container `%s`", id);
	c->paused = pause;
	reply_empty(call);
	return 0;
}

static int pause_container(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	return pause_resume(ctx, call, ((const Grpc__PauseContainerRequest *)req)->container_id, true, err);
}

static int resume_container(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	return pause_resume(ctx, call, ((const Grpc__ResumeContainerRequest *)req)->container_id, false, err);
}

/* The resources are read by the same proto reader as a container's spec, inside a spec that has only them. */
static int update_container(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__UpdateContainerRequest *req = (const Grpc__UpdateContainerRequest *)req_;
	_cleanup_(lc_spec_freep) lc_spec *spec = NULL;
	Grpc__Spec s = GRPC__SPEC__INIT;
	Grpc__Linux l = GRPC__LINUX__INIT;
	ctr *c;
	lc_cgroup *cg;

	int r = get_cgroup(ctx, req->container_id, &c, &cg, err);
	if (r < 0)
		return r;
	if (!req->resources)
		return kc_error_set(err, EINVAL, "resources: missing");
	l.resources = req->resources;
	s.linux = &l;
	r = lc_spec_from_proto(&s, &spec, err);
	if (r < 0)
		return r;
	r = lc_cgroup_apply(cg, spec->linux ? spec->linux->resources : NULL, true, err);
	if (r < 0)
		return kc_error_prefix(err, "container `%s`: resources", c->id);
	reply_empty(call);
	return 0;
}

/* ---- StatsContainer ---- */

/* Everything a reply points to lives in one arena-like block list freed after the reply. */
typedef struct stats_mem {
	void *blocks[512];
	size_t n;
} stats_mem;

static void *smalloc(stats_mem *m, size_t size) {
	if (m->n >= ELEMENTSOF(m->blocks))
		return NULL;
	void *p = calloc(1, size);
	if (p)
		m->blocks[m->n++] = p;
	return p;
}

static void stats_mem_free(stats_mem *m) {
	for (size_t i = 0; i < m->n; i++)
		free(m->blocks[i]);
}

static Grpc__BlkioStatsEntry **blkio_entries(stats_mem *m, const lc_cgroup_blkio_list *l) {
	Grpc__BlkioStatsEntry **v = smalloc(m, (l->n + 1) * sizeof *v);
	Grpc__BlkioStatsEntry *e = smalloc(m, (l->n + 1) * sizeof *e);
	if (!v || !e)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		grpc__blkio_stats_entry__init(&e[i]);
		e[i].major = l->v[i].major;
		e[i].minor = l->v[i].minor;
		e[i].op = (char *)l->v[i].op;
		e[i].value = l->v[i].value;
		v[i] = &e[i];
	}
	return v;
}

static void mem_data(Grpc__MemoryData *d, const lc_cgroup_memory_data *s) {
	grpc__memory_data__init(d);
	d->usage = s->usage;
	d->max_usage = s->max_usage;
	d->failcnt = s->failcnt;
	d->limit = s->limit;
}

static int stats_to_proto(const lc_cgroup_stats *st, stats_mem *m, Grpc__CgroupStats *cs) {
	Grpc__CpuStats *cpu = smalloc(m, sizeof *cpu);
	Grpc__CpuUsage *usage = smalloc(m, sizeof *usage);
	Grpc__ThrottlingData *thr = smalloc(m, sizeof *thr);
	Grpc__MemoryStats *mem = smalloc(m, sizeof *mem);
	Grpc__MemoryData *md = smalloc(m, 3 * sizeof *md);
	Grpc__PidsStats *pids = smalloc(m, sizeof *pids);
	Grpc__BlkioStats *blk = smalloc(m, sizeof *blk);
	Grpc__MemoryStats__StatsEntry *kv = smalloc(m, (st->memory.n_stats + 1) * sizeof *kv);
	Grpc__MemoryStats__StatsEntry **kvp = smalloc(m, (st->memory.n_stats + 1) * sizeof *kvp);
	Grpc__CgroupStats__HugetlbStatsEntry *he = smalloc(m, (st->n_hugetlb + 1) * sizeof *he);
	Grpc__CgroupStats__HugetlbStatsEntry **hep = smalloc(m, (st->n_hugetlb + 1) * sizeof *hep);
	Grpc__HugetlbStats *hs = smalloc(m, (st->n_hugetlb + 1) * sizeof *hs);
	if (!cpu || !usage || !thr || !mem || !md || !pids || !blk || !kv || !kvp || !he || !hep || !hs)
		return -ENOMEM;

	grpc__cpu_usage__init(usage);
	usage->total_usage = st->cpu.total;
	usage->usage_in_kernelmode = st->cpu.kernel;
	usage->usage_in_usermode = st->cpu.user;
	usage->percpu_usage = st->cpu.percpu;
	usage->n_percpu_usage = st->cpu.n_percpu;
	grpc__throttling_data__init(thr);
	thr->periods = st->cpu.periods;
	thr->throttled_periods = st->cpu.throttled_periods;
	thr->throttled_time = st->cpu.throttled_time;
	grpc__cpu_stats__init(cpu);
	cpu->cpu_usage = usage;
	cpu->throttling_data = thr;

	grpc__memory_stats__init(mem);
	mem->cache = st->memory.cache;
	mem_data(&md[0], &st->memory.usage);
	mem_data(&md[1], &st->memory.swap);
	mem_data(&md[2], &st->memory.kernel);
	mem->usage = &md[0];
	mem->swap_usage = &md[1];
	mem->kernel_usage = &md[2];
	mem->use_hierarchy = st->memory.use_hierarchy;
	for (size_t i = 0; i < st->memory.n_stats; i++) {
		grpc__memory_stats__stats_entry__init(&kv[i]);
		kv[i].key = (char *)st->memory.stats[i].name;
		kv[i].value = st->memory.stats[i].value;
		kvp[i] = &kv[i];
	}
	mem->stats = kvp;
	mem->n_stats = st->memory.n_stats;

	grpc__pids_stats__init(pids);
	pids->current = st->pids.current;
	pids->limit = st->pids.limit;

	grpc__blkio_stats__init(blk);
	blk->io_service_bytes_recursive = blkio_entries(m, &st->blkio.service_bytes);
	blk->io_serviced_recursive = blkio_entries(m, &st->blkio.serviced);
	if (!blk->io_service_bytes_recursive || !blk->io_serviced_recursive)
		return -ENOMEM;
	blk->n_io_service_bytes_recursive = st->blkio.service_bytes.n;
	blk->n_io_serviced_recursive = st->blkio.serviced.n;

	for (size_t i = 0; i < st->n_hugetlb; i++) {
		grpc__hugetlb_stats__init(&hs[i]);
		hs[i].usage = st->hugetlb[i].usage;
		hs[i].max_usage = st->hugetlb[i].max_usage;
		hs[i].failcnt = st->hugetlb[i].failcnt;
		grpc__cgroup_stats__hugetlb_stats_entry__init(&he[i]);
		he[i].key = (char *)st->hugetlb[i].page_size;
		he[i].value = &hs[i];
		hep[i] = &he[i];
	}
	cs->cpu_stats = cpu;
	cs->memory_stats = mem;
	cs->pids_stats = pids;
	cs->blkio_stats = blk;
	cs->hugetlb_stats = hep;
	cs->n_hugetlb_stats = st->n_hugetlb;
	return 0;
}

static int stats_container(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__StatsContainerRequest *req = (const Grpc__StatsContainerRequest *)req_;
	Grpc__StatsContainerResponse resp = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	Grpc__CgroupStats cs = GRPC__CGROUP_STATS__INIT;
	lc_cgroup_stats st = { 0 };
	stats_mem m = { .n = 0 };
	ctr *c;
	lc_cgroup *cg;

	int r = get_cgroup(ctx, req->container_id, &c, &cg, err);
	if (r < 0)
		return r;
	r = lc_cgroup_stats_read(cg, &st, err);
	if (r < 0)
		return kc_error_prefix(err, "container `%s`: stats", c->id);
	r = stats_to_proto(&st, &m, &cs);
	if (r >= 0) {
		resp.cgroup_stats = &cs;
		ttrpc_call_reply(call, &resp.base);
	} else
		kc_error_set(err, -r, "container `%s`: stats: out of memory", c->id);
	stats_mem_free(&m);
	lc_cgroup_stats_clear(&st);
	return r < 0 ? r : 0;
}

/* ---- OOM events ---- */

static void oom_publish(agent *a, const char *id) {
	if (oom_event_deliver(a, id))
		return;
	container_registry *reg = ctr_registry(a);
	if (!reg)
		return;
	/* Full: the oldest event goes, as a bounded channel that keeps the newest would. */
	if (reg->n_oom == OOM_QUEUE_MAX) {
		free(reg->oom_queue[0]);
		memmove(reg->oom_queue, reg->oom_queue + 1, (OOM_QUEUE_MAX - 1) * sizeof reg->oom_queue[0]);
		reg->n_oom--;
	}
	char *copy = strdup(id);
	if (copy)
		reg->oom_queue[reg->n_oom++] = copy;
}

char *containers_oom_take(agent *a) {
	container_registry *reg = a->containers;
	if (!reg || reg->n_oom == 0)
		return NULL;
	char *id = reg->oom_queue[0];
	memmove(reg->oom_queue, reg->oom_queue + 1, (reg->n_oom - 1) * sizeof reg->oom_queue[0]);
	reg->n_oom--;
	return id;
}

#define OOM_RETRY_NS (20ULL * 1000 * 1000)
#define OOM_RETRIES 25

void ctr_oom_poll(ctr *c) {
	kc_error err = { 0 };
	uint64_t count, fresh;
	if (!c->oom)
		return;
	int r = lc_cgroup_oom_read(c->oom, &count, &fresh, &err);
	if (r < 0) {
		if (r != -ENOENT)
			log_warn("container %s: OOM watch: %s; stopped", c->id, err.msg);
		ctr_oom_unwatch(c);
		return;
	}
	for (uint64_t i = 0; i < fresh && i < OOM_QUEUE_MAX; i++) {
		log_info("container %s: OOM kill", c->id);
		oom_publish(c->agent, c->id);
	}
	/* A notification with nothing counted yet: the kill is still on its way. */
	if (fresh == 0 && c->oom_retries < OOM_RETRIES) {
		c->oom_retries++;
		(void)ev_timer_arm(&c->oom_retry, now_ns() + OOM_RETRY_NS);
	} else if (fresh > 0)
		c->oom_retries = 0;
}

static void oom_retry(ev_timer *t, void *userdata) {
	ctr_oom_poll(userdata);
}

static int oom_on_io(ev_io *io, int fd, uint32_t revents, void *userdata) {
	ctr *c = userdata;
	c->oom_retries = 0;
	ctr_oom_poll(c);
	return 0;
}

void ctr_oom_watch(ctr *c) {
	kc_error err = { 0 };
	lc_cgroup *cg = lc_instance_cgroup(c->inst);
	if (!cg || c->oom)
		return;
	ev_timer_init(&c->oom_retry, c->agent->loop, oom_retry, c);
	int r = lc_cgroup_oom_watch(cg, &c->oom, &err);
	if (r >= 0)
		r = ev_io_add(c->agent->loop, lc_cgroup_oom_fd(c->oom), EPOLLIN, oom_on_io, c, "oom watch", &c->oom_io);
	if (r < 0) {
		log_warn("container %s: no OOM events: %s", c->id, err.msg[0] ? err.msg : strerror(-r));
		ctr_oom_unwatch(c);
	}
}

void ctr_oom_unwatch(ctr *c) {
	if (c->oom)
		ev_timer_disarm(&c->oom_retry);
	c->oom_io = ev_io_free(c->oom_io);
	c->oom = lc_cgroup_oom_free(c->oom);
}

AGENT_HANDLER(grpc__agent_service__descriptor, "PauseContainer", pause_container);
AGENT_HANDLER(grpc__agent_service__descriptor, "ResumeContainer", resume_container);
AGENT_HANDLER(grpc__agent_service__descriptor, "UpdateContainer", update_container);
AGENT_HANDLER(grpc__agent_service__descriptor, "StatsContainer", stats_container);
