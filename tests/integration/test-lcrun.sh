#!/bin/bash
# lcrun on real bundles: lifecycle, exit codes, namespaces, mounts, the CVE defences and bad input. The
# container's process is the static test helper alone in its rootfs (tests/helpers/cthelper.c), which reports
# what it sees as key=value lines. After every case, nothing may be left behind: no mount naming the scratch
# directory, no process carrying the case's token, no state directory, no cgroup of its containers.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun
need_busybox=0
. "$top/tests/data/lcrun/lib.sh"
bundle=$hbundle
cfg() { hcfg "$@"; }
args() { hargs "$@"; }
c=$cgprefix

# ---- the helper itself: a typo in a test must fail, never pass as a result ----
out=$("$CTHELPER" no-such-probe 2>&1); rc=$?
[ $rc -eq 120 ] && grep -q "unknown subcommand \`no-such-probe\`" <<<"$out" && pass "cthelper: an unknown subcommand exits 120" ||
	fail "cthelper: unknown subcommand" "rc=$rc $out"
out=$("$CTHELPER" mkdir "$scratch/no/such/dir" write "$scratch/w" text read "$scratch/w" sleep x 2>&1); rc=$?
[ $rc -eq 120 ] && [ "$(head -n3 <<<"$out" | tr '\n' ' ')" = "mkdir=errno:2 write=ok read=text " ] &&
	pass "cthelper: a failed probe prints errno and goes on; a bad argument exits 120" || fail "cthelper: probes" "rc=$rc $out"

# ---- run: output and exit codes ----
for want in 0 3; do
	args "[\"/cthelper\",\"echo\",\"out-$want\",\"exit\",\"$want\"]"
	out=$(cd "$bundle" && lc run "${c}exit$want"); rc=$?
	if [ "$out" = "out-$want" ] && [ $rc -eq "$want" ]; then pass "run prints output, exit $want"; else fail "run exit $want" "rc=$rc out=$out"; fi
	assert_clean "run exit $want"
done
# A signal from inside cannot kill a pid namespace's init (the helper says so and exits 125), so the kill
# comes from outside, while run waits.
args '["/cthelper","kill","TERM"]'
out=$(lc run --bundle "$bundle" "${c}selfkill"); rc=$?
[ $rc -eq 125 ] && [ "$out" = kill=ignored ] && pass "run: the init's own SIGTERM is dropped in its pid namespace" ||
	fail "self kill" "rc=$rc out=$out"
assert_clean "self kill"
args "[\"/cthelper\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
lc run --bundle "$bundle" "${c}kill9" </dev/null & runpid=$!
for _ in $(seq 50); do [ "$(lc state "${c}kill9" 2>/dev/null | jq -r .status)" = running ] && break; sleep 0.1; done
lc kill "${c}kill9" KILL
wait $runpid; rc=$?
if [ $rc -eq 137 ]; then pass "run: SIGKILL gives 137"; else fail "run: SIGKILL gives 137" "rc=$rc"; fi
assert_clean "run 137"
# Without a pid namespace the helper is not an init, and its own signal ends it: 128+15.
args '["/cthelper","kill","TERM"]' '.linux.namespaces |= map(select(.type != "pid"))'
out=$(lc run --bundle "$bundle" "${c}termself"); rc=$?
[ $rc -eq 143 ] && pass "run: a process killed by its own SIGTERM gives 143" || fail "run 143" "rc=$rc out=$out"
assert_clean "run 143"

# ---- create / state / start / state / kill / state / delete ----
args "[\"/cthelper\",\"write\",\"/tmp/started\",\"started\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
status() { lc state "$1" | jq -r .status; }
cl=${c}life
lc create --bundle "$bundle" --pid-file "$scratch/pid" "$cl" </dev/null >/dev/null 2>&1
s1=$(status "$cl"); pid=$(lc state "$cl" | jq -r .pid)
st=$(lc state "$cl")
if [ "$s1" = created ] && [ "$pid" = "$(cat "$scratch/pid")" ] && [ -d "/proc/$pid" ] &&
   [ ! -e "$bundle/rootfs/tmp/started" ]; then pass "create: created, pid file, process not started"
else fail "create" "status=$s1 pid=$pid"; fi
fields=$(jq -r 'keys_unsorted | join(",")' <<<"$st")
if [ "$fields" = "ociVersion,id,pid,status,bundle,rootfs,created,owner,annotations" ] &&
   [ "$(jq -r '.annotations["org.example.key"]' <<<"$st")" = value ] && [ "$(jq -r .bundle <<<"$st")" = "$bundle" ]; then
	pass "state: runc's fields"
