#include "launcher/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "agent.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "proto/frame.h"

#define NSEC_PER_SEC 1000000000LL
#define AGENT_SERVICE "grpc.AgentService"
#define READ_CHUNK 65536
#define STDIN_CHUNK 65536

static void message_freep(ProtobufCMessage **m) {
	if (*m)
		protobuf_c_message_free_unpacked(*m, NULL);
}

int relay_call(ttrpc_client *c, const char *prog, const char *method, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *resp_desc, int64_t timeout_s) {
	_cleanup_(message_freep) ProtobufCMessage *resp = NULL;
	_cleanup_free_ char *msg = NULL;
	int code = 0;
	int r = ttrpc_client_call(c, AGENT_SERVICE, method, req, resp_desc, timeout_s * NSEC_PER_SEC, &resp, &code,
				  &msg);
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, method, strerror(-r));
		return r;
	}
	if (code != 0) {
		fprintf(stderr, "%s: %s: %s: %s\n", prog, method, ttrpc_code_name(code), msg ? msg : "");
		return code == KC_NOT_FOUND ? -ENOENT : code == KC_PERMISSION_DENIED ? -EACCES : -EIO;
	}
	return 0;
}

/* Every signal that would otherwise end us and leave the VM behind goes to the process instead, as docker's
 * sig-proxy does. */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM };

int relay_signals_open(bool terminal, sigset_t *ret_old) {
	sigset_t mask;
	sigemptyset(&mask);
	for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
		sigaddset(&mask, forwarded[i]);
	if (terminal)
		sigaddset(&mask, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &mask, ret_old) < 0)
		return -errno;
	(void)signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int relay_window_size(uint32_t *ret_rows, uint32_t *ret_cols) {
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return -ENOTTY;
	*ret_rows = ws.ws_row;
	*ret_cols = ws.ws_col;
	return 0;
}

/* The saved mode lives in a global because a fatal-signal handler and atexit() restore it: there is only one
 * controlling terminal per process. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;

static void relay_tty_restore(void) {
	if (tty_saved) {
		(void)tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tty);
		tty_saved = 0;
	}
}

/* A crash with the terminal raw: restore it (tcsetattr is async-signal-safe), then die of the same signal. The
 * forwarded signals never get here: they are blocked and read from the signalfd. */
static void on_fatal_signal(int sig) {
	if (tty_saved)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

static int relay_tty_raw(void) {
	static const int fatal[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	struct termios raw;
	if (tty_saved || !isatty(STDIN_FILENO))
		return 0;
	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return -errno;
	raw = saved_tty;
	cfmakeraw(&raw);
	tty_saved = 1;
	static bool registered;
	if (!registered) {
		registered = true;
		(void)atexit(relay_tty_restore);
		for (size_t i = 0; i < ELEMENTSOF(fatal); i++)
			(void)sigaction(fatal[i], &(struct sigaction){ .sa_handler = on_fatal_signal }, NULL);
	}
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
		tty_saved = 0;
		return -errno;
	}
	return 0;
}

/* One pending call on its own connection. */
typedef struct pending {
	ttrpc_client *c;
	const char *method;
	uint32_t stream;
	bool busy, done;
} pending;

typedef struct relay {
	const relay_config *cfg;
	pending out, err, wait, in;
	bool stdin_open;
	bool first_byte_seen;
	int status;
} relay;

static int pending_send(pending *p, const ProtobufCMessage *req) {
	size_t len = protobuf_c_message_get_packed_size(req);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(req, buf);
	int r = ttrpc_client_send(p->c, AGENT_SERVICE, p->method, buf, len, 0, &p->stream);
	if (r < 0)
		return r;
	p->busy = true;
	return 0;
}

/* Receives p's response (the fd is readable, so it is arriving) and unpacks it. */
static int pending_recv(relay *rl, pending *p, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret) {
	_cleanup_free_ uint8_t *payload = NULL;
	_cleanup_free_ char *msg = NULL;
	size_t len = 0;
	int code = 0;
	int r = ttrpc_client_recv(p->c, p->stream, 0, &code, &msg, &payload, &len);
	p->busy = false;
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", rl->cfg->prog, p->method,
			r == -EPIPE ? "the VM closed the connection" : strerror(-r));
		return r;
	}
	if (code != 0) {
		fprintf(stderr, "%s: %s: %s: %s\n", rl->cfg->prog, p->method, ttrpc_code_name(code), msg ? msg : "");
		return -EIO;
	}
	*ret = protobuf_c_message_unpack(desc, NULL, len, payload);
	return *ret ? 0 : -EBADMSG;
}

