/* Container numbers against a running agent (bench/agent-ctr.sh sets it up):
 *   exec SOCKET CID N         ExecProcess + WaitProcess of /bin/true in the running container CID, N times:
 *                             median, p99 and mean of the round trip (the outputs are drained afterwards,
 *                             untimed, so the agent forgets each process as the shim would make it)
 *   read SOCKET CID MIB ROUNDS BUSYBOX [LEN]
 *                             ReadStdout throughput of `dd if=/dev/zero bs=1M count=MIB` exec'd in CID, one
 *                             ReadStdout of LEN bytes (default 1 MiB, what the shim asks for) in flight (as the
 *                             shim keeps one), against the same dd writing
 *                             into a pipe (of the container pipe's size) that this process reads directly
 *                             with 1 MiB reads, and through a relay process (the same three processes as the
 *                             agent's path); ROUNDS of each, interleaved, medians
 * Prints `key value` lines. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "common/util.h"
#include "google/protobuf/empty.pb-c.h"
#include "launcher/ttrpc-client.h"
#include "proto/frame.h"

#define SERVICE "grpc.AgentService"
#define TIMEOUT_NS (60LL * 1000000000LL)
#define READ_LEN (1u << 20)

static int call(ttrpc_client *c, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret) {
	ProtobufCMessage *resp = NULL;
	char *msg = NULL;
	int code = 0;
	int r = ttrpc_client_call(c, SERVICE, method, req, desc, TIMEOUT_NS, &resp, &code, &msg);
	if (r < 0 || code != 0) {
		fprintf(stderr, "%s: %s\n", method, r < 0 ? strerror(-r) : msg ? msg : "error");
		free(msg);
		if (resp)
			protobuf_c_message_free_unpacked(resp, NULL);
		return -EIO;
	}
	if (ret)
		*ret = resp;
	else
		protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

static int exec_process(ttrpc_client *c, const char *cid, const char *eid, char **args, size_t n_args) {
	static char *env[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin" };
	Grpc__User user = GRPC__USER__INIT;
	Grpc__Process p = GRPC__PROCESS__INIT;
	p.user = &user;
	p.args = args;
	p.n_args = n_args;
	p.env = env;
	p.n_env = ELEMENTSOF(env);
	p.cwd = (char *)"/";
	Grpc__ExecProcessRequest req = GRPC__EXEC_PROCESS_REQUEST__INIT;
	req.container_id = (char *)cid;
	req.exec_id = (char *)eid;
	req.process = &p;
	return call(c, "ExecProcess", &req.base, &google__protobuf__empty__descriptor, NULL);
}

static int wait_process(ttrpc_client *c, const char *cid, const char *eid, int *ret_status) {
	ProtobufCMessage *m = NULL;
	Grpc__WaitProcessRequest req = GRPC__WAIT_PROCESS_REQUEST__INIT;
	req.container_id = (char *)cid;
	req.exec_id = (char *)eid;
	int r = call(c, "WaitProcess", &req.base, &grpc__wait_process_response__descriptor, &m);
	if (r < 0)
		return r;
	*ret_status = ((Grpc__WaitProcessResponse *)m)->status;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

static uint32_t read_len = READ_LEN;

/* One Read call; returns the bytes it carried (0: EOF). The reply is decoded where it lies, as a shim that
 * hands the bytes on would want: the frame is read once, and data points at the bytes inside it. */
static int64_t read_stream(ttrpc_client *c, const char *method, const char *cid, const char *eid) {
	Grpc__ReadStreamRequest req = GRPC__READ_STREAM_REQUEST__INIT;
	uint8_t in[256], *frame = NULL;
	const uint8_t *payload, *data;
	size_t plen, dlen;
	char *msg = NULL;
	uint32_t stream;
	int code = 0;

	req.container_id = (char *)cid;
	req.exec_id = (char *)eid;
	req.len = read_len;
	size_t in_len = protobuf_c_message_get_packed_size(&req.base);
	if (in_len > sizeof in)
		return -EMSGSIZE;
	(void)protobuf_c_message_pack(&req.base, in);
	int r = ttrpc_client_send(c, SERVICE, method, in, in_len, TIMEOUT_NS, &stream);
	if (r >= 0)
		r = ttrpc_client_recv_frame(c, stream, TIMEOUT_NS + 1000000000LL, &code, &msg, &frame, &payload, &plen);
	if (r < 0 || code != 0) {
		fprintf(stderr, "%s: %s\n", method, r < 0 ? strerror(-r) : msg ? msg : "error");
		free(msg);
		free(frame);
		return -EIO;
	}
	r = ttrpc_message_find_bytes(payload, plen, grpc__read_stream_response__descriptor.fields[0].id, &data, &dlen);
	free(frame);
	if (r < 0) {
		fprintf(stderr, "%s: undecodable ReadStreamResponse\n", method);
		return -EIO;
	}
	return (int64_t)dlen;
}

