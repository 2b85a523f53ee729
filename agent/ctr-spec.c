/* Container devices and guest hooks in the guest spec (ctr-spec.h). */
#define LOG_SOURCE "container"
#include "agent/ctr-spec.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "init/init.h"
#include "storage/blockdev.h"
#include "storage/pci.h"

#define GUEST_HOOKS_MAX 64
#define PCI_ADDR_LEN 12 /* "DDDD:BB:SS.F" */
#define PCI_ENV_PREFIX "PCIDEVICE_"
#define VFIO_CONTAINER_NODE "/dev/vfio/vfio"

struct ctr_mem {
	struct ctr_mem *next;
	max_align_t data[];
};

ctr_mem *ctr_mem_free(ctr_mem *m) {
	while (m) {
		ctr_mem *next = m->next;
		free(m);
		m = next;
	}
	return NULL;
}

static void *mem_alloc(ctr_mem **head, size_t n, size_t size) {
	if (size && n > (SIZE_MAX - sizeof(ctr_mem)) / size)
		return NULL;
	ctr_mem *m = calloc(1, sizeof *m + n * size);
	if (!m)
		return NULL;
	m->next = *head;
	*head = m;
	return m->data;
}

static char *mem_strdup(ctr_mem **head, const char *s) {
	char *p = mem_alloc(head, strlen(s) + 1, 1);
	if (p)
		memcpy(p, s, strlen(s) + 1);
	return p;
}

/* ---- devices ---- */

typedef enum dev_kind { DEV_BLOCK, DEV_VFIO, DEV_VFIO_GK } dev_kind;

typedef struct ctr_device {
	ctr_devices *set;
	size_t index;
	dev_kind kind;
	const char *type, *container_path; /* the request's */
	device_want wants[CTR_VFIO_FUNCTIONS_MAX];
	size_t n_wants;
	long groups[CTR_VFIO_FUNCTIONS_MAX]; /* vfio: each function's IOMMU group, -1 until bound */
	char hosts[CTR_VFIO_FUNCTIONS_MAX][PCI_ADDR_LEN + 1];  /* vfio: each function's host address */
	char guests[CTR_VFIO_FUNCTIONS_MAX][PCI_ADDR_LEN + 1]; /* and its guest address, once found */
} ctr_device;

struct ctr_devices {
	agent *agent;
	ctr_device *v;
	size_t n;
	device_want **all;
	size_t n_all;
};

ctr_devices *ctr_devices_free(ctr_devices *d) {
	if (!d)
		return NULL;
	free(d->v);
	free(d->all);
	free(d);
	return NULL;
}
DEFINE_CLEANUP_FUNC(ctr_devices *, ctr_devices_free);

void ctr_devices_wants(ctr_devices *d, device_want ***ret_wants, size_t *ret_n) {
	*ret_wants = d->all;
	*ret_n = d->n_all;
}

