/*
 * alloc_slot_guest.c - the guest's cache-slot hook: one slot per vCPU.
 *
 * The guest runs one engine thread per vCPU and never switches threads on a
 * vCPU (dbos_platform_yield is a pause there), so the vCPU index names the
 * only thread that can be inside the allocator on it.  A guest scheduler that
 * multiplexes fibers on a vCPU must keep preemption off across dbos_alloc and
 * dbos_alloc_free, or give each fiber its own slot.
 */
#include "../alloc_internal.h"

uint32_t dbos_alloc_slot_current(void)
{
	uint32_t index = dbos_platform_cpu_id();
	return index < ALLOC_SLOT_COUNT_MAX ? index : UINT32_MAX;
}
