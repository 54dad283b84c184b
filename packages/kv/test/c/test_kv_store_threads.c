/*
 * test_kv_store_threads.c - the store used from many threads at once: writers
 * (serialized inside the store), readers without locks, views that must never
 * see half a batch, explicit and background checkpoints, and a backup, all at
 * the same time; then a reopen that must find the last generation of every key.
 *
 * Writer w owns keys w * KEYS_PER_WRITER + (0..KEYS_PER_WRITER-1) and rewrites
 * them in batches of BATCH_KEYS consecutive keys, all at one generation: a view
 * (or a crash) sees either the whole batch or none of it, so the keys of one
 * batch always carry the same generation.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "kv_store_fixture.h"

#define WRITERS 4
#define KEYS_PER_WRITER 64
#define BATCH_KEYS 4
#define GENERATIONS 40
#define VALUE_SIZE 120

static dbos_kv *shared_kv;
static atomic_bool writers_done;
static atomic_uint_fast64_t reader_failures, view_failures, views_checked;

/* A value names its key and generation in its first 16 bytes, the rest derives from both. */
static void thread_value(uint8_t *value, uint64_t n, uint64_t generation)
{
	fixture_value(value, VALUE_SIZE, n, generation);
	memcpy(value, &n, 8);
	memcpy(value + 8, &generation, 8);
}

/* The generation of a well-formed value of key n; UINT64_MAX when it is not one. */
static uint64_t thread_value_generation(const uint8_t *value, uint64_t size, uint64_t n)
{
	uint64_t stored_n, generation;
	if (size != VALUE_SIZE)
		return UINT64_MAX;
	memcpy(&stored_n, value, 8);
	memcpy(&generation, value + 8, 8);
	uint8_t expected[VALUE_SIZE];
	thread_value(expected, n, generation);
	return stored_n == n && memcmp(value, expected, VALUE_SIZE) == 0 ? generation : UINT64_MAX;
}

static void *writer_main(void *argument)
{
	uint64_t writer = (uint64_t)(uintptr_t)argument;
	for (uint64_t generation = 1; generation <= GENERATIONS; generation++)
		for (uint64_t first = 0; first < KEYS_PER_WRITER; first += BATCH_KEYS) {
			char keys[BATCH_KEYS][32];
			uint8_t values[BATCH_KEYS][VALUE_SIZE];
			dbos_kv_op ops[BATCH_KEYS];
			for (uint32_t j = 0; j < BATCH_KEYS; j++) {
				uint64_t n = writer * KEYS_PER_WRITER + first + j;
				thread_value(values[j], n, generation);
				ops[j] = (dbos_kv_op){ .type = DBOS_KV_PUT,
						       .key_size = fixture_key(keys[j], n),
						       .key = keys[j],
						       .value = values[j],
						       .value_size = VALUE_SIZE };
			}
			uint32_t flags = first == 0 ? DBOS_KV_SYNC : 0;
			if (dbos_kv_write(shared_kv, ops, BATCH_KEYS, flags, NULL) != DBOS_OK)
				return (void *)1;
		}
	return NULL;
}

/* Lock-free gets: every value found is whole. */
static void *reader_main(void *argument)
{
	uint64_t seed = (uint64_t)(uintptr_t)argument;
	uint8_t value[VALUE_SIZE + 8];
	while (!atomic_load(&writers_done)) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t n = (seed >> 33) % (WRITERS * KEYS_PER_WRITER), size = 0;
		char key[32];
		dbos_status status = dbos_kv_get(shared_kv, NULL, key, fixture_key(key, n), value, sizeof value, &size);
		if (status == DBOS_ENOENT)
			continue;
		if (status != DBOS_OK || thread_value_generation(value, size, n) == UINT64_MAX)
			atomic_fetch_add(&reader_failures, 1);
	}
	return NULL;
}

/* Views: within a batch's keys, one generation. */
static void *viewer_main(void *argument)
{
	uint8_t value[VALUE_SIZE + 8];
	while (!atomic_load(&writers_done)) {
		dbos_kv_view *view = NULL;
		if (dbos_kv_view_open(shared_kv, &view) != DBOS_OK) {
			atomic_fetch_add(&view_failures, 1);
			return NULL;
		}
		for (uint64_t first = 0; first < WRITERS * KEYS_PER_WRITER; first += BATCH_KEYS) {
			uint64_t generations[BATCH_KEYS];
			for (uint32_t j = 0; j < BATCH_KEYS; j++) {
				char key[32];
				uint64_t size = 0;
				dbos_status status = dbos_kv_get(shared_kv, view, key, fixture_key(key, first + j),
								 value, sizeof value, &size);
				generations[j] = status == DBOS_ENOENT ? 0
						 : status == DBOS_OK   ? thread_value_generation(value, size, first + j)
								       : UINT64_MAX;
			}
			for (uint32_t j = 1; j < BATCH_KEYS; j++)
				if (generations[j] != generations[0] || generations[j] == UINT64_MAX)
					atomic_fetch_add(&view_failures, 1);
		}
		dbos_kv_view_close(view);
		atomic_fetch_add(&views_checked, 1);
	}
	return NULL;
}

static void *checkpointer_main(void *argument)
{
	const char *backup_dir = argument;
	bool backed_up = false;
	while (!atomic_load(&writers_done)) {
		if (dbos_kv_checkpoint(shared_kv) != DBOS_OK)
			return (void *)1;
		if (!backed_up && dbos_kv_backup(shared_kv, backup_dir, NULL, NULL) != DBOS_OK)
			return (void *)2;
		backed_up = true;
		usleep(2000);
	}
	return NULL;
}

