/*
 * test_kv_crash.c - a writer killed (SIGKILL) at a random moment, over and over;
 * after each kill the store is reopened (recovered) and checked.
 *
 * Each cycle forks a writer that opens the store (recovering it from the last
 * kill), then writes batches with DBOS_KV_SYNC, waits until each is synced and
 * reports its id through a pipe; now and then it checkpoints (a small
 * checkpoint_wal_bytes makes the background thread checkpoint too) or closes
 * and reopens the store, so kills also land in close and in a clean open.  The parent
 * kills it after a random delay (in even cycles counted from the fork, so
 * sometimes during open, that is during recovery; in odd ones from the first
 * acknowledged batch), then forks a verifier that opens the store and checks:
 *   - every acknowledged batch is there, completely;
 *   - batches are all or nothing: "counter" holds the id of the last batch
 *     applied, every key of every batch up to it is there (minus the ones later
 *     batches deleted), no key of the batches after it is;
 *   - the entry count matches, and dbos_kv_check passes.
 * The parent never opens the store itself, so it starts no thread and every
 * fork is sound.  DBOS_KV_CRASH_CYCLES raises the cycle count (default 50; 16 under
 * ThreadSanitizer).
 *
 * Batch b writes keys "b<b>-<j>" for j < 1 + b % 4 (every 7th batch one large
 * value on overflow pages), sets "counter" to b, and when b % 3 == 0 and
 * b >= 10 deletes "b<b-10>-0".
 */
#include "kv_store_fixture.h"

#define CRASH_CYCLES_DEFAULT KV_TSAN_SCALE(50, 16)
#define CRASH_DELAY_OPEN_MAX_US 15000    /* even cycles: killed 0..15 ms after the fork */
#define CRASH_DELAY_WRITING_MAX_US 20000 /* odd cycles: 0..20 ms after the first acknowledgement */
#define CRASH_BATCHES_MAX 100000u

static char crash_dir[300];

static dbos_kv_config crash_config(void)
{
	dbos_kv_config config = fixture_config(crash_dir, DBOS_KV_CREATE);
	config.checkpoint_wal_bytes = 32 * 1024; /* background checkpoints every few dozen batches */
	return config;
}

static uint32_t batch_key(char *buffer, uint64_t batch, uint32_t j)
{
	return (uint32_t)snprintf(buffer, 40, "b%010llu-%u", (unsigned long long)batch, j);
}

static uint32_t batch_key_count(uint64_t batch)
{
	return 1 + (uint32_t)(batch % 4);
}

static uint64_t batch_value_size(uint64_t batch, uint32_t j)
{
	return batch % 7 == 0 && j == 0 ? 6000 : 20 + (batch * 31 + j * 17) % 180;
}

static bool batch_deletes(uint64_t batch)
{
	return batch >= 10 && batch % 3 == 0;
}

/* Key j of `batch` is gone once the batch 10 later (applied, <= last) deleted it. */
static bool batch_key_deleted(uint64_t batch, uint32_t j, uint64_t last)
{
	return j == 0 && batch + 10 <= last && batch_deletes(batch + 10);
}

static dbos_status batch_write(dbos_kv *kv, uint64_t batch, uint64_t *lsn_out)
{
	dbos_kv_op ops[8];
	char keys[6][40];
	uint8_t *values[4] = { 0 };
	uint32_t count = 0;
	for (uint32_t j = 0; j < batch_key_count(batch); j++) {
		uint64_t size = batch_value_size(batch, j);
		values[j] = malloc(size);
		fixture_value(values[j], size, batch, j);
		ops[count++] = (dbos_kv_op){ .type = DBOS_KV_PUT,
					     .key_size = batch_key(keys[j], batch, j),
					     .key = keys[j],
					     .value = values[j],
					     .value_size = size };
	}
	ops[count++] = (dbos_kv_op){
		.type = DBOS_KV_PUT, .key_size = 7, .key = "counter", .value = &batch, .value_size = sizeof batch
	};
	if (batch_deletes(batch))
		ops[count++] = (dbos_kv_op){ .type = DBOS_KV_DEL,
					     .key_size = batch_key(keys[5], batch - 10, 0),
					     .key = keys[5] };
	dbos_status status = dbos_kv_write(kv, ops, count, DBOS_KV_SYNC, lsn_out);
	for (uint32_t j = 0; j < 4; j++)
		free(values[j]);
	return status;
}

