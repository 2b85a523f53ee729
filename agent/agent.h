/* The agent's state: one instance owned by main, handed to every handler as its context. No globals. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "agent/config.h"
#include "agent/loop.h"
#include "agent/server.h"

typedef struct oom_waiter oom_waiter;
typedef struct child_watch_entry child_watch_entry;
typedef struct sandbox sandbox;
typedef struct agent_devices agent_devices;
typedef struct container_registry container_registry;
typedef struct agent_watch agent_watch;

typedef struct agent {
	ev_loop *loop;
	ttrpc_server *server;
	agent_config cfg;
	bool pid1;
	bool poweroff_requested; /* DestroySandbox as PID 1: power off once the reply is out */
	const char *sysfs;       /* "/sys"; tests may point it elsewhere */
	oom_waiter *oom_waiters; /* pending GetOOMEvent calls, oldest first */
	child_watch_entry *children; /* children whose exit someone waits for (agent/child.h) */
	unsigned n_helpers;          /* forked helpers running (agent/child.h caps them) */
	sandbox *sandbox;        /* CreateSandbox's state (agent/sandbox.h); NULL before the first */
	agent_devices *devices;  /* the uevent socket and the device table (agent/devices.h) */
	container_registry *containers; /* CreateContainer's containers (agent/container.h) */
	agent_watch *watch;      /* polling of watchable-bind storages (agent/watch.h) */
	char moddir[300];        /* /lib/modules/<release> */
} agent;

/* The services and handler tables the server dispatches through. */
extern const ttrpc_service agent_services[];
extern const size_t agent_n_services;
/* Places the registered handlers in the service tables; fails if a handler names a method the protos lack
 * or two handlers claim one method. */
int agent_methods_init(kc_error *err);

/* A handler registers itself next to its code, so adding an RPC touches only the file that implements it:
 *   AGENT_HANDLER(grpc__agent_service__descriptor, "UpdateInterface", update_interface);
 * The entries land in one linker section that agent_methods_init walks. GCC leaves globals with an explicit
 * section alone under ASan, so the entries stay contiguous in the sanitizer build too. */
typedef struct agent_handler {
	const ProtobufCServiceDescriptor *service;
	const char *method;
	ttrpc_handler_fn fn;
} agent_handler;

#define AGENT_HANDLER(svc, name, func)                                                                    \
	static const agent_handler agent_handler_##func                                                   \
		__attribute__((used, section("agent_handlers"), aligned(__alignof__(agent_handler)))) = { \
			&(svc), (name), (func)                                                            \
		}