static void writers_readers_views_and_checkpoints_at_once(void)
{
	char dir[300], backup_dir[300];
	fixture_dir(dir, sizeof dir);
	fixture_dir(backup_dir, sizeof backup_dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	config.checkpoint_wal_bytes = 128 * 1024;
	shared_kv = fixture_open(&config);
	REQUIRE(shared_kv);
	pthread_t writers[WRITERS], readers[2], viewer, checkpointer;
	for (uintptr_t w = 0; w < WRITERS; w++)
		REQUIRE(pthread_create(&writers[w], NULL, writer_main, (void *)w) == 0);
	for (uintptr_t r = 0; r < 2; r++)
		REQUIRE(pthread_create(&readers[r], NULL, reader_main, (void *)(r + 1)) == 0);
	REQUIRE(pthread_create(&viewer, NULL, viewer_main, NULL) == 0);
	REQUIRE(pthread_create(&checkpointer, NULL, checkpointer_main, backup_dir) == 0);
	void *result;
	for (int w = 0; w < WRITERS; w++) {
		REQUIRE(pthread_join(writers[w], &result) == 0);
		CHECK(result == NULL);
	}
	atomic_store(&writers_done, true);
	for (int r = 0; r < 2; r++)
		pthread_join(readers[r], NULL);
	pthread_join(viewer, NULL);
	REQUIRE(pthread_join(checkpointer, &result) == 0);
	CHECK(result == NULL);
	CHECK_EQ(atomic_load(&reader_failures), 0);
	CHECK_EQ(atomic_load(&view_failures), 0);
	CHECK(atomic_load(&views_checked) > 0);
	struct dbos_kv_stats stats = fixture_stats(shared_kv);
	CHECK(stats.checkpoints > 0);
	CHECK_EQ(stats.entries, WRITERS * KEYS_PER_WRITER);
	printf("# %llu views checked, %llu checkpoints, %llu group commits, %llu syncs\n",
	       (unsigned long long)atomic_load(&views_checked), (unsigned long long)stats.checkpoints,
	       (unsigned long long)stats.group_commits, (unsigned long long)stats.syncs);
	CHECK_EQ(dbos_kv_close(shared_kv), DBOS_OK);

	/* Reopened: the last generation everywhere. */
	config.flags = 0;
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	uint8_t value[VALUE_SIZE + 8];
	for (uint64_t n = 0; n < WRITERS * KEYS_PER_WRITER; n++) {
		char key[32];
		uint64_t size = 0;
		CHECK_EQ(dbos_kv_get(kv, NULL, key, fixture_key(key, n), value, sizeof value, &size), DBOS_OK);
		CHECK_EQ(thread_value_generation(value, size, n), GENERATIONS);
	}
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);

	/* The backup: a consistent store, batches whole. */
	dbos_kv_config backup_config = fixture_config(backup_dir, 0);
	kv = fixture_open(&backup_config);
	REQUIRE(kv);
	for (uint64_t first = 0; first < WRITERS * KEYS_PER_WRITER; first += BATCH_KEYS) {
		uint64_t generation0 = 0;
		for (uint32_t j = 0; j < BATCH_KEYS; j++) {
			char key[32];
			uint64_t size = 0, generation = 0;
			dbos_status status =
				dbos_kv_get(kv, NULL, key, fixture_key(key, first + j), value, sizeof value, &size);
			if (status == DBOS_OK)
				generation = thread_value_generation(value, size, first + j);
			else
				CHECK_EQ(status, DBOS_ENOENT);
			if (j == 0)
				generation0 = generation;
			CHECK_EQ(generation, generation0);
		}
	}
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

static uint64_t listener_calls, listener_synced;

static void count_commits(void *context, uint64_t written_lsn, uint64_t synced_lsn, dbos_status status)
{
	__atomic_fetch_add(&listener_calls, 1, __ATOMIC_RELAXED);
	if (status == DBOS_OK)
		__atomic_store_n(&listener_synced, synced_lsn, __ATOMIC_RELAXED);
}

static void commit_listener_hears_group_commits(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	dbos_kv_set_commit_listener(kv, count_commits, NULL);
	uint64_t lsn = 0;
	char key[32];
	dbos_kv_op op = {
		.type = DBOS_KV_PUT, .key_size = fixture_key(key, 1), .key = key, .value = "v", .value_size = 1
	};
	REQUIRE(dbos_kv_write(kv, &op, 1, DBOS_KV_SYNC, &lsn) == DBOS_OK);
	CHECK_EQ(dbos_kv_wait(kv, lsn, true), DBOS_OK);
	CHECK(dbos_kv_written_lsn(kv) > lsn);
	CHECK(dbos_kv_synced_lsn(kv) > lsn);
	CHECK_EQ(dbos_kv_wait(kv, dbos_kv_written_lsn(kv) + 4096, false), DBOS_EINVAL); /* no such write yet */
	dbos_kv_set_commit_listener(kv, NULL, NULL);
	CHECK(__atomic_load_n(&listener_calls, __ATOMIC_RELAXED) > 0);
	CHECK(__atomic_load_n(&listener_synced, __ATOMIC_RELAXED) > lsn);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(writers_readers_views_and_checkpoints_at_once);
	RUN_TEST(commit_listener_hears_group_commits);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
