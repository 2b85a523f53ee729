/* lc_spec ⇄ Kata's protobuf Spec (proto/oci.proto, Go-capitalised field names).
 *
 * How the Go runtime fills the message matters for the reader: it converts the runtime-spec Go structs with a
 * JSON round trip (`grpc.OCItoGRPC`), so every pointer that was nil in Go (`*int64 Limit`, `*uint64 Shares`,
 * `*int OOMScoreAdj`, ...) arrives as the proto3 zero value, and the receiver cannot tell "unset" from 0.
 * For those fields the reader takes 0 as absent; each decision is written next to the field. Sub-messages do
 * have presence (NULL), and the seccomp `ErrnoRet` oneof carries presence too. What the host strips before
 * sending (hooks, seccomp unless guest seccomp is enabled, resources.devices/pids/blockIO/network, cpus/mems,
 * the net/cgroup/time/pid namespaces: kata-agent-api.md §1.5) simply arrives absent.
 *
 * The writer is the mirror image for kata-launch: it reports every set field the protocol cannot carry, and
 * every present zero that the reader on the other side would take for absent. */
#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "libcontainer-c/spec-internal.h"
#include "oci.pb-c.h"

/* ---- reader ------------------------------------------------------------------------------------------- */

typedef struct preader {
	lc_arena *arena;
	kc_error *err;
} preader;

static int p_nomem(preader *r, const char *path) {
	if (lc_arena_over_cap(r->arena))
		return kc_error_set(r->err, E2BIG, "%s: the spec needs more than %u MiB of memory", path,
				    LC_SPEC_ARENA_MAX >> 20);
	return kc_error_set(r->err, ENOMEM, "%s: out of memory", path);
}

static int p_count(preader *r, size_t n, const char *path) {
	if (n > LC_SPEC_ARRAY_MAX)
		return kc_error_set(r->err, E2BIG, "%s: %zu entries, at most %u allowed", path, n, LC_SPEC_ARRAY_MAX);
	return 0;
}

/* A copy of a proto string, bounded. keep_empty: "" is a value (an array entry), not absence. */
static int p_str_full(preader *r, const char *s, bool keep_empty, char **ret, const char *path) {
	if (!s || (!*s && !keep_empty)) {
		*ret = NULL;
		return 0;
	}
	size_t len = strnlen(s, LC_SPEC_STRING_MAX + 1);
	if (len > LC_SPEC_STRING_MAX)
		return kc_error_set(r->err, E2BIG, "%s: string longer than %u bytes", path, LC_SPEC_STRING_MAX);
	*ret = lc_arena_strndup(r->arena, s, len);
	return *ret ? 0 : p_nomem(r, path);
}

/* proto3 strings: "" is what an unset field decodes to, so it reads as absent. */
static int p_str(preader *r, const char *s, char **ret, const char *path) {
	return p_str_full(r, s, false, ret, path);
}

static int p_strv(preader *r, char *const *v, size_t n, lc_strv *ret, const char *path) {
	int k = p_count(r, n, path);
	if (k < 0)
		return k;
	if (n == 0)
		return 0;
	char **items = lc_arena_allocn(r->arena, n + 1, sizeof(char *));
	if (!items)
		return p_nomem(r, path);
	for (size_t i = 0; i < n; i++) {
		k = p_str_full(r, v[i], true, &items[i], path);
		if (k < 0)
			return k;
	}
	ret->v = items;
	ret->n = n;
	return 0;
}

/* Allocates n elements of T for an array member; 0 elements leaves it NULL. */
#define P_ARRAY(r, dst, n, path)                                                                 \
	({                                                                                       \
		int _k = p_count((r), (n), (path));                                              \
		if (_k >= 0 && (n) > 0) {                                                        \
			(dst) = lc_arena_allocn((r)->arena, (n), sizeof(*(dst)));                \
			if (!(dst))                                                              \
				_k = p_nomem((r), (path));                                       \
		}                                                                                \
		_k;                                                                              \
	})
#define P_NEW(r, dst, path) (((dst) = lc_arena_alloc((r)->arena, sizeof(*(dst)))) ? 0 : p_nomem((r), (path)))

static int p_mappings(preader *r, Grpc__LinuxIDMapping *const *v, size_t n, lc_id_mapping **ret, size_t *ret_n,
		      const char *path) {
	int k = P_ARRAY(r, *ret, n, path);
	if (k < 0)
		return k;
	for (size_t i = 0; i < n; i++) {
		if (!v[i])
			continue;
		(*ret)[i] = (lc_id_mapping){v[i]->containerid, v[i]->hostid, v[i]->size};
	}
	*ret_n = n;
	return 0;
}

static int p_kv(preader *r, size_t n, lc_kv **ret, size_t *ret_n, const char *path,
		const char *(*key)(const void *, size_t), const char *(*value)(const void *, size_t), const void *v) {
	int k = P_ARRAY(r, *ret, n, path);
	if (k < 0)
		return k;
	for (size_t i = 0; i < n; i++) {
		k = p_str_full(r, key(v, i), true, &(*ret)[i].key, path);
		if (k >= 0)
			k = p_str_full(r, value(v, i), true, &(*ret)[i].value, path);
		if (k < 0)
			return k;
	}
	*ret_n = n;
	return 0;
}

static const char *annotation_key(const void *v, size_t i) {
	Grpc__Spec__AnnotationsEntry *e = ((Grpc__Spec__AnnotationsEntry *const *)v)[i];
	return e ? e->key : "";
}
static const char *annotation_value(const void *v, size_t i) {
	Grpc__Spec__AnnotationsEntry *e = ((Grpc__Spec__AnnotationsEntry *const *)v)[i];
	return e ? e->value : "";
}
static const char *sysctl_key(const void *v, size_t i) {
	Grpc__Linux__SysctlEntry *e = ((Grpc__Linux__SysctlEntry *const *)v)[i];
	return e ? e->key : "";
}
static const char *sysctl_value(const void *v, size_t i) {
	Grpc__Linux__SysctlEntry *e = ((Grpc__Linux__SysctlEntry *const *)v)[i];
	return e ? e->value : "";
}

