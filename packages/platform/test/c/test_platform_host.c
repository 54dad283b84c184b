/* test_platform_host.c - the host implementation of dbos/platform.h. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>

#include "dbos/platform.h"
#include "dbos_test.h"

static void test_status_names(void)
{
	CHECK(strcmp(dbos_status_name(DBOS_OK), "DBOS_OK") == 0);
	CHECK(strcmp(dbos_status_name(DBOS_ENOSPC), "DBOS_ENOSPC") == 0);
	CHECK(strcmp(dbos_status_name((dbos_status)999), "DBOS_EUNKNOWN") == 0);
	for (int s = 0; s < DBOS_STATUS_COUNT; s++)
		CHECK(strncmp(dbos_status_name((dbos_status)s), "DBOS_", 5) == 0);
}

static void test_reserve_is_aligned_and_uncommitted(void)
{
	void *base = NULL;
	size_t size = (size_t)1 << 40; /* 1 TiB of address space, no memory */
	REQUIRE(dbos_platform_reserve(size, DBOS_HUGE_PAGE_SIZE, &base) == DBOS_OK);
	CHECK(DBOS_IS_ALIGNED((uintptr_t)base, DBOS_HUGE_PAGE_SIZE));
	CHECK_EQ(dbos_platform_commit(base, 4 * DBOS_PAGE_SIZE, DBOS_PROT_READ_WRITE), DBOS_OK);
	char *bytes = base;
	CHECK_EQ(bytes[0], 0);
	bytes[5] = 42;
	CHECK_EQ(dbos_platform_advise(base, DBOS_PAGE_SIZE, DBOS_ADVICE_DISCARD), DBOS_OK);
	CHECK_EQ(bytes[5], 0); /* discarded anonymous pages read back as zeros */
	CHECK_EQ(dbos_platform_advise(base, 4 * DBOS_PAGE_SIZE, DBOS_ADVICE_POPULATE_WRITE), DBOS_OK);
	CHECK_EQ(dbos_platform_decommit(base, 4 * DBOS_PAGE_SIZE), DBOS_OK);
	CHECK_EQ(dbos_platform_unreserve(base, size), DBOS_OK);
}

static void test_memory_arguments_are_checked(void)
{
	void *base = NULL;
	CHECK_EQ(dbos_platform_reserve(0, DBOS_PAGE_SIZE, &base), DBOS_EINVAL);
	CHECK_EQ(dbos_platform_reserve(DBOS_PAGE_SIZE, 3000, &base), DBOS_EINVAL);
	CHECK_EQ(dbos_platform_reserve(100, DBOS_PAGE_SIZE, &base), DBOS_EINVAL);
	REQUIRE(dbos_platform_reserve(DBOS_PAGE_SIZE * 2, DBOS_PAGE_SIZE, &base) == DBOS_OK);
	CHECK_EQ(dbos_platform_commit((char *)base + 1, DBOS_PAGE_SIZE, DBOS_PROT_READ), DBOS_EINVAL);
	CHECK_EQ(dbos_platform_protect(base, DBOS_PAGE_SIZE, (enum dbos_prot)9), DBOS_EINVAL);
	CHECK_EQ(dbos_platform_advise(base, DBOS_PAGE_SIZE, (enum dbos_advice)99), DBOS_EINVAL);
	CHECK_EQ(dbos_platform_unreserve(base, DBOS_PAGE_SIZE * 2), DBOS_OK);
}

static sigjmp_buf fault_jump;
static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(fault_jump, 1);
}

