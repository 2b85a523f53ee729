/* Devices in the agent: the uevent socket in the loop, memory onlining and MODALIAS module loading as devices
 * arrive, device waits as pending work, OnlineCPUMem and MemHotplugByProbe.
 *
 * Ordering: the socket is bound before the background module load starts (main.c), so every device a driver
 * creates from then on is announced to us; devices that existed before are announced again by the coldplug
 * pass, and a waiter also looks at the table and at sysfs when it registers. An event can therefore come
 * before, during or after the wait and is found either way. */
#define LOG_SOURCE "devices"
#include "agent/devices.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "agent.pb-c.h"
#include "agent/cpuset.h"
#include "common/log.h"
#include "common/util.h"
#include "init/init.h"
#include "init/modules.h"
#include "storage/blockdev.h"
#include "storage/devices.h"
#include "storage/uevent.h"

#define EVENTS_PER_WAKEUP 256  /* then let other sources run; the fd stays readable */
#define MODULE_QUEUE_MAX 64    /* distinct modules asked for and not yet loaded */
#define MODULES_REQUESTED_MAX 512
#define PROBE_ADDRS_MAX 1024   /* MemHotplugByProbe addresses in one request */
#define CPU_SCAN_MAX 8192      /* cpuN directories looked at */
#define MEMORY_SCAN_MAX 65536  /* memoryN directories looked at (128 MiB blocks: 8 TiB) */
#define MODULE_HELPER_TIMEOUT_MS 60000

struct agent_devices {
	agent *agent;
	int fd;
	ev_io *io;
	dev_table table;
	kmod_db *kmods; /* the initrd's module index, loaded on the first MODALIAS that needs it */
	bool kmods_failed;
	bool boot_modules_done;
	pid_t module_helper; /* 0: none running */
	char *queue[MODULE_QUEUE_MAX];
	size_t n_queue;
	char *requested[MODULES_REQUESTED_MAX]; /* asked for once: a module that fails is not retried forever */
	size_t n_requested;
	uint64_t memory_onlined;
};

/* ---- memory blocks ---- */

/* Writes "online" to a memory block's state when it is offline (Debian's kernel lacks
 * MEMORY_HOTPLUG_DEFAULT_ONLINE, so a hot-added block stays offline until someone asks). */
static int online_memory_block(const char *sysfs, const char *devpath) {
	char p[PATH_MAX];
	_cleanup_free_ char *state = NULL;
	if (format_checked(p, sizeof p, "%s%s/state", sysfs, devpath) < 0)
		return -ENAMETOOLONG;
	int r = read_file_capped(AT_FDCWD, p, 64, &state, NULL);
	if (r < 0)
		return r;
	if (!startswith(state, "offline"))
		return 0;
	r = write_string_file(p, "online");
	return r < 0 ? r : 1;
}

/* Every offline block under system/memory; returns how many were onlined, or the first failure. */
static int online_all_memory(agent_devices *d) {
	char dir[PATH_MAX], devpath[PATH_MAX];
	int n = 0, first = 0;
	unsigned seen = 0;

	if (format_checked(dir, sizeof dir, "%s/devices/system/memory", d->agent->sysfs) < 0)
		return -ENAMETOOLONG;
	DIR *dp = opendir(dir);
	if (!dp)
		return -errno;
	struct dirent *de;
	while ((de = readdir(dp)) && seen++ < MEMORY_SCAN_MAX) {
		if (!startswith(de->d_name, "memory") || !de->d_name[6] ||
		    strspn(de->d_name + 6, "0123456789") != strlen(de->d_name + 6))
			continue;
		if (format_checked(devpath, sizeof devpath, "/devices/system/memory/%s", de->d_name) < 0)
			continue;
		int r = online_memory_block(d->agent->sysfs, devpath);
		if (r > 0)
			n++;
		else if (r < 0 && first == 0)
			first = r;
	}
	closedir(dp);
	d->memory_onlined += (uint64_t)n;
	return n > 0 ? n : first;
}

