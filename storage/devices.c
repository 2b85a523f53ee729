/* The device table and its waiters. */
#include "storage/devices.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

#define SYSFS_UEVENT_MAX 4096

struct dev_waiter {
	dev_waiter *next;
	dev_match m; /* points into strings below */
	char *strings;
	char *what;
	dev_waiter_fn fn;
	void *userdata;
	uint64_t gen; /* registration order, so an event never wakes a waiter added by its own callbacks */
};

void dev_table_init(dev_table *t, const char *sysfs) {
	*t = (dev_table){ .sysfs = sysfs };
}

static void entry_free(dev_entry *e) {
	free(e); /* one allocation: the strings follow the struct */
}

static void waiter_free(dev_waiter *w) {
	if (!w)
		return;
	free(w->strings);
	free(w->what);
	free(w);
}

void dev_table_done(dev_table *t) {
	for (dev_entry *e = t->head, *n; e; e = n) {
		n = e->next;
		entry_free(e);
	}
	for (dev_waiter *w = t->waiters, *n; w; w = n) {
		n = w->next;
		waiter_free(w);
	}
	t->head = NULL;
	t->waiters = NULL;
	t->n = t->n_waiters = 0;
}

static bool str_match(const char *want, const char *have) {
	return !want || (have && strcmp(want, have) == 0);
}

bool dev_match_entry(const dev_match *m, const dev_entry *e) {
	if (!m->subsystem || strcmp(m->subsystem, e->subsystem) != 0)
		return false;
	if (!str_match(m->devname, e->devname) || !str_match(m->devtype, e->devtype))
		return false;
	if (m->need_devname && (!e->devname || !e->devname[0]))
		return false;
	if (m->devpath_prefix) {
		size_t l = strlen(m->devpath_prefix);
		/* A prefix ends at a component: ".../0000:01:00.0" must not match ".../0000:01:00.1". */
		if (strncmp(e->devpath, m->devpath_prefix, l) != 0 || (e->devpath[l] != '\0' && e->devpath[l] != '/' &&
								      m->devpath_prefix[l - 1] != '/'))
			return false;
	}
	return true;
}

static dev_entry **find_slot(dev_table *t, const char *devpath) {
	for (dev_entry **p = &t->head; *p; p = &(*p)->next)
		if (strcmp((*p)->devpath, devpath) == 0)
			return p;
	return NULL;
}

static dev_entry *entry_new(const uevent *ev) {
	const char *src[] = { ev->devpath, ev->subsystem, ev->devname, ev->devtype, ev->modalias, ev->driver };
	size_t total = sizeof(dev_entry);
	for (size_t i = 0; i < ELEMENTSOF(src); i++)
		total += src[i] ? strlen(src[i]) + 1 : 0;
	dev_entry *e = calloc(1, total);
	if (!e)
		return NULL;
	char *p = (char *)(e + 1);
	char **dst[] = { &e->devpath, &e->subsystem, &e->devname, &e->devtype, &e->modalias, &e->driver };
	for (size_t i = 0; i < ELEMENTSOF(src); i++) {
		if (!src[i])
			continue;
		size_t l = strlen(src[i]) + 1;
		memcpy(p, src[i], l);
		*dst[i] = p;
		p += l;
	}
	e->has_devnum = ev->has_devnum;
	e->major = ev->major;
	e->minor = ev->minor;
	e->seqnum = ev->seqnum;
	return e;
}

static void fire_waiters(dev_table *t, const dev_entry *e) {
	uint64_t limit = t->gen;
	for (dev_waiter **p = &t->waiters; *p;) {
		dev_waiter *w = *p;
		if (w->gen >= limit || !dev_match_entry(&w->m, e)) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		t->n_waiters--;
		w->fn(w, e, w->userdata);
		waiter_free(w);
		/* A callback may have cancelled waiters: start over from the head; fired ones are gone, and the ones
		 * it added are newer than limit. */
		p = &t->waiters;
	}
}

int dev_table_apply(dev_table *t, const uevent *ev) {
	dev_entry **slot = find_slot(t, ev->devpath);

	t->stats.events++;
	if (ev->action == UEVENT_REMOVE) {
		if (slot) {
			dev_entry *old = *slot;
			*slot = old->next;
			entry_free(old);
			t->n--;
		}
		return 0;
	}
	if (ev->action == UEVENT_UNBIND || ev->action == UEVENT_OFFLINE) {
		/* The device is still there, only its driver or state changed. */
		if (!slot)
			return 0;
	}
	if (!slot && t->n >= DEV_TABLE_MAX) {
		t->stats.table_full++;
		return -ENOSPC;
	}
	dev_entry *e = entry_new(ev);
	if (!e)
		return -ENOMEM;
	if (slot) {
		/* A change or bind event may lack what the add had (DEVNAME on a "bind"): keep the known values. */
		dev_entry *old = *slot;
		if ((!e->devname && old->devname) || (!e->driver && old->driver && ev->action != UEVENT_UNBIND) ||
		    (!e->devtype && old->devtype) || (!e->modalias && old->modalias)) {
			uevent merged = *ev;
			merged.devname = ev->devname ? ev->devname : old->devname;
			merged.devtype = ev->devtype ? ev->devtype : old->devtype;
			merged.modalias = ev->modalias ? ev->modalias : old->modalias;
			merged.driver = ev->driver ? ev->driver : ev->action == UEVENT_UNBIND ? NULL : old->driver;
			if (!ev->has_devnum && old->has_devnum) {
				merged.has_devnum = true;
				merged.major = old->major;
				merged.minor = old->minor;
			}
			dev_entry *m = entry_new(&merged);
			entry_free(e);
			if (!m)
				return -ENOMEM;
			e = m;
		}
		e->next = old->next;
		*slot = e;
		entry_free(old);
	} else {
		e->next = t->head;
		t->head = e;
		t->n++;
	}
	fire_waiters(t, e);
	return 0;
}