static uint64_t read_calls;

static int drain(ttrpc_client *c, const char *method, const char *cid, const char *eid, uint64_t *ret_bytes) {
	uint64_t total = 0;
	for (;;) {
		int64_t n = read_stream(c, method, cid, eid);
		read_calls++;
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		total += (uint64_t)n;
	}
	if (ret_bytes)
		*ret_bytes = total;
	return 0;
}

static int cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int bench_exec(ttrpc_client *c, const char *cid, unsigned n) {
	char *args[] = { (char *)"/bin/true" };
	uint64_t *t = calloc(n, sizeof *t), sum = 0;
	char eid[32];
	if (!t)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		int status = -1;
		(void)format_checked(eid, sizeof eid, "bench-%u", i);
		uint64_t t0 = now_ns();
		if (exec_process(c, cid, eid, args, 1) < 0 || wait_process(c, cid, eid, &status) < 0)
			return 1;
		t[i] = now_ns() - t0;
		sum += t[i];
		if (status != 0) {
			fprintf(stderr, "exec %s: /bin/true exited with %d\n", eid, status);
			return 1;
		}
		if (drain(c, "ReadStdout", cid, eid, NULL) < 0 || drain(c, "ReadStderr", cid, eid, NULL) < 0)
			return 1;
	}
	qsort(t, n, sizeof *t, cmp_u64);
	printf("exec_wait_true_runs %u\n", n);
	printf("exec_wait_true_median_us %.0f\n", (double)t[n / 2] / 1e3);
	printf("exec_wait_true_p99_us %.0f\n", (double)t[(size_t)n * 99 / 100 < n ? (size_t)n * 99 / 100 : n - 1] / 1e3);
	printf("exec_wait_true_mean_us %.0f\n", (double)sum / n / 1e3);
	free(t);
	return 0;
}

/* The container's stdout pipe is this large (agent/streams.h STREAM_PIPE_SIZE); the baselines use the same. */
#define PIPE_SIZE (1 << 20)

/* The relay baseline's middle process: READ_LEN reads from dd's pipe, each chunk written to the unix socket
 * the bench reads. What any process between the two costs, without ttRPC and protobuf. */
static void relay(int in, int out) {
	static uint8_t buf[READ_LEN];
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(n < 0);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				_exit(1);
			off += w;
		}
	}
}

/* The same producer into a plain pipe of the container pipe's size, read here with the same read size: the
 * machine's raw pipe copy. With via_relay, a third process between them copies the pipe into a unix socket
 * (dd -> pipe -> relay -> socket -> here), the same processes and hops as the agent's path, without ttRPC. */