/* ---- modules by MODALIAS ---- */

static bool module_live(const char *name) {
	char p[300];
	return format_checked(p, sizeof p, "/sys/module/%s", name) >= 0 && access(p, F_OK) == 0;
}

static bool already_requested(agent_devices *d, const char *name) {
	for (size_t i = 0; i < d->n_requested; i++)
		if (strcmp(d->requested[i], name) == 0)
			return true;
	return false;
}

static int load_queue_work(void *userdata, kc_error *err) {
	agent_devices *d = userdata;
	return init_load_modules(d->agent->moddir, (const char *const *)d->queue, d->n_queue, err);
}

static void run_module_queue(agent_devices *d);

static void load_queue_done(int result, const kc_error *err, void *userdata) {
	agent_devices *d = userdata;
	if (result < 0)
		log_warn("modules for hot-plugged devices: %s", err->msg);
	else
		log_info("modules for hot-plugged devices: %zu asked for, loaded or already live", d->n_queue);
	for (size_t i = 0; i < d->n_queue; i++)
		d->queue[i] = NULL; /* owned by requested[] */
	d->n_queue = 0;
	d->module_helper = 0;
	run_module_queue(d);
}

static void run_module_queue(agent_devices *d) {
	/* What came in while a helper ran is in the queue only if the helper had already copied its list: the
	 * queue is cleared in done, so new names wait for the next helper. */
	if (d->module_helper || !d->boot_modules_done || d->n_queue == 0)
		return;
	int r = helper_run(d->agent, "loading modules for devices", load_queue_work, d, MODULE_HELPER_TIMEOUT_MS,
			   load_queue_done, d);
	if (r < 0) {
		log_warn("cannot fork to load modules for devices: %s", strerror(-r));
		return;
	}
	d->module_helper = r;
}

static void request_modules(agent_devices *d, const char *modalias) {
	const kmod_module *hits[8];
	kc_error err = { 0 };

	if (!d->agent->moddir[0] || d->kmods_failed)
		return;
	if (!d->kmods) {
		_cleanup_close_ int dfd = open(d->agent->moddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || kmod_db_load_dir(dfd, &d->kmods, &err) < 0) {
			log_warn("module index for MODALIAS loading: %s", dfd < 0 ? strerror(errno) : err.msg);
			d->kmods_failed = true;
			return;
		}
	}
	/* The MODALIAS of a PCI device looks like a module name to kmod_resolve only through the alias globs. */
	size_t n = kmod_resolve(d->kmods, modalias, hits, ELEMENTSOF(hits));
	for (size_t i = 0; i < n; i++) {
		const char *name = hits[i]->name;
		if (already_requested(d, name) || module_live(name))
			continue;
		if (d->n_requested >= MODULES_REQUESTED_MAX || d->n_queue >= MODULE_QUEUE_MAX) {
			log_warn("module %s for %s: too many module requests", name, modalias);
			return;
		}
		char *copy = strdup(name);
		if (!copy)
			return;
		d->requested[d->n_requested++] = copy;
		/* A running helper already has its list: new names wait for the next one. */
		if (!d->module_helper)
			d->queue[d->n_queue++] = copy;
		log_debug("module %s for MODALIAS %s", name, modalias);
	}
	run_module_queue(d);
}

void devices_boot_modules_done(agent *a) {
	agent_devices *d = a->devices;
	if (!d)
		return;
	d->boot_modules_done = true;
	run_module_queue(d);
}

/* ---- the socket ---- */

static void act_on(agent_devices *d, const uevent *e) {
	if (!d->agent->pid1 || e->action != UEVENT_ADD)
		return;
	if (strcmp(e->subsystem, "memory") == 0 && startswith(e->devpath, "/devices/system/memory/memory")) {
		int r = online_memory_block(d->agent->sysfs, e->devpath);
		if (r > 0) {
			d->memory_onlined++;
			log_info("memory block %s onlined", e->devpath + strlen("/devices/system/memory/"));
		} else if (r < 0)
			log_warn("memory block %s: online: %s", e->devpath, strerror(-r));
	}
	if (e->modalias && !e->driver)
		request_modules(d, e->modalias);
}

