/* Containers of the sandbox: CreateContainer .. RemoveContainer, ExecProcess, SignalProcess, WaitProcess, the
 * stdio RPCs (through agent/streams.h), pause, resume, stats, update and the OOM watch. Each container is an
 * lc_instance (libcontainer-c/instance.h) plus its processes: the init (exec_id = container id) and the
 * processes exec'd into it, each with its stdio streams and its WaitProcess callers. All state hangs off the
 * agent (a->containers); every process is a child of the agent collected by the one SIGCHLD reaper. */
#pragma once

#include "agent/agent.h"
#include "common/error.h"

#define CONTAINERS_MAX 1024
#define CONTAINER_PROCESSES_MAX 1024 /* init and execs alive or not yet waited for, per container */
#define CONTAINER_ID_MAX 255
/* Where a container with an empty or relative linux.cgroupsPath gets its cgroup. */
#define CONTAINER_CGROUP_PARENT "/kata"

/* Kills every container and forgets it (DestroySandbox, agent exit): SIGKILL through the cgroup, the cgroup
 * removed (bounded), pending calls on the containers answered. The processes are reaped as orphans. */
void containers_destroy_all(agent *a);
/* DestroySandbox's wait for what containers_destroy_all killed: fn(a, NULL, userdata) once every such container
 * is gone with its cgroup, or fn(a, err, userdata) with an error naming a cgroup that could not be removed, or
 * one still there at timeout_ms (its processes did not exit). The loop serves meanwhile; whatever is still dying
 * at the deadline goes on being removed. Returns 0 when nothing is left to wait for (fn is not called), 1 when
 * fn will be called, -EBUSY when another wait is in progress. At the agent's exit fn gets ECANCELED. */
typedef void (*containers_gone_fn)(agent *a, const kc_error *err, void *userdata);
int containers_wait_gone(agent *a, unsigned timeout_ms, containers_gone_fn fn, void *userdata);
unsigned containers_count(const agent *a);
/* For the SIGCHLD reaper, before it takes a zombie: steps one create or exec operation whose fd is readable
 * and returns 1 (0 when none is). A prestart or createRuntime hook is cloned with no exit signal, but its execve
 * resets that to SIGCHLD, so waitpid(-1) sees it once it exits; its op must collect it first, by pidfd. An exec
 * op looks at its process's zombie to tell a death before the exec from one after. */
int containers_step_ready(agent *a);
/* Calls fn for every container (OnlineCPUMem refreshes their cpusets); fn must not add or remove containers. */
typedef struct lc_instance lc_instance;
void containers_foreach(agent *a, void (*fn)(const char *id, lc_instance *inst, void *userdata), void *userdata);

/* OOM events: a container's watch hands each to the oldest pending GetOOMEvent (oom_event_deliver, in
 * methods.c, returns false when none waits) or queues it here; GetOOMEvent takes the oldest queued one first
 * (malloc'd container id, NULL when none). */
bool oom_event_deliver(agent *a, const char *container_id);
char *containers_oom_take(agent *a);
