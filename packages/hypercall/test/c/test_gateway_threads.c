/* test_gateway_threads.c - the gateway's thread-pool backend, and AUTO's choice. */
#include "gateway_fixture_host.h"
#include "gateway_suite.h"
#include "gateway_host_cases.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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

/* In this process from now on, io_uring_setup fails with EPERM (as under kernel.io_uring_disabled=2). */
static bool refuse_io_uring(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog program = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

static void test_auto_falls_back_to_threads_and_says_why(void)
{
	/* A child, so the seccomp filter stays there; it reports through its exit status. */
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		if (!refuse_io_uring())
			_exit(2);
		char text[256] = "";
		dbos_gateway_mechanism(text, sizeof(text));
		dbos_gateway_config config = { .backend = DBOS_GATEWAY_AUTO };
		dbos_gateway *gateway = NULL;
		bool threads = dbos_gateway_open(&config, &gateway) == DBOS_OK &&
			       dbos_gateway_backend_of(gateway) == DBOS_GATEWAY_THREADS;
		bool said =
			strncmp(text, "thread pool of plain system calls: io_uring_setup failed with EPERM", 67) == 0;
		if (!said)
			fprintf(stderr, "mechanism line: %s\n", text);
		_exit(threads && said ? 0 : 1); /* no exit handlers: the gateway's threads are not joined */
	}
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
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
	RUN_TEST(test_auto_falls_back_to_threads_and_says_why);
	RUN_TEST(test_platform_gateway_is_shared);
	GATEWAY_SUITE_RUN_ALL();
	RUN_TEST(test_concurrent_batches);
	RUN_TEST(test_single_writes_on_caller_respect_close);
	if (suite_teardown() != 0)
		return 3;
	return TEST_EXIT_STATUS();
}
