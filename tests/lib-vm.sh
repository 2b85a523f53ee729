# The preamble the VM tests share. Source after tests/lib.sh, with BUILD and KL (kata-launch) set.

# vm_require NAME CMD...: skips (exit 77) unless the kernel, the initrd, kata-launch, QEMU and each CMD exist.
vm_require() {
	local what=$1 f c
	shift
	for f in "$BUILD/vmlinux" "$BUILD/initrd.img" "$KL"; do
		[ -e "$f" ] || { skip "$what" "$f is missing (make all builds it)"; exit 77; }
	done
	for c in qemu-system-x86_64 "$@"; do
		command -v "$c" >/dev/null || { skip "$what" "$c is not installed"; exit 77; }
	done
}

# vm_scratch PREFIX: a scratch directory $tmp holding kata-launch's state, the VM name $name (PREFIX and our
# pid) and its console log $console; on exit the VM is stopped and $tmp removed.
vm_scratch() {
	tmp=$(mktemp -d "/tmp/kl-$1.XXXXXX")
	export KATA_LAUNCH_STATE_DIR=$tmp/state
	name=$1$$
	console=$tmp/console.log
	trap '"$KL" stop "$name" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
}

# vm_busybox_bundle NAME DIR: a busybox bundle at DIR; skips without a static busybox, fails otherwise.
vm_busybox_bundle() {
	tests/data/lcrun/make-bundle.sh "$2" >/dev/null 2>&1
	local rc=$?
	[ "$rc" = 77 ] && { skip "$1" "no static busybox (apt-get install busybox-static)"; exit 77; }
	[ "$rc" = 0 ] || { fail "$1" "make-bundle.sh failed"; finish; }
}

ctl() { "$KL" ctl "$name" "$@" 2>&1; }
hp() { "$KL" hotplug "$name" "$@" 2>&1; }
# ok NAME METHOD JSON: the call succeeds.
ok() {
	local n=$1 out
	shift
	out=$(ctl "$@") && pass "$n" || fail "$n" "$out"
}
