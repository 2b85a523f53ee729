/* kata-agent: as PID 1 it brings the guest up (init/), then serves the Kata agent API over ttRPC on the
 * configured transport; standalone it only serves. */
#define LOG_SOURCE "agent"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "agent/agent.h"
#include "agent/child.h"
#include "agent/container.h"
#include "agent/devices.h"
#include "agent/sandbox.h"
#include "agent/watch.h"
#include "agent/transport.h"
#include "common/log.h"
#include "common/util.h"
#include "init/init.h"
#include "netconfig/netconfig.h"

/* While a serial port has not appeared yet (virtio-serial ports are announced by the host after the
 * driver loads), look again at this pace. */
#define SERIAL_WAIT_STEP_NS (10ULL * 1000 * 1000)

typedef struct serial_wait {
	agent *agent;
	agent_addr addr;
	ev_timer timer;
	uint64_t started;
	bool warned;
} serial_wait;

static void warn_option(const char *key, const char *value, const char *why, void *userdata) {
	log_warn("kernel command line: %s=%s: %s; ignored", key, value, why);
}

static int on_signal(ev_io *io, int fd, uint32_t revents, void *userdata) {
	agent *a = userdata;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			/* A child nobody watches is an orphan to reap (PID 1 or subreaper). A zombie is looked at before
			 * it is taken: a container hook that exited belongs to its create operation, which collects it by
			 * pidfd when stepped (its pidfd is readable from the moment it is a zombie). */
			for (;;) {
				siginfo_t ci = { 0 };
				int status;
				if (waitid(P_ALL, 0, &ci, WEXITED | WNOHANG | WNOWAIT) < 0 || ci.si_pid == 0)
					break;
				if (containers_step_ready(a) > 0)
					continue;
				pid_t pid = waitpid(ci.si_pid, &status, WNOHANG);
				if (pid > 0 && !child_reaped(a, pid, status))
					log_debug("reaped orphan %d", (int)pid);
			}
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (a->pid1)
				log_info("ignoring signal %u: PID 1 stops through DestroySandbox", si.ssi_signo);
			else {
				log_info("signal %u: shutting down", si.ssi_signo);
				ev_loop_exit(a->loop, 0);
			}
		}
	}
	return 0;
}

static int setup_signals(agent *a, int *ret_fd, ev_io **ret_io, kc_error *err) {
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return kc_error_set(err, errno, "sigprocmask: %m");
	/* A peer that closes early must cost a failed write, not the agent. */
	(void)signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return kc_error_set(err, errno, "signalfd: %m");
	int r = ev_io_add(a->loop, fd, EPOLLIN, on_signal, a, "signals", ret_io);
	if (r < 0) {
		safe_close(fd);
		return kc_error_set(err, -r, "watch signalfd: %s", strerror(-r));
	}
	*ret_fd = fd;
	return 0;
}

