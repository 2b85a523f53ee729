/* kata-launch run: one OCI bundle as one container in its own VM. Boots a private VM through `kata-launch boot`
 * (a child process, so the daemon's state, locking and teardown stay in one place), shares the bundle's rootfs
 * over virtio-9p, creates the sandbox and the container, relays stdio, and always stops the VM.
 *
 * Each call that can stay pending (ReadStdout, ReadStderr, WaitProcess, WriteStdin) gets its own connection to
 * the API socket: the blocking client can only wait for a given stream, so one connection per pending call is
 * what lets poll() say which one completed. The multiplexer puts them all on the one agent channel. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "agent.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "launcher/cli.h"
#include "launcher/net.h"
#include "launcher/state.h"
#include "launcher/ttrpc-client.h"
#include "libcontainer-c/spec.h"
#include "proto/frame.h"

#define NSEC_PER_SEC 1000000000LL
#define RUN_CID "run"
#define RUN_ROOTFS "/run/kata-containers/shared/containers/" RUN_CID "/rootfs"
#define AGENT_SERVICE "grpc.AgentService"
#define READ_CHUNK 65536
#define STDIN_CHUNK 65536
#define BOOT_OUTPUT_MAX 65536

typedef struct run_opts {
	const char *kernel, *initrd, *memory, *cpus, *machine;
	const char *net; /* passed to boot; the parsed mode below */
	launch_net net_mode;
	const char *bundle;
	char **args; /* NULL-terminated, or NULL: keep the bundle's */
} run_opts;

static void usage(FILE *f) {
	fputs("usage: kata-launch run [--kernel K] [--initrd I] [--memory MiB] [--cpus N] [--machine q35|microvm]\n"
	      "                       [--net none|user] BUNDLE [-- ARGS]\n"
	      "  Runs BUNDLE/config.json in a new VM; exits with the container's exit code (128+signal when killed).\n"
	      "  KATA_LAUNCH_TIMING=1 reports the time from launch to the first output byte on stderr.\n",
	      f);
}

static int parse_opts(int argc, char **argv, run_opts *o) {
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' }, { "initrd", required_argument, NULL, 'i' },
		{ "memory", required_argument, NULL, 'm' }, { "cpus", required_argument, NULL, 'c' },
		{ "machine", required_argument, NULL, 'M' }, { "help", no_argument, NULL, 'h' },
		{ "net", required_argument, NULL, 'N' },
		{},
	};
	int c;
	while ((c = getopt_long(argc, argv, "+k:i:m:c:M:N:h", longopts, NULL)) >= 0) {
		switch (c) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'm': o->memory = optarg; break;
		case 'c': o->cpus = optarg; break;
		case 'M': o->machine = optarg; break;
		case 'N':
			if (launch_net_from_string(optarg, &o->net_mode) < 0) {
				fprintf(stderr, "kata-launch run: invalid value `%s` for --net (none or user)\n", optarg);
				return -EINVAL;
			}
			o->net = optarg;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	o->bundle = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind < argc)
		o->args = argv + optind;
	return 0;
}

/* Reads the bundle, applies ARGS, finds the rootfs on the host, and builds the protobuf Spec with the guest's
 * root path. */
