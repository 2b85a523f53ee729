/* PCI path resolution through sysfs. */
#include "storage/pci.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

static int hex_digit(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One or two hex digits, "SS" or "SS.F"; returns the characters used or -EINVAL. */
static int parse_hop(const char *s, unsigned *ret_slot, int *ret_fn) {
	unsigned v = 0;
	int i = 0;
	for (; i < 2 && hex_digit(s[i]) >= 0; i++)
		v = v * 16 + (unsigned)hex_digit(s[i]);
	if (i == 0)
		return -EINVAL;
	*ret_slot = v;
	*ret_fn = -1;
	if (s[i] == '.') {
		if (s[i + 1] < '0' || s[i + 1] > '7')
			return -EINVAL;
		*ret_fn = s[i + 1] - '0';
		i += 2;
	}
	if (s[i] != '\0' && s[i] != '/')
		return -EINVAL;
	return i;
}

int stor_pci_path_parse(const char *s, stor_pci_path *ret) {
	stor_pci_path p = { 0 };
	bool first = true;

	if (!s || !*s || strlen(s) > STOR_PCI_PATH_MAX)
		return -EINVAL;
	for (const char *c = s;;) {
		unsigned slot;
		int fn;
		int n = parse_hop(c, &slot, &fn);
		if (n < 0)
			return n;
		if (first && fn < 0 && slot >= 0x20 && c[n] == '/') {
			p.root_bus = (uint8_t)slot;
		} else {
			if (slot > 0x1f || p.n >= STOR_PCI_HOPS_MAX)
				return -EINVAL;
			p.hop[p.n].slot = (uint8_t)slot;
			p.hop[p.n].fn = (uint8_t)(fn < 0 ? 0 : fn);
			p.n++;
		}
		first = false;
		c += n;
		if (!*c)
			break;
		c++; /* '/' */
		if (!*c)
			return -EINVAL;
	}
	if (p.n == 0)
		return -EINVAL;
	*ret = p;
	return 0;
}

/* The secondary bus of the bridge at dir: its pci_bus/ holds one "DDDD:BB" entry. */
static int secondary_bus(const char *dir, unsigned *ret) {
	char path[PATH_MAX];
	if (format_checked(path, sizeof path, "%s/pci_bus", dir) < 0)
		return -ENAMETOOLONG;
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	struct dirent *de;
	int r = -ENOENT;
	while ((de = readdir(d))) {
		unsigned dom, bus;
		char end;
		if (sscanf(de->d_name, "%4x:%2x%c", &dom, &bus, &end) == 2 && strlen(de->d_name) == 7 && dom == 0) {
			*ret = bus;
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

int stor_pci_path_to_devpath(const char *sysfs, const stor_pci_path *p, char *buf, size_t size, kc_error *err) {
	char devpath[PATH_MAX], dir[PATH_MAX];
	unsigned bus = p->root_bus;
	size_t off;

	if (p->n == 0 || p->n > STOR_PCI_HOPS_MAX)
		return kc_error_set(err, EINVAL, "empty PCI path");
	int r = format_checked(devpath, sizeof devpath, "/devices/pci0000:%02x", bus);
	for (size_t i = 0; r >= 0 && i < p->n; i++) {
		off = strlen(devpath);
		r = format_checked(devpath + off, sizeof devpath - off, "/0000:%02x:%02x.%u", bus, p->hop[i].slot,
				   p->hop[i].fn);
		if (r < 0 || i + 1 == p->n)
			break;
		r = format_checked(dir, sizeof dir, "%s%s", sysfs, devpath);
		if (r < 0)
			break;
		r = secondary_bus(dir, &bus);
		if (r < 0)
			return kc_error_set(err, -r, "PCI bridge %s (hop %zu of the path) has no secondary bus: %s",
					    devpath, i + 1, strerror(-r));
	}
	if (r < 0 || format_checked(buf, size, "%s", devpath) < 0)
		return kc_error_set(err, ENAMETOOLONG, "PCI path too long for a device path");
	return 0;
}
