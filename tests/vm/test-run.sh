#!/bin/bash
# kata-launch run: a busybox bundle as a container in a VM of its own. Output arrives, the container's exit code
# (0, 3, 137 for a SIGKILL, 127 for a missing binary) becomes ours, stdin is piped through WriteStdin, SIGTERM is
# forwarded, bind-mounted host directories and files are shared (9p, and virtio-fs when virtiofsd exists), a tty
# session runs through a pty (raw terminal restored, window size followed), `kata-launch exec` runs processes in a
# running container, and the VM is gone afterwards (no QEMU or virtiofsd left, state directory removed).
# shellcheck disable=SC2015,SC2016
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. tests/lib.sh
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch

for f in "$BUILD/vmlinux" "$BUILD/initrd.img" "$KL"; do
	[ -e "$f" ] || { skip vm-run "$f is missing (make all builds it)"; exit 77; }
done
command -v qemu-system-x86_64 >/dev/null || { skip vm-run "qemu-system-x86_64 is not installed"; exit 77; }

tmp=$(mktemp -d /tmp/kl-run.XXXXXX)
export KATA_LAUNCH_STATE_DIR=$tmp/state
trap 'rm -rf "$tmp"' EXIT

tests/data/lcrun/make-bundle.sh "$tmp/bundle" >/dev/null 2>&1
rc=$?
[ "$rc" = 77 ] && { skip vm-run "no static busybox (apt-get install busybox-static)"; exit 77; }
[ "$rc" = 0 ] || { fail vm-run "make-bundle.sh failed"; finish; }

run() { timeout 60 "$KL" run "$tmp/bundle" -- "$@" 2>"$tmp/err"; }
# Nothing of the VM may outlive run: no daemon lock held, no state directory, no QEMU naming it.
gone() {
	local left
	left=$(find "$KATA_LAUNCH_STATE_DIR" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)
	[ -z "$left" ] && ! pgrep -f "$KATA_LAUNCH_STATE_DIR/" >/dev/null
}

out=$(run sh -c 'echo hello from a container; echo to stderr >&2' </dev/null)
rc=$?
[ "$out" = "hello from a container" ] && [ "$rc" = 0 ] && pass "output, exit 0" || fail "output, exit 0" "rc $rc: $out $(cat "$tmp/err")"
grep -qx "to stderr" "$tmp/err" && pass stderr || fail stderr "$(cat "$tmp/err")"
gone && pass vm-gone || fail vm-gone "$(ls -R "$KATA_LAUNCH_STATE_DIR"; pgrep -af qemu)"

run sh -c 'exit 3' </dev/null
rc=$?
[ "$rc" = 3 ] && pass exit-3 || fail exit-3 "rc $rc: $(cat "$tmp/err")"

run /bin/nonexistent </dev/null
rc=$?
[ "$rc" = 127 ] && grep -q "nonexistent" "$tmp/err" && pass missing-binary-127 || fail missing-binary-127 "rc $rc: $(cat "$tmp/err")"

out=$(printf 'abc\ndef\n' | run cat)
rc=$?
[ "$out" = "$(printf 'abc\ndef')" ] && [ "$rc" = 0 ] && pass stdin-piped || fail stdin-piped "rc $rc: $out $(cat "$tmp/err")"

# `kill -9 $$` in the container's init is a no-op (the kernel protects a pid namespace's init from signals it
# does not handle, SIGKILL included, when they come from inside), so a child shell kills itself.
run sh -c 'sh -c "kill -9 \$\$"; exit $?' </dev/null
rc=$?
[ "$rc" = 137 ] && pass exit-137 || fail exit-137 "rc $rc: $(cat "$tmp/err")"

# SIGTERM to kata-launch reaches the container (a shell with a trap), which reports it and exits 143.
timeout 60 "$KL" run "$tmp/bundle" -- sh -c 'trap "echo got TERM; exit 143" TERM; echo up; while :; do sleep 0.1; done' \
	</dev/null >"$tmp/term.out" 2>"$tmp/term.err" &
pid=$!
for _ in $(seq 400); do grep -q up "$tmp/term.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 143 ] && grep -q "got TERM" "$tmp/term.out" && pass sigterm-forwarded ||
	fail sigterm-forwarded "rc $rc: $(cat "$tmp/term.out" "$tmp/term.err")"
