/*
 * dbos/guest_abi.h - the contract between the VMM (host) and the dbos guest
 * kernel: guest memory map, boot block, per-vCPU area, image header, panic
 * record, MMIO doorbells and kernel-call numbers.  Freestanding: the guest
 * kernel and the host VMM both include it, so every struct here has a fixed
 * layout pinned by _Static_assert.
 *
 * Guest-physical memory map.  The guest kernel identity-maps guest RAM
 * (virtual == physical) with 2 MiB pages, except the first 2 MiB (4 KiB
 * pages, page 0 left out so NULL faults) and the per-vCPU areas (4 KiB pages,
 * each engine stack's guard page left out).
 *
 *   0x0000_0000  null page                     not present
 *   0x0000_1000  GDT (6 descriptors + one TSS descriptor per vCPU)
 *   0x0000_2000  IDT (256 x 16-byte gates)
 *   0x0000_3000  TSS array (128 bytes per vCPU)
 *   0x0000_4000  boot block (struct dbos_guest_boot), read-only for the guest
 *   0x0001_0000  boot page tables built by the host: PML4, PDPT, 4 PDs, 3 PTs
 *   0x0010_0000  kernel image (header, text, rodata, data, bss)
 *   0x0040_0000  per-vCPU areas, 256 KiB each, 256 KiB aligned (below)
 *   0x0080_0000  frame pool: every page the guest kernel hands out
 *   RAM end - 1 MiB  scratch: never used by the guest kernel; the host places
 *                request buffers here (tests, JavaScript)
 *   0xf000_0000  MMIO doorbell page (no memory slot: writes exit or hit ioeventfd)
 *   0x80_0000_0000 and up: engine virtual memory, mapped with 4 KiB pages by
 *                the guest at run time (dbos_guest_pte_map)
 *
 * Per-vCPU area (base = DBOS_GUEST_CPU_GPA + index * DBOS_GUEST_CPU_SIZE).
 * Every stack of a vCPU lies inside its area, so `rsp & ~(CPU_SIZE - 1)`
 * finds the vCPU's struct dbos_guest_cpu from any ring without a register.
 *
 *   +0x00000  struct dbos_guest_cpu (one page)
 *   +0x01000  hypercall ring (struct dbos_hc_ring, two pages)
 *   +0x04000  IST stack, 16 KiB (#DF, NMI, #MC)
 *   +0x08000  kernel stack, 32 KiB (TSS.rsp0: traps from ring 3 land here)
 *   +0x10000  guard page, not mapped: an engine stack overflow faults here
 *             instead of running into the kernel stack
 *   +0x11000  engine stack, 188 KiB (ring 3 on PVM, ring 0 on hardware)
 */
#ifndef DBOS_GUEST_ABI_H
#define DBOS_GUEST_ABI_H

#include <stdint.h>

#if defined(__cplusplus) && !defined(_Static_assert)
#define _Static_assert static_assert /* C++ spells it without the underscore */
#endif

#define DBOS_GUEST_ABI_VERSION 1u

#define DBOS_GUEST_GDT_GPA 0x1000u
#define DBOS_GUEST_IDT_GPA 0x2000u
#define DBOS_GUEST_TSS_GPA 0x3000u
#define DBOS_GUEST_TSS_STRIDE 128u
#define DBOS_GUEST_BOOT_GPA 0x4000u
#define DBOS_GUEST_PT_GPA 0x10000u
#define DBOS_GUEST_PT_SIZE 0x9000u /* PML4 + PDPT + 4 PD + 3 PT */
#define DBOS_GUEST_IMAGE_GPA 0x100000u
#define DBOS_GUEST_IMAGE_SIZE_MAX 0x300000u
#define DBOS_GUEST_CPU_GPA 0x400000u
#define DBOS_GUEST_CPU_SIZE 0x40000u
#define DBOS_GUEST_VCPU_MAX 16u
#define DBOS_GUEST_POOL_GPA 0x800000u
#define DBOS_GUEST_MMIO_GPA 0xf0000000u
#define DBOS_GUEST_SCRATCH_SIZE 0x100000u
#define DBOS_GUEST_RAM_MIN (16u << 20)
#define DBOS_GUEST_RAM_MAX (3ull << 30)      /* stays below the MMIO page */
#define DBOS_GUEST_RAM_ALIGN (2u << 20)      /* guest RAM comes in whole 2 MiB pages */
#define DBOS_GUEST_ENGINE_VA 0x8000000000ull /* PML4 slot 1: engine-managed mappings */
#define DBOS_GUEST_ENGINE_VA_END 0x10000000000ull

