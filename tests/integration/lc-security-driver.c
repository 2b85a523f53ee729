/* The driver behind test-lc-security.sh: builds an lc_process_config and an lc_seccomp_config from its
 * options, compiles the filter in the parent, forks, applies everything in the child with
 * lc_process_apply_security() and then runs probes there, printing one `key=value` line each. The parent
 * prints `exit=N` or `signal=N`, and serves a notifying filter's listener (answering every notification
 * with EXDEV) when the child hands it over.
 *
 *   lc-security-driver [options] [--] probe...
 *   --uid N --gid N --groups A,B   --cap SET=CAP_X,CAP_Y (SET: bounding effective inheritable permitted ambient)
 *   --nnp  --rlimit RLIMIT_X=SOFT:HARD  --oom N  --umask OCTAL  --sched POLICY:NICE:PRIO  --ioprio CLASS:LEVEL
 *   --personality N  --parent-limits (the parent applies rlimits etc. to the child's pid)
 *   --seccomp-default ACTION[/ERRNO]  --seccomp-rule "ACTION[/ERRNO] name,name [aI=V|aI!=V|aI<V|aI<=V|
 *                                      aI>V|aI>=V|aI&MASK=V]..."  --seccomp-arch NAME  --seccomp-flag NAME
 *   --defer-seccomp (late install right before the probes)  --exec (exec self, probes run after execve)
 * probes: report getcwd getpid uname mkdir:PATH socket:inet|inet6|unix:stream|dgram rawsock bind:PORT */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libcontainer-c/process-security.h"

#define MAX_ITEMS 64

/* Output with write(2) only: a probe may run under a filter that allows little else. */
static void out(const char *fmt, ...) _printf_(1, 2);
static void out(const char *fmt, ...) {
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	if (write(STDOUT_FILENO, buf, (size_t)n) < 0)
		return;
}

_noreturn_ static void die(const char *fmt, ...) _printf_(1, 2);
static void die(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* ---- probes ---------------------------------------------------------------------------------------------- */

static void result(const char *key, long r) {
	if (r < 0)
		out("%s=errno:%d", key, errno);
	else
		out("%s=ok", key);
}

static void report_status(void) {
	static const char *const keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
					    "Seccomp", "Umask" };
	char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		out("status=errno:%d", errno);
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
			size_t len = strlen(keys[i]);
			if (strncmp(line, keys[i], len) == 0 && line[len] == ':')
				out("%s=%s", keys[i], line + len + 1 + strspn(line + len + 1, " \t"));
		}
}

static void report(void) {
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[MAX_ITEMS];
	char list[MAX_ITEMS * 12] = "";
	size_t len = 0;

	report_status();
	(void)getresuid(&ru, &eu, &su);
	(void)getresgid(&rg, &eg, &sg);
	out("uid=%u,%u,%u", ru, eu, su);
	out("gid=%u,%u,%u", rg, eg, sg);
	int n = getgroups(MAX_ITEMS, groups);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%u", i ? "," : "", groups[i]);
	out("groups=%s", list);
	for (int res = 0; res < RLIM_NLIMITS; res++) {
		struct rlimit rl;
		const char *name = lc_rlimit_to_name(res);
		if (!name || getrlimit(res, &rl) < 0)
			continue;
		char soft[24], hard[24];
		(void)snprintf(soft, sizeof soft, rl.rlim_cur == RLIM_INFINITY ? "unlimited" : "%llu",
			       (unsigned long long)rl.rlim_cur);
		(void)snprintf(hard, sizeof hard, rl.rlim_max == RLIM_INFINITY ? "unlimited" : "%llu",
			       (unsigned long long)rl.rlim_max);
		out("%s=%s:%s", name, soft, hard);
	}
	char oom[32] = "";
	int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t k = read(fd, oom, sizeof oom - 1);
		close(fd);
		oom[k > 0 ? k : 0] = '\0';
		oom[strcspn(oom, "\n")] = '\0';
	}
	out("oom_score_adj=%s", oom);
	errno = 0;
	out("sched_policy=%d", sched_getscheduler(0));
	out("nice=%d", getpriority(PRIO_PROCESS, 0));
	out("ioprio=%ld", syscall(SYS_ioprio_get, 1, 0));
	out("personality=%#x", personality(0xffffffff));
}

