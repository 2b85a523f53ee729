#include "launcher/qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

/* What differs between the two machines. microvm has no PCI: its virtio devices sit on virtio-mmio, found
 * through ACPI. Under TCG it hangs at "APIC: Switch to symmetric I/O mode setup" as soon as a virtio-mmio
 * device exists unless the second IO-APIC is off. q35 gets one free pcie-root-port because hotplug cannot
 * target pcie.0. */
typedef struct machine_info {
	const char *name;
	const char *machine_opts; /* appended after ",accel=X" */
	const char *serial_bus;
	const char *vsock_dev;
	const char *ninep_dev;
	const char *virtiofs_dev;
	bool root_port;
} machine_info;

static const machine_info machines[_QEMU_MACHINE_MAX] = {
	[QEMU_MACHINE_Q35] = { "q35", "", "virtio-serial-pci", "vhost-vsock-pci", "virtio-9p-pci", "vhost-user-fs-pci",
			       true },
	[QEMU_MACHINE_MICROVM] = { "microvm", ",ioapic2=off", "virtio-serial-device", "vhost-vsock-device",
				   "virtio-9p-device", "vhost-user-fs-device", false },
};

static const char *const accel_names[_QEMU_ACCEL_MAX] = {
	[QEMU_ACCEL_AUTO] = "auto",
	[QEMU_ACCEL_TCG] = "tcg",
	[QEMU_ACCEL_KVM] = "kvm",
};

static const char *const share_fs_names[_QEMU_SHARE_FS_MAX] = {
	[QEMU_SHARE_9P] = "9p",
	[QEMU_SHARE_VIRTIOFS] = "virtio-fs",
};

const char *qemu_machine_to_string(qemu_machine m) {
	return (unsigned)m < _QEMU_MACHINE_MAX ? machines[m].name : NULL;
}

int qemu_machine_from_string(const char *s, qemu_machine *ret) {
	for (size_t i = 0; i < _QEMU_MACHINE_MAX; i++)
		if (strcmp(s, machines[i].name) == 0) {
			*ret = (qemu_machine)i;
			return 0;
		}
	return -EINVAL;
}

const char *qemu_accel_to_string(qemu_accel a) {
	return (unsigned)a < _QEMU_ACCEL_MAX ? accel_names[a] : NULL;
}

int qemu_accel_from_string(const char *s, qemu_accel *ret) {
	for (size_t i = 0; i < _QEMU_ACCEL_MAX; i++)
		if (strcmp(s, accel_names[i]) == 0) {
			*ret = (qemu_accel)i;
			return 0;
		}
	return -EINVAL;
}

const char *qemu_share_fs_to_string(qemu_share_fs f) {
	return (unsigned)f < _QEMU_SHARE_FS_MAX ? share_fs_names[f] : NULL;
}

int qemu_share_fs_from_string(const char *s, qemu_share_fs *ret) {
	for (size_t i = 0; i < _QEMU_SHARE_FS_MAX; i++)
		if (strcmp(s, share_fs_names[i]) == 0) {
			*ret = (qemu_share_fs)i;
			return 0;
		}
	return -EINVAL;
}

int qemu_share_tag_check(const char *tag) {
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.";
	if (!tag || !*tag || strlen(tag) > QEMU_SHARE_TAG_MAX || strspn(tag, ok) != strlen(tag))
		return -EINVAL;
	return 0;
}

int qemu_virtiofsd_socket(const char *state_dir, size_t i, char *buf, size_t size) {
	return format_checked(buf, size, "%s/vfs%zu.sock", state_dir, i);
}

const char *qemu_find_virtiofsd(void) {
	static const char *const places[] = { "/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd",
					      "/usr/libexec/qemu/virtiofsd", "/usr/lib/virtiofsd" };
	const char *e = getenv("KATA_LAUNCH_VIRTIOFSD");
	if (e && *e)
		return access(e, X_OK) == 0 ? e : NULL;
	for (size_t i = 0; i < ELEMENTSOF(places); i++)
		if (access(places[i], X_OK) == 0)
			return places[i];
	return NULL;
}

char **strv_free(char **v) {
	if (!v)
		return NULL;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
	return NULL;
}

unsigned qemu_host_tsc_khz(void) {
	_cleanup_free_ char *s = NULL;
	if (read_file_capped(AT_FDCWD, "/proc/cpuinfo", 4 << 20, &s, NULL) < 0)
		return 0;
	const char *p = strstr(s, "cpu MHz");
	if (!p || !(p = strchr(p, ':')))
		return 0;
	double mhz = strtod(p + 1, NULL);
	return mhz > 1 && mhz < 100000 ? (unsigned)(mhz * 1000) : 0;
}

