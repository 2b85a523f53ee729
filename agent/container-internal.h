/* What container.c and container-ops.c share: the container and process records. */
#pragma once

#include "agent/agent.h"
#include "agent/container.h"
#include "agent/streams.h"
#include "libcontainer-c/cgroup.h"
#include "libcontainer-c/instance.h"

#define OOM_QUEUE_MAX 100 /* OOM events kept while no GetOOMEvent waits, as upstream's channel */

typedef struct ctr ctr;
typedef struct proc proc;
typedef struct create_job create_job;
typedef struct exec_job exec_job;
struct ctr_mem;

typedef struct waiter {
	ttrpc_call *call;
	proc *p;
	struct waiter *next;
} waiter;

struct proc {
	ctr *c;
	char *exec_id;
	pid_t pid;
	int pidfd; /* exec'd processes; the init's is the instance's */
	bool init, exited, waited, tty;
	int status; /* exit code, or 128+signal */
	stream_reader *out, *err;
	stream_writer *in;
	int tty_fd; /* the pty master for TtyWinResize (owned by out) */
	waiter *waiters;
	ev_timer gc; /* frees an exec'd process that is done, outside any of its callbacks */
	proc *next;
};

struct ctr {
	agent *agent;
	char *id;
	lc_instance *inst;
	proc *procs; /* the init first */
	unsigned n_procs;
	ttrpc_call *removing; /* a pending RemoveContainer */
	bool paused;
	lc_cgroup_oom *oom; /* armed by StartContainer */
	ev_io *oom_io;
	ev_timer oom_retry; /* v1 signals the eventfd before the kill is counted: look again shortly */
	unsigned oom_retries;
	ev_timer remove_timer;
	bool finishing;       /* every process is gone: the cgroup is being removed (retried from cg_timer) */
	bool buried;          /* out of the table (a failed create, DestroySandbox): freed once its cgroup is gone */
	ev_timer cg_timer;
	uint64_t cg_deadline;
	exec_job *execs; /* ExecProcess calls whose process has not exec'd yet */
	unsigned n_execs;
	char **storage_keys; /* the mount points of its storages: references given back by RemoveContainer */
	size_t n_storage_keys;
	struct ctr_mem *mem; /* what the guest rewrite added to its spec, alive as long as the instance */
	ctr *next;
};

struct container_registry {
	ctr *head;
	unsigned n;
	create_job *creating; /* CreateContainer calls waiting for devices or mounts */
	unsigned n_creating;
	ctr *dying; /* buried containers whose processes or cgroup are not gone yet */
	/* DestroySandbox waiting for dying to empty (containers_wait_gone): its continuation, its deadline, and the
	 * first cgroup that could not be removed meanwhile. */
	containers_gone_fn gone_fn;
	void *gone_userdata;
	ev_timer gone_timer;
	kc_error gone_err;
	char *oom_queue[OOM_QUEUE_MAX]; /* container ids, oldest first */
	unsigned n_oom;
	/* The sandbox's pid namespace: the first container's, while that container exists (upstream's rule);
	 * containers created with sandbox_pidns join it. */
	int pidns_fd;
	char pidns_path[32];
	char *pidns_owner;
};

/* NOT_FOUND unless the container exists and is not being removed. */
int ctr_get(agent *a, const char *id, ctr **ret, kc_error *err);
/* The OOM watch of a started container (container-ops.c); a failure is logged, the container runs without. */
void ctr_oom_watch(ctr *c);
void ctr_oom_unwatch(ctr *c);
/* Publishes OOM kills counted since the last look (the init's exit calls it: the count is final then). */
void ctr_oom_poll(ctr *c);
/* a->containers, made on first use; NULL when out of memory. */
container_registry *ctr_registry(agent *a);
