#define LOG_SOURCE "init"
#include "init/init.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include "common/log.h"
#include "common/util.h"

#ifndef HOST_NAME_MAX
#define HOST_NAME_MAX 64
#endif

/* With a devpts newinstance mount, ptys must come from its own ptmx; the devtmpfs /dev/ptmx node would hand
 * them out from the kernel's initial instance, which nothing has mounted. */
static int link_ptmx(void) {
	char target[16];
	ssize_t n = readlink("/dev/ptmx", target, sizeof(target) - 1);
	if (n == 8 && memcmp(target, "pts/ptmx", 8) == 0)
		return 0;
	if (unlink("/dev/ptmx") < 0 && errno != ENOENT)
		return -errno;
	if (symlink("pts/ptmx", "/dev/ptmx") < 0)
		return -errno;
	return 0;
}

static int set_hostname(void) {
	_cleanup_free_ char *text = NULL;
	const char *name = "localhost";

	if (read_file_capped(AT_FDCWD, "/etc/hostname", 256, &text, NULL) >= 0) {
		char *s = text + strspn(text, " \t\r\n");
		size_t len = strcspn(s, " \t\r\n");
		s[len] = '\0';
		if (len > 0 && len <= HOST_NAME_MAX)
			name = s;
	}
	if (sethostname(name, strlen(name)) < 0)
		return -errno;
	return 0;
}

int init_console_session(void) {
	int r, first = 0;

	r = link_ptmx();
	if (r < 0) {
		log_warn("link /dev/ptmx to pts/ptmx: %s", strerror(-r));
		first = r;
	}
	/* EPERM means we already lead a process group (not PID 1 as the kernel starts it): nothing to do. */
	if (setsid() < 0 && errno != EPERM)
		log_warn("setsid: %m");
	/* The console as controlling tty, so ^C reaches the foreground; without a console it just fails. */
	if (ioctl(STDIN_FILENO, TIOCSCTTY, 1) < 0)
		log_debug("TIOCSCTTY on stdin: %m");
	if (setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1) < 0 && first == 0)
		first = -errno;
	r = set_hostname();
	if (r < 0) {
		log_warn("sethostname: %s", strerror(-r));
		if (first == 0)
			first = r;
	}
	return first;
}

void init_poweroff(void) {
	sync();
	(void)reboot(RB_POWER_OFF);
	/* PID 1 exiting panics the kernel; if power-off failed, stay. */
	for (;;)
		pause();
}
