# Integration test programs driven by the scripts in this directory.
$(BUILD)/host/tests/protocol-harness: $(call host_objs,tests/integration/protocol.c $(COMMON_SRCS)) $(PROTO_HOST_OBJS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ -lprotobuf-c

all: $(BUILD)/host/tests/protocol-harness
