# The agent: a static musl build for the guest (build/kata-agent, stripped) and a glibc ASan+UBSan build
# for the host tests (build/host/kata-agent), from the same sources.
AGENT_SRCS := agent/main.c agent/config.c agent/loop.c agent/server.c agent/transport.c agent/methods.c agent/child.c
AGENT_SRCS += agent/network.c agent/network-convert.c agent/network-pci.c $(NETCONFIG_SRCS)
AGENT_SRCS += agent/sandbox.c agent/guest-rpcs.c agent/metrics.c $(STORAGE_SRCS)
AGENT_SRCS += agent/devices.c agent/container.c agent/container-ops.c agent/streams.c agent/cpuset.c agent/watch.c
AGENT_SRCS += agent/storage-batch.c agent/ctr-spec.c agent/ctr-hooks.c
AGENT_ALL_SRCS := $(AGENT_SRCS) $(INIT_SRCS) $(COMMON_SRCS)

$(BUILD)/kata-agent: $(call guest_objs,$(AGENT_ALL_SRCS)) $(PROTO_GUEST_OBJS)
	$(GUEST_CC) $(GUEST_LDFLAGS) $^ -o $@ -lprotobuf-c $(AGENT_LC_LIBS)

$(BUILD)/host/kata-agent: $(call host_objs,$(AGENT_ALL_SRCS)) $(PROTO_HOST_OBJS)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ -lprotobuf-c $(AGENT_LC_LIBS)

all: $(BUILD)/kata-agent $(BUILD)/host/kata-agent

UNIT_TESTS += agent-config
test-agent-config_SRCS := tests/unit/test-agent-config.c agent/config.c agent/transport.c $(COMMON_SRCS)

UNIT_TESTS += agent-cpuset
test-agent-cpuset_SRCS := tests/unit/test-agent-cpuset.c agent/cpuset.c $(COMMON_SRCS)

UNIT_TESTS += agent-child
test-agent-child_SRCS := tests/unit/test-agent-child.c agent/child.c agent/loop.c $(COMMON_SRCS)

# The storage batches' refcounts and list of batches in flight (agent/storage-batch.c), driven directly: the
# whole agent but main.c, since a batch's handlers reach the sandbox, devices and helpers.
UNIT_TESTS += agent-storage
test-agent-storage_SRCS = tests/unit/test-agent-storage.c $(sort $(filter-out agent/main.c,$(AGENT_ALL_SRCS)) $(LC_INSTANCE_SRCS))
test-agent-storage_OBJS = $(PROTO_HOST_OBJS)
test-agent-storage_LIBS = -lprotobuf-c $(AGENT_LC_LIBS)

UNIT_TESTS += netconfig-proto
test-netconfig-proto_SRCS := tests/unit/test-netconfig-proto.c agent/network-convert.c $(NETCONFIG_SRCS) $(COMMON_SRCS)
test-netconfig-proto_OBJS = $(PROTO_HOST_OBJS)
test-netconfig-proto_LIBS := -lprotobuf-c

UNIT_TESTS += network-pci
test-network-pci_SRCS := tests/unit/test-network-pci.c agent/network-pci.c storage/pci.c $(COMMON_SRCS)

# Driven by tests/integration/test-containers.sh: several container calls pending on one connection.
$(BUILD)/host/tests/containers-driver: $(call host_objs,tests/integration/containers-driver.c launcher/ttrpc-client.c $(COMMON_SRCS)) $(PROTO_HOST_OBJS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ -lprotobuf-c

all: $(BUILD)/host/tests/containers-driver

UNIT_TESTS += agent-streams
test-agent-streams_SRCS := tests/unit/test-agent-streams.c agent/streams.c agent/loop.c $(COMMON_SRCS)
test-agent-streams_OBJS = $(PROTO_HOST_OBJS)
test-agent-streams_LIBS := -lprotobuf-c

# The container spec rewrite for the guest: device checks and rewrite, guest hooks.
UNIT_TESTS += ctr-spec
test-ctr-spec_SRCS = tests/unit/test-ctr-spec.c agent/ctr-spec.c $(STORAGE_SRCS) $(INIT_SRCS) $(LC_HOST_SRCS) $(COMMON_SRCS)
test-ctr-spec_OBJS = $(PROTO_HOST_OBJS)
test-ctr-spec_LIBS = $(LC_HOST_LIBS)
