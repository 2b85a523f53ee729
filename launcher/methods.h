/* Finds an RPC by the name a user types: `Check`, `Version`, any AgentService method, or
 * `Service/Method` (`grpc.Health/Check`, `AgentService/GetGuestDetails`). */
#pragma once

#include <protobuf-c/protobuf-c.h>

typedef struct rpc_method {
	const char *service; /* full name as it travels: "grpc.Health" */
	const ProtobufCMethodDescriptor *desc;
} rpc_method;

/* -ENOENT when no service knows the method. */
int rpc_method_find(const char *name, rpc_method *ret);
