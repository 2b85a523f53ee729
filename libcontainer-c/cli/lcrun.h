/* lcrun's commands, one file per group, and what they share. */
#pragma once

#include "common/error.h"
#include "libcontainer-c/json-cleanup.h"

extern const char *opt_root;

/* Prints "lcrun: MSG" (and logs it); returns 1, the exit code. */
int fail(const kc_error *e);
int usage_error(const char *cmd, const char *msg);

/* cmd-cgroup.c */
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_events(int argc, char **argv);

/* cmd-info.c */
int cmd_list(int argc, char **argv);
int cmd_spec(int argc, char **argv);
int cmd_features(int argc, char **argv);
