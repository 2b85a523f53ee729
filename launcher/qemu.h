/* The QEMU command line for a kata-launch VM, and the accelerator probe.
 *
 * The argv is built as a vector (QEMU is exec'd directly, no shell), so paths with spaces or commas in the
 * kernel command line need no quoting. Paths that QEMU parses as option lists (`-serial file:`, `-chardev
 * path=`) must not contain commas; qemu_build_argv refuses them rather than escape. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/macro.h"

typedef enum qemu_machine {
	QEMU_MACHINE_Q35,
	QEMU_MACHINE_MICROVM,
	_QEMU_MACHINE_MAX,
} qemu_machine;

typedef enum qemu_accel {
	QEMU_ACCEL_AUTO,
	QEMU_ACCEL_TCG,
	QEMU_ACCEL_KVM,
	_QEMU_ACCEL_MAX,
} qemu_accel;

/* The agent listens on this virtio-serial port name, or on this vsock port. */
#define QEMU_AGENT_PORT_NAME "agent.channel.0"
#define QEMU_AGENT_VSOCK_PORT 1024

/* The kernel command line Kata uses to boot fast (see reference/guest-boot.md §4), before the agent address. */
#define QEMU_KERNEL_PARAMS                                                                                    \
	"console=ttyS0 quiet panic=1 no_timer_check tsc=reliable rcupdate.rcu_expedited=1 i8042.direct=1 "      \
	"i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 cryptomgr.notests reboot=k"

/* How host directories reach the guest: virtio-9p (QEMU serves it), or virtio-fs (a virtiofsd per share, which
 * needs the guest's RAM in a shared memfd so the daemon can map it). */
typedef enum qemu_share_fs {
	QEMU_SHARE_9P,
	QEMU_SHARE_VIRTIOFS,
	_QEMU_SHARE_FS_MAX,
} qemu_share_fs;

typedef struct qemu_share {
	const char *dir; /* absolute host directory */
	const char *tag; /* mount tag, 1-31 of [A-Za-z0-9_.-] */
	bool readonly;   /* 9p refuses writes itself; virtiofsd cannot, so the guest mounts it ro */
} qemu_share;

#define QEMU_SHARES_MAX 32

typedef struct qemu_config {
	const char *qemu;        /* binary */
	const char *name;        /* VM name, shown by -name */
	const char *kernel;
	const char *initrd;
	const char *state_dir;   /* holds agent.sock and qmp.sock */
	const char *console_log; /* the guest's ttyS0 goes here */
	const char *append;      /* extra kernel parameters, may be NULL */
	unsigned memory_mib;
	unsigned cpus;
	qemu_machine machine;
	qemu_accel accel;        /* resolved: TCG or KVM */
	unsigned vsock_cid;      /* 0: agent on a virtio-serial port; else vhost-vsock with this guest CID */
	unsigned host_tsc_khz;   /* 0: unknown. See qemu_build_cmdline for why microvm under TCG wants it */
	const qemu_share *shares; /* n_shares directories, tags unique */
	size_t n_shares;
	qemu_share_fs share_fs;
	unsigned max_cpus;       /* > cpus: room for hot-plugged CPUs (one socket each) */
	unsigned max_memory_mib; /* > memory_mib: room for hot-plugged DIMMs (QEMU_MEM_SLOTS slots) */
	const char *disk;        /* a raw image attached at boot as virtio-blk, at PCI path QEMU_DISK_PCI_PATH */
	const char *pmem;        /* q35: a file given as an NVDIMM (the guest's /dev/pmem0), or NULL */
	uint64_t pmem_size;      /* its size in bytes */
	bool iommu;              /* q35: an emulated VT-d (intel-iommu, interrupt remapping) and intel_iommu=on */
	const char *pci_device;  /* q35: an emulated PCI device model ("edu", "e1000e") at QEMU_PCI_DEVICE_PCI_PATH */
} qemu_config;

#define QEMU_MEM_SLOTS 4
/* The boot disk sits at a fixed address on the root bus (q35), so its PCI path is known in advance. */
#define QEMU_DISK_PCI_SLOT 0x05
#define QEMU_DISK_PCI_PATH "05"
#define QEMU_PCI_DEVICE_SLOT 0x06
#define QEMU_PCI_DEVICE_PCI_PATH "06"

/* The tag the Kata runtime gives its one shared directory. */
#define QEMU_SHARE_TAG "kataShared"
#define QEMU_SHARE_TAG_MAX 31

const char *qemu_machine_to_string(qemu_machine m);
int qemu_machine_from_string(const char *s, qemu_machine *ret);
const char *qemu_accel_to_string(qemu_accel a);
int qemu_accel_from_string(const char *s, qemu_accel *ret);
const char *qemu_share_fs_to_string(qemu_share_fs f);
int qemu_share_fs_from_string(const char *s, qemu_share_fs *ret);
/* -EINVAL unless tag is 1-QEMU_SHARE_TAG_MAX of [A-Za-z0-9_.-] (QEMU parses it inside an option list). */
int qemu_share_tag_check(const char *tag);
/* The vhost-user socket of share i's virtiofsd, in the state directory. */
int qemu_virtiofsd_socket(const char *state_dir, size_t i, char *buf, size_t size);
/* $KATA_LAUNCH_VIRTIOFSD, else the first executable of the places distributions install it; NULL if none. */
const char *qemu_find_virtiofsd(void);
/* virtiofsd's argv for share i (a malloc'd vector, strv_free it). */
int qemu_virtiofsd_argv(const char *virtiofsd, const char *state_dir, size_t i, const qemu_share *share,
			char ***ret);

/* A NULL-terminated, malloc'd argv (argv[0] is the binary). */
int qemu_build_argv(const qemu_config *c, char ***ret);
/* The kernel command line alone (also part of the argv). */
int qemu_build_cmdline(const qemu_config *c, char **ret);
char **strv_free(char **v);
/* The host's TSC frequency from /proc/cpuinfo ("cpu MHz"), 0 when unknown. */
unsigned qemu_host_tsc_khz(void);
DEFINE_CLEANUP_FUNC(char **, strv_free);

/* Tries KVM for real: /dev/kvm must open and QEMU must bring a vCPU of this machine up (in a nested VM the
 * device exists but vCPU setup aborts). Returns 1 usable, 0 not (with *ret_reason, static), -errno. */
int qemu_probe_kvm(const char *qemu, qemu_machine m, const char **ret_reason);

/* Forks and execs argv with stdin on /dev/null, stdout and stderr on log_fd, every other fd closed. */
int qemu_spawn(char *const *argv, int log_fd, pid_t *ret_pid);
/* Waits for pid up to timeout_ms, then SIGKILLs and reaps it. Returns the wait status, or -ETIMEDOUT (killed). */
int qemu_wait_bounded(pid_t pid, int timeout_ms);
