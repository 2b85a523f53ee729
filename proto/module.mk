# The wire: our .proto files compiled by protoc-c into build/gen, and the ttRPC frame codec.
PROTO_FILES := proto/status.proto proto/ttrpc.proto proto/types.proto proto/oci.proto proto/csi.proto \
	       proto/health.proto proto/agent.proto
PROTO_WKT   := /usr/include/google/protobuf/empty.proto

GEN_SRCS := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTO_FILES)) $(GEN)/google/protobuf/empty.pb-c.c
GEN_HDRS := $(GEN_SRCS:.c=.h)

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto | $(STAMPS)/deps
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -Iproto -I/usr/include $<

$(GEN)/google/protobuf/empty.pb-c.c $(GEN)/google/protobuf/empty.pb-c.h: $(PROTO_WKT) | $(STAMPS)/deps
	@mkdir -p $(GEN)
	protoc-c --c_out=$(GEN) -I/usr/include $<

$(BUILD)/host/gen/%.o: $(GEN)/%.c $(GEN_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -Wno-error -c $< -o $@

$(BUILD)/guest/gen/%.o: $(GEN)/%.c $(GEN_HDRS)
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -Wno-error -c $< -o $@

PROTO_SRCS := proto/frame.c
PROTO_HOST_OBJS  := $(call host_objs,$(PROTO_SRCS)) $(patsubst $(GEN)/%.c,$(BUILD)/host/gen/%.o,$(GEN_SRCS))
PROTO_GUEST_OBJS := $(call guest_objs,$(PROTO_SRCS)) $(patsubst $(GEN)/%.c,$(BUILD)/guest/gen/%.o,$(GEN_SRCS))

UNIT_TESTS += frame
test-frame_SRCS := tests/unit/test-frame.c $(COMMON_SRCS)
test-frame_OBJS := $(PROTO_HOST_OBJS)
test-frame_LIBS := -lprotobuf-c
