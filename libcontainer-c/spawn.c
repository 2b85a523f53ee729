/* Spawning: the container's init (clone3 into new namespaces, then the child's ordered setup) and processes
 * exec'd into a running container (setns through a pidfd). The parent and each child talk over one
 * SOCK_SEQPACKET socketpair (exec-internal.h describes the messages); errors in a child travel back as a
 * length-capped message, never as an exit code to guess from. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/exec-internal.h"
#include "libcontainer-c/hooks.h"
#include "libcontainer-c/linux-syscalls.h"

/* ---- sync socket ------------------------------------------------------------------------------------------- */

int lc_sync_send(int fd, uint32_t type, int64_t value, const kc_error *e) {
	lc_sync_msg m = {.type = type, .value = value};
	size_t len = offsetof(lc_sync_msg, text) + 1;

	if (e) {
		m.err = e->err;
		size_t n = strnlen(e->msg, sizeof m.text - 1);
		memcpy(m.text, e->msg, n);
		len += n;
	}
	/* MSG_NOSIGNAL: the parent of a created container is gone by the time the process execs. */
	if (send(fd, &m, len, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

int lc_sync_recv(int fd, int timeout_ms, lc_sync_msg *ret) {
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		uint64_t now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		int r = poll(&p, 1, (int)((deadline - now + 999999u) / 1000000u));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		break;
	}
	memset(ret, 0, sizeof *ret);
	ssize_t n = recv(fd, ret, sizeof *ret, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -errno;
	if (n == 0)
		return 0;
	if ((size_t)n > sizeof *ret || (size_t)n < offsetof(lc_sync_msg, text))
		return -EBADMSG;
	ret->text[sizeof ret->text - 1] = '\0';
	return 1;
}

_noreturn_ void lc_child_fail(int syncfd, const kc_error *err) {
	int e = err->err ? err->err : EIO;

	if (syncfd < 0 || lc_sync_send(syncfd, LC_SYNC_ERROR, 0, err) < 0) {
		/* Nobody listens any more (a created container's runtime has exited): stderr is all we have. */
		char line[KC_ERROR_MSG_MAX + 16];
		int n = snprintf(line, sizeof line, "lcrun: %s\n", err->msg);
		if (n > 0)
			(void)!write(STDERR_FILENO, line, MIN((size_t)n, sizeof line - 1));
	}
	_exit(e == ENOENT ? 127 : e == EACCES ? 126 : 1);
}

/* Copies err into e and returns -err; keeps a message the child sent even when errno is 0. */
static int error_from_msg(const lc_sync_msg *m, const char *what, kc_error *err) {
	return kc_error_set(err, m->err > 0 ? m->err : EIO, "%s: %s", what, m->text);
}

/* Moves fd above the fds the caller asked to preserve, so that clearing their close-on-exec flag can never
 * let one of ours through. */
static int move_above(int fd, unsigned preserve_fds) {
	int min = 3 + (int)preserve_fds;
	if (fd < 0 || fd >= min)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, min);
	if (nfd < 0)
		return -errno;
	(void)close(fd);
	return nfd;
}

/* Makes stdio[0..2] the child's fds 0, 1 and 2. Each is first copied above preserve_fds, so that a source that
 * is itself 0, 1 or 2 is not overwritten before it is used. */
static int setup_stdio(const int *stdio, unsigned preserve_fds, kc_error *err) {
	int tmp[3];
	if (!stdio)
		return 0;
	for (int i = 0; i < 3; i++) {
		tmp[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3 + (int)preserve_fds);
		if (tmp[i] < 0)
			return kc_error_set(err, errno, "stdio: dup fd %d: %s", stdio[i], strerror(errno));
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(tmp[i], i) < 0) // cloexec-ok: the process's own stdio, meant to survive its execve
			return kc_error_set(err, errno, "stdio: dup2 onto %d: %s", i, strerror(errno));
		(void)close(tmp[i]);
	}
	return 0;
}

/* Closes every fd but 0-2, the preserved range and keep[] (negative entries ignored). A created init waits at
 * the start gate, possibly for long: it must not hold the runtime's other fds meanwhile (in the agent, another
 * container's stdin pipe would never reach EOF, and a closed connection would stay open). */
static void close_other_fds(unsigned preserve_fds, int *keep, size_t n) {
	unsigned from = 3 + preserve_fds;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from)
			(void)lc_close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	(void)lc_close_range(from, ~0U, 0);
}

/* ---- the process, common to init and exec ------------------------------------------------------------------- */

int lc_find_executable(const char *file, char *const *env, char *ret, size_t size, kc_error *err) {
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	struct stat st;
	int r;

	if (strchr(file, '/')) {
		if (stat(file, &st) < 0)
			return kc_error_set(err, errno, "process.args[0]: `%s`: %s", file, strerror(errno));
		if (!S_ISREG(st.st_mode) || access(file, X_OK) < 0)
			return kc_error_set(err, EACCES, "process.args[0]: `%s` is not an executable file", file);
		return format_checked(ret, size, "%s", file);
	}
	for (char *const *e = env; e && *e; e++)
		if (startswith(*e, "PATH="))
			path = *e + 5;
	/* The container's PATH, searched inside its root: execvpe would search the runtime's own PATH. */
	for (const char *p = path;;) {
		size_t len = strcspn(p, ":");
		r = format_checked(ret, size, "%.*s/%s", (int)len, len ? p : ".", file);
		if (r >= 0 && stat(ret, &st) == 0 && S_ISREG(st.st_mode) && access(ret, X_OK) == 0)
			return 0;
		if (!p[len])
			break;
		p += len + 1;
	}
	return kc_error_set(err, ENOENT, "process.args[0]: executable `%s` not found in $PATH (%s)", file, path);
}

int lc_chdir_verified(const char *cwd, kc_error *err) {
	char buf[PATH_MAX];

	if (chdir(cwd) < 0)
		return kc_error_set(err, errno, "process.cwd: chdir to `%s`: %s", cwd, strerror(errno));
	/* CVE-2024-21626: a cwd that is a leaked host directory (/proc/self/fd/N) resolves, but getcwd() reports
	 * it as unreachable from our root. The raw syscall, since some libcs paper over "(unreachable)". */
	long n = syscall(SYS_getcwd, buf, sizeof buf);
	if (n < 0)
		return kc_error_set(err, errno, "process.cwd: getcwd after chdir to `%s`: %s", cwd, strerror(errno));
	if (buf[0] != '/')
		return kc_error_set(err, EPERM, "process.cwd: `%s` is outside the container's root", cwd);
	return 0;
}

void lc_security_params_init(lc_security_params *sp, const lc_process_config *p, const lc_seccomp_prog *seccomp,
			     bool has_personality, unsigned long personality) {
	*sp = (lc_security_params){
		.process = p,
		.seccomp = seccomp,
		.has_personality = has_personality,
		.personality = personality,
		.flags = LC_SECURITY_DEFER_SECCOMP,
	};
}

/* The last steps before execve, shared by init and exec: nothing of ours may reach the process (CVE-2024-21626),
 * and the signal mask the runtime blocked for its own loop is not the process's. */
