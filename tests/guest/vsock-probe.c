/* vsock-probe: /init of the test initrd (tests/vm/test-vsock-loopback.sh). It brings up just enough of the
 * guest (base mounts, the initrd's kernel modules), starts the real static agent in standalone mode on vsock,
 * drives it over the vsock loopback transport (CID 1) and reports one line per case on the console:
 *
 *   [       OK ] vsock-loopback: NAME
 *   [  FAILED  ] vsock-loopback: NAME: why
 *   [  SKIPPED ] vsock-loopback: why          (no loopback transport in this kernel)
 *   vsock-probe: done N passed, M failed
 *
 * then stops the agent and powers the VM off. The agent gets no test hook for this: it is driven from outside,
 * the way the host drives it. Run as a plain process (not PID 1) it skips the bring-up and exits instead. */
#define LOG_SOURCE "vsock-probe"
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "agent.pb-c.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "health.pb-c.h"
#include "init/init.h"
#include "launcher/ttrpc-client.h"
#include "proto/frame.h"

#define AGENT_PATH "/bin/kata-agent"
#define AGENT_PORT 1024
#define NS_PER_MS 1000000LL
/* The agent binds within milliseconds, but TCG on a loaded host is slow; give it five seconds. */
#define CONNECT_TOTAL_NS (5000 * NS_PER_MS)
/* One attempt's wait: a transport that never answers must cost a retry, not the whole test. */
#define CONNECT_ATTEMPT_MS 500
#define CONNECT_RETRY_NS (50 * NS_PER_MS)
/* Sent as timeout_nano with every call, so the agent's own deadline bounds it and the client's wait too. */
#define CALL_TIMEOUT_NS (5000 * NS_PER_MS)
#define OOM_TIMEOUT_NS (200 * NS_PER_MS)
#define AGENT_EXIT_WAIT_NS (5000 * NS_PER_MS)

#define HEALTH "grpc.Health"
#define AGENT "grpc.AgentService"

typedef struct probe {
	unsigned passed, failed;
	pid_t agent;
	bool agent_gone;
	int agent_status;
} probe;

/* One write() per line: the agent logs to the same console, and the tty layer keeps each write() whole. */
static void emit(const char *fmt, ...) _printf_(1, 2);
static void emit(const char *fmt, ...) {
	char line[KC_ERROR_MSG_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line) /* only a case name could do this; ours are short */
		n = sizeof line - 1;
	(void)write_all(STDOUT_FILENO, line, (size_t)n);
}

static void report(probe *p, const char *name, int r, const kc_error *err) {
	if (r >= 0) {
		p->passed++;
		emit("[       OK ] vsock-loopback: %s\n", name);
	} else {
		p->failed++;
		emit("[  FAILED  ] vsock-loopback: %s: %s\n", name, err->msg[0] ? err->msg : strerror(-r));
	}
}

static void describe_status(int status, char *buf, size_t size) {
	if (WIFEXITED(status))
		(void)format_checked(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		(void)format_checked(buf, size, "was killed by signal %d", WTERMSIG(status));
	else
		(void)format_checked(buf, size, "ended with wait status 0x%x", (unsigned)status);
}

/* As PID 1 every orphan in the VM is ours to reap; the agent's status is kept. */
static void reap_children(probe *p) {
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0)
		if (pid == p->agent) {
			p->agent_gone = true;
			p->agent_status = status;
		}
}

/* fork + exec with a close-on-exec pipe: EOF means the exec happened, four bytes are the child's errno. */
static int spawn_agent(probe *p, kc_error *err) {
	static char *const argv[] = { AGENT_PATH, "--server-addr", "vsock://-1:1024", NULL };
	static char *const envp[] = { "PATH=/bin:/sbin", NULL };
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return kc_error_set(err, errno, "pipe2: %m");
	_cleanup_close_ int rfd = pfd[0], wfd = pfd[1];
	pid_t pid = fork();
	if (pid < 0)
		return kc_error_set(err, errno, "fork: %m");
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		/* Everything above stdio is close-on-exec already; make sure of it, keeping the error pipe open. */
		(void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
		execve(AGENT_PATH, argv, envp);
		int e = errno;
		(void)write(wfd, &e, sizeof e);
		_exit(e == ENOENT ? 127 : 126);
	}
	p->agent = pid;
	wfd = safe_close(wfd);
	int child_errno = 0;
	ssize_t n;
	do
		n = read(rfd, &child_errno, sizeof child_errno);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof child_errno) {
		/* The child is about to _exit: reap it now, there is no agent to stop. */
		(void)waitpid(pid, NULL, __WALL);
		p->agent = -1;
		return kc_error_set(err, child_errno, "exec %s: %s", AGENT_PATH, strerror(child_errno));
	}
	return 0;
}

