/*
 * gateway_host_cases.h - cases of the host gateway only, run by both host backends' drivers:
 * a single write or sync given to dbos_gateway_run() runs on the calling thread (see
 * gateway.c), and must still be refused once close began and be waited for by close().
 * Include after gateway_fixture_host.h and gateway_suite.h.
 */
#ifndef GATEWAY_HOST_CASES_H
#define GATEWAY_HOST_CASES_H

#include <pthread.h>
#include <sched.h>
#include <string.h>

struct writer_state {
	dbos_gateway *gateway;
	int fd;
	uint32_t runs;
	dbos_status last;
};

/* Writes and syncs one at a time until the gateway refuses them. */
static void *single_writes_until_refused(void *argument)
{
	struct writer_state *state = argument;
	char page[4096];
	memset(page, 0x5a, sizeof(page));
	for (uint32_t i = 0; i < 1000000; i++) {
		dbos_io_op op = op_rw(DBOS_IO_PWRITE, state->fd, page, sizeof(page), (uint64_t)(i % 64) * sizeof(page));
		if (i % 8 == 7) {
			memset(&op, 0, sizeof(op));
			op.opcode = DBOS_IO_FDATASYNC;
			op.fd = state->fd;
		}
		int64_t result = -1;
		state->last = dbos_gateway_run(state->gateway, &op, &result, 1);
		if (state->last != DBOS_OK)
			break;
		if (result != (op.opcode == DBOS_IO_PWRITE ? (int64_t)sizeof(page) : 0))
			break;
		__atomic_fetch_add(&state->runs, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_single_writes_on_caller_respect_close(void)
{
	dbos_gateway *gateway = open_gateway(0);
	REQUIRE(gateway);
	int fd = suite_file_create("single-writes");
	REQUIRE(fd >= 0);

	int64_t result = -1;
	char page[512] = { 1 };
	dbos_io_op write = op_rw(DBOS_IO_PWRITE, fd, page, sizeof(page), 0);
	CHECK_EQ(dbos_gateway_run(gateway, &write, &result, 1), DBOS_OK);
	CHECK_EQ(result, (int64_t)sizeof(page));
	dbos_io_op bad = op_rw(DBOS_IO_PWRITE, 987654, page, sizeof(page), 0);
	CHECK_EQ(dbos_gateway_run(gateway, &bad, &result, 1), DBOS_OK);
	CHECK_EQ(result, -SUITE_EBADF);
	bad.length = 0;
	bad.address = 0;
	bad.opcode = 200;
	CHECK_EQ(dbos_gateway_run(gateway, &bad, &result, 1), DBOS_EINVAL); /* checked before it runs */

	/* Two threads write and sync while close begins: each stops at DBOS_ECLOSED, nothing is lost. */
	struct writer_state states[2] = { { gateway, fd, 0, DBOS_OK }, { gateway, fd, 0, DBOS_OK } };
	pthread_t threads[2];
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&threads[i], NULL, single_writes_until_refused, &states[i]) == 0);
	while (__atomic_load_n(&states[0].runs, __ATOMIC_RELAXED) < 20 ||
	       __atomic_load_n(&states[1].runs, __ATOMIC_RELAXED) < 20)
		sched_yield();
	dbos_gateway_close_begin(gateway);
	for (int i = 0; i < 2; i++) {
		pthread_join(threads[i], NULL);
		CHECK_EQ(states[i].last, DBOS_ECLOSED);
	}
	CHECK_EQ(dbos_gateway_run(gateway, &write, &result, 1), DBOS_ECLOSED);
	CHECK_EQ(dbos_gateway_inflight(gateway), 0);
	dbos_gateway_close(gateway);
	suite_file_close(fd);
}

#endif
