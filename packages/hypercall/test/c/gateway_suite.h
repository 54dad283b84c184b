/*
 * gateway_suite.h - the gateway C API cases (dbos/hypercall.h), shared by
 * test_gateway_threads.c and test_gateway_uring.c, which pick the backend.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbos/hypercall.h"
#include "dbos/platform.h"
#include "dbos_test.h"

static enum dbos_gateway_backend backend_under_test;
static uint32_t syscall_opcodes_under_test;

/* Make a private temporary directory for the files the cases create. */
static int suite_setup(void);
static int suite_teardown(void);
static char directory[256];

static dbos_gateway *open_gateway(uint32_t queue_depth)
{
	dbos_gateway_config config = { .backend = backend_under_test, .queue_depth = queue_depth, .thread_count = 2, .syscall_opcodes = syscall_opcodes_under_test };
	dbos_gateway *gateway = NULL;
	dbos_status status = dbos_gateway_open(&config, &gateway);
	if (status != DBOS_OK) {
		fprintf(stderr, "open %s: %s\n", dbos_gateway_backend_name(backend_under_test),
			dbos_status_name(status));
		return NULL;
	}
	return gateway;
}

static dbos_io_op op_rw(uint8_t opcode, int fd, void *buffer, uint64_t length, uint64_t offset)
{
	dbos_io_op op = { 0 };
	op.opcode = opcode;
	op.fd = fd;
	op.address = (uint64_t)(uintptr_t)buffer;
	op.length = length;
	op.offset = offset;
	return op;
}

