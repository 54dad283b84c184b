/*
 * platform.c - dbos/platform.h inside the guest, exercised the way a C core
 * uses it.  Returns 0 when every step held, else -(number of the failed step).
 */
#include "dbos/guest_kernel.h"
#include "dbos/hypercall.h"

#define STEP(n, cond)                \
	do {                         \
		if (!(cond))         \
			return -(n); \
	} while (0)

DBOS_GUEST_ENTRY(platform_selftest)
{
	STEP(1, dbos_platform_runtime() == DBOS_RUNTIME_GUEST);
	void *region = 0;
	size_t size = 64 * DBOS_PAGE_SIZE;
	STEP(2, dbos_platform_reserve(size, DBOS_HUGE_PAGE_SIZE, &region) == DBOS_OK);
	STEP(3, DBOS_IS_ALIGNED((uintptr_t)region, DBOS_HUGE_PAGE_SIZE));
	STEP(4, dbos_guest_pte_query((uint64_t)(uintptr_t)region) == 0); /* reserved: nothing mapped */
	STEP(5, dbos_platform_commit(region, 4 * DBOS_PAGE_SIZE, DBOS_PROT_READ_WRITE) == DBOS_OK);
	uint64_t *words = region;
	STEP(6, words[0] == 0 && words[3 * 512 + 511] == 0); /* committed memory reads as zeros */
	words[5] = 42;
	STEP(7, dbos_guest_pte_query((uint64_t)(uintptr_t)region) & DBOS_PTE_DIRTY);
	STEP(8, dbos_platform_advise(region, DBOS_PAGE_SIZE, DBOS_ADVICE_DISCARD) == DBOS_OK && words[5] == 0);
	STEP(9, dbos_platform_protect(region, DBOS_PAGE_SIZE, DBOS_PROT_READ) == DBOS_OK);
	STEP(10, !(dbos_guest_pte_query((uint64_t)(uintptr_t)region) & DBOS_PTE_WRITE));
	STEP(11, dbos_platform_decommit(region, 4 * DBOS_PAGE_SIZE) == DBOS_OK);
	STEP(12, !(dbos_guest_pte_query((uint64_t)(uintptr_t)region) & DBOS_PTE_PRESENT));
	STEP(13, dbos_platform_unreserve(region, size) == DBOS_OK);
	uint8_t *block = dbos_platform_alloc(10000);
	STEP(14, block != 0 && block[9999] == 0);
	block[9999] = 1;
	dbos_platform_free(block, 10000);
	uint64_t t0 = dbos_platform_now_ns();
	uint64_t t1 = dbos_platform_now_ns();
	STEP(15, t0 > 0 && t1 >= t0);
	STEP(16, dbos_platform_cpu_id() < dbos_platform_cpu_count());
	uint32_t word = 7;
	STEP(17, dbos_platform_wait(&word, 8, UINT64_MAX) == DBOS_OK); /* no longer matches: returns */
	STEP(18, dbos_platform_wait(&word, 7, 1000000) == DBOS_ETIMEDOUT);
	dbos_thread *thread = 0;
	STEP(19, dbos_platform_thread_start(0, 0, &thread) == DBOS_ENOTSUP);
	STEP(20, dbos_platform_reserve(size, 3 * DBOS_PAGE_SIZE, &region) == DBOS_EINVAL);
	return 0;
}

/*
 * The system-call gateway inside the guest (dbos_gateway_shared), used the
 * way a C core uses it, against the granted directory a0: create a file,
 * write it from a buffer spread over scattered engine frames, read it back,
 * statx, truncate, sync, close.  Returns 0 or -(failed step).
 */
DBOS_GUEST_ENTRY(gateway_selftest)
{
	struct dbos_gateway *gateway = 0;
	STEP(1, dbos_gateway_shared(&gateway) == DBOS_OK && gateway != 0);
	STEP(2, dbos_gateway_backend_of(gateway) == DBOS_GATEWAY_HYPERCALL);
	/* Three engine pages backed by frames that are not adjacent: the write becomes a PWRITEV. */
	void *region = 0;
	STEP(3, dbos_platform_reserve(3 * DBOS_PAGE_SIZE, DBOS_PAGE_SIZE, &region) == DBOS_OK);
	uint64_t base = (uint64_t)(uintptr_t)region, spare = 0;
	for (int page = 0; page < 3; page++) {
		uint64_t pa;
		STEP(4, dbos_guest_frame_alloc(&pa) == DBOS_OK && dbos_guest_frame_alloc(&spare) == DBOS_OK);
		STEP(5,
		     dbos_guest_pte_map(base + (uint64_t)page * DBOS_PAGE_SIZE, pa, DBOS_PROT_READ_WRITE) == DBOS_OK);
	}
	uint8_t *bytes = region;
	for (uint32_t i = 0; i < 3 * DBOS_PAGE_SIZE; i++)
		bytes[i] = (uint8_t)(i * 7 + 1);
	dbos_io_op open_op = { .opcode = DBOS_IO_OPENAT,
			       .fd = (int32_t)a0,
			       .path = (uint64_t)(uintptr_t) "gateway.dat",
			       .flags = 0x42 /* O_RDWR | O_CREAT */,
			       .mode = 0644 };
	int64_t fd = -1;
	STEP(6, dbos_gateway_run(gateway, &open_op, &fd, 1) == DBOS_OK && fd >= 0);
	static uint8_t check[3 * 4096]; /* identity-mapped image bss: one contiguous run */
	dbos_io_op ops[4] = {
		{ .opcode = DBOS_IO_PWRITE,
		  .fd = (int32_t)fd,
		  .address = base + 100,
		  .length = 3 * DBOS_PAGE_SIZE - 100,
		  .offset = 0 },
		{ .opcode = DBOS_IO_FSYNC, .fd = (int32_t)fd },
		{ .opcode = DBOS_IO_PREAD,
		  .fd = (int32_t)fd,
		  .address = (uint64_t)(uintptr_t)check,
		  .length = sizeof(check),
		  .offset = 0 },
		{ .opcode = DBOS_IO_PREAD,
		  .fd = 4000,
		  .address = (uint64_t)(uintptr_t)check,
		  .length = 8,
		  .offset = 0 },
	};
	int64_t results[4];
	STEP(7, dbos_gateway_run(gateway, ops, results, 4) == DBOS_OK);
	STEP(8, results[0] == 3 * 4096 - 100 && results[1] == 0 && results[2] == 3 * 4096 - 100);
	STEP(9, results[3] == -9); /* EBADF: fd 4000 was never granted */
	for (uint32_t i = 0; i < 3 * DBOS_PAGE_SIZE - 100; i++)
		STEP(10, check[i] == bytes[i + 100]);
	dbos_statx stat;
	dbos_io_op tail[3] = {
		{ .opcode = DBOS_IO_FTRUNCATE, .fd = (int32_t)fd, .offset = 1000 },
		{ .opcode = DBOS_IO_STATX,
		  .fd = (int32_t)fd,
		  .path = (uint64_t)(uintptr_t) "",
		  .flags = 0x1000 /* AT_EMPTY_PATH */,
		  .mode = 0x200 /* STATX_SIZE */,
		  .address = (uint64_t)(uintptr_t)&stat },
		{ .opcode = DBOS_IO_CLOSE, .fd = (int32_t)fd },
	};
	STEP(11, dbos_gateway_run(gateway, tail, results, 3) == DBOS_OK);
	STEP(12, results[0] == 0 && results[1] == 0 && results[2] == 0 && stat.size == 1000);
	dbos_platform_decommit(region, 3 * DBOS_PAGE_SIZE);
	return 0;
}
