/*
 * pt_fault.c - fault hooks: enabling, dispatching a runtime's fault to the
 * engine's handler, and the resolution calls the handler makes.
 *
 * Every delivered fault ends resolved exactly once: by the handler (copy,
 * zero or continue) or, when the handler fails or forgets, by
 * dbos_pt_rt_fault_fail (poison or zeros), so no faulting thread waits forever.
 */
#include "pt_internal.h"

/* The fault the handler sees, plus whether it has been resolved. */
typedef struct fault_slot {
	dbos_pt_fault fault; /* first: handlers get &slot->fault */
	bool resolved;
} fault_slot;

static fault_slot *slot_of(const dbos_pt_fault *fault)
{
	return (fault_slot *)(uintptr_t)fault;
}

dbos_status dbos_pt_fault_enable(dbos_pt_region *region, dbos_pt_fault_fn handler, void *context)
{
	if (region == NULL || handler == NULL)
		return DBOS_EINVAL;
	if (region->fault_handler != NULL)
		return DBOS_EBUSY;
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	if (capabilities.faults == DBOS_PT_FAULT_NONE)
		return DBOS_ENOTSUP;
	/* Set before the runtime starts delivering: its thread reads them. */
	region->fault_context = context;
	region->fault_handler = handler;
	dbos_status status = dbos_pt_rt_fault_enable(region);
	if (status != DBOS_OK) {
		region->fault_handler = NULL;
		region->fault_context = NULL;
	}
	return status;
}

dbos_status dbos_pt_fault_disable(dbos_pt_region *region)
{
	if (region == NULL)
		return DBOS_EINVAL;
	if (region->fault_handler == NULL)
		return DBOS_OK;
	/* The runtime stops delivering (and wakes waiters) before the handler is forgotten. */
	dbos_status status = dbos_pt_rt_fault_disable(region);
	region->fault_handler = NULL;
	region->fault_context = NULL;
	return status;
}

void dbos_pt_fault_dispatch(dbos_pt_fault *fault)
{
	DBOS_ASSERT(fault != NULL && fault->region != NULL);
	dbos_pt_region *region = fault->region;
	DBOS_ASSERT(fault->page < region->page_count);
	DBOS_ASSERT(region->fault_handler != NULL);
	fault_slot slot = { *fault, false };
	dbos_status status = region->fault_handler(region->fault_context, &slot.fault);
	if (slot.resolved)
		return;
	(void)status; /* resolved or not is what counts; an OK without a resolution is a failure too */
	/* Counted before the resolution wakes the toucher, so it sees the count. */
	atomic_fetch_add(&region->faults_failed, 1);
	dbos_pt_rt_fault_fail(fault);
}

/* Count a resolution before making it (the toucher may look at the stats as soon as it wakes). */
static dbos_status resolve_counted(fault_slot *slot, dbos_status (*resolve)(const dbos_pt_fault *, const void *),
				   const void *bytes)
{
	dbos_pt_region *region = slot->fault.region;
	atomic_fetch_add(&region->faults_served, 1);
	dbos_status status = resolve(&slot->fault, bytes);
	if (status != DBOS_OK)
		atomic_fetch_sub(&region->faults_served, 1);
	slot->resolved = status == DBOS_OK;
	return status;
}

static dbos_status resolve_copy(const dbos_pt_fault *fault, const void *bytes)
{
	return dbos_pt_rt_fault_copy(fault, bytes);
}

static dbos_status resolve_zero(const dbos_pt_fault *fault, const void *bytes)
{
	(void)bytes;
	return dbos_pt_rt_fault_zero(fault);
}

static dbos_status resolve_continue(const dbos_pt_fault *fault, const void *bytes)
{
	(void)bytes;
	return dbos_pt_rt_fault_continue(fault);
}

dbos_status dbos_pt_fault_copy(const dbos_pt_fault *fault, const void *bytes)
{
	if (fault == NULL || bytes == NULL || fault->kind != DBOS_PT_FAULT_MISSING)
		return DBOS_EINVAL;
	fault_slot *slot = slot_of(fault);
	if (slot->resolved)
		return DBOS_EINVAL;
	return resolve_counted(slot, resolve_copy, bytes);
}

dbos_status dbos_pt_fault_zero(const dbos_pt_fault *fault)
{
	if (fault == NULL || fault->kind != DBOS_PT_FAULT_MISSING)
		return DBOS_EINVAL;
	fault_slot *slot = slot_of(fault);
	if (slot->resolved)
		return DBOS_EINVAL;
	return resolve_counted(slot, resolve_zero, NULL);
}

dbos_status dbos_pt_fault_continue(const dbos_pt_fault *fault)
{
	if (fault == NULL || fault->kind != DBOS_PT_FAULT_MINOR)
		return DBOS_EINVAL;
	fault_slot *slot = slot_of(fault);
	if (slot->resolved)
		return DBOS_EINVAL;
	return resolve_counted(slot, resolve_continue, NULL);
}

dbos_status dbos_pt_fault_fill(void *context, const dbos_pt_fault *fault)
{
	const dbos_pt_fill *fill = context;
	DBOS_ASSERT(fill != NULL && fault != NULL);
	if (fault->kind == DBOS_PT_FAULT_MINOR)
		return dbos_pt_fault_continue(fault);
	if (fill->byte == 0 && !fill->stamp_index)
		return dbos_pt_fault_zero(fault);
	/* The fault thread's stack holds one page comfortably. */
	uint8_t page[DBOS_PAGE_SIZE] __attribute__((aligned(64)));
	__builtin_memset(page, fill->byte, sizeof(page));
	if (fill->stamp_index) {
		uint64_t index = fault->page;
		for (unsigned byte = 0; byte < sizeof(index); byte++)
			page[byte] = (uint8_t)(index >> (8 * byte));
	}
	return dbos_pt_fault_copy(fault, page);
}
