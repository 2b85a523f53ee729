#!/bin/bash
# The sandbox RPCs that change the whole machine, in QEMU only: kata-launch boots build/vmlinux +
# build/initrd.img with the agent as PID 1, then CreateSandbox (hostname, DNS over the guest's
# /etc/resolv.conf, the sandbox shm, kernel modules through the agent's own loader), SetGuestDateTime,
# ReseedRandomDev, GetMetrics, DestroySandbox, and the guest powers itself off.
# pass/skip only print and always succeed, so `cond && pass || fail` is a safe if/else; the backticks in
# greps are literal; cleanup runs from the EXIT trap (tests/lib-vm.sh).
# shellcheck disable=SC2015,SC2016,SC2317
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch
MACHINE=${MACHINE:-q35}

. tests/lib-vm.sh
vm_require vm-sandbox jq base64
vm_scratch sb

# The production initrd has no /etc/resolv.conf, so the DNS bind (made only over an existing file) would not
# happen: append a cpio that adds one (the kernel unpacks concatenated archives in order).
initrd=$BUILD/initrd.img
dns_expect="dns written"
if command -v cpio >/dev/null; then
	mkdir -p "$tmp/extra/etc"
	echo "nameserver 192.0.2.1" >"$tmp/extra/etc/resolv.conf"
	(cd "$tmp/extra" && find etc | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$tmp/extra.cpio.gz"
	cat "$BUILD/initrd.img" "$tmp/extra.cpio.gz" >"$tmp/initrd.img"
	initrd=$tmp/initrd.img
	dns_expect="dns bound over /etc/resolv.conf"
else
	skip dns-bind "cpio is not installed: the guest has no /etc/resolv.conf to bind over"
fi

# A host directory shared over virtio-9p (tag kataShared), mounted by the 9p storage driver.
mkdir -p "$tmp/share"
echo from-host >"$tmp/share/host-file"

if ! "$KL" boot --name "$name" --initrd "$initrd" --share "$tmp/share" --machine "$MACHINE" --accel auto --console-log "$console" >"$tmp/boot.out" 2>"$tmp/boot.err"; then
	fail boot "$(cat "$tmp/boot.out" "$tmp/boot.err")"
	finish
fi
pass boot
qemu_pid=$(cat "$KATA_LAUNCH_STATE_DIR/$name/qemu.pid" 2>/dev/null)

R=/run/kata-containers

# A module nobody provides fails the whole request, which leaves nothing behind.
out=$(ctl CreateSandbox '{"hostname":"never","kernel_modules":[{"name":"no_such_module"}],
	"storages":[{"driver":"ephemeral","source":"shm","fstype":"tmpfs","options":["size=1m"],"mount_point":"'$R'/sandbox/never"}]}')
rc=$?
[ "$rc" = 1 ] && grep -q '^error: NOT_FOUND: kernel_modules: .*no_such_module' <<<"$out" && pass missing-module-not-found ||
	fail missing-module-not-found "rc=$rc: $out"
out=$(ctl GetVolumeStats '{"volume_guest_path":"'$R'/sandbox/never"}')
grep -q '^error: NOT_FOUND' <<<"$out" && pass failed-create-left-nothing || fail failed-create-left-nothing "$out"

# virtio_rng is in the initrd; spelled with a dash, with a parameter the module does not know (the kernel
# warns and loads it anyway): the name is resolved as modprobe does, and a live module keeps its parameters.
req='{"hostname":"vm-pod","sandbox_id":"vm-sb","dns":["nameserver 10.1.2.3","search svc.example"],
	"kernel_modules":[{"name":"virtio-rng","parameters":["kata_test=1"]},{"name":"vsock_loopback"}],
	"storages":[{"driver":"ephemeral","source":"shm","fstype":"tmpfs","options":["noexec","nosuid","nodev","mode=1777","size=67108864"],"mount_point":"'$R'/sandbox/shm"},
	  {"driver":"9p","source":"kataShared","fstype":"9p","options":["trans=virtio","version=9p2000.L","cache=mmap","nodev","msize=8192"],"mount_point":"'$R'/shared/containers"}]}'
out=$(ctl CreateSandbox "$req")
rc=$?
[ "$rc" = 0 ] && pass create-sandbox || fail create-sandbox "rc=$rc: $out"
line=$(grep -a 'sandbox `vm-sb` created' "$console")
grep -qF "hostname \`vm-pod\`, 2 storages mounted, 2 kernel modules, $dns_expect" <<<"$line" &&
	pass create-sandbox-logged || fail create-sandbox-logged "${line:-no log line}"
