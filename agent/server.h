/* The ttRPC server: connections (accepted sockets and the virtio-serial port), framing, the method lookup
 * through protobuf-c service descriptors, pending calls with deadlines, non-blocking queued writes and the
 * per-connection caps. It knows nothing of what the methods do. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/loop.h"
#include "common/error.h"

typedef struct ttrpc_server ttrpc_server;
typedef struct ttrpc_call ttrpc_call;

/* A handler either answers before returning (ttrpc_call_reply/fail) and returns 0, returns <0 with err
 * filled (the server answers with the status err maps to), or keeps the call and returns
 * TTRPC_PENDING, after setting a cancel hook with ttrpc_call_on_cancel. */
#define TTRPC_PENDING 1
typedef int (*ttrpc_handler_fn)(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err);

typedef struct ttrpc_service {
	const ProtobufCServiceDescriptor *desc;
	/* Indexed like desc->methods; NULL answers UNIMPLEMENTED. */
	const ttrpc_handler_fn *handlers;
} ttrpc_service;

typedef struct ttrpc_limits {
	uint32_t max_frame;      /* payload bytes of one frame */
	uint32_t max_pending;    /* calls in progress per connection */
	size_t max_queued_bytes; /* reply bytes waiting to be written, per connection */
	size_t max_held_bytes;   /* request bytes held by pending calls, per connection */
	uint32_t max_conns;
} ttrpc_limits;

#define TTRPC_DEFAULT_LIMITS \
	((ttrpc_limits){ .max_frame = 4u << 20, .max_pending = 4096, .max_queued_bytes = 4u << 20, \
			 .max_held_bytes = 16u << 20, .max_conns = 256 })

int ttrpc_server_new(ev_loop *loop, const ttrpc_service *services, size_t n_services, void *ctx,
		     const ttrpc_limits *limits, ttrpc_server **ret);
/* Frees every connection (pending calls are cancelled) and listener. */
ttrpc_server *ttrpc_server_free(ttrpc_server *s);

/* Takes ownership of a listening socket. */
int ttrpc_server_add_listener(ttrpc_server *s, int fd, kc_error *err);
/* Takes ownership of an opened virtio-serial port: one long-lived connection whose host side may come
 * and go. */
int ttrpc_server_add_serial(ttrpc_server *s, int fd, kc_error *err);

/* Writes queued replies for at most timeout_ms (used before power-off). */
void ttrpc_server_flush(ttrpc_server *s, int timeout_ms);

unsigned ttrpc_server_n_connections(const ttrpc_server *s);

/* Answering a call frees it; the call must not be used afterwards. */
void ttrpc_call_reply(ttrpc_call *call, const ProtobufCMessage *resp);
void ttrpc_call_fail(ttrpc_call *call, int code, const char *fmt, ...) _printf_(3, 4);
void ttrpc_call_fail_error(ttrpc_call *call, const kc_error *err);
/* Replies whose message is one bytes field (ReadStreamResponse.data), built where the bytes lie so that they
 * are never copied in the agent: they go from the container's pipe into the frame, and from the frame into the
 * socket. ttrpc_call_data_buf() lends a buffer for up to TTRPC_DATA_MAX bytes (NULL when out of memory); the
 * caller fills it and answers with ttrpc_call_reply_data() (n 0 is the empty message), which frames the bytes
 * in place and takes the buffer back, or returns it unused with ttrpc_call_data_buf_put(). */
#define TTRPC_DATA_MAX (1u << 20)
uint8_t *ttrpc_call_data_buf(ttrpc_call *call);
void ttrpc_call_data_buf_put(ttrpc_call *call, uint8_t *data);
void ttrpc_call_reply_data(ttrpc_call *call, uint32_t field, uint8_t *data, size_t n);
/* Answers with n (1..TTRPC_DATA_MAX) bytes that wait in pipe fd, as the reply message's one bytes field; the
 * caller saw them there (FIONREAD) and is the pipe's only reader. On a socket with nothing queued they are
 * spliced from the pipe into the socket, so the agent never copies them (unix sockets hand the pipe's pages over
 * since Linux 6.5; other sockets copy inside the kernel). What the socket does not take at once is read out of
 * the pipe into a reply buffer and queued: when this returns, none of the n bytes is left in the pipe, so the
 * stream's next reply starts after them. */
void ttrpc_call_reply_pipe(ttrpc_call *call, uint32_t field, int fd, size_t n);
/* Called (then the call is freed by the server) when the connection goes away or the deadline passes. */
void ttrpc_call_on_cancel(ttrpc_call *call, void (*fn)(ttrpc_call *call, void *userdata), void *userdata);
const char *ttrpc_call_method(const ttrpc_call *call);
