#!/bin/bash
# Static checks that keep the project's promises: every fd is close-on-exec at birth.
. tests/lib.sh
if out=$(./mk/lint-cloexec.py 2>&1); then pass "lint-cloexec"; else fail "lint-cloexec" "$(echo "$out" | head -n 10)"; fi
# The lint must catch a violation (a lint that cannot fail is no test).
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'int f(void) { return open("/x", 0); }\nint g(void) { int p[2]; return pipe(p); }\n' > "$tmp/bad.c"
if ./mk/lint-cloexec.py "$tmp" >/dev/null 2>&1; then fail "lint-cloexec catches violations" "accepted open() and pipe() without CLOEXEC"
else pass "lint-cloexec catches violations"; fi
finish
