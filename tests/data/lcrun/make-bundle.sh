#!/bin/bash
# Makes an OCI bundle at DIR from Debian's busybox-static: rootfs/bin/busybox plus its applet symlinks, and a
# config.json like `runc spec` writes (namespaces, /proc /dev /dev/pts /dev/shm /dev/mqueue /sys, masked and
# readonly paths), running ARGS (a JSON array, default ["sh"]). Nothing binary is committed: the rootfs is
# built at test time. Usage: make-bundle.sh DIR [ARGS_JSON]
set -eu
dir=$1
args=${2:-'["sh"]'}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "no $busybox (apt-get install busybox-static)" >&2; exit 77; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || ldd "$busybox" 2>&1 | grep -q 'not a dynamic' ||
	{ echo "$busybox is not static" >&2; exit 77; }

mkdir -p "$dir/rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root}
cp "$busybox" "$dir/rootfs/bin/busybox"
"$busybox" --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	ln -sf /bin/busybox "$dir/rootfs/$applet"
done
. "$(dirname "$0")/../../helpers/bundle-config.sh"
write_bundle_config "$dir" "$args" /bin/sh
