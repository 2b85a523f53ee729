#define LOG_SOURCE "init"
#include "init/init.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include "common/log.h"
#include "common/util.h"
#include "init/modules.h"

static void plan_donep(kmod_plan *p) {
	kmod_plan_done(p);
}

/* finit_module rather than init_module: the kernel reads the file itself (no copy through our memory) and can
 * check it against the file it came from. */
static int load_one(int dirfd, const kmod_module *m, const char *params) {
	_cleanup_close_ int fd = openat(dirfd, m->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, params ? params : "", 0) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static const char *failed_dep(const kmod_db *db, const kmod_module *m, const bool *failed) {
	for (size_t i = 0; i < m->n_deps; i++) {
		const kmod_module *d = kmod_db_find(db, m->deps[i]);
		if (d && failed[d->index])
			return d->name;
	}
	return NULL;
}

/* A module that is already live needs no second finit_module (which would read the whole file again only to
 * fail with EEXIST). initstate exists only for loadable modules, so built-ins are not mistaken for it. */
static bool module_live(const char *name) {
	char p[300];
	if (format_checked(p, sizeof p, "/sys/module/%s/initstate", name) < 0)
		return false;
	return access(p, F_OK) == 0;
}

/* The parameters named for m: those of the requested name that is m or an alias resolving to it. */
static const char *params_for(const kmod_db *db, const kmod_module *m, const char *const *names,
			      const char *const *params, size_t n) {
	const kmod_module *hits[8];
	for (size_t i = 0; params && i < n; i++) {
		if (!params[i] || !params[i][0])
			continue;
		size_t k = kmod_resolve(db, names[i], hits, ELEMENTSOF(hits));
		for (size_t j = 0; j < k; j++)
			if (hits[j] == m)
				return params[i];
	}
	return NULL;
}

static int load_modules(const char *modules_dir, const char *const *names, const char *const *params,
			size_t n_names, bool strict, kc_error *err) {
	_cleanup_(kmod_db_freep) kmod_db *db = NULL;
	_cleanup_(plan_donep) kmod_plan plan = {};
	_cleanup_free_ const char **roots = NULL;
	_cleanup_free_ bool *failed = NULL;
	_cleanup_close_ int dirfd = -EBADF;
	size_t n_failed = 0, n_live = 0;
	uint64_t start = now_ns();
	int r, first = 0;

	dirfd = open(modules_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (strict && dirfd < 0)
		return kc_error_set(err, errno, "open %s: %m", modules_dir);
	if (dirfd < 0 && errno == ENOENT) {
		log_info("no %s: loading no kernel modules", modules_dir);
		return 0;
	}
	if (dirfd < 0)
		return kc_error_set(err, errno, "open %s", modules_dir);
	if (!strict && faccessat(dirfd, "modules.dep", F_OK, 0) < 0 && errno == ENOENT) {
		log_info("no modules.dep in %s: loading no kernel modules", modules_dir);
		return 0;
	}
	r = kmod_db_load_dir(dirfd, &db, err);
	if (r < 0)
		return kc_error_prefix(err, "%s", modules_dir);
	if (kmod_db_malformed(db))
		log_warn("%s: skipped %zu malformed lines", modules_dir, kmod_db_malformed(db));

	size_t n = kmod_db_count(db);
	failed = calloc(n + 1, sizeof(*failed));
	if (!failed)
		return kc_error_set(err, ENOMEM, "module load plan");
	if (!names) {
		roots = calloc(n + 1, sizeof(*roots));
		if (!roots)
			return kc_error_set(err, ENOMEM, "module load plan");
		for (size_t i = 0; i < n; i++)
			roots[i] = kmod_db_at(db, i)->name;
	} else
		n = n_names;
	r = kmod_closure(db, names ? names : roots, n, KMOD_KEEP_GOING, &plan, err);
	if (r < 0)
		return kc_error_prefix(err, "%s", modules_dir);
	if (r > 0) {
		log_warn("%s: %d modules left out: %s", modules_dir, r, err->msg);
		n_failed += (size_t)r;
		first = -err->err;
	}

	for (size_t i = 0; i < plan.n; i++) {
		const kmod_module *m = plan.mods[i];
		const char *dep = failed_dep(db, m, failed);
		const char *p = params_for(db, m, names, params, n_names);
		if (!dep && module_live(m->name)) {
			/* As modprobe: a live module keeps the parameters it was loaded with. */
			if (p)
				log_warn("module %s is already loaded: parameters `%s` not applied", m->name, p);
			n_live++;
			continue;
		}
		r = dep ? -ENOLINK : load_one(dirfd, m, p);
		if (r >= 0)
			continue;
		failed[m->index] = true;
		n_failed++;
		if (dep)
			log_warn("module %s skipped: its dependency %s failed", m->name, dep);
		else
			log_warn("module %s (%s): %s", m->name, m->path, strerror(-r));
		if (first == 0)
			first = kc_error_set(err, r, "module %s", m->name);
	}

	size_t n_loaded = plan.n - MIN(plan.n, n_failed + n_live);
	log_info("loaded %zu kernel modules (%zu already live, %zu failed) in %llu ms", n_loaded, n_live, n_failed,
		 (unsigned long long)((now_ns() - start) / 1000000));
	if (first < 0)
		return kc_error_prefix(err, "%zu of %zu kernel modules failed to load, first", n_failed, n);
	return 0;
}

int init_load_modules(const char *modules_dir, const char *const *names, size_t n_names, kc_error *err) {
	return load_modules(modules_dir, names, NULL, n_names, false, err);
}

int init_load_modules_params(const char *modules_dir, const char *const *names, const char *const *params,
			     size_t n_names, kc_error *err) {
	return load_modules(modules_dir, names, params, n_names, true, err);
}