static int on_uevent(ev_io *io, int fd, uint32_t revents, void *userdata) {
	agent_devices *d = userdata;
	char buf[UEVENT_MSG_MAX];

	for (unsigned i = 0; i < EVENTS_PER_WAKEUP; i++) {
		size_t len;
		uevent e;
		int r = uevent_receive(fd, buf, sizeof buf, &len);
		if (r == -EAGAIN)
			return 0;
		if (r == -EPERM) {
			d->table.stats.foreign++;
			continue;
		}
		if (r == -ENOBUFS) {
			/* The kernel dropped events: what a waiter waits for may have been among them. */
			d->table.stats.overflows++;
			log_warn("uevent socket overflowed: events were lost; looking at sysfs for what is awaited");
			dev_table_rescan(&d->table);
			continue;
		}
		if (r == -EBADMSG) {
			d->table.stats.malformed++;
			continue;
		}
		if (r < 0) {
			log_error("uevent socket: %s", strerror(-r));
			return r;
		}
		if (uevent_parse(buf, len, &e) < 0) {
			d->table.stats.malformed++;
			continue;
		}
		log_debug("uevent %s %s (%s%s%s)", uevent_action_to_string(e.action), e.devpath, e.subsystem,
			  e.devname ? " " : "", e.devname ? e.devname : "");
		/* The table first, so a waiter woken by this event sees it recorded. */
		r = dev_table_apply(&d->table, &e);
		if (r < 0)
			log_warn("device table: %s: %s", e.devpath, strerror(-r));
		act_on(d, &e);
	}
	return 0;
}

int devices_start(agent *a, kc_error *err) {
	agent_devices *d = calloc(1, sizeof *d);

	if (!d)
		return kc_error_set(err, ENOMEM, "devices: out of memory");
	d->agent = a;
	d->fd = -EBADF;
	dev_table_init(&d->table, a->sysfs);
	a->devices = d;
	int r = uevent_open(&d->fd, err);
	if (r < 0)
		return r;
	r = ev_io_add(a->loop, d->fd, EPOLLIN, on_uevent, d, "uevents", &d->io);
	if (r < 0)
		return kc_error_set(err, -r, "watch the uevent socket: %s", strerror(-r));
	return 0;
}

int devices_coldplug(agent *a, kc_error *err) {
	char devices_dir[PATH_MAX];

	if (!a->pid1 || !a->devices)
		return 0;
	(void)format_checked(devices_dir, sizeof devices_dir, "%s/devices", a->sysfs);
	uint64_t start = now_ns();
	int r = uevent_coldplug(devices_dir, err);
	if (r < 0)
		return r;
	log_info("coldplug: %d devices announced in %" PRIu64 " ms", r, (now_ns() - start) / 1000000);
	return 0;
}

void devices_free(agent *a) {
	agent_devices *d = a->devices;
	if (!d)
		return;
	d->io = ev_io_free(d->io);
	safe_close(d->fd);
	dev_table_done(&d->table);
	d->kmods = kmod_db_free(d->kmods);
	for (size_t i = 0; i < d->n_requested; i++)
		free(d->requested[i]);
	free(d);
	a->devices = NULL;
}

struct dev_table *devices_table(agent *a) {
	return a->devices ? &a->devices->table : NULL;
}

/* ---- waiting for devices ---- */

typedef struct batch_item {
	devices_batch *batch;
	device_want *want;
	stor_spec *spec; /* a storage's: its device is the want's node once found */
	dev_waiter *waiter;
} batch_item;

struct devices_batch {
	agent *agent;
	batch_item *items;
	device_want *own; /* the wants devices_wait_storages made */
	size_t n, missing;
	ev_timer timer;
	ev_timer recheck; /* looks at the table again for wants that a then step pointed elsewhere */
	uint64_t started;
	bool failed;
	helper_done_fn done;
	void *userdata;
};

