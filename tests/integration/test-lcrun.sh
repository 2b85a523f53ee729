#!/bin/bash
# lcrun on real busybox bundles: lifecycle, exit codes, namespaces, mounts, the CVE defences and bad input. After
# every case, nothing may be left behind: no mount naming the scratch directory, no process carrying the case's
# token, no state directory, no cgroup of its containers.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
LCRUN=${LCRUN:-$top/${BUILD:-build}/lcrun}

if [ "$(id -u)" != 0 ]; then skip lcrun "needs root (namespaces, mounts)"; exit 77; fi
[ -x "$LCRUN" ] || { skip lcrun "no $LCRUN (make all)"; exit 77; }
[ -x /bin/busybox ] || { skip lcrun "no /bin/busybox (apt-get install busybox-static)"; exit 77; }
command -v jq >/dev/null || { skip lcrun "no jq"; exit 77; }

scratch=$(mktemp -d /tmp/lcrun-test.XXXXXX)
root=$scratch/state
bundle=$scratch/bundle
token=lcrun-token-$$
cleanup() {
	for d in "$root"/*/; do [ -d "$d" ] && "$LCRUN" --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1; done
	findmnt -rn -o TARGET | grep -F "$scratch" | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT
"$top/tests/data/lcrun/make-bundle.sh" "$bundle" || { skip lcrun "could not make the busybox bundle"; exit 77; }
cp "$bundle/config.json" "$scratch/config.base.json"

lc() { "$LCRUN" --root "$root" "$@"; }
# cfg JQ_FILTER: config.json = base config transformed by the filter.
cfg() { jq "$1" "$scratch/config.base.json" >"$bundle/config.json"; }
args() { cfg ".process.args = $1${2:+ | $2}"; }

# Nothing left: mounts under the scratch dir, processes with the token, state directories.
assert_clean() {
	local n=$1 left
	left=$(findmnt -rn -o TARGET | grep -cF "$scratch")
	[ "$left" -eq 0 ] || { fail "$n: clean" "$left mounts left under $scratch"; return; }
	sleep 0.05
	if pgrep -f "$token" >/dev/null; then fail "$n: clean" "processes left: $(pgrep -af "$token")"; return; fi
	if [ -n "$(ls -A "$root" 2>/dev/null)" ]; then fail "$n: clean" "state left: $(ls "$root")"; return; fi
	left=$(ls -d /sys/fs/cgroup/*/lcrun/c-* /sys/fs/cgroup/lcrun/c-* 2>/dev/null)
	[ -z "$left" ] || { fail "$n: clean" "cgroups left: $left"; return; }
	pass "$n: clean"
}

# expect_fail NAME PATTERN CMD...: CMD fails and its stderr matches PATTERN.
expect_fail() {
	local n=$1 pat=$2 out rc; shift 2
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 0 ]; then fail "$n" "succeeded: $*"; return 1; fi
	if ! grep -qE -- "$pat" <<<"$out"; then fail "$n" "error does not match /$pat/: $out"; return 1; fi
	pass "$n"
}

# ---- run: output and exit codes ----
for want in 0 3; do
	args "[\"sh\",\"-c\",\"echo out-$want; exit $want\"]"
	out=$(cd "$bundle" && lc run "c-exit$want"); rc=$?
	if [ "$out" = "out-$want" ] && [ $rc -eq "$want" ]; then pass "run prints output, exit $want"; else fail "run exit $want" "rc=$rc out=$out"; fi
	assert_clean "run exit $want"
done
# A signal from inside cannot kill a pid namespace's init, so the kill comes from outside, while run waits.
args "[\"sh\",\"-c\",\"sleep 1000; : $token\"]"
lc run --bundle "$bundle" c-kill9 </dev/null & runpid=$!
for _ in $(seq 50); do [ "$(lc state c-kill9 2>/dev/null | jq -r .status)" = running ] && break; sleep 0.1; done
lc kill c-kill9 KILL
wait $runpid; rc=$?
if [ $rc -eq 137 ]; then pass "run: SIGKILL gives 137"; else fail "run: SIGKILL gives 137" "rc=$rc"; fi
assert_clean "run 137"

# ---- create / state / start / state / kill / state / delete ----
args "[\"sh\",\"-c\",\"echo started >/tmp/started; sleep 1000; : $token\"]"
status() { lc state "$1" | jq -r .status; }
lc create --bundle "$bundle" --pid-file "$scratch/pid" c-life </dev/null >/dev/null 2>&1
s1=$(status c-life); pid=$(lc state c-life | jq -r .pid)
st=$(lc state c-life)
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
lc start c-life; sleep 0.2
s2=$(status c-life)
if [ "$s2" = running ] && [ -e "$bundle/rootfs/tmp/started" ]; then pass "start: running"; else fail "start" "status=$s2"; fi
expect_fail "start twice refused" "not created" lc start c-life
expect_fail "delete running without --force refused" "running.*--force" lc delete c-life
[ "$(status c-life)" = running ] && pass "delete without --force left it running" || fail "delete without --force left it running"
expect_fail "kill: invalid signal" "invalid signal" lc kill c-life NOTASIGNAL
lc kill c-life KILL; sleep 0.2
s3=$(status c-life); pid3=$(lc state c-life | jq -r .pid)
if [ "$s3" = stopped ] && [ "$pid3" = 0 ]; then pass "kill KILL: stopped, pid 0"; else fail "kill" "status=$s3 pid=$pid3"; fi
expect_fail "kill of a stopped container refused" "not running" lc kill c-life TERM
lc delete c-life && pass "delete stopped" || fail "delete stopped"
expect_fail "state after delete: does not exist" "does not exist" lc state c-life
rm -f "$bundle/rootfs/tmp/started"
assert_clean "lifecycle"

