/* A container process's stdio as the host pulls and pushes it: ReadStdout/ReadStderr are pending calls served
 * from a pipe (or the pty master), WriteStdin calls are queued onto the stdin pipe. The agent reads a pipe only
 * while a Read call waits on it, so the pipe itself is the backpressure and nothing is buffered here; a write
 * call's bytes stay in its decoded request (the server keeps it while the call is pending).
 *
 * EOF (an empty ReadStdout reply) comes when every writer has closed the pipe; once the process has exited,
 * also when the pipe has stayed empty for STREAM_DRAIN_MS (a leftover child that inherited the pipe must not
 * hold the host's reader forever). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"

#define STREAM_READ_MAX (1u << 20) /* bytes per ReadStdout reply, whatever len asks for */
#define STREAM_DRAIN_MS 500
#define STREAM_PENDING_MAX 64     /* Read or Write calls queued on one stream */
/* stdout/stderr pipe size unless agent.container_pipe_size sets one (streams.c says why this size). */
#define STREAM_PIPE_SIZE (1u << 20)

typedef struct stream_reader stream_reader;
typedef struct stream_writer stream_writer;

/* Takes ownership of fd (made non-blocking). tty: a pty master, whose EIO after the slave's last close is EOF.
 * on_eof (may be NULL) runs once EOF has been answered; it must not free the reader. */
int stream_reader_new(agent *a, int fd, bool tty, void (*on_eof)(void *userdata), void *userdata,
		      stream_reader **ret);
/* Answers pending reads with EOF and closes the fd. */
stream_reader *stream_reader_free(stream_reader *s);
/* Answers at once (data or EOF) or queues the call: returns 0 or TTRPC_PENDING, or <0 with err. */
int stream_reader_read(stream_reader *s, ttrpc_call *call, uint32_t len, kc_error *err);
/* The process is gone: from now on an empty pipe that stays empty for STREAM_DRAIN_MS is EOF. */
void stream_reader_process_exited(stream_reader *s);
/* The host saw EOF (so nothing more will come). */
bool stream_reader_eof(const stream_reader *s);

/* Takes ownership of fd (made non-blocking). tty: the pty master (closing it would hang up the terminal, so
 * close requests are ignored). */
int stream_writer_new(agent *a, int fd, bool tty, stream_writer **ret);
/* Fails pending writes and closes the fd. */
stream_writer *stream_writer_free(stream_writer *w);
/* Queues data (pointing into the call's request, which outlives the call); the reply {len} comes once all of
 * it is written. Empty data closes stdin once the earlier writes are done. */
int stream_writer_write(stream_writer *w, ttrpc_call *call, const uint8_t *data, size_t len, kc_error *err);
/* Closes stdin after the queued writes. */
void stream_writer_close(stream_writer *w);
