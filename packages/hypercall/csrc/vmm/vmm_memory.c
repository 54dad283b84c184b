/*
 * vmm_memory.c - guest RAM and the x86 structures the host builds in it
 * before the first KVM_RUN: GDT, IDT, per-vCPU TSS, boot page tables, boot
 * block.  After the first KVM_RUN the host never writes these again (PVM's
 * shadow MMU would not notice page-table edits made by the host).
 *
 * Guest RAM is a memfd mapped MAP_SHARED here; KVM maps the same pages at
 * guest-physical 0, so guest-physical -> host pointer is `ram + gpa`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm.h"

dbos_status vmm_memory_create(struct dbos_guest *vm, char *reason, size_t reason_size)
{
	vm->memory_fd = memfd_create("dbos-guest-ram", MFD_CLOEXEC);
	if (vm->memory_fd < 0) {
		vmm_set_reason(reason, reason_size, "memfd_create: %s", strerror(errno));
		return DBOS_ENOMEM;
	}
	if (ftruncate(vm->memory_fd, (off_t)vm->ram_size) != 0) {
		vmm_set_reason(reason, reason_size, "ftruncate guest RAM: %s", strerror(errno));
		return DBOS_ENOMEM;
	}
	void *ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->memory_fd, 0);
	if (ram == MAP_FAILED) {
		vmm_set_reason(reason, reason_size, "mmap guest RAM: %s", strerror(errno));
		return DBOS_ENOMEM;
	}
	vm->ram = ram;
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->ram_size,
		.userspace_addr = (uint64_t)(uintptr_t)ram,
	};
	if (vmm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&region) != 0) {
		vmm_set_reason(reason, reason_size, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return DBOS_ENOMEM;
	}
	return DBOS_OK;
}

void vmm_memory_destroy(struct dbos_guest *vm)
{
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->memory_fd >= 0)
		close(vm->memory_fd);
	vm->ram = NULL;
	vm->ram_size = 0; /* every later range check fails */
	vm->memory_fd = -1;
}

void *vmm_memory_range(const struct dbos_guest *vm, uint64_t gpa, uint64_t size)
{
	/* Written so that no sum can overflow: size first, then gpa against what is left. */
	if (!vm->ram || size > vm->ram_size || gpa > vm->ram_size - size)
		return NULL;
	return vm->ram + gpa;
}

void *vmm_memory_range_writable(const struct dbos_guest *vm, uint64_t gpa, uint64_t size)
{
	if (gpa < DBOS_GUEST_IMAGE_GPA)
		return NULL; /* GDT, IDT, TSS, boot block and boot page tables */
	return vmm_memory_range(vm, gpa, size);
}

struct dbos_guest_cpu *vmm_memory_cpu(const struct dbos_guest *vm, uint32_t index)
{
	return (struct dbos_guest_cpu *)(vm->ram + DBOS_GUEST_CPU_GPA + (uint64_t)index * DBOS_GUEST_CPU_SIZE);
}

struct dbos_hc_ring *vmm_memory_ring(const struct dbos_guest *vm, uint32_t index)
{
	return (struct dbos_hc_ring *)((uint8_t *)vmm_memory_cpu(vm, index) + DBOS_GUEST_CPU_RING_OFFSET);
}

/* ---- x86 descriptors ---------------------------------------------------- */

#define GDT_KERNEL_CODE64 0x00af9a000000ffffull /* P, DPL 0, code exec/read, L, G */
#define GDT_KERNEL_DATA 0x00cf92000000ffffull   /* P, DPL 0, data read/write, D/B, G */
#define GDT_USER_CODE32 0x00cffa000000ffffull   /* never loaded: SYSRET finds user code64 one slot after it */
#define GDT_USER_DATA 0x00cff2000000ffffull     /* P, DPL 3, data */
#define GDT_USER_CODE64 0x00affa000000ffffull   /* P, DPL 3, code, L */
#define TSS_LIMIT 103u
#define TSS_TYPE_BUSY 0xbu
#define IDT_GATE_KERNEL 0x8eu /* present, DPL 0, 64-bit interrupt gate */
#define IDT_GATE_USER 0xeeu   /* present, DPL 3: ring 3 may int3 into it */
#define VECTOR_NMI 2u
#define VECTOR_BREAKPOINT 3u
#define VECTOR_DOUBLE_FAULT 8u
#define VECTOR_MACHINE_CHECK 18u

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull
#define PTE_PS 0x80ull
#define VMM_HUGE_PAGE (2ull << 20)

