#!/bin/bash
# Networking under QEMU (TCG): a VM booted with a virtio-net NIC on QEMU's user-mode network (`--net user`,
# restrict=on: no packet leaves the machine), configured through `kata-launch ctl` as the Kata runtime does
# (UpdateInterface by MAC with an address, UpdateRoutes with a default gateway), then checked with
# ListInterfaces and ListRoutes; and a second NIC hot-plugged over QMP (`kata-launch hotplug net-add`) that
# an UpdateInterface by PCI devicePath, sent before the NIC exists, waits for and configures. Then `kata-launch
# run --net user`: the container sees the interface, routes and DNS kata-launch configured (and with the default
# `--net none`, loopback only).
# pass/skip only print and always succeed, so `cond && pass || fail` is a safe if/else.
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

. tests/lib-vm.sh
vm_require vm-net jq
vm_scratch net
[ -n "${KEEP:-}" ] && trap - EXIT

MAC0=02:4b:4c:00:00:01 # the boot NIC of --net user (launcher/net.h)
MAC1=02:4b:4c:00:00:42

# A generous hotplug timeout: under TCG a PCIe hot-add takes a second or more to reach the driver.
if ! "$KL" boot --name "$name" --machine q35 --accel auto --console-log "$console" --net user \
	--append "agent.hotplug_timeout=30" >"$tmp/boot.out" 2>"$tmp/boot.err"; then
	fail boot "$(cat "$tmp/boot.out" "$tmp/boot.err")"
	finish
fi
pass boot-with-user-nic

ifaces() { ctl ListInterfaces; }
# iface_by_mac JSON MAC: that interface's entry, compact.
iface_by_mac() { jq -c --arg m "$2" '.Interfaces[] | select(.hwAddr == $m)' <<<"$1" 2>/dev/null; }

# The virtio-net driver is loaded with the rest of the initrd's modules after the agent serves: wait for it.
for _ in $(seq 100); do
	out=$(ifaces)
	[ -n "$(iface_by_mac "$out" $MAC0)" ] && break
	sleep 0.2
done
[ -n "$(iface_by_mac "$out" $MAC0)" ] && pass boot-nic-listed || fail boot-nic-listed "$out"

# ---- the boot NIC by MAC, as the runtime configures a pod's NIC ----
req='{"interface":{"hwAddr":"'$MAC0'","name":"pod0","mtu":1400,"IPAddresses":[{"address":"10.0.2.15","mask":"24"}]}}'
out=$(ctl UpdateInterface "$req")
[ $? = 0 ] && [ "$(jq -r .name <<<"$out")" = pod0 ] && pass update-interface-by-mac || fail update-interface-by-mac "$out"
out=$(ctl UpdateRoutes '{"routes":{"Routes":[{"dest":"10.0.2.0/24","device":"pod0","source":"10.0.2.15","scope":253},{"gateway":"10.0.2.2","device":"pod0"}]}}')
[ $? = 0 ] && jq -e '.Routes[] | select(.gateway == "10.0.2.2")' <<<"$out" >/dev/null && pass update-routes-default-gateway ||
	fail update-routes-default-gateway "$out"

got=$(iface_by_mac "$(ifaces)" $MAC0)
[ "$(jq -r '.name' <<<"$got")" = pod0 ] && [ "$(jq -r '.mtu' <<<"$got")" = 1400 ] && pass list-interfaces-name-mtu ||
	fail list-interfaces-name-mtu "$got"
[ "$(jq -c '[.IPAddresses[] | select((.family // "v4") == "v4") | "\(.address)/\(.mask)"]' <<<"$got")" = '["10.0.2.15/24"]' ] &&
	pass list-interfaces-address || fail list-interfaces-address "$got"
# raw_flags: IFF_UP (1) set.
[ $(($(jq -r '.raw_flags' <<<"$got") & 1)) = 1 ] && pass list-interfaces-up || fail list-interfaces-up "$got"

