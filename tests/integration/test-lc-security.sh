#!/bin/bash
# Process security as root: lc-security-driver forks a child that applies a configuration with
# lc_process_apply_security() and reports from inside (/proc/self/status, ids, groups, rlimits,
# oom_score_adj, umask, scheduler, ioprio, personality, syscall probes). Network probes run in a network
# namespace of their own (unshare -n); the host's networking is never touched.
. tests/lib.sh
set -u
BUILD=${BUILD:-build}
D=$BUILD/host/tests/lc-security-driver

if [ "$(id -u)" != 0 ]; then
	skip "lc-security" "needs root: uid switching, capability sets, negative oom_score_adj, unshare -n"
	exit 77
fi
if [ ! -x "$D" ]; then
	fail "lc-security driver" "$D is missing (make all)"
	finish
fi
D=$(cd "$(dirname "$D")" && pwd)/$(basename "$D")

# expect NAME 'line;line;...' COMMAND...: every line must appear exactly in the command's output.
expect() {
	local name=$1 want=$2 got l
	shift 2
	got=$("$@" 2>&1)
	local missing=() IFS=';'
	for l in $want; do grep -qxF -- "$l" <<<"$got" || missing+=("$l"); done
	unset IFS
	if [ ${#missing[@]} -eq 0 ]; then pass "$name"; else
		fail "$name" "missing [${missing[*]}] in: $(tr '\n' ' ' <<<"$got" | cut -c1-900)"; fi
}
# refute NAME PATTERN COMMAND...: the output must not contain the fixed string.
refute() {
	local name=$1 bad=$2 got
	shift 2
	got=$("$@" 2>&1)
	if grep -qF -- "$bad" <<<"$got"; then fail "$name" "unexpected \"$bad\" in: $(tr '\n' ' ' <<<"$got" | cut -c1-600)"
	else pass "$name"; fi
}

declare -A CAP=([CAP_CHOWN]=0 [CAP_KILL]=5 [CAP_SETGID]=6 [CAP_SETUID]=7 [CAP_SETPCAP]=8
	[CAP_NET_BIND_SERVICE]=10 [CAP_NET_RAW]=13 [CAP_SYS_ADMIN]=21)
mask() { # mask CAP_A,CAP_B -> 16 hex digits as /proc/self/status prints them
	local m=0 c
	for c in ${1//,/ }; do m=$((m | (1 << CAP[$c]))); done
	printf '%016x' "$m"
}

# ---- capabilities ----------------------------------------------------------------------------------------
B=CAP_CHOWN,CAP_KILL,CAP_NET_BIND_SERVICE,CAP_NET_RAW
P=CAP_CHOWN,CAP_NET_BIND_SERVICE,CAP_NET_RAW
E=CAP_CHOWN,CAP_NET_RAW
I=CAP_NET_BIND_SERVICE
A=CAP_NET_BIND_SERVICE
expect "caps: the five sets exactly as configured (uid 0)" \
	"CapBnd=$(mask $B);CapPrm=$(mask $P);CapEff=$(mask $E);CapInh=$(mask $I);CapAmb=$(mask $A);uid=0,0,0;exit=0" \
	"$D" --cap bounding=$B --cap permitted=$P --cap effective=$E --cap inheritable=$I --cap ambient=$A report
expect "caps: no process.capabilities leaves no capability at all" \
	"CapBnd=0000000000000000;CapPrm=0000000000000000;CapEff=0000000000000000;CapAmb=0000000000000000;exit=0" \
	"$D" report
NBS=CAP_NET_BIND_SERVICE,CAP_KILL
expect "caps: the permitted set survives the switch to uid 1000 (KEEPCAPS), effective restored" \
	"CapPrm=$(mask $NBS);CapEff=$(mask $NBS);CapBnd=$(mask $NBS);uid=1000,1000,1000;exit=0" \
	"$D" --uid 1000 --gid 1000 --cap bounding=$NBS --cap permitted=$NBS --cap effective=$NBS report
expect "caps: an error names the set and the capability, and nothing runs" \
	"error=process.capabilities.ambient: CAP_NET_BIND_SERVICE not in both permitted and inheritable;exit=3" \
	"$D" --cap bounding=CAP_NET_BIND_SERVICE --cap permitted=CAP_NET_BIND_SERVICE --cap ambient=CAP_NET_BIND_SERVICE report
expect "caps: without CAP_NET_RAW a raw socket fails with EPERM" "rawsock=errno:1;exit=0" \
	unshare -n "$D" --cap bounding=CAP_CHOWN --cap permitted=CAP_CHOWN --cap effective=CAP_CHOWN rawsock
expect "caps: with CAP_NET_RAW the raw socket opens" "rawsock=ok;exit=0" \
	unshare -n "$D" --cap bounding=CAP_NET_RAW --cap permitted=CAP_NET_RAW --cap effective=CAP_NET_RAW rawsock
NB=CAP_NET_BIND_SERVICE
expect "caps: uid 1000 with ambient CAP_NET_BIND_SERVICE binds port 80 after execve" \
	"bind.80=ok;CapEff=$(mask $NB);CapAmb=$(mask $NB);uid=1000,1000,1000;exit=0" \
	unshare -n "$D" --uid 1000 --gid 1000 --nnp --exec --cap bounding=$NB --cap permitted=$NB --cap effective=$NB \
	--cap inheritable=$NB --cap ambient=$NB bind:80 report
expect "caps: without the ambient set the same process cannot bind port 80" \
	"bind.80=errno:13;CapEff=0000000000000000;exit=0" \
	unshare -n "$D" --uid 1000 --gid 1000 --nnp --exec --cap bounding=$NB --cap permitted=$NB --cap effective=$NB \
	--cap inheritable=$NB bind:80 report

# ---- identity ---------------------------------------------------------------------------------------------
expect "identity: uid, gid and additionalGids exactly as given" \
	"uid=1000,1000,1000;gid=1001,1001,1001;groups=10,20,30;exit=0" \
	"$D" --uid 1000 --gid 1001 --groups 10,20,30 report
expect "identity: no additionalGids clears the runtime's groups" "groups=;exit=0" "$D" report
expect "nnp: NoNewPrivs 1 with noNewPrivileges" "NoNewPrivs=1;exit=0" "$D" --nnp report
expect "nnp: NoNewPrivs 0 without" "NoNewPrivs=0;exit=0" "$D" report

# ---- limits: applied before the capabilities go (raising needs CAP_SYS_RESOURCE / CAP_SYS_NICE) --------------
expect "rlimits: as configured, then all caps dropped" \
	"RLIMIT_NOFILE=1000:2000;RLIMIT_CORE=0:0;RLIMIT_MSGQUEUE=1000:2000;CapEff=0000000000000000;exit=0" \
	"$D" --rlimit RLIMIT_NOFILE=1000:2000 --rlimit RLIMIT_CORE=0:0 --rlimit RLIMIT_MSGQUEUE=1000:2000 report
# Raising a hard limit and a negative oom_score_adj need CAP_SYS_RESOURCE, which some sandboxes withhold
# even from root: the steps run before the drop, so they work whenever the runtime itself holds it.
hard=$(ulimit -Hn)
if [ $(( 0x$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24 & 1 )) = 1 ] && [ "$hard" != unlimited ]; then
	expect "rlimits: raised above the runtime's hard limit (before the drop)" \
		"RLIMIT_NOFILE=$((hard + 1000)):$((hard + 2000));CapEff=0000000000000000;exit=0" \
		"$D" --rlimit RLIMIT_NOFILE=$((hard + 1000)):$((hard + 2000)) report
	expect "oom_score_adj: -500 (before the drop)" "oom_score_adj=-500;exit=0" "$D" --oom -500 report
else
	skip "rlimits: raised above the runtime's hard limit (before the drop)" "the runtime lacks CAP_SYS_RESOURCE"
	skip "oom_score_adj: -500 (before the drop)" "the runtime lacks CAP_SYS_RESOURCE"
fi
expect "rlimits: applied by the runtime to the child's pid (LIMITS_APPLIED)" \
	"RLIMIT_NOFILE=1234:2345;oom_score_adj=300;exit=0" \
	"$D" --parent-limits --rlimit RLIMIT_NOFILE=1234:2345 --oom 300 report
expect "rlimits: a refused limit is an error naming the entry" \
	"error=process.rlimits[0]: RLIMIT_NOFILE soft 1 hard 99999999999: Operation not permitted;exit=3" \
	"$D" --rlimit RLIMIT_NOFILE=1:99999999999 report
expect "oom_score_adj: 500" "oom_score_adj=500;exit=0" "$D" --oom 500 report
expect "umask: 027 as configured" "Umask=0027;exit=0" "$D" --umask 027 report
expect "umask: 022 when absent, whatever the runtime had" "Umask=0022;exit=0" bash -c "umask 077; exec \"$D\" report"
expect "scheduler: SCHED_BATCH nice 7" "sched_policy=3;nice=7;exit=0" "$D" --sched 3:7:0 report
expect "scheduler: nice -5 (needs CAP_SYS_NICE, before the drop)" "sched_policy=0;nice=-5;exit=0" "$D" --sched 0:-5:0 report
expect "ioprio: best-effort level 6" "ioprio=$(((2 << 13) | 6));exit=0" "$D" --ioprio 2:6 report
expect "ioprio: real-time class (privileged, before the drop)" "ioprio=$((1 << 13));exit=0" "$D" --ioprio 1:0 report
expect "personality: PER_LINUX32" "personality=0x8;exit=0" "$D" --personality 8 report

# ---- seccomp ----------------------------------------------------------------------------------------------
expect "seccomp: an ERRNO rule fails getcwd and mkdir with their errnoRet, getpid works" \
	"getcwd=errno:42;mkdir=errno:95;getpid=ok;Seccomp=2;exit=0" \
	"$D" --seccomp-rule "ERRNO/42 getcwd" --seccomp-rule "ERRNO/95 mkdir,mkdirat" getcwd mkdir:/tmp/lc-sec-$$ getpid report
expect "seccomp: unknown syscall names are skipped and counted" "seccomp.rules=1 skipped=2 dropped_flags=0 load_flags=0;getcwd=errno:42;exit=0" \
	"$D" --seccomp-rule "ERRNO/42 getcwd,lc_no_such_call" --seccomp-rule "KILL_PROCESS lc_nor_this" getcwd
expect "seccomp: defaultAction ERRNO with defaultErrnoRet, listed calls allowed" "getpid=ok;getcwd=errno:38;exit=0" \
	"$D" --nnp --seccomp-default ERRNO/38 --seccomp-rule \
	"ALLOW write,exit_group,exit,getpid,mmap,munmap,mprotect,madvise,brk,sigaltstack,rt_sigaction,rt_sigprocmask,futex" \
	getpid getcwd
expect "seccomp: KILL_PROCESS kills with SIGSYS" "getpid=ok;signal=31" \
	"$D" --seccomp-rule "KILL_PROCESS getcwd" getpid getcwd getpid
refute "seccomp: nothing runs after the killed call" "getcwd=" "$D" --seccomp-rule "KILL_PROCESS getcwd" getcwd
expect "seccomp: KILL_THREAD kills a single-threaded process" "signal=31" "$D" --seccomp-rule "KILL_THREAD getcwd" getcwd
expect "seccomp: TRAP delivers SIGSYS" "signal=31" "$D" --seccomp-rule "TRAP getcwd" getcwd
expect "seccomp: comparisons on two arguments are ANDed (a0 == AF_INET, a1 & 0xf == SOCK_DGRAM)" \
	"socket.inet.dgram=errno:13;socket.inet.stream=ok;socket.unix.dgram=ok;exit=0" \
	"$D" --seccomp-rule "ERRNO/13 socket a0=2 a1&15=2" socket:inet:dgram socket:inet:stream socket:unix:dgram
expect "seccomp: comparisons on one argument are ORed" \
	"socket.inet.stream=errno:13;socket.inet6.stream=errno:13;socket.unix.stream=ok;exit=0" \
	"$D" --seccomp-rule "ERRNO/13 socket a0=2 a0=10" socket:inet:stream socket:inet6:stream socket:unix:stream
expect "seccomp: GT and NE match only the values they describe" \
	"socket.unix.stream=ok;socket.inet.stream=ok;socket.inet6.stream=errno:13;mkdir=ok;exit=0" \
	"$D" --seccomp-rule "ERRNO/13 socket a0>2" --seccomp-rule "ERRNO/14 mkdir,mkdirat a1!=448" \
	socket:unix:stream socket:inet:stream socket:inet6:stream mkdir:/tmp/lc-sec-ne-$$
expect "seccomp: NOTIFY hands the listener to the runtime, which answers EXDEV" \
	"getcwd=errno:18;getpid=ok;exit=0" \
	"$D" --seccomp-rule "NOTIFY getcwd" --seccomp-flag tsync --seccomp-flag wait_killable_recv getcwd getpid
expect "seccomp: TSYNC, LOG and SPEC_ALLOW are loaded" "seccomp.rules=1 skipped=0 dropped_flags=0 load_flags=0x7;Seccomp=2;exit=0" \
	"$D" --seccomp-rule "ERRNO/1 getcwd" --seccomp-flag tsync --seccomp-flag log --seccomp-flag spec_allow report

# ---- ordering ---------------------------------------------------------------------------------------------
expect "order: without noNewPrivileges the filter loads before the drop (uid 1000, no caps left)" \
	"Seccomp=2;NoNewPrivs=0;uid=1000,1000,1000;CapEff=0000000000000000;getcwd=errno:42;exit=0" \
	"$D" --uid 1000 --gid 1000 --seccomp-rule "ERRNO/42 getcwd" report getcwd
expect "order: without noNewPrivileges the capability steps already run under the filter" \
	"error=process.capabilities: capset (permitted: none): Operation not permitted;exit=3" \
	"$D" --seccomp-rule "ERRNO/1 capset" report
expect "order: with noNewPrivileges the filter comes last, after capset" "Seccomp=2;NoNewPrivs=1;exit=0" \
	"$D" --nnp --seccomp-rule "ERRNO/1 capset,setresuid,setresgid,setgroups,prctl" report
expect "order: with noNewPrivileges deferred to right before execve" "Seccomp=2;NoNewPrivs=1;getcwd=errno:42;exit=0" \
	"$D" --nnp --defer-seccomp --seccomp-rule "ERRNO/42 getcwd" --exec report getcwd
finish
