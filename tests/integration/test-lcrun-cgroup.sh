#!/bin/bash
# lcrun with cgroups on the host's real tree (hybrid here, v2 in the guest): limits applied before the process
# runs, the pids limit biting, pause/resume, update, ps, events --stats, kill --all, exec joining the cgroup,
# and delete removing every cgroup directory. The container's process is the static test helper alone in its
# rootfs (tests/helpers/cthelper.c); it reads its own /proc/self/cgroup and cgroup files from inside. After each
# case nothing is left behind.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun-cgroup
need_busybox=0
. "$top/tests/data/lcrun/lib.sh"
bundle=$hbundle
cfg() { hcfg "$@"; }
args() { hargs "$@"; }
# The lines of /proc/self/cgroup as the helper's `read` prints them (one value, lines joined by spaces).
cg_lines() { sed -n 's/^read=//p' <<<"$1" | tr ' ' '\n'; }
[ -d /sys/fs/cgroup ] && findmnt -t cgroup,cgroup2 >/dev/null || { skip "$name" "no cgroup filesystem"; exit 77; }
status() { lc state "$1" | jq -r .status; }
mem_file() { # the memory limit file of container $1 on this layout
	if [ -f "/sys/fs/cgroup/memory/lcrun/$1/memory.limit_in_bytes" ]; then echo "/sys/fs/cgroup/memory/lcrun/$1/memory.limit_in_bytes"
	else echo "/sys/fs/cgroup/lcrun/$1/memory.max"; fi
}
pids_file() { ls /sys/fs/cgroup/pids/lcrun/"$1"/pids.max /sys/fs/cgroup/lcrun/"$1"/pids.max 2>/dev/null | head -n1; }

