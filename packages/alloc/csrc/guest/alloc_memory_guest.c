/*
 * alloc_memory_guest.c - the guest's memory size for alloc_memory_fits(): the
 * guest kernel has no query for its frame pool, and every page a pool backs
 * comes from that pool, which refuses (DBOS_ENOMEM) when empty.
 */
#include "../alloc_internal.h"

uint64_t dbos_alloc_memory_bytes(void)
{
	return UINT64_MAX;
}
