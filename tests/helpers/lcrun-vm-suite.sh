#!/bin/sh
# The lcrun suite inside the VM (pure cgroup v2, the static musl lcrun, busybox sh), run by lcrun-vm-init as
# PID 1's child; tests/vm/test-lcrun-vm.sh boots it and passes the case lines on. The feature areas that
# differ on pure v2: lifecycle and exit codes, namespaces, mounts, process security (caps, user, seccomp,
# no_new_privs), cgroup v2 resources read from inside (memory, pids, cpu), the pids limit biting, an OOM
# kill, devices through the BPF program, the freezer (pause/resume), exec joining the cgroup, update; and bad
# input, each followed by a check that nothing is left (mounts, cgroups, processes, state directories).
# Every container runs /cthelper alone in its rootfs and reports key=value lines.
set -u
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

T=lcrun-vm
failed=0 passed=0
pass() { passed=$((passed + 1)); printf '[       OK ] %s: %s\n' "$T" "$1"; }
fail() { failed=$((failed + 1)); printf '[  FAILED  ] %s: %s: %s\n' "$T" "$1" "$(echo "${2:-}" | tr '\n' ' ' | cut -c1-700)"; }

LCRUN=/bin/lcrun
scratch=/run/lcrun-vm
root=$scratch/state
bundle=$scratch/bundle
token=lcvm-token
cg=/sys/fs/cgroup
mkdir -p "$scratch"
lc() { "$LCRUN" --root "$root" "$@"; }

if grep -q " $cg [^ ]* [^-]*- cgroup2 " /proc/self/mountinfo && ! grep -q " - cgroup " /proc/self/mountinfo; then
	pass "pure cgroup v2 on /sys/fs/cgroup"
else fail "pure cgroup v2 on /sys/fs/cgroup" "$(grep cgroup /proc/self/mountinfo)"; fi
if grep -q ' / rootfs ' /proc/self/mountinfo; then fail "root is not the initramfs" "$(grep ' / ' /proc/self/mountinfo)"; fi

