/* The uevent socket, the kernel message parser and coldplug. */
#include "storage/uevent.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/util.h"

/* Enough for the burst of a coldplug pass over a few hundred devices (each message is well under 1 KiB):
 * SO_RCVBUFFORCE works for root (PID 1); elsewhere SO_RCVBUF gets what rmem_max allows. */
#define UEVENT_RCVBUF (4 << 20)

static const char *const action_names[_UEVENT_ACTION_MAX] = {
	[UEVENT_ADD] = "add",       [UEVENT_REMOVE] = "remove", [UEVENT_CHANGE] = "change",
	[UEVENT_MOVE] = "move",     [UEVENT_ONLINE] = "online", [UEVENT_OFFLINE] = "offline",
	[UEVENT_BIND] = "bind",     [UEVENT_UNBIND] = "unbind",
};

const char *uevent_action_to_string(uevent_action a) {
	return (unsigned)a < _UEVENT_ACTION_MAX ? action_names[a] : "?";
}

int uevent_action_from_string(const char *s, uevent_action *ret) {
	for (size_t i = 0; i < _UEVENT_ACTION_MAX; i++)
		if (strcmp(s, action_names[i]) == 0) {
			*ret = (uevent_action)i;
			return 0;
		}
	return -EINVAL;
}

/* A path made of '/'-separated components, none empty, "." or "..", printable without spaces; absolute when
 * asked. The kernel never sends anything else, so anything else is a forgery or corruption. */
static bool path_ok(const char *p, bool absolute, size_t max) {
	size_t len = strnlen(p, max + 1);
	if (len == 0 || len > max || (absolute != (p[0] == '/')))
		return false;
	for (const char *c = absolute ? p + 1 : p;;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)c[i] <= 0x20 || (unsigned char)c[i] >= 0x7f)
				return false;
		if (!c[n])
			return true;
		c += n + 1;
	}
}

