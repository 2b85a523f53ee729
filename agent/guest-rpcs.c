/* The guest-wide RPCs that need no container: RemoveStaleVirtiofsShareMounts, SetGuestDateTime,
 * ReseedRandomDev, CopyFile, GetVolumeStats, ResizeVolume, AddSwap and AddSwapPath. */
#define LOG_SOURCE "rpc"
#include <fcntl.h>
#include <limits.h>
#include <linux/random.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent/agent.h"
#include "agent/child.h"
#include "agent/devices.h"
#include "agent/sandbox.h"
#include "common/log.h"
#include "common/util.h"
#include "csi.pb-c.h"
#include "common/path.h"
#include "storage/storage.h"

#define HELPER_TIMEOUT_MS 30000
#define MOUNTINFO_MAX (8u << 20)
#define RESEED_MAX (64u << 10)
#define COPY_FILE_MAX (1ull << 30)
#define SHARED_PREFIX STOR_SHARED_CONTAINERS "/"

/* A helper-backed call: the state shared by the handler, the helper and the done/cancel callbacks. */
typedef struct helper_call {
	agent *agent;
	ttrpc_call *call;
	pid_t pid;
	void *shared; /* agent_shared_alloc'd, shared_size bytes */
	size_t shared_size;
	const ProtobufCMessage *req; /* valid in the helper (its copy); the agent's goes with the call */
	char path[PATH_MAX];          /* the helper's input, when it needs one */
} helper_call;

static helper_call *helper_call_free(helper_call *h) {
	if (h) {
		agent_shared_free(h->shared, h->shared_size);
		free(h);
	}
	return NULL;
}

static void helper_call_cancel(ttrpc_call *call, void *userdata) {
	helper_call *h = userdata;
	/* Read-only work: killing the helper loses nothing. */
	helper_abandon(h->agent, h->pid);
	helper_call_free(h);
}

static int helper_call_start(agent *a, ttrpc_call *call, const ProtobufCMessage *req, const char *what,
			     helper_work_fn work, helper_done_fn done, size_t shared_size, const char *path,
			     kc_error *err) {
	helper_call *h = calloc(1, sizeof *h);
	if (!h)
		return kc_error_set(err, ENOMEM, "%s: out of memory", what);
	h->agent = a;
	h->call = call;
	h->req = req;
	if (path)
		(void)format_checked(h->path, sizeof h->path, "%s", path);
	if (shared_size) {
		h->shared = agent_shared_alloc(shared_size);
		if (!h->shared) {
			helper_call_free(h);
			return kc_error_set(err, ENOMEM, "%s: shared page: %m", what);
		}
		h->shared_size = shared_size;
	}
	int r = helper_run(a, what, work, h, HELPER_TIMEOUT_MS, done, h);
	if (r < 0) {
		helper_call_free(h);
		return kc_error_set(err, r, "%s: cannot start a helper: %s", what, strerror(-r));
	}
	h->pid = r;
	ttrpc_call_on_cancel(call, helper_call_cancel, h);
	return TTRPC_PENDING;
}

static void reply_empty_done(int result, const kc_error *err, void *userdata) {
	helper_call *h = userdata;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	ttrpc_call_on_cancel(h->call, NULL, NULL);
	if (result < 0)
		ttrpc_call_fail_error(h->call, err);
	else
		ttrpc_call_reply(h->call, &empty.base);
	helper_call_free(h);
}

/* ---- RemoveStaleVirtiofsShareMounts ---- */

/* mountinfo escapes space, tab, newline and backslash as \ooo; decodes in place. */
static void unescape_octal(char *s) {
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else
			*o++ = *p;
	}
	*o = '\0';
}

/* stat() makes virtiofsd look the inode up again, so it drops the ones that went stale (kata #6455). */
static int stale_mounts_work(void *userdata, kc_error *err) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(AT_FDCWD, "/proc/self/mountinfo", MOUNTINFO_MAX, &text, NULL);
	if (r < 0)
		return kc_error_set(err, r, "read /proc/self/mountinfo: %s", strerror(-r));
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* id parent major:minor root mount-point ... */
		char *f = line;
		for (int i = 0; i < 4 && f; i++) {
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		if (!f)
			continue;
		f[strcspn(f, " ")] = '\0';
		unescape_octal(f);
		if (!startswith(f, SHARED_PREFIX))
			continue;
		struct stat st;
		if (stat(f, &st) < 0)
			log_warn("RemoveStaleVirtiofsShareMounts: stat %s: %m", f);
	}
	return 0;
}

