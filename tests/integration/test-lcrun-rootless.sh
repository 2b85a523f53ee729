#!/bin/bash
# Rootless lcrun: an unprivileged user (nobody) runs a container in a user namespace of its own, mapping itself
# to root, with no cgroup: run (uid 0 inside, its hostname, /proc), create/start/state/kill/delete, the state in
# $XDG_RUNTIME_DIR/lcrun when --root is not given, exec (through a relay that enters the container's pid
# namespace from inside its user namespace: exit code and signals pass through), limits refused without a cgroup
# delegated to the user and applied in one that is, and nothing left behind.
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
# ---- spec --rootless: a config nobody can run as it is (bar the terminal and the command) ----
sb=$scratch/specrl
mkdir -p "$sb" && cp -a "$bundle/rootfs" "$sb/rootfs" && chown nobody "$sb"
if su -s /bin/sh nobody -c "cd '$sb' && '$LCRUN' spec --rootless" 2>"$scratch/err" &&
   jq -e --argjson u "$uid" '(.linux.namespaces | map(.type) | index("user") != null and index("network") == null) and
	.linux.uidMappings == [{"containerID":0,"hostID":$u,"size":1}] and .linux.resources == null and
	(.mounts[] | select(.destination == "/sys") | .type == "none" and (.options | index("rbind") != null))' \
	"$sb/config.json" >/dev/null; then
	jq '.process.terminal = false | .process.args = ["sh","-c","id -u; cat /proc/self/uid_map"]' "$sb/config.json" >"$scratch/c.json" &&
		cp "$scratch/c.json" "$sb/config.json" && chmod a+r "$sb/config.json"
	out=$(nb run --bundle "$sb" "rl-$$-spec" </dev/null 2>&1); rc=$?
	if [ $rc -eq 0 ] && [ "$(echo "$out" | tr -s ' \n' ' ')" = "0 0 $uid 1 " ]; then
		pass "spec --rootless: user namespace mapping nobody to root, no network namespace, /sys bound; it runs"
	else fail "spec --rootless runs" "rc=$rc out=$out"; fi
else fail "spec --rootless" "$(cat "$scratch/err") $(cat "$sb/config.json" 2>&1 | head -c 600)"; fi

