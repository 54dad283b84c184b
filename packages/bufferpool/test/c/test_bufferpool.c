/*
 * test_bufferpool.c - the buffer pool's file format, page life cycle,
 * eviction within the budget, integrity checks and caller errors, on one
 * thread.  (Threads, optimistic races and the hit cost: test_bufferpool_threads.c.)
 */
#include "bp_fixture.h"

#include <signal.h>
#include <sys/resource.h>

/* ---- File format ----------------------------------------------------------------- */

/*
 * One pool per file: a second writable pool (same process here; flock locks belong to open
 * file descriptions, so another process is refused the same way) is DBOS_EBUSY; read-only
 * pools share the file with each other but not with a writer; closing releases the lock.
 */
static void second_pool_is_refused(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *writer = fixture_open(&config);
	REQUIRE(writer);
	dbos_bp *second = NULL;
	dbos_bp_error error;
	config.flags = 0;
	CHECK_EQ(dbos_bp_open(&config, &second, &error), DBOS_EBUSY);
	CHECK_EQ(error.reason, DBOS_BP_REASON_LOCKED);
	CHECK(second == NULL);
	config.flags = DBOS_BP_READ_ONLY;
	CHECK_EQ(dbos_bp_open(&config, &second, &error), DBOS_EBUSY);
	CHECK_EQ(dbos_bp_close(writer), DBOS_OK);

	dbos_bp *reader_a = NULL, *reader_b = NULL;
	REQUIRE(dbos_bp_open(&config, &reader_a, &error) == DBOS_OK);
	CHECK_EQ(dbos_bp_open(&config, &reader_b, &error), DBOS_OK);
	config.flags = 0;
	CHECK_EQ(dbos_bp_open(&config, &second, &error), DBOS_EBUSY);
	CHECK_EQ(dbos_bp_close(reader_a), DBOS_OK);
	if (reader_b)
		CHECK_EQ(dbos_bp_close(reader_b), DBOS_OK);
	REQUIRE(dbos_bp_open(&config, &second, &error) == DBOS_OK);
	CHECK_EQ(dbos_bp_close(second), DBOS_OK);
}

static void create_and_reopen(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	CHECK_EQ(dbos_bp_page_size(bp), 4096);
	CHECK_EQ(dbos_bp_page_count(bp), 1);
	REQUIRE(fixture_populate(bp, 10));
	CHECK_EQ(dbos_bp_page_count(bp), 11);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	/* Reopen without CREATE and with page size 0: the file's numbers are adopted. */
	config.flags = 0;
	bp = fixture_open(&config);
	REQUIRE(bp);
	CHECK_EQ(dbos_bp_page_count(bp), 11);
	for (uint64_t pid = 1; pid <= 10; pid++) {
		void *page;
		REQUIRE(dbos_bp_fix_shared(bp, pid, &page) == DBOS_OK);
		CHECK(fixture_verify(page, 4096, pid, 0));
		CHECK_EQ(((dbos_bp_page_header *)page)->pid, pid);
		CHECK_EQ(dbos_bp_unfix_shared(bp, pid), DBOS_OK);
	}
	struct dbos_bp_stats stats = fixture_stats(bp);
	CHECK_EQ(stats.misses, 10);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	/* A larger page size round trip. */
	config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	config.page_size = 16384;
	bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 5));
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
	config.page_size = 0;
	bp = fixture_open(&config);
	REQUIRE(bp);
	CHECK_EQ(dbos_bp_page_size(bp), 16384);
	void *page;
	REQUIRE(dbos_bp_fix_shared(bp, 5, &page) == DBOS_OK);
	CHECK(fixture_verify(page, 16384, 5, 0));
	CHECK_EQ(dbos_bp_unfix_shared(bp, 5), DBOS_OK);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

static dbos_status open_status(const char *path, uint32_t page_size, uint32_t flags, dbos_bp_error *error)
{
	dbos_bp_config config = fixture_config(path, 1 * MiB);
	config.page_size = page_size;
	config.flags = flags;
	dbos_bp *bp = NULL;
	dbos_status status = dbos_bp_open(&config, &bp, error);
	if (bp)
		dbos_bp_close(bp);
	return status;
}

