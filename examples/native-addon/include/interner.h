/*
 * interner.h - a string interner whose memory comes from a @dbos/alloc pool.
 *
 * Interning maps each distinct byte string to a small dense id (0, 1, 2, ...)
 * and back.  Every byte the interner holds - its entries, its hash buckets,
 * its id table - is allocated from one pool, so the pool's limit is a hard
 * bound on the interner's memory: when it is reached, interning a new string
 * fails with DBOS_ENOMEM and the interner stays exactly as it was.
 *
 * Not thread safe: one thread at a time (the pool itself is, and may be
 * shared with other users).
 */
#ifndef INTERNER_H
#define INTERNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/alloc.h"
#include "dbos/status.h"

/* The longest string one entry holds: the largest single pool allocation, less the header. */
#define INTERNER_LENGTH_MAX ((uint32_t)(1u << 20))

typedef struct interner interner;

/* An interner allocating from `pool` (not owned: destroy the interner first). */
dbos_status interner_create(dbos_alloc_pool *pool, interner **out);
void interner_destroy(interner *in);

/*
 * The id of `bytes[0..length)`, adding it when new (`*added` says which).
 * DBOS_EINVAL for length > INTERNER_LENGTH_MAX, DBOS_ENOMEM when the pool is
 * full (nothing changed).
 */
dbos_status interner_intern(interner *in, const void *bytes, uint32_t length, uint32_t *id, bool *added);

/* The id of a string already interned: DBOS_ENOENT when it is not. */
dbos_status interner_find(const interner *in, const void *bytes, uint32_t length, uint32_t *id);

/* The bytes of `id` (valid until the interner is destroyed): DBOS_ERANGE for an unknown id. */
dbos_status interner_bytes(const interner *in, uint32_t id, const void **bytes, uint32_t *length);

/* Distinct strings interned. */
uint32_t interner_count(const interner *in);

#endif
