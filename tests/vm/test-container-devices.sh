#!/bin/bash
# Container storages and devices in QEMU (TCG, q35), hot-plugged over QMP by `kata-launch hotplug`: a container
# whose rootfs is an ext4 virtio-blk disk hot-plugged into the pcie-root-port (storage driver blk at
# /run/kata-containers/<cid>/rootfs, as the Kata runtime sends it); once that disk is unplugged again (the
# root port has one slot), a container on the boot disk given a second hot-plugged disk as a blk device at
# /dev/xdc: it sees the node with the guest's major:minor (as /sys/block lists it) and reads it; a device that never appears fails after the hotplug timeout with the device named while Check
# answers; after RemoveContainer nothing is left mounted.
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

. tests/lib-vm.sh
vm_require vm-container-devices jq mkfs.ext4 base64
vm_scratch cd

vm_busybox_bundle vm-container-devices "$tmp/bundle"
mkfs.ext4 -F -q -d "$tmp/bundle/rootfs" "$tmp/rootfs.img" 32M >/dev/null || { fail mkfs rootfs.img; finish; }
cp "$tmp/rootfs.img" "$tmp/boot.img"
printf DISKDATA-5678 >"$tmp/data.img" && truncate -s 1M "$tmp/data.img"

if ! "$KL" boot --name "$name" --machine q35 --accel auto --console-log "$console" --disk "$tmp/boot.img" \
	--append "agent.hotplug_timeout=2" >"$tmp/boot.out" 2>"$tmp/boot.err"; then
	fail boot "$(cat "$tmp/boot.out" "$tmp/boot.err")"
	finish
fi
pass boot

R=/run/kata-containers
spec() {
	local args=$1 root=$2 devs=${3:-[]}
	cat <<JSON
{"Version":"1.0.2",
 "Process":{"Terminal":false,"User":{"UID":0,"GID":0},"Args":$args,"Env":["PATH=/bin:/sbin:/usr/bin"],"Cwd":"/"},
 "Root":{"Path":"$root"},
 "Mounts":[{"destination":"/proc","type":"proc","source":"proc"},
   {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755","size=65536k"]},
   {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}],
 "Linux":{"Namespaces":[{"Type":"pid"},{"Type":"mount"},{"Type":"ipc"},{"Type":"uts"},{"Type":"network"},{"Type":"cgroup"}],
   "Devices":$devs}}
JSON
}
blk_storage() { echo '{"driver":"blk","source":"'"$1"'","fstype":"ext4","options":["rw"],"mount_point":"'"$2"'"}'; }
read_all() {
	local out d
	while :; do
		out=$(ctl --timeout 30 ReadStdout '{"container_id":"'"$1"'","exec_id":"'"$1"'","len":65536}') || return 1
		d=$(jq -r '.data // ""' <<<"$out")
		[ -z "$d" ] && return 0
		base64 -d <<<"$d"
	done
}
wait_status() { ctl WaitProcess '{"container_id":"'"$1"'","exec_id":"'"$1"'"}' | jq -r '.status // 0'; }
# The mount point is gone from the guest when GetVolumeStats no longer finds it.
unmounted() {
	local out
	out=$(ctl GetVolumeStats '{"volume_guest_path":"'"$2"'"}')
	grep -q '^error: NOT_FOUND' <<<"$out" && pass "$1" || fail "$1" "$out"
}

ok create-sandbox CreateSandbox '{"hostname":"devpod","sandbox_id":"devsb"}'

# A device that never appears: DEADLINE_EXCEEDED naming it, Check answers meanwhile.
ctl CreateContainer '{"container_id":"never","OCI":'"$(spec '["true"]' "$R/never/rootfs")"',
	"storages":['"$(blk_storage 01/00 "$R/never/rootfs")"']}' >"$tmp/never.out" &
