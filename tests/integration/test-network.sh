#!/bin/bash
# The network RPCs against the standalone agent (ASan+UBSan host build) running inside a network namespace
# this test creates, with veth pairs (and a dummy link when the kernel has the driver) in it. Every RPC goes
# through `kata-launch ctl`; results are checked against `ip -j`. Nothing here touches the host's own links
# and no packet leaves the namespace (both ends of every veth pair are inside it).
. tests/lib.sh
BUILD=${BUILD:-build}
AGENT=$BUILD/host/kata-agent
LAUNCH=$BUILD/kata-launch

if [ "$(id -u)" != 0 ]; then skip "network" "needs root to create a network namespace"; exit 77; fi
for tool in ip jq; do
	command -v "$tool" >/dev/null || { skip "network" "$tool is not installed (iproute2, jq)"; exit 77; }
done
for bin in "$AGENT" "$BUILD/kata-agent" "$LAUNCH"; do
	[ -x "$bin" ] || { fail "network" "$bin is missing"; finish; }
done

NS=kc-net-$$
dir=$(mktemp -d)
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
if ! ip netns add "$NS" 2>"$dir/err"; then skip "network" "ip netns add: $(cat "$dir/err")"; exit 77; fi
nsx() { ip netns exec "$NS" "$@"; }
nip() { ip -n "$NS" "$@"; }

# DAD off, so IPv6 addresses are final at once and snapshots do not drift while the test runs.
nsx sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 >/dev/null 2>&1
nip link add nic0 address 02:00:00:aa:00:01 type veth peer name peer0 address 02:00:00:aa:00:02
nip link add nic1 address 02:00:00:bb:00:01 type veth peer name peer1 address 02:00:00:bb:00:02
nip link add cl0 address 02:00:00:cc:00:01 type veth peer name cl1 address 02:00:00:cc:00:02
if nip link add dum0 address 02:00:00:dd:00:01 type dummy 2>/dev/null; then extra=dum0; else
	# This kernel has no dummy driver: a bridge without ports is the same kind of lone link.
	nip link add dum0 address 02:00:00:dd:00:01 type bridge; extra="dum0 (a bridge: no dummy driver)"
fi
nip link set peer0 up; nip link set peer1 up; nip link set cl1 up
echo "namespace $NS: nic0/peer0, nic1/peer1, cl0/cl1 veth pairs, $extra"

sock=$dir/agent.sock
# Not through nsx: $! must be the agent itself (ip netns exec execs it), for the SIGTERM at the end.
ip netns exec "$NS" "$AGENT" --server-addr "unix://$sock" --log-level debug 2>"$dir/agent.log" &
agent_pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

# ctl METHOD JSON: the response on stdout; ctl_err METHOD JSON: expects a failure, prints "CODE: message".
ctl() { "$LAUNCH" ctl "unix://$sock" "$@" 2>"$dir/ctl.err"; }
ctl_err() {
	if "$LAUNCH" ctl "unix://$sock" "$@" >/dev/null 2>"$dir/ctl.err"; then echo "succeeded"; return; fi
	# A failure without an RPC status (a crash, a dropped connection) shows whatever ctl printed.
	grep -q '^error: ' "$dir/ctl.err" && sed -n 's/^error: //p' "$dir/ctl.err" || echo "raw: $(head -c 400 "$dir/ctl.err")"
}
# The whole configuration of the namespace, canonical; permanent neighbours only (the kernel adds and ages
# the others on its own).
snapshot() {
	{
		nip -j link show | jq -S -c '[.[] | {ifname, address, mtu, flags}]'
		nip -j addr show | jq -S -c '[.[] | {ifname, addr_info: [.addr_info[] | {local, prefixlen}]}]'
		nip -j route show table main | jq -S -c .
		nip -6 -j route show table main | jq -S -c .
		nip -j neigh show nud permanent | jq -S -c .
	} 2>&1
}
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "want [$2], got [$3]"; fi; }
expect_contains() { case $3 in *"$2"*) pass "$1" ;; *) fail "$1" "want [$2] in [$3]" ;; esac; }
# bad NAME CODE-PREFIX METHOD JSON: the call fails with that code and the configuration is as before.
bad() {
	local name=$1 want=$2; shift 2
	local before after got
	before=$(snapshot)
	got=$(ctl_err "$@")
	after=$(snapshot)
	case $got in "$want"*) ;; *) fail "$name" "want [$want...], got [$got]"; return ;; esac
	if [ "$before" != "$after" ]; then fail "$name" "configuration changed: $(diff <(echo "$before") <(echo "$after") | head -n 6)"
	else pass "$name: $got"; fi
}