static _Noreturn void writer_child(uint64_t first_batch, int report_fd)
{
	dbos_kv_config config = crash_config();
	dbos_kv *kv = fixture_open(&config);
	if (!kv)
		_exit(2);
	for (uint64_t batch = first_batch; batch < first_batch + CRASH_BATCHES_MAX; batch++) {
		uint64_t lsn = 0;
		if (batch_write(kv, batch, &lsn) != DBOS_OK || dbos_kv_wait(kv, lsn, true) != DBOS_OK)
			_exit(3);
		if (write(report_fd, &batch, sizeof batch) != sizeof batch) /* acknowledged: it is synced */
			_exit(4);
		if (batch % 16 == 5 && dbos_kv_checkpoint(kv) != DBOS_OK)
			_exit(5);
		if (batch % 24 == 11) { /* a clean close and a clean open: kills land there too */
			if (dbos_kv_close(kv) != DBOS_OK || !(kv = fixture_open(&config)))
				_exit(6);
		}
	}
	_exit(0);
}

/* Every key of `batch` is there with its value (or deleted, when a later applied batch did). */
static bool batch_present(dbos_kv *kv, uint64_t batch, uint64_t last)
{
	static uint8_t expected[8192], actual[8192];
	for (uint32_t j = 0; j < batch_key_count(batch); j++) {
		char key[40];
		uint32_t key_size = batch_key(key, batch, j);
		uint64_t size = batch_value_size(batch, j), actual_size = 0;
		dbos_status status = dbos_kv_get(kv, NULL, key, key_size, actual, sizeof actual, &actual_size);
		if (batch_key_deleted(batch, j, last)) {
			if (status != DBOS_ENOENT) {
				fprintf(stderr, "%s: deleted by batch %llu, but there\n", key,
					(unsigned long long)(batch + 10));
				return false;
			}
			continue;
		}
		fixture_value(expected, size, batch, j);
		if (status != DBOS_OK || actual_size != size || memcmp(actual, expected, size) != 0) {
			fprintf(stderr, "%s: %s, size %llu (expected %llu)\n", key, dbos_status_name(status),
				(unsigned long long)actual_size, (unsigned long long)size);
			return false;
		}
	}
	return true;
}

static bool batch_absent(dbos_kv *kv, uint64_t batch)
{
	for (uint32_t j = 0; j < batch_key_count(batch); j++) {
		char key[40];
		uint64_t size = 0;
		if (dbos_kv_get(kv, NULL, key, batch_key(key, batch, j), NULL, 0, &size) != DBOS_ENOENT) {
			fprintf(stderr, "%s: there, but its batch is after the counter\n", key);
			return false;
		}
	}
	return true;
}

/* Exit 0 and report the last applied batch (+1; 0 when none) when every check passes. */
static _Noreturn void verifier_child(uint64_t acknowledged_end, int report_fd)
{
	/* CREATE: the first writer may have died before its store existed (then it is created empty). */
	dbos_kv_config config = crash_config();
	dbos_kv *kv = fixture_open(&config);
	if (!kv)
		_exit(10);
	uint64_t last = 0, size = 0, end = 0;
	dbos_status status = dbos_kv_get(kv, NULL, "counter", 7, &last, sizeof last, &size);
	if (status == DBOS_OK && size == sizeof last)
		end = last + 1;
	else if (status != DBOS_ENOENT)
		_exit(11);
	if (end < acknowledged_end) {
		fprintf(stderr, "batches up to %llu were acknowledged, the store ends at %llu\n",
			(unsigned long long)acknowledged_end, (unsigned long long)end);
		_exit(12);
	}
	uint64_t entries = end ? 1 : 0; /* "counter" */
	for (uint64_t batch = 0; batch < end; batch++) {
		if (!batch_present(kv, batch, last))
			_exit(13);
		for (uint32_t j = 0; j < batch_key_count(batch); j++)
			entries += !batch_key_deleted(batch, j, last);
	}
	for (uint64_t batch = end; batch < end + 3; batch++)
		if (!batch_absent(kv, batch))
			_exit(14);
	struct dbos_kv_stats stats = fixture_stats(kv);
	if (stats.entries != entries) {
		fprintf(stderr, "%llu entries, expected %llu\n", (unsigned long long)stats.entries,
			(unsigned long long)entries);
		_exit(15);
	}
	if ((status = dbos_kv_check(kv, NULL, NULL)) != DBOS_OK) {
		fixture_print_error("dbos_kv_check", status);
		_exit(16);
	}
	if (dbos_kv_close(kv) != DBOS_OK)
		_exit(17);
	_exit(write(report_fd, &end, sizeof end) == sizeof end ? 0 : 18);
}

