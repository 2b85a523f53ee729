/* lc_spec → lc_config: every check a container configuration gets, in one place. The executor trusts the
 * result, so a rule missing here is a rule missing everywhere. Messages name the JSON path and the value. */
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/util.h"
#include "libcontainer-c/arena.h"
#include "libcontainer-c/specconv-internal.h"

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "additionalGids are handed out as gid_t");

/* /proc/sys/user/max_*_namespaces aside, the kernel takes at most this many lines in uid_map (since 4.15). */
#define ID_MAP_LINES_MAX 340
/* NGROUPS_MAX of the kernel: setgroups(2) refuses more. */
#define GROUPS_MAX 65536
/* mount(2) copies at most one page of data, NUL included. */
#define MOUNT_DATA_MAX 4095
/* __NEW_UTS_LEN */
#define UTS_NAME_MAX 64
/* The kernel's internal dev_t: 12 bits of major, 20 of minor. */
#define DEV_MAJOR_MAX 4095
#define DEV_MINOR_MAX 1048575

typedef struct conv {
	lc_config *c;
	const lc_spec *s;
	const lc_specconv_opts *opts;
	lc_arena *arena;
	kc_error *err;
} conv;

#define FAIL(v, ...) kc_error_set((v)->err, EINVAL, __VA_ARGS__)

static int nomem(conv *v) {
	return kc_error_set(v->err, ENOMEM, "spec: out of memory while validating");
}

#define NEW_ARRAY(v, dst, n)                                                          \
	({                                                                            \
		int _k = 0;                                                           \
		if ((n) > 0 && !((dst) = lc_arena_allocn((v)->arena, (n), sizeof(*(dst))))) \
			_k = nomem(v);                                                \
		_k;                                                                   \
	})

/* The container has a namespace of this kind that is not the host's: its own, a joined one, or one the
 * caller declared shared (the sandbox's). */
static bool has_ns(const conv *v, lc_ns_kind k) {
	return v->c->ns[k].enabled || (v->opts->shared_ns & LC_NS_BIT(k));
}

/* An absolute path that fits in PATH_MAX. what names the field for the message. */
static int check_abs(conv *v, const char *p, const char *fmt, ...) _printf_(3, 4);
static int check_abs(conv *v, const char *p, const char *fmt, ...) {
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (!p || !*p)
		return FAIL(v, "%s: missing", what);
	if (p[0] != '/')
		return FAIL(v, "%s: \"%s\" is not an absolute path", what, p);
	if (strlen(p) >= PATH_MAX)
		return FAIL(v, "%s: longer than %d bytes", what, PATH_MAX - 1);
	return 0;
}

static bool has_dotdot(const char *p) {
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

/* KEY=VALUE with a non-empty KEY: what execve and the hooks' environment expect. */
static int check_env(conv *v, const lc_strv *env, const char *field) {
	for (size_t i = 0; i < env->n; i++) {
		const char *eq = strchr(env->v[i], '=');
		if (!eq || eq == env->v[i])
			return FAIL(v, "%s[%zu]: \"%s\" is not KEY=VALUE", field, i, env->v[i]);
	}
	return 0;
}

/* ---- namespaces and mappings ----------------------------------------------------------------------------- */

static int conv_namespaces(conv *v) {
	const lc_spec_linux *l = v->s->linux;
	for (size_t i = 0; l && i < l->n_namespaces; i++) {
		const lc_spec_namespace *n = &l->namespaces[i];
		if (!n->type)
			return FAIL(v, "linux.namespaces[%zu].type: missing", i);
		int k = lc_ns_kind_from_name(n->type);
		if (k < 0)
			return FAIL(v, "linux.namespaces[%zu].type: unknown namespace \"%s\"", i, n->type);
		if (v->c->ns[k].enabled)
			return FAIL(v, "linux.namespaces[%zu].type: duplicate namespace \"%s\"", i, n->type);
		if (n->path && *n->path) {
			int r = check_abs(v, n->path, "linux.namespaces[%zu].path", i);
			if (r < 0)
				return r;
			v->c->ns[k].path = n->path;
		} else
			v->c->clone_flags |= lc_ns_kind_clone_flag(k);
		v->c->ns[k].enabled = true;
	}
	v->c->shared_ns = v->opts->shared_ns;
	return 0;
}

static int check_mappings(conv *v, const lc_id_mapping *m, size_t n, const char *field) {
	if (n > ID_MAP_LINES_MAX)
		return FAIL(v, "%s: %zu mappings, the kernel accepts at most %d", field, n, ID_MAP_LINES_MAX);
	for (size_t i = 0; i < n; i++) {
		if (m[i].size == 0)
			return FAIL(v, "%s[%zu].size: 0 is not a valid mapping size", field, i);
		if ((uint64_t)m[i].container_id + m[i].size > (uint64_t)UINT32_MAX + 1)
			return FAIL(v, "%s[%zu]: containerID %" PRIu32 " + size %" PRIu32 " overflows 32 bits", field, i,
				    m[i].container_id, m[i].size);
		if ((uint64_t)m[i].host_id + m[i].size > (uint64_t)UINT32_MAX + 1)
			return FAIL(v, "%s[%zu]: hostID %" PRIu32 " + size %" PRIu32 " overflows 32 bits", field, i,
				    m[i].host_id, m[i].size);
	}
	return 0;
}

static int conv_mappings(conv *v) {
	const lc_spec_linux *l = v->s->linux;
	const lc_ns_config *user = &v->c->ns[LC_NS_USER];
	int r;

	if (!l)
		return 0;
	if ((r = check_mappings(v, l->uid_mappings, l->n_uid_mappings, "linux.uidMappings")) < 0 ||
	    (r = check_mappings(v, l->gid_mappings, l->n_gid_mappings, "linux.gidMappings")) < 0)
		return r;
	bool any = l->n_uid_mappings || l->n_gid_mappings;
	if (any && !user->enabled)
		return FAIL(v, "linux.%s: mappings need a user namespace (linux.namespaces has no \"user\")",
			    l->n_uid_mappings ? "uidMappings" : "gidMappings");
	/* uid_map and gid_map can be written once, by the namespace's creator: never into a joined one. */
	if (any && user->path)
		return FAIL(v, "linux.%s: cannot be applied to the user namespace joined at \"%s\"",
			    l->n_uid_mappings ? "uidMappings" : "gidMappings", user->path);
	if (user->enabled && !user->path && (!l->n_uid_mappings || !l->n_gid_mappings))
		return FAIL(v, "linux.namespaces: a new user namespace needs linux.uidMappings and linux.gidMappings");
	v->c->uid_mappings = l->uid_mappings, v->c->n_uid_mappings = l->n_uid_mappings;
	v->c->gid_mappings = l->gid_mappings, v->c->n_gid_mappings = l->n_gid_mappings;
	return 0;
}

/* ---- process ---------------------------------------------------------------------------------------------- */

static int conv_caps(conv *v, const lc_spec_capabilities *caps, lc_process_config *p) {
	static const char *const set_names[_LC_CAP_SET_MAX] = {
		[LC_CAP_BOUNDING] = "bounding",   [LC_CAP_EFFECTIVE] = "effective", [LC_CAP_INHERITABLE] = "inheritable",
		[LC_CAP_PERMITTED] = "permitted", [LC_CAP_AMBIENT] = "ambient",
	};
	const lc_strv *sets[_LC_CAP_SET_MAX] = {
		[LC_CAP_BOUNDING] = &caps->bounding,       [LC_CAP_EFFECTIVE] = &caps->effective,
		[LC_CAP_INHERITABLE] = &caps->inheritable, [LC_CAP_PERMITTED] = &caps->permitted,
		[LC_CAP_AMBIENT] = &caps->ambient,
	};
	for (int s = 0; s < _LC_CAP_SET_MAX; s++)
		for (size_t i = 0; i < sets[s]->n; i++) {
			int cap = lc_capability_from_name(sets[s]->v[i]);
			if (cap < 0)
				return FAIL(v, "process.capabilities.%s[%zu]: unknown capability \"%s\"", set_names[s], i,
					    sets[s]->v[i]);
			p->caps[s] |= UINT64_C(1) << cap;
		}
	p->has_capabilities = true;
	return 0;
}

static int conv_rlimits(conv *v, const lc_spec_process *sp, lc_process_config *p) {
	int r = NEW_ARRAY(v, p->rlimits, sp->n_rlimits);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sp->n_rlimits; i++) {
		const lc_spec_rlimit *rl = &sp->rlimits[i];
		if (!rl->type)
			return FAIL(v, "process.rlimits[%zu].type: missing", i);
		int res = lc_rlimit_from_name(rl->type);
		if (res < 0)
			return FAIL(v, "process.rlimits[%zu].type: unknown rlimit \"%s\"", i, rl->type);
		for (size_t j = 0; j < i; j++)
			if (p->rlimits[j].resource == res)
				return FAIL(v, "process.rlimits[%zu].type: duplicate rlimit \"%s\"", i, rl->type);
		if (rl->soft > rl->hard)
			return FAIL(v, "process.rlimits[%zu]: soft limit %" PRIu64 " is above hard limit %" PRIu64, i,
				    rl->soft, rl->hard);
		p->rlimits[i] = (lc_rlimit_config){res, rl->soft, rl->hard};
	}
	p->n_rlimits = sp->n_rlimits;
	return 0;
}

