/* Agent configuration: defaults, then the kernel command line (PID 1), then the environment
 * (KATA_AGENT_SERVER_ADDR, KATA_AGENT_LOG_LEVEL), then command-line flags. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

#define AGENT_ADDR_MAX 256
#define AGENT_DEFAULT_ADDR "vsock://-1:1024"
#define AGENT_CMDLINE_MAX 4096

typedef struct agent_config {
	char server_addr[AGENT_ADDR_MAX];
	int log_level;
	uint32_t hotplug_timeout_ms;
	uint32_t container_pipe_size;
	bool debug_console;
	uint32_t debug_console_vport;
	bool devmode;
	bool cgroup_v1; /* systemd.unified_cgroup_hierarchy=0 */
} agent_config;

void agent_config_init(agent_config *c);

/* Applies the options of a kernel command line. Unknown agent.* keys and bad values are reported through
 * warn (may be NULL) and otherwise ignored, as the reference agent does: a typo must not stop the guest.
 * Returns the number of agent options applied, or -E2BIG for a line over AGENT_CMDLINE_MAX. */
typedef void (*agent_config_warn_fn)(const char *key, const char *value, const char *why, void *userdata);
int agent_config_parse_cmdline(agent_config *c, const char *cmdline, agent_config_warn_fn warn, void *userdata);

/* Environment overrides; getenv_fn lets tests supply their own (NULL = getenv). */
int agent_config_parse_env(agent_config *c, const char *(*getenv_fn)(const char *), kc_error *err);

/* Flags for a standalone agent: --server-addr ADDR, --log-level LEVEL, --version, --help.
 * Returns 1 when the caller should exit 0 (version/help printed), 0 to run, <0 on bad usage. */
int agent_config_parse_args(agent_config *c, int argc, char **argv, kc_error *err);
