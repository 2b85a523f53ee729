/* RPC latency and throughput against a running agent on a unix socket:
 *   sequential Check round trips (median, p99, mean) and pipelined calls with DEPTH in flight (calls/s).
 * Usage: bench-rpc SOCKET [N_SEQUENTIAL] [DEPTH] [SECONDS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "health.pb-c.h"
#include "proto/frame.h"

static int dial(const char *path) {
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || strlen(path) >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -1;
	return fd;
}

/* Reads replies until at least `want` have arrived; returns how many did (a read may carry more), or -1. */
static int64_t read_replies(int fd, ttrpc_reader *rd, uint64_t want) {
	static uint8_t buf[64 * 1024];
	uint64_t got = 0;
	while (got < want) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n <= 0)
			return -1;
		for (size_t off = 0; off < (size_t)n;) {
			size_t used;
			ttrpc_read_event ev;
			if (ttrpc_reader_feed(rd, buf + off, (size_t)n - off, &used, &ev) < 0)
				return -1;
			off += used;
			if (ev == TTRPC_READ_FRAME) {
				free(ttrpc_reader_take_payload(rd));
				if (rd->header.type != TTRPC_TYPE_RESPONSE)
					return -1;
				got++;
			}
		}
	}
	return (int64_t)got;
}

static int cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: %s SOCKET [N] [DEPTH] [SECONDS]\n", argv[0]);
		return 2;
	}
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	unsigned depth = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 64;
	double secs = argc > 4 ? strtod(argv[4], NULL) : 3.0;
	int fd = dial(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "connect %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	ttrpc_reader rd;
	ttrpc_reader_init(&rd, 0);

	/* One Check request frame; only the stream id changes between calls (bytes 4..7). */
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	uint8_t *frame;
	size_t flen;
	if (ttrpc_request_build(1, "grpc.Health", "Check", &req.base, 0, &frame, &flen) < 0)
		return 1;

	uint64_t *lat = malloc(n * sizeof *lat);
	uint32_t id = 1;
	for (uint64_t i = 0; i < n; i++, id += 2) {
		frame[4] = (uint8_t)(id >> 24), frame[5] = (uint8_t)(id >> 16), frame[6] = (uint8_t)(id >> 8), frame[7] = (uint8_t)id;
		uint64_t t0 = now_ns();
		if (write_all(fd, frame, flen) < 0 || read_replies(fd, &rd, 1) < 0) {
			fprintf(stderr, "sequential call %llu failed\n", (unsigned long long)i);
			return 1;
		}
		lat[i] = now_ns() - t0;
	}
	qsort(lat, n, sizeof *lat, cmp_u64);
	double sum = 0;
	for (uint64_t i = 0; i < n; i++)
		sum += (double)lat[i];
	printf("check_sequential_calls %llu\n", (unsigned long long)n);
	printf("check_rtt_median_us %.1f\n", (double)lat[n / 2] / 1e3);
	printf("check_rtt_p99_us %.1f\n", (double)lat[n * 99 / 100] / 1e3);
	printf("check_rtt_mean_us %.1f\n", sum / (double)n / 1e3);

	/* Pipelined: keep `depth` calls in flight; refill as replies arrive. */
	uint8_t *batch = malloc(flen * depth);
	uint64_t done = 0, t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9);
	for (unsigned k = 0; k < depth; k++, id += 2) {
		memcpy(batch + k * flen, frame, flen);
		uint8_t *f = batch + k * flen;
		f[4] = (uint8_t)(id >> 24), f[5] = (uint8_t)(id >> 16), f[6] = (uint8_t)(id >> 8), f[7] = (uint8_t)id;
	}
	if (write_all(fd, batch, flen * depth) < 0)
		return 1;
	uint64_t inflight = depth;
	while (now_ns() < end) {
		/* Wait for half the window, then refill what came back. */
		int64_t got = read_replies(fd, &rd, depth / 2 ? depth / 2 : 1);
		if (got < 0)
			return 1;
		unsigned half = (unsigned)got;
		done += half;
		inflight -= half;
		for (unsigned k = 0; k < half; k++, id += 2) {
			uint8_t *f = batch + k * flen;
			f[4] = (uint8_t)(id >> 24), f[5] = (uint8_t)(id >> 16), f[6] = (uint8_t)(id >> 8), f[7] = (uint8_t)id;
		}
		if (write_all(fd, batch, flen * half) < 0)
			return 1;
		inflight += half;
	}
	if (inflight > 0 && read_replies(fd, &rd, inflight) < 0)
		return 1;
	done += inflight;
	double el = (double)(now_ns() - t0) / 1e9;
	printf("check_pipelined_depth %u\n", depth);
	printf("check_pipelined_calls_per_s %.0f\n", (double)done / el);
	free(batch);
	free(lat);
	free(frame);
	ttrpc_reader_reset(&rd);
	close(fd);
	return 0;
}