static int p_process(preader *r, const Grpc__Process *p, lc_spec_process **ret) {
	lc_spec_process *o;
	int k = P_NEW(r, o, "process");
	if (k < 0)
		return k;
	o->terminal = p->terminal;
	if (p->consolesize) {
		k = P_NEW(r, o->console_size, "process.consoleSize");
		if (k < 0)
			return k;
		o->console_size->height = p->consolesize->height;
		o->console_size->width = p->consolesize->width;
	}
	/* User is a value in the Go spec, so uid/gid 0 are real. Umask is not carried: absent. */
	if (p->user) {
		o->user.uid = p->user->uid;
		o->user.gid = p->user->gid;
		k = P_ARRAY(r, o->user.additional_gids, p->user->n_additionalgids, "process.user.additionalGids");
		if (k < 0)
			return k;
		if (p->user->n_additionalgids)
			memcpy(o->user.additional_gids, p->user->additionalgids,
			       p->user->n_additionalgids * sizeof(uint32_t));
		o->user.n_additional_gids = p->user->n_additionalgids;
		k = p_str(r, p->user->username, &o->user.username, "process.user.username");
		if (k < 0)
			return k;
	}
	if ((k = p_strv(r, p->args, p->n_args, &o->args, "process.args")) < 0 ||
	    (k = p_strv(r, p->env, p->n_env, &o->env, "process.env")) < 0 ||
	    (k = p_str(r, p->cwd, &o->cwd, "process.cwd")) < 0)
		return k;
	/* Capabilities is a pointer in Go: a present message with empty lists means "no capabilities". */
	if (p->capabilities) {
		const Grpc__LinuxCapabilities *c = p->capabilities;
		k = P_NEW(r, o->capabilities, "process.capabilities");
		if (k < 0)
			return k;
		if ((k = p_strv(r, c->bounding, c->n_bounding, &o->capabilities->bounding,
				"process.capabilities.bounding")) < 0 ||
		    (k = p_strv(r, c->effective, c->n_effective, &o->capabilities->effective,
				"process.capabilities.effective")) < 0 ||
		    (k = p_strv(r, c->inheritable, c->n_inheritable, &o->capabilities->inheritable,
				"process.capabilities.inheritable")) < 0 ||
		    (k = p_strv(r, c->permitted, c->n_permitted, &o->capabilities->permitted,
				"process.capabilities.permitted")) < 0 ||
		    (k = p_strv(r, c->ambient, c->n_ambient, &o->capabilities->ambient,
				"process.capabilities.ambient")) < 0)
			return k;
	}
	k = P_ARRAY(r, o->rlimits, p->n_rlimits, "process.rlimits");
	if (k < 0)
		return k;
	for (size_t i = 0; i < p->n_rlimits; i++) {
		if (!p->rlimits[i])
			continue;
		k = p_str(r, p->rlimits[i]->type, &o->rlimits[i].type, "process.rlimits");
		if (k < 0)
			return k;
		o->rlimits[i].soft = p->rlimits[i]->soft;
		o->rlimits[i].hard = p->rlimits[i]->hard;
	}
	o->n_rlimits = p->n_rlimits;
	o->no_new_privileges = p->nonewprivileges;
	if ((k = p_str(r, p->apparmorprofile, &o->apparmor_profile, "process.apparmorProfile")) < 0 ||
	    (k = p_str(r, p->selinuxlabel, &o->selinux_label, "process.selinuxLabel")) < 0)
		return k;
	/* OOMScoreAdj is `*int` in Go and arrives as 0 when nil: 0 reads as absent, and the process then
	 * inherits the agent's own value, which is 0 in the guest, so the outcome is the same. */
	o->has_oom_score_adj = p->oomscoreadj != 0;
	o->oom_score_adj = p->oomscoreadj;
	*ret = o;
	return 0;
}

static int p_hooks(preader *r, const Grpc__Hooks *h, lc_spec_hooks **ret) {
	Grpc__Hook *const *lists[_LC_HOOK_MAX] = {
		[LC_HOOK_PRESTART] = h->prestart,
		[LC_HOOK_CREATE_RUNTIME] = h->createruntime,
		[LC_HOOK_CREATE_CONTAINER] = h->createcontainer,
		[LC_HOOK_START_CONTAINER] = h->startcontainer,
		[LC_HOOK_POSTSTART] = h->poststart,
		[LC_HOOK_POSTSTOP] = h->poststop,
	};
	const size_t counts[_LC_HOOK_MAX] = {
		[LC_HOOK_PRESTART] = h->n_prestart,
		[LC_HOOK_CREATE_RUNTIME] = h->n_createruntime,
		[LC_HOOK_CREATE_CONTAINER] = h->n_createcontainer,
		[LC_HOOK_START_CONTAINER] = h->n_startcontainer,
		[LC_HOOK_POSTSTART] = h->n_poststart,
		[LC_HOOK_POSTSTOP] = h->n_poststop,
	};
	lc_spec_hooks *o;
	int k = P_NEW(r, o, "hooks");
	if (k < 0)
		return k;
	for (int kind = 0; kind < _LC_HOOK_MAX; kind++) {
		lc_spec_hook_list *l = &o->kind[kind];
		k = P_ARRAY(r, l->v, counts[kind], "hooks");
		if (k < 0)
			return k;
		for (size_t i = 0; i < counts[kind]; i++) {
			const Grpc__Hook *src = lists[kind][i];
			if (!src)
				continue;
			if ((k = p_str(r, src->path, &l->v[i].path, "hooks")) < 0 ||
			    (k = p_strv(r, src->args, src->n_args, &l->v[i].args, "hooks")) < 0 ||
			    (k = p_strv(r, src->env, src->n_env, &l->v[i].env, "hooks")) < 0)
				return k;
			/* Timeout is `*int` in Go: 0 is nil, i.e. no timeout. */
			l->v[i].has_timeout = src->timeout != 0;
			l->v[i].timeout = src->timeout;
		}
		l->n = counts[kind];
	}
	*ret = o;
	return 0;
}

static int p_mounts(preader *r, const Grpc__Spec *p, lc_spec *s) {
	int k = P_ARRAY(r, s->mounts, p->n_mounts, "mounts");
	if (k < 0)
		return k;
	for (size_t i = 0; i < p->n_mounts; i++) {
		const Grpc__Mount *m = p->mounts[i];
		if (!m)
			continue;
		if ((k = p_str(r, m->destination, &s->mounts[i].destination, "mounts")) < 0 ||
		    (k = p_str(r, m->type, &s->mounts[i].type, "mounts")) < 0 ||
		    (k = p_str(r, m->source, &s->mounts[i].source, "mounts")) < 0 ||
		    (k = p_strv(r, m->options, m->n_options, &s->mounts[i].options, "mounts")) < 0)
			return k;
	}
	s->n_mounts = p->n_mounts;
	return 0;
}

static int p_memory(preader *r, const Grpc__LinuxMemory *m, lc_spec_memory **ret) {
	lc_spec_memory *o;
	int k = P_NEW(r, o, "linux.resources.memory");
	if (k < 0)
		return k;
	/* All `*int64`/`*uint64` in Go: 0 is nil. A limit of 0 bytes is unusable anyway; swappiness 0 is
	 * the one real loss (it reads as "kernel default"), and the writer reports it. DisableOOMKiller
	 * false and absent both leave the OOM killer on. */
	o->has_limit = m->limit != 0, o->limit = m->limit;
	o->has_reservation = m->reservation != 0, o->reservation = m->reservation;
	o->has_swap = m->swap != 0, o->swap = m->swap;
	o->has_kernel = m->kernel != 0, o->kernel = m->kernel;
	o->has_kernel_tcp = m->kerneltcp != 0, o->kernel_tcp = m->kerneltcp;
	o->has_swappiness = m->swappiness != 0, o->swappiness = m->swappiness;
	o->has_disable_oom_killer = m->disableoomkiller, o->disable_oom_killer = m->disableoomkiller;
	*ret = o;
	return 0;
}

static int p_cpu(preader *r, const Grpc__LinuxCPU *c, lc_spec_cpu **ret) {
	lc_spec_cpu *o;
	int k = P_NEW(r, o, "linux.resources.cpu");
	if (k < 0)
		return k;
	/* Pointers in Go, 0 is nil; none of them has a meaningful 0 (shares and period have kernel minimums,
	 * a quota or realtime runtime of 0 would starve the container). Cpus/Mems "" is unset (the host clears
	 * them on purpose). */
	o->has_shares = c->shares != 0, o->shares = c->shares;
	o->has_quota = c->quota != 0, o->quota = c->quota;
	o->has_period = c->period != 0, o->period = c->period;
	o->has_realtime_runtime = c->realtimeruntime != 0, o->realtime_runtime = c->realtimeruntime;
	o->has_realtime_period = c->realtimeperiod != 0, o->realtime_period = c->realtimeperiod;
	if ((k = p_str(r, c->cpus, &o->cpus, "linux.resources.cpu.cpus")) < 0 ||
	    (k = p_str(r, c->mems, &o->mems, "linux.resources.cpu.mems")) < 0)
		return k;
	*ret = o;
	return 0;
}