#define DBOS_GUEST_CPU_RING_OFFSET 0x1000u
#define DBOS_GUEST_CPU_IST_TOP 0x8000u
#define DBOS_GUEST_CPU_KSTACK_TOP 0x10000u
#define DBOS_GUEST_CPU_GUARD 0x10000u /* one unmapped page */
#define DBOS_GUEST_CPU_ESTACK_TOP 0x40000u

/* GDT selectors (SYSCALL/SYSRET-compatible order; see docs/guest-boot.md). */
#define DBOS_GUEST_SEL_KCODE 0x08u
#define DBOS_GUEST_SEL_KDATA 0x10u
#define DBOS_GUEST_SEL_UDATA 0x23u /* 0x20 | RPL 3 */
#define DBOS_GUEST_SEL_UCODE 0x2bu /* 0x28 | RPL 3 */
#define DBOS_GUEST_SEL_TSS0 0x30u  /* vCPU i uses 0x30 + 16 * i */

/* Interrupt vectors above the 32 exceptions. */
#define DBOS_GUEST_VECTOR_TIMER 0x40u
#define DBOS_GUEST_VECTOR_COMPLETION 0x41u
#define DBOS_GUEST_VECTOR_SPURIOUS 0xffu

/* MMIO doorbells: 8-byte slots in the doorbell page. */
#define DBOS_GUEST_DOORBELL_SYNC 0x000u  /* exit: the vCPU thread drains this vCPU's ring */
#define DBOS_GUEST_DOORBELL_DONE 0x008u  /* exit: the current call returned */
#define DBOS_GUEST_DOORBELL_PANIC 0x010u /* exit: cpu->panic holds a report */
#define DBOS_GUEST_DOORBELL_ASYNC 0x100u /* + 8 * vcpu: ioeventfd, served by the VMM's service thread */

/*
 * The same SYNC and DONE doorbells as I/O ports.  Only ring 0 may execute
 * OUT, so the ring-3 engine reaches them through the int3 gate
 * (DBOS_KCALL_DOORBELL_SYNC / _DONE, an assembly fast path).  On PVM this
 * measured slower than the MMIO form (the OUT exit from emulated ring 0 is
 * expensive), so MMIO is the default and the ports are the alternative.
 */
#define DBOS_GUEST_PORT_SYNC 0xdbu
#define DBOS_GUEST_PORT_DONE 0xdcu

#define DBOS_GUEST_IMAGE_MAGIC 0x3154534f47534f44ull /* "DOSGOST1" little-endian */
#define DBOS_GUEST_CPU_MAGIC 0x55504354u             /* "TCPU" */

/* Written by the host before the first KVM_RUN; the guest only reads it. */
struct dbos_guest_boot {
	uint64_t abi_version;
	uint64_t ram_size; /* bytes of guest RAM at guest-physical 0 */
	uint64_t vcpu_count;
	uint64_t engine_ring; /* 0: engine code in ring 0 (hardware), 3: ring 3 behind int3 (PVM) */
	uint64_t pool_start;  /* first frame of the frame pool */
	uint64_t pool_end;    /* one past the last frame */
	uint64_t mmio_gpa;
	uint64_t tsc_khz;     /* TSC rate for dbos_guest_tsc_to_ns (KVM_GET_TSC_KHZ) */
	uint64_t scratch_gpa; /* RAM the guest kernel never uses: the host's buffers */
	uint64_t scratch_size;
	uint64_t reserved[6];
};
_Static_assert(sizeof(struct dbos_guest_boot) == 128, "boot block layout");
_Static_assert(DBOS_GUEST_PT_GPA + DBOS_GUEST_PT_SIZE <= DBOS_GUEST_IMAGE_GPA, "page tables below the image");
_Static_assert(DBOS_GUEST_CPU_GPA % (2u << 20) == 0 &&
		       DBOS_GUEST_CPU_GPA + DBOS_GUEST_VCPU_MAX * DBOS_GUEST_CPU_SIZE == DBOS_GUEST_POOL_GPA &&
		       DBOS_GUEST_POOL_GPA - DBOS_GUEST_CPU_GPA == 2 * (2u << 20),
	       "the cpu areas are exactly the two 2 MiB pages mapped with 4 KiB tables");