static void header_refusals(void)
{
	char path[300];
	dbos_bp_error error;
	fixture_path(path, sizeof path);
	/* A missing file without CREATE. */
	CHECK_EQ(open_status(path, 0, 0, &error), DBOS_ENOENT);

	/* A foreign file. */
	char foreign[8192];
	memset(foreign, 'x', sizeof foreign);
	int fd = open(path, O_CREAT | O_WRONLY, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, foreign, sizeof foreign) == (ssize_t)sizeof foreign);
	close(fd);
	CHECK_EQ(open_status(path, 0, DBOS_BP_CREATE, &error), DBOS_EINVAL);
	CHECK_EQ(error.reason, DBOS_BP_REASON_FOREIGN_FILE);

	/* A short file. */
	REQUIRE(truncate(path, 100) == 0);
	CHECK_EQ(open_status(path, 0, 0, &error), DBOS_EINVAL);
	CHECK_EQ(error.reason, DBOS_BP_REASON_FOREIGN_FILE);

	/* A real pool file, then its header altered. */
	fixture_path(path, sizeof path);
	CHECK_EQ(open_status(path, 8192, DBOS_BP_CREATE, &error), DBOS_OK);
	CHECK_EQ(open_status(path, 4096, 0, &error), DBOS_ERANGE);
	CHECK_EQ(error.reason, DBOS_BP_REASON_PAGE_SIZE_MISMATCH);
	CHECK_EQ(error.found, 8192);
	CHECK_EQ(error.expected, 4096);
	CHECK_EQ(open_status(path, 8192, 0, &error), DBOS_OK);

	dbos_bp_file_header header;
	fixture_peek(path, 0, &header, sizeof header);
	dbos_bp_file_header newer = header;
	newer.format_version = DBOS_BP_FORMAT_VERSION + 1;
	newer.checksum = 0;
	newer.checksum = dbos_crc32c(0, &newer, sizeof newer);
	fixture_poke(path, 0, &newer, sizeof newer);
	CHECK_EQ(open_status(path, 0, 0, &error), DBOS_ENOTSUP);
	CHECK_EQ(error.reason, DBOS_BP_REASON_NEWER_VERSION);

	dbos_bp_file_header damaged = header;
	damaged.page_count += 1; /* checksum left stale */
	fixture_poke(path, 0, &damaged, sizeof damaged);
	CHECK_EQ(open_status(path, 0, 0, &error), DBOS_ECORRUPT);
	CHECK_EQ(error.reason, DBOS_BP_REASON_HEADER_CHECKSUM);
	char text[200];
	dbos_bp_error_format(&error, text, sizeof text);
	CHECK(strstr(text, "checksum") != NULL);

	fixture_poke(path, 0, &header, sizeof header);
	CHECK_EQ(open_status(path, 0, 0, &error), DBOS_OK);

	/* Bad configurations. */
	CHECK_EQ(open_status(path, 1000, 0, &error), DBOS_EINVAL);
	CHECK_EQ(open_status(path, 128 * 1024, 0, &error), DBOS_EINVAL);
	CHECK_EQ(open_status(path, 0, 1u << 9, &error), DBOS_EINVAL);
	dbos_bp_config config = fixture_config(path, 4 * 4096); /* fewer than DBOS_BP_POOL_PAGES_MIN pages */
	dbos_bp *bp = NULL;
	CHECK_EQ(dbos_bp_open(&config, &bp, &error), DBOS_EINVAL);
	CHECK(bp == NULL);
	CHECK_EQ(dbos_bp_open(NULL, &bp, &error), DBOS_EINVAL);
	config = fixture_config(NULL, 1 * MiB);
	CHECK_EQ(dbos_bp_open(&config, &bp, &error), DBOS_EINVAL);
}

/* ---- Allocation ---------------------------------------------------------------------- */

static void allocate_free_reuse_across_reopen(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 20));
	CHECK_EQ(dbos_bp_free(bp, 7), DBOS_OK);
	CHECK_EQ(dbos_bp_free(bp, 13), DBOS_OK);
	CHECK_EQ(dbos_bp_free(bp, 7), DBOS_EINVAL); /* freed twice */
	CHECK_EQ(fixture_stats(bp).free_pages, 2);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	config.flags = 0;
	bp = fixture_open(&config);
	REQUIRE(bp);
	CHECK_EQ(fixture_stats(bp).free_pages, 2);
	uint64_t pid;
	void *page;
	/* The chain is last-freed first: 13, then 7, then the file grows. */
	REQUIRE(dbos_bp_allocate(bp, &pid, &page) == DBOS_OK);
	CHECK_EQ(pid, 13);
	CHECK(fixture_verify(page, 4096, pid, 0) == false);
	CHECK_EQ(((uint64_t *)dbos_bp_payload(page))[0], 0); /* zeroed */
	fixture_fill(page, 4096, pid, 1);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, pid, true), DBOS_OK);
	REQUIRE(dbos_bp_allocate(bp, &pid, &page) == DBOS_OK);
	CHECK_EQ(pid, 7);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, pid, true), DBOS_OK);
	REQUIRE(dbos_bp_allocate(bp, &pid, &page) == DBOS_OK);
	CHECK_EQ(pid, 21);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, pid, true), DBOS_OK);
	CHECK_EQ(fixture_stats(bp).free_pages, 0);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(dbos_bp_fix_shared(bp, 13, &page) == DBOS_OK);
	CHECK(fixture_verify(page, 4096, 13, 1));
	CHECK_EQ(dbos_bp_unfix_shared(bp, 13), DBOS_OK);
	REQUIRE(dbos_bp_fix_shared(bp, 12, &page) == DBOS_OK);
	CHECK(fixture_verify(page, 4096, 12, 0));
	CHECK_EQ(dbos_bp_unfix_shared(bp, 12), DBOS_OK);
	CHECK_EQ(dbos_bp_page_count(bp), 22);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

/* ---- Larger than memory ------------------------------------------------------------------ */