# delete --force of a running container
args "[\"sh\",\"-c\",\"sleep 1000; : $token\"]"
lc run -d --bundle "$bundle" c-force </dev/null
[ "$(status c-force)" = running ] && lc delete --force c-force && pass "delete --force of a running container" ||
	fail "delete --force of a running container"
assert_clean "delete --force"

# ---- namespaces ----
args '["sh","-c","hostname; echo $$; readlink /proc/self/ns/mnt; readlink /proc/self/ns/net"]'
mapfile -t o < <(lc run --bundle "$bundle" c-ns)
if [ "${o[0]}" = lcrun-test ] && [ "$(hostname)" != lcrun-test ] && [ "${o[1]}" = 1 ] &&
   [ "${o[2]}" != "$(readlink /proc/self/ns/mnt)" ] && [ "${o[3]}" != "$(readlink /proc/self/ns/net)" ]; then
	pass "namespaces: hostname, pid 1, mount and net namespaces"
else fail "namespaces" "${o[*]}"; fi
assert_clean "namespaces"

# sysctl written in the container's network namespace only
host_fwd=$(cat /proc/sys/net/ipv4/ip_forward); want=$((1 - host_fwd))
cfg ".process.args = [\"cat\",\"/proc/sys/net/ipv4/ip_forward\"] | .linux.sysctl = {\"net.ipv4.ip_forward\": \"$want\"}"
out=$(lc run --bundle "$bundle" c-sysctl)
if [ "$out" = "$want" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ]; then pass "sysctl in the container's namespace"
else fail "sysctl" "inside=$out host=$(cat /proc/sys/net/ipv4/ip_forward)"; fi
assert_clean "sysctl"

# ---- process security (the security module's entry point, run by the init) ----
cfg '.process.args = ["sh","-c","grep -E \"^(CapEff|CapBnd|NoNewPrivs|Seccomp):\" /proc/self/status | tr -s \"\\t\" \" \"; mkdir /tmp/d 2>&1 || echo mkdir-denied; id -u"] |
     .process.user = {"uid": 1000, "gid": 1000} |
     .process.capabilities = {"bounding": ["CAP_KILL","CAP_NET_BIND_SERVICE"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]} |
     .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir","mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
out=$(lc run --bundle "$bundle" c-sec 2>&1)
if grep -q "CapEff: 0000000000000020" <<<"$out" && grep -q "CapBnd: 0000000000000420" <<<"$out" &&
   grep -q "NoNewPrivs: 1" <<<"$out" && grep -q "Seccomp: 2" <<<"$out" && grep -q "Operation not permitted" <<<"$out" &&
   [ "$(tail -n1 <<<"$out")" = 1000 ]; then pass "capabilities, user, no_new_privs, seccomp errnoRet"
else fail "process security" "$out"; fi
assert_clean "process security"

# ---- rootfs ----
cfg '.process.args = ["sh","-c","touch /newfile 2>/dev/null && echo writable || echo readonly; touch /tmp/x 2>/dev/null && echo tmp-writable"] | .root.readonly = true | .mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs"}]'
out=$(lc run --bundle "$bundle" c-ro | tr '\n' ' ')
if [ "$out" = "readonly tmp-writable " ] && [ ! -e "$bundle/rootfs/newfile" ]; then pass "readonly root (mounts below stay writable)"
else fail "readonly root" "$out"; fi
assert_clean "readonly root"

args '["sh","-c","wc -c </proc/keys; ls -A /sys/firmware | wc -l; (echo x >/proc/sys/kernel/domainname) 2>/dev/null && echo rw || echo ro"]'
out=$(lc run --bundle "$bundle" c-mask | tr -s ' \n' ' ')
if [ "$out" = "0 0 ro " ]; then pass "masked paths empty, readonly paths read-only"; else fail "masked/readonly paths" "$out"; fi
assert_clean "masked paths"

mkdir -p "$scratch/hostdir"; echo bound >"$scratch/hostdir/marker"; echo file-bound >"$scratch/hostfile"
cfg '.process.args = ["sh","-c","cat /mnt/data/marker /etc/bound-file; echo inside >/mnt/data/new"] |
     .mounts += [{"destination":"/mnt/data","type":"bind","source":"'"$scratch"'/hostdir","options":["rbind","rw"]},
                 {"destination":"/etc/bound-file","type":"bind","source":"'"$scratch"'/hostfile","options":["bind","ro"]}]'
