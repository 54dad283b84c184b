/*
 * kv_tree_fixture.h - what the B+tree tests share: a buffer pool on a scratch
 * file holding a formatted tree, deterministic keys and values (a value is
 * regenerated from its seed, so the model stores no value bytes), and a
 * reference model: a sorted array of (key, value size, seed).
 */
#ifndef KV_TREE_FIXTURE_H
#define KV_TREE_FIXTURE_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../csrc/kv_tree.h"
#include "dbos/bufferpool.h"
#include "dbos/platform.h"
#include "dbos_test.h"
#include "kv_tsan.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)

static char fixture_dir[256];
static int fixture_files;

static inline void fixture_setup(void)
{
	snprintf(fixture_dir, sizeof fixture_dir, "/var/tmp/dbos-kv-tree-test-XXXXXX");
	DBOS_ASSERT(mkdtemp(fixture_dir) != NULL);
}

static inline void fixture_teardown(void)
{
	char command[320];
	snprintf(command, sizeof command, "rm -rf '%s'", fixture_dir);
	DBOS_ASSERT(system(command) == 0);
}

/* A pool on a new file in the scratch directory with a formatted, attached tree. */
struct fixture_tree {
	char path[300];
	dbos_bp *bp;
	struct kv_epochs *epochs; /* the pool's before_write hook, as in the store */
	struct kv_tree tree;
};

/* max_pages bounds the file (dbos_bp_allocate then fails with DBOS_ELIMIT). */
static inline bool fixture_tree_open_limited(struct fixture_tree *fixture, uint64_t pool_bytes, uint32_t page_size,
					     uint64_t max_pages)
{
	snprintf(fixture->path, sizeof fixture->path, "%s/tree-%d.db", fixture_dir, fixture_files++);
	dbos_bp_config config = { .path = fixture->path,
				  .flags = DBOS_BP_CREATE | DBOS_BP_BUFFERED,
				  .page_size = page_size,
				  .pool_bytes = pool_bytes,
				  .max_pages = max_pages,
				  .before_write = kv_epochs_before_write };
	fixture->epochs = kv_epochs_create(NULL);
	if (!fixture->epochs)
		return false;
	config.hook_context = fixture->epochs;
	dbos_bp_error error;
	fixture->bp = NULL;
	dbos_status status = dbos_bp_open(&config, &fixture->bp, &error);
	if (status != DBOS_OK) {
		fprintf(stderr, "dbos_bp_open: %s\n", dbos_status_name(status));
		kv_epochs_destroy(fixture->epochs);
		fixture->epochs = NULL;
		return false;
	}
	kv_epochs_attach(fixture->epochs, fixture->bp);
	if (kv_tree_format(fixture->bp) != DBOS_OK)
		return false;
	return kv_tree_attach(&fixture->tree, fixture->bp) == DBOS_OK;
}

static inline bool fixture_tree_open(struct fixture_tree *fixture, uint64_t pool_bytes, uint32_t page_size)
{
	return fixture_tree_open_limited(fixture, pool_bytes, page_size, 1u << 20);
}

static inline void fixture_tree_close(struct fixture_tree *fixture)
{
	if (fixture->bp)
		CHECK_EQ(dbos_bp_close(fixture->bp), DBOS_OK);
	fixture->bp = NULL;
	if (fixture->epochs)
		kv_epochs_destroy(fixture->epochs);
	fixture->epochs = NULL;
}

static inline dbos_status fixture_check(struct fixture_tree *fixture)
{
	uint64_t bad_pid = 0;
	dbos_status status = kv_tree_check(&fixture->tree, NULL, NULL, &bad_pid);
	if (status != DBOS_OK)
		fprintf(stderr, "kv_tree_check: %s at page %" PRIu64 "\n", dbos_status_name(status), bad_pid);
	return status;
}

/* ---- Deterministic data ---------------------------------------------------------- */

static uint64_t fixture_random_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t fixture_random(void)
{
	/* xorshift64*: reproducible runs from one seed. */
	fixture_random_state ^= fixture_random_state >> 12;
	fixture_random_state ^= fixture_random_state << 25;
	fixture_random_state ^= fixture_random_state >> 27;
	return fixture_random_state * 0x2545f4914f6cdd1dull;
}

/* A key for `id` of `size` bytes: the id big-endian first, so ids spread over the key space. */
static inline void fixture_key(uint8_t *key, uint32_t size, uint32_t id)
{
	for (uint32_t i = 0; i < size; i++)
		key[i] = i < 4 ? (uint8_t)(id >> (24 - 8 * i)) : (uint8_t)(id * 31u + i * 7u);
}

/* Mixed key sizes: mostly short, some medium, some at the 1024-byte maximum. */
static inline uint32_t fixture_key_size(void)
{
	uint64_t pick = fixture_random() % 100;
	if (pick < 3)
		return 1 + (uint32_t)(fixture_random() % 3);
	if (pick < 70)
		return 4 + (uint32_t)(fixture_random() % 13);
	if (pick < 95)
		return 17 + (uint32_t)(fixture_random() % 200);
	return DBOS_KV_KEY_MAX;
}