if ctl ListInterfaces >"$dir/ifs.json"; then
	got=$(jq -r '[.Interfaces[].name] | sort | join(" ")' "$dir/ifs.json")
	expect "ListInterfaces: the namespace's links only" "cl0 cl1 dum0 lo nic0 nic1 peer0 peer1" "$got"
else fail "ListInterfaces" "$(cat "$dir/ctl.err")"; fi

# ---- the host's order: interfaces, then routes, then neighbours ----
IF0='{"interface":{"hwAddr":"02:00:00:aa:00:01","name":"eth0","mtu":1400,"IPAddresses":[
  {"family":0,"address":"10.10.0.2","mask":"24"},{"family":1,"address":"fd10::2","mask":"64"}]}}'
IF1='{"interface":{"hwAddr":"02:00:00:bb:00:01","mtu":1500,"raw_flags":128,"IPAddresses":[
  {"address":"10.11.0.2","mask":"16"}]}}'
ROUTES='{"routes":{"Routes":[
  {"dest":"0.0.0.0/0","gateway":"10.10.0.1","device":"eth0"},
  {"dest":"10.30.0.0/16","gateway":"10.10.0.1","device":"eth0","source":"10.10.0.2"},
  {"dest":"10.20.0.0/16","device":"eth0","scope":253,"mtu":1300},
  {"dest":"::/0","gateway":"fd10::1","device":"eth0","family":1},
  {"dest":"fd20::/64","device":"eth0","family":1,"mtu":1280}]}}'
NEIGH='{"neighbors":{"ARPNeighbors":[
  {"toIPAddress":{"address":"10.10.0.1"},"device":"eth0","lladdr":"02:00:00:aa:00:02"},
  {"toIPAddress":{"family":1,"address":"fd10::1"},"device":"eth0","lladdr":"02:00:00:aa:00:02"}]}}'

if ctl UpdateInterface "$IF0" >"$dir/r.json"; then
	expect "UpdateInterface echoes the interface" "eth0 02:00:00:aa:00:01 2" \
		"$(jq -r '"\(.name) \(.hwAddr) \(.IPAddresses | length)"' "$dir/r.json")"
	got=$(nip -j addr show dev eth0 | jq -r '.[0] | "\(.address) \(.mtu) \(.flags | index("UP") != null) " +
		([.addr_info[] | select(.scope == "global") | "\(.local)/\(.prefixlen)"] | sort | join(","))')
	expect "UpdateInterface: found by MAC, renamed, mtu, up, IPv4 and IPv6 addresses" \
		"02:00:00:aa:00:01 1400 true 10.10.0.2/24,fd10::2/64" "$got"
else fail "UpdateInterface (IPv4 and IPv6)" "$(cat "$dir/ctl.err")"; fi
if ctl UpdateInterface "$IF1" >/dev/null; then
	got=$(nip -j link show dev nic1 | jq -r '.[0].flags | index("NOARP") != null')
	expect "UpdateInterface: raw_flags IFF_NOARP, name kept" "true" "$got"
else fail "UpdateInterface (NOARP)" "$(cat "$dir/ctl.err")"; fi

if ctl UpdateRoutes "$ROUTES" >"$dir/routes.json"; then
	got=$(nip -j route show table main | jq -r '[.[] | select(.dst == "default" or .dst == "10.30.0.0/16" or
		.dst == "10.20.0.0/16") | "\(.dst) \(.gateway // "-") \(.dev) \(.prefsrc // "-") \(.scope // "-") " +
		"\((.metrics // [{}])[0].mtu // "-")"] | sort | join("; ")')
	expect "UpdateRoutes: IPv4 default, gateway with preferred source, link scope with mtu" \
		"10.20.0.0/16 - eth0 - link 1300; 10.30.0.0/16 10.10.0.1 eth0 10.10.0.2 - -; default 10.10.0.1 eth0 - - -" "$got"
	got=$(nip -6 -j route show table main | jq -r '[.[] | select(.dst == "default" or .dst == "fd20::/64") |
		"\(.dst) \(.gateway // "-") \(.dev) \((.metrics // [{}])[0].mtu // "-")"] | sort | join("; ")')
	expect "UpdateRoutes: IPv6 default and a route with mtu" "default fd10::1 eth0 -; fd20::/64 - eth0 1280" "$got"
	ctl ListRoutes >"$dir/list.json"
	expect "UpdateRoutes answers the full ListRoutes" "$(jq -S -c . "$dir/list.json")" "$(jq -S -c . "$dir/routes.json")"
	got=$(jq -r '[.Routes[] | .family // "v4"] | (index("v6") // length) as $i | .[$i:] | all(. == "v6")' "$dir/list.json")
	expect "ListRoutes: IPv4 first, then IPv6" "true" "$got"
	got=$(jq -r '[.Routes[] | select(.gateway == "10.10.0.1" and .dest == "0.0.0.0") | .device] | join(",")' "$dir/list.json")
	expect "ListRoutes: the default gateway route reads 0.0.0.0 via 10.10.0.1" "eth0" "$got"
	n_ip=$( (nip -j route show table main; nip -6 -j route show table main) | jq -s 'map(length) | add')
	expect "ListRoutes: as many routes as ip -j shows in the main table" "$n_ip" "$(jq '.Routes | length' "$dir/list.json")"