static void larger_than_memory_within_budget(void)
{
	char path[300];
	const uint64_t pool_bytes = 1 * MiB, pages = 1024; /* a 4 MiB file over a 1 MiB pool */
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), pool_bytes);
	config.evict_batch = 32;
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	uint64_t budget = pool_bytes / 4096;
	uint64_t rss_before = fixture_rss_bytes();
	uint8_t *region = NULL;
	uint64_t peak_resident = 0, peak_mapped = 0;

	for (uint64_t n = 0; n < pages; n++) {
		uint64_t pid;
		void *page;
		REQUIRE(dbos_bp_allocate(bp, &pid, &page) == DBOS_OK);
		region = (uint8_t *)page - pid * 4096;
		fixture_fill(page, 4096, pid, 0);
		REQUIRE(dbos_bp_unfix_exclusive(bp, pid, true) == DBOS_OK);
		struct dbos_bp_stats stats = fixture_stats(bp);
		if (stats.resident_pages > peak_resident)
			peak_resident = stats.resident_pages;
		if (n % 64 == 0) {
			uint64_t mapped = fixture_resident_pages(region, (pages + 1) * 4096);
			if (mapped > peak_mapped)
				peak_mapped = mapped;
		}
	}
	/* Two passes of verification over every page, in different orders. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t n = 0; n < pages; n++) {
			uint64_t pid = pass == 0 ? n + 1 : (n * 389) % pages + 1;
			void *page;
			REQUIRE(dbos_bp_fix_shared(bp, pid, &page) == DBOS_OK);
			CHECK(fixture_verify(page, 4096, pid, 0));
			REQUIRE(dbos_bp_unfix_shared(bp, pid) == DBOS_OK);
			struct dbos_bp_stats stats = fixture_stats(bp);
			if (stats.resident_pages > peak_resident)
				peak_resident = stats.resident_pages;
			if (n % 64 == 0) {
				uint64_t mapped = fixture_resident_pages(region, (pages + 1) * 4096);
				if (mapped > peak_mapped)
					peak_mapped = mapped;
			}
		}
	}
	struct dbos_bp_stats stats = fixture_stats(bp);
	uint64_t rss_growth = fixture_rss_bytes() - rss_before;
	printf("# larger_than_memory: %llu pages over a %llu-page budget: peak resident %llu (stats), %llu "
	       "(mincore), evictions %llu, written %llu, misses %llu, RSS growth %llu KiB\n",
	       (unsigned long long)pages, (unsigned long long)budget, (unsigned long long)peak_resident,
	       (unsigned long long)peak_mapped, (unsigned long long)stats.evictions,
	       (unsigned long long)stats.pages_written, (unsigned long long)stats.misses,
	       (unsigned long long)(rss_growth / 1024));
	CHECK(peak_resident <= budget);
	CHECK(peak_mapped <= budget);
	CHECK(stats.evictions >= pages - budget);
	CHECK(stats.pages_written >= pages - budget);
	CHECK(stats.misses >= pages); /* the second pass misses nearly everything */
	CHECK_EQ(stats.reads_in_flight, 0);
	CHECK_EQ(stats.writes_in_flight, 0);
	/*
	 * RSS: the budget plus the pool's bookkeeping and the test's own noise, never the file.
	 * ThreadSanitizer keeps shadow memory for every page ever touched (discarding a page does
	 * not drop its shadow), so there only the region's own residency (mincore, above) counts.
	 */
#if defined(__SANITIZE_THREAD__)
	printf("# RSS bound not checked under ThreadSanitizer (shadow memory); mincore bound checked\n");
#else
	CHECK(rss_growth < pool_bytes + 2 * MiB);
#endif
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	/* Everything reached the file: reopen and check every page again, cold. */
	config.flags = 0;
	bp = fixture_open(&config);
	REQUIRE(bp);
	for (uint64_t pid = 1; pid <= pages; pid++) {
		void *page;
		REQUIRE(dbos_bp_fix_shared(bp, pid, &page) == DBOS_OK);
		CHECK(fixture_verify(page, 4096, pid, 0));
		REQUIRE(dbos_bp_unfix_shared(bp, pid) == DBOS_OK);
	}
	CHECK(fixture_stats(bp).resident_pages <= budget);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

/* ---- Batches ------------------------------------------------------------------------------- */

