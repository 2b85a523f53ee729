#!/bin/bash
# OCI hooks through lcrun: all six kinds at their points of the lifecycle, in the right namespaces, with the
# state JSON on stdin, their args and env; the spec's failure semantics (a failing prestart, createRuntime,
# createContainer or startContainer fails the operation and leaves nothing; poststart and poststop failures are
# warnings); a hanging hook killed at its timeout; hooks that cannot run. The container's process is the static
# test helper (tests/helpers/cthelper.c); the bundle keeps busybox because the startContainer hook, a script,
# runs inside the container and needs a shell there.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun-hooks
. "$top/tests/data/lcrun/lib.sh"
cp "$CTHELPER" "$bundle/rootfs/cthelper"

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
cfg ".process.args = [\"/cthelper\",\"append\",\"/hooklog/log\",\"process\",\"sleep\",\"1000\",\"echo\",\"$token\"] | .hooks = $(all_hooks | jq -c .) |
     .mounts += [$bindlog]"
: >"$log"
lc create --bundle "$bundle" "$c" </dev/null >/dev/null
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
	cfg ".process.args = [\"/cthelper\",\"write\",\"/hooklog/ran\",\"ran\",\"echo\",\"$token\"] | .mounts += [$bindlog] |
	     .hooks = {\"$kind\": [{\"path\": \"$scratch/fail.sh\"}]}"
	expect_fail "failing $kind fails create" "hooks\\.$kind\\[0\\].*exited with status 3" lc run --bundle "$bundle" "$c"
	[ ! -e "$scratch/hooklog/ran" ] || fail "failing $kind: the process did not run" "it ran"
	assert_clean "failing $kind"
done
# startContainer: the container stops, its process never runs, run reports the failure.
c=${cgprefix}f-start
cp "$scratch/fail.sh" "$bundle/rootfs/fail.sh"
cfg ".process.args = [\"/cthelper\",\"write\",\"/hooklog/ran\",\"ran\",\"echo\",\"$token\"] | .mounts += [$bindlog] |
     .hooks = {\"startContainer\": [{\"path\": \"/fail.sh\"}]}"
out=$(lc run --bundle "$bundle" "$c" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "hooks.startContainer\[0\].*status 3" <<<"$out" && [ ! -e "$scratch/hooklog/ran" ]; then
	pass "failing startContainer stops the container before its process"
else fail "failing startContainer" "rc=$rc out=$out ran=$(cat "$scratch/hooklog/ran" 2>/dev/null)"; fi
assert_clean "failing startContainer"
# poststart and poststop: warnings only.
c=${cgprefix}f-post
cfg ".process.args = [\"/cthelper\",\"write\",\"/hooklog/ran\",\"ran\"] | .mounts += [$bindlog] |
     .hooks = {\"poststart\": [{\"path\": \"$scratch/fail.sh\"}], \"poststop\": [{\"path\": \"$scratch/fail.sh\"}]}"
out=$(lc run --bundle "$bundle" "$c" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c "warning: .*hooks.post\(start\|stop\)\[0\].*status 3" <<<"$out")" = 2 ] &&
   [ "$(cat "$scratch/hooklog/ran")" = ran ]; then pass "failing poststart and poststop are warnings"
else fail "failing poststart/poststop" "rc=$rc out=$out"; fi
rm -f "$scratch/hooklog/ran"
assert_clean "failing poststart/poststop"
# A hook that does not exist.
c=${cgprefix}f-missing
cfg ".process.args = [\"/cthelper\",\"pid\"] | .hooks = {\"createRuntime\": [{\"path\": \"$scratch/no-such-hook\"}]}"
expect_fail "missing hook executable fails create" "no-such-hook.*not found" lc run --bundle "$bundle" "$c"
assert_clean "missing hook"

# ---- a hanging hook is killed at its timeout ----
cat >"$scratch/hang.sh" <<SH
#!/bin/sh
exec sleep 1000 0.$$
SH
chmod +x "$scratch/hang.sh"
c=${cgprefix}hang
cfg ".process.args = [\"/cthelper\",\"pid\"] | .hooks = {\"createRuntime\": [{\"path\": \"$scratch/hang.sh\", \"args\": [\"hang.sh\", \"$token\"], \"timeout\": 1}]}"
t0=$(date +%s%N)
expect_fail "hanging hook: create fails at the timeout" "hooks.createRuntime\[0\].*timed out after 1 s" lc run --bundle "$bundle" "$c"
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $dt -ge 900 ] && [ $dt -lt 5000 ]; then pass "hanging hook: killed after ~1 s ($dt ms)"; else fail "hanging hook timing" "$dt ms"; fi
assert_clean "hanging hook"
c=${cgprefix}hang2
cp "$scratch/hang.sh" "$bundle/rootfs/hang.sh"
cfg ".process.args = [\"/cthelper\",\"pid\"] | .hooks = {\"createContainer\": [{\"path\": \"$scratch/hang.sh\", \"args\": [\"hang.sh\", \"$token\"], \"timeout\": 1}]}"
expect_fail "hanging createContainer hook: create fails at the timeout" "hooks.createContainer\[0\].*timed out" lc run --bundle "$bundle" "$c"
assert_clean "hanging createContainer hook"

# ---- hooks that cannot run ----
c=${cgprefix}noexec
printf '#!/bin/sh\nexit 0\n' >"$scratch/noexec.sh"; chmod 644 "$scratch/noexec.sh"
cfg ".process.args = [\"/cthelper\",\"pid\"] | .hooks = {\"prestart\": [{\"path\": \"$scratch/noexec.sh\"}]}"
expect_fail "hook without execute permission fails create" "hooks\.prestart\[0\].*(Permission denied|not executable|cannot execute)" lc run --bundle "$bundle" "$c"
assert_clean "hook without execute permission"
c=${cgprefix}badtimeout
cfg ".process.args = [\"/cthelper\",\"pid\"] | .hooks = {\"prestart\": [{\"path\": \"$scratch/hook.sh\", \"timeout\": -1}]}"
expect_fail "negative hook timeout refused" "hooks\.prestart\[0\]\.timeout" lc run --bundle "$bundle" "$c"
assert_clean "negative hook timeout"

# ---- a hanging hook whose child outlives it ----
# At the timeout the hook's whole process group goes, so a child it started (here sleep under sh) does not live
# on holding the hook's stdout and stderr. The hook runs with its output in a file, so a leftover could not hold
# up this script.
c=${cgprefix}hangchild
cat >"$scratch/hang-child.sh" <<SH
#!/bin/sh
sleep 1000 0.$$
: $token
SH
chmod +x "$scratch/hang-child.sh"
cfg ".process.args = [\"/cthelper\",\"pid\"] | .hooks = {\"createRuntime\": [{\"path\": \"$scratch/hang-child.sh\", \"args\": [\"hang-child.sh\", \"$token\"], \"timeout\": 1}]}"
lc run --bundle "$bundle" "$c" >"$scratch/hang-child.out" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "hooks.createRuntime\[0\].*timed out" "$scratch/hang-child.out" &&
	pass "hanging hook with a child: create fails at the timeout" || fail "hanging hook with a child" "rc=$rc $(cat "$scratch/hang-child.out")"
sleep 0.2
left=$(pgrep -f "sleep 1000 0\\.$$\$"; pgrep -f "hang-child.sh $token")
if [ -z "$left" ]; then pass "a timed-out hook's children are killed too"
else
	fail "a timed-out hook's children are killed too" "left: $(ps -o pid=,args= -p "$(echo $left | tr ' ' ',')")"
	for p in $left; do kill -KILL "$p" 2>/dev/null; done
fi
assert_clean "hanging hook with a child"
finish