else fail "state: runc's fields" "$st"; fi
# CVE-2019-5736: until it execs, the init is the runtime; its executable must be a read-only copy (a detached
# read-only bind mount of the binary, or a sealed memfd where that cannot be made), never build/lcrun itself.
exe=$(readlink "/proc/$pid/exe"); sum=$(sha256sum <"$LCRUN")
ro=$(python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_PATH)
print("ro" if os.statvfs("/proc/self/fd/%d" % fd).f_flag & os.ST_RDONLY else "rw")' "/proc/$pid/exe" 2>&1)
if { [ "$ro" = ro ] || [[ "$exe" == /memfd:lcrun* ]]; } && [ "$exe" != "$(realpath "$LCRUN")" ] &&
   ! (printf x >>"/proc/$pid/exe") 2>/dev/null && [ "$(sha256sum <"$LCRUN")" = "$sum" ]; then
	pass "CVE-2019-5736: the init runs from a read-only copy of the runtime, not writable"
else fail "CVE-2019-5736" "exe=$exe mount=$ro"; fi
lc start "$cl"; sleep 0.2
s2=$(status "$cl")
if [ "$s2" = running ] && [ "$(cat "$bundle/rootfs/tmp/started" 2>/dev/null)" = started ] &&
   [ "$(readlink "/proc/$pid/exe")" = /cthelper ]; then
	pass "start: running, the same pid now runs the container's process"
else fail "start" "status=$s2 exe=$(readlink "/proc/$pid/exe")"; fi
expect_fail "start twice refused" "not created" lc start "$cl"
expect_fail "delete running without --force refused" "running.*--force" lc delete "$cl"
[ "$(status "$cl")" = running ] && pass "delete without --force left it running" || fail "delete without --force left it running"
expect_fail "kill: invalid signal" "invalid signal" lc kill "$cl" NOTASIGNAL
expect_fail "kill: signal number out of range" "invalid signal" lc kill "$cl" 99
[ "$(status "$cl")" = running ] && pass "invalid signals left it running" || fail "invalid signals left it running"
lc kill "$cl" KILL; sleep 0.2
s3=$(status "$cl"); pid3=$(lc state "$cl" | jq -r .pid)
if [ "$s3" = stopped ] && [ "$pid3" = 0 ]; then pass "kill KILL: stopped, pid 0"; else fail "kill" "status=$s3 pid=$pid3"; fi
expect_fail "kill of a stopped container refused" "not running" lc kill "$cl" TERM
lc delete "$cl" && pass "delete stopped" || fail "delete stopped"
expect_fail "state after delete: does not exist" "does not exist" lc state "$cl"
rm -f "$bundle/rootfs/tmp/started"
assert_clean "lifecycle"

# delete --force of a running container
args "[\"/cthelper\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
lc run -d --bundle "$bundle" "${c}force" </dev/null
[ "$(status "${c}force")" = running ] && lc delete --force "${c}force" && pass "delete --force of a running container" ||
	fail "delete --force of a running container"
assert_clean "delete --force"

# ---- namespaces ----
args '["/cthelper","hostname","pid","ns"]'
o=$(lc run --bundle "$bundle" "${c}ns")
own() { sed -n "s/^ns.$1=//p" <<<"$o"; }
if has "namespaces: hostname, pid 1" "$o" hostname=lcrun-test pid=1 ppid=0 && [ "$(hostname)" != lcrun-test ]; then
	new=1
	for k in mnt net ipc uts pid; do [ "$(own $k)" != "$(readlink /proc/self/ns/$k)" ] || new=0; done
	for k in user cgroup; do [ "$(own $k)" = "$(readlink /proc/self/ns/$k)" ] || new=0; done
	[ $new = 1 ] && pass "namespaces: new mnt, net, ipc, uts and pid; the host's user and cgroup" ||
		fail "namespaces: which are new" "$o"
else fail "namespaces: the host's hostname kept" "$(hostname)"; fi
assert_clean "namespaces"

# A user namespace with mappings: root inside is 100000 outside. With only /proc mounted it runs. The init sets
# up the rootfs as root of the namespace (as runc and crun), so the image's /dev, where it makes the device
# nodes, belongs to that root as a rootfs for this namespace would; the host's root owns the rest.
userns='.linux.namespaces += [{"type": "user"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] |
        .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
