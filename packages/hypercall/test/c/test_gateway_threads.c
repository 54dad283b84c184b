/* test_gateway_threads.c - the gateway's thread-pool backend, and AUTO's choice. */
#include "gateway_suite.h"

static void test_auto_picks_io_uring_where_it_works(void)
{
	/* Where this process may set up a ring, AUTO must run on it (no silent fallback). */
	dbos_gateway_config config = { .backend = DBOS_GATEWAY_AUTO };
	dbos_gateway *gateway = NULL;
	REQUIRE(dbos_gateway_open(&config, &gateway) == DBOS_OK);
	char params[120] = { 0 }; /* struct io_uring_params */
	long fd = syscall(425 /* io_uring_setup */, 2, params);
	enum dbos_gateway_backend expected = fd >= 0 ? DBOS_GATEWAY_IO_URING : DBOS_GATEWAY_THREADS;
	if (fd >= 0)
		close((int)fd);
	CHECK_EQ(dbos_gateway_backend_of(gateway), expected);
	dbos_gateway_close(gateway);
}

static void test_platform_gateway_is_shared(void)
{
	dbos_gateway *first = NULL, *second = NULL;
	REQUIRE(dbos_gateway_shared(&first) == DBOS_OK);
	REQUIRE(dbos_gateway_shared(&second) == DBOS_OK);
	CHECK(first == second);
	CHECK_EQ(dbos_gateway_shared(NULL), DBOS_EINVAL);
	dbos_io_op op = { 0 };
	op.opcode = DBOS_IO_FSYNC;
	op.fd = -1;
	int64_t result = 0;
	CHECK_EQ(dbos_gateway_run(first, &op, &result, 1), DBOS_OK);
	CHECK_EQ(result, -EBADF);
}

int main(void)
{
	if (suite_setup() != 0)
		return 2;
	backend_under_test = DBOS_GATEWAY_THREADS;
	RUN_TEST(test_auto_picks_io_uring_where_it_works);
	RUN_TEST(test_platform_gateway_is_shared);
	RUN_TEST(test_read_write_round_trip);
	RUN_TEST(test_vectored_and_sync_ops);
	RUN_TEST(test_file_ops);
	RUN_TEST(test_errors);
	RUN_TEST(test_batch_larger_than_queue);
	RUN_TEST(test_concurrent_batches);
	RUN_TEST(test_poll_many_batches_in_flight);
	RUN_TEST(test_close_with_ops_in_flight);
	if (suite_teardown() != 0)
		return 3;
	return TEST_EXIT_STATUS();
}
