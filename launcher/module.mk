# launcher: kata-launch, the host side. Boots QEMU, multiplexes local ttRPC clients onto the one agent
# channel, and drives the agent from the command line (ctl, stop). Host build only (glibc, sanitizers).
LAUNCHER_LIB_SRCS := launcher/ttrpc-client.c launcher/json.c launcher/qemu.c launcher/methods.c
LAUNCHER_SRCS     := $(LAUNCHER_LIB_SRCS) launcher/mux.c launcher/state.c launcher/boot.c launcher/ctl.c \
		     launcher/main.c launcher/qmp.c launcher/hotplug.c launcher/run.c launcher/net.c
LAUNCHER_SRCS     += launcher/relay.c launcher/exec.c
LAUNCHER_LIBS     := -lprotobuf-c -ljson-c -lm

# `run` reads config.json with libcontainer-c, whose module.mk is included after this one: its sources are
# named through a second expansion.
.SECONDEXPANSION:
$(BUILD)/kata-launch: $(call host_objs,$(LAUNCHER_SRCS) $(COMMON_SRCS)) $(PROTO_HOST_OBJS) \
		      $$(call host_objs,$$(sort $$(LC_HOST_SRCS)))
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ $(LAUNCHER_LIBS)

all: $(BUILD)/kata-launch

UNIT_TESTS += launcher-json launcher-qemu launcher-ttrpc launcher-mux
test-launcher-json_SRCS := tests/unit/test-launcher-json.c launcher/json.c launcher/methods.c $(COMMON_SRCS)
test-launcher-json_OBJS := $(PROTO_HOST_OBJS)
test-launcher-json_LIBS := -lprotobuf-c -ljson-c -lm
test-launcher-qemu_SRCS := tests/unit/test-launcher-qemu.c launcher/qemu.c $(COMMON_SRCS)
test-launcher-qemu_LIBS :=
test-launcher-ttrpc_SRCS := tests/unit/test-launcher-ttrpc.c launcher/ttrpc-client.c $(COMMON_SRCS)
test-launcher-ttrpc_OBJS := $(PROTO_HOST_OBJS)
test-launcher-ttrpc_LIBS := -lprotobuf-c
test-launcher-mux_SRCS := tests/unit/test-launcher-mux.c launcher/mux.c launcher/ttrpc-client.c $(COMMON_SRCS)
test-launcher-mux_OBJS := $(PROTO_HOST_OBJS)
test-launcher-mux_LIBS := -lprotobuf-c