routes=$(ctl ListRoutes)
jq -e '.Routes[] | select(.dest == "0.0.0.0" and .gateway == "10.0.2.2" and .device == "pod0")' <<<"$routes" >/dev/null &&
	pass list-routes-default-gateway || fail list-routes-default-gateway "$routes"
jq -e '.Routes[] | select(.dest == "10.0.2.0/24" and .device == "pod0" and .scope == 253 and .source == "10.0.2.15")' \
	<<<"$routes" >/dev/null && pass list-routes-subnet-link-scope || fail list-routes-subnet-link-scope "$routes"

# Repeating the call changes nothing and still succeeds (the runtime retries on reconnects). The kernel
# adds the IPv6 link-local address and carrier flags on its own once the link is up: compared without them.
v4view() { jq -c '{name, mtu, hwAddr, up: (.raw_flags % 2), v4: [.IPAddresses[] | select((.family // "v4") == "v4")]}' <<<"$1"; }
out=$(ctl UpdateInterface "$req")
[ $? = 0 ] && [ "$(v4view "$(iface_by_mac "$(ifaces)" $MAC0)")" = "$(v4view "$got")" ] && pass update-interface-idempotent ||
	fail update-interface-idempotent "$out"

# ---- a NIC hot-plugged right after the call that names it by PCI path ----
# The root port is the VM's one hotplug slot; its secondary bus holds the NIC at slot 0 (`01/00` on q35 as
# kata-launch lays it out; net-add prints the path and the test checks they agree).
[ -z "$(iface_by_mac "$(ifaces)" $MAC1)" ] && pass hot-nic-absent-before || fail hot-nic-absent-before "$(ifaces)"
ctl UpdateInterface '{"interface":{"devicePath":"01/00","name":"hot0","IPAddresses":[{"address":"192.168.77.2","mask":"24"}]}}' \
	>"$tmp/hot.out" &
waiter=$!
sleep 1
c0=$(date +%s%N)
out=$(ctl Check)
c1=$(date +%s%N)
grep -q SERVING <<<"$out" && pass check-answers-while-waiting-for-nic || fail check-answers-while-waiting-for-nic "$out"
echo "Check while UpdateInterface waits: $(((c1 - c0) / 1000000)) ms"
out=$(hp net-add nic1 $MAC1)
[ $? = 0 ] && grep -qx 'pci_path=01/00' <<<"$out" && pass net-add-prints-pci-path || fail net-add-prints-pci-path "$out"
wait $waiter
rc=$?
out=$(cat "$tmp/hot.out")
[ $rc = 0 ] && [ "$(jq -r .devicePath <<<"$out" 2>/dev/null)" = 01/00 ] && pass update-interface-by-device-path-waits ||
	fail update-interface-by-device-path-waits "rc=$rc: $out"
got=$(iface_by_mac "$(ifaces)" $MAC1)
[ "$(jq -r .name <<<"$got")" = hot0 ] &&
	[ "$(jq -c '[.IPAddresses[] | select((.family // "v4") == "v4") | "\(.address)/\(.mask)"]' <<<"$got")" = '["192.168.77.2/24"]' ] &&
	pass hot-nic-configured || fail hot-nic-configured "$got"

# Now present: the same call by path answers at once.
out=$(ctl UpdateInterface '{"interface":{"devicePath":"01/00","mtu":1300}}')
[ $? = 0 ] && [ "$(iface_by_mac "$(ifaces)" $MAC1 | jq -r .mtu)" = 1300 ] && pass update-interface-by-present-device-path ||
	fail update-interface-by-present-device-path "$out"

# Bad input in the guest too: a path that is no PCI path, a bridge that does not exist.
out=$(ctl UpdateInterface '{"interface":{"devicePath":"01/zz"}}')
grep -q '^error: INVALID_ARGUMENT: interface.devicePath: `01/zz` is not a PCI path' <<<"$out" && pass bad-device-path ||
	fail bad-device-path "$out"
