#!/bin/bash
# `lcrun start` when a startContainer hook fails or hangs: start itself reports the error and exits non-zero
# (runc's behaviour; the spec: "generate an error, stop the container"), the container is stopped, its process
# never ran, poststart did not run, and delete (with poststop) still works and leaves nothing.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
name=lcrun-start-hook
. "$top/tests/data/lcrun/lib.sh"

mkdir -p "$scratch/hooklog"
bindlog='{"destination":"/hooklog","type":"bind","source":"'"$scratch"'/hooklog","options":["bind"]}'
cat >"$bundle/rootfs/fail.sh" <<'SH'
#!/bin/sh
echo "startContainer failing on purpose" >&2
exit 4
SH
printf '#!/bin/sh\nexec sleep 1000\n' >"$bundle/rootfs/hang.sh"
cat >"$scratch/post.sh" <<SH
#!/bin/sh
echo "\$1" >>"$scratch/hooklog/post"
SH
chmod +x "$bundle/rootfs/fail.sh" "$bundle/rootfs/hang.sh" "$scratch/post.sh"
post='"poststart": [{"path": "'"$scratch"'/post.sh", "args": ["post.sh", "poststart"]}],
      "poststop": [{"path": "'"$scratch"'/post.sh", "args": ["post.sh", "poststop"]}]'

for kind in fail hang; do
	c=${cgprefix}$kind
	rm -f "$scratch/hooklog/ran" "$scratch/hooklog/post"
	timeout=""; [ $kind = hang ] && timeout=', "timeout": 1'
	cfg ".process.args = [\"sh\",\"-c\",\"echo ran >>/hooklog/ran; sleep 100; : $token\"] | .mounts += [$bindlog] |
	     .hooks = {\"startContainer\": [{\"path\": \"/$kind.sh\", \"args\": [\"$kind.sh\", \"$token\"]$timeout}], $post}"
	if ! lc create --bundle "$bundle" "$c" </dev/null >/dev/null 2>"$scratch/err"; then
		fail "start, $kind startContainer hook: create" "$(cat "$scratch/err")"; continue
	fi
	want="hooks.startContainer\\[0\\].*status 4"; [ $kind = hang ] && want="hooks.startContainer\\[0\\].*timed out after 1 s"
	t0=$(date +%s%N)
	out=$(lc start "$c" 2>&1); rc=$?
	dt=$(( ($(date +%s%N) - t0) / 1000000 ))
	st=$(lc state "$c" | jq -r .status)
	if [ $rc -ne 0 ] && grep -qE "$want" <<<"$out" && [ "$st" = stopped ] && [ ! -e "$scratch/hooklog/ran" ] &&
	   [ ! -e "$scratch/hooklog/post" ]; then
		pass "start, $kind startContainer hook: error, exit $rc, container stopped, no process, no poststart ($dt ms)"
	else fail "start, $kind startContainer hook" "rc=$rc state=$st out=$out ran=$(cat "$scratch/hooklog/ran" 2>/dev/null) post=$(cat "$scratch/hooklog/post" 2>/dev/null)"; fi
	if lc delete "$c" 2>"$scratch/err" && [ "$(cat "$scratch/hooklog/post" 2>/dev/null)" = poststop ]; then
		pass "start, $kind startContainer hook: delete without --force runs poststop"
	else fail "start, $kind startContainer hook: delete" "$(cat "$scratch/err") post=$(cat "$scratch/hooklog/post" 2>/dev/null)"; fi
	assert_clean "start, $kind startContainer hook"
done

# The same hooks passing: start exits 0 and the process runs (the wait for the hook is not a failure).
c=${cgprefix}ok
rm -f "$scratch/hooklog/ran" "$scratch/hooklog/post"
printf '#!/bin/sh\nexit 0\n' >"$bundle/rootfs/ok.sh"; chmod +x "$bundle/rootfs/ok.sh"
cfg ".process.args = [\"sh\",\"-c\",\"echo ran >>/hooklog/ran; sleep 100; : $token\"] | .mounts += [$bindlog] |
     .hooks = {\"startContainer\": [{\"path\": \"/ok.sh\"}], $post}"
lc create --bundle "$bundle" "$c" </dev/null
out=$(lc start "$c" 2>&1); rc=$?
for _ in $(seq 50); do [ -e "$scratch/hooklog/ran" ] && break; sleep 0.1; done
if [ $rc -eq 0 ] && [ "$(lc state "$c" | jq -r .status)" = running ] && [ -e "$scratch/hooklog/ran" ] &&
   [ "$(cat "$scratch/hooklog/post")" = poststart ]; then pass "start, passing startContainer hook: exit 0, running, poststart"
else fail "start, passing startContainer hook" "rc=$rc out=$out"; fi
lc delete --force "$c"
assert_clean "start, passing startContainer hook"
finish