static _noreturn_ void exec_process(int syncfd, const char *path, const lc_security_params *sp, unsigned preserve_fds) {
	const lc_process_config *p = sp->process;
	kc_error err = {0};
	sigset_t none;

	for (unsigned fd = 3; fd < 3 + preserve_fds; fd++) {
		int fl = fcntl((int)fd, F_GETFD);
		if (fl >= 0)
			(void)fcntl((int)fd, F_SETFD, fl & ~FD_CLOEXEC);
	}
	int r = lc_close_range(3 + preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
	if (r < 0) {
		kc_error_set(&err, -r, "close_range: %s", strerror(-r));
		lc_child_fail(syncfd, &err);
	}
	/* Ignored signals stay ignored across execve: the agent ignores SIGPIPE, and a container's `yes | head`
	 * would then never end. Every disposition starts at its default, as in a fresh process. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* With noNewPrivileges the filter goes on last, so that it only has to allow execve itself. */
	r = lc_process_apply_late_seccomp(sp, &err);
	if (r < 0)
		lc_child_fail(syncfd, &err);
	execve(path, p->args, p->env ? p->env : (char *const[]){NULL});
	kc_error_set(&err, errno, "exec `%s`: %s", path, strerror(errno));
	lc_child_fail(syncfd, &err);
}

/* ---- SCMP_ACT_NOTIFY: the listener fd to linux.seccomp.listenerPath ---------------------------------------
 * As runc and crun do: once the filter is installed, one message goes to the socket at listenerPath, the
 * container process state as JSON with the listener attached (SCM_RIGHTS):
 *   {"ociVersion": ..., "fds": ["seccompFd"], "pid": <host pid>, "metadata": <listenerMetadata>,
 *    "state": <the container's state JSON>}
 * The runtime connects before the clone (the path is the host's, out of the child's reach after pivot_root)
 * and, knowing the host pid only after the clone, writes the message into a pipe the child reads before its
 * security steps. After the install, the child's only syscall before the hand-off is sendmsg, which specconv
 * keeps out of SCMP_ACT_NOTIFY rules (a notified sendmsg would wait for a listener nobody holds yet). */

/* The pipe holds the whole message (it is written before the child reads it, by a parent that must not
 * block): its capacity. */
#define LC_NOTIFY_MSG_MAX LC_HOOK_STATE_MAX

typedef struct notify_handoff {
	int sock;     /* connected to listenerPath */
	int msg_fd;   /* read end of the message pipe */
	char *msg;
	size_t len;
} notify_handoff;

/* Appends s as a JSON string. */
static int json_string(char *buf, size_t size, size_t *off, const char *s) {
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i == 0 || s[i - 1]; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[8];
		size_t n = 0;
		if (i == 0)
			esc[n++] = '"';
		if (!ch) {
			esc[n++] = '"';
		} else if (ch == '"' || ch == '\\') {
			esc[n++] = '\\';
			esc[n++] = (char)ch;
		} else if (ch < 0x20) {
			memcpy(esc + n, "\\u00", 4);
			n += 4;
			esc[n++] = hex[ch >> 4];
			esc[n++] = hex[ch & 15];
		} else {
			esc[n++] = (char)ch;
		}
		if (*off + n >= size)
			return -E2BIG;
		memcpy(buf + *off, esc, n);
		*off += n;
		if (!ch)
			break;
	}
	buf[*off] = '\0';
	return 0;
}

/* In the runtime, after the clone: the whole message into the pipe, which then closes. */
static int notify_write_msg(int fd, pid_t pid, const char *metadata, const char *state, kc_error *err) {
	_cleanup_free_ char *buf = malloc(LC_NOTIFY_MSG_MAX);
	size_t off = 0;
	if (!buf)
		return kc_error_set(err, ENOMEM, "out of memory");
	int r = format_checked(buf, LC_NOTIFY_MSG_MAX, "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d,\"metadata\":",
				 (int)pid);
	if (r >= 0) {
		off = strlen(buf);
		r = json_string(buf, LC_NOTIFY_MSG_MAX, &off, metadata ? metadata : "");
	}
	if (r >= 0) {
		r = format_checked(buf + off, LC_NOTIFY_MSG_MAX - off, ",\"state\":%s}", state);
		off += r >= 0 ? strlen(buf + off) : 0;
	}
	if (r < 0)
		return kc_error_set(err, E2BIG, "linux.seccomp: the container process state is larger than %d bytes",
				    LC_NOTIFY_MSG_MAX);
	r = write_all(fd, buf, off);
	if (r < 0)
		return kc_error_set(err, -r, "linux.seccomp: pass the listener message to the child: %s", strerror(-r));
	return 0;
}

/* In the child, before the security steps: the message, whole (the runtime wrote it and closed its end). */
static int notify_prepare(notify_handoff *h, kc_error *err) {
	if (h->msg_fd < 0)
		return 0;
	h->msg = malloc(LC_NOTIFY_MSG_MAX);
	if (!h->msg)
		return kc_error_set(err, ENOMEM, "out of memory");
	for (h->len = 0; h->len < LC_NOTIFY_MSG_MAX;) {
		ssize_t n = read(h->msg_fd, h->msg + h->len, LC_NOTIFY_MSG_MAX - h->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kc_error_set(err, errno, "linux.seccomp: read the listener message: %s", strerror(errno));
		if (n == 0)
			break;
		h->len += (size_t)n;
	}
	h->msg_fd = safe_close(h->msg_fd);
	if (h->len == 0)
		return kc_error_set(err, EIO, "linux.seccomp: the runtime sent no listener message");
	return 0;
}

/* listener_cb: right after the install. */
static int notify_send(int listener_fd, void *userdata, kc_error *err) {
	notify_handoff *h = userdata;
	if (h->sock < 0 || !h->msg)
		return kc_error_set(err, EINVAL, "linux.seccomp.listenerPath: no listener to send the notify fd to");
	int r = lc_send_fd(h->sock, listener_fd, h->msg, h->len);
	if (r < 0)
		return kc_error_set(err, -r, "linux.seccomp.listenerPath: send the notify fd: %s", strerror(-r));
	h->sock = safe_close(h->sock);
	return 0;
}

/* ---- init ---------------------------------------------------------------------------------------------------- */

static int join_namespaces(const lc_config *cfg, kc_error *err) {
	/* The user namespace first: the others are owned by it and need its capabilities to join. */
	static const lc_ns_kind order[] = {LC_NS_USER, LC_NS_MOUNT, LC_NS_UTS, LC_NS_IPC, LC_NS_NET, LC_NS_CGROUP, LC_NS_TIME};
	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		const lc_ns_config *ns = &cfg->ns[order[i]];
		if (!ns->enabled || !ns->path)
			continue;
		_cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return kc_error_set(err, errno, "linux.namespaces: open %s namespace `%s`: %s",
					    lc_ns_kind_name(order[i]), ns->path, strerror(errno));
		if (setns(fd, (int)lc_ns_kind_clone_flag(order[i])) < 0)
			return kc_error_set(err, errno, "linux.namespaces: join %s namespace `%s`: %s",
					    lc_ns_kind_name(order[i]), ns->path, strerror(errno));
	}
	return 0;
}

/* Sysctls go through the host's procfs, opened before anything of the container's is mounted: /proc/sys/net and
 * the ipc and uts entries show the namespaces of the task that opens them, which are the container's now. */