/* One non-blocking connect, bounded by timeout_ms; returns a blocking fd (the client writes with send()). */
static int vsock_connect_once(unsigned cid, unsigned port, int timeout_ms, int *ret_fd) {
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		do
			r = poll(&pfd, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			return -errno;
		if (soerr != 0)
			return -soerr;
	}
	r = fd_set_nonblock(fd, false);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static bool no_transport(int r) {
	/* EAFNOSUPPORT: no vsock core. ENODEV: no transport serves CID 1 (no vsock_loopback). */
	return r == -EAFNOSUPPORT || r == -ENODEV;
}

/* Retries until the agent has bound its port; gives up early when it died or no transport can carry it. */
static int connect_agent(probe *p, ttrpc_client **ret, kc_error *err) {
	uint64_t deadline = now_ns() + CONNECT_TOTAL_NS;
	unsigned attempts = 0;
	int fd = -EBADF, r;

	for (;;) {
		attempts++;
		r = vsock_connect_once(VMADDR_CID_LOCAL, AGENT_PORT, CONNECT_ATTEMPT_MS, &fd);
		if (r >= 0)
			return ttrpc_client_new(fd, ret);
		if (no_transport(r))
			return kc_error_set(err, -r, "connect to CID %u port %u: %s", VMADDR_CID_LOCAL, AGENT_PORT,
					    strerror(-r));
		reap_children(p);
		if (p->agent_gone) {
			char how[64];
			describe_status(p->agent_status, how, sizeof how);
			return kc_error_set(err, ECHILD, "the agent %s before accepting", how);
		}
		if (now_ns() >= deadline)
			return kc_error_set(err, -r, "connect to CID %u port %u: %s after %u attempts in %lld ms",
					    VMADDR_CID_LOCAL, AGENT_PORT, strerror(-r), attempts,
					    CONNECT_TOTAL_NS / NS_PER_MS);
		(void)nanosleep(&(struct timespec){ .tv_nsec = CONNECT_RETRY_NS }, NULL);
	}
}

/* A unary call that must succeed; *ret is the unpacked response. */
static int call_ok(ttrpc_client *c, const char *service, const char *method, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **ret, kc_error *err) {
	_cleanup_free_ char *msg = NULL;
	int code = 0;
	int r = ttrpc_client_call(c, service, method, req, resp_desc, CALL_TIMEOUT_NS, ret, &code, &msg);
	if (r < 0)
		return kc_error_set(err, -r, "/%s/%s: %s", service, method, strerror(-r));
	if (code != 0) {
		protobuf_c_message_free_unpacked(*ret, NULL);
		return kc_error_set(err, EPROTO, "/%s/%s: %s: %s", service, method, ttrpc_code_name(code), msg ?: "");
	}
	return 0;
}

/* A call that must fail with want; *ret_ns is how long the answer took. */
static int call_expect_code(ttrpc_client *c, const char *service, const char *method, const ProtobufCMessage *req,
			    int64_t timeout_ns, int want, uint64_t *ret_ns, kc_error *err) {
	_cleanup_free_ char *msg = NULL;
	ProtobufCMessage *resp = NULL;
	uint64_t start = now_ns();
	int code = 0;
	int r = ttrpc_client_call(c, service, method, req, NULL, timeout_ns, &resp, &code, &msg);
	if (r < 0)
		return kc_error_set(err, -r, "/%s/%s: %s", service, method, strerror(-r));
	protobuf_c_message_free_unpacked(resp, NULL);
	if (code != want)
		return kc_error_set(err, EPROTO, "/%s/%s: got %s (%d) \"%s\", want %s (%d)", service, method,
				    ttrpc_code_name(code), code, msg ?: "", ttrpc_code_name(want), want);
	if (ret_ns)
		*ret_ns = now_ns() - start;
	return 0;
}

static int case_health_check(probe *p, ttrpc_client *c, kc_error *err) {
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	int r = call_ok(c, HEALTH, "Check", &req.base, &grpc__health_check_response__descriptor, &m, err);
	if (r < 0)
		return r;
	Grpc__HealthCheckResponse *resp = (Grpc__HealthCheckResponse *)m;
	int status = resp->status;
	protobuf_c_message_free_unpacked(m, NULL);
	if (status != GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
		return kc_error_set(err, EPROTO, "status %d, want SERVING", status);
	return 0;
}

static int case_health_version(probe *p, ttrpc_client *c, kc_error *err) {
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	int r = call_ok(c, HEALTH, "Version", &req.base, &grpc__version_check_response__descriptor, &m, err);
	if (r < 0)
		return r;
	Grpc__VersionCheckResponse *resp = (Grpc__VersionCheckResponse *)m;
	if (!streq_ptr(resp->grpc_version, "0.0.1"))
		r = kc_error_set(err, EPROTO, "grpc_version `%s`, want `0.0.1`", resp->grpc_version ?: "");
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

static int case_guest_details(probe *p, ttrpc_client *c, kc_error *err) {
	Grpc__GuestDetailsRequest req = GRPC__GUEST_DETAILS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	req.mem_block_size = true;
	int r = call_ok(c, AGENT, "GetGuestDetails", &req.base, &grpc__guest_details_response__descriptor, &m, err);
	if (r < 0)
		return r;
	Grpc__GuestDetailsResponse *resp = (Grpc__GuestDetailsResponse *)m;
	if (resp->mem_block_size_bytes == 0)
		r = kc_error_set(err, EPROTO, "mem_block_size_bytes is 0");
	else if (!resp->agent_details)
		r = kc_error_set(err, EPROTO, "no agent_details");
	/* The agent is our child here, not PID 1, and must say so. */
	else if (resp->agent_details->init_daemon)
		r = kc_error_set(err, EPROTO, "agent_details.init_daemon is true for an agent that is not PID 1");
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

static int case_unimplemented(probe *p, ttrpc_client *c, kc_error *err) {
	/* ResizeVolume: the upstream agent itself always answers UNIMPLEMENTED. */
	Grpc__ResizeVolumeRequest req = GRPC__RESIZE_VOLUME_REQUEST__INIT;
	return call_expect_code(c, AGENT, "ResizeVolume", &req.base, CALL_TIMEOUT_NS, KC_UNIMPLEMENTED, NULL, err);
}

/* Nothing produces OOM events yet, so the long poll must end with the agent's deadline answer, not before. */
static int case_oom_deadline(probe *p, ttrpc_client *c, kc_error *err) {
	Grpc__GetOOMEventRequest req = GRPC__GET_OOMEVENT_REQUEST__INIT;
	uint64_t took;
	int r = call_expect_code(c, AGENT, "GetOOMEvent", &req.base, OOM_TIMEOUT_NS, KC_DEADLINE_EXCEEDED, &took, err);
	if (r < 0)
		return r;
	if (took < (uint64_t)OOM_TIMEOUT_NS)
		return kc_error_set(err, EPROTO, "DEADLINE_EXCEEDED after %llu ms, before the %lld ms deadline",
				    (unsigned long long)(took / NS_PER_MS), OOM_TIMEOUT_NS / NS_PER_MS);
	return 0;
}

/* Two more connections at once: a long poll pending on one must not hold up a call on the other. */
static int case_concurrent(probe *p, ttrpc_client *c, kc_error *err) {
	_cleanup_(ttrpc_client_freep) ttrpc_client *a = NULL, *b = NULL;
	Grpc__GetOOMEventRequest oom = GRPC__GET_OOMEVENT_REQUEST__INIT;
	_cleanup_free_ uint8_t *in = NULL;
	uint32_t stream;
	int r;

	r = connect_agent(p, &a, err);
	if (r >= 0)
		r = connect_agent(p, &b, err);
	if (r < 0)
		return kc_error_prefix(err, "second connections");
	size_t len = protobuf_c_message_get_packed_size(&oom.base);
	if (len > 0) {
		in = malloc(len);
		if (!in)
			return kc_error_set(err, ENOMEM, "GetOOMEventRequest: out of memory");
		(void)protobuf_c_message_pack(&oom.base, in);
	}
	r = ttrpc_client_send(a, AGENT, "GetOOMEvent", in, len, 1000 * NS_PER_MS, &stream);
	if (r < 0)
		return kc_error_set(err, -r, "send GetOOMEvent on the first: %s", strerror(-r));
	r = case_health_check(p, b, err);
	if (r < 0)
		return kc_error_prefix(err, "Check on the second while the first waits");
	struct pollfd pfd = { .fd = ttrpc_client_fd(a), .events = POLLIN };
	if (poll(&pfd, 1, 0) != 0)
		return kc_error_set(err, EPROTO, "the first connection's long poll answered before its deadline");
	_cleanup_free_ char *msg = NULL;
	_cleanup_free_ uint8_t *out = NULL;
	size_t out_len;
	int code;
	r = ttrpc_client_recv(a, stream, 2 * CALL_TIMEOUT_NS, &code, &msg, &out, &out_len);
	if (r < 0)
		return kc_error_set(err, -r, "GetOOMEvent on the first: %s", strerror(-r));
	if (code != KC_DEADLINE_EXCEEDED)
		return kc_error_set(err, EPROTO, "GetOOMEvent on the first: %s, want DEADLINE_EXCEEDED",
				    ttrpc_code_name(code));
	return case_health_check(p, a, err) < 0 ? kc_error_prefix(err, "Check on the first afterwards") : 0;
}

static const struct {
	const char *name;
	int (*fn)(probe *p, ttrpc_client *c, kc_error *err);
} cases[] = {
	{ "health-check", case_health_check },
	{ "health-version", case_health_version },
	{ "guest-details", case_guest_details },
	{ "unimplemented", case_unimplemented },
	{ "oom-deadline", case_oom_deadline },
	{ "concurrent-connections", case_concurrent },
};

/* SIGTERM is how a standalone agent is stopped; it must end cleanly (exit 0) within the wait. */
static int stop_agent(probe *p, kc_error *err) {
	uint64_t deadline = now_ns() + AGENT_EXIT_WAIT_NS;
	sigset_t chld;
	char how[64];

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	reap_children(p);
	if (!p->agent_gone && kill(p->agent, SIGTERM) < 0)
		return kc_error_set(err, errno, "kill %d: %m", (int)p->agent);
	for (;;) {
		reap_children(p);
		if (p->agent_gone)
			break;
		uint64_t now = now_ns();
		if (now >= deadline) {
			(void)kill(p->agent, SIGKILL);
			return kc_error_set(err, ETIMEDOUT, "the agent was still running %lld ms after SIGTERM",
					    AGENT_EXIT_WAIT_NS / NS_PER_MS);
		}
		struct timespec ts = { .tv_sec = (time_t)((deadline - now) / 1000000000ULL),
				       .tv_nsec = (long)((deadline - now) % 1000000000ULL) };
		(void)sigtimedwait(&chld, NULL, &ts);
	}
	if (!WIFEXITED(p->agent_status) || WEXITSTATUS(p->agent_status) != 0) {
		describe_status(p->agent_status, how, sizeof how);
		return kc_error_set(err, ECHILD, "the agent %s after SIGTERM, want exit status 0", how);
	}
	return 0;
}

static void bring_up(void) {
	kc_error err = {};
	struct utsname u;
	char moddir[300];

	if (init_mount_base(&err) < 0)
		log_error("base mounts: %s", err.msg);
	kc_error_clear(&err);
	if (uname(&u) < 0 || format_checked(moddir, sizeof moddir, "/lib/modules/%s", u.release) < 0)
		log_error("cannot name the module directory");
	else if (init_load_modules(moddir, NULL, 0, &err) < 0)
		log_error("kernel modules: %s", err.msg);
}

/* Runs every case on one connection. Returns false when the loopback transport is missing (a skip). */
static bool run_cases(probe *p) {
	_cleanup_(ttrpc_client_freep) ttrpc_client *c = NULL;
	kc_error err = {};
	int r;

	r = spawn_agent(p, &err);
	if (r < 0) {
		report(p, "spawn-agent", r, &err);
		return true;
	}
	r = connect_agent(p, &c, &err);
	if (no_transport(r)) {
		emit("[  SKIPPED ] vsock-loopback: no vsock loopback transport in this guest (is vsock_loopback "
		     "loaded?): %s\n", err.msg);
		return false;
	}
	report(p, "connect", r, &err);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(cases); i++) {
		kc_error_clear(&err);
		report(p, cases[i].name, cases[i].fn(p, c, &err), &err);
	}
	return true;
}

int main(void) {
	bool pid1 = getpid() == 1;
	probe p = { .agent = -1 };
	kc_error err = {};
	sigset_t chld;

	log_set_fd(STDERR_FILENO);
	/* Blocked before the fork, so no exit can slip by stop_agent's sigtimedwait. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &chld, NULL);
	if (pid1)
		bring_up();

	bool ran = run_cases(&p);
	if (p.agent > 0) {
		int r = stop_agent(&p, &err);
		if (ran)
			report(&p, "agent-exit", r, &err);
		else if (r < 0)
			log_warn("stopping the agent: %s", err.msg);
	}
	emit("vsock-probe: done %u passed, %u failed\n", p.passed, p.failed);
	if (!pid1)
		return p.failed ? 1 : ran ? 0 : 77;
	init_poweroff();
}