# ---- rootless with limits: only in a cgroup delegated to the user (as systemd's Delegate= hands one over) ----
c=rl-$$-nodeleg
rootless_cfg "[\"true\"]"
jq '.linux.resources = {"pids": {"limit": 20}}' "$bundle/config.json" >"$scratch/c.json" && cp "$scratch/c.json" "$bundle/config.json"
out=$(nb run --bundle "$bundle" "$c" </dev/null 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "linux.resources: a rootless container gets limits only in a cgroup delegated to its user" <<<"$out" &&
   [ -z "$(ls -A "$xdg/lcrun" 2>/dev/null)" ]; then pass "rootless limits without a delegated cgroup: clear error, no state left"
else fail "rootless limits without a delegated cgroup" "rc=$rc out=$out state=$(ls "$xdg/lcrun" 2>&1)"; fi

# Root hands nobody /$deleg in every hierarchy. On cgroup2 a move needs write access to the common ancestor's
# cgroup.procs, so nobody's lcrun runs from a leaf of the subtree, as a delegated session does.
deleg=lcrun-rl-$$
hiers=$(findmnt -rn -t cgroup,cgroup2 -o TARGET)
undeleg() { for m in $hiers; do rmdir "$m/$deleg/ctr" "$m/$deleg/shell" "$m/$deleg" 2>/dev/null; done; }
ok=1
for m in $hiers; do
	mkdir "$m/$deleg" || { ok=0; break; }
	if [ -f "$m/cpuset.cpus" ]; then # a new v1 cpuset cgroup has no cpus or mems to run on
		cat "$m/cpuset.cpus" >"$m/$deleg/cpuset.cpus" && cat "$m/cpuset.mems" >"$m/$deleg/cpuset.mems" || ok=0
	fi
	for f in "" tasks cgroup.procs cgroup.threads cgroup.subtree_control; do
		[ -e "$m/$deleg/$f" ] && chown nobody "$m/$deleg/$f"
	done
done
unified=$(findmnt -rn -t cgroup2 -o TARGET | head -n1)
[ -n "$unified" ] && { mkdir "$unified/$deleg/shell" && chown nobody "$unified/$deleg/shell" "$unified/$deleg/shell/cgroup.procs" || ok=0; }
c=rl-$$-deleg
rootless_cfg "[\"sh\", \"-c\", \"sleep 1000; : $token\"]"
jq --arg p "/$deleg/ctr" '.linux.cgroupsPath = $p | .linux.resources = {"pids": {"limit": 20}, "memory": {"limit": 67108864}}' \
	"$bundle/config.json" >"$scratch/c.json" && cp "$scratch/c.json" "$bundle/config.json"
# in_deleg CMD: nobody's lcrun, started from the subtree's leaf on cgroup2.
in_deleg() {
	sh -c '[ -z "$1" ] || echo $$ >"$1/cgroup.procs" || exit 1; shift; exec su -s /bin/sh nobody -c "$*"' _ \
		"${unified:+$unified/$deleg/shell}" "XDG_RUNTIME_DIR='$xdg' '$LCRUN' $*"
}
if [ $ok = 1 ] && in_deleg create --bundle "$bundle" "$c" </dev/null >/dev/null 2>"$scratch/err"; then
	pid=$(nb state "$c" | jq -r .pid)
	want=$(echo "$hiers" | wc -l)
	got=$(grep -c ":/$deleg/ctr\$" "/proc/$pid/cgroup")
	pids=$(cat /sys/fs/cgroup/pids/$deleg/ctr/pids.max /sys/fs/cgroup/$deleg/ctr/pids.max 2>/dev/null)
	mem=$(cat /sys/fs/cgroup/memory/$deleg/ctr/memory.limit_in_bytes /sys/fs/cgroup/$deleg/ctr/memory.max 2>/dev/null)
	owner=$(stat -c %U "$(ls -d /sys/fs/cgroup/*/$deleg/ctr /sys/fs/cgroup/$deleg/ctr 2>/dev/null | head -n1)")
	if [ "$got" = "$want" ] && [ "$pids" = 20 ] && [ "$mem" = 67108864 ] && [ "$owner" = nobody ]; then
		pass "rootless in a delegated cgroup: the init in /$deleg/ctr in all $want hierarchies, pids and memory limits"
	else fail "rootless in a delegated cgroup" "in $got of $want: $(cat "/proc/$pid/cgroup" | tr '\n' ' ') pids.max=$pids mem=$mem owner=$owner"; fi
	# update, device rules included (a rootless container has no device policy: they are not written).
	echo '{"pids": {"limit": 30}, "devices": [{"allow": false, "access": "rwm"}]}' >"$scratch/res.json"
	chmod a+r "$scratch/res.json"
	if nb update --resources "$scratch/res.json" "$c" 2>"$scratch/err" &&
	   [ "$(cat /sys/fs/cgroup/pids/$deleg/ctr/pids.max /sys/fs/cgroup/$deleg/ctr/pids.max 2>/dev/null)" = 30 ]; then
		pass "rootless update in a delegated cgroup: pids limit written, device rules left out"
	else fail "rootless update in a delegated cgroup" "$(cat "$scratch/err")"; fi
	nb kill "$c" KILL
	for _ in $(seq 50); do [ "$(nb state "$c" | jq -r .status)" = stopped ] && break; sleep 0.1; done
	in_deleg delete "$c" 2>"$scratch/err" || fail "rootless delete in a delegated cgroup" "$(cat "$scratch/err")"
	left=$(ls -d /sys/fs/cgroup/*/$deleg/ctr /sys/fs/cgroup/$deleg/ctr 2>/dev/null)
	[ -z "$left" ] && [ -z "$(ls -A "$xdg/lcrun" 2>/dev/null)" ] && pass "rootless delete: its cgroup removed by nobody" ||
		fail "rootless delete in a delegated cgroup" "left: $left $(ls "$xdg/lcrun" 2>&1)"
else
	fail "rootless create in a delegated cgroup" "setup=$ok $(cat "$scratch/err" 2>/dev/null)"
	nb delete --force "$c" >/dev/null 2>&1
fi
undeleg
left=$(ls -d /sys/fs/cgroup/*/$deleg /sys/fs/cgroup/$deleg 2>/dev/null)
[ -z "$left" ] || fail "rootless: the delegated subtree could not be removed" "$left"

assert_clean "rootless"
finish
