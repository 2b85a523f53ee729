/* kata-launch: boot a VM with the agent as init, call its API, stop it. */
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "launcher/cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "boot", cmd_boot, "boot a VM and serve its agent API on /run/kata-launch/NAME/api.sock" },
	{ "ctl", cmd_ctl, "call one RPC: ctl TARGET METHOD [JSON]" },
	{ "run", cmd_run, "run an OCI bundle in a new VM: run [OPTIONS] BUNDLE [-- ARGS]" },
	{ "exec", cmd_exec, "run a process in a running container: exec [-t] NAME [--] ARGS" },
	{ "stop", cmd_stop, "DestroySandbox, wait for QEMU to exit, remove the state: stop [NAME]" },
	{ "hotplug", cmd_hotplug, "add or remove devices over QMP: hotplug NAME blk-add|blk-del|mem-add|cpu-add ..." },
	{ "mux", cmd_mux, "relay a socket's clients to a running agent: mux AGENT_ADDRESS API_PATH" },
};

static int usage(FILE *f, int code) {
	fputs("usage: kata-launch COMMAND [ARGS]   (kata-launch COMMAND --help for its options)\n", f);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].help);
	return code;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return usage(stderr, 2);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return usage(stdout, 0);
	if (strcmp(argv[1], "--version") == 0) {
		puts("kata-launch " KC_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "kata-launch: unknown command `%s`\n", argv[1]);
	return usage(stderr, 2);
}