static int p_throttle(preader *r, Grpc__LinuxThrottleDevice *const *v, size_t n, lc_spec_throttle_list *l) {
	int k = P_ARRAY(r, l->v, n, "linux.resources.blockIO");
	if (k < 0)
		return k;
	for (size_t i = 0; i < n; i++)
		if (v[i])
			l->v[i] = (lc_spec_throttle_device){v[i]->major, v[i]->minor, v[i]->rate};
	l->n = n;
	return 0;
}

static int p_blockio(preader *r, const Grpc__LinuxBlockIO *b, lc_spec_blockio **ret) {
	lc_spec_blockio *o;
	int k = P_NEW(r, o, "linux.resources.blockIO");
	if (k < 0)
		return k;
	/* Weights are `*uint16` in Go and 0 is outside the kernel's 10..1000 anyway: 0 is unset. */
	o->has_weight = b->weight != 0, o->weight = b->weight;
	o->has_leaf_weight = b->leafweight != 0, o->leaf_weight = b->leafweight;
	k = P_ARRAY(r, o->weight_devices, b->n_weightdevice, "linux.resources.blockIO.weightDevice");
	if (k < 0)
		return k;
	for (size_t i = 0; i < b->n_weightdevice; i++) {
		const Grpc__LinuxWeightDevice *w = b->weightdevice[i];
		if (!w)
			continue;
		o->weight_devices[i] = (lc_spec_weight_device){
			.major = w->major,
			.minor = w->minor,
			.has_weight = w->weight != 0,
			.weight = w->weight,
			.has_leaf_weight = w->leafweight != 0,
			.leaf_weight = w->leafweight,
		};
	}
	o->n_weight_devices = b->n_weightdevice;
	if ((k = p_throttle(r, b->throttlereadbpsdevice, b->n_throttlereadbpsdevice,
			    &o->throttle[LC_THROTTLE_READ_BPS])) < 0 ||
	    (k = p_throttle(r, b->throttlewritebpsdevice, b->n_throttlewritebpsdevice,
			    &o->throttle[LC_THROTTLE_WRITE_BPS])) < 0 ||
	    (k = p_throttle(r, b->throttlereadiopsdevice, b->n_throttlereadiopsdevice,
			    &o->throttle[LC_THROTTLE_READ_IOPS])) < 0 ||
	    (k = p_throttle(r, b->throttlewriteiopsdevice, b->n_throttlewriteiopsdevice,
			    &o->throttle[LC_THROTTLE_WRITE_IOPS])) < 0)
		return k;
	*ret = o;
	return 0;
}

static int p_resources(preader *r, const Grpc__LinuxResources *res, lc_spec_resources **ret) {
	lc_spec_resources *o;
	int k = P_NEW(r, o, "linux.resources");
	if (k < 0)
		return k;
	k = P_ARRAY(r, o->devices, res->n_devices, "linux.resources.devices");
	if (k < 0)
		return k;
	for (size_t i = 0; i < res->n_devices; i++) {
		const Grpc__LinuxDeviceCgroup *d = res->devices[i];
		if (!d)
			continue;
		o->devices[i].allow = d->allow;
		/* Major/Minor are `*int64` in Go where nil is the wildcard, and nil arrives as 0; a negative
		 * value is the explicit wildcard (what our writer sends). Major 0 is the "unnamed" block of
		 * virtual filesystems, which no rule has a reason to name: wildcard. Minor 0 is real (5:0 is
		 * /dev/tty), so it stays 0, the narrower reading, unless the major is a wildcard too: then both
		 * were nil, as in the usual deny-all rule. */
		o->devices[i].has_major = d->major > 0, o->devices[i].major = d->major;
		o->devices[i].has_minor = d->minor >= 0 && !(d->minor == 0 && d->major <= 0);
		o->devices[i].minor = d->minor;
		if ((k = p_str(r, d->type, &o->devices[i].type, "linux.resources.devices")) < 0 ||
		    (k = p_str(r, d->access, &o->devices[i].access, "linux.resources.devices")) < 0)
			return k;
	}
	o->n_devices = res->n_devices;
	if (res->memory && (k = p_memory(r, res->memory, &o->memory)) < 0)
		return k;
	if (res->cpu && (k = p_cpu(r, res->cpu, &o->cpu)) < 0)
		return k;
	if (res->pids) {
		/* Limit is a plain int64 in the spec (required): the message's presence is the presence. */
		k = P_NEW(r, o->pids, "linux.resources.pids");
		if (k < 0)
			return k;
		o->pids->has_limit = true;
		o->pids->limit = res->pids->limit;
	}
	if (res->blockio && (k = p_blockio(r, res->blockio, &o->blockio)) < 0)
		return k;
	k = P_ARRAY(r, o->hugepage_limits, res->n_hugepagelimits, "linux.resources.hugepageLimits");
	if (k < 0)
		return k;
	for (size_t i = 0; i < res->n_hugepagelimits; i++) {
		if (!res->hugepagelimits[i])
			continue;
		k = p_str(r, res->hugepagelimits[i]->pagesize, &o->hugepage_limits[i].page_size,
			  "linux.resources.hugepageLimits");
		if (k < 0)
			return k;
		o->hugepage_limits[i].limit = res->hugepagelimits[i]->limit;
	}
	o->n_hugepage_limits = res->n_hugepagelimits;
	if (res->network) {
		const Grpc__LinuxNetwork *n = res->network;
		k = P_NEW(r, o->network, "linux.resources.network");
		if (k < 0)
			return k;
		/* ClassID is `*uint32`: 0 is nil (and 0 is also "no class" for net_cls). */
		o->network->has_class_id = n->classid != 0, o->network->class_id = n->classid;
		k = P_ARRAY(r, o->network->priorities, n->n_priorities, "linux.resources.network.priorities");
		if (k < 0)
			return k;
		for (size_t i = 0; i < n->n_priorities; i++) {
			if (!n->priorities[i])
				continue;
			k = p_str(r, n->priorities[i]->name, &o->network->priorities[i].name,
				  "linux.resources.network.priorities");
			if (k < 0)
				return k;
			o->network->priorities[i].priority = n->priorities[i]->priority;
		}
		o->network->n_priorities = n->n_priorities;
	}
	*ret = o;
	return 0;
}

