#!/bin/bash
# The protocol harness against both builds of the agent, each standalone on a unix socket: the static
# musl binary the guest runs, and the ASan+UBSan host build (whose clean exit also proves no leak).
. tests/lib.sh
BUILD=${BUILD:-build}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT

run_against() {
	local name=$1 bin=$2
	if [ ! -x "$bin" ]; then fail "$name" "$bin is missing"; return; fi
	local sock="$dir/$name.sock"
	"$bin" --server-addr "unix://$sock" --log-level warn 2>"$dir/$name.log" &
	local pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	"$BUILD/host/tests/protocol-harness" "$sock" | sed "s/^\(\[[^]]*\] \)/\1$name: /"
	local hrc=${PIPESTATUS[0]}
	if ! kill -0 "$pid" 2>/dev/null; then
		fail "$name: agent alive after the harness" "it died; log: $(tail -n 5 "$dir/$name.log")"
		return
	fi
	kill -TERM "$pid"
	wait "$pid"
	local rc=$?
	if [ "$rc" -eq 0 ]; then pass "$name: clean exit on SIGTERM"; else
		fail "$name: clean exit on SIGTERM" "exit $rc; $(grep -m3 -E 'ERROR|Sanitizer|runtime error' "$dir/$name.log")"; fi
	[ "$hrc" -eq 0 ] || _t_failed=1
}

run_against static "$BUILD/kata-agent"
run_against host "$BUILD/host/kata-agent"
finish
