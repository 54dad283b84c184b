/*
 * test_sched_io.c - gateway I/O from tasks (dbos_sched_io): the fiber parks,
 * not the worker.  A real read of a temporary file through the shared
 * gateway, and a read from a pipe that only another task on the same single
 * worker can satisfy.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <unistd.h>

#include "dbos/hypercall.h"
#include "dbos/platform.h"
#include "dbos/scheduler.h"
#include "dbos_test.h"

#define MS 1000000ull

static dbos_sched *sched_one_worker(void)
{
	struct dbos_sched_config config = { .worker_count = 1 };
	dbos_sched *sched = NULL;
	return dbos_sched_create(&config, &sched) == DBOS_OK ? sched : NULL;
}

static void sched_done(dbos_sched *sched)
{
	CHECK_EQ(dbos_sched_shutdown(sched, DBOS_SCHED_SHUTDOWN_DRAIN, 20000 * MS), DBOS_OK);
	struct dbos_sched_stats stats;
	DBOS_ASSERT(dbos_sched_stats(sched, &stats) == DBOS_OK);
	CHECK_EQ(stats.stacks_live, 0);
	dbos_sched_destroy(sched);
}

struct file_read {
	int fd;
	char buffer[4096];
	int64_t results[2];
	dbos_status status;
	bool in_task;
};

static void read_file_task(void *arg)
{
	struct file_read *read = arg;
	read->in_task = dbos_sched_in_task();
	dbos_gateway *gateway = NULL;
	read->status = dbos_gateway_shared(&gateway);
	if (read->status != DBOS_OK)
		return;
	dbos_io_op ops[2] = {
		{ .opcode = DBOS_IO_PREAD,
		  .fd = read->fd,
		  .address = (uint64_t)(uintptr_t)read->buffer,
		  .length = 2048 },
		{ .opcode = DBOS_IO_PREAD,
		  .fd = read->fd,
		  .address = (uint64_t)(uintptr_t)(read->buffer + 2048),
		  .length = 2048,
		  .offset = 2048 },
	};
	dbos_io_batch batch;
	dbos_io_batch_init(&batch, ops, read->results, 2);
	read->status = dbos_sched_io(gateway, &batch);
	CHECK(batch.on_complete == NULL && batch.context == NULL); /* the batch is the caller's again */
}

static void test_io_file(void)
{
	char path[] = "/tmp/dbos-sched-io-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	unlink(path);
	char expected[4096];
	for (int i = 0; i < 4096; i++)
		expected[i] = (char)(i * 7 + 3);
	REQUIRE(write(fd, expected, sizeof(expected)) == (ssize_t)sizeof(expected));

	dbos_sched *sched = sched_one_worker();
	REQUIRE(sched);
	struct file_read read = { .fd = fd, .status = -1 };
	dbos_task *task = NULL;
	REQUIRE(dbos_sched_submit(sched, read_file_task, &read, NULL, &task) == DBOS_OK);
	CHECK_EQ(dbos_task_wait(task, 20000 * MS), DBOS_OK);
	dbos_task_release(task);
	CHECK(read.in_task);
	CHECK_EQ(read.status, DBOS_OK);
	CHECK_EQ(read.results[0], 2048);
	CHECK_EQ(read.results[1], 2048);
	CHECK(memcmp(read.buffer, expected, sizeof(expected)) == 0);

	/* Outside a task the same call waits on the gateway. */
	struct file_read direct = { .fd = fd, .status = -1 };
	read_file_task(&direct);
	CHECK(!direct.in_task);
	CHECK_EQ(direct.status, DBOS_OK);
	CHECK(memcmp(direct.buffer, expected, sizeof(expected)) == 0);
	sched_done(sched);
	close(fd);
}

struct pipe_case {
	int fds[2];
	char byte;
	int64_t result;
	dbos_status status;
	atomic_int reader_submitted;
};

static void pipe_reader(void *arg)
{
	struct pipe_case *c = arg;
	dbos_gateway *gateway = NULL;
	c->status = dbos_gateway_shared(&gateway);
	if (c->status != DBOS_OK)
		return;
	dbos_io_op op = {
		.opcode = DBOS_IO_PREAD, .fd = c->fds[0], .address = (uint64_t)(uintptr_t)&c->byte, .length = 1
	};
	dbos_io_batch batch;
	dbos_io_batch_init(&batch, &op, &c->result, 1);
	atomic_store(&c->reader_submitted, 1);
	c->status = dbos_sched_io(gateway, &batch);
}

static void pipe_writer(void *arg)
{
	struct pipe_case *c = arg;
	char byte = 'x';
	DBOS_ASSERT(write(c->fds[1], &byte, 1) == 1);
}

static void test_io_parks_fiber(void)
{
	dbos_gateway *gateway = NULL;
	REQUIRE(dbos_gateway_shared(&gateway) == DBOS_OK);
	if (dbos_gateway_backend_of(gateway) != DBOS_GATEWAY_IO_URING)
		SKIP("a read that waits on a pipe needs io_uring (the threads backend's pread answers ESPIPE)");
	struct pipe_case c = { .status = -1, .result = -1 };
	REQUIRE(pipe(c.fds) == 0);
	dbos_sched *sched = sched_one_worker();
	REQUIRE(sched);
	dbos_task *reader = NULL, *writer = NULL;
	REQUIRE(dbos_sched_submit(sched, pipe_reader, &c, NULL, &reader) == DBOS_OK);
	/* The one worker must come free while the read waits, or the writer never runs. */
	REQUIRE(dbos_sched_submit(sched, pipe_writer, &c, NULL, &writer) == DBOS_OK);
	dbos_status writer_outcome = dbos_task_wait(writer, 10000 * MS);
	CHECK_EQ(writer_outcome, DBOS_OK);
	if (writer_outcome != DBOS_OK) {
		char byte = 'y'; /* unstick the reader so the test ends */
		DBOS_ASSERT(write(c.fds[1], &byte, 1) == 1);
	}
	CHECK_EQ(dbos_task_wait(reader, 20000 * MS), DBOS_OK);
	dbos_task_release(reader);
	dbos_task_release(writer);
	CHECK_EQ(c.status, DBOS_OK);
	CHECK_EQ(c.result, 1);
	CHECK_EQ(c.byte, 'x');
	struct dbos_sched_stats stats;
	DBOS_ASSERT(dbos_sched_stats(sched, &stats) == DBOS_OK);
	CHECK(stats.io_waits >= 1);
	sched_done(sched);
	close(c.fds[0]);
	close(c.fds[1]);
}

static void test_io_errors(void)
{
	dbos_gateway *gateway = NULL;
	REQUIRE(dbos_gateway_shared(&gateway) == DBOS_OK);
	dbos_io_op op = { .opcode = 200 };
	int64_t result;
	dbos_io_batch batch;
	dbos_io_batch_init(&batch, &op, &result, 1);
	CHECK_EQ(dbos_sched_io(NULL, &batch), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_io(gateway, NULL), DBOS_EINVAL);
	CHECK_EQ(dbos_sched_io(gateway, &batch), DBOS_EINVAL); /* the gateway refuses the op */
	batch.context = &result;
	CHECK_EQ(dbos_sched_io(gateway, &batch), DBOS_EINVAL); /* context is the scheduler's */
}

int main(void)
{
	RUN_TEST(test_io_file);
	RUN_TEST(test_io_parks_fiber);
	RUN_TEST(test_io_errors);
	return TEST_EXIT_STATUS();
}
