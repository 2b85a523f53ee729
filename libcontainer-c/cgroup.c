/* A container's cgroup: create or join it in every hierarchy, move processes in, freeze, list, kill and remove.
 * Directories are walked with fds from each hierarchy's mount point, so a path never leaves its hierarchy. */
#include "libcontainer-c/cgroup-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/util.h"
#include "libcontainer-c/devices-bpf.h"

/* ---- file helpers -------------------------------------------------------------------------------------- */

const char *lc_cg_fullpath(const lc_cgroup *cg, int h, const char *file, char buf[static PATH_MAX]) {
	if (format_checked(buf, PATH_MAX, "%s%s%s%s", cg->layout->h[h].mount, cg->path, file ? "/" : "",
			   file ?: "") < 0)
		(void)format_checked(buf, PATH_MAX, "%s/.../%s", cg->layout->h[h].mount, file ?: "");
	return buf;
}

static int write_fd_file(const lc_cgroup_layout *l, int dirfd, const char *path_for_hook, const char *file,
			 const char *value) {
	if (l->write_hook)
		l->write_hook(l->hook_data, path_for_hook, value);
	/* O_TRUNC is what a shell's `echo > file` does; cgroupfs ignores it and a fake tree needs it. */
	_cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	/* One write per value: the kernel parses each write(2) on its own. */
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int lc_cg_try_write(lc_cgroup *cg, int h, const char *file, const char *value) {
	char path[PATH_MAX];
	return write_fd_file(cg->layout, cg->dirfd[h], lc_cg_fullpath(cg, h, file, path), file, value);
}

/* On cgroup2 a missing CONTROLLER.file usually means the controller is not enabled for this cgroup. */
static void explain_missing(lc_cgroup *cg, int h, const char *file, char *hint, size_t size) {
	_cleanup_free_ char *avail = NULL;
	const char *dot = strchr(file, '.');

	hint[0] = '\0';
	if (!lc_cg_is_v2(cg, h) || !dot || strncmp(file, "cgroup.", 7) == 0)
		return;
	if (read_file_capped(cg->dirfd[h], "cgroup.controllers", 4096, &avail, NULL) < 0)
		return;
	for (char *save = NULL, *t = strtok_r(avail, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		if (strlen(t) == (size_t)(dot - file) && strncmp(t, file, (size_t)(dot - file)) == 0)
			return;
	(void)snprintf(hint, size, " (controller `%.*s` is not enabled for this cgroup)", (int)(dot - file), file);
}

int lc_cg_write(lc_cgroup *cg, int h, const char *file, const char *value, kc_error *err) {
	int r = lc_cg_try_write(cg, h, file, value);
	return r < 0 ? lc_cg_write_error(cg, h, file, value, r, err) : 0;
}

int lc_cg_write_error(lc_cgroup *cg, int h, const char *file, const char *value, int r, kc_error *err) {
	char path[PATH_MAX], hint[96] = "";
	if (r == -ENOENT)
		explain_missing(cg, h, file, hint, sizeof hint);
	return kc_error_set(err, r, "write `%s` to %s: %s%s", value, lc_cg_fullpath(cg, h, file, path), strerror(-r),
			    hint);
}

int lc_cg_read(lc_cgroup *cg, int h, const char *file, char **ret, kc_error *err) {
	char path[PATH_MAX];
	int r = read_file_capped(cg->dirfd[h], file, LC_CG_READ_MAX, ret, NULL);
	if (r < 0)
		return kc_error_set(err, r, "read %s: %s", lc_cg_fullpath(cg, h, file, path), strerror(-r));
	return 0;
}

static int parse_u64_or_max(char *s, uint64_t *ret) {
	s[strcspn(s, "\n")] = '\0';
	if (strcmp(s, "max") == 0) {
		*ret = UINT64_MAX;
		return 0;
	}
	return parse_u64(s, 10, ret);
}

int lc_cg_read_u64(lc_cgroup *cg, int h, const char *file, uint64_t *ret, kc_error *err) {
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	int r = lc_cg_read(cg, h, file, &text, err);
	if (r < 0)
		return r;
	r = parse_u64_or_max(text, ret);
	if (r < 0)
		return kc_error_set(err, EBADMSG, "%s: `%s` is not a number", lc_cg_fullpath(cg, h, file, path), text);
	return 0;
}

int lc_cg_keyed_u64(const char *text, const char *key, uint64_t *ret) {
	size_t klen = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
			continue;
		char num[32];
		size_t len = strcspn(line + klen + 1, "\n");
		if (len == 0 || len >= sizeof num)
			return -EBADMSG;
		memcpy(num, line + klen + 1, len);
		num[len] = '\0';
		return parse_u64_or_max(num, ret) < 0 ? -EBADMSG : 0;
	}
	return -ENOENT;
}

/* ---- open / create ----------------------------------------------------------------------------------------- */

static lc_cgroup *cgroup_new(lc_cgroup_layout *l, const char *path, unsigned flags) {
	lc_cgroup *cg = calloc(1, sizeof *cg);
	if (!cg)
		return NULL;
	cg->path = strdup(path);
	if (!cg->path) {
		free(cg);
		return NULL;
	}
	cg->layout = lc_cgroup_layout_ref(l);
	cg->flags = flags;
	cg->bpf_prog_fd = -EBADF;
	for (size_t i = 0; i < LC_CGROUP_HIER_MAX; i++)
		cg->dirfd[i] = -EBADF;
	return cg;
}

lc_cgroup *lc_cgroup_free(lc_cgroup *cg) {
	if (!cg)
		return NULL;
	for (size_t i = 0; i < LC_CGROUP_HIER_MAX; i++)
		cg->dirfd[i] = safe_close(cg->dirfd[i]);
	cg->bpf_prog_fd = safe_close(cg->bpf_prog_fd);
	(void)lc_cgroup_layout_free(cg->layout);
	free(cg->path);
	free(cg);
	return NULL;
}

const char *lc_cgroup_get_path(const lc_cgroup *cg) {
	return cg->path;
}

const lc_cgroup_layout *lc_cgroup_get_layout(const lc_cgroup *cg) {
	return cg->layout;
}

int lc_cgroup_unified_fd(const lc_cgroup *cg) {
	return cg->layout->unified >= 0 ? cg->dirfd[cg->layout->unified] : -ENOENT;
}

/* A new v1 cpuset cgroup starts with empty cpus and mems, and the kernel refuses to move a task into it
 * (ENOSPC): give it its parent's, as cgroup.clone_children would without changing the parent. */
static void cpuset_v1_inherit(const lc_cgroup_layout *l, int parentfd, int fd, const char *path) {
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		_cleanup_free_ char *own = NULL, *parent = NULL;
		if (read_file_capped(fd, files[i], 4096, &own, NULL) < 0 || strcspn(own, " \n") > 0)
			continue;
		if (read_file_capped(parentfd, files[i], 4096, &parent, NULL) < 0)
			continue;
		parent[strcspn(parent, "\n")] = '\0';
		(void)write_fd_file(l, fd, path, files[i], parent);
	}
}

/* Every controller the root offers, enabled below dirfd unless it already is. Failures are left for the write
 * that needs the controller to report, with a hint (explain_missing): a controller that cannot be enabled is
 * only an error for a container that asks for it. */
static void v2_enable_controllers(const lc_cgroup_layout *l, const lc_cgroup_hierarchy *h, int dirfd,
				  const char *dirpath) {
	_cleanup_free_ char *enabled = NULL;
	char path[PATH_MAX];

	(void)read_file_capped(dirfd, "cgroup.subtree_control", 4096, &enabled, NULL);
	if (format_checked(path, sizeof path, "%s/cgroup.subtree_control", dirpath) < 0)
		return;
	for (size_t c = 0; c < _LC_CG_MAX; c++) {
		const char *name = lc_cgroup_controller_name((lc_cgroup_controller)c, true);
		char word[32];
		if (!name || !(h->controllers & LC_CG_BIT(c)))
			continue;
		if (enabled) {
			bool on = false;
			for (const char *p = enabled; *p;) {
				size_t len = strcspn(p, " \n");
				if (len == strlen(name) && strncmp(p, name, len) == 0)
					on = true;
				p += len;
				p += strspn(p, " \n");
			}
			if (on)
				continue;
		}
		(void)format_checked(word, sizeof word, "+%s", name);
		(void)write_fd_file(l, dirfd, path, "cgroup.subtree_control", word);
	}
}

/* Walks path below the hierarchy's mount point one component at a time, creating what is missing when asked;
 * returns the leaf's fd and the offset of the first component it created (0: none). */
static int open_in_hierarchy(lc_cgroup *cg, int h, bool create, int *ret_fd, size_t *ret_created,
			     kc_error *err) {
	const lc_cgroup_hierarchy *hier = &cg->layout->h[h];
	char dirpath[PATH_MAX];
	size_t created = 0;
	_cleanup_close_ int fd = open(hier->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "open cgroup hierarchy %s: %m", hier->mount);
	(void)format_checked(dirpath, sizeof dirpath, "%s", hier->mount);

	for (const char *p = cg->path; *p;) {
		char comp[NAME_MAX + 1];
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (len == 0)
			break;
		if (len > NAME_MAX)
			return kc_error_set(err, ENAMETOOLONG, "cgroup path %s: component too long", cg->path);
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (create && hier->v2)
			v2_enable_controllers(cg->layout, hier, fd, dirpath);
		bool made = false;
		if (create) {
			if (mkdirat(fd, comp, 0755) >= 0)
				made = true;
			else if (errno != EEXIST)
				return kc_error_set(err, errno, "mkdir %s/%s: %m", dirpath, comp);
		}
		if (made && created == 0)
			created = (size_t)(p - cg->path);
		_cleanup_close_ int child = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0)
			return kc_error_set(err, errno, "open cgroup %s/%s: %m", dirpath, comp);
		size_t used = strlen(dirpath);
		(void)format_checked(dirpath + used, sizeof dirpath - used, "/%s", comp);
		if (made && !hier->v2 && (hier->controllers & LC_CG_BIT(LC_CG_CPUSET)))
			cpuset_v1_inherit(cg->layout, fd, child, dirpath);
		(void)safe_close(fd);
		fd = TAKE_FD(child);
		p += len;
	}
	*ret_fd = TAKE_FD(fd);
	*ret_created = created;
	return 0;
}

