/* test_gateway_uring.c - the gateway's io_uring backend (skipped, saying why, where io_uring is refused). */
#include "gateway_fixture_host.h"
#include "gateway_suite.h"
#include "gateway_host_cases.h"

static void test_file_ops_as_system_calls(void)
{
	test_file_ops();
}

static void test_reads_as_system_calls(void)
{
	test_read_write_round_trip();
	test_batch_larger_than_queue();
}

/* Where this process may not set up a ring the backend's cases cannot run: skipped, saying why. */
static char uring_unavailable[96];
static void test_io_uring_backend_opens(void)
{
	dbos_gateway_config config = { .backend = DBOS_GATEWAY_IO_URING };
	dbos_gateway *gateway = NULL;
	dbos_status status = dbos_gateway_open(&config, &gateway);
	if (status == DBOS_OK) {
		dbos_gateway_close(gateway);
		return;
	}
	CHECK(status == DBOS_ENOTSUP || status == DBOS_EPERM); /* the refusals AUTO falls back on */
	snprintf(uring_unavailable, sizeof(uring_unavailable), "io_uring backend unavailable here (%s)",
		 dbos_status_name(status));
	SKIP(uring_unavailable);
}

int main(void)
{
	backend_under_test = DBOS_GATEWAY_IO_URING;
	RUN_TEST(test_io_uring_backend_opens);
	if (uring_unavailable[0] || TEST_EXIT_STATUS() != 0)
		return TEST_EXIT_STATUS();
	if (suite_setup() != 0)
		return 2;
	GATEWAY_SUITE_RUN_ALL();
	RUN_TEST(test_concurrent_batches);
	RUN_TEST(test_single_writes_on_caller_respect_close);
	/* Again with every op on the fallback path a kernel without the opcode takes. */
	syscall_opcodes_under_test = UINT32_MAX;
	RUN_TEST(test_file_ops_as_system_calls);
	RUN_TEST(test_reads_as_system_calls);
	if (suite_teardown() != 0)
		return 3;
	return TEST_EXIT_STATUS();
}
