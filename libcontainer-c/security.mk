# Process security: seccomp (libseccomp; compiled in the runtime, installed in the child), capabilities,
# uid/gid/groups, no_new_privs, rlimits, oom_score_adj, umask, scheduler, I/O priority, personality.
# Included from libcontainer-c/module.mk. The capability names come from names.c (in LC_SRCS).
LC_SECURITY_SRCS := libcontainer-c/seccomp.c libcontainer-c/caps.c libcontainer-c/process-security.c
# Host: Debian's libseccomp-dev; guest: $(SYSROOT)/lib/libseccomp.a through GUEST_LDFLAGS' -L.
LC_SECURITY_LIBS := -lseccomp

all: $(call guest_objs,$(LC_SECURITY_SRCS))

UNIT_TESTS += lc-seccomp lc-caps
test-lc-seccomp_SRCS := tests/unit/test-lc-seccomp.c libcontainer-c/seccomp.c libcontainer-c/names.c $(COMMON_SRCS)
test-lc-seccomp_LIBS := $(LC_SECURITY_LIBS)
test-lc-caps_SRCS := tests/unit/test-lc-caps.c $(LC_SECURITY_SRCS) libcontainer-c/names.c $(COMMON_SRCS)
test-lc-caps_LIBS := $(LC_SECURITY_LIBS)

# The integration driver: forks a child that applies a configuration given on the command line and reports
# from inside (tests/integration/test-lc-security.sh).
LC_SECURITY_DRIVER := $(BUILD)/host/tests/lc-security-driver
$(LC_SECURITY_DRIVER): $(call host_objs,tests/integration/lc-security-driver.c $(LC_SECURITY_SRCS) \
		libcontainer-c/names.c $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ $(LC_SECURITY_LIBS)
all: $(LC_SECURITY_DRIVER)