static void put64(uint8_t *at, uint64_t value)
{
	memcpy(at, &value, sizeof(value));
}

static void gdt_build(struct dbos_guest *vm)
{
	uint8_t *gdt = vm->ram + DBOS_GUEST_GDT_GPA;
	put64(gdt + 0x08, GDT_KERNEL_CODE64);
	put64(gdt + 0x10, GDT_KERNEL_DATA);
	put64(gdt + 0x18, GDT_USER_CODE32);
	put64(gdt + 0x20, GDT_USER_DATA);
	put64(gdt + 0x28, GDT_USER_CODE64);
	for (uint32_t i = 0; i < vm->vcpu_count; i++) {
		uint64_t base = DBOS_GUEST_TSS_GPA + (uint64_t)i * DBOS_GUEST_TSS_STRIDE;
		/* 16-byte system descriptor: limit, base 0..23, type, P, base 24..31, base 32..63. */
		uint64_t low = (TSS_LIMIT & 0xffffu) | ((base & 0xffffffu) << 16) |
			       ((uint64_t)(0x80u | TSS_TYPE_BUSY) << 40) | (((base >> 24) & 0xffu) << 56);
		put64(gdt + DBOS_GUEST_SEL_TSS0 + 16u * i, low);
		put64(gdt + DBOS_GUEST_SEL_TSS0 + 16u * i + 8, base >> 32);

		uint8_t *tss = vm->ram + base;
		uint64_t cpu = DBOS_GUEST_CPU_GPA + (uint64_t)i * DBOS_GUEST_CPU_SIZE;
		put64(tss + 4, cpu + DBOS_GUEST_CPU_KSTACK_TOP); /* rsp0: ring 3 -> 0 stack */
		put64(tss + 36, cpu + DBOS_GUEST_CPU_IST_TOP);   /* ist1 */
		uint16_t iomap = 104;                            /* no I/O bitmap */
		memcpy(tss + 102, &iomap, sizeof(iomap));
	}
}

static void idt_build(struct dbos_guest *vm)
{
	const uint64_t *vectors = vmm_image_vectors(vm);
	uint8_t *idt = vm->ram + DBOS_GUEST_IDT_GPA;
	for (uint32_t v = 0; v < 256; v++) {
		uint64_t stub = vectors[v];
		if (!stub)
			continue; /* not present: a stray vector becomes #GP, then a panic */
		uint64_t attributes = v == VECTOR_BREAKPOINT ? IDT_GATE_USER : IDT_GATE_KERNEL;
		uint64_t ist = (v == VECTOR_NMI || v == VECTOR_DOUBLE_FAULT || v == VECTOR_MACHINE_CHECK);
		uint64_t low = (stub & 0xffffu) | ((uint64_t)DBOS_GUEST_SEL_KCODE << 16) | (ist << 32) |
			       (attributes << 40) | (((stub >> 16) & 0xffffu) << 48);
		put64(idt + 16u * v, low);
		put64(idt + 16u * v + 8, stub >> 32);
	}
}

/*
 * Identity map: RAM with 2 MiB pages, except the first 2 MiB (4 KiB pages,
 * page 0 left out so NULL faults), the per-vCPU areas (4 KiB pages, each
 * engine stack's guard page left out) and the 2 MiB page holding the
 * doorbells (uncached).  Everything is user-accessible: on PVM the engine
 * runs in ring 3 and executes kernel-image code (its entry points) and edits
 * page tables natively; the guest kernel is not a security boundary against
 * the engine (as in libdbos, where the engine runs in ring 0).
 *
 *   +0x0000 PML4   +0x1000 PDPT   +0x2000..0x5fff PD 0-3 (1 GiB each)
 *   +0x6000 PT for 0..2 MiB   +0x7000 PT for 4..6 MiB   +0x8000 PT for 6..8 MiB
 */