static int conv_scheduler(conv *v, const lc_spec_scheduler *s, lc_process_config *p) {
	if (!s->policy)
		return FAIL(v, "process.scheduler.policy: missing");
	int policy = lc_sched_policy_from_name(s->policy);
	if (policy < 0)
		return FAIL(v, "process.scheduler.policy: unknown policy \"%s\"", s->policy);
	bool realtime = policy == SCHED_FIFO || policy == SCHED_RR;
	if (s->has_nice && (s->nice < -20 || s->nice > 19))
		return FAIL(v, "process.scheduler.nice: %" PRId32 " is out of range -20..19", s->nice);
	if (s->has_priority && realtime && (s->priority < 1 || s->priority > 99))
		return FAIL(v, "process.scheduler.priority: %" PRId32 " is out of range 1..99 for %s", s->priority,
			    s->policy);
	if (s->has_priority && !realtime && s->priority != 0)
		return FAIL(v, "process.scheduler.priority: %" PRId32 " must be 0 for %s", s->priority, s->policy);
	for (size_t i = 0; i < s->flags.n; i++) {
		uint64_t f = lc_sched_flag_from_name(s->flags.v[i]);
		if (!f)
			return FAIL(v, "process.scheduler.flags[%zu]: unknown flag \"%s\"", i, s->flags.v[i]);
		p->sched_flags |= f;
	}
	/* sched_setattr(2) wants runtime <= deadline <= period for SCHED_DEADLINE (period 0 means deadline). */
	if (policy == SCHED_DEADLINE) {
		uint64_t period = s->has_period && s->period ? s->period : s->deadline;
		if (!s->has_runtime || !s->has_deadline || s->runtime > s->deadline || s->deadline > period)
			return FAIL(v, "process.scheduler: SCHED_DEADLINE needs runtime <= deadline <= period");
	}
	p->has_scheduler = true;
	p->sched_policy = policy;
	p->sched_nice = s->nice;
	p->sched_priority = s->priority;
	p->sched_runtime = s->runtime, p->sched_deadline = s->deadline, p->sched_period = s->period;
	return 0;
}

static int conv_user(conv *v, const lc_spec_user *u, lc_process_config *p) {
	if (u->n_additional_gids > GROUPS_MAX)
		return FAIL(v, "process.user.additionalGids: %zu groups, at most %d allowed", u->n_additional_gids,
			    GROUPS_MAX);
	if (u->has_umask && u->umask > 0777)
		return FAIL(v, "process.user.umask: %#" PRIo32 " is out of range 0..0777", u->umask);
	p->uid = u->uid;
	p->gid = u->gid;
	p->additional_gids = (const gid_t *)u->additional_gids;
	p->n_additional_gids = u->n_additional_gids;
	p->has_umask = u->has_umask;
	p->umask = u->umask;
	return 0;
}

