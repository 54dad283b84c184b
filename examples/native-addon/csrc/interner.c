/*
 * interner.c - string interning on a @dbos/alloc pool.
 *
 * Entries are chained in a power-of-two bucket table and listed by id in a
 * dense array; both tables double as they fill.  Every allocation a new
 * string needs is made before anything is linked, so a pool that runs out
 * (DBOS_ENOMEM) leaves the interner untouched.  A bucket table that cannot
 * grow is not an error: chains just get longer.
 */
#include "interner.h"

struct entry {
	struct entry *next; /* bucket chain */
	uint32_t hash;
	uint32_t id;
	uint32_t length;
	unsigned char bytes[];
};

struct interner {
	dbos_alloc_pool *pool;
	struct entry **buckets;
	uint32_t bucket_count; /* a power of two */
	struct entry **by_id;
	uint32_t id_capacity;
	uint32_t count;
};

#define BUCKETS_INITIAL 64u
#define IDS_INITIAL 64u

/* FNV-1a: short strings, no alignment assumptions, good enough spread for chaining. */
static uint32_t hash_bytes(const unsigned char *bytes, uint32_t length)
{
	uint32_t hash = 2166136261u;
	for (uint32_t i = 0; i < length; i++)
		hash = (hash ^ bytes[i]) * 16777619u;
	return hash;
}

static bool same_bytes(const struct entry *entry, const unsigned char *bytes, uint32_t length)
{
	if (entry->length != length)
		return false;
	for (uint32_t i = 0; i < length; i++)
		if (entry->bytes[i] != bytes[i])
			return false;
	return true;
}

static size_t entry_size(uint32_t length)
{
	return sizeof(struct entry) + length;
}

static struct entry *lookup(const interner *in, const unsigned char *bytes, uint32_t length, uint32_t hash)
{
	for (struct entry *entry = in->buckets[hash & (in->bucket_count - 1)]; entry; entry = entry->next)
		if (entry->hash == hash && same_bytes(entry, bytes, length))
			return entry;
	return 0;
}

dbos_status interner_create(dbos_alloc_pool *pool, interner **out)
{
	if (!pool || !out)
		return DBOS_EINVAL;
	interner *in;
	dbos_status status = dbos_alloc(pool, sizeof(*in), DBOS_ALLOC_ZERO, (void **)&in);
	if (status != DBOS_OK)
		return status;
	in->pool = pool;
	status = dbos_alloc(pool, BUCKETS_INITIAL * sizeof(*in->buckets), DBOS_ALLOC_ZERO, (void **)&in->buckets);
	if (status == DBOS_OK)
		status = dbos_alloc(pool, IDS_INITIAL * sizeof(*in->by_id), 0, (void **)&in->by_id);
	if (status != DBOS_OK) {
		if (in->buckets)
			dbos_alloc_free(pool, in->buckets, BUCKETS_INITIAL * sizeof(*in->buckets));
		dbos_alloc_free(pool, in, sizeof(*in));
		return status;
	}
	in->bucket_count = BUCKETS_INITIAL;
	in->id_capacity = IDS_INITIAL;
	*out = in;
	return DBOS_OK;
}

void interner_destroy(interner *in)
{
	if (!in)
		return;
	for (uint32_t id = 0; id < in->count; id++)
		dbos_alloc_free(in->pool, in->by_id[id], entry_size(in->by_id[id]->length));
	dbos_alloc_free(in->pool, in->by_id, in->id_capacity * sizeof(*in->by_id));
	dbos_alloc_free(in->pool, in->buckets, in->bucket_count * sizeof(*in->buckets));
	dbos_alloc_free(in->pool, in, sizeof(*in));
}

/* Double the bucket table when the load passes 1; on DBOS_ENOMEM keep the old one. */
static void maybe_grow_buckets(interner *in)
{
	if (in->count < in->bucket_count)
		return;
	uint32_t count = in->bucket_count * 2;
	struct entry **buckets;
	if (dbos_alloc(in->pool, count * sizeof(*buckets), DBOS_ALLOC_ZERO, (void **)&buckets) != DBOS_OK)
		return;
	for (uint32_t id = 0; id < in->count; id++) {
		struct entry *entry = in->by_id[id];
		struct entry **head = &buckets[entry->hash & (count - 1)];
		entry->next = *head;
		*head = entry;
	}
	dbos_alloc_free(in->pool, in->buckets, in->bucket_count * sizeof(*in->buckets));
	in->buckets = buckets;
	in->bucket_count = count;
}

/* Room for one more id: the only growth a new string cannot do without. */
static dbos_status reserve_id(interner *in)
{
	if (in->count < in->id_capacity)
		return DBOS_OK;
	if (in->id_capacity > UINT32_MAX / 2)
		return DBOS_ELIMIT;
	uint32_t capacity = in->id_capacity * 2;
	struct entry **by_id;
	dbos_status status = dbos_alloc(in->pool, capacity * sizeof(*by_id), 0, (void **)&by_id);
	if (status != DBOS_OK)
		return status;
	for (uint32_t id = 0; id < in->count; id++)
		by_id[id] = in->by_id[id];
	dbos_alloc_free(in->pool, in->by_id, in->id_capacity * sizeof(*in->by_id));
	in->by_id = by_id;
	in->id_capacity = capacity;
	return DBOS_OK;
}

dbos_status interner_intern(interner *in, const void *bytes, uint32_t length, uint32_t *id, bool *added)
{
	if (!in || (!bytes && length) || !id || !added)
		return DBOS_EINVAL;
	if (length > INTERNER_LENGTH_MAX)
		return DBOS_EINVAL;
	const unsigned char *text = bytes;
	uint32_t hash = hash_bytes(text, length);
	struct entry *found = lookup(in, text, length, hash);
	if (found) {
		*id = found->id;
		*added = false;
		return DBOS_OK;
	}
	dbos_status status = reserve_id(in);
	if (status != DBOS_OK)
		return status;
	struct entry *entry;
	status = dbos_alloc(in->pool, entry_size(length), 0, (void **)&entry);
	if (status != DBOS_OK)
		return status;
	entry->hash = hash;
	entry->id = in->count;
	entry->length = length;
	for (uint32_t i = 0; i < length; i++)
		entry->bytes[i] = text[i];
	struct entry **head = &in->buckets[hash & (in->bucket_count - 1)];
	entry->next = *head;
	*head = entry;
	in->by_id[in->count++] = entry;
	maybe_grow_buckets(in);
	*id = entry->id;
	*added = true;
	return DBOS_OK;
}

dbos_status interner_find(const interner *in, const void *bytes, uint32_t length, uint32_t *id)
{
	if (!in || (!bytes && length) || !id)
		return DBOS_EINVAL;
	if (length > INTERNER_LENGTH_MAX)
		return DBOS_ENOENT;
	const struct entry *entry = lookup(in, bytes, length, hash_bytes(bytes, length));
	if (!entry)
		return DBOS_ENOENT;
	*id = entry->id;
	return DBOS_OK;
}

dbos_status interner_bytes(const interner *in, uint32_t id, const void **bytes, uint32_t *length)
{
	if (!in || !bytes || !length)
		return DBOS_EINVAL;
	if (id >= in->count)
		return DBOS_ERANGE;
	*bytes = in->by_id[id]->bytes;
	*length = in->by_id[id]->length;
	return DBOS_OK;
}

uint32_t interner_count(const interner *in)
{
	return in ? in->count : 0;
}