cfg "$userns | .process.args = [\"/cthelper\",\"ids\",\"read\",\"/proc/self/uid_map\",\"ns\"] |
     .mounts = [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}] | .linux.maskedPaths = [] | .linux.readonlyPaths = []"
chmod 755 "$scratch"
chown 100000:100000 "$bundle/rootfs/dev"
out=$(lc run --bundle "$bundle" "${c}userns" 2>&1)
chown 0:0 "$bundle/rootfs/dev"
if grep -qx uid=0,0,0 <<<"$out" && grep -qx gid=0,0,0 <<<"$out" && grep -qE '^read= *0 +100000 +65536$' <<<"$out" &&
   grep -q '^ns.user=' <<<"$out" && ! grep -qxF "ns.user=$(readlink /proc/self/ns/user)" <<<"$out"; then
	pass "user namespace: a new one, uid 0 inside mapped to 100000"
else fail "user namespace" "$(tr '\n' ' ' <<<"$out")"; fi
assert_clean "user namespace"
# With the usual mounts (a tmpfs on /dev with devpts, shm and mqueue below it, as runc spec --rootless writes
# them) too: the init becomes root of the namespace before it mounts, so it may create /dev/pts in the new tmpfs
# (EOVERFLOW as an unmapped uid) and mount devpts with gid=5.
cfg "$userns | .process.args = [\"/cthelper\",\"ids\"] | .mounts |= map(select(.type != \"cgroup\"))"
out=$(lc run --bundle "$bundle" "${c}userns2" 2>&1)
has "a user namespace with a tmpfs /dev and devpts below it runs" "$out" uid=0,0,0
assert_clean "user namespace with /dev"

# sysctl written in the container's network namespace only
host_fwd=$(cat /proc/sys/net/ipv4/ip_forward); want=$((1 - host_fwd))
cfg ".process.args = [\"/cthelper\",\"read\",\"/proc/sys/net/ipv4/ip_forward\"] | .linux.sysctl = {\"net.ipv4.ip_forward\": \"$want\"}"
out=$(lc run --bundle "$bundle" "${c}sysctl")
if [ "$out" = "read=$want" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ]; then pass "sysctl in the container's namespace"
else fail "sysctl" "inside=$out host=$(cat /proc/sys/net/ipv4/ip_forward)"; fi
assert_clean "sysctl"

# ---- process security (the security module's entry point, run by the init) ----
cfg '.process.args = ["/cthelper","ids","caps","nnp","seccomp","mkdir","/tmp/d","rlimits","oom","umask","cwd","env"] |
     .process.user = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 23} | .process.cwd = "/tmp" |
     .process.capabilities = {"bounding": ["CAP_KILL","CAP_NET_BIND_SERVICE"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]} |
     .process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}] |
     .process.oomScoreAdj = 300 | .process.env += ["GREETING=hello world"] |
     .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir","mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
out=$(lc run --bundle "$bundle" "${c}sec" 2>&1)
has "capabilities, user, groups, no_new_privs, seccomp errnoRet, rlimits, oom_score_adj, umask, cwd, env" "$out" \
	uid=1000,1000,1000 gid=1000,1000,1000 groups=10,20 cap.eff=0000000000000020 cap.prm=0000000000000020 \
	cap.inh=0000000000000020 cap.amb=0000000000000020 cap.bnd=0000000000000420 no_new_privs=1 seccomp=2 \
	mkdir=errno:1 rlimit.NOFILE=512:1024 rlimit.CORE=0:0 oom_score_adj=300 umask=0027 cwd=/tmp \
	"env.GREETING=hello world" env.TERM=xterm
assert_clean "process security"
# Without noNewPrivileges, without capabilities: every set empty, no_new_privs 0, seccomp off.
cfg '.process.args = ["/cthelper","caps","nnp","seccomp","umask"] | .process.noNewPrivileges = false'
out=$(lc run --bundle "$bundle" "${c}nocaps" 2>&1)
has "no capabilities given: every set empty, no_new_privs 0, umask 0022 by default" "$out" \
	cap.eff=0000000000000000 cap.prm=0000000000000000 cap.bnd=0000000000000000 cap.amb=0000000000000000 \
	no_new_privs=0 seccomp=0 umask=0022