static int remove_stale_virtiofs_share_mounts(void *ctx, ttrpc_call *call, const ProtobufCMessage *req,
					      kc_error *err) {
	return helper_call_start(ctx, call, req, "RemoveStaleVirtiofsShareMounts", stale_mounts_work,
				 reply_empty_done, 0, NULL, err);
}

/* ---- SetGuestDateTime, ReseedRandomDev ---- */

static int set_guest_date_time(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__SetGuestDateTimeRequest *req = (const Grpc__SetGuestDateTimeRequest *)req_;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	if (req->sec < 0)
		return kc_error_set(err, EINVAL, "Sec: %lld is before the epoch", (long long)req->sec);
	if (req->usec < 0 || req->usec >= 1000000)
		return kc_error_set(err, EINVAL, "Usec: %lld is not within [0, 999999]", (long long)req->usec);
	struct timeval tv = { .tv_sec = (time_t)req->sec, .tv_usec = (suseconds_t)req->usec };
	if (settimeofday(&tv, NULL) < 0)
		return kc_error_set(err, errno, "settimeofday(%lld.%06lld): %m", (long long)req->sec,
				    (long long)req->usec);
	ttrpc_call_reply(call, &empty.base);
	return 0;
}

static int reseed_random_dev(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__ReseedRandomDevRequest *req = (const Grpc__ReseedRandomDevRequest *)req_;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	/* The pool holds 256 bits; more than a little seed only costs time. */
	if (req->data.len > RESEED_MAX)
		return kc_error_set(err, E2BIG, "data: %zu bytes, more than %u", req->data.len, RESEED_MAX);
	_cleanup_close_ int fd = open("/dev/random", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kc_error_set(err, errno, "open /dev/random: %m");
	int r = write_all(fd, req->data.data, req->data.len);
	if (r < 0)
		return kc_error_set(err, r, "write /dev/random: %s", strerror(-r));
	/* The write mixes the bytes in without crediting them; the host vouches for them, so credit them and
	 * have the CRNG reseed from the pool now rather than at its next interval. */
	int bits = (int)(req->data.len * 8);
	if (ioctl(fd, RNDADDTOENTCNT, &bits) < 0)
		return kc_error_set(err, errno, "RNDADDTOENTCNT on /dev/random: %m");
	if (ioctl(fd, RNDRESEEDCRNG) < 0)
		return kc_error_set(err, errno, "RNDRESEEDCRNG on /dev/random: %m");
	ttrpc_call_reply(call, &empty.base);
	return 0;
}

/* ---- CopyFile: files the host cannot share (shared_fs=none), only below the shared containers dir ---- */

/* Whether a relative symlink target stays below the shared root from a link whose parent lies depth levels
 * under it. A link the host plants must not point out, where a later path through it (resolved by someone
 * less careful than common/path.c) would land outside (GHSA-q49m-57vm-c8cc). */
static bool link_target_inside(const char *target, long depth) {
	if (target[0] == '/')
		return false;
	for (const char *p = target; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (len > 0 && !(len == 1 && p[0] == '.'))
			depth++;
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

/* How many directories below the shared root the link's parent really is. The path string cannot say: its
 * components may be symlinks (a planted `a -> .` makes `a/a/a/l` sit at depth 0). The kernel's name for the
 * opened parent can. */
static int parent_depth(int dfd, long *ret, kc_error *err) {
	char proc[64], where[PATH_MAX];
	(void)snprintf(proc, sizeof proc, "/proc/self/fd/%d", dfd);
	ssize_t n = readlink(proc, where, sizeof where - 1);
	if (n < 0)
		return kc_error_set(err, errno, "path: locate the parent directory: %m");
	where[n] = '\0';
	size_t plen = strlen(STOR_SHARED_CONTAINERS);
	if (strncmp(where, STOR_SHARED_CONTAINERS, plen) != 0 || (where[plen] != '\0' && where[plen] != '/'))
		return kc_error_set(err, EINVAL, "path: parent `%s` is not below %s", where, STOR_SHARED_CONTAINERS);
	long depth = 0;
	for (const char *p = where + plen; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			depth++;
	*ret = depth;
	return 0;
}

static int copy_dir(int dfd, const char *name, const Grpc__CopyFileRequest *req, kc_error *err) {
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return kc_error_set(err, errno, "path: mkdir `%s`: %m", req->path);
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kc_error_set(err, errno, "path: `%s`: %m", req->path);
	if (fchown(fd, (uid_t)req->uid, (gid_t)req->gid) < 0 || fchmod(fd, req->file_mode & 07777) < 0)
		return kc_error_set(err, errno, "path: ownership of `%s`: %m", req->path);
	return 0;
}

static int copy_symlink(int dfd, const char *name, const Grpc__CopyFileRequest *req,
			kc_error *err) {
	char target[PATH_MAX], old[PATH_MAX];
	size_t len = req->data.len;

	if (len == 0 || len >= sizeof target || memchr(req->data.data, '\0', len))
		return kc_error_set(err, EINVAL, "data: a symlink target of 1 to %d bytes without NUL", PATH_MAX - 1);
	memcpy(target, req->data.data, len);
	target[len] = '\0';
	long depth = 0;
	int r = parent_depth(dfd, &depth, err);
	if (r < 0)
		return r;
	if (!link_target_inside(target, depth))
		return kc_error_set(err, EINVAL, "data: symlink target `%s` of `%s` leads out of %s", target, req->path,
				    STOR_SHARED_CONTAINERS);
	if (symlinkat(target, dfd, name) < 0) {
		int e = errno;
		if (e != EEXIST)
			return kc_error_set(err, e, "path: symlink `%s`: %s", req->path, strerror(e));
		ssize_t n = readlinkat(dfd, name, old, sizeof old - 1);
		if (n < 0 || (size_t)n != len || memcmp(old, target, len) != 0)
			return kc_error_set(err, EEXIST, "path: `%s` exists and is not this symlink", req->path);
	}
	if (fchownat(dfd, name, (uid_t)req->uid, (gid_t)req->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return kc_error_set(err, errno, "path: ownership of `%s`: %m", req->path);
	return 0;
}

/* Chunks go to <name>.tmp at their offset; the chunk that completes file_size moves it into place. */
static int copy_regular(int dfd, const char *name, const Grpc__CopyFileRequest *req, kc_error *err) {
	char tmp[NAME_MAX + 1];
	struct stat st;
	_cleanup_close_ int fd = -EBADF;

	if (format_checked(tmp, sizeof tmp, "%s.tmp", name) < 0)
		return kc_error_set(err, ENAMETOOLONG, "path: `%s`: name too long", req->path);
	if (req->offset == 0) {
		/* A fresh upload starts from a new file of ours: whatever had that name goes, links included. */
		if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
			return kc_error_set(err, errno, "path: remove stale `%s.tmp`: %m", req->path);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	} else
		fd = openat(dfd, tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return kc_error_set(err, errno, "path: `%s.tmp`%s: %m", req->path,
				    req->offset && errno == ENOENT ? " (no upload at offset 0 first)" : "");
	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "path: `%s.tmp`: %m", req->path);
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		return kc_error_set(err, EINVAL, "path: `%s.tmp` is not a regular file of ours", req->path);
	for (size_t off = 0; off < req->data.len;) {
		ssize_t n = pwrite(fd, req->data.data + off, req->data.len - off, (off_t)req->offset + (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kc_error_set(err, n < 0 ? errno : EIO, "path: write `%s.tmp`: %s", req->path,
					    n < 0 ? strerror(errno) : "short write");
		off += (size_t)n;
	}
	if (fstat(fd, &st) < 0)
		return kc_error_set(err, errno, "path: `%s.tmp`: %m", req->path);
	if (st.st_size != req->file_size)
		return 0;
	/* chown before chmod: chown drops set-id bits the mode may ask for. */
	if (fchown(fd, (uid_t)req->uid, (gid_t)req->gid) < 0 || fchmod(fd, req->file_mode & 07777) < 0)
		return kc_error_set(err, errno, "path: ownership of `%s`: %m", req->path);
	if (renameat(dfd, tmp, dfd, name) < 0)
		return kc_error_set(err, errno, "path: rename `%s.tmp` into place: %m", req->path);
	return 0;
}

/* What needs no I/O, checked in the agent before a helper is started. */
static int copy_file_check(const Grpc__CopyFileRequest *req, kc_error *err) {
	const char *rel;
	mode_t type = req->file_mode & S_IFMT;
	int r = path_check_under(req->path, SHARED_PREFIX, &rel, "path", err);
	if (r < 0)
		return r;
	if (type != 0 && type != S_IFREG && type != S_IFDIR && type != S_IFLNK)
		return kc_error_set(err, EINVAL, "file_mode: %#o is neither a file, a directory nor a symlink",
				    req->file_mode);
	if (type == 0 || type == S_IFREG) {
		if (req->file_size < 0 || (uint64_t)req->file_size > COPY_FILE_MAX)
			return kc_error_set(err, E2BIG, "file_size: %lld is not within [0, %llu]",
					    (long long)req->file_size, COPY_FILE_MAX);
		if (req->offset < 0 || (uint64_t)req->offset + req->data.len > (uint64_t)req->file_size)
			return kc_error_set(err, EINVAL, "offset: %lld + %zu bytes of data go past file_size %lld",
					    (long long)req->offset, req->data.len, (long long)req->file_size);
	}
	return 0;
}

/* In a helper: the shared directory may be a remote share (9p, virtio-fs) that stops answering. */
static int copy_file_work(void *userdata, kc_error *err) {
	const helper_call *h = userdata;
	const Grpc__CopyFileRequest *req = (const Grpc__CopyFileRequest *)h->req;
	_cleanup_close_ int top = -EBADF, shared = -EBADF, dfd = -EBADF;
	const char *rel, *name;
	mode_t type = req->file_mode & S_IFMT;
	mode_t dir_mode = req->dir_mode & 07777 ? req->dir_mode & 07777 : 0755;

	int r = path_check_under(req->path, SHARED_PREFIX, &rel, "path", err);
	if (r < 0)
		return r;
	if (mkdir(STOR_ROOT, 0755) < 0 && errno != EEXIST)
		return kc_error_set(err, errno, "mkdir %s: %m", STOR_ROOT);
	top = open(STOR_ROOT, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		return kc_error_set(err, errno, "open %s: %m", STOR_ROOT);
	r = path_open_in_root(top, "shared/containers", O_PATH | O_DIRECTORY, PATH_RESOLVE_MKDIR, 0755, &shared, NULL);
	if (r < 0)
		return kc_error_set(err, r, "%s: %s", STOR_SHARED_CONTAINERS, strerror(-r));
	/* Parents are created with dir_mode, inside the shared root: symlinks on the way resolve inside it. */
	r = path_open_parent_in_root(shared, rel, PATH_RESOLVE_MKDIR, dir_mode, &dfd, &name);
	if (r < 0)
		return kc_error_set(err, r, "path: parent of `%s`: %s", req->path, strerror(-r));
	if (type == S_IFDIR)
		return copy_dir(dfd, name, req, err);
	if (type == S_IFLNK)
		return copy_symlink(dfd, name, req, err);
	return copy_regular(dfd, name, req, err);
}

static int copy_file(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	int r = copy_file_check((const Grpc__CopyFileRequest *)req_, err);
	if (r < 0)
		return r;
	/* A helper killed mid-chunk leaves at most a partial <path>.tmp, which the next offset-0 chunk replaces. */
	return helper_call_start(ctx, call, req_, "CopyFile", copy_file_work, reply_empty_done, 0, NULL, err);
}

/* ---- GetVolumeStats: statfs may hang on a dead share, so a helper asks ---- */

typedef struct volume_stats {
	uint64_t blocks, bfree, bavail, bsize, files, ffree;
} volume_stats;

static int volume_stats_work(void *userdata, kc_error *err) {
	helper_call *h = userdata;
	volume_stats *vs = h->shared;
	_cleanup_close_ int top = -EBADF, fd = -EBADF;
	struct statfs sf;

	top = open(STOR_ROOT, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		return kc_error_set(err, errno, "volume_guest_path: open %s: %m", STOR_ROOT);
	int r = path_open_in_root(top, h->path + strlen(STOR_ROOT_PREFIX), O_PATH, 0, 0, &fd, NULL);
	if (r < 0)
		return kc_error_set(err, r, "volume_guest_path: `%s`: %s", h->path, strerror(-r));
	if (fstatfs(fd, &sf) < 0)
		return kc_error_set(err, errno, "volume_guest_path: statfs `%s`: %m", h->path);
	*vs = (volume_stats){ .blocks = sf.f_blocks, .bfree = sf.f_bfree, .bavail = sf.f_bavail,
			      .bsize = (uint64_t)sf.f_frsize ? (uint64_t)sf.f_frsize : (uint64_t)sf.f_bsize,
			      .files = sf.f_files, .ffree = sf.f_ffree };
	return 0;
}

static void volume_stats_done(int result, const kc_error *err, void *userdata) {
	helper_call *h = userdata;
	const volume_stats *vs = h->shared;
	Grpc__VolumeStatsResponse resp = GRPC__VOLUME_STATS_RESPONSE__INIT;
	Grpc__VolumeUsage bytes = GRPC__VOLUME_USAGE__INIT, inodes = GRPC__VOLUME_USAGE__INIT;
	Grpc__VolumeUsage *usage[] = { &bytes, &inodes };

	ttrpc_call_on_cancel(h->call, NULL, NULL);
	if (result < 0) {
		ttrpc_call_fail_error(h->call, err);
		helper_call_free(h);
		return;
	}
	bytes.unit = GRPC__VOLUME_USAGE__UNIT__BYTES;
	bytes.total = vs->blocks * vs->bsize;
	bytes.available = vs->bavail * vs->bsize;
	bytes.used = (vs->blocks - MIN(vs->bfree, vs->blocks)) * vs->bsize;
	inodes.unit = GRPC__VOLUME_USAGE__UNIT__INODES;
	inodes.total = vs->files;
	inodes.available = vs->ffree;
	inodes.used = vs->files - MIN(vs->ffree, vs->files);
	resp.usage = usage;
	resp.n_usage = ELEMENTSOF(usage);
	ttrpc_call_reply(h->call, &resp.base);
	helper_call_free(h);
}

static int get_volume_stats(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__VolumeStatsRequest *req = (const Grpc__VolumeStatsRequest *)req_;
	const char *rel;
	int r = path_check_under(req->volume_guest_path, STOR_ROOT_PREFIX, &rel, "volume_guest_path", err);
	if (r < 0)
		return r;
	return helper_call_start(ctx, call, req_, "GetVolumeStats", volume_stats_work, volume_stats_done,
				 sizeof(volume_stats), req->volume_guest_path, err);
}

static int resize_volume(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	/* As upstream: the host resizes the block device; the guest has nothing to do yet. */
	return kc_error_set_code(err, KC_UNIMPLEMENTED, ENOSYS, "ResizeVolume is not supported");
}

/* ---- AddSwap, AddSwapPath: the host made the swap area (mkswap on its side), the guest only enables it ---- */

#define SWAP_PCI_HOPS_MAX 8
#define SWAP_DEV_PREFIX "/dev/"

typedef struct swap_call {
	agent *agent;
	ttrpc_call *call;
	const char *what;
	stor_spec spec; /* a block device to wait for: blk by PCI path, or mmioblk by node */
	char source[SWAP_PCI_HOPS_MAX * 3 + PATH_MAX];
	devices_batch *batch;
	pid_t pid;
	bool in_root; /* source is a file under STOR_ROOT, resolved inside it */
} swap_call;

static void swap_call_free(swap_call *sc) {
	if (sc) {
		devices_batch_free(sc->batch);
		free(sc);
	}
}
DEFINE_CLEANUP_FUNC(swap_call *, swap_call_free);

static void swap_cancel(ttrpc_call *call, void *userdata) {
	swap_call *sc = userdata;
	if (sc->pid > 0)
		helper_abandon(sc->agent, sc->pid);
	swap_call_free(sc);
}

/* In a helper: swapon reads the header and, for a file, maps its extents, which takes a while on a big one. */
static int swapon_work(void *userdata, kc_error *err) {
	const swap_call *sc = userdata;
	_cleanup_close_ int top = -EBADF, fd = -EBADF;
	char p[PATH_FD_PATH_MAX];
	struct stat st;

	if (sc->in_root) {
		top = open(STOR_ROOT, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (top < 0)
			return kc_error_set(err, errno, "path: open %s: %m", STOR_ROOT);
		int r = path_open_in_root(top, sc->source + strlen(STOR_ROOT_PREFIX), O_PATH, 0, 0, &fd, NULL);
		if (r < 0)
			return kc_error_set(err, r, "path: `%s`: %s", sc->source, strerror(-r));
		if (fstat(fd, &st) < 0)
			return kc_error_set(err, errno, "path: `%s`: %m", sc->source);
		if (!S_ISREG(st.st_mode))
			return kc_error_set(err, EINVAL, "path: `%s` is not a regular file", sc->source);
	} else {
		fd = open(sc->spec.device, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			return kc_error_set(err, errno, "%s: %s: %m", sc->what, sc->spec.device);
		if (!S_ISBLK(st.st_mode))
			return kc_error_set(err, ENOTBLK, "%s: %s is not a block device", sc->what, sc->spec.device);
	}
	path_fd_path(fd, p);
	if (swapon(p, 0) < 0) {
		int e = errno;
		const char *name = sc->in_root ? sc->source : sc->spec.device;
		return kc_error_set(err, e, "%s: swapon %s: %s%s", sc->what, name, strerror(e),
				    e == EINVAL ? " (no swap signature, which the host writes with mkswap, or a file "
						  "with holes)" :
				    e == EBUSY ? " (already swap, or mounted)" : "");
	}
	log_info("%s: swap on %s", sc->what, sc->in_root ? sc->source : sc->spec.device);
	return 0;
}

static void swapon_done(int result, const kc_error *err, void *userdata) {
	swap_call *sc = userdata;
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
	ttrpc_call_on_cancel(sc->call, NULL, NULL);
	if (result < 0)
		ttrpc_call_fail_error(sc->call, err);
	else
		ttrpc_call_reply(sc->call, &empty.base);
	swap_call_free(sc);
}

static int swap_start_helper(swap_call *sc, kc_error *err) {
	int r = helper_run(sc->agent, sc->what, swapon_work, sc, HELPER_TIMEOUT_MS, swapon_done, sc);
	if (r < 0)
		return kc_error_set(err, r, "%s: cannot start a helper: %s", sc->what, strerror(-r));
	sc->pid = r;
	return 0;
}

/* The device wait speaks of the storage it was written for ("storages[0].source: ..."): name our field. */
static void swap_error_field(const swap_call *sc, const kc_error *in, kc_error *out) {
	const char *msg = in->msg, *field = sc->spec.driver && strcmp(sc->spec.driver, "blk") == 0 ? "PCIPath" : "path";
	if (startswith(msg, "storages[0]") && strstr(msg, ": "))
		msg = strstr(msg, ": ") + 2;
	*out = *in;
	(void)format_checked(out->msg, sizeof out->msg, "%s: %s `%s`: %s", sc->what, field, sc->source, msg);
}

static void swap_device_done(int result, const kc_error *err, void *userdata) {
	swap_call *sc = userdata;
	kc_error e = { 0 };
	if (result >= 0 && swap_start_helper(sc, &e) >= 0)
		return;
	ttrpc_call_on_cancel(sc->call, NULL, NULL);
	if (result < 0)
		swap_error_field(sc, err, &e);
	ttrpc_call_fail_error(sc->call, &e);
	swap_call_free(sc);
}

/* Waits for the device (a pending call: Check answers meanwhile), then swapon in a helper. */
static int swap_begin(swap_call *sc, kc_error *err) {
	static const bool wanted = true;
	int r = 0;
	if (!sc->in_root) {
		sc->spec.source = sc->source;
		kc_error e = { 0 };
		r = devices_wait_storages(sc->agent, &sc->spec, &wanted, 1, swap_device_done, sc, &sc->batch, &e);
		if (r < 0) {
			swap_error_field(sc, &e, err);
			return r;
		}
	}
	if (r == 0 && (r = swap_start_helper(sc, err)) < 0)
		return r;
	ttrpc_call_on_cancel(sc->call, swap_cancel, sc);
	return TTRPC_PENDING;
}

static swap_call *swap_call_new(agent *a, ttrpc_call *call, const char *what) {
	swap_call *sc = calloc(1, sizeof *sc);
	if (sc)
		*sc = (swap_call){ .agent = a, .call = call, .what = what };
	return sc;
}

static int add_swap(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__AddSwapRequest *req = (const Grpc__AddSwapRequest *)req_;
	_cleanup_(swap_call_freep) swap_call *sc = NULL;
	size_t off = 0;

	if (req->n_pcipath == 0 || req->n_pcipath > SWAP_PCI_HOPS_MAX)
		return kc_error_set(err, EINVAL, "PCIPath: %zu slots; a PCI path has 1 to %d", req->n_pcipath,
				    SWAP_PCI_HOPS_MAX);
	sc = swap_call_new(ctx, call, "AddSwap");
	if (!sc)
		return kc_error_set(err, ENOMEM, "AddSwap: out of memory");
	for (size_t i = 0; i < req->n_pcipath; i++) {
		/* A slot, function 0, as upstream builds the path from these numbers. */
		if (req->pcipath[i] > 0x1f)
			return kc_error_set(err, EINVAL, "PCIPath[%zu]: %u is not a PCI slot (0 to 31)", i,
					    req->pcipath[i]);
		off += (size_t)snprintf(sc->source + off, sizeof sc->source - off, "%s%02x", i ? "/" : "",
					req->pcipath[i]);
	}
	sc->spec = (stor_spec){ .driver = "blk", .fstype = "swap" };
	int r = swap_begin(sc, err);
	if (r == TTRPC_PENDING)
		TAKE_PTR(sc);
	return r;
}

static int add_swap_path(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	const Grpc__AddSwapPathRequest *req = (const Grpc__AddSwapPathRequest *)req_;
	_cleanup_(swap_call_freep) swap_call *sc = NULL;
	const char *path = req->path ? req->path : "", *rel;
	size_t len = strlen(path), name = strlen(SWAP_DEV_PREFIX);

	sc = swap_call_new(ctx, call, "AddSwapPath");
	if (!sc)
		return kc_error_set(err, ENOMEM, "AddSwapPath: out of memory");
	/* A block device node (runtime-rs sends a virtio-mmio disk's /dev/vdX), or a file the host placed under the
	 * storage root. Nothing else: swapon over any other guest file would let the host scribble on it. */
	if (startswith(path, SWAP_DEV_PREFIX) && len > name && len < 40 &&
	    strspn(path + name, "abcdefghijklmnopqrstuvwxyz0123456789") == len - name) {
		sc->spec = (stor_spec){ .driver = "mmioblk", .fstype = "swap" };
	} else {
		kc_error ignored = { 0 };
		if (path_check_under(path, STOR_ROOT_PREFIX, &rel, "path", &ignored) < 0)
			return kc_error_set(err, EINVAL, "path: `%.200s` is neither a block device /dev/NAME nor a file "
					    "under %s", path, STOR_ROOT_PREFIX);
		sc->in_root = true;
	}
	(void)format_checked(sc->source, sizeof sc->source, "%s", path);
	int r = swap_begin(sc, err);
	if (r == TTRPC_PENDING)
		TAKE_PTR(sc);
	return r;
}

AGENT_HANDLER(grpc__agent_service__descriptor, "RemoveStaleVirtiofsShareMounts", remove_stale_virtiofs_share_mounts);
AGENT_HANDLER(grpc__agent_service__descriptor, "SetGuestDateTime", set_guest_date_time);
AGENT_HANDLER(grpc__agent_service__descriptor, "ReseedRandomDev", reseed_random_dev);
AGENT_HANDLER(grpc__agent_service__descriptor, "CopyFile", copy_file);
AGENT_HANDLER(grpc__agent_service__descriptor, "GetVolumeStats", get_volume_stats);
AGENT_HANDLER(grpc__agent_service__descriptor, "ResizeVolume", resize_volume);
AGENT_HANDLER(grpc__agent_service__descriptor, "AddSwap", add_swap);
AGENT_HANDLER(grpc__agent_service__descriptor, "AddSwapPath", add_swap_path);