out=$(ctl GetVolumeStats '{"volume_guest_path":"'$R'/sandbox/shm"}')
[ "$(jq -r '.usage[] | select(.unit=="BYTES") | .total' <<<"$out")" = 67108864 ] && pass sandbox-shm-mounted ||
	fail sandbox-shm-mounted "$out"
for p in sandbox/resolv.conf sandbox/ns/ipc sandbox/ns/uts; do
	out=$(ctl GetVolumeStats '{"volume_guest_path":"'$R/$p'"}')
	[ "$(jq -r '.usage | length' <<<"$out" 2>/dev/null)" = 2 ] && pass "exists-$p" || fail "exists-$p" "$out"
done
# The 9p share: a host file is seen, and CopyFile writes through it to the host.
out=$(ctl GetVolumeStats '{"volume_guest_path":"'$R'/shared/containers/host-file"}')
[ "$(jq -r '.usage | length' <<<"$out" 2>/dev/null)" = 2 ] && pass 9p-share-host-file-seen || fail 9p-share-host-file-seen "$out"
out=$(ctl CopyFile '{"path":"'$R'/shared/containers/c1/from-guest","file_size":8,"file_mode":'$((0100644))',"data":"'"$(printf from-vm\\n | base64 -w0)"'"}')
[ "$(cat "$tmp/share/c1/from-guest" 2>&1)" = from-vm ] && pass 9p-share-copy-file-reaches-host ||
	fail 9p-share-copy-file-reaches-host "$out; $(ls -lR "$tmp/share" 2>&1)"
out=$(ctl RemoveStaleVirtiofsShareMounts)
[ $? = 0 ] && pass remove-stale-share-mounts || fail remove-stale-share-mounts "$out"

out=$(ctl CreateSandbox '{}')
grep -q '^error: ALREADY_EXISTS' <<<"$out" && pass second-create-already-exists || fail second-create-already-exists "$out"

# Time: a date well after now; the agent's log lines carry the guest clock.
target=2000000000
out=$(ctl SetGuestDateTime '{"Sec":'$target',"Usec":250000}')
rc=$?
[ "$rc" = 0 ] && pass set-guest-date-time || fail set-guest-date-time "rc=$rc: $out"

seed=$(head -c 512 /dev/urandom | base64 -w0)
out=$(ctl ReseedRandomDev '{"data":"'"$seed"'"}')
rc=$?
[ "$rc" = 0 ] && pass reseed-random-dev || fail reseed-random-dev "rc=$rc: $out"

m=$(ctl GetMetrics | jq -r .metrics)
bad=$(grep -v '^#' <<<"$m" | grep -cvE '^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9.]+$')
if [ "$bad" = 0 ] && grep -q '^kata_agent_total_rss [1-9]' <<<"$m" && grep -q '^kata_guest_meminfo{item="MemTotal"} [1-9]' <<<"$m" &&
	grep -q '^kata_guest_cpu_time{cpu="cpu0",item="idle"}' <<<"$m" && grep -q '^kata_guest_load{item="load1"}' <<<"$m" &&
	grep -q '^kata_guest_netdev_stat{interface="lo",item="recv_bytes"}' <<<"$m"; then
	pass get-metrics
	echo "  $(grep -vc '^#' <<<"$m") metric lines, $(wc -c <<<"$m") bytes"
else
	fail get-metrics "$bad malformed: $(head -c 500 <<<"$m")"
fi

out=$(ctl DestroySandbox)
rc=$?
[ "$rc" = 0 ] && pass destroy-sandbox || fail destroy-sandbox "rc=$rc: $out"
t=$(grep -a '"msg":"DestroySandbox' "$console" | tail -n 1 | jq -r '.time|floor' 2>/dev/null)
[ -n "$t" ] && [ "$t" -ge "$target" ] && [ "$t" -lt $((target + 3600)) ] && pass guest-clock-was-set ||
	fail guest-clock-was-set "DestroySandbox logged at ${t:-?}, set to $target"

# As PID 1, DestroySandbox powers the guest off by itself.
for _ in $(seq 100); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$qemu_pid" 2>/dev/null && pass powers-off-after-destroy || fail powers-off-after-destroy "QEMU still running"
grep -q 'reboot: Power down' "$console" && pass clean-power-off ||
	fail clean-power-off "no 'reboot: Power down' in $(tail -n 5 "$console")"
! grep -qE 'Kernel panic|teardown: ' "$console" && pass no-panic-no-teardown-error ||
	fail no-panic-no-teardown-error "$(grep -E -A3 'Kernel panic|teardown: ' "$console")"
grep -a -e "parameters \`kata_test=1\` not applied" -e "virtio_rng: unknown parameter" "$console" | head -n 2 | sed "s/^/  /"
finish
