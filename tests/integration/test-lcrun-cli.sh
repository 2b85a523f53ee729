#!/bin/bash
# The rest of lcrun's runc-compatible surface: list (table, json, -q), spec (a default config that runs),
# features (from our name tables), exec --process, run -d, and --log/--log-format/--debug. The container's
# process is the static test helper alone in its rootfs (tests/helpers/cthelper.c).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun-cli
need_busybox=0
. "$top/tests/data/lcrun/lib.sh"
bundle=$hbundle
cfg() { hcfg "$@"; }
args() { hargs "$@"; }

# ---- run -d and list ----
c1=${cgprefix}a; c2=${cgprefix}b
args "[\"/cthelper\",\"sleep\",\"1000\",\"echo\",\"$token\"]"
t0=$(date +%s%N)
lc run -d --bundle "$bundle" "$c1" </dev/null; rc=$?
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc -eq 0 ] && [ "$(lc state "$c1" | jq -r .status)" = running ] && [ $dt -lt 5000 ]; then pass "run -d: returns with the container running"
else fail "run -d" "rc=$rc status=$(lc state "$c1" | jq -r .status)"; fi
lc create --bundle "$bundle" "$c2" </dev/null
lj=$(lc list --format json)
if [ "$(jq -r 'map(.id + "=" + .status) | sort | join(" ")' <<<"$lj")" = "$c1=running $c2=created" ] &&
   [ "$(jq -r ".[] | select(.id == \"$c1\") | .pid" <<<"$lj")" = "$(lc state "$c1" | jq -r .pid)" ]; then
	pass "list --format json: every container with its state"
else fail "list --format json" "$lj"; fi
lt=$(lc list)
if head -n1 <<<"$lt" | grep -q "^ID *PID *STATUS *BUNDLE *CREATED *OWNER" && grep -q "^$c1 .* running .*$bundle" <<<"$lt" &&
   grep -q "^$c2 .* created " <<<"$lt"; then pass "list: runc's table"; else fail "list table" "$lt"; fi
[ "$(lc list -q | sort | tr '\n' ' ')" = "$c1 $c2 " ] && pass "list -q: ids only" || fail "list -q" "$(lc list -q)"

# ---- exec --process ----
cat >"$scratch/process.json" <<JSON
{"args": ["/cthelper", "env", "cwd", "ids", "nnp", "rlimits"], "env": ["GREETING=from-process-json", "PATH=/bin"], "cwd": "/tmp",
 "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]}, "terminal": false, "noNewPrivileges": true,
 "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]}
JSON
out=$(lc exec --process "$scratch/process.json" "$c1")
has "exec --process FILE: args, env, cwd, user, noNewPrivileges" "$out" env.GREETING=from-process-json \
	env.PATH=/bin cwd=/tmp uid=1000,1000,1000 gid=1000,1000,1000 no_new_privs=1
has "exec --process applies user.additionalGids" "$out" groups=5
grep -q '^env.TERM=' <<<"$out" && fail "exec --process: the container's env does not leak in" "$out" ||
	pass "exec --process: the container's env does not leak in"
echo '{"args": 5}' >"$scratch/bad-process.json"
expect_fail "exec --process: a wrong type names the field" "process.args" lc exec --process "$scratch/bad-process.json" "$c1"
expect_fail "exec --process with a command refused" "cannot be combined" lc exec --process "$scratch/process.json" "$c1" /cthelper pid
lc delete --force "$c1"; lc delete --force "$c2"
[ "$(lc list --format json)" = "[]" ] && pass "list: empty after delete" || fail "list empty" "$(lc list --format json)"
assert_clean "run -d, list, exec --process"

# ---- --log, --log-format, --debug ----
args '["/cthelper","pid"]'
lc --log "$scratch/log.json" --log-format json --debug run --bundle "$bundle" "${cgprefix}log" </dev/null >/dev/null
if [ -s "$scratch/log.json" ] && jq -s -e 'length >= 2 and all(.level and .msg) and any(.level == "debug")' "$scratch/log.json" >/dev/null &&
   grep -q "${cgprefix}log created" "$scratch/log.json"; then pass "--log FILE --log-format json --debug"
else fail "--log json" "$(cat "$scratch/log.json" 2>&1)"; fi
lc --log "$scratch/log.txt" --log-format text --debug run --bundle "$bundle" "${cgprefix}log" </dev/null >/dev/null
if grep -q '^time=".*" level=debug .*msg=".*created' "$scratch/log.txt" && ! grep -q '^{' "$scratch/log.txt"; then pass "--log-format text"
else fail "--log text" "$(cat "$scratch/log.txt" 2>&1)"; fi
lc --log "$scratch/log.quiet" run --bundle "$bundle" "${cgprefix}log" </dev/null >/dev/null
[ ! -s "$scratch/log.quiet" ] && pass "without --debug: no debug lines" || fail "no debug without --debug" "$(cat "$scratch/log.quiet")"
lc --log "$scratch/log.err" --log-format json state no-such-container 2>/dev/null
jq -e 'select(.level == "error") | .msg | test("does not exist")' "$scratch/log.err" >/dev/null &&
	pass "--log: errors are logged" || fail "errors logged" "$(cat "$scratch/log.err" 2>&1)"
expect_fail "--log-format: unknown value refused" "text or json" lc --log-format xml list
assert_clean "logging"

# ---- spec and features ----
mkdir -p "$scratch/specb"
(cd "$scratch/specb" && lc spec) && jq -e '.ociVersion and .process.args == ["sh"] and .root.path == "rootfs" and
	(.linux.namespaces | map(.type) | index("pid") != null)' "$scratch/specb/config.json" >/dev/null &&
	pass "spec: writes a default config.json" || fail "spec" "$(cat "$scratch/specb/config.json" 2>&1)"
expect_fail "spec: an existing config.json is kept" "exists" lc spec --bundle "$scratch/specb"
# The default spec runs (with the terminal off and a command that ends).
cp -a "$bundle/rootfs" "$scratch/specb/rootfs"
jq '.process.terminal = false | .process.args = ["/cthelper","echo","spec-ok"]' "$scratch/specb/config.json" >"$scratch/specb/c" &&
	mv "$scratch/specb/c" "$scratch/specb/config.json"
out=$(lc run --bundle "$scratch/specb" "${cgprefix}spec" </dev/null 2>&1)
[ "$out" = spec-ok ] && pass "spec: the default config runs" || fail "spec runs" "$out"
assert_clean "spec"

ft=$(lc features)
if jq -e '.ociVersionMin == "1.0.0" and (.hooks | sort) == (["createContainer","createRuntime","poststart","poststop","prestart","startContainer"]) and
          (.mountOptions | index("rbind") != null and index("ro") != null) and
          (.linux.namespaces | sort) == (["cgroup","ipc","mount","network","pid","time","user","uts"]) and
          (.linux.capabilities | index("CAP_SYS_ADMIN") != null and length >= 41) and
          .linux.cgroup.v1 and .linux.cgroup.v2 and
          (.linux.seccomp.actions | index("SCMP_ACT_ERRNO") != null) and (.linux.seccomp.archs | index("SCMP_ARCH_X86_64") != null) and
          (.linux.seccomp.operators | index("SCMP_CMP_MASKED_EQ") != null)' <<<"$ft" >/dev/null; then
	pass "features: hooks, mount options, namespaces, capabilities, cgroup, seccomp"
else fail "features" "$ft"; fi
finish