static void fix_many_and_prefetch(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 200));
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
	config.flags = 0;
	bp = fixture_open(&config);
	REQUIRE(bp);

	uint64_t pids[32];
	void *pages[32];
	for (int i = 0; i < 32; i++)
		pids[i] = 1 + (uint64_t)i * 5;
	REQUIRE(dbos_bp_fix_many(bp, pids, 32, DBOS_BP_SHARED, pages) == DBOS_OK);
	for (int i = 0; i < 32; i++)
		CHECK(fixture_verify(pages[i], 4096, pids[i], 0));
	CHECK_EQ(fixture_stats(bp).misses, 32);
	CHECK_EQ(dbos_bp_unfix_many(bp, pids, 32, DBOS_BP_SHARED, false), DBOS_OK);

	/* Hits and misses mixed, a pid twice (shared), exclusive. */
	uint64_t mixed[4] = { 1, 2, 1, 6 };
	REQUIRE(dbos_bp_fix_many(bp, mixed, 4, DBOS_BP_SHARED, pages) == DBOS_OK);
	CHECK(pages[0] == pages[2]);
	CHECK(fixture_verify(pages[1], 4096, 2, 0));
	CHECK_EQ(dbos_bp_unfix_many(bp, mixed, 4, DBOS_BP_SHARED, false), DBOS_OK);
	CHECK_EQ(dbos_bp_fix_many(bp, mixed, 4, DBOS_BP_EXCLUSIVE, pages), DBOS_EINVAL);
	uint64_t writes[3] = { 3, 4, 150 };
	REQUIRE(dbos_bp_fix_many(bp, writes, 3, DBOS_BP_EXCLUSIVE, pages) == DBOS_OK);
	for (int i = 0; i < 3; i++)
		fixture_fill(pages[i], 4096, writes[i], 2);
	CHECK_EQ(dbos_bp_unfix_many(bp, writes, 3, DBOS_BP_EXCLUSIVE, true), DBOS_OK);
	CHECK_EQ(fixture_stats(bp).dirty_pages, 3);

	/* Errors: no page stays fixed. */
	uint64_t bad[3] = { 10, 11, 5000 };
	CHECK_EQ(dbos_bp_fix_many(bp, bad, 3, DBOS_BP_SHARED, pages), DBOS_ERANGE);
	CHECK_EQ(dbos_bp_fix_many(bp, pids, 200, DBOS_BP_SHARED, pages), DBOS_ELIMIT); /* > half the pool */
	CHECK_EQ(dbos_bp_fix_many(bp, pids, 3, (enum dbos_bp_mode)7, pages), DBOS_EINVAL);

	/* Prefetch: reads start, the later fix waits for them instead of reading again. */
	uint64_t ahead[16];
	for (int i = 0; i < 16; i++)
		ahead[i] = 160 + (uint64_t)i; /* none of them touched since the reopen */
	uint64_t misses_before = fixture_stats(bp).misses;
	for (int i = 0; i < 16; i++)
		CHECK(!dbos_bp_resident(bp, ahead[i]));
	CHECK(dbos_bp_resident(bp, 1));     /* fixed and unfixed above */
	CHECK(!dbos_bp_resident(bp, 5000)); /* past the file */
	CHECK(!dbos_bp_resident(NULL, 1));
	CHECK_EQ(dbos_bp_prefetch(bp, ahead, 16), DBOS_OK);
	for (int i = 0; i < 16; i++)
		CHECK(dbos_bp_resident(bp, ahead[i])); /* read in, or being read */
	for (int i = 0; i < 16; i++) {
		void *page;
		REQUIRE(dbos_bp_fix_shared(bp, ahead[i], &page) == DBOS_OK);
		CHECK(fixture_verify(page, 4096, ahead[i], 0));
		CHECK_EQ(dbos_bp_unfix_shared(bp, ahead[i]), DBOS_OK);
	}
	CHECK_EQ(fixture_stats(bp).misses - misses_before, 16);
	CHECK_EQ(dbos_bp_prefetch(bp, ahead, 16), DBOS_OK); /* all resident: nothing to read */
	CHECK_EQ(fixture_stats(bp).misses - misses_before, 16);
	CHECK_EQ(dbos_bp_prefetch(bp, bad, 3), DBOS_ERANGE);
	/* Close with a prefetch in flight. */
	uint64_t late[8] = { 190, 191, 192, 193, 194, 195, 196, 197 };
	CHECK_EQ(dbos_bp_prefetch(bp, late, 8), DBOS_OK);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	bp = fixture_open(&config);
	REQUIRE(bp);
	void *page;
	REQUIRE(dbos_bp_fix_shared(bp, 150, &page) == DBOS_OK);
	CHECK(fixture_verify(page, 4096, 150, 2));
	CHECK_EQ(dbos_bp_unfix_shared(bp, 150), DBOS_OK);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

/* ---- Integrity ------------------------------------------------------------------------------ */

