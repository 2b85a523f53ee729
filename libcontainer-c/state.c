/* The state directory under the runtime's root. state.json keeps what `state` prints in runc's order plus
 * the init's start time; the status is never stored, it is derived on every read from facts that cannot go
 * stale: is the init (same pid, same start time) alive, and is the exec fifo still there. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/cgroup.h"
#include "libcontainer-c/state-internal.h"

static const char *const status_names[] = {
	[LC_STATUS_CREATED] = "created",
	[LC_STATUS_RUNNING] = "running",
	[LC_STATUS_STOPPED] = "stopped",
	[LC_STATUS_PAUSED] = "paused",
};

const char *lc_status_name(lc_status s) {
	return (size_t)s < ELEMENTSOF(status_names) ? status_names[s] : "unknown";
}

/* crun's rule, which keeps an id usable as a file name and a cgroup name: [a-zA-Z0-9_+-][a-zA-Z0-9_+.-]* */
int lc_id_check(const char *id, kc_error *err) {
	static const char extra[] = "_+-.";
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > LC_ID_MAX)
		return kc_error_set(err, EINVAL, "container id: must be 1..%d characters", LC_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  (c && strchr(extra, c) && !(i == 0 && c == '.'));
		if (!ok)
			return kc_error_set(err, EINVAL, "container id `%s`: invalid character at %zu (allowed: "
					    "letters, digits, _ + - and . not first)", id, i);
	}
	return 0;
}

int lc_state_dir_create(const char *root, const char *id, int *ret_dirfd, kc_error *err) {
	if (mkdir(root, 0700) < 0 && errno != EEXIST)
		return kc_error_set(err, errno, "state root `%s`: %s", root, strerror(errno));
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return kc_error_set(err, errno, "state root `%s`: %s", root, strerror(errno));
	if (mkdirat(rootfd, id, 0700) < 0) {
		if (errno == EEXIST)
			return kc_error_set_code(err, KC_ALREADY_EXISTS, EEXIST, "container `%s` already exists", id);
		return kc_error_set(err, errno, "state directory `%s/%s`: %s", root, id, strerror(errno));
	}
	int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "state directory `%s/%s`: %s", root, id, strerror(errno));
	*ret_dirfd = fd;
	return 0;
}

static const char *const state_files[] = {"state.json", "state.json.tmp", "config.json", "exec.fifo", "start.err"};