/* "DDDD:BB:SS.F" in hex, slot at most 0x1f, function at most 7. */
static bool pci_addr_ok(const char *s, size_t len) {
	static const char form[] = "hhhh:hh:hh.h";
	if (len != PCI_ADDR_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (form[i] == 'h' ? !strchr("0123456789abcdefABCDEF", s[i]) || !s[i] : s[i] != form[i])
			return false;
	unsigned slot = (unsigned)strtoul((char[3]){ s[8], s[9], 0 }, NULL, 16);
	return slot <= 0x1f && s[11] >= '0' && s[11] <= '7';
}

static const lc_spec_device *spec_device(const lc_spec *spec, const char *path) {
	for (size_t i = 0; spec->linux && i < spec->linux->n_devices; i++)
		if (spec->linux->devices[i].path && strcmp(spec->linux->devices[i].path, path) == 0)
			return &spec->linux->devices[i];
	return NULL;
}

/* Writes value to sysfs/devpath/name (name may be a path below the device). */
static int sysfs_write(const char *sysfs, const char *devpath, const char *name, const char *value) {
	char p[PATH_MAX];
	if (format_checked(p, sizeof p, "%s%s/%s", sysfs, devpath, name) < 0)
		return -ENAMETOOLONG;
	return write_string_file(p, value);
}

/* The last component of the link sysfs/devpath/name, or "" when there is no such link. */
static int sysfs_link_name(const char *sysfs, const char *devpath, const char *name, char *buf, size_t size) {
	char p[PATH_MAX], target[PATH_MAX];
	if (format_checked(p, sizeof p, "%s%s/%s", sysfs, devpath, name) < 0)
		return -ENAMETOOLONG;
	ssize_t n = readlink(p, target, sizeof target - 1);
	if (n < 0) {
		if (errno != ENOENT)
			return -errno;
		buf[0] = '\0';
		return 0;
	}
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	return format_checked(buf, size, "%s", base ? base + 1 : target);
}

/* The PCI device is there: hand it to vfio-pci (driver_override, unbind from its driver, drivers_probe), read
 * its IOMMU group, then wait for the group's node under the same deadline. */
static int vfio_bind(device_want *dw, kc_error *err) {
	ctr_device *cd = dw->userdata;
	const char *sysfs = cd->set->agent->sysfs;
	const char *bdf = strrchr(dw->devpath, '/');
	char driver[64], group[32];
	size_t k = (size_t)(dw - cd->wants);
	int r;

	bdf = bdf ? bdf + 1 : dw->devpath;
	char drv[PATH_MAX];
	(void)format_checked(drv, sizeof drv, "%s/bus/pci/drivers/vfio-pci", sysfs);
	if (access(drv, F_OK) < 0 && cd->set->agent->moddir[0]) {
		/* The boot loads every module in the background; a request that comes first loads these itself
		 * (local kernel work: a concurrent load of the same module just waits for the other). */
		static const char *const vfio_modules[] = { "vfio-pci", "vfio_iommu_type1" };
		kc_error e = { 0 };
		if (init_load_modules(cd->set->agent->moddir, vfio_modules, ELEMENTSOF(vfio_modules), &e) < 0)
			log_warn("%s: %s", dw->field, e.msg);
	}
	if (access(drv, F_OK) < 0)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ENODEV,
					 "%s: PCI device %s: the vfio-pci driver is not loaded in the guest", dw->field, bdf);
	r = sysfs_link_name(sysfs, dw->devpath, "driver", driver, sizeof driver);
	if (r >= 0 && strcmp(driver, "vfio-pci") != 0) {
		r = sysfs_write(sysfs, dw->devpath, "driver_override", "vfio-pci");
		if (r >= 0 && driver[0])
			r = sysfs_write(sysfs, dw->devpath, "driver/unbind", bdf);
		if (r >= 0) {
			char probe[PATH_MAX];
			(void)format_checked(probe, sizeof probe, "%s/bus/pci/drivers_probe", sysfs);
			r = write_string_file(probe, bdf);
		}
	}
	if (r < 0)
		return kc_error_set(err, -r, "%s: bind PCI device %s to vfio-pci: %s", dw->field, bdf, strerror(-r));
	r = sysfs_link_name(sysfs, dw->devpath, "iommu_group", group, sizeof group);
	if (r < 0)
		return kc_error_set(err, -r, "%s: IOMMU group of %s: %s", dw->field, bdf, strerror(-r));
	if (!group[0])
		return kc_error_set(err, ENODEV, "%s: PCI device %s has no IOMMU group (is the guest's IOMMU on?)",
				    dw->field, bdf);
	uint64_t g;
	if (parse_u64(group, 10, &g) < 0 || g > INT32_MAX)
		return kc_error_set(err, EINVAL, "%s: PCI device %s: unexpected IOMMU group `%s`", dw->field, bdf, group);
	cd->groups[k] = (long)g;
	(void)format_checked(cd->guests[k], sizeof cd->guests[k], "%s", bdf);
	/* The group's node: /devices/virtual/vfio/N, DEVNAME vfio/N. */
	stor_device_wait *w = &dw->w;
	(void)format_checked(w->prefix, sizeof w->prefix, "/devices/virtual/vfio/%s", group);
	(void)format_checked(w->what, sizeof w->what, "VFIO group %s of PCI device %s", group, bdf);
	w->m = (dev_match){ .subsystem = "vfio", .devpath_prefix = w->prefix, .need_devname = true };
	dw->then = NULL;
	log_info("%s: PCI device %s bound to vfio-pci (was %s), IOMMU group %s", dw->field, bdf,
		 driver[0] ? driver : "unbound", group);
	return 1;
}

