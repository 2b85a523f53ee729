#!/bin/bash
# CreateContainer's storages, devices and guest hooks through the standalone agent (both builds), as root, in
# private mount, UTS and IPC namespaces with their own /run (tests/lib-agent.sh). Loop devices stand in for
# hot-plugged disks: a container whose rootfs is an ext4 image mounted by the `blk` storage driver at
# /run/kata-containers/<cid>/rootfs, a `blk` device given to a container at another path (the spec's major and
# minor rewritten to the node's, a devices-cgroup rule added, the container reads it), refcounts shared between
# two containers, guest hooks, and bad input (unknown device type, bad PCI path, traversal in a storage, a
# device that never appears while Check answers): each a clear error with nothing left mounted.
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

if [ "$(id -u)" != 0 ]; then skip container-devices "needs root (namespaces, loop devices, cgroups)"; exit 77; fi
for c in unshare nsenter findmnt jq base64 losetup mkfs.ext4; do
	command -v "$c" >/dev/null || { skip container-devices "$c is not installed"; exit 77; }
done
[ -x "$KL" ] || { fail container-devices "$KL is missing"; finish; }
[ -d /sys/fs/cgroup ] || { skip container-devices "no /sys/fs/cgroup"; exit 77; }
# Cgroups under a parent of this run's own, not the agent's default /kata, which test-containers.sh of another
# checkout may be using (and emptying) at the same time on this host.
cgparent=/ctrdev-test-$$

