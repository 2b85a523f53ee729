#!/bin/bash
# Path resolution inside the rootfs with openat2 forced off (LC_NO_OPENAT2=1): the component-walking fallback
# that kernels before 5.6 and seccomp filters refusing openat2 get. First proves the switch works (strace sees
# openat2 with it on and none with it off), then runs the lcrun rootfs and lifecycle suite (symlinked mount
# destinations, /proc over a symlink, masked and readonly paths, binds, readonly root, cwd) through the
# fallback, each of its case lines prefixed "no-openat2: ".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun-noopenat2
. "$top/tests/data/lcrun/lib.sh"

if ! command -v strace >/dev/null; then
	skip "no-openat2: the switch" "no strace (apt-get install strace)"
else
	# A destination that is not created (it exists) goes through the openat2 lookup when openat2 is allowed.
	cfg '.process.args = ["true"] | .mounts += [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}]'
	count() { # count ENV...: openat2 calls made by one `lcrun run`
		env "$@" strace -f -qq -e trace=openat2 -o "$scratch/strace" "$LCRUN" --root "$root" run --bundle "$bundle" "${cgprefix}sw" \
			</dev/null >/dev/null 2>&1
		grep -c 'openat2(' "$scratch/strace"
	}
	on=$(count LC_NO_OPENAT2=0)
	off=$(count LC_NO_OPENAT2=1)
	if [ "$on" -gt 0 ] && [ "$off" -eq 0 ]; then pass "no-openat2: the switch (openat2 calls: $on on, 0 off)"
	else fail "no-openat2: the switch" "openat2 calls with it on: $on, off: $off"; fi
	assert_clean "no-openat2: the switch"
fi

# The suite itself: its own scratch directory and cleanup; its verdict lines are ours.
LC_NO_OPENAT2=1 bash "$top/tests/integration/test-lcrun.sh" >"$scratch/suite.out" 2>&1
rc=$?
sed -E 's/^(\[ *(OK|FAILED|SKIPPED) *\] )/\1no-openat2: /' "$scratch/suite.out" | grep -E '^\[ *(OK|FAILED|SKIPPED) *\]'
grep -q '^\[       OK \]' "$scratch/suite.out" || fail "no-openat2: suite" "no case passed (rc $rc): $(tail -5 "$scratch/suite.out")"
[ $rc -eq 0 ] || [ $rc -eq 77 ] || _t_failed=1
finish