static int conv_process(conv *v) {
	const lc_spec_process *sp = v->s->process;
	bool optional = v->opts->flags & LC_SPECCONV_PROCESS_OPTIONAL;
	lc_process_config *p;
	int r;

	if (!sp) {
		if (optional)
			return 0;
		return FAIL(v, "process: missing");
	}
	if (!(p = lc_arena_alloc(v->arena, sizeof *p)))
		return nomem(v);
	if (sp->args.n == 0 && !optional)
		return FAIL(v, "process.args: empty");
	if (sp->args.n && !*sp->args.v[0])
		return FAIL(v, "process.args[0]: empty");
	p->args = sp->args.n ? sp->args.v : NULL, p->n_args = sp->args.n;
	if ((r = check_env(v, &sp->env, "process.env")) < 0)
		return r;
	p->env = sp->env.n ? sp->env.v : NULL, p->n_env = sp->env.n;
	if ((r = check_abs(v, sp->cwd, "process.cwd")) < 0)
		return r;
	p->cwd = sp->cwd;
	p->terminal = sp->terminal;
	if (sp->console_size) {
		if (sp->console_size->height > UINT16_MAX || sp->console_size->width > UINT16_MAX)
			return FAIL(v, "process.consoleSize: %" PRIu32 "x%" PRIu32 " is larger than 65535x65535",
				    sp->console_size->height, sp->console_size->width);
		p->has_console_size = true;
		p->console_height = (uint16_t)sp->console_size->height;
		p->console_width = (uint16_t)sp->console_size->width;
	}
	if ((r = conv_user(v, &sp->user, p)) < 0)
		return r;
	if (sp->capabilities && (r = conv_caps(v, sp->capabilities, p)) < 0)
		return r;
	if ((r = conv_rlimits(v, sp, p)) < 0)
		return r;
	p->no_new_privileges = sp->no_new_privileges;
	p->apparmor_profile = sp->apparmor_profile;
	p->selinux_label = sp->selinux_label;
	if (sp->has_oom_score_adj) {
		if (sp->oom_score_adj < -1000 || sp->oom_score_adj > 1000)
			return FAIL(v, "process.oomScoreAdj: %" PRId64 " is out of range -1000..1000", sp->oom_score_adj);
		p->has_oom_score_adj = true;
		p->oom_score_adj = (int)sp->oom_score_adj;
	}
	if (sp->scheduler && (r = conv_scheduler(v, sp->scheduler, p)) < 0)
		return r;
	if (sp->io_priority) {
		const lc_spec_io_priority *io = sp->io_priority;
		int class = io->class ? lc_ioprio_class_from_name(io->class) : -1;
		if (class < 0)
			return FAIL(v, "process.ioPriority.class: unknown class \"%s\"", io->class ? io->class : "");
		if (io->priority < 0 || io->priority > 7)
			return FAIL(v, "process.ioPriority.priority: %" PRId32 " is out of range 0..7", io->priority);
		p->has_io_priority = true;
		p->ioprio_class = class;
		p->ioprio_level = io->priority;
	}
	v->c->process = p;
	return 0;
}

/* ---- root, hostname ---------------------------------------------------------------------------------------- */

static int conv_root(conv *v) {
	const lc_spec *s = v->s;
	if (!s->root)
		return FAIL(v, "root: missing");
	if (!s->root->path || !*s->root->path)
		return FAIL(v, "root.path: missing");
	/* A relative root is relative to the bundle; resolving it is the caller's business. */
	if (strlen(s->root->path) >= PATH_MAX)
		return FAIL(v, "root.path: longer than %d bytes", PATH_MAX - 1);
	v->c->rootfs = s->root->path;
	v->c->rootfs_readonly = s->root->readonly;
	return 0;
}

static int conv_uts_name(conv *v, const char *value, const char *field) {
	if (!value || !*value)
		return 0;
	if (strlen(value) > UTS_NAME_MAX)
		return FAIL(v, "%s: \"%s\" is longer than %d bytes", field, value, UTS_NAME_MAX);
	if (!has_ns(v, LC_NS_UTS))
		return FAIL(v, "%s: \"%s\" needs a UTS namespace", field, value);
	return 0;
}

static int conv_names(conv *v) {
	int r;
	if ((r = conv_uts_name(v, v->s->hostname, "hostname")) < 0 ||
	    (r = conv_uts_name(v, v->s->domainname, "domainname")) < 0)
		return r;
	v->c->hostname = v->s->hostname && *v->s->hostname ? v->s->hostname : NULL;
	v->c->domainname = v->s->domainname && *v->s->domainname ? v->s->domainname : NULL;
	return 0;
}

/* ---- mounts ----------------------------------------------------------------------------------------------- */

typedef struct data_buf {
	char buf[MOUNT_DATA_MAX + 1];
	size_t len;
} data_buf;

static int apply_mount_option(conv *v, size_t i, size_t j, const char *name, lc_mount_config *m, data_buf *data,
			      const char **propagation_name) {
	const lc_mount_option *o = lc_mount_option_lookup(name);
	if (!o) {
		/* Not a flag: filesystem data ("size=64m", "mode=755"), passed on as mount(2) data. */
		size_t n = strlen(name);
		if (n == 0)
			return FAIL(v, "mounts[%zu].options[%zu]: empty", i, j);
		if (data->len + (data->len > 0) + n > MOUNT_DATA_MAX)
			return FAIL(v, "mounts[%zu].options: filesystem data longer than %d bytes", i, MOUNT_DATA_MAX);
		if (data->len)
			data->buf[data->len++] = ',';
		memcpy(data->buf + data->len, name, n + 1);
		data->len += n;
		return 0;
	}
	switch (o->kind) {
	case LC_MOPT_IGNORE:
		break;
	case LC_MOPT_FLAG:
		if (o->clear)
			m->flags &= ~(unsigned long)o->value;
		else
			m->flags |= (unsigned long)o->value;
		break;
	case LC_MOPT_PROPAGATION:
		if (*propagation_name && m->propagation != o->value)
			return FAIL(v, "mounts[%zu].options[%zu]: \"%s\" conflicts with \"%s\"", i, j, name,
				    *propagation_name);
		m->propagation = (unsigned long)o->value;
		*propagation_name = o->name;
		break;
	case LC_MOPT_ATTR:
		if (o->clear)
			m->attr_clr |= o->value, m->attr_set &= ~o->value;
		else
			m->attr_set |= o->value, m->attr_clr &= ~o->value;
		break;
	case LC_MOPT_ATIME_ATTR:
		/* The kernel takes an atime mode only together with MOUNT_ATTR__ATIME in attr_clr. */
		m->attr_clr |= LC_MOUNT_ATTR__ATIME;
		m->attr_set &= ~LC_MOUNT_ATTR__ATIME;
		if (!o->clear)
			m->attr_set |= o->value;
		break;
	case LC_MOPT_LC:
		m->lc_flags |= (unsigned)o->value;
		if (o->value == LC_MOUNT_IDMAP && o->clear)
			m->idmap_recursive = true;
		break;
	}
	return 0;
}