# SIGTERM to an init without a handler becomes SIGKILL in the agent: a real death by signal, 128+9.
timeout 60 "$KL" run "$tmp/bundle" -- sh -c 'echo up; exec sleep 1000' </dev/null >"$tmp/kill.out" 2>"$tmp/kill.err" &
pid=$!
for _ in $(seq 400); do grep -q up "$tmp/kill.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
rc=$?
[ "$rc" = 137 ] && pass killed-by-signal-137 || fail killed-by-signal-137 "rc $rc: $(cat "$tmp/kill.err")"
gone && pass vm-gone-after-signals || fail vm-gone-after-signals "$(ls -R "$KATA_LAUNCH_STATE_DIR"; pgrep -af qemu)"

# Bind mounts: a rw directory and a rw file the container reads and writes back, a ro directory and a ro file it
# cannot write. Files are shared through a staging share of their own, never through their parent directory.
mkdir -p "$tmp/data" "$tmp/rodir"
echo "from the host" >"$tmp/data/in.txt"
echo "read-only dir" >"$tmp/rodir/r.txt"
echo "one file" >"$tmp/single.txt"
echo "rw file" >"$tmp/rwfile.txt"
cp -a "$tmp/bundle" "$tmp/bbind"
add_mounts() {
	python3 - "$tmp/bbind/config.json" "$1" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c['mounts'] += json.loads(sys.argv[2])
json.dump(c, open(sys.argv[1], 'w'))
EOF
}
add_mounts '[{"destination": "/data", "type": "bind", "source": "'"$tmp"'/data", "options": ["rbind", "rw"]},
	{"destination": "/rodir", "type": "bind", "source": "'"$tmp"'/rodir", "options": ["rbind", "ro"]},
	{"destination": "/etc/single.txt", "source": "'"$tmp"'/single.txt", "options": ["bind", "ro"]},
	{"destination": "/etc/rwfile", "source": "'"$tmp"'/rwfile.txt", "options": ["bind"]}]'
