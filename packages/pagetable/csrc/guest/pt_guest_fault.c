/*
 * pt_guest_fault.c - first touches of a region's lazy pages.
 *
 * The guest kernel calls pt_guest_fault_handler on the faulting vCPU (by
 * upcall in ring 3 on PVM, inside the #PF trap where the engine runs in ring
 * 0): there is no fault thread, the toucher is simply suspended while the
 * handler runs.  Without a core handler (faults not
 * enabled) a lazy page gets a zeroed frame; with one, the core's handler
 * decides (MISSING) and resolves through fault_copy / fault_zero.  A fault on
 * an UNMAPPED or PROT_NONE page is not ours: returning false makes the kernel
 * report a guest panic with the address, the guest's SIGSEGV.
 */
#include "pt_guest.h"

#define PF_ERROR_WRITE 0x2u

bool pt_guest_fault_handler(void *context, uint64_t address, uint64_t error_code)
{
	dbos_pt_region *region = context;
	uint64_t page = (address - (uint64_t)(uintptr_t)region->base) / DBOS_PAGE_SIZE;
	uint64_t entry = dbos_guest_pte_query(pt_guest_va(region, page));
	if (entry & DBOS_PTE_PRESENT)
		return true; /* another vCPU backed it first: retry */
	if (!(entry & PT_GUEST_LAZY))
		return false;
	enum dbos_prot prot = (enum dbos_prot)((entry >> PT_GUEST_PROT_SHIFT) & DBOS_PROT_READ_WRITE);
	if (prot == DBOS_PROT_NONE || ((error_code & PF_ERROR_WRITE) && !(prot & DBOS_PROT_WRITE)))
		return false;
	if (!region->fault_handler)
		return pt_guest_page_back(region, page, 0) == DBOS_OK;
	dbos_pt_fault fault = {
		.region = region,
		.page = page,
		.kind = DBOS_PT_FAULT_MISSING,
		.write = (error_code & PF_ERROR_WRITE) != 0,
		.runtime = 0,
	};
	dbos_pt_fault_dispatch(&fault); /* resolves, or calls dbos_pt_rt_fault_fail */
	return (dbos_guest_pte_query(pt_guest_va(region, page)) & DBOS_PTE_PRESENT) != 0;
}

dbos_status dbos_pt_rt_fault_enable(dbos_pt_region *region)
{
	(void)region; /* the #PF handler is registered for the region's life; it reads fault_handler */
	return DBOS_OK;
}

dbos_status dbos_pt_rt_fault_disable(dbos_pt_region *region)
{
	(void)region;
	return DBOS_OK;
}

dbos_status dbos_pt_rt_fault_copy(const dbos_pt_fault *fault, const void *bytes)
{
	return pt_guest_page_back(fault->region, fault->page, bytes);
}

dbos_status dbos_pt_rt_fault_zero(const dbos_pt_fault *fault)
{
	return pt_guest_page_back(fault->region, fault->page, 0);
}

dbos_status dbos_pt_rt_fault_continue(const dbos_pt_fault *fault)
{
	(void)fault;
	return DBOS_ENOTSUP; /* no MINOR faults: FRAME slots are mapped when set */
}

void dbos_pt_rt_fault_fail(const dbos_pt_fault *fault)
{
	/* No poison in the guest: a failed fault reads zeros, as the contract allows. */
	(void)pt_guest_page_back(fault->region, fault->page, 0);
}
