/* header.c - the image header the host reads first (dbos/guest_abi.h). */
#include "kernel.h"

extern char __image_start[], __image_end[], __bss_end[];
extern char __entries_start[], __entries_end[];
extern const uint64_t dbos_trap_vectors[256];
void kernel_entry(void);

__attribute__((section(".dbos_header"), used)) const struct dbos_guest_image_header dbos_image_header = {
	.magic = DBOS_GUEST_IMAGE_MAGIC,
	.abi_version = DBOS_GUEST_ABI_VERSION,
	.image_base = (uint64_t)(uintptr_t)__image_start,
	.image_end = (uint64_t)(uintptr_t)__image_end,
	.bss_end = (uint64_t)(uintptr_t)__bss_end,
	.kernel_entry = (uint64_t)(uintptr_t)kernel_entry,
	.vector_table = (uint64_t)(uintptr_t)dbos_trap_vectors,
	.entry_table = (uint64_t)(uintptr_t)__entries_start,
	.entry_table_end = (uint64_t)(uintptr_t)__entries_end,
};

/* entry.S's fast paths hard-code these (COUNT_AND_EOI, the cpu-area mask). */
_Static_assert(__builtin_offsetof(struct dbos_guest_cpu, timer_ticks) == 72, "entry.S timer offset");
_Static_assert(__builtin_offsetof(struct dbos_guest_cpu, completion_irqs) == 80, "entry.S completion offset");
_Static_assert(DBOS_GUEST_CPU_SIZE == 0x40000, "entry.S cpu-area mask");
_Static_assert(DBOS_KCALL_NOP == 0 && DBOS_KCALL_INVLPG == 1, "entry.S kcall fast path");
_Static_assert(DBOS_KCALL_DOORBELL_SYNC == 10 && DBOS_KCALL_DOORBELL_DONE == 11, "entry.S doorbells");
_Static_assert(DBOS_GUEST_PORT_SYNC == 0xdb && DBOS_GUEST_PORT_DONE == 0xdc, "entry.S ports");
