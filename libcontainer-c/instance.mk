# In-memory containers for the agent (instance.c): the executor's spawn steps, the cgroup manager, process
# security and the spec model, linked into both agent builds. Included last from libcontainer-c/module.mk,
# after every list it names exists; the agent's link rules (agent/module.mk) get these objects as extra
# prerequisites ($^ drops the duplicates, such as the common sources) and their libraries through AGENT_LC_LIBS.
LC_INSTANCE_SRCS := libcontainer-c/instance.c $(LC_EXEC_SRCS) $(LC_CGROUP_SRCS) $(LC_SRCS)
AGENT_LC_LIBS    := $(LC_SECURITY_LIBS) $(LC_CGROUP_LIBS)

$(BUILD)/kata-agent: $(call guest_objs,$(LC_INSTANCE_SRCS))
$(BUILD)/host/kata-agent: $(call host_objs,$(LC_INSTANCE_SRCS))

# The operations as an event loop drives them, on real containers (root).
UNIT_TESTS += lc-op
test-lc-op_SRCS := tests/unit/test-lc-op.c $(sort $(LC_INSTANCE_SRCS) $(LC_HOST_SRCS) $(COMMON_SRCS))
test-lc-op_OBJS := $(PROTO_HOST_OBJS)
test-lc-op_LIBS := $(LC_HOST_LIBS) $(LC_SECURITY_LIBS) $(LC_CGROUP_LIBS)