static int family(const char *s) {
	return strcmp(s, "inet6") == 0 ? AF_INET6 : strcmp(s, "unix") == 0 ? AF_UNIX : AF_INET;
}

static void probe(const char *p) {
	char buf[4096], key[128];

	if (strcmp(p, "report") == 0)
		report();
	else if (strcmp(p, "getcwd") == 0)
		result("getcwd", syscall(SYS_getcwd, buf, sizeof buf));
	else if (strcmp(p, "getpid") == 0)
		result("getpid", syscall(SYS_getpid));
	else if (strcmp(p, "uname") == 0)
		result("uname", syscall(SYS_uname, buf));
	else if (strncmp(p, "mkdir:", 6) == 0) {
		long r = mkdir(p + 6, 0700);
		result("mkdir", r);
		if (r == 0)
			(void)rmdir(p + 6);
	} else if (strncmp(p, "socket:", 7) == 0) {
		char fam[16] = "", type[16] = "";
		(void)sscanf(p + 7, "%15[^:]:%15s", fam, type);
		int fd = socket(family(fam), (strcmp(type, "dgram") == 0 ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
		(void)snprintf(key, sizeof key, "socket.%s.%s", fam, type);
		result(key, fd);
		if (fd >= 0)
			close(fd);
	} else if (strcmp(p, "rawsock") == 0) {
		int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
		result("rawsock", fd);
		if (fd >= 0)
			close(fd);
	} else if (strncmp(p, "bind:", 5) == 0) {
		int port = atoi(p + 5);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		(void)snprintf(key, sizeof key, "bind.%d", port);
		result(key, fd < 0 ? fd : bind(fd, (struct sockaddr *)&sa, sizeof sa));
		if (fd >= 0)
			close(fd);
	} else
		out("unknown-probe=%s", p);
}

/* ---- building the configuration ------------------------------------------------------------------------- */

typedef struct driver {
	lc_process_config p;
	gid_t gids[MAX_ITEMS];
	lc_rlimit_config rlimits[MAX_ITEMS];
	bool has_seccomp, parent_limits, exec_self, defer;
	lc_seccomp_config sc;
	lc_syscall_config rules[MAX_ITEMS];
	lc_seccomp_arg_config args[MAX_ITEMS][6];
	char *names[MAX_ITEMS][MAX_ITEMS + 1];
	const char *arches[MAX_ITEMS];
	bool has_personality;
	unsigned long persona;
} driver;

static const struct {
	const char *name;
	lc_seccomp_action action;
} actions[] = {
	{ "KILL", LC_SCMP_ACT_KILL_THREAD }, { "KILL_THREAD", LC_SCMP_ACT_KILL_THREAD },
	{ "KILL_PROCESS", LC_SCMP_ACT_KILL_PROCESS }, { "TRAP", LC_SCMP_ACT_TRAP }, { "ERRNO", LC_SCMP_ACT_ERRNO },
	{ "TRACE", LC_SCMP_ACT_TRACE }, { "ALLOW", LC_SCMP_ACT_ALLOW }, { "LOG", LC_SCMP_ACT_LOG },
	{ "NOTIFY", LC_SCMP_ACT_NOTIFY },
};

static void parse_action(const char *s, lc_seccomp_action *ret, int *ret_errno) {
	char name[32];
	size_t len = strcspn(s, "/");
	if (len >= sizeof name)
		die("bad action %s", s);
	memcpy(name, s, len);
	name[len] = '\0';
	*ret_errno = s[len] == '/' ? atoi(s + len + 1) : EPERM;
	for (size_t i = 0; i < ELEMENTSOF(actions); i++)
		if (strcmp(actions[i].name, name) == 0) {
			*ret = actions[i].action;
			return;
		}
	die("unknown action %s", name);
}

static void parse_arg(const char *s, lc_seccomp_arg_config *a) {
	static const struct {
		const char *op;
		lc_seccomp_op v;
	} ops[] = { { "!=", LC_SCMP_CMP_NE }, { "<=", LC_SCMP_CMP_LE }, { ">=", LC_SCMP_CMP_GE },
		    { "<", LC_SCMP_CMP_LT },  { ">", LC_SCMP_CMP_GT },  { "=", LC_SCMP_CMP_EQ } };
	char *end;
	if (s[0] != 'a')
		die("bad argument comparison %s", s);
	a->index = (unsigned)strtoul(s + 1, &end, 10);
	if (*end == '&') {
		a->op = LC_SCMP_CMP_MASKED_EQ;
		a->value = strtoull(end + 1, &end, 0);
		if (*end != '=')
			die("bad masked comparison %s", s);
		a->value_two = strtoull(end + 1, NULL, 0);
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(ops); i++)
		if (strncmp(end, ops[i].op, strlen(ops[i].op)) == 0) {
			a->op = ops[i].v;
			a->value = strtoull(end + strlen(ops[i].op), NULL, 0);
			return;
		}
	die("bad argument comparison %s", s);
}

static void add_rule(driver *d, char *spec) {
	size_t i = d->sc.n_syscalls++;
	lc_syscall_config *r = &d->rules[i];
	char *save = NULL, *tok;

	if (i >= MAX_ITEMS)
		die("too many rules");
	parse_action(strtok_r(spec, " ", &save), &r->action, &r->errno_ret);
	char *names = strtok_r(NULL, " ", &save);
	if (!names)
		die("rule without names");
	for (char *n = strtok(names, ","); n && r->n_names < MAX_ITEMS; n = strtok(NULL, ","))
		d->names[i][r->n_names++] = n;
	r->names = d->names[i];
	while ((tok = strtok_r(NULL, " ", &save)) && r->n_args < 6)
		parse_arg(tok, &d->args[i][r->n_args++]);
	r->args = d->args[i];
}

static uint64_t parse_caps(const char *list) {
	uint64_t mask = 0;
	char *copy = strdup(list), *save = NULL;
	for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		int cap = lc_capability_from_name(c);
		if (cap < 0)
			die("unknown capability %s", c);
		mask |= LC_CAP_MASK(cap);
	}
	free(copy);
	return mask;
}

static void parse_cap_option(driver *d, const char *s) {
	static const char *const sets[_LC_CAP_SET_MAX] = { "bounding", "effective", "inheritable", "permitted",
							   "ambient" };
	const char *eq = strchr(s, '=');
	if (!eq)
		die("--cap SET=LIST");
	for (int i = 0; i < _LC_CAP_SET_MAX; i++)
		if (strlen(sets[i]) == (size_t)(eq - s) && strncmp(sets[i], s, (size_t)(eq - s)) == 0) {
			d->p.caps[i] = parse_caps(eq + 1);
			d->p.has_capabilities = true;
			return;
		}
	die("unknown capability set in %s", s);
}

static unsigned seccomp_flag(const char *s) {
	if (strcmp(s, "tsync") == 0)
		return LC_SECCOMP_FLAG_TSYNC;
	if (strcmp(s, "log") == 0)
		return LC_SECCOMP_FLAG_LOG;
	if (strcmp(s, "spec_allow") == 0)
		return LC_SECCOMP_FLAG_SPEC_ALLOW;
	if (strcmp(s, "wait_killable_recv") == 0)
		return LC_SECCOMP_FLAG_WAIT_KILLABLE_RECV;
	die("unknown seccomp flag %s", s);
}

static void parse_options(driver *d, int argc, char **argv) {
	static const struct option opts[] = {
		{ "uid", required_argument, NULL, 'u' },	  { "gid", required_argument, NULL, 'g' },
		{ "groups", required_argument, NULL, 'G' },	  { "cap", required_argument, NULL, 'c' },
		{ "nnp", no_argument, NULL, 'n' },		  { "rlimit", required_argument, NULL, 'r' },
		{ "oom", required_argument, NULL, 'o' },	  { "umask", required_argument, NULL, 'm' },
		{ "sched", required_argument, NULL, 's' },	  { "ioprio", required_argument, NULL, 'i' },
		{ "personality", required_argument, NULL, 'P' }, { "parent-limits", no_argument, NULL, 'L' },
		{ "seccomp-default", required_argument, NULL, 'D' }, { "seccomp-rule", required_argument, NULL, 'R' },
		{ "seccomp-arch", required_argument, NULL, 'A' }, { "seccomp-flag", required_argument, NULL, 'F' },
		{ "defer-seccomp", no_argument, NULL, 'd' },	  { "exec", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	d->sc.default_action = LC_SCMP_ACT_ALLOW;
	d->sc.default_errno_ret = EPERM;
	d->sc.syscalls = d->rules;
	d->sc.architectures = d->arches;
	d->p.additional_gids = d->gids;
	d->p.rlimits = d->rlimits;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1)
		switch (c) {
		case 'u': d->p.uid = (uid_t)atoi(optarg); break;
		case 'g': d->p.gid = (gid_t)atoi(optarg); break;
		case 'G':
			for (char *g = strtok(optarg, ","); g && d->p.n_additional_gids < MAX_ITEMS; g = strtok(NULL, ","))
				d->gids[d->p.n_additional_gids++] = (gid_t)atoi(g);
			break;
		case 'c': parse_cap_option(d, optarg); break;
		case 'n': d->p.no_new_privileges = true; break;
		case 'r': {
			char name[32];
			unsigned long long soft, hard;
			lc_rlimit_config *rl = &d->rlimits[d->p.n_rlimits++];
			if (sscanf(optarg, "%31[^=]=%llu:%llu", name, &soft, &hard) != 3 ||
			    (rl->resource = lc_rlimit_from_name(name)) < 0)
				die("bad --rlimit %s", optarg);
			rl->soft = soft;
			rl->hard = hard;
			break;
		}
		case 'o': d->p.has_oom_score_adj = true; d->p.oom_score_adj = atoi(optarg); break;
		case 'm': d->p.has_umask = true; d->p.umask = (mode_t)strtoul(optarg, NULL, 8); break;
		case 's':
			d->p.has_scheduler = true;
			if (sscanf(optarg, "%d:%d:%d", &d->p.sched_policy, &d->p.sched_nice, &d->p.sched_priority) != 3)
				die("bad --sched %s", optarg);
			break;
		case 'i':
			d->p.has_io_priority = true;
			if (sscanf(optarg, "%d:%d", &d->p.ioprio_class, &d->p.ioprio_level) != 2)
				die("bad --ioprio %s", optarg);
			break;
		case 'P': d->has_personality = true; d->persona = strtoul(optarg, NULL, 0); break;
		case 'L': d->parent_limits = true; break;
		case 'D': d->has_seccomp = true; parse_action(optarg, &d->sc.default_action, &d->sc.default_errno_ret); break;
		case 'R': d->has_seccomp = true; add_rule(d, optarg); break;
		case 'A': d->arches[d->sc.n_architectures++] = optarg; break;
		case 'F': d->sc.flags |= seccomp_flag(optarg); break;
		case 'd': d->defer = true; break;
		case 'x': d->exec_self = true; break;
		default: die("bad option");
		}
}

/* ---- the listener's way to the parent -------------------------------------------------------------------- */

static int send_listener(int listener_fd, void *userdata, kc_error *err) {
	int sock = *(int *)userdata;
	char byte = 'L', control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof control };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &listener_fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		return kc_error_set(err, errno, "sending the listener: %s", strerror(errno));
	return 0;
}

static int recv_listener(int sock) {
	char byte, control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			      .msg_controllen = sizeof control };
	int fd = -1;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) <= 0)
		return -1;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static void serve_notification(int listener) {
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	memset(&req, 0, sizeof req);
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return;
	resp = (struct seccomp_notif_resp){ .id = req.id, .error = -EXDEV };
	(void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

/* ---- main ------------------------------------------------------------------------------------------------ */

_noreturn_ static void child(driver *d, const lc_seccomp_prog *prog, int sock, int go, int argc, char **argv) {
	kc_error err = { 0 };
	lc_security_params sp = {
		.process = &d->p, .seccomp = prog, .has_personality = d->has_personality,
		.personality = d->persona, .listener_cb = send_listener, .userdata = &sock,
		.flags = (d->parent_limits ? LC_SECURITY_LIMITS_APPLIED : 0) | (d->defer ? LC_SECURITY_DEFER_SECCOMP : 0),
	};
	char c;

	if (go >= 0 && read(go, &c, 1) != 1)
		_exit(4);
	if (lc_process_apply_security(&sp, &err) < 0) {
		out("error=%s", err.msg);
		_exit(3);
	}
	if (lc_process_apply_late_seccomp(&sp, &err) < 0) {
		out("error=%s", err.msg);
		_exit(3);
	}
	if (d->exec_self) {
		char *args[MAX_ITEMS + 3] = { "lc-security-driver", "--inside" };
		int n = 2;
		for (int i = optind; i < argc && n < MAX_ITEMS + 1; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		execv("/proc/self/exe", args);
		out("exec=errno:%d", errno);
		_exit(5);
	}
	for (int i = optind; i < argc; i++)
		probe(argv[i]);
	_exit(0);
}

int main(int argc, char **argv) {
	static driver d;
	_cleanup_(lc_seccomp_prog_freep) lc_seccomp_prog *prog = NULL;
	kc_error err = { 0 };
	int sv[2], gopipe[2] = { -1, -1 }, listener = -1, status;

	if (argc > 1 && strcmp(argv[1], "--inside") == 0) {
		for (int i = 2; i < argc; i++)
			probe(argv[i]);
		return 0;
	}
	parse_options(&d, argc, argv);
	if (d.has_seccomp && lc_seccomp_compile(&d.sc, &prog, &err) < 0) {
		out("compile-error=%s", err.msg);
		return 3;
	}
	if (prog)
		out("seccomp.rules=%zu skipped=%zu dropped_flags=%#x load_flags=%#x", prog->n_rules,
		    prog->n_skipped_names, prog->dropped_flags, prog->load_flags);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (d.parent_limits && pipe2(gopipe, O_CLOEXEC) < 0))
		die("socketpair/pipe: %m");
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %m");
	if (pid == 0) {
		close(sv[0]);
		child(&d, prog, sv[1], gopipe[0], argc, argv);
	}
	close(sv[1]);
	if (d.parent_limits) {
		if (lc_process_apply_limits(&d.p, pid, &err) < 0)
			out("parent-error=%s", err.msg);
		if (write(gopipe[1], "g", 1) != 1)
			die("releasing the child: %m");
	}
	for (;;) {
		struct pollfd pfd[2] = { { .fd = sv[0], .events = POLLIN }, { .fd = listener, .events = POLLIN } };
		(void)poll(pfd, 2, 20);
		if (listener < 0 && (pfd[0].revents & POLLIN))
			listener = recv_listener(sv[0]);
		if (listener >= 0 && (pfd[1].revents & POLLIN))
			serve_notification(listener);
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0)
			die("waitpid: %m");
	}
	if (WIFSIGNALED(status))
		out("signal=%d", WTERMSIG(status));
	else
		out("exit=%d", WEXITSTATUS(status));
	return 0;
}
