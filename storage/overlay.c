/* The overlayfs storage driver. Its layers come from the options (lowerdir=A:B, upperdir=, workdir=), as the
 * Kata runtime sends them, and are host paths like the mount point: each must lie under the storage root and is
 * resolved inside it. The kernel is then handed /proc/self/fd/N for every layer, never the host's string, so a
 * symlink swapped in between the check and the mount cannot redirect a layer out of the root. */
#define LOG_SOURCE "storage"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "storage/drivers-internal.h"

#define OVERLAY_LOWER_MAX 32 /* layers in lowerdir=; images rarely have more than a dozen */
#define OVERLAY_RW_OPTION "io.katacontainers.fs-opt.overlay-rw"
#define KATA_OPTION_PREFIX "io.katacontainers."
#define CREATE_DIR_OPTION "io.katacontainers.volume.overlayfs.create_directory="
#define DRIVER_OPTIONS_MAX STOR_OPTIONS_MAX
#define LAYER_PATH_MAX STOR_OPTION_LEN_MAX

typedef struct overlay_layers {
	char lower[LAYER_PATH_MAX + 1];
	char upper[LAYER_PATH_MAX + 1];
	char work[LAYER_PATH_MAX + 1];
	bool has_upper, has_work, rw;
} overlay_layers;

/* A container id names a directory of the storage root: one plain component. */
static bool container_id_ok(const char *id) {
	size_t l = id ? strlen(id) : 0;
	return l > 0 && l <= 128 && id[0] != '.' &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == l;
}

/* One layer path: under the root, no "..", no overlayfs escapes (a '\' would change how the kernel splits it). */
static int check_layer(const char *path, const stor_root *root, const char *field, kc_error *err) {
	const char *rel;
	if (strchr(path, '\\'))
		return kc_error_set(err, EINVAL, "%s: `%.80s`: escaped characters are not supported", field, path);
	return path_check_under(path, root->prefix, &rel, field, err);
}

