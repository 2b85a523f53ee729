/* Which cgroup layout a host has (v1, hybrid, v2), which hierarchy serves each controller, and how a
 * linux.cgroupsPath becomes a cgroup path. */
#include "libcontainer-c/cgroup-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

static const struct {
	const char *v1, *v2;
} controller_names[_LC_CG_MAX] = {
	[LC_CG_CPU] = { "cpu", "cpu" },
	[LC_CG_CPUACCT] = { "cpuacct", NULL },
	[LC_CG_CPUSET] = { "cpuset", "cpuset" },
	[LC_CG_MEMORY] = { "memory", "memory" },
	[LC_CG_DEVICES] = { "devices", NULL },
	[LC_CG_FREEZER] = { "freezer", NULL },
	[LC_CG_IO] = { "blkio", "io" },
	[LC_CG_PIDS] = { "pids", "pids" },
	[LC_CG_HUGETLB] = { "hugetlb", "hugetlb" },
	[LC_CG_NET_CLS] = { "net_cls", NULL },
	[LC_CG_NET_PRIO] = { "net_prio", NULL },
	[LC_CG_RDMA] = { "rdma", "rdma" },
	[LC_CG_MISC] = { "misc", "misc" },
	[LC_CG_PERF_EVENT] = { "perf_event", "perf_event" },
};

const char *lc_cgroup_controller_name(lc_cgroup_controller c, bool v2) {
	if ((unsigned)c >= _LC_CG_MAX)
		return NULL;
	return v2 ? controller_names[c].v2 : controller_names[c].v1;
}

static int controller_from_name(const char *name, size_t len, bool v2) {
	for (size_t c = 0; c < _LC_CG_MAX; c++) {
		const char *n = v2 ? controller_names[c].v2 : controller_names[c].v1;
		if (n && strlen(n) == len && memcmp(n, name, len) == 0)
			return (int)c;
	}
	return -1;
}

const char *lc_cgroup_mode_name(lc_cgroup_mode m) {
	static const char *const names[] = { [LC_CGROUP_V1] = "v1", [LC_CGROUP_HYBRID] = "hybrid", [LC_CGROUP_V2] = "v2" };
	return (unsigned)m < ELEMENTSOF(names) && names[m] ? names[m] : "unknown";
}

lc_cgroup_layout *lc_cgroup_layout_ref(lc_cgroup_layout *l) {
	if (l)
		l->n_ref++;
	return l;
}

static void hierarchy_clear(lc_cgroup_hierarchy *h) {
	free(h->mount);
	free(h->options);
	*h = (lc_cgroup_hierarchy){};
}

lc_cgroup_layout *lc_cgroup_layout_free(lc_cgroup_layout *l) {
	if (!l || --l->n_ref > 0)
		return NULL;
	for (size_t i = 0; i < l->n_h; i++)
		hierarchy_clear(&l->h[i]);
	free(l->root);
	free(l);
	return NULL;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s) {
	char *w = s;
	for (const char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

typedef struct mount_entry {
	char *mountpoint, *fstype, *superopts;
} mount_entry;

/* Splits one mountinfo line in place: field 5 is the mount point, and after the "-" separator come the
 * filesystem type, the source and the super options. false for a line that does not have that shape. */
static bool mountinfo_split(char *line, mount_entry *ret) {
	char *fields[64];
	size_t n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " ", &save); t && n < ELEMENTSOF(fields); t = strtok_r(NULL, " ", &save))
		fields[n++] = t;
	if (n < 10)
		return false;
	for (size_t i = 6; i < n; i++) {
		if (strcmp(fields[i], "-") != 0)
			continue;
		if (i + 2 >= n)
			return false;
		ret->mountpoint = fields[4];
		ret->fstype = fields[i + 1];
		ret->superopts = i + 3 < n ? fields[i + 3] : (char *)"";
		unescape_octal(ret->mountpoint);
		return true;
	}
	return false;
}

static bool is_child_of(const char *path, const char *dir) {
	size_t n = strlen(dir);
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
		return false;
	return strchr(path + n + 1, '/') == NULL;
}

/* v1 super options: controllers and name=; the rest (rw, relatime, clone_children, release_agent=, xattr,
 * noprefix, ...) are mount options. */
