/* Block-device storage drivers: source checks, the device match, the mount of the found node. */
#define LOG_SOURCE "storage"
#include "storage/blockdev.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "storage/drivers-internal.h"
#include "storage/pci.h"

#define FSTYPE_MAX 32
#define SCSI_ID_MAX 255
#define SCSI_LUN_MAX 16383

/* "/dev/NAME", one component of letters, digits and '_', as block device names are. */
static const char *dev_node_name(const char *s) {
	if (!s || !startswith(s, "/dev/"))
		return NULL;
	const char *n = s + 5;
	size_t l = strlen(n);
	if (l == 0 || l >= 32 || strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != l)
		return NULL;
	return n;
}

static int parse_scsi_addr(const char *s, unsigned *ret_id, unsigned *ret_lun) {
	char id[8], lun[8];
	uint64_t a, b;
	const char *colon = s ? strchr(s, ':') : NULL;
	if (!colon || (size_t)(colon - s) >= sizeof id || strlen(colon + 1) >= sizeof lun)
		return -EINVAL;
	memcpy(id, s, (size_t)(colon - s));
	id[colon - s] = '\0';
	memcpy(lun, colon + 1, strlen(colon + 1) + 1); /* length checked above */
	if (parse_u64(id, 10, &a) < 0 || parse_u64(lun, 10, &b) < 0 || a > SCSI_ID_MAX || b > SCSI_LUN_MAX)
		return -EINVAL;
	*ret_id = (unsigned)a;
	*ret_lun = (unsigned)b;
	return 0;
}

int stor_check_blockdev(const stor_spec *s, const stor_root *root, const char *what, kc_error *err) {
	const char *d = s->driver;
	stor_pci_path p;
	unsigned id, lun;
	bool ok;

	if (strcmp(d, "blk") == 0)
		ok = dev_node_name(s->source) || stor_pci_path_parse(s->source, &p) >= 0;
	else if (strcmp(d, "scsi") == 0)
		ok = parse_scsi_addr(s->source, &id, &lun) >= 0;
	else
		ok = dev_node_name(s->source) != NULL;
	if (!ok)
		return kc_error_set(err, EINVAL, "%s.source: `%.80s` is not a %s source (%s)", what,
				    s->source ? s->source : "", d,
				    strcmp(d, "blk") == 0	 ? "a PCI path like 02/00, or /dev/NAME" :
				    strcmp(d, "scsi") == 0 ? "SCSI_ID:LUN" :
							     "/dev/NAME");
	size_t fl = s->fstype ? strlen(s->fstype) : 0;
	if (fl == 0 || fl > FSTYPE_MAX || strspn(s->fstype, "abcdefghijklmnopqrstuvwxyz0123456789_.") != fl)
		return kc_error_set(err, EINVAL, "%s.fstype: `%.40s` is not a filesystem type", what,
				    s->fstype ? s->fstype : "");
	return 0;
}

int stor_mount_blockdev(mount_job *job, kc_error *err) {
	const char *dev = job->s->device ? job->s->device : dev_node_name(job->s->source) ? job->s->source : NULL;
	struct stat st;

	if (!dev)
		return kc_error_set(err, ENODEV, "%s.source: `%s`: the device was not looked up", job->what,
				    job->s->source);
	if (stat(dev, &st) < 0)
		return kc_error_set(err, errno, "%s.source: %s: %m", job->what, dev);
	if (!S_ISBLK(st.st_mode))
		return kc_error_set(err, ENOTBLK, "%s.source: %s is not a block device", job->what, dev);
	return stor_mount_fs(job, dev, job->s->fstype, err);
}

/* The first SCSI host's DEVPATH and number (Kata gives the guest one virtio-scsi controller). */
static int scsi_host(const char *sysfs, char *devpath, size_t size, unsigned *ret_host) {
	char dir[PATH_MAX], link[PATH_MAX];
	if (format_checked(dir, sizeof dir, "%s/class/scsi_host", sysfs) < 0)
		return -ENAMETOOLONG;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	int r = -ENOENT;
	while ((de = readdir(d))) {
		unsigned h;
		char end;
		if (sscanf(de->d_name, "host%u%c", &h, &end) != 1)
			continue;
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		/* ../../devices/.../host0/scsi_host/host0: the host's DEVPATH ends before "/scsi_host/". */
		char *dv = strstr(link, "/devices/"), *sh = strstr(link, "/scsi_host/");
		if (!dv || !sh || sh < dv)
			continue;
		*sh = '\0';
		r = format_checked(devpath, size, "%s", dv);
		*ret_host = h;
		break;
	}
	closedir(d);
	return r;
}

