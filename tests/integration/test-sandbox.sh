#!/bin/bash
# CreateSandbox, DestroySandbox and the sandbox-level RPCs against the standalone agent (both builds), run as
# root in private mount, UTS and IPC namespaces with a tmpfs of their own on /run and a scratch file bound
# over /etc/resolv.conf: the host's hostname, resolv.conf and /run/kata-containers are never touched. Results
# are read inside the agent's namespaces with nsenter. RPCs that change the whole machine (time, entropy,
# kernel modules) are only sent with input the agent must refuse before acting; tests/vm/test-sandbox.sh
# runs them for real.
# pass/skip only print and always succeed, so `cond && pass || fail` is a safe if/else; backticks in greps
# are literal.
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

if [ "$(id -u)" != 0 ]; then skip sandbox "needs root (mount and UTS namespaces)"; exit 77; fi
for c in unshare nsenter findmnt jq base64; do
	command -v "$c" >/dev/null || { skip sandbox "$c is not installed"; exit 77; }
done
[ -x "$KL" ] || { fail sandbox "$KL is missing"; finish; }

dir=$(mktemp -d /tmp/test-sandbox.XXXXXX)
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
host_hostname=$(hostname)
host_resolv=$(sha256sum /etc/resolv.conf 2>/dev/null)

. tests/lib-agent.sh

mounts_under() { ns findmnt -rn -o TARGET | grep -c "^$R" ; }
nothing_mounted() {
	local n
	n=$(mounts_under)
	[ "$n" = 0 ] && pass "$P: $1" || fail "$P: $1" "$n mounts under $R: $(ns findmnt -rn -o TARGET | grep "^$R" | tr '\n' ' ')"
}
b64() { printf '%s' "$1" | base64 -w0; }

