#!/bin/bash
# Containers in QEMU: the static agent as PID 1 on the guest's pure cgroup v2, a busybox rootfs shared from the
# host over virtio-9p (the Go runtime's layout: /run/kata-containers/shared/containers/<cid>/rootfs), driven with
# kata-launch ctl as the shim drives it. Covers what the host test cannot: cgroup v2 only (clone3 into the
# cgroup, cgroup.freeze, memory.events OOM through inotify), the musl build, a rootfs on 9p.
# shellcheck disable=SC2015,SC2016,SC2317
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch
MACHINE=${MACHINE:-q35}

. tests/lib-vm.sh
vm_require vm-containers jq base64
vm_scratch ct

vm_busybox_bundle vm-containers "$tmp/bundle"
for c in c1 c2 c3 c4; do mkdir -p "$tmp/share/$c" && cp -a "$tmp/bundle/rootfs" "$tmp/share/$c/rootfs"; done

if ! "$KL" boot --name "$name" --share "$tmp/share" --machine "$MACHINE" --accel auto --console-log "$console" \
	>"$tmp/boot.out" 2>"$tmp/boot.err"; then
	fail boot "$(cat "$tmp/boot.out" "$tmp/boot.err")"
	finish
fi
pass boot
qemu_pid=$(cat "$KATA_LAUNCH_STATE_DIR/$name/qemu.pid" 2>/dev/null)

R=/run/kata-containers
S=$R/shared/containers

spec() {
	local cid=$1 args=$2 res=""
	[ -n "${3:-}" ] && res="\"Resources\":$3,"
	cat <<JSON
{"Version":"1.0.2",
 "Process":{"Terminal":false,"User":{"UID":0,"GID":0},"Args":$args,"Env":["PATH=/bin:/sbin:/usr/bin"],"Cwd":"/",
   "NoNewPrivileges":true},
 "Root":{"Path":"$S/$cid/rootfs"},
 "Hostname":"vm-pod",
 "Mounts":[{"destination":"/proc","type":"proc","source":"proc"},
   {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
   {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}],
 "Linux":{$res"Namespaces":[{"Type":"pid"},{"Type":"mount"},{"Type":"ipc"},{"Type":"uts"},{"Type":"network"},{"Type":"cgroup"}]}}
JSON
}
create() { ctl CreateContainer '{"container_id":"'"$1"'","exec_id":"'"$1"'","OCI":'"$(spec "$1" "$2" "${3:-}")"'}'; }
read_all() {
	local out d
	while :; do
		out=$(ctl --timeout 30 ReadStdout '{"container_id":"'"$1"'","exec_id":"'"${2:-$1}"'","len":65536}') || return 1
		d=$(jq -r '.data // ""' <<<"$out")
		[ -z "$d" ] && return 0
		base64 -d <<<"$d"
	done
}
wait_status() { ctl WaitProcess '{"container_id":"'"$1"'","exec_id":"'"${2:-$1}"'"}' | jq -r '.status // 0'; }

ok create-sandbox CreateSandbox '{"hostname":"vm-pod","sandbox_id":"vm-sb","storages":[
	{"driver":"9p","source":"kataShared","fstype":"9p","options":["trans=virtio","version=9p2000.L","cache=mmap","nodev","msize=8192"],"mount_point":"'$S'"}]}'

# The shim's sequence, on a 9p rootfs.
out=$(create c1 '["sh","-c","echo hello from $(hostname); cat /proc/self/cgroup; exit 3"]')
[ $? = 0 ] && pass create-container || fail create-container "$out"
ok start-container StartContainer '{"container_id":"c1"}'
v=$(read_all c1)
[ "$(sed -n 1p <<<"$v")" = "hello from vm-pod" ] && [ "$(sed -n 2p <<<"$v")" = "0::/" ] &&
	pass "stdout (own cgroup namespace on v2)" || fail "stdout (own cgroup namespace on v2)" "$v"
[ "$(wait_status c1)" = 3 ] && pass wait-3 || fail wait-3 "status"
ok remove-c1 RemoveContainer '{"container_id":"c1"}'

