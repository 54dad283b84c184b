/*
 * test_vmm_stop.c - stop a guest while its vCPUs ring doorbells and the
 * service thread answers them, again and again: the race dbos_guest_stop,
 * the service thread's vmm_vcpu_kick and the vCPU threads share.
 *
 * Each round boots a guest with two vCPUs and posts two calls
 * (dbos_guest_call_async): vCPU 0 loops NOP hypercalls on the async
 * doorbell (the service thread serves them, raising completion interrupts),
 * vCPU 1 asks for EXIT on the async doorbell, which the service thread
 * answers by failing the guest and kicking vCPU 1.  The stop comes at a
 * varying moment: before, during or after either.  Each posted call must be
 * answered exactly once, with DBOS_OK, DBOS_ECLOSED or DBOS_EGUEST, and
 * nothing may crash, hang or (under DBOS_SANITIZE=thread) race.  Rounds are
 * bounded by a count and a time budget (DBOS_TEST_STOP_SECONDS, default 4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dbos/guest.h"
#include "dbos_test.h"
#include "guest_image.h"

#define STOP_ROUNDS_MAX 5000u
#define STOP_DELAY_US_MAX 3000u /* the stop lands within this long of the posts */

static struct test_image image;

struct answer {
	int calls;
	dbos_status status;
};

static void answer_done(void *context, dbos_status status, int64_t result, const struct dbos_guest_failure *failure)
{
	(void)result;
	(void)failure;
	struct answer *answer = context;
	__atomic_store_n(&answer->status, status, __ATOMIC_RELAXED);
	__atomic_fetch_add(&answer->calls, 1, __ATOMIC_RELEASE);
}

static uint64_t now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint64_t budget_ns(void)
{
	const char *text = getenv("DBOS_TEST_STOP_SECONDS");
	double seconds = text && text[0] ? atof(text) : 4.0;
	return (uint64_t)((seconds > 0 ? seconds : 4.0) * 1e9);
}

/* xorshift: the stop moments are varied but reproducible. */
static uint32_t next_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static bool answered_once(const struct answer *answer)
{
	dbos_status status = __atomic_load_n(&answer->status, __ATOMIC_RELAXED);
	return __atomic_load_n(&answer->calls, __ATOMIC_ACQUIRE) == 1 &&
	       (status == DBOS_OK || status == DBOS_ECLOSED || status == DBOS_EGUEST);
}

/* One round: boot, post, stop at `delay_us`, check the answers. */
static bool stop_round(uint32_t delay_us, uint32_t batch)
{
	dbos_guest *guest = test_guest_boot(&image, 2, 16u << 20);
	if (!guest)
		return false;
	uint64_t nop_loop = 0, request = 0;
	bool found = dbos_guest_entry_find(guest, "hc_nop_loop", &nop_loop) == DBOS_OK &&
		     dbos_guest_entry_find(guest, "hc_request", &request) == DBOS_OK;
	struct dbos_hc_request exit_request = { .op = DBOS_HC_EXIT, .flags = DBOS_HC_FLAG_INTERRUPT };
	uint64_t exit_address = test_guest_scratch(guest, 0x100);
	found = found && dbos_guest_memory_write(guest, exit_address, &exit_request, sizeof(exit_request)) == DBOS_OK;
	struct answer nops = { 0 }, exits = { 0 };
	uint64_t nop_args[4] = { 1u << 30, batch, 1 /* async doorbell */, 0 };
	uint64_t exit_args[4] = { exit_address, 1 /* async doorbell */, 0, 0 };
	bool posted = found && dbos_guest_call_async(guest, 0, nop_loop, nop_args, answer_done, &nops) == DBOS_OK;
	dbos_status exit_posted =
		found ? dbos_guest_call_async(guest, 1, request, exit_args, answer_done, &exits) : DBOS_EINVAL;
	if (delay_us)
		usleep(delay_us);
	dbos_guest_stop(guest); /* every posted call is answered before it returns */
	bool ok = posted && answered_once(&nops);
	/* The EXIT may have failed the guest before its post: then it was refused, never answered. */
	ok = ok && (exit_posted == DBOS_OK ? answered_once(&exits) : exit_posted == DBOS_EGUEST && exits.calls == 0);
	dbos_guest_destroy(guest);
	return ok;
}

static void test_stop_while_doorbells_and_completions_fly(void)
{
	uint64_t start_ns = now_ns(), budget = budget_ns();
	uint32_t state = 0xdb05u, rounds = 0, failures = 0;
	for (; rounds < STOP_ROUNDS_MAX && now_ns() - start_ns < budget; rounds++) {
		uint32_t random = next_random(&state);
		uint32_t delay_us = random % 4 == 0 ? 0 : random % STOP_DELAY_US_MAX;
		if (!stop_round(delay_us, 1 + (random >> 8) % 64))
			failures++;
	}
	printf("# %u rounds of stop against async doorbells in %.1f s\n", rounds, (double)(now_ns() - start_ns) / 1e9);
	CHECK_EQ(failures, 0);
	CHECK(rounds >= 10); /* a budget that allows no real test is a failure too */
}

/* Where /dev/kvm does not open the cases cannot run (skipped, saying why); where it opens, they must. */
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
	if (!test_image_read(&image)) {
		printf("FAIL test_image_readable\n");
		return 1;
	}
	RUN_TEST(test_vmm_available_where_kvm_opens);
	if (!vmm_unavailable[0] && TEST_EXIT_STATUS() == 0)
		RUN_TEST(test_stop_while_doorbells_and_completions_fly);
	test_image_free(&image);
	return TEST_EXIT_STATUS();
}