static int write_sysctls(const lc_config *cfg, int host_procfd, kc_error *err) {
	for (size_t i = 0; i < cfg->n_sysctl; i++) {
		char rel[PATH_MAX];
		int r = format_checked(rel, sizeof rel, "sys/%s", cfg->sysctl[i].proc_path);
		if (r < 0)
			return kc_error_set(err, -r, "linux.sysctl.%s: path too long", cfg->sysctl[i].key);
		_cleanup_close_ int fd = openat(host_procfd, rel, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			return kc_error_set(err, errno, "linux.sysctl.%s: open /proc/%s: %s", cfg->sysctl[i].key, rel,
					    strerror(errno));
		r = write_all(fd, cfg->sysctl[i].value, strlen(cfg->sysctl[i].value));
		if (r < 0)
			return kc_error_set(err, -r, "linux.sysctl.%s: write `%s`: %s", cfg->sysctl[i].key,
					    cfg->sysctl[i].value, strerror(-r));
	}
	return 0;
}

/* In a user namespace we are still the runtime's uid and gid, which it need not map: the kernel then refuses
 * every inode we would create (mkdir /dev/pts on the container's tmpfs is EOVERFLOW) and the ownership checks of
 * mount options (devpts gid=5). So, as runc and crun do once the maps are written, become root of the namespace
 * before any mount; the process's own user comes last, with its security. A namespace that maps no 0 (EINVAL)
 * leaves us as we are, as before. */
static int become_userns_root(const lc_config *cfg, kc_error *err) {
	if (!(cfg->clone_flags & CLONE_NEWUSER) && !(cfg->ns[LC_NS_USER].enabled && cfg->ns[LC_NS_USER].path))
		return 0;
	if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
		return kc_error_set(err, errno, "user namespace: setresgid(0): %s", strerror(errno));
	if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
		return kc_error_set(err, errno, "user namespace: setresuid(0): %s", strerror(errno));
	return 0;
}

static int set_names(const lc_config *cfg, kc_error *err) {
	if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
		return kc_error_set(err, errno, "hostname: `%s`: %s", cfg->hostname, strerror(errno));
	if (cfg->domainname && setdomainname(cfg->domainname, strlen(cfg->domainname)) < 0)
		return kc_error_set(err, errno, "domainname: `%s`: %s", cfg->domainname, strerror(errno));
	return 0;
}

/* Blocks until `start` writes to the exec fifo. The init holds the read end, opened by the runtime before the
 * clone: it needs no path and no /proc after the uid switch, and `start` can tell a dead init (its non-blocking
 * open for writing fails with ENXIO once no reader is left). A fifo reader that never had a writer sees no
 * POLLHUP, so poll sleeps until start. */
static int wait_for_start(int fifo, kc_error *err) {
	struct pollfd p = {.fd = fifo, .events = POLLIN};
	char c;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return kc_error_set(err, errno, "wait on the exec fifo: %s", strerror(errno));
	if (read(fifo, &c, 1) != 1)
		return kc_error_set(err, EPIPE, "exec fifo closed without the start signal");
	return 0;
}

/* The first GO's value: what the init still has to do before its setup. */
enum {
	LC_GO_UNSHARE_CGROUPNS = 1 << 0,
};

bool lc_spawn_needs_hooks(const lc_config *cfg) {
	return cfg->n_hooks[LC_HOOK_PRESTART] || cfg->n_hooks[LC_HOOK_CREATE_RUNTIME] ||
	       cfg->n_hooks[LC_HOOK_CREATE_CONTAINER] || cfg->n_hooks[LC_HOOK_START_CONTAINER];
}

/* The longest the runtime and the child wait for each other across a hook step: the hooks' own bounds plus the
 * usual sync timeout. */
static int hooks_timeout_ms(const lc_config *cfg, lc_hook_kind k1, lc_hook_kind k2) {
	int64_t s = LC_SYNC_TIMEOUT_MS / 1000;
	lc_hook_kind kinds[] = {k1, k2};
	for (size_t k = 0; k < (k1 == k2 ? 1u : 2u); k++)
		for (size_t i = 0; i < cfg->n_hooks[kinds[k]]; i++) {
			int64_t t = cfg->hooks[kinds[k]][i].timeout;
			s += t > 0 ? MIN(t, (int64_t)86400) : LC_HOOK_TIMEOUT_DEFAULT_S;
		}
	return (int)MIN(s * 1000, (int64_t)INT32_MAX);
}

typedef struct init_hooks {
	const lc_config *cfg;
	int syncfd, state_fd;
	char *state; /* read from state_fd; kept for startContainer */
} init_hooks;

/* In the child, mounts done and before pivot_root: the parent runs prestart and createRuntime, then the
 * createContainer hooks run here, in the container's namespaces, with paths of the runtime's root. */
static int init_before_pivot(void *userdata, kc_error *err) {
	init_hooks *h = userdata;
	lc_sync_msg m;
	int r = lc_sync_send(h->syncfd, LC_SYNC_HOOKS, 0, NULL);
	if (r < 0)
		return kc_error_set(err, -r, "sync with the runtime: %s", strerror(-r));
	r = lc_sync_recv(h->syncfd, hooks_timeout_ms(h->cfg, LC_HOOK_PRESTART, LC_HOOK_CREATE_RUNTIME), &m);
	if (r <= 0 || m.type != LC_SYNC_GO)
		_exit(1); /* the runtime failed a hook or gave up: it reports, and kills us */
	/* The runtime wrote all of it and closed its end before GO: this read ends at EOF. */
	h->state = calloc(1, LC_HOOK_STATE_MAX + 1);
	if (!h->state)
		return kc_error_set(err, ENOMEM, "hooks: out of memory");
	for (size_t len = 0;;) {
		ssize_t n = read(h->state_fd, h->state + len, LC_HOOK_STATE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kc_error_set(err, errno, "hooks: read the state: %s", strerror(errno));
		if (n == 0 || (len += (size_t)n) == LC_HOOK_STATE_MAX)
			break;
	}
	h->state_fd = safe_close(h->state_fd);
	return lc_hooks_run(h->cfg, LC_HOOK_CREATE_CONTAINER, h->state, err);
}

static void set_undumpable(int syncfd) {
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		kc_error err = {0};
		kc_error_set(&err, errno, "prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		lc_child_fail(syncfd, &err);
	}
}

static _noreturn_ void init_child(const lc_spawn_args *a, int syncfd, int state_fd, int notify_fd, bool unified_done,
				  bool maps_by_user) {
	const lc_config *cfg = a->cfg;
	const lc_process_config *p = cfg->process;
	kc_error err = {0};
	lc_sync_msg m;
	char exe[PATH_MAX];
	lc_security_params sp;
	int r;

	lc_security_params_init(&sp, p, a->seccomp, cfg->has_personality, cfg->personality);
	notify_handoff nh = {.sock = -1, .msg_fd = -1};
	sp.listener_cb = notify_send;
	sp.userdata = &nh;
	/* Not dumpable while we still hold host fds and the runtime's memory: nothing in the container (or in a
	 * pid namespace we join) may ptrace us or open /proc/PID/{exe,fd,mem}. execve resets it for the
	 * container's own program. But the /proc/PID files of a process that is not dumpable belong to root: an
	 * unprivileged runtime could not write our id maps there. Only then does it wait for GO, which comes after
	 * the maps (as runc's nsexec does it); such a runtime can be ptraced by its own user anyway, and so are
	 * we until then. */
	if (!maps_by_user)
		set_undumpable(syncfd);
	/* Into the cgroup first, while the runtime still writes our id maps and its directories are open here. A
	 * failure is told once the runtime listens, after GO. */
	kc_error cg_err = {0};
	int cg_r = a->cgroup ? lc_cgroup_enter_self(a->cgroup, unified_done, &cg_err) : 0;
	int fifo = move_above(a->exec_fifo_fd, a->preserve_fds);
	int console = move_above(a->console_sock_fd, a->preserve_fds);
	int start_err = move_above(a->start_err_fd, a->preserve_fds);
	nh.sock = move_above(a->seccomp_listener_fd, a->preserve_fds);
	nh.msg_fd = move_above(notify_fd, a->preserve_fds);
	int state_in = state_fd;
	state_fd = move_above(state_fd, a->preserve_fds);
	syncfd = move_above(syncfd, a->preserve_fds);
	if (syncfd < 0 || fifo < 0 || (a->console_sock_fd >= 0 && console < 0) || (a->start_err_fd >= 0 && start_err < 0) ||
	    (a->seccomp_listener_fd >= 0 && nh.sock < 0) || (notify_fd >= 0 && nh.msg_fd < 0) || (state_in >= 0 && state_fd < 0))
		_exit(1);
	if (setup_stdio(a->stdio, a->preserve_fds, &err) < 0)
		lc_child_fail(syncfd, &err);
	close_other_fds(a->preserve_fds, (int[]){ syncfd, fifo, console, state_fd, start_err, nh.sock, nh.msg_fd }, 7);

	/* The parent writes the id maps before we touch anything. */
	r = lc_sync_recv(syncfd, LC_SYNC_TIMEOUT_MS, &m);
	if (r <= 0 || m.type != LC_SYNC_GO)
		_exit(1);
	if (maps_by_user)
		set_undumpable(syncfd);
	if (cg_r < 0) {
		kc_error_prefix(&cg_err, "put the container init into its cgroup");
		lc_child_fail(syncfd, &cg_err);
	}
	/* The cgroup namespace is rooted at the cgroup its creator is in: when we were moved into ours after the
	 * clone, it is made now, from inside. */
	if ((m.value & LC_GO_UNSHARE_CGROUPNS) && unshare(CLONE_NEWCGROUP) < 0) {
		kc_error_set(&err, errno, "unshare the cgroup namespace: %s", strerror(errno));
		lc_child_fail(syncfd, &err);
	}

	(void)umask(0); /* device nodes and directories get exactly the modes the spec gives */
	if (setsid() < 0) {
		kc_error_set(&err, errno, "setsid: %s", strerror(errno));
		lc_child_fail(syncfd, &err);
	}
	init_hooks hooks = {.cfg = cfg, .syncfd = syncfd, .state_fd = state_fd};
	r = join_namespaces(cfg, &err);
	if (r >= 0)
		r = become_userns_root(cfg, &err);
	if (r >= 0)
		r = set_names(cfg, &err);
	int host_procfd = r < 0 ? -1 : open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r >= 0 && host_procfd < 0)
		r = kc_error_set(&err, errno, "open /proc: %s", strerror(errno));
	if (r >= 0)
		r = write_sysctls(cfg, host_procfd, &err);
	if (r >= 0)
		r = lc_rootfs_setup(cfg, a->rootfs, a->no_pivot, host_procfd, state_fd >= 0 ? init_before_pivot : NULL,
				    &hooks, &err);
	if (r >= 0 && p->terminal)
		r = lc_console_setup_child(console, p, &err);
	console = safe_close(console);
	if (r >= 0)
		r = lc_chdir_verified(p->cwd, &err);
	(void)umask(0022); /* the security module sets the spec's umask, or this same default */
	if (r >= 0)
		r = notify_prepare(&nh, &err);
	if (r >= 0)
		r = lc_process_apply_security(&sp, &err);
	/* The executable is checked now, so that a typo fails `create` rather than a later `start` whose caller
	 * has no way to hear about it. */
	if (r >= 0)
		r = lc_find_executable(p->args[0], p->env, exe, sizeof exe, &err);
	if (r < 0)
		lc_child_fail(syncfd, &err);

	r = lc_sync_send(syncfd, LC_SYNC_READY, 0, NULL);
	if (r < 0)
		_exit(1);
	r = wait_for_start(fifo, &err);
	/* startContainer: in the container, after start, before the process; a failure stops the container
	 * (nobody is left on the sync socket, so lc_child_fail says it on stderr). */
	if (r >= 0 && cfg->n_hooks[LC_HOOK_START_CONTAINER])
		r = lc_hooks_run(cfg, LC_HOOK_START_CONTAINER, hooks.state ? hooks.state : "{}", &err);
	if (r < 0) {
		/* Written before we exit, so a `start` that sees the exec fifo's reader go finds it there. */
		if (start_err >= 0)
			(void)write_all(start_err, err.msg, strnlen(err.msg, sizeof err.msg));
		lc_child_fail(syncfd, &err);
	}
	start_err = safe_close(start_err);
	host_procfd = safe_close(host_procfd);
	/* The fifo stays open until execve closes it (close-on-exec): `start` waits for that, its last reader
	 * gone, before it runs poststart. */
	exec_process(syncfd, exe, &sp, a->preserve_fds);
}

static int write_id_map(pid_t pid, const char *file, const lc_id_mapping *m, size_t n, kc_error *err) {
	char path[64], buf[4096];
	size_t off = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int r = format_checked(buf + off, sizeof buf - off, "%u %u %u\n", m[i].container_id, m[i].host_id,
				       m[i].size);
		if (r < 0)
			return kc_error_set(err, E2BIG, "linux.%s: more mappings than the kernel takes", file);
		off += strlen(buf + off);
	}
	(void)snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int r = write_string_file(path, buf);
	/* Without CAP_SETGID over our own user namespace (rootless) the kernel takes a gid map only once
	 * setgroups(2) is denied in the new one: the process then keeps the groups it has. */
	if (r == -EPERM && strcmp(file, "gid_map") == 0) {
		char sg[64];
		(void)snprintf(sg, sizeof sg, "/proc/%d/setgroups", (int)pid);
		if (write_string_file(sg, "deny") >= 0)
			r = write_string_file(path, buf);
	}
	if (r < 0)
		return kc_error_set(err, -r, "linux.%s: write %s: %s", file, path, strerror(-r));
	return 0;
}

