/* kata-launch run: one OCI bundle as one container in its own VM. Boots a private VM through `kata-launch boot`
 * (a child process, so the daemon's state, locking and teardown stay in one place), shares the bundle's rootfs
 * and every bind-mount source with the guest (9p, or virtio-fs with virtiofsd), creates the sandbox and the
 * container, relays stdio (launcher/relay.c), and always stops the VM. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "agent.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "launcher/cli.h"
#include "launcher/exec.h"
#include "launcher/net.h"
#include "launcher/qemu.h"
#include "launcher/relay.h"
#include "launcher/state.h"
#include "launcher/ttrpc-client.h"
#include "libcontainer-c/spec.h"

#define PROG "kata-launch run"
#define RUN_CID "run"
#define RUN_SHARED "/run/kata-containers/shared/containers/" RUN_CID
#define RUN_ROOTFS RUN_SHARED "/rootfs"
#define BIND_TAG_PREFIX "kataBind"
#define MAX_BINDS (QEMU_SHARES_MAX - 1) /* the rootfs takes one share; the file sources' staging one of these */
#define MAX_FILES 64
#define BOOT_OUTPUT_MAX 65536

typedef struct run_opts {
	const char *kernel, *initrd, *memory, *cpus, *machine, *name;
	qemu_share_fs share_fs;
	bool share_fs_auto, terminal;
	const char *net; /* passed to boot; the parsed mode below */
	launch_net net_mode;
	const char *bundle;
	char **args; /* NULL-terminated, or NULL: keep the bundle's */
} run_opts;

/* One host directory shared for the spec's bind mounts, mounted in the guest at guest_dir. */
typedef struct run_bind {
	char *host_dir; /* for the files share: NULL until files_stage() made it */
	bool readonly;
	bool files;     /* the staging directory of the file sources */
	char tag[16];
	char guest_dir[64];
} run_bind;

/* A regular file bind-mounted into the container: shared as FILES_SHARE/<index>/<base>. */
typedef struct run_file {
	char *host_path;
	const char *base; /* in host_path */
	bool readonly;
} run_file;

/* What the bundle turns into: the Spec for the agent and what the VM must share. */
typedef struct run_plan {
	Grpc__Spec *spec;
	char *rootfs;
	bool terminal;
	run_bind binds[MAX_BINDS];
	size_t n_binds;
	run_file files[MAX_FILES];
	size_t n_files;
	int files_bind; /* index in binds of the files share, -1 without file sources */
	bool files_mounted;
} run_plan;

static void files_unstage(run_plan *p);

static void run_plan_clear(run_plan *p) {
	files_unstage(p);
	for (size_t i = 0; i < p->n_files; i++)
		free(p->files[i].host_path);
	p->n_files = 0;
	p->spec = lc_spec_proto_free(p->spec);
	free(p->rootfs);
	p->rootfs = NULL;
	for (size_t i = 0; i < p->n_binds; i++)
		free(p->binds[i].host_dir);
	p->n_binds = 0;
}

static void usage(FILE *f) {
	fputs("usage: kata-launch run [--kernel K] [--initrd I] [--memory MiB] [--cpus N] [--machine q35|microvm]\n"
	      "                       [--name NAME] [--share-fs 9p|virtio-fs|auto] [--net none|user] [-t]\n"
	      "                       BUNDLE [-- ARGS]\n"
	      "  Runs BUNDLE/config.json in a new VM; exits with the container's exit code (128+signal when killed).\n"
	      "  -t (or process.terminal): a pty in the guest, our terminal raw, window-size changes forwarded.\n"
	      "  --name: the VM's name (default run-PID), for `kata-launch exec NAME` while it runs.\n"
	      "  --share-fs: how the rootfs and bind-mount sources reach the guest; auto is virtio-fs when virtiofsd\n"
	      "  exists and we are root. KATA_LAUNCH_TIMING=1 reports the time from launch to the first output byte on stderr.\n",
	      f);
}

