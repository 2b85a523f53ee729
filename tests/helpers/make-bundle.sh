#!/bin/sh
# Makes a minimal OCI bundle at DIR whose rootfs holds only the static test helper (/cthelper) and the
# directories the config mounts on: no shell, no libraries, nothing of the host. The config is the one
# tests/data/lcrun/make-bundle.sh writes for busybox (runc spec's namespaces, mounts, masked and readonly
# paths), plus a cgroup mount, so the helper can read its own cgroup's files. POSIX sh: the in-VM suite runs it
# under busybox. Usage: make-bundle.sh DIR [ARGS_JSON] (default ["/cthelper","ids"]); CTHELPER names the binary.
set -eu
dir=$1
args=${2:-'["/cthelper","ids"]'}
helper=${CTHELPER:-$(dirname "$0")/../../build/cthelper}
[ -x "$helper" ] || { echo "make-bundle.sh: no helper at $helper (make all)" >&2; exit 77; }

mkdir -p "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/tmp" "$dir/rootfs/etc" "$dir/rootfs/root"
cp "$helper" "$dir/rootfs/cthelper"
. "$(dirname "$0")/bundle-config.sh"
write_bundle_config "$dir" "$args" /cthelper ',
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}'
