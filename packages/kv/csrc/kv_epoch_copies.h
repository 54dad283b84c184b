/*
 * kv_epoch_copies.h - the page copies of one epoch: old page bytes in an arena
 * of large chunks, found by page id through an open-addressing table.
 *
 * Private to kv_epoch.c / kv_epoch_copies.c.  Not thread-safe: the epoch's
 * lock guards every call.  Memory comes from dbos_platform_alloc in big pieces
 * (chunks of several MiB, a table that doubles), never per page, and all of it
 * goes back at once when the epoch ends.
 */
#ifndef KV_EPOCH_COPIES_H
#define KV_EPOCH_COPIES_H

#include <stddef.h>
#include <stdint.h>

#include "dbos/status.h"

struct kv_epoch_chunk; /* a piece of the arena; its first bytes link it to the next one */

struct kv_epoch_slot {
	uint64_t pid;  /* 0: empty (page 0, the file header, is never copied) */
	uint8_t *copy; /* page_size bytes in the arena */
};

struct kv_epoch_copies {
	uint32_t page_size;
	struct kv_epoch_slot *slots; /* capacity entries, a power of two; NULL until the first copy */
	uint64_t capacity;
	uint64_t count;
	struct kv_epoch_chunk *chunks; /* newest first */
	uint8_t *free_at;              /* the next copy's place in the newest chunk */
	uint8_t *free_end;
};

/* An empty set for pages of page_size bytes (no memory taken yet). */
void kv_epoch_copies_init(struct kv_epoch_copies *copies, uint32_t page_size);

/* The copy of `pid`, or NULL when there is none. */
const uint8_t *kv_epoch_copies_find(const struct kv_epoch_copies *copies, uint64_t pid);

/* Keep a copy of `page` as page `pid` (which has none yet). DBOS_ENOMEM when memory runs out. */
dbos_status kv_epoch_copies_add(struct kv_epoch_copies *copies, uint64_t pid, const void *page);

/* Give every chunk and the table back; the set is empty again. */
void kv_epoch_copies_release(struct kv_epoch_copies *copies);

#endif /* KV_EPOCH_COPIES_H */
