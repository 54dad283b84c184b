/*
 * test_kv_tree_scan.c - cursors: every combination of bounds (absent,
 * inclusive, exclusive; existing and absent keys) in both directions against
 * the model, small buffers and DBOS_ELIMIT, writes between calls of one
 * cursor, and reads (get, scan) as of an epoch while the tree changes.
 */
#include "kv_tree_fixture.h"

struct scan_result {
	uint8_t *keys[8192];
	uint32_t key_sizes[8192];
	size_t count;
	bool values_ok;
};

/* Read a whole cursor with `capacity`-byte buffers (growing one for an entry that does not fit). */
static dbos_status drain(struct kv_tree_cursor *cursor, size_t capacity, struct scan_result *result,
			 const struct model *values_from)
{
	result->count = 0;
	result->values_ok = true;
	size_t size = capacity;
	uint8_t *buffer = malloc(size);
	for (;;) {
		uint32_t count;
		size_t used;
		dbos_status status = kv_tree_cursor_next(cursor, buffer, size, &count, &used);
		if (status == DBOS_ELIMIT) {
			if (count != 0 || used <= size) {
				free(buffer);
				return DBOS_EINVAL; /* ELIMIT must say how much more the next entry needs */
			}
			size = used;
			buffer = realloc(buffer, size);
			continue;
		}
		if (status != DBOS_OK) {
			free(buffer);
			return status;
		}
		if (count == 0)
			break;
		size_t at = 0;
		for (uint32_t i = 0; i < count; i++) {
			uint32_t key_size;
			uint64_t value_size;
			memcpy(&key_size, buffer + at, 4);
			memcpy(&value_size, buffer + at + 8, 8);
			const uint8_t *key = buffer + at + 16;
			DBOS_ASSERT(result->count < 8192);
			result->keys[result->count] = malloc(key_size);
			memcpy(result->keys[result->count], key, key_size);
			result->key_sizes[result->count++] = key_size;
			if (values_from) {
				bool found;
				size_t index = model_search(values_from, key, key_size, &found);
				if (!found || values_from->entries[index].value_size != value_size ||
				    !fixture_value_matches(key + key_size, value_size,
							   values_from->entries[index].seed))
					result->values_ok = false;
			}
			at += (16 + key_size + value_size + 7) & ~(size_t)7;
		}
		if (at != used) {
			free(buffer);
			return DBOS_ECORRUPT; /* records do not add up to what next() said it used */
		}
	}
	free(buffer);
	return DBOS_OK;
}

static void scan_result_free(struct scan_result *result)
{
	for (size_t i = 0; i < result->count; i++)
		free(result->keys[i]);
	result->count = 0;
}

/* The model entries of a range, in the range's order: do they equal `result`? */
static bool range_matches_model(const struct model *model, const dbos_kv_range *range, const struct scan_result *result)
{
	size_t expected = 0;
	for (size_t n = 0; n < model->count; n++) {
		size_t i = range->reverse ? model->count - 1 - n : n;
		const struct model_entry *entry = &model->entries[i];
		if (range->low) {
			int order = kv_key_compare(entry->key, entry->key_size, range->low, range->low_size);
			if (order < 0 || (order == 0 && !range->low_inclusive))
				continue;
		}
		if (range->high) {
			int order = kv_key_compare(entry->key, entry->key_size, range->high, range->high_size);
			if (order > 0 || (order == 0 && !range->high_inclusive))
				continue;
		}
		if (expected >= result->count || kv_key_compare(entry->key, entry->key_size, result->keys[expected],
								result->key_sizes[expected]) != 0) {
			fprintf(stderr, "range entry %zu differs\n", expected);
			return false;
		}
		expected++;
	}
	if (expected != result->count)
		fprintf(stderr, "range has %zu entries, cursor returned %zu\n", expected, result->count);
	return expected == result->count;
}

static void fill(struct fixture_tree *fixture, struct model *model, uint32_t entries)
{
	uint8_t key[DBOS_KV_KEY_MAX];
	for (uint32_t n = 0; n < entries; n++) {
		uint32_t key_size = fixture_key_size();
		fixture_key(key, key_size, (uint32_t)(fixture_random() % 100000));
		DBOS_ASSERT(fixture_put(fixture, model, key, key_size, fixture_value_size(), n, 1) == DBOS_OK);
	}
}

/* A bound: absent, an existing key, or a key that is (almost surely) not in the tree. */
static const uint8_t *pick_bound(const struct model *model, uint8_t *scratch, uint32_t *size_out)
{
	uint64_t pick = fixture_random() % 3;
	if (pick == 0 || model->count == 0)
		return NULL;
	if (pick == 1) {
		const struct model_entry *entry = &model->entries[fixture_random() % model->count];
		*size_out = entry->key_size;
		return entry->key;
	}
	*size_out = 1 + (uint32_t)(fixture_random() % 8);
	fixture_key(scratch, *size_out, (uint32_t)(fixture_random() % 100000));
	return scratch;
}

