# netconfig: the rtnetlink client and the link/address/route/neighbour operations. Linked into the agent
# (appended to AGENT_SRCS), so this fragment must be included before agent/module.mk.
NETCONFIG_SRCS := netconfig/netlink.c netconfig/dump.c netconfig/inet.c netconfig/link.c netconfig/addr.c \
	netconfig/route.c netconfig/neigh.c

UNIT_TESTS += netconfig
test-netconfig_SRCS := tests/unit/test-netconfig.c $(NETCONFIG_SRCS) $(COMMON_SRCS)

fuzz-netlink_SRCS := fuzz/fuzz-netlink.c $(NETCONFIG_SRCS) $(COMMON_SRCS)