static void test_protect_none_faults(void)
{
	void *base = NULL;
	REQUIRE(dbos_platform_reserve(DBOS_PAGE_SIZE, DBOS_PAGE_SIZE, &base) == DBOS_OK);
	REQUIRE(dbos_platform_commit(base, DBOS_PAGE_SIZE, DBOS_PROT_READ_WRITE) == DBOS_OK);
	REQUIRE(dbos_platform_protect(base, DBOS_PAGE_SIZE, DBOS_PROT_NONE) == DBOS_OK);
	struct sigaction action = { 0 }, previous;
	action.sa_handler = on_segv;
	sigaction(SIGSEGV, &action, &previous);
	volatile int faulted = 0;
	if (sigsetjmp(fault_jump, 1) == 0)
		(void)*(volatile char *)base;
	else
		faulted = 1;
	sigaction(SIGSEGV, &previous, NULL);
	CHECK(faulted);
	CHECK_EQ(dbos_platform_unreserve(base, DBOS_PAGE_SIZE), DBOS_OK);
}

static void test_clock_is_monotonic(void)
{
	uint64_t first = dbos_platform_now_ns();
	uint64_t second = dbos_platform_now_ns();
	CHECK(second >= first);
	CHECK(dbos_platform_cpu_count() >= 1);
	CHECK(dbos_platform_cpu_id() < 4096);
}

struct wake_case {
	uint32_t word;
	atomic_int woke;
};

static void waiter(void *opaque)
{
	struct wake_case *c = opaque;
	while (__atomic_load_n(&c->word, __ATOMIC_ACQUIRE) == 0)
		dbos_platform_wait(&c->word, 0, UINT64_MAX);
	atomic_store(&c->woke, 1);
}

static void test_wait_wake_and_threads(void)
{
	struct wake_case c = { 0 };
	dbos_thread *thread = NULL;
	REQUIRE(dbos_platform_thread_start(waiter, &c, &thread) == DBOS_OK);
	__atomic_store_n(&c.word, 1, __ATOMIC_RELEASE);
	dbos_platform_wake(&c.word, UINT32_MAX);
	dbos_platform_thread_join(thread);
	CHECK_EQ(atomic_load(&c.woke), 1);
	uint32_t word = 7;
	CHECK_EQ(dbos_platform_wait(&word, 7, 1000000), DBOS_ETIMEDOUT); /* 1 ms */
	CHECK_EQ(dbos_platform_wait(&word, 8, 1000000), DBOS_OK);        /* already changed */
}

/* Scattered ranges are discarded in one call; the pages between them keep their bytes. */
static void test_discard_ranges(void)
{
	void *base = NULL;
	size_t size = 16 * DBOS_PAGE_SIZE;
	REQUIRE(dbos_platform_reserve(size, DBOS_PAGE_SIZE, &base) == DBOS_OK);
	REQUIRE(dbos_platform_commit(base, size, DBOS_PROT_READ_WRITE) == DBOS_OK);
	uint8_t *bytes = base;
	for (int page = 0; page < 16; page++)
		bytes[page * DBOS_PAGE_SIZE + 7] = (uint8_t)(page + 1);
	struct dbos_platform_range ranges[3] = {
		{ bytes + 1 * DBOS_PAGE_SIZE, DBOS_PAGE_SIZE },
		{ bytes + 5 * DBOS_PAGE_SIZE, 2 * DBOS_PAGE_SIZE },
		{ bytes + 12 * DBOS_PAGE_SIZE, DBOS_PAGE_SIZE },
	};
	CHECK_EQ(dbos_platform_discard_ranges(ranges, 3), DBOS_OK);
	for (int page = 0; page < 16; page++) {
		bool discarded = page == 1 || page == 5 || page == 6 || page == 12;
		CHECK_EQ(bytes[page * DBOS_PAGE_SIZE + 7], discarded ? 0 : page + 1);
	}
	printf("# discard: %s\n", dbos_platform_discard_ranges_mechanism());
	CHECK(strlen(dbos_platform_discard_ranges_mechanism()) > 0);
	CHECK_EQ(dbos_platform_discard_ranges(ranges, 0), DBOS_OK);
	CHECK_EQ(dbos_platform_discard_ranges(NULL, 1), DBOS_EINVAL);
	CHECK_EQ(dbos_platform_discard_ranges(ranges, DBOS_PLATFORM_RANGES_MAX + 1), DBOS_EINVAL);
	struct dbos_platform_range unaligned = { bytes + 1, DBOS_PAGE_SIZE };
	CHECK_EQ(dbos_platform_discard_ranges(&unaligned, 1), DBOS_EINVAL);
	struct dbos_platform_range empty = { bytes, 0 };
	CHECK_EQ(dbos_platform_discard_ranges(&empty, 1), DBOS_EINVAL);
	CHECK_EQ(dbos_platform_unreserve(base, size), DBOS_OK);
}

