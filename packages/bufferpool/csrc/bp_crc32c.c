/*
 * bp_crc32c.c - CRC32C (Castagnoli) in software, slicing by 8.
 *
 * Eight 256-entry tables let the loop fold 8 input bytes per step with 8
 * table look-ups instead of 8 dependent shifts; about 1 byte per cycle here,
 * so a 4 KiB page costs a few microseconds, well under a device read.  The
 * tables are built on first use (no 8 KiB of numbers in the source).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/bufferpool.h"
#include "dbos/platform.h"

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

uint32_t dbos_bp_crc32c(const void *data, size_t size)
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
