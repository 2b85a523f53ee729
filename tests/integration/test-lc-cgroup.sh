#!/bin/bash
# The cgroup manager on this machine's real cgroup tree (hybrid on the development hosts, v2 in the guest):
# lc-cgroup-driver creates /lc-test-PID in every hierarchy, applies and reads back limits, freezes, kills,
# watches an OOM kill, attaches a BPF device program and destroys; this script then checks that no lc-test
# cgroup of that run is left in any hierarchy. Skipped (77) when not root.
. tests/lib.sh
BUILD=${BUILD:-build}
driver="$BUILD/host/tests/lc-cgroup-driver"
if [ "$(id -u)" -ne 0 ]; then
	skip "lc-cgroup" "needs root to create cgroups"; exit 77
fi
if [ ! -x "$driver" ]; then
	fail "lc-cgroup" "$driver not built"; finish
fi
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$driver" >"$out" 2>&1
rc=$?
cat "$out"
left=$(find /sys/fs/cgroup -maxdepth 2 -name "lc-test-*" 2>/dev/null)
if [ -z "$left" ]; then pass "lc-cgroup-nothing-left-behind"
else fail "lc-cgroup-nothing-left-behind" "$(echo "$left" | head -n 5 | tr '\n' ' ')"; fi
[ "$rc" -eq 0 ] || _t_failed=1
finish
