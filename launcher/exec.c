/* kata-launch exec: another process in a container of a running VM (by default the container of a `kata-launch
 * run --name NAME`), through the VM's API socket: ExecProcess, then the same stdio relay as run.
 *
 * As `runc exec` and `docker exec` do, the process starts as the container's own (user, additional groups,
 * environment, working directory, capabilities, rlimits, noNewPrivileges: the record `run` kept, launcher/exec.h)
 * and the options change parts of it: --user UID[:GID] (the gid stays the container's when not given, and so do
 * the additional groups, as with runc), --env KEY=VALUE (replacing the container's KEY or added), --cwd. */
#include "launcher/exec.h"

#include <errno.h>
#include <fcntl.h>
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
#include "proto/frame.h"

#define PROG "kata-launch exec"
#define EXEC_MAX_ENV 256
#define RECORD_MAX_ENV 65536 /* what libcontainer-c's reader lets a config.json hold */
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct exec_opts {
	const char *name, *container, *cwd;
	bool terminal;
	bool has_uid, has_gid;
	uint32_t uid, gid;
	const char *env[EXEC_MAX_ENV]; /* the -e variables */
	char *term; /* "TERM=..." with -t */
	size_t n_env;
	char **args;
	size_t n_args;
} exec_opts;

static void usage(FILE *f) {
	fputs("usage: kata-launch exec [-t] [-c CONTAINER] [-u UID[:GID]] [-e KEY=VALUE]... [-w DIR] NAME [--] ARGS...\n"
	      "  Runs ARGS in CONTAINER (default `run`, the container of `kata-launch run --name NAME`) of the running\n"
	      "  VM NAME; exits with its exit code (128+signal when killed). -t: a pty, our terminal raw.\n"
	      "  The process is the container's (user, groups, environment, working directory as `run` created it;\n"
	      "  a container `run` did not create: uid 0, PATH, /) with these changes: -u/--user UID[:GID] (numbers;\n"
	      "  without GID the container's gid stays), -e/--env KEY=VALUE (replaces KEY or is added; repeatable),\n"
	      "  -w/--cwd DIR, TERM from our terminal with -t. PATH is added when the environment has none.\n",
	      f);
}

/* UID[:GID], decimal: names would need the container's /etc/passwd, which is in the guest. */
static int parse_user(const char *s, exec_opts *o) {
	_cleanup_free_ char *copy = strdup(s);
	uint64_t v;
	if (!copy)
		return -ENOMEM;
	char *colon = strchr(copy, ':');
	if (colon)
		*colon++ = '\0';
	if (parse_u64(copy, 10, &v) < 0 || v > UINT32_MAX - 1)
		goto bad;
	o->uid = (uint32_t)v;
	o->has_uid = true;
	if (colon) {
		if (parse_u64(colon, 10, &v) < 0 || v > UINT32_MAX - 1)
			goto bad;
		o->gid = (uint32_t)v;
		o->has_gid = true;
	}
	return 0;
bad:
	fprintf(stderr, PROG ": --user `%s`: expected UID[:GID], decimal numbers (names are not resolved)\n", s);
	return -EINVAL;
}

