/* The stdio streams on real pipes, driven by the real event loop. The server is replaced by stubs that record
 * what each call was answered with, so the queue rules are checked directly: reads wait until data, the oldest
 * read is served first, len caps a reply, EOF after the writers close or after the drain period, writes stay
 * pending until every byte is in the pipe, an empty write closes stdin, replies keep a concurrent writer's bytes
 * in order, the default pipe size gives way to agent.container_pipe_size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent/streams.h"
#include "common/util.h"

struct ttrpc_call {
	bool answered, failed, piped;
	int code;
	uint8_t data[1 << 17];
	size_t len;
	uint32_t wlen;
	void (*cancel)(ttrpc_call *, void *);
	void *ud;
};

void ttrpc_call_reply(ttrpc_call *call, const ProtobufCMessage *resp) {
	call->answered = true;
	if (resp->descriptor == &grpc__read_stream_response__descriptor) {
		const Grpc__ReadStreamResponse *r = (const Grpc__ReadStreamResponse *)resp;
		assert_true(r->data.len <= sizeof call->data);
		if (r->data.len)
			memcpy(call->data, r->data.data, r->data.len);
		call->len = r->data.len;
	} else if (resp->descriptor == &grpc__write_stream_response__descriptor)
		call->wlen = ((const Grpc__WriteStreamResponse *)resp)->len;
}

/* Data replies lend a buffer that must come back exactly once, through a reply or a put. */
static int lent;

uint8_t *ttrpc_call_data_buf(ttrpc_call *call) {
	uint8_t *b = malloc(TTRPC_DATA_MAX);
	assert_non_null(b);
	lent++;
	return b;
}

void ttrpc_call_data_buf_put(ttrpc_call *call, uint8_t *data) {
	lent--;
	free(data);
}

void ttrpc_call_reply_data(ttrpc_call *call, uint32_t field, uint8_t *data, size_t n) {
	/* The field is ReadStreamResponse.data's. */
	assert_int_equal(field, grpc__read_stream_response__descriptor.fields[0].id);
	assert_true(n <= sizeof call->data);
	call->answered = true;
	memcpy(call->data, data, n);
	call->len = n;
	ttrpc_call_data_buf_put(call, data);
}

/* The n bytes are promised: they must all be in the pipe. */
void ttrpc_call_reply_pipe(ttrpc_call *call, uint32_t field, int fd, size_t n) {
	assert_int_equal(field, grpc__read_stream_response__descriptor.fields[0].id);
	assert_true(n > 0 && n <= sizeof call->data);
	call->answered = true;
	call->piped = true;
	assert_int_equal(read(fd, call->data, n), n);
	call->len = n;
}

void ttrpc_call_fail(ttrpc_call *call, int code, const char *fmt, ...) {
	call->answered = call->failed = true;
	call->code = code;
}

void ttrpc_call_on_cancel(ttrpc_call *call, void (*fn)(ttrpc_call *call, void *userdata), void *userdata) {
	call->cancel = fn;
	call->ud = userdata;
}

static agent A;
static ttrpc_call C[4];
static int eofs;

static void on_eof(void *ud) {
	eofs++;
}

static void spin(int ms) {
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	while (now_ns() < end)
		(void)ev_loop_iterate(A.loop, 10);
}

static int setup(void **state) {
	memset(C, 0, sizeof C);
	eofs = 0;
	return ev_loop_new(&A.loop) < 0 ? -1 : 0;
}

static int teardown(void **state) {
	assert_int_equal(lent, 0);
	A.loop = ev_loop_free(A.loop);
	return 0;
}

static void test_read_waits_then_eof(void **state) {
	int p[2];
	stream_reader *s;
	kc_error err = { 0 };
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(stream_reader_new(&A, p[0], false, on_eof, NULL, &s), 0);

	assert_int_equal(stream_reader_read(s, &C[0], 100, &err), TTRPC_PENDING);
	assert_int_equal(stream_reader_read(s, &C[1], 100, &err), TTRPC_PENDING);
	spin(20);
	assert_false(C[0].answered);
	assert_int_equal(write(p[1], "hello", 5), 5);
	spin(20);
	/* The oldest read gets the bytes; the other keeps waiting. */
	assert_true(C[0].answered);
	assert_int_equal(C[0].len, 5);
	assert_memory_equal(C[0].data, "hello", 5);
	assert_false(C[1].answered);
	close(p[1]);
	spin(20);
	assert_true(C[1].answered);
	assert_int_equal(C[1].len, 0);
	assert_int_equal(eofs, 1);
	/* EOF sticks, answered at once. */
	assert_int_equal(stream_reader_read(s, &C[2], 100, &err), 0);
	assert_true(C[2].answered);
	assert_int_equal(C[2].len, 0);
	stream_reader_free(s);
}

