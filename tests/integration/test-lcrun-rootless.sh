#!/bin/bash
# Rootless lcrun: an unprivileged user (nobody) runs a container in a user namespace of its own, mapping itself
# to root, with no cgroup: run (uid 0 inside, its hostname, /proc), create/start/state/kill/delete, the state in
# $XDG_RUNTIME_DIR/lcrun when --root is not given, exec (through a relay that enters the container's pid
# namespace from inside its user namespace: exit code and signals pass through), and nothing left behind.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun-rootless
. "$top/tests/data/lcrun/lib.sh"
id nobody >/dev/null 2>&1 || { skip "$name" "no user nobody"; exit 77; }
if ! su -s /bin/sh nobody -c 'unshare -Ur true' 2>/dev/null; then
	skip "$name" "unprivileged user namespaces are disabled here"; exit 77
fi
uid=$(id -u nobody) gid=$(id -g nobody)
# nobody must reach the bundle and the binary; its state root is its own.
chmod 755 "$scratch"
chmod -R a+rX "$bundle"
xdg=$scratch/xdg
mkdir -p "$xdg" && chown nobody "$xdg"
[ -x "$LCRUN" ] && su -s /bin/sh nobody -c "test -x '$LCRUN'" ||
	{ skip "$name" "nobody cannot execute $LCRUN (a parent directory is not searchable)"; exit 77; }
rootless_cfg() { # rootless_cfg ARGS_JSON
	cfg ".process.args = $1 | .linux.namespaces += [{\"type\": \"user\"}] |
	     .linux.uidMappings = [{\"containerID\": 0, \"hostID\": $uid, \"size\": 1}] |
	     .linux.gidMappings = [{\"containerID\": 0, \"hostID\": $gid, \"size\": 1}] | del(.linux.resources)"
	chmod a+r "$bundle/config.json"
}
nb() { su -s /bin/sh nobody -c "XDG_RUNTIME_DIR='$xdg' '$LCRUN' $*"; }

c=rl-$$-run
rootless_cfg '["sh", "-c", "id -u; hostname; test -e /proc/self/status && echo proc"]'
out=$(nb run --bundle "$bundle" "$c" </dev/null 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(echo "$out" | tr '\n' ' ')" = "0 lcrun-test proc " ]; then
	pass "rootless run: root inside its user namespace, hostname, /proc"
else fail "rootless run" "rc=$rc out=$out"; fi

c=rl-$$-life
rootless_cfg "[\"sh\", \"-c\", \"sleep 1000; : $token\"]"
nb create --bundle "$bundle" "$c" </dev/null >/dev/null 2>"$scratch/err" || fail "rootless create" "$(cat "$scratch/err")"
nb start "$c" 2>"$scratch/err" || fail "rootless start" "$(cat "$scratch/err")"
st=$(nb state "$c" | jq -r .status)
pid=$(nb state "$c" | jq -r .pid)
owner=$(stat -c %U "/proc/$pid" 2>/dev/null)
if [ "$st" = running ] && [ "$owner" = nobody ] && [ -d "$xdg/lcrun/$c" ]; then
	pass "rootless create/start: running as nobody on the host, state in \$XDG_RUNTIME_DIR/lcrun"
else fail "rootless create/start" "status=$st owner=$owner state=$(ls "$xdg/lcrun" 2>&1)"; fi
out=$(nb exec "$c" sh -c "'id -u; readlink /proc/self/ns/pid; exit 7'" 2>&1); rc=$?
want_ns=$(readlink "/proc/$pid/ns/pid")
if [ $rc -eq 7 ] && [ "$(echo "$out" | tr '\n' ' ')" = "0 $want_ns " ]; then
	pass "rootless exec: in the container's user and pid namespaces, exit code relayed"
else fail "rootless exec" "rc=$rc out=$out want ns $want_ns"; fi
# A signal to the relay reaches the process: its status comes back as 128+15.
nb exec "$c" sh -c "'sleep 1000; : $token-exec'" & epid=$!
for _ in $(seq 50); do pgrep -f "$token-exec" >/dev/null && break; sleep 0.1; done
sleep 0.2
# lcrun itself (the oldest of the two processes with its command line; the younger is the relay) gets it.
runtime=$(pgrep -o -u nobody -f "^$LCRUN exec $c")
kill -TERM "$runtime"
wait "$epid"; rc=$?
if [ $rc -eq 143 ] && ! pgrep -f "$token-exec" >/dev/null; then pass "rootless exec: a signal reaches the process (143)"
else fail "rootless exec signal" "rc=$rc left: $(pgrep -af "$token-exec")"; fi
nb kill "$c" KILL
for _ in $(seq 50); do [ "$(nb state "$c" | jq -r .status)" = stopped ] && break; sleep 0.1; done
nb delete "$c" 2>"$scratch/err" || fail "rootless delete" "$(cat "$scratch/err")"
if [ -z "$(ls -A "$xdg/lcrun" 2>/dev/null)" ] && ! pgrep -f "$token" >/dev/null; then pass "rootless: kill and delete leave nothing"
else fail "rootless: clean" "state: $(ls "$xdg/lcrun") procs: $(pgrep -af "$token")"; fi
out=$(su -s /bin/sh nobody -c "env -u XDG_RUNTIME_DIR '$LCRUN' state x" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "give --root, or set XDG_RUNTIME_DIR" <<<"$out"; then pass "rootless without --root or XDG_RUNTIME_DIR: clear error"
else fail "rootless without a state root" "rc=$rc out=$out"; fi
assert_clean "rootless"
finish
