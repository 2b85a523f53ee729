/* Container cpusets refreshed after CPUs come online (see agent/cpuset.h). */
#define LOG_SOURCE "cpuset"
#include "agent/cpuset.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "agent/container.h"
#include "common/log.h"
#include "common/util.h"
#include "libcontainer-c/cgroup.h"
#include "libcontainer-c/instance.h"

#define CPULIST_MAX 4096 /* "0-8191" or a long comma list: far below a page */

static int read_cpus(const char *path, char **ret) {
	char *s = NULL;
	int r = read_file_capped(AT_FDCWD, path, CPULIST_MAX, &s, NULL);
	if (r < 0)
		return r;
	s[strcspn(s, "\n")] = '\0';
	*ret = s;
	return 0;
}

int cpuset_widen_path(const char *mount, const char *path, bool pinned, const char *cpus, kc_error *err) {
	char dir[PATH_MAX], file[PATH_MAX];
	size_t len = strlen(mount);
	int written = 0;

	if (format_checked(dir, sizeof dir, "%s", mount) < 0)
		return kc_error_set(err, ENAMETOOLONG, "cpuset: %s: path too long", mount);
	/* Top down: on v1 a child's cpus must lie within its parent's, so the parents widen first. */
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		if (len + 1 + n >= sizeof dir)
			return kc_error_set(err, ENAMETOOLONG, "cpuset: %s%s: path too long", mount, path);
		dir[len++] = '/';
		memcpy(dir + len, p, n);
		dir[len += n] = '\0';
		p += n;
		bool leaf = strspn(p, "/") == strlen(p);
		if (leaf && pinned)
			break;
		_cleanup_free_ char *now = NULL;
		(void)format_checked(file, sizeof file, "%s/cpuset.cpus", dir);
		int r = read_cpus(file, &now);
		/* v2 without the cpuset controller enabled down here (nothing below can be pinned), or a cgroup that
		 * went away meanwhile: nothing to widen. */
		if (r == -ENOENT)
			break;
		if (r < 0)
			return kc_error_set(err, -r, "cpuset: read %s: %s", file, strerror(-r));
		if (!*now || strcmp(now, cpus) == 0)
			continue;
		r = write_string_file(file, cpus);
		if (r < 0)
			return kc_error_set(err, -r, "cpuset: write `%s` to %s: %s", cpus, file, strerror(-r));
		written++;
	}
	return written;
}

typedef struct refresh_ctx {
	agent *agent;
	const char *cpus;
	unsigned refreshed;
} refresh_ctx;

static void refresh_one(const char *id, lc_instance *inst, void *userdata) {
	refresh_ctx *ctx = userdata;
	const lc_cgroup *cg = lc_instance_cgroup(inst);
	const lc_config *cfg = lc_instance_config(inst);
	kc_error err = { 0 };

	if (!cg)
		return;
	const lc_cgroup_layout *l = lc_cgroup_get_layout(cg);
	int h = l->where[LC_CG_CPUSET];
	if (h < 0)
		return;
	const lc_spec_linux *lx = cfg && cfg->spec ? cfg->spec->linux : NULL;
	bool pinned = lx && lx->resources && lx->resources->cpu && lx->resources->cpu->cpus &&
		      *lx->resources->cpu->cpus;
	int r = cpuset_widen_path(l->h[h].mount, lc_cgroup_get_path(cg), pinned, ctx->cpus, &err);
	if (r < 0)
		log_warn("container %s: %s", id, err.msg);
	else if (r > 0)
		ctx->refreshed++;
}

void cpusets_refresh(agent *a) {
	char online[PATH_MAX];
	_cleanup_free_ char *cpus = NULL;

	if (containers_count(a) == 0)
		return;
	(void)format_checked(online, sizeof online, "%s/devices/system/cpu/online", a->sysfs);
	int r = read_cpus(online, &cpus);
	if (r < 0 || !*cpus) {
		log_warn("cpusets not refreshed: %s: %s", online, r < 0 ? strerror(-r) : "empty");
		return;
	}
	refresh_ctx ctx = { .agent = a, .cpus = cpus };
	containers_foreach(a, refresh_one, &ctx);
	log_info("cpusets refreshed to %s: %u containers changed", cpus, ctx.refreshed);
}