static void every_bound_combination_both_directions(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 16 * MiB, 0));
	struct model model = { 0 };
	fill(&fixture, &model, 3000);
	REQUIRE(fixture_check(&fixture) == DBOS_OK);
	static struct scan_result result;
	uint8_t low_scratch[16], high_scratch[16];
	for (int n = 0; n < KV_TSAN_SCALE(400, 80); n++) {
		dbos_kv_range range = { 0 };
		range.low = pick_bound(&model, low_scratch, &range.low_size);
		range.high = pick_bound(&model, high_scratch, &range.high_size);
		range.low_inclusive = fixture_random() & 1;
		range.high_inclusive = fixture_random() & 1;
		range.reverse = n & 1;
		/* Mostly narrow ranges are cheap; every fourth is the whole tree in one direction. */
		if (n % 4 == 0)
			range.low = range.high = NULL;
		struct kv_tree_cursor *cursor;
		REQUIRE(kv_tree_cursor_open(&fixture.tree, NULL, &range, &cursor) == DBOS_OK);
		size_t capacity = (n % 3 == 0) ? 256 : (n % 3 == 1) ? 4 * KiB : 256 * KiB;
		CHECK_EQ(drain(cursor, capacity, &result, &model), DBOS_OK);
		CHECK(result.values_ok);
		CHECK(range_matches_model(&model, &range, &result));
		/* Exhausted stays exhausted. */
		uint32_t count = 9;
		size_t used = 9;
		uint8_t buffer[8];
		CHECK_EQ(kv_tree_cursor_next(cursor, buffer, sizeof buffer, &count, &used), DBOS_OK);
		CHECK_EQ(count, 0);
		kv_tree_cursor_close(cursor);
		scan_result_free(&result);
	}
	/* Bad bounds are caller errors. */
	struct kv_tree_cursor *cursor;
	dbos_kv_range bad = { .low = "x", .low_size = 0 };
	CHECK_EQ(kv_tree_cursor_open(&fixture.tree, NULL, &bad, &cursor), DBOS_EINVAL);
	model_free(&model);
	fixture_tree_close(&fixture);
}

static void elimit_names_the_bytes_needed(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 4 * MiB, 0));
	struct model model = { 0 };
	REQUIRE(fixture_put(&fixture, &model, (const uint8_t *)"a", 1, 3, 1, 1) == DBOS_OK);
	REQUIRE(fixture_put(&fixture, &model, (const uint8_t *)"big", 3, 10000, 2, 1) == DBOS_OK);
	REQUIRE(fixture_put(&fixture, &model, (const uint8_t *)"c", 1, 0, 3, 1) == DBOS_OK);
	dbos_kv_range all = { 0 };
	struct kv_tree_cursor *cursor;
	REQUIRE(kv_tree_cursor_open(&fixture.tree, NULL, &all, &cursor) == DBOS_OK);
	uint8_t *buffer = malloc(20000);
	uint32_t count;
	size_t used;
	/* "a" (16 + 1 + 3 -> 24 bytes) fits in 100 bytes, "big" does not: one entry now. */
	CHECK_EQ(kv_tree_cursor_next(cursor, buffer, 100, &count, &used), DBOS_OK);
	CHECK_EQ(count, 1);
	CHECK_EQ(used, 24);
	/* Now "big" alone does not fit: ELIMIT with its size, 16 + 3 + 10000 padded to 10024. */
	CHECK_EQ(kv_tree_cursor_next(cursor, buffer, 100, &count, &used), DBOS_ELIMIT);
	CHECK_EQ(count, 0);
	CHECK_EQ(used, 10024);
	CHECK_EQ(kv_tree_cursor_next(cursor, buffer, 10024, &count, &used), DBOS_OK);
	CHECK_EQ(count, 1);
	CHECK_EQ(used, 10024);
	CHECK(memcmp(buffer + 16, "big", 3) == 0);
	CHECK(fixture_value_matches(buffer + 19, 10000, 2));
	CHECK(buffer[10019] == 0 && buffer[10023] == 0); /* padding is zero */
	CHECK_EQ(kv_tree_cursor_next(cursor, buffer, 20000, &count, &used), DBOS_OK);
	CHECK_EQ(count, 1);
	CHECK_EQ(used, 24); /* "c": 16 + 1 + 0 -> 24 */
	CHECK_EQ(kv_tree_cursor_next(cursor, buffer, 20000, &count, &used), DBOS_OK);
	CHECK_EQ(count, 0);
	kv_tree_cursor_close(cursor);
	free(buffer);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/*
 * Between calls of one cursor the tree splits and merges under it: the
 * cursor still returns keys in strict order, every key that was there all
 * along, and nothing that never was.
 */
