/* cthelper: the process of the test containers (tests/integration/test-lcrun*.sh, tests/vm/test-lcrun-vm.sh).
 * A static musl binary, so it runs in any rootfs, including one that holds nothing else. It runs its
 * subcommands in order and reports what the process sees from inside, one `key=value` per line on stdout, so
 * a test asserts on exact lines:
 *
 *   cthelper ids caps cwd exit 3
 *
 * A failed probe prints `key=errno:N` (N the errno) and the run goes on: the test decides what is expected.
 * Unknown subcommands or bad arguments print `cthelper: ...` on stderr and exit 120, so a typo in a test is
 * never mistaken for a result. The list of subcommands is in usage() below. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/util.h"

#define EXIT_USAGE 120
/* What `kill` exits with when the signal did not end the process (PID 1 of a pid namespace). */
#define EXIT_SURVIVED 125
/* Caps on what a probe prints: a file of a cgroup or /proc is small; a mountinfo line is bounded by PATH_MAX. */
#define READ_MAX (64 * 1024)
#define MOUNTINFO_MAX (1024 * 1024)
#define PAGE 4096

/* Lines are assembled in a buffer and written with one write(): the VM suite and hooks share the console and
 * files with other writers, and a line must never be split. */
static void out(const char *fmt, ...) _printf_(1, 2);
static void out(const char *fmt, ...) {
	char line[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line - 1)
		n = sizeof line - 2;
	line[n++] = '\n';
	(void)write_all(STDOUT_FILENO, line, (size_t)n);
}

static void out_errno(const char *key, int e) {
	out("%s=errno:%d", key, e);
}

static _noreturn_ void die_usage(const char *fmt, ...) _printf_(1, 2);
static _noreturn_ void die_usage(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fputs("cthelper: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(EXIT_USAGE);
}

/* Newlines of a file become spaces and trailing whitespace goes, so a file prints as one value. */
static void flatten(char *s) {
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void print_file(const char *key, const char *path) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(AT_FDCWD, path, READ_MAX, &text, NULL);
	if (r < 0)
		return out_errno(key, -r);
	flatten(text);
	out("%s=%s", key, text);
}

/* "Key:\tvalue" of /proc/self/status. */
static void print_status_field(const char *key, const char *field) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(AT_FDCWD, "/proc/self/status", READ_MAX, &text, NULL);
	if (r < 0)
		return out_errno(key, -r);
	size_t fl = strlen(field);
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, field, fl) != 0 || line[fl] != ':')
			continue;
		char *v = line + fl + 1;
		v += strspn(v, " \t");
		out("%s=%.*s", key, (int)strcspn(v, "\n"), v);
		return;
	}
	out("%s=absent", key);
}

static void cmd_ids(void) {
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	gid_t groups[NGROUPS_MAX];
	char list[NGROUPS_MAX * DECIMAL_STR_MAX(gid_t)] = "";
	size_t len = 0;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return out_errno("ids", errno);
	out("uid=%u,%u,%u", ru, eu, su);
	out("gid=%u,%u,%u", rg, eg, sg);
	int n = getgroups(NGROUPS_MAX, groups);
	if (n < 0)
		return out_errno("groups", errno);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%u", i ? "," : "", groups[i]);
	out("groups=%s", list);
}

/* Straight from the kernel (capget and prctl), so the sets print even where /proc is not mounted; the
 * format is /proc/self/status's: 16 hex digits. */
static void cmd_caps(void) {
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {};
	uint64_t bnd = 0, amb = 0;

	if (syscall(SYS_capget, &h, d) < 0)
		return out_errno("caps", errno);
	for (int c = 0; c < 64; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0)
			break; /* past the kernel's last capability */
		if (r > 0)
			bnd |= UINT64_C(1) << c;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0)
			amb |= UINT64_C(1) << c;
	}
#define CAPSET(f) ((uint64_t)d[1].f << 32 | d[0].f)
	out("cap.inh=%016llx", (unsigned long long)CAPSET(inheritable));
	out("cap.prm=%016llx", (unsigned long long)CAPSET(permitted));
	out("cap.eff=%016llx", (unsigned long long)CAPSET(effective));
	out("cap.bnd=%016llx", (unsigned long long)bnd);
	out("cap.amb=%016llx", (unsigned long long)amb);
#undef CAPSET
}

