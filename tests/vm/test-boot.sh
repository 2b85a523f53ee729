#!/bin/bash
# End to end under QEMU (TCG on CI): kata-launch boots build/vmlinux + build/initrd.img with the agent as init,
# calls it through the API socket multiplexer, then stops it and checks the guest powered off cleanly.
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
vm_require vm-boot jq
# A private state root keeps this test away from VMs a developer runs in /run/kata-launch.
vm_scratch t

# Errors that need no VM: a missing kernel is named.
out=$("$KL" boot --name "$name" --kernel "$tmp/nope" 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && grep -q "kernel \`$tmp/nope\`: No such file" <<<"$out"; then
	pass boot-missing-kernel
else
	fail boot-missing-kernel "rc=$rc: $out"
fi

if ! "$KL" boot --name "$name" --machine "$MACHINE" --accel auto --console-log "$console" >"$tmp/boot.out" 2>"$tmp/boot.err"; then
	fail boot "$(cat "$tmp/boot.out" "$tmp/boot.err")"
	finish
fi
if grep -Eq '^ready in [0-9]+\.[0-9]{3} s \(launch to ready\), accel (tcg|kvm)' "$tmp/boot.out"; then
	pass boot
	echo "  $(cat "$tmp/boot.out")"
else
	fail boot "unexpected output: $(cat "$tmp/boot.out")"
fi
grep -q 'accel ' "$tmp/boot.err" && pass boot-says-accel || fail boot-says-accel "$(cat "$tmp/boot.err")"

out=$("$KL" boot --name "$name" --console-log "$tmp/other.log" 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q 'already running' <<<"$out" && pass boot-refuses-duplicate ||
	fail boot-refuses-duplicate "rc=$rc: $out"

# The output alone (tests/lib-vm.sh's ctl adds stderr): replies are parsed with jq.
ctl() { "$KL" ctl "$name" "$@"; }

v=$(ctl Check | jq -r .status)
[ "$v" = SERVING ] && pass check-serving || fail check-serving "status=$v"

v=$(ctl Version | jq -r .grpc_version)
[ "$v" = 0.0.1 ] && pass version || fail version "grpc_version=$v"

details=$(ctl GetGuestDetails '{"mem_block_size":true,"memHotplugProbe":true}')
bs=$(jq -r '.mem_block_size_bytes // 0' <<<"$details")
init=$(jq -r '.agent_details.init_daemon' <<<"$details")
if [ "$bs" -gt 0 ] 2>/dev/null && [ "$init" = true ]; then
	pass guest-details
else
	fail guest-details "$details"
fi

# Two clients at once: a GetOOMEvent long poll stays pending on the one agent channel while other clients'
# calls go through; it then ends with the agent's deadline answer.
start=$(date +%s%N)
ctl --timeout 6 GetOOMEvent >"$tmp/oom.out" 2>"$tmp/oom.err" &
oom=$!
sleep 0.5
ok=1
for i in 1 2 3 4 5; do
	[ "$(ctl Check | jq -r .status)" = SERVING ] || ok=0
done
ctl Version >/dev/null || ok=0
if [ "$ok" = 1 ] && kill -0 "$oom" 2>/dev/null; then
	pass mux-calls-while-long-poll-pending
else
	fail mux-calls-while-long-poll-pending "ok=$ok, long poll alive: $(kill -0 $oom 2>&1 && echo yes)"
fi
wait "$oom"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$rc" -eq 1 ] && grep -q '^error: DEADLINE_EXCEEDED' "$tmp/oom.err" && [ "$ms" -ge 5500 ]; then
	pass long-poll-deadline
else
	fail long-poll-deadline "rc=$rc after ${ms} ms: $(cat "$tmp/oom.out" "$tmp/oom.err")"
fi

# A client that leaves with a call pending costs the others nothing; the late answer is dropped.
ctl --timeout 0 GetOOMEvent >/dev/null 2>&1 &
gone=$!
sleep 0.3
if kill "$gone" 2>/dev/null; then
	wait "$gone" 2>/dev/null
	[ "$(ctl Check | jq -r .status)" = SERVING ] && pass mux-survives-client-leaving ||
		fail mux-survives-client-leaving "Check failed after a client left"
else
	fail mux-survives-client-leaving "the long poll ended before its client was killed"
fi

# Many clients at once.
for i in $(seq 1 8); do ctl Check >"$tmp/par.$i" 2>&1 & done
wait
n=$(cat "$tmp"/par.* | grep -c SERVING)
[ "$n" -eq 8 ] && pass mux-parallel-clients || fail mux-parallel-clients "$n of 8 answered SERVING"

out=$(ctl ResizeVolume 2>&1)
rc=$?
[ "$rc" -eq 1 ] && grep -q '^error: UNIMPLEMENTED: ' <<<"$out" && pass unimplemented ||
	fail unimplemented "rc=$rc: $out"

out=$(ctl NoSuchMethod 2>&1)
[ $? -eq 2 ] && pass ctl-unknown-method || fail ctl-unknown-method "$out"
out=$(ctl GetGuestDetails '{"mem_blok_size":true}' 2>&1)
[ $? -eq 2 ] && grep -q 'unknown field `mem_blok_size`' <<<"$out" && pass ctl-unknown-field ||
	fail ctl-unknown-field "$out"

qemu_pid=$(cat "$KATA_LAUNCH_STATE_DIR/$name/qemu.pid" 2>/dev/null)
start=$(date +%s%N)
if "$KL" stop "$name"; then
	pass stop
else
	fail stop "exit $?"
fi
echo "  stop took $((($(date +%s%N) - start) / 1000000)) ms"
[ ! -e "$KATA_LAUNCH_STATE_DIR/$name" ] && pass stop-removes-state || fail stop-removes-state "still there"
if [ -n "$qemu_pid" ] && ! kill -0 "$qemu_pid" 2>/dev/null; then
	pass stop-qemu-gone
else
	fail stop-qemu-gone "QEMU pid ${qemu_pid:-?} still alive"
fi
grep -q 'reboot: Power down' "$console" && pass clean-power-off ||
	fail clean-power-off "no 'reboot: Power down' in $(tail -n 5 "$console")"
! grep -q 'Kernel panic' "$console" && pass no-kernel-panic || fail no-kernel-panic "$(grep -A3 'Kernel panic' "$console")"

finish