static int deferred_calls;
static void count_deferred(void)
{
	deferred_calls++;
	dbos_platform_preempt()->pending = 0;
}

/* Latch sections nest; the deferred switch runs once, when the outermost one ends. */
static void test_preempt_sections(void)
{
	struct dbos_preempt *preempt = dbos_platform_preempt();
	CHECK(preempt == dbos_platform_preempt());
	CHECK_EQ(preempt->depth, 0u);
	preempt->deferred = count_deferred;
	dbos_preempt_disable();
	dbos_preempt_disable();
	CHECK_EQ(preempt->depth, 2u);
	preempt->pending = 1; /* what a scheduler's timer does inside a section */
	dbos_preempt_enable();
	CHECK_EQ(deferred_calls, 0);
	dbos_preempt_enable();
	CHECK_EQ(deferred_calls, 1);
	CHECK_EQ(preempt->depth, 0u);
	dbos_preempt_disable();
	dbos_preempt_enable(); /* nothing pending: no call */
	CHECK_EQ(deferred_calls, 1);
	preempt->deferred = NULL;
}

static void *other_thread_preempt(void *argument)
{
	*(struct dbos_preempt **)argument = dbos_platform_preempt();
	return NULL;
}

static void test_preempt_state_is_per_thread(void)
{
	struct dbos_preempt *other = NULL;
	pthread_t thread;
	REQUIRE(pthread_create(&thread, NULL, other_thread_preempt, &other) == 0);
	pthread_join(thread, NULL);
	CHECK(other != NULL && other != dbos_platform_preempt());
}

struct counted {
	dbos_mutex mutex;
	uint64_t count; /* plain: only under the mutex */
};

static void add_under_mutex(void *argument)
{
	struct counted *counted = argument;
	for (int i = 0; i < 100000; i++) {
		dbos_mutex_lock(&counted->mutex);
		counted->count++;
		dbos_mutex_unlock(&counted->mutex);
	}
}

static void test_mutex_excludes(void)
{
	struct counted counted = { 0 };
	CHECK(dbos_mutex_try_lock(&counted.mutex));
	CHECK(!dbos_mutex_try_lock(&counted.mutex));
	dbos_mutex_unlock(&counted.mutex);
	dbos_thread *threads[3];
	for (int t = 0; t < 3; t++)
		REQUIRE(dbos_platform_thread_start(add_under_mutex, &counted, &threads[t]) == DBOS_OK);
	add_under_mutex(&counted);
	for (int t = 0; t < 3; t++)
		dbos_platform_thread_join(threads[t]);
	CHECK_EQ(counted.count, 400000u);
	CHECK_EQ(counted.mutex.state, 0u);
}

int main(void)
{
	RUN_TEST(test_status_names);
	RUN_TEST(test_reserve_is_aligned_and_uncommitted);
	RUN_TEST(test_memory_arguments_are_checked);
	RUN_TEST(test_protect_none_faults);
	RUN_TEST(test_clock_is_monotonic);
	RUN_TEST(test_wait_wake_and_threads);
	RUN_TEST(test_discard_ranges);
	RUN_TEST(test_mutex_excludes);
	RUN_TEST(test_preempt_sections);
	RUN_TEST(test_preempt_state_is_per_thread);
	return TEST_EXIT_STATUS();
}