out=$(lc run --bundle "$bundle" c-bind | tr '\n' ' ')
if [ "$out" = "bound file-bound " ] && [ "$(cat "$scratch/hostdir/new")" = inside ]; then pass "bind mounts (directory and file)"
else fail "bind mounts" "$out"; fi
assert_clean "bind mounts"

# CVE-2021-30465 style: the destination is a symlink in the image pointing at a host path; the mount lands at that
# path inside the rootfs and the host path is untouched.
mkdir -p "$scratch/victim"; ln -sfn "$scratch/victim" "$bundle/rootfs/evil"
cfg '.process.args = ["sh","-c","cat /evil/marker"] |
     .mounts += [{"destination":"/evil","type":"bind","source":"'"$scratch"'/hostdir","options":["bind"]}]'
out=$(lc run --bundle "$bundle" c-symlink)
if [ "$out" = bound ] && [ -z "$(ls -A "$scratch/victim")" ] && [ -d "$bundle/rootfs$scratch/victim" ]; then
	pass "symlinked mount destination stays inside the rootfs"
else fail "symlinked mount destination" "out=$out victim=$(ls -A "$scratch/victim")"; fi
rm -f "$bundle/rootfs/evil"; rm -rf "${bundle:?}/rootfs/tmp/lcrun-test."*
assert_clean "symlink destination"

# /proc on a symlink is refused (CVE-2019-16884 class)
mv "$bundle/rootfs/proc" "$bundle/rootfs/proc.real"; ln -s /tmp "$bundle/rootfs/proc"
args '["true"]'
expect_fail "proc over a symlink refused" "mounts\[0\].destination.*not a real directory" lc run --bundle "$bundle" c-procsym
rm "$bundle/rootfs/proc"; mv "$bundle/rootfs/proc.real" "$bundle/rootfs/proc"
assert_clean "proc symlink"

# ---- fds and cwd (CVE-2024-21626) ----
args '["sh","-c","ls /proc/self/fd | tr \"\\n\" \" \""]'
out=$(exec 9</etc/hostname; lc run --bundle "$bundle" c-fds)
if [ "$out" = "0 1 2 3 " ]; then pass "no host fd reaches the container"; else fail "no host fd reaches the container" "$out"; fi
assert_clean "fds"
cfg '.process.args = ["pwd"] | .process.cwd = "/proc/self/fd/7"'
expect_fail "cwd outside the root refused" "process.cwd" lc run --bundle "$bundle" c-cwd 7</tmp
assert_clean "cwd"

# ---- exec into a running container ----
args "[\"sh\",\"-c\",\"sleep 1000; : $token\"]"
lc run -d --bundle "$bundle" c-exec </dev/null
out=$(lc exec c-exec sh -c 'hostname; echo $$; ls /proc | grep -c "^[0-9]"' | tr '\n' ' ')
set -- $out
if [ "$1" = lcrun-test ] && [ "$2" != 1 ] && [ "$2" -lt 100 ]; then pass "exec: in the container's namespaces"; else fail "exec" "$out"; fi
lc exec c-exec sh -c 'exit 7'; rc=$?
[ $rc -eq 7 ] && pass "exec: exit code" || fail "exec: exit code" "rc=$rc"
lc exec --env FOO=bar --cwd /tmp c-exec sh -c 'test "$FOO" = bar && test "$(pwd)" = /tmp'
[ $? -eq 0 ] && pass "exec: --env and --cwd" || fail "exec: --env and --cwd"
expect_fail "exec: missing executable" "nonexistent.*(not found|No such file)" lc exec c-exec /nonexistent
lc delete --force c-exec
assert_clean "exec"

# ---- bad input ----
cfg '.linux.namespaces[0].type = "foo"'
expect_fail "invalid config field is named" 'linux\.namespaces\[0\]\.type' lc run --bundle "$bundle" c-bad
assert_clean "invalid config"
cfg '.root.path = "no-such-rootfs"'
expect_fail "missing rootfs" 'root\.path.*no-such-rootfs' lc run --bundle "$bundle" c-norootfs
assert_clean "missing rootfs"
args '["nonexistent-binary"]'
expect_fail "missing executable fails create" 'process.args\[0\].*not found' lc create --bundle "$bundle" c-noexe
assert_clean "missing executable"
args "[\"sh\",\"-c\",\"sleep 1000; : $token\"]"
lc create --bundle "$bundle" c-dup </dev/null
expect_fail "duplicate id" "already exists" lc create --bundle "$bundle" c-dup
lc delete c-dup && pass "delete of a created container" || fail "delete of a created container"
assert_clean "duplicate id"
for c in state start "kill" delete; do expect_fail "$c: unknown id" "does not exist" lc "$c" no-such-id; done
expect_fail "invalid id" "container id" lc state ../etc
assert_clean "unknown id"

finish
