# storage: drivers, mount options, path confinement, refcounts. Depends on common/ only; the agent links
# STORAGE_SRCS into both of its builds.
STORAGE_SRCS := storage/options.c storage/drivers.c storage/overlay.c storage/watch.c storage/fs-group.c storage/registry.c
# Devices: the uevent socket and parser, the device table with its waiters, PCI paths, block-device drivers.
STORAGE_SRCS += storage/uevent.c storage/devices.c storage/pci.c storage/blockdev.c

UNIT_TESTS += storage-options
test-storage-options_SRCS := tests/unit/test-storage-options.c storage/options.c $(COMMON_SRCS)

# Path confinement (common/path.c) and what storage builds on it: mount point keys, fs_group.
UNIT_TESTS += storage-path
test-storage-path_SRCS := tests/unit/test-storage-path.c $(STORAGE_SRCS) $(COMMON_SRCS)


UNIT_TESTS += storage-registry
test-storage-registry_SRCS := tests/unit/test-storage-registry.c $(STORAGE_SRCS) $(COMMON_SRCS)

UNIT_TESTS += uevent
test-uevent_SRCS := tests/unit/test-uevent.c storage/uevent.c $(COMMON_SRCS)

UNIT_TESTS += devices
test-devices_SRCS := tests/unit/test-devices.c storage/devices.c storage/uevent.c init/modules.c $(COMMON_SRCS)

UNIT_TESTS += pci
test-pci_SRCS := tests/unit/test-pci.c $(STORAGE_SRCS) $(COMMON_SRCS)