/* A file of 16 pages written and closed; returns its path in `path`. */
static bool write_small_file(char *path, size_t size)
{
	dbos_bp_config config = fixture_config(fixture_path(path, size), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	if (!bp)
		return false;
	bool ok = fixture_populate(bp, 16);
	return dbos_bp_close(bp) == DBOS_OK && ok;
}

static dbos_status fix_on_reopen(const char *path, uint64_t pid, dbos_bp_error *error)
{
	dbos_bp_config config = fixture_config(path, 1 * MiB);
	config.flags = 0;
	dbos_bp *bp = fixture_open(&config);
	if (!bp)
		return DBOS_STATUS_COUNT;
	void *page;
	dbos_status status = dbos_bp_fix_shared(bp, pid, &page);
	if (status == DBOS_OK) {
		DBOS_ASSERT(fixture_verify(page, 4096, pid, 0));
		dbos_bp_unfix_shared(bp, pid);
	}
	dbos_bp_last_error(bp, error);
	/* A neighbour is unaffected. */
	DBOS_ASSERT(dbos_bp_fix_shared(bp, 1, &page) == DBOS_OK);
	DBOS_ASSERT(fixture_verify(page, 4096, 1, 0));
	dbos_bp_unfix_shared(bp, 1);
	DBOS_ASSERT(dbos_bp_close(bp) == DBOS_OK);
	return status;
}

static void corrupted_page_names_the_page(void)
{
	char path[300];
	REQUIRE(write_small_file(path, sizeof path));
	dbos_bp_error error;
	CHECK_EQ(fix_on_reopen(path, 5, &error), DBOS_OK);

	uint8_t byte = 0x5a;
	fixture_poke(path, 5 * 4096 + 1000, &byte, 1);
	CHECK_EQ(fix_on_reopen(path, 5, &error), DBOS_ECORRUPT);
	CHECK_EQ(error.status, DBOS_ECORRUPT);
	CHECK_EQ(error.reason, DBOS_BP_REASON_PAGE_CHECKSUM);
	CHECK_EQ(error.pid, 5);
	char text[200];
	dbos_bp_error_format(&error, text, sizeof text);
	CHECK(strncmp(text, "page 5: page checksum mismatch", 30) == 0);

	/* A whole valid page copied to the wrong place: the checksum holds, the id does not. */
	uint8_t page7[4096];
	fixture_peek(path, 7 * 4096, page7, sizeof page7);
	fixture_poke(path, 8 * 4096, page7, sizeof page7);
	CHECK_EQ(fix_on_reopen(path, 8, &error), DBOS_ECORRUPT);
	CHECK_EQ(error.reason, DBOS_BP_REASON_PAGE_ID);
	CHECK_EQ(error.pid, 8);
	CHECK_EQ(error.found, 7);
}

static void torn_write_is_detected(void)
{
	char path[300];
	REQUIRE(write_small_file(path, sizeof path));
	/* A crash mid-write: the first half of a newer version of page 9 reached the disk. */
	dbos_bp_config config = fixture_config(path, 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	void *page;
	REQUIRE(dbos_bp_fix_exclusive(bp, 9, &page) == DBOS_OK);
	fixture_fill(page, 4096, 9, 3);
	uint8_t newer[4096];
	memcpy(newer, page, sizeof newer);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, 9, false), DBOS_OK); /* the pool never writes it */
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
	fixture_poke(path, 9 * 4096, newer, 2048);
	dbos_bp_error error;
	CHECK_EQ(fix_on_reopen(path, 9, &error), DBOS_ECORRUPT);
	CHECK_EQ(error.reason, DBOS_BP_REASON_PAGE_CHECKSUM);
	CHECK_EQ(error.pid, 9);
}

static void truncated_file_is_an_error(void)
{
	char path[300];
	REQUIRE(write_small_file(path, sizeof path));
	REQUIRE(truncate(path, 12 * 4096) == 0); /* pages 12..16 are gone */
	dbos_bp_error error;
	CHECK_EQ(fix_on_reopen(path, 14, &error), DBOS_ECORRUPT);
	CHECK_EQ(error.reason, DBOS_BP_REASON_SHORT_READ);
	CHECK_EQ(error.pid, 14);
	CHECK_EQ(fix_on_reopen(path, 11, &error), DBOS_OK);
	/* A page the file claims but that was never written (zeros) is no page either. */
	REQUIRE(truncate(path, 17 * 4096) == 0);
	CHECK_EQ(fix_on_reopen(path, 14, &error), DBOS_ECORRUPT);
	CHECK_EQ(error.reason, DBOS_BP_REASON_PAGE_CHECKSUM);
}

/* ---- Caller errors ----------------------------------------------------------------------------- */