static void test_len_caps_and_data_before_eof(void **state) {
	int p[2];
	stream_reader *s;
	kc_error err = { 0 };
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(stream_reader_new(&A, p[0], false, NULL, NULL, &s), 0);
	assert_int_equal(write(p[1], "0123456789", 10), 10);
	close(p[1]);
	/* Data already there is answered inline; the rest after it, then EOF. */
	assert_int_equal(stream_reader_read(s, &C[0], 4, &err), 0);
	assert_int_equal(C[0].len, 4);
	assert_memory_equal(C[0].data, "0123", 4);
	assert_true(C[0].piped); /* bytes waiting in a pipe are spliced, not read by the agent */
	assert_int_equal(stream_reader_read(s, &C[1], 100, &err), 0);
	assert_int_equal(C[1].len, 6);
	assert_int_equal(stream_reader_read(s, &C[2], 100, &err), 0);
	assert_int_equal(C[2].len, 0);
	stream_reader_free(s);
}

/* Container stdout/stderr pipes get STREAM_PIPE_SIZE unless agent.container_pipe_size chose a size already. */
static void test_pipe_size(void **state) {
	int p[2];
	stream_reader *s;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(stream_reader_new(&A, p[0], false, NULL, NULL, &s), 0);
	assert_int_equal(fcntl(p[1], F_GETPIPE_SZ), STREAM_PIPE_SIZE);
	close(p[1]);
	stream_reader_free(s);

	A.cfg.container_pipe_size = 8192;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[0], F_SETPIPE_SZ, 8192), 8192);
	assert_int_equal(stream_reader_new(&A, p[0], false, NULL, NULL, &s), 0);
	assert_int_equal(fcntl(p[1], F_GETPIPE_SZ), 8192);
	close(p[1]);
	stream_reader_free(s);
	A.cfg.container_pipe_size = 0;
}

static uint8_t pattern(size_t i) {
	return (uint8_t)(i * 7 % 251);
}

/* A writer that keeps refilling a small pipe while replies are read on until len or empty: every reply within
 * len, the bytes in order and complete, then EOF. */
static void test_reads_follow_a_writer(void **state) {
	enum { TOTAL = 3 << 20, CHUNK = 100000, LEN = 1 << 17 };
	int p[2];
	stream_reader *s;
	kc_error err = { 0 };
	A.cfg.container_pipe_size = 4096;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[0], F_SETPIPE_SZ, 4096), 4096);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static uint8_t buf[CHUNK];
		close(p[0]);
		for (size_t off = 0; off < TOTAL;) {
			size_t n = TOTAL - off < CHUNK ? TOTAL - off : CHUNK;
			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(off + i);
			for (size_t w = 0; w < n;) {
				ssize_t r = write(p[1], buf + w, n - w);
				if (r < 0)
					_exit(1);
				w += (size_t)r;
			}
			off += n;
		}
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(stream_reader_new(&A, p[0], false, NULL, NULL, &s), 0);
	size_t got = 0;
	uint64_t end = now_ns() + 60ULL * 1000000000ULL;
	for (unsigned k = 0;; k++) {
		ttrpc_call *c = &C[k % 4];
		memset(c, 0, sizeof *c);
		int r = stream_reader_read(s, c, LEN, &err);
		assert_true(r == 0 || r == TTRPC_PENDING);
		while (!c->answered && now_ns() < end)
			(void)ev_loop_iterate(A.loop, 10);
		assert_true(c->answered);
		assert_true(c->len <= LEN);
		if (c->len == 0)
			break;
		for (size_t i = 0; i < c->len; i++)
			if (c->data[i] != pattern(got + i))
				fail_msg("byte %zu is %u, want %u", got + i, c->data[i], pattern(got + i));
		got += c->len;
	}
	assert_int_equal(got, TOTAL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	stream_reader_free(s);
	A.cfg.container_pipe_size = 0;
}

