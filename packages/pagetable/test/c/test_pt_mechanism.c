/*
 * test_pt_mechanism.c - the mechanism line dbos_pt_host_mechanism_format()
 * writes: bounded like snprintf, and naming exactly what dbos_pt_probe()
 * picked (the line probe().mechanisms.pagetable shows in JavaScript).
 */
#include <string.h>

#include "dbos/pagetable.h"
#include "dbos_test.h"

static void test_line_is_bounded_like_snprintf(void)
{
	char full[DBOS_PT_MECHANISM_LINE_SIZE];
	size_t length = dbos_pt_host_mechanism_format(full, sizeof(full));
	REQUIRE(length > 0 && length < sizeof(full));
	CHECK_EQ(strlen(full), length);
	char small[16];
	memset(small, 'x', sizeof(small));
	CHECK_EQ(dbos_pt_host_mechanism_format(small, sizeof(small)), length);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	CHECK(memcmp(small, full, sizeof(small) - 1) == 0);
	CHECK_EQ(dbos_pt_host_mechanism_format(NULL, 0), length);
}

static void test_line_names_the_capabilities(void)
{
	dbos_pt_capabilities caps;
	dbos_pt_probe(&caps);
	char line[DBOS_PT_MECHANISM_LINE_SIZE];
	dbos_pt_host_mechanism_format(line, sizeof(line));
	CHECK((strstr(line, "dirty: UFFD WP_ASYNC + PAGEMAP_SCAN") != NULL) ==
	      (caps.dirty == DBOS_PT_DIRTY_UFFD_WP_ASYNC));
	CHECK((strstr(line, "dirty: shadow compare") != NULL) == (caps.dirty == DBOS_PT_DIRTY_SHADOW_COMPARE));
	CHECK((strstr(line, "faults: userfaultfd") != NULL) == (caps.faults != DBOS_PT_FAULT_NONE));
	CHECK((strstr(line, "user-mode faults only") != NULL) == (caps.faults == DBOS_PT_FAULT_UFFD_USER_ONLY));
	CHECK((strstr(line, "MISSING + MINOR") != NULL) == caps.faults_minor);
	CHECK((strstr(line, "resident: PAGEMAP_SCAN") != NULL) == caps.present);
	CHECK((strstr(line, "over memfd frames") != NULL) == caps.frames);
	CHECK((strstr(line, "THP on request") != NULL) == (caps.huge_pages == DBOS_PT_HUGE_MADVISE));
	printf("# %s\n", line);
}

int main(void)
{
	RUN_TEST(test_line_is_bounded_like_snprintf);
	RUN_TEST(test_line_names_the_capabilities);
	return TEST_EXIT_STATUS();
}
