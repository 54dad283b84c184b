/* test_vmm.c - the VMM from C: boot, call, fail, stop (skips where /dev/kvm is unusable). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dbos/guest.h"
#include "dbos_test.h"

static dbos_guest *boot(uint32_t vcpus)
{
	struct dbos_guest_options options = { .memory_size = 32u << 20, .vcpu_count = vcpus, .engine_ring = -1 };
	dbos_guest *guest = NULL;
	char reason[256] = "";
	dbos_status status = dbos_guest_start(&options, &guest, reason, sizeof(reason));
	if (status != DBOS_OK)
		printf("# start: %s: %s\n", dbos_status_name(status), reason);
	return guest;
}

static int64_t call(dbos_guest *guest, uint32_t vcpu, const char *name, uint64_t a0, uint64_t a1,
		    dbos_status *status_out)
{
	uint64_t function = 0;
	if (dbos_guest_entry_find(guest, name, &function) != DBOS_OK) {
		*status_out = DBOS_ENOENT;
		return 0;
	}
	uint64_t args[4] = { a0, a1, 0, 0 };
	int64_t result = 0;
	struct dbos_guest_failure failure;
	memset(&failure, 0, sizeof(failure));
	*status_out = dbos_guest_call(guest, vcpu, function, args, &result, &failure);
	if (*status_out == DBOS_EGUEST)
		printf("# failure: kind %d: %s (rip 0x%llx vector %llu)\n", failure.kind, failure.message,
		       (unsigned long long)failure.registers.rip, (unsigned long long)failure.registers.vector);
	return result;
}

static void test_boot_call_stop(void)
{
	dbos_guest *guest = boot(1);
	REQUIRE(guest != NULL);
	dbos_status status;
	CHECK_EQ(call(guest, 0, "add", 40, 2, &status), 42);
	CHECK_EQ(status, DBOS_OK);
	int64_t who = call(guest, 0, "whoami", 0, 0, &status);
	CHECK_EQ(status, DBOS_OK);
	printf("# whoami 0x%llx\n", (unsigned long long)who);
	dbos_guest_stop(guest);
}

static void test_panic_is_reported(void)
{
	dbos_guest *guest = boot(1);
	REQUIRE(guest != NULL);
	dbos_status status;
	call(guest, 0, "crash", 1, 0, &status);
	CHECK_EQ(status, DBOS_EGUEST);
	call(guest, 0, "add", 1, 2, &status);
	CHECK_EQ(status, DBOS_EGUEST); /* a failed guest stays failed */
	dbos_guest_stop(guest);
}

int main(void)
{
	enum dbos_guest_kvm kvm;
	char reason[256] = "";
	if (dbos_guest_probe(&kvm, reason, sizeof(reason)) != DBOS_OK) {
		printf("# skipped: %s\n", reason);
		return TEST_EXIT_STATUS();
	}
	RUN_TEST(test_boot_call_stop);
	RUN_TEST(test_panic_is_reported);
	return TEST_EXIT_STATUS();
}