devices_batch *devices_batch_free(devices_batch *b) {
	if (!b)
		return NULL;
	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].waiter && b->agent->devices)
			dev_waiter_cancel(&b->agent->devices->table, b->items[i].waiter);
	ev_timer_disarm(&b->timer);
	ev_timer_disarm(&b->recheck);
	free(b->items);
	free(b->own);
	free(b);
	return NULL;
}

static void batch_fail(devices_batch *b, int r, const kc_error *err) {
	b->failed = true;
	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].waiter) {
			dev_waiter_cancel(&b->agent->devices->table, b->items[i].waiter);
			b->items[i].waiter = NULL;
		}
	ev_timer_disarm(&b->timer);
	ev_timer_disarm(&b->recheck);
	b->done(r, err, b->userdata);
}

/* The device is there: record it, then let the want's next step run. Returns 0 when the want is satisfied, 1
 * when it waits for something else now, -errno (err filled) when its step failed. */
static int item_found(batch_item *it, const dev_entry *e, kc_error *err) {
	device_want *dw = it->want;
	if (dw->w.scsi_wait_host) {
		/* A SCSI storage or device that came before the controller was bound: the host is there now, so the
		 * targeted scan, and the wait goes on for the disk under the same deadline. */
		log_info("%s: %s is %s", dw->field, dw->w.what, e->devpath);
		int r = stor_device_scsi_scan(&dw->w, it->batch->agent->sysfs, dw->field, err);
		return r < 0 ? r : 1;
	}
	/* DEVNAME was checked by the parser: relative, no "..". */
	if (e->devname)
		(void)format_checked(dw->node, sizeof dw->node, "/dev/%s", e->devname);
	(void)format_checked(dw->devpath, sizeof dw->devpath, "%s", e->devpath);
	dw->has_devnum = e->has_devnum;
	dw->major = e->major;
	dw->minor = e->minor;
	if (it->spec)
		it->spec->device = dw->node;
	log_info("%s: %s is %s", dw->field, dw->w.what, e->devname ? dw->node : e->devpath);
	if (!dw->then)
		return 0;
	return dw->then(dw, err);
}

static void on_device(dev_waiter *w, const dev_entry *e, void *userdata) {
	batch_item *it = userdata;
	devices_batch *b = it->batch;
	kc_error err = { 0 };
	it->waiter = NULL;
	int r = item_found(it, e, &err);
	if (r < 0) {
		batch_fail(b, r, &err);
		return;
	}
	if (r > 0) {
		/* Waiting for the next thing: registered now, looked up outside this callback (the table is being
		 * walked right now). */
		r = dev_waiter_add(&b->agent->devices->table, &it->want->w.m, it->want->w.what, on_device, it, &it->waiter);
		if (r < 0) {
			(void)kc_error_set(&err, -r, "%s: wait for %s: %s", it->want->field, it->want->w.what, strerror(-r));
			batch_fail(b, r, &err);
			return;
		}
		(void)ev_timer_arm(&b->recheck, now_ns());
		return;
	}
	if (--b->missing > 0)
		return;
	ev_timer_disarm(&b->timer);
	ev_timer_disarm(&b->recheck);
	b->done(0, NULL, b->userdata);
}

static void on_recheck(ev_timer *t, void *userdata) {
	devices_batch *b = userdata;
	for (size_t i = 0; i < b->n; i++) {
		batch_item *it = &b->items[i];
		/* The table only: a sysfs scan records devices and so fires waiters, this batch's among them. */
		const dev_entry *e = it->waiter ? dev_table_find(&b->agent->devices->table, &it->want->w.m) : NULL;
		if (!e)
			continue;
		dev_waiter_cancel(&b->agent->devices->table, it->waiter);
		it->waiter = NULL;
		/* Other items may find theirs in the table too: look again on the next turn. on_device disarms
		 * this when it finishes the batch (which may free it), so one device per turn is handled. */
		(void)ev_timer_arm(&b->recheck, now_ns());
		on_device(NULL, e, it);
		return;
	}
}

