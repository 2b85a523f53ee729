#!/bin/bash
# lcrun against crun and runc (Debian's), all three under the same conditions: N sequential `run` of /bin/true on
# one busybox bundle, interleaved (one of each per round, the order rotating) so drift hits all alike; median and p90 per
# container and the ratios; peak RSS of one `run` (/usr/bin/time); binary sizes; and `exec` of /bin/true into a
# running container, lcrun against crun.
#
# crun 1.8.1 refuses the hybrid cgroup layout, so everything runs in a private mount namespace with
# /sys/fs/cgroup/unified unmounted (the three runtimes then see the same v1 tree). lcrun is the optimised build
# without sanitizers (build/rel/lcrun). Usage: bench/lcrun.sh [LCRUN]; N=100 by default.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LCRUN=${1:-$BUILD/rel/lcrun}
N=${N:-100}
NEXEC=${NEXEC:-50}
[ "$(id -u)" = 0 ] || { echo "bench/lcrun.sh: needs root" >&2; exit 1; }
for t in crun runc; do command -v $t >/dev/null || { echo "bench/lcrun.sh: no $t (apt-get install -y crun runc)" >&2; exit 1; }; done
[ -x "$LCRUN" ] || { echo "bench/lcrun.sh: no $LCRUN (make $BUILD/rel/lcrun)" >&2; exit 1; }
LCRUN=$(realpath "$LCRUN")

if [ "${LCRUN_BENCH_INNER:-}" != 1 ]; then
	export LCRUN_BENCH_INNER=1
	exec unshare -m bash -c 'umount /sys/fs/cgroup/unified 2>/dev/null || true; exec bash ${BENCH_X:+-x} "$0" "$@"' "$0" "$LCRUN"
fi

dir=$(mktemp -d /tmp/bench-lcrun.XXXXXX)
cleanup() {
	for rt in lcrun crun runc; do
		for d in "$dir/root-$rt"/*/; do [ -d "$d" ] && "${bin[$rt]}" --root "$dir/root-$rt" delete --force "$(basename "$d")" >/dev/null 2>&1; done
	done
	rm -rf "$dir"
}
declare -A bin=([lcrun]=$LCRUN [crun]=$(command -v crun) [runc]=$(command -v runc))
trap cleanup EXIT
tests/data/lcrun/make-bundle.sh "$dir/bundle" '["/bin/true"]' >/dev/null
read -ra runtimes <<<"${RUNTIMES:-lcrun crun runc}"

# ms since the epoch with µs, without a fork
now() { echo "${EPOCHREALTIME/./}"; }
stats() { # stats FILE: median p90 (ms)
	sort -n "$1" | awk '{a[NR]=$1} END{ m = (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; p = a[int(NR*0.9 + 0.5)]; printf "%.2f %.2f\n", m/1000, p/1000 }'
}

echo "== $N x run /bin/true, interleaved (kernel $(uname -r), cgroup v1 in a private mount namespace)"
for rt in "${runtimes[@]}"; do : >"$dir/$rt.times"; done
# one warm-up each: page cache, the cgroup parents
for rt in "${runtimes[@]}"; do "${bin[$rt]}" --root "$dir/root-$rt" run --bundle "$dir/bundle" warm >/dev/null; done
# The order rotates every round: a runtime that leaves work for the kernel after it exits (runc's teardown) would
# otherwise always slow down the same successor.
nrt=${#runtimes[@]}
for i in $(seq "$N"); do
	for k in $(seq 0 $((nrt - 1))); do
		rt=${runtimes[$(( (i + k) % nrt ))]}
		t0=$(now)
		"${bin[$rt]}" --root "$dir/root-$rt" run --bundle "$dir/bundle" "b$i" >/dev/null
		t1=$(now)
		echo $((t1 - t0)) >>"$dir/$rt.times"
	done
done
declare -A med
for rt in "${runtimes[@]}"; do
	read -r m p < <(stats "$dir/$rt.times")
	med[$rt]=$m
	printf '%-6s median %6.2f ms  p90 %6.2f ms\n' "$rt" "$m" "$p"
done
awk -v l="${med[lcrun]}" -v c="${med[crun]}" -v r="${med[runc]}" \
	'BEGIN{ printf "ratio lcrun/crun %.2f (target <= 0.80)   lcrun/runc %.2f (target <= 0.35)\n", l/c, l/r }'

echo "== peak RSS of one run (max of 3, /usr/bin/time %M)"
declare -A rss
for rt in "${runtimes[@]}"; do
	m=0
	for i in 1 2 3; do
		k=$( { /usr/bin/time -f '%M' "${bin[$rt]}" --root "$dir/root-$rt" run --bundle "$dir/bundle" "rss$i" >/dev/null; } 2>&1 | tail -n1)
		[ "$k" -gt "$m" ] && m=$k
	done
	rss[$rt]=$m
	printf '%-6s %6d KiB\n' "$rt" "$m"
done
awk -v l="${rss[lcrun]}" -v c="${rss[crun]}" 'BEGIN{ printf "ratio lcrun/crun %.2f (target <= 1.00)\n", l/c }'

echo "== binary size"
for rt in "${runtimes[@]}"; do
	printf '%-6s %9d bytes  %s (%s)\n' "$rt" "$(stat -L -c %s "${bin[$rt]}")" "${bin[$rt]}" \
		"$(file -L "${bin[$rt]}" | grep -o 'statically linked\|dynamically linked' | head -n1)"
done

echo "== $NEXEC x exec /bin/true into a running container, interleaved"
jq '.process.args = ["sleep", "100000"]' "$dir/bundle/config.json" >"$dir/bundle/config.sleep.json"
mkdir -p "$dir/sleep"; cp "$dir/bundle/config.sleep.json" "$dir/sleep/config.json"; ln -s "$dir/bundle/rootfs" "$dir/sleep/rootfs"
for rt in lcrun crun; do
	"${bin[$rt]}" --root "$dir/root-$rt" run -d --bundle "$dir/sleep" ex </dev/null >/dev/null
	: >"$dir/$rt.exec"
done
for i in $(seq "$NEXEC"); do
	for rt in lcrun crun; do
		t0=$(now)
		"${bin[$rt]}" --root "$dir/root-$rt" exec ex /bin/true </dev/null >/dev/null
		t1=$(now)
		echo $((t1 - t0)) >>"$dir/$rt.exec"
	done
done
declare -A emed
for rt in lcrun crun; do
	read -r m p < <(stats "$dir/$rt.exec")
	emed[$rt]=$m
	printf '%-6s median %6.2f ms  p90 %6.2f ms\n' "$rt" "$m" "$p"
	"${bin[$rt]}" --root "$dir/root-$rt" delete --force ex >/dev/null
done
awk -v l="${emed[lcrun]}" -v c="${emed[crun]}" 'BEGIN{ printf "ratio lcrun/crun %.2f\n", l/c }'
