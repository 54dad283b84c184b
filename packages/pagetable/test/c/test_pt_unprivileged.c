/*
 * test_pt_unprivileged.c - fault hooks for a process without privilege: under
 * vm.unprivileged_userfaultfd=0 only UFFD_USER_MODE_ONLY works, and the region
 * must pick it by itself.  Runs in a forked child that drops root.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dbos/pagetable.h"
#include "dbos_test.h"

#define PAGE DBOS_PAGE_SIZE
#define NOBODY 65534

static int sysctl_unprivileged_userfaultfd(void)
{
	FILE *file = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
	int value = -1;
	if (file != NULL) {
		if (fscanf(file, "%d", &value) != 1)
			value = -1;
		fclose(file);
	}
	return value;
}

/* In the child: 0 when a fill handler served a touch, 2 when faults are unavailable, else a failure step. */
static int child_fill_one_page(void)
{
	dbos_pt_region_options options = { .size = 8 * PAGE, .flags = DBOS_PT_REGION_MAP_ALL };
	dbos_pt_region *region = NULL;
	if (dbos_pt_region_create(&options, &region) != DBOS_OK)
		return 10;
	dbos_pt_fill fill = { .byte = 0x11, .stamp_index = true };
	dbos_status status = dbos_pt_fault_enable(region, dbos_pt_fault_fill, &fill);
	if (status != DBOS_OK) {
		dbos_pt_region_destroy(region);
		return status == DBOS_ENOTSUP || status == DBOS_EPERM ? 2 : 11;
	}
	volatile uint8_t *page = dbos_pt_region_base(region) + 3 * PAGE;
	int result = page[0] == 3 && page[8] == 0x11 ? 0 : 12;
	dbos_pt_region_destroy(region);
	return result;
}

static void test_unprivileged_process_gets_user_mode_faults(void)
{
	if (geteuid() != 0) {
		int code = child_fill_one_page(); /* this process is the unprivileged case already */
		printf("# not root: unprivileged fill exit %d\n", code);
		CHECK_EQ(code, 0);
		return;
	}
	int sysctl = sysctl_unprivileged_userfaultfd();
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
			_exit(20);
		_exit(child_fill_one_page()); /* _exit: the parent's leak check covers this code */
	}
	int wait_status = 0;
	REQUIRE(waitpid(child, &wait_status, 0) == child);
	REQUIRE(WIFEXITED(wait_status));
	int code = WEXITSTATUS(wait_status);
	printf("# vm.unprivileged_userfaultfd=%d: unprivileged fill %s (exit %d)\n", sysctl,
	       code == 0 ? "works (user-mode-only userfaultfd)" : "unavailable", code);
	/* Kernels since 5.11 accept UFFD_USER_MODE_ONLY whatever the sysctl says. */
	CHECK_EQ(code, 0);
}

int main(void)
{
	RUN_TEST(test_unprivileged_process_gets_user_mode_faults);
	return TEST_EXIT_STATUS();
}