dir=$(mktemp -d /tmp/test-ctrdev.XXXXXX)
agent_pid=
loops=()
cleanup() {
	[ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
	for d in /sys/fs/cgroup$cgparent /sys/fs/cgroup/*$cgparent; do
		[ -d "$d" ] && { rmdir "$d"/* 2>/dev/null; rmdir "$d"; }
	done
	rm -rf "$dir"
}
trap cleanup EXIT

tests/data/lcrun/make-bundle.sh "$dir/bundle" >/dev/null 2>&1
rc=$?
[ "$rc" = 77 ] && { skip container-devices "no static busybox (apt-get install busybox-static)"; exit 77; }
[ "$rc" = 0 ] || { fail container-devices "make-bundle.sh failed"; finish; }
mkfs.ext4 -F -q -d "$dir/bundle/rootfs" "$dir/rootfs.img" 32M >/dev/null || { fail container-devices "mkfs"; finish; }
printf DISKDATA-1234 >"$dir/data.img" && truncate -s 64K "$dir/data.img"
rootdev=$(losetup -f --show "$dir/rootfs.img") || { skip container-devices "no loop device"; exit 77; }
loops+=("$rootdev")
datadev=$(losetup -f --show "$dir/data.img") || { skip container-devices "no second loop device"; exit 77; }
loops+=("$datadev")
data_mm=$(printf '%d:%d' "0x$(stat -c %t "$datadev")" "0x$(stat -c %T "$datadev")")

# Guest hooks: executables appended to every container's hooks; each leaves a mark in hook-KIND.
mkdir -p "$dir/hooks/prestart" "$dir/hooks/poststart" "$dir/hooks/poststop"
printf '#!/bin/sh\necho "$1" >>%s/hook-$1\n' "$dir" >"$dir/hooks/prestart/10-mark"
chmod 755 "$dir/hooks/prestart/10-mark"
cp -a "$dir/hooks/prestart/10-mark" "$dir/hooks/poststart/"
cp -a "$dir/hooks/prestart/10-mark" "$dir/hooks/poststop/"
echo 'not executable' >"$dir/hooks/prestart/20-skip"
ln -s /bin/true "$dir/hooks/prestart/30-symlink"

. tests/lib-agent.sh

spec() {
	local cid=$1 args=$2 root=$3 devs=${4:-[]}
	cat <<JSON
{"Version":"1.0.2",
 "Process":{"Terminal":false,"User":{"UID":0,"GID":0},"Args":$args,"Env":["PATH=/bin:/sbin:/usr/bin"],"Cwd":"/"},
 "Root":{"Path":"$root"},
 "Mounts":[{"destination":"/proc","type":"proc","source":"proc"},
   {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755","size=65536k"]}],
 "Linux":{"Namespaces":[{"Type":"pid"},{"Type":"mount"},{"Type":"ipc"},{"Type":"uts"},{"Type":"network"}],
   "CgroupsPath":"$cgparent/$cid","Devices":$devs}}
JSON
}
blk_storage() { echo '{"driver":"blk","source":"'"$1"'","fstype":"ext4","options":["rw"],"mount_point":"'"$2"'"}'; }
read_all() {
	local out d
	while :; do
		out=$(ctl --timeout 20 ReadStdout '{"container_id":"'"$1"'","exec_id":"'"$1"'","len":65536}') || return 1
		d=$(jq -r '.data // ""' <<<"$out")
		[ -z "$d" ] && return 0
		base64 -d <<<"$d"
	done
}
wait_status() { ctl WaitProcess '{"container_id":"'"$1"'","exec_id":"'"$1"'"}' | jq -r '.status // 0'; }
mounted() { ns findmnt -rn -o TARGET | grep -c "^$R/$1"; }
no_mounts() {
	local m
	# The sandbox's namespace binds stay until DestroySandbox.
	m=$(ns findmnt -rn -o TARGET | grep "^$R/" | grep -vc "^$R/sandbox/ns/")
	[ "$m" = 0 ] && pass "$P: nothing mounted $1" || fail "$P: nothing mounted $1" "$(ns findmnt -rn -o TARGET | grep "^$R/")"
	m=$(find /sys/fs/cgroup -maxdepth 3 -path "*$cgparent/*" -type d 2>/dev/null | head -3)
	[ -z "$m" ] && pass "$P: no container cgroup left $1" || fail "$P: no container cgroup left $1" "$m"
}

suite() {
	local name=$1 bin=$2 out v
	P=$name
	rm -f "$dir"/hook-*
	if ! start_agent "$bin" "$name"; then fail "$P: agent starts" "$(tail -n 5 "$log")"; return; fi
	ok "sandbox with guest hooks" CreateSandbox '{"sandbox_id":"sb","guest_hook_path":"'"$dir/hooks"'"}'

	# ---- bad input: each refused before anything is mounted ----
	local good_root=$R/bad/rootfs
	expect "unknown device type" INVALID_ARGUMENT 'devices[0].type: unknown device type `floppy`' CreateContainer \
		'{"container_id":"bad","OCI":'"$(spec bad '["true"]' "$good_root" '[{"Path":"/dev/fd0","Type":"b","Major":2,"Minor":0}]')"',
		 "devices":[{"type":"floppy","vm_path":"/dev/fd0","container_path":"/dev/fd0"}]}'
	expect "bad PCI path" INVALID_ARGUMENT 'devices[0].id' CreateContainer \
		'{"container_id":"bad","OCI":'"$(spec bad '["true"]' "$good_root" '[{"Path":"/dev/xda","Type":"b","Major":8,"Minor":0}]')"',
		 "devices":[{"type":"blk","id":"zz/01","container_path":"/dev/xda"}]}'
	expect "device not in the spec" INVALID_ARGUMENT 'devices[0].container_path' CreateContainer \
		'{"container_id":"bad","OCI":'"$(spec bad '["true"]' "$good_root")"',
		 "devices":[{"type":"blk","vm_path":"'"$datadev"'","container_path":"/dev/xda"}]}'
	expect "bad vfio option" INVALID_ARGUMENT 'devices[0].options[0]' CreateContainer \
		'{"container_id":"bad","OCI":'"$(spec bad '["true"]' "$good_root" '[{"Path":"/dev/vfio/7","Type":"c","Major":240,"Minor":0}]')"',
		 "devices":[{"type":"vfio-pci","container_path":"/dev/vfio/7","options":["0000:01:00.0"]}]}'
	expect "storage traversal" INVALID_ARGUMENT 'storages[0].mount_point' CreateContainer \
		'{"container_id":"bad","OCI":'"$(spec bad '["true"]' "$good_root")"',"storages":['"$(blk_storage "$rootdev" "$R/../etc/x")"']}'
	expect "unknown storage driver" INVALID_ARGUMENT 'storages[0].driver' CreateContainer \
		'{"container_id":"bad","OCI":'"$(spec bad '["true"]' "$good_root")"',
		 "storages":[{"driver":"floppy","source":"x","fstype":"vfat","mount_point":"'$R'/bad/x"}]}'
	no_mounts "after refusals"

	# A device that never appears: DEADLINE_EXCEEDED after the hotplug timeout (3 s), naming it; Check answers
	# meanwhile; the storage of the same request (whose device is there) is not left mounted.
	ctl CreateContainer '{"container_id":"never","OCI":'"$(spec never '["true"]' "$R/never/rootfs" '[{"Path":"/dev/xdb","Type":"b","Major":8,"Minor":16}]')"',
		"storages":['"$(blk_storage "$rootdev" "$R/never/rootfs")"'],
		"devices":[{"type":"blk","vm_path":"/dev/vdzz","container_path":"/dev/xdb"}]}' >"$dir/never.out" &
	local waiter=$! c0 c1
	sleep 1
	c0=$(date +%s%N)
	out=$(ctl Check '{}')
	c1=$(date +%s%N)
	grep -q SERVING <<<"$out" && [ $(((c1 - c0) / 1000000)) -lt 1000 ] && pass "$P: Check answers during the device wait" ||
		fail "$P: Check answers during the device wait" "$out"
	expect "same id while pending" ALREADY_EXISTS 'already exists' CreateContainer \
		'{"container_id":"never","OCI":'"$(spec never '["true"]' "$R/never/rootfs")"'}'
	wait "$waiter"
	grep -q '^error: DEADLINE_EXCEEDED: devices\[0\]: timeout after [0-9.]* s waiting for block device /dev/vdzz' "$dir/never.out" &&
		pass "$P: absent device times out, named" || fail "$P: absent device times out, named" "$(cat "$dir/never.out")"
	no_mounts "after the timeout"

	# ---- a rootfs on a block device, a block device given to the container ----
	out=$(ctl CreateContainer '{"container_id":"b1","OCI":'"$(spec b1 '["sh","-c","ls /bin/busybox; stat -c %t:%T /dev/xdc; head -c 13 /dev/xdc; echo"]' "$R/b1/rootfs" \
		'[{"Path":"/dev/xdc","Type":"b","Major":8,"Minor":32,"FileMode":432}]')"',
		"storages":['"$(blk_storage "$rootdev" "$R/b1/rootfs")"'],
		"devices":[{"type":"blk","vm_path":"'"$datadev"'","container_path":"/dev/xdc"}]}')
	[ $? = 0 ] && pass "$P: create with a blk rootfs and a blk device" || fail "$P: create with a blk rootfs and a blk device" "$out"
	[ "$(mounted b1/rootfs)" = 1 ] && pass "$P: rootfs storage mounted" || fail "$P: rootfs storage mounted" "$(mounted b1/rootfs)"
	ok "start b1" StartContainer '{"container_id":"b1"}'
	v=$(read_all b1)
	local hexmm
	hexmm=$(printf '%x:%x' "${data_mm%:*}" "${data_mm#*:}")
	[ "$(sed -n 1p <<<"$v")" = /bin/busybox ] && pass "$P: container runs from the block device" ||
		fail "$P: container runs from the block device" "$v"
	[ "$(sed -n 2p <<<"$v")" = "$hexmm" ] && pass "$P: device node has the guest's major:minor" ||
		fail "$P: device node has the guest's major:minor" "$(sed -n 2p <<<"$v") want $hexmm"
	[ "$(sed -n 3p <<<"$v")" = DISKDATA-1234 ] && pass "$P: container reads the device (cgroup allows it)" ||
		fail "$P: container reads the device (cgroup allows it)" "$v"
	[ "$(wait_status b1)" = 0 ] && pass "$P: b1 exit 0" || fail "$P: b1 exit 0" "status"
	# args are [file name, kind]: the script's $0 and $1.
	[ "$(cat "$dir/hook-prestart" 2>&1)" = prestart ] && pass "$P: guest prestart hook ran (and only the executable one)" ||
		fail "$P: guest prestart hook ran (and only the executable one)" "$(cat "$dir/hook-prestart" 2>&1)"
	for _ in $(seq 50); do [ -s "$dir/hook-poststart" ] && break; sleep 0.1; done
	[ "$(cat "$dir/hook-poststart" 2>&1)" = poststart ] && pass "$P: guest poststart hook ran after start" ||
		fail "$P: guest poststart hook ran after start" "$(cat "$dir/hook-poststart" 2>&1)"

	# A second container on the same storage: one more reference, nothing mounted twice.
	out=$(ctl CreateContainer '{"container_id":"b2","OCI":'"$(spec b2 '["sleep","100"]' "$R/b1/rootfs")"',
		"storages":['"$(blk_storage "$rootdev" "$R/b1/rootfs")"']}')
	[ $? = 0 ] && [ "$(mounted b1/rootfs)" = 1 ] && pass "$P: second reference mounts nothing" ||
		fail "$P: second reference mounts nothing" "$out $(mounted b1/rootfs)"
	# The same mount point under another driver: refused, as an undo would unmount it the wrong way.
	expect "same mount point, other driver" FAILED_PRECONDITION 'is mounted by driver `blk`, not `local`' CreateContainer \
		'{"container_id":"b3","OCI":'"$(spec b3 '["true"]' "$R/b1/rootfs")"',
		"storages":[{"driver":"local","source":"local","fstype":"local","mount_point":"'"$R/b1/rootfs"'"}]}'
	ok "remove b1" RemoveContainer '{"container_id":"b1"}'
	[ "$(mounted b1/rootfs)" = 1 ] && pass "$P: still mounted for b2" || fail "$P: still mounted for b2" "$(mounted b1/rootfs)"
	ok "remove b2" RemoveContainer '{"container_id":"b2"}'
	no_mounts "after the last reference went"
	for _ in $(seq 50); do [ "$(wc -l <"$dir/hook-poststop" 2>/dev/null)" = 2 ] && break; sleep 0.1; done
	[ "$(grep -c '^poststop$' "$dir/hook-poststop" 2>&1)" = 2 ] && pass "$P: guest poststop hook ran for each removed container" ||
		fail "$P: guest poststop hook ran for each removed container" "$(cat "$dir/hook-poststop" 2>&1)"

	# A pending create holds its reference to a known storage: removing the other holder meanwhile unmounts
	# nothing; when the create then fails, its reference was the last and the storage goes.
	out=$(ctl CreateContainer '{"container_id":"h1","OCI":'"$(spec h1 '["sleep","100"]' "$R/h/rootfs")"',
		"storages":['"$(blk_storage "$rootdev" "$R/h/rootfs")"']}')
	[ $? = 0 ] && pass "$P: create h1" || fail "$P: create h1" "$out"
	ctl CreateContainer '{"container_id":"h2","OCI":'"$(spec h2 '["true"]' "$R/h/rootfs" '[{"Path":"/dev/xdb","Type":"b","Major":8,"Minor":16}]')"',
		"storages":['"$(blk_storage "$rootdev" "$R/h/rootfs")"'],
		"devices":[{"type":"blk","vm_path":"/dev/vdzz","container_path":"/dev/xdb"}]}' >"$dir/h2.out" &
	waiter=$!
	sleep 0.5
	ok "remove h1 while h2 waits" RemoveContainer '{"container_id":"h1"}'
	[ "$(mounted h/rootfs)" = 1 ] && pass "$P: the waiting create keeps the storage mounted" ||
		fail "$P: the waiting create keeps the storage mounted" "$(mounted h/rootfs)"
	wait "$waiter"
	grep -q '^error: DEADLINE_EXCEEDED' "$dir/h2.out" && pass "$P: h2 times out" || fail "$P: h2 times out" "$(cat "$dir/h2.out")"
	no_mounts "after the last holder failed"

	# A create that fails after its storage was mounted (no such binary): the mount is undone before the answer.
	expect "failed create" NOT_FOUND 'no-such-binary' CreateContainer \
		'{"container_id":"f1","OCI":'"$(spec f1 '["no-such-binary"]' "$R/f1/rootfs")"',"storages":['"$(blk_storage "$rootdev" "$R/f1/rootfs")"']}'
	no_mounts "after a failed create"

	# Watchable storages of containers. A create that names the storages of a container being removed, at the
	# same time: whichever comes first, each is mounted once afterwards (a mount made while the removal's
	# helper still unmounts would be detached by it). The tmpfs under the watchable storages goes with the last
	# one, as the agent decides.
	local W=$S/watchable wcm
	ns mkdir -p "$S/cm" && ns sh -c "echo v1 >$S/cm/key"
	wcm='{"driver":"watchable-bind","source":"'"$S/cm"'","mount_point":"'"$W/cm"'"}'
	out=$(ctl CreateContainer '{"container_id":"w1","OCI":'"$(spec w1 '["sleep","100"]' "$R/w/rootfs")"',
		"storages":['"$(blk_storage "$rootdev" "$R/w/rootfs")"','"$wcm"']}')
	[ $? = 0 ] && [ "$(ns findmnt -n -o FSTYPE "$W")" = tmpfs ] && pass "$P: create w1 with a watchable storage" ||
		fail "$P: create w1 with a watchable storage" "$out $(ns findmnt "$W")"
	ctl RemoveContainer '{"container_id":"w1"}' >"$dir/w1.out" &
	waiter=$!
	out=$(ctl CreateContainer '{"container_id":"w2","OCI":'"$(spec w2 '["sleep","100"]' "$R/w/rootfs")"',
		"storages":['"$(blk_storage "$rootdev" "$R/w/rootfs")"','"$wcm"']}')
	[ $? = 0 ] && pass "$P: create w2 on w1's storages while w1 goes" || fail "$P: create w2 on w1's storages while w1 goes" "$out"
	wait "$waiter" && pass "$P: remove w1" || fail "$P: remove w1" "$(cat "$dir/w1.out")"
	[ "$(mounted w/rootfs)" = 1 ] && [ "$(ns findmnt -n -o FSTYPE "$W")" = tmpfs ] && [ "$(ns cat "$W/cm/key")" = v1 ] &&
		pass "$P: w2's storages mounted once" || fail "$P: w2's storages mounted once" "$(ns findmnt -rn -o TARGET | grep "^$R/")"
	ok "remove w2" RemoveContainer '{"container_id":"w2"}'
	no_mounts "after the last watchable storage went"
	! ns test -e "$W" && pass "$P: the watchable tmpfs went with the last" || fail "$P: the watchable tmpfs went with the last" "$(ns ls -la "$W")"

	ok "destroy sandbox" DestroySandbox '{}'
	no_mounts "after DestroySandbox"

	# DestroySandbox while a create waits for its device: the create fails, nothing is mounted.
	ctl CreateContainer '{"container_id":"late","OCI":'"$(spec late '["true"]' "$R/late/rootfs" '[{"Path":"/dev/xdb","Type":"b","Major":8,"Minor":16}]')"',
		"storages":['"$(blk_storage "$rootdev" "$R/late/rootfs")"'],
		"devices":[{"type":"blk","vm_path":"/dev/vdzz","container_path":"/dev/xdb"}]}' >"$dir/late.out" &
	waiter=$!
	sleep 0.5
	ok "destroy with a create pending" DestroySandbox '{}'
	wait "$waiter"
	grep -q '^error: UNAVAILABLE: container `late`: the sandbox is being destroyed' "$dir/late.out" &&
		pass "$P: pending create fails on DestroySandbox" || fail "$P: pending create fails on DestroySandbox" "$(cat "$dir/late.out")"
	no_mounts "after a create cut short"
	stop_agent || return
	# Storages of a created container are the registry's: none is reported left behind by its create.
	! grep -q 'a storage stays mounted' "$log" && pass "$P: no create reports a storage left mounted" ||
		fail "$P: no create reports a storage left mounted" "$(grep -m3 'stays mounted' "$log")"
}

suite host "$BUILD/host/kata-agent"
suite static "$BUILD/kata-agent"
finish
