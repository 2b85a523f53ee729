#!/bin/bash
# Prints the walking skeleton's numbers in one run:
#   binary size, idle RSS of the standalone static agent, Check latency/throughput over a unix socket,
#   initrd size, and launch-to-ready under TCG on q35 and microvm (BOOTS each, interleaved, median).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BOOTS=${BOOTS:-5}
N=${N:-100000}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

echo "== sizes"
printf 'kata_agent_stripped_bytes %d (limit 1048576)\n' "$(stat -c %s "$BUILD/kata-agent")"
printf 'initrd_bytes %d\n' "$(stat -c %s "$BUILD/initrd.img")"

echo "== standalone static agent on a unix socket"
sock="$dir/agent.sock"
"$BUILD/kata-agent" --server-addr "unix://$sock" --log-level error &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done
sleep 0.3
printf 'idle_rss_kib %d (limit 1024)\n' "$(awk '/^VmRSS/{print $2}' /proc/$pid/status)"
"$BUILD/host/bench/bench-rpc" "$sock" "$N" 64 3
printf 'rss_after_load_kib %d\n' "$(awk '/^VmRSS/{print $2}' /proc/$pid/status)"
kill "$pid"; wait "$pid" || true

if [ "${SKIP_VM:-0}" = 1 ]; then echo "== launch-to-ready skipped (SKIP_VM=1)"; exit 0; fi
echo "== launch-to-ready under $(test -w /dev/kvm && echo 'KVM if usable, else ' )TCG, median of $BOOTS boots each"
for m in q35 microvm; do : > "$dir/$m.times"; done
for i in $(seq "$BOOTS"); do
	for m in q35 microvm; do
		name="bench-$m-$i"
		out=$("$BUILD/kata-launch" boot --name "$name" --machine "$m" 2>&1) || { echo "$out"; exit 1; }
		t=$(sed -n 's/.*ready in \([0-9.]*\) s.*/\1/p' <<<"$out")
		echo "$t" >> "$dir/$m.times"
		"$BUILD/kata-launch" stop "$name" >/dev/null
	done
done
for m in q35 microvm; do
	printf 'launch_to_ready_%s_median_s %s (runs: %s)\n' "$m" "$(median < "$dir/$m.times")" "$(tr '\n' ' ' < "$dir/$m.times")"
done