static void caller_errors_are_codes(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 4));
	void *page;
	uint64_t version;
	const void *read_page;
	CHECK_EQ(dbos_bp_fix_shared(bp, 0, &page), DBOS_ERANGE); /* the file header */
	CHECK_EQ(dbos_bp_fix_shared(bp, 5, &page), DBOS_ERANGE);
	CHECK_EQ(dbos_bp_fix_exclusive(bp, UINT64_MAX, &page), DBOS_ERANGE);
	CHECK_EQ(dbos_bp_optimistic_begin(bp, 99, &version, &read_page), DBOS_ERANGE);
	CHECK_EQ(dbos_bp_fix_shared(bp, 1, NULL), DBOS_EINVAL);
	CHECK_EQ(dbos_bp_fix_shared(NULL, 1, &page), DBOS_EINVAL);
	CHECK_EQ(dbos_bp_unfix_shared(bp, 1), DBOS_EINVAL); /* never fixed, no latch held */
	CHECK_EQ(dbos_bp_unfix_shared(bp, 0), DBOS_ERANGE);

	REQUIRE(dbos_bp_fix_shared(bp, 1, &page) == DBOS_OK);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, 1, true), DBOS_EINVAL); /* wrong mode */
	CHECK_EQ(dbos_bp_unfix_shared(bp, 2), DBOS_EINVAL);          /* another page */
	CHECK_EQ(dbos_bp_free(bp, 1), DBOS_EBUSY);
	CHECK_EQ(dbos_bp_close(bp), DBOS_EBUSY);
	CHECK_EQ(dbos_bp_unfix_shared(bp, 1), DBOS_OK);
	CHECK_EQ(dbos_bp_unfix_shared(bp, 1), DBOS_EINVAL); /* double unfix */

	REQUIRE(dbos_bp_fix_exclusive(bp, 2, &page) == DBOS_OK);
	CHECK_EQ(dbos_bp_unfix_shared(bp, 2), DBOS_EINVAL);
	CHECK_EQ(dbos_bp_flush(bp), DBOS_EBUSY); /* page 2 is ours and dirty-free: but page 1..4 are dirty */
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, 2, true), DBOS_OK);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, 2, true), DBOS_EINVAL);
	CHECK_EQ(dbos_platform_preempt()->depth, 0);
	CHECK_EQ(dbos_bp_flush(bp), DBOS_OK);
	CHECK_EQ(fixture_stats(bp).dirty_pages, 0);

	CHECK_EQ(dbos_bp_free(bp, 0), DBOS_ERANGE);
	CHECK_EQ(dbos_bp_fix_many(bp, NULL, 3, DBOS_BP_SHARED, NULL), DBOS_EINVAL);
	CHECK_EQ(dbos_bp_close(NULL), DBOS_EINVAL);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	/* Read-only pools refuse changes. */
	config.flags = DBOS_BP_READ_ONLY;
	bp = fixture_open(&config);
	REQUIRE(bp);
	uint64_t pid;
	CHECK_EQ(dbos_bp_fix_exclusive(bp, 1, &page), DBOS_EPERM);
	CHECK_EQ(dbos_bp_allocate(bp, &pid, &page), DBOS_EPERM);
	CHECK_EQ(dbos_bp_free(bp, 1), DBOS_EPERM);
	REQUIRE(dbos_bp_fix_shared(bp, 3, &page) == DBOS_OK);
	CHECK(fixture_verify(page, 4096, 3, 0));
	CHECK_EQ(dbos_bp_unfix_shared(bp, 3), DBOS_OK);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	/* A budget far beyond the machine costs address space only: slots are touched as they are used. */
	config = fixture_config(fixture_path(path, sizeof path), (uint64_t)1 << 40);
	uint64_t rss_before = fixture_rss_bytes();
	bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 3));
	CHECK_EQ(fixture_stats(bp).budget_pages, ((uint64_t)1 << 40) / 4096);
	CHECK(fixture_rss_bytes() - rss_before < 8 * MiB);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	/* Every resident page fixed: a miss has nowhere to go. */
	config = fixture_config(fixture_path(path, sizeof path), 8 * 4096);
	bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 9));
	for (uint64_t p = 1; p <= 8; p++)
		REQUIRE(dbos_bp_fix_shared(bp, p, &page) == DBOS_OK);
	CHECK_EQ(dbos_bp_fix_shared(bp, 9, &page), DBOS_ELIMIT);
	for (uint64_t p = 1; p <= 8; p++)
		CHECK_EQ(dbos_bp_unfix_shared(bp, p), DBOS_OK);
	REQUIRE(dbos_bp_fix_shared(bp, 9, &page) == DBOS_OK);
	CHECK(fixture_verify(page, 4096, 9, 0));
	CHECK_EQ(dbos_bp_unfix_shared(bp, 9), DBOS_OK);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

static void full_disk_is_enospc(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 10));
	REQUIRE(dbos_bp_flush(bp) == DBOS_OK);
	struct stat file;
	REQUIRE(stat(path, &file) == 0);
	/* A file-size limit stands in for a full disk: growth past it fails (SIGXFSZ ignored). */
	struct rlimit saved, limited;
	REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
	limited = saved;
	limited.rlim_cur = (rlim_t)file.st_size + 20 * 4096;
	void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	REQUIRE(setrlimit(RLIMIT_FSIZE, &limited) == 0);
	dbos_status status = DBOS_OK;
	uint64_t allocated = 0;
	for (int n = 0; n < 100 && status == DBOS_OK; n++) {
		uint64_t pid;
		void *page;
		status = dbos_bp_allocate(bp, &pid, &page);
		if (status == DBOS_OK) {
			fixture_fill(page, 4096, pid, 0);
			CHECK_EQ(dbos_bp_unfix_exclusive(bp, pid, true), DBOS_OK);
			allocated++;
		}
	}
	dbos_bp_error error;
	dbos_bp_last_error(bp, &error);
	CHECK_EQ(status, DBOS_ENOSPC);
	CHECK_EQ(error.reason, DBOS_BP_REASON_IO);
	CHECK(allocated >= 1 && allocated < 100);
	CHECK_EQ(dbos_platform_preempt()->depth, 0);
	CHECK_EQ(dbos_bp_flush(bp), DBOS_OK); /* the pages that fit are written */
	REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
	signal(SIGXFSZ, saved_handler);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	config.flags = 0;
	bp = fixture_open(&config);
	REQUIRE(bp);
	CHECK_EQ(dbos_bp_page_count(bp), 11 + allocated);
	for (uint64_t pid = 1; pid <= 10 + allocated; pid++) {
		void *page;
		REQUIRE(dbos_bp_fix_shared(bp, pid, &page) == DBOS_OK);
		CHECK(fixture_verify(page, 4096, pid, 0));
		CHECK_EQ(dbos_bp_unfix_shared(bp, pid), DBOS_OK);
	}
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

/* ---- Hooks ----------------------------------------------------------------------------------------- */

struct hooks {
	uint64_t durable;
	uint64_t barrier_calls;
	uint64_t last_pid;
	uint64_t first_word_seen; /* the page's old first payload word, as the barrier saw it */
};

static uint64_t hook_durable_lsn(void *context)
{
	return ((struct hooks *)context)->durable;
}

static void hook_before_write(void *context, uint64_t pid, const void *page)
{
	struct hooks *hooks = context;
	hooks->barrier_calls++;
	hooks->last_pid = pid;
	hooks->first_word_seen = ((const uint64_t *)((const uint8_t *)page + DBOS_BP_PAGE_HEADER_SIZE))[0];
}

