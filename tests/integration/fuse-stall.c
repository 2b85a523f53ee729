/* fuse-stall MOUNTPOINT: a filesystem server that stops answering. It mounts a FUSE filesystem on
 * MOUNTPOINT, answers the kernel's INIT, prints "ready" and then reads every later request without ever
 * replying, so whoever touches the mount waits (killably) as on a 9p or virtio-fs share whose host side
 * hangs. On SIGTERM or SIGINT it closes /dev/fuse, which aborts the connection (waiters get ENOTCONN), and
 * detaches the mount. The host these tests run on has FUSE but no 9p, so this stands in for a hung share. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
	(void)sig;
	stop = 1;
}

static int reply_init(int fd, const struct fuse_in_header *in, const struct fuse_init_in *init) {
	struct {
		struct fuse_out_header h;
		struct fuse_init_out o;
	} rep;

	memset(&rep, 0, sizeof rep);
	rep.h.len = sizeof rep;
	rep.h.unique = in->unique;
	rep.o.major = FUSE_KERNEL_VERSION;
	rep.o.minor = init->minor < FUSE_KERNEL_MINOR_VERSION ? init->minor : FUSE_KERNEL_MINOR_VERSION;
	rep.o.max_readahead = init->max_readahead;
	rep.o.max_background = 16;
	rep.o.congestion_threshold = 12;
	rep.o.max_write = 4096;
	return write(fd, &rep, sizeof rep) == (ssize_t)sizeof rep ? 0 : -1;
}

int main(int argc, char **argv) {
	static uint8_t buf[FUSE_MIN_READ_BUFFER + 65536];
	struct sigaction sa = { .sa_handler = on_signal };
	char opts[128];

	if (argc != 2) {
		fprintf(stderr, "usage: fuse-stall MOUNTPOINT\n");
		return 2;
	}
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fuse-stall: open /dev/fuse: %s\n", strerror(errno));
		return 1;
	}
	(void)snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
	if (mount("stall", argv[1], "fuse.stall", MS_NOSUID | MS_NODEV, opts) < 0) {
		fprintf(stderr, "fuse-stall: mount %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* No SA_RESTART: the blocking read below must return EINTR on SIGTERM. */
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	int ready = 0;
	while (!stop) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR || errno == ENOENT) /* ENOENT: a request interrupted before we read it */
				continue;
			fprintf(stderr, "fuse-stall: read: %s\n", strerror(errno));
			break;
		}
		if ((size_t)n < sizeof(struct fuse_in_header))
			continue;
		const struct fuse_in_header *in = (const void *)buf;
		if (in->opcode == FUSE_INIT && !ready && (size_t)n >= sizeof *in + offsetof(struct fuse_init_in, flags)) {
			if (reply_init(fd, in, (const void *)(buf + sizeof *in)) < 0) {
				fprintf(stderr, "fuse-stall: INIT reply: %s\n", strerror(errno));
				break;
			}
			ready = 1;
			printf("ready\n");
			fflush(stdout);
		}
		/* Everything else is read and never answered. */
	}
	close(fd);
	(void)umount2(argv[1], MNT_DETACH);
	return 0;
}
