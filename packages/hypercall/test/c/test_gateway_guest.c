/*
 * test_gateway_guest.c - the gateway's conformance cases (gateway_suite.h)
 * against the guest's backend, DBOS_GATEWAY_HYPERCALL: boot the test image,
 * grant it a private directory, run the suite's entry (test/guest/
 * gateway_suite.c) and relay each case's "ok"/"FAIL" line from the guest's
 * log, so vitest shows every case by name.  The guest has no threads, so
 * test_concurrent_batches runs here: one reader entry on each of four vCPUs
 * at once, from four host threads.  Skips, saying why, only where /dev/kvm
 * does not open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbos/guest.h"
#include "dbos_test.h"
#include "guest_image.h"
#include "../guest/linux_abi.h"

/* The guest side hard-codes these: check them against this libc's. */
_Static_assert(LINUX_O_RDONLY == O_RDONLY && LINUX_O_RDWR == O_RDWR && LINUX_O_CREAT == O_CREAT &&
		       LINUX_O_EXCL == O_EXCL && LINUX_O_TRUNC == O_TRUNC && LINUX_O_CLOEXEC == O_CLOEXEC,
	       "open flags");
_Static_assert(LINUX_AT_EMPTY_PATH == AT_EMPTY_PATH && LINUX_STATX_INO == STATX_INO && LINUX_STATX_SIZE == STATX_SIZE &&
		       LINUX_STATX_BASIC_STATS == STATX_BASIC_STATS,
	       "statx");
_Static_assert(LINUX_S_IFMT == S_IFMT && LINUX_S_IFREG == S_IFREG, "file type bits");
_Static_assert(LINUX_ENOENT == ENOENT && LINUX_EBADF == EBADF && LINUX_EEXIST == EEXIST, "errno");

#define VCPUS 4
#define LOG_SIZE (64u << 10)

static dbos_guest *guest;
static int32_t granted_directory = -1; /* the guest fd of the private directory */

/* Run entry `name`(a0, a1) on `vcpu`; false (with the reason printed) when the call failed. */
static bool run(uint32_t vcpu, const char *name, uint64_t a0, uint64_t a1, int64_t *result)
{
	uint64_t function = 0;
	if (dbos_guest_entry_find(guest, name, &function) != DBOS_OK) {
		printf("# the test image has no entry %s\n", name);
		return false;
	}
	uint64_t args[DBOS_GUEST_ENTRY_ARGS] = { a0, a1, 0, 0 };
	struct dbos_guest_failure failure;
	memset(&failure, 0, sizeof(failure));
	dbos_status status = dbos_guest_call(guest, vcpu, function, args, result, &failure);
	if (status != DBOS_OK)
		printf("# %s on vCPU %u: %s%s%s\n", name, vcpu, dbos_status_name(status),
		       status == DBOS_EGUEST ? ": " : "", status == DBOS_EGUEST ? failure.message : "");
	return status == DBOS_OK;
}

/* The guest's LOG lines: case results as they are, diagnostics as comments. */
static void relay_log(void)
{
	static char log[LOG_SIZE + 1];
	size_t length = dbos_guest_log_take(guest, log, LOG_SIZE);
	log[length] = 0;
	for (char *line = log, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			break;
		*end = 0;
		const char *text = strchr(line, ']') ? strchr(line, ']') + 2 : line; /* drop "[info] " */
		if (strncmp(text, "ok ", 3) == 0 || strncmp(text, "FAIL ", 5) == 0)
			printf("%s\n", text);
		else
			printf("# guest: %s\n", text);
	}
	fflush(stdout);
}

struct reader {
	pthread_t thread;
	uint32_t vcpu;
	int64_t fd;
	int64_t failures;
};

static void *reader_main(void *opaque)
{
	struct reader *reader = opaque;
	if (!run(reader->vcpu, "gateway_concurrent_reader", (uint64_t)reader->fd, reader->vcpu * 1000u + 7u,
		 &reader->failures))
		reader->failures = -1;
	return NULL;
}

/* gateway_suite.h's test_concurrent_batches, with vCPUs where the host uses threads. */
static void test_concurrent_batches(void)
{
	int64_t fd = -1;
	REQUIRE(run(0, "gateway_concurrent_file", (uint64_t)granted_directory, 0, &fd));
	REQUIRE(fd >= 0);
	struct reader readers[VCPUS];
	for (uint32_t i = 0; i < VCPUS; i++) {
		readers[i] = (struct reader){ .vcpu = i, .fd = fd };
		REQUIRE(pthread_create(&readers[i].thread, NULL, reader_main, &readers[i]) == 0);
	}
	for (uint32_t i = 0; i < VCPUS; i++) {
		pthread_join(readers[i].thread, NULL);
		CHECK_EQ(readers[i].failures, 0);
	}
	int64_t ignored;
	CHECK(run(0, "gateway_file_close", (uint64_t)fd, 0, &ignored));
}

/* Where /dev/kvm does not open the guest cases cannot run (skipped, saying why); where it opens, they must. */
static char vmm_unavailable[256];
static void test_vmm_available_where_kvm_opens(void)
{
	char reason[200] = "";
	int unavailable = test_guest_unavailable(reason, sizeof(reason));
	if (unavailable < 0)
		printf("# /dev/kvm opens but the guest cannot start: %s\n", reason);
	CHECK(unavailable >= 0);
	if (unavailable > 0) {
		snprintf(vmm_unavailable, sizeof(vmm_unavailable), "no usable /dev/kvm: %s", reason);
		SKIP(vmm_unavailable);
	}
}

int main(void)
{
	struct test_image image;
	if (!test_image_read(&image)) {
		printf("FAIL test_image_readable\n");
		return 1;
	}
	RUN_TEST(test_vmm_available_where_kvm_opens);
	if (vmm_unavailable[0] || TEST_EXIT_STATUS() != 0) {
		test_image_free(&image);
		return TEST_EXIT_STATUS();
	}
	char directory[] = "/tmp/dbos-gateway-guest-XXXXXX";
	int directory_fd = mkdtemp(directory) ? open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	guest = test_guest_boot(&image, VCPUS, 64u << 20);
	test_image_free(&image);
	if (directory_fd < 0 || !guest ||
	    dbos_guest_fd_grant(guest, directory_fd, DBOS_GUEST_ACCESS_READ_WRITE, &granted_directory) != DBOS_OK) {
		printf("FAIL guest_with_a_granted_directory\n");
		return 1;
	}
	int64_t failed_checks = -1;
	bool finished = run(0, "gateway_suite", (uint64_t)granted_directory, 0, &failed_checks);
	relay_log();
	printf("%s gateway_suite_ran_to_the_end\n", finished ? "ok" : "FAIL");
	RUN_TEST(test_concurrent_batches);
	relay_log();
	dbos_guest_destroy(guest);
	close(directory_fd);
	char command[128];
	snprintf(command, sizeof(command), "rm -rf %s", directory);
	int removed = system(command);
	return finished && failed_checks == 0 && removed == 0 ? TEST_EXIT_STATUS() : 1;
}
