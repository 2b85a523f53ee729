# The cgroup manager (v1, hybrid and v2: layout, create/join, resources, freezer, kill, stats, OOM watch) and the
# cgroup-v2 device BPF program. Included from the top-level Makefile before tests/module.mk, which turns
# UNIT_TESTS into rules. Whatever links LC_CGROUP_SRCS on the host needs -lm (cpu.weight conversion); musl's
# libc.a has it.
LC_CGROUP_SRCS := libcontainer-c/cgroup.c libcontainer-c/cgroup-layout.c libcontainer-c/cgroup-resources.c \
		  libcontainer-c/cgroup-stats.c libcontainer-c/devices-bpf.c
LC_CGROUP_LIBS := -lm

all: $(call guest_objs,$(LC_CGROUP_SRCS))

UNIT_TESTS += lc-cgroup lc-cgroup-bpf
test-lc-cgroup_SRCS := tests/unit/test-lc-cgroup.c $(LC_CGROUP_SRCS) $(COMMON_SRCS)
test-lc-cgroup_LIBS := $(LC_CGROUP_LIBS)
test-lc-cgroup-bpf_SRCS := tests/unit/test-lc-cgroup-bpf.c $(LC_CGROUP_SRCS) $(COMMON_SRCS)
test-lc-cgroup-bpf_LIBS := $(LC_CGROUP_LIBS)

# Driven by tests/integration/test-lc-cgroup.sh, as root on the host's real cgroup tree.
$(BUILD)/host/tests/lc-cgroup-driver: $(call host_objs,tests/integration/lc-cgroup-driver.c $(LC_CGROUP_SRCS) $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(HOST_CC) $(HOST_LDFLAGS) $^ -o $@ $(LC_CGROUP_LIBS)

all: $(BUILD)/host/tests/lc-cgroup-driver
