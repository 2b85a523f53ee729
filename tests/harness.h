/* A small test harness for the C integration tests (the unit tests use cmocka). It prints the same
 * per-case lines as cmocka, so tests/run.sh counts both alike:
 *   [       OK ] name / [  FAILED  ] name / [  SKIPPED ] name: reason
 * A case is a function returning void; ASSERT_* print expression, file and line, and end the case. */
#pragma once

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

typedef struct th_case {
	const char *name;
	void (*fn)(void);
} th_case;

extern jmp_buf th_jmp;
extern int th_state; /* 0 ok, 1 failed, 2 skipped */

#define TH_FAIL(...)                                                                 \
	do {                                                                         \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                      \
		fprintf(stderr, __VA_ARGS__);                                        \
		fputc('\n', stderr);                                                 \
		th_state = 1;                                                        \
		longjmp(th_jmp, 1);                                                  \
	} while (0)

#define TH_SKIP(...)                                                                 \
	do {                                                                         \
		printf("[  SKIPPED ] %s: ", th_current);                              \
		printf(__VA_ARGS__);                                                 \
		putchar('\n');                                                       \
		th_state = 2;                                                        \
		longjmp(th_jmp, 1);                                                  \
	} while (0)

#define ASSERT_TRUE(e)                                                               \
	do {                                                                         \
		if (!(e))                                                            \
			TH_FAIL("assertion failed: %s", #e);                         \
	} while (0)

#define ASSERT_EQ(a, b)                                                              \
	do {                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                  \
		if (_a != _b)                                                        \
			TH_FAIL("assertion failed: %s == %s (%lld != %lld)", #a, #b, _a, _b); \
	} while (0)

#define ASSERT_OK(e)                                                                 \
	do {                                                                         \
		long long _r = (long long)(e);                                       \
		if (_r < 0)                                                          \
			TH_FAIL("%s failed: %lld (%s)", #e, _r, strerror((int)-_r));  \
	} while (0)

#define ASSERT_STREQ(a, b)                                                           \
	do {                                                                         \
		const char *_a = (a), *_b = (b);                                     \
		if (!_a || !_b || strcmp(_a, _b) != 0)                               \
			TH_FAIL("assertion failed: %s == %s (\"%s\" != \"%s\")", #a, #b, \
				_a ? _a : "(null)", _b ? _b : "(null)");             \
	} while (0)

extern const char *th_current;

/* Runs the cases in order; returns the process exit code (1 when any failed). */
int th_run(const th_case *cases, size_t n);

#define TH_MAIN(...)                                                                 \
	jmp_buf th_jmp;                                                              \
	int th_state;                                                                \
	const char *th_current;                                                      \
	int th_run(const th_case *cases, size_t n) {                                 \
		volatile int failed = 0;                                             \
		for (volatile size_t i = 0; i < n; i++) {                            \
			th_current = cases[i].name;                                  \
			th_state = 0;                                                \
			printf("[ RUN      ] %s\n", cases[i].name);                  \
			fflush(stdout);                                              \
			if (setjmp(th_jmp) == 0)                                     \
				cases[i].fn();                                       \
			if (th_state == 0)                                           \
				printf("[       OK ] %s\n", cases[i].name);          \
			else if (th_state == 1) {                                    \
				printf("[  FAILED  ] %s\n", cases[i].name);          \
				failed = 1;                                          \
			}                                                            \
			fflush(stdout);                                              \
		}                                                                    \
		return failed;                                                       \
	}