/* Takes the layer options out of o (the annotations too) into l, checking every path. */
static int take_layers(stor_mount_opts *o, const stor_spec *s, const stor_root *root, const char *what,
		       overlay_layers *l, kc_error *err) {
	char field[160];
	int r;

	*l = (overlay_layers){ 0 };
	l->rw = stor_options_has(o, OVERLAY_RW_OPTION);
	(void)stor_options_drop_prefix(o, KATA_OPTION_PREFIX);
	if (stor_options_take(o, "lowerdir", l->lower, sizeof l->lower) <= 0 || !l->lower[0])
		return kc_error_set(err, EINVAL, "%s.options: overlayfs needs lowerdir=", what);
	r = stor_options_take(o, "upperdir", l->upper, sizeof l->upper);
	l->has_upper = r > 0;
	r = stor_options_take(o, "workdir", l->work, sizeof l->work);
	l->has_work = r > 0;
	if (l->has_upper != l->has_work)
		return kc_error_set(err, EINVAL, "%s.options: upperdir= and workdir= go together", what);
	if (l->rw && l->has_upper)
		return kc_error_set(err, EINVAL, "%s.options: %s and upperdir= both name the upper layer", what,
				    OVERLAY_RW_OPTION);
	if (l->rw) {
		/* As upstream: the container's own <root>/<cid>/{upper,work}. */
		if (!container_id_ok(s->container_id))
			return kc_error_set(err, EINVAL, "%s.options: %s needs the storage's container (a "
					    "CreateContainer storage)", what, OVERLAY_RW_OPTION);
		if (format_checked(l->upper, sizeof l->upper, "%s%s/upper", root->prefix, s->container_id) < 0 ||
		    format_checked(l->work, sizeof l->work, "%s%s/work", root->prefix, s->container_id) < 0)
			return kc_error_set(err, ENAMETOOLONG, "%s: container id too long", what);
		l->has_upper = l->has_work = true;
	}

	size_t n = 0;
	for (char *p = l->lower, *next; p; p = next, n++) {
		next = strchr(p, ':');
		if (next)
			*next = '\0';
		(void)format_checked(field, sizeof field, "%s.options: lowerdir[%zu]", what, n);
		if (n >= OVERLAY_LOWER_MAX)
			return kc_error_set(err, E2BIG, "%s.options: lowerdir has more than %d layers", what,
					    OVERLAY_LOWER_MAX);
		r = check_layer(p, root, field, err);
		if (next)
			*next++ = ':';
		if (r < 0)
			return r;
	}
	if (l->has_upper) {
		(void)format_checked(field, sizeof field, "%s.options: upperdir", what);
		r = check_layer(l->upper, root, field, err);
		if (r < 0)
			return r;
		(void)format_checked(field, sizeof field, "%s.options: workdir", what);
		r = check_layer(l->work, root, field, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The directory a create_directory driver option names, or NULL when the option is another one. */
static const char *create_dir_of(const char *option) {
	return startswith(option, CREATE_DIR_OPTION) ? option + strlen(CREATE_DIR_OPTION) : NULL;
}

/* Driver options: capped like the options; each create_directory path checked like a layer (under the root, no
 * ".."). Other keys are ignored, as upstream's handler ignores what it does not know. */
static int check_driver_options(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	char field[160];
	if (s->n_driver_options > DRIVER_OPTIONS_MAX)
		return kc_error_set(err, E2BIG, "%s.driver_options: more than %d items", what, DRIVER_OPTIONS_MAX);
	for (size_t i = 0; i < s->n_driver_options; i++) {
		const char *o = s->driver_options[i], *dir, *rel;
		(void)format_checked(field, sizeof field, "%s.driver_options[%zu]", what, i);
		if (!o || strnlen(o, STOR_OPTION_LEN_MAX + 1) > STOR_OPTION_LEN_MAX)
			return kc_error_set(err, E2BIG, "%s: longer than %d bytes", field, STOR_OPTION_LEN_MAX);
		if (!(dir = create_dir_of(o)))
			continue;
		if (!*dir)
			return kc_error_set(err, EINVAL, "%s: create_directory names no directory", field);
		int r = path_check_under(dir, root->prefix, &rel, field, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Creates the create_directory directories inside the root (as upstream, before the mount: a layer may lie in
 * one). made[i] says which the call created itself, for the rollback. */
static int create_dirs(const stor_spec *s, const stor_root *root, const char *what, bool *made, kc_error *err) {
	if (s->n_driver_options > DRIVER_OPTIONS_MAX) /* stor_check_overlay refused it already */
		return kc_error_set(err, E2BIG, "%s.driver_options: more than %d items", what, DRIVER_OPTIONS_MAX);
	for (size_t i = 0; i < s->n_driver_options; i++) {
		const char *dir = create_dir_of(s->driver_options[i]);
		_cleanup_close_ int fd = -EBADF;
		if (!dir)
			continue;
		int r = path_open_in_root(root->fd, dir + strlen(root->prefix), O_PATH | O_DIRECTORY, PATH_RESOLVE_MKDIR,
					  0755, &fd, &made[i]);
		if (r < 0)
			return kc_error_set(err, r, "%s.driver_options[%zu]: create `%s`: %s", what, i, dir, strerror(-r));
	}
	return 0;
}

static void remove_dirs(const stor_spec *s, const stor_root *root, const bool *made) {
	for (size_t i = s->n_driver_options; i-- > 0;)
		if (made[i])
			stor_remove_dir(root, create_dir_of(s->driver_options[i]) + strlen(root->prefix));
}

int stor_check_overlay(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	stor_mount_opts o;
	overlay_layers l;
	char field[128];

	if (s->fstype && *s->fstype && strcmp(s->fstype, "overlay") != 0)
		return kc_error_set(err, EINVAL, "%s.fstype: `%.40s` is not overlay", what, s->fstype);
	(void)format_checked(field, sizeof field, "%s.options", what);
	int r = stor_options_parse(s->options, s->n_options, &o, field, err);
	if (r >= 0)
		r = check_driver_options(s, root, what, err);
	if (r < 0)
		return r;
	return take_layers(&o, s, root, what, &l, err);
}

/* Opens one layer inside the root and appends its fd path to the data item being built. */
static int open_layer(const stor_root *root, const char *path, bool mkdir, int *fds, size_t *n_fds,
		      bool *ret_created, char *item, size_t size, const char *field, kc_error *err) {
	char fdp[PATH_FD_PATH_MAX];
	int fd = -EBADF;
	int r = path_open_in_root(root->fd, path + strlen(root->prefix), O_PATH | O_DIRECTORY,
				  mkdir ? PATH_RESOLVE_MKDIR : 0, 0755, &fd, ret_created);
	if (r < 0)
		return kc_error_set(err, r, "%s: `%s`: %s", field, path, strerror(-r));
	fds[(*n_fds)++] = fd;
	path_fd_path(fd, fdp);
	size_t len = strlen(item);
	if (format_checked(item + len, size - len, "%s%s", len && item[len - 1] != '=' ? ":" : "", fdp) < 0)
		return kc_error_set(err, E2BIG, "%s: too many layers", field);
	return 0;
}

int stor_mount_overlay(mount_job *job, kc_error *err) {
	const stor_root *root = job->root;
	overlay_layers l;
	int fds[OVERLAY_LOWER_MAX + 2];
	size_t n_fds = 0;
	bool upper_made = false, work_made = false, dirs_made[DRIVER_OPTIONS_MAX] = { false };
	char lower[OVERLAY_LOWER_MAX * (PATH_FD_PATH_MAX + 1) + 16], upper[PATH_FD_PATH_MAX + 16],
		work[PATH_FD_PATH_MAX + 16], field[160];
	const char *src = job->s->source && *job->s->source ? job->s->source : "overlay";

	int r = take_layers(&job->o, job->s, root, job->what, &l, err);
	if (r < 0)
		return r;
	r = create_dirs(job->s, root, job->what, dirs_made, err);
	(void)format_checked(lower, sizeof lower, "lowerdir=");
	size_t i = 0;
	for (char *p = l.lower, *next; p && r >= 0; p = next, i++) {
		next = strchr(p, ':');
		if (next)
			*next++ = '\0';
		(void)format_checked(field, sizeof field, "%s.options: lowerdir[%zu]", job->what, i);
		r = open_layer(root, p, false, fds, &n_fds, NULL, lower, sizeof lower, field, err);
	}
	if (r >= 0 && l.has_upper) {
		(void)format_checked(upper, sizeof upper, "upperdir=");
		(void)format_checked(work, sizeof work, "workdir=");
		(void)format_checked(field, sizeof field, "%s.options: upperdir", job->what);
		r = open_layer(root, l.upper, true, fds, &n_fds, &upper_made, upper, sizeof upper, field, err);
		(void)format_checked(field, sizeof field, "%s.options: workdir", job->what);
		if (r >= 0)
			r = open_layer(root, l.work, true, fds, &n_fds, &work_made, work, sizeof work, field, err);
	}
	if (r >= 0 && (stor_options_append(&job->o, lower) < 0 ||
		       (l.has_upper && (stor_options_append(&job->o, upper) < 0 ||
					stor_options_append(&job->o, work) < 0))))
		r = kc_error_set(err, E2BIG, "%s.options: the mount data exceeds %d bytes", job->what,
				 STOR_DATA_MAX - 1);
	if (r >= 0)
		r = stor_mount_fs(job, src, "overlay", err);
	for (size_t k = 0; k < n_fds; k++)
		safe_close(fds[k]);
	if (r < 0) {
		if (work_made)
			stor_remove_dir(root, l.work + strlen(root->prefix));
		if (upper_made)
			stor_remove_dir(root, l.upper + strlen(root->prefix));
		remove_dirs(job->s, root, dirs_made);
	}
	return r;
}