static int read_stream_send(relay *rl, pending *p) {
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	req.container_id = (char *)rl->cfg->container_id;
	req.exec_id = (char *)rl->cfg->exec_id;
	req.len = READ_CHUNK;
	return pending_send(p, &req.base);
}

static int write_stdin_send(relay *rl, const uint8_t *data, size_t len) {
	Grpc__WriteStreamRequest req = GRPC__WRITE_STREAM_REQUEST__INIT;
	req.container_id = (char *)rl->cfg->container_id;
	req.exec_id = (char *)rl->cfg->exec_id;
	req.data = (ProtobufCBinaryData){ .len = len, .data = (uint8_t *)data };
	return pending_send(&rl->in, &req.base);
}

/* Our stdin goes to the process unless it is /dev/null, or a terminal while the process has none (a pipe
 * cannot carry a terminal's keys sensibly; `-t` asks for that). */
static bool stdin_is_relayed(bool terminal) {
	struct stat st, null_st;
	if (fstat(STDIN_FILENO, &st) < 0 || (!terminal && isatty(STDIN_FILENO)))
		return false;
	if (S_ISCHR(st.st_mode) && stat("/dev/null", &null_st) == 0 && st.st_rdev == null_st.st_rdev)
		return false;
	return true;
}

static int on_stream(relay *rl, pending *p, int fd) {
	_cleanup_(message_freep) ProtobufCMessage *m = NULL;
	int r = pending_recv(rl, p, &grpc__read_stream_response__descriptor, &m);
	if (r < 0)
		return r;
	Grpc__ReadStreamResponse *resp = (Grpc__ReadStreamResponse *)m;
	if (resp->data.len == 0) {
		p->done = true;
		return 0;
	}
	if (!rl->first_byte_seen) {
		rl->first_byte_seen = true;
		if (getenv("KATA_LAUNCH_TIMING"))
			fprintf(stderr, "kata-launch: launch to first output byte: %.3f s\n",
				(double)(now_ns() - rl->cfg->start_ns) / 1e9);
	}
	/* A reader that went away loses the output, not the container. */
	(void)write_all(fd, resp->data.data, resp->data.len);
	return read_stream_send(rl, p);
}

static int on_stdin(relay *rl) {
	uint8_t buf[STDIN_CHUNK];
	ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		rl->stdin_open = false; /* the empty write closes the process's stdin */
	return write_stdin_send(rl, buf, n > 0 ? (size_t)n : 0);
}

static int on_stdin_reply(relay *rl) {
	_cleanup_(message_freep) ProtobufCMessage *m = NULL;
	int r = pending_recv(rl, &rl->in, &grpc__write_stream_response__descriptor, &m);
	if (r < 0) {
		/* The process closed its stdin or is gone: stop forwarding, keep the output. */
		rl->stdin_open = false;
		rl->in.done = true;
		return 0;
	}
	if (!rl->stdin_open)
		rl->in.done = true;
	return 0;
}

static void send_window_size(relay *rl, ttrpc_client *ctl) {
	Grpc__TtyWinResizeRequest req = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;
	if (relay_window_size(&req.row, &req.column) < 0)
		return;
	req.container_id = (char *)rl->cfg->container_id;
	req.exec_id = (char *)rl->cfg->exec_id;
	_cleanup_(message_freep) ProtobufCMessage *resp = NULL;
	_cleanup_free_ char *msg = NULL;
	int code = 0;
	/* A process that already exited has no tty to resize: not worth a message. */
	(void)ttrpc_client_call(ctl, AGENT_SERVICE, "TtyWinResize", &req.base, &google__protobuf__empty__descriptor,
				10 * NSEC_PER_SEC, &resp, &code, &msg);
}