static int p_seccomp(preader *r, const Grpc__LinuxSeccomp *sc, lc_spec_seccomp **ret) {
	lc_spec_seccomp *o;
	int k = P_NEW(r, o, "linux.seccomp");
	if (k < 0)
		return k;
	/* DefaultErrnoRet, ListenerPath and ListenerMetadata are not in the message: absent. */
	if ((k = p_str(r, sc->defaultaction, &o->default_action, "linux.seccomp.defaultAction")) < 0 ||
	    (k = p_strv(r, sc->architectures, sc->n_architectures, &o->architectures,
			"linux.seccomp.architectures")) < 0 ||
	    (k = p_strv(r, sc->flags, sc->n_flags, &o->flags, "linux.seccomp.flags")) < 0)
		return k;
	k = P_ARRAY(r, o->syscalls, sc->n_syscalls, "linux.seccomp.syscalls");
	if (k < 0)
		return k;
	for (size_t i = 0; i < sc->n_syscalls; i++) {
		const Grpc__LinuxSyscall *src = sc->syscalls[i];
		lc_spec_syscall *dst = &o->syscalls[i];
		if (!src)
			continue;
		if ((k = p_strv(r, src->names, src->n_names, &dst->names, "linux.seccomp.syscalls")) < 0 ||
		    (k = p_str(r, src->action, &dst->action, "linux.seccomp.syscalls")) < 0)
			return k;
		/* The one scalar with real presence on the wire: the ErrnoRet oneof. */
		dst->has_errno_ret = src->errno_ret_case == GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET;
		dst->errno_ret = dst->has_errno_ret ? src->errnoret : 0;
		k = P_ARRAY(r, dst->args, src->n_args, "linux.seccomp.syscalls.args");
		if (k < 0)
			return k;
		for (size_t j = 0; j < src->n_args; j++) {
			const Grpc__LinuxSeccompArg *a = src->args[j];
			if (!a)
				continue;
			/* Index is uint64 on the wire and uint in the spec; specconv rejects anything past 5. */
			dst->args[j].index = a->index > UINT32_MAX ? UINT32_MAX : (uint32_t)a->index;
			dst->args[j].value = a->value;
			dst->args[j].value_two = a->valuetwo;
			k = p_str(r, a->op, &dst->args[j].op, "linux.seccomp.syscalls.args");
			if (k < 0)
				return k;
		}
		dst->n_args = src->n_args;
	}
	o->n_syscalls = sc->n_syscalls;
	*ret = o;
	return 0;
}

static int p_linux(preader *r, const Grpc__Linux *l, lc_spec_linux **ret) {
	lc_spec_linux *o;
	int k = P_NEW(r, o, "linux");
	if (k < 0)
		return k;
	if ((k = p_mappings(r, l->uidmappings, l->n_uidmappings, &o->uid_mappings, &o->n_uid_mappings,
			    "linux.uidMappings")) < 0 ||
	    (k = p_mappings(r, l->gidmappings, l->n_gidmappings, &o->gid_mappings, &o->n_gid_mappings,
			    "linux.gidMappings")) < 0 ||
	    (k = p_kv(r, l->n_sysctl, &o->sysctl, &o->n_sysctl, "linux.sysctl", sysctl_key, sysctl_value,
		      l->sysctl)) < 0)
		return k;
	if (l->resources && (k = p_resources(r, l->resources, &o->resources)) < 0)
		return k;
	if ((k = p_str(r, l->cgroupspath, &o->cgroups_path, "linux.cgroupsPath")) < 0)
		return k;
	k = P_ARRAY(r, o->namespaces, l->n_namespaces, "linux.namespaces");
	if (k < 0)
		return k;
	for (size_t i = 0; i < l->n_namespaces; i++) {
		if (!l->namespaces[i])
			continue;
		/* Path "" is "create a new one" (the host clears the paths it does not want joined). */
		if ((k = p_str(r, l->namespaces[i]->type, &o->namespaces[i].type, "linux.namespaces")) < 0 ||
		    (k = p_str(r, l->namespaces[i]->path, &o->namespaces[i].path, "linux.namespaces")) < 0)
			return k;
	}
	o->n_namespaces = l->n_namespaces;
	k = P_ARRAY(r, o->devices, l->n_devices, "linux.devices");
	if (k < 0)
		return k;
	for (size_t i = 0; i < l->n_devices; i++) {
		const Grpc__LinuxDevice *d = l->devices[i];
		lc_spec_device *dst = &o->devices[i];
		if (!d)
			continue;
		if ((k = p_str(r, d->type, &dst->type, "linux.devices")) < 0 ||
		    (k = p_str(r, d->path, &dst->path, "linux.devices")) < 0)
			return k;
		/* Major/Minor are plain int64 in the Go spec (0 is a real minor); FileMode/UID/GID are
		 * pointers, 0 is nil. uid/gid 0 and absent both mean the container's root; a mode of 0 would
		 * make a node nobody can open, so reading it as "default mode" loses nothing usable. */
		dst->has_major = dst->has_minor = true;
		dst->major = d->major, dst->minor = d->minor;
		dst->has_file_mode = d->filemode != 0, dst->file_mode = d->filemode;
		dst->has_uid = d->uid != 0, dst->uid = d->uid;
		dst->has_gid = d->gid != 0, dst->gid = d->gid;
	}
	o->n_devices = l->n_devices;
	if (l->seccomp && (k = p_seccomp(r, l->seccomp, &o->seccomp)) < 0)
		return k;
	if ((k = p_str(r, l->rootfspropagation, &o->rootfs_propagation, "linux.rootfsPropagation")) < 0 ||
	    (k = p_strv(r, l->maskedpaths, l->n_maskedpaths, &o->masked_paths, "linux.maskedPaths")) < 0 ||
	    (k = p_strv(r, l->readonlypaths, l->n_readonlypaths, &o->readonly_paths, "linux.readonlyPaths")) < 0 ||
	    (k = p_str(r, l->mountlabel, &o->mount_label, "linux.mountLabel")) < 0)
		return k;
	if (l->intelrdt) {
		k = P_NEW(r, o->intel_rdt, "linux.intelRdt");
		if (k < 0)
			return k;
		k = p_str(r, l->intelrdt->l3cacheschema, &o->intel_rdt->l3_cache_schema, "linux.intelRdt.l3CacheSchema");
		if (k < 0)
			return k;
	}
	*ret = o;
	return 0;
}

int lc_spec_from_proto(const Grpc__Spec *p, lc_spec **ret, kc_error *err) {
	_cleanup_(lc_spec_freep) lc_spec *s = NULL;
	int k;

	assert_return(p, -EINVAL);
	assert_return(ret, -EINVAL);
	k = lc_spec_new(&s);
	if (k < 0)
		return kc_error_set(err, k, "spec: out of memory");
	preader r = {.arena = lc_spec_arena(s), .err = err};

	if ((k = p_str(&r, p->version, &s->oci_version, "ociVersion")) < 0)
		return k;
	if (p->process && (k = p_process(&r, p->process, &s->process)) < 0)
		return k;
	if (p->root) {
		if ((k = P_NEW(&r, s->root, "root")) < 0 || (k = p_str(&r, p->root->path, &s->root->path, "root.path")) < 0)
			return k;
		s->root->readonly = p->root->readonly;
	}
	if ((k = p_str(&r, p->hostname, &s->hostname, "hostname")) < 0 || (k = p_mounts(&r, p, s)) < 0)
		return k;
	if (p->hooks && (k = p_hooks(&r, p->hooks, &s->hooks)) < 0)
		return k;
	if ((k = p_kv(&r, p->n_annotations, &s->annotations, &s->n_annotations, "annotations", annotation_key,
		      annotation_value, p->annotations)) < 0)
		return k;
	if (p->linux && (k = p_linux(&r, p->linux, &s->linux)) < 0)
		return k;
	*ret = TAKE_PTR(s);
	return 0;
}

/* ---- writer ------------------------------------------------------------------------------------------- */

typedef struct pwriter {
	lc_strv *dropped; /* NULL when the caller does not want the list */
	size_t cap;
} pwriter;

