/*
 * test_vmm.c - the VMM from C: boot the test image, call (waiting and
 * posted), fail, stop; refuse bad images; boot by the probe's KVM verdict
 * (the guest cases skip, saying why, only where /dev/kvm does not open).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dbos/guest.h"
#include "dbos/probe.h"
#include "dbos_test.h"
#include "guest_image.h"

static struct test_image image;

static dbos_guest *boot(uint32_t vcpus)
{
	return test_guest_boot(&image, vcpus, 32u << 20);
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

/* Start with `bytes` as the image; returns the status, `reason` filled. */
static dbos_status start_with(const void *bytes, uint64_t size, char *reason, size_t reason_size)
{
	struct dbos_guest_config config = {
		.memory_size = 16u << 20, .vcpu_count = 1, .engine_ring = -1, .image = bytes, .image_size = size
	};
	dbos_guest *guest = NULL;
	dbos_status status = dbos_guest_start(&config, &guest, reason, reason_size);
	dbos_guest_destroy(guest);
	return status;
}

static void test_bad_images_are_refused_with_a_reason(void)
{
	char reason[256];
	uint8_t *copy = malloc(image.size);
	REQUIRE(copy != NULL);
	CHECK_EQ(start_with(NULL, 0, reason, sizeof(reason)), DBOS_EINVAL);
	CHECK(strstr(reason, "no guest image") != NULL);
	CHECK_EQ(start_with("tiny", 4, reason, sizeof(reason)), DBOS_EINVAL);
	memcpy(copy, image.bytes, image.size);
	copy[0] ^= 0xff; /* magic */
	CHECK_EQ(start_with(copy, image.size, reason, sizeof(reason)), DBOS_EINVAL);
	CHECK(strstr(reason, "magic") != NULL);
	memcpy(copy, image.bytes, image.size);
	((struct dbos_guest_image_header *)(void *)copy)->abi_version = DBOS_GUEST_ABI_VERSION + 1;
	CHECK_EQ(start_with(copy, image.size, reason, sizeof(reason)), DBOS_ENOTSUP);
	CHECK(strstr(reason, "ABI version") != NULL);
	memcpy(copy, image.bytes, image.size);
	((struct dbos_guest_image_header *)(void *)copy)->kernel_entry = DBOS_GUEST_IMAGE_GPA + image.size;
	CHECK_EQ(start_with(copy, image.size, reason, sizeof(reason)), DBOS_EINVAL);
	CHECK(strstr(reason, "outside the image") != NULL);
	memcpy(copy, image.bytes, image.size);
	((struct dbos_guest_image_header *)(void *)copy)->vector_table += 4;
	CHECK_EQ(start_with(copy, image.size, reason, sizeof(reason)), DBOS_EINVAL);
	CHECK(strstr(reason, "aligned") != NULL);
	CHECK_EQ(start_with(image.bytes, image.size - 8, reason, sizeof(reason)), DBOS_EINVAL);
	free(copy);
}

static void test_the_vmm_keeps_its_own_copy(void)
{
	struct test_image scratch = { malloc(image.size), image.size };
	REQUIRE(scratch.bytes != NULL);
	memcpy(scratch.bytes, image.bytes, image.size);
	dbos_guest *guest = test_guest_boot(&scratch, 1, 16u << 20);
	memset(scratch.bytes, 0xcc, scratch.size); /* the caller's bytes are the caller's again */
	test_image_free(&scratch);
	REQUIRE(guest != NULL);
	dbos_status status;
	CHECK_EQ(call(guest, 0, "add", 20, 22, &status), 42);
	CHECK_EQ(status, DBOS_OK);
	CHECK(dbos_guest_entry_name(guest, 0) != NULL);
	dbos_guest_stop(guest);
	uint64_t function = 0; /* names stay readable after stop, until destroy */
	CHECK_EQ(dbos_guest_entry_find(guest, "add", &function), DBOS_OK);
	dbos_guest_destroy(guest);
}

/* The flavour the VMM boots by is the probe's one verdict, the one probe().kvm.kind reports. */
static void test_kvm_flavour_is_the_probe_verdict(void)
{
	enum dbos_guest_kvm kvm = DBOS_GUEST_KVM_NONE;
	char reason[256];
	REQUIRE(dbos_guest_probe(&kvm, reason, sizeof(reason)) == DBOS_OK);
	const dbos_probe *probe = dbos_probe_cached();
	printf("# probe: %s (%s)\n", dbos_kvm_kind_name(probe->kvm.kind), probe->kvm.reason);
	CHECK_EQ(probe->kvm.kind, kvm); /* dbos_guest_kvm and dbos_kvm_kind share values (vmm_vm.c) */
	dbos_guest *guest = boot(1);
	REQUIRE(guest != NULL);
	struct dbos_guest_info info;
	dbos_guest_info_get(guest, &info);
	CHECK_EQ(info.kvm, probe->kvm.kind);
	CHECK_EQ(info.engine_ring, probe->kvm.kind == DBOS_KVM_PVM ? 3 : 0);
	dbos_guest_destroy(guest);
}

struct posted {
	int calls;
	dbos_status status;
	int64_t result;
	bool failure;
};