suite() {
	local name=$1 bin=$2
	P=$name
	if ! start_agent "$bin" "$name"; then fail "$P: agent starts" "$(tail -n 5 "$log")"; return; fi

	out=$(ctl GetGuestDetails '{}')
	v=$(jq -r '.agent_details.storage_handlers | sort | join(",")' <<<"$out")
	[ "$v" = "9p,bind,blk,ephemeral,local,mmioblk,nvdimm,overlayfs,scsi,virtio-fs,watchable-bind" ] && pass "$P: storage handlers reported" ||
		fail "$P: storage handlers reported" "$out"

	# ---- CreateSandbox refusals: each leaves nothing behind ----
	eph='{"driver":"ephemeral","source":"tmpfs","fstype":"tmpfs","options":["size=1m"],"mount_point":"'$R'/sandbox/a"}'
	expect "traversal in mount_point" INVALID_ARGUMENT 'storages[1].mount_point' CreateSandbox \
		'{"storages":['"$eph"',{"driver":"ephemeral","source":"tmpfs","mount_point":"'$R'/../../etc/x"}]}'
	expect "mount_point outside the root" INVALID_ARGUMENT 'storages[0].mount_point: `/etc/x` is not under' \
		CreateSandbox '{"storages":[{"driver":"ephemeral","mount_point":"/etc/x"}]}'
	expect "rbind through a non-bind driver" INVALID_ARGUMENT 'storages[0].options: bind, rbind, remount and move are not options of the `ephemeral` driver' CreateSandbox \
		'{"storages":[{"driver":"ephemeral","source":"/","options":["rbind"],"mount_point":"'$R'/sandbox/x"}]}'
	expect "9p over a file descriptor" INVALID_ARGUMENT 'storages[0].options: 9p shares use trans=virtio' CreateSandbox \
		'{"storages":[{"driver":"9p","source":"kataShared","options":["trans=fd","rfdno=3","wfdno=3"],"mount_point":"'$R'/sandbox/y"}]}'
	expect "unknown driver" INVALID_ARGUMENT 'storages[0].driver: unknown storage driver `nfs`' CreateSandbox \
		'{"storages":[{"driver":"nfs","source":"x","mount_point":"'$R'/x"}]}'
	expect "bind source outside the root" INVALID_ARGUMENT 'storages[0].source' CreateSandbox \
		'{"storages":[{"driver":"bind","source":"/etc","mount_point":"'$R'/x"}]}'
	expect "9p without a tag" INVALID_ARGUMENT 'storages[0].source' CreateSandbox \
		'{"storages":[{"driver":"9p","mount_point":"'$R'/x"}]}'
	expect "hugetlbfs without its page size" INVALID_ARGUMENT 'storages[0].options: hugetlbfs needs pagesize=' CreateSandbox \
		'{"storages":[{"driver":"ephemeral","fstype":"hugetlbfs","mount_point":"'$R'/x"}]}'
	expect "oversize mount data" INVALID_ARGUMENT 'storages[0].options' CreateSandbox \
		'{"storages":[{"driver":"ephemeral","mount_point":"'$R'/x","options":["'"$(head -c 3000 /dev/zero | tr '\0' a)"'","'"$(head -c 3000 /dev/zero | tr '\0' b)"'"]}]}'
	expect "hostname too long" INVALID_ARGUMENT 'hostname' CreateSandbox \
		'{"hostname":"'"$(head -c 65 /dev/zero | tr '\0' h)"'"}'
	expect "dns line with a newline" INVALID_ARGUMENT 'dns[1]' CreateSandbox \
		'{"dns":["nameserver 1.1.1.1","nameserver 2.2.2.2\nnameserver 6.6.6.6"]}'
	expect "kernel modules need PID 1" FAILED_PRECONDITION 'kernel_modules' CreateSandbox \
		'{"kernel_modules":[{"name":"dummy","parameters":["numdummies=2"]}]}'
	expect "bad module name" INVALID_ARGUMENT 'kernel_modules[0].name' CreateSandbox \
		'{"kernel_modules":[{"name":"../../tmp/evil"}]}'
	# Absent sources, after a storage that mounted: the failure unmounts that one too.
	expect "absent 9p share" "[A-Z_]*" 'mount 9p `no-such-tag`' CreateSandbox \
		'{"hostname":"never","storages":['"$eph"',{"driver":"9p","source":"no-such-tag","options":["trans=virtio","version=9p2000.L","cache=mmap","nodev","msize=8192"],"mount_point":"'$R'/sandbox/9p"}]}'
	expect "absent virtio-fs share" "[A-Z_]*" 'mount virtiofs `kataShared`' CreateSandbox \
		'{"storages":['"$eph"',{"driver":"virtio-fs","source":"kataShared","mount_point":"'$S'"}]}'
	expect "absent bind source" NOT_FOUND "storages[1].source: \`$R/no/such\`" CreateSandbox \
		'{"storages":['"$eph"',{"driver":"bind","source":"'$R'/no/such","mount_point":"'$R'/sandbox/b"}]}'
	nothing_mounted "nothing mounted after the refusals"
	v=$(for p in $R/sandbox/a $R/sandbox/9p $S $R/sandbox/b $R/x; do ns test -e "$p" && echo "$p"; done)
	[ -z "$v" ] && pass "$P: no directories left by failed mounts" || fail "$P: no directories left by failed mounts" "$v"
	[ "$(ns hostname)" = scratch-host ] && pass "$P: failed create kept the hostname" ||
		fail "$P: failed create kept the hostname" "$(ns hostname)"

	# ---- a sandbox ----
	ns sh -c "mkdir -p $R/shared/src $S && echo hello >$R/shared/src/f && ln -s /etc $R/evil"
	req='{"hostname":"pod-a","dns":["nameserver 10.0.0.10","search ns.svc.cluster.local"],"sandbox_id":"sb-1",
	      "guest_hook_path":"/usr/share/oci/hooks",
	      "storages":[
	        {"driver":"ephemeral","source":"shm","fstype":"tmpfs","options":["noexec","nosuid","nodev","mode=1777","size=67108864"],"mount_point":"'$R'/sandbox/shm"},
	        {"driver":"ephemeral","source":"shm","fstype":"tmpfs","options":["size=1m"],"mount_point":"'$R'//sandbox/./shm/"},
	        {"driver":"local","options":["mode=0770","fsgid=3000"],"mount_point":"'$R'/sandbox/local/vol1"},
	        {"driver":"ephemeral","source":"tmpfs","options":["size=2m"],"mount_point":"'$R'/evil/escaped"},
	        {"driver":"bind","source":"'$R'/shared/src","options":["ro"],"mount_point":"'$S'/vol","shared":true},
	        {"driver":"ephemeral","source":"tmpfs","options":["size=1m"],"mount_point":"'$R'/sandbox/grp","fs_group":{"group_id":4000,"group_change_policy":"OnRootMismatch"}}
	      ]}'
	ok "create" CreateSandbox "$req"
	[ "$(ns hostname)" = pod-a ] && pass "$P: guest hostname" || fail "$P: guest hostname" "$(ns hostname)"
	v=$(ns nsenter --uts=$R/sandbox/ns/uts hostname 2>&1)
	[ "$v" = pod-a ] && pass "$P: shared UTS namespace has the hostname" || fail "$P: shared UTS namespace has the hostname" "$v"
	a=$(ns readlink /proc/self/ns/ipc); b=$(ns nsenter --ipc=$R/sandbox/ns/ipc readlink /proc/self/ns/ipc 2>&1)
	[ -n "$b" ] && [ "$a" != "$b" ] && pass "$P: shared IPC namespace is a new one" || fail "$P: shared IPC namespace is a new one" "$a vs $b"
	[ "$(hostname)" = "$host_hostname" ] && pass "$P: host hostname untouched" || fail "$P: host hostname untouched" "$(hostname)"
	v=$(ns cat /etc/resolv.conf)
	[ "$v" = $'nameserver 10.0.0.10\nsearch ns.svc.cluster.local' ] && pass "$P: dns bound over /etc/resolv.conf" ||
		fail "$P: dns bound over /etc/resolv.conf" "$v"
	[ "$(sha256sum /etc/resolv.conf 2>/dev/null)" = "$host_resolv" ] && pass "$P: host resolv.conf untouched" ||
		fail "$P: host resolv.conf untouched" "changed"
	v="$(ns findmnt -n -o FSTYPE,OPTIONS $R/sandbox/shm) $(ns stat -c %a $R/sandbox/shm)"
	grep -q '^tmpfs .*nosuid,nodev,noexec.*size=65536k.* 1777$' <<<"$v" && pass "$P: sandbox shm" || fail "$P: sandbox shm" "$v"
	v=$(ns findmnt -rn -o TARGET | grep -c "^$R/sandbox/shm$")
	[ "$v" = 1 ] && pass "$P: second reference to a mount point mounts nothing" || fail "$P: second reference to a mount point mounts nothing" "$v mounts"
	v=$(ns stat -c '%a %g' $R/sandbox/local/vol1)
	[ "$v" = "2770 3000" ] && pass "$P: local storage mode and fsgid" || fail "$P: local storage mode and fsgid" "$v"
	if ns findmnt -n $R/etc/escaped >/dev/null && ! ns findmnt -n /etc/escaped >/dev/null && [ ! -e /etc/escaped ]; then
		pass "$P: symlinked mount point resolved inside the root"
	else fail "$P: symlinked mount point resolved inside the root" "$(ns findmnt -rn -o TARGET | grep escaped)"; fi
	v=$(ns sh -c "cat $S/vol/f; touch $S/vol/new 2>&1")
	grep -q hello <<<"$v" && grep -q 'Read-only' <<<"$v" && pass "$P: read-only bind storage" || fail "$P: read-only bind storage" "$v"
	v=$(ns stat -c '%a %g' $R/sandbox/grp)
	[ "$v" = "3777 4000" ] || [ "$v" = "2777 4000" ] || [ "$v" = "2775 4000" ] && pass "$P: fs_group" || fail "$P: fs_group" "$v"
	expect "second CreateSandbox" ALREADY_EXISTS 'sandbox `sb-1` already exists' CreateSandbox '{}'

	# ---- UpdateEphemeralMounts ----
	ok "update ephemeral size" UpdateEphemeralMounts \
		'{"storages":[{"driver":"ephemeral","source":"shm","fstype":"tmpfs","options":["size=134217728"],"mount_point":"'$R'/sandbox/shm"}]}'
	v=$(ns findmnt -n -o OPTIONS $R/sandbox/shm)
	grep -q 'size=131072k' <<<"$v" && pass "$P: remounted with the new size" || fail "$P: remounted with the new size" "$v"
	expect "update a local storage" INVALID_ARGUMENT 'storages[0].driver' UpdateEphemeralMounts \
		'{"storages":[{"driver":"local","mount_point":"'$R'/sandbox/local/vol1"}]}'
	expect "update an unknown mount point" NOT_FOUND 'storages[0].mount_point' UpdateEphemeralMounts \
		'{"storages":[{"driver":"ephemeral","mount_point":"'$R'/sandbox/nope"}]}'

	# ---- GetVolumeStats ----
	out=$(ctl GetVolumeStats '{"volume_guest_path":"'$R'/sandbox/shm"}')
	v=$(jq -r '[.usage[] | "\(.unit):\(.total)"] | join(" ")' <<<"$out")
	grep -q '^BYTES:134217728 INODES:[0-9]' <<<"$v" && pass "$P: volume stats" || fail "$P: volume stats" "$out"
	expect "volume stats outside" INVALID_ARGUMENT 'volume_guest_path' GetVolumeStats '{"volume_guest_path":"/etc"}'
	expect "volume stats traversal" INVALID_ARGUMENT '`..`' GetVolumeStats '{"volume_guest_path":"'$R'/../etc"}'
	expect "volume stats absent" NOT_FOUND 'volume_guest_path' GetVolumeStats '{"volume_guest_path":"'$R'/nope"}'

	# ---- CopyFile ----
	ok "copy a directory" CopyFile '{"path":"'$S'/c1/d","file_mode":'$((0040750))',"dir_mode":'$((0700))',"uid":1001,"gid":1002}'
	ok "copy chunk 1" CopyFile '{"path":"'$S'/c1/d/file","file_size":11,"file_mode":'$((0100640))',"uid":1001,"gid":1002,"offset":0,"data":"'"$(b64 hello)"'"}'
	v=$(ns sh -c "ls $S/c1/d")
	[ "$v" = file.tmp ] && pass "$P: incomplete upload stays in .tmp" || fail "$P: incomplete upload stays in .tmp" "$v"
	ok "copy chunk 2" CopyFile '{"path":"'$S'/c1/d/file","file_size":11,"file_mode":'$((0100640))',"uid":1001,"gid":1002,"offset":5,"data":"'"$(b64 " world")"'"}'
	v=$(ns sh -c "cat $S/c1/d/file; echo; stat -c '%a %u %g' $S/c1/d/file $S/c1/d; stat -c %a $S/c1; ls $S/c1/d")
	[ "$v" = $'hello world\n640 1001 1002\n750 1001 1002\n700\nfile' ] && pass "$P: chunked file in place" || fail "$P: chunked file in place" "$v"
	ok "copy a relative symlink" CopyFile '{"path":"'$S'/c1/link","file_mode":'$((0120777))',"data":"'"$(b64 d/file)"'"}'
	[ "$(ns readlink $S/c1/link)" = d/file ] && pass "$P: symlink made" || fail "$P: symlink made" "$(ns ls -l $S/c1)"
	expect "copy an absolute symlink" INVALID_ARGUMENT 'leads out of' CopyFile '{"path":"'$S'/c1/abs","file_mode":'$((0120777))',"data":"'"$(b64 /etc/shadow)"'"}'
	expect "copy an escaping symlink" INVALID_ARGUMENT 'leads out of' CopyFile '{"path":"'$S'/c1/up","file_mode":'$((0120777))',"data":"'"$(b64 ../../x)"'"}'
	# The path string's depth lies when a component is a link to `.`: the real parent decides.
	ok "copy a link to its own directory" CopyFile '{"path":"'$S'/self","file_mode":'$((0120777))',"data":"'"$(b64 .)"'"}'
	expect "copy an escaping symlink through self links" INVALID_ARGUMENT 'leads out of' CopyFile '{"path":"'$S'/self/self/self/self/l","file_mode":'$((0120777))',"data":"'"$(b64 ../../../../etc/shadow)"'"}'
	expect "copy outside" INVALID_ARGUMENT 'path: `/etc/passwd` is not under' CopyFile '{"path":"/etc/passwd","file_size":1,"data":"'"$(b64 x)"'"}'
	expect "copy with traversal" INVALID_ARGUMENT '`..`' CopyFile '{"path":"'$S'/../../../etc/x","file_size":1,"data":"'"$(b64 x)"'"}'
	expect "copy past file_size" INVALID_ARGUMENT 'past file_size' CopyFile '{"path":"'$S'/c1/big","file_size":2,"data":"'"$(b64 xyz)"'"}'
	expect "copy oversize file" INVALID_ARGUMENT 'file_size' CopyFile '{"path":"'$S'/c1/big","file_size":4294967296}'
	expect "copy a device" INVALID_ARGUMENT 'file_mode' CopyFile '{"path":"'$S'/c1/dev","file_mode":'$((0020666))'}'
	expect "copy chunk without a start" NOT_FOUND 'no upload at offset 0' CopyFile '{"path":"'$S'/c1/late","file_size":4,"offset":2,"data":"'"$(b64 ab)"'"}'
	ns ln -s /etc $S/evil
	ok "copy through a planted symlink" CopyFile '{"path":"'$S'/evil/pwned","file_size":1,"data":"'"$(b64 x)"'"}'
	if ns test -f $S/etc/pwned && ! ns test -e /etc/pwned && [ ! -e /etc/pwned ]; then pass "$P: planted symlink resolved inside"; else
		fail "$P: planted symlink resolved inside" "$(ns ls -la $S /etc/pwned 2>&1)"; fi

	# ---- the rest ----
	ok "stale virtio-fs share mounts" RemoveStaleVirtiofsShareMounts '{}'
	expect "reseed oversize" INVALID_ARGUMENT 'data' ReseedRandomDev '{"data":"'"$(head -c 70000 /dev/zero | base64 -w0)"'"}'
	expect "date with bad usec" INVALID_ARGUMENT 'Usec' SetGuestDateTime '{"Sec":1700000000,"Usec":2000000}'
	expect "date before the epoch" INVALID_ARGUMENT 'Sec' SetGuestDateTime '{"Sec":-5}'
	expect "resize volume" UNIMPLEMENTED 'ResizeVolume' ResizeVolume '{"volume_guest_path":"'$R'/sandbox/shm","size":1}'
	out=$(ctl GetMetrics '{}')
	m=$(jq -r .metrics <<<"$out")
	bad=$(grep -v '^#' <<<"$m" | grep -cvE '^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9.]+$')
	if [ "$bad" = 0 ] && grep -q '^kata_agent_total_rss [1-9]' <<<"$m" && grep -q '^kata_agent_threads 1$' <<<"$m" &&
		grep -q '^kata_agent_open_fds [1-9]' <<<"$m" && grep -q '^kata_guest_meminfo{item="MemTotal"} [1-9]' <<<"$m" &&
		grep -q '^kata_guest_load{item="load1"}' <<<"$m" && grep -q '^kata_guest_cpu_time{cpu="cpu0",item="user"}' <<<"$m" &&
		grep -q '^kata_guest_netdev_stat{interface="lo",item="recv_bytes"}' <<<"$m"; then
		pass "$P: metrics"
	else fail "$P: metrics" "$bad malformed lines: $(head -c 600 <<<"$m")"; fi

	# ---- DestroySandbox ----
	ok "destroy" DestroySandbox '{}'
	nothing_mounted "nothing mounted after DestroySandbox"
	v=$(ns cat /etc/resolv.conf)
	[ "$v" = "nameserver 192.0.2.53" ] && pass "$P: resolv.conf bind removed" || fail "$P: resolv.conf bind removed" "$v"
	! ns test -e $R/sandbox/ns && pass "$P: namespace binds removed" || fail "$P: namespace binds removed" "$(ns ls -R $R/sandbox)"
	ok "create again after destroy" CreateSandbox '{"hostname":"pod-b","storages":['"$eph"']}'
	ok "destroy again" DestroySandbox '{}'
	nothing_mounted "nothing mounted after the second destroy"

	stop_agent || return
}

suite host "$BUILD/host/kata-agent"
suite static "$BUILD/kata-agent"
finish
