/* kata-launch boot: state directory, accelerator choice, QEMU, readiness, then the multiplexer as a daemon. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "launcher/cli.h"
#include "launcher/mux.h"
#include "launcher/net.h"
#include "launcher/qemu.h"
#include "launcher/state.h"

typedef struct boot_opts {
	const char *name;
	const char *kernel;
	const char *initrd;
	const char *qemu;
	const char *append;
	const char *console_log;
	qemu_share shares[QEMU_SHARES_MAX];
	char *owned[2 * QEMU_SHARES_MAX]; /* the strings shares[] points at */
	size_t n_shares, n_owned;
	qemu_share_fs share_fs;
	const char *disk;
	const char *pmem;
	bool iommu;
	const char *pci_device;
	unsigned max_cpus, max_memory_mib;
	unsigned memory_mib;
	unsigned cpus;
	unsigned timeout_s;
	qemu_machine machine;
	qemu_accel accel;
	launch_net net;
	bool foreground;
} boot_opts;

typedef struct boot_ctx {
	const boot_opts *o;
	const char *dir;
	qemu_accel accel;
	int notify_fd; /* the waiting parent, or -1 in the foreground */
	unsigned vsock_cid;
	const char *virtiofsd_bin;        /* NULL: shares (if any) are 9p */
	pid_t virtiofsd[QEMU_SHARES_MAX]; /* 0: not running */
} boot_ctx;

/* vsock only where the host can back it; elsewhere (this project's CI) the agent sits on a virtio-serial
 * port. CIDs 0-2 are reserved; a pid-derived CID keeps concurrent VMs of one host apart in practice (QEMU
 * refuses a CID in use, which then fails the boot with its message). */
static unsigned pick_vsock_cid(void) {
	if (access("/dev/vhost-vsock", R_OK | W_OK) < 0)
		return 0;
	return 3 + (unsigned)getpid() % 1000000u;
}

static void boot_opts_clear(boot_opts **o) {
	for (size_t i = 0; i < (*o)->n_owned; i++)
		free((*o)->owned[i]);
	(*o)->n_owned = 0;
}

static void usage(FILE *f) {
	fputs("usage: kata-launch boot [--name NAME] [--kernel K] [--initrd I] [--memory MiB] [--cpus N]\n"
	      "                        [--machine q35|microvm] [--accel auto|tcg|kvm] [--append ARGS]\n"
	      "                        [--timeout SEC] [--qemu PATH] [--console-log PATH] [--foreground]\n"
	      "                        [--share DIR[:TAG]] [--share-ro DIR:TAG] (repeatable; the first tag defaults\n"
	      "                        to " QEMU_SHARE_TAG ") [--share-fs 9p|virtio-fs] (virtio-fs: a virtiofsd per share)\n"
	      "                        [--max-cpus N] [--max-memory MiB] (room for hotplug)\n"
	      "                        [--disk RAW_IMAGE] (virtio-blk at PCI path " QEMU_DISK_PCI_PATH ")\n"
	      "                        [--pmem IMAGE] (q35: an NVDIMM, the guest's /dev/pmem0)\n"
	      "                        [--iommu] [--pci-device MODEL] (q35: VT-d; a device at PCI path "
	      QEMU_PCI_DEVICE_PCI_PATH ")\n"

	      "                        [--net none|user] (user: slirp, restricted; NIC " LAUNCH_NET_MAC " at " LAUNCH_NET_PCI_PATH ")\n",
	      f);
}

/* DIR[:TAG]. The directory is made absolute later (resolve_file), before the daemon leaves the cwd. Only the
 * first share may leave its tag to the default. */
