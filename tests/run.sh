#!/bin/bash
# Runs every test program and script, collects their per-case result lines (cmocka's format, which our C
# harness and shell library print too) and ends with the one summary line CI reads:
#   N passed, M failed, K skipped
# A program that fails without naming a failed case counts as one failure; one that exits 77 without
# naming cases counts as one skip.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
export BUILD
log_dir="$BUILD/test-logs"
rm -rf "$log_dir"; mkdir -p "$log_dir"

passed=0 failed=0 skipped=0
failures=()

run_one() {
	local name=$1; shift
	local log="$log_dir/$(echo "$name" | tr '/ ' '__').log"
	local start=$SECONDS rc
	"$@" >"$log" 2>&1 </dev/null
	rc=$?
	# Cases, once each (cmocka repeats failed names in its summary).
	local counts
	counts=$(grep -E '^\[ *(OK|FAILED|SKIPPED) *\] ' "$log" | grep -vE '^\[ *[A-Z]+ *\] [0-9]+ test\(s\)' |
		sort -u | awk '/^\[ *OK/{o++} /^\[ *FAILED/{f++} /^\[ *SKIPPED/{s++} END{printf "%d %d %d", o, f, s}')
	local o f s
	read -r o f s <<<"$counts"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$rc" -eq 77 ] && [ "$o" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then s=1; fi
	passed=$((passed + o)); failed=$((failed + f)); skipped=$((skipped + s))
	local status=ok
	[ "$f" -gt 0 ] && status=FAIL
	[ "$f" -eq 0 ] && [ "$o" -eq 0 ] && [ "$s" -gt 0 ] && status=skip
	printf '%-4s %-44s %3d ok %2d failed %2d skipped  (%ds)\n' "$status" "$name" "$o" "$f" "$s" $((SECONDS - start))
	if [ "$f" -gt 0 ]; then
		failures+=("$name")
		grep -E '^\[ *FAILED *\] |FAIL|ERROR|Assert|assert|runtime error|Sanitizer' "$log" | grep -vE 'test\(s\)' | head -n 20 | sed 's/^/      /'
		echo "      log: $log (exit $rc)"
	fi
	grep -E '^\[ *SKIPPED *\] ' "$log" | sed 's/^/      /' | head -n 5
}

for t in "$BUILD"/host/tests/unit/test-*; do
	[ -x "$t" ] || continue
	run_one "unit/$(basename "$t")" "$t"
done
for t in "$BUILD"/host/fuzz/fuzz-*; do
	[ -x "$t" ] || continue
	n=$(basename "$t"); c="fuzz/corpus/${n#fuzz-}"
	run_one "fuzz-replay/$n" "$t" "$c"
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	run_one "integration/$(basename "$t" .sh)" bash "$t"
done
if [ "${SKIP_VM:-0}" != 1 ]; then
	for t in tests/vm/*.sh; do
		[ -f "$t" ] || continue
		run_one "vm/$(basename "$t" .sh)" bash "$t"
	done
fi

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