/* "HOST_BDF=GUEST_PCI_PATH": the host address is only checked for its form; the guest path is waited for. */
static int prepare_vfio_function(ctr_device *cd, const char *opt, const char *field, kc_error *err) {
	const char *eq = strchr(opt, '=');
	stor_pci_path p;
	device_want *dw = &cd->wants[cd->n_wants];

	if (!eq || !pci_addr_ok(opt, (size_t)(eq - opt)) || strchr(eq + 1, '=') || stor_pci_path_parse(eq + 1, &p) < 0)
		return kc_error_set(err, EINVAL, "%s: `%.80s` is not HOST_BDF=GUEST_PCI_PATH (e.g. 0000:3b:00.0=02/00)",
				    field, opt);
	memcpy(cd->hosts[cd->n_wants], opt, PCI_ADDR_LEN);
	cd->hosts[cd->n_wants][PCI_ADDR_LEN] = '\0';
	(void)format_checked(dw->field_buf, sizeof dw->field_buf, "devices[%zu]", cd->index);
	dw->field = dw->field_buf;
	int r = stor_pci_path_to_devpath(cd->set->agent->sysfs, &p, dw->w.prefix, sizeof dw->w.prefix, err);
	if (r < 0)
		return kc_error_prefix(err, "%s: PCI path %s", field, eq + 1);
	(void)format_checked(dw->w.what, sizeof dw->w.what, "PCI device at PCI path %s (%s)", eq + 1, dw->w.prefix);
	dw->w.m = (dev_match){ .subsystem = "pci", .devpath_prefix = dw->w.prefix };
	if (cd->kind == DEV_VFIO)
		dw->then = vfio_bind;
	dw->userdata = cd;
	cd->groups[cd->n_wants] = -1;
	cd->n_wants++;
	return 0;
}

static bool scsi_address_ok(const char *s) {
	size_t a = s ? strspn(s, "0123456789") : 0;
	return a > 0 && a <= 3 && s[a] == ':' && strspn(s + a + 1, "0123456789") == strlen(s + a + 1) &&
	       strlen(s + a + 1) > 0 && strlen(s + a + 1) <= 5;
}

static int prepare_device(ctr_device *cd, const Grpc__Device *d, const lc_spec *spec, kc_error *err) {
	char field[48];
	const char *t = d->type ? d->type : "";
	size_t i = cd->index;

	if (!d->container_path || !*d->container_path)
		return kc_error_set(err, EINVAL, "devices[%zu].container_path: missing", i);
	/* The guest kernel keeps a vfio-pci-gk device: there is no node to rewrite. */
	if (strcmp(t, "vfio-pci-gk") != 0 && !spec_device(spec, d->container_path))
		return kc_error_set(err, EINVAL, "devices[%zu].container_path: `%.200s` is not among the spec's "
				    "linux.devices", i, d->container_path);
	cd->type = t;
	cd->container_path = d->container_path;
	if (strcmp(t, "vfio-pci") == 0 || strcmp(t, "vfio") == 0 || strcmp(t, "vfio-pci-gk") == 0) {
		cd->kind = strcmp(t, "vfio-pci-gk") == 0 ? DEV_VFIO_GK : DEV_VFIO;
		if (d->n_options == 0)
			return kc_error_set(err, EINVAL, "devices[%zu].options: a %s device needs HOST_BDF=GUEST_PCI_PATH "
					    "entries", i, t);
		if (d->n_options > CTR_VFIO_FUNCTIONS_MAX)
			return kc_error_set(err, E2BIG, "devices[%zu].options: more than %d functions", i,
					    CTR_VFIO_FUNCTIONS_MAX);
		for (size_t k = 0; k < d->n_options; k++) {
			(void)format_checked(field, sizeof field, "devices[%zu].options[%zu]", i, k);
			int r = prepare_vfio_function(cd, d->options[k], field, err);
			if (r < 0)
				return r;
		}
		return 0;
	}
	/* The block handlers wait as the block storage drivers of the same names do. */
	stor_spec s = { .driver = t };
	if (strcmp(t, "blk") == 0)
		s.source = d->id && *d->id ? d->id : d->vm_path;
	else if (strcmp(t, "scsi") == 0)
		s.source = d->id;
	else if (strcmp(t, "mmioblk") == 0 || strcmp(t, "nvdimm") == 0)
		s.source = d->vm_path;
	else
		return kc_error_set(err, EINVAL, "devices[%zu].type: unknown device type `%.40s` (blk, mmioblk, scsi, "
				    "nvdimm, vfio-pci, vfio, vfio-pci-gk)", i, t);
	cd->kind = DEV_BLOCK;
	device_want *dw = &cd->wants[0];
	(void)format_checked(dw->field_buf, sizeof dw->field_buf, "devices[%zu]", i);
	dw->field = dw->field_buf;
	(void)format_checked(field, sizeof field, "devices[%zu].%s", i, strcmp(t, "blk") == 0 && d->id && *d->id ? "id" :
				strcmp(t, "scsi") == 0 ? "id" : "vm_path");
	if (strcmp(t, "scsi") == 0 && !scsi_address_ok(s.source))
		return kc_error_set(err, EINVAL, "%s: `%.80s` is not SCSI_ID:LUN", field, s.source ? s.source : "");
	int r;
	r = stor_device_prepare(&s, cd->set->agent->sysfs, field, &dw->w, err);
	if (r < 0)
		return r;
	cd->n_wants = 1;
	return 0;
}

