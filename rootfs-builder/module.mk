# rootfs-builder: the initrd. build/host/mkinitrd writes a reproducible newc cpio (sorted entries, owners 0,
# mtime SOURCE_DATE_EPOCH or 0); gzip -n keeps the compressed image reproducible too.
MKINITRD_SRCS := rootfs-builder/mkinitrd.c rootfs-builder/cpio.c rootfs-builder/modinfo.c init/modules.c \
		 $(COMMON_SRCS)

# The pinned kernel (mk/deps.sh). Defined here, not taken from kernel-config/module.mk, because prerequisite
# lists expand as the makefile is read and that file is included after this one.
INITRD_KREL   := $(shell cat $(BUILD)/kernel/version 2>/dev/null)
INITRD_KMODS  := $(BUILD)/kernel/root/lib/modules/$(INITRD_KREL)

# GROUP=module,... : the initrd carries the closure of each group (deps and softdeps); the groups only label
# the size breakdown. virtio_mmio is for microvm; vsock_loopback lets an in-guest test use vsock. scsi, pmem and
# vfio are loaded by MODALIAS when such a device is hot-plugged (there is no udev); overlay backs the overlayfs driver;
# virtiofs backs kata-launch's virtio-fs shares.
INITRD_MODULES := virtio-pci=virtio_pci virtio-mmio=virtio_mmio console=virtio_console 9p=9p,9pnet_virtio \
		  blk=virtio_blk ext4=ext4 vsock=vsock,vmw_vsock_virtio_transport,vsock_loopback \
		  rng=virtio_rng net=virtio_net scsi=virtio_scsi,sd_mod pmem=nfit,nd_pmem,virtio_pmem,dax_pmem \
		  overlay=overlay vfio=vfio-pci,vfio_iommu_type1 virtiofs=virtiofs
# crc32c-intel needs SSE4.2, which qemu64 and some TCG CPU models lack; crc32c_generic works everywhere and
# satisfies ext4's and jbd2's "pre: crypto-crc32c" softdep alone.
INITRD_EXCLUDE := crc32c_intel

$(BUILD)/host/mkinitrd: $(call host_objs,$(MKINITRD_SRCS))
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@

# Debian's kernel package ships no modules.dep (depmod runs at install time); write what depmod would.
$(INITRD_KMODS)/modules.dep: $(BUILD)/host/mkinitrd | $(STAMPS)/deps
	$(BUILD)/host/mkinitrd depmod $(INITRD_KMODS)

$(BUILD)/initrd.img: $(BUILD)/host/mkinitrd $(BUILD)/kata-agent $(INITRD_KMODS)/modules.dep rootfs-builder/module.mk
	$(BUILD)/host/mkinitrd build --init $(BUILD)/kata-agent --moddir $(INITRD_KMODS) --release $(INITRD_KREL) \
		--output $@.cpio $(addprefix --exclude ,$(INITRD_EXCLUDE)) $(INITRD_MODULES)
	gzip -n -9 -c $@.cpio >$@.tmp
	rm -f $@.cpio
	mv $@.tmp $@
	@printf '  %-28s %9s bytes (gzip -9)\n' 'compressed' "$$(stat -c %s $@)"

all: $(BUILD)/initrd.img

UNIT_TESTS += cpio
test-cpio_SRCS := tests/unit/test-cpio.c rootfs-builder/cpio.c $(COMMON_SRCS)