assert_clean "no capabilities"

# ---- rootfs ----
cfg '.process.args = ["/cthelper","write","/newfile","x","write","/tmp/x","y","mounts"] | .root.readonly = true | .mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs"}]'
out=$(lc run --bundle "$bundle" "${c}ro")
if [ "$(grep '^write=' <<<"$out" | tr '\n' ' ')" = "write=errno:30 write=ok " ] && [ ! -e "$bundle/rootfs/newfile" ] &&
   grep -q '^mount=/ [a-z0-9]* ro,' <<<"$out"; then pass "readonly root (mounts below stay writable)"
else fail "readonly root" "$out"; fi
assert_clean "readonly root"

args '["/cthelper","read","/proc/keys","ls","/sys/firmware","write","/proc/sys/kernel/domainname","x","mounts"]'
out=$(lc run --bundle "$bundle" "${c}mask")
has "masked paths empty, readonly paths read-only" "$out" "read=" ls.count=0 write=errno:30 \
	"mount=/proc/sys proc ro,nosuid,nodev,noexec,relatime" "mount=/sys sysfs ro,nosuid,nodev,noexec,relatime"
assert_clean "masked paths"

mkdir -p "$scratch/hostdir"; echo bound >"$scratch/hostdir/marker"; echo file-bound >"$scratch/hostfile"
cfg '.process.args = ["/cthelper","read","/mnt/data/marker","read","/etc/bound-file","write","/mnt/data/new","inside","write","/etc/bound-file","x"] |
     .mounts += [{"destination":"/mnt/data","type":"bind","source":"'"$scratch"'/hostdir","options":["rbind","rw"]},
                 {"destination":"/etc/bound-file","type":"bind","source":"'"$scratch"'/hostfile","options":["bind","ro"]}]'
out=$(lc run --bundle "$bundle" "${c}bind" | tr '\n' ' ')
if [ "$out" = "read=bound read=file-bound write=ok write=errno:30 " ] && [ "$(cat "$scratch/hostdir/new")" = inside ] &&
   [ "$(cat "$scratch/hostfile")" = file-bound ]; then pass "bind mounts (directory rw and file ro)"
else fail "bind mounts" "$out"; fi
assert_clean "bind mounts"

# CVE-2021-30465 style: the destination is a symlink in the image pointing at a host path; the mount lands at that
# path inside the rootfs and the host path is untouched.
mkdir -p "$scratch/victim"; ln -sfn "$scratch/victim" "$bundle/rootfs/evil"
cfg '.process.args = ["/cthelper","read","/evil/marker"] |
     .mounts += [{"destination":"/evil","type":"bind","source":"'"$scratch"'/hostdir","options":["bind"]}]'
out=$(lc run --bundle "$bundle" "${c}symlink")
if [ "$out" = read=bound ] && [ -z "$(ls -A "$scratch/victim")" ] && [ -d "$bundle/rootfs$scratch/victim" ]; then
	pass "symlinked mount destination stays inside the rootfs"
else fail "symlinked mount destination" "out=$out victim=$(ls -A "$scratch/victim")"; fi
rm -f "$bundle/rootfs/evil"; rm -rf "${bundle:?}/rootfs/tmp/lcrun-test."*
assert_clean "symlink destination"

# /proc on a symlink is refused (CVE-2019-16884 class)
mv "$bundle/rootfs/proc" "$bundle/rootfs/proc.real"; ln -s /tmp "$bundle/rootfs/proc"
args '["/cthelper","pid"]'
expect_fail "proc over a symlink refused" "mounts\[0\].destination.*not a real directory" lc run --bundle "$bundle" "${c}procsym"
rm "$bundle/rootfs/proc"; mv "$bundle/rootfs/proc.real" "$bundle/rootfs/proc"
assert_clean "proc symlink"

# ---- fds and cwd (CVE-2024-21626) ----
args '["/cthelper","fds"]'
out=$(exec 9</etc/hostname; lc run --bundle "$bundle" "${c}fds")
if [ "$out" = "fds=0 1 2" ]; then pass "no host fd reaches the container"; else fail "no host fd reaches the container" "$out"; fi
assert_clean "fds"
cfg '.process.args = ["/cthelper","cwd"] | .process.cwd = "/proc/self/fd/7"'
expect_fail "cwd outside the root refused" "process.cwd" lc run --bundle "$bundle" "${c}cwd" 7</tmp
assert_clean "cwd"

