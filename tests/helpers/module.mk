# tests/helpers: what the lcrun suites run inside containers and inside the VM. Included from the top Makefile
# after libcontainer-c/module.mk and rootfs-builder/module.mk (LCRUN_SRCS and INITRD_* come from them).
#
# build/cthelper: the multi-call container process (static musl, so it runs in a rootfs holding nothing else).
CTHELPER_SRCS := tests/helpers/cthelper.c common/util.c

$(BUILD)/cthelper: $(call guest_objs,$(CTHELPER_SRCS))
	$(GUEST_CC) $(GUEST_LDFLAGS) $^ -o $@

all: $(BUILD)/cthelper

# build/lcrun-static: lcrun for the guest (musl, static; json-c from the sysroot). Only the in-VM suite uses it,
# so it is built by that test (make -s build/lcrun-test-initrd.img), not by `all`.
$(BUILD)/lcrun-static: $(call guest_objs,$(LCRUN_SRCS)) $(PROTO_GUEST_OBJS)
	$(GUEST_CC) $(GUEST_LDFLAGS) $^ -o $@ -ljson-c -lprotobuf-c $(LC_SECURITY_LIBS) $(LC_CGROUP_LIBS)

# The VM's /init: base mounts, leave the initramfs, cgroup2, run the suite, then become the agent.
LCRUN_VM_INIT_SRCS := tests/helpers/lcrun-vm-init.c $(INIT_SRCS) $(COMMON_SRCS)
$(BUILD)/lcrun-vm-init: $(call guest_objs,$(LCRUN_VM_INIT_SRCS))
	$(GUEST_CC) $(GUEST_LDFLAGS) $^ -o $@

# The agent comes last so that kata-launch boot sees the guest ready once the suite is over; only the agent
# channel's modules are carried.
LCRUN_VM_SUITE := tests/helpers/lcrun-vm-suite.sh tests/helpers/make-bundle.sh tests/helpers/bundle-config.sh
$(BUILD)/lcrun-test-initrd.img: $(BUILD)/host/mkinitrd $(BUILD)/lcrun-vm-init $(BUILD)/kata-agent $(BUILD)/lcrun-static \
				$(BUILD)/cthelper $(LCRUN_VM_SUITE) $(INITRD_KMODS)/modules.dep tests/helpers/module.mk
	$(BUILD)/host/mkinitrd build --init $(BUILD)/lcrun-vm-init --moddir $(INITRD_KMODS) --release $(INITRD_KREL) \
		--file bin/kata-agent=$(BUILD)/kata-agent --file bin/lcrun=$(BUILD)/lcrun-static \
		--file bin/cthelper=$(BUILD)/cthelper --file bin/busybox=/bin/busybox \
		--file suite/lcrun-vm-suite.sh=tests/helpers/lcrun-vm-suite.sh \
		--file suite/make-bundle.sh=tests/helpers/make-bundle.sh \
		--file suite/bundle-config.sh=tests/helpers/bundle-config.sh \
		--output $@.cpio $(addprefix --exclude ,$(INITRD_EXCLUDE)) \
		virtio-pci=virtio_pci console=virtio_console >/dev/null
	gzip -n -9 -c $@.cpio >$@.tmp
	rm -f $@.cpio
	mv $@.tmp $@

clean: clean-test-helpers
.PHONY: clean-test-helpers
clean-test-helpers:
	rm -f $(BUILD)/cthelper $(BUILD)/lcrun-static $(BUILD)/lcrun-vm-init $(BUILD)/lcrun-test-initrd.img
