# Fuzz targets. `make check` replays each corpus with plain gcc under ASan+UBSan (fuzz-main.c); `make fuzz`
# runs them for real with libFuzzer (clang), FUZZ_SECONDS each, and grows the corpora.
FUZZ_TARGETS := frame cmdline netlink
fuzz-frame_SRCS := fuzz/fuzz-frame.c $(COMMON_SRCS)
fuzz-frame_OBJS = $(PROTO_HOST_OBJS)
fuzz-cmdline_SRCS := fuzz/fuzz-cmdline.c agent/config.c agent/transport.c $(COMMON_SRCS)
FUZZ_TARGETS += mount-options
fuzz-mount-options_SRCS := fuzz/fuzz-mount-options.c storage/options.c $(COMMON_SRCS)
FUZZ_TARGETS += oci-json
fuzz-oci-json_SRCS := fuzz/fuzz-oci-json.c libcontainer-c/arena.c libcontainer-c/spec.c libcontainer-c/spec-json.c \
	libcontainer-c/spec-proto.c libcontainer-c/specconv.c libcontainer-c/names.c $(COMMON_SRCS)
fuzz-oci-json_OBJS = $(PROTO_HOST_OBJS)
fuzz-oci-json_LIBS := -ljson-c
FUZZ_SECONDS ?= 60

define fuzz_rule
$(BUILD)/host/fuzz/fuzz-$(1): $(call host_objs,fuzz/fuzz-main.c $(fuzz-$(1)_SRCS)) $(fuzz-$(1)_OBJS)
	@mkdir -p $$(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $$^ -o $$@ -lprotobuf-c $(fuzz-$(1)_LIBS)
all: $(BUILD)/host/fuzz/fuzz-$(1)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

fuzz: $(STAMPS)/deps
	command -v clang >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev
	@mkdir -p $(BUILD)/libfuzzer
	$(MAKE) $(GEN_HDRS)
	set -e; for t in $(FUZZ_TARGETS); do \
		srcs="fuzz/fuzz-$$t.c $(COMMON_SRCS)"; \
		case $$t in frame) srcs="$$srcs proto/frame.c $(GEN_SRCS)";; cmdline) srcs="$$srcs agent/config.c agent/transport.c";; \
			mount-options) srcs="$$srcs storage/options.c";; \
			oci-json) srcs="$$srcs $(filter libcontainer-c/%,$(fuzz-oci-json_SRCS)) $(GEN_SRCS) -ljson-c";; esac; \
		clang -std=gnu11 -D_GNU_SOURCE -Ulinux -Uunix -I. -I$(GEN) -DKC_VERSION='"fuzz"' -g -O1 \
			-fsanitize=fuzzer,address,undefined $$srcs -o $(BUILD)/libfuzzer/fuzz-$$t -lprotobuf-c; \
		$(BUILD)/libfuzzer/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 fuzz/corpus/$$t; \
	done