static int conv_mount(conv *v, size_t i, const lc_spec_mount *sm, lc_mount_config *m) {
	const char *propagation_name = NULL;
	data_buf data = {.len = 0};
	int r;

	if (!sm->destination || !*sm->destination)
		return FAIL(v, "mounts[%zu].destination: missing", i);
	if (strlen(sm->destination) >= PATH_MAX - 1)
		return FAIL(v, "mounts[%zu].destination: longer than %d bytes", i, PATH_MAX - 2);
	/* runtime-spec 1.1: a relative destination is relative to the container's /. */
	m->destination = sm->destination[0] == '/' ? sm->destination : lc_arena_printf(v->arena, "/%s", sm->destination);
	if (!m->destination)
		return nomem(v);
	m->source = sm->source;
	m->type = sm->type && *sm->type ? sm->type : NULL;
	for (size_t j = 0; j < sm->options.n; j++)
		if ((r = apply_mount_option(v, i, j, sm->options.v[j], m, &data, &propagation_name)) < 0)
			return r;
	if (m->type && strcmp(m->type, "bind") == 0)
		m->flags |= MS_BIND;
	if (m->flags & MS_BIND) {
		m->lc_flags |= LC_MOUNT_BIND;
		if (!m->source || !*m->source)
			return FAIL(v, "mounts[%zu].source: missing for a bind mount", i);
	}
	if (data.len && !(m->data = lc_arena_strndup(v->arena, data.buf, data.len)))
		return nomem(v);

	char field[64];
	(void)snprintf(field, sizeof field, "mounts[%zu].uidMappings", i);
	if ((r = check_mappings(v, sm->uid_mappings, sm->n_uid_mappings, field)) < 0)
		return r;
	(void)snprintf(field, sizeof field, "mounts[%zu].gidMappings", i);
	if ((r = check_mappings(v, sm->gid_mappings, sm->n_gid_mappings, field)) < 0)
		return r;
	if (!sm->n_uid_mappings != !sm->n_gid_mappings)
		return FAIL(v, "mounts[%zu].%s: needs %s too", i, sm->n_uid_mappings ? "uidMappings" : "gidMappings",
			    sm->n_uid_mappings ? "gidMappings" : "uidMappings");
	if (sm->n_uid_mappings)
		m->lc_flags |= LC_MOUNT_IDMAP;
	if (m->lc_flags & LC_MOUNT_IDMAP) {
		/* An idmapped mount is made by mount_setattr(MOUNT_ATTR_IDMAP) on a detached bind mount. */
		if (!(m->lc_flags & LC_MOUNT_BIND))
			return FAIL(v, "mounts[%zu]: an idmapped mount must be a bind mount", i);
		if (!sm->n_uid_mappings && !(v->c->ns[LC_NS_USER].enabled && !v->c->ns[LC_NS_USER].path))
			return FAIL(v, "mounts[%zu].options: \"idmap\" needs mount uidMappings/gidMappings or a new "
				       "user namespace", i);
		m->attr_set |= LC_MOUNT_ATTR_IDMAP;
		m->uid_mappings = sm->uid_mappings, m->n_uid_mappings = sm->n_uid_mappings;
		m->gid_mappings = sm->gid_mappings, m->n_gid_mappings = sm->n_gid_mappings;
	}
	return 0;
}

static int conv_mounts(conv *v) {
	const lc_spec *s = v->s;
	int r = NEW_ARRAY(v, v->c->mounts, s->n_mounts);
	for (size_t i = 0; r >= 0 && i < s->n_mounts; i++)
		r = conv_mount(v, i, &s->mounts[i], &v->c->mounts[i]);
	if (r < 0)
		return r;
	v->c->n_mounts = s->n_mounts;
	return 0;
}

/* ---- hooks ------------------------------------------------------------------------------------------------ */

static int conv_hooks(conv *v) {
	const lc_spec_hooks *h = v->s->hooks;
	for (int kind = 0; h && kind < _LC_HOOK_MAX; kind++) {
		const lc_spec_hook_list *l = &h->kind[kind];
		const char *name = lc_hook_kind_name(kind);
		char field[64];
		int r = NEW_ARRAY(v, v->c->hooks[kind], l->n);
		if (r < 0)
			return r;
		for (size_t i = 0; i < l->n; i++) {
			const lc_spec_hook *src = &l->v[i];
			lc_hook_config *dst = &v->c->hooks[kind][i];
			if ((r = check_abs(v, src->path, "hooks.%s[%zu].path", name, i)) < 0)
				return r;
			if (src->has_timeout && src->timeout <= 0)
				return FAIL(v, "hooks.%s[%zu].timeout: %" PRId64 " must be positive", name, i, src->timeout);
			(void)snprintf(field, sizeof field, "hooks.%s[%zu].env", name, i);
			if ((r = check_env(v, &src->env, field)) < 0)
				return r;
			dst->path = src->path;
			dst->args = src->args.n ? src->args.v : NULL, dst->n_args = src->args.n;
			dst->env = src->env.n ? src->env.v : NULL, dst->n_env = src->env.n;
			dst->timeout = src->has_timeout ? src->timeout : 0;
		}
		v->c->n_hooks[kind] = l->n;
	}
	return 0;
}

/* ---- devices ---------------------------------------------------------------------------------------------- */

static int conv_devices(conv *v) {
	const lc_spec_linux *l = v->s->linux;
	int r;

	if (!l)
		return 0;
	if ((r = NEW_ARRAY(v, v->c->devices, l->n_devices)) < 0)
		return r;
	for (size_t i = 0; i < l->n_devices; i++) {
		const lc_spec_device *d = &l->devices[i];
		lc_device_config *dst = &v->c->devices[i];
		if (!d->type)
			return FAIL(v, "linux.devices[%zu].type: missing", i);
		if (strcmp(d->type, "c") == 0 || strcmp(d->type, "u") == 0)
			dst->type = S_IFCHR;
		else if (strcmp(d->type, "b") == 0)
			dst->type = S_IFBLK;
		else if (strcmp(d->type, "p") == 0)
			dst->type = S_IFIFO;
		else
			return FAIL(v, "linux.devices[%zu].type: unknown device type \"%s\"", i, d->type);
		if ((r = check_abs(v, d->path, "linux.devices[%zu].path", i)) < 0)
			return r;
		/* Nodes are created under the container's /dev only; ".." could climb out of it before the
		 * executor's in-root resolution ever sees the path. */
		if (!startswith(d->path, "/dev/") || !d->path[5] || has_dotdot(d->path))
			return FAIL(v, "linux.devices[%zu].path: \"%s\" is not under /dev", i, d->path);
		for (size_t j = 0; j < i; j++)
			if (strcmp(v->c->devices[j].path, d->path) == 0)
				return FAIL(v, "linux.devices[%zu].path: duplicate device \"%s\"", i, d->path);
		if (dst->type != S_IFIFO) {
			if (!d->has_major || !d->has_minor)
				return FAIL(v, "linux.devices[%zu].%s: required for type \"%s\"", i,
					    d->has_major ? "minor" : "major", d->type);
			if (d->major < 0 || d->major > DEV_MAJOR_MAX)
				return FAIL(v, "linux.devices[%zu].major: %" PRId64 " is out of range 0..%d", i, d->major,
					    DEV_MAJOR_MAX);
			if (d->minor < 0 || d->minor > DEV_MINOR_MAX)
				return FAIL(v, "linux.devices[%zu].minor: %" PRId64 " is out of range 0..%d", i, d->minor,
					    DEV_MINOR_MAX);
			dst->rdev = makedev((unsigned)d->major, (unsigned)d->minor);
		}
		if (d->has_file_mode && d->file_mode > 07777)
			return FAIL(v, "linux.devices[%zu].fileMode: %#" PRIo32 " has bits beyond 07777", i, d->file_mode);
		dst->path = d->path;
		dst->file_mode = d->has_file_mode ? d->file_mode : 0666;
		dst->uid = d->has_uid ? d->uid : 0;
		dst->gid = d->has_gid ? d->gid : 0;
	}
	v->c->n_devices = l->n_devices;
	return 0;
}

