#!/bin/bash
# The agent's container numbers (root): the static agent runs standalone in private mount, UTS and IPC
# namespaces with its own /run (tests/lib-agent.sh), with busybox containers as the Go runtime would create them.
#   agent RSS with 0, 10 and 100 running containers (target: under 64 KiB of agent memory per container)
#   ExecProcess+WaitProcess of /bin/true in a running container: median, p99 (EXEC_RUNS, default 200)
#   ReadStdout throughput of READ_MIB (default 128) MiB from dd in the container, as a ratio of the same dd
#   into a plain pipe on this machine (target at least 0.5), READ_ROUNDS (default 5) of each interleaved, each
#   ReadStdout asking for READ_LEN bytes (default 1 MiB, as the shim; the baselines keep 1 MiB reads)
# Usage: bench/agent-ctr.sh (make bench-agent builds what it needs first).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
KL=$BUILD/kata-launch
DRIVER=$BUILD/host/bench/agent-ctr
EXEC_RUNS=${EXEC_RUNS:-200}
READ_MIB=${READ_MIB:-128}
READ_ROUNDS=${READ_ROUNDS:-5}
READ_LEN=${READ_LEN:-1048576}

[ "$(id -u)" = 0 ] || { echo "bench-agent: needs root (namespaces, cgroups)" >&2; exit 77; }
for f in "$BUILD/kata-agent" "$KL" "$DRIVER"; do
	[ -x "$f" ] || { echo "bench-agent: $f is missing (make all)" >&2; exit 1; }
done
dir=$(mktemp -d /tmp/bench-agent.XXXXXX)
agent_pid=
# On every exit the agent tears its containers down (DestroySandbox, then SIGTERM, whose exit path kills and
# removes what is left): a SIGKILLed agent would leave their inits running in the host's /kata cgroups.
cleanup() {
	if [ -n "$agent_pid" ]; then
		timeout 60 "$KL" ctl "unix://$sock" DestroySandbox >/dev/null 2>&1
		kill -TERM "$agent_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$agent_pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
if ! tests/data/lcrun/make-bundle.sh "$dir/bundle" >/dev/null 2>&1; then
	echo "bench-agent: no static busybox for the container rootfs (apt-get install busybox-static)" >&2
	exit 77
fi
. tests/lib-agent.sh

spec() {
	cat <<JSON
{"Version":"1.0.2",
 "Process":{"User":{"UID":0,"GID":0},"Args":["sleep","100000"],"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cwd":"/",
   "Capabilities":{"Bounding":["CAP_KILL"],"Effective":["CAP_KILL"],"Permitted":["CAP_KILL"]},"NoNewPrivileges":true},
 "Root":{"Path":"$S/$1/rootfs"},
 "Mounts":[{"destination":"/proc","type":"proc","source":"proc"},
   {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}],
 "Linux":{"Namespaces":[{"Type":"pid"},{"Type":"mount"},{"Type":"ipc"},{"Type":"uts"},{"Type":"network"}]}}
JSON
}
rss() { awk '/^VmRSS/{print $2}' "/proc/$agent_pid/status"; }
# Container ids carry the pid: the cgroups (/kata/<id>) live in the host's hierarchy, shared with any test
# that runs at the same time.
p=bench$$-
# containers FROM TO: creates and starts $p<FROM>..$p<TO>, all on one rootfs (linked from each container's directory).
containers() {
	for i in $(seq "$1" "$2"); do
		ns sh -c "mkdir -p $S/$p$i && ln -s ../base/rootfs $S/$p$i/rootfs" || return 1
		out=$(ctl CreateContainer '{"container_id":"'$p$i'","exec_id":"'$p$i'","OCI":'"$(spec "$p$i")"'}') &&
			out=$(ctl StartContainer '{"container_id":"'$p$i'"}') || {
			echo "bench-agent: container $p$i: $out" >&2; return 1; }
	done
}

start_agent "$BUILD/kata-agent" agent || { echo "bench-agent: the agent did not start: $(tail -n 5 "$log")" >&2; exit 1; }
echo "== standalone static agent ($BUILD/kata-agent), private namespaces, containers on one busybox rootfs"
ctl CreateSandbox '{"sandbox_id":"bench","hostname":"bench"}' >/dev/null || { echo "bench-agent: CreateSandbox failed" >&2; exit 1; }
ns sh -c "mkdir -p $S/base && cp -a $dir/bundle/rootfs $S/base/rootfs" || exit 1
sleep 0.3
r0=$(rss)
containers 1 10 || exit 1
sleep 0.3
r10=$(rss)
containers 11 100 || exit 1
sleep 0.3
r100=$(rss)
printf 'agent_rss_kib_0_containers %d\n' "$r0"
printf 'agent_rss_kib_10_containers %d\n' "$r10"
printf 'agent_rss_kib_100_containers %d\n' "$r100"
printf 'agent_rss_kib_per_container %.1f (from 0 to 100; target < 64)\n' "$(echo "($r100 - $r0) / 100" | bc -l)"

"$DRIVER" exec "$sock" "${p}1" "$EXEC_RUNS" || exit 1
# The agent's own CPU time during the read phase: on a loaded machine the wall-clock ratio mostly measures
# how fast the scheduler passes the data between dd, the agent and the reader; this says what the agent costs.
ticks() { awk '{print $14 + $15}' "/proc/$agent_pid/stat"; }
t0=$(ticks)
"$DRIVER" read "$sock" "${p}2" "$READ_MIB" "$READ_ROUNDS" "$dir/bundle/rootfs/bin/busybox" "$READ_LEN" || exit 1
printf 'agent_cpu_ms_per_read_mib %.2f\n' "$(echo "($(ticks) - $t0) * 1000 / $(getconf CLK_TCK) / $READ_MIB / $READ_ROUNDS" | bc -l)"
printf 'agent_rss_kib_after %d\n' "$(rss)"

ctl DestroySandbox >/dev/null || echo "bench-agent: DestroySandbox failed" >&2