static bool page_is_guard(const struct dbos_guest *vm, uint64_t gpa)
{
	if (gpa < DBOS_GUEST_CPU_GPA || gpa >= DBOS_GUEST_POOL_GPA)
		return false;
	uint64_t offset = (gpa - DBOS_GUEST_CPU_GPA) % DBOS_GUEST_CPU_SIZE;
	uint64_t index = (gpa - DBOS_GUEST_CPU_GPA) / DBOS_GUEST_CPU_SIZE;
	return index < vm->vcpu_count && offset == DBOS_GUEST_CPU_GUARD;
}

static void page_tables_build(struct dbos_guest *vm)
{
	uint8_t *base = vm->ram + DBOS_GUEST_PT_GPA;
	const uint64_t pml4 = DBOS_GUEST_PT_GPA, pdpt = pml4 + 0x1000, pd0 = pml4 + 0x2000;
	const uint64_t table = PTE_P | PTE_W | PTE_U;
	/* 2 MiB slots that get a 4 KiB table, and where that table lives. */
	const struct {
		uint64_t gpa;
		uint64_t pt;
	} small[] = {
		{ 0, pml4 + 0x6000 },
		{ DBOS_GUEST_CPU_GPA, pml4 + 0x7000 },
		{ DBOS_GUEST_CPU_GPA + VMM_HUGE_PAGE, pml4 + 0x8000 },
	};
	put64(base, pdpt | table);
	for (uint64_t k = 0; k < 4; k++)
		put64(base + 0x1000 + 8 * k, (pd0 + 0x1000 * k) | table);
	for (uint64_t gpa = VMM_HUGE_PAGE; gpa < vm->ram_size; gpa += VMM_HUGE_PAGE)
		put64(base + 0x2000 + 8 * (gpa >> 21), gpa | table | PTE_PS);
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		put64(base + 0x2000 + 8 * (small[i].gpa >> 21), small[i].pt | table);
		uint8_t *pt = vm->ram + small[i].pt;
		for (uint64_t page = 0; page < 512; page++) {
			uint64_t gpa = small[i].gpa + (page << 12);
			bool absent = gpa == 0 || page_is_guard(vm, gpa);
			put64(pt + 8 * page, absent ? 0 : gpa | table);
		}
	}
	uint64_t mmio = DBOS_GUEST_MMIO_GPA & ~(uint64_t)(VMM_HUGE_PAGE - 1);
	put64(base + 0x2000 + 8 * (mmio >> 21), mmio | table | PTE_PS | PTE_PCD | PTE_PWT);
}

void vmm_memory_build_tables(struct dbos_guest *vm)
{
	gdt_build(vm);
	idt_build(vm);
	page_tables_build(vm);

	struct dbos_guest_boot *boot = (struct dbos_guest_boot *)(vm->ram + DBOS_GUEST_BOOT_GPA);
	boot->abi_version = DBOS_GUEST_ABI_VERSION;
	boot->ram_size = vm->ram_size;
	boot->vcpu_count = vm->vcpu_count;
	boot->engine_ring = vm->info.engine_ring;
	boot->pool_start = DBOS_GUEST_POOL_GPA;
	boot->pool_end = vm->ram_size - DBOS_GUEST_SCRATCH_SIZE;
	boot->mmio_gpa = DBOS_GUEST_MMIO_GPA;
	boot->tsc_khz = vm->info.tsc_khz;
	boot->scratch_gpa = vm->ram_size - DBOS_GUEST_SCRATCH_SIZE;
	boot->scratch_size = DBOS_GUEST_SCRATCH_SIZE;
	vm->info.scratch_gpa = boot->scratch_gpa;
	vm->info.scratch_size = boot->scratch_size;

	for (uint32_t i = 0; i < vm->vcpu_count; i++) {
		struct dbos_guest_cpu *cpu = vmm_memory_cpu(vm, i);
		cpu->magic = DBOS_GUEST_CPU_MAGIC;
		cpu->index = i;
		vmm_memory_ring(vm, i)->entries = DBOS_HC_RING_ENTRIES;
	}
}