else fail "UpdateRoutes" "$(cat "$dir/ctl.err")"; fi

if ctl AddARPNeighbors "$NEIGH" >/dev/null; then
	got=$(nip -j neigh show dev eth0 nud permanent | jq -r '[.[] | "\(.dst) \(.lladdr)"] | sort | join("; ")')
	expect "AddARPNeighbors: permanent IPv4 and IPv6 entries" \
		"10.10.0.1 02:00:00:aa:00:02; fd10::1 02:00:00:aa:00:02" "$got"
else fail "AddARPNeighbors" "$(cat "$dir/ctl.err")"; fi

if ctl ListInterfaces >"$dir/ifs.json"; then
	got=$(jq -r '.Interfaces[] | select(.name == "eth0") | "\(.hwAddr) \(.mtu) " +
		([.IPAddresses[] | "\(.family // "v4"):\(.address)/\(.mask)"] | map(select(startswith("v4") or
		(contains("fe80") | not))) | sort | join(","))' "$dir/ifs.json")
	expect "ListInterfaces: eth0 as ip shows it" "02:00:00:aa:00:01 1400 v4:10.10.0.2/24,v6:fd10::2/64" "$got"
	want=$(nip -j addr show | jq -r '[.[] | .ifname as $n | .addr_info[] | "\($n) \(.local)/\(.prefixlen)"] | sort | join(";")')
	got=$(jq -r '[.Interfaces[] | .name as $n | (.IPAddresses // [])[] | "\($n) \(.address)/\(.mask)"] | sort | join(";")' "$dir/ifs.json")
	expect "ListInterfaces: every address ip -j shows" "$want" "$got"
else fail "ListInterfaces after configuration" "$(cat "$dir/ctl.err")"; fi

# ---- idempotence ----
before=$(snapshot)
ok=1
for call in "UpdateInterface:$IF0" "UpdateInterface:$IF1" "UpdateRoutes:$ROUTES" "AddARPNeighbors:$NEIGH"; do
	ctl "${call%%:*}" "${call#*:}" >/dev/null || { ok=0; fail "repeat ${call%%:*}" "$(cat "$dir/ctl.err")"; }
done
after=$(snapshot)
if [ "$ok" = 1 ]; then
	if [ "$before" = "$after" ]; then pass "idempotence: the same calls again change nothing (ip -j before = after)"
	else fail "idempotence" "$(diff <(echo "$before") <(echo "$after") | head -n 10)"; fi
fi

# ---- the rename clash: cl0 is asked to become cl1, which exists ----
if ctl UpdateInterface '{"interface":{"hwAddr":"02:00:00:cc:00:01","name":"cl1","IPAddresses":[{"address":"10.12.0.2","mask":"24"}]}}' >/dev/null; then
	got=$(nip -j link show | jq -r '[.[] | select(.address | startswith("02:00:00:cc")) | "\(.address)=\(.ifname):\(.flags | index("UP") != null)"] | sort | join(" ")')
	expect "rename clash: the other link moves aside and takes the old name, up again" \
		"02:00:00:cc:00:01=cl1:true 02:00:00:cc:00:02=cl0:true" "$got"
	expect "rename clash: no _temp link left" "0" "$(nip -j link show | jq '[.[] | select(.ifname | endswith("_temp"))] | length')"
else fail "rename clash" "$(cat "$dir/ctl.err")"; fi

# ---- bad input: an error naming the field or the kernel's message, and the configuration as before ----
bad "bad prefix length" 'INVALID_ARGUMENT: interface.IPAddresses[1].mask: "33" is not a prefix length for IPv4' \
	UpdateInterface '{"interface":{"hwAddr":"02:00:00:aa:00:01","IPAddresses":[{"address":"10.10.0.9","mask":"24"},{"address":"10.10.0.10","mask":"33"}]}}'
bad "bad address" 'INVALID_ARGUMENT: interface.IPAddresses[0].address' \
	UpdateInterface '{"interface":{"hwAddr":"02:00:00:aa:00:01","IPAddresses":[{"address":"10.10.0.300","mask":"24"}]}}'
bad "bad MAC" 'INVALID_ARGUMENT: interface.hwAddr: "02:00:zz:aa:00:01"' \
	UpdateInterface '{"interface":{"hwAddr":"02:00:zz:aa:00:01"}}'
bad "unknown MAC" 'NOT_FOUND: interface.hwAddr: no link with hardware address 02:00:00:ee:00:01' \
	UpdateInterface '{"interface":{"hwAddr":"02:00:00:ee:00:01","IPAddresses":[{"address":"10.10.0.9","mask":"24"}]}}'
bad "devicePath that is no PCI path" 'INVALID_ARGUMENT: interface.devicePath: `/00.0/03.0` is not a PCI path' \
	UpdateInterface '{"interface":{"devicePath":"/00.0/03.0"}}'
bad "devicePath through a bridge that does not exist" 'NOT_FOUND: interface.devicePath 1f.7/00: PCI bridge' \
	UpdateInterface '{"interface":{"devicePath":"1f.7/00","IPAddresses":[{"address":"10.10.0.9","mask":"24"}]}}'
# A NIC that never comes: the call waits (as for a NIC hot-plugged just before it) while the agent keeps
# serving, then DEADLINE_EXCEEDED naming the path after agent.hotplug_timeout (3 s by default).
t0=$(date +%s%N)
ctl_err UpdateInterface '{"interface":{"devicePath":"1f.7","IPAddresses":[{"address":"10.10.0.9","mask":"24"}]}}' \
	>"$dir/never.out" &
never=$!
sleep 1
c0=$(date +%s%N)
got=$(ctl Check)
c1=$(date +%s%N)
case $got in *SERVING*) [ $(((c1 - c0) / 1000000)) -lt 1000 ] && pass "Check answers while UpdateInterface waits for a NIC" ||
	fail "Check answers while UpdateInterface waits for a NIC" "after $(((c1 - c0) / 1000000)) ms" ;;