static int parse_share(const char *arg, bool readonly, boot_opts *o) {
	if (o->n_shares >= QEMU_SHARES_MAX)
		return -E2BIG;
	qemu_share *sh = &o->shares[o->n_shares];
	const char *colon = strrchr(arg, ':');
	if (colon == arg)
		return -EINVAL;
	if (!colon) {
		if (o->n_shares > 0) {
			fprintf(stderr, "kata-launch boot: `%s`: only the first share may omit its TAG\n", arg);
			return -EINVAL;
		}
		*sh = (qemu_share){ .dir = arg, .tag = QEMU_SHARE_TAG, .readonly = readonly };
	} else {
		char *d = strndup(arg, (size_t)(colon - arg));
		if (!d)
			return -ENOMEM;
		o->owned[o->n_owned++] = d;
		*sh = (qemu_share){ .dir = d, .tag = colon + 1, .readonly = readonly };
	}
	if (qemu_share_tag_check(sh->tag) < 0)
		return -EINVAL;
	for (size_t i = 0; i < o->n_shares; i++)
		if (strcmp(o->shares[i].tag, sh->tag) == 0) {
			fprintf(stderr, "kata-launch boot: share tag `%s` is used twice\n", sh->tag);
			return -EINVAL;
		}
	o->n_shares++;
	return 0;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret) {
	uint64_t v;
	if (parse_u64(s, 10, &v) < 0 || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_opts(int argc, char **argv, boot_opts *o) {
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },     { "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },   { "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },     { "machine", required_argument, NULL, 'M' },
		{ "accel", required_argument, NULL, 'a' },    { "append", required_argument, NULL, 'A' },
		{ "timeout", required_argument, NULL, 't' },  { "qemu", required_argument, NULL, 'q' },
		{ "console-log", required_argument, NULL, 'l' }, { "foreground", no_argument, NULL, 'f' },
		{ "share", required_argument, NULL, 's' },    { "help", no_argument, NULL, 'h' },
		{ "max-cpus", required_argument, NULL, 'C' }, { "max-memory", required_argument, NULL, 'X' },
		{ "disk", required_argument, NULL, 'D' },     { "pmem", required_argument, NULL, 'P' },
		{ "iommu", no_argument, NULL, 'I' },          { "pci-device", required_argument, NULL, 'V' },
		{ "share-ro", required_argument, NULL, 'R' },   { "share-fs", required_argument, NULL, 'S' },
		{ "net", required_argument, NULL, 'N' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:k:i:m:c:M:a:A:t:q:l:s:fhC:X:D:P:IV:R:S:N:", longopts, NULL)) >= 0) {
		int r = 0;
		switch (c) {
		case 'n': o->name = optarg; break;
		case 'k': o->kernel = optarg; break;
		case 'i': o->initrd = optarg; break;
		case 'm': r = parse_uint(optarg, 64, 1 << 20, &o->memory_mib); break;
		case 'c': r = parse_uint(optarg, 1, 255, &o->cpus); break;
		case 'M': r = qemu_machine_from_string(optarg, &o->machine); break;
		case 'a': r = qemu_accel_from_string(optarg, &o->accel); break;
		case 'A': o->append = optarg; break;
		case 't': r = parse_uint(optarg, 1, 3600, &o->timeout_s); break;
		case 'q': o->qemu = optarg; break;
		case 'l': o->console_log = optarg; break;
		case 'f': o->foreground = true; break;
		case 's': r = parse_share(optarg, false, o); break;
		case 'R': r = parse_share(optarg, true, o); break;
		case 'S': r = qemu_share_fs_from_string(optarg, &o->share_fs); break;
		case 'C': r = parse_uint(optarg, 1, 255, &o->max_cpus); break;
		case 'X': r = parse_uint(optarg, 64, 1 << 20, &o->max_memory_mib); break;
		case 'D': o->disk = optarg; break;
		case 'P': o->pmem = optarg; break;
		case 'I': o->iommu = true; break;
		case 'V': o->pci_device = optarg; break;
		case 'N': r = launch_net_from_string(optarg, &o->net); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
		if (r < 0) {
			const char *opt = "?";
			for (const struct option *lo = longopts; lo->name; lo++)
				if (lo->val == c)
					opt = lo->name;
			fprintf(stderr, "kata-launch boot: invalid value `%s` for --%s\n", optarg, opt);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (state_name_check(o->name) < 0) {
		fprintf(stderr, "kata-launch boot: invalid name `%s` (letters, digits, `_.-`, at most 64)\n", o->name);
		return -EINVAL;
	}
	return 0;
}

/* QEMU is exec'd without a shell: find it in $PATH here, and say which path was missing. */
static int find_qemu(const char *name, char **ret) {
	if (strchr(name, '/')) {
		if (access(name, X_OK) < 0)
			return -errno;
		return (*ret = realpath(name, NULL)) ? 0 : -errno;
	}
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!copy)
		return -ENOMEM;
	for (char *save = NULL, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char full[PATH_MAX];
		if (format_checked(full, sizeof full, "%s/%s", d, name) < 0)
			continue;
		if (access(full, X_OK) == 0)
			return (*ret = strdup(full)) ? 0 : -ENOMEM;
	}
	return -ENOENT;
}

static int resolve_file(const char *what, const char *path, char **ret) {
	char *p = realpath(path, NULL);
	if (!p) {
		fprintf(stderr, "kata-launch: %s `%s`: %s\n", what, path, strerror(errno));
		return -errno;
	}
	*ret = p;
	return 0;
}

/* The KVM probe starts a QEMU and costs about half a second under nested virtualisation, where it fails.
 * Its answer cannot change until the host reboots or QEMU changes, so it is kept in the state root (a tmpfs
 * under /run, emptied by a reboot) keyed by the QEMU binary's identity. */
#define KVM_CACHE_NAME "kvm-probe"

static bool kvm_cache_key(const char *qemu, char *key, size_t size) {
	struct stat st;
	if (stat(qemu, &st) < 0)
		return false;
	return format_checked(key, size, "%s %llu %lld.%09ld %lld", qemu, (unsigned long long)st.st_ino,
			      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_size) >= 0;
}

/* Returns 1 (usable), 0 (not) or -1 (no valid cache entry). */
static int kvm_cache_read(const char *qemu, char *reason, size_t size) {
	char path[PATH_MAX], key[PATH_MAX + 96];
	_cleanup_free_ char *content = NULL;
	if (format_checked(path, sizeof path, "%s/" KVM_CACHE_NAME, state_root()) < 0 || !kvm_cache_key(qemu, key, sizeof key))
		return -1;
	if (read_file_capped(AT_FDCWD, path, 8192, &content, NULL) < 0)
		return -1;
	/* Line 1: key; line 2: 0 or 1; line 3: reason. */
	char *nl1 = strchr(content, '\n');
	if (!nl1)
		return -1;
	*nl1 = '\0';
	if (strcmp(content, key) != 0 || (nl1[1] != '0' && nl1[1] != '1') || nl1[2] != '\n')
		return -1;
	char *r = nl1 + 3;
	r[strcspn(r, "\n")] = '\0';
	(void)format_checked(reason, size, "%s", r);
	return nl1[1] - '0';
}

static void kvm_cache_write(const char *qemu, int usable, const char *reason) {
	char path[PATH_MAX], tmp[PATH_MAX + 16], key[PATH_MAX + 96];
	if (format_checked(path, sizeof path, "%s/" KVM_CACHE_NAME, state_root()) < 0 ||
	    format_checked(tmp, sizeof tmp, "%s.%d", path, (int)getpid()) < 0 || !kvm_cache_key(qemu, key, sizeof key))
		return;
	if (mkdir(state_root(), 0755) < 0 && errno != EEXIST)
		return;
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	char line[PATH_MAX + 512];
	if (format_checked(line, sizeof line, "%s\n%d\n%s\n", key, usable, reason ? reason : "") < 0 ||
	    write_all(fd, line, strlen(line)) < 0 || rename(tmp, path) < 0)
		(void)unlink(tmp);
}

static qemu_accel choose_accel(const boot_opts *o, const char *qemu) {
	const char *reason = NULL;
	char cached_reason[256];
	if (o->accel != QEMU_ACCEL_AUTO) {
		fprintf(stderr, "kata-launch: accel %s (as requested)\n", qemu_accel_to_string(o->accel));
		return o->accel;
	}
	int r = kvm_cache_read(qemu, cached_reason, sizeof cached_reason);
	if (r >= 0) {
		reason = cached_reason;
		if (r == 0)
			(void)strncat(cached_reason, " (cached probe)", sizeof cached_reason - strlen(cached_reason) - 1);
	} else {
		r = qemu_probe_kvm(qemu, o->machine, &reason);
		if (r >= 0)
			kvm_cache_write(qemu, r, reason);
	}
	if (r > 0) {
		fprintf(stderr, "kata-launch: accel kvm\n");
		return QEMU_ACCEL_KVM;
	}
	fprintf(stderr, "kata-launch: accel tcg (KVM unusable: %s)\n", r < 0 ? strerror(-r) : reason);
	return QEMU_ACCEL_TCG;
}

static int prepare_state_dir(const char *name, char *dir, size_t size) {
	int r = state_dir_path(name, dir, size);
	if (r < 0)
		return r;
	if (mkdir(state_root(), 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* The longest socket path must fit sun_path. */
	return strlen(dir) + strlen("/agent.sock") < STATE_PATH_MAX ? 0 : -ENAMETOOLONG;
}

static void on_ready(void *userdata, uint64_t elapsed_ns) {
	boot_ctx *b = userdata;
	if (getenv("KATA_LAUNCH_DEBUG"))
		fprintf(stderr, "kata-launch: ready at realtime %.6f\n", (double)realtime_ns() / 1e9);
	printf("ready in %.3f s (launch to ready), accel %s, machine %s, api %s/api.sock\n", (double)elapsed_ns / 1e9,
	       qemu_accel_to_string(b->accel), qemu_machine_to_string(b->o->machine), b->dir);
	fflush(stdout);
	if (b->notify_fd < 0)
		return;
	/* Hand the terminal back: the parent exits 0 on this byte, and the daemon keeps nothing of it. */
	(void)write_all(b->notify_fd, "", 1);
	b->notify_fd = safe_close(b->notify_fd);
	char log[PATH_MAX];
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log_fd = state_path(b->dir, "daemon.log", log, sizeof log) < 0 ? -1
			: open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null_fd >= 0) {
		(void)dup2(null_fd, STDIN_FILENO);
		(void)dup2(log_fd >= 0 ? log_fd : null_fd, STDOUT_FILENO);
		(void)dup2(log_fd >= 0 ? log_fd : null_fd, STDERR_FILENO);
	}
	(void)safe_close(null_fd);
	(void)safe_close(log_fd);
}

static void report_failure(const boot_ctx *b, const mux_result *res, const char *console, const char *qemu_log) {
	const boot_opts *o = b->o;
	if (res->exit == MUX_EXIT_TIMEOUT)
		fprintf(stderr, "kata-launch: the agent did not answer Health.Check with SERVING within %u s\n",
			o->timeout_s);
	else if (WIFEXITED(res->qemu_status))
		fprintf(stderr, "kata-launch: QEMU exited with status %d before the agent was ready\n",
			WEXITSTATUS(res->qemu_status));
	else
		fprintf(stderr, "kata-launch: QEMU was killed by signal %d before the agent was ready\n",
			WTERMSIG(res->qemu_status));
	struct stat st;
	if (stat(qemu_log, &st) == 0 && st.st_size > 0) {
		fprintf(stderr, "kata-launch: QEMU said (%s):\n", qemu_log);
		state_print_tail(qemu_log, 20, "  qemu| ");
	}
	fprintf(stderr, "kata-launch: last console lines (%s):\n", console);
	state_print_tail(console, 20, "  console| ");
}

/* True when /proc/net/unix shows a listening socket bound at path: the file appears at bind(), a moment before
 * listen(), and QEMU gives up on a refused connect. Connecting to test would use up virtiofsd's one client. */
static bool unix_listening(const char *path) {
	_cleanup_free_ char *s = NULL;
	if (read_file_capped(AT_FDCWD, "/proc/net/unix", 16 << 20, &s, NULL) < 0)
		return false;
	size_t plen = strlen(path);
	for (char *line = s; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		/* Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is __SO_ACCEPTCON (listening). */
		size_t len = strlen(line);
		if (len > plen && strcmp(line + len - plen, path) == 0 && line[len - plen - 1] == ' ' &&
		    strstr(line, " 00010000 "))
			return true;
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static void stop_virtiofsd(boot_ctx *b) {
	for (size_t i = 0; i < b->o->n_shares; i++) {
		char sock[PATH_MAX];
		if (b->virtiofsd[i] > 0) {
			/* It leaves by itself when QEMU hangs up; SIGTERM covers a QEMU that never connected. */
			(void)kill(b->virtiofsd[i], SIGTERM);
			(void)qemu_wait_bounded(b->virtiofsd[i], 5000);
			b->virtiofsd[i] = 0;
		}
		if (b->virtiofsd_bin && qemu_virtiofsd_socket(b->dir, i, sock, sizeof sock) >= 0)
			(void)unlink(sock);
	}
}

/* One virtiofsd per share, each listening before QEMU starts: QEMU connects to them at start-up. */
static int start_virtiofsd(boot_ctx *b) {
	const boot_opts *o = b->o;
	char log[PATH_MAX], sock[PATH_MAX];
	int r;

	if (!b->virtiofsd_bin)
		return 0;
	if (state_path(b->dir, "virtiofsd.log", log, sizeof log) < 0)
		return -ENAMETOOLONG;
	_cleanup_close_ int log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return -errno;
	for (size_t i = 0; i < o->n_shares; i++) {
		_cleanup_(strv_freep) char **argv = NULL;
		r = qemu_virtiofsd_argv(b->virtiofsd_bin, b->dir, i, &o->shares[i], &argv);
		if (r < 0 || (r = qemu_virtiofsd_socket(b->dir, i, sock, sizeof sock)) < 0)
			return r;
		(void)unlink(sock);
		r = qemu_spawn(argv, log_fd, &b->virtiofsd[i]);
		if (r < 0)
			return r;
	}
	uint64_t deadline = now_ns() + 10 * 1000000000ULL;
	for (size_t i = 0; i < o->n_shares;) {
		int status;
		if (qemu_virtiofsd_socket(b->dir, i, sock, sizeof sock) >= 0 && unix_listening(sock)) {
			i++;
			continue;
		}
		if (waitpid(b->virtiofsd[i], &status, WNOHANG) == b->virtiofsd[i]) {
			b->virtiofsd[i] = 0;
			fprintf(stderr, "kata-launch: virtiofsd for `%s` exited (wait status 0x%x) before listening:\n",
				o->shares[i].dir, status);
			state_print_tail(log, 10, "  virtiofsd| ");
			return -EIO;
		}
		if (now_ns() > deadline) {
			fprintf(stderr, "kata-launch: virtiofsd for `%s` did not listen on %s within 10 s\n",
				o->shares[i].dir, sock);
			return -ETIMEDOUT;
		}
		(void)nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	return 0;
}

/* Everything after the fork: QEMU, the loop, cleanup. Returns the exit code. */
static int run_vm(boot_ctx *b, char **argv, const char *console) {
	char path[PATH_MAX], qemu_log[PATH_MAX], agent_addr[PATH_MAX], api[PATH_MAX];
	pid_t pid;
	int r;

	if (state_path(b->dir, "qemu.log", qemu_log, sizeof qemu_log) < 0 ||
	    state_path(b->dir, "api.sock", api, sizeof api) < 0 ||
	    (b->vsock_cid ? format_checked(agent_addr, sizeof agent_addr, "vsock://%u:%d", b->vsock_cid,
					   QEMU_AGENT_VSOCK_PORT)
			  : format_checked(agent_addr, sizeof agent_addr, "unix://%s/agent.sock", b->dir)) < 0)
		return 1;
	(void)state_write_pid(b->dir, "pid", getpid());
	_cleanup_close_ int log_fd = open(qemu_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		fprintf(stderr, "kata-launch: %s: %s\n", qemu_log, strerror(errno));
		return 1;
	}
	/* Block SIGCHLD before QEMU exists, so an early exit cannot slip past the signalfd. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);

	uint64_t start = now_ns();
	r = start_virtiofsd(b);
	if (r < 0) {
		if (r != -EIO && r != -ETIMEDOUT)
			fprintf(stderr, "kata-launch: cannot start virtiofsd: %s\n", strerror(-r));
		stop_virtiofsd(b);
		return 1;
	}
	if (getenv("KATA_LAUNCH_DEBUG"))
		fprintf(stderr, "kata-launch: launching QEMU at realtime %.6f\n", (double)realtime_ns() / 1e9);
	r = qemu_spawn(argv, log_fd, &pid);
	if (r < 0) {
		fprintf(stderr, "kata-launch: cannot start %s: %s\n", argv[0], strerror(-r));
		stop_virtiofsd(b);
		return 1;
	}
	(void)state_write_pid(b->dir, "qemu.pid", pid);

	mux_config mc = {
		.agent_address = agent_addr, .api_path = api, .qemu_pid = pid, .start_ns = start,
		.ready_timeout_ns = (uint64_t)b->o->timeout_s * 1000000000ULL, .on_ready = on_ready, .userdata = b,
	};
	mux_result res = {};
	r = mux_run(&mc, &res);
	if (r < 0) {
		fprintf(stderr, "kata-launch: event loop failed: %s\n", strerror(-r));
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
		stop_virtiofsd(b);
		return 1;
	}
	stop_virtiofsd(b);
	/* QEMU is gone: its sockets and pid files go too; console.log stays for post-mortems until `stop`. */
	static const char *const leftovers[] = { "agent.sock", "qmp.sock", "qemu.pid", "pid" };
	for (size_t i = 0; i < ELEMENTSOF(leftovers); i++)
		if (state_path(b->dir, leftovers[i], path, sizeof path) >= 0)
			(void)unlink(path);
	if (!res.ready) {
		report_failure(b, &res, console, qemu_log);
		return 1;
	}
	if (WIFEXITED(res.qemu_status) && WEXITSTATUS(res.qemu_status) == 0)
		return 0;
	fprintf(stderr, "kata-launch: QEMU ended abnormally (wait status 0x%x)\n", res.qemu_status);
	return 1;
}

/* Forks the daemon. The parent waits for one byte (ready) or EOF (the daemon failed and said why on the
 * shared stderr) and never returns. */
static int daemonize(int *ret_notify_fd) {
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char c;
		(void)close(fds[1]);
		ssize_t n;
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	(void)close(fds[0]);
	(void)setsid();
	*ret_notify_fd = fds[1];
	return 0;
}

int cmd_boot(int argc, char **argv) {
	boot_opts o = {
		.name = "default", .kernel = "build/vmlinux", .initrd = "build/initrd.img", .memory_mib = 512, .cpus = 1,
		.timeout_s = 30, .machine = QEMU_MACHINE_Q35, .accel = QEMU_ACCEL_AUTO,
		.qemu = getenv("KATA_LAUNCH_QEMU") ? getenv("KATA_LAUNCH_QEMU") : "qemu-system-x86_64",
	};
	_cleanup_(boot_opts_clear) boot_opts *op = &o;
	_cleanup_free_ char *kernel = NULL, *initrd = NULL, *qemu = NULL, *console_abs = NULL, *disk = NULL,
				*pmem = NULL;
	struct stat pmem_st = { 0 };
	_cleanup_(strv_freep) char **qargv = NULL;
	char dir[PATH_MAX], console[PATH_MAX];
	int r;

	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	r = find_qemu(o.qemu, &qemu);
	if (r < 0) {
		fprintf(stderr, "kata-launch: QEMU binary `%s`: %s\n", o.qemu, strerror(-r));
		return 1;
	}
	if (resolve_file("kernel", o.kernel, &kernel) < 0 || resolve_file("initrd", o.initrd, &initrd) < 0)
		return 1;
	for (size_t i = 0; i < o.n_shares; i++) {
		char *abs;
		if (resolve_file("shared directory", o.shares[i].dir, &abs) < 0)
			return 1;
		o.owned[o.n_owned++] = abs;
		o.shares[i].dir = abs;
	}
	const char *virtiofsd = NULL;
	if (o.n_shares && o.share_fs == QEMU_SHARE_VIRTIOFS && !(virtiofsd = qemu_find_virtiofsd())) {
		fprintf(stderr, "kata-launch: --share-fs virtio-fs: no virtiofsd (looked in /usr/lib/qemu and /usr/libexec; "
				"$KATA_LAUNCH_VIRTIOFSD names another)\n");
		return 1;
	}
	if (o.disk && resolve_file("disk image", o.disk, &disk) < 0)
		return 1;
	if (o.pmem && (resolve_file("pmem image", o.pmem, &pmem) < 0 || stat(pmem, &pmem_st) < 0))
		return 1;

	r = prepare_state_dir(o.name, dir, sizeof dir);
	if (r < 0) {
		fprintf(stderr, "kata-launch: state directory for `%s` under %s: %s\n", o.name, state_root(), strerror(-r));
		return 1;
	}
	_cleanup_close_ int lock_fd = state_lock(dir);
	if (lock_fd == -EBUSY) {
		pid_t pid = 0;
		(void)state_read_pid(dir, "pid", &pid);
		fprintf(stderr, "kata-launch: a VM named `%s` is already running (daemon pid %d, %s)\n", o.name, (int)pid,
			dir);
		return 1;
	}
	if (lock_fd < 0) {
		fprintf(stderr, "kata-launch: %s/lock: %s\n", dir, strerror(-lock_fd));
		return 1;
	}
	/* We hold the lock, so whatever is in the directory belongs to a dead daemon. */
	r = state_clean(dir, false);
	if (r < 0) {
		fprintf(stderr, "kata-launch: cleaning stale state in %s: %s\n", dir, strerror(-r));
		return 1;
	}
	if (o.console_log) {
		/* QEMU creates the file; resolve the directory now, before the daemon leaves the cwd. */
		_cleanup_free_ char *d = strdup(o.console_log), *base = strdup(o.console_log);
		if (!d || !base)
			return 1;
		char *slash = strrchr(d, '/');
		const char *parent = slash ? (slash == d ? "/" : (*slash = '\0', d)) : ".";
		_cleanup_free_ char *pabs = realpath(parent, NULL);
		if (!pabs) {
			fprintf(stderr, "kata-launch: console log directory `%s`: %s\n", parent, strerror(errno));
			return 1;
		}
		const char *file = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;
		if (format_checked(console, sizeof console, "%s/%s", pabs, file) < 0)
			return 1;
	} else if (state_path(dir, "console.log", console, sizeof console) < 0)
		return 1;

	boot_ctx b = { .o = &o, .dir = dir, .notify_fd = -1, .virtiofsd_bin = virtiofsd };
	b.accel = choose_accel(&o, qemu);
	qemu_config qc = {
		.qemu = qemu, .name = o.name, .kernel = kernel, .initrd = initrd, .state_dir = dir,
		.console_log = console, .append = o.append, .memory_mib = o.memory_mib, .cpus = o.cpus,
		.machine = o.machine, .accel = b.accel,
		.vsock_cid = pick_vsock_cid(), .host_tsc_khz = qemu_host_tsc_khz(),
		.shares = o.shares, .n_shares = o.n_shares, .share_fs = o.share_fs,
		.max_cpus = o.max_cpus, .max_memory_mib = o.max_memory_mib, .disk = disk,
		.pmem = pmem, .pmem_size = (uint64_t)pmem_st.st_size,
		.iommu = o.iommu, .pci_device = o.pci_device,
	};
	b.vsock_cid = qc.vsock_cid;
	r = qemu_build_argv(&qc, &qargv);
	if (r >= 0)
		r = launch_net_qemu_args(o.net, o.machine == QEMU_MACHINE_Q35, &qargv);
	if (r < 0) {
		fprintf(stderr, "kata-launch: building the QEMU command line: %s%s\n", strerror(-r),
			r == -EINVAL ? " (paths must not contain commas; a share tag is 1-31 of [A-Za-z0-9_.-])" : "");
		return 1;
	}
	if (getenv("KATA_LAUNCH_DEBUG")) {
		fputs("kata-launch: exec", stderr);
		for (char **a = qargv; *a; a++)
			fprintf(stderr, " '%s'", *a);
		fputc('\n', stderr);
	}
	if (!o.foreground) {
		r = daemonize(&b.notify_fd);
		if (r < 0) {
			fprintf(stderr, "kata-launch: fork: %s\n", strerror(-r));
			return 1;
		}
		if (chdir("/") < 0)
			return 1;
	}
	return run_vm(&b, qargv, console);
}
