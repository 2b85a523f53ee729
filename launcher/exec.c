/* kata-launch exec: another process in a container of a running VM (by default the container of a `kata-launch
 * run --name NAME`), through the VM's API socket: ExecProcess, then the same stdio relay as run. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "agent.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "launcher/cli.h"
#include "launcher/relay.h"
#include "launcher/state.h"
#include "launcher/ttrpc-client.h"

#define PROG "kata-launch exec"
#define EXEC_MAX_ENV 256
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct exec_opts {
	const char *name, *container, *cwd;
	bool terminal;
	const char *env[EXEC_MAX_ENV + 3];
	char *term; /* "TERM=..." with -t */
	size_t n_env;
	char **args;
	size_t n_args;
} exec_opts;

static void usage(FILE *f) {
	fputs("usage: kata-launch exec [-t] [-c CONTAINER] [-e KEY=VALUE]... [-w DIR] NAME [--] ARGS...\n"
	      "  Runs ARGS in CONTAINER (default `run`, the container of `kata-launch run --name NAME`) of the running\n"
	      "  VM NAME; exits with its exit code (128+signal when killed). -t: a pty, our terminal raw. The\n"
	      "  process gets PATH, TERM with -t, the -e variables, and the working directory DIR (default /).\n",
	      f);
}

static int parse_opts(int argc, char **argv, exec_opts *o) {
	static const struct option longopts[] = {
		{ "tty", no_argument, NULL, 't' },       { "container", required_argument, NULL, 'c' },
		{ "env", required_argument, NULL, 'e' }, { "cwd", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;
	o->container = "run";
	o->cwd = "/";
	o->env[o->n_env++] = DEFAULT_PATH;
	while ((c = getopt_long(argc, argv, "+tc:e:w:h", longopts, NULL)) >= 0) {
		switch (c) {
		case 't': o->terminal = true; break;
		case 'c': o->container = optarg; break;
		case 'w': o->cwd = optarg; break;
		case 'e':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, PROG ": -e `%s`: expected KEY=VALUE\n", optarg);
				return -EINVAL;
			}
			if (o->n_env >= EXEC_MAX_ENV) {
				fprintf(stderr, PROG ": more than %d -e variables\n", EXEC_MAX_ENV);
				return -E2BIG;
			}
			o->env[o->n_env++] = optarg;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (argc - optind < 1) {
		usage(stderr);
		return -EINVAL;
	}
	o->name = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc) {
		fprintf(stderr, PROG ": no command to run\n");
		return -EINVAL;
	}
	o->args = argv + optind;
	o->n_args = (size_t)(argc - optind);
	if (o->terminal) {
		const char *term = getenv("TERM");
		if (asprintf(&o->term, "TERM=%s", term && *term && strlen(term) < 128 ? term : "xterm") < 0) {
			o->term = NULL;
			return -ENOMEM;
		}
		o->env[o->n_env++] = o->term;
	}
	return 0;
}

/* The exec id: unique among this host's concurrent execs into one container. */
static int exec_id(char *buf, size_t size) {
	return format_checked(buf, size, "exec-%d-%llu", (int)getpid(), (unsigned long long)(now_ns() % 1000000));
}

static int exec_process(ttrpc_client *c, const exec_opts *o, const char *id) {
	Grpc__User user = GRPC__USER__INIT;
	Grpc__Box box = GRPC__BOX__INIT;
	Grpc__Process proc = GRPC__PROCESS__INIT;
	proc.terminal = o->terminal;
	proc.user = &user;
	proc.args = o->args;
	proc.n_args = o->n_args;
	proc.env = (char **)o->env;
	proc.n_env = o->n_env;
	proc.cwd = (char *)o->cwd;
	if (o->terminal && relay_window_size(&box.height, &box.width) >= 0)
		proc.consolesize = &box;
	Grpc__ExecProcessRequest req = GRPC__EXEC_PROCESS_REQUEST__INIT;
	req.container_id = (char *)o->container;
	req.exec_id = (char *)id;
	req.process = &proc;
	return relay_call(c, PROG, "ExecProcess", &req.base, &google__protobuf__empty__descriptor, 60);
}

int cmd_exec(int argc, char **argv) {
	exec_opts o = {};
	char dir[PATH_MAX], api[PATH_MAX], id[64];
	uint64_t start = now_ns();
	int r, code = 1;

	r = parse_opts(argc, argv, &o);
	if (r < 0) {
		free(o.term);
		return 2;
	}
	if (state_name_check(o.name) < 0 || state_dir_path(o.name, dir, sizeof dir) < 0 ||
	    state_path(dir, "api.sock", api, sizeof api) < 0) {
		fprintf(stderr, PROG ": invalid VM name `%s`\n", o.name);
		goto out;
	}
	if (!state_is_live(dir)) {
		fprintf(stderr, PROG ": no running VM named `%s` (%s)\n", o.name, dir);
		goto out;
	}
	sigset_t old_mask;
	_cleanup_close_ int sfd = relay_signals_open(o.terminal, &old_mask);
	if (sfd < 0) {
		fprintf(stderr, PROG ": signalfd: %s\n", strerror(-sfd));
		goto out;
	}
	_cleanup_(ttrpc_client_freep) ttrpc_client *ctl = NULL;
	r = ttrpc_client_connect(api, &ctl);
	if (r < 0) {
		fprintf(stderr, PROG ": connecting to %s: %s\n", api, strerror(-r));
		goto out;
	}
	if (exec_id(id, sizeof id) < 0)
		goto out;
	r = exec_process(ctl, &o, id);
	if (r < 0) {
		code = r == -ENOENT ? 127 : r == -EACCES ? 126 : 1;
		goto out;
	}
	relay_config rc = { .prog = PROG, .api = api, .container_id = o.container, .exec_id = id,
			    .terminal = o.terminal, .start_ns = start };
	int k = o.terminal ? relay_tty_raw() : 0;
	if (k < 0)
		fprintf(stderr, PROG ": warning: cannot put the terminal in raw mode: %s\n", strerror(-k));
	r = relay_run(&rc, ctl, sfd);
	relay_tty_restore();
	if (r >= 0)
		code = r;
out:
	free(o.term);
	return code;
}