static void on_deadline(ev_timer *t, void *userdata) {
	devices_batch *b = userdata;
	kc_error err = { 0 };
	for (size_t i = 0; i < b->n; i++) {
		batch_item *it = &b->items[i];
		if (it->waiter) {
			(void)kc_error_set_code(&err, KC_DEADLINE_EXCEEDED, ETIMEDOUT, "%s: timeout after %.3f s waiting for %s",
						it->want->field, (double)(now_ns() - b->started) / 1e9, it->want->w.what);
			break;
		}
	}
	batch_fail(b, -ETIMEDOUT, &err);
}

static int batch_new(agent *a, size_t n, helper_done_fn done, void *userdata, devices_batch **ret, kc_error *err) {
	devices_batch *b = calloc(1, sizeof *b);
	if (!b || !(b->items = calloc(n + 1, sizeof *b->items))) {
		free(b);
		return kc_error_set(err, ENOMEM, "devices: out of memory");
	}
	*b = (devices_batch){ .agent = a, .items = b->items, .started = now_ns(), .done = done, .userdata = userdata };
	ev_timer_init(&b->timer, a->loop, on_deadline, b);
	ev_timer_init(&b->recheck, a->loop, on_recheck, b);
	*ret = b;
	return 0;
}

/* Looks for each item's device now and registers a waiter for the missing ones. */
static int batch_start(devices_batch *b, kc_error *err) {
	agent_devices *d = b->agent->devices;
	for (size_t i = 0; i < b->n; i++) {
		batch_item *it = &b->items[i];
		device_want *dw = it->want;
		const dev_entry *e;
		if (!d)
			return kc_error_set_code(err, KC_UNAVAILABLE, ENODEV, "%s: no device table in this agent", dw->field);
		for (;;) {
			/* Already there (its event came before us, or before the socket existed)? */
			if (dev_table_lookup(&d->table, &dw->w.m, &e) <= 0)
				break;
			int r = item_found(it, e, err);
			if (r < 0)
				return r;
			if (r == 0)
				goto next;
		}
		int r = dev_waiter_add(&d->table, &dw->w.m, dw->w.what, on_device, it, &it->waiter);
		if (r < 0)
			return kc_error_set(err, -r, "%s: wait for %s: %s", dw->field, dw->w.what, strerror(-r));
		b->missing++;
	next:;
	}
	if (b->missing == 0)
		return 0;
	int r = ev_timer_arm(&b->timer, b->started + (uint64_t)b->agent->cfg.hotplug_timeout_ms * 1000000);
	if (r < 0)
		return kc_error_set(err, -r, "devices: arm the hotplug deadline: %s", strerror(-r));
	return 1;
}

int devices_wait(agent *a, device_want *const *wants, size_t n, helper_done_fn done, void *userdata,
		 devices_batch **ret, kc_error *err) {
	devices_batch *b;
	int r = batch_new(a, n, done, userdata, &b, err);
	if (r < 0)
		return r;
	*ret = b;
	for (size_t i = 0; i < n; i++)
		b->items[b->n++] = (batch_item){ .batch = b, .want = wants[i] };
	return batch_start(b, err);
}

int devices_wait_storages(agent *a, stor_spec *specs, const bool *to_mount, size_t n, helper_done_fn done,
			  void *userdata, devices_batch **ret, kc_error *err) {
	devices_batch *b;
	int r = batch_new(a, n, done, userdata, &b, err);
	if (r < 0)
		return r;
	*ret = b;
	if (!(b->own = calloc(n + 1, sizeof *b->own)))
		return kc_error_set(err, ENOMEM, "storages: out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!to_mount[i] || !(stor_driver_flags(stor_driver_find(specs[i].driver)) & STOR_DRIVER_DEVICE))
			continue;
		device_want *dw = &b->own[b->n];
		(void)format_checked(dw->field_buf, sizeof dw->field_buf, "storages[%zu]", i);
		dw->field = dw->field_buf;
		r = stor_device_prepare(&specs[i], a->sysfs, dw->field, &dw->w, err);
		if (r < 0)
			return r;
		b->items[b->n++] = (batch_item){ .batch = b, .want = dw, .spec = &specs[i] };
	}
	return batch_start(b, err);
}