static int load_spec(const run_opts *o, Grpc__Spec **ret_spec, char **ret_rootfs) {
	_cleanup_(lc_spec_freep) lc_spec *spec = NULL;
	_cleanup_close_ int dfd = open(o->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	kc_error err = {};
	int r;

	if (dfd < 0) {
		fprintf(stderr, "kata-launch run: bundle `%s`: %s\n", o->bundle, strerror(errno));
		return -errno;
	}
	r = lc_spec_from_file(dfd, "config.json", &spec, &err);
	if (r < 0) {
		fprintf(stderr, "kata-launch run: %s/config.json: %s\n", o->bundle, err.msg[0] ? err.msg : strerror(-r));
		return r;
	}
	if (!spec->root || !spec->root->path || !spec->process) {
		fprintf(stderr, "kata-launch run: %s/config.json: needs root.path and process\n", o->bundle);
		return -EINVAL;
	}
	if (o->args) {
		/* The arena keeps owning the old vector; argv outlives the spec. */
		size_t n = 0;
		while (o->args[n])
			n++;
		spec->process->args = (lc_strv){ .v = o->args, .n = n };
	}
	if (spec->process->terminal)
		fprintf(stderr, "kata-launch run: warning: process.terminal is not supported yet; using pipes\n");
	spec->process->terminal = false;

	char rootfs[PATH_MAX];
	if (spec->root->path[0] == '/')
		r = format_checked(rootfs, sizeof rootfs, "%s", spec->root->path);
	else
		r = format_checked(rootfs, sizeof rootfs, "%s/%s", o->bundle, spec->root->path);
	if (r < 0)
		return r;
	_cleanup_free_ char *rootfs_abs = realpath(rootfs, NULL);
	if (!rootfs_abs) {
		fprintf(stderr, "kata-launch run: rootfs `%s`: %s\n", rootfs, strerror(errno));
		return -errno;
	}

	Grpc__Spec *p = NULL;
	lc_strv dropped = {};
	r = lc_spec_to_proto(spec, &p, &dropped, &err);
	if (r < 0) {
		fprintf(stderr, "kata-launch run: converting the spec: %s\n", err.msg[0] ? err.msg : strerror(-r));
		return r;
	}
	for (size_t i = 0; i < dropped.n; i++)
		fprintf(stderr, "kata-launch run: warning: %s cannot be sent to the agent; ignored\n", dropped.v[i]);
	lc_strv_clear(&dropped);

	char *guest_root = strdup(RUN_ROOTFS);
	if (!guest_root || !p->root) {
		free(guest_root);
		(void)lc_spec_proto_free(p);
		return -ENOMEM;
	}
	free(p->root->path);
	p->root->path = guest_root;
	*ret_spec = p;
	*ret_rootfs = TAKE_PTR(rootfs_abs);
	return 0;
}

/* Runs `kata-launch boot` with its output captured: shown only when the boot fails. The boot command returns
 * once the agent answers, leaving its daemon behind. */
static int boot_vm(const run_opts *o, const char *name, const char *rootfs, const sigset_t *old_mask) {
	const char *argv[32];
	size_t n = 0;
	argv[n++] = "kata-launch";
	argv[n++] = "boot";
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--share";
	argv[n++] = rootfs;
	argv[n++] = "--accel";
	argv[n++] = "auto";
#define OPT(flag, v) \
	if (v) {                   \
		argv[n++] = flag;  \
		argv[n++] = v;     \
	}
	OPT("--kernel", o->kernel);
	OPT("--initrd", o->initrd);
	OPT("--memory", o->memory);
	OPT("--cpus", o->cpus);
	OPT("--machine", o->machine);
	OPT("--net", o->net);
#undef OPT
	argv[n] = NULL;

	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		(void)close(fds[0]);
		(void)close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		(void)sigprocmask(SIG_SETMASK, old_mask, NULL);
		int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(fds[1], STDOUT_FILENO) < 0 ||
		    dup2(fds[1], STDERR_FILENO) < 0)
			_exit(127);
		execv("/proc/self/exe", (char **)argv);
		_exit(127);
	}
	(void)close(fds[1]);
	/* EOF comes when the daemon hands its stdio over to daemon.log (ready) or exits (failed). */
	_cleanup_free_ char *out = malloc(BOOT_OUTPUT_MAX);
	size_t len = 0;
	for (;;) {
		char buf[4096];
		ssize_t k = read(fds[0], buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		size_t take = out ? MIN((size_t)k, BOOT_OUTPUT_MAX - len) : 0;
		memcpy(out + len, buf, take);
		len += take;
	}
	(void)close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "kata-launch run: booting the VM failed:\n");
	if (out)
		(void)write_all(STDERR_FILENO, out, len);
	return -EIO;
}

static void stop_vm(const char *name) {
	char *argv[] = { (char *)"stop", (char *)name, NULL };
	(void)cmd_stop(2, argv);
}

static void message_freep(ProtobufCMessage **m) {
	if (*m)
		protobuf_c_message_free_unpacked(*m, NULL);
}

/* One synchronous call; prints the failure. The agent reports an init it cannot find or execute as NOT_FOUND
 * or PERMISSION_DENIED, which come back as -ENOENT and -EACCES so that `run` exits 127 or 126 like a shell. */
static int call(ttrpc_client *c, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp_desc, int64_t timeout_s) {
	_cleanup_(message_freep) ProtobufCMessage *resp = NULL;
	_cleanup_free_ char *msg = NULL;
	int code = 0;
	int r = ttrpc_client_call(c, AGENT_SERVICE, method, req, resp_desc, timeout_s * NSEC_PER_SEC, &resp, &code,
				  &msg);
	if (r < 0) {
		fprintf(stderr, "kata-launch run: %s: %s\n", method, strerror(-r));
		return r;
	}
	if (code != 0) {
		fprintf(stderr, "kata-launch run: %s: %s: %s\n", method, ttrpc_code_name(code), msg ? msg : "");
		return code == KC_NOT_FOUND ? -ENOENT : code == KC_PERMISSION_DENIED ? -EACCES : -EIO;
	}
	return 0;
}

