#include "launcher/methods.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "agent.pb-c.h"
#include "common/macro.h"
#include "health.pb-c.h"

/* Health first: its two methods are the ones typed most, and no AgentService method shares their names. */
static const ProtobufCServiceDescriptor *const services[] = {
	&grpc__health__descriptor,
	&grpc__agent_service__descriptor,
};

static bool service_matches(const ProtobufCServiceDescriptor *s, const char *name, size_t len) {
	if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
		return true;
	return strlen(s->short_name) == len && strncmp(s->short_name, name, len) == 0;
}

int rpc_method_find(const char *name, rpc_method *ret) {
	const char *slash = strrchr(name, '/');
	const char *method = slash ? slash + 1 : name;
	const char *svc = name[0] == '/' ? name + 1 : name;

	for (size_t i = 0; i < ELEMENTSOF(services); i++) {
		if (slash && !service_matches(services[i], svc, (size_t)(slash - svc)))
			continue;
		const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(services[i], method);
		if (m) {
			*ret = (rpc_method){ .service = services[i]->name, .desc = m };
			return 0;
		}
	}
	return -ENOENT;
}