int ctr_devices_prepare(agent *a, Grpc__Device *const *devices, size_t n, const lc_spec *spec, ctr_devices **ret,
			kc_error *err) {
	_cleanup_(ctr_devices_freep) ctr_devices *d = NULL;

	if (n > CTR_DEVICES_MAX)
		return kc_error_set(err, E2BIG, "devices: more than %d", CTR_DEVICES_MAX);
	d = calloc(1, sizeof *d);
	if (!d || !(d->v = calloc(n + 1, sizeof *d->v)) || !(d->all = calloc(n * CTR_VFIO_FUNCTIONS_MAX + 1, sizeof *d->all)))
		return kc_error_set(err, ENOMEM, "devices: out of memory");
	d->agent = a;
	for (size_t i = 0; i < n; i++) {
		ctr_device *cd = &d->v[i];
		cd->set = d;
		cd->index = i;
		for (size_t k = 0; k < i; k++)
			if (strcmp(d->v[k].container_path, devices[i]->container_path ? devices[i]->container_path : "") == 0)
				return kc_error_set(err, EINVAL, "devices[%zu].container_path: `%.200s` is also devices[%zu]'s",
						    i, devices[i]->container_path, k);
		int r = prepare_device(cd, devices[i], spec, err);
		if (r < 0)
			return r;
		d->n = i + 1;
		for (size_t k = 0; k < cd->n_wants; k++)
			d->all[d->n_all++] = &cd->wants[k];
	}
	*ret = TAKE_PTR(d);
	return 0;
}

/* The guest's type and number of a node. */
static int node_info(const char *node, const char *field, char *ret_type, uint32_t *ret_major, uint32_t *ret_minor,
		     kc_error *err) {
	struct stat st;
	if (stat(node, &st) < 0)
		return kc_error_set(err, errno, "%s: %s: %m", field, node);
	if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
		return kc_error_set(err, ENODEV, "%s: %s is not a device node", field, node);
	*ret_type = S_ISBLK(st.st_mode) ? 'b' : 'c';
	*ret_major = major(st.st_rdev);
	*ret_minor = minor(st.st_rdev);
	return 0;
}

/* A further linux.resources.devices allow rule. */
static int add_allow_rule(lc_spec *spec, char type, uint32_t maj, uint32_t min, ctr_mem **mem) {
	lc_spec_linux *l = spec->linux;
	if (!l->resources && !(l->resources = mem_alloc(mem, 1, sizeof *l->resources)))
		return -ENOMEM;
	lc_spec_resources *res = l->resources;
	lc_spec_device_cgroup *v = mem_alloc(mem, res->n_devices + 1, sizeof *v);
	char *t = mem_alloc(mem, 2, 1);
	char *access = mem_strdup(mem, "rwm");
	if (!v || !t || !access)
		return -ENOMEM;
	if (res->n_devices)
		memcpy(v, res->devices, res->n_devices * sizeof *v);
	t[0] = type;
	v[res->n_devices] = (lc_spec_device_cgroup){ .allow = true, .type = t, .access = access, .has_major = true,
						     .has_minor = true, .major = maj, .minor = min };
	res->devices = v;
	res->n_devices++;
	return 0;
}

