# Helpers for tests that drive a standalone agent over its unix socket. Source after tests/lib.sh, with
# $dir (a scratch directory), $KL (kata-launch) set; `P` names the agent build in case lines.
# The agent runs in private mount, UTS and IPC namespaces with its own tmpfs /run and a scratch
# resolv.conf bound over /etc/resolv.conf first, so its own binds never touch the host's files.

R=/run/kata-containers
S=$R/shared/containers

# start_agent BINARY NAME: sets sock, log and agent_pid; fails when the socket does not appear.
start_agent() {
	local bin=$1 name=$2
	sock=$dir/$name.sock
	log=$dir/$name.log
	echo "nameserver 192.0.2.53" >"$dir/resolv.scratch"
	unshare -m -u -i --propagation private bash -c '
		mount -t tmpfs tmpfs /run && mount --bind "$1" /etc/resolv.conf && hostname scratch-host &&
		exec "$2" --server-addr "unix://$3" --log-level info' _ "$dir/resolv.scratch" "$bin" "$sock" 2>"$log" &
	agent_pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	[ -S "$sock" ]
}

# ns CMD...: runs CMD in the agent's namespaces.
ns() { nsenter -t "$agent_pid" -m -u -i "$@"; }
ctl() { "$KL" ctl "unix://$sock" "$@" 2>&1; }
# expect NAME CODE TEXT METHOD JSON: the call fails with that status code and a message holding TEXT.
expect() {
	local name=$1 code=$2 text=$3 out rc
	shift 3
	out=$(ctl "$@")
	rc=$?
	if [ "$rc" = 1 ] && grep -q "^error: $code: " <<<"$out" && grep -qF -- "$text" <<<"$out"; then pass "$P: $name"; else
		fail "$P: $name" "rc=$rc, want $code with \`$text\`: $out"; fi
}
# ok NAME METHOD JSON: the call succeeds.
ok() {
	local name=$1 out rc
	shift
	out=$(ctl "$@")
	rc=$?
	[ "$rc" = 0 ] && pass "$P: $name" || fail "$P: $name" "rc=$rc: $out"
}
# stop_agent: the agent is still alive, then exits 0 on SIGTERM (the ASan build: nothing leaked). Fails (1) when
# it had died already.
stop_agent() {
	local rc
	if ! kill -0 "$agent_pid" 2>/dev/null; then fail "$P: agent alive" "$(tail -n 5 "$log")"; agent_pid=; return 1; fi
	kill -TERM "$agent_pid"
	wait "$agent_pid"
	rc=$?
	agent_pid=
	[ "$rc" = 0 ] && pass "$P: clean exit on SIGTERM" ||
		fail "$P: clean exit on SIGTERM" "exit $rc: $(grep -m5 -E 'ERROR|Sanitizer|runtime error|leak' "$log")"
}
