/*
 * test_vmm.c - the VMM from C: boot the test image, call, fail, stop; refuse
 * bad images (skips, saying why, only where /dev/kvm does not open).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dbos/guest.h"
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

int main(void)
{
	if (!test_image_read(&image)) {
		printf("FAIL test_image_readable\n");
		return 1;
	}
	RUN_TEST(test_bad_images_are_refused_with_a_reason);
	enum dbos_guest_kvm kvm;
	char reason[256] = "";
	if (dbos_guest_probe(&kvm, reason, sizeof(reason)) != DBOS_OK) {
		/* Skipping is only allowed where /dev/kvm does not open at all. */
		int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		printf("# %s: %s\n", fd >= 0 ? "FAILED: /dev/kvm opens but the guest cannot start" : "skipped", reason);
		printf("%s vmm_available_where_kvm_opens\n", fd >= 0 ? "FAIL" : "ok");
		test_image_free(&image);
		return fd >= 0 ? 1 : TEST_EXIT_STATUS();
	}
	RUN_TEST(test_boot_call_stop);
	RUN_TEST(test_the_vmm_keeps_its_own_copy);
	RUN_TEST(test_panic_is_reported);
	RUN_TEST(test_kernel_paths);
	test_image_free(&image);
	return TEST_EXIT_STATUS();
}
