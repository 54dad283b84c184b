/*
 * test_kv_wal_fixture.h - what the log and record tests share: a scratch
 * directory on a real disk, a seeded random generator, file surgery behind the
 * log's back, and a replay that collects what it read.
 */
#ifndef TEST_KV_WAL_FIXTURE_H
#define TEST_KV_WAL_FIXTURE_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../csrc/kv_wal.h"
#include "dbos_test.h"
#include "kv_tsan.h"

static char fixture_root[256];
static int fixture_dirs;

static inline void fixture_setup(void)
{
	snprintf(fixture_root, sizeof fixture_root, "/var/tmp/dbos-kv-wal-test-XXXXXX");
	DBOS_ASSERT(mkdtemp(fixture_root) != NULL);
}

static inline void fixture_teardown(void)
{
	char command[320];
	snprintf(command, sizeof command, "rm -rf '%s'", fixture_root);
	DBOS_ASSERT(system(command) == 0);
}

/* A fresh, empty directory for one log. */
static inline const char *fixture_dir(char *buffer, size_t size)
{
	snprintf(buffer, size, "%s/log-%d", fixture_root, fixture_dirs++);
	DBOS_ASSERT(mkdir(buffer, 0755) == 0);
	return buffer;
}

/* xorshift64*: reproducible from the seed printed on failure. */
static uint64_t fixture_random_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t fixture_random(void)
{
	uint64_t x = fixture_random_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	fixture_random_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline uint64_t fixture_below(uint64_t bound)
{
	return bound ? fixture_random() % bound : 0;
}

static inline void fixture_segment_path(char *path, size_t size, const char *dir, uint64_t lsn)
{
	snprintf(path, size, "%s/wal.%016" PRIx64, dir, lsn);
}

static inline bool fixture_segment_exists(const char *dir, uint64_t lsn)
{
	char path[512];
	fixture_segment_path(path, sizeof path, dir, lsn);
	return access(path, F_OK) == 0;
}

static inline uint64_t fixture_segment_size(const char *dir, uint64_t lsn)
{
	char path[512];
	struct stat st;
	fixture_segment_path(path, sizeof path, dir, lsn);
	DBOS_ASSERT(stat(path, &st) == 0);
	return (uint64_t)st.st_size;
}

static inline void fixture_segment_truncate(const char *dir, uint64_t lsn, uint64_t size)
{
	char path[512];
	fixture_segment_path(path, sizeof path, dir, lsn);
	DBOS_ASSERT(truncate(path, (off_t)size) == 0);
}

/* XOR one byte of a segment with `mask`. */
static inline void fixture_segment_flip(const char *dir, uint64_t lsn, uint64_t offset, uint8_t mask)
{
	char path[512];
	fixture_segment_path(path, sizeof path, dir, lsn);
	int fd = open(path, O_RDWR);
	DBOS_ASSERT(fd >= 0);
	uint8_t byte;
	DBOS_ASSERT(pread(fd, &byte, 1, (off_t)offset) == 1);
	byte ^= mask;
	DBOS_ASSERT(pwrite(fd, &byte, 1, (off_t)offset) == 1);
	close(fd);
}

/* Payload `index` of a test: 8..3007 bytes that follow from the index alone. */
static inline uint32_t fixture_payload_size(uint64_t index)
{
	return 8u + (uint32_t)((index * 7919u) % 3000u);
}

static inline void fixture_payload_fill(uint8_t *payload, uint64_t index)
{
	uint32_t size = fixture_payload_size(index);
	for (uint32_t i = 0; i < size; i++)
		payload[i] = (uint8_t)(index * 31u + i * 7u);
}

/* What a replay saw: the LSN and the first 8 payload bytes (the index, in tests that write it there). */
struct fixture_replayed {
	uint64_t count;
	uint64_t capacity;
	uint64_t *lsns;
	uint64_t *tags;
	uint32_t *sizes;
	bool payloads_ok; /* every payload matched fixture_payload_fill of its tag (when checking) */
	bool check_payloads;
};

static inline dbos_status fixture_collect(void *context, uint64_t lsn, const void *payload, uint32_t size)
{
	struct fixture_replayed *replayed = context;
	if (replayed->count == replayed->capacity) {
		replayed->capacity = replayed->capacity ? replayed->capacity * 2 : 1024;
		replayed->lsns = realloc(replayed->lsns, replayed->capacity * sizeof *replayed->lsns);
		replayed->tags = realloc(replayed->tags, replayed->capacity * sizeof *replayed->tags);
		replayed->sizes = realloc(replayed->sizes, replayed->capacity * sizeof *replayed->sizes);
		DBOS_ASSERT(replayed->lsns && replayed->tags && replayed->sizes);
	}
	uint64_t tag = 0;
	if (size >= 8)
		memcpy(&tag, payload, 8);
	if (replayed->check_payloads && size >= 8) {
		/* Tests that check payloads write the tag over the first 8 bytes of fixture_payload_fill. */
		if (fixture_payload_size(tag) != size) {
			replayed->payloads_ok = false;
		} else {
			uint8_t *expected = malloc(size);
			DBOS_ASSERT(expected);
			fixture_payload_fill(expected, tag);
			if (memcmp(expected + 8, (const uint8_t *)payload + 8, size - 8))
				replayed->payloads_ok = false;
			free(expected);
		}
	}
	replayed->lsns[replayed->count] = lsn;
	replayed->tags[replayed->count] = tag;
	replayed->sizes[replayed->count] = size;
	replayed->count++;
	return DBOS_OK;
}

static inline void fixture_replayed_free(struct fixture_replayed *replayed)
{
	free(replayed->lsns);
	free(replayed->tags);
	free(replayed->sizes);
	memset(replayed, 0, sizeof *replayed);
}

/* Replay dir from from_lsn into *replayed (emptied first). */
static inline dbos_status fixture_replay(const char *dir, uint64_t from_lsn, struct fixture_replayed *replayed,
					 uint64_t *next_lsn_out)
{
	fixture_replayed_free(replayed);
	replayed->payloads_ok = true;
	replayed->check_payloads = true;
	uint64_t records = 0;
	dbos_status status = kv_wal_replay(dir, from_lsn, NULL, fixture_collect, replayed, next_lsn_out, &records);
	if (status == DBOS_OK && records != replayed->count)
		return DBOS_EIO; /* the count reported disagrees with what apply saw */
	return status;
}

/* Append test payload `tag` (the tag in its first 8 bytes). */
static inline dbos_status fixture_append(struct kv_wal *wal, uint64_t tag, bool sync, uint64_t *lsn_out)
{
	uint32_t size = fixture_payload_size(tag);
	uint8_t *payload = malloc(size);
	DBOS_ASSERT(payload);
	fixture_payload_fill(payload, tag);
	memcpy(payload, &tag, 8);
	dbos_status status = kv_wal_append(wal, payload, size, sync, lsn_out);
	free(payload);
	return status;
}

#endif /* TEST_KV_WAL_FIXTURE_H */
