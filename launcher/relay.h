/* The stdio relay of `kata-launch run` and `kata-launch exec`: one process of a container, driven through a VM's
 * API socket until it exits. Output goes to our stdout and stderr, our stdin to the process, SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGALRM to the process, and with a terminal our window size follows
 * SIGWINCH (TtyWinResize).
 *
 * Each call that can stay pending (ReadStdout, ReadStderr, WaitProcess, WriteStdin) gets its own connection to
 * the API socket: the blocking client can only wait for a given stream, so one connection per pending call is
 * what lets poll() say which one completed. The multiplexer puts them all on the one agent channel. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "launcher/ttrpc-client.h"

typedef struct relay_config {
	const char *prog; /* "kata-launch run": the prefix of our messages */
	const char *api;  /* the VM's API socket */
	const char *container_id, *exec_id;
	bool terminal;    /* the process has a pty: one output stream, window size forwarded */
	uint64_t start_ns; /* for KATA_LAUNCH_TIMING's launch-to-first-output-byte */
} relay_config;

/* One synchronous agent call that prints its failure. NOT_FOUND and PERMISSION_DENIED come back as -ENOENT and
 * -EACCES (an init or exec binary missing or not executable: 127 and 126 like a shell), other failures -EIO. */
int relay_call(ttrpc_client *c, const char *prog, const char *method, const ProtobufCMessage *req,
	       const ProtobufCMessageDescriptor *resp_desc, int64_t timeout_s);

/* Blocks the signals the relay forwards (SIGWINCH too when terminal) and returns a signalfd for them; the old
 * mask in *ret_old, for children that must not inherit ours. */
int relay_signals_open(bool terminal, sigset_t *ret_old);

/* Our terminal's size (stdin's, else stdout's): 0, or -ENOTTY when neither is a terminal. */
int relay_window_size(uint32_t *ret_rows, uint32_t *ret_cols);

/* Runs the relay until the process has exited and its output reached EOF. With c->terminal and a terminal on
 * stdin, that terminal is in raw mode meanwhile (keys go to the container's pty as typed, ^C included; the old
 * mode comes back at the end, at exit() and on a fatal signal). Returns the exit status (128+signal when
 * killed), or -errno with the reason printed. */
int relay_run(const relay_config *c, ttrpc_client *ctl, int sfd);
