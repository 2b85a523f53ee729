# Integration test programs driven by the scripts in this directory.
$(BUILD)/host/tests/protocol-harness: $(call host_objs,tests/integration/protocol.c $(COMMON_SRCS)) $(PROTO_HOST_OBJS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ -lprotobuf-c

all: $(BUILD)/host/tests/protocol-harness

# A FUSE server that answers INIT and then nothing: the stand-in for a hung 9p or virtio-fs share.
$(BUILD)/host/tests/fuse-stall: $(call host_objs,tests/integration/fuse-stall.c)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@

all: $(BUILD)/host/tests/fuse-stall
