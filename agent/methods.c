/* The RPC handlers built so far, and the tables that map each method of grpc.AgentService and grpc.Health
 * to its handler. A method whose slot is NULL answers UNIMPLEMENTED (the Go runtime tolerates that). */
#define LOG_SOURCE "rpc"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent/agent.h"
#include "agent/container.h"
#include "agent/sandbox.h"
#include "common/log.h"
#include "common/util.h"
#include "health.pb-c.h"

#define API_VERSION "0.0.1"

static int health_check(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	ttrpc_call_reply(call, &resp.base);
	return 0;
}

static int health_version(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	Grpc__VersionCheckResponse resp = GRPC__VERSION_CHECK_RESPONSE__INIT;
	resp.grpc_version = (char *)API_VERSION;
	resp.agent_version = (char *)KC_VERSION;
	ttrpc_call_reply(call, &resp.base);
	return 0;
}

/* block_size_bytes is hexadecimal without a 0x prefix. A kernel without memory hotplug has no such file:
 * report 0 then, as there is no block size to honour. */
static int read_mem_block_size(const agent *a, uint64_t *ret, kc_error *err) {
	_cleanup_free_ char *s = NULL;
	char path[256];
	int r = format_checked(path, sizeof path, "%s/devices/system/memory/block_size_bytes", a->sysfs);
	if (r < 0)
		return kc_error_set(err, -r, "sysfs path too long");
	r = read_file_capped(AT_FDCWD, path, 64, &s, NULL);
	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	if (r < 0)
		return kc_error_set(err, -r, "read %s: %s", path, strerror(-r));
	s[strcspn(s, "\n")] = '\0';
	if (parse_u64(s, 16, ret) < 0)
		return kc_error_set(err, EINVAL, "read %s: `%s` is not a hexadecimal number", path, s);
	return 0;
}

static int get_guest_details(void *ctx, ttrpc_call *call, const ProtobufCMessage *req_, kc_error *err) {
	agent *a = ctx;
	const Grpc__GuestDetailsRequest *req = (const Grpc__GuestDetailsRequest *)req_;
	Grpc__GuestDetailsResponse resp = GRPC__GUEST_DETAILS_RESPONSE__INIT;
	Grpc__AgentDetails details = GRPC__AGENT_DETAILS__INIT;
	char probe[256];
	int r;

	if (req->mem_block_size) {
		r = read_mem_block_size(a, &resp.mem_block_size_bytes, err);
		if (r < 0)
			return r;
	}
	if (req->mem_hotplug_probe) {
		r = format_checked(probe, sizeof probe, "%s/devices/system/memory/probe", a->sysfs);
		if (r < 0)
			return kc_error_set(err, -r, "sysfs path too long");
		resp.support_mem_hotplug_probe = access(probe, F_OK) == 0;
	}
	details.version = (char *)KC_VERSION;
	details.init_daemon = a->pid1;
	/* The Go runtime sends a container's seccomp profile only when this is true; libcontainer-c compiles
	 * it with libseccomp and installs it in the container (tests/integration/test-containers.sh). */
	static char *features[] = { (char *)"seccomp" };
	details.storage_handlers = (char **)stor_driver_names(&details.n_storage_handlers);
	details.supports_seccomp = true;
	details.extra_features = features;
	details.n_extra_features = ELEMENTSOF(features);
	resp.agent_details = &details;
	ttrpc_call_reply(call, &resp.base);
	return 0;
}

/* ---- GetOOMEvent: a long poll. Nothing produces OOM events until containers exist; the calls stay
 * pending until their deadline or until their connection goes away (as PID 1, DestroySandbox ends
 * everything by powering off). ---- */

struct oom_waiter {
	ttrpc_call *call;
	agent *agent;
	oom_waiter *prev, *next;
};

static void oom_waiter_cancel(ttrpc_call *call, void *userdata) {
	oom_waiter *w = userdata;
	agent *a = w->agent;
	if (w->prev)
		w->prev->next = w->next;
	else
		a->oom_waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
}

