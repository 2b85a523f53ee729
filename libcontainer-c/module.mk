# libcontainer-c: the container library. So far the model and its validation: lc_spec (the OCI runtime-spec
# with presence flags) read from config.json (host only: json-c) or from the protobuf Spec, written back to a
# protobuf Spec, and specconv (lc_spec -> lc_config, all validation). The executor is in exec.mk.
LC_SRCS      := libcontainer-c/arena.c libcontainer-c/spec.c libcontainer-c/spec-proto.c \
		libcontainer-c/specconv.c libcontainer-c/names.c
# The config.json reader: host builds only (lcrun, kata-launch); the agent reads the protobuf Spec.
LC_HOST_SRCS := $(LC_SRCS) libcontainer-c/spec-json.c
LC_HOST_LIBS := -ljson-c -lprotobuf-c

# The guest objects are built so that the agent can link them; nothing links them yet.
all: $(call guest_objs,$(LC_SRCS))

UNIT_TESTS += lc-spec
test-lc-spec_SRCS := tests/unit/test-lc-spec.c $(LC_HOST_SRCS) $(COMMON_SRCS)
test-lc-spec_OBJS := $(PROTO_HOST_OBJS)
test-lc-spec_LIBS := $(LC_HOST_LIBS)
UNIT_TESTS += lc-specconv
test-lc-specconv_SRCS := tests/unit/test-lc-specconv.c $(LC_HOST_SRCS) $(COMMON_SRCS)
test-lc-specconv_OBJS := $(PROTO_HOST_OBJS)
test-lc-specconv_LIBS := $(LC_HOST_LIBS)

# The executor's parts, each with its own rules: the cgroup manager, process security (seccomp, capabilities,
# identity, limits), then the executor and lcrun, which link them.
include libcontainer-c/cgroup.mk
include libcontainer-c/security.mk
include libcontainer-c/exec.mk
include libcontainer-c/instance.mk
