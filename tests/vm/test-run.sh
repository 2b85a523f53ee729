#!/bin/bash
# kata-launch run: a busybox bundle as a container in a VM of its own. Output arrives, the container's exit code
# (0, 3, 137 for a SIGKILL, 127 for a missing binary) becomes ours, stdin is piped through WriteStdin, SIGTERM is forwarded, and the VM is
# gone afterwards (no QEMU left, state directory removed).
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

for f in "$BUILD/vmlinux" "$BUILD/initrd.img" "$KL"; do
	[ -e "$f" ] || { skip vm-run "$f is missing (make all builds it)"; exit 77; }
done
command -v qemu-system-x86_64 >/dev/null || { skip vm-run "qemu-system-x86_64 is not installed"; exit 77; }

tmp=$(mktemp -d /tmp/kl-run.XXXXXX)
export KATA_LAUNCH_STATE_DIR=$tmp/state
trap 'rm -rf "$tmp"' EXIT

tests/data/lcrun/make-bundle.sh "$tmp/bundle" >/dev/null 2>&1
rc=$?
[ "$rc" = 77 ] && { skip vm-run "no static busybox (apt-get install busybox-static)"; exit 77; }
[ "$rc" = 0 ] || { fail vm-run "make-bundle.sh failed"; finish; }

run() { timeout 60 "$KL" run "$tmp/bundle" -- "$@" 2>"$tmp/err"; }
# Nothing of the VM may outlive run: no daemon lock held, no state directory, no QEMU naming it.
gone() {
	local left
	left=$(find "$KATA_LAUNCH_STATE_DIR" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)
	[ -z "$left" ] && ! pgrep -f "$KATA_LAUNCH_STATE_DIR/run-" >/dev/null
}

out=$(run sh -c 'echo hello from a container; echo to stderr >&2' </dev/null)
rc=$?
[ "$out" = "hello from a container" ] && [ "$rc" = 0 ] && pass "output, exit 0" || fail "output, exit 0" "rc $rc: $out $(cat "$tmp/err")"
grep -qx "to stderr" "$tmp/err" && pass stderr || fail stderr "$(cat "$tmp/err")"
gone && pass vm-gone || fail vm-gone "$(ls -R "$KATA_LAUNCH_STATE_DIR"; pgrep -af qemu)"

run sh -c 'exit 3' </dev/null
rc=$?
[ "$rc" = 3 ] && pass exit-3 || fail exit-3 "rc $rc: $(cat "$tmp/err")"

run /bin/nonexistent </dev/null
rc=$?
[ "$rc" = 127 ] && grep -q "nonexistent" "$tmp/err" && pass missing-binary-127 || fail missing-binary-127 "rc $rc: $(cat "$tmp/err")"

out=$(printf 'abc\ndef\n' | run cat)
rc=$?
[ "$out" = "$(printf 'abc\ndef')" ] && [ "$rc" = 0 ] && pass stdin-piped || fail stdin-piped "rc $rc: $out $(cat "$tmp/err")"

# `kill -9 $$` in the container's init is a no-op (the kernel protects a pid namespace's init from signals it
# does not handle, SIGKILL included, when they come from inside), so a child shell kills itself.
run sh -c 'sh -c "kill -9 \$\$"; exit $?' </dev/null
rc=$?
[ "$rc" = 137 ] && pass exit-137 || fail exit-137 "rc $rc: $(cat "$tmp/err")"

# SIGTERM to kata-launch reaches the container (a shell with a trap), which reports it and exits 143.
timeout 60 "$KL" run "$tmp/bundle" -- sh -c 'trap "echo got TERM; exit 143" TERM; echo up; while :; do sleep 0.1; done' \
	</dev/null >"$tmp/term.out" 2>"$tmp/term.err" &
pid=$!
for _ in $(seq 400); do grep -q up "$tmp/term.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 143 ] && grep -q "got TERM" "$tmp/term.out" && pass sigterm-forwarded ||
	fail sigterm-forwarded "rc $rc: $(cat "$tmp/term.out" "$tmp/term.err")"
# SIGTERM to an init without a handler becomes SIGKILL in the agent: a real death by signal, 128+9.
timeout 60 "$KL" run "$tmp/bundle" -- sh -c 'echo up; exec sleep 1000' </dev/null >"$tmp/kill.out" 2>"$tmp/kill.err" &
pid=$!
for _ in $(seq 400); do grep -q up "$tmp/kill.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 137 ] && pass killed-by-signal-137 || fail killed-by-signal-137 "rc $rc: $(cat "$tmp/kill.err")"
gone && pass vm-gone-after-all || fail vm-gone-after-all "$(ls -R "$KATA_LAUNCH_STATE_DIR"; pgrep -af qemu)"
finish
