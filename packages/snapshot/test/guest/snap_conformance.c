/*
 * snap_conformance.c - entry points of snapshot's test guest image: the
 * conformance cases (test/conformance/snap_cases.h) on the guest runtime.
 * test/guest-conformance.test.ts builds the image (buildGuestImage, name
 * "test") and runs one vitest test per case; writers_race_snapshots runs its
 * phases on several vCPUs at once.  Test code only: no shipped image or addon
 * contains it.
 */
#include "dbos/guest_kernel.h"

#include "../conformance/snap_cases.h"

/* How many cases the table holds. */
DBOS_GUEST_ENTRY(snap_case_count)
{
	return (int64_t)SNAP_CASE_COUNT;
}

/* Run case a0: 0 when it held, the line of the failed check, or -1 for no such case. */
DBOS_GUEST_ENTRY(snap_case)
{
	if (a0 >= SNAP_CASE_COUNT)
		return -1;
	return snap_case_run(a0);
}

/* Copy `name` (NUL-terminated) to guest-physical `target`, at most `size` bytes: its length, or -1. */
static int64_t name_copy(const char *name, uint64_t target, uint64_t size)
{
	if (size == 0)
		return -1;
	char *bytes = (char *)(uintptr_t)target;
	uint64_t length = 0;
	while (name[length] != '\0' && length + 1 < size) {
		bytes[length] = name[length];
		length++;
	}
	bytes[length] = '\0';
	return name[length] == '\0' ? (int64_t)length : -1;
}

/*
 * Write case a0's name to guest-physical a1, at most a2 bytes (identity-mapped, e.g. the
 * scratch area); a0 == the case count names writers_race_snapshots.  Its length, or -1.
 */
DBOS_GUEST_ENTRY(snap_case_name)
{
	if (a0 > SNAP_CASE_COUNT)
		return -1;
	return name_copy(a0 == SNAP_CASE_COUNT ? SNAP_RACE_NAME : snap_cases[a0].name, a1, a2);
}

/* writers_race_snapshots, phase by phase (snap_cases.h): each returns 0 or a failed line. */
DBOS_GUEST_ENTRY(race_setup)
{
	return snap_race_setup();
}

/* Writer a0 (0 .. SNAP_RACE_WRITERS - 1), on a vCPU of its own. */
DBOS_GUEST_ENTRY(race_writer)
{
	return snap_race_writer(a0);
}

DBOS_GUEST_ENTRY(race_taker)
{
	return snap_race_taker();
}

DBOS_GUEST_ENTRY(race_finish)
{
	return snap_race_finish();
}

/* How many writer vCPUs the race wants (the taker needs one more). */
DBOS_GUEST_ENTRY(race_writer_count)
{
	return SNAP_RACE_WRITERS;
}
