/* The OCI hooks the container's init does not run: poststart (after StartContainer released the init) and
 * poststop (after the container is gone). The init runs prestart, createRuntime, createContainer and
 * startContainer itself (libcontainer-c). Here each hook of the kind runs in turn as a child watched through
 * its pidfd in the loop, killed at its deadline; a failing one is logged and the next one still runs, as the
 * OCI runtime spec asks for these two kinds. */
#pragma once

#include <sys/types.h>

#include "agent/agent.h"
#include "libcontainer-c/specconv.h"

/* Copies what it needs of cfg's hooks of kind, so the container may go before they have run. */
void ctr_hooks_run(agent *a, const lc_config *cfg, lc_hook_kind kind, const char *id, pid_t pid, const char *status);