/* mountinfo: "ID PARENT MAJ:MIN ROOT TARGET OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS". Prints
 * `mount=TARGET FSTYPE OPTS`, TARGET still octal-escaped as the kernel writes it (no spaces in a value). */
static void cmd_mounts(void) {
	_cleanup_free_ char *text = NULL;
	char *save = NULL;
	int r = read_file_capped(AT_FDCWD, "/proc/self/mountinfo", MOUNTINFO_MAX, &text, NULL);
	if (r < 0)
		return out_errno("mount", -r);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char target[PATH_MAX], opts[1024], fstype[64];
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s %1023s", target, opts) != 2 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		out("mount=%s %s %s", target, fstype, opts);
	}
}

static void cmd_cwd(void) {
	char buf[PATH_MAX];
	if (!getcwd(buf, sizeof buf))
		return out_errno("cwd", errno);
	out("cwd=%s", buf);
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "AS", RLIMIT_AS },           { "CORE", RLIMIT_CORE },         { "CPU", RLIMIT_CPU },
	{ "DATA", RLIMIT_DATA },       { "FSIZE", RLIMIT_FSIZE },       { "LOCKS", RLIMIT_LOCKS },
	{ "MEMLOCK", RLIMIT_MEMLOCK }, { "MSGQUEUE", RLIMIT_MSGQUEUE }, { "NICE", RLIMIT_NICE },
	{ "NOFILE", RLIMIT_NOFILE },   { "NPROC", RLIMIT_NPROC },       { "RSS", RLIMIT_RSS },
	{ "RTPRIO", RLIMIT_RTPRIO },   { "RTTIME", RLIMIT_RTTIME },     { "SIGPENDING", RLIMIT_SIGPENDING },
	{ "STACK", RLIMIT_STACK },
};

static void fmt_limit(rlim_t v, char *buf, size_t size) {
	if (v == RLIM_INFINITY)
		snprintf(buf, size, "unlimited");
	else
		snprintf(buf, size, "%llu", (unsigned long long)v);
}

static void cmd_rlimits(void) {
	for (size_t i = 0; i < ELEMENTSOF(rlimits); i++) {
		struct rlimit rl;
		char key[32], soft[32], hard[32];
		snprintf(key, sizeof key, "rlimit.%s", rlimits[i].name);
		if (getrlimit(rlimits[i].resource, &rl) < 0) {
			out_errno(key, errno);
			continue;
		}
		fmt_limit(rl.rlim_cur, soft, sizeof soft);
		fmt_limit(rl.rlim_max, hard, sizeof hard);
		out("%s=%s:%s", key, soft, hard);
	}
}

static void cmd_hostname(void) {
	struct utsname u;
	if (uname(&u) < 0)
		return out_errno("hostname", errno);
	out("hostname=%s", u.nodename);
	out("domainname=%s", u.domainname);
}

static void cmd_umask(void) {
	mode_t m = umask(0);
	umask(m);
	out("umask=%04o", (unsigned)m);
}

static void cmd_nnp(void) {
	int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (r < 0)
		return out_errno("no_new_privs", errno);
	out("no_new_privs=%d", r);
}

/* The v2 entry ("0::/path") of /proc/self/cgroup: the container's cgroup seen from its cgroup namespace. A
 * cgroup2 mount on /sys/fs/cgroup shows that same path, from the hierarchy root or from the namespace root. */
static int own_cgroup(char *buf, size_t size) {
	_cleanup_free_ char *text = NULL;
	int r = read_file_capped(AT_FDCWD, "/proc/self/cgroup", READ_MAX, &text, NULL);
	if (r < 0)
		return r;
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!startswith(line, "0::"))
			continue;
		return format_checked(buf, size, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
	}
	return -ENOENT;
}

static void cmd_cgroup(const char *file) {
	char self[PATH_MAX], path[PATH_MAX * 2], key[PATH_MAX];
	if (strchr(file, '/') || file[0] == '.')
		die_usage("cgroup: FILE is a file name of the process's own cgroup, not a path: `%s`", file);
	snprintf(key, sizeof key, "cgroup.%s", file);
	int r = own_cgroup(self, sizeof self);
	if (r < 0)
		return out_errno(key, -r);
	/* cgroup2 on /sys/fs/cgroup (pure v2, the containers' own mount) or, on a hybrid host, on .../unified. */
	static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
		r = format_checked(path, sizeof path, "%s%s/%s", roots[i], strcmp(self, "/") == 0 ? "" : self, file);
		if (r < 0)
			return out_errno(key, -r);
		if (access(path, F_OK) == 0)
			break;
	}
	print_file(key, path);
}