static int raw_pipe(const char *busybox, unsigned mib, bool via_relay, double *ret_mibps) {
	char count[32];
	int p[2], sk[2] = { -1, -1 };
	pid_t relay_pid = -1;
	(void)format_checked(count, sizeof count, "count=%u", mib);
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	(void)fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
	if (via_relay && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (dup2(p[1], STDOUT_FILENO) < 0 || null_fd < 0 || dup2(null_fd, STDERR_FILENO) < 0)
			_exit(127);
		execl(busybox, "dd", "if=/dev/zero", "bs=1M", count, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	int in = p[0];
	if (via_relay) {
		relay_pid = fork();
		if (relay_pid < 0)
			return -errno;
		if (relay_pid == 0) {
			close(sk[0]);
			relay(p[0], sk[1]);
		}
		close(sk[1]);
		close(p[0]);
		in = sk[0];
	}
	static uint8_t buf[READ_LEN];
	uint64_t total = 0, t0 = now_ns();
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (uint64_t)n;
	}
	uint64_t el = now_ns() - t0;
	close(in);
	int status;
	(void)waitpid(pid, &status, 0);
	if (relay_pid > 0)
		(void)waitpid(relay_pid, &status, 0);
	if (total != (uint64_t)mib << 20)
		return -EIO;
	*ret_mibps = (double)total / (1 << 20) / ((double)el / 1e9);
	return 0;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One agent transfer: MiB/s from ExecProcess to the EOF of its stdout. */
static int agent_read(ttrpc_client *c, const char *cid, unsigned mib, unsigned round, double *ret_mibps,
		      uint64_t *ret_calls) {
	char count[32], eid[32];
	char *args[] = { (char *)"dd", (char *)"if=/dev/zero", (char *)"bs=1M", count };
	uint64_t bytes = 0;
	int status = -1;

	(void)format_checked(count, sizeof count, "count=%u", mib);
	(void)format_checked(eid, sizeof eid, "bench-read-%u", round);
	read_calls = 0;
	uint64_t t0 = now_ns();
	if (exec_process(c, cid, eid, args, ELEMENTSOF(args)) < 0 || drain(c, "ReadStdout", cid, eid, &bytes) < 0)
		return -EIO;
	uint64_t el = now_ns() - t0;
	*ret_calls = read_calls;
	if (drain(c, "ReadStderr", cid, eid, NULL) < 0 || wait_process(c, cid, eid, &status) < 0)
		return -EIO;
	if (bytes != (uint64_t)mib << 20 || status != 0) {
		fprintf(stderr, "read: %llu bytes, status %d\n", (unsigned long long)bytes, status);
		return -EIO;
	}
	*ret_mibps = (double)bytes / (1 << 20) / ((double)el / 1e9);
	return 0;
}

#define READ_ROUNDS_MAX 32

/* Rounds of the agent transfer, the raw pipe copy and the relay, interleaved so that all three see the same
 * load; the medians and the medians of the per-round ratios. */
static int bench_read(ttrpc_client *c, const char *cid, unsigned mib, unsigned rounds, const char *busybox) {
	double agent[READ_ROUNDS_MAX], raw[READ_ROUNDS_MAX], rel[READ_ROUNDS_MAX];
	double ratio[READ_ROUNDS_MAX], ratio_rel[READ_ROUNDS_MAX];
	uint64_t calls = 0;

	for (unsigned i = 0; i < rounds; i++) {
		int r = agent_read(c, cid, mib, i, &agent[i], &calls);
		if (r >= 0)
			r = raw_pipe(busybox, mib, false, &raw[i]);
		if (r >= 0)
			r = raw_pipe(busybox, mib, true, &rel[i]);
		if (r < 0) {
			fprintf(stderr, "read round %u: %s\n", i, strerror(-r));
			return 1;
		}
		ratio[i] = agent[i] / raw[i];
		ratio_rel[i] = agent[i] / rel[i];
	}
	qsort(agent, rounds, sizeof *agent, cmp_double);
	qsort(raw, rounds, sizeof *raw, cmp_double);
	qsort(rel, rounds, sizeof *rel, cmp_double);
	qsort(ratio, rounds, sizeof *ratio, cmp_double);
	qsort(ratio_rel, rounds, sizeof *ratio_rel, cmp_double);
	printf("read_stdout_mib %u x %u rounds, len %u\n", mib, rounds, read_len);
	printf("read_stdout_mib_per_s %.0f (median; %llu ReadStdout calls per round, %.0f KiB each on average)\n",
	       agent[rounds / 2], (unsigned long long)calls, (double)((uint64_t)mib << 10) / (double)calls);
	printf("raw_pipe_mib_per_s %.0f (median)\n", raw[rounds / 2]);
	printf("relay_mib_per_s %.0f (median; dd -> pipe -> relay process -> unix socket -> reader)\n",
	       rel[rounds / 2]);
	printf("read_stdout_ratio_to_raw_pipe %.2f (median of per-round ratios %.2f..%.2f; target >= 0.5)\n",
	       ratio[rounds / 2], ratio[0], ratio[rounds - 1]);
	printf("read_stdout_ratio_to_relay %.2f (median of per-round ratios %.2f..%.2f)\n", ratio_rel[rounds / 2],
	       ratio_rel[0], ratio_rel[rounds - 1]);
	return 0;
}

int main(int argc, char **argv) {
	_cleanup_(ttrpc_client_freep) ttrpc_client *c = NULL;
	uint64_t v;

	uint64_t rounds = 0;
	bool is_read = argc >= 2 && strcmp(argv[1], "read") == 0;
	uint64_t len = READ_LEN;
	if (argc < 5 || (strcmp(argv[1], "exec") != 0 && !is_read) || (is_read && argc < 7) ||
	    parse_u64(argv[4], 10, &v) < 0 || v == 0 || v > 1000000 ||
	    (is_read && (parse_u64(argv[5], 10, &rounds) < 0 || rounds == 0 || rounds > READ_ROUNDS_MAX)) ||
	    (is_read && argc > 7 && (parse_u64(argv[7], 10, &len) < 0 || len == 0 || len > READ_LEN))) {
		fprintf(stderr, "usage: %s exec SOCKET CID N | read SOCKET CID MIB ROUNDS BUSYBOX [LEN]\n", argv[0]);
		return 2;
	}
	read_len = (uint32_t)len;
	(void)signal(SIGPIPE, SIG_IGN);
	int r = ttrpc_client_connect(argv[2], &c);
	if (r < 0) {
		fprintf(stderr, "connect %s: %s\n", argv[2], strerror(-r));
		return 1;
	}
	if (strcmp(argv[1], "exec") == 0)
		return bench_exec(c, argv[3], (unsigned)v);
	return bench_read(c, argv[3], (unsigned)v, (unsigned)rounds, argv[6]);
}