waiter=$!
sleep 0.7
out=$(ctl Check)
grep -q SERVING <<<"$out" && pass check-answers-during-device-wait || fail check-answers-during-device-wait "$out"
wait $waiter
grep -q '^error: DEADLINE_EXCEEDED: storages\[0\]: timeout after 2\.[0-9]* s waiting for block device at PCI path 01/00' "$tmp/never.out" &&
	pass absent-device-times-out-named || fail absent-device-times-out-named "$(cat "$tmp/never.out")"
unmounted absent-device-left-nothing "$R/never/rootfs"

# The rootfs disk, hot-plugged: the container runs from it.
out=$(hp blk-add rootdisk "$tmp/rootfs.img")
rootpci=${out#pci_path=}
[ -n "$rootpci" ] && [ "$rootpci" != "$out" ] && pass hotplug-rootfs-disk || { fail hotplug-rootfs-disk "$out"; finish; }
out=$(ctl CreateContainer '{"container_id":"c1","OCI":'"$(spec '["sh","-c","ls /bin/busybox"]' "$R/c1/rootfs")"',
	"storages":['"$(blk_storage "$rootpci" "$R/c1/rootfs")"']}')
[ $? = 0 ] && pass create-with-hotplugged-rootfs || fail create-with-hotplugged-rootfs "$out"
ok start-c1 StartContainer '{"container_id":"c1"}'
v=$(read_all c1)
[ "$v" = /bin/busybox ] && pass rootfs-from-hotplugged-disk || fail rootfs-from-hotplugged-disk "$v"
[ "$(wait_status c1)" = 0 ] && pass c1-exit-0 || fail c1-exit-0 "status"
ok remove-c1 RemoveContainer '{"container_id":"c1"}'
unmounted rootfs-unmounted-after-remove "$R/c1/rootfs"
out=$(hp blk-del rootdisk)
[ $? = 0 ] && pass unplug-rootfs-disk || fail unplug-rootfs-disk "$out"

# The boot disk (PCI path 05) as the rootfs, the hot-plugged data disk as /dev/xdc.
out=$(hp blk-add datadisk "$tmp/data.img")
datapci=${out#pci_path=}
[ -n "$datapci" ] && [ "$datapci" != "$out" ] && pass hotplug-data-disk || { fail hotplug-data-disk "$out"; finish; }
out=$(ctl --timeout 60 CreateContainer '{"container_id":"c2","OCI":'"$(spec '["sh","-c","mm=$(stat -c %t:%T /dev/xdc); echo $mm; for d in /sys/block/*/dev; do IFS=: read a b <$d; [ $(printf %x:%x $a $b) = $mm ] && echo listed; done; head -c 13 /dev/xdc; echo"]' \
	"$R/c2/rootfs" '[{"Path":"/dev/xdc","Type":"b","Major":8,"Minor":32,"FileMode":432}]')"',
	"storages":['"$(blk_storage 05 "$R/c2/rootfs")"'],
	"devices":[{"type":"blk","id":"'"$datapci"'","container_path":"/dev/xdc"}]}')
[ $? = 0 ] && pass create-with-blk-device || fail create-with-blk-device "$out"
ok start-c2 StartContainer '{"container_id":"c2"}'
v=$(read_all c2 | tr -d '\0')
[ "$(sed -n 1p <<<"$v")" != 8:20 ] && [ "$(sed -n 2p <<<"$v")" = listed ] && pass device-has-guest-major-minor ||
	fail device-has-guest-major-minor "$v"
[ "$(sed -n 3p <<<"$v")" = DISKDATA-5678 ] && pass container-reads-device || fail container-reads-device "$v"
[ "$(wait_status c2)" = 0 ] && pass c2-exit-0 || fail c2-exit-0 "status"
ok remove-c2 RemoveContainer '{"container_id":"c2"}'
unmounted boot-disk-unmounted-after-remove "$R/c2/rootfs"

ok destroy-sandbox DestroySandbox
! grep -qaE 'Kernel panic|AddressSanitizer' "$console" && pass no-panic || fail no-panic "$(grep -aE -A3 'Kernel panic' "$console")"
finish
