/*
 * dbos_test.h - the smallest unit-test harness that does the job for the C cores.
 *
 * A test program is a main() that calls RUN_TEST(fn) for each case.  Each
 * case prints "ok <name>", "FAIL <name>" or "skip <name> # why" on its own
 * line (SKIP() inside a case: what it tests does not exist here); the vitest side
 * (@dbos/native-build/ctest) turns every line into one test and also fails
 * when the program exits non-zero, crashes or a sanitizer reports.
 * Tests may use libc; only the cores under test must be freestanding.
 */
#ifndef DBOS_TEST_H
#define DBOS_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dbos_test_failures_total;
static int dbos_test_failures_case;
static const char *dbos_test_skip_reason;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			dbos_test_failures_case++;                                               \
		}                                                                                \
	} while (0)

#define CHECK_EQ(actual, expected)                                                                               \
	do {                                                                                                     \
		long long dbos_a_ = (long long)(actual);                                                         \
		long long dbos_e_ = (long long)(expected);                                                       \
		if (dbos_a_ != dbos_e_) {                                                                        \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #actual, \
				dbos_a_, #expected, dbos_e_);                                                    \
			dbos_test_failures_case++;                                                               \
		}                                                                                                \
	} while (0)

/* Stop the case at once: for conditions later checks depend on. */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, #cond); \
			dbos_test_failures_case++;                                                 \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/*
 * End the case as skipped, saying why (a string literal or a string that
 * outlives the case): for mechanisms this machine does not have.  A case
 * that failed a check before skipping still fails.
 */
#define SKIP(why)                              \
	do {                                   \
		dbos_test_skip_reason = (why); \
		return;                        \
	} while (0)

#define RUN_TEST(fn)                                                          \
	do {                                                                  \
		dbos_test_failures_case = 0;                                  \
		dbos_test_skip_reason = NULL;                                 \
		fn();                                                         \
		if (dbos_test_failures_case)                                  \
			printf("FAIL %s\n", #fn);                             \
		else if (dbos_test_skip_reason)                               \
			printf("skip %s # %s\n", #fn, dbos_test_skip_reason); \
		else                                                          \
			printf("ok %s\n", #fn);                               \
		fflush(stdout);                                               \
		dbos_test_failures_total += dbos_test_failures_case;          \
	} while (0)

#define TEST_EXIT_STATUS() (dbos_test_failures_total ? 1 : 0)

#endif /* DBOS_TEST_H */
