# Shell test helpers: print per-case lines in the format tests/run.sh counts.
# Source it, then call `pass NAME`, `fail NAME WHY`, `skip NAME WHY`, and end with `finish`.
_t_failed=0
pass() { printf '[       OK ] %s\n' "$1"; }
fail() { printf '[  FAILED  ] %s: %s\n' "$1" "${2:-}"; _t_failed=1; }
skip() { printf '[  SKIPPED ] %s: %s\n' "$1" "${2:-}"; }
# check NAME CMD...: passes when CMD succeeds.
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }
finish() { exit "$_t_failed"; }
