/*
 * kv_epoch_copies.c - an epoch's page copies: a bump arena of large chunks and
 * a linear-probing table from page id to copy (see kv_epoch_copies.h).
 *
 * The table stays at most half full so a lookup of a page with no copy (the
 * common case: most pages are not written while an epoch is open) ends after
 * a probe or two.
 */
#include "kv_epoch_copies.h"

#include "dbos/platform.h"

#define KV_EPOCH_CHUNK_BYTES ((size_t)4 << 20) /* arena pieces: 1024 copies of 4 KiB pages */
#define KV_EPOCH_CHUNK_PAGES_MIN 16u           /* ... and at least this many copies of big pages */
#define KV_EPOCH_SLOTS_INITIAL 1024u

struct kv_epoch_chunk {
	struct kv_epoch_chunk *next;
	size_t bytes; /* what dbos_platform_free needs back */
};

void kv_epoch_copies_init(struct kv_epoch_copies *copies, uint32_t page_size)
{
	*copies = (struct kv_epoch_copies){ .page_size = page_size };
}

static uint64_t kv_epoch_slot_of(uint64_t pid, uint64_t capacity)
{
	return (pid * 0x9e3779b97f4a7c15ull >> 20) & (capacity - 1);
}

const uint8_t *kv_epoch_copies_find(const struct kv_epoch_copies *copies, uint64_t pid)
{
	if (!copies->slots)
		return NULL;
	for (uint64_t i = kv_epoch_slot_of(pid, copies->capacity);; i = (i + 1) & (copies->capacity - 1)) {
		if (copies->slots[i].pid == pid)
			return copies->slots[i].copy;
		if (copies->slots[i].pid == 0)
			return NULL;
	}
}

static void kv_epoch_slots_insert(struct kv_epoch_slot *slots, uint64_t capacity, uint64_t pid, uint8_t *copy)
{
	uint64_t i = kv_epoch_slot_of(pid, capacity);
	while (slots[i].pid != 0)
		i = (i + 1) & (capacity - 1);
	slots[i] = (struct kv_epoch_slot){ .pid = pid, .copy = copy };
}

/* Room for one more entry at a load of at most one half: a new table twice as big when needed. */
static dbos_status kv_epoch_slots_reserve(struct kv_epoch_copies *copies)
{
	if (copies->slots && (copies->count + 1) * 2 <= copies->capacity)
		return DBOS_OK;
	uint64_t capacity = copies->slots ? copies->capacity * 2 : KV_EPOCH_SLOTS_INITIAL;
	struct kv_epoch_slot *slots = dbos_platform_alloc((size_t)capacity * sizeof *slots);
	if (!slots)
		return DBOS_ENOMEM;
	for (uint64_t i = 0; copies->slots && i < copies->capacity; i++)
		if (copies->slots[i].pid)
			kv_epoch_slots_insert(slots, capacity, copies->slots[i].pid, copies->slots[i].copy);
	if (copies->slots)
		dbos_platform_free(copies->slots, (size_t)copies->capacity * sizeof *slots);
	copies->slots = slots;
	copies->capacity = capacity;
	return DBOS_OK;
}

/* The place for one more copy, from the newest chunk or a new one. */
static uint8_t *kv_epoch_arena_take(struct kv_epoch_copies *copies)
{
	if ((size_t)(copies->free_end - copies->free_at) < copies->page_size) {
		size_t bytes = KV_EPOCH_CHUNK_BYTES;
		if (bytes < (size_t)copies->page_size * KV_EPOCH_CHUNK_PAGES_MIN)
			bytes = (size_t)copies->page_size * KV_EPOCH_CHUNK_PAGES_MIN;
		struct kv_epoch_chunk *chunk = dbos_platform_alloc(bytes);
		if (!chunk)
			return NULL;
		chunk->next = copies->chunks;
		chunk->bytes = bytes;
		copies->chunks = chunk;
		/* Copies start one page in: page-aligned, like the pool's own pages. */
		copies->free_at = (uint8_t *)chunk + copies->page_size;
		copies->free_end = (uint8_t *)chunk + bytes;
	}
	uint8_t *copy = copies->free_at;
	copies->free_at += copies->page_size;
	return copy;
}

dbos_status kv_epoch_copies_add(struct kv_epoch_copies *copies, uint64_t pid, const void *page)
{
	dbos_status status = kv_epoch_slots_reserve(copies);
	if (status != DBOS_OK)
		return status;
	uint8_t *copy = kv_epoch_arena_take(copies);
	if (!copy)
		return DBOS_ENOMEM;
	__builtin_memcpy(copy, page, copies->page_size);
	kv_epoch_slots_insert(copies->slots, copies->capacity, pid, copy);
	copies->count++;
	return DBOS_OK;
}

void kv_epoch_copies_release(struct kv_epoch_copies *copies)
{
	for (struct kv_epoch_chunk *chunk = copies->chunks, *next; chunk; chunk = next) {
		next = chunk->next;
		dbos_platform_free(chunk, chunk->bytes);
	}
	if (copies->slots)
		dbos_platform_free(copies->slots, (size_t)copies->capacity * sizeof *copies->slots);
	kv_epoch_copies_init(copies, copies->page_size);
}
