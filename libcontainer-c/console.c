/* The container's terminal: a pty made from the container's own devpts instance (so the slave's /dev/pts/N
 * name is right inside the container), whose master goes to whoever listens on the console socket, with
 * SCM_RIGHTS. The payload is the pty's name, as runc sends it; receivers only need the fd. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/console.h"
#include "libcontainer-c/exec-internal.h"

int lc_console_socket_connect(const char *path, int *ret, kc_error *err) {
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return kc_error_set(err, ENAMETOOLONG, "console socket `%s`: path too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kc_error_set(err, errno, "console socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return kc_error_set(err, errno, "connect to console socket `%s`: %s", path, strerror(errno));
	*ret = TAKE_FD(fd);
	return 0;
}

int lc_send_fd(int sock, int fd, const void *data, size_t len) {
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int lc_console_recv_master(int sock, int *ret, kc_error *err) {
	char name[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return kc_error_set(err, errno, "receive the console: %s", strerror(errno));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
			memcpy(ret, CMSG_DATA(c), sizeof(int));
			return 0;
		}
	return kc_error_set(err, EBADMSG, "receive the console: no file descriptor in the message");
}

int lc_console_setup_child(int sock, const lc_process_config *p, kc_error *err) {
	char name[64];

	if (sock < 0)
		return kc_error_set(err, EINVAL, "process.terminal: no console socket to send the terminal to");
	/* /dev/ptmx is our symlink to pts/ptmx: the container's devpts instance, never the host's. */
	_cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return kc_error_set(err, errno, "process.terminal: open /dev/ptmx: %s", strerror(errno));
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
		return kc_error_set(err, errno, "process.terminal: unlock the pty: %s", strerror(errno));
	_cleanup_close_ int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return kc_error_set(err, errno, "process.terminal: open `%s`: %s", name, strerror(errno));
	if (p->has_console_size) {
		struct winsize ws = {.ws_row = p->console_height, .ws_col = p->console_width};
		(void)ioctl(slave, TIOCSWINSZ, &ws);
	}
	int r = lc_send_fd(sock, master, name, strlen(name));
	if (r < 0)
		return kc_error_set(err, -r, "process.terminal: send the pty to the console socket: %s", strerror(-r));
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return kc_error_set(err, errno, "process.terminal: make `%s` the controlling terminal: %s", name,
				    strerror(errno));
	/* The slave becomes the process's stdio, which must survive execve. */
	if (dup2(slave, STDIN_FILENO) < 0 || dup2(slave, STDOUT_FILENO) < 0 || dup2(slave, STDERR_FILENO) < 0)
		return kc_error_set(err, errno, "process.terminal: dup2: %s", strerror(errno));
	return 0;
}