/* ---- operations as steps (op.h) --------------------------------------------------------------------------- */

typedef enum op_phase {
	OP_WAIT_INIT,   /* init: waiting for HOOKS, READY or ERROR */
	OP_HOOKS,       /* init: running prestart, then createRuntime, one hook at a time */
	OP_WAIT_READY,  /* init: hooks done and GO sent; waiting for READY or ERROR */
	OP_WAIT_EXEC,   /* exec: waiting for EOF (the process exec'd) or ERROR */
	OP_EXEC_SETTLE, /* exec: EOF seen, the process neither renamed by execve nor dead yet (exec_eof) */
	OP_DONE,
	OP_FAILED,
} op_phase;

struct lc_op {
	op_phase phase;
	int syncfd;
	pid_t pid;
	int pidfd;
	uint64_t deadline_ns;
	uint64_t settle_until_ns; /* OP_EXEC_SETTLE */
	/* init with hooks */
	const lc_config *cfg;
	int state_wr;
	char *state;
	int (*runtime_state)(void *userdata, pid_t pid, const char *status, char **ret_state, kc_error *err);
	void *state_userdata;
	lc_hook_kind hook_kind;
	size_t hook_i;
	lc_hook_run hook; /* hook.pidfd >= 0 while one runs */
	/* init: the container's cgroup and its OOM kill count before the clone, to name an init the OOM killer
	 * took during setup (cgroup NULL or has_oom_base false: not known) */
	lc_cgroup *cgroup;
	bool has_oom_base;
	uint64_t oom_base;
	/* the layer above (container.c, instance.c) */
	lc_op_layer layer;
};

static uint64_t deadline_in(uint64_t ms) {
	return now_ns() + ms * 1000000u;
}

int lc_op_fd(const lc_op *op) {
	if (op->phase == OP_HOOKS && op->hook.pidfd >= 0)
		return op->hook.pidfd;
	if (op->phase == OP_EXEC_SETTLE)
		return op->pidfd; /* readable once it is dead */
	return op->phase == OP_DONE || op->phase == OP_FAILED ? -1 : op->syncfd;
}

uint64_t lc_op_deadline(const lc_op *op) {
	if (op->phase == OP_HOOKS && op->hook.pidfd >= 0)
		return op->hook.deadline_ns;
	return op->deadline_ns;
}

void lc_op_child(const lc_op *op, pid_t *ret_pid, int *ret_pidfd) {
	*ret_pid = op->pid;
	*ret_pidfd = op->pidfd;
}

void lc_op_take_child(lc_op *op, pid_t *ret_pid, int *ret_pidfd) {
	*ret_pid = op->pid;
	*ret_pidfd = TAKE_FD(op->pidfd);
}

void lc_op_set_layer(lc_op *op, const lc_op_layer *layer) {
	op->layer = *layer;
}

/* A hook still running when the operation ends is killed and collected: it is ours alone (no exit signal). */
static void op_stop_hook(lc_op *op) {
	if (op->hook.pidfd < 0)
		return;
	op->hook.deadline_ns = 0;
	(void)lc_hook_finish(&op->hook, false, NULL);
	op->hook.pidfd = safe_close(op->hook.pidfd);
}

/* The end of a failed operation: the child is SIGKILLed (an exec'd process that reported its own failure
 * exits by itself) but not collected, it is the caller's. */
static int op_fail(lc_op *op, bool kill_child, int r) {
	op_stop_hook(op);
	if (kill_child && op->pidfd >= 0)
		(void)lc_pidfd_send_signal(op->pidfd, SIGKILL);
	op->syncfd = safe_close(op->syncfd);
	op->state_wr = safe_close(op->state_wr);
	op->phase = OP_FAILED;
	return r;
}

lc_op *lc_op_free(lc_op *op) {
	if (!op)
		return NULL;
	bool done = op->phase == OP_DONE;
	if (op->phase != OP_DONE && op->phase != OP_FAILED)
		(void)op_fail(op, true, -ECANCELED);
	if (op->layer.cleanup)
		op->layer.cleanup(op->layer.userdata, op, done);
	(void)safe_close(op->syncfd);
	(void)safe_close(op->state_wr);
	(void)safe_close(op->pidfd);
	free(op->state);
	free(op);
	return NULL;
}

static lc_op *op_new(void) {
	lc_op *op = calloc(1, sizeof *op);
	if (!op)
		return NULL;
	op->syncfd = op->pidfd = op->state_wr = op->hook.pidfd = -1;
	op->pid = -1;
	return op;
}

