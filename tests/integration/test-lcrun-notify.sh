#!/bin/bash
# SCMP_ACT_NOTIFY with linux.seccomp.listenerPath: lcrun sends the notify fd to the listener with the container
# process state (fds ["seccompFd"], pid, metadata = listenerMetadata, state with id, status, bundle,
# annotations), for the container's init and for each exec'd process; a small seccomp agent
# (tests/integration/seccomp-listener.c) answers mkdir with EROFS, and the container sees that answer. Bad input:
# a listener path that nobody listens on fails create naming the field and leaves nothing; notify on sendmsg
# (the hand-off's own syscall) is refused by name.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun-notify
. "$top/tests/data/lcrun/lib.sh"
LISTENER=$top/${BUILD:-build}/host/tests/seccomp-listener
[ -x "$LISTENER" ] || { skip "$name" "no $LISTENER (make all)"; exit 77; }

sock=$scratch/agent.sock
msgs=$scratch/msgs
notify_cfg() { # notify_cfg ARGS_JSON: a profile that notifies mkdir and mkdirat, everything else allowed
	cfg ".process.args = $1 | .annotations = {\"team\": \"$token\"} |
	     .linux.seccomp = {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"$sock\",
	       \"listenerMetadata\": \"meta \\\"quoted\\\" $token\",
	       \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}"
}
start_listener() { # start_listener COUNT
	rm -f "$sock" "$msgs"
	"$LISTENER" "$sock" "$msgs" "$1" 2>"$scratch/listener.err" &
	lpid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.05; done
	return 1
}
# The listener is done when every filtered process is gone; bounded.
wait_listener() {
	for _ in $(seq 200); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.05; done
	kill "$lpid" 2>/dev/null
	wait "$lpid"
}

# ---- run: the init's filter, the message, the answer; loaded last (noNewPrivileges) or before the capabilities
# are dropped (without) ----
for nnp in true false; do
c=${cgprefix}run-$nnp
notify_cfg '["sh", "-c", "mkdir /made 2>&1; test -d /made && echo exists || echo absent"]'
jq ".process.noNewPrivileges = $nnp" "$bundle/config.json" >"$scratch/c.json" && mv "$scratch/c.json" "$bundle/config.json"
start_listener 1 || fail "notify: listener" "did not start"
out=$(lc run --bundle "$bundle" "$c" </dev/null 2>&1); rc=$?
wait_listener; lrc=$?
msg=$(head -n1 "$msgs" 2>/dev/null)
if [ $rc -eq 0 ] && grep -q "Read-only file system" <<<"$out" && grep -q "^absent" <<<"$out" && [ $lrc -eq 0 ]; then
	pass "notify (noNewPrivileges $nnp): the listener's answer (EROFS for mkdir) reaches the container"
else fail "notify (noNewPrivileges $nnp): answer" "rc=$rc listener=$lrc out=$out err=$(cat "$scratch/listener.err")"; fi
if [ "$(jq -r '.fds | join(",")' <<<"$msg")" = seccompFd ] && [ "$(jq -r .ociVersion <<<"$msg")" != null ] &&
   [ "$(jq -r .metadata <<<"$msg")" = "meta \"quoted\" $token" ] && [ "$(jq -r .pid <<<"$msg")" -gt 1 ] &&
   [ "$(jq -r .state.id <<<"$msg")" = "$c" ] && [ "$(jq -r .state.status <<<"$msg")" = creating ] &&
   [ "$(jq -r .state.pid <<<"$msg")" = "$(jq -r .pid <<<"$msg")" ] &&
   [ "$(jq -r .state.bundle <<<"$msg")" = "$bundle" ] && [ "$(jq -r .state.annotations.team <<<"$msg")" = "$token" ]; then
	pass "notify (noNewPrivileges $nnp): container process state (fds, pid, metadata, state id/status/pid/bundle/annotations)"
else fail "notify (noNewPrivileges $nnp): message" "$msg"; fi
assert_clean "notify (noNewPrivileges $nnp): run"
done

# ---- exec: a filter (and a message) of its own ----
c=${cgprefix}exec
notify_cfg '["sleep", "1000"]'
start_listener 2 || fail "notify: listener" "did not start"
lc create --bundle "$bundle" "$c" </dev/null >/dev/null 2>"$scratch/err" || fail "notify: create" "$(cat "$scratch/err")"
lc start "$c"
init=$(lc state "$c" | jq -r .pid)
out=$(lc exec "$c" sh -c 'mkdir /x 2>&1; echo rc=$?' 2>&1)
epid=$(sed -n 2p "$msgs" | jq -r .pid)
estatus=$(sed -n 2p "$msgs" | jq -r .state.status)
estate_pid=$(sed -n 2p "$msgs" | jq -r .state.pid)
lc delete --force "$c"
wait_listener
if grep -q "Read-only file system" <<<"$out" && grep -q "rc=1" <<<"$out" && [ "$estatus" = running ] &&
   [ "$estate_pid" = "$init" ] && [ -n "$epid" ] && [ "$epid" != "$init" ]; then
	pass "notify: exec'd process: own listener message (its pid, the running container's state), answered"
else fail "notify: exec" "out=$out msgs=$(cat "$msgs") init=$init"; fi
assert_clean "notify: exec"

# ---- bad input ----
c=${cgprefix}nolistener
notify_cfg '["true"]'
rm -f "$sock"
expect_fail "notify: no listener at listenerPath fails create, naming it" "linux.seccomp.listenerPath: connect to .*agent.sock" \
	lc run --bundle "$bundle" "$c"
assert_clean "notify: no listener"
c=${cgprefix}sendmsg
cfg ".process.args = [\"true\"] | .linux.seccomp = {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"$sock\",
     \"syscalls\": [{\"names\": [\"sendmsg\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}"
expect_fail "notify: SCMP_ACT_NOTIFY on sendmsg refused" 'linux.seccomp.syscalls\[0\]: SCMP_ACT_NOTIFY cannot apply to "sendmsg"' \
	lc run --bundle "$bundle" "$c"
assert_clean "notify: sendmsg"
finish