/* ---- OnlineCPUMem ---- */

/* Onlines up to want offline CPUs (all when want is 0); returns how many. */
static int online_cpus(agent *a, unsigned want, int *ret_first_error) {
	char dir[PATH_MAX], p[PATH_MAX];
	int n = 0;
	unsigned seen = 0;

	if (format_checked(dir, sizeof dir, "%s/devices/system/cpu", a->sysfs) < 0)
		return -ENAMETOOLONG;
	DIR *dp = opendir(dir);
	if (!dp)
		return -errno;
	struct dirent *de;
	while ((de = readdir(dp)) && seen++ < CPU_SCAN_MAX && (want == 0 || (unsigned)n < want)) {
		_cleanup_free_ char *v = NULL;
		if (!startswith(de->d_name, "cpu") || !de->d_name[3] ||
		    strspn(de->d_name + 3, "0123456789") != strlen(de->d_name + 3))
			continue;
		/* cpu0 usually has no `online` file: it cannot go offline. */
		if (format_checked(p, sizeof p, "%s/%s/online", dir, de->d_name) < 0 ||
		    read_file_capped(AT_FDCWD, p, 16, &v, NULL) < 0 || v[0] != '0')
			continue;
		int r = write_string_file(p, "1");
		if (r >= 0) {
			n++;
			log_info("%s onlined", de->d_name);
		} else if (*ret_first_error == 0)
			*ret_first_error = r;
	}
	closedir(dp);
	return n;
}

typedef struct cpumem_op {
	agent *agent;
	ttrpc_call *call; /* NULL: the caller did not wait */
	unsigned want, done;
	bool cpu_only;
	dev_waiter *waiter;
	ev_timer timer;
	uint64_t started;
} cpumem_op;

static void cpumem_free(cpumem_op *op) {
	if (op->waiter && op->agent->devices)
		dev_waiter_cancel(&op->agent->devices->table, op->waiter);
	ev_timer_disarm(&op->timer);
	free(op);
}

static void cpumem_finish(cpumem_op *op, int code, const char *msg) {
	if (op->done > 0)
		cpusets_refresh(op->agent);
	if (!op->cpu_only && op->agent->devices) {
		int r = online_all_memory(op->agent->devices);
		if (r < 0 && r != -ENOENT)
			log_warn("OnlineCPUMem: memory: %s", strerror(-r));
	}
	if (op->call) {
		Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
		if (code == 0)
			ttrpc_call_reply(op->call, &empty.base);
		else
			ttrpc_call_fail(op->call, code, "%s", msg);
	} else if (code != 0)
		log_warn("OnlineCPUMem: %s", msg);
	cpumem_free(op);
}

static int cpumem_wait(cpumem_op *op);

/* A CPU was announced: try again. */
static void cpumem_on_cpu(dev_waiter *w, const dev_entry *e, void *userdata) {
	cpumem_op *op = userdata;
	op->waiter = NULL;
	(void)cpumem_wait(op);
}

static void cpumem_deadline(ev_timer *t, void *userdata) {
	cpumem_op *op = userdata;
	char msg[160];
	(void)format_checked(msg, sizeof msg, "timeout after %.3f s waiting for %u CPUs to online (%u onlined)",
			     (double)(now_ns() - op->started) / 1e9, op->want, op->done);
	cpumem_finish(op, KC_DEADLINE_EXCEEDED, msg);
}

static void cpumem_cancel(ttrpc_call *call, void *userdata) {
	cpumem_op *op = userdata;
	op->call = NULL;
	cpumem_free(op);
}

/* Onlines what it can; finishes when enough CPUs are online, else waits for the next CPU event (or the
 * deadline). Returns 1 when it finished. */