int lc_state_dir_remove(const char *root, const char *id) {
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	_cleanup_close_ int dirfd = openat(rootfd, id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (size_t i = 0; i < ELEMENTSOF(state_files); i++)
		(void)unlinkat(dirfd, state_files[i], 0);
	return unlinkat(rootfd, id, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int lc_proc_start_time(pid_t pid, uint64_t *ret) {
	char path[64], *buf = NULL;
	_cleanup_free_ char *text = NULL;

	(void)snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int r = read_file_capped(AT_FDCWD, path, 4096, &text, NULL);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	/* comm may hold spaces and parentheses: fields start after the last ')'. Field 3 is the state, 22 the
	 * start time. */
	buf = strrchr(text, ')');
	if (!buf || buf[1] != ' ')
		return -EBADMSG;
	char state = buf[2];
	if (state == 'Z' || state == 'X')
		return -ESRCH;
	char *p = buf + 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EBADMSG;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EBADMSG;
	*ret = v;
	return 0;
}

lc_state *lc_state_free(lc_state *s) {
	if (!s)
		return NULL;
	(void)safe_close(s->dirfd);
	free(s->id);
	if (s->doc)
		json_object_put(s->doc);
	free(s);
	return NULL;
}

int lc_state_cgroup_open(const lc_state *s, lc_cgroup **ret, kc_error *err) {
	_cleanup_(lc_cgroup_layout_freep) lc_cgroup_layout *l = NULL;

	if (!s->cgroup_path)
		return kc_error_set(err, ENOENT, "container `%s` has no cgroup", s->id);
	int r = lc_cgroup_layout_detect(NULL, &l, err);
	if (r < 0)
		return r;
	/* An unprivileged caller has a cgroup only where it was delegated one, and never a device policy (as at
	 * create). */
	r = lc_cgroup_open(l, s->cgroup_path, geteuid() != 0 ? LC_CGROUP_NO_DEVICES : 0, ret, err);
	if (r < 0)
		return kc_error_prefix(err, "container `%s`", s->id);
	return 0;
}

/* crun's rule: a live container whose cgroup is frozen (or freezing) is paused. */
static bool state_frozen(const lc_state *s) {
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;
	lc_freezer_state f;

	if (lc_state_cgroup_open(s, &cg, NULL) < 0 || lc_cgroup_freezer_state(cg, &f, NULL) < 0)
		return false;
	return f != LC_FREEZER_THAWED;
}

void lc_state_check_paused(lc_state *s) {
	if (s->status != LC_STATUS_STOPPED && s->cgroup_path && state_frozen(s))
		s->status = LC_STATUS_PAUSED;
}

int lc_state_load(const char *root, const char *id, lc_state **ret, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_free_ char *text = NULL;
	json_object *v;
	int r;

	r = lc_id_check(id, err);
	if (r < 0)
		return r;
	s = calloc(1, sizeof *s);
	if (!s || !(s->id = strdup(id)))
		return kc_error_set(err, ENOMEM, "out of memory");
	s->dirfd = -1;
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd >= 0)
		s->dirfd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dirfd < 0) {
		if (errno == ENOENT)
			return kc_error_set_code(err, KC_NOT_FOUND, ENOENT, "container `%s` does not exist", id);
		return kc_error_set(err, errno, "state directory `%s/%s`: %s", root, id, strerror(errno));
	}
	r = read_file_capped(s->dirfd, "state.json", 1u << 20, &text, NULL);
	if (r == -ENOENT) /* a create in progress, or one that died half way */
		return kc_error_set_code(err, KC_NOT_FOUND, ENOENT, "container `%s` does not exist", id);
	if (r < 0)
		return kc_error_set(err, -r, "container `%s`: read state.json: %s", id, strerror(-r));
	s->doc = json_tokener_parse(text);
	if (!s->doc || !json_object_is_type(s->doc, json_type_object))
		return kc_error_set(err, EBADMSG, "container `%s`: state.json is corrupt", id);
	if (json_object_object_get_ex(s->doc, "pid", &v))
		s->pid = (pid_t)json_object_get_int(v);
	if (json_object_object_get_ex(s->doc, "lcrun-start-time", &v))
		s->start_time = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(s->doc, "lcrun-cgroup-path", &v) && json_object_is_type(v, json_type_string))
		s->cgroup_path = json_object_get_string(v);

	uint64_t st;
	struct stat fifo;
	if (s->pid <= 0 || lc_proc_start_time(s->pid, &st) < 0 || st != s->start_time)
		s->status = LC_STATUS_STOPPED;
	else if (fstatat(s->dirfd, "exec.fifo", &fifo, AT_SYMLINK_NOFOLLOW) == 0)
		s->status = LC_STATUS_CREATED;
	else
		s->status = LC_STATUS_RUNNING;
	*ret = TAKE_PTR(s);
	return 0;
}

int lc_state_save(int dirfd, json_object *doc, kc_error *err) {
	const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	_cleanup_close_ int fd = openat(dirfd, "state.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return kc_error_set(err, errno, "write state.json: %s", strerror(errno));
	int r = write_all(fd, text, strlen(text));
	if (r < 0)
		return kc_error_set(err, -r, "write state.json: %s", strerror(-r));
	if (renameat(dirfd, "state.json.tmp", dirfd, "state.json") < 0)
		return kc_error_set(err, errno, "rename state.json: %s", strerror(errno));
	return 0;
}