/* The Kata agent's update: the entry at container_path gets the guest's numbers (and type, and for vfio the
 * guest's path); resources.devices rules that named the host's numbers name the guest's. */
static int rewrite_device(lc_spec *spec, const char *container_path, const char *final_path, char type, uint32_t maj,
			  uint32_t min, ctr_mem **mem) {
	lc_spec_linux *l = spec->linux;
	lc_spec_device *sd = NULL;
	for (size_t i = 0; i < l->n_devices && !sd; i++)
		if (l->devices[i].path && strcmp(l->devices[i].path, container_path) == 0)
			sd = &l->devices[i];
	if (!sd)
		return -ENOENT;
	bool had_numbers = sd->has_major && sd->has_minor;
	int64_t host_major = sd->major, host_minor = sd->minor;
	char host_type = sd->type && sd->type[0] ? sd->type[0] : type;
	char *t = mem_alloc(mem, 2, 1);
	if (!t)
		return -ENOMEM;
	t[0] = type;
	sd->type = t;
	sd->has_major = sd->has_minor = true;
	sd->major = maj;
	sd->minor = min;
	if (final_path && !(sd->path = mem_strdup(mem, final_path)))
		return -ENOMEM;
	for (size_t i = 0; had_numbers && l->resources && i < l->resources->n_devices; i++) {
		lc_spec_device_cgroup *rule = &l->resources->devices[i];
		if (!rule->has_major || !rule->has_minor || rule->major != host_major || rule->minor != host_minor ||
		    !rule->type || rule->type[0] != host_type)
			continue;
		char *rt = mem_alloc(mem, 2, 1);
		if (!rt)
			return -ENOMEM;
		rt[0] = type;
		rule->type = rt;
		rule->major = maj;
		rule->minor = min;
	}
	return 0;
}

/* /dev/vfio/vfio for a container given a group, unless the spec has it. */
static int add_vfio_container_node(lc_spec *spec, ctr_mem **mem, kc_error *err) {
	lc_spec_linux *l = spec->linux;
	char type;
	uint32_t maj, min;
	int r = node_info(VFIO_CONTAINER_NODE, "vfio", &type, &maj, &min, err);
	if (r < 0)
		return r;
	if (!spec_device(spec, VFIO_CONTAINER_NODE)) {
		lc_spec_device *v = mem_alloc(mem, l->n_devices + 1, sizeof *v);
		char *t = mem_strdup(mem, "c"), *p = mem_strdup(mem, VFIO_CONTAINER_NODE);
		if (!v || !t || !p)
			return kc_error_set(err, ENOMEM, "devices: out of memory");
		if (l->n_devices)
			memcpy(v, l->devices, l->n_devices * sizeof *v);
		v[l->n_devices] = (lc_spec_device){ .type = t, .path = p, .has_major = true, .has_minor = true,
						    .major = maj, .minor = min, .has_file_mode = true, .file_mode = 0666 };
		l->devices = v;
		l->n_devices++;
	}
	if (add_allow_rule(spec, type, maj, min, mem) < 0)
		return kc_error_set(err, ENOMEM, "devices: out of memory");
	return 0;
}

/* The guest address of a host PCI address among the container's VFIO functions, NULL when none. */
static const char *guest_pci_addr(const ctr_devices *d, const char *host, size_t len) {
	for (size_t i = 0; i < d->n; i++)
		for (size_t k = 0; d->v[i].kind != DEV_BLOCK && k < d->v[i].n_wants; k++)
			if (strlen(d->v[i].hosts[k]) == len && strncasecmp(d->v[i].hosts[k], host, len) == 0 &&
			    d->v[i].guests[k][0])
				return d->v[i].guests[k];
	return NULL;
}

