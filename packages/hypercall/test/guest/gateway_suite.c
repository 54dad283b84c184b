/*
 * gateway_suite.c - the gateway's conformance cases (test/c/gateway_suite.h)
 * inside the guest, against the hypercall-ring backend (csrc/guest/
 * gateway_guest.c).  test/c/test_gateway_guest.c boots the test image, grants
 * a private directory and runs these entries; each case logs its "ok"/"FAIL"
 * line, which that program relays to vitest.
 *
 * The fixture uses raw hypercalls, never the gateway under test.  Buffers the
 * cases allocate live in the engine window, whose pages need not be
 * contiguous in guest-physical memory, so fixture I/O goes page by page.
 */
#include "dbos/guest_kernel.h"
#include "dbos/hypercall.h"
#include "guest_check.h"
#include "linux_abi.h"

/* The guest kernel's own (guest/kernel/lib.c); no libc header to declare it. */
#define memcmp __builtin_memcmp

#define SUITE_O_RDONLY LINUX_O_RDONLY
#define SUITE_O_RDWR LINUX_O_RDWR
#define SUITE_O_CREAT LINUX_O_CREAT
#define SUITE_O_EXCL LINUX_O_EXCL
#define SUITE_O_CLOEXEC LINUX_O_CLOEXEC
#define SUITE_AT_EMPTY_PATH LINUX_AT_EMPTY_PATH
#define SUITE_STATX_SIZE LINUX_STATX_SIZE
#define SUITE_STATX_BASIC_STATS LINUX_STATX_BASIC_STATS
#define SUITE_S_IFMT LINUX_S_IFMT
#define SUITE_S_IFREG LINUX_S_IFREG
#define SUITE_EEXIST LINUX_EEXIST
#define SUITE_EBADF LINUX_EBADF
#define SUITE_ENOENT LINUX_ENOENT
#define SUITE_FOREIGN_BACKEND DBOS_GATEWAY_IO_URING /* a host backend */
#define SUITE_NO_THREADS 1                          /* one engine thread per vCPU: the driver runs the readers */

static int32_t suite_directory; /* the guest fd the driver granted */

static int suite_directory_fd(void)
{
	return suite_directory;
}

static uint64_t physical(const void *pointer)
{
	return dbos_guest_va_to_pa((uint64_t)(uintptr_t)pointer);
}

static int suite_file_create(const char *name)
{
	int64_t fd = dbos_guest_hypercall(DBOS_HC_OPENAT, suite_directory, physical(name),
					  LINUX_O_RDWR | LINUX_O_CREAT | LINUX_O_TRUNC, 0600, 0);
	return fd < 0 ? -1 : (int)fd;
}

/* PWRITE page by page: each piece is contiguous in guest-physical memory. */
static bool suite_file_write(int fd, const void *data, uint64_t size, uint64_t offset)
{
	const uint8_t *bytes = data;
	for (uint64_t done = 0; done < size;) {
		uint64_t va = (uint64_t)(uintptr_t)(bytes + done);
		uint64_t piece = DBOS_PAGE_SIZE - (va & (DBOS_PAGE_SIZE - 1));
		if (piece > size - done)
			piece = size - done;
		int64_t written =
			dbos_guest_hypercall(DBOS_HC_PWRITE, fd, physical(bytes + done), piece, offset + done, 0);
		if (written != (int64_t)piece)
			return false;
		done += piece;
	}
	return true;
}

static bool suite_file_truncate(int fd, uint64_t size)
{
	return dbos_guest_hypercall(DBOS_HC_FTRUNCATE, fd, size, 0, 0, 0) == 0;
}

/* One page-aligned statx buffer in the image's bss: identity-mapped and contiguous. */
static dbos_statx suite_stat __attribute__((aligned(256)));

static bool suite_file_stat(int fd)
{
	return dbos_guest_hypercall(DBOS_HC_STATX, fd, LINUX_STATX_SIZE | LINUX_STATX_INO, physical(&suite_stat), 0,
				    0) == 0;
}

static uint64_t suite_file_size(int fd)
{
	return suite_file_stat(fd) ? suite_stat.size : UINT64_MAX;
}

static uint64_t suite_file_inode(int fd)
{
	return suite_file_stat(fd) ? suite_stat.inode : UINT64_MAX;
}

static void suite_file_close(int fd)
{
	dbos_guest_hypercall(DBOS_HC_CLOSE, fd, 0, 0, 0, 0);
}

static void *suite_alloc(uint64_t size)
{
	return dbos_platform_alloc(size); /* pool frames are zeroed */
}

static void suite_free(void *pointer, uint64_t size)
{
	dbos_platform_free(pointer, size);
}

static void suite_note(const char *what, dbos_status status)
{
	struct guest_line line = { .length = 0 };
	guest_line_text(&line, "open ");
	guest_line_text(&line, what);
	guest_line_text(&line, ": ");
	guest_line_text(&line, dbos_status_name(status));
	dbos_platform_log(DBOS_LOG_WARN, line.text);
}

#include "../c/gateway_suite.h"

/* Only in the guest: the platform's shared gateway is this vCPU-ring backend. */
static void test_shared_gateway_is_the_hypercall_ring(void)
{
	dbos_gateway *first = NULL, *second = NULL;
	REQUIRE(dbos_gateway_shared(&first) == DBOS_OK);
	REQUIRE(dbos_gateway_shared(&second) == DBOS_OK);
	CHECK(first == second);
	CHECK_EQ(dbos_gateway_backend_of(first), DBOS_GATEWAY_HYPERCALL);
	CHECK_EQ(dbos_gateway_shared(NULL), DBOS_EINVAL);
	dbos_io_op op = { .opcode = DBOS_IO_FSYNC, .fd = -1 };
	int64_t result = 0;
	CHECK_EQ(dbos_gateway_run(first, &op, &result, 1), DBOS_OK);
	CHECK_EQ(result, -LINUX_EBADF);
}

/* Every single-thread case against the directory granted as guest fd a0; returns failed checks. */
DBOS_GUEST_ENTRY(gateway_suite)
{
	suite_directory = (int32_t)a0;
	backend_under_test = DBOS_GATEWAY_HYPERCALL;
	guest_check_failures_total = 0;
	RUN_TEST(test_shared_gateway_is_the_hypercall_ring);
	GATEWAY_SUITE_RUN_ALL();
	return guest_check_failures_total;
}

/* test_concurrent_batches, guest side: the file its readers read (in directory a0); its fd, or -1. */
DBOS_GUEST_ENTRY(gateway_concurrent_file)
{
	suite_directory = (int32_t)a0;
	return concurrent_file();
}

/* One of test_concurrent_batches' readers on this vCPU: file a0, seed a1; returns what came back wrong. */
DBOS_GUEST_ENTRY(gateway_concurrent_reader)
{
	struct concurrent_case reader = { .fd = (int)a0, .seed = (uint32_t)a1 };
	if (dbos_gateway_shared(&reader.gateway) != DBOS_OK)
		return -1;
	concurrent_reader(&reader);
	return reader.failures;
}

DBOS_GUEST_ENTRY(gateway_file_close)
{
	suite_file_close((int)a0);
	return 0;
}
