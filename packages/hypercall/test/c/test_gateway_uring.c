/* test_gateway_uring.c - the gateway's io_uring backend (skipped, saying why, where io_uring is refused). */
#include "gateway_fixture_host.h"
#include "gateway_suite.h"

static void test_file_ops_as_system_calls(void)
{
	test_file_ops();
}

static void test_reads_as_system_calls(void)
{
	test_read_write_round_trip();
	test_batch_larger_than_queue();
}

int main(void)
{
	backend_under_test = DBOS_GATEWAY_IO_URING;
	dbos_gateway_config config = { .backend = DBOS_GATEWAY_IO_URING };
	dbos_gateway *gateway = NULL;
	dbos_status status = dbos_gateway_open(&config, &gateway);
	if (status != DBOS_OK) {
		printf("# skipped: io_uring backend unavailable here (%s)\n", dbos_status_name(status));
		return 0;
	}
	dbos_gateway_close(gateway);
	if (suite_setup() != 0)
		return 2;
	GATEWAY_SUITE_RUN_ALL();
	RUN_TEST(test_concurrent_batches);
	/* Again with every op on the fallback path a kernel without the opcode takes. */
	syscall_opcodes_under_test = UINT32_MAX;
	RUN_TEST(test_file_ops_as_system_calls);
	RUN_TEST(test_reads_as_system_calls);
	if (suite_teardown() != 0)
		return 3;
	return TEST_EXIT_STATUS();
}
