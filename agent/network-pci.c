/* The network interface of a PCI device, from sysfs. */
#include "agent/network-pci.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"

#define DIR_SCAN_MAX 1024 /* entries of one device directory looked at */

typedef struct found {
	char names[NET_PCI_IFACES_MAX][IFNAMSIZ];
	int dirfd[NET_PCI_IFACES_MAX]; /* the net/ directory each name sits in */
	size_t n;
	bool overflow;
} found;

static void found_done(found *f) {
	for (size_t i = 0; i < f->n; i++)
		safe_close(f->dirfd[i]);
}

/* A directory below dfd, never through a symlink: sysfs links a device to its driver, bus and parents, and
 * following them would find other devices' interfaces. */
static int open_subdir(int dfd, const char *name) {
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Records every interface directory under the net/ directory net_fd (taken over). */
static int collect(int net_fd, found *f) {
	DIR *d = fdopendir(net_fd);
	if (!d) {
		int e = errno;
		safe_close(net_fd);
		return -e;
	}
	struct dirent *de;
	unsigned seen = 0;
	while ((de = readdir(d)) && seen++ < DIR_SCAN_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if (strlen(de->d_name) >= IFNAMSIZ)
			continue; /* not an interface name the kernel could have given */
		if (f->n >= NET_PCI_IFACES_MAX) {
			f->overflow = true;
			break;
		}
		int keep = fcntl(dirfd(d), F_DUPFD_CLOEXEC, 3);
		if (keep < 0) {
			int e = errno;
			closedir(d);
			return -e;
		}
		memcpy(f->names[f->n], de->d_name, strlen(de->d_name) + 1);
		f->dirfd[f->n++] = keep;
	}
	closedir(d);
	return 0;
}

static bool is_virtio_dir(const char *name) {
	const char *digits = name + strlen("virtio");
	return startswith(name, "virtio") && *digits && strspn(digits, "0123456789") == strlen(digits);
}

static int read_ifindex(int net_fd, const char *name, int *ret) {
	char rel[IFNAMSIZ + 16];
	_cleanup_free_ char *text = NULL;
	uint64_t v;

	(void)format_checked(rel, sizeof rel, "%s/ifindex", name);
	int r = read_file_capped(net_fd, rel, 32, &text, NULL);
	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	if (parse_u64(text, 10, &v) < 0 || v == 0 || v > INT_MAX)
		return -EBADMSG;
	*ret = (int)v;
	return 0;
}

int net_pci_interface(const char *sysfs, const char *devpath, char ret_name[IFNAMSIZ], int *ret_ifindex,
		      kc_error *err) {
	char path[PATH_MAX];
	found f = { 0 };
	int r;

	if (format_checked(path, sizeof path, "%s%s", sysfs, devpath) < 0)
		return kc_error_set(err, ENAMETOOLONG, "device path %s: too long", devpath);
	_cleanup_close_ int dev = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dev < 0) {
		if (errno == ENOENT)
			return 0; /* not plugged (yet) */
		return kc_error_set(err, errno, "%s: %m", path);
	}
	int net = open_subdir(dev, "net");
	if (net >= 0 && (r = collect(net, &f)) < 0)
		goto fail;
	DIR *d = fdopendir(fcntl(dev, F_DUPFD_CLOEXEC, 3));
	if (!d) {
		r = -errno;
		goto fail;
	}
	struct dirent *de;
	unsigned seen = 0;
	while ((de = readdir(d)) && seen++ < DIR_SCAN_MAX && !f.overflow) {
		if (!is_virtio_dir(de->d_name))
			continue;
		_cleanup_close_ int v = open_subdir(dev, de->d_name);
		if (v < 0)
			continue;
		net = open_subdir(v, "net");
		if (net >= 0 && (r = collect(net, &f)) < 0) {
			closedir(d);
			goto fail;
		}
	}
	closedir(d);
	if (f.n == 0) {
		found_done(&f);
		return 0; /* the device is there, its driver has not made the interface yet */
	}
	if (f.n > 1) {
		/* The caller picks by MAC, or refuses: naming two is enough to say why. */
		(void)kc_error_set(err, EINVAL, "PCI device %s carries %s%zu network interfaces (%s, %s, ...)", devpath,
				   f.overflow ? "more than " : "", f.n, f.names[0], f.names[1]);
		r = (int)f.n;
		found_done(&f);
		return r;
	}
	r = read_ifindex(f.dirfd[0], f.names[0], ret_ifindex);
	if (r < 0) {
		found_done(&f);
		return kc_error_set(err, -r, "%s: interface %s: ifindex: %s", devpath, f.names[0], strerror(-r));
	}
	memcpy(ret_name, f.names[0], IFNAMSIZ);
	found_done(&f);
	return 1;

fail:
	found_done(&f);
	return kc_error_set(err, -r, "%s: %s", path, strerror(-r));
}
