/* Kernel uevents: the NETLINK_KOBJECT_UEVENT socket, a strict parser of the kernel's message format, and the
 * coldplug pass that makes the kernel announce devices that existed before anyone listened.
 *
 * A kernel message is "ACTION@DEVPATH\0" followed by "KEY=VALUE\0" records (lib/kobject_uevent.c). Only the
 * kernel's own messages are accepted (sender port id 0): udevd's re-broadcasts ("libudev\0" + header) and
 * anything a process sends are dropped. The parser never trusts a length or a count it did not check. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The kernel's UEVENT_BUFFER_SIZE is 2048 bytes of records plus the header; a larger message is malformed. */
#define UEVENT_MSG_MAX 8192
#define UEVENT_RECORDS_MAX 64 /* the kernel's UEVENT_NUM_ENVP is 64 */
#define UEVENT_KEY_MAX 64
#define UEVENT_DEVPATH_MAX 1024
#define UEVENT_VALUE_MAX 2048

typedef enum uevent_action {
	UEVENT_ADD,
	UEVENT_REMOVE,
	UEVENT_CHANGE,
	UEVENT_MOVE,
	UEVENT_ONLINE,
	UEVENT_OFFLINE,
	UEVENT_BIND,
	UEVENT_UNBIND,
	_UEVENT_ACTION_MAX,
} uevent_action;

/* A parsed message. Strings point into the buffer given to uevent_parse; absent fields are NULL. */
typedef struct uevent {
	uevent_action action;
	const char *devpath;   /* "/devices/...", no "." or ".." components */
	const char *subsystem; /* required */
	const char *devname;   /* relative to /dev, no "." or ".." components */
	const char *devtype;
	const char *modalias;
	const char *driver;
	uint64_t seqnum;
	bool has_devnum;
	uint32_t major, minor;
} uevent;

const char *uevent_action_to_string(uevent_action a);
int uevent_action_from_string(const char *s, uevent_action *ret);

/* Parses one kernel message of len bytes. -EBADMSG for anything malformed: a missing or unknown action, a
 * header that disagrees with the ACTION=/DEVPATH= records, a record without '=' or with a bad key, a duplicate
 * key, more than UEVENT_RECORDS_MAX records, over-long values, an unterminated last record, MAJOR without
 * MINOR, a DEVNAME or DEVPATH that could escape its directory. */
int uevent_parse(const char *buf, size_t len, uevent *ret);

/* Parses a sysfs `uevent` file (KEY=VALUE lines, no ACTION/DEVPATH/SEQNUM) of the device at devpath into an
 * "add" event, as if the kernel had just announced it. buf holds len bytes followed by a NUL (as
 * read_file_capped gives it) and is modified: lines are NUL-terminated in place. */
int uevent_parse_sysfs(char *buf, size_t len, const char *devpath, const char *subsystem, uevent *ret);

/* A NETLINK_KOBJECT_UEVENT socket bound to the kernel's multicast group, close-on-exec and non-blocking, with
 * a receive buffer large enough for a coldplug burst. */
int uevent_open(int *ret_fd, kc_error *err);

/* Receives one message into buf (UEVENT_MSG_MAX bytes or more). -EAGAIN when none is queued; -EPERM for a
 * message that did not come from the kernel; -EBADMSG for a truncated one; -ENOBUFS when the kernel dropped
 * messages because the socket buffer was full (the caller should rescan). */
int uevent_receive(int fd, char *buf, size_t size, size_t *ret_len);

/* Writes "add" to every `uevent` file under devices_dir (normally /sys/devices), parents before children,
 * without following symlinks, at most max_depth levels deep and max_files files. Returns the number of files
 * written (devices whose write failed are skipped). */
#define UEVENT_COLDPLUG_DEPTH 24
#define UEVENT_COLDPLUG_FILES 16384
int uevent_coldplug(const char *devices_dir, kc_error *err);
