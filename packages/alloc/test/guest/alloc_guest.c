/*
 * alloc_guest.c - entry points of alloc's test guest image: the conformance
 * cases (test/conformance/alloc_cases.h) on the guest runtime (one cache slot
 * per vCPU, memory from the guest kernel).  test/guest.test.ts builds the
 * image (buildGuestImage, name "test") and runs one vitest test per case.
 * Test code only: no shipped image or addon contains it.
 */
#include "dbos/guest_kernel.h"

#include "../conformance/alloc_cases.h"

/* How many cases the table holds. */
DBOS_GUEST_ENTRY(alloc_case_count)
{
	return (int64_t)ALLOC_CASE_COUNT;
}

/* Run case a0: 0 when it held, the line of the failed check, or -1 for no such case. */
DBOS_GUEST_ENTRY(alloc_case)
{
	if (a0 >= ALLOC_CASE_COUNT)
		return -1;
	return alloc_case_run(a0);
}

/*
 * Write case a0's name (NUL-terminated) to guest-physical a1, at most a2
 * bytes (identity-mapped, e.g. the scratch area); returns its length, or -1.
 */
DBOS_GUEST_ENTRY(alloc_case_name)
{
	if (a0 >= ALLOC_CASE_COUNT || a2 == 0)
		return -1;
	const char *name = alloc_cases[a0].name;
	char *target = (char *)(uintptr_t)a1;
	uint64_t length = 0;
	while (name[length] != '\0' && length + 1 < a2) {
		target[length] = name[length];
		length++;
	}
	target[length] = '\0';
	return name[length] == '\0' ? (int64_t)length : -1;
}
