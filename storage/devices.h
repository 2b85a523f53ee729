/* The device table: every device the kernel announced (uevents, coldplug, sysfs scans), keyed by DEVPATH, and
 * the waiters for devices that have not appeared yet. Pure bookkeeping plus bounded sysfs reads; it knows
 * nothing of the event loop: deadlines belong to whoever registered a waiter.
 *
 * A waiter matches exact fields (SUBSYSTEM, DEVNAME, DEVTYPE) and a DEVPATH prefix that ends at a component
 * boundary. Nothing is matched by substring. A device that arrived before its waiter is found by
 * dev_table_lookup, which looks in the table and then at sysfs, so no event is ever "too early". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "storage/uevent.h"

#define DEV_TABLE_MAX 16384  /* devices remembered; sysfs on a small guest has a few hundred */
#define DEV_WAITERS_MAX 1024 /* waiters at once */
#define DEV_SCAN_MAX 4096    /* entries of one sysfs class directory looked at */

typedef struct dev_entry {
	struct dev_entry *next;
	char *devpath, *subsystem, *devname, *devtype, *modalias, *driver; /* NULL when absent */
	bool has_devnum;
	uint32_t major, minor;
	uint64_t seqnum;
} dev_entry;

typedef struct dev_match {
	const char *subsystem;      /* required, exact */
	const char *devpath_prefix; /* NULL: any; else DEVPATH equals it or continues with '/' */
	const char *devname;        /* NULL: any; else exact */
	const char *devtype;        /* NULL: any; else exact */
	bool need_devname;          /* the device must have a node (a block device, not just a kobject) */
} dev_match;

typedef struct dev_waiter dev_waiter;
/* Called once, when a matching device is there; the waiter is already unlinked and is freed after the call
 * returns. The entry is valid during the call only. */
typedef void (*dev_waiter_fn)(dev_waiter *w, const dev_entry *e, void *userdata);

typedef struct dev_stats {
	uint64_t events, malformed, foreign, overflows, table_full;
} dev_stats;

typedef struct dev_table {
	dev_entry *head;
	size_t n;
	dev_waiter *waiters; /* oldest first */
	size_t n_waiters;
	uint64_t gen;
	const char *sysfs; /* "/sys", or a fake tree in tests */
	dev_stats stats;
} dev_table;

void dev_table_init(dev_table *t, const char *sysfs);
/* Frees every entry and waiter (waiters are dropped without a call). */
void dev_table_done(dev_table *t);

bool dev_match_entry(const dev_match *m, const dev_entry *e);

/* Records an event: add, change, bind, online, move (the entry is replaced) or remove (the entry goes). Then
 * the waiters that the device now matches are called, oldest first. -ENOSPC when the table is full. */
int dev_table_apply(dev_table *t, const uevent *e);

const dev_entry *dev_table_find(const dev_table *t, const dev_match *m);
/* Looks in the table, then scans sysfs for devices of m->subsystem (recording what it finds). Returns 1 with
 * *ret set when a device matches, 0 when none does. */
int dev_table_lookup(dev_table *t, const dev_match *m, const dev_entry **ret);

/* Looks at sysfs again for the subsystems that waiters wait on, recording (and so firing waiters for) devices
 * the table lacks: after the uevent socket overflowed and events were lost. */
void dev_table_rescan(dev_table *t);

/* Registers a waiter; the strings of m are copied. what names the awaited device in messages. Does not look
 * at the table: call dev_table_lookup first (nothing runs in between in a single-threaded agent). */
int dev_waiter_add(dev_table *t, const dev_match *m, const char *what, dev_waiter_fn fn, void *userdata,
		   dev_waiter **ret);
/* Unlinks and frees a waiter that has not fired. */
void dev_waiter_cancel(dev_table *t, dev_waiter *w);
const char *dev_waiter_what(const dev_waiter *w);
