#define LOG_SOURCE "init"
#include "init/init.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include "common/log.h"
#include "common/util.h"
#include "init/init-internal.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

int init_mkdir(const char *path, mode_t mode) {
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

bool init_is_mounted(const char *path, long magic) {
	char parent[4096];
	struct statfs sfs;
	struct stat st, pst;

	if (statfs(path, &sfs) < 0 || (long)sfs.f_type != magic)
		return false;
	if (format_checked(parent, sizeof(parent), "%s/..", path) < 0)
		return false;
	if (stat(path, &st) < 0 || stat(parent, &pst) < 0)
		return false;
	/* "/" is its own parent: whatever filesystem it has, it is mounted. */
	return st.st_dev != pst.st_dev || st.st_ino == pst.st_ino;
}

typedef struct mount_spec {
	const char *source, *target, *fstype;
	unsigned long flags;
	const char *data;
	long magic;
	bool optional; /* failure is logged, not returned */
} mount_spec;

/* Order matters: devpts and /dev/shm go on top of devtmpfs. DEVTMPFS_MOUNT is off in Debian's kernel, so
 * /dev is ours to mount; if that fails (a kernel without devtmpfs) /dev stays the initramfs directory with
 * the /dev/console node the initrd carries. */
static const mount_spec base_mounts[] = {
	{ "proc", "/proc", "proc", NOSUID_NODEV_NOEXEC, NULL, PROC_SUPER_MAGIC, false },
	{ "sysfs", "/sys", "sysfs", NOSUID_NODEV_NOEXEC, NULL, SYSFS_MAGIC, false },
	{ "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", TMPFS_MAGIC, true },
	{ "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
	  DEVPTS_SUPER_MAGIC, false },
	{ "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", TMPFS_MAGIC, false },
	{ "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", TMPFS_MAGIC, false },
};

static int mount_one(const mount_spec *m, kc_error *err) {
	int r = init_mkdir(m->target, 0755);
	if (r < 0)
		return kc_error_set(err, r, "mkdir %s", m->target);
	if (init_is_mounted(m->target, m->magic))
		return 0;
	if (mount(m->source, m->target, m->fstype, m->flags, m->data) < 0)
		return kc_error_set(err, errno, "mount %s on %s", m->fstype, m->target);
	return 1;
}

int init_mount_base(kc_error *err) {
	for (size_t i = 0; i < ELEMENTSOF(base_mounts); i++) {
		const mount_spec *m = &base_mounts[i];
		kc_error e = {};
		int r = mount_one(m, &e);
		if (r >= 0)
			continue;
		if (!m->optional) {
			if (err)
				*err = e;
			return r;
		}
		log_warn("%s (carrying on without it)", e.msg);
	}
	return 0;
}

/* A controller name from /proc/cgroups becomes a path component and mount data: keep it to [a-z0-9_]. */
static bool controller_name_ok(const char *s) {
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
	return n > 0 && n < 64 && s[n] == '\0';
}

static int mount_v1_controllers(kc_error *err) {
	_cleanup_free_ char *text = NULL;
	int r, first = 0;
	char *save = NULL;

	r = read_file_capped(AT_FDCWD, "/proc/cgroups", 64 * 1024, &text, NULL);
	if (r < 0)
		return kc_error_set(err, r, "read /proc/cgroups");
	/* "#subsys_name hierarchy num_cgroups enabled" */
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64], path[128];
		unsigned hier, num, enabled;
		if (line[0] == '#' || sscanf(line, "%63s %u %u %u", name, &hier, &num, &enabled) != 4)
			continue;
		if (!enabled || !controller_name_ok(name))
			continue;
		r = format_checked(path, sizeof(path), CGROUP_ROOT "/%s", name);
		if (r >= 0)
			r = init_mkdir(path, 0755);
		if (r >= 0 && mount("cgroup", path, "cgroup", NOSUID_NODEV_NOEXEC | MS_RELATIME, name) < 0)
			r = -errno;
		if (r < 0) {
			log_warn("mount cgroup v1 controller %s: %s", name, strerror(-r));
			if (first == 0)
				first = kc_error_set(err, r, "mount cgroup v1 controller %s", name);
		}
	}
	return first;
}

int init_mount_cgroups(bool v1, kc_error *err) {
	int r;

	r = init_mkdir(CGROUP_ROOT, 0755);
	if (r < 0)
		return kc_error_set(err, r, "mkdir " CGROUP_ROOT);
	if (!v1) {
		if (init_is_mounted(CGROUP_ROOT, CGROUP2_SUPER_MAGIC))
			return 0;
		/* nsdelegate: a cgroup namespace root becomes a delegation boundary, as systemd mounts it. */
		if (mount("cgroup2", CGROUP_ROOT, "cgroup2", NOSUID_NODEV_NOEXEC | MS_RELATIME, "nsdelegate") < 0)
			return kc_error_set(err, errno, "mount cgroup2 on " CGROUP_ROOT);
		return 0;
	}

	if (init_is_mounted(CGROUP_ROOT, TMPFS_MAGIC))
		return 0;
	if (mount("tmpfs", CGROUP_ROOT, "tmpfs", NOSUID_NODEV_NOEXEC, "mode=755") < 0)
		return kc_error_set(err, errno, "mount tmpfs on " CGROUP_ROOT);
	int first = mount_v1_controllers(err);
	/* Read-only once the controller directories exist, so nothing can litter the hierarchy root. */
	if (mount(NULL, CGROUP_ROOT, NULL, MS_REMOUNT | MS_RDONLY | NOSUID_NODEV_NOEXEC, "mode=755") < 0 && first == 0)
		return kc_error_set(err, errno, "remount " CGROUP_ROOT " read-only");
	return first;
}
