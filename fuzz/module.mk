# Fuzz targets. `make check` replays each corpus with plain gcc under ASan+UBSan (fuzz-main.c); `make fuzz`
# runs them for real with libFuzzer (clang), FUZZ_SECONDS each, and grows the corpora.
FUZZ_TARGETS := frame cmdline netlink
fuzz-frame_SRCS := fuzz/fuzz-frame.c $(COMMON_SRCS)
fuzz-frame_OBJS = $(PROTO_HOST_OBJS)
fuzz-cmdline_SRCS := fuzz/fuzz-cmdline.c agent/config.c agent/transport.c $(COMMON_SRCS)
FUZZ_TARGETS += mount-options
fuzz-mount-options_SRCS := fuzz/fuzz-mount-options.c storage/options.c $(COMMON_SRCS)
FUZZ_TARGETS += storage-spec
fuzz-storage-spec_SRCS := fuzz/fuzz-storage-spec.c $(STORAGE_SRCS) $(COMMON_SRCS)
FUZZ_TARGETS += oci-json
fuzz-oci-json_SRCS := fuzz/fuzz-oci-json.c libcontainer-c/arena.c libcontainer-c/spec.c libcontainer-c/spec-json.c \
	libcontainer-c/spec-proto.c libcontainer-c/specconv.c libcontainer-c/names.c $(COMMON_SRCS)
fuzz-oci-json_OBJS = $(PROTO_HOST_OBJS)
fuzz-oci-json_LIBS := -ljson-c
FUZZ_TARGETS += uevent
fuzz-uevent_SRCS := fuzz/fuzz-uevent.c storage/uevent.c $(COMMON_SRCS)
FUZZ_SECONDS ?= 60

define fuzz_rule
$(BUILD)/host/fuzz/fuzz-$(1): $(call host_objs,fuzz/fuzz-main.c $(fuzz-$(1)_SRCS)) $(fuzz-$(1)_OBJS)
	@mkdir -p $$(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $$^ -o $$@ -lprotobuf-c $(fuzz-$(1)_LIBS)
all: $(BUILD)/host/fuzz/fuzz-$(1)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

# libFuzzer builds come from the same per-target lists; a target whose objects include the protobuf code
# compiles the generated sources and the frame codec directly.
define libfuzzer_rule
$(BUILD)/libfuzzer/fuzz-$(1): $(fuzz-$(1)_SRCS) $(GEN_HDRS)
	@mkdir -p $$(@D)
	clang -std=gnu11 -D_GNU_SOURCE -Ulinux -Uunix -I. -I$(GEN) -DKC_VERSION='"fuzz"' -g -O1 \
		-fsanitize=fuzzer,address,undefined $(fuzz-$(1)_SRCS) \
		$(if $(fuzz-$(1)_OBJS),$(PROTO_SRCS) $(GEN_SRCS)) -o $$@ -lprotobuf-c $(fuzz-$(1)_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call libfuzzer_rule,$(t))))

fuzz: $(STAMPS)/deps
	command -v clang >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev
	$(MAKE) $(addprefix $(BUILD)/libfuzzer/fuzz-,$(FUZZ_TARGETS))
	set -e; for t in $(FUZZ_TARGETS); do \
		$(BUILD)/libfuzzer/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 fuzz/corpus/$$t; \
	done
