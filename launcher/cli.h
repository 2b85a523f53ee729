/* The kata-launch subcommands. Each returns the process exit code: 0 success, 1 failure, 2 usage error. */
#pragma once

int cmd_boot(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_stop(int argc, char **argv);
/* Runs an OCI bundle as a container in a VM of its own (launcher/run.c). */
int cmd_run(int argc, char **argv);
/* Runs another process in a container of a running VM (launcher/exec.c). */
int cmd_exec(int argc, char **argv);
/* Adds or removes devices of a running VM over QMP (launcher/hotplug.c). */
int cmd_hotplug(int argc, char **argv);
/* Relays local clients to an agent that is already running (no VM): for tests of the multiplexer. */
int cmd_mux(int argc, char **argv);