static void cmd_open(const char *path) {
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return out_errno("open", errno);
	out("open=ok");
}

extern char **environ;
static void cmd_env(void) {
	for (char **e = environ; e && *e; e++)
		out("env.%s", *e);
}

/* Numbers of the open fds, ascending, without the one reading the directory. */
static void cmd_fds(void) {
	DIR *d = opendir("/proc/self/fd");
	char list[4096] = "";
	size_t len = 0;
	bool seen[1024] = {};

	if (!d)
		return out_errno("fds", errno);
	for (struct dirent *de; (de = readdir(d));) {
		uint64_t fd;
		if (parse_u64(de->d_name, 10, &fd) < 0 || (int)fd == dirfd(d))
			continue;
		if (fd < ELEMENTSOF(seen))
			seen[fd] = true;
		else
			len += (size_t)snprintf(list + len, sizeof list - len, "big:%llu ", (unsigned long long)fd);
	}
	closedir(d);
	for (size_t i = 0; i < ELEMENTSOF(seen) && len < sizeof list; i++)
		if (seen[i])
			len += (size_t)snprintf(list + len, sizeof list - len, "%zu ", i);
	if (len > 0 && len < sizeof list)
		list[len - 1] = '\0';
	out("fds=%s", list);
}

static void cmd_ns(void) {
	static const char *const kinds[] = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" };
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		char path[64], target[128], key[32];
		snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i]);
		snprintf(key, sizeof key, "ns.%s", kinds[i]);
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n < 0) {
			out_errno(key, errno);
			continue;
		}
		target[n] = '\0';
		out("%s=%s", key, target);
	}
}

/* TEXT and a newline in one write(), so lines appended by several writers (hooks, the container) stay whole. */
static void cmd_write(const char *key, const char *path, const char *text, int mode) {
	char line[4096];
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | mode, 0644);
	if (fd < 0)
		return out_errno(key, errno);
	int r = format_checked(line, sizeof line, "%s\n", text);
	if (r >= 0)
		r = write_all(fd, line, strlen(line));
	if (r < 0)
		return out_errno(key, -r);
	out("%s=ok", key);
}

static void cmd_mkdir(const char *path) {
	if (mkdir(path, 0755) < 0)
		return out_errno("mkdir", errno);
	out("mkdir=ok");
}

static void cmd_ls(const char *path) {
	DIR *d = opendir(path);
	size_t n = 0;
	if (!d)
		return out_errno("ls", errno);
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	out("ls.count=%zu", n);
}

static int parse_ms(const char *s, uint64_t *ret) {
	/* SECONDS[.FRACTION], millisecond resolution. */
	const char *dot = strchr(s, '.');
	uint64_t sec, ms = 0;
	char whole[32];
	if ((dot ? (size_t)(dot - s) : strlen(s)) >= sizeof whole)
		return -ERANGE;
	snprintf(whole, sizeof whole, "%.*s", dot ? (int)(dot - s) : (int)strlen(s), s);
	if (parse_u64(whole, 10, &sec) < 0 || sec > 1000000)
		return -EINVAL;
	if (dot) {
		size_t digits = strlen(dot + 1);
		if (digits == 0 || digits > 3 || strspn(dot + 1, "0123456789") != digits)
			return -EINVAL;
		ms = strtoull(dot + 1, NULL, 10);
		for (size_t i = digits; i < 3; i++)
			ms *= 10;
	}
	*ret = sec * 1000 + ms;
	return 0;
}

static void sleep_ms(uint64_t ms) {
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Touches every page, so the memory is charged to the cgroup, not just reserved. */
static void cmd_alloc(uint64_t mib) {
	size_t size = (size_t)mib << 20;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return out_errno("alloc", errno);
	for (size_t off = 0; off < size; off += PAGE)
		p[off] = 1;
	out("alloc=%llu", (unsigned long long)mib);
	/* Kept mapped: a later `sleep` holds the memory. */
}

/* Forks n children that leave the process group (setsid) and sleep; reports how many forks worked and the
 * first error. The children are reaped by `wait`, by the container's end, or by whoever inherits them. */
static void cmd_fork(uint64_t n, uint64_t ms) {
	uint64_t ok = 0;
	int first_err = 0;
	for (uint64_t i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			if (!first_err)
				first_err = errno;
			continue;
		}
		if (pid == 0) {
			(void)setsid();
			sleep_ms(ms);
			_exit(0);
		}
		ok++;
	}
	out("fork=%llu", (unsigned long long)ok);
	if (first_err)
		out_errno("fork.error", first_err);
}