/* One datagram if there is one: 1 with a message, 0 on EOF, -EAGAIN when nothing is there yet. */
static int sync_recv_now(int fd, lc_sync_msg *ret) {
	memset(ret, 0, sizeof *ret);
	ssize_t n = recv(fd, ret, sizeof *ret, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == ECONNRESET ? 0 : errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return 0;
	if ((size_t)n > sizeof *ret || (size_t)n < offsetof(lc_sync_msg, text))
		return -EBADMSG;
	ret->text[sizeof ret->text - 1] = '\0';
	return 1;
}

/* Starts the next prestart or createRuntime hook; when there is none left, hands the state to the init and
 * lets it go on to its createContainer hooks and the rest of its setup. */
static int op_next_hook(lc_op *op, kc_error *err) {
	while (op->hook_kind == LC_HOOK_PRESTART || op->hook_kind == LC_HOOK_CREATE_RUNTIME) {
		if (op->hook_i < op->cfg->n_hooks[op->hook_kind]) {
			int r = lc_hook_spawn(&op->cfg->hooks[op->hook_kind][op->hook_i], op->state, &op->hook, err);
			if (r < 0)
				return kc_error_prefix(err, "hooks.%s[%zu]", lc_hook_kind_name(op->hook_kind), op->hook_i);
			return -EAGAIN;
		}
		op->hook_i = 0;
		op->hook_kind = op->hook_kind == LC_HOOK_PRESTART ? LC_HOOK_CREATE_RUNTIME : _LC_HOOK_MAX;
	}
	/* The state fits the pipe (LC_HOOK_STATE_MAX, set at begin): this write does not block. */
	int r = write_all(op->state_wr, op->state, MIN(strlen(op->state), (size_t)LC_HOOK_STATE_MAX));
	op->state_wr = safe_close(op->state_wr);
	if (r >= 0)
		r = lc_sync_send(op->syncfd, LC_SYNC_GO, 0, NULL);
	if (r < 0)
		return kc_error_set(err, -r, "sync with container init: %s", strerror(-r));
	op->phase = OP_WAIT_READY;
	op->deadline_ns = deadline_in((uint64_t)hooks_timeout_ms(op->cfg, LC_HOOK_CREATE_CONTAINER, LC_HOOK_CREATE_CONTAINER));
	return -EAGAIN;
}

static int op_step_hooks(lc_op *op, kc_error *err) {
	int r = lc_hook_finish(&op->hook, false, err);
	if (r == -EAGAIN)
		return -EAGAIN;
	if (r < 0)
		return kc_error_prefix(err, "hooks.%s[%zu]", lc_hook_kind_name(op->hook_kind), op->hook_i);
	op->hook_i++;
	return op_next_hook(op, err);
}

/* EOF from the init before READY: it died without a word. The one death worth naming is the OOM killer's
 * (a memory limit the init cannot even set up under), as runc does: the cgroup counted it before the kill, so
 * the counter is up to date by the time the socket closes. */
/* The container's OOM kill count rose since the op began: its child was most likely the one killed. */
static bool oom_killed_since_begin(const lc_op *op) {
	uint64_t kills;
	return op->cgroup && op->has_oom_base && lc_cgroup_oom_kills(op->cgroup, &kills) >= 0 && kills > op->oom_base;
}

static int init_exited_error(lc_op *op, kc_error *err) {
	if (oom_killed_since_begin(op))
		return kc_error_set(err, ENOMEM, "container init was OOM-killed during setup: "
				    "linux.resources.memory.limit is too low for it");
	return kc_error_set(err, EIO, "container init exited during setup");
}

/* The init's messages: HOOKS (once, when the config has hooks), then READY; ERROR or EOF at any point. */
static int op_step_init(lc_op *op, kc_error *err) {
	lc_sync_msg m;
	int r = sync_recv_now(op->syncfd, &m);
	if (r == -EAGAIN) {
		if (now_ns() < op->deadline_ns)
			return -EAGAIN;
		return kc_error_set(err, ETIMEDOUT, "waiting for container init: %s", strerror(ETIMEDOUT));
	}
	if (r < 0)
		return kc_error_set(err, -r, "waiting for container init: %s", strerror(-r));
	if (r == 0)
		return init_exited_error(op, err);
	if (m.type == LC_SYNC_ERROR)
		return error_from_msg(&m, "container init", err);
	if (m.type == LC_SYNC_HOOKS && op->phase == OP_WAIT_INIT && op->state_wr >= 0) {
		r = op->runtime_state(op->state_userdata, op->pid, "created", &op->state, err);
		if (r < 0)
			return r;
		op->phase = OP_HOOKS;
		op->hook_kind = LC_HOOK_PRESTART;
		op->hook_i = 0;
		return op_next_hook(op, err);
	}
	if (m.type != LC_SYNC_READY)
		return kc_error_set(err, EBADMSG, "container init: unexpected sync message %u", m.type);
	return 0;
}

/* The name an exec'd process carries until its execve (exec_child sets it). execve renames the process only after
 * it closed the close-on-exec fds, the sync socket among them, so one that is dead and still has this name at
 * EOF died before its exec; under any other name it died after, and its status is WaitProcess's business. */
#define EXEC_SETUP_COMM "lc-exec-setup"
#define EXEC_EOF_SETTLE_MS 200

/* 1 when pid is still called EXEC_SETUP_COMM, 0 when not (or gone). */
static int comm_is_setup(pid_t pid) {
	char path[64], comm[32] = "";
	_cleanup_close_ int fd = -EBADF;
	(void)snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, comm, sizeof comm - 1);
	if (n <= 0)
		return 0;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, EXEC_SETUP_COMM) == 0;
}

/* EOF on the sync socket: the process exec'd (its end was close-on-exec), or it died during its setup without a
 * word, which for an exec is mostly the OOM killer's doing (a container at its memory limit), named as such like
 * a create's (init_exited_error). The zombie, our child until the caller reaps it, is looked at with WNOWAIT.
 * A process between closing its fds and being renamed by execve, or between closing its fds and becoming a
 * zombie, is a moment's state: -EAGAIN, and the op waits in OP_EXEC_SETTLE for its pidfd or a 1 ms deadline,
 * for at most EXEC_EOF_SETTLE_MS in all, then counts it as exec'd. A process someone else reaped already cannot be
 * told apart: it counts as exec'd. */
