/*
 * gateway_suite.h - the gateway's conformance cases (dbos/hypercall.h), run
 * unchanged against every backend: the host's threads and io_uring
 * (test_gateway_threads.c, test_gateway_uring.c) and the guest's hypercall
 * ring (test/guest/gateway_suite.c, driven by test_gateway_guest.c).
 *
 * The cases use only dbos/hypercall.h, dbos/platform.h and a small fixture
 * the includer provides first, because the guest has no libc:
 *
 *   CHECK, CHECK_EQ, REQUIRE, RUN_TEST     dbos_test.h, or guest_check.h in the guest
 *   memcmp                                 libc, or the guest kernel's
 *   SUITE_O_RDWR, SUITE_O_CREAT, SUITE_O_EXCL, SUITE_O_CLOEXEC, SUITE_O_RDONLY,
 *   SUITE_AT_EMPTY_PATH, SUITE_STATX_SIZE, SUITE_STATX_BASIC_STATS,
 *   SUITE_S_IFMT, SUITE_S_IFREG, SUITE_EEXIST, SUITE_EBADF, SUITE_ENOENT
 *                                          Linux's values (<fcntl.h> on the host)
 *   SUITE_FOREIGN_BACKEND                  a backend of the other runtime: ENOTSUP
 *   int suite_directory_fd(void)           a private directory (openat's dirfd)
 *   int suite_file_create(const char *name)          create or truncate there; fd or -1
 *   bool suite_file_write(int fd, const void *data, uint64_t size, uint64_t offset)
 *   bool suite_file_truncate(int fd, uint64_t size)
 *   uint64_t suite_file_size(int fd), suite_file_inode(int fd)   UINT64_MAX on failure
 *   void suite_file_close(int fd)
 *   void *suite_alloc(uint64_t size)       zeroed; suite_free(pointer, size)
 *   void suite_note(const char *what, dbos_status status)   a diagnostic line
 *
 * The fixture works without the gateway under test (plain system calls on the
 * host, raw hypercalls in the guest), so a gateway bug cannot hide in it.
 * test_concurrent_batches needs threads; where there are none (the guest:
 * SUITE_NO_THREADS) the driver runs concurrent_reader on several vCPUs itself.
 */
#include <stdbool.h>
#include <stdint.h>

#include "dbos/hypercall.h"
#include "dbos/platform.h"

static enum dbos_gateway_backend backend_under_test;
static uint32_t syscall_opcodes_under_test;

