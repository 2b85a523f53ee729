#!/bin/bash
# OCI hooks through lcrun: all six kinds at their points of the lifecycle, in the right namespaces, with the
# state JSON on stdin, their args and env; the spec's failure semantics (a failing prestart, createRuntime,
# createContainer or startContainer fails the operation and leaves nothing; poststart and poststop failures are
# warnings); and a hanging hook killed at its timeout.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun-hooks
. "$top/tests/data/lcrun/lib.sh"

log=$scratch/hooklog/log
mkdir -p "$scratch/hooklog"
# A hook that appends "KIND mntns status pid argv1 env" and its stdin's id to the log. $1 is the kind.
cat >"$scratch/hook.sh" <<'SH'
#!/bin/sh
state=$(cat)
id=$(echo "$state" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
st=$(echo "$state" | sed -n 's/.*"status":"\([^"]*\)".*/\1/p')
pid=$(echo "$state" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
echo "$1 $(readlink /proc/self/ns/mnt) $st $pid $id ${HOOKVAR:-noenv}" >>"${HOOKLOG:-/hooklog/log}"
SH
chmod +x "$scratch/hook.sh"
# The startContainer hook resolves in the container: a copy inside the rootfs, writing through a bind mount.
cp "$scratch/hook.sh" "$bundle/rootfs/hook.sh"
host_mnt=$(readlink /proc/self/ns/mnt)
h() { # h KIND [PATH]: one hook entry
	echo "{\"path\": \"${2:-$scratch/hook.sh}\", \"args\": [\"hook.sh\", \"$1\"], \"env\": [\"HOOKVAR=v-$1\", \"HOOKLOG=$log\"]}"
}
all_hooks() {
	cat <<JSON
{"prestart": [$(h prestart)], "createRuntime": [$(h createRuntime)], "createContainer": [$(h createContainer)],
 "startContainer": [{"path": "/hook.sh", "args": ["hook.sh", "startContainer"], "env": ["HOOKVAR=v-startContainer"]}],
 "poststart": [$(h poststart)], "poststop": [$(h poststop)]}
JSON
}
bindlog='{"destination":"/hooklog","type":"bind","source":"'"$scratch"'/hooklog","options":["bind"]}'

# ---- all six, in order, where the spec puts them ----
c=${cgprefix}all
cfg ".process.args = [\"sh\",\"-c\",\"echo process >>/hooklog/log; sleep 1000; : $token\"] | .hooks = $(all_hooks | jq -c .) |
     .mounts += [$bindlog]"
: >"$log"
lc create --bundle "$bundle" "$c" </dev/null
pid=$(lc state "$c" | jq -r .pid)
after_create=$(cut -d' ' -f1 "$log" | tr '\n' ' ')
lc start "$c"; sleep 0.3
after_start=$(cut -d' ' -f1 "$log" | tr '\n' ' ')
lc delete --force "$c"
kinds=$(cut -d' ' -f1 "$log" | tr '\n' ' ')
if [ "$after_create" = "prestart createRuntime createContainer " ] &&
   [ "$after_start" = "prestart createRuntime createContainer startContainer process poststart " ] &&
   [ "$kinds" = "prestart createRuntime createContainer startContainer process poststart poststop " ]; then
	pass "hooks: all six kinds, in the spec's order"
else fail "hooks order" "create: $after_create | start: $after_start | all: $kinds"; fi
ns() { awk -v k="$1" '$1 == k {print $2}' "$log"; }
if [ "$(ns prestart)" = "$host_mnt" ] && [ "$(ns createRuntime)" = "$host_mnt" ] && [ "$(ns poststart)" = "$host_mnt" ] &&
   [ "$(ns poststop)" = "$host_mnt" ] && [ "$(ns createContainer)" != "$host_mnt" ] && [ "$(ns startContainer)" != "$host_mnt" ] &&
   [ "$(ns createContainer)" = "$(ns startContainer)" ]; then
	pass "hooks: createContainer and startContainer in the container's mount namespace, the others in the runtime's"
else fail "hook namespaces" "$(cat "$log")"; fi
line() { awk -v k="$1" '$1 == k' "$log"; }
if [ "$(line createRuntime | cut -d' ' -f3-6)" = "created $pid $c v-createRuntime" ] &&
   [ "$(line poststart | cut -d' ' -f3-6)" = "running $pid $c v-poststart" ] &&
   [ "$(line poststop | cut -d' ' -f3,5,6)" = "stopped $c v-poststop" ] &&
   [ "$(line startContainer | cut -d' ' -f5,6)" = "$c v-startContainer" ]; then
	pass "hooks: state JSON on stdin (id, status, pid), args and env"
else fail "hook state" "$(cat "$log")"; fi
assert_clean "all hooks"

# ---- failures that fail the operation and leave nothing ----
cat >"$scratch/fail.sh" <<'SH'
#!/bin/sh
echo "hook failing on purpose" >&2
exit 3
SH
chmod +x "$scratch/fail.sh"
for kind in prestart createRuntime createContainer; do
	c=${cgprefix}f-$kind
	cfg ".process.args = [\"sh\",\"-c\",\"echo ran >>/hooklog/ran; : $token\"] | .mounts += [$bindlog] |
	     .hooks = {\"$kind\": [{\"path\": \"$scratch/fail.sh\"}]}"
	expect_fail "failing $kind fails create" "hooks\\.$kind\\[0\\].*exited with status 3" lc run --bundle "$bundle" "$c"
	[ ! -e "$scratch/hooklog/ran" ] || fail "failing $kind: the process did not run" "it ran"
	assert_clean "failing $kind"
done
# startContainer: the container stops, its process never runs, run reports the failure.
c=${cgprefix}f-start
cp "$scratch/fail.sh" "$bundle/rootfs/fail.sh"
cfg ".process.args = [\"sh\",\"-c\",\"echo ran >>/hooklog/ran; : $token\"] | .mounts += [$bindlog] |
     .hooks = {\"startContainer\": [{\"path\": \"/fail.sh\"}]}"
out=$(lc run --bundle "$bundle" "$c" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "hooks.startContainer\[0\].*status 3" <<<"$out" && [ ! -e "$scratch/hooklog/ran" ]; then
	pass "failing startContainer stops the container before its process"
else fail "failing startContainer" "rc=$rc out=$out ran=$(cat "$scratch/hooklog/ran" 2>/dev/null)"; fi
assert_clean "failing startContainer"
# poststart and poststop: warnings only.
c=${cgprefix}f-post
cfg ".process.args = [\"sh\",\"-c\",\"echo ran >>/hooklog/ran\"] | .mounts += [$bindlog] |
     .hooks = {\"poststart\": [{\"path\": \"$scratch/fail.sh\"}], \"poststop\": [{\"path\": \"$scratch/fail.sh\"}]}"
out=$(lc run --bundle "$bundle" "$c" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c "warning: .*hooks.post\(start\|stop\)\[0\].*status 3" <<<"$out")" = 2 ] &&
   [ "$(cat "$scratch/hooklog/ran")" = ran ]; then pass "failing poststart and poststop are warnings"
else fail "failing poststart/poststop" "rc=$rc out=$out"; fi
rm -f "$scratch/hooklog/ran"
assert_clean "failing poststart/poststop"
# A hook that does not exist.
c=${cgprefix}f-missing
cfg ".process.args = [\"true\"] | .hooks = {\"createRuntime\": [{\"path\": \"$scratch/no-such-hook\"}]}"
expect_fail "missing hook executable fails create" "no-such-hook.*not found" lc run --bundle "$bundle" "$c"
assert_clean "missing hook"

# ---- a hanging hook is killed at its timeout ----
cat >"$scratch/hang.sh" <<SH
#!/bin/sh
exec sleep 1000 # $token
SH
chmod +x "$scratch/hang.sh"
c=${cgprefix}hang
cfg ".process.args = [\"true\"] | .hooks = {\"createRuntime\": [{\"path\": \"$scratch/hang.sh\", \"args\": [\"hang.sh\", \"$token\"], \"timeout\": 1}]}"
t0=$(date +%s%N)
expect_fail "hanging hook: create fails at the timeout" "hooks.createRuntime\[0\].*timed out after 1 s" lc run --bundle "$bundle" "$c"
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $dt -ge 900 ] && [ $dt -lt 5000 ]; then pass "hanging hook: killed after ~1 s ($dt ms)"; else fail "hanging hook timing" "$dt ms"; fi
assert_clean "hanging hook"
c=${cgprefix}hang2
cp "$scratch/hang.sh" "$bundle/rootfs/hang.sh"
cfg ".process.args = [\"true\"] | .hooks = {\"createContainer\": [{\"path\": \"$scratch/hang.sh\", \"args\": [\"hang.sh\", \"$token\"], \"timeout\": 1}]}"
expect_fail "hanging createContainer hook: create fails at the timeout" "hooks.createContainer\[0\].*timed out" lc run --bundle "$bundle" "$c"
assert_clean "hanging createContainer hook"
finish
