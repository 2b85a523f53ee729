# kernel-config: the guest kernel. For now the pinned Debian kernel, with its ELF pulled out of the bzImage so
# QEMU boots it through PVH without decompressing under TCG (see reference/guest-boot.md §6, pitfall 2).
KERNEL_RELEASE = $(shell cat $(BUILD)/kernel/version 2>/dev/null)
KERNEL_ROOT    := $(BUILD)/kernel/root

$(BUILD)/vmlinux: kernel-config/extract-vmlinux.sh | $(STAMPS)/deps
	./kernel-config/extract-vmlinux.sh $(KERNEL_ROOT)/boot/vmlinuz-$(KERNEL_RELEASE) $@

all: $(BUILD)/vmlinux