/* Replaces every occurrence of each host address of the map in s (a PCIDEVICE_*_INFO value). */
static char *replace_addrs(const ctr_devices *d, const char *s, ctr_mem **mem) {
	size_t n = strlen(s);
	char *out = mem_alloc(mem, n + 1, 1); /* addresses keep their length: the result is as long */
	if (!out)
		return NULL;
	memcpy(out, s, n + 1);
	for (size_t i = 0; i + PCI_ADDR_LEN <= n; i++) {
		const char *g = guest_pci_addr(d, out + i, PCI_ADDR_LEN);
		if (g && pci_addr_ok(out + i, PCI_ADDR_LEN)) {
			memcpy(out + i, g, PCI_ADDR_LEN);
			i += PCI_ADDR_LEN - 1;
		}
	}
	return out;
}

/* The SR-IOV device plugin names the devices it gave in PCIDEVICE_<resource>=BDF[,BDF...] (and details in
 * PCIDEVICE_<resource>_INFO): host addresses, which the container must see as the guest's, as upstream
 * rewrites them. A value that holds something other than PCI addresses is left alone; a host address that is
 * none of the container's VFIO functions is an error. */
static int rewrite_pci_env(const ctr_devices *d, lc_spec *spec, ctr_mem **mem, kc_error *err) {
	lc_strv *env = spec->process ? &spec->process->env : NULL;
	for (size_t i = 0; env && i < env->n; i++) {
		char *e = env->v[i], *eq = strchr(e, '=');
		if (!eq || strncmp(e, PCI_ENV_PREFIX, strlen(PCI_ENV_PREFIX)) != 0)
			continue;
		size_t name_len = (size_t)(eq - e);
		bool info = name_len >= 5 && strncmp(eq - 5, "_INFO", 5) == 0;
		const char *v = eq + 1;
		if (info) {
			char *value = replace_addrs(d, v, mem);
			char *ne = value ? mem_alloc(mem, name_len + 1 + strlen(value) + 1, 1) : NULL;
			if (!ne)
				return kc_error_set(err, ENOMEM, "process.env: out of memory");
			memcpy(ne, e, name_len + 1);
			memcpy(ne + name_len + 1, value, strlen(value) + 1);
			env->v[i] = ne;
			continue;
		}
		/* Every item must be an address, or the variable is not the plugin's. */
		bool all = *v != '\0';
		for (const char *p = v; all && *p;) {
			size_t l = strcspn(p, ",");
			all = pci_addr_ok(p, l);
			p += l + (p[l] == ',');
		}
		if (!all)
			continue;
		char *ne = mem_alloc(mem, strlen(e) + 1, 1);
		if (!ne)
			return kc_error_set(err, ENOMEM, "process.env: out of memory");
		memcpy(ne, e, strlen(e) + 1);
		for (char *p = ne + name_len + 1; *p; p += PCI_ADDR_LEN + (p[PCI_ADDR_LEN] == ',')) {
			const char *g = guest_pci_addr(d, p, PCI_ADDR_LEN);
			if (!g)
				return kc_error_set(err, EINVAL, "process.env[%zu]: %.*s: host PCI address %.12s is none of the "
						    "container's VFIO devices", i, (int)name_len, e, p);
			memcpy(p, g, PCI_ADDR_LEN);
		}
		env->v[i] = ne;
	}
	return 0;
}