static int cpumem_wait(cpumem_op *op) {
	int first = 0;
	int r = online_cpus(op->agent, op->want ? op->want - op->done : 0, &first);
	if (r > 0)
		op->done += (unsigned)r;
	if (op->want == 0 || op->done >= op->want) {
		cpumem_finish(op, 0, NULL);
		return 1;
	}
	if (first < 0) {
		char msg[128];
		(void)format_checked(msg, sizeof msg, "online CPUs: %s", strerror(-first));
		cpumem_finish(op, KC_INTERNAL, msg);
		return 1;
	}
	dev_match m = { .subsystem = "cpu" };
	if (!op->agent->devices || dev_waiter_add(&op->agent->devices->table, &m, "a CPU", cpumem_on_cpu, op,
						  &op->waiter) < 0) {
		cpumem_finish(op, KC_UNAVAILABLE, "cannot wait for CPUs");
		return 1;
	}
	return 0;
}

static int online_cpu_mem(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__OnlineCPUMemRequest *req = (const Grpc__OnlineCPUMemRequest *)req_;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	if (!a->pid1)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EPERM,
					 "OnlineCPUMem: only the guest's PID 1 onlines CPUs and memory");
	if (req->nb_cpus > CPU_SCAN_MAX)
		return kc_error_set(err, EINVAL, "nb_cpus: %u is more than %d", req->nb_cpus, CPU_SCAN_MAX);
	cpumem_op *op = calloc(1, sizeof *op);
	if (!op)
		return kc_error_set(err, ENOMEM, "OnlineCPUMem: out of memory");
	*op = (cpumem_op){ .agent = a, .want = req->nb_cpus, .cpu_only = req->cpu_only, .started = now_ns() };
	ev_timer_init(&op->timer, a->loop, cpumem_deadline, op);
	if (req->wait)
		op->call = call;
	if (cpumem_wait(op) == 1) {
		if (!req->wait)
			ttrpc_call_reply(call, &empty.base);
		return 0;
	}
	(void)ev_timer_arm(&op->timer, op->started + (uint64_t)a->cfg.hotplug_timeout_ms * 1000000);
	if (!req->wait) {
		/* The host does not wait: the onlining goes on in the loop and its failure is only logged. */
		ttrpc_call_reply(call, &empty.base);
		return 0;
	}
	ttrpc_call_on_cancel(call, cpumem_cancel, op);
	return TTRPC_PENDING;
}

/* ---- MemHotplugByProbe ---- */

static int mem_hotplug_by_probe(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__MemHotplugByProbeRequest *req = (const Grpc__MemHotplugByProbeRequest *)req_;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	char probe[PATH_MAX], addr[2 + 16 + 1];

	if (!a->pid1)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EPERM,
					 "MemHotplugByProbe: only the guest's PID 1 adds memory");
	if (req->n_memhotplugprobeaddr > PROBE_ADDRS_MAX)
		return kc_error_set(err, E2BIG, "memHotplugProbeAddr: more than %d addresses", PROBE_ADDRS_MAX);
	(void)format_checked(probe, sizeof probe, "%s/devices/system/memory/probe", a->sysfs);
	for (size_t i = 0; i < req->n_memhotplugprobeaddr; i++) {
		(void)format_checked(addr, sizeof addr, "0x%" PRIx64, req->memhotplugprobeaddr[i]);
		int r = write_string_file(probe, addr);
		if (r < 0)
			return kc_error_set(err, -r, "memHotplugProbeAddr[%zu]: probe %s: %s", i, addr, strerror(-r));
	}
	/* The new blocks are announced by uevents and onlined as they come; online now what is already there. */
	if (a->devices)
		(void)online_all_memory(a->devices);
	ttrpc_call_reply(call, &empty.base);
	return 0;
}

AGENT_HANDLER(grpc__agent_service__descriptor, "OnlineCPUMem", online_cpu_mem);
AGENT_HANDLER(grpc__agent_service__descriptor, "MemHotplugByProbe", mem_hotplug_by_probe);
