/*
 * platform_guest_memory.c - dbos/platform.h memory inside the guest.
 *
 * Reservations are ranges of the engine's virtual window
 * [DBOS_GUEST_ENGINE_VA, _END) handed out by a bump pointer (a 512 GiB
 * window: ranges are not recycled).  Commit maps pool frames with PTEs,
 * decommit unmaps them and returns the frames.
 */
#include "dbos/guest_kernel.h"

static uint64_t reserve_next = DBOS_GUEST_ENGINE_VA;

dbos_runtime dbos_platform_runtime(void)
{
	return DBOS_RUNTIME_GUEST;
}

dbos_status dbos_platform_reserve(size_t size, size_t alignment, void **address_out)
{
	if (!address_out || size == 0 || !DBOS_IS_ALIGNED(size, DBOS_PAGE_SIZE) || !DBOS_IS_POWER_OF_TWO(alignment) ||
	    alignment < DBOS_PAGE_SIZE)
		return DBOS_EINVAL;
	uint64_t current = __atomic_load_n(&reserve_next, __ATOMIC_RELAXED);
	for (int attempt = 0; attempt < 1024; attempt++) {
		uint64_t start = DBOS_ALIGN_UP(current, (uint64_t)alignment);
		if (start + size < start || start + size > DBOS_GUEST_ENGINE_VA_END)
			return DBOS_ENOMEM;
		if (__atomic_compare_exchange_n(&reserve_next, &current, start + size, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			*address_out = (void *)(uintptr_t)start;
			return DBOS_OK;
		}
	}
	return DBOS_EBUSY;
}

dbos_status dbos_platform_decommit(void *address, size_t size)
{
	uint64_t start = (uint64_t)(uintptr_t)address;
	if (!DBOS_IS_ALIGNED(start, DBOS_PAGE_SIZE) || !DBOS_IS_ALIGNED(size, DBOS_PAGE_SIZE))
		return DBOS_EINVAL;
	for (uint64_t va = start; va < start + size; va += DBOS_PAGE_SIZE) {
		uint64_t pte;
		if (dbos_guest_pte_unmap(va, &pte) == DBOS_OK)
			dbos_guest_frame_free(pte & DBOS_PTE_ADDRESS_MASK);
	}
	return DBOS_OK;
}

dbos_status dbos_platform_unreserve(void *address, size_t size)
{
	return dbos_platform_decommit(address, size);
}

dbos_status dbos_platform_commit(void *address, size_t size, enum dbos_prot prot)
{
	uint64_t start = (uint64_t)(uintptr_t)address;
	if (!DBOS_IS_ALIGNED(start, DBOS_PAGE_SIZE) || !DBOS_IS_ALIGNED(size, DBOS_PAGE_SIZE))
		return DBOS_EINVAL;
	if (prot == DBOS_PROT_NONE)
		return DBOS_OK; /* reserved memory is already inaccessible */
	for (uint64_t va = start; va < start + size; va += DBOS_PAGE_SIZE) {
		uint64_t pa;
		dbos_status status = dbos_guest_frame_alloc(&pa);
		if (status == DBOS_OK) {
			status = dbos_guest_pte_map(va, pa, prot);
			if (status != DBOS_OK)
				dbos_guest_frame_free(pa);
		}
		if (status != DBOS_OK) {
			dbos_platform_decommit(address, va - start);
			return status;
		}
	}
	return DBOS_OK;
}

dbos_status dbos_platform_protect(void *address, size_t size, enum dbos_prot prot)
{
	uint64_t start = (uint64_t)(uintptr_t)address;
	if (prot == DBOS_PROT_NONE)
		return DBOS_ENOTSUP; /* the guest revokes with decommit, which returns the frames */
	for (uint64_t va = start; va < start + size; va += DBOS_PAGE_SIZE) {
		dbos_status status = dbos_guest_pte_protect(va, prot);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

dbos_status dbos_platform_advise(void *address, size_t size, enum dbos_advice advice)
{
	switch (advice) {
	case DBOS_ADVICE_DISCARD:
		/* Committed guest memory is always backed: discarding means zeroing. */
		__builtin_memset(address, 0, size);
		return DBOS_OK;
	case DBOS_ADVICE_POPULATE_WRITE:
	case DBOS_ADVICE_POPULATE_READ:
	case DBOS_ADVICE_NOHUGEPAGE: return DBOS_OK; /* committed guest memory is populated 4 KiB pages already */
	default: return DBOS_ENOTSUP;
	}
}

dbos_status dbos_platform_discard_ranges(const struct dbos_platform_range *ranges, uint32_t count)
{
	if (count > DBOS_PLATFORM_RANGES_MAX || (count && !ranges))
		return DBOS_EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		dbos_status status = dbos_platform_advise(ranges[i].address, ranges[i].size, DBOS_ADVICE_DISCARD);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

const char *dbos_platform_discard_ranges_mechanism(void)
{
	return "zeroing each range (committed guest memory stays backed)";
}

void *dbos_platform_alloc(size_t size)
{
	size_t rounded = DBOS_ALIGN_UP(size, DBOS_PAGE_SIZE);
	void *address = 0;
	if (size == 0 || dbos_platform_reserve(rounded, DBOS_PAGE_SIZE, &address) != DBOS_OK)
		return 0;
	if (dbos_platform_commit(address, rounded, DBOS_PROT_READ_WRITE) != DBOS_OK)
		return 0;
	return address; /* pool frames are zeroed */
}

void dbos_platform_free(void *address, size_t size)
{
	if (address)
		dbos_platform_decommit(address, DBOS_ALIGN_UP(size, DBOS_PAGE_SIZE));
}
