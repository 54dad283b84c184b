/*
 * alloc_memory_host.c - the host's memory size: the machine's RAM, read once,
 * the bound alloc_memory_fits() keeps each request under.
 */
#include <stdatomic.h>
#include <sys/sysinfo.h>

#include "../alloc_internal.h"

uint64_t dbos_alloc_memory_bytes(void)
{
	static _Atomic uint64_t total_bytes;
	uint64_t total = atomic_load_explicit(&total_bytes, memory_order_relaxed);
	if (total == 0) {
		struct sysinfo info;
		total = sysinfo(&info) == 0 ? (uint64_t)info.totalram * info.mem_unit : 0;
		if (total == 0)
			total = (uint64_t)1 << 30; /* unknown: assume a small machine rather than a limitless one */
		atomic_store_explicit(&total_bytes, total, memory_order_relaxed);
	}
	return total;
}
