/*
 * platform_guest_sync.c - dbos/platform.h time, CPUs, waiting, threads and
 * logging inside the guest.
 *
 *   time       rdtsc scaled by the host-measured TSC rate (no exit)
 *   wait/wake  WAIT / WAKE hypercalls: the vCPU's host thread sleeps on the
 *              word through the host mapping of guest RAM (a futex)
 *   threads    DBOS_ENOTSUP: vCPUs are started by the host, one per engine
 *              thread; JavaScript runs entry points on them (guest.run)
 *   log/panic  LOG hypercall / the kernel's panic record
 */
#include "dbos/guest_kernel.h"

uint64_t dbos_platform_now_ns(void)
{
	return dbos_guest_tsc_to_ns(dbos_guest_rdtsc());
}

uint32_t dbos_platform_cpu_id(void)
{
	return dbos_guest_cpu_self()->index;
}

uint32_t dbos_platform_cpu_count(void)
{
	return (uint32_t)dbos_guest_boot_block()->vcpu_count;
}

void dbos_platform_relax(void)
{
	__asm__ volatile("pause");
}

void dbos_platform_yield(void)
{
	__asm__ volatile("pause"); /* one engine thread per vCPU: nobody to yield to */
}

dbos_status dbos_platform_wait(const uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	uint64_t pa = dbos_guest_va_to_pa((uint64_t)(uintptr_t)word);
	if (pa == UINT64_MAX)
		return DBOS_EFAULT;
	int64_t result = dbos_guest_hypercall(DBOS_HC_WAIT, -1, pa, expected, timeout_ns, 0);
	if (result == -110) /* ETIMEDOUT */
		return DBOS_ETIMEDOUT;
	return result < 0 && result != -11 /* EAGAIN */ && result != -4 /* EINTR */ ? DBOS_EINVAL : DBOS_OK;
}

void dbos_platform_wake(const uint32_t *word, uint32_t count)
{
	uint64_t pa = dbos_guest_va_to_pa((uint64_t)(uintptr_t)word);
	if (pa != UINT64_MAX)
		dbos_guest_hypercall(DBOS_HC_WAKE, -1, pa, count, 0, 0);
}

dbos_status dbos_platform_thread_start(void (*entry)(void *argument), void *argument, dbos_thread **thread_out)
{
	return DBOS_ENOTSUP;
}

void dbos_platform_thread_join(dbos_thread *thread)
{
	DBOS_ASSERT(thread == 0); /* no thread can have been started */
}

void dbos_platform_log(enum dbos_log_level level, const char *message)
{
	size_t length = 0;
	while (message[length] && length < DBOS_HC_LOG_SIZE_MAX)
		length++;
	uint64_t pa = dbos_guest_va_to_pa((uint64_t)(uintptr_t)message);
	/* Messages from static data or the stack sit in identity-mapped RAM, contiguous. */
	if (pa != UINT64_MAX)
		dbos_guest_hypercall(DBOS_HC_LOG, -1, (uint64_t)level, pa, length, 0);
}

static size_t append(char *buffer, size_t at, size_t size, const char *text)
{
	while (*text && at + 1 < size)
		buffer[at++] = *text++;
	return at;
}

_Noreturn void dbos_platform_panic(const char *file, int line, const char *message)
{
	char text[DBOS_GUEST_PANIC_MESSAGE_SIZE];
	char digits[12];
	int count = 0;
	unsigned value = line < 0 ? 0u : (unsigned)line;
	do {
		digits[count++] = (char)('0' + value % 10);
		value /= 10;
	} while (value && count < 11);
	size_t at = append(text, 0, sizeof(text), file);
	at = append(text, at, sizeof(text), ":");
	while (count > 0 && at + 1 < sizeof(text))
		text[at++] = digits[--count];
	at = append(text, at, sizeof(text), ": ");
	at = append(text, at, sizeof(text), message);
	text[at] = 0;
	dbos_guest_kcall(DBOS_KCALL_PANIC, (uint64_t)(uintptr_t)text, 0, 0, 0);
	for (;;)
		__asm__ volatile("pause"); /* not reached: the kernel never returns from PANIC */
}

/* Per vCPU: one engine thread runs on each. */
static struct dbos_preempt preempt_state[DBOS_GUEST_VCPU_MAX];

struct dbos_preempt *dbos_platform_preempt(void)
{
	uint32_t cpu = dbos_guest_cpu_self()->index;
	DBOS_ASSERT(cpu < DBOS_GUEST_VCPU_MAX);
	return &preempt_state[cpu];
}