*) fail "Check answers while UpdateInterface waits for a NIC" "$got" ;; esac
wait $never
el=$((($(date +%s%N) - t0) / 1000000))
got=$(cat "$dir/never.out")
case $got in "DEADLINE_EXCEEDED: interface.devicePath: timeout after "*" waiting for a network interface at PCI path 1f.7 (/devices/pci0000:00/0000:00:1f.7)")
	[ "$el" -ge 2900 ] && pass "absent NIC: DEADLINE_EXCEEDED naming the path after ${el} ms" ||
		fail "absent NIC times out" "after $el ms: $got" ;;
*) fail "absent NIC times out" "after $el ms: $got" ;; esac
bad "kernel refuses the MTU: the new address is taken back" 'INVALID_ARGUMENT: interface: set eth0' \
	UpdateInterface '{"interface":{"hwAddr":"02:00:00:aa:00:01","mtu":100000,"IPAddresses":[{"address":"10.10.0.50","mask":"24"}]}}'
expect_contains "kernel's own message for the MTU" "mtu greater than device maximum" "$(cat "$dir/ctl.err")"
bad "bad route destination" 'INVALID_ARGUMENT: routes.Routes[0].dest: "10.40.0.1/16" has bits set' \
	UpdateRoutes '{"routes":{"Routes":[{"dest":"10.40.0.1/16","device":"eth0"}]}}'
bad "route on an unknown device" 'NOT_FOUND: routes.Routes[1].device: no link named "nope0"' \
	UpdateRoutes '{"routes":{"Routes":[{"dest":"10.40.0.0/16","device":"eth0"},{"dest":"10.41.0.0/16","device":"nope0"}]}}'
bad "gateway the kernel refuses: the route added before is taken back" 'INTERNAL: routes.Routes[1]: replace 10.42.0.0/16 via 10.99.0.1 dev eth0' \
	UpdateRoutes '{"routes":{"Routes":[{"dest":"10.40.0.0/16","device":"eth0"},{"dest":"10.42.0.0/16","gateway":"10.99.0.1","device":"eth0"}]}}'
