/*
 * pt_guest_region.c - the region's pages as PTEs (see pt_guest.h for the
 * encoding).  Every edit issues a local INVLPG (dbos_guest_pte_*), so
 * batch_end has nothing left to do on this vCPU; other vCPUs that cached an
 * entry of the region are not shot down (the libdbos model: the engine
 * decides when a TLB shootdown is worth it).
 */
#include "pt_guest.h"

void dbos_pt_rt_probe(dbos_pt_capabilities *capabilities)
{
	*capabilities = (dbos_pt_capabilities){
		.runtime = DBOS_RUNTIME_GUEST,
		.dirty = DBOS_PT_DIRTY_PTE_BITS,
		.faults = DBOS_PT_FAULT_GUEST_PF,
		.faults_minor = false, /* FRAME slots are mapped when set: nothing to fault in */
		.accessed = DBOS_PT_ACCESSED_PTE_BITS,
		.present = true,
		.huge_pages = DBOS_PT_HUGE_NONE,
		.frames = true,
	};
}

uint64_t dbos_pt_rt_memory_bytes(void)
{
	/*
	 * The guest kernel has no query for its frame pool's size; every page it
	 * backs comes from that pool, which refuses (DBOS_ENOMEM) when empty, so
	 * the core's bound is not needed here.
	 */
	return UINT64_MAX;
}

dbos_status dbos_pt_rt_region_init(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = dbos_platform_alloc(sizeof(*rt));
	if (!rt)
		return DBOS_ENOMEM;
	void *base = 0;
	dbos_status status = dbos_platform_reserve(region->size, DBOS_HUGE_PAGE_SIZE, &base);
	if (status != DBOS_OK) {
		dbos_platform_free(rt, sizeof(*rt));
		return status;
	}
	region->base = base;
	region->rt = rt;
	/* Lazy pages need their first touch served even before fault_enable. */
	rt->fault_slot = dbos_guest_fault_register((uint64_t)(uintptr_t)base, (uint64_t)(uintptr_t)base + region->size,
						   pt_guest_fault_handler, region);
	if (rt->fault_slot < 0) {
		dbos_platform_free(rt, sizeof(*rt));
		region->rt = 0;
		return DBOS_ELIMIT; /* the guest kernel's handler slots are all taken */
	}
	return DBOS_OK;
}

void dbos_pt_rt_region_fini(dbos_pt_region *region)
{
	struct dbos_pt_rt_region *rt = region->rt;
	DBOS_ASSERT(rt != 0);
	dbos_guest_fault_unregister(rt->fault_slot);
	for (uint64_t page = 0; page < region->page_count; page++)
		pt_guest_page_clear(region, page);
	(void)dbos_platform_unreserve(region->base, region->size);
	dbos_platform_free(rt, sizeof(*rt));
	region->rt = 0;
	region->base = 0;
}

void pt_guest_page_clear(const dbos_pt_region *region, uint64_t page)
{
	uint64_t old = 0;
	dbos_status status = dbos_guest_pte_unmap(pt_guest_va(region, page), &old);
	bool holds_frame = status == DBOS_OK || (old & PT_GUEST_HIDDEN);
	if (holds_frame && (old & PT_GUEST_ANON_TAG))
		dbos_guest_frame_free(old & DBOS_PTE_ADDRESS_MASK);
}

static dbos_status page_set_lazy(const dbos_pt_region *region, uint64_t page, enum dbos_prot prot)
{
	pt_guest_page_clear(region, page);
	return dbos_guest_pte_set_absent(pt_guest_va(region, page),
					 PT_GUEST_LAZY | ((uint64_t)prot << PT_GUEST_PROT_SHIFT));
}

dbos_status pt_guest_page_back(const dbos_pt_region *region, uint64_t page, const void *bytes)
{
	uint64_t va = pt_guest_va(region, page);
	uint64_t marker = dbos_guest_pte_query(va);
	if (marker & DBOS_PTE_PRESENT)
		return DBOS_OK; /* already backed (another vCPU's touch won) */
	if (!(marker & PT_GUEST_LAZY))
		return DBOS_EFAULT; /* UNMAPPED: not ours to back */
	enum dbos_prot prot = (enum dbos_prot)((marker >> PT_GUEST_PROT_SHIFT) & DBOS_PROT_READ_WRITE);
	uint64_t pa;
	dbos_status status = dbos_guest_frame_alloc(&pa);
	if (status != DBOS_OK)
		return status;
	if (bytes) /* fill through the identity map: the page may be read-only */
		__builtin_memcpy((void *)(uintptr_t)pa, bytes, DBOS_PAGE_SIZE);
	status = dbos_guest_pte_map_tagged(va, pa, prot == DBOS_PROT_NONE ? DBOS_PROT_READ : prot, PT_GUEST_ANON_TAG);
	if (status != DBOS_OK)
		dbos_guest_frame_free(pa);
	return status == DBOS_EEXIST ? DBOS_OK : status;
}