# ---- exec into a running container ----
ce=${c}exec
args "[\"/cthelper\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
lc run -d --bundle "$bundle" "$ce" </dev/null
ipid=$(lc state "$ce" | jq -r .pid)
out=$(lc exec "$ce" /cthelper hostname pid ns)
if has "exec: hostname" "$out" hostname=lcrun-test && ! grep -qx pid=1 <<<"$out" &&
   grep -qxF "ns.pid=$(readlink "/proc/$ipid/ns/pid")" <<<"$out" && grep -qxF "ns.mnt=$(readlink "/proc/$ipid/ns/mnt")" <<<"$out" &&
   grep -qxF "ns.net=$(readlink "/proc/$ipid/ns/net")" <<<"$out"; then pass "exec: in the container's pid, mount and net namespaces"
else fail "exec" "$out"; fi
lc exec "$ce" /cthelper exit 7; rc=$?
[ $rc -eq 7 ] && pass "exec: exit code" || fail "exec: exit code" "rc=$rc"
out=$(lc exec --env FOO=bar --cwd /tmp "$ce" /cthelper env cwd)
has "exec: --env and --cwd" "$out" env.FOO=bar cwd=/tmp
out=$(lc exec --user 1000:1000 "$ce" /cthelper ids caps)
has "exec: --user, and the container's (empty) capabilities" "$out" uid=1000,1000,1000 gid=1000,1000,1000 cap.eff=0000000000000000
expect_fail "exec: missing executable" "nonexistent.*(not found|No such file)" lc exec "$ce" /nonexistent
expect_fail "exec: unknown id" "does not exist" lc exec no-such-id /cthelper pid
lc delete --force "$ce"
assert_clean "exec"