share_fss="9p virtio-fs"
[ -x /usr/lib/qemu/virtiofsd ] || [ -x /usr/libexec/virtiofsd ] || [ -n "${KATA_LAUNCH_VIRTIOFSD:-}" ] || {
	share_fss=9p
	skip bind-mounts-virtio-fs "no virtiofsd (/usr/lib/qemu/virtiofsd comes with qemu-system-common)"
}
for fs in $share_fss; do
	rm -f "$tmp/data/out.txt"
	echo "rw file" >"$tmp/rwfile.txt"
	out=$(timeout 60 "$KL" run --share-fs "$fs" "$tmp/bbind" -- sh -c \
		'cat /data/in.txt /rodir/r.txt /etc/single.txt; echo "written by $(hostname)" >/data/out.txt
		 echo "appended" >>/etc/rwfile
		 if echo x >/rodir/w.txt; then echo ro-writable; fi; if echo x >/etc/single.txt; then echo file-writable; fi' \
		</dev/null 2>"$tmp/err")
	rc=$?
	want=$(printf 'from the host\nread-only dir\none file')
	[ "$rc" = 0 ] && [ "$out" = "$want" ] && pass "bind-mounts-read-$fs" ||
		fail "bind-mounts-read-$fs" "rc $rc: $out $(cat "$tmp/err")"
	[ "$(cat "$tmp/data/out.txt" 2>/dev/null)" = "written by lcrun-test" ] &&
		[ "$(cat "$tmp/rwfile.txt")" = "$(printf 'rw file\nappended')" ] && pass "bind-mount-written-back-$fs" ||
		fail "bind-mount-written-back-$fs" "out.txt: $(cat "$tmp/data/out.txt" 2>&1); rwfile: $(cat "$tmp/rwfile.txt")"
	[ "$(grep -c "Read-only file system" "$tmp/err")" = 2 ] && [ ! -e "$tmp/rodir/w.txt" ] &&
		[ "$(cat "$tmp/single.txt")" = "one file" ] && pass "bind-mounts-read-only-$fs" ||
		fail "bind-mounts-read-only-$fs" "$(ls "$tmp/rodir"; cat "$tmp/err")"
done
# microvm's virtio-mmio devices must be modern for virtiofsd (a legacy one hangs the share).
if [ "$share_fss" != 9p ]; then
	rm -f "$tmp/data/out.txt"
	out=$(timeout 60 "$KL" run --machine microvm --share-fs virtio-fs "$tmp/bbind" -- sh -c \
		'cat /data/in.txt; echo microvm >/data/out.txt' </dev/null 2>"$tmp/err")
	rc=$?
	[ "$rc" = 0 ] && [ "$out" = "from the host" ] && [ "$(cat "$tmp/data/out.txt" 2>/dev/null)" = microvm ] &&
		pass bind-mounts-microvm-virtio-fs || fail bind-mounts-microvm-virtio-fs "rc $rc: $out $(cat "$tmp/err")"
fi
gone && pass vm-gone-after-binds || fail vm-gone-after-binds "$(ls -R "$KATA_LAUNCH_STATE_DIR"; pgrep -af "qemu|virtiofsd")"

# A bind source that does not exist is refused before any VM starts, naming the mount.
add_mounts '[{"destination": "/gone", "type": "bind", "source": "'"$tmp"'/does-not-exist"}]'
timeout 60 "$KL" run "$tmp/bbind" -- true </dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "mounts\[10\].source .*does-not-exist.*No such file" "$tmp/err" && gone && pass bind-source-missing ||
	fail bind-source-missing "rc $rc: $(cat "$tmp/err")"

# A virtiofsd that dies before it listens fails the boot with its reason, and nothing is left.
KATA_LAUNCH_VIRTIOFSD=/bin/false timeout 60 "$KL" run --share-fs virtio-fs "$tmp/bundle" -- true </dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && grep -q "virtiofsd for .* exited .* before listening" "$tmp/err" && gone && pass virtiofsd-fails-early ||
	fail virtiofsd-fails-early "rc $rc: $(cat "$tmp/err")"

# A tty session driven through a pty: the initial window size, a resize (SIGWINCH -> TtyWinResize) seen by
# `stty size` inside, a typed line, the exit code, and our terminal back in cooked mode afterwards.
cat >"$tmp/ptydrive.py" <<'EOF'
import os, pty, sys, time, fcntl, termios, struct, select, signal
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
def setsize(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
setsize(40, 100)
buf = b''
deadline = time.time() + 120
def wait_for(s):
    global buf
    while s not in buf:
        if time.time() > deadline:
            sys.exit('timeout waiting for %r; got %r' % (s, buf))
        if select.select([fd], [], [], 1)[0]:
            try:
                d = os.read(fd, 4096)
            except OSError:
                d = b''
            if not d:
                sys.exit('EOF waiting for %r; got %r' % (s, buf))
            buf += d
wait_for(b'size 40 100')
if os.environ.get('PTYDRIVE') == 'signal':
    os.kill(pid, signal.SIGUSR1)
    wait_for(b'got USR1')
else:
    setsize(50, 132)
    wait_for(b'resized 50 132')
    os.write(fd, b'hello tty\r')
    wait_for(b'got hello tty')
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
_, st = os.waitpid(pid, 0)
lflag = termios.tcgetattr(fd)[3]
print('exit %d cooked %d' % (os.waitstatus_to_exitcode(st), bool(lflag & termios.ICANON and lflag & termios.ECHO)))
EOF
tty_script='echo size $(stty size); while [ "$(stty size)" != "50 132" ]; do sleep 0.2; done; echo resized $(stty size)
read x; echo got $x; exit 5'
out=$(timeout 150 python3 "$tmp/ptydrive.py" "$KL" run -t "$tmp/bundle" -- sh -c "$tty_script" 2>&1)
[ "$out" = "exit 5 cooked 1" ] && pass tty-session || fail tty-session "$out"
# A signal to kata-launch (SIGUSR1, which would otherwise end it with the VM left behind) reaches the container,
# and the terminal is cooked again after the container's exit.
out=$(PTYDRIVE=signal timeout 150 python3 "$tmp/ptydrive.py" "$KL" run -t "$tmp/bundle" -- sh -c \
	'trap "echo got USR1; exit 10" USR1; echo size $(stty size); while :; do sleep 0.2; done' 2>&1)
[ "$out" = "exit 10 cooked 1" ] && pass tty-signal-forwarded || fail tty-signal-forwarded "$out"

# exec into a running container (run --name): output and exit code, stdin, a missing binary, a tty; then an
# exec'd process tells the init to end, and run reports the init's exit code. The container runs as uid 1000 with
# groups and an environment of its own, which exec starts from unless told otherwise.
name=exec-$$
mkdir -p "$tmp/xbundle"
python3 - "$tmp/bundle" "$tmp/xbundle" <<'PY'
import json, sys
c = json.load(open(sys.argv[1] + "/config.json"))
c["root"]["path"] = sys.argv[1] + "/rootfs"
p = c["process"]
p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}
p["env"] += ["GREETING=hello from the spec", "FOO=spec"]
p["cwd"] = "/tmp"
json.dump(c, open(sys.argv[2] + "/config.json", "w"))
PY
timeout 300 "$KL" run --name "$name" "$tmp/xbundle" -- sh -c \
	'echo up; while [ ! -e /tmp/stop ]; do sleep 0.2; done; echo stopping; exit 7' </dev/null >"$tmp/ex.out" 2>"$tmp/ex.err" &
runpid=$!
for _ in $(seq 600); do grep -q up "$tmp/ex.out" 2>/dev/null && break; sleep 0.2; done
ids='echo "$(id -u) $(id -g) [$(id -G)] $GREETING|$FOO|$NEW|$TERM $(pwd)"'
out=$(timeout 60 "$KL" exec "$name" sh -c "$ids" </dev/null 2>&1)
rc=$?
[ "$rc" = 0 ] && [ "$out" = "1000 1000 [1000 10 20] hello from the spec|spec||xterm /tmp" ] &&
	pass exec-container-identity || fail exec-container-identity "rc $rc: $out"
out=$(timeout 60 "$KL" exec --user 0:0 -e FOO=override --env NEW=1 --cwd / "$name" sh -c "$ids" </dev/null 2>&1)
rc=$?
[ "$rc" = 0 ] && [ "$out" = "0 0 [0 10 20] hello from the spec|override|1|xterm /" ] &&
	pass exec-user-env-cwd-override || fail exec-user-env-cwd-override "rc $rc: $out"
out=$(timeout 60 "$KL" exec -u 2000 -w /bin "$name" sh -c "$ids" </dev/null 2>&1)
rc=$?
[ "$rc" = 0 ] && [ "$out" = "2000 1000 [1000 10 20] hello from the spec|spec||xterm /bin" ] &&
	pass exec-uid-keeps-gid || fail exec-uid-keeps-gid "rc $rc: $out"
out=$(timeout 60 "$KL" exec --user root "$name" true </dev/null 2>&1)
rc=$?
[ "$rc" = 2 ] && grep -q -- "--user .root.: expected UID" <<<"$out" && pass exec-user-name-refused ||
	fail exec-user-name-refused "rc $rc: $out"
out=$(timeout 60 "$KL" exec -w tmp "$name" true </dev/null 2>&1)
rc=$?
[ "$rc" = 2 ] && grep -q -- "--cwd .tmp.: must be an absolute path" <<<"$out" && pass exec-relative-cwd-refused ||
	fail exec-relative-cwd-refused "rc $rc: $out"
out=$(timeout 60 "$KL" exec "$name" -- sh -c 'echo in exec $(hostname); exit 9' </dev/null 2>&1)
rc=$?
[ "$rc" = 9 ] && [ "$out" = "in exec lcrun-test" ] && pass exec-output-exit-9 || fail exec-output-exit-9 "rc $rc: $out"
out=$(printf 'one\ntwo\n' | timeout 60 "$KL" exec "$name" cat 2>&1)
rc=$?
[ "$rc" = 0 ] && [ "$out" = "$(printf 'one\ntwo')" ] && pass exec-stdin || fail exec-stdin "rc $rc: $out"
out=$(timeout 60 "$KL" exec "$name" /bin/nonexistent </dev/null 2>&1)
rc=$?
[ "$rc" = 127 ] && grep -q nonexistent <<<"$out" && pass exec-missing-binary-127 || fail exec-missing-binary-127 "rc $rc: $out"
out=$(timeout 150 python3 "$tmp/ptydrive.py" "$KL" exec -t "$name" sh -c "$tty_script" 2>&1)
[ "$out" = "exit 5 cooked 1" ] && pass exec-tty-session || fail exec-tty-session "$out"
# The name is taken while it runs: a second run of that name fails and leaves the first VM alone.
out=$(timeout 60 "$KL" run --name "$name" "$tmp/bundle" -- true </dev/null 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "already running" <<<"$out" && [ -S "$KATA_LAUNCH_STATE_DIR/$name/api.sock" ] &&
	pass run-name-taken || fail run-name-taken "rc $rc: $out"
out=$(timeout 60 "$KL" exec no-such-vm true </dev/null 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "no running VM named .no-such-vm." <<<"$out" && pass exec-no-such-vm || fail exec-no-such-vm "rc $rc: $out"
# /tmp is root's: only a root exec may write there.
timeout 60 "$KL" exec -u 0 "$name" touch /tmp/stop </dev/null
wait "$runpid"
rc=$?
[ "$rc" = 7 ] && grep -q stopping "$tmp/ex.out" && pass exec-then-run-exit-7 || fail exec-then-run-exit-7 "rc $rc: $(cat "$tmp/ex.out" "$tmp/ex.err")"

gone && pass vm-gone-after-all || fail vm-gone-after-all "$(ls -R "$KATA_LAUNCH_STATE_DIR"; pgrep -af "qemu|virtiofsd")"
finish
