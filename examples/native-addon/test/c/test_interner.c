/* The interner's C core against a real @dbos/alloc pool. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dbos_test.h"
#include "interner.h"

static dbos_alloc_pool *pool_of(size_t limit_bytes)
{
	struct dbos_alloc_config config = { .limit_bytes = limit_bytes };
	dbos_alloc_pool *pool = NULL;
	return dbos_alloc_pool_create(&config, &pool) == DBOS_OK ? pool : NULL;
}

static uint32_t intern_text(interner *in, const char *text, bool *added)
{
	uint32_t id = UINT32_MAX;
	CHECK_EQ(interner_intern(in, text, (uint32_t)strlen(text), &id, added), DBOS_OK);
	return id;
}

static void ids_are_dense_and_stable(void)
{
	dbos_alloc_pool *pool = pool_of(4u << 20);
	REQUIRE(pool);
	interner *in = NULL;
	REQUIRE(interner_create(pool, &in) == DBOS_OK);
	bool added = false;
	CHECK_EQ(intern_text(in, "alpha", &added), 0u);
	CHECK(added);
	CHECK_EQ(intern_text(in, "beta", &added), 1u);
	CHECK_EQ(intern_text(in, "alpha", &added), 0u);
	CHECK(!added);
	CHECK_EQ(intern_text(in, "", &added), 2u); /* the empty string is a value too */
	CHECK_EQ(interner_count(in), 3u);
	const void *bytes = NULL;
	uint32_t length = 0;
	CHECK_EQ(interner_bytes(in, 1, &bytes, &length), DBOS_OK);
	CHECK(length == 4 && memcmp(bytes, "beta", 4) == 0);
	CHECK_EQ(interner_bytes(in, 3, &bytes, &length), DBOS_ERANGE);
	uint32_t id = 0;
	CHECK_EQ(interner_find(in, "beta", 4, &id), DBOS_OK);
	CHECK_EQ(id, 1u);
	CHECK_EQ(interner_find(in, "gamma", 5, &id), DBOS_ENOENT);
	CHECK_EQ(interner_intern(in, "x", INTERNER_LENGTH_MAX + 1, &id, &added), DBOS_EINVAL);
	CHECK_EQ(interner_intern(NULL, "x", 1, &id, &added), DBOS_EINVAL);
	interner_destroy(in);
	dbos_alloc_pool_destroy(pool);
}

/* 100 000 strings: both tables grow many times; every id still maps to its bytes and back. */
static void grows_without_losing_an_entry(void)
{
	dbos_alloc_pool *pool = pool_of(64u << 20);
	REQUIRE(pool);
	interner *in = NULL;
	REQUIRE(interner_create(pool, &in) == DBOS_OK);
	char text[32];
	bool added = false;
	for (uint32_t i = 0; i < 100000; i++) {
		snprintf(text, sizeof(text), "key-%u", i * 7919u);
		CHECK_EQ(intern_text(in, text, &added), i);
	}
	CHECK_EQ(interner_count(in), 100000u);
	for (uint32_t i = 0; i < 100000; i += 997) {
		snprintf(text, sizeof(text), "key-%u", i * 7919u);
		uint32_t id = 0;
		CHECK_EQ(interner_find(in, text, (uint32_t)strlen(text), &id), DBOS_OK);
		CHECK_EQ(id, i);
		const void *bytes = NULL;
		uint32_t length = 0;
		CHECK_EQ(interner_bytes(in, i, &bytes, &length), DBOS_OK);
		CHECK(length == strlen(text) && memcmp(bytes, text, length) == 0);
	}
	interner_destroy(in);
	struct dbos_alloc_stats stats;
	REQUIRE(dbos_alloc_stats_get(pool, &stats) == DBOS_OK);
	CHECK_EQ(stats.bytes_requested, 0u); /* destroy gave every byte back */
	dbos_alloc_pool_destroy(pool);
}

/* The pool's limit is the interner's: past it DBOS_ENOMEM, and the interner is as it was. */
static void a_full_pool_changes_nothing(void)
{
	dbos_alloc_pool *pool = pool_of(2u << 20);
	REQUIRE(pool);
	interner *in = NULL;
	REQUIRE(interner_create(pool, &in) == DBOS_OK);
	static char big[8192];
	memset(big, 'v', sizeof(big));
	dbos_status status = DBOS_OK;
	uint32_t added_count = 0;
	for (uint32_t i = 0; status == DBOS_OK && i < 100000; i++) {
		snprintf(big, 16, "%015u", i);
		uint32_t id = 0;
		bool added = false;
		status = interner_intern(in, big, sizeof(big), &id, &added);
		if (status == DBOS_OK)
			added_count++;
	}
	CHECK_EQ(status, DBOS_ENOMEM);
	CHECK(added_count > 100);
	CHECK_EQ(interner_count(in), added_count);
	/* Everything interned before the failure is still there, and small strings may still fit. */
	snprintf(big, 16, "%015u", 0u);
	uint32_t id = 1;
	CHECK_EQ(interner_find(in, big, sizeof(big), &id), DBOS_OK);
	CHECK_EQ(id, 0u);
	interner_destroy(in);
	dbos_alloc_pool_destroy(pool);
}

int main(void)
{
	RUN_TEST(ids_are_dense_and_stable);
	RUN_TEST(grows_without_losing_an_entry);
	RUN_TEST(a_full_pool_changes_nothing);
	return TEST_EXIT_STATUS();
}