/* ---- sysctl ----------------------------------------------------------------------------------------------- */

/* The sysctls that belong to a namespace, as /proc/sys paths. Everything else is host-wide and refused. */
static const struct {
	const char *path;
	bool prefix;
	lc_ns_kind ns;
} sysctl_rules[] = {
	{"kernel/hostname", false, LC_NS_UTS},
	{"kernel/domainname", false, LC_NS_UTS},
	{"kernel/msg", true, LC_NS_IPC}, /* msgmax, msgmnb, msgmni, msg_next_id */
	{"kernel/sem", false, LC_NS_IPC},
	{"kernel/sem_next_id", false, LC_NS_IPC},
	{"kernel/shm", true, LC_NS_IPC}, /* shmall, shmmax, shmmni, shm_rmid_forced, shm_next_id */
	{"fs/mqueue/", true, LC_NS_IPC},
	{"net/", true, LC_NS_NET},
};

static const char *const ns_articles[_LC_NS_MAX] = {
	[LC_NS_UTS] = "a UTS namespace",
	[LC_NS_IPC] = "an IPC namespace",
	[LC_NS_NET] = "a network namespace",
};

/* sysctl.d(5): when the first separator is '/', the key is the path; when it is '.', dots and slashes swap
 * (so "net.ipv4.conf.eth0/100.forwarding" names the VLAN eth0.100). */
static char *sysctl_proc_path(lc_arena *a, const char *key) {
	size_t first = strcspn(key, "./");
	char *p = lc_arena_strdup(a, key);
	if (p && key[first] == '.')
		for (char *c = p; *c; c++)
			*c = *c == '.' ? '/' : *c == '/' ? '.' : *c;
	return p;
}

static bool sysctl_path_ok(const char *p) {
	/* Components are non-empty and never "." or "..": the executor writes under /proc/sys. */
	for (const char *c = p;;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)c[i] <= ' ' || c[i] == 0x7f)
				return false;
		if (!c[n])
			return true;
		c += n + 1;
	}
}

static int conv_sysctl(conv *v) {
	const lc_spec_linux *l = v->s->linux;
	int r;

	if (!l)
		return 0;
	if ((r = NEW_ARRAY(v, v->c->sysctl, l->n_sysctl)) < 0)
		return r;
	for (size_t i = 0; i < l->n_sysctl; i++) {
		const lc_kv *kv = &l->sysctl[i];
		char *path = sysctl_proc_path(v->arena, kv->key);
		if (!path)
			return nomem(v);
		if (!sysctl_path_ok(path))
			return FAIL(v, "linux.sysctl[\"%s\"]: invalid key", kv->key);
		int ns = -1;
		for (size_t j = 0; j < ELEMENTSOF(sysctl_rules) && ns < 0; j++)
			if (sysctl_rules[j].prefix ? startswith(path, sysctl_rules[j].path)
						   : strcmp(path, sysctl_rules[j].path) == 0)
				ns = (int)sysctl_rules[j].ns;
		if (ns < 0)
			return FAIL(v, "linux.sysctl[\"%s\"]: not a namespaced sysctl", kv->key);
		if (!has_ns(v, ns))
			return FAIL(v, "linux.sysctl[\"%s\"]: needs %s", kv->key, ns_articles[ns]);
		v->c->sysctl[i] = (lc_sysctl_config){kv->key, kv->value, path};
	}
	v->c->n_sysctl = l->n_sysctl;
	return 0;
}

/* ---- resources -------------------------------------------------------------------------------------------- */

/* "0-3,5,7-8": what cpuset.cpus and cpuset.mems take. "" is unset (Kata's host clears them). */
static bool cpu_list_ok(const char *s) {
	for (const char *c = s; *c;) {
		uint64_t a = 0, b;
		size_t n = strspn(c, "0123456789");
		if (n == 0 || n > 6)
			return false;
		for (size_t i = 0; i < n; i++)
			a = a * 10 + (uint64_t)(c[i] - '0');
		c += n;
		if (*c == '-') {
			n = strspn(++c, "0123456789");
			if (n == 0 || n > 6)
				return false;
			b = 0;
			for (size_t i = 0; i < n; i++)
				b = b * 10 + (uint64_t)(c[i] - '0');
			if (b < a)
				return false;
			c += n;
		}
		if (*c == ',' && c[1])
			c++;
		else if (*c)
			return false;
	}
	return true;
}

static int check_range_i64(conv *v, bool has, int64_t x, int64_t min, int64_t max, const char *field) {
	if (has && (x < min || x > max))
		return FAIL(v, "%s: %" PRId64 " is out of range %" PRId64 "..%" PRId64, field, x, min, max);
	return 0;
}

static int check_range_u64(conv *v, bool has, uint64_t x, uint64_t min, uint64_t max, const char *field) {
	if (has && (x < min || x > max))
		return FAIL(v, "%s: %" PRIu64 " is out of range %" PRIu64 "..%" PRIu64, field, x, min, max);
	return 0;
}

static int conv_memory(conv *v, const lc_spec_memory *m) {
	int r;
	/* A limit of 0 bytes is not "unset" here (proto 0 is, and the proto reader maps it): it would kill
	 * the container at once, so it is refused. -1 is unlimited. */
	if (m->has_limit && m->limit == 0)
		return FAIL(v, "linux.resources.memory.limit: 0 is not a usable limit (-1 is unlimited)");
	if ((r = check_range_i64(v, m->has_limit, m->limit, -1, INT64_MAX, "linux.resources.memory.limit")) < 0 ||
	    (r = check_range_i64(v, m->has_reservation, m->reservation, -1, INT64_MAX,
				 "linux.resources.memory.reservation")) < 0 ||
	    (r = check_range_i64(v, m->has_swap, m->swap, -1, INT64_MAX, "linux.resources.memory.swap")) < 0 ||
	    (r = check_range_i64(v, m->has_kernel, m->kernel, -1, INT64_MAX, "linux.resources.memory.kernel")) < 0 ||
	    (r = check_range_i64(v, m->has_kernel_tcp, m->kernel_tcp, -1, INT64_MAX,
				 "linux.resources.memory.kernelTCP")) < 0 ||
	    (r = check_range_u64(v, m->has_swappiness, m->swappiness, 0, 100, "linux.resources.memory.swappiness")) < 0)
		return r;
	if (m->has_limit && m->limit > 0 && m->has_reservation && m->reservation > m->limit)
		return FAIL(v, "linux.resources.memory.reservation: %" PRId64 " is above the limit %" PRId64,
			    m->reservation, m->limit);
	/* swap is memory+swap (cgroup v1 memsw semantics, which the v2 conversion keeps). */
	if (m->has_limit && m->limit > 0 && m->has_swap && m->swap > 0 && m->swap < m->limit)
		return FAIL(v, "linux.resources.memory.swap: %" PRId64 " is below the limit %" PRId64
			       " (swap counts memory plus swap)", m->swap, m->limit);
	return 0;
}

