# Benchmarks: `make bench` runs bench/run.sh (sizes, idle memory, RPC latency and throughput, and
# launch-to-ready on q35 and microvm under the same conditions, side by side).
$(BUILD)/host/bench/bench-rpc: $(BUILD)/bench-obj/bench-rpc.o $(BUILD)/bench-obj/frame.o $(BUILD)/bench-obj/util.o \
		$(patsubst $(GEN)/%.c,$(BUILD)/bench-obj/gen/%.o,$(GEN_SRCS))
	@mkdir -p $(@D)
	$(HOST_CC) $^ -o $@ -lprotobuf-c

# Measured code runs without sanitizers: an optimised host build of the client.
BENCH_CFLAGS := $(COMMON) -O2
$(BUILD)/bench-obj/bench-rpc.o: bench/bench-rpc.c $(GEN_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(BENCH_CFLAGS) -c $< -o $@
$(BUILD)/bench-obj/frame.o: proto/frame.c $(GEN_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(BENCH_CFLAGS) -c $< -o $@
$(BUILD)/bench-obj/util.o: common/util.c
	@mkdir -p $(@D)
	$(HOST_CC) $(BENCH_CFLAGS) -c $< -o $@
$(BUILD)/bench-obj/gen/%.o: $(GEN)/%.c $(GEN_HDRS)
	@mkdir -p $(@D)
	$(HOST_CC) $(BENCH_CFLAGS) -Wno-error -c $< -o $@

all: $(BUILD)/host/bench/bench-rpc

bench: $(STAMPS)/deps
	$(MAKE) all
	./bench/run.sh
