# Shared by tests/integration/test-lcrun-*.sh: root and tool checks, a scratch directory with a busybox bundle
# and a state root, `lc`, `cfg`, `args`, `expect_fail` and `assert_clean` (no mount under the scratch
# directory, no process carrying $token, no state directory, no cgroup directory of the test's containers).
# Source after tests/lib.sh with $name set to the suite's name.
top=${top:?}
LCRUN=${LCRUN:-$top/${BUILD:-build}/lcrun}
if [ "$(id -u)" != 0 ]; then skip "$name" "needs root (namespaces, mounts, cgroups)"; exit 77; fi
[ -x "$LCRUN" ] || { skip "$name" "no $LCRUN (make all)"; exit 77; }
[ -x /bin/busybox ] || { skip "$name" "no /bin/busybox (apt-get install busybox-static)"; exit 77; }
command -v jq >/dev/null || { skip "$name" "no jq"; exit 77; }

scratch=$(mktemp -d /tmp/lcrun-test.XXXXXX)
root=$scratch/state
bundle=$scratch/bundle
token=lcrun-token-$$
# Every container id of a suite starts with this, so its cgroups are told apart from anyone else's.
cgprefix=lct$$-
cleanup() {
	for d in "$root"/*/; do [ -d "$d" ] && "$LCRUN" --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1; done
	findmnt -rn -o TARGET | grep -F "$scratch" | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT
"$top/tests/data/lcrun/make-bundle.sh" "$bundle" >/dev/null || { skip "$name" "could not make the busybox bundle"; exit 77; }
cp "$bundle/config.json" "$scratch/config.base.json"

lc() { "$LCRUN" --root "$root" "$@"; }
cfg() { jq "$1" "$scratch/config.base.json" >"$bundle/config.json"; }
args() { cfg ".process.args = $1${2:+ | $2}"; }

# The cgroup directories of container id in every mounted hierarchy (default parent /lcrun).
cgroup_dirs() { ls -d /sys/fs/cgroup/*/lcrun/"$1" /sys/fs/cgroup/lcrun/"$1" 2>/dev/null; }

assert_clean() {
	local n=$1 left
	left=$(findmnt -rn -o TARGET | grep -cF "$scratch")
	[ "$left" -eq 0 ] || { fail "$n: clean" "$left mounts left under $scratch"; return; }
	sleep 0.05
	if pgrep -f "$token" >/dev/null; then fail "$n: clean" "processes left: $(pgrep -af "$token")"; return; fi
	if [ -n "$(ls -A "$root" 2>/dev/null)" ]; then fail "$n: clean" "state left: $(ls "$root")"; return; fi
	left=$(ls -d /sys/fs/cgroup/*/lcrun/"$cgprefix"* /sys/fs/cgroup/lcrun/"$cgprefix"* 2>/dev/null)
	[ -z "$left" ] || { fail "$n: clean" "cgroups left: $left"; return; }
	pass "$n: clean"
}

expect_fail() {
	local n=$1 pat=$2 out rc; shift 2
	out=$("$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 0 ]; then fail "$n" "succeeded: $*"; return 1; fi
	if ! grep -qE -- "$pat" <<<"$out"; then fail "$n" "error does not match /$pat/: $out"; return 1; fi
	pass "$n"
}