static int conv_cpu(conv *v, const lc_spec_cpu *c) {
	int r;
	/* cgroup v1 cpu.shares takes 2..262144; cfs quota and period are microseconds, the period 1 ms..1 s
	 * and the quota at least 1 ms; -1 is "no quota". */
	if ((r = check_range_u64(v, c->has_shares, c->shares, 2, 262144, "linux.resources.cpu.shares")) < 0 ||
	    (r = check_range_u64(v, c->has_period, c->period, 1000, 1000000, "linux.resources.cpu.period")) < 0 ||
	    (r = check_range_i64(v, c->has_realtime_runtime, c->realtime_runtime, -1, INT64_MAX,
				 "linux.resources.cpu.realtimeRuntime")) < 0 ||
	    (r = check_range_u64(v, c->has_realtime_period, c->realtime_period, 1, UINT64_MAX,
				 "linux.resources.cpu.realtimePeriod")) < 0 ||
	    (r = check_range_i64(v, c->has_idle, c->idle, 0, 1, "linux.resources.cpu.idle")) < 0)
		return r;
	if (c->has_quota && c->quota != -1 && c->quota < 1000)
		return FAIL(v, "linux.resources.cpu.quota: %" PRId64 " is out of range (-1, or at least 1000)", c->quota);
	if (c->cpus && !cpu_list_ok(c->cpus))
		return FAIL(v, "linux.resources.cpu.cpus: \"%s\" is not a CPU list", c->cpus);
	if (c->mems && !cpu_list_ok(c->mems))
		return FAIL(v, "linux.resources.cpu.mems: \"%s\" is not a node list", c->mems);
	return 0;
}

static int conv_blockio(conv *v, const lc_spec_blockio *b) {
	int r;
	char field[96];
	if ((r = check_range_u64(v, b->has_weight, b->weight, 10, 1000, "linux.resources.blockIO.weight")) < 0 ||
	    (r = check_range_u64(v, b->has_leaf_weight, b->leaf_weight, 10, 1000,
				 "linux.resources.blockIO.leafWeight")) < 0)
		return r;
	for (size_t i = 0; i < b->n_weight_devices; i++) {
		const lc_spec_weight_device *d = &b->weight_devices[i];
		(void)snprintf(field, sizeof field, "linux.resources.blockIO.weightDevice[%zu].weight", i);
		if ((r = check_range_u64(v, d->has_weight, d->weight, 10, 1000, field)) < 0)
			return r;
		(void)snprintf(field, sizeof field, "linux.resources.blockIO.weightDevice[%zu].leafWeight", i);
		if ((r = check_range_u64(v, d->has_leaf_weight, d->leaf_weight, 10, 1000, field)) < 0)
			return r;
		if (d->major < 0 || d->minor < 0)
			return FAIL(v, "linux.resources.blockIO.weightDevice[%zu]: %" PRId64 ":%" PRId64
				       " is not a device number", i, d->major, d->minor);
	}
	for (int k = 0; k < _LC_THROTTLE_MAX; k++)
		for (size_t i = 0; i < b->throttle[k].n; i++)
			if (b->throttle[k].v[i].major < 0 || b->throttle[k].v[i].minor < 0)
				return FAIL(v, "linux.resources.blockIO: throttle device %" PRId64 ":%" PRId64
					       " is not a device number", b->throttle[k].v[i].major,
					    b->throttle[k].v[i].minor);
	return 0;
}

static int conv_device_rules(conv *v, const lc_spec_resources *res) {
	for (size_t i = 0; i < res->n_devices; i++) {
		const lc_spec_device_cgroup *d = &res->devices[i];
		if (d->type && strcmp(d->type, "a") && strcmp(d->type, "c") && strcmp(d->type, "b"))
			return FAIL(v, "linux.resources.devices[%zu].type: unknown type \"%s\"", i, d->type);
		if (d->access && (!*d->access || strspn(d->access, "rwm") != strlen(d->access)))
			return FAIL(v, "linux.resources.devices[%zu].access: \"%s\" is not a combination of r, w, m", i,
				    d->access);
		char field[64];
		int r;
		(void)snprintf(field, sizeof field, "linux.resources.devices[%zu].major", i);
		if ((r = check_range_i64(v, d->has_major, d->major, -1, INT32_MAX, field)) < 0)
			return r;
		(void)snprintf(field, sizeof field, "linux.resources.devices[%zu].minor", i);
		if ((r = check_range_i64(v, d->has_minor, d->minor, -1, INT32_MAX, field)) < 0)
			return r;
	}
	return 0;
}

static bool page_size_ok(const char *s) {
	static const char *const units[] = {"KB", "MB", "GB", "TB", "PB"};
	size_t n = strspn(s, "0123456789");
	if (n == 0 || n > 6 || s[0] == '0')
		return false;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (strcmp(s + n, units[i]) == 0)
			return true;
	return false;
}

/* linux.resources.unified keys are cgroup v2 file names ("memory.high"), never paths. */
static bool unified_key_ok(const char *k) {
	const char *dot = strchr(k, '.');
	return dot && dot != k && dot[1] && !strchr(k, '/') && strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_.") ==
								       strlen(k);
}

