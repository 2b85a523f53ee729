/* The PID-1 role: what the agent does before it serves anything. Every function returns >= 0 or -errno and,
 * where it takes one, fills err with context. None of them exits: PID 1 must not. */
#pragma once

#include <stdbool.h>
#include "common/error.h"

/* proc, sysfs, devtmpfs (failure tolerated), devpts, /dev/shm and /run; a target that already has the
 * filesystem is left alone, so calling this again after re-exec is harmless. */
int init_mount_base(kc_error *err);

/* When / is the initramfs (which pivot_root cannot leave), copies it into a fresh tmpfs, frees what it can of
 * the old one, moves the copy over / and re-executes argv[0] with argv. Returns 0 at once when / is not the
 * initramfs; on failure returns the error and the caller carries on in the initramfs. */
int init_leave_initramfs(char *const argv[], kc_error *err);

/* cgroup2 on /sys/fs/cgroup, or with v1 a read-only tmpfs holding one mount per enabled controller. */
int init_mount_cgroups(bool v1, kc_error *err);

/* Loads the closure of the named modules (every module in modules_dir/modules.dep when names is NULL) in
 * dependency order (softdeps honoured) with finit_module; modules already live are skipped. A missing
 * directory is 0; a module that fails is logged, the rest still load, and the end result is the first
 * failure. */
int init_load_modules(const char *modules_dir, const char *const *names, size_t n_names, kc_error *err);

/* The closure of the named modules as above, where params[i] (NULL or "" for none; "a=1 b=x", as
 * finit_module takes it) goes to the module names[i] resolves to, not to its dependencies. Stricter: a
 * missing directory or modules.dep is an error, as is a name nothing provides (-ENOENT). A module already
 * live is left as it is, parameters and all, as modprobe does. */
int init_load_modules_params(const char *modules_dir, const char *const *names, const char *const *params,
			     size_t n_names, kc_error *err);

/* /dev/ptmx -> pts/ptmx, a new session with the console as controlling tty, PATH, hostname. */
int init_console_session(void);

/* sync + power off; if that fails, sleeps forever. */
void init_poweroff(void) _noreturn_;