static int exec_eof(lc_op *op, kc_error *err) {
	siginfo_t si = { 0 };
	if (op->pidfd < 0 || waitid((idtype_t)P_PIDFD, (id_t)op->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return 0;
	if (!comm_is_setup(op->pid))
		return 0;
	if (si.si_pid == 0) {
		uint64_t now = now_ns();
		if (op->phase != OP_EXEC_SETTLE) {
			op->phase = OP_EXEC_SETTLE;
			op->settle_until_ns = now + EXEC_EOF_SETTLE_MS * 1000000ull;
		}
		if (now >= op->settle_until_ns)
			return 0;
		op->deadline_ns = MIN(now + 1000000ull, op->settle_until_ns);
		return -EAGAIN;
	}
	bool killed = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
	if (killed && si.si_status == SIGKILL && oom_killed_since_begin(op))
		return kc_error_set(err, ENOMEM, "exec: the process was OOM-killed during setup, before its exec: "
				    "the container is at its memory limit (linux.resources.memory.limit)");
	if (killed)
		return kc_error_set(err, EINTR, "exec: the process was killed by signal %d (%s) during setup, before its exec",
				    si.si_status, strsignal(si.si_status));
	return kc_error_set(err, EIO, "exec: the process exited with status %d during setup, before its exec",
			    si.si_status);
}

/* An exec'd process: EOF on the sync socket means it exec'd or died (exec_eof tells which). */
static int op_step_exec(lc_op *op, kc_error *err) {
	lc_sync_msg m;
	int r = sync_recv_now(op->syncfd, &m);
	if (r == -EAGAIN) {
		if (now_ns() < op->deadline_ns)
			return -EAGAIN;
		return kc_error_set(err, ETIMEDOUT, "exec: waiting for the process to exec: %s", strerror(ETIMEDOUT));
	}
	if (r > 0 && m.type == LC_SYNC_ERROR)
		return error_from_msg(&m, "exec", err);
	if (r != 0)
		return kc_error_set(err, r < 0 ? -r : EBADMSG, "exec: waiting for the process to exec");
	return exec_eof(op, err);
}

int lc_op_step(lc_op *op, kc_error *err) {
	int r;
	switch (op->phase) {
	case OP_DONE:
		return 0;
	case OP_FAILED:
		return kc_error_set(err, ECANCELED, "the operation has already failed");
	case OP_HOOKS:
		r = op_step_hooks(op, err);
		break;
	case OP_WAIT_INIT:
	case OP_WAIT_READY:
		r = op_step_init(op, err);
		break;
	case OP_WAIT_EXEC:
	case OP_EXEC_SETTLE:
		r = op->phase == OP_WAIT_EXEC ? op_step_exec(op, err) : exec_eof(op, err);
		if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT)
			return op_fail(op, false, r); /* it exits 126/127/1 by itself */
		break;
	default:
		r = -EINVAL;
	}
	if (r == -EAGAIN)
		return r;
	if (r < 0)
		return op_fail(op, true, r);
	if (op->layer.done) {
		r = op->layer.done(op->layer.userdata, op, err);
		if (r < 0)
			return op_fail(op, true, r);
	}
	op->syncfd = safe_close(op->syncfd);
	op->phase = OP_DONE;
	return 0;
}

int lc_op_run(lc_op *op, kc_error *err) {
	for (;;) {
		int r = lc_op_step(op, err);
		if (r != -EAGAIN)
			return r;
		struct pollfd p = {.fd = lc_op_fd(op), .events = POLLIN};
		uint64_t now = now_ns(), deadline = lc_op_deadline(op);
		int ms = deadline <= now ? 0 : (int)MIN((deadline - now + 999999u) / 1000000u, (uint64_t)INT32_MAX);
		if (poll(&p, 1, ms) < 0 && errno != EINTR)
			return op_fail(op, true, kc_error_set(err, errno, "poll: %s", strerror(errno)));
	}
}

/* Runs clone3 with our children's pid namespace (and time namespace) switched to those of nsfd for the
 * duration: setns(CLONE_NEWPID) changes only pid_for_children, so the caller itself stays where it is, and is
 * switched back to its own right after. This replaces a helper process that would join and clone on our
 * behalf: one process fewer, and no short-lived child that a waitpid(-1) elsewhere could collect. */
/* Set when the kernel refused to let us back into our own pid namespace (it never should): from then on every
 * child of ours would be born in a container's, so nothing more is cloned. The caller (PID 1 in the guest)
 * lives on and answers each request with the error. */
static int pidns_stuck;

static int check_pidns(kc_error *err) {
	if (pidns_stuck)
		return kc_error_set(err, pidns_stuck, "cannot return to our own pid namespace (%s): refusing to clone",
				    strerror(pidns_stuck));
	return 0;
}

static pid_t clone_in_pidns(lc_clone_args *ca, int nsfd, int nstype) {
	if (nsfd < 0)
		return lc_clone3(ca);
	_cleanup_close_ int own_pid = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int own_time = (nstype & CLONE_NEWTIME) ? open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC) : -1;
	if (own_pid < 0 || ((nstype & CLONE_NEWTIME) && own_time < 0))
		return -errno;
	if (setns(nsfd, nstype) < 0)
		return -errno;
	pid_t pid = lc_clone3(ca);
	if (pid == 0)
		return 0;
	/* Our own namespaces are always ones we may return to. */
	if (setns(own_pid, CLONE_NEWPID) < 0 || (own_time >= 0 && setns(own_time, CLONE_NEWTIME) < 0)) {
		pidns_stuck = errno;
		if (pid > 0)
			(void)kill(pid, SIGKILL); /* our child, not yet collected: the pid is still its */
		return -pidns_stuck;
	}
	return pid;
}

/* The pipe the seccomp notify fd's message goes through (the whole message fits, so writing never waits), when
 * the filter has SCMP_ACT_NOTIFY; -1s otherwise. */