int lc_cgroup_open(lc_cgroup_layout *l, const char *path, unsigned flags, lc_cgroup **ret, kc_error *err) {
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;
	int r;

	if (!path || path[0] != '/' || !path[1])
		return kc_error_set(err, EINVAL, "cgroup path `%s`: expected an absolute path below the root",
				    path ?: "");
	for (size_t i = 0; i < l->n_h; i++)
		if (strlen(l->h[i].mount) + strlen(path) + NAME_MAX + 2 >= PATH_MAX)
			return kc_error_set(err, ENAMETOOLONG, "cgroup path `%s`: too long", path);
	cg = cgroup_new(l, path, flags);
	if (!cg)
		return kc_error_set(err, ENOMEM, "cgroup %s", path);
	for (size_t i = 0; i < l->n_h; i++) {
		r = open_in_hierarchy(cg, (int)i, flags & LC_CGROUP_CREATE, &cg->dirfd[i], &cg->created_from[i], err);
		if (r < 0) {
			/* Leave nothing behind from a half-done create. */
			if (flags & LC_CGROUP_CREATE)
				(void)lc_cgroup_destroy(cg, 0, NULL);
			return r;
		}
	}
	*ret = TAKE_PTR(cg);
	return 0;
}

int lc_cgroup_enter(lc_cgroup *cg, pid_t pid, kc_error *err) {
	char value[DECIMAL_STR_MAX(pid_t)];
	(void)format_checked(value, sizeof value, "%d", (int)pid);
	for (size_t i = 0; i < cg->layout->n_h; i++) {
		int r = lc_cg_write(cg, (int)i, "cgroup.procs", value, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int lc_cgroup_enter_self(lc_cgroup *cg, bool unified_done, kc_error *err) {
	for (size_t i = 0; i < cg->layout->n_h; i++) {
		bool v2 = cg->layout->h[i].v2;
		if (v2 && unified_done)
			continue;
		int r = lc_cg_write(cg, (int)i, v2 ? "cgroup.procs" : "tasks", "0", err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- processes --------------------------------------------------------------------------------------------- */

/* The hierarchy whose cgroup.procs we trust for "every process of the container": cgroup2 on v2; on v1 and
 * hybrid a v1 one (the freezer's, so that a freeze and the listing agree), since processes placed by others
 * may only be in v1. */
static int primary_hierarchy(const lc_cgroup *cg) {
	const lc_cgroup_layout *l = cg->layout;
	if (l->mode == LC_CGROUP_V2)
		return l->unified;
	static const lc_cgroup_controller prefer[] = { LC_CG_FREEZER, LC_CG_PIDS, LC_CG_MEMORY };
	for (size_t i = 0; i < ELEMENTSOF(prefer); i++) {
		int h = l->where[prefer[i]];
		if (h >= 0 && !l->h[h].v2)
			return h;
	}
	for (size_t i = 0; i < l->n_h; i++)
		if (!l->h[i].v2)
			return (int)i;
	return l->unified;
}

int lc_cg_read_procs_at(int dirfd, pid_t **pids, size_t *n, size_t *cap) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(dirfd, "cgroup.procs", LC_CG_PROCS_MAX, &text, NULL);
	if (r < 0)
		return r;
	for (char *save = NULL, *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		uint64_t v;
		if (parse_u64(t, 10, &v) < 0 || v == 0 || v > INT32_MAX)
			return -EBADMSG;
		if (*n == LC_CGROUP_PIDS_MAX)
			return -E2BIG;
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			pid_t *p = reallocarray(*pids, ncap, sizeof *p);
			if (!p)
				return -ENOMEM;
			*pids = p;
			*cap = ncap;
		}
		(*pids)[(*n)++] = (pid_t)v;
	}
	return 0;
}

/* Calls fn for dirfd's descendant directories, deepest first when post is true. */
static int walk_children(int dirfd, unsigned depth, bool post, int (*fn)(int parentfd, const char *name, void *u),
			 void *u) {
	if (depth > LC_CG_DEPTH_MAX)
		return -ELOOP;
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		(void)safe_close(dfd);
		return -errno;
	}
	int r = 0;
	for (struct dirent *e; r >= 0 && (e = readdir(d));) {
		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!post)
			r = fn(dirfd, e->d_name, u);
		if (r < 0)
			break;
		_cleanup_close_ int child = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0) {
			if (errno == ENOENT)
				continue; /* removed while we walk */
			r = -errno;
			break;
		}
		r = walk_children(child, depth + 1, post, fn, u);
		if (r >= 0 && post)
			r = fn(dirfd, e->d_name, u);
	}
	closedir(d);
	return r;
}

typedef struct pid_acc {
	pid_t *pids;
	size_t n, cap;
} pid_acc;

static int collect_child(int parentfd, const char *name, void *u) {
	pid_acc *a = u;
	_cleanup_close_ int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = lc_cg_read_procs_at(fd, &a->pids, &a->n, &a->cap);
	return r == -ENOENT ? 0 : r;
}

int lc_cgroup_pids(lc_cgroup *cg, bool recursive, pid_t **ret, size_t *ret_n, kc_error *err) {
	pid_acc a = {};
	int h = primary_hierarchy(cg);
	char path[PATH_MAX];
	int r;

	r = lc_cg_read_procs_at(cg->dirfd[h], &a.pids, &a.n, &a.cap);
	if (r >= 0 && recursive)
		r = walk_children(cg->dirfd[h], 0, false, collect_child, &a);
	if (r < 0) {
		free(a.pids);
		return kc_error_set(err, r, "list processes of %s: %s", lc_cg_fullpath(cg, h, NULL, path),
				    strerror(-r));
	}
	*ret = a.pids;
	*ret_n = a.n;
	return 0;
}

/* ---- freezer ----------------------------------------------------------------------------------------------- */

static void sleep_ms(unsigned ms) {
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int freezer_hierarchy(lc_cgroup *cg, kc_error *err) {
	int h = lc_cg_where(cg, LC_CG_FREEZER);
	if (h < 0)
		return kc_error_set(err, EOPNOTSUPP, "cgroup %s: no freezer (no v1 freezer hierarchy, no cgroup2)",
				    cg->path);
	return h;
}

int lc_cgroup_freezer_state(lc_cgroup *cg, lc_freezer_state *ret, kc_error *err) {
	_cleanup_free_ char *text = NULL;
	int h = freezer_hierarchy(cg, err);
	if (h < 0)
		return h;
	if (lc_cg_is_v2(cg, h)) {
		uint64_t want, frozen;
		int r = lc_cg_read_u64(cg, h, "cgroup.freeze", &want, err);
		if (r < 0)
			return r;
		r = lc_cg_read(cg, h, "cgroup.events", &text, err);
		if (r < 0)
			return r;
		if (lc_cg_keyed_u64(text, "frozen", &frozen) < 0)
			frozen = 0;
		*ret = frozen ? LC_FREEZER_FROZEN : want ? LC_FREEZER_FREEZING : LC_FREEZER_THAWED;
		return 0;
	}
	int r = lc_cg_read(cg, h, "freezer.state", &text, err);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	*ret = strcmp(text, "FROZEN") == 0 ? LC_FREEZER_FROZEN :
	       strcmp(text, "FREEZING") == 0 ? LC_FREEZER_FREEZING :
					      LC_FREEZER_THAWED;
	return 0;
}

static int freeze_request(lc_cgroup *cg, int h, bool frozen, kc_error *err) {
	if (lc_cg_is_v2(cg, h))
		return lc_cg_write(cg, h, "cgroup.freeze", frozen ? "1" : "0", err);
	return lc_cg_write(cg, h, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
}

/* cgroup.events changes are signalled to pollers with POLLPRI; wait for one, but never longer than a short
 * slice, since v1 freezer.state has no such notification and is polled. */
static void freezer_wait_slice(lc_cgroup *cg, int h, unsigned ms) {
	if (lc_cg_is_v2(cg, h)) {
		_cleanup_close_ int fd = openat(cg->dirfd[h], "cgroup.events", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			char buf[256];
			/* A read arms the notification. */
			if (pread(fd, buf, sizeof buf, 0) >= 0) {
				struct pollfd p = { .fd = fd, .events = POLLPRI };
				(void)poll(&p, 1, (int)ms);
				return;
			}
		}
	}
	sleep_ms(ms);
}

int lc_cgroup_freeze(lc_cgroup *cg, bool frozen, unsigned timeout_ms, kc_error *err) {
	lc_freezer_state want = frozen ? LC_FREEZER_FROZEN : LC_FREEZER_THAWED, st = LC_FREEZER_THAWED;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	char path[PATH_MAX];
	unsigned slice = 1;
	int h = freezer_hierarchy(cg, err), r;

	if (h < 0)
		return h;
	r = freeze_request(cg, h, frozen, err);
	if (r < 0)
		return r;
	for (;;) {
		r = lc_cgroup_freezer_state(cg, &st, err);
		if (r < 0)
			return r;
		if (st == want)
			return 0;
		if (now_ns() >= deadline)
			break;
		freezer_wait_slice(cg, h, slice);
		slice = MIN(slice * 2, 10u);
		/* A v1 freeze can miss a task forked while it ran; asking again picks it up. */
		if (frozen && !lc_cg_is_v2(cg, h)) {
			r = freeze_request(cg, h, true, err);
			if (r < 0)
				return r;
		}
	}
	if (frozen)
		(void)freeze_request(cg, h, false, NULL);
	return kc_error_set(err, ETIMEDOUT, "%s %s: not %s after %u ms%s", frozen ? "freeze" : "thaw",
			    lc_cg_fullpath(cg, h, NULL, path), frozen ? "frozen" : "thawed", timeout_ms,
			    frozen ? " (a process in uninterruptible sleep?); thawed again" : "");
}

/* ---- kill -------------------------------------------------------------------------------------------------- */

static int signal_all(lc_cgroup *cg, int sig, size_t *ret_n, kc_error *err) {
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int r = lc_cgroup_pids(cg, true, &pids, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return kc_error_set(err, errno, "kill %d (cgroup %s): %m", (int)pids[i], cg->path);
	*ret_n = n;
	return 0;
}

int lc_cgroup_kill_all(lc_cgroup *cg, int sig, kc_error *err) {
	int u = cg->layout->unified;
	size_t n = 0;
	int r = 0;

	if (sig == SIGKILL && u >= 0) {
		r = lc_cg_try_write(cg, u, "cgroup.kill", "1");
		/* On hybrid a process someone put only into the v1 hierarchies is not in the cgroup2 directory: one
		 * signal pass over the v1 listing catches it (the killed ones may still be listed; that is harmless). */
		if (r >= 0)
			return cg->layout->mode == LC_CGROUP_V2 ? 0 : signal_all(cg, SIGKILL, &n, err);
		if (r != -ENOENT) {
			char path[PATH_MAX];
			return kc_error_set(err, r, "write `1` to %s: %s", lc_cg_fullpath(cg, u, "cgroup.kill", path),
					    strerror(-r));
		}
	}
	/* Without cgroup.kill: frozen, nothing can fork between listing and signalling. A freezer that is missing
	 * or times out still leaves the signal pass, repeated while it finds processes. */
	bool frozen = lc_cg_where(cg, LC_CG_FREEZER) >= 0 && lc_cgroup_freeze(cg, true, 1000, NULL) >= 0;
	for (unsigned pass = 0; pass < (frozen ? 1u : 5u); pass++) {
		r = signal_all(cg, sig, &n, err);
		if (r < 0 || n == 0)
			break;
		if (!frozen)
			sleep_ms(5);
	}
	if (frozen) {
		int t = lc_cgroup_freeze(cg, false, 1000, r < 0 ? NULL : err);
		if (r >= 0 && t < 0)
			r = t;
	}
	return r < 0 ? r : 0;
}

/* ---- destroy ----------------------------------------------------------------------------------------------- */

static int rmdir_child(int parentfd, const char *name, void *u) {
	if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Removes path's leaf (descendants first) and then its ancestors down to offset created_from, below the mount
 * point. An ancestor still in use by another cgroup stays. */
static int destroy_in_hierarchy(lc_cgroup *cg, int h, char *failed, size_t size) {
	const lc_cgroup_hierarchy *hier = &cg->layout->h[h];
	_cleanup_close_ int mfd = open(hier->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char rel[PATH_MAX];
	int r;

	if (mfd < 0)
		return -errno;
	(void)format_checked(rel, sizeof rel, "%s", cg->path + 1);
	/* The usual leaf, made by us and without child cgroups, goes with one rmdir; only a busy one (children
	 * made inside the container, or processes still leaving) is walked. */
	r = unlinkat(mfd, rel, AT_REMOVEDIR) < 0 ? -errno : 0;
	if (r == -ENOENT)
		return 0;
	if (r == -EBUSY || r == -ENOTEMPTY) {
		_cleanup_close_ int leaf = openat(mfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (leaf < 0)
			return errno == ENOENT ? 0 : -errno;
		r = walk_children(leaf, 0, true, rmdir_child, NULL);
		if (r >= 0 && unlinkat(mfd, rel, AT_REMOVEDIR) < 0 && errno != ENOENT)
			r = -errno;
	}
	if (r < 0) {
		(void)snprintf(failed, size, "%s%s", hier->mount, cg->path);
		return r;
	}
	size_t stop = cg->created_from[h];
	if (stop == 0)
		return 0;
	/* rel is path without its leading '/', so a component at offset k in rel is at k + 1 in path. */
	for (char *slash; (slash = strrchr(rel, '/'));) {
		*slash = '\0';
		char *prev = strrchr(rel, '/');
		size_t start = prev ? (size_t)(prev - rel) + 1 : 0;
		if (start + 1 < stop || unlinkat(mfd, rel, AT_REMOVEDIR) < 0)
			break; /* existed before us, shared with another cgroup, or gone */
	}
	return 0;
}

int lc_cgroup_destroy(lc_cgroup *cg, unsigned timeout_ms, kc_error *err) {
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	char failed[PATH_MAX] = "";
	unsigned slice = 1;
	int r;

	cg->bpf_prog_fd = safe_close(cg->bpf_prog_fd);
	for (;;) {
		r = 0;
		for (size_t i = 0; i < cg->layout->n_h; i++) {
			int q = destroy_in_hierarchy(cg, (int)i, failed, sizeof failed);
			if (q < 0 && r >= 0)
				r = q;
		}
		/* EBUSY: processes have not left yet (a killed process leaves its cgroup when it exits). */
		if (r >= 0 || r != -EBUSY || now_ns() >= deadline)
			break;
		sleep_ms(slice);
		slice = MIN(slice * 2, 20u);
	}
	if (r < 0)
		return kc_error_set(err, r, "remove cgroup %s: %s%s", failed, strerror(-r),
				    r == -EBUSY ? " (processes still in it)" : "");
	for (size_t i = 0; i < LC_CGROUP_HIER_MAX; i++)
		cg->dirfd[i] = safe_close(cg->dirfd[i]);
	return 0;
}
