# The wire-contract unit test (tests/unit/test-wire-contract.c): our protobuf-c descriptors against
# tests/data/kata-agent-wire.md. It finds descriptors by name in a table generated from the protoc-c headers.
# Include this before tests/module.mk, which turns UNIT_TESTS into rules.
WIRE_TABLE := $(BUILD)/host/tests/unit/wire-descriptors

$(WIRE_TABLE).c: $(GEN_HDRS) tests/interop/descriptor-table.sh
	@mkdir -p $(@D)
	bash tests/interop/descriptor-table.sh $(GEN) $(GEN_HDRS) >$@.tmp
	mv $@.tmp $@

$(WIRE_TABLE).o: $(WIRE_TABLE).c $(GEN_HDRS)
	$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

UNIT_TESTS += wire-contract
test-wire-contract_SRCS := tests/unit/test-wire-contract.c
test-wire-contract_OBJS := $(WIRE_TABLE).o $(filter $(BUILD)/host/gen/%,$(PROTO_HOST_OBJS))
test-wire-contract_LIBS := -lprotobuf-c
