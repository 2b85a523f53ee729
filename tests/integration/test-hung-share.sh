#!/bin/bash
# A shared filesystem whose server stops answering must not stop the agent: calls that touch a share run in
# a helper child, so Check keeps answering, the stuck call ends at its deadline, and its helper is killed
# and reaped. The host has FUSE but no 9p, so build/host/tests/fuse-stall (answers INIT, then nothing)
# stands in for a 9p or virtio-fs server that hangs. Both agent builds, in the private namespaces of
# tests/lib-agent.sh.
# shellcheck disable=SC2015
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch
STALL=$(realpath -m "$BUILD/host/tests/fuse-stall")

if [ "$(id -u)" != 0 ]; then skip hung-share "needs root (mount namespaces, FUSE mounts)"; exit 77; fi
for c in unshare nsenter findmnt; do
	command -v "$c" >/dev/null || { skip hung-share "$c is not installed"; exit 77; }
done
[ -c /dev/fuse ] || { skip hung-share "/dev/fuse is missing"; exit 77; }
grep -qw fuse /proc/filesystems || { skip hung-share "the kernel has no FUSE"; exit 77; }
[ -x "$KL" ] && [ -x "$STALL" ] || { fail hung-share "$KL or $STALL is missing"; finish; }

dir=$(mktemp -d /tmp/test-hung-share.XXXXXX)
agent_pid= stall_pid=
cleanup() {
	[ -n "$stall_pid" ] && kill "$stall_pid" 2>/dev/null
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
. tests/lib-agent.sh

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

run_build() {
	local bin=$1 name=$2 hung=$R/shared/hung start ms kids
	P=$name
	if ! start_agent "$bin" "$name"; then fail "$P: agent starts" "$(tail -n 5 "$log")"; return; fi
	ns mkdir -p "$hung"
	# nsenter itself, not the ns function: a backgrounded function is a subshell and $! would name it.
	nsenter -t "$agent_pid" -m -u -i "$STALL" "$hung" >"$dir/stall.out" 2>&1 &
	stall_pid=$!
	for _ in $(seq 100); do grep -q ready "$dir/stall.out" && break; sleep 0.05; done
	grep -q ready "$dir/stall.out" && pass "$P: a share that stops answering is mounted" ||
		{ fail "$P: a share that stops answering is mounted" "$(cat "$dir/stall.out")"; kill -9 "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=; return; }

	"$KL" ctl --timeout 3 "unix://$sock" GetVolumeStats '{"volume_guest_path":"'"$hung"'"}' >"$dir/hang.out" 2>&1 &
	local hang=$!
	sleep 0.5
	for m in Check GetGuestDetails; do
		start=$(date +%s%N)
		if ctl "$m" '{}' >/dev/null; then ms=$(ms_since "$start"); else ms=fail; fi
		[ "$ms" != fail ] && [ "$ms" -lt 1000 ] && pass "$P: $m answers while a call hangs on the share" ||
			fail "$P: $m answers while a call hangs on the share" "$ms ms"
	done
	kids=$(pgrep -P "$agent_pid" | wc -l)
	[ "$kids" -ge 1 ] && pass "$P: the stuck statfs runs in a helper" || fail "$P: the stuck statfs runs in a helper" "no child of the agent"
	wait "$hang"
	grep -q DEADLINE_EXCEEDED "$dir/hang.out" && pass "$P: the stuck call ends at its deadline" ||
		fail "$P: the stuck call ends at its deadline" "$(cat "$dir/hang.out")"
	# A FUSE request the server has read waits uninterruptibly, so the SIGKILLed helper only dies once the
	# server goes away (a 9p or virtio-fs share whose host side closes behaves alike). Until then the
	# agent has abandoned it and serves on; then the SIGCHLD loop reaps it.
	kill "$stall_pid"; wait "$stall_pid" 2>/dev/null; stall_pid=
	for _ in $(seq 100); do [ -z "$(pgrep -P "$agent_pid")" ] && break; sleep 0.05; done
	kids=$(pgrep -P "$agent_pid" | tr '\n' ' ')
	[ -z "$kids" ] && pass "$P: the abandoned helper is reaped once the share goes away" ||
		fail "$P: the abandoned helper is reaped once the share goes away" "children left: $kids"
	ns umount -l "$hung" 2>/dev/null
	out=$(ctl GetVolumeStats '{"volume_guest_path":"'"$R"'/shared"}')
	[ $? = 0 ] && pass "$P: the agent serves the next call on a share" || fail "$P: the agent serves the next call on a share" "$out"
	# DestroySandbox while a container's storage is still being mounted from a hung share: the create it aborts
	# answers at once, but its mount helper holds references on the storages, so the teardown waits for it
	# (Check still answers) and answers once the share goes away and the helper is done, nothing left mounted.
	nsenter -t "$agent_pid" -m -u -i "$STALL" "$hung" >"$dir/stall.out" 2>&1 &
	stall_pid=$!
	for _ in $(seq 100); do grep -q ready "$dir/stall.out" && break; sleep 0.05; done
	ns mkdir -p "$R/hc/rootfs"
	"$KL" ctl --timeout 30 "unix://$sock" CreateContainer '{"container_id":"hc","OCI":{"Process":{"Args":["true"],"Cwd":"/"},"Root":{"Path":"'"$R"'/hc/rootfs"}},
		"storages":[{"driver":"bind","source":"'"$hung"'/x","mount_point":"'"$R"'/shared/containers/hc-vol"}]}' >"$dir/create.out" 2>&1 &
	local cpid=$!
	for _ in $(seq 100); do [ -n "$(pgrep -P "$agent_pid")" ] && break; sleep 0.05; done
	sleep 0.3
	"$KL" ctl --timeout 30 "unix://$sock" DestroySandbox '{}' >"$dir/destroy.out" 2>&1 &
	local dpid=$!
	sleep 1
	kill -0 "$dpid" 2>/dev/null && pass "$P: DestroySandbox waits for a storage a helper is still mounting" ||
		fail "$P: DestroySandbox waits for a storage a helper is still mounting" "answered: $(cat "$dir/destroy.out")"
	start=$(date +%s%N)
	ctl Check '{}' >/dev/null && [ "$(ms_since "$start")" -lt 1000 ] && pass "$P: Check answers while DestroySandbox waits" ||
		fail "$P: Check answers while DestroySandbox waits" "$(ms_since "$start") ms"
	kill "$stall_pid"; wait "$stall_pid" 2>/dev/null; stall_pid=
	wait "$dpid"; rc=$?
	wait "$cpid"
	left=$(ns findmnt -rn -o TARGET | grep -F "$R/shared/containers/hc-vol")
	[ "$rc" = 0 ] && [ -z "$left" ] && pass "$P: DestroySandbox answers once that helper is done, nothing left mounted" ||
		fail "$P: DestroySandbox answers once that helper is done, nothing left mounted" "rc=$rc left=[$left]: $(cat "$dir/destroy.out") create: $(cat "$dir/create.out")"
	ns umount -l "$hung" 2>/dev/null
	# Shutdown with a helper stuck on the share: the agent exits at once and cleanly (ASan: nothing
	# leaked), the helper is SIGKILLed and dies as soon as the share lets it go.
	nsenter -t "$agent_pid" -m -u -i "$STALL" "$hung" >"$dir/stall.out" 2>&1 &
	stall_pid=$!
	for _ in $(seq 100); do grep -q ready "$dir/stall.out" && break; sleep 0.05; done
	"$KL" ctl "unix://$sock" GetVolumeStats '{"volume_guest_path":"'"$hung"'"}' >/dev/null 2>&1 &
	local stuck=
	for _ in $(seq 100); do stuck=$(pgrep -P "$agent_pid"); [ -n "$stuck" ] && break; sleep 0.05; done
	sleep 0.3
	start=$(date +%s%N)
	kill -TERM "$agent_pid"; wait "$agent_pid"; local rc=$?; agent_pid=
	ms=$(ms_since "$start")
	[ "$rc" = 0 ] && [ "$ms" -lt 3000 ] && pass "$P: clean exit on SIGTERM with a helper stuck on a share" ||
		fail "$P: clean exit on SIGTERM with a helper stuck on a share" "rc=$rc after $ms ms: $(tail -n 3 "$log")"
	kill "$stall_pid"; wait "$stall_pid" 2>/dev/null; stall_pid=
	for _ in $(seq 100); do [ -n "$stuck" ] && kill -0 "$stuck" 2>/dev/null || break; sleep 0.05; done
	[ -n "$stuck" ] && ! kill -0 "$stuck" 2>/dev/null && pass "$P: the stuck helper does not outlive the share" ||
		fail "$P: the stuck helper does not outlive the share" "helper '${stuck}' still runs"
	wait
}

run_build "$BUILD/host/kata-agent" host
[ -x "$BUILD/kata-agent" ] && run_build "$BUILD/kata-agent" guest
finish
