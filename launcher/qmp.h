/* A small QMP client: the QEMU monitor's JSON lines over a unix socket. One command at a time; events that
 * arrive in between are skipped (or waited for by name). Host side only. */
#pragma once

#include <json-c/json.h>

#include "common/error.h"

#define QMP_LINE_MAX (1u << 20) /* one reply; query-pci on a small VM is a few KiB */

typedef struct qmp qmp;

/* Connects, reads the greeting and negotiates capabilities. */
int qmp_open(const char *socket_path, int timeout_ms, qmp **ret, kc_error *err);
qmp *qmp_close(qmp *q);

/* Runs one command (args may be NULL; ownership is taken). *ret (may be NULL) gets the "return" value,
 * owned by the caller. A QMP error reply is -EIO with its class and description in err. */
int qmp_execute(qmp *q, const char *command, json_object *args, json_object **ret, kc_error *err);

/* Waits up to timeout_ms for an event named name whose data.device equals device (NULL: any). */
int qmp_wait_event(qmp *q, const char *name, const char *device, int timeout_ms, kc_error *err);
