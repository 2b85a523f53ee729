#!/bin/bash
# Containers through the standalone agent (both builds), as root, in private mount, UTS and IPC namespaces with a
# tmpfs of their own on /run (the host's hostname, resolv.conf and /run/kata-containers are never touched). A
# busybox rootfs (tests/data/lcrun/make-bundle.sh) is copied to /run/kata-containers/shared/containers/<cid>/rootfs
# inside those namespaces, and the agent is driven as the Kata shim drives it: kata-launch ctl for single calls,
# tests/integration/containers-driver for calls pending at the same time on one connection. Cgroups go under the
# agent's default parent (/kata) on the host's real tree; the test checks that nothing is left there.
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch
DRIVER=$BUILD/host/tests/containers-driver

if [ "$(id -u)" != 0 ]; then skip containers "needs root (namespaces, cgroups)"; exit 77; fi
for c in unshare nsenter findmnt jq base64 sha256sum; do
	command -v "$c" >/dev/null || { skip containers "$c is not installed"; exit 77; }
done
[ -x "$KL" ] || { fail containers "$KL is missing"; finish; }
[ -x "$DRIVER" ] || { fail containers "$DRIVER is missing"; finish; }
[ -d /sys/fs/cgroup ] || { skip containers "no /sys/fs/cgroup"; exit 77; }
# Another run of this test (a second checkout's `make check`) owns /kata while it runs: wait for it.
for _ in $(seq 240); do
	[ -e /sys/fs/cgroup/kata ] || [ -e /sys/fs/cgroup/unified/kata ] || break
	sleep 0.5
done
if [ -e /sys/fs/cgroup/kata ] || [ -e /sys/fs/cgroup/unified/kata ]; then
	skip containers "a /kata cgroup already exists on this host"; exit 77
fi

dir=$(mktemp -d /tmp/test-containers.XXXXXX)
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
host_hostname=$(hostname)

tests/data/lcrun/make-bundle.sh "$dir/bundle" >/dev/null 2>&1
rc=$?
[ "$rc" = 77 ] && { skip containers "no static busybox (apt-get install busybox-static)"; exit 77; }
[ "$rc" = 0 ] || { fail containers "make-bundle.sh failed"; finish; }

. tests/lib-agent.sh

# rootfs CID: the busybox tree at the place the Go runtime shares it.
rootfs() { ns sh -c "mkdir -p $S/$1 && cp -a $dir/bundle/rootfs $S/$1/rootfs"; }

