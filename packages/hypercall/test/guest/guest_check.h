/*
 * guest_check.h - dbos_test.h's contract for cases that run inside the guest:
 * CHECK, CHECK_EQ, REQUIRE and RUN_TEST, each case ending in one "ok NAME" or
 * "FAIL NAME" line.  There is no libc here, so lines go out through
 * dbos_platform_log (the LOG hypercall), and the host program that ran the
 * entry (test/c/test_gateway_guest.c) relays them to vitest.
 */
#ifndef DBOS_TEST_GUEST_CHECK_H
#define DBOS_TEST_GUEST_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "dbos/platform.h"

#define GUEST_LINE_SIZE 240u

struct guest_line {
	char text[GUEST_LINE_SIZE];
	uint32_t length;
};

static int guest_check_failures_case;
static int guest_check_failures_total;

static void guest_line_text(struct guest_line *line, const char *text)
{
	while (*text && line->length + 1 < GUEST_LINE_SIZE)
		line->text[line->length++] = *text++;
	line->text[line->length] = 0;
}

static void guest_line_int(struct guest_line *line, int64_t value)
{
	char digits[24];
	int count = 0;
	uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
	do {
		digits[count++] = (char)('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude && count < 23);
	if (value < 0)
		digits[count++] = '-';
	while (count > 0 && line->length + 1 < GUEST_LINE_SIZE)
		line->text[line->length++] = digits[--count];
	line->text[line->length] = 0;
}

/* "file:line: what failed[, actual A, expected E]" at WARN: the driver shows it as a comment. */
static void guest_check_failed(const char *file, int line_number, const char *what, bool values, int64_t actual,
			       int64_t expected)
{
	struct guest_line line = { .length = 0 };
	guest_line_text(&line, file);
	guest_line_text(&line, ":");
	guest_line_int(&line, line_number);
	guest_line_text(&line, ": ");
	guest_line_text(&line, what);
	guest_line_text(&line, " failed");
	if (values) {
		guest_line_text(&line, ": got ");
		guest_line_int(&line, actual);
		guest_line_text(&line, ", expected ");
		guest_line_int(&line, expected);
	}
	dbos_platform_log(DBOS_LOG_WARN, line.text);
	guest_check_failures_case++;
}

static void guest_check_case_done(const char *name)
{
	struct guest_line line = { .length = 0 };
	guest_line_text(&line, guest_check_failures_case ? "FAIL " : "ok ");
	guest_line_text(&line, name);
	dbos_platform_log(DBOS_LOG_INFO, line.text);
	guest_check_failures_total += guest_check_failures_case;
}

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond))                                                                     \
			guest_check_failed(__FILE__, __LINE__, "CHECK(" #cond ")", false, 0, 0); \
	} while (0)

#define CHECK_EQ(actual, expected)                                                                                  \
	do {                                                                                                        \
		int64_t guest_a_ = (int64_t)(actual);                                                               \
		int64_t guest_e_ = (int64_t)(expected);                                                             \
		if (guest_a_ != guest_e_)                                                                           \
			guest_check_failed(__FILE__, __LINE__, #actual " == " #expected, true, guest_a_, guest_e_); \
	} while (0)

/* Stop the case at once: for conditions later checks depend on. */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			guest_check_failed(__FILE__, __LINE__, "REQUIRE(" #cond ")", false, 0, 0); \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define RUN_TEST(fn)                           \
	do {                                   \
		guest_check_failures_case = 0; \
		fn();                          \
		guest_check_case_done(#fn);    \
	} while (0)

#endif /* DBOS_TEST_GUEST_CHECK_H */
