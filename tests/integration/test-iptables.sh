#!/bin/bash
# GetIPTables/SetIPTables run the guest's iptables tools in a helper: output and input pass through, and a
# tool that hangs does not stop the agent from answering. Stand-in tools are mounted over /usr/sbin inside a
# private mount namespace (the host's own tools and rules are never touched).
. tests/lib.sh
BUILD=${BUILD:-build}
[ "$(id -u)" = 0 ] || { skip iptables "needs root for a private mount namespace"; exit 77; }
command -v jq >/dev/null || { skip iptables "jq is missing"; exit 77; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
cat > "$dir/inner.sh" <<'INNER'
set -u
dir=$1 agent=$2 K=$3
mount -t tmpfs tmpfs /usr/sbin
printf '#!/bin/sh\necho "*filter"\necho COMMIT\n' > /usr/sbin/iptables-save
printf '#!/bin/sh\ncat > %s/restored\necho restored "$@"\n' "$dir" > /usr/sbin/iptables-restore
printf '#!/bin/sh\nexec sleep 30\n' > /usr/sbin/ip6tables-save
chmod +x /usr/sbin/*
"$agent" --server-addr "unix://$dir/a.sock" --log-level error 2>"$dir/agent.log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/a.sock" ] && break; sleep 0.05; done
out=$("$K" ctl "unix://$dir/a.sock" GetIPTables '{}' | jq -r .data | base64 -d)
[ "$out" = "$(printf '*filter\nCOMMIT')" ] && echo "[       OK ] GetIPTables returns the tool's output" || echo "[  FAILED  ] GetIPTables returns the tool's output: $out"
out=$("$K" ctl "unix://$dir/a.sock" SetIPTables '{"data":"'"$(printf '*nat\nCOMMIT\n' | base64 -w0)"'"}' | jq -r .data | base64 -d)
[ "$out" = "restored --wait 5" ] && [ "$(cat "$dir/restored")" = "$(printf '*nat\nCOMMIT')" ] &&
	echo "[       OK ] SetIPTables feeds the rules and returns the output" || echo "[  FAILED  ] SetIPTables feeds the rules: $out"
"$K" ctl --timeout 2 "unix://$dir/a.sock" GetIPTables '{"is_ipv6":true}' >/dev/null 2>"$dir/hang.err" &
sleep 0.3
start=$(date +%s%N)
"$K" ctl "unix://$dir/a.sock" Check >/dev/null && [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 1000 ] &&
	echo "[       OK ] Check answers while a tool hangs" || echo "[  FAILED  ] Check answers while a tool hangs"
# The helper running the hung tool is a fork of the agent: it must not hold the agent's sockets (the
# listener, the host's connections), or a connection the agent closes stays half-open.
helper=$(pgrep -P "$pid" | head -n1)
socks=$( [ -n "$helper" ] && find "/proc/$helper/fd" -mindepth 1 -printf '%l\n' 2>/dev/null | grep -c '^socket:')
[ -n "$helper" ] && [ "$socks" = 0 ] && echo "[       OK ] a helper holds none of the agent's sockets" ||
	echo "[  FAILED  ] a helper holds none of the agent's sockets: helper '${helper}' has ${socks:-?} sockets"
wait %2
grep -q DEADLINE_EXCEEDED "$dir/hang.err" && echo "[       OK ] the hung call ends at its deadline" ||
	echo "[  FAILED  ] the hung call ends at its deadline: $(cat "$dir/hang.err")"
kill -TERM "$pid"; wait "$pid"; rc=$?
[ "$rc" = 0 ] && echo "[       OK ] clean exit on SIGTERM" || echo "[  FAILED  ] clean exit on SIGTERM: $rc $(tail -3 "$dir/agent.log")"
INNER
out=$(unshare -m --propagation private bash "$dir/inner.sh" "$dir" "$BUILD/host/kata-agent" "$BUILD/kata-launch" 2>&1)
echo "$out"
grep -q FAILED <<<"$out" && exit 1
[ "$(grep -c '^\[       OK' <<<"$out")" = 6 ] || exit 1
exit 0