out=$(ctl UpdateInterface '{"interface":{"devicePath":"09/00"}}')
grep -q '^error: NOT_FOUND: interface.devicePath 09/00: PCI bridge' <<<"$out" && pass device-path-missing-bridge ||
	fail device-path-missing-bridge "$out"

out=$(hp net-del nic1)
[ $? = 0 ] && pass net-del || fail net-del "$out"
for _ in $(seq 50); do
	[ -z "$(iface_by_mac "$(ifaces)" $MAC1)" ] && break
	sleep 0.2
done
[ -z "$(iface_by_mac "$(ifaces)" $MAC1)" ] && pass hot-nic-gone || fail hot-nic-gone "$(ifaces)"
out=$(hp net-add bad0 01:00:00:00:00:01)
[ $? = 1 ] && grep -q 'not a unicast' <<<"$out" && pass net-add-refuses-multicast-mac || fail net-add-refuses-multicast-mac "$out"

# The console is a serial port: its lines arrive late, so the log is read last. It shows the call was pending
# before the NIC existed.
grep -aq '"msg":"UpdateInterface: waiting up to 30000 ms for a network interface at PCI path 01/00' "$console" &&
	grep -aq '"msg":"UpdateInterface: the NIC at PCI path 01/00 came after' "$console" && pass device-path-call-was-pending ||
	fail device-path-call-was-pending "$(grep -a 'PCI path' "$console")"

out=$(ctl DestroySandbox)
[ $? = 0 ] && pass destroy-sandbox || fail destroy-sandbox "$out"
! grep -qaE 'Kernel panic|AddressSanitizer' "$console" && pass no-panic || fail no-panic "$(grep -aE -A3 'Kernel panic' "$console")"
"$KL" stop "$name" >/dev/null 2>&1

# ---- kata-launch run --net ----
if ! tests/data/lcrun/make-bundle.sh "$tmp/bundle" >/dev/null 2>&1; then
	skip run-net "no static busybox for a bundle (apt-get install busybox-static)"
	finish
fi
show='ip -o -4 addr show; ip route; cat /etc/resolv.conf'
out=$(timeout 120 "$KL" run --net user "$tmp/bundle" -- sh -c "$show" </dev/null 2>"$tmp/run.err")
rc=$?
[ $rc = 0 ] && pass run-net-user-exit-0 || fail run-net-user-exit-0 "rc=$rc: $(cat "$tmp/run.err")"
grep -q '^2: eth0 *inet 10\.0\.2\.15/24 ' <<<"$out" && pass run-net-user-container-sees-address ||
	fail run-net-user-container-sees-address "$out"
grep -q '^default via 10\.0\.2\.2 dev eth0' <<<"$out" && grep -q '^10\.0\.2\.0/24 dev eth0 .*src 10\.0\.2\.15' <<<"$out" &&
	pass run-net-user-container-sees-routes || fail run-net-user-container-sees-routes "$out"
grep -qx 'nameserver 10\.0\.2\.3' <<<"$out" && pass run-net-user-container-sees-dns || fail run-net-user-container-sees-dns "$out"

out=$(timeout 120 "$KL" run "$tmp/bundle" -- sh -c 'ip -o link; ip route' </dev/null 2>"$tmp/run.err")
rc=$?
[ $rc = 0 ] && [ "$(grep -c '^[0-9]*: ' <<<"$out")" = 1 ] && grep -q '^1: lo' <<<"$out" && ! grep -q default <<<"$out" &&
	pass run-net-none-loopback-only || fail run-net-none-loopback-only "rc=$rc: $out $(cat "$tmp/run.err")"

out=$("$KL" run --net bogus "$tmp/bundle" 2>&1 </dev/null)
[ $? = 2 ] && grep -qF 'invalid value `bogus` for --net' <<<"$out" && pass run-net-bad-value || fail run-net-bad-value "$out"
left=$(find "$KATA_LAUNCH_STATE_DIR" -mindepth 1 -maxdepth 1 -type d -name 'run-*' 2>/dev/null)
[ -z "$left" ] && pass run-vms-gone || fail run-vms-gone "$left"
finish
