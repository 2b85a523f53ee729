#!/bin/bash
# `make demo`: boot the guest (agent as init) on the default q35 machine, call a few RPCs through
# kata-launch's API socket, print the launch-to-ready time, stop the VM; then run a busybox container with
# `kata-launch run` and show its output, exit code and launch-to-first-output time. Exits non-zero on any
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch
name=demo-$$

for f in "$KL" "$BUILD/vmlinux" "$BUILD/initrd.img"; do
	[ -e "$f" ] || { echo "demo: $f is missing (run make all)" >&2; exit 1; }
done

stopped=0
bundle=$(mktemp -d /tmp/kl-demo.XXXXXX)
cleanup() {
	[ "$stopped" = 1 ] || "$KL" stop "$name" >/dev/null 2>&1 || true
	rm -rf "$bundle"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "kata-launch boot --name $name (q35)"
ready=$("$KL" boot --name "$name" --kernel "$BUILD/vmlinux" --initrd "$BUILD/initrd.img")
echo "$ready"

step "Health.Check"
"$KL" ctl "$name" Check
step "Health.Version"
"$KL" ctl "$name" Version
step "AgentService.GetGuestDetails"
"$KL" ctl "$name" GetGuestDetails '{"mem_block_size": true, "mem_hotplug_probe": true}'

step "kata-launch stop $name"
"$KL" stop "$name"
stopped=1

step "kata-launch run BUNDLE -- sh -c 'echo hello from a container; uname -r; exit 3'  (busybox)"
tests/data/lcrun/make-bundle.sh "$bundle" >/dev/null
rc=0
KATA_LAUNCH_TIMING=1 "$KL" run "$bundle" -- sh -c 'echo hello from a container; uname -r; exit 3' \
	</dev/null >"$bundle/out" 2>"$bundle/err" || rc=$?
sed 's/^/  container| /' "$bundle/out"
grep -v '^kata-launch: launch to first output byte' "$bundle/err" | sed 's/^/  stderr| /' || true
first=$(sed -n 's/^kata-launch: launch to first output byte: \([0-9.]* s\)$/\1/p' "$bundle/err")
echo "exit code: $rc"
if [ "$rc" != 3 ] || ! grep -qx "hello from a container" "$bundle/out"; then
	echo "demo: kata-launch run failed" >&2
	exit 1
fi

step "result"
echo "launch to ready: $(sed -n 's/^ready in \([0-9.]* s\).*/\1/p' <<<"$ready")"
echo "kata-launch run: exit code $rc, launch to first output byte: $first"
echo "demo: ok"
