/* lcrun: a runc-compatible CLI over libcontainer-c. A thin blocking driver: it parses arguments, steps the
 * library's create and exec operations from a small poll loop (the same steps the agent drives from its event
 * loop), and for `run` and `exec` waits on the pidfd of its own child and reaps it; the library never reaps. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_SOURCE "lcrun"
#include "common/log.h"
#include "common/util.h"
#include "libcontainer-c/console.h"
#include "libcontainer-c/container.h"
#include "libcontainer-c/spec.h"

#include "libcontainer-c/cli/lcrun.h"
#include "libcontainer-c/linux-syscalls.h"

extern char **environ;

const char *opt_root = LC_STATE_ROOT_DEFAULT;

int fail(const kc_error *e) {
	fprintf(stderr, "lcrun: %s\n", e->msg);
	log_error("%s", e->msg);
	return 1;
}

static void print_warning(void *userdata, const char *msg) {
	fprintf(stderr, "lcrun: warning: %s\n", msg);
	log_warn("%s", msg);
}

int usage_error(const char *cmd, const char *msg) {
	fprintf(stderr, "lcrun %s: %s\n", cmd, msg);
	return 1;
}

/* The signals `run` and `exec` forward to the process instead of dying from them. */
static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

static int block_forwarded(sigset_t *set) {
	sigemptyset(set);
	for (size_t i = 0; i < ELEMENTSOF(forwarded); i++)
		sigaddset(set, forwarded[i]);
	return sigprocmask(SIG_BLOCK, set, NULL) < 0 ? -errno : 0;
}

