/* Console socket plumbing for callers (lcrun, the agent): the child side lives in exec-internal.h. */
#pragma once

#include "common/error.h"

/* Connects to the AF_UNIX console socket at path (SOCK_STREAM, close-on-exec). */
int lc_console_socket_connect(const char *path, int *ret, kc_error *err);
/* Receives the pty master a container sent over sock (SCM_RIGHTS, close-on-exec). */
int lc_console_recv_master(int sock, int *ret, kc_error *err);
