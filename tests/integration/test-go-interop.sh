#!/bin/bash
# Go interop: containerd's ttRPC client (Debian's golang-github-containerd-ttrpc-dev, with gogo-generated stubs
# from our proto/ files) against our agent on a unix socket. Checks the golden request bytes of the wire
# examples, then runs tests/interop/client.go against build/host/kata-agent and, when it is built, the static
# build/kata-agent, stopping each with SIGTERM and expecting a clean exit.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}

log=$(mktemp)
bash tests/interop/build.sh >"$log" 2>&1
rc=$?
if [ "$rc" -eq 77 ]; then
	skip go-interop "$(tail -n 1 "$log")"
	rm -f "$log"
	exit 77
elif [ "$rc" -ne 0 ]; then
	cat "$log"
	rm -f "$log"
	fail go-interop-build "tests/interop/build.sh exited $rc"
	finish
fi
rm -f "$log"
client="$BUILD/interop/bin/client"

# The request the Go client writes for Health.Check must be the wire example byte for byte.
"$client" -golden || _t_failed=1

dir=$(mktemp -d)
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -KILL "$agent_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# run_agent NAME BINARY: starts the agent on a fresh socket, runs the client, stops the agent with SIGTERM.
run_agent() {
	local name=$1 bin=$2 sock="$dir/$1.sock" rc
	"$bin" --server-addr "unix://$sock" >"$dir/$name.log" 2>&1 &
	agent_pid=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && break
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -S "$sock" ]; then
		fail "$name/start" "no socket at $sock after 5 s; agent log: $(tail -n 5 "$dir/$name.log" | tr '\n' ' ')"
		kill -KILL "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; agent_pid=
		return
	fi
	pass "$name/start"

	# Every case, and the agent's raw reply to the golden request, as containerd's client sees them.
	"$client" -prefix "$name/" -addr "unix://$sock" || _t_failed=1

	kill -TERM "$agent_pid"
	for _ in $(seq 100); do
		kill -0 "$agent_pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$agent_pid" 2>/dev/null; then
		fail "$name/sigterm-exit" "still running 5 s after SIGTERM"
		kill -KILL "$agent_pid"
		wait "$agent_pid" 2>/dev/null
	else
		wait "$agent_pid"
		rc=$?
		if [ "$rc" -eq 0 ]; then
			pass "$name/sigterm-exit"
		else
			fail "$name/sigterm-exit" "exit status $rc; agent log: $(tail -n 5 "$dir/$name.log" | tr '\n' ' ')"
		fi
	fi
	agent_pid=
	if grep -qE 'Sanitizer|runtime error' "$dir/$name.log"; then
		fail "$name/sanitizers" "$(grep -m1 -E 'Sanitizer|runtime error' "$dir/$name.log")"
		sed 's/^/    /' "$dir/$name.log"
	fi
}

if [ -x "$BUILD/host/kata-agent" ]; then
	run_agent host "$BUILD/host/kata-agent"
else
	fail host/start "$BUILD/host/kata-agent is not built (make all)"
fi
if [ -x "$BUILD/kata-agent" ]; then
	run_agent static "$BUILD/kata-agent"
else
	skip static/start "$BUILD/kata-agent is not built"
fi
finish