/* Waits for our child behind pidfd, forwarding signals; returns its exit code as a shell reports it. */
static int wait_child(int pidfd, int sfd) {
	struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
	siginfo_t si = {0};

	for (;;) {
		int r = poll(p, sfd >= 0 ? 2 : 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 1;
		if (p[0].revents)
			break;
		struct signalfd_siginfo ssi;
		if (read(sfd, &ssi, sizeof ssi) == sizeof ssi)
			(void)lc_pidfd_send_signal(pidfd, (int)ssi.ssi_signo);
	}
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0)
		if (errno != EINTR)
			return 1;
	return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

/* Steps op to its end (op.h): the same steps the agent drives from its loop, here from a poll over the op's fd
 * until its deadline, plus the forwarded signals (sfd, or -1), which go to the op's child as soon as it
 * exists. Returns what the last step returned. */
static int drive(lc_op *op, int sfd, kc_error *e) {
	for (;;) {
		int r = lc_op_step(op, e);
		if (r != -EAGAIN)
			return r;
		struct pollfd p[2] = {{.fd = lc_op_fd(op), .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		uint64_t now = now_ns(), deadline = lc_op_deadline(op);
		int ms = deadline <= now ? 0 : (int)MIN((deadline - now + 999999u) / 1000000u, (uint64_t)INT32_MAX);
		r = poll(p, sfd >= 0 ? 2 : 1, ms);
		if (r < 0 && errno != EINTR)
			return kc_error_set(e, errno, "poll: %s", strerror(errno));
		struct signalfd_siginfo ssi;
		if (r > 0 && p[1].revents && read(sfd, &ssi, sizeof ssi) == sizeof ssi) {
			pid_t pid;
			int pidfd;
			lc_op_child(op, &pid, &pidfd);
			if (pidfd >= 0)
				(void)lc_pidfd_send_signal(pidfd, (int)ssi.ssi_signo);
		}
	}
}

/* ---- create / run ---------------------------------------------------------------------------------------- */

typedef struct create_args {
	char bundle[PATH_MAX];
	const char *console_socket, *pid_file;
	unsigned preserve_fds;
	bool no_pivot, detach, keep;
} create_args;

static int parse_create(int argc, char **argv, bool run, create_args *c, const char **ret_id) {
	static const struct option opts[] = {
		{"bundle", required_argument, NULL, 'b'},     {"console-socket", required_argument, NULL, 'c'},
		{"pid-file", required_argument, NULL, 'p'},   {"preserve-fds", required_argument, NULL, 'P'},
		{"no-pivot", no_argument, NULL, 'n'},         {"no-new-keyring", no_argument, NULL, 'k'},
		{"detach", no_argument, NULL, 'd'},           {"keep", no_argument, NULL, 'K'},
		{"no-subreaper", no_argument, NULL, 's'},     {},
	};
	const char *bundle = ".";
	uint64_t n;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+b:d", opts, NULL)) != -1) {
		switch (o) {
		case 'b': bundle = optarg; break;
		case 'c': c->console_socket = optarg; break;
		case 'p': c->pid_file = optarg; break;
		case 'P':
			if (parse_u64(optarg, 10, &n) < 0 || n > 1024)
				return usage_error(argv[0], "--preserve-fds: expected a number up to 1024");
			c->preserve_fds = (unsigned)n;
			break;
		case 'n': c->no_pivot = true; break;
		case 'd': if (!run) return usage_error(argv[0], "unknown option"); c->detach = true; break;
		case 'K': c->keep = true; break;
		case 'k': case 's': break;
		default: return usage_error(argv[0], "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_error(argv[0], "expected exactly one container id");
	if (!realpath(bundle, c->bundle)) {
		fprintf(stderr, "lcrun %s: bundle `%s`: %s\n", argv[0], bundle, strerror(errno));
		return 1;
	}
	*ret_id = argv[optind];
	return 0;
}

static int do_create(create_args *c, const char *id, int sfd, pid_t *ret_pid, int *ret_pidfd) {
	_cleanup_close_ int console = -1;
	kc_error e = {0};
	int r;

	if (c->console_socket) {
		r = lc_console_socket_connect(c->console_socket, &console, &e);
		if (r < 0)
			return fail(&e);
	}
	/* Relative paths in config.json (bind sources, a relative root.path) are the bundle's, as with runc. */
	if (chdir(c->bundle) < 0) {
		fprintf(stderr, "lcrun: bundle `%s`: %s\n", c->bundle, strerror(errno));
		return 1;
	}
	lc_create_opts o = {
		.bundle = c->bundle,
		.console_sock_fd = console,
		.pid_file = c->pid_file,
		.preserve_fds = c->preserve_fds,
		.no_pivot = c->no_pivot,
		.rootless = geteuid() != 0,
	};
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	r = lc_container_create_begin(opt_root, id, &o, &op, &e);
	if (r >= 0)
		r = drive(op, sfd, &e);
	if (r < 0)
		return fail(&e);
	lc_op_take_child(op, ret_pid, ret_pidfd);
	log_debug("container %s created, init pid %d", id, (int)*ret_pid);
	return 0;
}

static int cmd_create(int argc, char **argv) {
	create_args c = {0};
	const char *id;
	pid_t pid;
	int pidfd;

	int r = parse_create(argc, argv, false, &c, &id);
	if (r != 0)
		return r;
	r = do_create(&c, id, -1, &pid, &pidfd);
	/* The init outlives us and is reparented to our parent's reaper, as with runc. */
	if (r == 0)
		(void)close(pidfd);
	return r;
}

static int cmd_run(int argc, char **argv) {
	create_args c = {0};
	kc_error e = {0};
	const char *id;
	sigset_t set;
	pid_t pid;
	int pidfd;

	int r = parse_create(argc, argv, true, &c, &id);
	if (r != 0)
		return r;
	/* Blocked before the clone, so a signal never kills us between create and wait; the child unblocks. */
	if (!c.detach && block_forwarded(&set) < 0)
		return 1;
	_cleanup_close_ int sfd = c.detach ? -1 : signalfd(-1, &set, SFD_CLOEXEC);
	r = do_create(&c, id, sfd, &pid, &pidfd);
	if (r != 0)
		return r;
	_cleanup_close_ int pfd = pidfd;
	r = lc_container_start(opt_root, id, &e);
	if (r < 0) {
		kc_error e2 = {0};
		(void)fail(&e);
		(void)lc_container_delete(opt_root, id, true, &e2);
		(void)waitid((idtype_t)P_PIDFD, (id_t)pfd, &(siginfo_t){0}, WEXITED);
		return 1;
	}
	if (c.detach)
		return 0;
	int code = wait_child(pfd, sfd);
	if (!c.keep && lc_container_delete(opt_root, id, true, &e) < 0)
		(void)fail(&e);
	return code;
}

/* ---- the rest ------------------------------------------------------------------------------------------ */

static int one_id(int argc, char **argv) {
	if (argc != 2) {
		(void)usage_error(argv[0], "expected exactly one container id");
		return -1;
	}
	return 1;
}

static int cmd_start(int argc, char **argv) {
	kc_error e = {0};
	if (one_id(argc, argv) < 0)
		return 1;
	return lc_container_start(opt_root, argv[1], &e) < 0 ? fail(&e) : 0;
}

static int cmd_state(int argc, char **argv) {
	_cleanup_free_ char *json = NULL;
	kc_error e = {0};
	if (one_id(argc, argv) < 0)
		return 1;
	if (lc_container_state(opt_root, argv[1], &json, NULL, &e) < 0)
		return fail(&e);
	printf("%s\n", json);
	return 0;
}

static int cmd_kill(int argc, char **argv) {
	kc_error e = {0};
	int first = 1;
	/* --all / -a: every process of the container's cgroup, as crun does. */
	bool all = false;
	while (first < argc && (strcmp(argv[first], "-a") == 0 || strcmp(argv[first], "--all") == 0)) {
		first++;
		all = true;
	}
	if (argc - first < 1 || argc - first > 2)
		return usage_error("kill", "usage: kill ID [SIGNAL]");
	const char *name = argc - first == 2 ? argv[first + 1] : "TERM";
	int sig = lc_signal_from_string(name);
	if (sig < 0) {
		fprintf(stderr, "lcrun: invalid signal `%s`\n", name);
		return 1;
	}
	if (all)
		return lc_container_kill_all(opt_root, argv[first], sig, &e) < 0 ? fail(&e) : 0;
	return lc_container_kill(opt_root, argv[first], sig, &e) < 0 ? fail(&e) : 0;
}

static int cmd_delete(int argc, char **argv) {
	kc_error e = {0};
	bool force = false;
	int first = 1;
	for (; first < argc && argv[first][0] == '-'; first++) {
		if (strcmp(argv[first], "-f") == 0 || strcmp(argv[first], "--force") == 0)
			force = true;
		else
			return usage_error("delete", "unknown option");
	}
	if (argc - first != 1)
		return usage_error("delete", "expected exactly one container id");
	return lc_container_delete(opt_root, argv[first], force, &e) < 0 ? fail(&e) : 0;
}

#define EXEC_ENV_MAX 256

/* exec --process FILE: a runtime-spec Process object, read by the config.json reader as the process of an
 * otherwise empty spec. It replaces the command, the environment, cwd, user and terminal; the rest (capabilities,
 * limits, seccomp) stays the container's. */
static int read_process_file(const char *path, lc_spec **ret, lc_exec_opts *x, kc_error *e) {
	_cleanup_free_ char *text = NULL, *doc = NULL;
	size_t len;
	int r = read_file_capped(AT_FDCWD, path, LC_SPEC_JSON_MAX - 64, &text, &len);
	if (r < 0)
		return kc_error_set(e, -r, "--process `%s`: %s", path, strerror(-r));
	if (asprintf(&doc, "{\"process\": %s}", text) < 0)
		return kc_error_set(e, ENOMEM, "out of memory");
	r = lc_spec_from_json(doc, strlen(doc), ret, e);
	if (r < 0)
		return kc_error_prefix(e, "--process `%s`", path);
	const lc_spec_process *p = (*ret)->process;
	if (!p || p->args.n == 0)
		return kc_error_set(e, EINVAL, "--process `%s`: process.args: missing", path);
	x->args = p->args.v;
	if (p->env.n) {
		x->env = p->env.v;
		x->env_replace = true;
	}
	if (p->cwd)
		x->cwd = p->cwd;
	x->has_user = true;
	x->uid = p->user.uid;
	x->gid = p->user.gid;
	/* As runc: the file's supplementary groups replace the container's, an absent list meaning none. */
	x->additional_gids = (const gid_t *)p->user.additional_gids;
	x->n_additional_gids = p->user.n_additional_gids;
	x->tty = p->terminal;
	return 0;
}

static int cmd_exec(int argc, char **argv) {
	static const struct option opts[] = {
		{"tty", no_argument, NULL, 't'},        {"env", required_argument, NULL, 'e'},
		{"cwd", required_argument, NULL, 'w'},  {"user", required_argument, NULL, 'u'},
		{"console-socket", required_argument, NULL, 'c'}, {"preserve-fds", required_argument, NULL, 'P'},
		{"detach", no_argument, NULL, 'd'},     {"process", required_argument, NULL, 'p'},
		{"pid-file", required_argument, NULL, 'f'}, {},
	};
	char *env[EXEC_ENV_MAX + 1] = {0};
	size_t n_env = 0;
	lc_exec_opts x = {.console_sock_fd = -1};
	_cleanup_close_ int console = -1;
	const char *console_path = NULL, *pid_file = NULL, *process_file = NULL;
	_cleanup_(lc_spec_freep) lc_spec *pspec = NULL;
	bool detach = false;
	kc_error e = {0};
	uint64_t n;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+te:w:u:d", opts, NULL)) != -1) {
		switch (o) {
		case 't': x.tty = true; break;
		case 'e':
			if (n_env == EXEC_ENV_MAX)
				return usage_error("exec", "too many --env");
			env[n_env++] = optarg;
			break;
		case 'w': x.cwd = optarg; break;
		case 'u': {
			char *colon = strchr(optarg, ':');
			uint64_t uid, gid = 0;
			if (colon)
				*colon = '\0';
			if (parse_u64(optarg, 10, &uid) < 0 || uid > UINT32_MAX - 1 ||
			    (colon && (parse_u64(colon + 1, 10, &gid) < 0 || gid > UINT32_MAX - 1)))
				return usage_error("exec", "--user: expected UID[:GID] as numbers");
			x.has_user = true;
			x.uid = (uid_t)uid;
			x.gid = (gid_t)gid;
			break;
		}
		case 'c': console_path = optarg; break;
		case 'P':
			if (parse_u64(optarg, 10, &n) < 0 || n > 1024)
				return usage_error("exec", "--preserve-fds: expected a number up to 1024");
			x.preserve_fds = (unsigned)n;
			break;
		case 'd': detach = true; break;
		case 'f': pid_file = optarg; break;
		case 'p': process_file = optarg; break;
		default: return usage_error("exec", "unknown option");
		}
	}
	if (argc - optind < (process_file ? 1 : 2))
		return usage_error("exec", "usage: exec [options] ID COMMAND [ARGS...] | exec --process FILE ID");
	const char *id = argv[optind];
	x.args = argv + optind + 1;
	x.env = env;
	if (process_file) {
		if (argc - optind > 1)
			return usage_error("exec", "--process and a command cannot be combined");
		if (read_process_file(process_file, &pspec, &x, &e) < 0)
			return fail(&e);
	}
	if (console_path) {
		if (lc_console_socket_connect(console_path, &console, &e) < 0)
			return fail(&e);
		x.console_sock_fd = console;
	}
	sigset_t set;
	if (!detach && block_forwarded(&set) < 0)
		return 1;
	_cleanup_close_ int sfd = detach ? -1 : signalfd(-1, &set, SFD_CLOEXEC);
	_cleanup_(lc_op_freep) lc_op *op = NULL;
	pid_t pid = -1;
	int pidfd = -1;
	int r = lc_container_exec_begin(opt_root, id, &x, &op, &e);
	if (r >= 0) {
		r = drive(op, sfd, &e);
		lc_op_take_child(op, &pid, &pidfd);
	}
	_cleanup_close_ int pfd = pidfd;
	if (r < 0) {
		if (pfd >= 0)
			(void)waitid((idtype_t)P_PIDFD, (id_t)pfd, &(siginfo_t){0}, WEXITED);
		return fail(&e);
	}
	if (pid_file) {
		FILE *f = fopen(pid_file, "we");
		if (f) {
			fprintf(f, "%d", (int)pid);
			fclose(f);
		}
	}
	if (detach)
		return 0;
	return wait_child(pfd, sfd);
}


/* spawns: runs our code inside a container; stateless: never touches the state root. */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	bool spawns, stateless;
} commands[] = {
	{"create", cmd_create, true, false},  {"start", cmd_start, false, false},   {"run", cmd_run, true, false},
	{"state", cmd_state, false, false},   {"kill", cmd_kill, false, false},     {"delete", cmd_delete, false, false},
	{"exec", cmd_exec, true, false},      {"pause", cmd_pause, false, false},   {"resume", cmd_resume, false, false},
	{"ps", cmd_ps, false, false},         {"update", cmd_update, false, false}, {"events", cmd_events, false, false},
	{"list", cmd_list, false, false},     {"spec", cmd_spec, false, true},      {"features", cmd_features, false, true},
};

static void usage(FILE *f) {
	fputs("usage: lcrun [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND [ARGS]\n"
	      "commands: create start run state kill delete exec pause resume ps update events list spec features\n", f);
}

int main(int argc, char **argv) {
	static const struct option opts[] = {
		{"root", required_argument, NULL, 'r'},       {"log", required_argument, NULL, 'l'},
		{"log-format", required_argument, NULL, 'f'}, {"debug", no_argument, NULL, 'd'},
		{"systemd-cgroup", no_argument, NULL, 's'},   {"rootless", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},             {"version", no_argument, NULL, 'v'},
		{},
	};
	kc_error e = {0};
	bool debug = false, logging = false, root_given = false;
	int o;

	log_set_fd(-1);
	lc_set_warn_handler(print_warning, NULL);
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 'r': opt_root = optarg; root_given = true; break;
		case 'l': {
			int fd = open(optarg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
			if (fd < 0) {
				fprintf(stderr, "lcrun: --log `%s`: %s\n", optarg, strerror(errno));
				return 1;
			}
			log_set_fd(fd);
			logging = true;
			break;
		}
		case 'f':
			if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0)
				return usage_error("--log-format", "expected text or json");
			log_set_text(strcmp(optarg, "text") == 0);
			break;
		case 'd': debug = true; log_set_level(LOG_LVL_DEBUG); break;
		case 's': case 'R': break;
		case 'h': usage(stdout); return 0;
		case 'v': printf("lcrun version %s\nspec: 1.0.2\n", KC_VERSION); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}
	/* --debug without --log: to stderr, as runc does. */
	if (debug && !logging)
		log_set_fd(STDERR_FILENO);
	_cleanup_free_ char *user_root = NULL;
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0) {
			/* Rootless, as runc and crun: without --root the state lives in the user's runtime directory. */
			if (!root_given && geteuid() != 0 && !commands[i].stateless) {
				const char *xdg = getenv("XDG_RUNTIME_DIR");
				if (!xdg || xdg[0] != '/' || asprintf(&user_root, "%s/lcrun", xdg) < 0) {
					fprintf(stderr, "lcrun: running unprivileged: give --root, or set XDG_RUNTIME_DIR\n");
					return 1;
				}
				opt_root = user_root;
			}
			/* CVE-2019-5736: only the commands that run our code inside a container need the read-only copy;
			 * the re-exec sees the same argv and comes back here. */
			if (commands[i].spawns && lc_self_ensure_sealed(argv, environ, &e) < 0)
				return fail(&e);
			/* The command only: arguments may carry a process's environment. */
			log_debug("%s (root %s)", commands[i].name, opt_root);
			int rc = commands[i].fn(argc - optind, argv + optind);
			log_debug("%s: exit %d", commands[i].name, rc);
			return rc;
		}
	fprintf(stderr, "lcrun: unknown command `%s`\n", argv[optind]);
	return 1;
}
