# Shared by tests/integration/test-lcrun*.sh: root and tool checks, a scratch directory with two bundles and a
# state root: $hbundle holds only the static test helper (/cthelper, tests/helpers/cthelper.c) and is what the
# suites use; $bundle holds busybox, for the few cases that need a shell inside (set need_busybox=0 before
# sourcing when a suite has none). `lc`, `cfg`/`args` (busybox bundle), `hcfg`/`hargs` (helper bundle), `has`,
# `expect_fail` and `assert_clean` (no mount under the scratch directory, no process matching $leftover, no
# state directory, no cgroup directory of the test's containers). Source after tests/lib.sh with $name set.
top=${top:?}
LCRUN=${LCRUN:-$top/${BUILD:-build}/lcrun}
if [ "$(id -u)" != 0 ]; then skip "$name" "needs root (namespaces, mounts, cgroups)"; exit 77; fi
[ -x "$LCRUN" ] || { skip "$name" "no $LCRUN (make all)"; exit 77; }
CTHELPER=${CTHELPER:-$top/${BUILD:-build}/cthelper}
[ -x "$CTHELPER" ] || { skip "$name" "no $CTHELPER (make all)"; exit 77; }
if [ "${need_busybox:-1}" = 1 ] && [ ! -x /bin/busybox ]; then
	skip "$name" "no /bin/busybox (apt-get install busybox-static)"; exit 77
fi
command -v jq >/dev/null || { skip "$name" "no jq"; exit 77; }

scratch=$(mktemp -d /tmp/lcrun-test.XXXXXX)
root=$scratch/state
bundle=$scratch/bundle
token=lcrun-token-$$
# What a process of the suite carries in its command line: the token, or, for a `sleep` that a hook or script
# execs (and so cannot carry the token), the argument `0.PID` (sleep adds up its arguments).
leftover="$token|^sleep [0-9]+ 0\.$$\$"
# Every container id of a suite starts with this, so its cgroups are told apart from anyone else's.
cgprefix=lct$$-
cleanup() {
	for d in "$root"/*/; do [ -d "$d" ] && "$LCRUN" --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1; done
	findmnt -rn -o TARGET | grep -F "$scratch" | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT
if [ "${need_busybox:-1}" = 1 ]; then
	"$top/tests/data/lcrun/make-bundle.sh" "$bundle" >/dev/null || { skip "$name" "could not make the busybox bundle"; exit 77; }
	cp "$bundle/config.json" "$scratch/config.base.json"
fi
hbundle=$scratch/hbundle
CTHELPER=$CTHELPER "$top/tests/helpers/make-bundle.sh" "$hbundle" >/dev/null ||
	{ skip "$name" "could not make the helper bundle"; exit 77; }
cp "$hbundle/config.json" "$scratch/hconfig.base.json"

lc() { "$LCRUN" --root "$root" "$@"; }
cfg() { jq "$1" "$scratch/config.base.json" >"$bundle/config.json"; }
args() { cfg ".process.args = $1${2:+ | $2}"; }
hcfg() { jq "$1" "$scratch/hconfig.base.json" >"$hbundle/config.json"; }
hargs() { hcfg ".process.args = $1${2:+ | $2}"; }
# has NAME OUTPUT LINE...: passes when every LINE is a whole line of OUTPUT (the helper's key=value lines).
has() {
	local n=$1 o=$2 l missing=()
	shift 2
	for l in "$@"; do grep -qxF -- "$l" <<<"$o" || missing+=("$l"); done
	if [ ${#missing[@]} -eq 0 ]; then pass "$n"; return 0; fi
	fail "$n" "missing [${missing[*]}] in: $(tr '\n' ' ' <<<"$o" | cut -c1-900)"
	return 1
}

# The cgroup directories of container id in every mounted hierarchy (default parent /lcrun).
cgroup_dirs() { ls -d /sys/fs/cgroup/*/lcrun/"$1" /sys/fs/cgroup/lcrun/"$1" 2>/dev/null; }

assert_clean() {
	local n=$1 left
	left=$(findmnt -rn -o TARGET | grep -cF "$scratch")
	[ "$left" -eq 0 ] || { fail "$n: clean" "$left mounts left under $scratch"; return; }
	sleep 0.05
	if pgrep -f "$leftover" >/dev/null; then fail "$n: clean" "processes left: $(pgrep -af "$leftover")"; return; fi
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
