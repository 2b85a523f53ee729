#include "storage/options.h"

#include <string.h>
#include <sys/mount.h>

enum {
	OPT_SET = 0,   /* sets the flag */
	OPT_CLEAR = 1, /* clears it (the "rw" of "ro") */
	OPT_PROP = 2,  /* a propagation type: needs its own mount call */
};

typedef struct opt_entry {
	const char *name;
	unsigned long flag;
	int kind;
} opt_entry;

/* mount(8)'s names for the generic flags. "defaults" is rw,suid,dev,exec,auto,nouser,async: all clear
 * bits, so it sets nothing. */
static const opt_entry opt_table[] = {
	{ "defaults", 0, OPT_SET },
	{ "ro", MS_RDONLY, OPT_SET },
	{ "rw", MS_RDONLY, OPT_CLEAR },
	{ "nosuid", MS_NOSUID, OPT_SET },
	{ "suid", MS_NOSUID, OPT_CLEAR },
	{ "nodev", MS_NODEV, OPT_SET },
	{ "dev", MS_NODEV, OPT_CLEAR },
	{ "noexec", MS_NOEXEC, OPT_SET },
	{ "exec", MS_NOEXEC, OPT_CLEAR },
	{ "sync", MS_SYNCHRONOUS, OPT_SET },
	{ "async", MS_SYNCHRONOUS, OPT_CLEAR },
	{ "dirsync", MS_DIRSYNC, OPT_SET },
	{ "remount", MS_REMOUNT, OPT_SET },
	{ "mand", MS_MANDLOCK, OPT_SET },
	{ "nomand", MS_MANDLOCK, OPT_CLEAR },
	{ "atime", MS_NOATIME, OPT_CLEAR },
	{ "noatime", MS_NOATIME, OPT_SET },
	{ "diratime", MS_NODIRATIME, OPT_CLEAR },
	{ "nodiratime", MS_NODIRATIME, OPT_SET },
	{ "relatime", MS_RELATIME, OPT_SET },
	{ "norelatime", MS_RELATIME, OPT_CLEAR },
	{ "strictatime", MS_STRICTATIME, OPT_SET },
	{ "nostrictatime", MS_STRICTATIME, OPT_CLEAR },
	{ "lazytime", MS_LAZYTIME, OPT_SET },
	{ "nolazytime", MS_LAZYTIME, OPT_CLEAR },
	{ "iversion", MS_I_VERSION, OPT_SET },
	{ "noiversion", MS_I_VERSION, OPT_CLEAR },
	{ "silent", MS_SILENT, OPT_SET },
	{ "loud", MS_SILENT, OPT_CLEAR },
	{ "bind", MS_BIND, OPT_SET },
	{ "rbind", MS_BIND | MS_REC, OPT_SET },
	{ "private", MS_PRIVATE, OPT_PROP },
	{ "rprivate", MS_PRIVATE | MS_REC, OPT_PROP },
	{ "shared", MS_SHARED, OPT_PROP },
	{ "rshared", MS_SHARED | MS_REC, OPT_PROP },
	{ "slave", MS_SLAVE, OPT_PROP },
	{ "rslave", MS_SLAVE | MS_REC, OPT_PROP },
	{ "unbindable", MS_UNBINDABLE, OPT_PROP },
	{ "runbindable", MS_UNBINDABLE | MS_REC, OPT_PROP },
};

static const opt_entry *opt_find(const char *s, size_t len) {
	for (size_t i = 0; i < ELEMENTSOF(opt_table); i++)
		if (strlen(opt_table[i].name) == len && memcmp(opt_table[i].name, s, len) == 0)
			return &opt_table[i];
	return NULL;
}

static int data_append(stor_mount_opts *o, const char *s, size_t len) {
	size_t need = len + (o->data_len ? 1 : 0);
	if (o->data_len + need >= sizeof o->data)
		return -E2BIG;
	if (o->data_len)
		o->data[o->data_len++] = ',';
	memcpy(o->data + o->data_len, s, len);
	o->data_len += len;
	o->data[o->data_len] = '\0';
	return 0;
}

int stor_options_append(stor_mount_opts *o, const char *item) {
	return data_append(o, item, strlen(item));
}

