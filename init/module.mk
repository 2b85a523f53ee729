# init: the PID-1 role (early mounts, leaving the initramfs, module loading, console session, poweroff).
# No main() here: the agent links INIT_SRCS into both its host and its guest build.
INIT_SRCS := init/mounts.c init/initramfs.c init/modload.c init/session.c init/modules.c

UNIT_TESTS += modules
test-modules_SRCS := tests/unit/test-modules.c init/modules.c $(COMMON_SRCS)
