/*
 * bp_crc32c.c - CRC32C (Castagnoli): the x86 crc32 instruction where the CPU
 * has it (SSE4.2), else software slicing by 8.
 *
 * Every page read and written is checksummed, so the checksum's cost is paid
 * per miss: the instruction folds 8 bytes per step (a 4 KiB page in well
 * under a microsecond); the software path's eight 256-entry tables fold 8
 * bytes with 8 look-ups instead of 64 dependent shifts, a few microseconds
 * per page.  Both give the same answer (the C tests compare them).  The
 * tables are built on first use (no 8 KiB of numbers in the source).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bp_internal.h"

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t crc_table[8][256];
static _Atomic uint32_t crc_table_state; /* 0 unbuilt, 1 building, 2 ready */

static void crc_tables_build(void)
{
	for (uint32_t byte = 0; byte < 256; byte++) {
		uint32_t crc = byte;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (CRC32C_POLY_REFLECTED & (0u - (crc & 1)));
		crc_table[0][byte] = crc;
	}
	for (uint32_t byte = 0; byte < 256; byte++)
		for (int slice = 1; slice < 8; slice++)
			crc_table[slice][byte] =
				(crc_table[slice - 1][byte] >> 8) ^ crc_table[0][crc_table[slice - 1][byte] & 0xff];
}

static void crc_tables_ready(void)
{
	if (atomic_load_explicit(&crc_table_state, memory_order_acquire) == 2)
		return;
	uint32_t expected = 0;
	if (atomic_compare_exchange_strong_explicit(&crc_table_state, &expected, 1, memory_order_acquire,
						    memory_order_acquire)) {
		crc_tables_build();
		atomic_store_explicit(&crc_table_state, 2, memory_order_release);
		return;
	}
	while (atomic_load_explicit(&crc_table_state, memory_order_acquire) != 2)
		dbos_platform_relax();
}

uint32_t bp_crc32c_software(const void *data, size_t size)
{
	crc_tables_ready();
	const uint8_t *bytes = data;
	uint32_t crc = 0xffffffffu;
	while (size && ((uintptr_t)bytes & 7)) {
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *bytes++) & 0xff];
		size--;
	}
	while (size >= 8) {
		uint64_t word;
		__builtin_memcpy(&word, bytes, 8);
		word ^= crc; /* little-endian: the CRC folds into the first four bytes */
		crc = crc_table[7][word & 0xff] ^ crc_table[6][(word >> 8) & 0xff] ^ crc_table[5][(word >> 16) & 0xff] ^
		      crc_table[4][(word >> 24) & 0xff] ^ crc_table[3][(word >> 32) & 0xff] ^
		      crc_table[2][(word >> 40) & 0xff] ^ crc_table[1][(word >> 48) & 0xff] ^ crc_table[0][word >> 56];
		bytes += 8;
		size -= 8;
	}
	while (size--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *bytes++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__) && !defined(DBOS_GUEST_KERNEL)
#define BP_CRC32C_HARDWARE 1

static bool crc_hardware_probe(void)
{
	uint32_t eax = 1, ebx, ecx = 0, edx;
	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	return (ecx >> 20) & 1; /* CPUID.1:ECX.SSE4_2 */
}

__attribute__((target("sse4.2"))) static uint32_t crc_hardware(const void *data, size_t size)
{
	const uint8_t *bytes = data;
	uint32_t crc = 0xffffffffu;
	while (size && ((uintptr_t)bytes & 7)) {
		crc = __builtin_ia32_crc32qi(crc, *bytes++);
		size--;
	}
	uint64_t wide = crc;
	for (; size >= 8; bytes += 8, size -= 8) {
		uint64_t word;
		__builtin_memcpy(&word, bytes, 8);
		wide = __builtin_ia32_crc32di(wide, word);
	}
	crc = (uint32_t)wide;
	while (size--)
		crc = __builtin_ia32_crc32qi(crc, *bytes++);
	return ~crc;
}
#endif

static _Atomic uint32_t crc_path; /* 0 unprobed, 1 software, 2 hardware */

static uint32_t crc_path_get(void)
{
	uint32_t path = atomic_load_explicit(&crc_path, memory_order_relaxed);
	if (path)
		return path;
#ifdef BP_CRC32C_HARDWARE
	path = crc_hardware_probe() ? 2 : 1;
#else
	path = 1;
#endif
	atomic_store_explicit(&crc_path, path, memory_order_relaxed);
	return path;
}

uint32_t dbos_bp_crc32c(const void *data, size_t size)
{
#ifdef BP_CRC32C_HARDWARE
	if (crc_path_get() == 2)
		return crc_hardware(data, size);
#endif
	return bp_crc32c_software(data, size);
}

const char *bp_crc32c_mechanism(void)
{
	return crc_path_get() == 2 ? "crc32c: SSE4.2 crc32 instruction" : "crc32c: software, slicing by 8";
}
