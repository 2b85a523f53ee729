# One non-recursive Makefile; each directory adds its part through module.mk.
# Two object trees: build/guest (musl, static, for the VM) and build/host (glibc, ASan+UBSan, for tests and the
# host tools). Generated protobuf-c code lives in build/gen.

BUILD   := build
GEN     := $(BUILD)/gen
SYSROOT := $(BUILD)/sysroot
STAMPS  := $(BUILD)/stamps
VERSION := 0.1.0

# GNU mode predefines `linux` and `unix`, which collide with the generated Spec.linux member.
WARN   := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wno-unused-parameter
COMMON := -std=gnu11 -D_GNU_SOURCE -Ulinux -Uunix $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
	  -I. -I$(GEN) -DKC_VERSION='"$(VERSION)"' -MMD -MP

HOST_CC     := gcc
SANITIZE    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
HOST_CFLAGS := $(COMMON) -O1 -g $(SANITIZE)
HOST_LDFLAGS := $(SANITIZE) -Wl,-z,relro -Wl,-z,now

GUEST_CC      := musl-gcc -isystem $(BUILD)/kheaders
GUEST_CFLAGS  := $(COMMON) -Os -isystem $(SYSROOT)/include -ffunction-sections -fdata-sections
GUEST_LDFLAGS := -static -L$(SYSROOT)/lib -Wl,--gc-sections -Wl,-z,relro -Wl,-z,now -s

host_objs  = $(patsubst %.c,$(BUILD)/host/%.o,$(1))
guest_objs = $(patsubst %.c,$(BUILD)/guest/%.o,$(1))

.PHONY: all deps check demo bench fuzz clean lint
all:

# Everything below needs the toolchain, the sysroot and the kernel; mk/deps.sh provides them idempotently
# and runs again whenever it changes (a new package in its list).
$(STAMPS)/deps: mk/deps.sh
	./mk/deps.sh
deps:
	./mk/deps.sh
# Keeps the installed sysroot and kernel; `rm -rf build` forgets everything.
clean:
	rm -rf $(BUILD)/host $(BUILD)/guest $(BUILD)/bench-obj $(GEN) $(BUILD)/kata-agent $(BUILD)/kata-launch \
		$(BUILD)/initrd.img $(BUILD)/vmlinux $(BUILD)/interop $(BUILD)/vsock-probe $(BUILD)/test-initrd.img

ifeq ($(wildcard $(STAMPS)/deps),)
# A fresh machine: the kernel release and the sysroot are only known once deps ran, and prerequisite lists
# are expanded as the makefiles are read. So install first, then run the goal in a new make that sees them.
GOALS := $(or $(MAKECMDGOALS),all)
$(filter-out deps clean,$(GOALS)): bootstrap
	@:
.PHONY: bootstrap
bootstrap:
	./mk/deps.sh
	$(MAKE) $(GOALS)
else

COMMON_SRCS := common/error.c common/util.c common/log.c common/path.c

include proto/module.mk
include init/module.mk
include storage/module.mk
include netconfig/module.mk
include agent/module.mk
include launcher/module.mk
include rootfs-builder/module.mk
include kernel-config/module.mk
include tests/interop/module.mk
include fuzz/module.mk
include libcontainer-c/module.mk
include tests/module.mk
include tests/integration/module.mk
include tests/guest/module.mk
include tests/helpers/module.mk

include bench/module.mk
include bench/lcrun.mk
include bench/agent-ctr.mk

$(BUILD)/host/%.o: %.c $(GEN_HDRS) | $(STAMPS)/deps
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.o: %.c $(GEN_HDRS) | $(STAMPS)/deps
	@mkdir -p $(@D)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

demo: $(STAMPS)/deps
	$(MAKE) all
	./mk/demo.sh

# Close-on-exec at birth: every open/socket/pipe/accept/epoll/dup call must say so.
lint:
	./mk/lint-cloexec.py

-include $(shell find $(BUILD)/host $(BUILD)/guest -name '*.d' 2>/dev/null)
endif
