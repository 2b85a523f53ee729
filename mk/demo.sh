#!/bin/bash
# `make demo`: boot the guest (agent as init) on the default q35 machine, call a few RPCs through
# kata-launch's API socket, print the launch-to-ready time, stop the VM. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch
name=demo-$$

for f in "$KL" "$BUILD/vmlinux" "$BUILD/initrd.img"; do
	[ -e "$f" ] || { echo "demo: $f is missing (run make all)" >&2; exit 1; }
done

stopped=0
cleanup() { [ "$stopped" = 1 ] || "$KL" stop "$name" >/dev/null 2>&1 || true; }
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

step "result"
echo "launch to ready: $(sed -n 's/^ready in \([0-9.]* s\).*/\1/p' <<<"$ready")"
echo "demo: ok"