static int on_signal(relay *rl, ttrpc_client *ctl, int sfd) {
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGWINCH) {
			send_window_size(rl, ctl);
			continue;
		}
		Grpc__SignalProcessRequest req = GRPC__SIGNAL_PROCESS_REQUEST__INIT;
		req.container_id = (char *)rl->cfg->container_id;
		req.exec_id = (char *)rl->cfg->exec_id;
		req.signal = si.ssi_signo;
		(void)relay_call(ctl, rl->cfg->prog, "SignalProcess", &req.base, &google__protobuf__empty__descriptor, 10);
	}
	return 0;
}

static int on_wait(relay *rl) {
	_cleanup_(message_freep) ProtobufCMessage *m = NULL;
	int r = pending_recv(rl, &rl->wait, &grpc__wait_process_response__descriptor, &m);
	if (r < 0)
		return r;
	rl->status = ((Grpc__WaitProcessResponse *)m)->status;
	rl->wait.done = true;
	return 0;
}

static int relay_start(relay *rl) {
	const relay_config *c = rl->cfg;
	pending *all[] = { &rl->out, &rl->err, &rl->wait, &rl->in };
	int r;

	for (size_t i = 0; i < ELEMENTSOF(all); i++) {
		r = ttrpc_client_connect(c->api, &all[i]->c);
		if (r < 0) {
			fprintf(stderr, "%s: connecting to %s: %s\n", c->prog, c->api, strerror(-r));
			return r;
		}
	}
	Grpc__WaitProcessRequest wreq = GRPC__WAIT_PROCESS_REQUEST__INIT;
	wreq.container_id = (char *)c->container_id;
	wreq.exec_id = (char *)c->exec_id;
	if ((r = read_stream_send(rl, &rl->out)) < 0 || (r = pending_send(&rl->wait, &wreq.base)) < 0)
		return r;
	/* A pty merges stderr into its one output stream. */
	if (c->terminal)
		rl->err.done = true;
	else if ((r = read_stream_send(rl, &rl->err)) < 0)
		return r;
	rl->stdin_open = stdin_is_relayed(c->terminal);
	if (!rl->stdin_open && (r = write_stdin_send(rl, NULL, 0)) < 0)
		return r;
	return 0;
}

int relay_run(const relay_config *c, ttrpc_client *ctl, int sfd) {
	relay rl = { .cfg = c, .out.method = "ReadStdout", .err.method = "ReadStderr", .wait.method = "WaitProcess",
		     .in.method = "WriteStdin", .status = -1 };
	pending *all[] = { &rl.out, &rl.err, &rl.wait, &rl.in };
	int k = c->terminal ? relay_tty_raw() : 0;
	if (k < 0)
		fprintf(stderr, "%s: warning: cannot put the terminal in raw mode: %s\n", c->prog, strerror(-k));
	int r = relay_start(&rl);
	if (r < 0)
		goto out;
	if (c->terminal)
		send_window_size(&rl, ctl);

	while (!(rl.out.done && rl.err.done && rl.wait.done)) {
		struct pollfd pfd[6];
		pending *who[6] = {};
		nfds_t n = 0;
		for (size_t i = 0; i < ELEMENTSOF(all); i++)
			if (all[i]->busy) {
				who[n] = all[i];
				pfd[n++] = (struct pollfd){ .fd = ttrpc_client_fd(all[i]->c), .events = POLLIN };
			}
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		bool poll_stdin = rl.stdin_open && !rl.in.busy;
		if (poll_stdin)
			pfd[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		for (nfds_t i = 0; i < n && r >= 0; i++) {
			if (!pfd[i].revents)
				continue;
			if (who[i] == &rl.out)
				r = on_stream(&rl, &rl.out, STDOUT_FILENO);
			else if (who[i] == &rl.err)
				r = on_stream(&rl, &rl.err, STDERR_FILENO);
			else if (who[i] == &rl.in)
				r = on_stdin_reply(&rl);
			else if (who[i] == &rl.wait)
				r = on_wait(&rl);
			else if (pfd[i].fd == sfd)
				r = on_signal(&rl, ctl, sfd);
			else if (poll_stdin && pfd[i].fd == STDIN_FILENO)
				r = on_stdin(&rl);
		}
		if (r < 0)
			goto out;
	}
	r = rl.status;
out:
	relay_tty_restore();
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		all[i]->c = ttrpc_client_free(all[i]->c);
	return r;
}