static uint64_t crash_cycles(void)
{
	const char *text = getenv("DBOS_KV_CRASH_CYCLES");
	long long cycles = text ? atoll(text) : 0;
	return cycles > 0 ? (uint64_t)cycles : CRASH_CYCLES_DEFAULT;
}

static void killed_writer_loses_no_acknowledged_batch(void)
{
	fixture_dir(crash_dir, sizeof crash_dir);
	srand((unsigned)fixture_now_ns());
	uint64_t cycles = crash_cycles(), end = 0, acknowledged_total = 0, killed_while_writing = 0;
	uint64_t start_ns = fixture_now_ns();
	for (uint64_t cycle = 0; cycle < cycles; cycle++) {
		/* 1. A writer, killed after a random delay. */
		int report[2];
		REQUIRE(pipe(report) == 0);
		fflush(stdout);
		fflush(stderr);
		pid_t writer = fork();
		REQUIRE(writer >= 0);
		if (writer == 0) {
			close(report[0]);
			writer_child(end, report[1]);
		}
		close(report[1]);
		/* Even cycles: anywhere from open (recovery) on; odd ones: among the writes. */
		uint64_t batch, acknowledged_end = end;
		if (cycle % 2 == 1 && read(report[0], &batch, sizeof batch) == sizeof batch) {
			CHECK_EQ(batch, acknowledged_end);
			acknowledged_end = batch + 1;
			acknowledged_total++;
		}
		usleep((useconds_t)(rand() % (cycle % 2 ? CRASH_DELAY_WRITING_MAX_US : CRASH_DELAY_OPEN_MAX_US)));
		kill(writer, SIGKILL);
		int status = 0;
		REQUIRE(waitpid(writer, &status, 0) == writer);
		if (!WIFSIGNALED(status)) {
			fprintf(stderr, "cycle %llu: the writer exited with %d before the kill\n",
				(unsigned long long)cycle, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			CHECK(WIFSIGNALED(status));
		}
		while (read(report[0], &batch, sizeof batch) == sizeof batch) {
			CHECK_EQ(batch, acknowledged_end); /* acknowledged in order, none skipped */
			acknowledged_end = batch + 1;
			acknowledged_total++;
		}
		close(report[0]);
		killed_while_writing += acknowledged_end > end;

		/* 2. A verifier: recover, check, report where the batches end. */
		REQUIRE(pipe(report) == 0);
		pid_t verifier = fork();
		REQUIRE(verifier >= 0);
		if (verifier == 0) {
			close(report[0]);
			verifier_child(acknowledged_end, report[1]);
		}
		close(report[1]);
		REQUIRE(waitpid(verifier, &status, 0) == verifier);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "cycle %llu: the verifier failed (status %d) after batches %llu..%llu\n",
				(unsigned long long)cycle, status, (unsigned long long)end,
				(unsigned long long)acknowledged_end);
		REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		uint64_t verified_end = 0;
		REQUIRE(read(report[0], &verified_end, sizeof verified_end) == sizeof verified_end);
		close(report[0]);
		REQUIRE(verified_end >= acknowledged_end);
		end = verified_end;
	}
	printf("# %llu cycles in %.1f s: %llu batches acknowledged, %llu applied, %llu kills during writes\n",
	       (unsigned long long)cycles, (double)(fixture_now_ns() - start_ns) / 1e9,
	       (unsigned long long)acknowledged_total, (unsigned long long)end,
	       (unsigned long long)killed_while_writing);
	CHECK(killed_while_writing >= cycles / 2); /* the odd cycles at least were killed among writes */
}

int main(void)
{
	fixture_setup();
	RUN_TEST(killed_writer_loses_no_acknowledged_batch);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