static int parse_opts(int argc, char **argv, exec_opts *o) {
	static const struct option longopts[] = {
		{ "tty", no_argument, NULL, 't' },       { "container", required_argument, NULL, 'c' },
		{ "env", required_argument, NULL, 'e' }, { "cwd", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' }, { "help", no_argument, NULL, 'h' },
		{},
	};
	int c, r;
	o->container = "run";
	while ((c = getopt_long(argc, argv, "+tc:e:w:u:h", longopts, NULL)) >= 0) {
		switch (c) {
		case 't': o->terminal = true; break;
		case 'c': o->container = optarg; break;
		case 'w':
			if (optarg[0] != '/') {
				fprintf(stderr, PROG ": --cwd `%s`: must be an absolute path\n", optarg);
				return -EINVAL;
			}
			o->cwd = optarg;
			break;
		case 'u':
			r = parse_user(optarg, o);
			if (r < 0)
				return r;
			break;
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
	}
	return 0;
}

/* ---- the container's process record ---- */

static int record_path(const char *dir, const char *container_id, char *buf, size_t size) {
	char file[STATE_PATH_MAX];
	/* The id becomes a file name: only ids that are safe as one (Kata's are hex) get a record. */
	if (state_name_check(container_id) < 0 || format_checked(file, sizeof file, "process.%s", container_id) < 0)
		return -EINVAL;
	return state_path(dir, file, buf, size);
}

int exec_record_save(const char *dir, const char *container_id, const Grpc__Process *p) {
	char path[PATH_MAX], tmp[PATH_MAX];
	int r = record_path(dir, container_id, path, sizeof path);
	if (r < 0)
		return r;
	r = format_checked(tmp, sizeof tmp, "%s.tmp", path);
	if (r < 0)
		return r;
	/* What exec starts from: the init's own arguments and terminal are its alone. */
	Grpc__Process copy = *p;
	copy.args = NULL;
	copy.n_args = 0;
	copy.terminal = false;
	copy.consolesize = NULL;
	size_t len = grpc__process__get_packed_size(&copy);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	grpc__process__pack(&copy, buf);
	(void)unlink(tmp);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

/* The record of container_id in dir: 0 with *ret set, 0 with *ret NULL when there is none (a container `run`
 * did not create), or -errno for one that cannot be read. */
static int record_load(const char *dir, const char *container_id, Grpc__Process **ret) {
	char path[PATH_MAX];
	_cleanup_free_ char *buf = NULL;
	size_t len;
	*ret = NULL;
	if (record_path(dir, container_id, path, sizeof path) < 0)
		return 0;
	int r = read_file_capped(AT_FDCWD, path, TTRPC_MAX_FRAME, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(-r));
		return r;
	}
	Grpc__Process *p = grpc__process__unpack(NULL, len, (const uint8_t *)buf);
	if (!p || p->n_env > RECORD_MAX_ENV) {
		if (p)
			grpc__process__free_unpacked(p, NULL);
		fprintf(stderr, PROG ": %s: not a process record\n", path);
		return -EBADMSG;
	}
	*ret = p;
	return 0;
}

static void record_freep(Grpc__Process **p) {
	if (*p)
		grpc__process__free_unpacked(*p, NULL);
}

/* ---- the process to run ---- */

static size_t env_key_len(const char *kv) {
	const char *eq = strchr(kv, '=');
	return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* Sets KEY=VALUE in env (n entries, room for one more): replaces the entry with that key, or appends. */
static void env_set(const char **env, size_t *n, const char *kv) {
	size_t k = env_key_len(kv);
	for (size_t i = 0; i < *n; i++)
		if (env_key_len(env[i]) == k && strncmp(env[i], kv, k) == 0) {
			env[i] = kv;
			return;
		}
	env[(*n)++] = kv;
}

static bool env_has(const char *const *env, size_t n, const char *key) {
	size_t k = strlen(key);
	for (size_t i = 0; i < n; i++)
		if (env_key_len(env[i]) == k && strncmp(env[i], key, k) == 0)
			return true;
	return false;
}

/* The container's environment, then TERM with -t, then the -e variables (so an explicit TERM wins), and PATH
 * when none of them set it. Returns a malloc'd array of borrowed strings. */
static int exec_env(const exec_opts *o, const Grpc__Process *rec, const char ***ret, size_t *ret_n) {
	size_t base = rec ? rec->n_env : 0, n = 0;
	const char **env = calloc(base + o->n_env + 2, sizeof *env);
	if (!env)
		return -ENOMEM;
	for (size_t i = 0; i < base; i++)
		env_set(env, &n, rec->env[i]);
	if (o->term)
		env_set(env, &n, o->term);
	for (size_t i = 0; i < o->n_env; i++)
		env_set(env, &n, o->env[i]);
	if (!env_has(env, n, "PATH"))
		env[n++] = DEFAULT_PATH;
	*ret = env;
	*ret_n = n;
	return 0;
}

/* The exec id: unique among this host's concurrent execs into one container. */
static int exec_id(char *buf, size_t size) {
	return format_checked(buf, size, "exec-%d-%llu", (int)getpid(), (unsigned long long)(now_ns() % 1000000));
}

static int exec_process(ttrpc_client *c, const exec_opts *o, const Grpc__Process *rec, const char *id) {
	Grpc__User user = GRPC__USER__INIT;
	Grpc__Box box = GRPC__BOX__INIT;
	Grpc__Process proc = GRPC__PROCESS__INIT;
	_cleanup_free_ const char **env = NULL;
	size_t n_env;
	int r = exec_env(o, rec, &env, &n_env);
	if (r < 0)
		return r;
	if (rec) {
		proc = *rec; /* shallow: rec outlives the call */
		if (rec->user)
			user = *rec->user;
	}
	if (o->has_uid)
		user.uid = o->uid;
	if (o->has_gid)
		user.gid = o->gid;
	proc.user = &user;
	proc.terminal = o->terminal;
	proc.consolesize = NULL;
	proc.args = o->args;
	proc.n_args = o->n_args;
	proc.env = (char **)env;
	proc.n_env = n_env;
	proc.cwd = (char *)(o->cwd ? o->cwd : rec && rec->cwd && rec->cwd[0] ? rec->cwd : "/");
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
	_cleanup_(record_freep) Grpc__Process *rec = NULL;
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
	if (exec_id(id, sizeof id) < 0 || record_load(dir, o.container, &rec) < 0)
		goto out;
	r = exec_process(ctl, &o, rec, id);
	if (r < 0) {
		code = r == -ENOENT ? 127 : r == -EACCES ? 126 : 1;
		goto out;
	}
	relay_config rc = { .prog = PROG, .api = api, .container_id = o.container, .exec_id = id,
			    .terminal = o.terminal, .start_ns = start };
	r = relay_run(&rc, ctl, sfd);
	if (r >= 0)
		code = r;
out:
	free(o.term);
	return code;
}
