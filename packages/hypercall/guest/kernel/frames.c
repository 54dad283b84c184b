/*
 * frames.c - the guest-physical frame pool: [boot->pool_start, pool_end).
 *
 * Fresh frames come from a bump pointer (guest RAM starts zeroed: it is a new
 * memfd); freed frames go on a LIFO list threaded through their first word
 * and are zeroed by the freer, so allocation never zeroes and stays short in
 * ring 0 (a #PF handler allocates).  The list is guarded by a spinlock: it is
 * only taken by code that cannot fault while holding it.
 */
#include "kernel.h"

static uint64_t pool_next;      /* next never-used frame; 0 until first use */
static uint64_t free_list_head; /* pa of the first freed frame, 0: empty */
static uint32_t free_list_lock;

static void pool_lock(void)
{
	while (__atomic_exchange_n(&free_list_lock, 1, __ATOMIC_ACQUIRE))
		__asm__ volatile("pause");
}

static void pool_unlock(void)
{
	__atomic_store_n(&free_list_lock, 0, __ATOMIC_RELEASE);
}

static bool frame_in_pool(uint64_t pa)
{
	const volatile struct dbos_guest_boot *boot = dbos_guest_boot_block();
	return DBOS_IS_ALIGNED(pa, DBOS_PAGE_SIZE) && pa >= boot->pool_start && pa < boot->pool_end;
}

dbos_status dbos_guest_frame_alloc(uint64_t *pa_out)
{
	const volatile struct dbos_guest_boot *boot = dbos_guest_boot_block();
	pool_lock();
	uint64_t pa = free_list_head;
	if (pa) {
		uint64_t *frame = (uint64_t *)(uintptr_t)pa;
		free_list_head = frame[0];
		frame[0] = 0; /* the link word was the only non-zero word */
	} else {
		if (pool_next == 0)
			pool_next = boot->pool_start;
		if (pool_next < boot->pool_end) {
			pa = pool_next;
			pool_next += DBOS_PAGE_SIZE;
		}
	}
	pool_unlock();
	if (!pa)
		return DBOS_ENOMEM;
	*pa_out = pa;
	return DBOS_OK;
}

void dbos_guest_frame_free(uint64_t pa)
{
	if (!frame_in_pool(pa))
		dbos_platform_panic(__FILE__, __LINE__, "frame_free: not a pool frame");
	__builtin_memset((void *)(uintptr_t)pa, 0, DBOS_PAGE_SIZE);
	pool_lock();
	*(uint64_t *)(uintptr_t)pa = free_list_head;
	free_list_head = pa;
	pool_unlock();
}