static void wal_hook_holds_dirty_pages_back(void)
{
	char path[300];
	struct hooks hooks = { .durable = 10 };
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 16 * 4096);
	config.durable_lsn = hook_durable_lsn;
	config.hook_context = &hooks;
	config.evict_batch = 4;
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 64));
	/* Page 3 changes with a log record (LSN 20) the log has not made durable yet. */
	void *page;
	REQUIRE(dbos_bp_fix_exclusive(bp, 3, &page) == DBOS_OK);
	fixture_fill(page, 4096, 3, 5);
	((dbos_bp_page_header *)page)->lsn = 20;
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, 3, true), DBOS_OK);
	/* Sweep everything else through the pool: page 3 must not be written or dropped. */
	for (int round = 0; round < 3; round++)
		for (uint64_t pid = 4; pid <= 64; pid++) {
			REQUIRE(dbos_bp_fix_shared(bp, pid, &page) == DBOS_OK);
			REQUIRE(dbos_bp_unfix_shared(bp, pid) == DBOS_OK);
		}
	struct dbos_bp_stats stats = fixture_stats(bp);
	CHECK(stats.held_back > 0);
	CHECK(stats.dirty_pages >= 1);
	CHECK(stats.evictions > 0);
	uint8_t on_disk[4096];
	fixture_peek(path, 3 * 4096, on_disk, sizeof on_disk);
	CHECK(fixture_verify(on_disk, 4096, 3, 0)); /* the old version is still the disk's */
	CHECK_EQ(dbos_bp_flush(bp), DBOS_EAGAIN);
	fixture_peek(path, 3 * 4096, on_disk, sizeof on_disk);
	CHECK(fixture_verify(on_disk, 4096, 3, 0));

	hooks.durable = 30; /* the log caught up */
	CHECK_EQ(dbos_bp_flush(bp), DBOS_OK);
	fixture_peek(path, 3 * 4096, on_disk, sizeof on_disk);
	CHECK(fixture_verify(on_disk, 4096, 3, 5));
	CHECK_EQ(((dbos_bp_page_header *)on_disk)->lsn, 20);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

static void write_barrier_sees_old_contents(void)
{
	char path[300];
	struct hooks hooks = { 0 };
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	config.before_write = hook_before_write;
	config.hook_context = &hooks;
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 4));
	CHECK_EQ(hooks.barrier_calls, 4); /* one per allocation */
	void *page;
	REQUIRE(dbos_bp_fix_shared(bp, 2, &page) == DBOS_OK);
	CHECK_EQ(dbos_bp_unfix_shared(bp, 2), DBOS_OK);
	CHECK_EQ(hooks.barrier_calls, 4); /* shared fixes do not call it */
	REQUIRE(dbos_bp_fix_exclusive(bp, 2, &page) == DBOS_OK);
	CHECK_EQ(hooks.barrier_calls, 5);
	CHECK_EQ(hooks.last_pid, 2);
	CHECK_EQ(hooks.first_word_seen, fixture_word(2, 0, 0));
	fixture_fill(page, 4096, 2, 1);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, 2, true), DBOS_OK);
	uint64_t pids[2] = { 3, 4 };
	void *pages[2];
	REQUIRE(dbos_bp_fix_many(bp, pids, 2, DBOS_BP_EXCLUSIVE, pages) == DBOS_OK);
	CHECK_EQ(hooks.barrier_calls, 7);
	CHECK_EQ(dbos_bp_unfix_many(bp, pids, 2, DBOS_BP_EXCLUSIVE, false), DBOS_OK);
	CHECK_EQ(dbos_bp_free(bp, 2), DBOS_OK);
	CHECK_EQ(hooks.barrier_calls, 8);
	CHECK_EQ(hooks.first_word_seen, fixture_word(2, 1, 0));
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

/*
 * dbos_bp_file_state: the header fields a flush would write, without writing them, and the same
 * numbers the file header carries after a flush and reopen.
 */
static void file_state_matches_the_header(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	dbos_bp_file_header state;
	dbos_bp_file_state(bp, &state);
	CHECK_EQ(state.magic, DBOS_BP_FILE_MAGIC);
	CHECK_EQ(state.format_version, DBOS_BP_FORMAT_VERSION);
	CHECK_EQ(state.page_size, 4096);
	CHECK_EQ(state.page_count, 1);
	CHECK_EQ(state.free_head, 0);
	CHECK_EQ(state.free_count, 0);
	CHECK_EQ(state.checksum, 0);
	REQUIRE(fixture_populate(bp, 6));
	CHECK_EQ(dbos_bp_free(bp, 2), DBOS_OK);
	CHECK_EQ(dbos_bp_free(bp, 5), DBOS_OK);
	dbos_bp_file_state(bp, &state);
	CHECK_EQ(state.page_count, 7);
	CHECK_EQ(state.free_head, 5); /* the chain is last freed, first reused */
	CHECK_EQ(state.free_count, 2);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	dbos_bp_file_header on_disk;
	fixture_peek(path, 0, &on_disk, sizeof on_disk);
	CHECK_EQ(on_disk.page_count, state.page_count);
	CHECK_EQ(on_disk.free_head, state.free_head);
	CHECK_EQ(on_disk.free_count, state.free_count);
	state.checksum = on_disk.checksum;
	CHECK(memcmp(&on_disk, &state, sizeof state) == 0);
}

