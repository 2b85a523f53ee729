# The executor: spawn (clone3 + the sync protocol), rootfs (mounts onto fds, pivot_root), console; and on the
# host the lifecycle over a state directory (json-c) and lcrun. storage/path.c gives stor_open_in_root until it
# moves to common/.
# The security module (security.mk) is linked in; ?= keeps this working whether or not security.mk is included.
LC_SECURITY_SRCS  ?= libcontainer-c/seccomp.c libcontainer-c/caps.c libcontainer-c/process-security.c
LC_SECURITY_LIBS  ?= -lseccomp
LC_EXEC_SRCS      := libcontainer-c/spawn.c libcontainer-c/hooks.c libcontainer-c/rootfs.c libcontainer-c/console.c storage/path.c \
		     $(LC_SECURITY_SRCS)
LC_EXEC_HOST_SRCS := $(LC_EXEC_SRCS) libcontainer-c/container.c libcontainer-c/container-cgroup.c \
		     libcontainer-c/state.c $(LC_CGROUP_SRCS)
LCRUN_SRCS        := libcontainer-c/cli/lcrun.c libcontainer-c/cli/cmd-cgroup.c libcontainer-c/cli/cmd-info.c $(LC_EXEC_HOST_SRCS) $(sort $(LC_HOST_SRCS)) $(COMMON_SRCS)

$(BUILD)/lcrun: $(call host_objs,$(LCRUN_SRCS)) $(PROTO_HOST_OBJS)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ $(LC_HOST_LIBS) $(LC_SECURITY_LIBS) $(LC_CGROUP_LIBS)

all: $(BUILD)/lcrun $(call guest_objs,$(LC_EXEC_SRCS))