int stor_device_scsi_scan(stor_device_wait *w, const char *sysfs, const char *what, kc_error *err) {
	char host_path[UEVENT_DEVPATH_MAX], scan[PATH_MAX], cmd[64];
	unsigned host = 0;

	int r = scsi_host(sysfs, host_path, sizeof host_path, &host);
	if (r < 0)
		return kc_error_set(err, -r, "%s.source: SCSI host for %s: %s", what, w->scsi_addr, strerror(-r));
	r = format_checked(w->prefix, sizeof w->prefix, "%s/target%u:0:%u/%u:0:%u:%u", host_path, host, w->scsi_id,
			   host, w->scsi_id, w->scsi_lun);
	if (r < 0)
		return kc_error_set(err, ENAMETOOLONG, "%s.source: SCSI device path too long", what);
	(void)format_checked(scan, sizeof scan, "%s/class/scsi_host/host%u/scan", sysfs, host);
	(void)format_checked(cmd, sizeof cmd, "0 %u %u", w->scsi_id, w->scsi_lun);
	/* With scsi_mod.scan=none (as Kata boots) nothing appears until asked for. */
	r = write_string_file(scan, cmd);
	if (r < 0)
		return kc_error_set(err, -r, "%s.source: scan SCSI %s on host%u: %s", what, w->scsi_addr, host,
				    strerror(-r));
	(void)format_checked(w->what, sizeof w->what, "block device of SCSI %s (%s)", w->scsi_addr, w->prefix);
	w->scsi_wait_host = false;
	w->m = (dev_match){ .subsystem = "block", .need_devname = true, .devpath_prefix = w->prefix, .devtype = "disk" };
	return 0;
}

/* The disk is scanned for on the first SCSI host. A storage may come before the guest has bound the controller
 * (the runtime hot-plugs it with the first disk, and virtio_scsi loads by MODALIAS): then the wait is for the
 * host first, and the scan follows when it appears (stor_device_scsi_scan, under the same deadline). */
static int prepare_scsi(const stor_spec *s, const char *sysfs, const char *what, stor_device_wait *w,
			kc_error *err) {
	char host_path[UEVENT_DEVPATH_MAX];
	unsigned host;

	(void)parse_scsi_addr(s->source, &w->scsi_id, &w->scsi_lun);
	(void)format_checked(w->scsi_addr, sizeof w->scsi_addr, "%u:%u", w->scsi_id, w->scsi_lun);
	int r = scsi_host(sysfs, host_path, sizeof host_path, &host);
	if (r == -ENOENT) {
		w->scsi_wait_host = true;
		w->m = (dev_match){ .subsystem = "scsi_host" };
		(void)format_checked(w->what, sizeof w->what, "a SCSI host for SCSI %s", w->scsi_addr);
		return 0;
	}
	return stor_device_scsi_scan(w, sysfs, what, err);
}

int stor_device_prepare(const stor_spec *s, const char *sysfs, const char *what, stor_device_wait *w,
			kc_error *err) {
	const char *node = dev_node_name(s->source);
	stor_pci_path p;
	int r;

	*w = (stor_device_wait){ 0 };
	w->m = (dev_match){ .subsystem = "block", .need_devname = true };
	if (node) {
		(void)format_checked(w->devname, sizeof w->devname, "%s", node);
		w->m.devname = w->devname;
		(void)format_checked(w->what, sizeof w->what, "block device %s", s->source);
		return 0;
	}
	if (strcmp(s->driver, "scsi") == 0)
		return prepare_scsi(s, sysfs, what, w, err);
	if (strcmp(s->driver, "blk") == 0 && stor_pci_path_parse(s->source, &p) >= 0) {
		r = stor_pci_path_to_devpath(sysfs, &p, w->prefix, sizeof w->prefix, err);
		if (r < 0)
			return kc_error_prefix(err, "%s.source: PCI path %s", what, s->source);
		(void)format_checked(w->what, sizeof w->what, "block device at PCI path %s (%s)", s->source,
				     w->prefix);
	} else
		return kc_error_set(err, EINVAL, "%s.source: `%.80s` names no device", what, s->source);
	if (r < 0)
		return r;
	/* The whole disk, not a partition: "/virtioN/block/vdX" or ".../block/sdX". */
	w->m.devpath_prefix = w->prefix;
	w->m.devtype = "disk";
	return 0;
}