# ---- limits applied, and the process born in the cgroup ----
c=${cgprefix}limits
cfg ".process.args = [\"/cthelper\",\"read\",\"/proc/self/cgroup\",\"cgroup\",\"cgroup.procs\",\"sleep\",\"1000\",\"echo\",\"$token\"] |
     .linux.resources = {\"memory\": {\"limit\": 67108864}, \"pids\": {\"limit\": 20}}"
lc run -d --bundle "$bundle" "$c" >"$scratch/out" </dev/null
sleep 0.2
inside=$(cg_lines "$(cat "$scratch/out")"); mf=$(mem_file "$c"); pf=$(pids_file "$c")
if [ "$(cat "$mf")" = 67108864 ] && [ "$(cat "$pf")" = 20 ] && grep -q ":/lcrun/$c\$" <<<"$inside" &&
   ! grep -vq ":/lcrun/$c\$" <<<"$inside"; then
	pass "limits written before start; the init is in /lcrun/ID in every hierarchy"
else fail "limits and placement" "mem=$(cat "$mf" 2>&1) pids=$(cat "$pf" 2>&1) inside=$inside"; fi

# From inside, through the container's cgroup2 mount: its own cgroup holds exactly the init.
grep -qx "cgroup.cgroup.procs=1" "$scratch/out" && pass "inside: the container's cgroup holds its init alone" ||
	fail "inside: cgroup.procs" "$(cat "$scratch/out")"

# ps lists the container's processes (the init among them)
pid=$(lc state "$c" | jq -r .pid)
ps_json=$(lc ps --format json "$c")
if jq -e --argjson p "$pid" 'index($p) != null' <<<"$ps_json" >/dev/null && lc ps "$c" | grep -q "^$pid "; then
	pass "ps: the cgroup's pids (table and json)"
else fail "ps" "pid=$pid json=$ps_json"; fi

# update: flags and -r FILE
lc update --memory 32m --pids-limit 7 "$c"
echo '{"memory": {"limit": 50331648}, "pids": {"limit": 9}}' >"$scratch/res.json"
m1=$(cat "$mf"); p1=$(cat "$pf")
lc update -r "$scratch/res.json" "$c"
m2=$(cat "$mf"); p2=$(cat "$pf")
if [ "$m1" = 33554432 ] && [ "$p1" = 7 ] && [ "$m2" = 50331648 ] && [ "$p2" = 9 ]; then pass "update: --memory/--pids-limit and -r FILE"
else fail "update" "flags: $m1 $p1, -r: $m2 $p2"; fi
expect_fail "update: bad value refused" "memory.*invalid" lc update --memory lots "$c"
expect_fail "update: resources of the wrong type refused" "pids.limit" lc update -r <(echo '{"pids":{"limit":"x"}}') "$c"

# events --stats
ev=$(lc events --stats "$c")
if jq -e '.type == "stats" and .data.pids.current >= 1 and .data.pids.limit == 9 and .data.memory.usage.usage > 0 and
          (.data.cpu.usage.total | type) == "number"' <<<"$ev" >/dev/null; then pass "events --stats: cpu, memory, pids"
else fail "events --stats" "$ev"; fi

# exec joins the container's cgroup
out=$(cg_lines "$(lc exec "$c" /cthelper read /proc/self/cgroup)")
if grep -q ":/lcrun/$c\$" <<<"$out" && ! grep -vq ":/lcrun/$c\$" <<<"$out"; then pass "exec: the process joins the container's cgroup"
else fail "exec joins the cgroup" "$out"; fi
lc delete --force "$c"
if [ -z "$(cgroup_dirs "$c")" ]; then pass "delete --force removes every cgroup directory"; else fail "delete removes cgroups" "$(cgroup_dirs "$c")"; fi
assert_clean "limits"

# ---- the pids limit makes fork fail ----
c=${cgprefix}pids
cfg '.process.args = ["/cthelper","fork","8","2","wait"] | .linux.resources = {"pids": {"limit": 4}}'
out=$(lc run --bundle "$bundle" "$c" 2>&1)
has "pids limit: 3 forks beside the init, then EAGAIN" "$out" fork=3 fork.error=errno:11 wait=3
assert_clean "pids limit"

# ---- pause / resume ----
c=${cgprefix}pause
rm -f "$bundle/rootfs/tmp/tick"
args "[\"/cthelper\",\"tick\",\"/tmp/tick\",\"0.02\",\"echo\",\"$token\"]"
lc run -d --bundle "$bundle" "$c" </dev/null
sleep 0.3
lc pause "$c"; s=$(status "$c")
n1=$(wc -l <"$bundle/rootfs/tmp/tick"); sleep 0.5; n2=$(wc -l <"$bundle/rootfs/tmp/tick")
if [ "$s" = paused ] && [ "$n1" = "$n2" ] && [ "$n1" -gt 0 ]; then pass "pause: state says paused, the process does not run"
else fail "pause" "status=$s ticks $n1 -> $n2"; fi
expect_fail "pause twice refused" "paused, not running" lc pause "$c"
expect_fail "exec into a paused container refused" "paused" lc exec "$c" /cthelper pid
expect_fail "delete of a paused container without --force refused" "force" lc delete "$c"
lc resume "$c"; s=$(status "$c"); sleep 0.3; n3=$(wc -l <"$bundle/rootfs/tmp/tick")
if [ "$s" = running ] && [ "$n3" -gt "$n2" ]; then pass "resume: running again"; else fail "resume" "status=$s ticks $n2 -> $n3"; fi
expect_fail "resume of a running container refused" "not paused" lc resume "$c"
lc pause "$c"
lc delete --force "$c" && [ -z "$(cgroup_dirs "$c")" ] && pass "delete --force of a paused container" ||
	fail "delete --force of a paused container" "$(cgroup_dirs "$c")"
rm -f "$bundle/rootfs/tmp/tick"
assert_clean "pause"

# ---- kill --all reaches processes that left the init's process tree ----
c=${cgprefix}killall
args "[\"/cthelper\",\"fork\",\"2\",\"1000\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
lc run -d --bundle "$bundle" "$c" </dev/null >/dev/null
sleep 0.2
n=$(lc ps --format json "$c" | jq length)
lc kill --all "$c" KILL; sleep 0.3
if [ "$n" -ge 3 ] && [ "$(status "$c")" = stopped ] && [ "$(lc ps --format json "$c")" = "[]" ]; then pass "kill --all: every process of the cgroup"
else fail "kill --all" "before=$n status=$(status "$c") after=$(lc ps --format json "$c")"; fi
lc delete "$c"
assert_clean "kill --all"

# ---- a create that fails after its cgroup was made leaves no cgroup ----
c=${cgprefix}bad
cfg '.process.args = ["/cthelper","pid"] | .linux.resources = {"cpu": {"cpus": "4096-4097"}}'
expect_fail "invalid resource refused at create" "cpus|cpuset" lc run --bundle "$bundle" "$c"
args '["/nonexistent"]'
expect_fail "failed create (missing executable)" "nonexistent" lc run --bundle "$bundle" "$c"
if [ -z "$(cgroup_dirs "$c")" ]; then pass "failed creates leave no cgroup"; else fail "failed creates leave no cgroup" "$(cgroup_dirs "$c")"; fi
assert_clean "failed create"

# ---- an init OOM-killed during setup: the error says so (memory.oom_control or memory.events oom_kill) ----
c=${cgprefix}mem1
cfg '.process.args = ["/cthelper","pid"] | .linux.resources = {"memory": {"limit": 1}}'
expect_fail "init OOM-killed during setup is named" "OOM-killed during setup" lc run --bundle "$bundle" "$c"
assert_clean "init OOM-killed during setup"

# ---- linux.cgroupsPath given by the config ----
c=${cgprefix}path
cfg ".process.args = [\"/cthelper\",\"read\",\"/proc/self/cgroup\"] | .linux.cgroupsPath = \"/lcrun/${cgprefix}custom/inner\""
out=$(cg_lines "$(lc run --bundle "$bundle" "$c")")
if grep -q ":/lcrun/${cgprefix}custom/inner\$" <<<"$out" && [ -z "$(ls -d /sys/fs/cgroup/*/lcrun/${cgprefix}custom/inner 2>/dev/null)" ]; then
	pass "linux.cgroupsPath: used, and removed on delete"
else fail "linux.cgroupsPath" "$out"; fi
# the parent it created is left, as runc leaves it; the test removes it
for d in /sys/fs/cgroup/*/lcrun/${cgprefix}custom; do rmdir "$d" 2>/dev/null; done
assert_clean "cgroupsPath"
# ---- a cgroup namespace is rooted at the container's cgroup ----
c=${cgprefix}cgns
cfg '.process.args = ["/cthelper","read","/proc/self/cgroup"] | .linux.namespaces += [{"type":"cgroup"}]'
out=$(cg_lines "$(lc run --bundle "$bundle" "$c")")
if [ -n "$out" ] && ! grep -qv ':/$' <<<"$out"; then pass "cgroup namespace: rooted at the container's cgroup in every hierarchy"
else fail "cgroup namespace" "$out"; fi
assert_clean "cgroup namespace"

# ---- pure cgroup v2 (as in the guest): cgroup2 alone on /sys/fs/cgroup in a private mount namespace, where the
# init is born in its cgroup (clone3 CLONE_INTO_CGROUP) ----
c=${cgprefix}v2
# (The host's controllers are bound to v1 hierarchies, so this cgroup2 has none to limit with: the VM suite,
# tests/vm/test-lcrun-vm.sh, covers limits on pure v2.)
cfg ".process.args = [\"/cthelper\",\"read\",\"/proc/self/cgroup\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
out=$(unshare -m bash -c 'umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 77
	"$1" --root "$2" run -d --bundle "$3" "$4" </dev/null || exit 1
	sleep 0.2
	"$1" --root "$2" pause "$4" && "$1" --root "$2" state "$4" | grep -q "\"paused\"" && echo paused-ok
	"$1" --root "$2" resume "$4"
	"$1" --root "$2" exec "$4" /cthelper read /proc/self/cgroup pid cgroup cgroup.procs
	"$1" --root "$2" delete --force "$4" || exit 1
	[ ! -e "/sys/fs/cgroup/lcrun/$4" ] && echo removed' _ "$LCRUN" "$root" "$bundle" "$c" 2>&1); rc=$?
if [ $rc -eq 77 ]; then skip "pure cgroup v2" "cannot mount cgroup2 alone here"
elif [ "$(grep -cE "^read=(.* )?0::/lcrun/$c\$" <<<"$out")" = 2 ] && grep -q paused-ok <<<"$out" && grep -q removed <<<"$out" &&
     grep -qE "^cgroup.cgroup.procs=(.* )?1 (.* )?$(sed -n 's/^pid=//p' <<<"$out")( |\$)" <<<"$out"; then
	pass "pure cgroup v2: init and exec in /lcrun/ID (both in its cgroup.procs from inside), pause through cgroup.freeze, removed on delete"
else fail "pure cgroup v2" "rc=$rc $out"; fi
assert_clean "pure cgroup v2"
finish