# exec, stdin, pause/resume on cgroup.freeze, stats, kill.
create c2 '["sh","-c","cat; sleep 1000"]' '{"Pids":{"Limit":40},"Memory":{"Limit":67108864}}' >/dev/null
ok start-c2 StartContainer '{"container_id":"c2"}'
out=$(ctl WriteStdin '{"container_id":"c2","exec_id":"c2","data":"'"$(printf 'via stdin\n' | base64 -w0)"'"}')
[ "$(jq -r .len <<<"$out")" = 10 ] && pass write-stdin || fail write-stdin "$out"
ok close-stdin CloseStdin '{"container_id":"c2","exec_id":"c2"}'
v=$(ctl ReadStdout '{"container_id":"c2","exec_id":"c2","len":100}' | jq -r .data | base64 -d)
[ "$v" = "via stdin" ] && pass stdin-through-cat || fail stdin-through-cat "$v"
ok exec ExecProcess '{"container_id":"c2","exec_id":"e1","process":{"Args":["sh","-c","tr \"\\0\" \" \" </proc/1/cmdline; exit 6"],"Env":["PATH=/bin"],"Cwd":"/"}}'
v=$(read_all c2 e1)
[ "$v" = "sleep 1000 " ] && pass exec-in-the-pid-namespace || fail exec-in-the-pid-namespace "$v"
[ "$(wait_status c2 e1)" = 6 ] && pass exec-wait-6 || fail exec-wait-6 "status"
ok pause PauseContainer '{"container_id":"c2"}'
ok resume ResumeContainer '{"container_id":"c2"}'
out=$(ctl StatsContainer '{"container_id":"c2"}')
jq -e '.cgroup_stats.memory_stats.usage.limit == 67108864 and .cgroup_stats.pids_stats.limit == 40 and .cgroup_stats.cpu_stats.cpu_usage.total_usage > 0' \
	<<<"$out" >/dev/null && pass stats || fail stats "$(jq -c '.cgroup_stats | {pids_stats, m: .memory_stats.usage}' <<<"$out")"
ok update UpdateContainer '{"container_id":"c2","resources":{"Pids":{"Limit":55}}}'
v=$(ctl StatsContainer '{"container_id":"c2"}' | jq -r .cgroup_stats.pids_stats.limit)
[ "$v" = 55 ] && pass update-applied || fail update-applied "$v"
ok kill-all SignalProcess '{"container_id":"c2","exec_id":"","signal":9}'
[ "$(wait_status c2)" = 137 ] && pass kill-all-137 || fail kill-all-137 "status"
ok remove-c2 RemoveContainer '{"container_id":"c2"}'

# OOM through memory.events.
create c3 '["sh","-c","sleep 0.2; head -c 300000000 /dev/zero | sort >/dev/null"]' '{"Memory":{"Limit":33554432}}' >/dev/null
ctl --timeout 60 GetOOMEvent '{}' >"$tmp/oom.out" &
oom_pid=$!
ok start-oom StartContainer '{"container_id":"c3"}'
v=$(wait_status c3)
wait "$oom_pid"
[ "$(jq -r .container_id <"$tmp/oom.out")" = c3 ] && pass "oom-event (exit $v)" || fail oom-event "exit $v: $(cat "$tmp/oom.out")"
ok remove-c3 RemoveContainer '{"container_id":"c3"}'

# A running container when the sandbox goes: DestroySandbox kills it, then the guest powers off.
create c4 '["sleep","1000"]' >/dev/null
ok start-c4 StartContainer '{"container_id":"c4"}'
ok destroy-sandbox DestroySandbox
for _ in $(seq 100); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$qemu_pid" 2>/dev/null && pass powers-off || fail powers-off "QEMU still running"
! grep -qE 'Kernel panic|ERROR' "$console" && pass no-panic-no-error || fail no-panic-no-error "$(grep -E -m3 'Kernel panic|ERROR' "$console")"
finish