# spec CID ARGS_JSON [TERMINAL]: the OCI Spec as the Go runtime sends it (proto field names).
spec() {
	local cid=$1 args=$2 term=${3:-false} res=""
	[ -n "${4:-}" ] && res="\"Resources\":$4,"
	cat <<JSON
{"Version":"1.0.2",
 "Process":{"Terminal":$term,"User":{"UID":0,"GID":0},"Args":$args,
   "Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin","HOME=/root"],"Cwd":"/",
   "Capabilities":{"Bounding":["CAP_KILL","CAP_CHOWN"],"Effective":["CAP_KILL","CAP_CHOWN"],"Permitted":["CAP_KILL","CAP_CHOWN"]},
   "NoNewPrivileges":true},
 "Root":{"Path":"$S/$cid/rootfs"},
 "Hostname":"pod-host",
 "Mounts":[{"destination":"/proc","type":"proc","source":"proc"},
   {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
   {"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
   {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}],
 "Linux":{$res"Namespaces":[{"Type":"pid"},{"Type":"mount"},{"Type":"ipc"},{"Type":"uts"},{"Type":"network"}],
   "MaskedPaths":["/proc/kcore"],"ReadonlyPaths":["/proc/sys"]}}
JSON
}
create() { ctl CreateContainer '{"container_id":"'"$1"'","exec_id":"'"$1"'","OCI":'"$(spec "$1" "$2" "${3:-false}" "${4:-}")"'}'; }

# read_all CID [EXEC] [STREAM]: ReadStdout until EOF; prints the bytes.
read_all() {
	local cid=$1 eid=${2:-$1} m=${3:-ReadStdout} out
	while :; do
		out=$(ctl --timeout 20 "$m" '{"container_id":"'"$cid"'","exec_id":"'"$eid"'","len":65536}') || { echo "ERR: $out" >&2; return 1; }
		d=$(jq -r '.data // ""' <<<"$out")
		[ -z "$d" ] && return 0
		base64 -d <<<"$d"
	done
}
wait_status() { ctl WaitProcess '{"container_id":"'"$1"'","exec_id":"'"${2:-$1}"'"}' | jq -r '.status // 0'; }

# cgfile CID FILE...: the first of the files that exists in the container's cgroup (v2, hybrid or v1 paths).
cgfile() {
	local cid=$1 f
	shift
	for f in "$@"; do
		for root in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/freezer /sys/fs/cgroup/pids /sys/fs/cgroup/memory; do
			[ -e "$root/kata/$cid/$f" ] && { echo "$root/kata/$cid/$f"; return; }
		done
	done
}
frozen() {
	local f
	f=$(cgfile "$1" freezer.state)
	if [ -n "$f" ]; then [ "$(cat "$f")" = FROZEN ]; return; fi
	grep -q '^frozen 1' "$(cgfile "$1" cgroup.events)"
}

# ctr_cgroups CID...: the cgroup directories of these containers that exist, in any hierarchy.
ctr_cgroups() {
	local cid d
	for cid in "$@"; do
		for d in /sys/fs/cgroup/kata/"$cid" /sys/fs/cgroup/*/kata/"$cid"; do [ -e "$d" ] && echo "$d"; done
	done
}
cgroups_left() {
	for d in /sys/fs/cgroup/kata /sys/fs/cgroup/*/kata /sys/fs/cgroup/unified/kata; do [ -e "$d" ] && echo "$d"; done
}
nothing_left() {
	local what=$1 m c p
	m=$(ns findmnt -rn -o TARGET | grep -c "^$S/.*/rootfs/")
	c=$(cgroups_left)
	p=$(pgrep -P "$agent_pid" | tr '\n' ' ')
	[ "$m" = 0 ] && [ -z "$c" ] && [ -z "$p" ] && pass "$P: nothing left $what" ||
		fail "$P: nothing left $what" "mounts=$m cgroups=[$c] children=[$p]"
}

suite() {
	local name=$1 bin=$2
	P=$name
	if ! start_agent "$bin" "$name"; then fail "$P: agent starts" "$(tail -n 5 "$log")"; return; fi

	# ---- the Kata shim's sequence ----
	ok "check" Check '{}'
	ok "create sandbox" CreateSandbox '{"hostname":"pod-host","sandbox_id":"sb"}'
	ok "guest details" GetGuestDetails '{"mem_block_size":true}'
	rootfs c1
	out=$(create c1 '["sh","-c","echo hello from $(hostname); echo to stderr >&2; exit 3"]')
	[ $? = 0 ] && pass "$P: create container" || fail "$P: create container" "$out"
	expect "duplicate id" ALREADY_EXISTS 'container `c1` already exists' CreateContainer \
		'{"container_id":"c1","OCI":'"$(spec c1 '["true"]')"'}'
	ok "start container" StartContainer '{"container_id":"c1"}'
	v=$(read_all c1)
	[ "$v" = "hello from pod-host" ] && pass "$P: stdout until EOF" || fail "$P: stdout until EOF" "$v"
	v=$(read_all c1 c1 ReadStderr)
	[ "$v" = "to stderr" ] && pass "$P: stderr until EOF" || fail "$P: stderr until EOF" "$v"
	v=$(wait_status c1)
	[ "$v" = 3 ] && pass "$P: wait = 3" || fail "$P: wait = 3" "$v"
	v=$(wait_status c1)
	[ "$v" = 3 ] && pass "$P: second wait = 3" || fail "$P: second wait = 3" "$v"
	ok "remove exited container" RemoveContainer '{"container_id":"c1"}'
	expect "removed is gone" NOT_FOUND 'container `c1` not found' WaitProcess '{"container_id":"c1","exec_id":"c1"}'
	nothing_left "after the first container"

	# Guest seccomp, which GetGuestDetails reports as supported: mkdir refused with the profile's errno.
	rootfs cs
	seccomp='{"DefaultAction":"SCMP_ACT_ALLOW","Architectures":["SCMP_ARCH_X86_64"],"Syscalls":[{"Names":["mkdir","mkdirat"],"Action":"SCMP_ACT_ERRNO","errnoret":1}]}'
	ok "create with a seccomp profile" CreateContainer '{"container_id":"cs","exec_id":"cs","OCI":'"$(spec cs '["sh","-c","mkdir /x; echo rc=$?; cat /proc/self/status | grep ^Seccomp:"]' | jq -c ".Linux.Seccomp = $seccomp")"'}'
	ok "start the seccomp container" StartContainer '{"container_id":"cs"}'
	v=$(read_all cs; read_all cs cs ReadStderr)
	grep -q 'Operation not permitted' <<<"$v" && grep -q 'rc=1' <<<"$v" && grep -q 'Seccomp:.*2' <<<"$v" &&
		pass "$P: seccomp errnoRet applied in the container" || fail "$P: seccomp errnoRet applied in the container" "$v"
	[ "$(wait_status cs)" = 0 ] && pass "$P: seccomp container exits 0" || fail "$P: seccomp container exits 0" ""
	ok "remove the seccomp container" RemoveContainer '{"container_id":"cs"}'
	v=$(ctl GetGuestDetails '{}' | jq -r '.agent_details.supports_seccomp')
	[ "$v" = true ] && pass "$P: supports_seccomp reported" || fail "$P: supports_seccomp reported" "$v"

	# A long-running container: exec, signals, 0 and 137.
	rootfs c2
	create c2 '["sh","-c","trap \"exit 0\" TERM; while :; do sleep 0.1; done"]' >/dev/null
	ok "start c2" StartContainer '{"container_id":"c2"}'
	ok "exec" ExecProcess '{"container_id":"c2","exec_id":"e1","process":{"Args":["sh","-c","echo exec $$; cat /proc/1/cmdline | tr \"\\0\" \" \"; exit 5"],"Env":["PATH=/bin"],"Cwd":"/","User":{"UID":0}}}'
	v=$(read_all c2 e1)
	grep -q '^exec [0-9]' <<<"$v" && grep -q 'while' <<<"$v" && pass "$P: exec joins the container's pid namespace" ||
		fail "$P: exec joins the container's pid namespace" "$v"
	v=$(wait_status c2 e1)
	[ "$v" = 5 ] && pass "$P: exec wait = 5" || fail "$P: exec wait = 5" "$v"
	expect "unknown exec id" NOT_FOUND 'process `nope` not found' WaitProcess '{"container_id":"c2","exec_id":"nope"}'
	expect "unknown container" NOT_FOUND 'container `zz` not found' SignalProcess '{"container_id":"zz","signal":9}'
	expect "read from unknown container" NOT_FOUND 'not found' ReadStdout '{"container_id":"zz","exec_id":"zz","len":10}'
	expect "exec of a missing executable" NOT_FOUND 'no-such-binary' ExecProcess \
		'{"container_id":"c2","exec_id":"e9","process":{"Args":["no-such-binary"],"Env":["PATH=/bin"],"Cwd":"/"}}'
	expect "a failed exec leaves no process" NOT_FOUND 'process `e9` not found' WaitProcess '{"container_id":"c2","exec_id":"e9"}'
	ok "exec sleeper" ExecProcess '{"container_id":"c2","exec_id":"e2","process":{"Args":["sleep","100"],"Env":["PATH=/bin"],"Cwd":"/"}}'
	ok "signal exec" SignalProcess '{"container_id":"c2","exec_id":"e2","signal":9}'
	v=$(wait_status c2 e2)
	[ "$v" = 137 ] && pass "$P: exec killed = 137" || fail "$P: exec killed = 137" "$v"
	ok "SIGTERM to init with a handler" SignalProcess '{"container_id":"c2","exec_id":"","signal":15}'
	v=$(wait_status c2)
	[ "$v" = 0 ] && pass "$P: init trapped TERM = 0" || fail "$P: init trapped TERM = 0" "$v"
	ok "signal an exited process" SignalProcess '{"container_id":"c2","exec_id":"c2","signal":15}'
	ok "remove c2" RemoveContainer '{"container_id":"c2","timeout":10}'

	# SIGTERM to an init without a handler becomes SIGKILL; empty exec_id + SIGKILL kills everything.
	rootfs c3
	create c3 '["sleep","1000"]' >/dev/null
	ok "start c3" StartContainer '{"container_id":"c3"}'
	# Calls whose deadline passes are cancelled cleanly; the process and a later wait are unaffected.
	expect "wait past its deadline" DEADLINE_EXCEEDED 'deadline' --timeout 1 WaitProcess '{"container_id":"c3","exec_id":"c3"}'
	expect "read past its deadline" DEADLINE_EXCEEDED 'deadline' --timeout 1 ReadStdout '{"container_id":"c3","exec_id":"c3","len":10}'
	ok "SIGTERM to init without handler" SignalProcess '{"container_id":"c3","exec_id":"c3","signal":15}'
	v=$(wait_status c3)
	[ "$v" = 137 ] && pass "$P: promoted to SIGKILL = 137" || fail "$P: promoted to SIGKILL = 137" "$v"
	ok "remove c3" RemoveContainer '{"container_id":"c3"}'
	rootfs c4
	create c4 '["sh","-c","sleep 1000 & sleep 1000"]' >/dev/null
	ok "start c4" StartContainer '{"container_id":"c4"}'
	ok "kill all" SignalProcess '{"container_id":"c4","exec_id":"","signal":9}'
	v=$(wait_status c4)
	[ "$v" = 137 ] && pass "$P: kill all = 137" || fail "$P: kill all = 137" "$v"
	ok "remove c4" RemoveContainer '{"container_id":"c4"}'

	# Remove a running (never started) container; remove with a timeout.
	rootfs c5
	create c5 '["sleep","1000"]' >/dev/null
	ok "remove created container" RemoveContainer '{"container_id":"c5","timeout":5}'
	nothing_left "after kills and removals"

	# ---- stdin ----
	rootfs c6
	create c6 '["sh","-c","cat; echo done"]' >/dev/null
	ok "start cat" StartContainer '{"container_id":"c6"}'
	# A container created meanwhile waits at its gate; it must not hold c6's stdin open.
	rootfs c6b
	create c6b '["true"]' >/dev/null
	out=$(ctl WriteStdin '{"container_id":"c6","exec_id":"c6","data":"'"$(printf 'piped\n' | base64 -w0)"'"}')
	[ "$(jq -r .len <<<"$out")" = 6 ] && pass "$P: stdin write len" || fail "$P: stdin write len" "$out"
	ok "close stdin" CloseStdin '{"container_id":"c6","exec_id":"c6"}'
	v=$(read_all c6)
	[ "$v" = $'piped\ndone' ] && pass "$P: stdin piped through cat" || fail "$P: stdin piped through cat" "$v"
	[ "$(wait_status c6)" = 0 ] && pass "$P: cat = 0" || fail "$P: cat = 0" "exit"
	expect "resize without a tty" UNAVAILABLE 'no terminal' TtyWinResize '{"container_id":"c6","exec_id":"c6","row":1,"column":1}'
	ok "remove c6" RemoveContainer '{"container_id":"c6"}'
	ok "remove never started c6b" RemoveContainer '{"container_id":"c6b"}'

	# ---- the sandbox pid namespace: the first container's; sandbox_pidns joins it ----
	rootfs p1; rootfs p2; rootfs p3
	create p1 '["sleep","1000"]' >/dev/null
	ok "start pidns owner" StartContainer '{"container_id":"p1"}'
	ok "create in the sandbox pidns" CreateContainer '{"container_id":"p2","sandbox_pidns":true,"OCI":'"$(spec p2 '["sh","-c","tr \"\\0\" \" \" </proc/1/cmdline; echo; echo $$"]')"'}'
	ok "start p2" StartContainer '{"container_id":"p2"}'
	v=$(read_all p2)
	[ "$(sed -n 1p <<<"$v")" = "sleep 1000 " ] && [ "$(sed -n 2p <<<"$v")" != 1 ] &&
		pass "$P: sandbox_pidns sees the first container's init" || fail "$P: sandbox_pidns sees the first container's init" "$v"
	create p3 '["sh","-c","echo $$"]' >/dev/null
	ok "start p3" StartContainer '{"container_id":"p3"}'
	v=$(read_all p3)
	[ "$v" = 1 ] && pass "$P: without sandbox_pidns a pid namespace of its own" || fail "$P: without sandbox_pidns a pid namespace of its own" "$v"
	for c in p2 p3 p1; do ok "remove $c" RemoveContainer '{"container_id":"'$c'"}'; done

	# ---- a terminal ----
	rootfs c7
	create c7 '["sh","-c","read x; stty size; echo tty:$x; tty"]' true >/dev/null
	ok "start tty" StartContainer '{"container_id":"c7"}'
	ok "resize" TtyWinResize '{"container_id":"c7","exec_id":"c7","row":33,"column":101}'
	ctl WriteStdin '{"container_id":"c7","exec_id":"c7","data":"'"$(printf 'abc\n' | base64 -w0)"'"}' >/dev/null
	v=$(read_all c7 | tr -d '\r')
	grep -q '^33 101$' <<<"$v" && grep -q '^tty:abc$' <<<"$v" && grep -q '^/dev/pts/' <<<"$v" &&
		pass "$P: tty process" || fail "$P: tty process" "$v"
	[ "$(wait_status c7)" = 0 ] && pass "$P: tty = 0" || fail "$P: tty = 0" "exit"
	ok "remove c7" RemoveContainer '{"container_id":"c7"}'

	# ---- 1 MiB written at once, then exit: every byte arrives ----
	rootfs c8
	head -c 1048576 /dev/urandom >"$dir/mib"
	ns sh -c "cp $dir/mib $S/c8/rootfs/mib"
	create c8 '["cat","/mib"]' >/dev/null
	ok "start 1 MiB writer" StartContainer '{"container_id":"c8"}'
	# The reader starts while the process runs; the process exits right after its last write, with up to a
	# pipe's worth still unread.
	"$DRIVER" "unix://$sock" read c8 c8 >"$dir/mib.out" &
	rpid=$!
	[ "$(wait_status c8)" = 0 ] && pass "$P: writer exited" || fail "$P: writer exited" "status"
	wait "$rpid"
	want=$(sha256sum <"$dir/mib" | cut -d' ' -f1)
	got=$(sha256sum <"$dir/mib.out" | cut -d' ' -f1)
	[ "$got" = "$want" ] && pass "$P: 1 MiB arrives whole" || fail "$P: 1 MiB arrives whole" "checksum $got != $want"
	ok "remove c8" RemoveContainer '{"container_id":"c8"}'

	# ---- calls pending on one connection ----
	rootfs c9
	create c9 '["sh","-c","read x; echo got $x; exit 7"]' >/dev/null
	ok "start c9" StartContainer '{"container_id":"c9"}'
	v=$("$DRIVER" "unix://$sock" pending c9 2>&1)
	[ "$v" = "ok" ] && pass "$P: wait and read pending while Check answers" || fail "$P: wait and read pending while Check answers" "$v"
	ok "remove c9" RemoveContainer '{"container_id":"c9"}'

	# ---- pause, resume, stats, update ----
	rootfs c11
	out=$(create c11 '["sh","-c","while :; do sleep 0.1; done"]' false '{"Pids":{"Limit":50}}'); [ $? = 0 ] || fail "$P: create c11" "$out"
	ok "start c11" StartContainer '{"container_id":"c11"}'
	ok "pause" PauseContainer '{"container_id":"c11"}'
	frozen c11 && pass "$P: cgroup frozen" || fail "$P: cgroup frozen" "$(cat "$(cgfile c11 freezer.state cgroup.events)")"
	expect "exec while paused" FAILED_PRECONDITION 'is paused' ExecProcess '{"container_id":"c11","exec_id":"x","process":{"Args":["true"],"Cwd":"/"}}'
	expect "pause twice" FAILED_PRECONDITION 'already paused' PauseContainer '{"container_id":"c11"}'
	ok "resume" ResumeContainer '{"container_id":"c11"}'
	! frozen c11 && pass "$P: cgroup thawed" || fail "$P: cgroup thawed" "still frozen"
	out=$(ctl StatsContainer '{"container_id":"c11"}')
	jq -e '.cgroup_stats.pids_stats.current >= 2 and .cgroup_stats.pids_stats.limit == 50 and .cgroup_stats.memory_stats.usage.usage > 0' <<<"$out" >/dev/null &&
		pass "$P: stats" || fail "$P: stats" "$(head -c 400 <<<"$out")"
	ok "update pids limit" UpdateContainer '{"container_id":"c11","resources":{"Pids":{"Limit":77}}}'
	v=$(cat "$(cgfile c11 pids.max)")
	[ "$v" = 77 ] && pass "$P: update applied" || fail "$P: update applied" "pids.max=$v"
	expect "stats of unknown" NOT_FOUND 'not found' StatsContainer '{"container_id":"nope"}'
	ok "pause before remove" PauseContainer '{"container_id":"c11"}'
	ok "remove paused c11" RemoveContainer '{"container_id":"c11","timeout":10}'

	# ---- OOM ----
	rootfs c12
	create c12 '["sh","-c","sleep 0.3; head -c 400000000 /dev/zero | sort >/dev/null"]' false \
		'{"Memory":{"Limit":33554432,"Swap":33554432}}' >/dev/null || fail "$P: create c12"
	ctl --timeout 30 GetOOMEvent '{}' >"$dir/oom.out" &
	oom_pid=$!
	ok "start OOM container" StartContainer '{"container_id":"c12"}'
	v=$(wait_status c12)
	wait "$oom_pid"
	[ "$(jq -r .container_id <"$dir/oom.out")" = c12 ] && pass "$P: OOM event (exit $v)" || fail "$P: OOM event" "exit $v: $(cat "$dir/oom.out")"
	ok "remove c12" RemoveContainer '{"container_id":"c12"}'
	nothing_left "after pause, update and OOM"

	# ---- volume: 64 MiB of stdin in 1 MiB calls, 256 MiB of stdout, stdout and stderr each in order ----
	rootfs v1
	create v1 '["sha256sum"]' >/dev/null
	ok "start stdin sink" StartContainer '{"container_id":"v1"}'
	v=$("$DRIVER" "unix://$sock" stdin v1 64 2>&1)
	[ $? = 0 ] && pass "$P: 64 WriteStdin calls of 1 MiB, each len whole" || fail "$P: 64 WriteStdin calls of 1 MiB, each len whole" "$v"
	letters=ABCDEFGHIJKLMNOPQRSTUVWXYZ
	want=$(for k in $(seq 0 63); do head -c 1048576 /dev/zero | tr '\0' "${letters:$((k % 26)):1}"; done | sha256sum | cut -d' ' -f1)
	got=$(read_all v1 | cut -d' ' -f1)
	[ "$got" = "$want" ] && pass "$P: 64 MiB of stdin arrives whole" || fail "$P: 64 MiB of stdin arrives whole" "$got != $want"
	ok "remove v1" RemoveContainer '{"container_id":"v1"}'

	rootfs v2
	create v2 '["sh","-c","yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 268435456"]' >/dev/null
	ok "start 256 MiB writer" StartContainer '{"container_id":"v2"}'
	want=$(yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 268435456 | sha256sum | cut -d' ' -f1)
	got=$("$DRIVER" "unix://$sock" read v2 v2 | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && pass "$P: 256 MiB of stdout arrives whole" || fail "$P: 256 MiB of stdout arrives whole" "$got != $want"
	[ "$(wait_status v2)" = 0 ] && pass "$P: 256 MiB writer = 0" || fail "$P: 256 MiB writer = 0" "status"
	ok "remove v2" RemoveContainer '{"container_id":"v2"}'

	# Four reads in flight and a slow reader: replies fill the socket, so the agent's splice from the pipe stops
	# part way and the rest of each reply is copied and queued behind it.
	rootfs v4
	create v4 '["sh","-c","yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 67108864"]' >/dev/null
	ok "start 64 MiB writer" StartContainer '{"container_id":"v4"}'
	want=$(yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 67108864 | sha256sum | cut -d' ' -f1)
	got=$("$DRIVER" "unix://$sock" readahead v4 v4 | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] && pass "$P: 64 MiB with four reads in flight arrives whole" ||
		fail "$P: 64 MiB with four reads in flight arrives whole" "$got != $want"
	[ "$(wait_status v4)" = 0 ] && pass "$P: 64 MiB writer = 0" || fail "$P: 64 MiB writer = 0" "status"
	ok "remove v4" RemoveContainer '{"container_id":"v4"}'

	rootfs v3
	create v3 '["sh","-c","i=0; while [ $i -lt 20000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"]' >/dev/null
	ok "start interleaved writer" StartContainer '{"container_id":"v3"}'
	"$DRIVER" "unix://$sock" readerr v3 v3 >"$dir/v3.err" &
	epid=$!
	"$DRIVER" "unix://$sock" read v3 v3 >"$dir/v3.out"
	wait "$epid"
	if awk '$0 != "out" NR-1 { exit 1 } END { exit NR != 20000 }' "$dir/v3.out" &&
		awk '$0 != "err" NR-1 { exit 1 } END { exit NR != 20000 }' "$dir/v3.err"; then
		pass "$P: stdout and stderr each in order"
	else fail "$P: stdout and stderr each in order" "$(wc -l <"$dir/v3.out") / $(wc -l <"$dir/v3.err") lines"; fi
	ok "remove v3" RemoveContainer '{"container_id":"v3"}'

	# ---- faults: the host leaves with calls pending; a process killed from outside ----
	rootfs d1
	create d1 '["sh","-c","read x; echo $x; exit 4"]' >/dev/null
	ok "start d1" StartContainer '{"container_id":"d1"}'
	"$DRIVER" "unix://$sock" leave d1
	ok "Check after the host left" Check '{}'
	ctl WriteStdin '{"container_id":"d1","exec_id":"d1","data":"'"$(printf 'back\n' | base64 -w0)"'"}' >/dev/null
	v=$(read_all d1)
	[ "$v" = back ] && [ "$(wait_status d1)" = 4 ] && pass "$P: a new connection drives the container on" ||
		fail "$P: a new connection drives the container on" "$v"
	ok "remove d1" RemoveContainer '{"container_id":"d1"}'
	rootfs k1
	create k1 '["sleep","1000"]' >/dev/null
	ok "start k1" StartContainer '{"container_id":"k1"}'
	kpid=$(pgrep -P "$agent_pid" -x sleep)
	[ -n "$kpid" ] && kill -9 "$kpid"
	[ "$(wait_status k1)" = 137 ] && pass "$P: killed from outside = 137" || fail "$P: killed from outside = 137" "pid $kpid"
	ok "remove k1" RemoveContainer '{"container_id":"k1"}'

	# ---- the loop serves while a create waits on a createRuntime hook; a host that leaves mid-create ----
	# hookspec CID SECONDS: a spec whose createRuntime hook (run in the agent's namespaces) sleeps that long.
	hookspec() { spec "$1" '["sleep","1000"]' | jq -c '.Hooks={"CreateRuntime":[{"Path":"/bin/sleep","Args":["sleep","'"$2"'"]}]}'; }
	rootfs h1
	t0=$(date +%s%N)
	ctl CreateContainer '{"container_id":"h1","OCI":'"$(hookspec h1 3)"'}' >"$dir/h1.out" &
	cpid=$!
	sleep 0.5
	t1=$(date +%s%N)
	out=$(ctl --timeout 5 Check '{}')
	rc=$?
	t2=$(date +%s%N)
	kill -0 "$cpid" 2>/dev/null && creating=yes || creating=no
	[ "$rc" = 0 ] && [ $(((t2 - t1) / 1000000)) -lt 1000 ] && [ "$creating" = yes ] &&
		pass "$P: Check answers in < 1 s during a 3 s create" ||
		fail "$P: Check answers in < 1 s during a 3 s create" "rc=$rc $(((t2 - t1) / 1000000)) ms, create pending: $creating: $out"
	wait "$cpid"
	rc=$?
	t3=$(date +%s%N)
	[ "$rc" = 0 ] && [ $(((t3 - t0) / 1000000)) -ge 3000 ] && pass "$P: create with a 3 s hook" ||
		fail "$P: create with a 3 s hook" "rc=$rc $(((t3 - t0) / 1000000)) ms: $(cat "$dir/h1.out")"
	ok "start h1" StartContainer '{"container_id":"h1"}'
	ok "remove h1" RemoveContainer '{"container_id":"h1"}'
	# An exec'd hook exits with SIGCHLD (execve resets the exit signal), so each of these 40 exits reaches the
	# agent's reaper as well as its create operation's pidfd; the create fails if the reaper takes one. (The race
	# is timing-dependent: test-container-devices.sh, where a mount helper exits too, showed it more often.)
	rootfs h3
	hooks=$(for _ in $(seq 20); do printf '{"Path":"/bin/true","Args":["true"]},'; done)
	ok "create with 20 quick hooks" CreateContainer '{"container_id":"h3","OCI":'"$(spec h3 '["true"]' |
		jq -c '.Hooks={"CreateRuntime":['"${hooks%,}"'],"Prestart":['"${hooks%,}"']}')"'}'
	ok "remove h3" RemoveContainer '{"container_id":"h3"}'
	rootfs h2
	"$KL" ctl "unix://$sock" CreateContainer '{"container_id":"h2","OCI":'"$(hookspec h2 47)"'}' >/dev/null 2>&1 &
	cpid=$!
	for _ in $(seq 100); do pgrep -P "$agent_pid" -fx "sleep 47" >/dev/null && break; sleep 0.1; done
	pgrep -P "$agent_pid" -fx "sleep 47" >/dev/null && pass "$P: the hook runs" || fail "$P: the hook runs" "no sleep 47"
	kill -9 "$cpid"
	wait "$cpid" 2>/dev/null
	for _ in $(seq 100); do
		[ -z "$(pgrep -P "$agent_pid")" ] && [ -z "$(cgfile h2 cgroup.procs)" ] && break
		sleep 0.1
	done
	[ -z "$(pgrep -P "$agent_pid")" ] && [ -z "$(cgfile h2 cgroup.procs)" ] &&
		pass "$P: a host that leaves mid-create leaves no process or cgroup" ||
		fail "$P: a host that leaves mid-create leaves no process or cgroup" \
			"children=[$(pgrep -P "$agent_pid" -a | tr '\n' ' ')] cgroup=[$(cgfile h2 cgroup.procs)]"
	ok "create h2 again" CreateContainer '{"container_id":"h2","OCI":'"$(spec h2 '["true"]')"'}'
	ok "remove h2" RemoveContainer '{"container_id":"h2"}'

	# ---- 100 containers in one sandbox (one rootfs, linked from each container's directory) ----
	ns sh -c "mkdir -p $S/base && cp -a $dir/bundle/rootfs $S/base/rootfs"
	n_ok=0
	for i in $(seq 100); do
		ns sh -c "mkdir -p $S/m$i && ln -s ../base/rootfs $S/m$i/rootfs"
		create "m$i" '["sleep","1000"]' >/dev/null && ctl StartContainer '{"container_id":"m'$i'"}' >/dev/null && n_ok=$((n_ok + 1))
	done
	[ "$n_ok" = 100 ] && pass "$P: 100 containers created and started" || fail "$P: 100 containers created and started" "$n_ok"
	v=$(pgrep -P "$agent_pid" -x sleep | wc -l)
	[ "$v" = 100 ] && pass "$P: 100 inits running" || fail "$P: 100 inits running" "$v"
	ok "Check with 100 containers" Check '{}'
	n_ok=0
	for i in $(seq 100); do ctl RemoveContainer '{"container_id":"m'$i'"}' >/dev/null && n_ok=$((n_ok + 1)); done
	[ "$n_ok" = 100 ] && pass "$P: 100 containers removed" || fail "$P: 100 containers removed" "$n_ok"
	nothing_left "after volume, faults and 100 containers"

	# ---- bad input ----
	rootfs bad
	expect "bad spec field" INVALID_ARGUMENT 'linux.namespaces[0].type' CreateContainer \
		'{"container_id":"bad","OCI":{"Process":{"Args":["true"],"Cwd":"/"},"Root":{"Path":"'$S'/bad/rootfs"},"Linux":{"Namespaces":[{"Type":"bogus"}]}}}'
	expect "relative cwd" INVALID_ARGUMENT 'process.cwd' CreateContainer \
		'{"container_id":"bad","OCI":{"Process":{"Args":["true"],"Cwd":"rel"},"Root":{"Path":"'$S'/bad/rootfs"}}}'
	expect "root outside" INVALID_ARGUMENT 'OCI.Root.Path' CreateContainer \
		'{"container_id":"bad","OCI":{"Process":{"Args":["true"],"Cwd":"/"},"Root":{"Path":"/"}}}'
	expect "root traversal" INVALID_ARGUMENT 'OCI.Root.Path' CreateContainer \
		'{"container_id":"bad","OCI":{"Process":{"Args":["true"],"Cwd":"/"},"Root":{"Path":"'$R'/../../"}}}'
	expect "missing executable" NOT_FOUND 'no-such-binary' CreateContainer \
		'{"container_id":"bad","OCI":'"$(spec bad '["no-such-binary"]')"'}'
	expect "bad container id" INVALID_ARGUMENT 'container_id' CreateContainer \
		'{"container_id":"../x","OCI":'"$(spec bad '["true"]')"'}'
	expect "no OCI" INVALID_ARGUMENT 'OCI' CreateContainer '{"container_id":"x"}'
	expect "seccomp notify without a listener" INVALID_ARGUMENT 'linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY' CreateContainer \
		'{"container_id":"bad","OCI":'"$(spec bad '["true"]' | jq -c '.Linux.Seccomp = {"DefaultAction":"SCMP_ACT_ALLOW","Syscalls":[{"Names":["getppid"],"Action":"SCMP_ACT_NOTIFY"}]}')"'}'
	expect "start unknown" NOT_FOUND 'container `bad` not found' StartContainer '{"container_id":"bad"}'
	nothing_left "after the refusals"
	[ "$(hostname)" = "$host_hostname" ] && pass "$P: host hostname untouched" || fail "$P: host hostname untouched" "$(hostname)"

	# ---- an exec'd process that dies during its setup, before its exec, fails ExecProcess (not an OK and a
	# status later): the container's cgroup is frozen behind the agent's back, so the process stops as it joins
	# it; it is SIGKILLed there and the cgroup thawed. No OOM kill was counted, so the signal is named. ----
	rootfs x1
	create x1 '["sh","-c","read x"]' >/dev/null
	ok "start x1" StartContainer '{"container_id":"x1"}'
	fz=$(cgfile x1 freezer.state cgroup.freeze)
	if [ "${fz##*/}" = freezer.state ]; then echo FROZEN >"$fz"; else echo 1 >"$fz"; fi
	ctl ExecProcess '{"container_id":"x1","exec_id":"e1","process":{"Args":["true"],"Env":["PATH=/bin"],"Cwd":"/"}}' >"$dir/x1.out" &
	xp=$!
	sp=
	for _ in $(seq 200); do sp=$(pgrep -x lc-exec-setup -P "$agent_pid") && break; sleep 0.05; done
	[ -n "$sp" ] && kill -9 "$sp"
	if [ "${fz##*/}" = freezer.state ]; then echo THAWED >"$fz"; else echo 0 >"$fz"; fi
	wait "$xp"
	rc=$?
	[ -n "$sp" ] && [ "$rc" = 1 ] &&
		grep -qF 'exec: the process was killed by signal 9 (Killed) during setup, before its exec' "$dir/x1.out" &&
		pass "$P: an exec'd process killed during setup fails ExecProcess" ||
		fail "$P: an exec'd process killed during setup fails ExecProcess" "pid=[$sp] rc=$rc: $(cat "$dir/x1.out")"
	expect "the failed exec is not listed" NOT_FOUND 'e1' WaitProcess '{"container_id":"x1","exec_id":"e1"}'
	ok "exec in x1 after that" ExecProcess '{"container_id":"x1","exec_id":"e2","process":{"Args":["true"],"Env":["PATH=/bin"],"Cwd":"/"}}'
	v=$(wait_status x1 e2)
	[ "$v" = 0 ] && pass "$P: x1's next exec exits 0" || fail "$P: x1's next exec exits 0" "$v"
	ok "remove x1" RemoveContainer '{"container_id":"x1"}'

	# ---- DestroySandbox with running containers: it answers once their processes and cgroups are gone ----
	rootfs c10
	rootfs c11
	create c10 '["sleep","1000"]' >/dev/null
	ok "start c10" StartContainer '{"container_id":"c10"}'
	create c11 '["sh","-c","sleep 1000 & sleep 1000 & wait"]' >/dev/null
	ok "start c11" StartContainer '{"container_id":"c11"}'
	ok "exec sleeper in c11" ExecProcess '{"container_id":"c11","exec_id":"e1","process":{"Args":["sleep","1000"],"Env":["PATH=/bin"],"Cwd":"/"}}'
	[ -n "$(cgfile c10 cgroup.procs)" ] && [ -n "$(cgfile c11 cgroup.procs)" ] && pass "$P: c10 and c11 have cgroups" ||
		fail "$P: c10 and c11 have cgroups" "$(cgroups_left)"
	ok "destroy sandbox" DestroySandbox '{}'
	# No pause: the reply itself says the teardown is over.
	c=$(ctr_cgroups c10 c11)
	[ -z "$c" ] && pass "$P: the containers' cgroups are gone when DestroySandbox answers" ||
		fail "$P: the containers' cgroups are gone when DestroySandbox answers" "$c"
	nothing_left "after DestroySandbox"
	expect "gone after destroy" NOT_FOUND 'not found' WaitProcess '{"container_id":"c10","exec_id":"c10"}'

	# A process the agent does not know, put by someone else into a child of a container's cgroup in the v1 memory
	# hierarchy only, is out of reach of the kill (cgroup.kill and the pids listing cover what is the container's)
	# and keeps the cgroup busy. One that leaves 2 s into DestroySandbox: the answer (OK) comes after it, with the
	# cgroup gone (an agent that answered once the container was killed would answer at once, cgroup still
	# there). One that stays: DestroySandbox gives up on it (the 5 s rmdir retry, inside its 10 s bound) and
	# names the cgroup.
	if [ -d /sys/fs/cgroup/memory ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
		for cid in c12 c13; do
			rootfs $cid
			create $cid '["sleep","1000"]' >/dev/null
			ok "start $cid" StartContainer '{"container_id":"'$cid'"}'
			mkdir /sys/fs/cgroup/memory/kata/$cid/intruder
			sleep 1000 &
			intruder=$!
			echo "$intruder" >/sys/fs/cgroup/memory/kata/$cid/intruder/cgroup.procs
			[ $cid = c12 ] && { sleep 2; kill -9 "$intruder"; } &
			t0=$(date +%s%N)
			if [ $cid = c12 ]; then
				# A create while DestroySandbox waits would take references on what is being unmounted.
				rootfs c14
				ctl DestroySandbox '{}' >"$dir/destroy.out" 2>&1 &
				dpid=$!
				sleep 0.5
				expect "CreateContainer while DestroySandbox waits" FAILED_PRECONDITION 'the sandbox is being destroyed' \
					CreateContainer '{"container_id":"c14","OCI":'"$(spec c14 '["true"]')"'}'
				wait "$dpid"
				rc=$?
				out=$(cat "$dir/destroy.out")
			else
				out=$(ctl DestroySandbox '{}')
				rc=$?
			fi
			ms=$(( ($(date +%s%N) - t0) / 1000000 ))
			left=$(ctr_cgroups $cid)
			if [ $cid = c12 ]; then
				wait "$intruder" 2>/dev/null
				[ "$rc" = 0 ] && [ "$ms" -ge 1500 ] && [ -z "$left" ] &&
					pass "$P: DestroySandbox answers once a slow leaver is gone, cgroup removed" ||
					fail "$P: DestroySandbox answers once a slow leaver is gone, cgroup removed" \
						"rc=$rc after $ms ms, left [$left]: $out"
				continue
			fi
			[ "$rc" = 1 ] && grep -qF "container \`c13\`: remove cgroup /sys/fs/cgroup/memory/kata/c13" <<<"$out" &&
				[ "$ms" -lt 10500 ] && pass "$P: DestroySandbox names a cgroup it cannot remove" ||
				fail "$P: DestroySandbox names a cgroup it cannot remove" "rc=$rc after $ms ms: $out"
			ok "Check after a failed teardown" Check '{}'
			kill -9 "$intruder"
			wait "$intruder" 2>/dev/null
			for d in /sys/fs/cgroup/*/kata/c13/intruder /sys/fs/cgroup/*/kata/c13 /sys/fs/cgroup/*/kata; do
				[ -d "$d" ] && rmdir "$d"
			done
		done
		nothing_left "after the intruders are gone"
	fi

	stop_agent || return
}

suite host "$BUILD/host/kata-agent"
suite static "$BUILD/kata-agent"
finish
