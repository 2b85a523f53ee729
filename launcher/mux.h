/* The kata-launch daemon loop: one long-lived connection to the agent channel, and a unix socket where any
 * number of local clients speak plain ttRPC.
 *
 * A virtio-serial port has no accept and the agent resets its session when the host side disconnects, so
 * every local client is multiplexed onto the one channel: each request gets a fresh agent stream id, the
 * response is mapped back to the client's own id. A client that goes away with calls pending costs the
 * others nothing; the late responses are dropped. Before the API socket opens, the loop probes the agent
 * with Health.Check until it answers SERVING or the deadline passes. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

typedef enum mux_exit {
	MUX_EXIT_QEMU,      /* QEMU exited; status in qemu_status */
	MUX_EXIT_TIMEOUT,   /* the agent did not answer SERVING before the deadline (QEMU was killed) */
	MUX_EXIT_SIGNAL,    /* SIGTERM/SIGINT with no QEMU to stop */
	MUX_EXIT_AGENT_EOF, /* standalone mode (no QEMU): the agent closed the connection */
} mux_exit;

typedef struct mux_config {
	const char *agent_address; /* "unix:///path" or "vsock://CID:PORT" */
	const char *api_path;      /* the local clients' socket */
	pid_t qemu_pid;            /* 0: no VM to watch (standalone agent) */
	uint64_t start_ns;         /* CLOCK_MONOTONIC when QEMU was launched */
	uint64_t ready_timeout_ns;
	/* Called once when the agent first answers SERVING, after the API socket listens. */
	void (*on_ready)(void *userdata, uint64_t elapsed_ns);
	void *userdata;
} mux_config;

typedef struct mux_result {
	mux_exit exit;
	int qemu_status; /* wait status */
	int ready;       /* the agent answered SERVING at some point */
} mux_result;

/* Runs until QEMU exits (or, standalone, until the agent closes or a signal arrives). SIGCHLD, SIGTERM and
 * SIGINT are blocked and read through a signalfd. */
int mux_run(const mux_config *c, mux_result *ret);
