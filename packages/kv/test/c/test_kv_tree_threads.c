/*
 * test_kv_tree_threads.c - readers that never block while the writer changes
 * the tree: a reader thread's gets always see a whole value (the old or the
 * new one, never a mix, never an older one after a newer), and its scans
 * always see keys in strict order with whole values, while the writer
 * overwrites, deletes, splits and merges, with values inline and in overflow
 * chains, in a pool small enough that pages are evicted meanwhile.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "kv_tree_fixture.h"

#define KEYS 3000u

/* A value names its key and version and is filled from both: a torn value cannot pass. */
static uint64_t versioned_size(uint32_t id, uint32_t version)
{
	return (id * 7u + version * 13u) % 10u == 0 ? 5000u + version % 3000u : 8u + (id + version) % 200u;
}

static void versioned_value(uint8_t *value, uint32_t id, uint32_t version)
{
	uint64_t size = versioned_size(id, version);
	memcpy(value, &id, 4);
	memcpy(value + 4, &version, 4);
	for (uint64_t i = 8; i < size; i++)
		value[i] = (uint8_t)(id * 31u + version * 17u + i);
}

/* The version a value carries, or -1 when it is not a whole value of key `id`. */
static int64_t versioned_check(const uint8_t *value, uint64_t size, uint32_t id)
{
	uint32_t stored_id, version;
	if (size < 8)
		return -1;
	memcpy(&stored_id, value, 4);
	memcpy(&version, value + 4, 4);
	if (stored_id != id || size != versioned_size(id, version))
		return -1;
	for (uint64_t i = 8; i < size; i++)
		if (value[i] != (uint8_t)(id * 31u + version * 17u + i))
			return -1;
	return version;
}

static uint32_t key_id(const uint8_t *key)
{
	return (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
}

struct reader_state {
	struct kv_tree *tree;
	atomic_bool stop;
	/* gets and scans: the writer's loop watches them while the reader counts (atomic); the rest are read after the join. */
	_Atomic uint64_t gets, scans;
	uint64_t torn, backwards, disorder, errors;
};

static void reader_scan(struct reader_state *state, uint8_t *buffer, size_t capacity)
{
	dbos_kv_range all = { 0 };
	struct kv_tree_cursor *cursor;
	if (kv_tree_cursor_open(state->tree, NULL, &all, &cursor) != DBOS_OK) {
		state->errors++;
		return;
	}
	int64_t last_id = -1;
	for (;;) {
		uint32_t count;
		size_t used;
		dbos_status status = kv_tree_cursor_next(cursor, buffer, capacity, &count, &used);
		if (status != DBOS_OK) {
			state->errors++;
			break;
		}
		if (count == 0)
			break;
		size_t at = 0;
		for (uint32_t i = 0; i < count; i++) {
			uint32_t key_size;
			uint64_t value_size;
			memcpy(&key_size, buffer + at, 4);
			memcpy(&value_size, buffer + at + 8, 8);
			uint32_t id = key_id(buffer + at + 16);
			if ((int64_t)id <= last_id)
				state->disorder++;
			last_id = id;
			if (versioned_check(buffer + at + 16 + key_size, value_size, id) < 0)
				state->torn++;
			at += (16 + key_size + value_size + 7) & ~(size_t)7;
		}
	}
	kv_tree_cursor_close(cursor);
	state->scans++;
}

static void *reader(void *argument)
{
	struct reader_state *state = argument;
	static int64_t seen[KEYS];
	for (uint32_t i = 0; i < KEYS; i++)
		seen[i] = -1;
	uint8_t *value = malloc(16 * KiB);
	uint64_t random = 12345;
	while (!atomic_load(&state->stop)) {
		for (int n = 0; n < 200; n++) {
			random = random * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t id = (uint32_t)(random >> 33) % KEYS;
			uint8_t key[12];
			fixture_key(key, sizeof key, id);
			uint64_t size;
			dbos_status status = kv_tree_get(state->tree, NULL, key, sizeof key, value, 16 * KiB, &size);
			state->gets++;
			if (status == DBOS_ENOENT)
				continue;
			if (status != DBOS_OK) {
				state->errors++;
				continue;
			}
			int64_t version = versioned_check(value, size, id);
			if (version < 0)
				state->torn++;
			else if (version < seen[id])
				state->backwards++;
			else
				seen[id] = version;
		}
		reader_scan(state, value, 16 * KiB);
	}
	free(value);
	return NULL;
}

static void reader_sees_whole_values_and_ordered_scans(void)
{
	struct fixture_tree fixture;
	/* 96 pages of memory for a tree of a few MiB: readers and the writer meet evictions. */
	REQUIRE(fixture_tree_open(&fixture, 96 * 4 * KiB, 0));
	static uint32_t versions[KEYS];
	static bool present[KEYS];
	uint8_t *value = malloc(16 * KiB);
	uint8_t key[12];
	for (uint32_t id = 0; id < KEYS; id++) {
		fixture_key(key, sizeof key, id);
		versions[id] = 1;
		versioned_value(value, id, 1);
		REQUIRE(kv_tree_put(&fixture.tree, key, sizeof key, value, versioned_size(id, 1), 1) == DBOS_OK);
		present[id] = true;
	}
	struct reader_state state = { .tree = &fixture.tree };
	pthread_t thread;
	REQUIRE(pthread_create(&thread, NULL, reader, &state) == 0);
	uint64_t lsn = 2;
	uint64_t deadline = dbos_platform_now_ns() + 1500000000ull;
	uint64_t writes = 0;
	bool write_ok = true;
	/* At least 1.5 s, and enough reads to mean something however slow the machine (a sanitizer) is. */
	while (dbos_platform_now_ns() < deadline || atomic_load(&state.scans) < 3 || atomic_load(&state.gets) <= 1000) {
		for (int n = 0; n < 100; n++, writes++) {
			uint32_t id = (uint32_t)(fixture_random() % KEYS);
			fixture_key(key, sizeof key, id);
			uint32_t version = ++versions[id];
			if (fixture_random() % 4 == 0) {
				bool found;
				write_ok &= kv_tree_del(&fixture.tree, key, sizeof key, lsn++, &found) == DBOS_OK;
				write_ok &= found == present[id];
				present[id] = false;
			} else {
				versioned_value(value, id, version);
				write_ok &= kv_tree_put(&fixture.tree, key, sizeof key, value,
							versioned_size(id, version), lsn++) == DBOS_OK;
				present[id] = true;
			}
		}
	}
	atomic_store(&state.stop, true);
	pthread_join(thread, NULL);
	CHECK(write_ok);
	CHECK_EQ(state.torn, 0);
	CHECK_EQ(state.backwards, 0);
	CHECK_EQ(state.disorder, 0);
	CHECK_EQ(state.errors, 0);
	CHECK(atomic_load(&state.gets) > 1000);
	CHECK(atomic_load(&state.scans) >= 3);
	fprintf(stderr, "writes %" PRIu64 ", reader gets %" PRIu64 ", scans %" PRIu64 "\n", writes,
		atomic_load(&state.gets), atomic_load(&state.scans));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	free(value);
	fixture_tree_close(&fixture);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(reader_sees_whole_values_and_ordered_scans);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
