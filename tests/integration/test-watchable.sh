#!/bin/bash
# watchable-bind storages in the standalone agent (both builds), as root in private namespaces with their own
# /run (tests/lib-agent.sh): a directory and a single file under the shared containers dir mirrored into the
# watchable tmpfs, then updated by the agent's own polling (a timer in its loop, the copying in a helper) while
# Check keeps answering: a changed file in place (same inode), a new file, a removed one; a mirror that grows
# past the upstream limits (16 entries, 1 MiB) replaced by a bind of the share; refusals (a FIFO source among
# them) that leave nothing; all of it gone after DestroySandbox, and a clean SIGTERM exit of the ASan build.
# pass/skip only print and always succeed, so `cond && pass || fail` is a safe if/else.
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

if [ "$(id -u)" != 0 ]; then skip watchable "needs root (mount namespaces)"; exit 77; fi
for c in unshare nsenter findmnt; do
	command -v "$c" >/dev/null || { skip watchable "$c is not installed"; exit 77; }
done
[ -x "$KL" ] || { fail watchable "$KL is missing"; finish; }

dir=$(mktemp -d /tmp/test-watchable.XXXXXX)
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
. tests/lib-agent.sh
W=$S/watchable

# until SECONDS CMD...: CMD succeeds within SECONDS (the poll runs every 2 s).
until_ok() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
content_is() { [ "$(ns cat "$1" 2>/dev/null)" = "$2" ]; }
wb() { echo '{"driver":"watchable-bind","source":"'"$1"'","mount_point":"'"$2"'"}'; }

suite() {
	local name=$1 bin=$2 ino
	P=$name
	if ! start_agent "$bin" "$name"; then fail "$P: agent starts" "$(tail -n 5 "$log")"; return; fi
	ns mkdir -p "$S/cfg/sub" "$S/big"
	ns sh -c "echo v1 >$S/cfg/key; echo deep >$S/cfg/sub/inner; ln -s key $S/cfg/link; echo gone >$S/cfg/old"
	ns sh -c "echo h1 >$S/hosts; mkfifo $S/fifo"

	expect "mount point outside the watchable tmpfs" INVALID_ARGUMENT 'storages[0].mount_point' \
		CreateSandbox '{"storages":['"$(wb "$S/cfg" "$R/sandbox/cfg")"']}'
	expect "source outside the storage root" INVALID_ARGUMENT 'storages[0].source' \
		CreateSandbox '{"storages":['"$(wb /etc "$W/etc")"']}'
	expect "absent source" NOT_FOUND 'storages[0].source: `'"$S"'/nothing`' \
		CreateSandbox '{"storages":['"$(wb "$S/nothing" "$W/nothing")"']}'
	expect "FIFO source" INVALID_ARGUMENT 'storages[0].source: `'"$S"'/fifo`: neither a directory nor a regular file' \
		CreateSandbox '{"storages":['"$(wb "$S/fifo" "$W/fifo")"']}'
	! ns test -e "$W/nothing" && ! ns test -e "$W/fifo" && pass "$P: refusals left nothing" || fail "$P: refusals left nothing" "$(ns ls -la "$W")"

	ok "create with a watchable directory and file" \
		CreateSandbox '{"storages":['"$(wb "$S/cfg" "$W/cfg"),$(wb "$S/hosts" "$W/etc/hosts")"']}'
	[ "$(ns findmnt -n -o FSTYPE "$W")" = tmpfs ] && pass "$P: watchable tmpfs" || fail "$P: watchable tmpfs" "$(ns findmnt "$W")"
	content_is "$W/cfg/key" v1 && content_is "$W/cfg/sub/inner" deep && [ "$(ns readlink "$W/cfg/link")" = key ] &&
		pass "$P: mirrored at mount" || fail "$P: mirrored at mount" "$(ns ls -lR "$W")"
	ino=$(ns stat -c %i "$W/cfg/key")
	ns test -f "$W/etc/hosts" && content_is "$W/etc/hosts" h1 && pass "$P: single file mirrored onto a file" ||
		fail "$P: single file mirrored onto a file" "$(ns ls -la "$W/etc")"
	fino=$(ns stat -c %i "$W/etc/hosts")

	ns sh -c "echo v2-longer >$S/cfg/key; echo fresh >$S/cfg/new; rm $S/cfg/old"
	start=$(date +%s%N)
	until_ok 10 content_is "$W/cfg/key" v2-longer && pass "$P: change mirrored by polling" ||
		fail "$P: change mirrored by polling" "$(ns cat "$W/cfg/key")"
	echo "    ($P: mirrored after $((($(date +%s%N) - start) / 1000000)) ms)"
	[ "$(ns stat -c %i "$W/cfg/key")" = "$ino" ] && pass "$P: updated in place" || fail "$P: updated in place" "inode changed"
	ns sh -c "echo h2-longer >$S/hosts"
	until_ok 10 content_is "$W/etc/hosts" h2-longer && [ "$(ns stat -c %i "$W/etc/hosts")" = "$fino" ] &&
		pass "$P: single file updated in place" || fail "$P: single file updated in place" "$(ns ls -li "$W/etc")"
	# Past 1 MiB the file itself is bound there.
	ns truncate -s 1100000 "$S/hosts"
	until_ok 10 ns findmnt -n "$W/etc/hosts" >/dev/null && pass "$P: file too big: bound instead" ||
		fail "$P: file too big: bound instead" "$(ns findmnt -R "$W")"
	content_is "$W/cfg/new" fresh && ! ns test -e "$W/cfg/old" && pass "$P: new file added, removed one gone" ||
		fail "$P: new file added, removed one gone" "$(ns ls "$W/cfg")"
	out=$(ctl Check)
	grep -q SERVING <<<"$out" && pass "$P: Check answers" || fail "$P: Check answers" "$out"

	# Past 16 entries: the share itself is bound there, so what comes later shows at once.
	ns sh -c "for i in \$(seq 20); do echo \$i >$S/cfg/f\$i; done"
	until_ok 10 ns findmnt -n "$W/cfg" >/dev/null && pass "$P: too many entries: bound instead" ||
		fail "$P: too many entries: bound instead" "$(ns findmnt -R "$W")"
	ns sh -c "echo now >$S/cfg/later"
	content_is "$W/cfg/later" now && pass "$P: bound share shows changes at once" || fail "$P: bound share shows changes at once"

	ok destroy DestroySandbox '{}'
	! ns test -e "$W/cfg" && ! ns findmnt -n "$W/cfg" >/dev/null && ! ns test -e "$W/etc/hosts" && [ -z "$(ns ls -A "$W/.watches" 2>/dev/null)" ] &&
		pass "$P: gone after DestroySandbox" || fail "$P: gone after DestroySandbox" "$(ns ls -laR "$W")"
	ns test -e "$S/cfg/later" && pass "$P: the share itself untouched" || fail "$P: the share itself untouched"
	[ -z "$(ns findmnt -rn -o TARGET | grep "^$R")" ] && ! ns test -e "$W" && pass "$P: nothing mounted after DestroySandbox" ||
		fail "$P: nothing mounted after DestroySandbox" "$(ns findmnt -rn -o TARGET | grep "^$R")"

	stop_agent || return
}

suite host "$BUILD/host/kata-agent"
suite static "$BUILD/kata-agent"
finish
