# In-memory containers for the agent (instance.c): the executor's spawn steps, the cgroup manager, process
# security and the spec model, linked into both agent builds. Included last from libcontainer-c/module.mk,
# after every list it names exists; the agent's link rules (agent/module.mk) get these objects as extra
# prerequisites ($^ drops the duplicates, such as the common sources) and their libraries through AGENT_LC_LIBS.
LC_INSTANCE_SRCS := libcontainer-c/instance.c $(LC_EXEC_SRCS) $(LC_CGROUP_SRCS) $(LC_SRCS)
AGENT_LC_LIBS    := $(LC_SECURITY_LIBS) $(LC_CGROUP_LIBS)

$(BUILD)/kata-agent: $(call guest_objs,$(LC_INSTANCE_SRCS))
$(BUILD)/host/kata-agent: $(call host_objs,$(LC_INSTANCE_SRCS))