typedef struct argv_builder {
	char **v;
	size_t n, cap;
	int error;
} argv_builder;

/* Appends one formatted argument; the first failure sticks, so callers check once at the end. */
_printf_(2, 3) static void add(argv_builder *b, const char *fmt, ...) {
	va_list ap;
	char *s;

	if (b->error)
		return;
	if (b->n + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char **v = realloc(b->v, cap * sizeof *v);
		if (!v) {
			b->error = -ENOMEM;
			return;
		}
		b->v = v;
		b->cap = cap;
	}
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		b->error = -ENOMEM;
		return;
	}
	b->v[b->n++] = s;
	b->v[b->n] = NULL;
}

/* QEMU splits option values at commas; "," would need doubling, and none of our paths should hold one. */
static int check_opt_path(const char *p) {
	return p && !strchr(p, ',') ? 0 : -EINVAL;
}

int qemu_build_cmdline(const qemu_config *c, char **ret) {
	char agent[64];
	int r;

	if (c->vsock_cid)
		r = format_checked(agent, sizeof agent, "vsock://-1:%d", QEMU_AGENT_VSOCK_PORT);
	else
		r = format_checked(agent, sizeof agent, "serial://%s", QEMU_AGENT_PORT_NAME);
	if (r < 0)
		return r;
	/* microvm under TCG: the kernel's fast PIT calibration of the TSC fails now and then on a busy host
	 * ("tsc: Marking TSC unstable due to could not calculate TSC khz") and the boot then hangs for good (4 of
	 * 6 boots without this, 6 of 6 fine with it, on the CI machine class). TCG's guest TSC runs at the host's
	 * rate, so the host's frequency is the right answer and skips the calibration. */
	char tsc[48] = "";
	if (c->machine == QEMU_MACHINE_MICROVM && c->accel == QEMU_ACCEL_TCG && c->host_tsc_khz) {
		r = format_checked(tsc, sizeof tsc, " tsc_early_khz=%u", c->host_tsc_khz);
		if (r < 0)
			return r;
	}
	if (asprintf(ret, "%s%s%s agent.server_addr=%s%s%s", QEMU_KERNEL_PARAMS, tsc, c->iommu ? " intel_iommu=on" : "", agent,
		     c->append && *c->append ? " " : "", c->append ? c->append : "") < 0)
		return -ENOMEM;
	return 0;
}