/* Mixed value sizes: empty, inline, just over the inline limit, several overflow pages. */
static inline uint64_t fixture_value_size(void)
{
	uint64_t pick = fixture_random() % 100;
	if (pick < 5)
		return 0;
	if (pick < 55)
		return 1 + fixture_random() % 64;
	if (pick < 85)
		return 65 + fixture_random() % 600;
	if (pick < 96)
		return 600 + fixture_random() % 1500;
	return 2000 + fixture_random() % 14000;
}

static inline uint8_t fixture_value_byte(uint32_t seed, uint64_t i)
{
	return (uint8_t)((seed * 2654435761u) >> 24 ^ (uint32_t)(i * 13u + (i >> 8)));
}

static inline void fixture_value(uint8_t *value, uint64_t size, uint32_t seed)
{
	for (uint64_t i = 0; i < size; i++)
		value[i] = fixture_value_byte(seed, i);
}

static inline bool fixture_value_matches(const uint8_t *value, uint64_t size, uint32_t seed)
{
	for (uint64_t i = 0; i < size; i++)
		if (value[i] != fixture_value_byte(seed, i))
			return false;
	return true;
}

/* ---- The reference model ----------------------------------------------------------- */

struct model_entry {
	uint8_t *key;
	uint32_t key_size;
	uint32_t seed;
	uint64_t value_size;
};

struct model {
	struct model_entry *entries;
	size_t count, capacity;
};

static inline int model_compare(const void *a, uint32_t a_size, const void *b, uint32_t b_size)
{
	return kv_key_compare(a, a_size, b, b_size);
}

/* The index of the first entry >= key; *found_out whether it equals key. */
static inline size_t model_search(const struct model *model, const void *key, uint32_t key_size, bool *found_out)
{
	size_t low = 0, high = model->count;
	while (low < high) {
		size_t middle = (low + high) / 2;
		if (model_compare(model->entries[middle].key, model->entries[middle].key_size, key, key_size) < 0)
			low = middle + 1;
		else
			high = middle;
	}
	*found_out = low < model->count &&
		     model_compare(model->entries[low].key, model->entries[low].key_size, key, key_size) == 0;
	return low;
}

static inline void model_put(struct model *model, const void *key, uint32_t key_size, uint64_t value_size,
			     uint32_t seed)
{
	bool found;
	size_t index = model_search(model, key, key_size, &found);
	if (found) {
		model->entries[index].value_size = value_size;
		model->entries[index].seed = seed;
		return;
	}
	if (model->count == model->capacity) {
		model->capacity = model->capacity ? model->capacity * 2 : 1024;
		model->entries = realloc(model->entries, model->capacity * sizeof *model->entries);
		DBOS_ASSERT(model->entries);
	}
	memmove(&model->entries[index + 1], &model->entries[index], (model->count - index) * sizeof *model->entries);
	uint8_t *copy = malloc(key_size);
	DBOS_ASSERT(copy);
	memcpy(copy, key, key_size);
	model->entries[index] = (struct model_entry){ copy, key_size, seed, value_size };
	model->count++;
}

static inline bool model_del(struct model *model, const void *key, uint32_t key_size)
{
	bool found;
	size_t index = model_search(model, key, key_size, &found);
	if (!found)
		return false;
	free(model->entries[index].key);
	memmove(&model->entries[index], &model->entries[index + 1],
		(model->count - index - 1) * sizeof *model->entries);
	model->count--;
	return true;
}

static inline void model_free(struct model *model)
{
	for (size_t i = 0; i < model->count; i++)
		free(model->entries[i].key);
	free(model->entries);
	*model = (struct model){ 0 };
}

/* Put a value generated from seed into both the tree and the model. */
static inline dbos_status fixture_put(struct fixture_tree *fixture, struct model *model, const uint8_t *key,
				      uint32_t key_size, uint64_t value_size, uint32_t seed, uint64_t lsn)
{
	uint8_t *value = malloc(value_size ? value_size : 1);
	DBOS_ASSERT(value);
	fixture_value(value, value_size, seed);
	dbos_status status = kv_tree_put(&fixture->tree, key, key_size, value, value_size, lsn);
	free(value);
	if (status == DBOS_OK)
		model_put(model, key, key_size, value_size, seed);
	return status;
}

/* Every model entry is in the tree with its value, and the tree has no others (by count). */
static inline bool fixture_matches_model(struct fixture_tree *fixture, const struct model *model)
{
	uint8_t *value = malloc(64 * KiB);
	DBOS_ASSERT(value);
	bool ok = true;
	for (size_t i = 0; i < model->count && ok; i++) {
		const struct model_entry *entry = &model->entries[i];
		uint64_t size = 0;
		dbos_status status =
			kv_tree_get(&fixture->tree, NULL, entry->key, entry->key_size, value, 64 * KiB, &size);
		if (status != DBOS_OK || size != entry->value_size ||
		    !fixture_value_matches(value, size, entry->seed)) {
			fprintf(stderr, "entry %zu (key size %u): %s, size %" PRIu64 " expected %" PRIu64 "\n", i,
				entry->key_size, dbos_status_name(status), size, entry->value_size);
			ok = false;
		}
	}
	free(value);
	struct kv_tree_info info;
	if (kv_tree_info(&fixture->tree, NULL, &info) != DBOS_OK || info.entries != model->count) {
		fprintf(stderr, "tree holds %" PRIu64 " entries, model %zu\n", info.entries, model->count);
		ok = false;
	}
	return ok;
}

#endif /* KV_TREE_FIXTURE_H */