expect_contains "kernel's own message for the gateway" "Nexthop has invalid gateway" "$(cat "$dir/ctl.err")"
bad "bad neighbour MAC" 'INVALID_ARGUMENT: neighbors.ARPNeighbors[0].lladdr' \
	AddARPNeighbors '{"neighbors":{"ARPNeighbors":[{"toIPAddress":{"address":"10.10.0.7"},"device":"eth0","lladdr":"02:00:0"}]}}'
bad "neighbour on an unknown device" 'NOT_FOUND: neighbors.ARPNeighbors[1].device' \
	AddARPNeighbors '{"neighbors":{"ARPNeighbors":[{"toIPAddress":{"address":"10.10.0.7"},"device":"eth0","lladdr":"02:00:00:00:00:07"},{"toIPAddress":{"address":"10.10.0.8"},"device":"nope0"}]}}'
bad "neighbour the kernel refuses: the entry added before is taken back" 'INVALID_ARGUMENT: neighbors.ARPNeighbors[1]' \
	AddARPNeighbors '{"neighbors":{"ARPNeighbors":[{"toIPAddress":{"address":"10.10.0.7"},"device":"eth0","lladdr":"02:00:00:00:00:07"},{"toIPAddress":{"address":"10.10.0.8"},"device":"eth0","lladdr":"02:00:00"}]}}'

# ---- iptables: the tools if the machine has them, FAILED_PRECONDITION otherwise ----
if [ -x /usr/sbin/iptables-save ] || [ -x /sbin/iptables-save ]; then
	if ctl GetIPTables '{}' >/dev/null; then pass "GetIPTables runs iptables-save"; else fail "GetIPTables" "$(cat "$dir/ctl.err")"; fi
else
	expect "GetIPTables without iptables-save" "FAILED_PRECONDITION: iptables-save is not installed in the guest (looked in /usr/sbin and /sbin)" \
		"$(ctl_err GetIPTables '{}')"
fi
if [ -x /usr/sbin/ip6tables-restore ] || [ -x /sbin/ip6tables-restore ]; then
	skip "SetIPTables without ip6tables-restore" "this machine has ip6tables-restore"
else
	expect_contains "SetIPTables without ip6tables-restore" "FAILED_PRECONDITION: ip6tables-restore is not installed" \
		"$(ctl_err SetIPTables '{"is_ipv6":true,"data":"KmZpbHRlcgpDT01NSVQK"}')"
fi

# ---- IPv6 off: IPv6 addresses are skipped, IPv4 ones still added ----
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
if ctl UpdateInterface '{"interface":{"hwAddr":"02:00:00:dd:00:01","IPAddresses":[{"address":"10.13.0.2","mask":"24"},{"family":1,"address":"fd13::2","mask":"64"}]}}' >/dev/null; then
	got=$(nip -j addr show dev dum0 | jq -r '[.[0].addr_info[] | "\(.local)/\(.prefixlen)"] | join(",")')
	expect "IPv6 disabled: the IPv6 address is skipped" "10.13.0.2/24" "$got"
else fail "IPv6 disabled" "$(cat "$dir/ctl.err")"; fi
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0

# ---- the static guest binary answers too ----
sock2=$dir/static.sock
ip netns exec "$NS" "$BUILD/kata-agent" --server-addr "unix://$sock2" --log-level warn 2>"$dir/static.log" &
static_pid=$!
for _ in $(seq 100); do [ -S "$sock2" ] && break; sleep 0.05; done
got=$("$LAUNCH" ctl "unix://$sock2" ListInterfaces 2>&1 | jq -r '[.Interfaces[].name] | index("eth0") != null' 2>&1)
expect "static musl agent: ListInterfaces in the namespace" "true" "$got"
kill -TERM "$static_pid"; wait "$static_pid"
expect "static musl agent: clean exit on SIGTERM" "0" "$?"

# ---- the sanitizer build leaves cleanly ----
if ! kill -0 "$agent_pid" 2>/dev/null; then
	fail "agent alive after every call" "$(tail -n 5 "$dir/agent.log")"
else
	kill -TERM "$agent_pid"
	wait "$agent_pid"
	rc=$?
	agent_pid=
	if [ "$rc" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error' "$dir/agent.log"; then pass "clean exit on SIGTERM (ASan+UBSan)"
	else fail "clean exit on SIGTERM" "exit $rc; $(grep -m3 -E 'ERROR|Sanitizer|runtime error' "$dir/agent.log")"; fi
fi
finish