# mk ARGS_JSON [PROCESS_JSON_MEMBERS] [LINUX_JSON_MEMBERS]: a fresh minimal bundle; the extra members go at
# the front of "process" and "linux" (later duplicates lose in json-c, so nothing else may repeat them).
mk() {
	rm -rf "$bundle"
	CTHELPER=/bin/cthelper sh /suite/make-bundle.sh "$bundle" "$1" || return 1
	p=$(printf '%s' "${2:-}" | tr '\n\t' '  ') l=$(printf '%s' "${3:-}" | tr '\n\t' '  ')
	[ -n "$p" ] && sed -i "s|\"process\": {|\"process\": {$p,|" "$bundle/config.json"
	[ -n "$l" ] && sed -i "s|\"linux\": {|\"linux\": {$l,|" "$bundle/config.json"
	return 0
}
# has NAME OUTPUT LINE...: every LINE appears exactly in OUTPUT.
has() {
	n=$1 o=$2; shift 2
	for l in "$@"; do
		printf '%s\n' "$o" | grep -qxF -- "$l" || { fail "$n" "missing [$l] in: $o"; return 1; }
	done
	pass "$n"
}
# expect_fail NAME PATTERN CMD...: CMD fails and its stderr matches PATTERN.
expect_fail() {
	n=$1 pat=$2; shift 2
	o=$("$@" 2>&1 >/dev/null) && { fail "$n" "succeeded: $*"; return 1; }
	printf '%s\n' "$o" | grep -qE -- "$pat" || { fail "$n" "error does not match /$pat/: $o"; return 1; }
	pass "$n"
}
# Nothing left: no mount under the scratch directory, no state directory, no cgroup, no process of ours.
assert_clean() {
	sleep 0.1
	left=$(grep -c " $scratch" /proc/self/mountinfo)
	[ "$left" = 0 ] || { fail "$1: clean" "mounts left: $(grep " $scratch" /proc/self/mountinfo)"; return; }
	[ -z "$(ls -A "$root" 2>/dev/null)" ] || { fail "$1: clean" "state left: $(ls "$root")"; return; }
	left=$(find $cg/lcrun -mindepth 1 -type d 2>/dev/null)
	[ -z "$left" ] || { fail "$1: clean" "cgroups left: $left"; return; }
	left=$(procs "$token|sleep 1000")
	[ -z "$left" ] || { fail "$1: clean" "processes left: $left"; return; }
	pass "$1: clean"
}
# procs PATTERN: "PID CMDLINE" of every process whose command line matches (busybox here has no pgrep).
procs() {
	for d in /proc/[0-9]*; do
		c=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
		printf '%s\n' "$c" | grep -qE -- "$1" && [ "${d#/proc/}" != $$ ] && echo "${d#/proc/} $c"
	done
}
status() { lc state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
wait_status() { i=0; while [ $i -lt 100 ]; do [ "$(status "$1")" = "$2" ] && return 0; sleep 0.1; i=$((i + 1)); done; return 1; }

# ---- run: output and exit codes ----
mk '["/cthelper","echo","out-3","exit","3"]'
o=$(lc run --bundle "$bundle" c-exit3); rc=$?
[ "$o" = out-3 ] && [ $rc = 3 ] && pass "run: output and exit code 3" || fail "run: exit 3" "rc=$rc out=$o"
assert_clean "run exit 3"
mk "[\"/cthelper\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
lc run --bundle "$bundle" c-kill9 </dev/null & runpid=$!
wait_status c-kill9 running
lc kill c-kill9 KILL
wait $runpid; rc=$?
[ $rc = 137 ] && pass "run: SIGKILL from outside gives 137" || fail "run: 137" "rc=$rc"
assert_clean "run 137"

# ---- namespaces, identity, process security ----
mk '["/cthelper","hostname","pid","ns","ids","cwd","umask","nnp","seccomp","caps","rlimits","oom"]'
o=$(lc run --bundle "$bundle" c-ns)
has "namespaces: hostname, pid 1, new mount and net namespaces; uid 0, cwd /, umask 0022" "$o" \
	hostname=lcrun-test pid=1 uid=0,0,0 gid=0,0,0 groups= cwd=/ umask=0022 no_new_privs=1 seccomp=0 &&
	! printf '%s\n' "$o" | grep -qxF "ns.mnt=$(readlink /proc/self/ns/mnt)" &&
	! printf '%s\n' "$o" | grep -qxF "ns.net=$(readlink /proc/self/ns/net)" ||
	fail "namespaces: own mnt and net" "$o"
assert_clean "namespaces"

# A user namespace with mappings, only /proc mounted. The init makes the device nodes in the image's /dev as
# root of the namespace, so that directory belongs to it (see tests/integration/test-lcrun.sh).
mk '["/cthelper"]'
cat >"$bundle/config.json" <<'JSON'
{"ociVersion": "1.0.2",
 "process": {"user": {"uid": 0, "gid": 0}, "args": ["/cthelper", "ids", "read", "/proc/self/uid_map", "ns"], "cwd": "/",
             "env": ["PATH=/bin"], "noNewPrivileges": true},
 "root": {"path": "rootfs"}, "hostname": "lcrun-test",
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
 "linux": {"namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
           "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
           "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}}
JSON
chown 100000:100000 "$bundle/rootfs/dev"
o=$(lc run --bundle "$bundle" c-userns 2>&1)
chown 0:0 "$bundle/rootfs/dev"
printf '%s\n' "$o" | grep -qx uid=0,0,0 && printf '%s\n' "$o" | grep -qE '^read= *0 +100000 +65536$' &&
	printf '%s\n' "$o" | grep -q '^ns.user=' && ! printf '%s\n' "$o" | grep -qxF "ns.user=$(readlink /proc/self/ns/user)" &&
	pass "user namespace: a new one, uid 0 inside mapped to 100000" || fail "user namespace" "$o"
assert_clean "user namespace"

mk '["/cthelper","ids","caps","nnp","seccomp","mkdir","/tmp/d","rlimits","oom","umask"]' \
	'"user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 23},
	 "capabilities": {"bounding": ["CAP_KILL","CAP_NET_BIND_SERVICE"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
	                  "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
	 "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}], "oomScoreAdj": 300' \
	'"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir","mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
sed -i 's|"user": {"uid": 0, "gid": 0},||' "$bundle/config.json"
o=$(lc run --bundle "$bundle" c-sec 2>&1)
has "process security: user, groups, caps, no_new_privs, seccomp errnoRet, rlimit, oom_score_adj, umask" "$o" \
	uid=1000,1000,1000 gid=1000,1000,1000 groups=10,20 cap.eff=0000000000000020 cap.prm=0000000000000020 \
	cap.inh=0000000000000020 cap.amb=0000000000000020 cap.bnd=0000000000000420 no_new_privs=1 seccomp=2 \
	mkdir=errno:1 rlimit.NOFILE=512:1024 oom_score_adj=300 umask=0027
assert_clean "process security"

# ---- mounts ----
mk '["/cthelper","write","/newfile","x","write","/tmp/x","y","read","/proc/keys","ls","/sys/firmware","write","/proc/sys/kernel/domainname","x","mounts"]'
sed -i 's|"readonly": false|"readonly": true|; s|"mounts": \[|"mounts": [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},|' "$bundle/config.json"
o=$(lc run --bundle "$bundle" c-mounts)
wr=$(printf '%s\n' "$o" | grep '^write=' | tr '\n' ' ')
if [ "$wr" = "write=errno:30 write=ok write=errno:30 " ] && [ ! -e "$bundle/rootfs/newfile" ]; then
	printf '%s\n' "$o" | grep -q '^mount=/ [a-z0-9]* ro,' &&
	has "mounts: readonly root, tmpfs below writable, masked and readonly paths, cgroup2 mounted" "$o" \
		"read=" ls.count=0 "mount=/tmp tmpfs rw,relatime" "mount=/proc/keys tmpfs rw,nosuid" \
		"mount=/sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime" "mount=/proc/sys proc ro,nosuid,nodev,noexec,relatime" ||
	fail "mounts: the root is read-only" "$o"
else fail "mounts: readonly root" "$o"; fi
assert_clean "mounts"

# ---- cgroup v2 resources, read from inside ----
mk "[\"/cthelper\",\"cgroup\",\"memory.max\",\"cgroup\",\"pids.max\",\"cgroup\",\"cpu.max\",\"cgroup\",\"cpu.weight\",\"read\",\"/proc/self/cgroup\"]" '' \
	'"resources": {"memory": {"limit": 67108864}, "pids": {"limit": 20}, "cpu": {"quota": 50000, "period": 100000, "shares": 2048}}'
o=$(lc run --bundle "$bundle" c-res)
has "cgroup v2: memory.max, pids.max, cpu.max, cpu.weight set before the process runs, in /lcrun/ID" "$o" \
	cgroup.memory.max=67108864 cgroup.pids.max=20 "cgroup.cpu.max=50000 100000" cgroup.cpu.weight=174 \
	"read=0::/lcrun/c-res"
assert_clean "cgroup v2 resources"

mk '["/cthelper","fork","8","2","wait"]' '' '"resources": {"pids": {"limit": 4}}'
o=$(lc run --bundle "$bundle" c-pids)
has "pids: the limit makes fork fail with EAGAIN" "$o" fork=3 fork.error=errno:11
assert_clean "pids"

mk '["/cthelper","alloc","200","echo","survived"]' '' '"resources": {"memory": {"limit": 33554432, "swap": 33554432}}'
o=$(lc run --bundle "$bundle" c-oom 2>&1); rc=$?
[ $rc = 137 ] && ! printf '%s\n' "$o" | grep -q survived && pass "memory: over memory.max the process is OOM-killed (137)" ||
	fail "memory OOM" "rc=$rc out=$o"
assert_clean "memory OOM"

# An exec'd process over the limit is the one killed; the init lives on and memory.events counts the kill.
c=c-oomexec
mk "[\"/cthelper\",\"sleep\",\"1000\",\"echo\",\"$token\"]" '' '"resources": {"memory": {"limit": 33554432, "swap": 33554432}}'
lc run -d --bundle "$bundle" $c </dev/null
lc exec $c /cthelper alloc 200 echo survived >/dev/null 2>&1; rc=$?
o=$(lc exec $c /cthelper cgroup memory.events)
[ $rc = 137 ] && [ "$(status $c)" = running ] && printf '%s\n' "$o" | grep -q ' oom_kill 1\( \|$\)' &&
	pass "memory: an exec'd process over memory.max is OOM-killed, the init lives on, memory.events counts it" ||
	fail "memory: exec OOM" "rc=$rc status=$(status $c) $o"
lc delete --force $c
assert_clean "memory: exec OOM"

# A cgroup namespace: the container sees its cgroup as the root, and its cgroup2 mount shows only its subtree.
mk '["/cthelper","read","/proc/self/cgroup","cgroup","cgroup.procs","ls","/sys/fs/cgroup/lcrun"]' '' '"namespaces": [{"type": "cgroup"}]'
sed -i 's|"namespaces": \[{"type": "pid"}|"namespaces": [{"type": "cgroup"}, {"type": "pid"}|; s|"namespaces": \[{"type": "cgroup"}\],||' "$bundle/config.json"
o=$(lc run --bundle "$bundle" c-cgns)
has "cgroup namespace: rooted at the container's cgroup, its mount shows only that subtree" "$o" \
	"read=0::/" cgroup.cgroup.procs=1 ls=errno:2
assert_clean "cgroup namespace"

# kill --all reaches processes that left the init's process group.
c=c-killall
mk "[\"/cthelper\",\"fork\",\"2\",\"1000\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
lc run -d --bundle "$bundle" $c </dev/null >/dev/null
sleep 0.3
n=$(wc -w <$cg/lcrun/$c/cgroup.procs)
lc kill --all $c KILL; sleep 0.5
[ "$n" = 3 ] && [ "$(status $c)" = stopped ] && [ ! -s $cg/lcrun/$c/cgroup.procs ] &&
	pass "kill --all: every process of the cgroup" || fail "kill --all" "before=$n status=$(status $c)"
lc delete $c
assert_clean "kill --all"

# /dev/null is one of the default devices, always allowed. 240:0 (a number left for local use, no driver here)
# is created but not allowed: EPERM from the BPF program; with a rule allowing it, the open reaches the kernel's
# device lookup, which answers ENXIO.
mk '["/cthelper","open","/dev/null","open","/dev/local-test"]' '' \
	'"devices": [{"path": "/dev/local-test", "type": "c", "major": 240, "minor": 0}],
	 "resources": {"devices": [{"allow": false, "access": "rwm"}]}'
o=$(lc run --bundle "$bundle" c-dev)
[ "$(printf '%s\n' "$o" | tr '\n' ' ')" = "open=ok open=errno:1 " ] &&
	pass "devices: the BPF program allows the default 1:3 and refuses 240:0 (EPERM)" || fail "devices BPF" "$o"
mk '["/cthelper","open","/dev/local-test"]' '' \
	'"devices": [{"path": "/dev/local-test", "type": "c", "major": 240, "minor": 0}],
	 "resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 240, "minor": 0, "access": "rw"}]}'
o=$(lc run --bundle "$bundle" c-dev2)
[ "$o" = "open=errno:6" ] && pass "devices: an allow rule for 240:0 lets the open through to the kernel (ENXIO)" ||
	fail "devices BPF allow" "$o"
assert_clean "devices"

# ---- freezer, exec, update, ps ----
c=c-pause
mk "[\"/cthelper\",\"tick\",\"/tmp/tick\",\"0.02\",\"echo\",\"$token\"]"
lc run -d --bundle "$bundle" $c </dev/null
sleep 0.5
lc pause $c; s=$(status $c); fz=$(cat $cg/lcrun/$c/cgroup.freeze 2>&1)
t=$bundle/rootfs/tmp/tick
n1=$(wc -l <$t); sleep 0.5; n2=$(wc -l <$t)
[ "$s" = paused ] && [ "$fz" = 1 ] && [ "$n1" = "$n2" ] && [ "$n1" -gt 0 ] &&
	pass "pause: cgroup.freeze 1, state paused, no progress" || fail "pause" "status=$s freeze=$fz ticks $n1 -> $n2"
expect_fail "exec into a paused container refused" "paused" lc exec $c /cthelper pid
lc resume $c; s=$(status $c); sleep 0.5; n3=$(wc -l <$t)
[ "$s" = running ] && [ "$(cat $cg/lcrun/$c/cgroup.freeze)" = 0 ] && [ "$n3" -gt "$n2" ] &&
	pass "resume: running again" || fail "resume" "status=$s ticks $n2 -> $n3"
o=$(lc exec $c /cthelper pid read /proc/self/cgroup cgroup cgroup.procs ns)
epid=$(printf '%s\n' "$o" | sed -n 's/^pid=//p')
printf '%s\n' "$o" | grep -qxF "read=0::/lcrun/$c" && printf '%s\n' "$o" | grep -q "^cgroup.cgroup.procs=.*\b$epid\b" &&
	[ "$epid" != 1 ] && pass "exec: joins the container's cgroup and pid namespace" || fail "exec joins" "$o"
lc update --memory 32m --pids-limit 7 $c
o=$(lc exec $c /cthelper cgroup memory.max cgroup pids.max)
has "update: memory.max and pids.max seen from inside" "$o" cgroup.memory.max=33554432 cgroup.pids.max=7
ev=$(lc events --stats $c 2>&1 | tr -d ' \n')
printf '%s' "$ev" | grep -q '"type":"stats"' && printf '%s' "$ev" | grep -q '"limit":7' &&
	printf '%s' "$ev" | grep -q '"limit":33554432' && pass "events --stats: the pids and memory limits from the v2 files" ||
	fail "events --stats" "$ev"
pid=$(lc state $c | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
lc ps $c | grep -q "^$pid " && pass "ps: lists the init" || fail "ps" "$(lc ps $c 2>&1)"
expect_fail "delete of a running container without --force refused" "running.*--force" lc delete $c
[ "$(status $c)" = running ] && pass "delete without --force left it running" || fail "delete without --force left it running"
expect_fail "kill: invalid signal" "invalid signal" lc kill $c NOTASIGNAL
lc pause $c
lc delete --force $c && [ ! -e $cg/lcrun/$c ] && pass "delete --force of a paused container removes its cgroup" ||
	fail "delete --force paused"
assert_clean "freezer, exec, update"

# ---- bad input: a clear error, and nothing left ----
mk '["/cthelper","pid"]' '' '"namespaces": [{"type": "foo"}]'
sed -i 's|"namespaces": \[{"type": "pid"}|"x-ns": [{"type": "pid"}|' "$bundle/config.json"
expect_fail "invalid namespace type named" 'linux\.namespaces\[0\]\.type' lc run --bundle "$bundle" c-bad
assert_clean "invalid config"
mk '["/cthelper","pid"]'
sed -i 's|"path": "rootfs"|"path": "no-such-rootfs"|' "$bundle/config.json"
expect_fail "missing rootfs named" 'root\.path.*no-such-rootfs' lc run --bundle "$bundle" c-norootfs
assert_clean "missing rootfs"
mk '["/no-such-binary"]'
expect_fail "missing executable fails create" 'process.args\[0\].*(not found|No such file)' lc create --bundle "$bundle" c-noexe
assert_clean "missing executable"
mk "[\"/cthelper\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
lc create --bundle "$bundle" c-dup </dev/null
expect_fail "duplicate id" "already exists" lc create --bundle "$bundle" c-dup
lc delete c-dup && pass "delete of a created container" || fail "delete of a created container"
assert_clean "duplicate id"
for cmd in state start kill delete pause resume; do expect_fail "$cmd: unknown id" "does not exist" lc $cmd no-such-id; done
assert_clean "unknown id"
# A memory limit the init cannot live under kills it during setup: the error names the OOM kill, as runc's does.
mk '["/cthelper","pid"]' '' '"resources": {"memory": {"limit": 1}}'
expect_fail "init OOM-killed during setup is named" "OOM-killed during setup" lc run --bundle "$bundle" c-mem1
assert_clean "memory limit 1"

# Hooks: the VM has busybox's false and sleep.
mk '["/cthelper","pid"]'
sed -i 's|"linux": {|"hooks": {"createRuntime": [{"path": "/bin/false"}]}, "linux": {|' "$bundle/config.json"
expect_fail "failing createRuntime hook fails create" 'hooks\.createRuntime\[0\].*status 1' lc run --bundle "$bundle" c-hookfail
assert_clean "failing hook"
mk '["/cthelper","pid"]'
printf '#!/bin/sh\nexec sleep 1000\n' >$scratch/hang.sh; chmod +x $scratch/hang.sh
sed -i "s|\"linux\": {|\"hooks\": {\"prestart\": [{\"path\": \"$scratch/hang.sh\", \"timeout\": 1}]}, \"linux\": {|" "$bundle/config.json"
expect_fail "hanging prestart hook killed at its timeout" 'hooks\.prestart\[0\].*timed out' lc run --bundle "$bundle" c-hookhang
assert_clean "hanging hook"

echo "lcrun-vm: done $passed passed, $failed failed"
[ $failed = 0 ]