int ctr_devices_apply(ctr_devices *d, lc_spec *spec, ctr_mem **mem, kc_error *err) {
	bool vfio = false;
	for (size_t i = 0; i < d->n; i++) {
		ctr_device *cd = &d->v[i];
		const char *node = cd->wants[0].node, *final_path = NULL;
		char field[32], type;
		uint32_t maj, min;
		(void)format_checked(field, sizeof field, "devices[%zu]", i);
		if (cd->kind == DEV_VFIO_GK) {
			/* The guest driver keeps it: only its address is needed, for the environment. */
			for (size_t k = 0; k < cd->n_wants; k++) {
				const char *b = strrchr(cd->wants[k].devpath, '/');
				(void)format_checked(cd->guests[k], sizeof cd->guests[k], "%s", b ? b + 1 : "");
			}
			continue;
		}
		if (cd->kind == DEV_VFIO) {
			for (size_t k = 1; k < cd->n_wants; k++)
				if (cd->groups[k] != cd->groups[0])
					return kc_error_set(err, EINVAL, "%s.options[%zu]: %s is in IOMMU group %ld, not in %ld "
							    "with options[0]", field, k, cd->wants[k].devpath, cd->groups[k],
							    cd->groups[0]);
			final_path = node;
			vfio = true;
		}
		int r = node_info(node, field, &type, &maj, &min, err);
		if (r < 0)
			return r;
		r = rewrite_device(spec, cd->container_path, final_path, type, maj, min, mem);
		if (r >= 0)
			r = add_allow_rule(spec, type, maj, min, mem);
		if (r < 0)
			return kc_error_set(err, -r, "%s: rewrite the spec: %s", field, strerror(-r));
		log_info("%s (%s): %s is %c %u:%u in the guest", field, cd->type, cd->container_path, type, maj, min);
	}
	if (vfio) {
		int r = add_vfio_container_node(spec, mem, err);
		if (r < 0)
			return r;
	}
	return rewrite_pci_env(d, spec, mem, err);
}

/* ---- guest hooks ---- */

static int name_cmp(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int append_kind(const char *dir, lc_hook_kind kind, const char *kind_name, lc_spec *spec, ctr_mem **mem,
		       kc_error *err) {
	char path[PATH_MAX];
	char *names[GUEST_HOOKS_MAX];
	size_t n = 0;
	int r = 0;

	if (format_checked(path, sizeof path, "%s/%s", dir, kind_name) < 0)
		return kc_error_set(err, ENAMETOOLONG, "guest_hook_path: too long");
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : kc_error_set(err, errno, "guest hooks: %s: %m", path);
	struct dirent *de;
	while ((de = readdir(d)) && n < GUEST_HOOKS_MAX) {
		struct stat st;
		/* Regular files with an execute bit, never through a symlink. */
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
			continue;
		if (!(names[n] = strdup(de->d_name))) {
			r = kc_error_set(err, ENOMEM, "guest hooks: out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (r >= 0 && n) {
		qsort(names, n, sizeof *names, name_cmp);
		if (!spec->hooks && !(spec->hooks = mem_alloc(mem, 1, sizeof *spec->hooks)))
			r = kc_error_set(err, ENOMEM, "guest hooks: out of memory");
	}
	if (r >= 0 && n) {
		lc_spec_hook_list *list = &spec->hooks->kind[kind];
		lc_spec_hook *v = mem_alloc(mem, list->n + n, sizeof *v);
		if (!v)
			r = kc_error_set(err, ENOMEM, "guest hooks: out of memory");
		for (size_t i = 0; r >= 0 && i < n; i++) {
			char full[PATH_MAX];
			char **args = mem_alloc(mem, 3, sizeof *args);
			if (format_checked(full, sizeof full, "%s/%s", path, names[i]) < 0 || !args ||
			    !(args[0] = mem_strdup(mem, names[i])) || !(args[1] = mem_strdup(mem, kind_name)) ||
			    !(v[list->n + i].path = mem_strdup(mem, full))) {
				r = kc_error_set(err, ENOMEM, "guest hooks: %s/%s: out of memory or too long", path, names[i]);
				break;
			}
			v[list->n + i].args = (lc_strv){ .v = args, .n = 2 };
		}
		if (r >= 0) {
			if (list->n)
				memcpy(v, list->v, list->n * sizeof *v);
			list->v = v;
			list->n += n;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return r;
}

int ctr_guest_hooks_append(const char *dir, lc_spec *spec, ctr_mem **mem, kc_error *err) {
	static const struct {
		lc_hook_kind kind;
		const char *name;
	} kinds[] = { { LC_HOOK_PRESTART, "prestart" }, { LC_HOOK_POSTSTART, "poststart" }, { LC_HOOK_POSTSTOP, "poststop" } };
	if (!dir || !*dir)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		int r = append_kind(dir, kinds[i].kind, kinds[i].name, spec, mem, err);
		if (r < 0)
			return r;
	}
	return 0;
}