static void reply_oom(ttrpc_call *call, const char *container_id) {
	Grpc__OOMEvent ev = GRPC__OOMEVENT__INIT;
	ev.container_id = (char *)container_id;
	ttrpc_call_reply(call, &ev.base);
}

/* Waiters are pushed at the head, so the oldest is the last. */
bool oom_event_deliver(agent *a, const char *container_id) {
	oom_waiter *w = a->oom_waiters;
	if (!w)
		return false;
	while (w->next)
		w = w->next;
	ttrpc_call *call = w->call;
	oom_waiter_cancel(call, w);
	reply_oom(call, container_id);
	return true;
}

static int get_oom_event(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	agent *a = ctx;
	_cleanup_free_ char *queued = containers_oom_take(a);
	if (queued) {
		reply_oom(call, queued);
		return 0;
	}
	oom_waiter *w = calloc(1, sizeof *w);
	if (!w)
		return kc_error_set(err, ENOMEM, "GetOOMEvent: out of memory");
	w->call = call;
	w->agent = a;
	w->next = a->oom_waiters;
	if (w->next)
		w->next->prev = w;
	a->oom_waiters = w;
	ttrpc_call_on_cancel(call, oom_waiter_cancel, w);
	return TTRPC_PENDING;
}

/* After the sandbox teardown (agent/sandbox.c); call is NULL when the caller went away meanwhile. */
static void sandbox_destroyed(agent *a, ttrpc_call *call, const kc_error *err) {
	Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

	/* Powering off removes what the teardown could not: the host learns of it from the reply. */
	log_info("DestroySandbox%s", a->pid1 ? ": powering off after the reply" : "");
	if (call && err)
		ttrpc_call_fail_error(call, err);
	else if (call)
		ttrpc_call_reply(call, &empty.base);
	if (a->pid1) {
		a->poweroff_requested = true;
		ev_loop_exit(a->loop, 0);
	}
}

static int destroy_sandbox(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	return sandbox_teardown(ctx, call, sandbox_destroyed, err);
}

AGENT_HANDLER(grpc__health__descriptor, "Check", health_check);
AGENT_HANDLER(grpc__health__descriptor, "Version", health_version);
AGENT_HANDLER(grpc__agent_service__descriptor, "GetGuestDetails", get_guest_details);
AGENT_HANDLER(grpc__agent_service__descriptor, "GetOOMEvent", get_oom_event);
AGENT_HANDLER(grpc__agent_service__descriptor, "DestroySandbox", destroy_sandbox);

extern const agent_handler __start_agent_handlers[], __stop_agent_handlers[];

static ttrpc_handler_fn health_slots[2];
static ttrpc_handler_fn agent_slots[42];

const ttrpc_service agent_services[] = {
	{ &grpc__health__descriptor, health_slots },
	{ &grpc__agent_service__descriptor, agent_slots },
};
const size_t agent_n_services = ELEMENTSOF(agent_services);

int agent_methods_init(kc_error *err) {
	_Static_assert(ELEMENTSOF(health_slots) == 2 && ELEMENTSOF(agent_slots) == 42, "one slot per method");
	if (grpc__health__descriptor.n_methods != ELEMENTSOF(health_slots) ||
	    grpc__agent_service__descriptor.n_methods != ELEMENTSOF(agent_slots))
		return kc_error_set(err, EINVAL, "service descriptors do not match the handler slots");
	for (const agent_handler *h = __start_agent_handlers; h < __stop_agent_handlers; h++) {
		const ProtobufCServiceDescriptor *d = h->service;
		const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(d, h->method);
		if (!m)
			return kc_error_set(err, EINVAL, "handler for unknown method %s/%s", d->name, h->method);
		ttrpc_handler_fn *slots = d == &grpc__health__descriptor ? health_slots : agent_slots;
		if (slots[m - d->methods])
			return kc_error_set(err, EEXIST, "two handlers for %s/%s", d->name, h->method);
		slots[m - d->methods] = h->fn;
	}
	return 0;
}
