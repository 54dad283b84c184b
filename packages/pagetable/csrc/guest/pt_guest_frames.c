/*
 * pt_guest_frames.c - frame pools in the guest: `count` guest-physical frames
 * from the kernel's pool, with their own read-write mapping at
 * frames->address (engine virtual memory) so the engine can load them;
 * FRAME slots of regions map the same frames (aliases, no copies).
 */
#include "pt_guest.h"

dbos_status dbos_pt_rt_frames_init(dbos_pt_frames *frames)
{
	struct dbos_pt_rt_frames *rt = dbos_platform_alloc(sizeof(*rt));
	uint64_t *pa = dbos_platform_alloc(frames->count * sizeof(uint64_t));
	void *address = 0;
	dbos_status status = (!rt || !pa)
				     ? DBOS_ENOMEM
				     : dbos_platform_reserve(frames->count * DBOS_PAGE_SIZE, DBOS_PAGE_SIZE, &address);
	uint64_t mapped = 0;
	for (; status == DBOS_OK && mapped < frames->count; mapped++) {
		status = dbos_guest_frame_alloc(&pa[mapped]);
		if (status != DBOS_OK)
			break;
		status = dbos_guest_pte_map((uint64_t)(uintptr_t)address + mapped * DBOS_PAGE_SIZE, pa[mapped],
					    DBOS_PROT_READ_WRITE);
		if (status != DBOS_OK)
			dbos_guest_frame_free(pa[mapped]);
	}
	if (status != DBOS_OK) {
		for (uint64_t i = 0; i < mapped; i++) {
			(void)dbos_guest_pte_unmap((uint64_t)(uintptr_t)address + i * DBOS_PAGE_SIZE, 0);
			dbos_guest_frame_free(pa[i]);
		}
		dbos_platform_free(pa, frames->count * sizeof(uint64_t));
		dbos_platform_free(rt, sizeof(*rt));
		return status;
	}
	rt->pa = pa;
	frames->rt = rt;
	frames->address = address;
	return DBOS_OK;
}

void dbos_pt_rt_frames_fini(dbos_pt_frames *frames)
{
	struct dbos_pt_rt_frames *rt = frames->rt;
	for (uint64_t i = 0; i < frames->count; i++) {
		(void)dbos_guest_pte_unmap((uint64_t)(uintptr_t)frames->address + i * DBOS_PAGE_SIZE, 0);
		dbos_guest_frame_free(rt->pa[i]);
	}
	dbos_platform_free(rt->pa, frames->count * sizeof(uint64_t));
	dbos_platform_free(rt, sizeof(*rt));
	frames->rt = 0;
	frames->address = 0;
}

dbos_status dbos_pt_rt_frames_release(dbos_pt_frames *frames, uint64_t first, uint64_t count)
{
	/* Zero through the identity map: every alias of the frame reads zeros at once. */
	for (uint64_t i = first; i < first + count; i++)
		__builtin_memset((void *)(uintptr_t)frames->rt->pa[i], 0, DBOS_PAGE_SIZE);
	return DBOS_OK;
}
