/* The kernel command-line parser of the agent: any bytes, any length. */
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char *s = malloc(size + 1);
	agent_config c;
	agent_addr a;
	kc_error err;
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	agent_config_init(&c);
	(void)agent_config_parse_cmdline(&c, s, NULL, NULL);
	(void)agent_addr_parse(c.server_addr, &a, &err);
	(void)agent_addr_parse(s, &a, &err);
	free(s);
	return 0;
}