static int notify_pipe(bool notify, bool has_listener, int ret[2], kc_error *err) {
	ret[0] = ret[1] = -1;
	if (!notify)
		return 0;
	if (!has_listener)
		return kc_error_set(err, EINVAL, "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener");
	if (pipe2(ret, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe: %s", strerror(errno));
	(void)fcntl(ret[1], F_SETPIPE_SZ, LC_NOTIFY_MSG_MAX);
	return 0;
}

/* clone3 of the init into its namespaces, into the pid namespace pidns when it joins one. Where there is a
 * cgroup2 hierarchy (v2 and hybrid) the init is born in its cgroup there (*ret_unified_done), and the child
 * enters the rest itself (lc_cgroup_enter_self). A new cgroup namespace is rooted where its creator is in every
 * hierarchy, so unless the clone placed the init everywhere (pure v2), the child unshares it after entering. */
static pid_t clone_init(const lc_spawn_args *a, int pidns, int *pidfd, bool *ret_unified_done, int64_t *ret_go) {
	lc_clone_args ca = {
		.flags = a->cfg->clone_flags | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
	};
	bool pure_v2 = a->cgroup && lc_cgroup_get_layout(a->cgroup)->mode == LC_CGROUP_V2;
	bool new_cgns = a->cgroup && (ca.flags & CLONE_NEWCGROUP);
	ca.flags &= ~(uint64_t)(new_cgns ? CLONE_NEWCGROUP : 0);
	bool placed_everywhere = false;
	pid_t pid = -1;
	int cgfd = a->cgroup ? lc_cgroup_unified_fd(a->cgroup) : -1;
	if (cgfd >= 0) {
		lc_clone_args cca = ca;
		cca.flags |= CLONE_INTO_CGROUP | (new_cgns && pure_v2 ? CLONE_NEWCGROUP : 0);
		cca.cgroup = (uint64_t)cgfd;
		pid = clone_in_pidns(&cca, pidns, CLONE_NEWPID);
		/* Kernels before 5.7 (E2BIG/EINVAL), or a cgroup that is not a valid leaf (EBUSY/EOPNOTSUPP): the
		 * child's cgroup.procs write after a plain clone says which. */
		*ret_unified_done = pid >= 0;
		placed_everywhere = pid >= 0 && pure_v2;
	}
	if (pid < 0)
		pid = clone_in_pidns(&ca, pidns, CLONE_NEWPID);
	if (new_cgns && !placed_everywhere)
		*ret_go |= LC_GO_UNSHARE_CGROUPNS;
	return pid;
}

/* In the runtime right after the clone: id maps, the listener message, then GO. (The init enters its cgroup
 * itself meanwhile; a half-way entry is undone by the caller, which kills the init and destroys the cgroup.) */
static int init_go(lc_op *op, const lc_spawn_args *a, int notify_wr, int64_t go, kc_error *err) {
	const lc_config *cfg = a->cfg;
	int r;

	if (cfg->clone_flags & CLONE_NEWUSER) {
		r = write_id_map(op->pid, "uid_map", cfg->uid_mappings, cfg->n_uid_mappings, err);
		if (r >= 0)
			r = write_id_map(op->pid, "gid_map", cfg->gid_mappings, cfg->n_gid_mappings, err);
		if (r < 0)
			return r;
	}
	if (notify_wr >= 0) {
		_cleanup_free_ char *state = NULL;
		r = a->runtime_state(a->hooks_userdata, op->pid, "creating", &state, err);
		if (r >= 0)
			r = notify_write_msg(notify_wr, op->pid, cfg->seccomp->listener_metadata, state, err);
		if (r < 0)
			return r;
	}
	r = lc_sync_send(op->syncfd, LC_SYNC_GO, go, NULL);
	if (r < 0)
		return kc_error_set(err, -r, "sync with container init: %s", strerror(-r));
	return 0;
}

int lc_spawn_init_begin(const lc_spawn_args *a, lc_op **ret, kc_error *err) {
	const lc_config *cfg = a->cfg;
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	int sv[2], pidfd = -1;
	int r;

	if (!cfg->process || !cfg->process->args)
		return kc_error_set(err, EINVAL, "process.args: the container needs a process to run");
	r = check_pidns(err);
	if (r < 0)
		return r;
	bool hooks = lc_spawn_needs_hooks(cfg);
	if (hooks && !a->runtime_state)
		return kc_error_set(err, EINVAL, "hooks: the caller gave no way to run them");
	_cleanup_close_ int pidns = -1;
	if (cfg->ns[LC_NS_PID].enabled && cfg->ns[LC_NS_PID].path) {
		pidns = open(cfg->ns[LC_NS_PID].path, O_RDONLY | O_CLOEXEC);
		if (pidns < 0)
			return kc_error_set(err, errno, "linux.namespaces: open pid namespace `%s`: %s", cfg->ns[LC_NS_PID].path,
					    strerror(errno));
	}
	op = op_new();
	if (!op)
		return kc_error_set(err, ENOMEM, "out of memory");
	op->cfg = cfg;
	op->runtime_state = a->runtime_state;
	op->state_userdata = a->hooks_userdata;
	op->cgroup = a->cgroup;
	op->has_oom_base = a->cgroup && lc_cgroup_oom_kills(a->cgroup, &op->oom_base) >= 0;
	int hp[2] = {-1, -1};
	if (hooks && pipe2(hp, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe: %s", strerror(errno));
	_cleanup_close_ int state_rd = hp[0];
	op->state_wr = hp[1];
	/* The whole state goes into the pipe at once, so that writing it never waits for the init. */
	if (hooks)
		(void)fcntl(op->state_wr, F_SETPIPE_SZ, LC_HOOK_STATE_MAX);
	bool notify = a->seccomp && a->seccomp->notify;
	int np[2];
	r = notify_pipe(notify, a->seccomp_listener_fd >= 0 && a->runtime_state, np, err);
	if (r < 0)
		return r;
	_cleanup_close_ int notify_rd = np[0], notify_wr = np[1];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return kc_error_set(err, errno, "socketpair: %s", strerror(errno));
	op->syncfd = sv[0];

	bool unified_done = false;
	/* An unprivileged runtime writes our id maps as its user (init_child). */
	bool maps_by_user = (cfg->clone_flags & CLONE_NEWUSER) && geteuid() != 0;
	int64_t go = 0;
	pid_t pid = clone_init(a, pidns, &pidfd, &unified_done, &go);
	if (pid < 0) {
		(void)close(sv[1]);
		return kc_error_set(err, -pid, "clone3 (namespaces 0x%lx): %s", cfg->clone_flags, strerror(-pid));
	}
	if (pid == 0) {
		(void)close(sv[0]);
		if (op->state_wr >= 0)
			(void)close(op->state_wr);
		if (notify_wr >= 0)
			(void)close(notify_wr);
		init_child(a, sv[1], state_rd, notify_rd, unified_done, maps_by_user);
	}
	(void)close(sv[1]);
	notify_rd = safe_close(notify_rd);
	op->pid = pid;
	op->pidfd = pidfd;
	op->phase = OP_WAIT_INIT;
	op->deadline_ns = deadline_in(LC_SYNC_TIMEOUT_MS);

	r = init_go(op, a, notify_wr, go, err);
	notify_wr = safe_close(notify_wr);
	/* On failure the caller gets the op back even so, for the child it must collect. */
	if (r < 0)
		(void)op_fail(op, true, r);
	*ret = TAKE_PTR(op);
	return r;
}

/* ---- exec into a running container ---------------------------------------------------------------------- */

/* The process, a direct child of the caller already in the container's pid namespace: joins the cgroup and the
 * other namespaces itself, then becomes the container's process. */
/* Rootless exec: an unprivileged runtime cannot enter the container's pid namespace for its children, but the
 * child, once in the container's user namespace, can. It does, and forks the process there; it then stays
 * behind as a relay (the runtime's child, so the runtime still collects the exit status): it forwards every
 * signal it gets to the process and exits with the process's status (128+signal for a signal death). Returns
 * in the process only. */
static void relay_into_pidns(const lc_exec_args *a, int syncfd) {
	kc_error err = {0};
	sigset_t all;

	if (setns(a->target_pidfd, (int)(a->ns_flags & (CLONE_NEWPID | CLONE_NEWTIME))) < 0) {
		kc_error_set(&err, errno, "join the container's pid namespace: %s", strerror(errno));
		lc_child_fail(syncfd, &err);
	}
	/* Blocked before the fork so that no signal meant for the process is lost in between; the process
	 * unblocks everything before its execve. */
	sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, NULL);
	int sfd = signalfd(-1, &all, SFD_CLOEXEC);
	if (sfd < 0) {
		kc_error_set(&err, errno, "signalfd: %s", strerror(errno));
		lc_child_fail(syncfd, &err);
	}
	pid_t pid = fork();
	if (pid < 0) {
		kc_error_set(&err, errno, "fork into the container's pid namespace: %s", strerror(errno));
		lc_child_fail(syncfd, &err);
	}
	if (pid == 0) {
		(void)close(sfd);
		return;
	}
	/* The runtime's EOF is the process's execve: the relay must not hold the sync socket, nor the setup's name,
	 * which would make the runtime take it for a process still on its way to execve. */
	(void)prctl(PR_SET_NAME, "lc-exec-relay", 0, 0, 0);
	(void)close(syncfd);
	for (;;) {
		struct signalfd_siginfo si;
		int status;
		ssize_t n = read(sfd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si)
			_exit(1);
		if (si.ssi_signo != SIGCHLD) {
			(void)kill(pid, (int)si.ssi_signo);
			continue;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
}

static _noreturn_ void exec_child(const lc_exec_args *a, int syncfd, bool in_cgroup, int notify_fd, bool relay) {
	const lc_process_config *p = a->process;
	kc_error err = {0};
	char exe[PATH_MAX];
	lc_security_params sp;
	notify_handoff nh = {.sock = a->seccomp_listener_fd, .msg_fd = notify_fd};
	int r = 0;

	/* Dumpable off before the first setns: from then on the container could reach us through /proc. */
	set_undumpable(syncfd);
	/* Until execve renames it: how the runtime tells a death during setup from one after the exec (exec_eof). */
	(void)prctl(PR_SET_NAME, EXEC_SETUP_COMM, 0, 0, 0);
	syncfd = move_above(syncfd, a->preserve_fds);
	nh.sock = move_above(nh.sock, a->preserve_fds);
	nh.msg_fd = move_above(nh.msg_fd, a->preserve_fds);
	if (syncfd < 0 || (a->seccomp_listener_fd >= 0 && nh.sock < 0) || (notify_fd >= 0 && nh.msg_fd < 0))
		_exit(1);
	if (setup_stdio(a->stdio, a->preserve_fds, &err) < 0)
		lc_child_fail(syncfd, &err);
	/* The container's cgroup before its namespaces, while the host's cgroupfs is still in reach. */
	if (a->cgroup && lc_cgroup_enter_self(a->cgroup, in_cgroup, &err) < 0) {
		kc_error_prefix(&err, "join the container's cgroup");
		lc_child_fail(syncfd, &err);
	}
	/* One setns on the pidfd joins every namespace at once (Linux 5.8), so there is no half-joined state. The
	 * pid and time namespaces were ours at birth. */
	unsigned flags = a->ns_flags & ~(unsigned)(CLONE_NEWPID | CLONE_NEWTIME);
	if (flags && setns(a->target_pidfd, (int)flags) < 0) {
		kc_error_set(&err, errno, "join the container's namespaces (0x%x): %s", flags, strerror(errno));
		lc_child_fail(syncfd, &err);
	}
	if (relay)
		relay_into_pidns(a, syncfd);
	lc_security_params_init(&sp, p, a->seccomp, a->has_personality, a->personality);
	sp.listener_cb = notify_send;
	sp.userdata = &nh;
	if (p->terminal && setsid() < 0)
		r = kc_error_set(&err, errno, "setsid: %s", strerror(errno));
	if (r >= 0 && p->terminal)
		r = lc_console_setup_child(a->console_sock_fd, p, &err);
	if (r >= 0)
		r = lc_chdir_verified(p->cwd, &err);
	if (r >= 0)
		r = notify_prepare(&nh, &err);
	if (r >= 0)
		r = lc_process_apply_security(&sp, &err);
	if (r >= 0)
		r = lc_find_executable(p->args[0], p->env, exe, sizeof exe, &err);
	if (r < 0)
		lc_child_fail(syncfd, &err);
	exec_process(syncfd, exe, &sp, a->preserve_fds);
}

int lc_spawn_exec_begin(const lc_exec_args *a, lc_op **ret, kc_error *err) {
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	int sv[2], pidfd = -1;

	if (!a->process || !a->process->args)
		return kc_error_set(err, EINVAL, "process.args: nothing to run");
	int r = check_pidns(err);
	if (r < 0)
		return r;
	op = op_new();
	if (!op)
		return kc_error_set(err, ENOMEM, "out of memory");
	bool notify = a->seccomp && a->seccomp->notify;
	int np[2];
	r = notify_pipe(notify, a->seccomp_listener_fd >= 0 && a->seccomp_state, np, err);
	if (r < 0)
		return r;
	_cleanup_close_ int notify_rd = np[0], notify_wr = np[1];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return kc_error_set(err, errno, "socketpair: %s", strerror(errno));
	op->syncfd = sv[0];
	/* The OOM kills so far, to name one that takes the process before its exec (exec_eof). */
	uint64_t oom_base = 0;
	bool has_oom_base = a->cgroup && lc_cgroup_oom_kills(a->cgroup, &oom_base) >= 0;

	lc_clone_args ca = {.flags = CLONE_PIDFD, .pidfd = (uint64_t)(uintptr_t)&pidfd, .exit_signal = SIGCHLD};
	int pidns = (a->ns_flags & CLONE_NEWPID) ? a->target_pidfd : -1;
	int nstype = CLONE_NEWPID | (int)(a->ns_flags & CLONE_NEWTIME);
	/* Born in the container's cgroup2 cgroup (v2 and hybrid); the child enters any v1 hierarchies itself. */
	int cgfd = a->cgroup ? lc_cgroup_unified_fd(a->cgroup) : -1;
	pid_t pid = -EINVAL;
	if (cgfd >= 0) {
		lc_clone_args cca = ca;
		cca.flags |= CLONE_INTO_CGROUP;
		cca.cgroup = (uint64_t)cgfd;
		pid = clone_in_pidns(&cca, pidns, nstype);
	}
	bool in_cgroup = pid >= 0;
	if (!in_cgroup) {
		/* No pidns to enter and no time namespace: still go through setns when the target has its own time
		 * namespace, which only children can join. */
		if (pidns < 0 && (a->ns_flags & CLONE_NEWTIME)) {
			pidns = a->target_pidfd;
			nstype = CLONE_NEWTIME;
		}
		pid = clone_in_pidns(&ca, pidns, nstype);
	}
	/* Entering a pid namespace for our children takes CAP_SYS_ADMIN over our own user namespace, which an
	 * unprivileged (rootless) runtime lacks: the child enters it from inside the container's user namespace
	 * and relays (relay_into_pidns). */
	bool relay = false;
	if (pid == -EPERM && pidns >= 0 && (a->ns_flags & CLONE_NEWUSER)) {
		relay = true;
		pid = lc_clone3(&ca);
	}
	if (pid < 0) {
		(void)close(sv[1]);
		return kc_error_set(err, -pid, "clone3 into the container: %s", strerror(-pid));
	}
	if (pid == 0) {
		(void)close(sv[0]);
		if (notify_wr >= 0)
			(void)close(notify_wr);
		exec_child(a, sv[1], in_cgroup, notify_rd, relay);
	}
	(void)close(sv[1]);
	op->pid = pid;
	op->pidfd = pidfd;
	op->cgroup = a->cgroup;
	op->has_oom_base = has_oom_base;
	op->oom_base = oom_base;
	op->phase = OP_WAIT_EXEC;
	op->deadline_ns = deadline_in(LC_SYNC_TIMEOUT_MS);
	if (notify) {
		r = notify_write_msg(notify_wr, pid, a->seccomp_metadata, a->seccomp_state, err);
		if (r < 0) {
			/* The op goes back all the same: the killed process is the caller's to collect. */
			(void)op_fail(op, true, r);
			*ret = TAKE_PTR(op);
			return r;
		}
	}
	*ret = TAKE_PTR(op);
	return 0;
}

/* ---- CVE-2019-5736 ------------------------------------------------------------------------------------------ */

/* Until it execs, a container's init (and an exec'd process) is this binary: /proc/PID/exe, a `#!/proc/self/exe`
 * interpreter or a magic link to it would let the container open the runtime's executable and, once the runtime
 * exits, write to it. So the runtime runs from a copy nothing can write:
 *   - already safe: /proc/self/exe on a read-only mount (an installed binary on a ro /usr, or our own re-exec
 *     below) or a sealed memfd: return 0;
 *   - else a read-only, detached bind mount of the binary itself (open_tree(OPEN_TREE_CLONE) + mount_setattr
 *     MOUNT_ATTR_RDONLY): a few syscalls, no copy, and the mount exists only as long as a process runs from
 *     it; writes through /proc/PID/exe fail with EROFS;
 *   - where that is not allowed (no CAP_SYS_ADMIN, kernels before 5.12), a sealed memfd copy (F_SEAL_*): costs
 *     a copy of the binary per invocation.
 * Either way it re-execs and does not return on success. */
static bool self_is_safe(int self) {
	struct statvfs sv;
	int seals = fcntl(self, F_GET_SEALS);
	if (seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SEAL)) == (F_SEAL_WRITE | F_SEAL_SEAL))
		return true;
	return fstatvfs(self, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

static int self_ro_bind(int *ret) {
	_cleanup_close_ int tree = lc_open_tree(AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return tree;
	lc_mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	int r = lc_mount_setattr(tree, "", AT_EMPTY_PATH, &a);
	if (r < 0)
		return r;
	/* The tree fd is an O_PATH handle on the file at the detached mount's root: execveat takes it as is. */
	*ret = TAKE_FD(tree);
	return 0;
}

static int self_memfd_copy(int self, int *ret, kc_error *err) {
	struct stat st;
	if (fstat(self, &st) < 0)
		return kc_error_set(err, errno, "stat /proc/self/exe: %s", strerror(errno));
	_cleanup_close_ int mfd = memfd_create("lcrun", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return kc_error_set(err, errno, "memfd_create: %s", strerror(errno));
	for (off_t done = 0; done < st.st_size;) {
		ssize_t n = sendfile(mfd, self, NULL, (size_t)(st.st_size - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kc_error_set(err, n < 0 ? errno : EIO, "copy /proc/self/exe to a memfd: %s",
					    n < 0 ? strerror(errno) : "short read");
		done += n;
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return kc_error_set(err, errno, "seal the memfd: %s", strerror(errno));
	*ret = TAKE_FD(mfd);
	return 0;
}

int lc_self_ensure_sealed(char *const argv[], char *const envp[], kc_error *err) {
	_cleanup_close_ int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return kc_error_set(err, errno, "open /proc/self/exe: %s", strerror(errno));
	if (self_is_safe(self))
		return 0;
	_cleanup_close_ int fd = -1;
	if (self_ro_bind(&fd) < 0) {
		int r = self_memfd_copy(self, &fd, err);
		if (r < 0)
			return r;
	}
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	return kc_error_set(err, errno, "re-exec from a read-only copy of the runtime: %s", strerror(errno));
}

/* The namespaces of pid that differ from ours: the ones an exec into its container joins. */
unsigned lc_ns_flags_differing(pid_t pid) {
	static const lc_ns_kind kinds[] = { LC_NS_USER, LC_NS_MOUNT, LC_NS_UTS, LC_NS_IPC,
					    LC_NS_NET,  LC_NS_PID,   LC_NS_CGROUP, LC_NS_TIME };
	unsigned flags = 0;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		char a[64], b[64];
		struct stat sa, sb;
		(void)snprintf(a, sizeof a, "/proc/%d/ns/%s", (int)pid, lc_ns_kind_proc_name(kinds[i]));
		(void)snprintf(b, sizeof b, "/proc/self/ns/%s", lc_ns_kind_proc_name(kinds[i]));
		if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev))
			flags |= (unsigned)lc_ns_kind_clone_flag(kinds[i]);
	}
	return flags;
}

/* The container's cgroup, made and limited before its init exists: the path from linux.cgroupsPath (under
 * parent when relative or empty), then linux.resources. Nothing is left behind on failure. */
int lc_spawn_cgroup_create(const lc_config *cfg, const char *parent, const char *id, bool rootless, lc_cgroup **ret,
			   kc_error *err) {
	_cleanup_(lc_cgroup_layout_freep) lc_cgroup_layout *l = NULL;
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;
	_cleanup_free_ char *path = NULL;
	bool systemd;

	int r = lc_cgroup_path_resolve(cfg->cgroups_path, parent, id, &path, &systemd, err);
	if (r < 0)
		return kc_error_prefix(err, "linux.cgroupsPath");
	r = lc_cgroup_layout_detect(NULL, &l, err);
	if (r < 0)
		return r;
	r = lc_cgroup_open(l, path, LC_CGROUP_CREATE | (rootless ? LC_CGROUP_NO_DEVICES : LC_CGROUP_DEFAULT_DEVICES), &cg,
			   err);
	if (r < 0)
		return kc_error_prefix(err, "linux.cgroupsPath");
	r = lc_cgroup_apply(cg, cfg->resources, false, err);
	if (r < 0) {
		(void)lc_cgroup_destroy(cg, 0, NULL);
		return kc_error_prefix(err, "linux.resources");
	}
	*ret = TAKE_PTR(cg);
	return 0;
}
