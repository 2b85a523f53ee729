# tests/guest: programs that run inside the VM for tests/vm. Not part of `all`: the VM test that needs them
# builds them (`make -s build/test-initrd.img`). Include after rootfs-builder/module.mk (INITRD_* come from it).
#
# build/test-initrd.img is the production initrd's module set with vsock-probe as /init, plus the static agent
# at /bin/kata-agent. mkinitrd takes one file (/init), so the agent goes into a second cpio appended to the
# first: the kernel unpacks concatenated archives in order.
VSOCK_PROBE_SRCS := tests/guest/vsock-probe.c launcher/ttrpc-client.c $(INIT_SRCS) $(COMMON_SRCS)

$(BUILD)/vsock-probe: $(call guest_objs,$(VSOCK_PROBE_SRCS)) $(PROTO_GUEST_OBJS)
	$(GUEST_CC) $(GUEST_LDFLAGS) $^ -o $@ -lprotobuf-c

$(BUILD)/host/cpio-extra: $(call host_objs,tests/guest/cpio-extra.c rootfs-builder/cpio.c $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@

$(BUILD)/test-initrd.img: $(BUILD)/host/mkinitrd $(BUILD)/host/cpio-extra $(BUILD)/vsock-probe $(BUILD)/kata-agent \
			  $(INITRD_KMODS)/modules.dep rootfs-builder/module.mk tests/guest/module.mk
	$(BUILD)/host/mkinitrd build --init $(BUILD)/vsock-probe --moddir $(INITRD_KMODS) --release $(INITRD_KREL) \
		--output $@.base.cpio $(addprefix --exclude ,$(INITRD_EXCLUDE)) $(INITRD_MODULES) >/dev/null
	$(BUILD)/host/cpio-extra $@.extra.cpio bin/kata-agent=$(BUILD)/kata-agent
	cat $@.base.cpio $@.extra.cpio | gzip -n -9 >$@.tmp
	rm -f $@.base.cpio $@.extra.cpio
	mv $@.tmp $@
