# storage: drivers, mount options, path confinement, refcounts. Depends on common/ only; the agent links
# STORAGE_SRCS into both of its builds.
STORAGE_SRCS := storage/options.c storage/path.c storage/drivers.c storage/fs-group.c storage/registry.c

UNIT_TESTS += storage-options
test-storage-options_SRCS := tests/unit/test-storage-options.c storage/options.c $(COMMON_SRCS)

UNIT_TESTS += storage-path
test-storage-path_SRCS := tests/unit/test-storage-path.c $(STORAGE_SRCS) $(COMMON_SRCS)

UNIT_TESTS += storage-registry
test-storage-registry_SRCS := tests/unit/test-storage-registry.c $(STORAGE_SRCS) $(COMMON_SRCS)
