/* Where the agent listens: vsock://CID:PORT (CID -1 = any), unix:///path, unix://@abstract, and
 * serial://NAME, a virtio-serial port found by its name under /sys/class/virtio-ports. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef enum agent_addr_kind {
	AGENT_ADDR_VSOCK,
	AGENT_ADDR_UNIX,
	AGENT_ADDR_SERIAL,
} agent_addr_kind;

typedef struct agent_addr {
	agent_addr_kind kind;
	uint32_t cid, port;   /* vsock */
	char path[108];       /* unix: sun_path without the leading NUL of an abstract name */
	bool abstract;
	char port_name[64];   /* serial */
} agent_addr;

int agent_addr_parse(const char *s, agent_addr *ret, kc_error *err);

/* A non-blocking listening socket for vsock and unix addresses. */
int transport_listen(const agent_addr *a, int *ret_fd, kc_error *err);

/* Looks up the /dev node of the virtio-serial port called name under sysfs_root (normally
 * "/sys/class/virtio-ports"); -ENOENT while it has not appeared. */
int transport_find_serial(const char *sysfs_root, const char *name, char *ret_dev, size_t size, kc_error *err);