static void cmd_wait(void) {
	unsigned n = 0;
	while (waitpid(-1, NULL, 0) > 0)
		n++;
	out("wait=%u", n);
}

/* Appends a line to PATH every SECONDS (fractions to the ms), forever: progress that stops while frozen. */
static _noreturn_ void cmd_tick(const char *path, uint64_t ms) {
	for (;;) {
		_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 || write_all(fd, "t\n", 2) < 0) {
			out_errno("tick", errno);
			_exit(1);
		}
		fd = safe_close(fd);
		sleep_ms(ms);
	}
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "ABRT", SIGABRT }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },
	{ "TERM", SIGTERM },
};

static int parse_signal(const char *s) {
	uint64_t v;
	if (startswith(s, "SIG"))
		s += 3;
	for (size_t i = 0; i < ELEMENTSOF(signals); i++)
		if (strcmp(s, signals[i].name) == 0)
			return signals[i].sig;
	if (parse_u64(s, 10, &v) >= 0 && v >= 1 && v < 65)
		return (int)v;
	return -EINVAL;
}

/* The kernel drops a signal that PID 1 of a pid namespace sends itself with the default action; the helper
 * then says so and exits EXIT_SURVIVED instead of carrying on as if it had died. */
static _noreturn_ void cmd_kill(int sig) {
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t set;
	(void)sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (kill(getpid(), sig) < 0) {
		out_errno("kill", errno);
		_exit(EXIT_SURVIVED);
	}
	sleep_ms(100);
	out("kill=ignored");
	_exit(EXIT_SURVIVED);
}

static void usage(void) {
	fputs("usage: cthelper SUBCOMMAND [ARGS] [SUBCOMMAND [ARGS]]...\n"
	      "  ids            uid=R,E,S gid=R,E,S groups=A,B,...\n"
	      "  caps           cap.{inh,prm,eff,bnd,amb}=16 hex digits\n"
	      "  mounts         mount=TARGET FSTYPE OPTIONS, one line per mount\n"
	      "  cwd            cwd=PATH\n"
	      "  rlimits        rlimit.NAME=SOFT:HARD (unlimited spelled out)\n"
	      "  hostname       hostname=, domainname=\n"
	      "  seccomp        seccomp=MODE (0, 1, 2 from /proc/self/status)\n"
	      "  nnp            no_new_privs=0|1\n"
	      "  umask          umask=NNNN\n"
	      "  oom            oom_score_adj=N\n"
	      "  cgroup FILE    cgroup.FILE=CONTENT of the process's own cgroup (v2), lines joined by spaces\n"
	      "  env            env.NAME=VALUE for every variable\n"
	      "  pid            pid=, ppid=\n"
	      "  fds            fds=N N ... (open descriptors)\n"
	      "  ns             ns.KIND=KIND:[INODE]\n"
	      "  read PATH      read=CONTENT (lines joined by spaces)\n"
	      "  open PATH      open=ok (read-write, as a device test needs)\n"
	      "  ls PATH        ls.count=N (entries besides . and ..)\n"
	      "  write PATH TEXT  write=ok (TEXT and a newline)\n"
	      "  append PATH TEXT  append=ok (TEXT and a newline, one write)\n"
	      "  mkdir PATH     mkdir=ok\n"
	      "  sleep SECONDS  sleeps (fractions to the millisecond)\n"
	      "  alloc MIB      alloc=MIB once every page is touched\n"
	      "  fork N SECONDS fork=K: K children (setsid) sleeping SECONDS; fork.error=errno:E on a failure\n"
	      "  wait           wait=N: reaps every child\n"
	      "  tick PATH SECONDS  appends a line to PATH every SECONDS, forever\n"
	      "  echo TEXT      TEXT as a line\n"
	      "  exit CODE      exits with CODE\n"
	      "  kill SIGNAL    sends itself SIGNAL (name or number)\n"
	      "A failed probe prints KEY=errno:N and the run goes on; a usage error exits 120.\n",
	      stdout);
}

