#include "launcher/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/util.h"

/* Every file kata-launch may leave in a state directory, so cleanup never needs to list it. */
static const char *const state_files[] = {
	"api.sock", "agent.sock", "qmp.sock", "console.log", "qemu.log", "daemon.log", "pid", "qemu.pid",
	"virtiofsd.log", "process.run", "process.run.tmp", /* launcher/exec.h: the record of run's container */
};

const char *state_root(void) {
	const char *e = getenv("KATA_LAUNCH_STATE_DIR");
	return e && *e ? e : "/run/kata-launch";
}

int state_name_check(const char *name) {
	size_t n = strlen(name);
	if (n == 0 || n > 64 || name[0] == '.')
		return -EINVAL;
	for (const char *p = name; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
			return -EINVAL;
	return 0;
}

int state_dir_path(const char *name, char *buf, size_t size) {
	int r = state_name_check(name);
	if (r < 0)
		return r;
	return format_checked(buf, size, "%s/%s", state_root(), name);
}

int state_path(const char *dir, const char *file, char *buf, size_t size) {
	return format_checked(buf, size, "%s/%s", dir, file);
}

int state_lock(const char *dir) {
	char path[PATH_MAX];
	int r = state_path(dir, "lock", path, sizeof path);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return TAKE_FD(fd);
}

bool state_is_live(const char *dir) {
	char path[PATH_MAX];
	if (state_path(dir, "lock", path, sizeof path) < 0)
		return false;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		return errno == EWOULDBLOCK;
	return false;
}

int state_write_pid(const char *dir, const char *file, pid_t pid) {
	char path[PATH_MAX], buf[DECIMAL_STR_MAX(pid_t) + 1];
	int r = state_path(dir, file, path, sizeof path);
	if (r < 0)
		return r;
	r = format_checked(buf, sizeof buf, "%d\n", (int)pid);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	return write_all(fd, buf, strlen(buf));
}

int state_read_pid(const char *dir, const char *file, pid_t *ret) {
	char path[PATH_MAX];
	_cleanup_free_ char *s = NULL;
	uint64_t v;
	int r = state_path(dir, file, path, sizeof path);
	if (r < 0)
		return r;
	r = read_file_capped(AT_FDCWD, path, 64, &s, NULL);
	if (r < 0)
		return r;
	s[strcspn(s, "\n")] = '\0';
	r = parse_u64(s, 10, &v);
	if (r < 0)
		return r;
	if (v == 0 || v > INT32_MAX)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

/* True when pid runs a command line that mentions needle (our state dir): guards against pid reuse. */
static bool pid_cmdline_has(pid_t pid, const char *needle) {
	char path[64];
	_cleanup_free_ char *s = NULL;
	size_t n;
	if (format_checked(path, sizeof path, "/proc/%d/cmdline", (int)pid) < 0)
		return false;
	if (read_file_capped(AT_FDCWD, path, 1 << 20, &s, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	return strstr(s, needle) != NULL;
}

int state_clean(const char *dir, bool remove_dir) {
	char path[PATH_MAX];
	pid_t qemu;
	int r;

	if (state_read_pid(dir, "qemu.pid", &qemu) >= 0 && pid_cmdline_has(qemu, dir))
		(void)kill(qemu, SIGKILL);
	for (size_t i = 0; i < ELEMENTSOF(state_files); i++) {
		r = state_path(dir, state_files[i], path, sizeof path);
		if (r < 0)
			return r;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	/* virtiofsd's sockets, vfs0.sock and up (launcher/qemu.c names them). */
	for (unsigned i = 0;; i++) {
		char name[32];
		if (format_checked(name, sizeof name, "vfs%u.sock", i) < 0 || state_path(dir, name, path, sizeof path) < 0)
			return -ENAMETOOLONG;
		if (unlink(path) < 0)
			break;
	}
	if (!remove_dir)
		return 0;
	r = state_path(dir, "lock", path, sizeof path);
	if (r < 0)
		return r;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (rmdir(dir) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* The firmware paints the console with escape sequences (clear screen, wrap off): drop them and other
 * control bytes in place so the lines read cleanly on a terminal or in a CI log. */
static void strip_controls(char *s) {
	char *o = s;
	for (const char *p = s; *p; p++) {
		if (*p == '\x1b') {
			if (p[1] == '[') {
				p += 2;
				while (*p && !(*p >= 0x40 && *p <= 0x7e))
					p++;
			} else if (p[1])
				p++;
			if (!*p)
				break;
			continue;
		}
		if ((unsigned char)*p < 0x20 && *p != '\t')
			continue;
		*o++ = *p;
	}
	*o = '\0';
}

void state_print_tail(const char *path, unsigned n, const char *prefix) {
	enum { WINDOW = 16 * 1024 };
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	off_t start = st.st_size > WINDOW ? st.st_size - WINDOW : 0;
	_cleanup_free_ char *buf = malloc(WINDOW + 1);
	if (!buf)
		return;
	ssize_t len = pread(fd, buf, WINDOW, start);
	if (len <= 0)
		return;
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	/* Walk back n line breaks from the end. */
	char *p = buf + len;
	for (unsigned lines = 0; p > buf; p--)
		if (p[-1] == '\n' && ++lines == n)
			break;
	for (char *line = p; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		strip_controls(line);
		fprintf(stderr, "%s%s\n", prefix, line);
		line = nl ? nl + 1 : NULL;
	}
}
