#!/bin/bash
# Devices under QEMU (TCG), driven over QMP by `kata-launch hotplug`: an ext4 disk present at boot (coldplug)
# and one hot-plugged into the pcie-root-port, both mounted by PCI path through CreateSandbox storages (driver
# blk); bad input that fails clearly and leaves nothing mounted (unknown driver, traversal, a missing bridge, a
# device that never comes while Check keeps answering, a corrupt image); pc-dimm memory onlined as its uevent
# arrives; a CPU hot-plugged and onlined by OnlineCPUMem.
# pass/skip only print and always succeed, so `cond && pass || fail` is a safe if/else.
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

for f in "$BUILD/vmlinux" "$BUILD/initrd.img" "$KL"; do
	[ -e "$f" ] || { skip vm-hotplug "$f is missing (make all builds it)"; exit 77; }
done
for c in qemu-system-x86_64 jq mkfs.ext4; do
	command -v "$c" >/dev/null || { skip vm-hotplug "$c is not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/kl-hotplug.XXXXXX)
export KATA_LAUNCH_STATE_DIR=$tmp/state
name=hp$$
console=$tmp/console.log
cleanup() {
	"$KL" stop "$name" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT

# Images of different sizes, so each mount is recognised by its filesystem's size. No root, no loop device.
mkdir -p "$tmp/cold" "$tmp/hot"
echo cold >"$tmp/cold/boot-file"
echo hot >"$tmp/hot/hello"
mkfs.ext4 -F -q -d "$tmp/cold" "$tmp/cold.img" 24M >/dev/null || { fail mkfs "cold.img"; finish; }
mkfs.ext4 -F -q -d "$tmp/hot" "$tmp/hot.img" 16M >/dev/null || { fail mkfs "hot.img"; finish; }
truncate -s 16M "$tmp/corrupt.img" # no filesystem at all

if ! "$KL" boot --name "$name" --machine q35 --accel auto --console-log "$console" --disk "$tmp/cold.img" \
	--max-cpus 2 --max-memory 1024 --append "agent.hotplug_timeout=2" >"$tmp/boot.out" 2>"$tmp/boot.err"; then
	fail boot "$(cat "$tmp/boot.out" "$tmp/boot.err")"
	finish
fi
pass boot

ctl() { "$KL" ctl "$name" "$@" 2>&1; }
hp() { "$KL" hotplug "$name" "$@" 2>&1; }
R=/run/kata-containers
st() { ctl GetVolumeStats '{"volume_guest_path":"'"$1"'"}'; }
bytes_total() { jq -r '.usage[] | select(.unit=="BYTES") | .total' <<<"$1" 2>/dev/null; }
blk() { echo '{"driver":"blk","source":"'"$1"'","fstype":"ext4","options":["'"${3:-rw}"'"],"mount_point":"'"$2"'"}'; }
# expect NAME CODE TEXT JSON: CreateSandbox fails with that status, its message holds TEXT.
expect() {
	local out
	out=$(ctl CreateSandbox "$4")
	[ $? = 1 ] && grep -q "^error: $2: " <<<"$out" && grep -qF -- "$3" <<<"$out" && pass "$1" ||
		fail "$1" "$out"
}
left_nothing() {
	local out
	out=$(st "$2")
	grep -q '^error: NOT_FOUND' <<<"$out" && pass "$1" || fail "$1" "$out"
}

# ---- bad input: each a clear error, nothing mounted or created ----
expect unknown-driver INVALID_ARGUMENT 'storages[0].driver: unknown storage driver `floppy`' \
	'{"storages":[{"driver":"floppy","source":"/dev/fd0","fstype":"vfat","mount_point":"'$R'/sandbox/fd"}]}'
expect traversal-in-mount-point INVALID_ARGUMENT 'storages[0].mount_point' '{"storages":['"$(blk 05 "$R/../etc/x")"']}'
expect bad-pci-path INVALID_ARGUMENT 'storages[0].source' '{"storages":['"$(blk 05/zz "$R/sandbox/bad")"']}'
expect missing-bridge NOT_FOUND 'PCI path 09/00' '{"storages":['"$(blk 09/00 "$R/sandbox/nobridge")"']}'
left_nothing missing-bridge-left-nothing "$R/sandbox/nobridge"

# A device that never comes: DEADLINE_EXCEEDED after agent.hotplug_timeout=2, naming it; Check answers
# meanwhile (the wait is a pending call, not a blocking read). The coldplugged disk in the same request is not
# left mounted.
start=$(date +%s%N)
ctl CreateSandbox '{"storages":['"$(blk 05 "$R/sandbox/early" ro)"','"$(blk 01/00 "$R/sandbox/never")"']}' \
	>"$tmp/never.out" &
waiter=$!
sleep 0.7
c0=$(date +%s%N)
out=$(ctl Check)
c1=$(date +%s%N)
grep -q SERVING <<<"$out" && [ $(((c1 - c0) / 1000000)) -lt 1000 ] && pass check-answers-during-device-wait ||
	fail check-answers-during-device-wait "$out after $(((c1 - c0) / 1000000)) ms"
wait $waiter
el=$((($(date +%s%N) - start) / 1000000))
out=$(cat "$tmp/never.out")
grep -q '^error: DEADLINE_EXCEEDED: storages\[1\]: timeout after 2\.[0-9]* s waiting for block device at PCI path 01/00' <<<"$out" &&
	[ "$el" -ge 1900 ] && pass absent-device-times-out-named || fail absent-device-times-out-named "after $el ms: $out"
left_nothing absent-device-left-nothing "$R/sandbox/early"

# A disk without a filesystem: the mount fails with the device named; no directory is left.
out=$(hp blk-add bad0 "$tmp/corrupt.img")
pci=${out#pci_path=}
[ -n "$pci" ] && [ "$pci" != "$out" ] && pass hotplug-prints-pci-path || fail hotplug-prints-pci-path "$out"
expect corrupt-image-fails INVALID_ARGUMENT "mount ext4 \`/dev/" '{"storages":['"$(blk "$pci" "$R/sandbox/corrupt")"']}'
left_nothing corrupt-image-left-nothing "$R/sandbox/corrupt"
out=$(hp blk-del bad0)
[ $? = 0 ] && pass hot-unplug || fail hot-unplug "$out"

# ---- the real thing: the boot disk and a hot-plugged disk, both by PCI path ----
out=$(hp blk-add disk1 "$tmp/hot.img")
pci=${out#pci_path=}
[ "$pci" = 01/00 ] && pass hotplug-into-root-port || fail hotplug-into-root-port "$out"
out=$(ctl CreateSandbox '{"hostname":"hp","storages":['"$(blk 05 "$R/sandbox/cold" ro)"','"$(blk "$pci" "$R/sandbox/hot")"']}')
[ $? = 0 ] && pass create-sandbox-with-blk-storages || fail create-sandbox-with-blk-storages "$out"
cold=$(bytes_total "$(st "$R/sandbox/cold")")
hot=$(bytes_total "$(st "$R/sandbox/hot")")
# ext4 of 24 MiB and 16 MiB: the totals (less the metadata) tell the two filesystems apart.
[ -n "$cold" ] && [ "$cold" -gt $((20 << 20)) ] && [ "$cold" -le $((24 << 20)) ] && pass coldplug-disk-mounted-by-pci-path ||
	fail coldplug-disk-mounted-by-pci-path "total=$cold"
[ -n "$hot" ] && [ "$hot" -gt $((12 << 20)) ] && [ "$hot" -le $((16 << 20)) ] && pass hotplug-disk-mounted-by-pci-path ||
	fail hotplug-disk-mounted-by-pci-path "total=$hot"
out=$(st "$R/sandbox/hot/hello")
[ "$(jq -r '.usage | length' <<<"$out" 2>/dev/null)" = 2 ] && pass file-from-image-visible || fail file-from-image-visible "$out"
out=$(st "$R/sandbox/cold/boot-file")
[ "$(jq -r '.usage | length' <<<"$out" 2>/dev/null)" = 2 ] && pass file-from-boot-disk-visible || fail file-from-boot-disk-visible "$out"

# ---- memory: a pc-dimm comes up offline; the agent onlines its blocks as their uevents arrive ----
memtotal() { ctl GetMetrics | jq -r .metrics | sed -n 's/^kata_guest_meminfo{item="MemTotal"} //p'; }
m0=$(memtotal)
out=$(hp mem-add dimm1 128)
[ $? = 0 ] && pass memory-hotplugged || fail memory-hotplugged "$out"
for _ in $(seq 50); do
	m1=$(memtotal)
	[ -n "$m1" ] && [ "$m1" -ge $((m0 + (120 << 20))) ] && break
	sleep 0.1
done
[ -n "$m1" ] && [ "$m1" -ge $((m0 + (120 << 20))) ] && pass memory-onlined || fail memory-onlined "MemTotal $m0 -> $m1"

# ---- a CPU: present but offline until OnlineCPUMem ----
out=$(hp cpu-add)
[ $? = 0 ] && pass cpu-hotplugged || fail cpu-hotplugged "$out"
out=$(ctl OnlineCPUMem '{"wait":true,"nb_cpus":1,"cpu_only":true}')
[ $? = 0 ] && ctl GetMetrics | jq -r .metrics | grep -q '^kata_guest_cpu_time{cpu="cpu1",' && pass cpu-onlined ||
	fail cpu-onlined "$out"
# No CPU left to online: the wait ends at the deadline, not in success.
out=$(ctl OnlineCPUMem '{"wait":true,"nb_cpus":1}')
grep -q '^error: DEADLINE_EXCEEDED: timeout after 2\.[0-9]* s waiting for 1 CPUs' <<<"$out" && pass no-cpu-left-times-out ||
	fail no-cpu-left-times-out "$out"

# The console is a serial port: its lines arrive late, so the log is read last.
grep -aq '"msg":"coldplug: [1-9][0-9]* devices announced' "$console" && pass coldplug-ran ||
	fail coldplug-ran "$(grep -a coldplug "$console")"

out=$(ctl DestroySandbox)
[ $? = 0 ] && pass destroy-sandbox || fail destroy-sandbox "$out"
! grep -qaE 'Kernel panic|AddressSanitizer' "$console" && pass no-panic || fail no-panic "$(grep -aE -A3 'Kernel panic' "$console")"
finish
