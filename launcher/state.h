/* The per-VM state directory, /run/kata-launch/NAME (the root can be moved with $KATA_LAUNCH_STATE_DIR):
 *   lock       flock'ed by the daemon for its whole life: the liveness test, immune to pid reuse
 *   pid        the daemon's pid          qemu.pid   QEMU's pid
 *   api.sock   the clients' socket       agent.sock QEMU's end of the agent channel
 *   qmp.sock   QMP                       console.log, qemu.log  guest console, QEMU's stderr
 *   process.run  the process of run's container, for exec (launcher/exec.h) */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define STATE_PATH_MAX 108 /* sun_path: every socket path in the directory must fit */

const char *state_root(void);
/* -EINVAL for names that are empty, too long, or not [A-Za-z0-9_.-] (a name becomes a path component). */
int state_name_check(const char *name);
int state_dir_path(const char *name, char *buf, size_t size);
/* Joins dir and file into buf, failing rather than truncating. */
int state_path(const char *dir, const char *file, char *buf, size_t size);

/* Opens (creating) dir/lock and tries to take it. Returns the fd (to keep open while alive), -EBUSY when a
 * live daemon holds it, or another -errno. */
int state_lock(const char *dir);
/* True when a daemon holds dir's lock. */
bool state_is_live(const char *dir);

int state_write_pid(const char *dir, const char *file, pid_t pid);
int state_read_pid(const char *dir, const char *file, pid_t *ret);

/* Removes the files kata-launch puts in dir; with the lock too and rmdir when remove_dir. A QEMU left
 * behind by a dead daemon (its pid file names a live process whose command line holds dir) is killed. */
int state_clean(const char *dir, bool remove_dir);

/* Prints the last n lines of a file to stderr, each prefixed; a missing file prints nothing. */
void state_print_tail(const char *path, unsigned n, const char *prefix);