/* The first bytes of the image; addresses are guest-virtual (== physical). */
struct dbos_guest_image_header {
	uint64_t magic;
	uint64_t abi_version;
	uint64_t image_base;   /* must be DBOS_GUEST_IMAGE_GPA */
	uint64_t image_end;    /* end of the loaded bytes */
	uint64_t bss_end;      /* end of zero-initialised memory */
	uint64_t kernel_entry; /* ring 0, rdi = struct dbos_guest_cpu * */
	uint64_t vector_table; /* uint64_t[256]: trap stub per vector, 0 = none */
	uint64_t entry_table;  /* struct dbos_guest_entry[] ... */
	uint64_t entry_table_end;
	uint64_t reserved[7];
};
_Static_assert(sizeof(struct dbos_guest_image_header) == 128, "image header layout");

/* A named entry point JS may call: int64_t fn(uint64_t, uint64_t, uint64_t, uint64_t). */
struct dbos_guest_entry {
	uint64_t name; /* NUL-terminated, inside the image */
	uint64_t function;
};

#define DBOS_GUEST_ENTRY_ARGS 4u
#define DBOS_GUEST_PANIC_MESSAGE_SIZE 192u

/* Register dump of a trap, in the order the trap stub pushes them. */
struct dbos_guest_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
_Static_assert(sizeof(struct dbos_guest_regs) == 22 * 8, "trap frame layout");

struct dbos_guest_panic {
	uint64_t valid; /* 1 once filled */
	uint64_t cr2, cr3;
	struct dbos_guest_regs regs;
	char message[DBOS_GUEST_PANIC_MESSAGE_SIZE];
};

/*
 * The first page of a per-vCPU area.  Host-written fields: magic, index,
 * call_*.  Guest-written: result, done_seq, counters, panic.
 */
struct dbos_guest_cpu {
	uint32_t magic;
	uint32_t index;
	uint64_t call_seq; /* host bumps it for each call */
	uint64_t call_function;
	uint64_t call_args[DBOS_GUEST_ENTRY_ARGS];
	uint64_t call_result;
	uint64_t done_seq; /* guest copies call_seq here when the call returns */
	uint64_t timer_ticks;
	uint64_t completion_irqs;
	uint64_t fault_count; /* page faults resolved by a registered handler */
	uint64_t kcall_count; /* kernel calls that took the full trap path (not NOP/INVLPG) */
	uint64_t reserved[4];
	struct dbos_guest_panic panic;
};
_Static_assert(sizeof(struct dbos_guest_cpu) <= 4096, "cpu page");

/* Kernel calls: the engine's way into the guest kernel (int3 gate from ring 3). */
enum dbos_kcall {
	DBOS_KCALL_NOP = 0,
	DBOS_KCALL_INVLPG = 1,           /* (va) */
	DBOS_KCALL_FLUSH_TLB = 2,        /* () reload CR3 */
	DBOS_KCALL_TIMER_START = 3,      /* (period_ns) periodic LAPIC timer */
	DBOS_KCALL_TIMER_STOP = 4,       /* () */
	DBOS_KCALL_FAULT_REGISTER = 5,   /* (start, end, handler, context) -> slot */
	DBOS_KCALL_FAULT_UNREGISTER = 6, /* (slot) */
	DBOS_KCALL_PANIC = 7,            /* (message) never returns */
	DBOS_KCALL_HALT = 8,             /* () sti; hlt: sleep until an interrupt */
	DBOS_KCALL_FAULT_UNHANDLED = 9,  /* (upcall frame) internal: a ring-3 #PF nobody resolved */
	DBOS_KCALL_DOORBELL_SYNC = 10,   /* () out DBOS_GUEST_PORT_SYNC: the hypercall ring's sync doorbell */
	DBOS_KCALL_DOORBELL_DONE = 11,   /* () out DBOS_GUEST_PORT_DONE: the call in the mailbox returned */
	DBOS_KCALL_COUNT
};

#endif /* DBOS_GUEST_ABI_H */
