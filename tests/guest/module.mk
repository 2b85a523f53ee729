# tests/guest: programs that run inside the VM for tests/vm. Not part of `all`: the VM test that needs them
# builds them (`make -s build/test-initrd.img`). Include after rootfs-builder/module.mk (INITRD_* come from it).
#
# build/test-initrd.img is the production initrd's module set with vsock-probe as /init, plus the static agent
# at /bin/kata-agent.
VSOCK_PROBE_SRCS := tests/guest/vsock-probe.c launcher/ttrpc-client.c $(INIT_SRCS) $(COMMON_SRCS)

$(BUILD)/vsock-probe: $(call guest_objs,$(VSOCK_PROBE_SRCS)) $(PROTO_GUEST_OBJS)
	$(GUEST_CC) $(GUEST_LDFLAGS) $^ -o $@ -lprotobuf-c

$(BUILD)/test-initrd.img: $(BUILD)/host/mkinitrd $(BUILD)/vsock-probe $(BUILD)/kata-agent \
			  $(INITRD_KMODS)/modules.dep rootfs-builder/module.mk tests/guest/module.mk
	$(BUILD)/host/mkinitrd build --init $(BUILD)/vsock-probe --moddir $(INITRD_KMODS) --release $(INITRD_KREL) \
		--file bin/kata-agent=$(BUILD)/kata-agent --output $@.cpio $(addprefix --exclude ,$(INITRD_EXCLUDE)) \
		$(INITRD_MODULES) >/dev/null
	gzip -n -9 -c $@.cpio >$@.tmp
	rm -f $@.cpio
	mv $@.tmp $@
