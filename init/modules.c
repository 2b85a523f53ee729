#include "init/modules.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <string.h>
#include "common/util.h"

#define streq(a, b) (strcmp((a), (b)) == 0)

/* Deeper than any real dependency chain (Debian 6.1 tops out near 10); bounds the recursion on hostile input. */
#define KMOD_DEPTH_MAX 128
#define KMOD_RESOLVE_MAX 32

typedef struct kmod_alias {
	char *pattern;
	char *module; /* normalised */
} kmod_alias;

struct kmod_db {
	kmod_module **mods;
	size_t n, cap;
	/* Open-addressing index of mods by name: slot holds index+1, 0 is empty. Size is a power of two. */
	size_t *slots;
	size_t n_slots;
	kmod_alias *aliases;
	size_t n_aliases, cap_aliases;
	size_t malformed;
};

int kmod_name_normalize(const char *name, char *buf, size_t size) {
	size_t i;
	for (i = 0; name[i]; i++) {
		if (i + 1 >= size)
			return -ENAMETOOLONG;
		buf[i] = name[i] == '-' ? '_' : name[i];
	}
	if (size == 0)
		return -ENAMETOOLONG;
	buf[i] = '\0';
	return (int)i;
}

static uint64_t name_hash(const char *s) {
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static void index_insert(size_t *slots, size_t n_slots, const char *name, size_t idx) {
	size_t i = name_hash(name) & (n_slots - 1);
	while (slots[i])
		i = (i + 1) & (n_slots - 1);
	slots[i] = idx + 1;
}

static int index_grow(kmod_db *db) {
	size_t n_slots = db->n_slots ? db->n_slots * 2 : 64;
	size_t *slots = calloc(n_slots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < db->n; i++)
		index_insert(slots, n_slots, db->mods[i]->name, i);
	free(db->slots);
	db->slots = slots;
	db->n_slots = n_slots;
	return 0;
}

/* name must already be normalised. */
static kmod_module *find_normalized(const kmod_db *db, const char *name) {
	if (db->n_slots == 0)
		return NULL;
	for (size_t i = name_hash(name) & (db->n_slots - 1); db->slots[i]; i = (i + 1) & (db->n_slots - 1)) {
		kmod_module *m = db->mods[db->slots[i] - 1];
		if (streq(m->name, name))
			return m;
	}
	return NULL;
}

const kmod_module *kmod_db_find(const kmod_db *db, const char *name) {
	char buf[KMOD_NAME_MAX];
	if (!db || !name || kmod_name_normalize(name, buf, sizeof(buf)) <= 0)
		return NULL;
	return find_normalized(db, buf);
}

int kmod_db_new(kmod_db **ret) {
	kmod_db *db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	*ret = db;
	return 0;
}

static void strv_free(char **v, size_t n) {
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static kmod_module *module_free(kmod_module *m) {
	if (!m)
		return NULL;
	free(m->name);
	free(m->path);
	strv_free(m->deps, m->n_deps);
	strv_free(m->pre, m->n_pre);
	free(m);
	return NULL;
}
DEFINE_CLEANUP_FUNC(kmod_module *, module_free);

kmod_db *kmod_db_free(kmod_db *db) {
	if (!db)
		return NULL;
	for (size_t i = 0; i < db->n; i++)
		module_free(db->mods[i]);
	free(db->mods);
	free(db->slots);
	for (size_t i = 0; i < db->n_aliases; i++) {
		free(db->aliases[i].pattern);
		free(db->aliases[i].module);
	}
	free(db->aliases);
	free(db);
	return NULL;
}

size_t kmod_db_count(const kmod_db *db) {
	return db ? db->n : 0;
}

const kmod_module *kmod_db_at(const kmod_db *db, size_t i) {
	return db && i < db->n ? db->mods[i] : NULL;
}

int kmod_db_alias_at(const kmod_db *db, size_t i, const char **ret_pattern, const char **ret_module) {
	if (!db || i >= db->n_aliases)
		return -ENOENT;
	*ret_pattern = db->aliases[i].pattern;
	*ret_module = db->aliases[i].module;
	return 0;
}

size_t kmod_db_malformed(const kmod_db *db) {
	return db ? db->malformed : 0;
}

/* Calls fn for each line that fits in KMOD_LINE_MAX, NUL-terminated and without the newline; counts the rest
 * as malformed. A NUL byte inside a line makes it malformed too: the text came from a file. */
typedef int (*line_fn)(kmod_db *db, char *line, kc_error *err);
static int for_each_line(kmod_db *db, const char *text, size_t len, line_fn fn, kc_error *err) {
	char line[KMOD_LINE_MAX + 1];
	size_t pos = 0;

	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > KMOD_LINE_MAX || memchr(start, '\0', n)) {
			db->malformed++;
			continue;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		int r = fn(db, p, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Splits off the next blank-separated token; NULL at the end of the line. */
static char *next_token(char **s) {
	char *p = *s + strspn(*s, " \t");
	if (*p == '\0')
		return NULL;
	char *end = p + strcspn(p, " \t");
	if (*end)
		*end++ = '\0';
	*s = end;
	return p;
}

/* The module name a modules.dep path stands for: basename without ".ko" (or ".ko.xz" etc.), normalised. */
static int name_from_path(const char *path, char *buf, size_t size) {
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *ko = strstr(base, ".ko");
	if (!ko || ko == base || (ko[3] != '\0' && ko[3] != '.'))
		return -EINVAL;
	size_t n = (size_t)(ko - base);
	if (n >= size)
		return -ENAMETOOLONG;
	char tmp[KMOD_NAME_MAX];
	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, base, n);
	tmp[n] = '\0';
	return kmod_name_normalize(tmp, buf, size);
}

/* The loader opens these paths relative to the modules directory; one that could leave it is refused. */
static bool path_is_safe(const char *path) {
	if (path[0] == '/' || path[0] == '\0')
		return false;
	for (const char *p = path; p; p = strchr(p, '/'), p = p ? p + 1 : NULL)
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return false;
	return true;
}

static int add_module(kmod_db *db, kmod_module *m, kc_error *err) {
	if (db->n >= KMOD_MODULES_MAX)
		return kc_error_set(err, E2BIG, "more than %d modules", KMOD_MODULES_MAX);
	if (db->n == db->cap) {
		size_t cap = db->cap ? db->cap * 2 : 64;
		kmod_module **mods = reallocarray(db->mods, cap, sizeof(*mods));
		if (!mods)
			return kc_error_set(err, ENOMEM, "module table");
		db->mods = mods;
		db->cap = cap;
	}
	/* Keep the index at most half full. */
	if ((db->n + 1) * 2 > db->n_slots && index_grow(db) < 0)
		return kc_error_set(err, ENOMEM, "module index");
	m->index = db->n;
	db->mods[db->n++] = m;
	index_insert(db->slots, db->n_slots, m->name, m->index);
	return 0;
}

static int strv_push(char ***v, size_t *n, const char *s) {
	if (*n >= KMOD_DEPS_MAX)
		return -E2BIG;
	char **nv = reallocarray(*v, *n + 1, sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko" */
static int dep_line(kmod_db *db, char *line, kc_error *err) {
	_cleanup_(module_freep) kmod_module *m = NULL;
	char name[KMOD_NAME_MAX];
	char *colon = strchr(line, ':');
	char *rest, *path, *tok;
	int r;

	if (!colon)
		goto malformed;
	*colon = '\0';
	rest = colon + 1;
	path = next_token(&line);
	if (!path || next_token(&line) || !path_is_safe(path) || name_from_path(path, name, sizeof(name)) <= 0)
		goto malformed;
	if (find_normalized(db, name))
		goto malformed; /* a second line for one module: the first one wins */

	m = calloc(1, sizeof(*m));
	if (!m)
		return kc_error_set(err, ENOMEM, "module entry");
	m->name = strdup(name);
	m->path = strdup(path);
	if (!m->name || !m->path)
		return kc_error_set(err, ENOMEM, "module entry");
	while ((tok = next_token(&rest))) {
		char dep[KMOD_NAME_MAX];
		if (name_from_path(tok, dep, sizeof(dep)) <= 0)
			goto malformed;
		r = strv_push(&m->deps, &m->n_deps, dep);
		if (r == -E2BIG)
			goto malformed;
		if (r < 0)
			return kc_error_set(err, -r, "module entry");
	}
	r = add_module(db, m, err);
	if (r < 0)
		return r;
	TAKE_PTR(m);
	return 0;
malformed:
	db->malformed++;
	return 0;
}

int kmod_db_parse_dep(kmod_db *db, const char *text, size_t len, kc_error *err) {
	assert_return(db && (text || len == 0), -EINVAL);
	return for_each_line(db, text, len, dep_line, err);
}

/* "softdep ext4 pre: crypto-crc32c" ("post:" entries are accepted and not used: nothing needs them yet). */
static int softdep_line(kmod_db *db, char *line, kc_error *err) {
	char name[KMOD_NAME_MAX];
	char *tok = next_token(&line);
	enum { NONE, PRE, POST } mode = NONE;
	kmod_module *m;
	char **pre = NULL;
	size_t n_pre = 0;
	int r;

	if (!tok || !streq(tok, "softdep"))
		goto malformed;
	tok = next_token(&line);
	if (!tok || kmod_name_normalize(tok, name, sizeof(name)) <= 0)
		goto malformed;
	while ((tok = next_token(&line))) {
		if (streq(tok, "pre:"))
			mode = PRE;
		else if (streq(tok, "post:"))
			mode = POST;
		else if (mode == NONE)
			continue; /* modprobe ignores words before "pre:"/"post:" (cifs ships "softdep cifs ecb") */
		else if (mode == PRE) {
			char dep[KMOD_NAME_MAX];
			if (kmod_name_normalize(tok, dep, sizeof(dep)) <= 0)
				goto malformed_free;
			r = strv_push(&pre, &n_pre, dep);
			if (r == -E2BIG)
				goto malformed_free;
			if (r < 0) {
				strv_free(pre, n_pre);
				return kc_error_set(err, -r, "softdep entry");
			}
		}
	}
	m = find_normalized(db, name);
	/* A softdep for a module we do not have (the initrd carries a subset) is simply not ours. */
	for (size_t i = 0; m && i < n_pre; i++) {
		r = strv_push(&m->pre, &m->n_pre, pre[i]);
		if (r == -ENOMEM) {
			strv_free(pre, n_pre);
			return kc_error_set(err, ENOMEM, "softdep entry");
		}
	}
	strv_free(pre, n_pre);
	return 0;
malformed_free:
	strv_free(pre, n_pre);
malformed:
	db->malformed++;
	return 0;
}

int kmod_db_parse_softdep(kmod_db *db, const char *text, size_t len, kc_error *err) {
	assert_return(db && (text || len == 0), -EINVAL);
	return for_each_line(db, text, len, softdep_line, err);
}

/* Alias patterns fold '-' to '_' like names, except inside a bracket expression, where '-' is a range
 * ("[0-9]"). Lookups fold the query the same way, so "crypto_crc32c" finds "alias crypto-crc32c ...". */
static int pattern_normalize(const char *pattern, char *buf, size_t size) {
	bool in_bracket = false;
	size_t i;
	for (i = 0; pattern[i]; i++) {
		if (i + 1 >= size)
			return -ENAMETOOLONG;
		char ch = pattern[i];
		if (ch == '[')
			in_bracket = true;
		else if (ch == ']')
			in_bracket = false;
		else if (ch == '-' && !in_bracket)
			ch = '_';
		buf[i] = ch;
	}
	buf[i] = '\0';
	return (int)i;
}

/* "alias crypto-crc32c crc32c_generic" */
static int alias_line(kmod_db *db, char *line, kc_error *err) {
	char name[KMOD_NAME_MAX], pat[KMOD_LINE_MAX + 1];
	char *kw = next_token(&line), *pattern = next_token(&line), *module = next_token(&line);

	if (!kw || !streq(kw, "alias") || !pattern || !module || next_token(&line) ||
	    kmod_name_normalize(module, name, sizeof(name)) <= 0 || pattern_normalize(pattern, pat, sizeof(pat)) <= 0) {
		db->malformed++;
		return 0;
	}
	if (db->n_aliases >= KMOD_ALIASES_MAX)
		return kc_error_set(err, E2BIG, "more than %d aliases", KMOD_ALIASES_MAX);
	if (db->n_aliases == db->cap_aliases) {
		size_t cap = db->cap_aliases ? db->cap_aliases * 2 : 256;
		kmod_alias *a = reallocarray(db->aliases, cap, sizeof(*a));
		if (!a)
			return kc_error_set(err, ENOMEM, "alias table");
		db->aliases = a;
		db->cap_aliases = cap;
	}
	kmod_alias *a = &db->aliases[db->n_aliases];
	a->pattern = strdup(pat);
	a->module = strdup(name);
	if (!a->pattern || !a->module) {
		free(a->pattern);
		free(a->module);
		return kc_error_set(err, ENOMEM, "alias table");
	}
	db->n_aliases++;
	return 0;
}

int kmod_db_parse_alias(kmod_db *db, const char *text, size_t len, kc_error *err) {
	assert_return(db && (text || len == 0), -EINVAL);
	return for_each_line(db, text, len, alias_line, err);
}

typedef int (*parse_fn)(kmod_db *db, const char *text, size_t len, kc_error *err);
static const struct {
	const char *file;
	parse_fn parse;
	bool required;
} db_files[] = {
	/* modules.dep first: softdep lines attach to modules it defined. */
	{ "modules.dep", kmod_db_parse_dep, true },
	{ "modules.softdep", kmod_db_parse_softdep, false },
	{ "modules.alias", kmod_db_parse_alias, false },
};

int kmod_db_load_dir(int dirfd, kmod_db **ret, kc_error *err) {
	_cleanup_(kmod_db_freep) kmod_db *db = NULL;
	int r;

	r = kmod_db_new(&db);
	if (r < 0)
		return kc_error_set(err, -r, "module db");
	for (size_t i = 0; i < ELEMENTSOF(db_files); i++) {
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		r = read_file_capped(dirfd, db_files[i].file, KMOD_FILE_MAX, &text, &len);
		if (r == -ENOENT && !db_files[i].required)
			continue;
		if (r < 0)
			return kc_error_set(err, -r, "read %s", db_files[i].file);
		r = db_files[i].parse(db, text, len, err);
		if (r < 0)
			return kc_error_prefix(err, "%s", db_files[i].file);
	}
	*ret = TAKE_PTR(db);
	return 0;
}

static bool already(const kmod_module **v, size_t n, const kmod_module *m) {
	for (size_t i = 0; i < n; i++)
		if (v[i] == m)
			return true;
	return false;
}

size_t kmod_resolve(const kmod_db *db, const char *name, const kmod_module **ret, size_t max) {
	char buf[KMOD_NAME_MAX];
	size_t n = 0;

	if (!db || !name || max == 0 || kmod_name_normalize(name, buf, sizeof(buf)) <= 0)
		return 0;
	const kmod_module *m = find_normalized(db, buf);
	if (m) {
		ret[0] = m;
		return 1;
	}
	for (size_t i = 0; i < db->n_aliases && n < max; i++) {
		if (fnmatch(db->aliases[i].pattern, buf, 0) != 0)
			continue;
		m = find_normalized(db, db->aliases[i].module);
		if (m && !already(ret, n, m))
			ret[n++] = m;
	}
	return n;
}

void kmod_plan_done(kmod_plan *plan) {
	if (!plan)
		return;
	free(plan->mods);
	plan->mods = NULL;
	plan->n = 0;
}

enum { ST_NEW = 0, ST_ACTIVE = 1, ST_DONE = 2 }; /* a negative state is the errno the module failed with */

typedef struct closure_ctx {
	const kmod_db *db;
	int *state;
	const kmod_module **out;
	size_t n_out;
	kc_error *err;
} closure_ctx;

static int visit(closure_ctx *c, const kmod_module *m, unsigned depth);

static void visit_softdeps(closure_ctx *c, const kmod_module *m, unsigned depth) {
	for (size_t i = 0; i < m->n_pre; i++) {
		const kmod_module *prov[KMOD_RESOLVE_MAX];
		size_t n = kmod_resolve(c->db, m->pre[i], prov, ELEMENTSOF(prov));
		for (size_t j = 0; j < n; j++) {
			/* Softdeps are advisory: one that loops back or cannot load does not sink the module. */
			if (c->state[prov[j]->index] != ST_NEW)
				continue;
			(void)visit(c, prov[j], depth + 1);
		}
	}
}

static int visit(closure_ctx *c, const kmod_module *m, unsigned depth) {
	int *st = &c->state[m->index];
	int r;

	if (*st == ST_DONE)
		return 0;
	if (*st == ST_ACTIVE)
		return kc_error_set(c->err, ELOOP, "dependency cycle through %s", m->name);
	if (*st < 0)
		return kc_error_set(c->err, -*st, "%s failed before", m->name);
	if (depth > KMOD_DEPTH_MAX)
		return kc_error_set(c->err, ELOOP, "dependency chain deeper than %d at %s", KMOD_DEPTH_MAX, m->name);

	*st = ST_ACTIVE;
	visit_softdeps(c, m, depth);
	for (size_t i = 0; i < m->n_deps; i++) {
		const kmod_module *d = find_normalized(c->db, m->deps[i]);
		if (!d)
			r = kc_error_set(c->err, ENOENT, "dependency %s not found", m->deps[i]);
		else
			r = visit(c, d, depth + 1);
		if (r < 0) {
			*st = r;
			return kc_error_prefix(c->err, "%s", m->name);
		}
	}
	*st = ST_DONE;
	c->out[c->n_out++] = m;
	return 0;
}

int kmod_closure(const kmod_db *db, const char *const *roots, size_t n_roots, unsigned flags, kmod_plan *ret,
		 kc_error *err) {
	_cleanup_free_ int *state = NULL;
	_cleanup_free_ const kmod_module **out = NULL;
	kc_error scratch = {};
	size_t failed = 0;

	assert_return(db && ret && (roots || n_roots == 0), -EINVAL);
	state = calloc(db->n + 1, sizeof(*state));
	out = calloc(db->n + 1, sizeof(*out));
	if (!state || !out)
		return kc_error_set(err, ENOMEM, "module closure");

	closure_ctx c = { .db = db, .state = state, .out = out, .err = &scratch };
	for (size_t i = 0; i < n_roots; i++) {
		const kmod_module *prov[KMOD_RESOLVE_MAX];
		size_t n = kmod_resolve(db, roots[i], prov, ELEMENTSOF(prov));
		int r = n ? 0 : kc_error_set(&scratch, ENOENT, "module %s not found", roots[i]);
		for (size_t j = 0; j < n && r >= 0; j++)
			r = visit(&c, prov[j], 0);
		if (r >= 0)
			continue;
		if (failed++ == 0 && err)
			*err = scratch;
		if (!(flags & KMOD_KEEP_GOING))
			return r;
	}
	ret->mods = TAKE_PTR(out);
	ret->n = c.n_out;
	return (int)MIN(failed, (size_t)INT32_MAX);
}