static bool key_ok(const char *k, size_t n) {
	if (n == 0 || n > UEVENT_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

static int parse_u32(const char *s, uint32_t *ret) {
	uint64_t v;
	if (parse_u64(s, 10, &v) < 0 || v > UINT32_MAX)
		return -EBADMSG;
	*ret = (uint32_t)v;
	return 0;
}

/* The records we keep, by key: where each one lands in the event. */
typedef struct field {
	const char *key;
	size_t offset;
} field;

static const field fields[] = {
	{ "DEVPATH", offsetof(uevent, devpath) },   { "SUBSYSTEM", offsetof(uevent, subsystem) },
	{ "DEVNAME", offsetof(uevent, devname) },   { "DEVTYPE", offsetof(uevent, devtype) },
	{ "MODALIAS", offsetof(uevent, modalias) }, { "DRIVER", offsetof(uevent, driver) },
};

typedef struct parse_state {
	const char *action, *seqnum, *major, *minor;
	uint64_t seen; /* bit per key of `fields` and of the four above, for duplicates */
} parse_state;

/* One KEY=VALUE record. */
static int take_record(const char *rec, size_t n, uevent *e, parse_state *st) {
	const char *eq = memchr(rec, '=', n);
	if (!eq || !key_ok(rec, (size_t)(eq - rec)) || n - (size_t)(eq - rec) - 1 > UEVENT_VALUE_MAX)
		return -EBADMSG;
	size_t kl = (size_t)(eq - rec);
	const char *v = eq + 1;
	static const char *const extra[] = { "ACTION", "SEQNUM", "MAJOR", "MINOR" };
	const char **extra_dst[] = { &st->action, &st->seqnum, &st->major, &st->minor };

	for (size_t i = 0; i < ELEMENTSOF(fields) + ELEMENTSOF(extra); i++) {
		const char *k = i < ELEMENTSOF(fields) ? fields[i].key : extra[i - ELEMENTSOF(fields)];
		if (strlen(k) != kl || memcmp(k, rec, kl) != 0)
			continue;
		if (st->seen & (1ull << i))
			return -EBADMSG;
		st->seen |= 1ull << i;
		if (i < ELEMENTSOF(fields))
			*(const char **)((char *)e + fields[i].offset) = v;
		else
			*extra_dst[i - ELEMENTSOF(fields)] = v;
		return 0;
	}
	return 0; /* a key we do not keep (SYNTH_UUID, PCI_ID, ...) */
}

/* What every event must satisfy, whatever its origin. */
static int check_event(uevent *e, const parse_state *st) {
	if (!e->devpath || !path_ok(e->devpath, true, UEVENT_DEVPATH_MAX))
		return -EBADMSG;
	if (!e->subsystem || !path_ok(e->subsystem, false, UEVENT_KEY_MAX) || strchr(e->subsystem, '/'))
		return -EBADMSG;
	if (e->devname && !path_ok(e->devname, false, UEVENT_DEVPATH_MAX))
		return -EBADMSG;
	if (!st->major != !st->minor)
		return -EBADMSG;
	if (st->major) {
		if (parse_u32(st->major, &e->major) < 0 || parse_u32(st->minor, &e->minor) < 0)
			return -EBADMSG;
		e->has_devnum = true;
	}
	return 0;
}

int uevent_parse(const char *buf, size_t len, uevent *ret) {
	uevent e = { 0 };
	parse_state st = { 0 };
	size_t nrec = 0;

	if (!buf || len < 2 || len > UEVENT_MSG_MAX || buf[len - 1] != '\0')
		return -EBADMSG;
	/* The header: ACTION@DEVPATH. */
	size_t hl = strlen(buf);
	const char *at = memchr(buf, '@', hl);
	if (!at)
		return -EBADMSG;
	size_t al = (size_t)(at - buf);
	const char *hpath = at + 1;
	for (size_t off = hl + 1; off < len;) {
		size_t n = strlen(buf + off); /* bounded: buf[len - 1] is NUL */
		if (n == 0 || ++nrec > UEVENT_RECORDS_MAX)
			return -EBADMSG;
		int r = take_record(buf + off, n, &e, &st);
		if (r < 0)
			return r;
		off += n + 1;
	}
	if (!st.action || !st.seqnum || uevent_action_from_string(st.action, &e.action) < 0)
		return -EBADMSG;
	if (strlen(st.action) != al || memcmp(st.action, buf, al) != 0 || !e.devpath || strcmp(e.devpath, hpath))
		return -EBADMSG;
	if (parse_u64(st.seqnum, 10, &e.seqnum) < 0)
		return -EBADMSG;
	int r = check_event(&e, &st);
	if (r < 0)
		return r;
	*ret = e;
	return 0;
}

int uevent_parse_sysfs(char *buf, size_t len, const char *devpath, const char *subsystem, uevent *ret) {
	uevent e = { .action = UEVENT_ADD, .devpath = devpath, .subsystem = subsystem };
	parse_state st = { 0 };
	size_t nrec = 0;

	if (len > UEVENT_MSG_MAX)
		return -EBADMSG;
	if (len > 0 && buf[len] != '\0')
		return -EBADMSG; /* the caller's buffer holds len bytes and a NUL */
	for (size_t off = 0; off < len;) {
		char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
		if (nl)
			*nl = '\0';
		if (n > 0) {
			if (strlen(buf + off) != n || ++nrec > UEVENT_RECORDS_MAX)
				return -EBADMSG;
			int r = take_record(buf + off, n, &e, &st);
			if (r < 0)
				return r;
		}
		off += n + 1;
	}
	/* The file has no DEVPATH or SUBSYSTEM records; the ones given win. */
	e.devpath = devpath;
	e.subsystem = subsystem;
	int r = check_event(&e, &st);
	if (r < 0)
		return r;
	*ret = e;
	return 0;
}

int uevent_open(int *ret_fd, kc_error *err) {
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int size = UEVENT_RCVBUF;

	_cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return kc_error_set(err, errno, "uevent socket: %m");
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return kc_error_set(err, errno, "uevent socket: bind to the kernel's group: %m");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int uevent_receive(int fd, char *buf, size_t size, size_t *ret_len) {
	struct sockaddr_nl sa = { 0 };
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof sa, .msg_iov = &iov, .msg_iovlen = 1 };

	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	/* Port id 0 is the kernel; every user-space socket has another. */
	if (mh.msg_namelen != sizeof sa || sa.nl_family != AF_NETLINK || sa.nl_pid != 0)
		return -EPERM;
	if (mh.msg_flags & MSG_TRUNC)
		return -EBADMSG;
	*ret_len = (size_t)n;
	return 0;
}

/* ---- coldplug ---- */

typedef struct walk {
	unsigned files;
	unsigned written;
} walk;

static void coldplug_dir(int dfd, unsigned depth, walk *w) {
	/* The device itself first, then its children: a parent's driver may be what creates the children. */
	_cleanup_close_ int ufd = openat(dfd, "uevent", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (ufd >= 0 && w->files < UEVENT_COLDPLUG_FILES) {
		w->files++;
		if (write(ufd, "add", 3) == 3)
			w->written++;
	}
	if (depth >= UEVENT_COLDPLUG_DEPTH)
		return;
	int fd2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd2 < 0)
		return;
	DIR *d = fdopendir(fd2);
	if (!d) {
		safe_close(fd2);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && w->files < UEVENT_COLDPLUG_FILES) {
		/* sysfs fills d_type; the links (subsystem, driver, device, ...) are DT_LNK and never followed. */
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_close_ int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd >= 0)
			coldplug_dir(cfd, depth + 1, w);
	}
	closedir(d);
}

int uevent_coldplug(const char *devices_dir, kc_error *err) {
	walk w = { 0 };
	_cleanup_close_ int fd = open(devices_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "coldplug: open %s: %m", devices_dir);
	coldplug_dir(fd, 0, &w);
	return (int)w.written;
}