static int create_container(ttrpc_client *c, Grpc__Spec *spec, const run_opts *o) {
	static char *opts[] = { "trans=virtio", "version=9p2000.L", "cache=mmap", "nodev", "msize=8192" };
	Grpc__Storage st = GRPC__STORAGE__INIT;
	st.driver = "9p";
	st.source = "kataShared";
	st.fstype = "9p";
	st.options = opts;
	st.n_options = ELEMENTSOF(opts);
	st.mount_point = RUN_ROOTFS;
	Grpc__Storage *sts[] = { &st };
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	sb.sandbox_id = RUN_CID;
	sb.hostname = spec->hostname && *spec->hostname ? spec->hostname : RUN_CID;
	sb.storages = sts;
	sb.n_storages = 1;
	kc_error err = {};
	if (launch_net_sandbox(c, o->net_mode, !o->machine || strcmp(o->machine, "microvm") != 0, &sb, spec, &err) < 0) {
		fprintf(stderr, "kata-launch run: network: %s\n", err.msg);
		return -EIO;
	}
	int r = call(c, "CreateSandbox", &sb.base, &google__protobuf__empty__descriptor, 60);
	if (r < 0)
		return -EIO;

	Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	cc.container_id = RUN_CID;
	cc.exec_id = RUN_CID;
	cc.oci = spec;
	r = call(c, "CreateContainer", &cc.base, &google__protobuf__empty__descriptor, 60);
	if (r < 0)
		return r;
	Grpc__StartContainerRequest sc = GRPC__START_CONTAINER_REQUEST__INIT;
	sc.container_id = RUN_CID;
	r = call(c, "StartContainer", &sc.base, &google__protobuf__empty__descriptor, 60);
	return r < 0 ? -EIO : 0;
}

/* One pending call on its own connection. */
typedef struct pending {
	ttrpc_client *c;
	const char *method;
	uint32_t stream;
	bool busy, done;
} pending;

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
static int pending_recv(pending *p, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret) {
	_cleanup_free_ uint8_t *payload = NULL;
	_cleanup_free_ char *msg = NULL;
	size_t len = 0;
	int code = 0;
	int r = ttrpc_client_recv(p->c, p->stream, 0, &code, &msg, &payload, &len);
	p->busy = false;
	if (r < 0) {
		fprintf(stderr, "kata-launch run: %s: %s\n", p->method,
			r == -EPIPE ? "the VM closed the connection" : strerror(-r));
		return r;
	}
	if (code != 0) {
		fprintf(stderr, "kata-launch run: %s: %s: %s\n", p->method, ttrpc_code_name(code), msg ? msg : "");
		return -EIO;
	}
	*ret = protobuf_c_message_unpack(desc, NULL, len, payload);
	return *ret ? 0 : -EBADMSG;
}

static int read_stream_send(pending *p) {
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	req.container_id = RUN_CID;
	req.exec_id = RUN_CID;
	req.len = READ_CHUNK;
	return pending_send(p, &req.base);
}

static int write_stdin_send(pending *p, const uint8_t *data, size_t len) {
	Grpc__WriteStreamRequest req = GRPC__WRITE_STREAM_REQUEST__INIT;
	req.container_id = RUN_CID;
	req.exec_id = RUN_CID;
	req.data = (ProtobufCBinaryData){ .len = len, .data = (uint8_t *)data };
	return pending_send(p, &req.base);
}

/* Our stdin goes to the container unless it is a terminal (no -t yet) or /dev/null. */
static bool stdin_is_relayed(void) {
	struct stat st, null_st;
	if (fstat(STDIN_FILENO, &st) < 0 || isatty(STDIN_FILENO))
		return false;
	if (S_ISCHR(st.st_mode) && stat("/dev/null", &null_st) == 0 && st.st_rdev == null_st.st_rdev)
		return false;
	return true;
}

typedef struct relay {
	pending out, err, wait, in;
	int out_fd[2]; /* pending index -> our fd */
	bool stdin_open;
	bool first_byte_seen;
	uint64_t start_ns;
	int status;
} relay;

static int on_stream(relay *rl, pending *p, int fd) {
	_cleanup_(message_freep) ProtobufCMessage *m = NULL;
	int r = pending_recv(p, &grpc__read_stream_response__descriptor, &m);
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
				(double)(now_ns() - rl->start_ns) / 1e9);
	}
	/* A reader that went away loses the output, not the container. */
	(void)write_all(fd, resp->data.data, resp->data.len);
	return read_stream_send(p);
}

static int on_stdin(relay *rl) {
	uint8_t buf[STDIN_CHUNK];
	ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		rl->stdin_open = false; /* the empty write closes the container's stdin */
	return write_stdin_send(&rl->in, buf, n > 0 ? (size_t)n : 0);
}