static int temp_file(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", directory, name);
	return open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static void test_read_write_round_trip(void)
{
	dbos_gateway *gateway = open_gateway(0);
	REQUIRE(gateway);
	CHECK_EQ(dbos_gateway_backend_of(gateway), backend_under_test);
	int fd = temp_file("rw");
	REQUIRE(fd >= 0);
	char out[4096], in[4096] = { 0 };
	for (int i = 0; i < 4096; i++)
		out[i] = (char)(i * 7);
	dbos_io_op ops[2] = { op_rw(DBOS_IO_PWRITE, fd, out, 4096, 8192), { 0 } };
	ops[1].opcode = DBOS_IO_FSYNC;
	ops[1].fd = fd;
	int64_t results[2] = { 99, 99 };
	CHECK_EQ(dbos_gateway_run(gateway, ops, results, 2), DBOS_OK);
	CHECK_EQ(results[0], 4096);
	CHECK_EQ(results[1], 0);
	dbos_io_op read_ops[3] = { op_rw(DBOS_IO_PREAD, fd, in, 4096, 8192),
				   op_rw(DBOS_IO_PREAD, fd, in, 100, 12288 - 10), /* short at EOF */
				   op_rw(DBOS_IO_PREAD, fd, in, 100, 1 << 20) };    /* past EOF */
	int64_t read_results[3];
	CHECK_EQ(dbos_gateway_run(gateway, read_ops, read_results, 3), DBOS_OK);
	CHECK_EQ(read_results[0], 4096);
	CHECK_EQ(read_results[1], 10);
	CHECK_EQ(read_results[2], 0);
	int64_t one;
	CHECK_EQ(dbos_gateway_run(gateway, read_ops, &one, 1), DBOS_OK);
	CHECK_EQ(one, 4096);
	CHECK(memcmp(in, out, 4096) == 0);
	close(fd);
	dbos_gateway_close(gateway);
}

static void test_vectored_and_sync_ops(void)
{
	dbos_gateway *gateway = open_gateway(0);
	REQUIRE(gateway);
	int fd = temp_file("vec");
	REQUIRE(fd >= 0);
	char a[10] = "abcdefghij", b[6] = "ABCDEF", c[10] = { 0 }, d[6] = { 0 };
	dbos_io_vec out[2] = { { (uintptr_t)a, 10 }, { (uintptr_t)b, 6 } };
	dbos_io_vec in[2] = { { (uintptr_t)c, 10 }, { (uintptr_t)d, 6 } };
	dbos_io_op op = op_rw(DBOS_IO_PWRITEV, fd, out, 2, 100);
	int64_t result = 0;
	CHECK_EQ(dbos_gateway_run(gateway, &op, &result, 1), DBOS_OK);
	CHECK_EQ(result, 16);
	op = op_rw(DBOS_IO_PREADV, fd, in, 2, 100);
	CHECK_EQ(dbos_gateway_run(gateway, &op, &result, 1), DBOS_OK);
	CHECK_EQ(result, 16);
	CHECK(memcmp(a, c, 10) == 0 && memcmp(b, d, 6) == 0);
	dbos_io_op sync = { 0 };
	sync.opcode = DBOS_IO_FDATASYNC;
	sync.fd = fd;
	CHECK_EQ(dbos_gateway_run(gateway, &sync, &result, 1), DBOS_OK);
	CHECK_EQ(result, 0);
	close(fd);
	dbos_gateway_close(gateway);
}

static void test_file_ops(void)
{
	dbos_gateway *gateway = open_gateway(0);
	REQUIRE(gateway);
	char path[512];
	snprintf(path, sizeof(path), "%s/created", directory);
	dbos_io_op open_op = { 0 };
	open_op.opcode = DBOS_IO_OPENAT;
	open_op.fd = DBOS_IO_AT_FDCWD;
	open_op.path = (uintptr_t)path;
	open_op.flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC;
	open_op.mode = 0640;
	int64_t fd = -1;
	CHECK_EQ(dbos_gateway_run(gateway, &open_op, &fd, 1), DBOS_OK);
	REQUIRE(fd >= 0);
	int64_t again = 0; /* O_EXCL on an existing file */
	CHECK_EQ(dbos_gateway_run(gateway, &open_op, &again, 1), DBOS_OK);
	CHECK_EQ(again, -EEXIST);

	dbos_io_op grow = { 0 };
	grow.opcode = DBOS_IO_FALLOCATE;
	grow.fd = (int)fd;
	grow.offset = 0;
	grow.length = 1 << 20;
	dbos_io_op cut = { 0 };
	cut.opcode = DBOS_IO_FTRUNCATE;
	cut.fd = (int)fd;
	cut.offset = 12345;
	int64_t result = -1;
	CHECK_EQ(dbos_gateway_run(gateway, &grow, &result, 1), DBOS_OK);
	CHECK_EQ(result, 0);
	struct stat st;
	CHECK(fstat((int)fd, &st) == 0 && st.st_size == (1 << 20));
	CHECK_EQ(dbos_gateway_run(gateway, &cut, &result, 1), DBOS_OK);
	CHECK_EQ(result, 0);

	dbos_statx sx;
	memset(&sx, 0xff, sizeof(sx));
	dbos_io_op stat_op = { 0 };
	stat_op.opcode = DBOS_IO_STATX;
	stat_op.fd = (int)fd;
	stat_op.path = (uintptr_t)"";
	stat_op.flags = AT_EMPTY_PATH;
	stat_op.mode = STATX_BASIC_STATS;
	stat_op.address = (uintptr_t)&sx;
	CHECK_EQ(dbos_gateway_run(gateway, &stat_op, &result, 1), DBOS_OK);
	CHECK_EQ(result, 0);
	CHECK_EQ(sx.size, 12345);
	CHECK_EQ(sx.mode & 0777, 0640);
	CHECK(S_ISREG(sx.mode));
	CHECK_EQ(sx.inode, st.st_ino);
	CHECK(sx.mask & STATX_SIZE);

	dbos_io_op close_op = { 0 };
	close_op.opcode = DBOS_IO_CLOSE;
	close_op.fd = (int)fd;
	CHECK_EQ(dbos_gateway_run(gateway, &close_op, &result, 1), DBOS_OK);
	CHECK_EQ(result, 0);
	CHECK_EQ(dbos_gateway_run(gateway, &close_op, &result, 1), DBOS_OK);
	CHECK_EQ(result, -EBADF);
	unlink(path);
	dbos_gateway_close(gateway);
}

static void test_errors(void)
{
	dbos_gateway *gateway = open_gateway(0);
	REQUIRE(gateway);
	char buffer[16];
	dbos_io_op bad_fd = op_rw(DBOS_IO_PREAD, 987654, buffer, 16, 0);
	int64_t result = 0;
	CHECK_EQ(dbos_gateway_run(gateway, &bad_fd, &result, 1), DBOS_OK);
	CHECK_EQ(result, -EBADF);

	dbos_io_op missing = { 0 };
	missing.opcode = DBOS_IO_OPENAT;
	missing.fd = DBOS_IO_AT_FDCWD;
	missing.path = (uintptr_t)"/nonexistent/dbos/file";
	missing.flags = O_RDONLY;
	CHECK_EQ(dbos_gateway_run(gateway, &missing, &result, 1), DBOS_OK);
	CHECK_EQ(result, -ENOENT);

	/* Malformed ops are refused before anything runs. */
	dbos_io_op malformed[2] = { op_rw(DBOS_IO_PREAD, 0, buffer, 16, 0), { 0 } };
	malformed[1].opcode = 200;
	CHECK_EQ(dbos_gateway_run(gateway, malformed, &result, 2), DBOS_EINVAL);
	malformed[1] = op_rw(DBOS_IO_PREAD, 0, NULL, 16, 0);
	CHECK_EQ(dbos_gateway_run(gateway, malformed, &result, 2), DBOS_EINVAL);
	malformed[1] = op_rw(DBOS_IO_PREAD, 0, buffer, 16, (uint64_t)-1);
	CHECK_EQ(dbos_gateway_run(gateway, malformed, &result, 2), DBOS_ERANGE);
	malformed[1] = op_rw(DBOS_IO_PREADV, 0, buffer, DBOS_IO_VEC_COUNT_MAX + 1, 0);
	CHECK_EQ(dbos_gateway_run(gateway, malformed, &result, 2), DBOS_ERANGE);
	malformed[1] = op_rw(DBOS_IO_PREAD, 0, buffer, 16, 0);
	malformed[1].reserved1 = 1;
	CHECK_EQ(dbos_gateway_run(gateway, malformed, &result, 2), DBOS_EINVAL);
	CHECK_EQ(dbos_gateway_run(gateway, NULL, NULL, 0), DBOS_OK); /* empty batch */
	dbos_gateway_close(gateway);

	dbos_gateway_config wrong = { .backend = (enum dbos_gateway_backend)77 };
	dbos_gateway *none = NULL;
	CHECK_EQ(dbos_gateway_open(&wrong, &none), DBOS_EINVAL);
	dbos_gateway_config deep = { .backend = DBOS_GATEWAY_AUTO, .queue_depth = DBOS_GATEWAY_QUEUE_DEPTH_MAX + 1 };
	CHECK_EQ(dbos_gateway_open(&deep, &none), DBOS_ERANGE);
	dbos_gateway_config guest = { .backend = DBOS_GATEWAY_HYPERCALL };
	CHECK_EQ(dbos_gateway_open(&guest, &none), DBOS_ENOTSUP);
}

#define BIG_BATCH 4096u

static void test_batch_larger_than_queue(void)
{
	dbos_gateway *gateway = open_gateway(32); /* the backlog feeds the ring 32 at a time */
	REQUIRE(gateway);
	int fd = temp_file("big");
	REQUIRE(fd >= 0);
	uint32_t *data = malloc(BIG_BATCH * 64);
	for (uint32_t i = 0; i < BIG_BATCH * 16; i++)
		data[i] = i;
	REQUIRE(pwrite(fd, data, BIG_BATCH * 64, 0) == BIG_BATCH * 64);
	uint32_t *copy = calloc(BIG_BATCH, 64);
	dbos_io_op *ops = calloc(BIG_BATCH, sizeof(*ops));
	int64_t *results = calloc(BIG_BATCH, sizeof(*results));
	for (uint32_t i = 0; i < BIG_BATCH; i++) {
		uint32_t block = (i * 2654435761u) % BIG_BATCH; /* a permutation */
		ops[i] = op_rw(DBOS_IO_PREAD, fd, (char *)copy + (uint64_t)block * 64, 64, (uint64_t)block * 64);
	}
	CHECK_EQ(dbos_gateway_run(gateway, ops, results, BIG_BATCH), DBOS_OK);
	uint32_t wrong = 0;
	for (uint32_t i = 0; i < BIG_BATCH; i++)
		wrong += results[i] != 64;
	CHECK_EQ(wrong, 0);
	CHECK(memcmp(copy, data, BIG_BATCH * 64) == 0);
	CHECK_EQ(dbos_gateway_inflight(gateway), 0);
	free(data);
	free(copy);
	free(ops);
	free(results);
	close(fd);
	dbos_gateway_close(gateway);
}

struct concurrent_case {
	dbos_gateway *gateway;
	int fd;
	uint32_t seed;
	int failures;
};

static void concurrent_reader(void *opaque)
{
	struct concurrent_case *c = opaque;
	uint64_t buffer[8][8];
	for (int round = 0; round < 200; round++) {
		dbos_io_op ops[8];
		int64_t results[8];
		for (int i = 0; i < 8; i++) {
			uint32_t block = (c->seed * 31u + (uint32_t)round * 8u + (uint32_t)i) % 512u;
			ops[i] = op_rw(DBOS_IO_PREAD, c->fd, buffer[i], 64, (uint64_t)block * 64);
		}
		if (dbos_gateway_run(c->gateway, ops, results, 8) != DBOS_OK)
			c->failures++;
		for (int i = 0; i < 8; i++) {
			uint64_t block = ops[i].offset / 64;
			if (results[i] != 64 || buffer[i][0] != block)
				c->failures++;
		}
	}
}

static void test_concurrent_batches(void)
{
	dbos_gateway *gateway = open_gateway(16);
	REQUIRE(gateway);
	int fd = temp_file("concurrent");
	REQUIRE(fd >= 0);
	for (uint64_t block = 0; block < 512; block++) {
		uint64_t words[8] = { block, block, block, block, block, block, block, block };
		REQUIRE(pwrite(fd, words, 64, (off_t)(block * 64)) == 64);
	}
	struct concurrent_case cases[4];
	dbos_thread *threads[4];
	for (int i = 0; i < 4; i++) {
		cases[i] = (struct concurrent_case){ gateway, fd, (uint32_t)i * 1000u + 7u, 0 };
		REQUIRE(dbos_platform_thread_start(concurrent_reader, &cases[i], &threads[i]) == DBOS_OK);
	}
	for (int i = 0; i < 4; i++) {
		dbos_platform_thread_join(threads[i]);
		CHECK_EQ(cases[i].failures, 0);
	}
	close(fd);
	dbos_gateway_close(gateway);
}

static void test_poll_many_batches_in_flight(void)
{
	dbos_gateway *gateway = open_gateway(8);
	REQUIRE(gateway);
	int fd = temp_file("poll");
	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, 1 << 16) == 0);
	char buffers[16][512];
	dbos_io_op ops[16][4];
	int64_t results[16][4];
	dbos_io_batch batches[16];
	for (int b = 0; b < 16; b++) {
		for (int i = 0; i < 4; i++)
			ops[b][i] = op_rw(DBOS_IO_PREAD, fd, buffers[b] + i * 128, 128, (uint64_t)(b * 4 + i) * 128);
		dbos_io_batch_init(&batches[b], ops[b], results[b], 4);
		CHECK_EQ(dbos_gateway_submit(gateway, &batches[b]), DBOS_OK);
	}
	/* Bounded: each batch is 4 cached reads. */
	for (int spin = 0; spin < 1000000 && !dbos_gateway_poll(gateway, &batches[15]); spin++)
		dbos_platform_relax();
	for (int b = 0; b < 16; b++) {
		CHECK_EQ(dbos_gateway_wait(gateway, &batches[b], 5000000000ull), DBOS_OK);
		for (int i = 0; i < 4; i++)
			CHECK_EQ(results[b][i], 128);
	}
	close(fd);
	dbos_gateway_close(gateway);
}

