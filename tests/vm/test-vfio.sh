#!/bin/bash
# VFIO in QEMU (TCG): q35 with an emulated VT-d (`kata-launch boot --iommu`: intel-iommu with interrupt
# remapping, kernel-irqchip=split, intel_iommu=on in the guest) and QEMU's `edu` PCI device at PCI path 06
# (`--pci-device edu`). CreateContainer with a vfio-pci device (options HOST_BDF=06) has the agent rebind it to
# vfio-pci, find its IOMMU group and give /dev/vfio/<group> (path rewritten from the host's group) and
# /dev/vfio/vfio to the container, which opens both (the devices cgroup allows them). Bad input: a PCI path
# with no device times out by name.
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

. tests/lib-vm.sh
vm_require vm-vfio jq mkfs.ext4 base64
qemu-system-x86_64 -device help 2>/dev/null | grep -q '"edu"' || { skip vm-vfio "QEMU has no edu device"; exit 77; }
vm_scratch vf

vm_busybox_bundle vm-vfio "$tmp/bundle"
mkfs.ext4 -F -q -d "$tmp/bundle/rootfs" "$tmp/boot.img" 32M >/dev/null || { fail mkfs boot.img; finish; }

if ! "$KL" boot --name "$name" --machine q35 --accel auto --console-log "$console" --disk "$tmp/boot.img" \
	--iommu --pci-device edu --append "agent.hotplug_timeout=3" >"$tmp/boot.out" 2>"$tmp/boot.err"; then
	fail boot "$(cat "$tmp/boot.out" "$tmp/boot.err")"
	finish
fi
pass boot-with-iommu

R=/run/kata-containers
spec() {
	local args=$1 root=$2 devs=${3:-[]}
	cat <<JSON
{"Version":"1.0.2",
 "Process":{"Terminal":false,"User":{"UID":0,"GID":0},"Args":$args,"Env":["PATH=/bin:/sbin:/usr/bin"],"Cwd":"/"},
 "Root":{"Path":"$root"},
 "Mounts":[{"destination":"/proc","type":"proc","source":"proc"},
   {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755","size=65536k"]}],
 "Linux":{"Namespaces":[{"Type":"pid"},{"Type":"mount"},{"Type":"ipc"},{"Type":"uts"},{"Type":"network"},{"Type":"cgroup"}],
   "Devices":$devs}}
JSON
}
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
storage='{"driver":"blk","source":"05","fstype":"ext4","options":["rw"],"mount_point":"'$R'/v1/rootfs"}'
hostdev='[{"Path":"/dev/vfio/42","Type":"c","Major":511,"Minor":42,"FileMode":438}]'

ok create-sandbox CreateSandbox '{"sandbox_id":"vfsb"}'

out=$(ctl CreateContainer '{"container_id":"none","OCI":'"$(spec '["true"]' "$R/none/rootfs" "$hostdev")"',
	"devices":[{"type":"vfio-pci","container_path":"/dev/vfio/42","options":["0000:3b:00.0=07"]}]}')
grep -q '^error: DEADLINE_EXCEEDED: devices\[0\]: timeout after 3\.[0-9]* s waiting for PCI device at PCI path 07' <<<"$out" &&
	pass absent-pci-device-times-out-named || fail absent-pci-device-times-out-named "$out"

# The container lists its /dev/vfio and opens the group and the container node (EBUSY or success both
# prove the open got past the devices cgroup; EPERM would not).
out=$(ctl --timeout 60 CreateContainer '{"container_id":"v1","OCI":'"$(spec '["sh","-c","ls /dev/vfio | sort | tr \"\\n\" \" \"; echo; for f in /dev/vfio/*; do if exec 3<>$f; then echo open; else echo refused; fi 2>&1; done"]' "$R/v1/rootfs" "$hostdev")"',
	"storages":['"$storage"'],
	"devices":[{"type":"vfio-pci","container_path":"/dev/vfio/42","options":["0000:3b:00.0=06"]}]}')
[ $? = 0 ] && pass create-with-vfio-device || fail create-with-vfio-device "$out"
ok start-v1 StartContainer '{"container_id":"v1"}'
v=$(read_all v1)
first=$(sed -n 1p <<<"$v")
grep -Eq '^[0-9]+ vfio $' <<<"$first" && [ "$first" != "42 vfio " ] && pass container-has-guest-group-and-vfio ||
	fail container-has-guest-group-and-vfio "$v"
[ "$(grep -c '^open$' <<<"$v")" = 2 ] && pass container-opens-group-and-container-node || fail container-opens-group-and-container-node "$v"
[ "$(wait_status v1)" = 0 ] && pass v1-exit-0 || fail v1-exit-0 "status"
ok remove-v1 RemoveContainer '{"container_id":"v1"}'
grep -aq 'bound to vfio-pci' "$console" && pass rebind-logged || fail rebind-logged "$(grep -a vfio "$console" | tail -3)"

ok destroy-sandbox DestroySandbox
! grep -qaE 'Kernel panic|AddressSanitizer' "$console" && pass no-panic || fail no-panic "$(grep -aE -A3 'Kernel panic' "$console")"
finish
