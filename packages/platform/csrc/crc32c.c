/*
 * crc32c.c - CRC32C (Castagnoli, reflected polynomial 0x82F63B78) for dbos/crc32c.h.
 *
 * The implementation is chosen once per process: the CPU's crc32 instruction when cpuid
 * says SSE4.2 is there (an instruction, not an OS question, so the guest can ask too),
 * else slice-by-8 tables.
 */
#include <stdatomic.h>
#include <stdbool.h>

#include "dbos/crc32c.h"

#define CRC32C_POLYNOMIAL 0x82F63B78u

/*
 * Slice-by-8 tables, built on first use (8 KiB; the core has no static initialiser
 * generator).  Building twice concurrently writes identical values, so a racing first
 * use is harmless; the ready flag publishes them.
 */
static uint32_t crc32c_table[8][256];
static _Atomic uint32_t crc32c_table_ready;

static void crc32c_table_build(void)
{
	for (uint32_t byte = 0; byte < 256; byte++) {
		uint32_t crc = byte;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (CRC32C_POLYNOMIAL & (0u - (crc & 1)));
		crc32c_table[0][byte] = crc;
	}
	for (uint32_t byte = 0; byte < 256; byte++)
		for (int slice = 1; slice < 8; slice++)
			crc32c_table[slice][byte] = (crc32c_table[slice - 1][byte] >> 8) ^
						    crc32c_table[0][crc32c_table[slice - 1][byte] & 0xff];
	atomic_store_explicit(&crc32c_table_ready, 1, memory_order_release);
}

static uint32_t crc32c_software(uint32_t crc, const uint8_t *bytes, size_t length)
{
	if (!atomic_load_explicit(&crc32c_table_ready, memory_order_acquire))
		crc32c_table_build();
	while (length && ((uintptr_t)bytes & 7)) {
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *bytes++) & 0xff];
		length--;
	}
	while (length >= 8) {
		uint64_t word;
		__builtin_memcpy(&word, bytes, 8);
		word ^= crc; /* little endian: the CRC meets the first four bytes */
		crc = crc32c_table[7][word & 0xff] ^ crc32c_table[6][(word >> 8) & 0xff] ^
		      crc32c_table[5][(word >> 16) & 0xff] ^ crc32c_table[4][(word >> 24) & 0xff] ^
		      crc32c_table[3][(word >> 32) & 0xff] ^ crc32c_table[2][(word >> 40) & 0xff] ^
		      crc32c_table[1][(word >> 48) & 0xff] ^ crc32c_table[0][word >> 56];
		bytes += 8;
		length -= 8;
	}
	while (length--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *bytes++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
/* SSE4.2's crc32 instruction computes exactly this polynomial, 8 bytes per instruction. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *bytes, size_t length)
{
	uint64_t crc64 = crc;
	while (length && ((uintptr_t)bytes & 7)) {
		crc64 = __builtin_ia32_crc32qi((uint32_t)crc64, *bytes++);
		length--;
	}
	while (length >= 8) {
		uint64_t word;
		__builtin_memcpy(&word, bytes, 8);
		crc64 = __builtin_ia32_crc32di(crc64, word);
		bytes += 8;
		length -= 8;
	}
	while (length--)
		crc64 = __builtin_ia32_crc32qi((uint32_t)crc64, *bytes++);
	return (uint32_t)crc64;
}
#endif

enum crc32c_implementation {
	CRC32C_UNCHOSEN = 0,
	CRC32C_SOFTWARE = 1,
	CRC32C_HARDWARE = 2,
};

static _Atomic uint32_t crc32c_implementation;

static enum crc32c_implementation crc32c_choose(void)
{
	enum crc32c_implementation chosen = CRC32C_SOFTWARE;
#if defined(__x86_64__)
	uint32_t eax = 1, ebx, ecx = 0, edx;
	__asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
	if (ecx & (1u << 20)) /* CPUID.1:ECX.SSE4_2 */
		chosen = CRC32C_HARDWARE;
#endif
	atomic_store_explicit(&crc32c_implementation, chosen, memory_order_relaxed);
	return chosen;
}

const char *dbos_crc32c_implementation(void)
{
	enum crc32c_implementation implementation = atomic_load_explicit(&crc32c_implementation, memory_order_relaxed);
	if (implementation == CRC32C_UNCHOSEN)
		implementation = crc32c_choose();
	return implementation == CRC32C_HARDWARE ? "sse4.2 crc32 instruction" : "slice-by-8 tables";
}

uint32_t dbos_crc32c(uint32_t crc, const void *bytes, size_t length)
{
	enum crc32c_implementation implementation = atomic_load_explicit(&crc32c_implementation, memory_order_relaxed);
	if (implementation == CRC32C_UNCHOSEN)
		implementation = crc32c_choose();
	crc = ~crc;
#if defined(__x86_64__)
	if (implementation == CRC32C_HARDWARE)
		return ~crc32c_sse42(crc, bytes, length);
#endif
	return ~crc32c_software(crc, bytes, length);
}