static void test_drain_after_exit(void **state) {
	int p[2];
	stream_reader *s;
	kc_error err = { 0 };
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(stream_reader_new(&A, p[0], false, NULL, NULL, &s), 0);
	/* A leftover holds the writer: EOF comes STREAM_DRAIN_MS after the exit, not before. */
	assert_int_equal(stream_reader_read(s, &C[0], 100, &err), TTRPC_PENDING);
	stream_reader_process_exited(s);
	spin(STREAM_DRAIN_MS / 2);
	assert_false(C[0].answered);
	spin(STREAM_DRAIN_MS);
	assert_true(C[0].answered);
	assert_int_equal(C[0].len, 0);
	close(p[1]);
	stream_reader_free(s);
}

static void test_free_answers_pending_reads(void **state) {
	int p[2];
	stream_reader *s;
	kc_error err = { 0 };
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(stream_reader_new(&A, p[0], false, on_eof, NULL, &s), 0);
	assert_int_equal(stream_reader_read(s, &C[0], 100, &err), TTRPC_PENDING);
	stream_reader_free(s);
	assert_true(C[0].answered);
	assert_int_equal(C[0].len, 0);
	assert_int_equal(eofs, 0); /* the owner is going away: no callback */
	close(p[1]);
}

static void test_write_pending_until_all_written(void **state) {
	int p[2];
	stream_writer *w;
	kc_error err = { 0 };
	static uint8_t big[100000], got[100000];
	size_t have = 0;
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	(void)fcntl(p[1], F_SETPIPE_SZ, 4096);
	assert_int_equal(stream_writer_new(&A, p[1], false, &w), 0);
	assert_int_equal(stream_writer_write(w, &C[0], big, sizeof big, &err), TTRPC_PENDING);
	assert_int_equal(stream_writer_write(w, &C[1], NULL, 0, &err), TTRPC_PENDING);
	for (int i = 0; i < 10000 && !C[1].answered; i++) {
		ssize_t n = read(p[0], got + have, sizeof got - have);
		if (n > 0)
			have += (size_t)n;
		(void)ev_loop_iterate(A.loop, 1);
	}
	assert_true(C[0].answered);
	assert_false(C[0].failed);
	assert_int_equal(C[0].wlen, sizeof big);
	assert_true(C[1].answered);
	for (ssize_t n; (n = read(p[0], got + have, sizeof got - have)) > 0;)
		have += (size_t)n;
	assert_int_equal(have, sizeof big);
	assert_memory_equal(got, big, sizeof big);
	/* The empty write closed stdin: the reader sees EOF, and a later write is refused. */
	assert_int_equal(read(p[0], got, 1), 0);
	assert_true(stream_writer_write(w, &C[2], big, 1, &err) < 0);
	stream_writer_free(w);
	close(p[0]);
}

static void test_write_to_gone_reader_fails(void **state) {
	int p[2];
	stream_writer *w;
	kc_error err = { 0 };
	static uint8_t big[100000];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(stream_writer_new(&A, p[1], false, &w), 0);
	assert_int_equal(stream_writer_write(w, &C[0], big, sizeof big, &err), TTRPC_PENDING);
	close(p[0]);
	spin(20);
	assert_true(C[0].answered);
	assert_true(C[0].failed);
	stream_writer_free(w);
}

/* A terminal cannot splice: its bytes are read into the lent reply buffer, len still caps a reply, and the
 * master's EIO once the slave is gone is EOF. */
static void test_tty_is_read(void **state) {
	stream_reader *s;
	kc_error err = { 0 };
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	int sl = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(sl >= 0);
	struct termios t;
	assert_int_equal(tcgetattr(sl, &t), 0);
	cfmakeraw(&t);
	assert_int_equal(tcsetattr(sl, TCSANOW, &t), 0);
	assert_int_equal(stream_reader_new(&A, m, true, NULL, NULL, &s), 0);
	assert_int_equal(write(sl, "hello", 5), 5);
	spin(50); /* the tty layer passes the bytes on from a worker */
	assert_int_equal(stream_reader_read(s, &C[0], 3, &err), 0);
	assert_false(C[0].piped);
	assert_int_equal(C[0].len, 3);
	assert_memory_equal(C[0].data, "hel", 3);
	assert_int_equal(stream_reader_read(s, &C[1], 100, &err), 0);
	assert_int_equal(C[1].len, 2);
	assert_memory_equal(C[1].data, "lo", 2);
	close(sl);
	assert_int_equal(stream_reader_read(s, &C[2], 100, &err), 0);
	assert_int_equal(C[2].len, 0);
	stream_reader_free(s);
}

int main(void) {
	(void)signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_waits_then_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_len_caps_and_data_before_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tty_is_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_follow_a_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_after_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_answers_pending_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_pending_until_all_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_to_gone_reader_fails, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