static void writes_between_cursor_calls(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 16 * MiB, 0));
	struct model model = { 0 };
	uint8_t key[8];
	/* Even ids stay all along; odd ids come and go. */
	for (uint32_t id = 0; id < 4000; id += 2) {
		fixture_key(key, sizeof key, id);
		REQUIRE(fixture_put(&fixture, &model, key, sizeof key, 40, id, 1) == DBOS_OK);
	}
	for (int reverse = 0; reverse < 2; reverse++) {
		dbos_kv_range all = { .reverse = reverse };
		struct kv_tree_cursor *cursor;
		REQUIRE(kv_tree_cursor_open(&fixture.tree, NULL, &all, &cursor) == DBOS_OK);
		uint8_t buffer[512];
		uint8_t last[8];
		bool have_last = false;
		uint32_t stable_seen = 0;
		uint64_t lsn = 2;
		for (;;) {
			uint32_t count;
			size_t used;
			REQUIRE(kv_tree_cursor_next(cursor, buffer, sizeof buffer, &count, &used) == DBOS_OK);
			if (count == 0)
				break;
			for (size_t at = 0, i = 0; i < count; i++, at += 16 + 8 + 40) {
				const uint8_t *got = buffer + at + 16;
				if (have_last) {
					int order = memcmp(got, last, 8);
					CHECK(reverse ? order < 0 : order > 0);
				}
				memcpy(last, got, 8);
				have_last = true;
				uint32_t id = (uint32_t)got[0] << 24 | (uint32_t)got[1] << 16 | (uint32_t)got[2] << 8 |
					      got[3];
				stable_seen += id % 2 == 0;
			}
			/* Churn: 150 (40 under ThreadSanitizer) odd keys in and out all over the key space (splits and merges). */
			for (int n = 0; n < KV_TSAN_SCALE(150, 40); n++) {
				uint32_t id = (uint32_t)(fixture_random() % 2000) * 2 + 1;
				fixture_key(key, sizeof key, id);
				if (fixture_random() & 1) {
					CHECK_EQ(fixture_put(&fixture, &model, key, sizeof key, 40, id, lsn++),
						 DBOS_OK);
				} else {
					bool found;
					CHECK_EQ(kv_tree_del(&fixture.tree, key, sizeof key, lsn++, &found), DBOS_OK);
					model_del(&model, key, sizeof key);
				}
			}
		}
		CHECK_EQ(stable_seen, 2000);
		kv_tree_cursor_close(cursor);
	}
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	model_free(&model);
	fixture_tree_close(&fixture);
}

static void model_copy(struct model *copy, const struct model *model)
{
	*copy = (struct model){ 0 };
	for (size_t i = 0; i < model->count; i++)
		model_put(copy, model->entries[i].key, model->entries[i].key_size, model->entries[i].value_size,
			  model->entries[i].seed);
}

/* An epoch sees the tree as it was when it began, through gets, scans and info, while writes go on. */
static void epoch_reads_see_the_old_tree(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 16 * MiB, 0));
	struct model model = { 0 }, before = { 0 };
	fill(&fixture, &model, 2000);
	model_copy(&before, &model);
	struct kv_epoch *epoch;
	REQUIRE(kv_epoch_begin(fixture.epochs, &epoch) == DBOS_OK);
	/* Change most of it: new keys, overwrites, deletes (pages split, merge and are freed). */
	fill(&fixture, &model, 2000);
	for (size_t i = 0; i < before.count; i += 2) {
		bool found;
		CHECK_EQ(kv_tree_del(&fixture.tree, before.entries[i].key, before.entries[i].key_size, 3, &found),
			 DBOS_OK);
		model_del(&model, before.entries[i].key, before.entries[i].key_size);
	}
	CHECK(fixture_matches_model(&fixture, &model));

	struct kv_tree_info info;
	CHECK_EQ(kv_tree_info(&fixture.tree, epoch, &info), DBOS_OK);
	CHECK_EQ(info.entries, before.count);
	uint8_t *value = malloc(64 * KiB);
	bool gets_ok = true;
	for (size_t i = 0; i < before.count; i++) {
		uint64_t size;
		const struct model_entry *entry = &before.entries[i];
		dbos_status status =
			kv_tree_get(&fixture.tree, epoch, entry->key, entry->key_size, value, 64 * KiB, &size);
		gets_ok = gets_ok && status == DBOS_OK && size == entry->value_size &&
			  fixture_value_matches(value, size, entry->seed);
	}
	CHECK(gets_ok);
	free(value);
	static struct scan_result result;
	for (int reverse = 0; reverse < 2; reverse++) {
		dbos_kv_range all = { .reverse = reverse };
		struct kv_tree_cursor *cursor;
		REQUIRE(kv_tree_cursor_open(&fixture.tree, epoch, &all, &cursor) == DBOS_OK);
		CHECK_EQ(drain(cursor, 4 * KiB, &result, &before), DBOS_OK);
		CHECK(result.values_ok);
		CHECK(range_matches_model(&before, &all, &result));
		scan_result_free(&result);
		kv_tree_cursor_close(cursor);
	}
	kv_epoch_end(epoch);
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	model_free(&model);
	model_free(&before);
	fixture_tree_close(&fixture);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(every_bound_combination_both_directions);
	RUN_TEST(elimit_names_the_bytes_needed);
	RUN_TEST(writes_between_cursor_calls);
	RUN_TEST(epoch_reads_see_the_old_tree);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