int qemu_build_argv(const qemu_config *c, char ***ret) {
	const machine_info *m;
	_cleanup_free_ char *cmdline = NULL;
	argv_builder b = {};
	int r;

	if ((unsigned)c->machine >= _QEMU_MACHINE_MAX || (c->accel != QEMU_ACCEL_TCG && c->accel != QEMU_ACCEL_KVM))
		return -EINVAL;
	if (check_opt_path(c->state_dir) < 0 || check_opt_path(c->console_log) < 0)
		return -EINVAL;
	if (c->n_shares > QEMU_SHARES_MAX || (unsigned)c->share_fs >= _QEMU_SHARE_FS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < c->n_shares; i++) {
		if (check_opt_path(c->shares[i].dir) < 0 || qemu_share_tag_check(c->shares[i].tag) < 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->shares[i].tag, c->shares[j].tag) == 0)
				return -EINVAL;
	}
	bool virtiofs = c->n_shares > 0 && c->share_fs == QEMU_SHARE_VIRTIOFS;
	m = &machines[c->machine];
	/* VFIO tests: VT-d exists on q35 only; a device model name goes into an option list unquoted. */
	if ((c->iommu || c->pci_device) && !m->root_port)
		return -EINVAL;
	if (c->pci_device && (!*c->pci_device || strspn(c->pci_device, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
							   strlen(c->pci_device)))
		return -EINVAL;
	r = qemu_build_cmdline(c, &cmdline);
	if (r < 0)
		return r;

	add(&b, "%s", c->qemu);
	add(&b, "-name");
	add(&b, "kata-launch-%s", c->name ? c->name : "vm");
	add(&b, "-machine");
	/* Interrupt remapping needs the split irqchip under KVM; TCG accepts it too. vhost-user devices need
	 * the guest RAM in shared memory that virtiofsd maps. */
	add(&b, "%s,accel=%s%s%s%s%s", m->name, accel_names[c->accel], m->machine_opts, c->pmem ? ",nvdimm=on" : "",
	    c->iommu ? ",kernel-irqchip=split" : "", virtiofs ? ",memory-backend=mem0" : "");
	if (c->iommu) {
		/* Before any PCI device, so that every one sits behind it. */
		add(&b, "-device");
		add(&b, "intel-iommu,intremap=on");
	}
	if (virtiofs) {
		add(&b, "-object");
		add(&b, "memory-backend-memfd,id=mem0,size=%uM,share=on", c->memory_mib);
		/* microvm's virtio-mmio devices are legacy (0.9) by default, and virtiofsd's libvhost-user refuses a
		 * legacy device ("virtio legacy devices aren't supported") and the share then hangs. */
		if (c->machine == QEMU_MACHINE_MICROVM) {
			add(&b, "-global");
			add(&b, "virtio-mmio.force-legacy=false");
		}
	}
	add(&b, "-cpu");
	/* TCG cannot emulate `host`; `max` gives the guest SSE4.2 and friends (crc32c-intel for ext4). */
	add(&b, "%s", c->accel == QEMU_ACCEL_KVM ? "host" : "max");
	add(&b, "-m");
	/* An NVDIMM takes a memory slot and its size out of maxmem. */
	unsigned pmem_mib = (unsigned)((c->pmem_size + (1u << 20) - 1) >> 20);
	if (c->max_memory_mib > c->memory_mib || c->pmem)
		add(&b, "%uM,slots=%u,maxmem=%uM", c->memory_mib, QEMU_MEM_SLOTS,
		    MAX(c->max_memory_mib, c->memory_mib) + pmem_mib);
	else
		add(&b, "%uM", c->memory_mib);
	add(&b, "-smp");
	/* Hot-pluggable CPUs come as sockets of one core, as Kata sizes them. */
	if (c->max_cpus > c->cpus)
		add(&b, "%u,maxcpus=%u,sockets=%u,cores=1,threads=1", c->cpus, c->max_cpus, c->max_cpus);
	else
		add(&b, "%u", c->cpus);
	add(&b, "-nodefaults");
	add(&b, "-no-user-config");
	add(&b, "-nographic");
	add(&b, "-no-reboot");
	add(&b, "-serial");
	add(&b, "file:%s", c->console_log);
	add(&b, "-kernel");
	add(&b, "%s", c->kernel);
	add(&b, "-initrd");
	add(&b, "%s", c->initrd);
	add(&b, "-append");
	add(&b, "%s", cmdline);
	add(&b, "-qmp");
	add(&b, "unix:%s/qmp.sock,server=on,wait=off", c->state_dir);
	if (m->root_port) {
		add(&b, "-device");
		add(&b, "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1");
	}
	if (c->vsock_cid) {
		add(&b, "-device");
		add(&b, "%s,id=vsock0,guest-cid=%u", m->vsock_dev, c->vsock_cid);
	} else {
		add(&b, "-device");
		add(&b, "%s,id=serial0", m->serial_bus);
		add(&b, "-chardev");
		add(&b, "socket,id=agentch,path=%s/agent.sock,server=on,wait=off", c->state_dir);
		add(&b, "-device");
		add(&b, "virtserialport,bus=serial0.0,chardev=agentch,name=%s", QEMU_AGENT_PORT_NAME);
	}
	if (c->disk) {
		if (check_opt_path(c->disk) < 0)
			b.error = -EINVAL;
		add(&b, "-drive");
		add(&b, "file=%s,if=none,id=disk0,format=raw", c->disk);
		add(&b, "-device");
		if (m->root_port)
			add(&b, "virtio-blk-pci,drive=disk0,bus=pcie.0,addr=0x%x", QEMU_DISK_PCI_SLOT);
		else
			add(&b, "virtio-blk-device,drive=disk0");
	}
	if (c->pmem) {
		/* share=on: the guest's writes (through DAX, straight to these pages) land in the file. */
		if (check_opt_path(c->pmem) < 0 || !m->root_port || c->pmem_size == 0)
			b.error = -EINVAL;
		add(&b, "-object");
		add(&b, "memory-backend-file,id=pmem0,mem-path=%s,size=%llu,share=on", c->pmem,
		    (unsigned long long)c->pmem_size);
		add(&b, "-device");
		add(&b, "nvdimm,id=nv0,memdev=pmem0");
	}
	if (c->pci_device) {
		add(&b, "-device");
		add(&b, "%s,bus=pcie.0,addr=0x%x", c->pci_device, QEMU_PCI_DEVICE_SLOT);
	}
	for (size_t i = 0; i < c->n_shares; i++) {
		const qemu_share *sh = &c->shares[i];
		if (virtiofs) {
			char sock[PATH_MAX];
			if (qemu_virtiofsd_socket(c->state_dir, i, sock, sizeof sock) < 0)
				b.error = -ENAMETOOLONG;
			add(&b, "-chardev");
			add(&b, "socket,id=vfs%zu,path=%s", i, sock);
			add(&b, "-device");
			add(&b, "%s,chardev=vfs%zu,tag=%s", m->virtiofs_dev, i, sh->tag);
			continue;
		}
		/* multidevs=remap: the share may span filesystems, whose inode numbers would collide in the guest. */
		add(&b, "-fsdev");
		add(&b, "local,id=fsdev%zu,path=%s,security_model=none,multidevs=remap%s", i, sh->dir,
		    sh->readonly ? ",readonly=on" : "");
		add(&b, "-device");
		add(&b, "%s,fsdev=fsdev%zu,mount_tag=%s", m->ninep_dev, i, sh->tag);
	}
	if (b.error) {
		(void)strv_free(b.v);
		return b.error;
	}
	*ret = b.v;
	return 0;
}