/* Records a field the message cannot carry. Only fails on ENOMEM. */
static int drop(pwriter *w, const char *fmt, ...) _printf_(2, 3);
static int drop(pwriter *w, const char *fmt, ...) {
	if (!w->dropped)
		return 0;
	lc_strv *d = w->dropped;
	if (d->n + 2 > w->cap) {
		size_t cap = MAX(w->cap * 2, (size_t)8);
		char **v = realloc(d->v, cap * sizeof(char *));
		if (!v)
			return -ENOMEM;
		d->v = v;
		w->cap = cap;
	}
	va_list ap;
	va_start(ap, fmt);
	int k = vasprintf(&d->v[d->n], fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	d->v[++d->n] = NULL;
	return 0;
}

/* A present zero that the reader takes for absent (see the reader's comments). */
#define DROP_ZERO(w, has, value, ...) ((has) && (value) == 0 ? drop((w), __VA_ARGS__) : 0)

#define W_NEW(dst, T, init)                     \
	({                                      \
		(dst) = malloc(sizeof(T));      \
		if (dst)                        \
			init(dst);              \
		(dst) ? 0 : -ENOMEM;            \
	})

/* Strings stay protobuf_c_empty_string (which free_unpacked skips) unless set. */
static int w_str(char **dst, const char *s) {
	if (!s)
		return 0;
	char *p = strdup(s);
	if (!p)
		return -ENOMEM;
	*dst = p;
	return 0;
}

/* The array is linked in before it is filled, so free_unpacked can release a half-built message. */
static int w_strv(char ***dst, size_t *n, const lc_strv *v) {
	if (v->n == 0)
		return 0;
	*dst = calloc(v->n, sizeof(char *));
	if (!*dst)
		return -ENOMEM;
	*n = v->n;
	for (size_t i = 0; i < v->n; i++)
		if (w_str(&(*dst)[i], v->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

#define W_ARRAY(dst, ndst, n)                                       \
	({                                                          \
		int _k = 0;                                         \
		if ((n) > 0) {                                      \
			(dst) = calloc((n), sizeof(*(dst)));        \
			if (dst)                                    \
				(ndst) = (n);                       \
			else                                        \
				_k = -ENOMEM;                       \
		}                                                   \
		_k;                                                 \
	})

static int w_mappings(Grpc__LinuxIDMapping ***dst, size_t *n, const lc_id_mapping *v, size_t nv) {
	int k = W_ARRAY(*dst, *n, nv);
	for (size_t i = 0; k >= 0 && i < nv; i++) {
		k = W_NEW((*dst)[i], Grpc__LinuxIDMapping, grpc__linux_idmapping__init);
		if (k >= 0) {
			(*dst)[i]->containerid = v[i].container_id;
			(*dst)[i]->hostid = v[i].host_id;
			(*dst)[i]->size = v[i].size;
		}
	}
	return k;
}

static int w_process(pwriter *w, const lc_spec_process *s, Grpc__Process *p) {
	int k;
	p->terminal = s->terminal;
	if (s->console_size) {
		if ((k = W_NEW(p->consolesize, Grpc__Box, grpc__box__init)) < 0)
			return k;
		p->consolesize->height = s->console_size->height;
		p->consolesize->width = s->console_size->width;
	}
	if ((k = W_NEW(p->user, Grpc__User, grpc__user__init)) < 0)
		return k;
	p->user->uid = s->user.uid;
	p->user->gid = s->user.gid;
	if ((k = W_ARRAY(p->user->additionalgids, p->user->n_additionalgids, s->user.n_additional_gids)) < 0)
		return k;
	if (s->user.n_additional_gids)
		memcpy(p->user->additionalgids, s->user.additional_gids, s->user.n_additional_gids * sizeof(uint32_t));
	if ((k = w_str(&p->user->username, s->user.username)) < 0)
		return k;
	if (s->user.has_umask && (k = drop(w, "process.user.umask")) < 0)
		return k;
	if ((k = w_strv(&p->args, &p->n_args, &s->args)) < 0 || (k = w_strv(&p->env, &p->n_env, &s->env)) < 0 ||
	    (k = w_str(&p->cwd, s->cwd)) < 0)
		return k;
	if (s->capabilities) {
		const lc_spec_capabilities *c = s->capabilities;
		Grpc__LinuxCapabilities *pc;
		if ((k = W_NEW(p->capabilities, Grpc__LinuxCapabilities, grpc__linux_capabilities__init)) < 0)
			return k;
		pc = p->capabilities;
		if ((k = w_strv(&pc->bounding, &pc->n_bounding, &c->bounding)) < 0 ||
		    (k = w_strv(&pc->effective, &pc->n_effective, &c->effective)) < 0 ||
		    (k = w_strv(&pc->inheritable, &pc->n_inheritable, &c->inheritable)) < 0 ||
		    (k = w_strv(&pc->permitted, &pc->n_permitted, &c->permitted)) < 0 ||
		    (k = w_strv(&pc->ambient, &pc->n_ambient, &c->ambient)) < 0)
			return k;
	}
	if ((k = W_ARRAY(p->rlimits, p->n_rlimits, s->n_rlimits)) < 0)
		return k;
	for (size_t i = 0; i < s->n_rlimits; i++) {
		if ((k = W_NEW(p->rlimits[i], Grpc__POSIXRlimit, grpc__posixrlimit__init)) < 0 ||
		    (k = w_str(&p->rlimits[i]->type, s->rlimits[i].type)) < 0)
			return k;
		p->rlimits[i]->soft = s->rlimits[i].soft;
		p->rlimits[i]->hard = s->rlimits[i].hard;
	}
	p->nonewprivileges = s->no_new_privileges;
	if ((k = w_str(&p->apparmorprofile, s->apparmor_profile)) < 0 ||
	    (k = w_str(&p->selinuxlabel, s->selinux_label)) < 0)
		return k;
	p->oomscoreadj = s->has_oom_score_adj ? s->oom_score_adj : 0;
	if ((k = DROP_ZERO(w, s->has_oom_score_adj, s->oom_score_adj, "process.oomScoreAdj")) < 0)
		return k;
	if (s->scheduler && (k = drop(w, "process.scheduler")) < 0)
		return k;
	if (s->io_priority && (k = drop(w, "process.ioPriority")) < 0)
		return k;
	return 0;
}

static int w_hooks(pwriter *w, const lc_spec_hooks *s, Grpc__Hooks *p) {
	Grpc__Hook ***lists[_LC_HOOK_MAX] = {
		[LC_HOOK_PRESTART] = &p->prestart,
		[LC_HOOK_CREATE_RUNTIME] = &p->createruntime,
		[LC_HOOK_CREATE_CONTAINER] = &p->createcontainer,
		[LC_HOOK_START_CONTAINER] = &p->startcontainer,
		[LC_HOOK_POSTSTART] = &p->poststart,
		[LC_HOOK_POSTSTOP] = &p->poststop,
	};
	size_t *counts[_LC_HOOK_MAX] = {
		[LC_HOOK_PRESTART] = &p->n_prestart,
		[LC_HOOK_CREATE_RUNTIME] = &p->n_createruntime,
		[LC_HOOK_CREATE_CONTAINER] = &p->n_createcontainer,
		[LC_HOOK_START_CONTAINER] = &p->n_startcontainer,
		[LC_HOOK_POSTSTART] = &p->n_poststart,
		[LC_HOOK_POSTSTOP] = &p->n_poststop,
	};
	int k;
	for (int kind = 0; kind < _LC_HOOK_MAX; kind++) {
		const lc_spec_hook_list *l = &s->kind[kind];
		if ((k = W_ARRAY(*lists[kind], *counts[kind], l->n)) < 0)
			return k;
		for (size_t i = 0; i < l->n; i++) {
			Grpc__Hook *h;
			if ((k = W_NEW((*lists[kind])[i], Grpc__Hook, grpc__hook__init)) < 0)
				return k;
			h = (*lists[kind])[i];
			if ((k = w_str(&h->path, l->v[i].path)) < 0 || (k = w_strv(&h->args, &h->n_args, &l->v[i].args)) < 0 ||
			    (k = w_strv(&h->env, &h->n_env, &l->v[i].env)) < 0)
				return k;
			h->timeout = l->v[i].has_timeout ? l->v[i].timeout : 0;
			if ((k = DROP_ZERO(w, l->v[i].has_timeout, l->v[i].timeout, "hooks.%s[%zu].timeout",
					   lc_hook_kind_name(kind), i)) < 0)
				return k;
		}
	}
	return 0;
}

static int w_mounts(pwriter *w, const lc_spec *s, Grpc__Spec *p) {
	int k = W_ARRAY(p->mounts, p->n_mounts, s->n_mounts);
	for (size_t i = 0; k >= 0 && i < s->n_mounts; i++) {
		const lc_spec_mount *m = &s->mounts[i];
		Grpc__Mount *pm;
		if ((k = W_NEW(p->mounts[i], Grpc__Mount, grpc__mount__init)) < 0)
			return k;
		pm = p->mounts[i];
		if ((k = w_str(&pm->destination, m->destination)) < 0 || (k = w_str(&pm->source, m->source)) < 0 ||
		    (k = w_str(&pm->type, m->type)) < 0 || (k = w_strv(&pm->options, &pm->n_options, &m->options)) < 0)
			return k;
		if (m->n_uid_mappings && (k = drop(w, "mounts[%zu].uidMappings", i)) < 0)
			return k;
		if (m->n_gid_mappings && (k = drop(w, "mounts[%zu].gidMappings", i)) < 0)
			return k;
	}
	return k;
}

/* Maps are repeated entry messages of their own type. */
#define W_KV(dst, ndst, src, nsrc, T, init)                                                            \
	({                                                                                             \
		int _kv = W_ARRAY((dst), (ndst), (nsrc));                                              \
		for (size_t _i = 0; _kv >= 0 && _i < (nsrc); _i++) {                                   \
			_kv = W_NEW((dst)[_i], T, init);                                               \
			if (_kv >= 0)                                                                  \
				_kv = w_str(&(dst)[_i]->key, (src)[_i].key);                           \
			if (_kv >= 0)                                                                  \
				_kv = w_str(&(dst)[_i]->value, (src)[_i].value);                       \
		}                                                                                      \
		_kv;                                                                                   \
	})

static int w_memory(pwriter *w, const lc_spec_memory *s, Grpc__LinuxMemory *p) {
	int k;
	p->limit = s->has_limit ? s->limit : 0;
	p->reservation = s->has_reservation ? s->reservation : 0;
	p->swap = s->has_swap ? s->swap : 0;
	p->kernel = s->has_kernel ? s->kernel : 0;
	p->kerneltcp = s->has_kernel_tcp ? s->kernel_tcp : 0;
	p->swappiness = s->has_swappiness ? s->swappiness : 0;
	p->disableoomkiller = s->has_disable_oom_killer && s->disable_oom_killer;
	if ((k = DROP_ZERO(w, s->has_limit, s->limit, "linux.resources.memory.limit")) < 0 ||
	    (k = DROP_ZERO(w, s->has_reservation, s->reservation, "linux.resources.memory.reservation")) < 0 ||
	    (k = DROP_ZERO(w, s->has_swap, s->swap, "linux.resources.memory.swap")) < 0 ||
	    (k = DROP_ZERO(w, s->has_kernel, s->kernel, "linux.resources.memory.kernel")) < 0 ||
	    (k = DROP_ZERO(w, s->has_kernel_tcp, s->kernel_tcp, "linux.resources.memory.kernelTCP")) < 0 ||
	    (k = DROP_ZERO(w, s->has_swappiness, s->swappiness, "linux.resources.memory.swappiness")) < 0)
		return k;
	if (s->has_use_hierarchy && (k = drop(w, "linux.resources.memory.useHierarchy")) < 0)
		return k;
	if (s->has_check_before_update && (k = drop(w, "linux.resources.memory.checkBeforeUpdate")) < 0)
		return k;
	return 0;
}

static int w_cpu(pwriter *w, const lc_spec_cpu *s, Grpc__LinuxCPU *p) {
	int k;
	p->shares = s->has_shares ? s->shares : 0;
	p->quota = s->has_quota ? s->quota : 0;
	p->period = s->has_period ? s->period : 0;
	p->realtimeruntime = s->has_realtime_runtime ? s->realtime_runtime : 0;
	p->realtimeperiod = s->has_realtime_period ? s->realtime_period : 0;
	if ((k = w_str(&p->cpus, s->cpus)) < 0 || (k = w_str(&p->mems, s->mems)) < 0)
		return k;
	if ((k = DROP_ZERO(w, s->has_shares, s->shares, "linux.resources.cpu.shares")) < 0 ||
	    (k = DROP_ZERO(w, s->has_quota, s->quota, "linux.resources.cpu.quota")) < 0 ||
	    (k = DROP_ZERO(w, s->has_period, s->period, "linux.resources.cpu.period")) < 0 ||
	    (k = DROP_ZERO(w, s->has_realtime_runtime, s->realtime_runtime, "linux.resources.cpu.realtimeRuntime")) < 0 ||
	    (k = DROP_ZERO(w, s->has_realtime_period, s->realtime_period, "linux.resources.cpu.realtimePeriod")) < 0)
		return k;
	if (s->has_burst && (k = drop(w, "linux.resources.cpu.burst")) < 0)
		return k;
	if (s->has_idle && (k = drop(w, "linux.resources.cpu.idle")) < 0)
		return k;
	return 0;
}

static int w_throttle(Grpc__LinuxThrottleDevice ***dst, size_t *n, const lc_spec_throttle_list *l) {
	int k = W_ARRAY(*dst, *n, l->n);
	for (size_t i = 0; k >= 0 && i < l->n; i++) {
		k = W_NEW((*dst)[i], Grpc__LinuxThrottleDevice, grpc__linux_throttle_device__init);
		if (k >= 0) {
			(*dst)[i]->major = l->v[i].major;
			(*dst)[i]->minor = l->v[i].minor;
			(*dst)[i]->rate = l->v[i].rate;
		}
	}
	return k;
}

static int w_blockio(pwriter *w, const lc_spec_blockio *s, Grpc__LinuxBlockIO *p) {
	int k;
	p->weight = s->has_weight ? s->weight : 0;
	p->leafweight = s->has_leaf_weight ? s->leaf_weight : 0;
	if ((k = DROP_ZERO(w, s->has_weight, s->weight, "linux.resources.blockIO.weight")) < 0 ||
	    (k = DROP_ZERO(w, s->has_leaf_weight, s->leaf_weight, "linux.resources.blockIO.leafWeight")) < 0)
		return k;
	if ((k = W_ARRAY(p->weightdevice, p->n_weightdevice, s->n_weight_devices)) < 0)
		return k;
	for (size_t i = 0; i < s->n_weight_devices; i++) {
		const lc_spec_weight_device *d = &s->weight_devices[i];
		if ((k = W_NEW(p->weightdevice[i], Grpc__LinuxWeightDevice, grpc__linux_weight_device__init)) < 0)
			return k;
		p->weightdevice[i]->major = d->major;
		p->weightdevice[i]->minor = d->minor;
		p->weightdevice[i]->weight = d->has_weight ? d->weight : 0;
		p->weightdevice[i]->leafweight = d->has_leaf_weight ? d->leaf_weight : 0;
		if ((k = DROP_ZERO(w, d->has_weight, d->weight, "linux.resources.blockIO.weightDevice[%zu].weight", i)) < 0 ||
		    (k = DROP_ZERO(w, d->has_leaf_weight, d->leaf_weight,
				   "linux.resources.blockIO.weightDevice[%zu].leafWeight", i)) < 0)
			return k;
	}
	if ((k = w_throttle(&p->throttlereadbpsdevice, &p->n_throttlereadbpsdevice,
			    &s->throttle[LC_THROTTLE_READ_BPS])) < 0 ||
	    (k = w_throttle(&p->throttlewritebpsdevice, &p->n_throttlewritebpsdevice,
			    &s->throttle[LC_THROTTLE_WRITE_BPS])) < 0 ||
	    (k = w_throttle(&p->throttlereadiopsdevice, &p->n_throttlereadiopsdevice,
			    &s->throttle[LC_THROTTLE_READ_IOPS])) < 0 ||
	    (k = w_throttle(&p->throttlewriteiopsdevice, &p->n_throttlewriteiopsdevice,
			    &s->throttle[LC_THROTTLE_WRITE_IOPS])) < 0)
		return k;
	return 0;
}

static int w_resources(pwriter *w, const lc_spec_resources *s, Grpc__LinuxResources *p) {
	int k = W_ARRAY(p->devices, p->n_devices, s->n_devices);
	for (size_t i = 0; k >= 0 && i < s->n_devices; i++) {
		const lc_spec_device_cgroup *d = &s->devices[i];
		Grpc__LinuxDeviceCgroup *pd;
		if ((k = W_NEW(p->devices[i], Grpc__LinuxDeviceCgroup, grpc__linux_device_cgroup__init)) < 0)
			return k;
		pd = p->devices[i];
		pd->allow = d->allow;
		/* -1 is the unambiguous wildcard; see the reader for what 0 means. */
		pd->major = d->has_major ? d->major : -1;
		pd->minor = d->has_minor ? d->minor : -1;
		if ((k = w_str(&pd->type, d->type)) < 0 || (k = w_str(&pd->access, d->access)) < 0)
			return k;
		if ((k = DROP_ZERO(w, d->has_major, d->major, "linux.resources.devices[%zu].major", i)) < 0)
			return k;
		if (d->has_minor && d->minor == 0 && (!d->has_major || d->major <= 0) &&
		    (k = drop(w, "linux.resources.devices[%zu].minor", i)) < 0)
			return k;
	}
	if (k < 0)
		return k;
	if (s->memory && ((k = W_NEW(p->memory, Grpc__LinuxMemory, grpc__linux_memory__init)) < 0 ||
			  (k = w_memory(w, s->memory, p->memory)) < 0))
		return k;
	if (s->cpu && ((k = W_NEW(p->cpu, Grpc__LinuxCPU, grpc__linux_cpu__init)) < 0 || (k = w_cpu(w, s->cpu, p->cpu)) < 0))
		return k;
	if (s->pids) {
		if ((k = W_NEW(p->pids, Grpc__LinuxPids, grpc__linux_pids__init)) < 0)
			return k;
		p->pids->limit = s->pids->has_limit ? s->pids->limit : 0;
		if (!s->pids->has_limit && (k = drop(w, "linux.resources.pids.limit")) < 0)
			return k;
	}
	if (s->blockio && ((k = W_NEW(p->blockio, Grpc__LinuxBlockIO, grpc__linux_block_io__init)) < 0 ||
			   (k = w_blockio(w, s->blockio, p->blockio)) < 0))
		return k;
	if ((k = W_ARRAY(p->hugepagelimits, p->n_hugepagelimits, s->n_hugepage_limits)) < 0)
		return k;
	for (size_t i = 0; i < s->n_hugepage_limits; i++) {
		if ((k = W_NEW(p->hugepagelimits[i], Grpc__LinuxHugepageLimit, grpc__linux_hugepage_limit__init)) < 0 ||
		    (k = w_str(&p->hugepagelimits[i]->pagesize, s->hugepage_limits[i].page_size)) < 0)
			return k;
		p->hugepagelimits[i]->limit = s->hugepage_limits[i].limit;
	}
	if (s->network) {
		Grpc__LinuxNetwork *pn;
		if ((k = W_NEW(p->network, Grpc__LinuxNetwork, grpc__linux_network__init)) < 0)
			return k;
		pn = p->network;
		pn->classid = s->network->has_class_id ? s->network->class_id : 0;
		if ((k = DROP_ZERO(w, s->network->has_class_id, s->network->class_id,
				   "linux.resources.network.classID")) < 0 ||
		    (k = W_ARRAY(pn->priorities, pn->n_priorities, s->network->n_priorities)) < 0)
			return k;
		for (size_t i = 0; i < s->network->n_priorities; i++) {
			if ((k = W_NEW(pn->priorities[i], Grpc__LinuxInterfacePriority,
				       grpc__linux_interface_priority__init)) < 0 ||
			    (k = w_str(&pn->priorities[i]->name, s->network->priorities[i].name)) < 0)
				return k;
			pn->priorities[i]->priority = s->network->priorities[i].priority;
		}
	}
	if (s->n_rdma && (k = drop(w, "linux.resources.rdma")) < 0)
		return k;
	if (s->n_unified && (k = drop(w, "linux.resources.unified")) < 0)
		return k;
	return 0;
}

static int w_seccomp(pwriter *w, const lc_spec_seccomp *s, Grpc__LinuxSeccomp *p) {
	int k;
	if ((k = w_str(&p->defaultaction, s->default_action)) < 0 ||
	    (k = w_strv(&p->architectures, &p->n_architectures, &s->architectures)) < 0 ||
	    (k = w_strv(&p->flags, &p->n_flags, &s->flags)) < 0 ||
	    (k = W_ARRAY(p->syscalls, p->n_syscalls, s->n_syscalls)) < 0)
		return k;
	for (size_t i = 0; i < s->n_syscalls; i++) {
		const lc_spec_syscall *sc = &s->syscalls[i];
		Grpc__LinuxSyscall *ps;
		if ((k = W_NEW(p->syscalls[i], Grpc__LinuxSyscall, grpc__linux_syscall__init)) < 0)
			return k;
		ps = p->syscalls[i];
		if ((k = w_strv(&ps->names, &ps->n_names, &sc->names)) < 0 || (k = w_str(&ps->action, sc->action)) < 0 ||
		    (k = W_ARRAY(ps->args, ps->n_args, sc->n_args)) < 0)
			return k;
		if (sc->has_errno_ret) {
			ps->errno_ret_case = GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET;
			ps->errnoret = sc->errno_ret;
		}
		for (size_t j = 0; j < sc->n_args; j++) {
			if ((k = W_NEW(ps->args[j], Grpc__LinuxSeccompArg, grpc__linux_seccomp_arg__init)) < 0 ||
			    (k = w_str(&ps->args[j]->op, sc->args[j].op)) < 0)
				return k;
			ps->args[j]->index = sc->args[j].index;
			ps->args[j]->value = sc->args[j].value;
			ps->args[j]->valuetwo = sc->args[j].value_two;
		}
	}
	if (s->has_default_errno_ret && (k = drop(w, "linux.seccomp.defaultErrnoRet")) < 0)
		return k;
	if (s->listener_path && (k = drop(w, "linux.seccomp.listenerPath")) < 0)
		return k;
	if (s->listener_metadata && (k = drop(w, "linux.seccomp.listenerMetadata")) < 0)
		return k;
	return 0;
}

static int w_linux(pwriter *w, const lc_spec_linux *s, Grpc__Linux *p) {
	int k;
	if ((k = w_mappings(&p->uidmappings, &p->n_uidmappings, s->uid_mappings, s->n_uid_mappings)) < 0 ||
	    (k = w_mappings(&p->gidmappings, &p->n_gidmappings, s->gid_mappings, s->n_gid_mappings)) < 0 ||
	    (k = W_KV(p->sysctl, p->n_sysctl, s->sysctl, s->n_sysctl, Grpc__Linux__SysctlEntry,
		      grpc__linux__sysctl_entry__init)) < 0)
		return k;
	if (s->resources && ((k = W_NEW(p->resources, Grpc__LinuxResources, grpc__linux_resources__init)) < 0 ||
			     (k = w_resources(w, s->resources, p->resources)) < 0))
		return k;
	if ((k = w_str(&p->cgroupspath, s->cgroups_path)) < 0 ||
	    (k = W_ARRAY(p->namespaces, p->n_namespaces, s->n_namespaces)) < 0)
		return k;
	for (size_t i = 0; i < s->n_namespaces; i++)
		if ((k = W_NEW(p->namespaces[i], Grpc__LinuxNamespace, grpc__linux_namespace__init)) < 0 ||
		    (k = w_str(&p->namespaces[i]->type, s->namespaces[i].type)) < 0 ||
		    (k = w_str(&p->namespaces[i]->path, s->namespaces[i].path)) < 0)
			return k;
	if ((k = W_ARRAY(p->devices, p->n_devices, s->n_devices)) < 0)
		return k;
	for (size_t i = 0; i < s->n_devices; i++) {
		const lc_spec_device *d = &s->devices[i];
		Grpc__LinuxDevice *pd;
		if ((k = W_NEW(p->devices[i], Grpc__LinuxDevice, grpc__linux_device__init)) < 0)
			return k;
		pd = p->devices[i];
		if ((k = w_str(&pd->path, d->path)) < 0 || (k = w_str(&pd->type, d->type)) < 0)
			return k;
		pd->major = d->major, pd->minor = d->minor;
		pd->filemode = d->has_file_mode ? d->file_mode : 0;
		pd->uid = d->has_uid ? d->uid : 0;
		pd->gid = d->has_gid ? d->gid : 0;
		if ((k = DROP_ZERO(w, d->has_file_mode, d->file_mode, "linux.devices[%zu].fileMode", i)) < 0)
			return k;
	}
	if (s->seccomp && ((k = W_NEW(p->seccomp, Grpc__LinuxSeccomp, grpc__linux_seccomp__init)) < 0 ||
			   (k = w_seccomp(w, s->seccomp, p->seccomp)) < 0))
		return k;
	if ((k = w_str(&p->rootfspropagation, s->rootfs_propagation)) < 0 ||
	    (k = w_strv(&p->maskedpaths, &p->n_maskedpaths, &s->masked_paths)) < 0 ||
	    (k = w_strv(&p->readonlypaths, &p->n_readonlypaths, &s->readonly_paths)) < 0 ||
	    (k = w_str(&p->mountlabel, s->mount_label)) < 0)
		return k;
	if (s->intel_rdt) {
		const lc_spec_intel_rdt *rdt = s->intel_rdt;
		if ((k = W_NEW(p->intelrdt, Grpc__LinuxIntelRdt, grpc__linux_intel_rdt__init)) < 0 ||
		    (k = w_str(&p->intelrdt->l3cacheschema, rdt->l3_cache_schema)) < 0)
			return k;
		if ((rdt->clos_id && (k = drop(w, "linux.intelRdt.closID")) < 0) ||
		    (rdt->mem_bw_schema && (k = drop(w, "linux.intelRdt.memBwSchema")) < 0) ||
		    (rdt->has_enable_cmt && (k = drop(w, "linux.intelRdt.enableCMT")) < 0) ||
		    (rdt->has_enable_mbm && (k = drop(w, "linux.intelRdt.enableMBM")) < 0))
			return k;
	}
	if (s->personality && (k = drop(w, "linux.personality")) < 0)
		return k;
	if (s->n_time_offsets && (k = drop(w, "linux.timeOffsets")) < 0)
		return k;
	return 0;
}

static int w_spec(pwriter *w, const lc_spec *s, Grpc__Spec *p) {
	int k;
	if ((k = w_str(&p->version, s->oci_version)) < 0)
		return k;
	if (s->process && ((k = W_NEW(p->process, Grpc__Process, grpc__process__init)) < 0 ||
			   (k = w_process(w, s->process, p->process)) < 0))
		return k;
	if (s->root) {
		if ((k = W_NEW(p->root, Grpc__Root, grpc__root__init)) < 0 || (k = w_str(&p->root->path, s->root->path)) < 0)
			return k;
		p->root->readonly = s->root->readonly;
	}
	if ((k = w_str(&p->hostname, s->hostname)) < 0 || (k = w_mounts(w, s, p)) < 0)
		return k;
	if (s->domainname && (k = drop(w, "domainname")) < 0)
		return k;
	if (s->hooks && ((k = W_NEW(p->hooks, Grpc__Hooks, grpc__hooks__init)) < 0 || (k = w_hooks(w, s->hooks, p->hooks)) < 0))
		return k;
	if ((k = W_KV(p->annotations, p->n_annotations, s->annotations, s->n_annotations, Grpc__Spec__AnnotationsEntry,
		      grpc__spec__annotations_entry__init)) < 0)
		return k;
	if (s->linux && ((k = W_NEW(p->linux, Grpc__Linux, grpc__linux__init)) < 0 || (k = w_linux(w, s->linux, p->linux)) < 0))
		return k;
	return 0;
}

Grpc__Spec *lc_spec_proto_free(Grpc__Spec *p) {
	if (p)
		grpc__spec__free_unpacked(p, NULL);
	return NULL;
}

int lc_spec_to_proto(const lc_spec *s, Grpc__Spec **ret, lc_strv *ret_dropped, kc_error *err) {
	Grpc__Spec *p = NULL;
	lc_strv dropped = {};
	pwriter w = {.dropped = ret_dropped ? &dropped : NULL};
	int k;

	assert_return(s, -EINVAL);
	assert_return(ret, -EINVAL);
	k = W_NEW(p, Grpc__Spec, grpc__spec__init);
	if (k >= 0)
		k = w_spec(&w, s, p);
	if (k < 0) {
		(void)lc_spec_proto_free(p);
		lc_strv_clear(&dropped);
		return kc_error_set(err, k, "spec: out of memory building the protobuf Spec");
	}
	*ret = p;
	if (ret_dropped)
		*ret_dropped = dropped;
	return 0;
}