static unsigned v1_controllers(const char *opts, bool *ret_named) {
	unsigned mask = 0;
	*ret_named = false;
	for (const char *p = opts; *p;) {
		size_t len = strcspn(p, ",");
		int c = controller_from_name(p, len, false);
		if (c >= 0)
			mask |= LC_CG_BIT(c);
		else if (len > 5 && strncmp(p, "name=", 5) == 0)
			*ret_named = true;
		p += len;
		if (*p == ',')
			p++;
	}
	return mask;
}

static char *v1_options_string(const char *opts) {
	char buf[256] = "";
	size_t used = 0;
	for (const char *p = opts; *p;) {
		size_t len = strcspn(p, ",");
		if (controller_from_name(p, len, false) >= 0 || (len > 5 && strncmp(p, "name=", 5) == 0)) {
			if (used + len + 2 < sizeof buf) {
				if (used)
					buf[used++] = ',';
				memcpy(buf + used, p, len);
				used += len;
				buf[used] = '\0';
			}
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return strdup(buf);
}

static int layout_add(lc_cgroup_layout *l, const char *mountpoint, const char *options, bool v2, unsigned mask,
		      kc_error *err) {
	size_t i;
	/* A later mount on the same point hides the earlier one. */
	for (i = 0; i < l->n_h; i++)
		if (strcmp(l->h[i].mount, mountpoint) == 0)
			break;
	if (i == l->n_h) {
		if (l->n_h == LC_CGROUP_HIER_MAX)
			return kc_error_set(err, E2BIG, "more than %d cgroup hierarchies under %s", LC_CGROUP_HIER_MAX,
					    l->root);
		l->n_h++;
	} else
		hierarchy_clear(&l->h[i]);
	l->h[i].mount = strdup(mountpoint);
	l->h[i].options = strdup(options);
	if (!l->h[i].mount || !l->h[i].options)
		return kc_error_set(err, ENOMEM, "cgroup layout");
	l->h[i].v2 = v2;
	l->h[i].controllers = mask;
	return 0;
}

static void layout_reset(lc_cgroup_layout *l) {
	for (size_t i = 0; i < l->n_h; i++)
		hierarchy_clear(&l->h[i]);
	l->n_h = 0;
}

static unsigned v2_available(const char *mount) {
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned mask = 0;

	if (dfd < 0 || read_file_capped(dfd, "cgroup.controllers", 4096, &text, NULL) < 0)
		return 0;
	for (char *save = NULL, *t = strtok_r(text, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		int c = controller_from_name(t, strlen(t), true);
		if (c >= 0)
			mask |= LC_CG_BIT(c);
	}
	return mask;
}

/* Every controller goes to exactly one hierarchy: the v1 one it is bound to, else cgroup2 if its root offers
 * it. The kernel never lists a controller bound to v1 in cgroup.controllers, so the two cannot disagree. The
 * freezer, device filtering and CPU accounting are part of cgroup2 itself where v1 lacks them. */
static void layout_assign(lc_cgroup_layout *l) {
	for (size_t c = 0; c < _LC_CG_MAX; c++)
		l->where[c] = -1;
	l->unified = -1;
	for (size_t i = 0; i < l->n_h; i++) {
		if (l->h[i].v2) {
			l->unified = (int)i;
			continue;
		}
		for (size_t c = 0; c < _LC_CG_MAX; c++)
			if ((l->h[i].controllers & LC_CG_BIT(c)) && l->where[c] < 0)
				l->where[c] = (int)i;
	}
	if (l->unified < 0)
		return;
	unsigned core = LC_CG_BIT(LC_CG_FREEZER) | LC_CG_BIT(LC_CG_DEVICES) | LC_CG_BIT(LC_CG_CPUACCT);
	for (size_t c = 0; c < _LC_CG_MAX; c++)
		if (l->where[c] < 0 && ((l->h[l->unified].controllers | core) & LC_CG_BIT(c)))
			l->where[c] = l->unified;
}

int lc_cgroup_layout_parse(const char *root, const char *mountinfo, lc_cgroup_layout **ret, kc_error *err) {
	_cleanup_(lc_cgroup_layout_freep) lc_cgroup_layout *l = NULL;
	_cleanup_free_ char *text = NULL;
	bool root_is_v2 = false;
	int r;

	root = root ?: LC_CGROUP_ROOT_DEFAULT;
	if (root[0] != '/' || strlen(root) >= PATH_MAX / 2)
		return kc_error_set(err, EINVAL, "cgroup root `%s`: not an absolute path", root);
	l = calloc(1, sizeof *l);
	text = strdup(mountinfo);
	if (!l || !text || !(l->root = strdup(root)))
		return kc_error_set(err, ENOMEM, "cgroup layout");
	l->n_ref = 1;
	/* "/sys/fs/cgroup/" and "/sys/fs/cgroup" name the same mount point. */
	for (size_t n = strlen(l->root); n > 1 && l->root[n - 1] == '/'; n--)
		l->root[n - 1] = '\0';

	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		mount_entry m;
		bool v1 = false, v2 = false;

		if (!mountinfo_split(line, &m))
			continue;
		v1 = strcmp(m.fstype, "cgroup") == 0;
		v2 = strcmp(m.fstype, "cgroup2") == 0;
		if (strcmp(m.mountpoint, l->root) == 0) {
			/* Whatever was mounted below root before is hidden by this mount. */
			layout_reset(l);
			root_is_v2 = v2;
			if (v2) {
				r = layout_add(l, l->root, "", true, 0, err);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (root_is_v2 || (!v1 && !v2) || !is_child_of(m.mountpoint, l->root))
			continue;
		if (v2) {
			r = layout_add(l, m.mountpoint, "", true, 0, err);
		} else {
			bool named;
			unsigned mask = v1_controllers(m.superopts, &named);
			_cleanup_free_ char *opts = v1_options_string(m.superopts);
			if (!opts)
				return kc_error_set(err, ENOMEM, "cgroup layout");
			if (mask == 0 && !named)
				continue;
			r = layout_add(l, m.mountpoint, opts, false, mask, err);
		}
		if (r < 0)
			return r;
	}
	if (l->n_h == 0)
		return kc_error_set(err, ENOENT, "no cgroup filesystem mounted on or directly below %s", l->root);

	size_t n_v1 = 0;
	for (size_t i = 0; i < l->n_h; i++) {
		if (l->h[i].v2)
			l->h[i].controllers = v2_available(l->h[i].mount);
		else
			n_v1++;
	}
	l->mode = root_is_v2 ? LC_CGROUP_V2 : n_v1 == l->n_h ? LC_CGROUP_V1 : LC_CGROUP_HYBRID;
	if (!root_is_v2 && l->n_h - n_v1 > 1)
		return kc_error_set(err, EINVAL, "more than one cgroup2 mount directly below %s", l->root);
	layout_assign(l);
	*ret = TAKE_PTR(l);
	return 0;
}

int lc_cgroup_layout_detect(const char *root, lc_cgroup_layout **ret, kc_error *err) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(AT_FDCWD, "/proc/self/mountinfo", 4u << 20, &text, NULL);
	if (r < 0)
		return kc_error_set(err, r, "read /proc/self/mountinfo: %s", strerror(-r));
	return lc_cgroup_layout_parse(root, text, ret, err);
}

/* ---- paths ------------------------------------------------------------------------------------------------- */

/* Appends the components of in to out ("/a/b"), refusing "." and ".." so that no path leaves the hierarchy. */
static int path_append(char *out, size_t size, const char *in, const char *what, kc_error *err) {
	size_t used = strlen(out);
	for (const char *p = in; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 0) {
			p++;
			continue;
		}
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return kc_error_set(err, EINVAL, "%s `%s`: `.` and `..` are not allowed", what, in);
		if (used + 1 + len >= size)
			return kc_error_set(err, ENAMETOOLONG, "%s `%s`: too long", what, in);
		out[used++] = '/';
		memcpy(out + used, p, len);
		used += len;
		out[used] = '\0';
		p += len;
	}
	return 0;
}

/* systemd's slice naming: "a-b-c.slice" lives in "a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root. */
static int slice_expand(const char *slice, char *out, size_t size, kc_error *err) {
	size_t len = strlen(slice);
	const size_t sfx = strlen(".slice");

	out[0] = '\0';
	if (strcmp(slice, "-.slice") == 0)
		return 0;
	if (len <= sfx || strcmp(slice + len - sfx, ".slice") != 0 || strchr(slice, '/'))
		return kc_error_set(err, EINVAL, "cgroupsPath slice `%s`: expected NAME.slice", slice);
	size_t base = len - sfx;
	if (slice[0] == '-' || slice[base - 1] == '-' || strstr(slice, "--"))
		return kc_error_set(err, EINVAL, "cgroupsPath slice `%s`: misplaced `-`", slice);
	size_t used = 0;
	for (size_t i = 0; i <= base; i++) {
		if (i < base && slice[i] != '-')
			continue;
		/* Each prefix up to a '-' (and the whole name) is one level. */
		int n = snprintf(out + used, size - used, "/%.*s.slice", (int)i, slice);
		if (n < 0 || (size_t)n >= size - used)
			return kc_error_set(err, ENAMETOOLONG, "cgroupsPath slice `%s`: too long", slice);
		used += (size_t)n;
	}
	return 0;
}

static bool is_systemd_syntax(const char *p) {
	const char *c1 = strchr(p, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	return c2 && !strchr(c2 + 1, ':') && !strchr(p, '/');
}

static int systemd_to_path(const char *p, char *out, size_t size, kc_error *err) {
	const char *c1 = strchr(p, ':'), *c2 = strchr(c1 + 1, ':');
	char slice[256], prefix[256], unit[512];
	const char *name = c2 + 1;
	int r;

	if ((size_t)(c1 - p) >= sizeof slice || (size_t)(c2 - c1 - 1) >= sizeof prefix)
		return kc_error_set(err, ENAMETOOLONG, "cgroupsPath `%s`: too long", p);
	if (!*name)
		return kc_error_set(err, EINVAL, "cgroupsPath `%s`: expected slice:prefix:name", p);
	memcpy(slice, p, (size_t)(c1 - p));
	slice[c1 - p] = '\0';
	memcpy(prefix, c1 + 1, (size_t)(c2 - c1 - 1));
	prefix[c2 - c1 - 1] = '\0';
	r = slice_expand(slice[0] ? slice : "system.slice", out, size, err);
	if (r < 0)
		return r;
	size_t nlen = strlen(name);
	if (nlen > 6 && strcmp(name + nlen - 6, ".slice") == 0)
		r = format_checked(unit, sizeof unit, "%s", name);
	else if (prefix[0])
		r = format_checked(unit, sizeof unit, "%s-%s.scope", prefix, name);
	else
		r = format_checked(unit, sizeof unit, "%s.scope", name);
	if (r < 0)
		return kc_error_set(err, ENAMETOOLONG, "cgroupsPath `%s`: too long", p);
	return path_append(out, size, unit, "cgroupsPath", err);
}

int lc_cgroup_path_resolve(const char *cgroups_path, const char *default_parent, const char *id, char **ret,
			   bool *ret_systemd, kc_error *err) {
	char buf[PATH_MAX] = "";
	bool systemd = false;
	int r;

	default_parent = default_parent ?: "/";
	if (!cgroups_path || !*cgroups_path) {
		if (!id || !*id || strchr(id, '/'))
			return kc_error_set(err, EINVAL, "cgroupsPath absent and container id `%s` unusable", id ?: "");
		r = path_append(buf, sizeof buf, default_parent, "default cgroup parent", err);
		if (r >= 0)
			r = path_append(buf, sizeof buf, id, "container id", err);
	} else if (cgroups_path[0] == '/') {
		r = path_append(buf, sizeof buf, cgroups_path, "cgroupsPath", err);
	} else if (is_systemd_syntax(cgroups_path)) {
		systemd = true;
		r = systemd_to_path(cgroups_path, buf, sizeof buf, err);
	} else {
		r = path_append(buf, sizeof buf, default_parent, "default cgroup parent", err);
		if (r >= 0)
			r = path_append(buf, sizeof buf, cgroups_path, "cgroupsPath", err);
	}
	if (r < 0)
		return r;
	if (!buf[0])
		return kc_error_set(err, EINVAL, "cgroupsPath `%s`: the root cgroup cannot hold a container",
				    cgroups_path ?: "");
	char *s = strdup(buf);
	if (!s)
		return kc_error_set(err, ENOMEM, "cgroupsPath");
	*ret = s;
	if (ret_systemd)
		*ret_systemd = systemd;
	return 0;
}