static void serial_try(ev_timer *t, void *userdata) {
	serial_wait *w = userdata;
	char dev[128], sysdir[256];
	kc_error err = { 0 };

	(void)format_checked(sysdir, sizeof sysdir, "%s/class/virtio-ports", w->agent->sysfs);
	int r = transport_find_serial(sysdir, w->addr.port_name, dev, sizeof dev, &err);
	if (r == 0) {
		int fd = open(dev, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			r = kc_error_set(&err, errno, "open %s: %m", dev);
		else if ((r = ttrpc_server_add_serial(w->agent->server, fd, &err)) >= 0) {
			log_info("serving on serial port %s (%s) after %.3f s", w->addr.port_name, dev,
				 (double)(now_ns() - w->started) / 1e9);
			return;
		}
	}
	uint64_t waited = now_ns() - w->started;
	if (!w->warned && waited > 10ULL * 1000 * 1000 * 1000) {
		log_warn("still waiting for serial port %s: %s", w->addr.port_name, err.msg);
		w->warned = true;
	}
	/* Poll fast at first, then slowly: the port normally appears within milliseconds. */
	(void)ev_timer_arm(&w->timer, now_ns() + (w->warned ? 100 * SERIAL_WAIT_STEP_NS : SERIAL_WAIT_STEP_NS));
}

static int start_transport(agent *a, serial_wait *sw, kc_error *err) {
	agent_addr addr;
	int fd, r;

	r = agent_addr_parse(a->cfg.server_addr, &addr, err);
	if (r < 0)
		return r;
	if (addr.kind == AGENT_ADDR_SERIAL) {
		sw->agent = a;
		sw->addr = addr;
		sw->started = now_ns();
		ev_timer_init(&sw->timer, a->loop, serial_try, sw);
		serial_try(&sw->timer, sw);
		return 0;
	}
	r = transport_listen(&addr, &fd, err);
	if (r < 0)
		return r;
	r = ttrpc_server_add_listener(a->server, fd, err);
	if (r < 0)
		return r;
	log_info("serving on %s", a->cfg.server_addr);
	return 0;
}

/* The modules the agent needs before it can serve: the bus and the driver of its channel to the host.
 * Everything else in the initrd (block, 9p, ext4, net, ...) loads in a child while the agent already answers:
 * under TCG that is about half a second off the time to ready. */
static const char *const serial_modules[] = { "virtio_pci", "virtio_mmio", "virtio_console" };
static const char *const vsock_modules[] = { "virtio_pci", "virtio_mmio", "vmw_vsock_virtio_transport" };

static void load_boot_modules(agent *a) {
	kc_error err = { 0 };
	agent_addr addr;
	const char *const *names = NULL;
	size_t n = 0;

	if (agent_addr_parse(a->cfg.server_addr, &addr, &err) >= 0) {
		if (addr.kind == AGENT_ADDR_SERIAL)
			names = serial_modules, n = ELEMENTSOF(serial_modules);
		else if (addr.kind == AGENT_ADDR_VSOCK)
			names = vsock_modules, n = ELEMENTSOF(vsock_modules);
	}
	if (n > 0 && init_load_modules(a->moddir, names, n, &err) < 0)
		log_error("kernel modules for the host channel: %s", err.msg);
}

static int load_all_modules(void *userdata, kc_error *err) {
	const agent *a = userdata;
	return init_load_modules(a->moddir, NULL, 0, err);
}

static void modules_loaded(int result, const kc_error *err, void *userdata) {
	if (result < 0)
		log_error("kernel modules: %s", err->msg);
	devices_boot_modules_done(userdata);
}

static void load_other_modules_in_background(agent *a) {
	int r = helper_run(a, "loading kernel modules", load_all_modules, a, 0, modules_loaded, a);
	if (r < 0) {
		kc_error err = { 0 };
		log_error("cannot fork to load modules (%s): loading them inline", strerror(-r));
		if (init_load_modules(a->moddir, NULL, 0, &err) < 0)
			log_error("kernel modules: %s", err.msg);
		devices_boot_modules_done(a);
	}
}

/* The PID-1 bring-up. Each step that fails is logged and the boot goes on: a guest with a missing
 * mount still answers the host, which then sees the failure instead of a VM that never speaks. */
static void pid1_setup(agent *a, char **argv) {
	kc_error err = { 0 };
	_cleanup_free_ char *cmdline = NULL;
	struct utsname u;

	if (init_mount_base(&err) < 0)
		log_error("base mounts: %s", err.msg);
	if (init_leave_initramfs(argv, &err) < 0)
		log_error("leaving the initramfs: %s; staying on it", err.msg);
	if (read_file_capped(AT_FDCWD, "/proc/cmdline", AGENT_CMDLINE_MAX, &cmdline, NULL) >= 0) {
		(void)agent_config_parse_cmdline(&a->cfg, cmdline, warn_option, NULL);
		log_set_level(a->cfg.log_level);
	} else
		log_error("cannot read /proc/cmdline: using defaults");
	if (init_mount_cgroups(a->cfg.cgroup_v1, &err) < 0)
		log_error("cgroups: %s", err.msg);
	if (uname(&u) < 0 || format_checked(a->moddir, sizeof a->moddir, "/lib/modules/%s", u.release) < 0)
		log_error("cannot name the kernel modules directory");
	else
		load_boot_modules(a);
	if (nl_loopback_up(&err) < 0)
		log_error("loopback: %s", err.msg);
	if (init_console_session() < 0)
		log_warn("console session setup failed");
}

int main(int argc, char **argv) {
	agent a = { .sysfs = "/sys" };
	kc_error err = { 0 };
	serial_wait sw = { 0 };
	ev_io *sig_io = NULL;
	int sig_fd = -EBADF, r;

	a.pid1 = getpid() == 1;
	agent_config_init(&a.cfg);
	log_set_fd(STDERR_FILENO);
	if (a.pid1)
		pid1_setup(&a, argv);
	else
		/* Orphans of our children come to us, as they would to PID 1 in the guest. */
		(void)prctl(PR_SET_CHILD_SUBREAPER, 1);

	r = agent_config_parse_env(&a.cfg, NULL, &err);
	if (r >= 0)
		r = agent_config_parse_args(&a.cfg, argc, argv, &err);
	if (r > 0 && !a.pid1)
		return 0;
	if (r < 0) {
		fprintf(stderr, "kata-agent: %s\n", err.msg);
		if (!a.pid1)
			return 2;
		kc_error_clear(&err);
	}
	log_set_level(a.cfg.log_level);
	log_info("kata-agent %s starting (pid1=%s, server_addr=%s)", KC_VERSION, a.pid1 ? "yes" : "no",
		 a.cfg.server_addr);

	r = agent_methods_init(&err);
	if (r >= 0)
		r = ev_loop_new(&a.loop);
	if (r >= 0)
		r = ttrpc_server_new(a.loop, agent_services, agent_n_services, &a, NULL, &a.server);
	if (r >= 0)
		r = setup_signals(&a, &sig_fd, &sig_io, &err);
	/* The device table exists before the first request can arrive (a serial port's may already wait); the
	 * uevent socket before the modules that create most devices load. A failure only loses the events
	 * (waits still look at sysfs). */
	if (r >= 0 && devices_start(&a, &err) < 0) {
		log_warn("devices: %s", err.msg);
		kc_error_clear(&err);
	}
	if (r >= 0)
		r = start_transport(&a, &sw, &err);
	if (r < 0) {
		log_error("cannot start: %s", err.msg[0] ? err.msg : strerror(-r));
		if (!a.pid1)
			return 1;
		/* PID 1 must not exit (the kernel would panic): power off so the host sees the VM stop. */
		init_poweroff();
	}

	/* Coldplug announces what appeared before the socket; after the transport, so it does not delay ready. */
	if (devices_coldplug(&a, &err) < 0) {
		log_warn("coldplug: %s", err.msg);
		kc_error_clear(&err);
	}
	if (a.pid1 && a.moddir[0])
		load_other_modules_in_background(&a);
	else
		devices_boot_modules_done(&a);

	r = ev_loop_run(a.loop);
	if (a.pid1) {
		/* Only DestroySandbox ends the loop of PID 1, or a broken epoll; either way returning would panic
		 * the kernel, so let the reply out and power off. */
		if (!a.poweroff_requested)
			log_error("event loop failed (%s): powering off", strerror(-r));
		ttrpc_server_flush(a.server, 2000);
		init_poweroff();
	}
	log_info("kata-agent stopping");
	ev_timer_disarm(&sw.timer);
	a.server = ttrpc_server_free(a.server);
	containers_destroy_all(&a);
	child_registry_free(&a);
	sandbox_free(&a);
	watch_free(&a);
	devices_free(&a);
	ev_io_free(sig_io);
	safe_close(sig_fd);
	a.loop = ev_loop_free(a.loop);
	return r < 0 ? 1 : 0;
}
