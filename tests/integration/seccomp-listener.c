/* A seccomp agent for tests/integration/test-lcrun-notify.sh: listens on a unix socket (linux.seccomp.listenerPath),
 * takes one runtime's message (the container process state JSON with the notify fd attached), writes the JSON to
 * OUT, and answers the container's notifications until every filtered process has gone: mkdir and mkdirat fail
 * with EROFS (so the test sees the answer came from here), anything else continues as if unfiltered.
 * Usage: seccomp-listener SOCKET OUT [COUNT]: takes COUNT messages (default 1), each served by a child of its
 * own; each message's JSON is appended to OUT on a line of its own. Gives up after 60 s. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

#define MSG_MAX 65536
#define LIFETIME_MS 60000

static int recv_msg(int conn, char *buf, size_t size, int *ret_fd) {
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = buf, .iov_len = size - 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* Answers notifications until the filter has no task left (POLLHUP) or the deadline. Returns how many. */
static int serve(int nfd, uint64_t deadline) {
	struct seccomp_notif_sizes sizes;
	int served = 0;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return -1;
	struct seccomp_notif *req = calloc(1, MAX(sizes.seccomp_notif, sizeof *req));
	struct seccomp_notif_resp *resp = calloc(1, MAX(sizes.seccomp_notif_resp, sizeof *resp));
	if (!req || !resp)
		return -1;
	for (;;) {
		uint64_t now = now_ns();
		if (now >= deadline)
			break;
		struct pollfd p = {.fd = nfd, .events = POLLIN};
		if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) <= 0)
			continue;
		if (!(p.revents & POLLIN))
			break; /* POLLHUP: every filtered task has exited */
		memset(req, 0, sizes.seccomp_notif);
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			break;
		}
		memset(resp, 0, sizes.seccomp_notif_resp);
		resp->id = req->id;
		if (req->data.nr == SYS_mkdir || req->data.nr == SYS_mkdirat)
			resp->error = -EROFS;
		else
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp) == 0)
			served++;
	}
	free(req);
	free(resp);
	return served;
}

int main(int argc, char **argv) {
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: seccomp-listener SOCKET OUT [COUNT]\n");
		return 2;
	}
	int count = argc == 4 ? atoi(argv[3]) : 1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(argv[1]) >= sizeof sa.sun_path)
		return 2;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 4) < 0) {
		perror("seccomp-listener: listen");
		return 1;
	}
	uint64_t deadline = now_ns() + (uint64_t)LIFETIME_MS * 1000000u;
	static char buf[MSG_MAX];
	for (int i = 0; i < count; i++) {
		struct pollfd p = {.fd = ls, .events = POLLIN};
		if (poll(&p, 1, LIFETIME_MS) != 1)
			return 1;
		int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC), nfd = -1;
		if (conn < 0 || recv_msg(conn, buf, sizeof buf, &nfd) < 0) {
			fprintf(stderr, "seccomp-listener: no message with an fd\n");
			return 1;
		}
		FILE *out = fopen(argv[2], "ae");
		if (!out)
			return 1;
		fprintf(out, "%s\n", buf);
		fclose(out);
		/* Each container (or exec'd process) has its own filter: serve each in a child of its own, so that a
		 * long-running init's listener does not hold up the next message. */
		pid_t pid = fork();
		if (pid == 0) {
			int served = serve(nfd, deadline);
			fprintf(stderr, "seccomp-listener: answered %d notifications\n", served);
			_exit(served < 0);
		}
		close(nfd);
		close(conn);
	}
	close(ls);
	int status, rc = 0;
	while (wait(&status) > 0)
		rc |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	return rc;
}
