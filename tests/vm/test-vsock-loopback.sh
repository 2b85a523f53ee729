#!/bin/bash
# In-guest vsock: boots build/test-initrd.img, whose /init is tests/guest/vsock-probe. The probe starts the real
# static agent (standalone, vsock://-1:1024), drives it over the vsock loopback transport (CID 1) and prints one
# case line per check on the console; this script forwards those lines as its own cases and checks the run
# ended the way it should (a `done` line that matches them, a clean power-off, no panic).
# kata-launch is not used: it waits for an agent on the serial channel, which this initrd does not serve.
# pass/skip only print and always succeed, so `cond && pass || fail` is a safe if/else.
# shellcheck disable=SC2015
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
QEMU=${QEMU:-qemu-system-x86_64}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-60}
# As launcher/qemu.h's QEMU_KERNEL_PARAMS, without the agent address: the probe starts the agent itself.
CMDLINE="console=ttyS0 quiet panic=1 no_timer_check tsc=reliable rcupdate.rcu_expedited=1 i8042.direct=1 \
i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 cryptomgr.notests reboot=k"

if [ ! -e "$BUILD/vmlinux" ]; then
	skip vsock-loopback "$BUILD/vmlinux is missing (make all builds it)"
	exit 77
fi
if ! command -v "$QEMU" >/dev/null; then
	skip vsock-loopback "$QEMU is not installed"
	exit 77
fi

tmp=$(mktemp -d /tmp/vsock-loopback.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
console=$tmp/console.log

if ! make -s "$BUILD/test-initrd.img" >"$tmp/make.log" 2>&1; then
	fail build-test-initrd "$(tail -n 20 "$tmp/make.log")"
	finish
fi

start=$(date +%s%N)
# -no-reboot turns the probe's power-off (or a panic's reboot) into QEMU's exit.
timeout -k 5 "$GUEST_TIMEOUT" "$QEMU" -machine q35,accel=tcg -cpu max -m 512M -nodefaults -no-user-config \
	-nographic -no-reboot -serial "file:$console" -kernel "$BUILD/vmlinux" -initrd "$BUILD/test-initrd.img" \
	-append "$CMDLINE" </dev/null >"$tmp/qemu.out" 2>&1
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
echo "  guest ran $((ms / 1000)).$(printf %03d $((ms % 1000))) s (QEMU exit $rc)"

# The serial console writes CRLF.
tr -d '\r' <"$console" >"$tmp/console.txt" 2>/dev/null
lines=$(grep -E '^\[ *(OK|FAILED|SKIPPED) *\] vsock-loopback: ' "$tmp/console.txt")
[ -n "$lines" ] && printf '%s\n' "$lines"
grep -q '^\[  FAILED  \] ' <<<"$lines" && _t_failed=1
n_ok=$(grep -c '^\[       OK \] ' <<<"$lines")
n_failed=$(grep -c '^\[  FAILED  \] ' <<<"$lines")
n_skipped=$(grep -c '^\[  SKIPPED \] ' <<<"$lines")

if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	fail guest-finished "QEMU still running after ${GUEST_TIMEOUT} s: $(tail -n 5 "$tmp/console.txt")"
elif [ "$rc" -ne 0 ]; then
	fail guest-finished "QEMU exit $rc: $(cat "$tmp/qemu.out")"
fi
# The done line's counts must match the case lines: a line lost or garbled on the console is a failure.
done_line=$(grep -E '^vsock-probe: done [0-9]+ passed, [0-9]+ failed$' "$tmp/console.txt" | tail -n 1)
if [ -z "$done_line" ]; then
	fail probe-done "no 'vsock-probe: done' line; console ends: $(tail -n 10 "$tmp/console.txt")"
elif [ "$done_line" != "vsock-probe: done $n_ok passed, $n_failed failed" ]; then
	fail probe-done "'$done_line' but the console shows $n_ok OK and $n_failed FAILED lines"
elif [ "$n_ok" -eq 0 ] && [ "$n_failed" -eq 0 ] && [ "$n_skipped" -eq 0 ]; then
	fail probe-done "the probe reported no case"
fi
if grep -q 'Kernel panic' "$tmp/console.txt"; then
	fail no-kernel-panic "$(grep -A3 'Kernel panic' "$tmp/console.txt")"
fi
if ! grep -q 'reboot: Power down' "$tmp/console.txt"; then
	fail clean-power-off "no 'reboot: Power down'; console ends: $(tail -n 5 "$tmp/console.txt")"
fi

if [ "$_t_failed" -ne 0 ]; then
	echo "  console:"
	sed 's/^/    /' "$tmp/console.txt" | tail -n 40
	finish
fi
# Only the probe's own lines count as cases: a skipped probe makes a skipped test, not one that passed
# because QEMU powered off.
[ "$n_ok" -eq 0 ] && [ "$n_skipped" -gt 0 ] && exit 77
pass guest-clean-exit
finish
