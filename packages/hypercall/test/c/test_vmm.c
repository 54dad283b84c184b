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
	dbos_guest_destroy(guest);
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
	dbos_guest_destroy(guest);
}

static void test_kernel_paths(void)
{
	dbos_guest *guest = boot(2);
	REQUIRE(guest != NULL);
	struct dbos_guest_info info;
	dbos_guest_info_get(guest, &info);
	printf("# boot %llu us, tsc %llu kHz, ring %u\n", (unsigned long long)info.boot_ns / 1000,
	       (unsigned long long)info.tsc_khz, info.engine_ring);
	dbos_status status;
	int64_t ns = call(guest, 0, "kcall_nop_loop", 100, 0, &status);
	CHECK_EQ(status, DBOS_OK);
	printf("# kcall nop %lld ns each\n", (long long)ns / 100);
	ns = call(guest, 0, "hc_nop_loop", 100, 1, &status);
	CHECK_EQ(status, DBOS_OK);
	printf("# hypercall sync nop %lld ns each\n", (long long)ns / 100);
	ns = call(guest, 1, "hc_nop_loop", 640, 64, &status);
	CHECK_EQ(status, DBOS_OK);
	printf("# hypercall sync nop batch 64: %lld ns each\n", (long long)ns / 640);
	ns = call(guest, 0, "hc_nop_loop", 100, 1, &status);
	uint64_t args[4] = { 100, 1, 1, 0 };
	uint64_t fn;
	REQUIRE(dbos_guest_entry_find(guest, "hc_nop_loop", &fn) == DBOS_OK);
	int64_t result;
	CHECK_EQ(dbos_guest_call(guest, 0, fn, args, &result, NULL), DBOS_OK);
	printf("# hypercall async nop %lld ns each\n", (long long)result / 100);
	CHECK_EQ(call(guest, 0, "hc_completion_irq", 100000000, 0, &status), 1);
	int64_t ticks = call(guest, 0, "timer_ticks", 1000000, 50000000, &status);
	CHECK_EQ(status, DBOS_OK);
	printf("# timer ticks in 50 ms at 1 ms: %lld\n", (long long)ticks);
	CHECK(ticks >= 10);
	int64_t faults = call(guest, 1, "fault_demand_zero", 0x8000000000ull, 16, &status);
	CHECK_EQ(status, DBOS_OK);
	CHECK_EQ(faults, 16);
	int64_t pa = call(guest, 0, "frame_alloc", 0, 0, &status);
	CHECK(pa >= 0x800000);
	CHECK_EQ(call(guest, 0, "pte_map", 0x8000100000ull, (uint64_t)pa, &status), -(int64_t)DBOS_EINVAL); /* prot 0 */
	dbos_guest_destroy(guest);
}

int main(void)
{
	enum dbos_guest_kvm kvm;
	char reason[256] = "";
	if (dbos_guest_probe(&kvm, reason, sizeof(reason)) != DBOS_OK) {
		/* Skipping is only allowed where /dev/kvm does not open at all. */
		int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		printf("# %s: %s\n", fd >= 0 ? "FAILED: /dev/kvm opens but the guest cannot start" : "skipped", reason);
		printf("%s vmm_available_where_kvm_opens\n", fd >= 0 ? "FAIL" : "ok");
		return fd >= 0 ? 1 : 0;
	}
	RUN_TEST(test_boot_call_stop);
	RUN_TEST(test_panic_is_reported);
	RUN_TEST(test_kernel_paths);
	return TEST_EXIT_STATUS();
}
