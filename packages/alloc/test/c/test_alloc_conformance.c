/*
 * test_alloc_conformance.c - the conformance cases
 * (test/conformance/alloc_cases.h) on the host runtime: one "ok NAME" /
 * "FAIL NAME" line per case, the line of the failed check on stderr.  The same
 * table runs in the guest through test/guest/alloc_guest.c.
 */
#include <inttypes.h>
#include <stdio.h>

#include "../conformance/alloc_cases.h"

int main(void)
{
	int failures = 0;
	for (uint64_t index = 0; index < ALLOC_CASE_COUNT; index++) {
		int64_t line = alloc_case_run(index);
		if (line != 0) {
			fprintf(stderr, "%s: check at test/conformance/alloc_cases.h:%" PRId64 " failed\n",
				alloc_cases[index].name, line);
			failures++;
		}
		printf("%s %s\n", line == 0 ? "ok" : "FAIL", alloc_cases[index].name);
		fflush(stdout);
	}
	return failures == 0 ? 0 : 1;
}
