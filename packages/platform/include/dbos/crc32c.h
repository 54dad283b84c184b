/*
 * dbos/crc32c.h - CRC32C (Castagnoli), the checksum of every dbos on-disk
 * format: snapshot images, buffer-pool pages, log records.
 *
 * One function so that a format written by one package is verified the same
 * way by every other.  Chains like zlib's crc32: start from 0, feed the
 * previous result back in, and the result equals one call over the whole.
 * x86-64 CPUs with SSE4.2 compute it with the crc32 instruction (8 bytes per
 * instruction); others use slice-by-8 tables.  Freestanding: both runtimes.
 */
#ifndef DBOS_CRC32C_H
#define DBOS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Continue `crc` (0 to start) over `length` bytes at `bytes`. */
uint32_t dbos_crc32c(uint32_t crc, const void *bytes, size_t length);

/* Which implementation runs, for mechanism lines: "sse4.2 crc32 instruction" or "slice-by-8 tables". */
const char *dbos_crc32c_implementation(void);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_CRC32C_H */