static int apply_item(stor_mount_opts *o, const char *s, size_t len, const char *what, size_t idx, kc_error *err) {
	const opt_entry *e = opt_find(s, len);
	if (!e) {
		if (data_append(o, s, len) < 0)
			return kc_error_set(err, E2BIG, "%s[%zu]: the mount data exceeds %d bytes", what, idx,
					    STOR_DATA_MAX - 1);
		return 0;
	}
	switch (e->kind) {
	case OPT_SET:
		o->flags |= e->flag;
		break;
	case OPT_CLEAR:
		o->flags &= ~e->flag;
		break;
	default:
		/* One propagation type per mount point: the last one named wins. */
		o->propagation = e->flag;
		break;
	}
	return 0;
}

int stor_options_parse(const char *const *opts, size_t n, stor_mount_opts *ret, const char *what, kc_error *err) {
	stor_mount_opts o = { 0 };
	size_t items = 0;

	for (size_t i = 0; i < n; i++) {
		const char *s = opts[i];
		if (!s)
			continue;
		for (;;) {
			size_t len = strcspn(s, ",");
			if (len > STOR_OPTION_LEN_MAX)
				return kc_error_set(err, E2BIG, "%s[%zu]: an option is longer than %d bytes", what, i,
						    STOR_OPTION_LEN_MAX);
			if (len > 0) {
				if (++items > STOR_OPTIONS_MAX)
					return kc_error_set(err, E2BIG, "%s: more than %d options", what,
							    STOR_OPTIONS_MAX);
				int r = apply_item(&o, s, len, what, i, err);
				if (r < 0)
					return r;
			}
			if (s[len] == '\0')
				break;
			s += len + 1;
		}
	}
	*ret = o;
	return 0;
}

/* The length of an item's key: up to '=' or its end. */
static size_t key_len(const char *item, size_t len) {
	const char *eq = memchr(item, '=', len);
	return eq ? (size_t)(eq - item) : len;
}

/* Removes from the data every item pick() says so of (it sees each item once, in order, before anything after
 * it moves); returns how many. */
static int data_remove(stor_mount_opts *o, bool (*pick)(const char *item, size_t len, void *userdata), void *userdata) {
	size_t in = 0, out = 0;
	int n = 0;
	while (in < o->data_len) {
		const char *item = o->data + in;
		size_t len = strcspn(item, ",");
		if (pick(item, len, userdata))
			n++;
		else {
			if (out)
				o->data[out++] = ',';
			memmove(o->data + out, item, len);
			out += len;
		}
		in += len + 1;
	}
	o->data_len = out;
	o->data[out] = '\0';
	return n;
}

typedef struct take_ctx {
	const char *key;
	size_t klen;
	char *buf;
} take_ctx;

static bool take_item(const char *item, size_t len, void *userdata) {
	take_ctx *t = userdata;
	if (key_len(item, len) != t->klen || memcmp(item, t->key, t->klen) != 0)
		return false;
	/* A bare key is present with an empty value, for the caller to refuse. */
	size_t vlen = len > t->klen ? len - t->klen - 1 : 0;
	memcpy(t->buf, item + len - vlen, vlen);
	t->buf[vlen] = '\0';
	return true;
}

int stor_options_take(stor_mount_opts *o, const char *key, char *buf, size_t size) {
	take_ctx t = { .key = key, .klen = strlen(key), .buf = buf };

	/* Check every value first, so a failure leaves the data as it was. */
	for (size_t i = 0; i < o->data_len;) {
		const char *item = o->data + i;
		size_t len = strcspn(item, ",");
		if (key_len(item, len) == t.klen && memcmp(item, key, t.klen) == 0 &&
		    (len > t.klen ? len - t.klen - 1 : 0) >= size)
			return -ENAMETOOLONG;
		i += len + 1;
	}
	return data_remove(o, take_item, &t) > 0;
}

bool stor_options_has(const stor_mount_opts *o, const char *key) {
	size_t klen = strlen(key), in = 0;
	while (in < o->data_len) {
		const char *item = o->data + in;
		size_t len = strcspn(item, ",");
		if (key_len(item, len) == klen && memcmp(item, key, klen) == 0)
			return true;
		in += len + 1;
	}
	return false;
}

static bool has_prefix(const char *item, size_t len, void *userdata) {
	const char *prefix = userdata;
	size_t plen = strlen(prefix);
	return len >= plen && memcmp(item, prefix, plen) == 0;
}

int stor_options_drop_prefix(stor_mount_opts *o, const char *prefix) {
	return data_remove(o, has_prefix, (void *)prefix);
}