/* cache=auto: the share is also written from the host (bind mounts, the bundle), so attributes must not stay
 * cached for good. The sandbox is virtiofsd's default: its own mount, pid and net namespaces, pivoted into the
 * shared directory. */
int qemu_virtiofsd_argv(const char *virtiofsd, const char *state_dir, size_t i, const qemu_share *share,
			char ***ret) {
	char sock[PATH_MAX];
	argv_builder b = {};
	int r = qemu_virtiofsd_socket(state_dir, i, sock, sizeof sock);
	if (r < 0)
		return r;
	if (check_opt_path(share->dir) < 0)
		return -EINVAL;
	add(&b, "%s", virtiofsd);
	add(&b, "--socket-path=%s", sock);
	add(&b, "-o");
	add(&b, "source=%s", share->dir);
	add(&b, "-o");
	add(&b, "cache=auto");
	add(&b, "-o");
	add(&b, "sandbox=namespace");
	if (b.error) {
		(void)strv_free(b.v);
		return b.error;
	}
	*ret = b.v;
	return 0;
}

static void child_exec(char *const *argv, int in_fd, int out_fd) {
	/* Only async-signal-safe calls from here on. */
	if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0)
		_exit(127);
	(void)syscall(SYS_close_range, 3U, ~0U, 0U);
	sigset_t all;
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	execv(argv[0], argv);
	_exit(errno == ENOENT ? 127 : 126);
}

int qemu_spawn(char *const *argv, int log_fd, pid_t *ret_pid) {
	_cleanup_close_ int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(argv, null_fd, log_fd);
	*ret_pid = pid;
	return 0;
}

int qemu_wait_bounded(pid_t pid, int timeout_ms) {
	int status = 0;
	for (int waited = 0;; waited += 10) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return status;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (waited >= timeout_ms) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		(void)nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

int qemu_probe_kvm(const char *qemu, qemu_machine m, const char **ret_reason) {
	int fds[2];
	pid_t pid;
	int r;

	_cleanup_close_ int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		*ret_reason = errno == ENOENT ? "/dev/kvm does not exist" : "/dev/kvm cannot be opened";
		return 0;
	}
	/* -S stops before the guest runs, but vCPU registers are already pushed to KVM: that is where a nested
	 * setup that cannot host KVM aborts (e.g. "failed to set MSR 0x10a"). The monitor's `quit` ends a good run. */
	char machine[64];
	r = format_checked(machine, sizeof machine, "%s,accel=kvm", machines[m].name);
	if (r < 0)
		return r;
	char *const argv[] = { (char *)qemu, "-machine", machine, "-cpu", "host", "-nodefaults", "-no-user-config",
			       "-display", "none", "-S", "-monitor", "stdio", NULL };
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_close_ int rd = fds[0], wr = fds[1];
	_cleanup_close_ int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(argv, rd, null_fd);
	rd = safe_close(rd);
	(void)write_all(wr, "quit\n", 5);
	wr = safe_close(wr);
	r = qemu_wait_bounded(pid, 5000);
	if (r == -ETIMEDOUT) {
		*ret_reason = "QEMU did not start a KVM vCPU within 5 s";
		return 0;
	}
	if (r < 0)
		return r;
	if (WIFEXITED(r) && WEXITSTATUS(r) == 0)
		return 1;
	*ret_reason = "QEMU failed to start a KVM vCPU (nested virtualisation?)";
	return 0;
}