dbos_status dbos_pt_rt_map_anon(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot)
{
	for (uint64_t page = first; page < first + count; page++) {
		dbos_status status = page_set_lazy(region, page, prot);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

dbos_status dbos_pt_rt_map_frames(dbos_pt_region *region, uint64_t first, uint64_t count, dbos_pt_frames *frames,
				  uint64_t frame_first, enum dbos_prot prot)
{
	DBOS_ASSERT(frame_first + count <= frames->count);
	for (uint64_t i = 0; i < count; i++) {
		pt_guest_page_clear(region, first + i);
		dbos_status status = prot == DBOS_PROT_NONE ? DBOS_OK
							    : dbos_guest_pte_map(pt_guest_va(region, first + i),
										 frames->rt->pa[frame_first + i], prot);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

dbos_status dbos_pt_rt_unmap(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	for (uint64_t page = first; page < first + count; page++)
		pt_guest_page_clear(region, page);
	return DBOS_OK;
}

dbos_status dbos_pt_rt_discard_anon(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	for (uint64_t page = first; page < first + count; page++) {
		uint64_t entry = dbos_guest_pte_query(pt_guest_va(region, page));
		if (entry & PT_GUEST_LAZY)
			continue; /* never touched: already reads zeros */
		enum dbos_prot prot = (entry & PT_GUEST_HIDDEN)  ? DBOS_PROT_NONE
				      : (entry & DBOS_PTE_WRITE) ? DBOS_PROT_READ_WRITE
								 : DBOS_PROT_READ;
		dbos_status status = page_set_lazy(region, page, prot);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

static dbos_status page_protect(const dbos_pt_region *region, uint64_t page, enum dbos_prot prot)
{
	uint64_t va = pt_guest_va(region, page);
	uint64_t entry = dbos_guest_pte_query(va);
	uint64_t keep = entry & (DBOS_PTE_ADDRESS_MASK | PT_GUEST_ANON_TAG);
	if (entry & DBOS_PTE_PRESENT) {
		if (prot != DBOS_PROT_NONE)
			return dbos_guest_pte_protect(va, prot);
		uint64_t old = 0; /* PROT_NONE: hide the frame in an absent entry */
		dbos_status status = dbos_guest_pte_unmap(va, &old);
		return status != DBOS_OK ? status : dbos_guest_pte_set_absent(va, keep | PT_GUEST_HIDDEN);
	}
	if (entry & PT_GUEST_HIDDEN)
		return prot == DBOS_PROT_NONE ? DBOS_OK
					      : dbos_guest_pte_map_tagged(va, entry & DBOS_PTE_ADDRESS_MASK, prot,
									  entry & PT_GUEST_ANON_TAG);
	if (entry & PT_GUEST_LAZY) {
		uint64_t old = 0;
		(void)dbos_guest_pte_unmap(va, &old);
		return dbos_guest_pte_set_absent(va, PT_GUEST_LAZY | ((uint64_t)prot << PT_GUEST_PROT_SHIFT));
	}
	return DBOS_EINVAL; /* the core only protects ANON or FRAME runs */
}

dbos_status dbos_pt_rt_protect(dbos_pt_region *region, uint64_t first, uint64_t count, enum dbos_prot prot)
{
	for (uint64_t page = first; page < first + count; page++) {
		dbos_status status = page_protect(region, page, prot);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

dbos_status dbos_pt_rt_populate(dbos_pt_region *region, uint64_t first, uint64_t count)
{
	for (uint64_t page = first; page < first + count; page++) {
		dbos_status status = pt_guest_page_back(region, page, 0);
		if (status != DBOS_OK && status != DBOS_EFAULT)
			return status;
	}
	return DBOS_OK;
}

dbos_status dbos_pt_rt_move_anon(dbos_pt_region *region, uint64_t source, uint64_t target, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		uint64_t from = pt_guest_va(region, source + i), to = pt_guest_va(region, target + i);
		pt_guest_page_clear(region, target + i);
		uint64_t old = 0;
		dbos_status status = dbos_guest_pte_unmap(from, &old);
		if (status == DBOS_ENOENT) { /* lazy (or unmapped) source: move the marker */
			status = dbos_guest_pte_set_absent(to, old);
		} else if (status == DBOS_OK) { /* backed: the same frame, no copy */
			enum dbos_prot prot = (old & DBOS_PTE_WRITE) ? DBOS_PROT_READ_WRITE : DBOS_PROT_READ;
			status = dbos_guest_pte_map_tagged(to, old & DBOS_PTE_ADDRESS_MASK, prot,
							   old & DBOS_PTE_SOFTWARE_MASK);
		}
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

void dbos_pt_rt_batch_end(dbos_pt_region *region)
{
	(void)region; /* every PTE edit already flushed this vCPU's entry */
}