const dev_entry *dev_table_find(const dev_table *t, const dev_match *m) {
	for (const dev_entry *e = t->head; e; e = e->next)
		if (dev_match_entry(m, e))
			return e;
	return NULL;
}

/* Records the device a sysfs class entry links to, from its uevent file. */
static void scan_one(dev_table *t, int dfd, const char *name, const char *subsystem) {
	char link[PATH_MAX], devpath[PATH_MAX], file[PATH_MAX + 16];
	_cleanup_free_ char *text = NULL;
	size_t size;
	uevent ev;

	ssize_t n = readlinkat(dfd, name, link, sizeof link - 1);
	if (n <= 0)
		return;
	link[n] = '\0';
	/* "../../devices/pci0000:00/..." (class) or "../../../devices/..." (bus): DEVPATH starts at /devices. */
	const char *d = strstr(link, "/devices/");
	if (!d || format_checked(devpath, sizeof devpath, "%s", d) < 0)
		return;
	if (find_slot(t, devpath))
		return;
	if (format_checked(file, sizeof file, "%s%s/uevent", t->sysfs, devpath) < 0)
		return;
	if (read_file_capped(AT_FDCWD, file, SYSFS_UEVENT_MAX, &text, &size) < 0)
		return;
	if (uevent_parse_sysfs(text, size, devpath, subsystem, &ev) < 0) {
		t->stats.malformed++;
		return;
	}
	(void)dev_table_apply(t, &ev);
}

static void scan_subsystem(dev_table *t, const char *subsystem) {
	/* Classes (block, net) list their devices under class/, buses (memory, cpu, pci) under bus/. */
	char paths[2][PATH_MAX];
	if (format_checked(paths[0], sizeof paths[0], "%s/class/%s", t->sysfs, subsystem) < 0 ||
	    format_checked(paths[1], sizeof paths[1], "%s/bus/%s/devices", t->sysfs, subsystem) < 0)
		return;
	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		const char *path = paths[i];
		DIR *d = opendir(path);
		if (!d)
			continue;
		struct dirent *de;
		unsigned seen = 0;
		while ((de = readdir(d)) && seen++ < DEV_SCAN_MAX)
			if (de->d_name[0] != '.')
				scan_one(t, dirfd(d), de->d_name, subsystem);
		closedir(d);
		return;
	}
}

int dev_table_lookup(dev_table *t, const dev_match *m, const dev_entry **ret) {
	const dev_entry *e = dev_table_find(t, m);
	if (!e && m->subsystem && !strchr(m->subsystem, '/') && strcmp(m->subsystem, "..") != 0) {
		scan_subsystem(t, m->subsystem);
		e = dev_table_find(t, m);
	}
	if (!e)
		return 0;
	*ret = e;
	return 1;
}

void dev_table_rescan(dev_table *t) {
	const char *subsystems[16];
	char copies[16][UEVENT_KEY_MAX + 1];
	size_t n = 0;

	/* Copies first: scanning fires waiters, which frees them and their strings. */
	for (const dev_waiter *w = t->waiters; w && n < ELEMENTSOF(subsystems); w = w->next) {
		bool dup = false;
		for (size_t i = 0; i < n && !dup; i++)
			dup = strcmp(subsystems[i], w->m.subsystem) == 0;
		if (dup || strchr(w->m.subsystem, '/') || format_checked(copies[n], sizeof copies[n], "%s", w->m.subsystem) < 0)
			continue;
		subsystems[n] = copies[n];
		n++;
	}
	for (size_t i = 0; i < n; i++)
		scan_subsystem(t, subsystems[i]);
}

static char *copy_into(char **p, const char *s) {
	if (!s)
		return NULL;
	char *r = *p;
	size_t l = strlen(s) + 1;
	memcpy(r, s, l);
	*p += l;
	return r;
}

int dev_waiter_add(dev_table *t, const dev_match *m, const char *what, dev_waiter_fn fn, void *userdata,
		   dev_waiter **ret) {
	const char *src[] = { m->subsystem, m->devpath_prefix, m->devname, m->devtype };
	size_t total = 1;

	if (!m->subsystem || !fn)
		return -EINVAL;
	if (t->n_waiters >= DEV_WAITERS_MAX)
		return -EBUSY;
	for (size_t i = 0; i < ELEMENTSOF(src); i++)
		total += src[i] ? strlen(src[i]) + 1 : 0;
	dev_waiter *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->strings = malloc(total);
	w->what = strdup(what ? what : m->subsystem);
	if (!w->strings || !w->what) {
		waiter_free(w);
		return -ENOMEM;
	}
	char *p = w->strings;
	w->m = (dev_match){ .need_devname = m->need_devname };
	w->m.subsystem = copy_into(&p, m->subsystem);
	w->m.devpath_prefix = copy_into(&p, m->devpath_prefix);
	w->m.devname = copy_into(&p, m->devname);
	w->m.devtype = copy_into(&p, m->devtype);
	w->fn = fn;
	w->userdata = userdata;
	w->gen = t->gen++;
	dev_waiter **tail = &t->waiters;
	while (*tail)
		tail = &(*tail)->next;
	*tail = w;
	t->n_waiters++;
	if (ret)
		*ret = w;
	return 0;
}

void dev_waiter_cancel(dev_table *t, dev_waiter *w) {
	for (dev_waiter **p = &t->waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			t->n_waiters--;
			waiter_free(w);
			return;
		}
}

const char *dev_waiter_what(const dev_waiter *w) {
	return w->what;
}
