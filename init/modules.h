/* Kernel module metadata as depmod writes it (modules.dep, modules.softdep, modules.alias) and the load order
 * derived from it. Pure logic apart from reading the three files: PID 1 uses it to load modules in the guest,
 * rootfs-builder uses it on the host to pick the module closure that goes into the initrd.
 *
 * Module names are kept normalised: '-' and '_' are the same to the kernel (it stores names with '_'), so
 * every name is folded to '_' on the way in and every lookup folds its argument the same way. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "common/error.h"

/* Caps for hostile or corrupt input: a line or a file over them is skipped or refused, never trusted. */
#define KMOD_LINE_MAX 4096
#define KMOD_FILE_MAX (16u << 20)
#define KMOD_MODULES_MAX 16384
#define KMOD_ALIASES_MAX 262144
#define KMOD_DEPS_MAX 256
#define KMOD_NAME_MAX 256

typedef struct kmod_module {
	char *name;   /* normalised ('_') */
	char *path;   /* relative to the modules directory, as modules.dep lists it */
	char **deps;  /* normalised names of the hard dependencies (the whole chain, as depmod writes it) */
	size_t n_deps;
	char **pre;   /* softdep "pre:" names, which may be aliases */
	size_t n_pre;
	size_t index; /* position in the db, for per-module state arrays */
} kmod_module;

typedef struct kmod_db kmod_db;

int kmod_db_new(kmod_db **ret);
kmod_db *kmod_db_free(kmod_db *db);
DEFINE_CLEANUP_FUNC(kmod_db *, kmod_db_free);

/* Parsers for the three file formats. Malformed, duplicate or over-long lines are skipped and counted
 * (kmod_db_malformed); only resource caps and allocation failures are errors. */
int kmod_db_parse_dep(kmod_db *db, const char *text, size_t len, kc_error *err);
int kmod_db_parse_softdep(kmod_db *db, const char *text, size_t len, kc_error *err);
int kmod_db_parse_alias(kmod_db *db, const char *text, size_t len, kc_error *err);
/* Reads modules.dep (required), modules.softdep and modules.alias (optional) from a directory. */
int kmod_db_load_dir(int dirfd, kmod_db **ret, kc_error *err);

size_t kmod_db_count(const kmod_db *db);
const kmod_module *kmod_db_at(const kmod_db *db, size_t i);
size_t kmod_db_malformed(const kmod_db *db);
/* The i-th modules.alias entry: its pattern ('-' folded to '_' outside brackets) and normalised module name.
 * -ENOENT past the end. */
int kmod_db_alias_at(const kmod_db *db, size_t i, const char **ret_pattern, const char **ret_module);
/* Looks up a module by name ('-' or '_' either way); NULL when absent. */
const kmod_module *kmod_db_find(const kmod_db *db, const char *name);

/* Modules matching a name: the module of that name if there is one, else every module whose alias pattern
 * (a glob, as in modules.alias; '-' and '_' equivalent outside brackets) matches, in modules.alias order,
 * each once. Returns how many were stored in
 * ret (at most max); 0 when nothing matches. */
size_t kmod_resolve(const kmod_db *db, const char *name, const kmod_module **ret, size_t max);

/* Fills buf with name, '-' folded to '_'. -ENAMETOOLONG when it does not fit. */
int kmod_name_normalize(const char *name, char *buf, size_t size);

enum {
	/* Skip a root whose closure fails (missing module, cycle) instead of failing the whole plan. */
	KMOD_KEEP_GOING = 1 << 0,
};

/* A load order: dependencies before dependants, each module once. Points into the db. */
typedef struct kmod_plan {
	const kmod_module **mods;
	size_t n;
} kmod_plan;
void kmod_plan_done(kmod_plan *plan);

/* The closure of roots (names or aliases) in load order. For each module: its softdep "pre:" modules (resolved
 * through aliases; a softdep nobody provides is ignored, as modprobe does), then its hard dependencies, then
 * itself. A hard-dependency cycle is -ELOOP, a missing root or dependency -ENOENT. Without KMOD_KEEP_GOING
 * the first failure is returned; with it, failed roots are left out, err describes the first one, and the
 * return value is the number of roots left out. */
int kmod_closure(const kmod_db *db, const char *const *roots, size_t n_roots, unsigned flags, kmod_plan *ret,
		 kc_error *err);