static const char *need(char **argv, int argc, int *i, const char *cmd) {
	if (*i + 1 >= argc)
		die_usage("%s: missing argument", cmd);
	return argv[++*i];
}

static uint64_t need_u64(char **argv, int argc, int *i, const char *cmd, uint64_t max) {
	const char *s = need(argv, argc, i, cmd);
	uint64_t v;
	if (parse_u64(s, 10, &v) < 0 || v > max)
		die_usage("%s: `%s` is not a number up to %llu", cmd, s, (unsigned long long)max);
	return v;
}

static uint64_t need_ms(char **argv, int argc, int *i, const char *cmd) {
	const char *s = need(argv, argc, i, cmd);
	uint64_t ms;
	if (parse_ms(s, &ms) < 0)
		die_usage("%s: `%s` is not a number of seconds", cmd, s);
	return ms;
}

int main(int argc, char **argv) {
	if (argc < 2)
		die_usage("no subcommand (cthelper help lists them)");
	for (int i = 1; i < argc; i++) {
		const char *c = argv[i];
		if (streq_ptr(c, "help") || streq_ptr(c, "--help")) {
			usage();
			return 0;
		} else if (streq_ptr(c, "ids"))
			cmd_ids();
		else if (streq_ptr(c, "caps"))
			cmd_caps();
		else if (streq_ptr(c, "mounts"))
			cmd_mounts();
		else if (streq_ptr(c, "cwd"))
			cmd_cwd();
		else if (streq_ptr(c, "rlimits"))
			cmd_rlimits();
		else if (streq_ptr(c, "hostname"))
			cmd_hostname();
		else if (streq_ptr(c, "seccomp"))
			print_status_field("seccomp", "Seccomp");
		else if (streq_ptr(c, "nnp"))
			cmd_nnp();
		else if (streq_ptr(c, "umask"))
			cmd_umask();
		else if (streq_ptr(c, "oom"))
			print_file("oom_score_adj", "/proc/self/oom_score_adj");
		else if (streq_ptr(c, "cgroup"))
			cmd_cgroup(need(argv, argc, &i, c));
		else if (streq_ptr(c, "env"))
			cmd_env();
		else if (streq_ptr(c, "pid")) {
			out("pid=%d", (int)getpid());
			out("ppid=%d", (int)getppid());
		} else if (streq_ptr(c, "fds"))
			cmd_fds();
		else if (streq_ptr(c, "ns"))
			cmd_ns();
		else if (streq_ptr(c, "read"))
			print_file("read", need(argv, argc, &i, c));
		else if (streq_ptr(c, "open"))
			cmd_open(need(argv, argc, &i, c));
		else if (streq_ptr(c, "ls"))
			cmd_ls(need(argv, argc, &i, c));
		else if (streq_ptr(c, "write")) {
			const char *path = need(argv, argc, &i, c);
			cmd_write("write", path, need(argv, argc, &i, c), O_TRUNC);
		} else if (streq_ptr(c, "append")) {
			const char *path = need(argv, argc, &i, c);
			cmd_write("append", path, need(argv, argc, &i, c), O_APPEND);
		} else if (streq_ptr(c, "mkdir"))
			cmd_mkdir(need(argv, argc, &i, c));
		else if (streq_ptr(c, "sleep"))
			sleep_ms(need_ms(argv, argc, &i, c));
		else if (streq_ptr(c, "alloc"))
			cmd_alloc(need_u64(argv, argc, &i, c, 1 << 20));
		else if (streq_ptr(c, "fork")) {
			uint64_t n = need_u64(argv, argc, &i, c, 4096);
			cmd_fork(n, need_ms(argv, argc, &i, c));
		} else if (streq_ptr(c, "wait"))
			cmd_wait();
		else if (streq_ptr(c, "tick")) {
			const char *path = need(argv, argc, &i, c);
			cmd_tick(path, need_ms(argv, argc, &i, c));
		} else if (streq_ptr(c, "echo"))
			out("%s", need(argv, argc, &i, c));
		else if (streq_ptr(c, "exit"))
			_exit((int)need_u64(argv, argc, &i, c, 255));
		else if (streq_ptr(c, "kill")) {
			const char *s = need(argv, argc, &i, c);
			int sig = parse_signal(s);
			if (sig < 0)
				die_usage("kill: `%s` is not a signal", s);
			cmd_kill(sig);
		} else
			die_usage("unknown subcommand `%s` (cthelper help lists them)", c);
	}
	return 0;
}