static int conv_resources(conv *v) {
	const lc_spec_resources *res = v->s->linux ? v->s->linux->resources : NULL;
	int r;

	if (!res)
		return 0;
	if ((r = conv_device_rules(v, res)) < 0)
		return r;
	if (res->memory && (r = conv_memory(v, res->memory)) < 0)
		return r;
	if (res->cpu && (r = conv_cpu(v, res->cpu)) < 0)
		return r;
	/* pids.limit: positive is a limit, -1 unlimited; 0 is "not set", as runc reads it (the spec's text
	 * on 0 has varied, runc#4014). */
	if (res->pids && (r = check_range_i64(v, res->pids->has_limit, res->pids->limit, -1, INT64_MAX,
					       "linux.resources.pids.limit")) < 0)
		return r;
	if (res->blockio && (r = conv_blockio(v, res->blockio)) < 0)
		return r;
	for (size_t i = 0; i < res->n_hugepage_limits; i++) {
		const char *ps = res->hugepage_limits[i].page_size;
		if (!ps || !page_size_ok(ps))
			return FAIL(v, "linux.resources.hugepageLimits[%zu].pageSize: \"%s\" is not a page size like 2MB",
				    i, ps ? ps : "");
		for (size_t j = 0; j < i; j++)
			if (strcmp(res->hugepage_limits[j].page_size, ps) == 0)
				return FAIL(v, "linux.resources.hugepageLimits[%zu].pageSize: duplicate \"%s\"", i, ps);
	}
	for (size_t i = 0; res->network && i < res->network->n_priorities; i++)
		if (!res->network->priorities[i].name || !*res->network->priorities[i].name)
			return FAIL(v, "linux.resources.network.priorities[%zu].name: missing", i);
	for (size_t i = 0; i < res->n_rdma; i++)
		if (!*res->rdma[i].name || strchr(res->rdma[i].name, ' ') || strchr(res->rdma[i].name, '\n'))
			return FAIL(v, "linux.resources.rdma[\"%s\"]: invalid device name", res->rdma[i].name);
	for (size_t i = 0; i < res->n_unified; i++)
		if (!unified_key_ok(res->unified[i].key))
			return FAIL(v, "linux.resources.unified[\"%s\"]: not a cgroup v2 file name", res->unified[i].key);
	v->c->resources = res;
	return 0;
}

/* ---- seccomp ---------------------------------------------------------------------------------------------- */

static int seccomp_action(conv *v, const char *name, const char *field) {
	int a = name ? lc_seccomp_action_from_name(name) : -1;
	if (a < 0)
		return name ? FAIL(v, "%s: unknown action \"%s\"", field, name) : FAIL(v, "%s: missing", field);
	return a;
}

/* runtime-spec: errnoRet only for actions that return an errno; any other action with one is an error. */
static int seccomp_errno(conv *v, int action, bool has, uint32_t value, const char *field, const char *action_name) {
	if (!has)
		return EPERM;
	if (action != LC_SCMP_ACT_ERRNO && action != LC_SCMP_ACT_TRACE)
		return FAIL(v, "%s: not allowed with %s", field, action_name);
	/* SECCOMP_RET_DATA is 16 bits. */
	if (value > UINT16_MAX)
		return FAIL(v, "%s: %" PRIu32 " is out of range 0..65535", field, value);
	return (int)value;
}

static int conv_syscall(conv *v, size_t i, const lc_spec_syscall *src, lc_syscall_config *dst) {
	char field[96];
	int r;

	if (src->names.n == 0)
		return FAIL(v, "linux.seccomp.syscalls[%zu].names: empty", i);
	for (size_t j = 0; j < src->names.n; j++) {
		size_t n = strlen(src->names.v[j]);
		if (n == 0 || n > LC_SYSCALL_NAME_MAX)
			return FAIL(v, "linux.seccomp.syscalls[%zu].names[%zu]: \"%s\" is not a syscall name", i, j,
				    src->names.v[j]);
	}
	(void)snprintf(field, sizeof field, "linux.seccomp.syscalls[%zu].action", i);
	if ((r = seccomp_action(v, src->action, field)) < 0)
		return r;
	dst->action = r;
	(void)snprintf(field, sizeof field, "linux.seccomp.syscalls[%zu].errnoRet", i);
	if ((r = seccomp_errno(v, dst->action, src->has_errno_ret, src->errno_ret, field, src->action)) < 0)
		return r;
	dst->errno_ret = r;
	/* The listener fd leaves the child by sendmsg right after the filter is loaded: a notify on sendmsg would
	 * wait for a listener that nobody holds yet. write is refused as runc refuses it, so that profiles
	 * written for runc and for us agree. */
	if (dst->action == LC_SCMP_ACT_NOTIFY)
		for (size_t j = 0; j < src->names.n; j++)
			if (strcmp(src->names.v[j], "write") == 0 || strcmp(src->names.v[j], "sendmsg") == 0)
				return FAIL(v, "linux.seccomp.syscalls[%zu]: SCMP_ACT_NOTIFY cannot apply to \"%s\"", i,
					    src->names.v[j]);
	/* libseccomp compares at most the six syscall arguments. */
	if (src->n_args > 6)
		return FAIL(v, "linux.seccomp.syscalls[%zu].args: %zu comparisons, at most 6", i, src->n_args);
	lc_seccomp_arg_config *args = NULL;
	if ((r = NEW_ARRAY(v, args, src->n_args)) < 0)
		return r;
	for (size_t j = 0; j < src->n_args; j++) {
		const lc_spec_seccomp_arg *a = &src->args[j];
		if (a->index > 5)
			return FAIL(v, "linux.seccomp.syscalls[%zu].args[%zu].index: %" PRIu32 " is out of range 0..5", i,
				    j, a->index);
		int op = a->op ? lc_seccomp_op_from_name(a->op) : -1;
		if (op < 0)
			return FAIL(v, "linux.seccomp.syscalls[%zu].args[%zu].op: unknown operator \"%s\"", i, j,
				    a->op ? a->op : "");
		args[j] = (lc_seccomp_arg_config){a->index, op, a->value, a->value_two};
	}
	dst->names = src->names.v, dst->n_names = src->names.n;
	dst->args = args, dst->n_args = src->n_args;
	return 0;
}

