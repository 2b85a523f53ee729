/* mkinitrd: the host tool that makes the guest initrd (an uncompressed newc cpio; the Makefile gzips it).
 *
 *   mkinitrd depmod MODDIR
 *       writes MODDIR/modules.dep, modules.softdep and modules.alias from the .modinfo sections of the .ko
 *       files under MODDIR/kernel: Debian's kernel package ships none (depmod runs at install time) and
 *       the build host need not have kmod.
 *   mkinitrd build --init FILE --moddir DIR --release REL --output FILE [--exclude MOD]... [--file DEST=SRC]...
 *                  GROUP=MOD[,MOD]...
 * --file adds a further executable (mode 0755, parents 0755), e.g. a test initrd's bin/kata-agent.
 *       /init, /dev/console, the base directories and the module closure of every GROUP's modules, with
 *       modules.dep / softdep / alias filtered to exactly that closure, so the guest loads all of it and
 *       nothing else. Prints a size breakdown.
 *
 * Reproducible: the cpio writer sorts entries and zeroes owners; the mtime is SOURCE_DATE_EPOCH or 0. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "common/error.h"
#include "common/util.h"
#include "init/modules.h"
#include "rootfs-builder/cpio.h"
#include "rootfs-builder/modinfo.h"

#define KO_MAX (64u << 20)
#define GROUPS_MAX 32
#define EXCLUDES_MAX 32
#define WALK_DEPTH_MAX 16

/* A growable text buffer; host tool, so an allocation failure simply fails the build. */
typedef struct sbuf {
	char *s;
	size_t len, cap;
} sbuf;

static void sbuf_done(sbuf *b) {
	free(b->s);
	*b = (sbuf){};
}

static int sbuf_printf(sbuf *b, const char *fmt, ...) _printf_(2, 3);
static int sbuf_printf(sbuf *b, const char *fmt, ...) {
	for (;;) {
		va_list ap;
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return 0;
		}
		size_t cap = MAX(b->cap * 2, b->len + (size_t)n + 4096);
		char *s = realloc(b->s, cap);
		if (!s)
			return -ENOMEM;
		b->s = s;
		b->cap = cap;
	}
}

static int write_file_atomic(int dirfd, const char *name, const void *data, size_t len) {
	char tmp[256];
	int r = format_checked(tmp, sizeof(tmp), ".%s.tmp", name);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, len);
	if (r < 0)
		return r;
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		return -errno;
	return 0;
}

/* ---- depmod ---- */

typedef struct ko_list {
	char **paths;
	size_t n, cap;
} ko_list;

static void ko_list_done(ko_list *l) {
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
}

static int ko_list_add(ko_list *l, const char *path) {
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		char **p = reallocarray(l->paths, cap, sizeof(*p));
		if (!p)
			return -ENOMEM;
		l->paths = p;
		l->cap = cap;
	}
	l->paths[l->n] = strdup(path);
	return l->paths[l->n] ? (int)l->n++ : -ENOMEM;
}

static bool ends_with(const char *s, const char *suffix) {
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int walk_ko(int dirfd, const char *rel, unsigned depth, ko_list *out) {
	if (depth > WALK_DEPTH_MAX)
		return -ELOOP;
	_cleanup_close_ int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d)
		return -errno;
	TAKE_FD(fd);
	int r = 0;
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		char path[1024];
		if (de->d_name[0] == '.')
			continue;
		r = format_checked(path, sizeof(path), "%s/%s", rel, de->d_name);
		if (r < 0)
			break;
		if (de->d_type == DT_DIR)
			r = walk_ko(dirfd, path, depth + 1, out);
		else if (de->d_type == DT_REG && ends_with(de->d_name, ".ko"))
			r = ko_list_add(out, path);
	}
	closedir(d);
	return r < 0 ? r : 0;
}