static void posted_done(void *context, dbos_status status, int64_t result, const struct dbos_guest_failure *failure)
{
	struct posted *posted = context;
	__atomic_store_n(&posted->status, status, __ATOMIC_RELAXED);
	__atomic_store_n(&posted->result, result, __ATOMIC_RELAXED);
	__atomic_store_n(&posted->failure, failure != NULL, __ATOMIC_RELAXED);
	__atomic_fetch_add(&posted->calls, 1, __ATOMIC_RELEASE);
}

static bool posted_wait(struct posted *posted, int calls)
{
	for (int i = 0; i < 20000 && __atomic_load_n(&posted->calls, __ATOMIC_ACQUIRE) < calls; i++)
		usleep(500);
	return __atomic_load_n(&posted->calls, __ATOMIC_ACQUIRE) == calls;
}

/* dbos_guest_call_async: `done` runs once per accepted call; refusals never run it. */
static void test_async_calls(void)
{
	dbos_guest *guest = boot(2);
	REQUIRE(guest != NULL);
	uint64_t add = 0, spin = 0, crash = 0;
	REQUIRE(dbos_guest_entry_find(guest, "add", &add) == DBOS_OK);
	REQUIRE(dbos_guest_entry_find(guest, "spin_ns", &spin) == DBOS_OK);
	REQUIRE(dbos_guest_entry_find(guest, "crash", &crash) == DBOS_OK);
	struct posted first = { 0 }, busy = { 0 }, spinning = { 0 }, after = { 0 };
	uint64_t args[4] = { 40, 2, 0, 0 };
	CHECK_EQ(dbos_guest_call_async(guest, 0, add, args, posted_done, &first), DBOS_OK);
	REQUIRE(posted_wait(&first, 1));
	CHECK_EQ(first.status, DBOS_OK);
	CHECK_EQ(first.result, 42);
	CHECK(!first.failure);
	/* A vCPU runs one call at a time; a refused post never calls back. */
	uint64_t long_spin[4] = { 60000000000ull, 0, 0, 0 };
	CHECK_EQ(dbos_guest_call_async(guest, 1, spin, long_spin, posted_done, &spinning), DBOS_OK);
	CHECK_EQ(dbos_guest_call_async(guest, 1, add, args, posted_done, &busy), DBOS_EBUSY);
	CHECK_EQ(dbos_guest_call_async(guest, 2, add, args, posted_done, &busy), DBOS_EINVAL);
	/* A failure on vCPU 0 reaches the posted call with its report, and refuses later posts. */
	uint64_t null_read[4] = { 1, 0, 0, 0 };
	CHECK_EQ(dbos_guest_call_async(guest, 0, crash, null_read, posted_done, &after), DBOS_OK);
	REQUIRE(posted_wait(&after, 1));
	CHECK_EQ(after.status, DBOS_EGUEST);
	CHECK(after.failure);
	CHECK_EQ(dbos_guest_call_async(guest, 0, add, args, posted_done, &busy), DBOS_EGUEST);
	struct dbos_guest_failure failure;
	CHECK(dbos_guest_failure_get(guest, &failure));
	CHECK_EQ(failure.kind, DBOS_GUEST_FAILURE_PANIC);
	/* stop answers the spinning call (it never returns on its own) before it returns. */
	dbos_guest_stop(guest);
	CHECK_EQ(__atomic_load_n(&spinning.calls, __ATOMIC_ACQUIRE), 1);
	CHECK(spinning.status == DBOS_ECLOSED || spinning.status == DBOS_EGUEST);
	CHECK_EQ(busy.calls, 0);
	CHECK_EQ(dbos_guest_call_async(guest, 0, add, args, posted_done, &busy), DBOS_ECLOSED);
	CHECK_EQ(busy.calls, 0);
	dbos_guest_destroy(guest);
}

/* Where /dev/kvm does not open the VMM cases cannot run (skipped, saying why); where it opens, they must. */
static char vmm_unavailable[256];
static void test_vmm_available_where_kvm_opens(void)
{
	char reason[200] = "";
	int unavailable = test_guest_unavailable(reason, sizeof(reason));
	if (unavailable < 0)
		printf("# /dev/kvm opens but the guest cannot start: %s\n", reason);
	CHECK(unavailable >= 0);
	if (unavailable > 0) {
		snprintf(vmm_unavailable, sizeof(vmm_unavailable), "no usable /dev/kvm: %s", reason);
		SKIP(vmm_unavailable);
	}
}

int main(void)
{
	if (!test_image_read(&image)) {
		printf("FAIL test_image_readable\n");
		return 1;
	}
	RUN_TEST(test_bad_images_are_refused_with_a_reason);
	RUN_TEST(test_vmm_available_where_kvm_opens);
	if (vmm_unavailable[0] || TEST_EXIT_STATUS() != 0) {
		test_image_free(&image);
		return TEST_EXIT_STATUS();
	}
	RUN_TEST(test_kvm_flavour_is_the_probe_verdict);
	RUN_TEST(test_boot_call_stop);
	RUN_TEST(test_the_vmm_keeps_its_own_copy);
	RUN_TEST(test_panic_is_reported);
	RUN_TEST(test_async_calls);
	RUN_TEST(test_kernel_paths);
	test_image_free(&image);
	return TEST_EXIT_STATUS();
}
