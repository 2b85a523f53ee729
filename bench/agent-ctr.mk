# The agent's container numbers: `make bench-agent` (root) runs bench/agent-ctr.sh, which starts the static
# agent standalone in private namespaces (as tests/lib-agent.sh does) and drives it with build/host/bench/agent-ctr:
# ExecProcess+WaitProcess round trips, ReadStdout throughput against a raw pipe copy, and the agent's RSS with 0,
# 10 and 100 containers. Include from the top-level Makefile after bench/module.mk (it reuses its object rules).
$(BUILD)/host/bench/agent-ctr: $(BUILD)/bench-obj/agent-ctr.o $(BUILD)/bench-obj/ttrpc-client.o \
		$(BUILD)/bench-obj/frame.o $(BUILD)/bench-obj/util.o $(patsubst $(GEN)/%.c,$(BUILD)/bench-obj/gen/%.o,$(GEN_SRCS))
	@mkdir -p $(@D)
	$(HOST_CC) $^ -o $@ -lprotobuf-c
$(BUILD)/bench-obj/agent-ctr.o: bench/agent-ctr.c $(GEN_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(BENCH_CFLAGS) -c $< -o $@
$(BUILD)/bench-obj/ttrpc-client.o: launcher/ttrpc-client.c $(GEN_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(BENCH_CFLAGS) -c $< -o $@

all: $(BUILD)/host/bench/agent-ctr

.PHONY: bench-agent
bench-agent: $(STAMPS)/deps
	$(MAKE) all
	./bench/agent-ctr.sh

bench: bench-agent