static dbos_gateway *open_gateway(uint32_t queue_depth)
{
	dbos_gateway_config config = { .backend = backend_under_test,
				       .queue_depth = queue_depth,
				       .thread_count = 2,
				       .syscall_opcodes = syscall_opcodes_under_test };
	dbos_gateway *gateway = NULL;
	dbos_status status = dbos_gateway_open(&config, &gateway);
	if (status != DBOS_OK) {
		suite_note(dbos_gateway_backend_name(backend_under_test), status);
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

static void test_read_write_round_trip(void)
{
	dbos_gateway *gateway = open_gateway(0);
	REQUIRE(gateway);
	CHECK_EQ(dbos_gateway_backend_of(gateway), backend_under_test);
	int fd = suite_file_create("rw");
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
				   op_rw(DBOS_IO_PREAD, fd, in, 100, 1 << 20) };  /* past EOF */
	int64_t read_results[3];
	CHECK_EQ(dbos_gateway_run(gateway, read_ops, read_results, 3), DBOS_OK);
	CHECK_EQ(read_results[0], 4096);
	CHECK_EQ(read_results[1], 10);
	CHECK_EQ(read_results[2], 0);
	int64_t one;
	CHECK_EQ(dbos_gateway_run(gateway, read_ops, &one, 1), DBOS_OK);
	CHECK_EQ(one, 4096);
	CHECK(memcmp(in, out, 4096) == 0);
	suite_file_close(fd);
	dbos_gateway_close(gateway);
}

static void test_vectored_and_sync_ops(void)
{
	dbos_gateway *gateway = open_gateway(0);
	REQUIRE(gateway);
	int fd = suite_file_create("vec");
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
	suite_file_close(fd);
	dbos_gateway_close(gateway);
}

static void test_file_ops(void)
{
	dbos_gateway *gateway = open_gateway(0);
	REQUIRE(gateway);
	static char created[] = "created-0"; /* a new name per run: the guest cannot unlink */
	created[sizeof(created) - 2]++;
	dbos_io_op open_op = { 0 };
	open_op.opcode = DBOS_IO_OPENAT;
	open_op.fd = suite_directory_fd();
	open_op.path = (uintptr_t)created;
	open_op.flags = SUITE_O_RDWR | SUITE_O_CREAT | SUITE_O_EXCL | SUITE_O_CLOEXEC;
	open_op.mode = 0640;
	int64_t fd = -1;
	CHECK_EQ(dbos_gateway_run(gateway, &open_op, &fd, 1), DBOS_OK);
	REQUIRE(fd >= 0);
	int64_t again = 0; /* O_EXCL on an existing file */
	CHECK_EQ(dbos_gateway_run(gateway, &open_op, &again, 1), DBOS_OK);
	CHECK_EQ(again, -SUITE_EEXIST);

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
	CHECK_EQ(suite_file_size((int)fd), 1 << 20);
	CHECK_EQ(dbos_gateway_run(gateway, &cut, &result, 1), DBOS_OK);
	CHECK_EQ(result, 0);

	dbos_statx sx;
	__builtin_memset(&sx, 0xff, sizeof(sx));
	dbos_io_op stat_op = { 0 };
	stat_op.opcode = DBOS_IO_STATX;
	stat_op.fd = (int)fd;
	stat_op.path = (uintptr_t) "";
	stat_op.flags = SUITE_AT_EMPTY_PATH;
	stat_op.mode = SUITE_STATX_BASIC_STATS;
	stat_op.address = (uintptr_t)&sx;
	CHECK_EQ(dbos_gateway_run(gateway, &stat_op, &result, 1), DBOS_OK);
	CHECK_EQ(result, 0);
	CHECK_EQ(sx.size, 12345);
	CHECK_EQ(sx.mode & 0777, 0640);
	CHECK_EQ(sx.mode & SUITE_S_IFMT, SUITE_S_IFREG);
	CHECK_EQ(sx.inode, suite_file_inode((int)fd));
	CHECK(sx.mask & SUITE_STATX_SIZE);

	dbos_io_op close_op = { 0 };
	close_op.opcode = DBOS_IO_CLOSE;
	close_op.fd = (int)fd;
	CHECK_EQ(dbos_gateway_run(gateway, &close_op, &result, 1), DBOS_OK);
	CHECK_EQ(result, 0);
	CHECK_EQ(dbos_gateway_run(gateway, &close_op, &result, 1), DBOS_OK);
	CHECK_EQ(result, -SUITE_EBADF);
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
	CHECK_EQ(result, -SUITE_EBADF);

	dbos_io_op missing = { 0 };
	missing.opcode = DBOS_IO_OPENAT;
	missing.fd = suite_directory_fd();
	missing.path = (uintptr_t) "missing/dbos/file";
	missing.flags = SUITE_O_RDONLY;
	CHECK_EQ(dbos_gateway_run(gateway, &missing, &result, 1), DBOS_OK);
	CHECK_EQ(result, -SUITE_ENOENT);

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
	dbos_gateway_config foreign = { .backend = SUITE_FOREIGN_BACKEND };
	CHECK_EQ(dbos_gateway_open(&foreign, &none), DBOS_ENOTSUP);
}

#define BIG_BATCH 4096u

static void test_batch_larger_than_queue(void)
{
	dbos_gateway *gateway = open_gateway(32); /* the backlog feeds the ring 32 at a time */
	REQUIRE(gateway);
	int fd = suite_file_create("big");
	REQUIRE(fd >= 0);
	uint32_t *data = suite_alloc(BIG_BATCH * 64);
	uint32_t *copy = suite_alloc(BIG_BATCH * 64);
	dbos_io_op *ops = suite_alloc(BIG_BATCH * sizeof(*ops));
	int64_t *results = suite_alloc(BIG_BATCH * sizeof(*results));
	REQUIRE(data && copy && ops && results);
	for (uint32_t i = 0; i < BIG_BATCH * 16; i++)
		data[i] = i;
	REQUIRE(suite_file_write(fd, data, BIG_BATCH * 64, 0));
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
	suite_free(data, BIG_BATCH * 64);
	suite_free(copy, BIG_BATCH * 64);
	suite_free(ops, BIG_BATCH * sizeof(*ops));
	suite_free(results, BIG_BATCH * sizeof(*results));
	suite_file_close(fd);
	dbos_gateway_close(gateway);
}

#define CONCURRENT_BLOCKS 512u
#define CONCURRENT_ROUNDS 200

struct concurrent_case {
	dbos_gateway *gateway;
	int fd;
	uint32_t seed;
	int failures;
};

/* The file every reader reads: block b holds eight copies of b. */
static int concurrent_file(void)
{
	int fd = suite_file_create("concurrent");
	for (uint64_t block = 0; fd >= 0 && block < CONCURRENT_BLOCKS; block++) {
		uint64_t words[8] = { block, block, block, block, block, block, block, block };
		if (!suite_file_write(fd, words, 64, block * 64)) {
			suite_file_close(fd);
			return -1;
		}
	}
	return fd;
}

/* One reader: CONCURRENT_ROUNDS batches of 8 reads; counts what came back wrong. */
static void concurrent_reader(void *opaque)
{
	struct concurrent_case *c = opaque;
	uint64_t buffer[8][8];
	for (int round = 0; round < CONCURRENT_ROUNDS; round++) {
		dbos_io_op ops[8];
		int64_t results[8];
		for (int i = 0; i < 8; i++) {
			uint32_t block = (c->seed * 31u + (uint32_t)round * 8u + (uint32_t)i) % CONCURRENT_BLOCKS;
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

#ifndef SUITE_NO_THREADS
static void test_concurrent_batches(void)
{
	dbos_gateway *gateway = open_gateway(16);
	REQUIRE(gateway);
	int fd = concurrent_file();
	REQUIRE(fd >= 0);
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
	suite_file_close(fd);
	dbos_gateway_close(gateway);
}
#endif

static void test_poll_many_batches_in_flight(void)
{
	dbos_gateway *gateway = open_gateway(8);
	REQUIRE(gateway);
	int fd = suite_file_create("poll");
	REQUIRE(fd >= 0);
	REQUIRE(suite_file_truncate(fd, 1 << 16));
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
	suite_file_close(fd);
	dbos_gateway_close(gateway);
}

static void test_close_with_ops_in_flight(void)
{
	dbos_gateway *gateway = open_gateway(16);
	REQUIRE(gateway);
	int fd = suite_file_create("close");
	REQUIRE(fd >= 0);
	REQUIRE(suite_file_truncate(fd, 1 << 20));
	char *buffer = suite_alloc(BIG_BATCH * 256);
	dbos_io_op *ops = suite_alloc(BIG_BATCH * sizeof(*ops));
	int64_t *results = suite_alloc(BIG_BATCH * sizeof(*results));
	REQUIRE(buffer && ops && results);
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
	suite_free(buffer, BIG_BATCH * 256);
	suite_free(ops, BIG_BATCH * sizeof(*ops));
	suite_free(results, BIG_BATCH * sizeof(*results));
	suite_file_close(fd);
}

/* Every case that runs in one thread, in the order the drivers run them. */
#define GATEWAY_SUITE_RUN_ALL()                             \
	do {                                                \
		RUN_TEST(test_read_write_round_trip);       \
		RUN_TEST(test_vectored_and_sync_ops);       \
		RUN_TEST(test_file_ops);                    \
		RUN_TEST(test_errors);                      \
		RUN_TEST(test_batch_larger_than_queue);     \
		RUN_TEST(test_poll_many_batches_in_flight); \
		RUN_TEST(test_close_with_ops_in_flight);    \
	} while (0)