static int on_stdin_reply(relay *rl) {
	_cleanup_(message_freep) ProtobufCMessage *m = NULL;
	int r = pending_recv(&rl->in, &grpc__write_stream_response__descriptor, &m);
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

static int forward_signal(ttrpc_client *ctl, int sfd) {
	struct signalfd_siginfo si;
	if (read(sfd, &si, sizeof si) != sizeof si)
		return 0;
	Grpc__SignalProcessRequest req = GRPC__SIGNAL_PROCESS_REQUEST__INIT;
	req.container_id = RUN_CID;
	req.exec_id = RUN_CID;
	req.signal = si.ssi_signo;
	(void)call(ctl, "SignalProcess", &req.base, &google__protobuf__empty__descriptor, 10);
	return 0;
}

static int relay_loop(const char *api, ttrpc_client *ctl, int sfd, uint64_t start_ns) {
	relay rl = { .out.method = "ReadStdout", .err.method = "ReadStderr", .wait.method = "WaitProcess",
		     .in.method = "WriteStdin", .start_ns = start_ns, .status = -1 };
	pending *all[] = { &rl.out, &rl.err, &rl.wait, &rl.in };
	int r = 0;

	for (size_t i = 0; i < ELEMENTSOF(all); i++) {
		r = ttrpc_client_connect(api, &all[i]->c);
		if (r < 0) {
			fprintf(stderr, "kata-launch run: connecting to %s: %s\n", api, strerror(-r));
			goto out;
		}
	}
	Grpc__WaitProcessRequest wreq = GRPC__WAIT_PROCESS_REQUEST__INIT;
	wreq.container_id = RUN_CID;
	wreq.exec_id = RUN_CID;
	if ((r = read_stream_send(&rl.out)) < 0 || (r = read_stream_send(&rl.err)) < 0 ||
	    (r = pending_send(&rl.wait, &wreq.base)) < 0)
		goto out;
	rl.stdin_open = stdin_is_relayed();
	if (!rl.stdin_open && (r = write_stdin_send(&rl.in, NULL, 0)) < 0)
		goto out;

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
			else if (who[i] == &rl.wait) {
				_cleanup_(message_freep) ProtobufCMessage *m = NULL;
				r = pending_recv(&rl.wait, &grpc__wait_process_response__descriptor, &m);
				if (r >= 0) {
					rl.status = ((Grpc__WaitProcessResponse *)m)->status;
					rl.wait.done = true;
				}
			} else if (pfd[i].fd == sfd)
				r = forward_signal(ctl, sfd);
			else if (poll_stdin && pfd[i].fd == STDIN_FILENO)
				r = on_stdin(&rl);
		}
		if (r < 0)
			goto out;
	}
	r = rl.status;
out:
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		all[i]->c = ttrpc_client_free(all[i]->c);
	return r;
}

int cmd_run(int argc, char **argv) {
	run_opts o = {};
	_cleanup_free_ char *rootfs = NULL;
	Grpc__Spec *spec = NULL;
	char name[64], dir[PATH_MAX], api[PATH_MAX];
	uint64_t start = now_ns();
	int r, code = 1;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (load_spec(&o, &spec, &rootfs) < 0)
		return 1;

	/* SIGINT and SIGTERM are forwarded to the container once it exists; until then they wait. */
	sigset_t mask, old_mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	(void)sigprocmask(SIG_BLOCK, &mask, &old_mask);
	(void)signal(SIGPIPE, SIG_IGN);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "kata-launch run: signalfd: %s\n", strerror(errno));
		goto free_spec;
	}

	if (format_checked(name, sizeof name, "run-%d", (int)getpid()) < 0 ||
	    state_dir_path(name, dir, sizeof dir) < 0 || state_path(dir, "api.sock", api, sizeof api) < 0)
		goto free_spec;
	r = boot_vm(&o, name, rootfs, &old_mask);
	if (r < 0) {
		if (r != -EIO)
			fprintf(stderr, "kata-launch run: starting `kata-launch boot`: %s\n", strerror(-r));
		if (access(dir, F_OK) == 0)
			stop_vm(name);
		goto free_spec;
	}

	_cleanup_(ttrpc_client_freep) ttrpc_client *ctl = NULL;
	r = ttrpc_client_connect(api, &ctl);
	if (r < 0)
		fprintf(stderr, "kata-launch run: connecting to %s: %s\n", api, strerror(-r));
	else if ((r = create_container(ctl, spec, &o)) >= 0) {
		r = relay_loop(api, ctl, sfd, start);
		if (r >= 0)
			code = r;
	} else if (r == -ENOENT || r == -EACCES)
		code = r == -ENOENT ? 127 : 126;
	ctl = ttrpc_client_free(ctl);
	fflush(NULL);
	stop_vm(name);
free_spec:
	(void)lc_spec_proto_free(spec);
	return code;
}