static void test_close_with_ops_in_flight(void)
{
	dbos_gateway *gateway = open_gateway(16);
	REQUIRE(gateway);
	int fd = temp_file("close");
	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, 1 << 20) == 0);
	char *buffer = malloc(BIG_BATCH * 256);
	dbos_io_op *ops = calloc(BIG_BATCH, sizeof(*ops));
	int64_t *results = calloc(BIG_BATCH, sizeof(*results));
	for (uint32_t i = 0; i < BIG_BATCH; i++)
		ops[i] = op_rw(DBOS_IO_PREAD, fd, buffer + (uint64_t)i * 256, 256, (uint64_t)(i % 4096) * 256);
	dbos_io_batch batch;
	dbos_io_batch_init(&batch, ops, results, BIG_BATCH);
	REQUIRE(dbos_gateway_submit(gateway, &batch) == DBOS_OK);
	dbos_gateway_close(gateway); /* cancels what did not start, waits for the rest */
	CHECK(dbos_io_batch_done(&batch));
	uint32_t ran = 0, cancelled = 0, other = 0;
	for (uint32_t i = 0; i < BIG_BATCH; i++) {
		if (results[i] == 256)
			ran++;
		else if (results[i] == -DBOS_IO_ECANCELED)
			cancelled++;
		else
			other++;
	}
	CHECK_EQ(other, 0);
	CHECK_EQ(ran + cancelled, BIG_BATCH);
	free(buffer);
	free(ops);
	free(results);
	close(fd);
}

static int suite_setup(void)
{
	snprintf(directory, sizeof(directory), "/tmp/dbos-gateway-XXXXXX");
	return mkdtemp(directory) ? 0 : -1;
}

static int suite_teardown(void)
{
	char command[300];
	snprintf(command, sizeof(command), "rm -rf %s", directory);
	return system(command);
}