static int parse_opts(int argc, char **argv, run_opts *o) {
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' }, { "initrd", required_argument, NULL, 'i' },
		{ "memory", required_argument, NULL, 'm' }, { "cpus", required_argument, NULL, 'c' },
		{ "machine", required_argument, NULL, 'M' }, { "name", required_argument, NULL, 'n' },
		{ "share-fs", required_argument, NULL, 'S' }, { "tty", no_argument, NULL, 't' },
		{ "net", required_argument, NULL, 'N' },    { "help", no_argument, NULL, 'h' },
		{},
	};
	int c;
	o->share_fs_auto = true;
	while ((c = getopt_long(argc, argv, "+k:i:m:c:M:n:S:N:th", longopts, NULL)) >= 0) {
		switch (c) {
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'm': o->memory = optarg; break;
		case 'c': o->cpus = optarg; break;
		case 'M': o->machine = optarg; break;
		case 'n': o->name = optarg; break;
		case 't': o->terminal = true; break;
		case 'N':
			if (launch_net_from_string(optarg, &o->net_mode) < 0) {
				fprintf(stderr, PROG ": invalid value `%s` for --net (none or user)\n", optarg);
				return -EINVAL;
			}
			o->net = optarg;
			break;
		case 'S':
			o->share_fs_auto = strcmp(optarg, "auto") == 0;
			if (!o->share_fs_auto && qemu_share_fs_from_string(optarg, &o->share_fs) < 0) {
				fprintf(stderr, PROG ": invalid --share-fs `%s` (9p, virtio-fs or auto)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (o->name && state_name_check(o->name) < 0) {
		fprintf(stderr, PROG ": invalid --name `%s` (letters, digits, `_.-`, at most 64)\n", o->name);
		return -EINVAL;
	}
	o->bundle = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind < argc)
		o->args = argv + optind;
	/* virtiofsd sandboxes itself in namespaces of its own, which takes root; QEMU's 9p server does not. */
	if (o->share_fs_auto)
		o->share_fs = geteuid() == 0 && qemu_find_virtiofsd() ? QEMU_SHARE_VIRTIOFS : QEMU_SHARE_9P;
	else if (o->share_fs == QEMU_SHARE_VIRTIOFS && !qemu_find_virtiofsd()) {
		fprintf(stderr, PROG ": --share-fs virtio-fs: no virtiofsd found (/usr/lib/qemu/virtiofsd, "
				"/usr/libexec/virtiofsd; $KATA_LAUNCH_VIRTIOFSD names another)\n");
		return -ENOENT;
	}
	return 0;
}

static bool strv_has(const lc_strv *v, const char *s) {
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return true;
	return false;
}

/* A bind mount as runc sees one: type "bind", or a "bind"/"rbind" option. */
static bool mount_is_bind(const lc_spec_mount *m) {
	return (m->type && strcmp(m->type, "bind") == 0) || strv_has(&m->options, "bind") ||
	       strv_has(&m->options, "rbind");
}

/* The last of "ro" and "rw" wins, as in mount(8). */
static bool mount_is_readonly(const lc_spec_mount *m) {
	bool ro = false;
	for (size_t i = 0; i < m->options.n; i++)
		if (strcmp(m->options.v[i], "ro") == 0)
			ro = true;
		else if (strcmp(m->options.v[i], "rw") == 0)
			ro = false;
	return ro;
}

/* The share for host_dir with that access, added when new; host_dir NULL is the files share. Returns its
 * index or -errno. */
static int plan_bind_share(run_plan *p, const char *host_dir, bool readonly) {
	for (size_t i = 0; i < p->n_binds; i++)
		if (host_dir && !p->binds[i].files && p->binds[i].readonly == readonly &&
		    strcmp(p->binds[i].host_dir, host_dir) == 0)
			return (int)i;
	if (p->n_binds >= MAX_BINDS)
		return -E2BIG;
	run_bind *b = &p->binds[p->n_binds];
	*b = (run_bind){ .readonly = readonly, .files = !host_dir };
	if (host_dir && strchr(host_dir, ','))
		return -EINVAL; /* QEMU would split its option list there */
	if (host_dir && !(b->host_dir = strdup(host_dir)))
		return -ENOMEM;
	if (format_checked(b->tag, sizeof b->tag, BIND_TAG_PREFIX "%zu", p->n_binds) < 0 ||
	    format_checked(b->guest_dir, sizeof b->guest_dir, RUN_SHARED "/mounts/%zu", p->n_binds) < 0) {
		free(b->host_dir);
		return -ENAMETOOLONG;
	}
	return (int)p->n_binds++;
}

/* A file source: 9p and virtio-fs share directories, and sharing the file's parent would hand the guest its
 * siblings (a bind of /etc/resolv.conf would share /etc). So each file is bind-mounted on the host into a
 * staging directory of its own share, in a private mount namespace (files_stage). Returns the guest path. */
static int plan_file(run_plan *p, const char *host_path, bool readonly, char **ret_guest) {
	size_t i;
	for (i = 0; i < p->n_files; i++)
		if (p->files[i].readonly == readonly && strcmp(p->files[i].host_path, host_path) == 0)
			break;
	if (i == p->n_files) {
		if (p->n_files >= MAX_FILES)
			return -E2BIG;
		if (p->files_bind < 0) {
			int r = plan_bind_share(p, NULL, false);
			if (r < 0)
				return r;
			p->files_bind = r;
		}
		run_file *f = &p->files[p->n_files];
		if (!(f->host_path = strdup(host_path)))
			return -ENOMEM;
		f->base = strrchr(f->host_path, '/') + 1;
		f->readonly = readonly;
		p->n_files++;
	}
	if (asprintf(ret_guest, "%s/%zu/%s", p->binds[p->files_bind].guest_dir, i, p->files[i].base) < 0)
		return -ENOMEM;
	return 0;
}

/* Shares the source of every bind mount whose source is a host path and points the mount at the guest's copy:
 * a directory is shared itself, a regular file through the staging share (plan_file). guest_sources keeps the
 * rewritten strings alive until the spec is converted. */
static int plan_binds(const run_opts *o, lc_spec *spec, run_plan *p, char **guest_sources) {
	for (size_t i = 0; i < spec->n_mounts; i++) {
		lc_spec_mount *m = &spec->mounts[i];
		char path[PATH_MAX];
		struct stat st;
		int r;

		if (!mount_is_bind(m))
			continue;
		if (!m->source || !*m->source) {
			fprintf(stderr, PROG ": mounts[%zu].source: a bind mount needs a source\n", i);
			return -EINVAL;
		}
		/* runc resolves a relative source against the bundle. */
		r = m->source[0] == '/' ? format_checked(path, sizeof path, "%s", m->source)
					: format_checked(path, sizeof path, "%s/%s", o->bundle, m->source);
		if (r < 0) {
			fprintf(stderr, PROG ": mounts[%zu].source `%s`: path too long\n", i, m->source);
			return r;
		}
		_cleanup_free_ char *abs = realpath(path, NULL);
		if (!abs || stat(abs, &st) < 0) {
			r = -errno;
			fprintf(stderr, PROG ": mounts[%zu].source `%s`: %s\n", i, m->source, strerror(-r));
			return r;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
			fprintf(stderr, PROG ": mounts[%zu].source `%s`: only directories and regular files can be "
					"shared with the VM\n", i, m->source);
			return -EINVAL;
		}
		if (S_ISREG(st.st_mode) && geteuid() != 0) {
			fprintf(stderr, PROG ": mounts[%zu].source `%s`: a file source needs root (it is bind-mounted "
					"into a share of its own in a private mount namespace)\n", i, m->source);
			return -EPERM;
		}
		if (S_ISREG(st.st_mode))
			r = plan_file(p, abs, mount_is_readonly(m), &guest_sources[i]);
		else if ((r = plan_bind_share(p, abs, mount_is_readonly(m))) >= 0)
			r = asprintf(&guest_sources[i], "%s", p->binds[r].guest_dir) < 0 ? -ENOMEM : 0;
		if (r < 0) {
			fprintf(stderr, PROG ": mounts[%zu].source `%s`: %s\n", i, m->source,
				r == -E2BIG ? "too many bind-mount sources (31 shared directories, one of them for all files; 64 files)"
				: r == -EINVAL ? "a comma in the path" : strerror(-r));
			return r;
		}
		m->source = guest_sources[i];
	}
	return 0;
}

/* Reads the bundle, applies ARGS and -t, finds the rootfs and the bind-mount sources on the host, and builds
 * the protobuf Spec with the guest's paths. */
static int load_spec(const run_opts *o, run_plan *plan) {
	_cleanup_(lc_spec_freep) lc_spec *spec = NULL;
	_cleanup_close_ int dfd = open(o->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	kc_error err = {};
	int r;

	if (dfd < 0) {
		r = -errno;
		fprintf(stderr, PROG ": bundle `%s`: %s\n", o->bundle, strerror(-r));
		return r;
	}
	r = lc_spec_from_file(dfd, "config.json", &spec, &err);
	if (r < 0) {
		fprintf(stderr, PROG ": %s/config.json: %s\n", o->bundle, err.msg[0] ? err.msg : strerror(-r));
		return r;
	}
	if (!spec->root || !spec->root->path || !spec->process) {
		fprintf(stderr, PROG ": %s/config.json: needs root.path and process\n", o->bundle);
		return -EINVAL;
	}
	/* The arena keeps owning what is replaced; what replaces it outlives the conversion below. */
	if (o->args) {
		size_t n = 0;
		while (o->args[n])
			n++;
		spec->process->args = (lc_strv){ .v = o->args, .n = n };
	}
	lc_spec_console_size console = {};
	spec->process->terminal = spec->process->terminal || o->terminal;
	plan->terminal = spec->process->terminal;
	if (plan->terminal && relay_window_size(&console.height, &console.width) >= 0)
		spec->process->console_size = &console;

	char rootfs[PATH_MAX];
	if (spec->root->path[0] == '/')
		r = format_checked(rootfs, sizeof rootfs, "%s", spec->root->path);
	else
		r = format_checked(rootfs, sizeof rootfs, "%s/%s", o->bundle, spec->root->path);
	if (r < 0)
		return r;
	plan->rootfs = realpath(rootfs, NULL);
	if (!plan->rootfs) {
		r = -errno;
		fprintf(stderr, PROG ": rootfs `%s`: %s\n", rootfs, strerror(-r));
		return r;
	}

	_cleanup_free_ char **guest_sources = calloc(spec->n_mounts + 1, sizeof(char *));
	if (!guest_sources)
		return -ENOMEM;
	r = plan_binds(o, spec, plan, guest_sources);
	Grpc__Spec *p = NULL;
	lc_strv dropped = {};
	if (r >= 0) {
		r = lc_spec_to_proto(spec, &p, &dropped, &err);
		if (r < 0)
			fprintf(stderr, PROG ": converting the spec: %s\n", err.msg[0] ? err.msg : strerror(-r));
	}
	for (size_t i = 0; i < spec->n_mounts; i++)
		free(guest_sources[i]);
	if (r < 0)
		return r;
	for (size_t i = 0; i < dropped.n; i++)
		fprintf(stderr, PROG ": warning: %s cannot be sent to the agent; ignored\n", dropped.v[i]);
	lc_strv_clear(&dropped);

	char *guest_root = strdup(RUN_ROOTFS);
	if (!guest_root || !p->root) {
		free(guest_root);
		(void)lc_spec_proto_free(p);
		return -ENOMEM;
	}
	free(p->root->path);
	p->root->path = guest_root;
	plan->spec = p;
	return 0;
}

/* Bind-mounts each file source onto an empty file in a staging directory: a tmpfs over an empty directory
 * under the state root, all in a mount namespace of our own whose propagation is private, so the host sees
 * only that empty directory and nothing stays mounted once the VM's processes (our children, in this namespace)
 * are gone. The source is opened first and the mount made from its fd: the file that was checked is the file
 * that is shared. A read-only source becomes a read-only bind, so the host refuses writes itself. */
static int files_stage(run_plan *p) {
	char dir[PATH_MAX];
	int r;

	if (p->n_files == 0)
		return 0;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		r = -errno;
		fprintf(stderr, PROG ": a private mount namespace for the file sources: %s\n", strerror(-r));
		return r;
	}
	if ((mkdir(state_root(), 0755) < 0 && errno != EEXIST) ||
	    format_checked(dir, sizeof dir, "%s/.files-XXXXXX", state_root()) < 0 || !mkdtemp(dir)) {
		r = -errno;
		fprintf(stderr, PROG ": a staging directory under %s: %s\n", state_root(), strerror(-r));
		return r;
	}
	run_bind *b = &p->binds[p->files_bind];
	if (!(b->host_dir = strdup(dir))) {
		(void)rmdir(dir);
		return -ENOMEM;
	}
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m") < 0) {
		r = -errno;
		fprintf(stderr, PROG ": tmpfs on %s: %s\n", dir, strerror(-r));
		return r;
	}
	p->files_mounted = true;
	for (size_t i = 0; i < p->n_files; i++) {
		const run_file *f = &p->files[i];
		char sub[PATH_MAX], target[PATH_MAX], src[64];
		struct stat st;
		_cleanup_close_ int fd = open(f->host_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		r = fd < 0 || fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EINVAL;
		if (r >= 0 && (format_checked(sub, sizeof sub, "%s/%zu", dir, i) < 0 ||
			       format_checked(target, sizeof target, "%s/%s", sub, f->base) < 0 ||
			       format_checked(src, sizeof src, "/proc/self/fd/%d", fd) < 0))
			r = -ENAMETOOLONG;
		if (r >= 0 && mkdir(sub, 0755) < 0)
			r = -errno;
		if (r < 0) {
			fprintf(stderr, PROG ": file source `%s`: %s\n", f->host_path,
				r == -EINVAL ? "no longer a regular file" : strerror(-r));
			return r;
		}
		_cleanup_close_ int t = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (t < 0 || mount(src, target, NULL, MS_BIND, NULL) < 0 ||
		    (f->readonly && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)) {
			r = -errno;
			fprintf(stderr, PROG ": bind-mounting file source `%s`: %s\n", f->host_path, strerror(-r));
			return r;
		}
	}
	return 0;
}

static void files_unstage(run_plan *p) {
	if (p->files_bind < 0 || !p->binds[p->files_bind].host_dir)
		return;
	const char *dir = p->binds[p->files_bind].host_dir;
	if (p->files_mounted)
		(void)umount2(dir, MNT_DETACH);
	p->files_mounted = false;
	(void)rmdir(dir);
}

/* Runs `kata-launch boot` with its output captured: shown only when the boot fails. The boot command returns
 * once the agent answers, leaving its daemon behind. */
static int boot_vm(const run_opts *o, const char *name, const run_plan *plan, const sigset_t *old_mask) {
	const char *argv[32 + 2 * QEMU_SHARES_MAX];
	char binds[MAX_BINDS][PATH_MAX + 32];
	size_t n = 0;
	argv[n++] = "kata-launch";
	argv[n++] = "boot";
	argv[n++] = "--name";
	argv[n++] = name;
	argv[n++] = "--share";
	argv[n++] = plan->rootfs;
	argv[n++] = "--share-fs";
	argv[n++] = qemu_share_fs_to_string(o->share_fs);
	argv[n++] = "--accel";
	argv[n++] = "auto";
	for (size_t i = 0; i < plan->n_binds; i++) {
		const run_bind *b = &plan->binds[i];
		if (format_checked(binds[i], sizeof binds[i], "%s:%s", b->host_dir, b->tag) < 0)
			return -ENAMETOOLONG;
		argv[n++] = b->readonly ? "--share-ro" : "--share";
		argv[n++] = binds[i];
	}
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
	fprintf(stderr, PROG ": booting the VM failed:\n");
	if (out)
		(void)write_all(STDERR_FILENO, out, len);
	return -EIO;
}

static void stop_vm(const char *name) {
	char *argv[] = { (char *)"stop", (char *)name, NULL };
	(void)cmd_stop(2, argv);
}

/* One Storage for a share: 9p with the options the Go runtime sends, or virtio-fs. */
static void share_storage(qemu_share_fs fs, const char *tag, bool readonly, const char *mount_point,
			  Grpc__Storage *st, char **opts_9p, char **opts_ro) {
	*st = (Grpc__Storage)GRPC__STORAGE__INIT;
	st->source = (char *)tag;
	st->mount_point = (char *)mount_point;
	if (fs == QEMU_SHARE_VIRTIOFS) {
		st->driver = "virtio-fs";
		st->fstype = "virtiofs";
		st->options = readonly ? opts_ro : NULL;
		st->n_options = readonly ? 1 : 0;
		return;
	}
	st->driver = "9p";
	st->fstype = "9p";
	st->options = opts_9p;
	st->n_options = readonly ? 6 : 5;
}

static int create_container(ttrpc_client *c, const run_opts *o, const run_plan *plan) {
	static char *opts_9p[] = { "trans=virtio", "version=9p2000.L", "cache=mmap", "nodev", "msize=8192", "ro" };
	static char *opts_ro[] = { "ro" };
	Grpc__Storage st[1 + MAX_BINDS];
	Grpc__Storage *sts[1 + MAX_BINDS];
	size_t n = 0;
	share_storage(o->share_fs, QEMU_SHARE_TAG, false, RUN_ROOTFS, &st[n], opts_9p, opts_ro);
	sts[n] = &st[n];
	n++;
	for (size_t i = 0; i < plan->n_binds; i++, n++) {
		const run_bind *b = &plan->binds[i];
		share_storage(o->share_fs, b->tag, b->readonly, b->guest_dir, &st[n], opts_9p, opts_ro);
		sts[n] = &st[n];
	}
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	sb.sandbox_id = RUN_CID;
	sb.hostname = plan->spec->hostname && *plan->spec->hostname ? plan->spec->hostname : RUN_CID;
	sb.storages = sts;
	sb.n_storages = n;
	kc_error err = {};
	if (launch_net_sandbox(c, o->net_mode, !o->machine || strcmp(o->machine, "microvm") != 0, &sb, plan->spec,
			       &err) < 0) {
		fprintf(stderr, PROG ": network: %s\n", err.msg);
		return -EIO;
	}
	int r = relay_call(c, PROG, "CreateSandbox", &sb.base, &google__protobuf__empty__descriptor, 60);
	if (r < 0)
		return -EIO;

	Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	cc.container_id = RUN_CID;
	cc.exec_id = RUN_CID;
	cc.oci = plan->spec;
	r = relay_call(c, PROG, "CreateContainer", &cc.base, &google__protobuf__empty__descriptor, 60);
	if (r < 0)
		return r;
	Grpc__StartContainerRequest sc = GRPC__START_CONTAINER_REQUEST__INIT;
	sc.container_id = RUN_CID;
	r = relay_call(c, PROG, "StartContainer", &sc.base, &google__protobuf__empty__descriptor, 60);
	return r < 0 ? -EIO : 0;
}

/* Before the container exists, so that an exec that finds the container finds the process to start from. */
static int keep_process(const char *dir, const run_plan *plan) {
	int r = exec_record_save(dir, RUN_CID, plan->spec->process);
	if (r < 0)
		fprintf(stderr, PROG ": keeping the container's process for `kata-launch exec` in %s: %s\n", dir,
			strerror(-r));
	return r;
}

int cmd_run(int argc, char **argv) {
	run_opts o = {};
	_cleanup_(run_plan_clear) run_plan plan = { .files_bind = -1 };
	char name[64], dir[PATH_MAX], api[PATH_MAX];
	uint64_t start = now_ns();
	int r, code = 1;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (load_spec(&o, &plan) < 0 || files_stage(&plan) < 0)
		return 1;

	/* The forwarded signals wait until the container exists. */
	sigset_t old_mask;
	_cleanup_close_ int sfd = relay_signals_open(plan.terminal, &old_mask);
	if (sfd < 0) {
		fprintf(stderr, PROG ": signalfd: %s\n", strerror(-sfd));
		return 1;
	}

	r = o.name ? format_checked(name, sizeof name, "%s", o.name)
		   : format_checked(name, sizeof name, "run-%d", (int)getpid());
	if (r < 0 || state_dir_path(name, dir, sizeof dir) < 0 || state_path(dir, "api.sock", api, sizeof api) < 0)
		return 1;
	r = boot_vm(&o, name, &plan, &old_mask);
	if (r < 0) {
		if (r != -EIO)
			fprintf(stderr, PROG ": starting `kata-launch boot`: %s\n", strerror(-r));
		/* A VM of that name that was already running is not ours to stop. */
		if (access(dir, F_OK) == 0 && !state_is_live(dir))
			stop_vm(name);
		return 1;
	}

	_cleanup_(ttrpc_client_freep) ttrpc_client *ctl = NULL;
	r = ttrpc_client_connect(api, &ctl);
	if (r < 0)
		fprintf(stderr, PROG ": connecting to %s: %s\n", api, strerror(-r));
	else if ((r = keep_process(dir, &plan)) >= 0 && (r = create_container(ctl, &o, &plan)) >= 0) {
		relay_config rc = { .prog = PROG, .api = api, .container_id = RUN_CID, .exec_id = RUN_CID,
				    .terminal = plan.terminal, .start_ns = start };
		r = relay_run(&rc, ctl, sfd);
		if (r >= 0)
			code = r;
	} else if (r == -ENOENT || r == -EACCES)
		code = r == -ENOENT ? 127 : 126;
	ctl = ttrpc_client_free(ctl);
	fflush(NULL);
	stop_vm(name);
	return code;
}
