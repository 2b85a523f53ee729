#!/bin/bash
# lcrun inside the VM, on pure cgroup v2: kata-launch boots build/lcrun-test-initrd.img, whose /init
# (tests/helpers/lcrun-vm-init.c) runs tests/helpers/lcrun-vm-suite.sh with the static musl lcrun and the test
# helper, then becomes the agent, so `boot` returns ready once the suite is over. This script passes the suite's
# case lines on from the console log, checks they add up to its `done` line, and stops the VM.
# shellcheck disable=SC2015
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch
# TCG on a loaded 2-core machine: the suite runs ~40 containers; a generous bound, never a timing assertion.
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}

for f in "$BUILD/vmlinux" "$KL"; do
	[ -e "$f" ] || { skip lcrun-vm "$f is missing (make all builds it)"; exit 77; }
done
command -v qemu-system-x86_64 >/dev/null || { skip lcrun-vm "qemu-system-x86_64 is not installed"; exit 77; }
[ -x /bin/busybox ] || { skip lcrun-vm "no /bin/busybox for the guest's shell (apt-get install busybox-static)"; exit 77; }

tmp=$(mktemp -d /tmp/lcrun-vm.XXXXXX)
export KATA_LAUNCH_STATE_DIR=$tmp/state
name=lcvm$$
cleanup() {
	"$KL" stop "$name" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! make -s "$BUILD/lcrun-test-initrd.img" >"$tmp/make.log" 2>&1; then
	fail build-lcrun-test-initrd "$(tail -n 20 "$tmp/make.log")"
	finish
fi

start=$SECONDS
"$KL" boot --name "$name" --initrd "$BUILD/lcrun-test-initrd.img" --accel auto --memory 1024 --cpus 2 \
	--timeout "$BOOT_TIMEOUT" --console-log "$tmp/console.log" >"$tmp/boot.out" 2>"$tmp/boot.err"
brc=$?
echo "  guest ran $((SECONDS - start)) s (boot exit $brc)"
tr -d '\r' <"$tmp/console.log" >"$tmp/console.txt" 2>/dev/null

lines=$(grep -E '^\[ *(OK|FAILED|SKIPPED) *\] lcrun-vm: ' "$tmp/console.txt")
[ -n "$lines" ] && printf '%s\n' "$lines"
grep -q '^\[  FAILED  \] ' <<<"$lines" && _t_failed=1
n_ok=$(grep -c '^\[       OK \] ' <<<"$lines")
n_failed=$(grep -c '^\[  FAILED  \] ' <<<"$lines")

[ "$brc" = 0 ] && pass "lcrun-vm: the guest became ready after the suite" ||
	fail "lcrun-vm: boot" "exit $brc: $(cat "$tmp/boot.err") $(tail -n 5 "$tmp/console.txt")"
# A line lost or garbled on the console must not go unnoticed: the done line has to match the case lines.
done_line=$(grep -E '^lcrun-vm: done ' "$tmp/console.txt")
if [ "$done_line" = "lcrun-vm: done $n_ok passed, $n_failed failed" ] && [ "$n_ok" -gt 0 ]; then
	pass "lcrun-vm: every case line arrived ($n_ok passed, $n_failed failed)"
else
	fail "lcrun-vm: case lines" "done line \`$done_line\`, counted $n_ok passed, $n_failed failed"
fi
status=$(sed -n 's/^lcrun-vm: suite exited with status \([0-9]*\)$/\1/p' "$tmp/console.txt")
# Grouped: bash's && and || bind equally, left to right, so unbraced this wanted status 1 even with 0 failed.
if { [ "$n_failed" = 0 ] && [ "$status" = 0 ]; } || { [ "$n_failed" != 0 ] && [ "$status" = 1 ]; }; then
	pass "lcrun-vm: the suite's exit status matches its cases"
else fail "lcrun-vm: suite status" "status \`$status\` with $n_failed failed"; fi
if grep -qE 'Kernel panic|BUG:|Oops|segfault' "$tmp/console.txt"; then
	fail "lcrun-vm: no kernel trouble" "$(grep -E 'Kernel panic|BUG:|Oops|segfault' "$tmp/console.txt" | head -n 3)"
else pass "lcrun-vm: no kernel trouble"; fi
if [ "$brc" = 0 ]; then
	"$KL" stop "$name" >"$tmp/stop.out" 2>&1 && pass "lcrun-vm: the agent stops the VM" ||
		fail "lcrun-vm: stop" "$(cat "$tmp/stop.out")"
fi
finish
