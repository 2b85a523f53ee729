#include "agent/transport.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "common/util.h"

static int parse_vsock(const char *s, agent_addr *a, kc_error *err) {
	const char *colon = strchr(s, ':');
	char cid[24];
	uint64_t port;
	int64_t c;

	if (!colon || (size_t)(colon - s) >= sizeof cid)
		return kc_error_set(err, EINVAL, "vsock address `%s`: expected vsock://CID:PORT", s);
	memcpy(cid, s, (size_t)(colon - s));
	cid[colon - s] = '\0';
	if (parse_i64(cid, &c) < 0 || c < -1 || c > UINT32_MAX)
		return kc_error_set(err, EINVAL, "vsock address `%s`: bad CID `%s`", s, cid);
	if (parse_u64(colon + 1, 10, &port) < 0 || port > UINT32_MAX)
		return kc_error_set(err, EINVAL, "vsock address `%s`: bad port `%s`", s, colon + 1);
	a->kind = AGENT_ADDR_VSOCK;
	a->cid = c == -1 ? VMADDR_CID_ANY : (uint32_t)c;
	a->port = (uint32_t)port;
	return 0;
}

int agent_addr_parse(const char *s, agent_addr *ret, kc_error *err) {
	agent_addr a = { 0 };

	if (startswith(s, "vsock://")) {
		int r = parse_vsock(s + 8, &a, err);
		if (r < 0)
			return r;
	} else if (startswith(s, "unix://")) {
		const char *p = s + 7;
		a.kind = AGENT_ADDR_UNIX;
		if (*p == '@') {
			a.abstract = true;
			p++;
		} else if (*p != '/')
			return kc_error_set(err, EINVAL, "unix address `%s`: expected unix:///path or unix://@name", s);
		/* An abstract name has one byte less room: sun_path[0] is the NUL marker. */
		if (!*p || strlen(p) + (a.abstract ? 1 : 0) >= sizeof a.path)
			return kc_error_set(err, EINVAL, "unix address `%s`: empty or longer than %zu bytes", s,
					    sizeof a.path - 2);
		memcpy(a.path, p, strlen(p) + 1);
	} else if (startswith(s, "serial://")) {
		const char *n = s + 9;
		a.kind = AGENT_ADDR_SERIAL;
		if (!*n || strlen(n) >= sizeof a.port_name || strchr(n, '/'))
			return kc_error_set(err, EINVAL, "serial address `%s`: bad port name", s);
		memcpy(a.port_name, n, strlen(n) + 1);
	} else
		return kc_error_set(err, EINVAL, "server address `%s`: unknown scheme (vsock://, unix://, serial://)", s);
	*ret = a;
	return 0;
}

int transport_listen(const agent_addr *a, int *ret_fd, kc_error *err) {
	_cleanup_close_ int fd = -EBADF;
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
		struct sockaddr_vm vm;
	} sa = { 0 };
	socklen_t len;

	if (a->kind == AGENT_ADDR_VSOCK) {
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return kc_error_set(err, errno, "vsock socket: %m");
		sa.vm.svm_family = AF_VSOCK;
		sa.vm.svm_cid = a->cid;
		sa.vm.svm_port = a->port;
		len = sizeof sa.vm;
	} else if (a->kind == AGENT_ADDR_UNIX) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return kc_error_set(err, errno, "unix socket: %m");
		sa.un.sun_family = AF_UNIX;
		size_t n = strlen(a->path);
		if (a->abstract) {
			memcpy(sa.un.sun_path + 1, a->path, n);
			len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
		} else {
			struct stat st;
			memcpy(sa.un.sun_path, a->path, n + 1);
			len = sizeof sa.un;
			/* A socket left by an earlier run would make bind fail; anything else we leave alone. */
			if (lstat(a->path, &st) == 0 && S_ISSOCK(st.st_mode))
				(void)unlink(a->path);
		}
	} else
		return kc_error_set(err, EINVAL, "serial ports are opened, not listened on");

	if (bind(fd, &sa.sa, len) < 0)
		return kc_error_set(err, errno, "bind %s%s: %m", a->kind == AGENT_ADDR_VSOCK ? "vsock port " : "",
				    a->kind == AGENT_ADDR_VSOCK ? "" : a->path);
	if (listen(fd, 128) < 0)
		return kc_error_set(err, errno, "listen: %m");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int transport_find_serial(const char *sysfs_root, const char *name, char *ret_dev, size_t size, kc_error *err) {
	_cleanup_close_ int dfd = open(sysfs_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return kc_error_set(err, errno, "open %s: %m", sysfs_root);
	DIR *d = fdopendir(dfd);
	if (!d)
		return kc_error_set(err, errno, "fdopendir %s: %m", sysfs_root);
	dfd = -EBADF; /* owned by d now */
	struct dirent *de;
	int r = kc_error_set(err, ENOENT, "no virtio-serial port named `%s` under %s", name, sysfs_root);
	while ((de = readdir(d))) {
		char p[300];
		_cleanup_free_ char *content = NULL;
		if (de->d_name[0] == '.')
			continue;
		if (format_checked(p, sizeof p, "%s/name", de->d_name) < 0)
			continue;
		if (read_file_capped(dirfd(d), p, 256, &content, NULL) < 0)
			continue;
		content[strcspn(content, "\n")] = '\0';
		if (strcmp(content, name) != 0)
			continue;
		if (format_checked(ret_dev, size, "/dev/%s", de->d_name) < 0)
			r = kc_error_set(err, ENAMETOOLONG, "port device name too long");
		else
			r = 0;
		break;
	}
	closedir(d);
	if (r == 0)
		kc_error_clear(err);
	return r;
}
