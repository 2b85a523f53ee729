# The executor: spawn (clone3 + the sync protocol), rootfs (mounts onto fds, pivot_root), console; and on the
# host the lifecycle over a state directory (json-c) and lcrun. Paths inside the rootfs resolve through
# common/path.c (path_open_in_root).
# The security module (security.mk) is linked in; ?= keeps this working whether or not security.mk is included.
LC_SECURITY_SRCS  ?= libcontainer-c/seccomp.c libcontainer-c/caps.c libcontainer-c/process-security.c
LC_SECURITY_LIBS  ?= -lseccomp
LC_EXEC_SRCS      := libcontainer-c/spawn.c libcontainer-c/hooks.c libcontainer-c/rootfs.c libcontainer-c/console.c \
		     $(LC_SECURITY_SRCS)
LC_EXEC_HOST_SRCS := $(LC_EXEC_SRCS) libcontainer-c/container.c libcontainer-c/container-cgroup.c \
		     libcontainer-c/state.c $(LC_CGROUP_SRCS)
LCRUN_SRCS        := libcontainer-c/cli/lcrun.c libcontainer-c/cli/cmd-cgroup.c libcontainer-c/cli/cmd-info.c $(LC_EXEC_HOST_SRCS) $(sort $(LC_HOST_SRCS)) $(COMMON_SRCS)

$(BUILD)/lcrun: $(call host_objs,$(LCRUN_SRCS)) $(PROTO_HOST_OBJS)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ $(LC_HOST_LIBS) $(LC_SECURITY_LIBS) $(LC_CGROUP_LIBS)

all: $(BUILD)/lcrun $(call guest_objs,$(LC_EXEC_SRCS))

# An optimised lcrun without sanitizers, for benchmarks against crun and runc (bench/lcrun.mk): -O2, its own
# object tree, linked statically so that neither the first exec nor the CVE-2019-5736 re-exec pays for the
# dynamic loader (about a millisecond each here). Symbols stay for perf.
REL_CFLAGS := $(COMMON) -O2 -g
rel_objs = $(patsubst %.c,$(BUILD)/rel/%.o,$(1))
$(BUILD)/rel/%.o: %.c $(GEN_HDRS) | $(STAMPS)/deps
	@mkdir -p $(@D)
	$(HOST_CC) $(REL_CFLAGS) -c $< -o $@
$(BUILD)/rel/gen/%.o: $(GEN)/%.c $(GEN_HDRS) | $(STAMPS)/deps
	@mkdir -p $(@D)
	$(HOST_CC) $(REL_CFLAGS) -Wno-error -c $< -o $@
$(BUILD)/rel/lcrun: $(call rel_objs,$(LCRUN_SRCS) $(PROTO_SRCS)) $(patsubst $(GEN)/%.c,$(BUILD)/rel/gen/%.o,$(GEN_SRCS))
	$(HOST_CC) -static -Wl,--gc-sections -Wl,-z,relro -Wl,-z,now $^ -o $@ $(LC_HOST_LIBS) $(LC_SECURITY_LIBS) $(LC_CGROUP_LIBS)

# The seccomp agent the SCMP_ACT_NOTIFY test talks to (tests/integration/test-lcrun-notify.sh).
$(BUILD)/host/tests/seccomp-listener: $(call host_objs,tests/integration/seccomp-listener.c $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@
all: $(BUILD)/host/tests/seccomp-listener