# ---- bad input: every class of invalid config.json field is refused with the field named, before anything
# is made; nothing is left behind ----
bad() { # bad NAME JQ_FILTER PATTERN
	cfg "$2"
	expect_fail "invalid config: $1" "$3" lc run --bundle "$bundle" "${c}bad"
	assert_clean "invalid config: $1"
}
bad "namespace type" '.linux.namespaces[0].type = "foo"' 'linux\.namespaces\[0\]\.type'
bad "wrong JSON type" '.process.args = 5' 'process\.args: expected an array'
bad "empty args" '.process.args = []' 'process\.args: empty'
bad "missing process" 'del(.process)' 'process: missing'
bad "missing root" 'del(.root)' 'root: missing'
bad "ociVersion type" '.ociVersion = 5' 'ociVersion: expected a string'
bad "relative cwd" '.process.cwd = "relative"' 'process\.cwd: "relative" is not an absolute path'
bad "duplicate namespace" '.linux.namespaces += [{"type": "pid"}]' 'linux\.namespaces\[5\]\.type: duplicate namespace "pid"'
bad "namespace path" '.linux.namespaces |= map(if .type == "network" then .path = "/nonexistent/ns" else . end)' '/nonexistent/ns'
bad "capability" '.process.capabilities = {"bounding": ["CAP_FOO"]}' 'process\.capabilities\.bounding\[0\]: unknown capability "CAP_FOO"'
bad "rlimit type" '.process.rlimits = [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]' 'process\.rlimits\[0\]\.type'
bad "rlimit soft above hard" '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 1}]' 'process\.rlimits\[0\]: soft limit 10 is above hard limit 1'
bad "oomScoreAdj range" '.process.oomScoreAdj = 2000' 'process\.oomScoreAdj: 2000 is out of range'
bad "umask sign" '.process.user.umask = -1' 'process\.user\.umask'
bad "terminal without a console socket" '.process.terminal = true' 'process\.terminal: a terminal needs --console-socket'
bad "scheduler policy" '.process.scheduler = {"policy": "SCHED_FOO"}' 'process\.scheduler\.policy'
bad "ioPriority class" '.process.ioPriority = {"class": "IOPRIO_CLASS_FOO"}' 'process\.ioPriority\.class'
bad "mount option" '.mounts += [{"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["bogusopt=1"]}]' 'mounts\[7\]\.options'
bad "mount type" '.mounts += [{"destination": "/x", "type": "nosuchfs", "source": "none"}]' 'mounts\[7\]\.type: `nosuchfs`'
bad "bind source" '.mounts += [{"destination": "/x", "type": "bind", "source": "/nonexistent/src", "options": ["bind"]}]' 'mounts\[7\]\.source'
bad "rootfsPropagation" '.linux.rootfsPropagation = "bogus"' 'linux\.rootfsPropagation: unknown propagation "bogus"'
bad "maskedPaths entry" '.linux.maskedPaths = ["relative"]' 'linux\.maskedPaths\[0\]'
bad "seccomp action" '.linux.seccomp = {"defaultAction": "SCMP_ACT_FOO"}' 'linux\.seccomp\.defaultAction'
bad "seccomp architecture" '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_FOO"]}' 'linux\.seccomp\.architectures\[0\]'
bad "seccomp argument index" '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}' 'linux\.seccomp\.syscalls\[0\]\.args\[0\]\.index'
bad "sysctl not namespaced" '.linux.sysctl = {"fs.file-max": "1"}' 'linux\.sysctl\["fs\.file-max"\]: not a namespaced sysctl'
bad "sysctl without its namespace" '.linux.sysctl = {"net.ipv4.ip_forward": "1"} | .linux.namespaces |= map(select(.type != "network"))' 'needs a network namespace'
bad "hostname without a UTS namespace" '.linux.namespaces |= map(select(.type != "uts"))' 'hostname: "lcrun-test" needs a UTS namespace'
bad "uid mappings without a user namespace" '.linux.uidMappings = [{"containerID": 0, "hostID": 1000, "size": 1}]' 'linux\.uidMappings'
bad "timeOffsets without a time namespace" '.linux.timeOffsets = {"monotonic": {"secs": 1}}' 'linux\.timeOffsets'
bad "personality domain" '.linux.personality = {"domain": "LINUX_FOO"}' 'linux\.personality\.domain'
bad "device type" '.linux.devices = [{"path": "/dev/x", "type": "q", "major": 1, "minor": 1}]' 'linux\.devices\[0\]\.type'
bad "device path" '.linux.devices = [{"path": "relative", "type": "c", "major": 1, "minor": 1}]' 'linux\.devices\[0\]\.path'
bad "memory limit range" '.linux.resources = {"memory": {"limit": -5}}' 'linux\.resources\.memory\.limit'
bad "blockIO weight range" '.linux.resources = {"blockIO": {"weight": 5000}}' 'linux\.resources\.blockIO\.weight'
bad "cgroupsPath escaping" '.linux.cgroupsPath = "../../escape"' 'linux\.cgroupsPath'
bad "hook path" '.hooks = {"prestart": [{"path": "relative/hook"}]}' 'hooks\.prestart\[0\]\.path'
printf '{"process": ' >"$bundle/config.json"
expect_fail "invalid config: not JSON" 'config\.json' lc run --bundle "$bundle" "${c}bad"
assert_clean "invalid config: not JSON"
rm -f "$bundle/config.json"
expect_fail "no config.json" 'config\.json.*No such file' lc run --bundle "$bundle" "${c}bad"
assert_clean "no config.json"
expect_fail "missing bundle" 'no-such-bundle' lc run --bundle "$scratch/no-such-bundle" "${c}bad"
assert_clean "missing bundle"

cfg '.root.path = "no-such-rootfs"'
expect_fail "missing rootfs" 'root\.path.*no-such-rootfs' lc run --bundle "$bundle" "${c}norootfs"
assert_clean "missing rootfs"
args '["nonexistent-binary"]'
expect_fail "missing executable fails create" 'process.args\[0\].*not found' lc create --bundle "$bundle" "${c}noexe"
assert_clean "missing executable"
args "[\"/cthelper\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
lc create --bundle "$bundle" "${c}dup" </dev/null
expect_fail "duplicate id" "already exists" lc create --bundle "$bundle" "${c}dup"
expect_fail "duplicate id (run)" "already exists" lc run -d --bundle "$bundle" "${c}dup"
[ "$(status "${c}dup")" = created ] && pass "duplicate id: the first container untouched" || fail "duplicate id: first untouched" "$(status "${c}dup")"
lc delete "${c}dup" && pass "delete of a created container" || fail "delete of a created container"
assert_clean "duplicate id"
for cmd in state start "kill" delete pause resume ps; do expect_fail "$cmd: unknown id" "does not exist" lc "$cmd" no-such-id; done
expect_fail "invalid id" "container id" lc state ../etc
expect_fail "invalid id at create" "container id" lc create --bundle "$bundle" ../etc
assert_clean "unknown id"

finish