/* ---- Optimistic reads, mechanism ------------------------------------------------------------------- */

static void optimistic_restart_is_counted(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	REQUIRE(fixture_populate(bp, 2));
	uint64_t version;
	const void *read_page;
	REQUIRE(dbos_bp_optimistic_begin(bp, 1, &version, &read_page) == DBOS_OK);
	CHECK(fixture_verify(read_page, 4096, 1, 0));
	CHECK(dbos_bp_optimistic_validate(bp, 1, version));
	CHECK_EQ(fixture_stats(bp).optimistic_restarts, 0);

	REQUIRE(dbos_bp_optimistic_begin(bp, 1, &version, &read_page) == DBOS_OK);
	void *page;
	REQUIRE(dbos_bp_fix_exclusive(bp, 1, &page) == DBOS_OK);
	CHECK(!dbos_bp_optimistic_validate(bp, 1, version)); /* a writer holds it */
	fixture_fill(page, 4096, 1, 1);
	CHECK_EQ(dbos_bp_unfix_exclusive(bp, 1, true), DBOS_OK);
	CHECK(!dbos_bp_optimistic_validate(bp, 1, version)); /* it changed */
	CHECK_EQ(fixture_stats(bp).optimistic_restarts, 2);
	REQUIRE(dbos_bp_optimistic_begin(bp, 1, &version, &read_page) == DBOS_OK);
	CHECK(fixture_verify(read_page, 4096, 1, 1));
	CHECK(dbos_bp_optimistic_validate(bp, 1, version));
	/* A shared holder does not disturb optimistic readers. */
	REQUIRE(dbos_bp_fix_shared(bp, 1, &page) == DBOS_OK);
	CHECK(dbos_bp_optimistic_validate(bp, 1, version));
	CHECK_EQ(dbos_bp_unfix_shared(bp, 1), DBOS_OK);
	CHECK(!dbos_bp_optimistic_validate(bp, 0, version));
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
}

static void mechanism_line_says_what_runs(void)
{
	char path[300];
	dbos_bp_config config = fixture_config(fixture_path(path, sizeof path), 1 * MiB);
	dbos_bp *bp = fixture_open(&config);
	REQUIRE(bp);
	char line[DBOS_BP_MECHANISM_LINE_SIZE];
	dbos_bp_mechanism(bp, line, sizeof line);
	printf("# mechanism (ext4): %s\n", line);
	CHECK(strstr(line, "gateway") != NULL);
	CHECK(strstr(line, "O_DIRECT") != NULL);
	CHECK(strstr(line, "madvise") != NULL);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);

	/* tmpfs refused O_DIRECT before Linux 6.6: then the pool falls back to buffered I/O and says so. */
	struct stat shm;
	if (stat("/dev/shm", &shm) != 0)
		SKIP("no /dev/shm (tmpfs) here");
	char shm_path[64];
	snprintf(shm_path, sizeof shm_path, "/dev/shm/dbos-bp-test-%d.db", (int)getpid());
	int probe = open(shm_path, O_CREAT | O_RDWR | O_DIRECT, 0644);
	bool tmpfs_direct = probe >= 0;
	if (probe >= 0)
		close(probe);
	unlink(shm_path);
	config = fixture_config(shm_path, 1 * MiB);
	bp = fixture_open(&config);
	REQUIRE(bp);
	dbos_bp_mechanism(bp, line, sizeof line);
	printf("# mechanism (tmpfs, O_DIRECT %s by the kernel): %s\n", tmpfs_direct ? "accepted" : "refused", line);
	CHECK(strstr(line, tmpfs_direct ? "file: O_DIRECT" : "O_DIRECT refused") != NULL);
	REQUIRE(fixture_populate(bp, 3));
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
	config.flags = DBOS_BP_BUFFERED;
	bp = fixture_open(&config);
	REQUIRE(bp);
	dbos_bp_mechanism(bp, line, sizeof line);
	CHECK(strstr(line, "buffered (requested)") != NULL);
	void *page;
	REQUIRE(dbos_bp_fix_shared(bp, 3, &page) == DBOS_OK);
	CHECK(fixture_verify(page, 4096, 3, 0));
	CHECK_EQ(dbos_bp_unfix_shared(bp, 3), DBOS_OK);
	CHECK_EQ(dbos_bp_close(bp), DBOS_OK);
	unlink(shm_path);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(create_and_reopen);
	RUN_TEST(header_refusals);
	RUN_TEST(second_pool_is_refused);
	RUN_TEST(allocate_free_reuse_across_reopen);
	RUN_TEST(larger_than_memory_within_budget);
	RUN_TEST(fix_many_and_prefetch);
	RUN_TEST(corrupted_page_names_the_page);
	RUN_TEST(torn_write_is_detected);
	RUN_TEST(truncated_file_is_an_error);
	RUN_TEST(caller_errors_are_codes);
	RUN_TEST(full_disk_is_enospc);
	RUN_TEST(wal_hook_holds_dirty_pages_back);
	RUN_TEST(write_barrier_sees_old_contents);
	RUN_TEST(file_state_matches_the_header);
	RUN_TEST(optimistic_restart_is_counted);
	RUN_TEST(mechanism_line_says_what_runs);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