static int conv_seccomp(conv *v) {
	const lc_spec_seccomp *s = v->s->linux ? v->s->linux->seccomp : NULL;
	lc_seccomp_config *c;
	lc_syscall_config *calls = NULL;
	int r;

	if (!s)
		return 0;
	if (!(c = lc_arena_alloc(v->arena, sizeof *c)))
		return nomem(v);
	if ((r = seccomp_action(v, s->default_action, "linux.seccomp.defaultAction")) < 0)
		return r;
	c->default_action = r;
	/* The listener could never get a notification for every syscall the runtime itself still makes. */
	if (c->default_action == LC_SCMP_ACT_NOTIFY)
		return FAIL(v, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
	if ((r = seccomp_errno(v, c->default_action, s->has_default_errno_ret, s->default_errno_ret,
			       "linux.seccomp.defaultErrnoRet", s->default_action)) < 0)
		return r;
	c->default_errno_ret = r;
	if ((r = NEW_ARRAY(v, c->architectures, s->architectures.n)) < 0)
		return r;
	for (size_t i = 0; i < s->architectures.n; i++) {
		c->architectures[i] = lc_seccomp_arch_from_name(s->architectures.v[i]);
		if (!c->architectures[i])
			return FAIL(v, "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i,
				    s->architectures.v[i]);
	}
	c->n_architectures = s->architectures.n;
	for (size_t i = 0; i < s->flags.n; i++) {
		unsigned f = lc_seccomp_flag_from_name(s->flags.v[i]);
		if (!f)
			return FAIL(v, "linux.seccomp.flags[%zu]: unknown flag \"%s\"", i, s->flags.v[i]);
		c->flags |= f;
	}
	if ((r = NEW_ARRAY(v, calls, s->n_syscalls)) < 0)
		return r;
	for (size_t i = 0; i < s->n_syscalls; i++) {
		if ((r = conv_syscall(v, i, &s->syscalls[i], &calls[i])) < 0)
			return r;
		c->uses_notify |= calls[i].action == LC_SCMP_ACT_NOTIFY;
	}
	c->syscalls = calls, c->n_syscalls = s->n_syscalls;
	if (s->listener_path && (r = check_abs(v, s->listener_path, "linux.seccomp.listenerPath")) < 0)
		return r;
	if (c->uses_notify && !s->listener_path)
		return FAIL(v, "linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY");
	c->listener_path = s->listener_path;
	c->listener_metadata = s->listener_metadata;
	v->c->seccomp = c;
	return 0;
}

/* ---- the rest of linux ------------------------------------------------------------------------------------ */

static int conv_paths(conv *v, const lc_strv *paths, const char *field) {
	for (size_t i = 0; i < paths->n; i++) {
		int r = check_abs(v, paths->v[i], "%s[%zu]", field, i);
		if (r < 0)
			return r;
	}
	return 0;
}

static int conv_time_offsets(conv *v, const lc_spec_linux *l) {
	const lc_ns_config *time = &v->c->ns[LC_NS_TIME];
	if (l->n_time_offsets == 0)
		return 0;
	/* Offsets can only be written into a new time namespace, before its first process runs. */
	if (!time->enabled || time->path)
		return FAIL(v, "linux.timeOffsets: needs a new time namespace");
	for (size_t i = 0; i < l->n_time_offsets; i++) {
		const lc_spec_time_offset *t = &l->time_offsets[i];
		lc_time_offset_config *dst;
		if (strcmp(t->clock, "monotonic") == 0)
			dst = &v->c->time_monotonic;
		else if (strcmp(t->clock, "boottime") == 0)
			dst = &v->c->time_boottime;
		else
			return FAIL(v, "linux.timeOffsets[\"%s\"]: unknown clock", t->clock);
		if (t->nanosecs >= 1000000000u)
			return FAIL(v, "linux.timeOffsets[\"%s\"].nanosecs: %" PRIu32 " is not below one second", t->clock,
				    t->nanosecs);
		*dst = (lc_time_offset_config){true, t->secs, t->nanosecs};
	}
	return 0;
}

static int conv_linux_rest(conv *v) {
	const lc_spec_linux *l = v->s->linux;
	int r;

	if (!l)
		return 0;
	if (l->rootfs_propagation && *l->rootfs_propagation) {
		v->c->rootfs_propagation = lc_propagation_from_name(l->rootfs_propagation);
		if (!v->c->rootfs_propagation)
			return FAIL(v, "linux.rootfsPropagation: unknown propagation \"%s\"", l->rootfs_propagation);
	}
	if ((r = conv_paths(v, &l->masked_paths, "linux.maskedPaths")) < 0 ||
	    (r = conv_paths(v, &l->readonly_paths, "linux.readonlyPaths")) < 0)
		return r;
	v->c->masked_paths = l->masked_paths.n ? l->masked_paths.v : NULL, v->c->n_masked_paths = l->masked_paths.n;
	v->c->readonly_paths = l->readonly_paths.n ? l->readonly_paths.v : NULL;
	v->c->n_readonly_paths = l->readonly_paths.n;
	if (l->personality) {
		const lc_spec_personality *p = l->personality;
		if (p->domain && strcmp(p->domain, "LINUX") == 0)
			v->c->personality = PER_LINUX;
		else if (p->domain && strcmp(p->domain, "LINUX32") == 0)
			v->c->personality = PER_LINUX32;
		else
			return FAIL(v, "linux.personality.domain: unknown domain \"%s\"", p->domain ? p->domain : "");
		/* The spec defines no personality flags yet. */
		if (p->flags.n)
			return FAIL(v, "linux.personality.flags[0]: unknown flag \"%s\"", p->flags.v[0]);
		v->c->has_personality = true;
	}
	if ((r = conv_time_offsets(v, l)) < 0)
		return r;
	/* cgroupsPath is joined to a cgroup root; ".." would leave it. */
	if (l->cgroups_path && has_dotdot(l->cgroups_path))
		return FAIL(v, "linux.cgroupsPath: \"%s\" contains \"..\"", l->cgroups_path);
	v->c->cgroups_path = l->cgroups_path;
	v->c->mount_label = l->mount_label;
	if (l->intel_rdt && l->intel_rdt->clos_id &&
	    (!*l->intel_rdt->clos_id || strchr(l->intel_rdt->clos_id, '/') || has_dotdot(l->intel_rdt->clos_id) ||
	     strcmp(l->intel_rdt->clos_id, ".") == 0))
		return FAIL(v, "linux.intelRdt.closID: \"%s\" is not a resctrl group name", l->intel_rdt->clos_id);
	v->c->intel_rdt = l->intel_rdt;
	return 0;
}

/* ---- entry points ----------------------------------------------------------------------------------------- */

int lc_config_from_spec(lc_spec *spec, const lc_specconv_opts *opts, lc_config **ret, kc_error *err) {
	static const lc_specconv_opts no_opts = {0};
	_cleanup_(lc_config_freep) lc_config *c = NULL;
	int r;

	assert_return(spec, -EINVAL);
	assert_return(ret, -EINVAL);
	c = calloc(1, sizeof *c);
	if (!c || !(c->arena = lc_arena_new(LC_SPEC_ARENA_MAX)))
		return kc_error_set(err, ENOMEM, "spec: out of memory while validating");
	c->spec = lc_spec_ref(spec);
	conv v = {.c = c, .s = spec, .opts = opts ? opts : &no_opts, .arena = c->arena, .err = err};

	/* Namespaces first: mappings, the hostname, sysctls and idmapped mounts are judged against them. */
	if ((r = conv_namespaces(&v)) < 0 || (r = conv_mappings(&v)) < 0 || (r = conv_root(&v)) < 0 ||
	    (r = conv_process(&v)) < 0 || (r = conv_names(&v)) < 0 || (r = conv_mounts(&v)) < 0 ||
	    (r = conv_hooks(&v)) < 0 || (r = conv_devices(&v)) < 0 || (r = conv_sysctl(&v)) < 0 ||
	    (r = conv_resources(&v)) < 0 || (r = conv_seccomp(&v)) < 0 || (r = conv_linux_rest(&v)) < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

lc_config *lc_config_free(lc_config *c) {
	if (!c)
		return NULL;
	(void)lc_spec_free(c->spec);
	(void)lc_arena_free(c->arena);
	free(c);
	return NULL;
}