static int cmp_str(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct modinfo_ctx {
	const char *name;
	const kmod_db *paths; /* names to paths */
	sbuf *dep, *softdep, *alias;
	int missing;
} modinfo_ctx;

static int modinfo_entry(const char *key, const char *value, void *userdata) {
	modinfo_ctx *c = userdata;

	if (strcmp(key, "depends") == 0) {
		char copy[4096], *save = NULL;
		if (format_checked(copy, sizeof(copy), "%s", value) < 0)
			return -ENAMETOOLONG;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			const kmod_module *d = kmod_db_find(c->paths, t);
			if (!d) {
				fprintf(stderr, "mkinitrd: %s depends on %s, which is not in the tree\n", c->name, t);
				c->missing++;
				continue;
			}
			if (sbuf_printf(c->dep, " %s", d->path) < 0)
				return -ENOMEM;
		}
	} else if (strcmp(key, "softdep") == 0) {
		if (sbuf_printf(c->softdep, "softdep %s %s\n", c->name, value) < 0)
			return -ENOMEM;
	} else if (strcmp(key, "alias") == 0 && !strpbrk(value, " \t\n")) {
		if (sbuf_printf(c->alias, "alias %s %s\n", value, c->name) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void plan_donep(kmod_plan *p) {
	kmod_plan_done(p);
}

/* depmod writes every module's whole dependency chain, the one to load first last; so do we. */
static int write_full_dep(const kmod_db *db, sbuf *out, kc_error *err) {
	for (size_t i = 0; i < kmod_db_count(db); i++) {
		const kmod_module *m = kmod_db_at(db, i);
		_cleanup_(plan_donep) kmod_plan plan = {};
		const char *root = m->name;
		int r = kmod_closure(db, &root, 1, 0, &plan, err);
		if (r < 0)
			return r;
		if (sbuf_printf(out, "%s:", m->path) < 0)
			return -ENOMEM;
		for (size_t j = plan.n - 1; j-- > 0;)
			if (sbuf_printf(out, " %s", plan.mods[j]->path) < 0)
				return -ENOMEM;
		if (sbuf_printf(out, "\n") < 0)
			return -ENOMEM;
	}
	return 0;
}

static int cmd_depmod(const char *moddir) {
	_cleanup_close_ int dirfd = open(moddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_(kmod_db_freep) kmod_db *paths = NULL, *db = NULL;
	_cleanup_(sbuf_done) sbuf names = {}, dep = {}, softdep = {}, alias = {}, full = {};
	_cleanup_(ko_list_done) ko_list kos = {};
	kc_error err = {};
	int r, missing = 0;

	if (dirfd < 0)
		return fprintf(stderr, "mkinitrd: open %s: %m\n", moddir), -errno;
	r = walk_ko(dirfd, "kernel", 0, &kos);
	if (r < 0)
		return fprintf(stderr, "mkinitrd: walk %s/kernel: %s\n", moddir, strerror(-r)), r;
	qsort(kos.paths, kos.n, sizeof(char *), cmp_str);

	/* First pass: names to paths, from a dependency-free modules.dep. */
	for (size_t i = 0; i < kos.n; i++)
		if (sbuf_printf(&names, "%s:\n", kos.paths[i]) < 0)
			return -ENOMEM;
	if (kmod_db_new(&paths) < 0 || kmod_db_parse_dep(paths, names.s ?: "", names.len, &err) < 0)
		return fprintf(stderr, "mkinitrd: %s\n", err.msg), -EINVAL;

	(void)sbuf_printf(&softdep, "# Soft dependencies extracted from modules themselves.\n");
	(void)sbuf_printf(&alias, "# Aliases extracted from modules themselves.\n");
	for (size_t i = 0; i < kos.n; i++) {
		_cleanup_free_ char *info = NULL;
		size_t len = 0;
		char name[KMOD_NAME_MAX];
		r = modinfo_read(dirfd, kos.paths[i], &info, &len);
		if (r < 0)
			return fprintf(stderr, "mkinitrd: %s: %s\n", kos.paths[i], strerror(-r)), r;
		/* The name the kernel will use is the file name with '-' folded (KBUILD_MODNAME). */
		const char *base = strrchr(kos.paths[i], '/') + 1;
		if (format_checked(name, sizeof(name), "%.*s", (int)(strlen(base) - 3), base) < 0 ||
		    kmod_name_normalize(name, name, sizeof(name)) < 0)
			return -ENAMETOOLONG;
		modinfo_ctx c = { .name = name, .paths = paths, .dep = &dep, .softdep = &softdep, .alias = &alias };
		if (sbuf_printf(&dep, "%s:", kos.paths[i]) < 0)
			return -ENOMEM;
		r = modinfo_foreach(info, len, modinfo_entry, &c);
		if (r < 0 || sbuf_printf(&dep, "\n") < 0)
			return fprintf(stderr, "mkinitrd: %s: %s\n", kos.paths[i], strerror(r < 0 ? -r : ENOMEM)), -EINVAL;
		missing += c.missing;
	}

	/* Second pass: direct dependencies in, whole chains out. */
	if (kmod_db_new(&db) < 0 || kmod_db_parse_dep(db, dep.s, dep.len, &err) < 0 || write_full_dep(db, &full, &err) < 0)
		return fprintf(stderr, "mkinitrd: %s\n", err.msg), -EINVAL;
	if (kmod_db_malformed(db))
		return fprintf(stderr, "mkinitrd: %zu unusable module paths\n", kmod_db_malformed(db)), -EINVAL;
	if ((r = write_file_atomic(dirfd, "modules.dep", full.s, full.len)) < 0 ||
	    (r = write_file_atomic(dirfd, "modules.softdep", softdep.s, softdep.len)) < 0 ||
	    (r = write_file_atomic(dirfd, "modules.alias", alias.s, alias.len)) < 0)
		return fprintf(stderr, "mkinitrd: write into %s: %s\n", moddir, strerror(-r)), r;
	printf("mkinitrd depmod: %zu modules in %s%s\n", kos.n, moddir, missing ? " (some dependencies missing)" : "");
	return missing ? -ENOENT : 0;
}

/* ---- build ---- */

typedef struct group {
	const char *name;
	char *mods[KMOD_DEPS_MAX];
	size_t n_mods;
	size_t n_ko;
	uint64_t bytes;
} group;

typedef struct build_opts {
	const char *init, *moddir, *release, *output;
	const char *exclude[EXCLUDES_MAX];
	size_t n_exclude;
	const char *files[EXCLUDES_MAX];
	size_t n_files;
	group groups[GROUPS_MAX];
	size_t n_groups;
} build_opts;

static bool excluded(const build_opts *o, const kmod_module *m) {
	char buf[KMOD_NAME_MAX];
	for (size_t i = 0; i < o->n_exclude; i++)
		if (kmod_name_normalize(o->exclude[i], buf, sizeof(buf)) > 0 && strcmp(buf, m->name) == 0)
			return true;
	return false;
}

static int add_parents(cpio_archive *a, const char *path) {
	char buf[CPIO_NAME_MAX];
	int r = format_checked(buf, sizeof(buf), "%s", path);
	if (r < 0)
		return r;
	for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		r = cpio_add_dir(a, buf, 0755);
		*p = '/';
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

static int add_blob(cpio_archive *a, int dirfd, const char *src, const char *dst, mode_t perm, uint64_t *ret_size) {
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = read_file_capped(dirfd, src, KO_MAX, &data, &len);
	if (r < 0)
		return r;
	r = add_parents(a, dst);
	if (r >= 0)
		r = cpio_add_file(a, dst, perm, data, len);
	if (r >= 0 && ret_size)
		*ret_size += len;
	return r;
}

/* Which modules go in: the closure of every group, minus exclusions, each attributed to the first group that
 * pulls it in. Fills include[] (by module index) and the order of the whole set. */
static int select_modules(const kmod_db *db, build_opts *o, bool *include, kmod_plan *ret_all, kc_error *err) {
	const char *roots[GROUPS_MAX * KMOD_DEPS_MAX];
	size_t n_roots = 0;
	int r;

	for (size_t g = 0; g < o->n_groups; g++) {
		_cleanup_(plan_donep) kmod_plan plan = {};
		r = kmod_closure(db, (const char *const *)o->groups[g].mods, o->groups[g].n_mods, 0, &plan, err);
		if (r < 0)
			return kc_error_prefix(err, "group %s", o->groups[g].name);
		for (size_t i = 0; i < plan.n; i++)
			if (!excluded(o, plan.mods[i]) && !include[plan.mods[i]->index]) {
				include[plan.mods[i]->index] = true;
				o->groups[g].n_ko++;
			}
		for (size_t i = 0; i < o->groups[g].n_mods; i++)
			roots[n_roots++] = o->groups[g].mods[i];
	}
	r = kmod_closure(db, roots, n_roots, 0, ret_all, err);
	if (r < 0)
		return r;
	/* An exclusion may drop a softdep provider, never something a kept module needs outright. */
	for (size_t i = 0; i < ret_all->n; i++) {
		const kmod_module *m = ret_all->mods[i];
		for (size_t j = 0; include[m->index] && j < m->n_deps; j++) {
			const kmod_module *d = kmod_db_find(db, m->deps[j]);
			if (!d || !include[d->index])
				return kc_error_set(err, EINVAL, "%s needs %s, which is excluded", m->name, m->deps[j]);
		}
	}
	return 0;
}

/* modules.dep / softdep / alias restricted to the included modules. */
static int filtered_metadata(const kmod_db *db, const kmod_plan *all, const bool *include, sbuf *dep, sbuf *softdep,
			     sbuf *alias) {
	int r;
	for (size_t i = 0; i < all->n; i++) {
		const kmod_module *m = all->mods[i];
		if (!include[m->index])
			continue;
		if (sbuf_printf(dep, "%s:", m->path) < 0)
			return -ENOMEM;
		for (size_t j = 0; j < m->n_deps; j++)
			if (sbuf_printf(dep, " %s", kmod_db_find(db, m->deps[j])->path) < 0)
				return -ENOMEM;
		if (sbuf_printf(dep, "\n") < 0)
			return -ENOMEM;
		bool any = false;
		for (size_t j = 0; j < m->n_pre; j++) {
			const kmod_module *prov[16];
			size_t n = kmod_resolve(db, m->pre[j], prov, ELEMENTSOF(prov));
			bool kept = false;
			for (size_t k = 0; k < n; k++)
				kept |= include[prov[k]->index];
			if (!kept)
				continue;
			r = any ? sbuf_printf(softdep, " %s", m->pre[j]) : sbuf_printf(softdep, "softdep %s pre: %s", m->name, m->pre[j]);
			if (r < 0)
				return r;
			any = true;
		}
		if (any && sbuf_printf(softdep, "\n") < 0)
			return -ENOMEM;
	}
	const char *pattern, *module;
	for (size_t i = 0; kmod_db_alias_at(db, i, &pattern, &module) >= 0; i++) {
		const kmod_module *m = kmod_db_find(db, module);
		if (m && include[m->index] && sbuf_printf(alias, "alias %s %s\n", pattern, module) < 0)
			return -ENOMEM;
	}
	return 0;
}

static uint32_t build_mtime(void) {
	uint64_t v;
	const char *s = getenv("SOURCE_DATE_EPOCH");
	if (s && parse_u64(s, 10, &v) >= 0 && v <= UINT32_MAX)
		return (uint32_t)v;
	return 0;
}

static int cmd_build(build_opts *o) {
	_cleanup_(cpio_freep) cpio_archive *a = NULL;
	_cleanup_(kmod_db_freep) kmod_db *db = NULL;
	_cleanup_(plan_donep) kmod_plan all = {};
	_cleanup_(sbuf_done) sbuf dep = {}, softdep = {}, alias = {};
	_cleanup_free_ bool *include = NULL;
	_cleanup_close_ int moddir = -EBADF;
	uint64_t init_size = 0, meta_size = 0;
	char base[256], dst[CPIO_NAME_MAX];
	kc_error err = {};
	int r;

	moddir = open(o->moddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (moddir < 0)
		return fprintf(stderr, "mkinitrd: open %s: %m\n", o->moddir), -errno;
	r = kmod_db_load_dir(moddir, &db, &err);
	if (r < 0)
		return fprintf(stderr, "mkinitrd: %s: %s\n", o->moddir, err.msg), r;
	include = calloc(kmod_db_count(db) + 1, sizeof(*include));
	if (!include)
		return -ENOMEM;
	r = select_modules(db, o, include, &all, &err);
	if (r < 0)
		return fprintf(stderr, "mkinitrd: %s\n", err.msg), r;
	r = filtered_metadata(db, &all, include, &dep, &softdep, &alias);
	if (r < 0)
		return r;

	r = cpio_new(build_mtime(), &a);
	if (r < 0)
		return r;
	static const struct {
		const char *name;
		mode_t perm;
	} dirs[] = { { "dev", 0755 }, { "proc", 0555 }, { "sys", 0555 }, { "run", 0755 },
		     { "tmp", 01777 }, { "etc", 0755 } };
	for (size_t i = 0; i < ELEMENTSOF(dirs) && r >= 0; i++)
		r = cpio_add_dir(a, dirs[i].name, dirs[i].perm);
	/* The kernel opens /dev/console for fds 0-2 before it runs /init, before anything can mount devtmpfs. */
	if (r >= 0)
		r = cpio_add_device(a, "dev/console", S_IFCHR, 0600, 5, 1);
	if (r >= 0)
		r = add_blob(a, AT_FDCWD, o->init, "init", 0755, &init_size);
	if (r < 0)
		return fprintf(stderr, "mkinitrd: adding /init from %s: %s\n", o->init, strerror(-r)), r;
	for (size_t i = 0; i < o->n_files; i++) {
		char spec[CPIO_NAME_MAX + PATH_MAX];
		char *eq;
		if (format_checked(spec, sizeof(spec), "%s", o->files[i]) < 0 || !(eq = strchr(spec, '=')) || eq == spec ||
		    spec[0] == '/' || !eq[1])
			return fprintf(stderr, "mkinitrd: --file %s: expected DEST=SRC with a relative DEST\n", o->files[i]),
			       -EINVAL;
		*eq = '\0';
		r = add_blob(a, AT_FDCWD, eq + 1, spec, 0755, &init_size);
		if (r < 0)
			return fprintf(stderr, "mkinitrd: adding %s from %s: %s\n", spec, eq + 1, strerror(-r)), r;
	}

	r = format_checked(base, sizeof(base), "lib/modules/%s", o->release);
	if (r >= 0)
		r = add_parents(a, base) >= 0 ? cpio_add_dir(a, base, 0755) : -EINVAL;
	for (size_t i = 0; i < all.n && r >= 0; i++) {
		const kmod_module *m = all.mods[i];
		if (!include[m->index])
			continue;
		uint64_t size = 0;
		r = format_checked(dst, sizeof(dst), "%s/%s", base, m->path);
		if (r >= 0)
			r = add_blob(a, moddir, m->path, dst, 0644, &size);
		if (r < 0)
			return fprintf(stderr, "mkinitrd: adding %s: %s\n", m->path, strerror(-r)), r;
		/* Attribute the bytes to the first group whose closure holds the module. */
		for (size_t g = 0; g < o->n_groups; g++) {
			_cleanup_(plan_donep) kmod_plan p = {};
			if (kmod_closure(db, (const char *const *)o->groups[g].mods, o->groups[g].n_mods, 0, &p, NULL) < 0)
				continue;
			bool found = false;
			for (size_t k = 0; k < p.n && !found; k++)
				found = p.mods[k] == m;
			if (found) {
				o->groups[g].bytes += size;
				break;
			}
		}
	}
	const struct {
		const char *name;
		sbuf *text;
	} meta[] = { { "modules.dep", &dep }, { "modules.softdep", &softdep }, { "modules.alias", &alias } };
	for (size_t i = 0; i < ELEMENTSOF(meta) && r >= 0; i++) {
		r = format_checked(dst, sizeof(dst), "%s/%s", base, meta[i].name);
		if (r >= 0)
			r = cpio_add_file(a, dst, 0644, meta[i].text->s ?: "", meta[i].text->len);
		meta_size += meta[i].text->len;
	}
	if (r < 0)
		return fprintf(stderr, "mkinitrd: module metadata: %s\n", strerror(-r)), r;

	const uint8_t *data;
	size_t len;
	r = cpio_finish(a, &data, &len);
	if (r < 0)
		return r;
	_cleanup_free_ char *dir = strdup(o->output);
	const char *slash = dir ? strrchr(dir, '/') : NULL;
	_cleanup_close_ int outdir = -EBADF;
	if (slash)
		dir[slash - dir] = '\0';
	outdir = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (outdir < 0 || (r = write_file_atomic(outdir, slash ? slash + 1 : o->output, data, len)) < 0)
		return fprintf(stderr, "mkinitrd: write %s: %m\n", o->output), -EIO;

	printf("initrd %s:\n", o->output);
	printf("  %-28s %9llu bytes\n", o->n_files ? "/init and --file" : "/init", (unsigned long long)init_size);
	size_t n_ko = 0;
	for (size_t g = 0; g < o->n_groups; g++) {
		char label[64];
		(void)format_checked(label, sizeof(label), "modules: %s (%zu)", o->groups[g].name, o->groups[g].n_ko);
		printf("  %-28s %9llu bytes\n", label, (unsigned long long)o->groups[g].bytes);
		n_ko += o->groups[g].n_ko;
	}
	printf("  %-28s %9llu bytes\n", "modules.dep/softdep/alias", (unsigned long long)meta_size);
	printf("  %-28s %9zu bytes (%zu modules)\n", "total uncompressed cpio", len, n_ko);
	return 0;
}

static int parse_group(build_opts *o, char *arg) {
	char *eq = strchr(arg, '='), *save = NULL;
	if (!eq || eq == arg || o->n_groups >= GROUPS_MAX)
		return -EINVAL;
	*eq = '\0';
	group *g = &o->groups[o->n_groups++];
	g->name = arg;
	for (char *t = strtok_r(eq + 1, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (g->n_mods >= KMOD_DEPS_MAX)
			return -E2BIG;
		g->mods[g->n_mods++] = t;
	}
	return g->n_mods ? 0 : -EINVAL;
}

static int usage(void) {
	fprintf(stderr, "usage: mkinitrd depmod MODDIR\n"
			"       mkinitrd build --init FILE --moddir DIR --release REL --output FILE [--exclude MOD]... "
			"[--file DEST=SRC]... GROUP=MOD[,MOD]...\n");
	return 2;
}

int main(int argc, char **argv) {
	static build_opts o;

	if (argc == 3 && strcmp(argv[1], "depmod") == 0)
		return cmd_depmod(argv[2]) < 0 ? 1 : 0;
	if (argc < 2 || strcmp(argv[1], "build") != 0)
		return usage();
	for (int i = 2; i < argc; i++) {
		const char **opt = NULL;
		if (strcmp(argv[i], "--init") == 0)
			opt = &o.init;
		else if (strcmp(argv[i], "--moddir") == 0)
			opt = &o.moddir;
		else if (strcmp(argv[i], "--release") == 0)
			opt = &o.release;
		else if (strcmp(argv[i], "--output") == 0)
			opt = &o.output;
		else if (strcmp(argv[i], "--exclude") == 0 && o.n_exclude < EXCLUDES_MAX)
			opt = &o.exclude[o.n_exclude++];
		else if (strcmp(argv[i], "--file") == 0 && o.n_files < EXCLUDES_MAX)
			opt = &o.files[o.n_files++];
		else if (parse_group(&o, argv[i]) < 0)
			return usage();
		if (opt) {
			if (++i >= argc)
				return usage();
			*opt = argv[i];
		}
	}
	if (!o.init || !o.moddir || !o.release || !o.output || o.n_groups == 0)
		return usage();
	return cmd_build(&o) < 0 ? 1 : 0;
}
