/*
 * gateway_fixture_host.h - the fixture gateway_suite.h needs, on the host:
 * a private temporary directory and plain system calls (never the gateway
 * under test).  Include it, then gateway_suite.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbos/hypercall.h"
#include "dbos_test.h"

#define SUITE_O_RDONLY O_RDONLY
#define SUITE_O_RDWR O_RDWR
#define SUITE_O_CREAT O_CREAT
#define SUITE_O_EXCL O_EXCL
#define SUITE_O_CLOEXEC O_CLOEXEC
#define SUITE_AT_EMPTY_PATH AT_EMPTY_PATH
#define SUITE_STATX_SIZE STATX_SIZE
#define SUITE_STATX_BASIC_STATS STATX_BASIC_STATS
#define SUITE_S_IFMT S_IFMT
#define SUITE_S_IFREG S_IFREG
#define SUITE_EEXIST EEXIST
#define SUITE_EBADF EBADF
#define SUITE_ENOENT ENOENT
#define SUITE_FOREIGN_BACKEND DBOS_GATEWAY_HYPERCALL /* the guest's backend */

static char suite_directory[256];
static int suite_directory_descriptor = -1;

/* Make the private directory the cases create their files in; 0 or -1. */
static int suite_setup(void)
{
	snprintf(suite_directory, sizeof(suite_directory), "/tmp/dbos-gateway-XXXXXX");
	if (!mkdtemp(suite_directory))
		return -1;
	suite_directory_descriptor = open(suite_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return suite_directory_descriptor >= 0 ? 0 : -1;
}

static int suite_teardown(void)
{
	char command[300];
	close(suite_directory_descriptor);
	snprintf(command, sizeof(command), "rm -rf %s", suite_directory);
	return system(command);
}

static int suite_directory_fd(void)
{
	return suite_directory_descriptor;
}

static int suite_file_create(const char *name)
{
	return openat(suite_directory_descriptor, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static bool suite_file_write(int fd, const void *data, uint64_t size, uint64_t offset)
{
	return pwrite(fd, data, size, (off_t)offset) == (ssize_t)size;
}

static bool suite_file_truncate(int fd, uint64_t size)
{
	return ftruncate(fd, (off_t)size) == 0;
}

static uint64_t suite_file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : UINT64_MAX;
}

static uint64_t suite_file_inode(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : UINT64_MAX;
}

static void suite_file_close(int fd)
{
	close(fd);
}

static void *suite_alloc(uint64_t size)
{
	return calloc(1, size);
}

static void suite_free(void *pointer, uint64_t size)
{
	(void)size;
	free(pointer);
}

static void suite_note(const char *what, dbos_status status)
{
	fprintf(stderr, "open %s: %s\n", what, dbos_status_name(status));
}
