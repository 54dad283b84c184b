/*
 * dbos/platform.h - the only door from a dbos C core to the machine.
 *
 * C cores (the csrc/ top level of every package) include nothing from the OS: only
 * <stdint.h> <stddef.h> <stdbool.h> <stdatomic.h> and dbos headers.  Every
 * mapping, fault, clock read, wait and I/O goes through the functions below,
 * which have two implementations:
 *
 *   platform_host   Linux user space (csrc/host/ of @dbos/platform)
 *   platform_guest  the dbos guest kernel (csrc/guest/ of @dbos/hypercall)
 *
 * The same core source is compiled into the Node addon for the host runtime
 * and into the guest kernel image for the guest runtime.  Both runtimes
 * provide memcpy, memset, memmove and memcmp, so cores may use
 * __builtin_memcpy and friends.
 *
 * Conventions: sizes are bytes, addresses and sizes passed to the memory
 * functions are multiples of DBOS_PAGE_SIZE, times are nanoseconds.  Errors
 * come back as dbos_status; broken invariants call dbos_platform_panic().
 */
#ifndef DBOS_PLATFORM_H
#define DBOS_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DBOS_PAGE_SHIFT 12
#define DBOS_PAGE_SIZE ((size_t)1 << DBOS_PAGE_SHIFT)
#define DBOS_HUGE_PAGE_SIZE ((size_t)2 << 20)
#define DBOS_CACHE_LINE_SIZE 64

/* Which runtime the code was compiled for. */
typedef enum dbos_runtime {
	DBOS_RUNTIME_HOST = 1,
	DBOS_RUNTIME_GUEST = 2,
} dbos_runtime;

dbos_runtime dbos_platform_runtime(void);

/* ---- Memory ------------------------------------------------------------ */

enum dbos_prot {
	DBOS_PROT_NONE = 0,
	DBOS_PROT_READ = 1,
	DBOS_PROT_WRITE = 2,
	DBOS_PROT_READ_WRITE = 3,
};

enum dbos_advice {
	DBOS_ADVICE_DISCARD = 1,        /* drop contents; next read sees zeros */
	DBOS_ADVICE_POPULATE_WRITE = 2, /* back with writable memory now */
	DBOS_ADVICE_POPULATE_READ = 3,  /* fault in for reading now */
	DBOS_ADVICE_HUGEPAGE = 4,       /* prefer 2 MiB pages */
	DBOS_ADVICE_NOHUGEPAGE = 5,     /* keep 4 KiB pages */
};

/*
 * Reserve `size` bytes of address space aligned to `alignment` (a power of
 * two, at least DBOS_PAGE_SIZE) without committing memory: the range is
 * inaccessible until committed.  Terabyte reservations are fine.
 */
dbos_status dbos_platform_reserve(size_t size, size_t alignment, void **address_out);

/* Return a reservation (committed or not) to the system. */
dbos_status dbos_platform_unreserve(void *address, size_t size);

/*
 * Make part of a reservation private anonymous memory with `prot`; reads see
 * zeros.  The host backs committed memory when it is first touched, the guest
 * at once: commit what you will use, not a worst case.
 */
dbos_status dbos_platform_commit(void *address, size_t size, enum dbos_prot prot);

/* Return committed memory to the reserved, inaccessible state (frees it). */
dbos_status dbos_platform_decommit(void *address, size_t size);

dbos_status dbos_platform_protect(void *address, size_t size, enum dbos_prot prot);

dbos_status dbos_platform_advise(void *address, size_t size, enum dbos_advice advice);

/* One range for dbos_platform_discard_ranges: the layout of struct iovec. */
struct dbos_platform_range {
	void *address; /* page aligned */
	size_t size;   /* a multiple of DBOS_PAGE_SIZE */
};

/* Most ranges in one dbos_platform_discard_ranges call (Linux UIO_MAXIOV). */
#define DBOS_PLATFORM_RANGES_MAX 1024u

/*
 * DBOS_ADVICE_DISCARD on `count` ranges at once.  Scattered pages are what an
 * evicting cache drops, and one call per page costs a system call and a TLB
 * shootdown each: the host makes one process_madvise(MADV_DONTNEED) over all
 * of them where the kernel takes it for the calling process (Linux 6.15),
 * else one madvise per range; the guest zeroes each range.
 */
dbos_status dbos_platform_discard_ranges(const struct dbos_platform_range *ranges, uint32_t count);

/* How dbos_platform_discard_ranges discards here, as a phrase for mechanism lines. */
const char *dbos_platform_discard_ranges_mechanism(void);

/*
 * Control-structure memory for init paths (not hot paths): zeroed, page
 * granular underneath.  Returns NULL when out of memory.
 */
void *dbos_platform_alloc(size_t size);
void dbos_platform_free(void *address, size_t size);

/* ---- Time and CPUs ----------------------------------------------------- */

/* Monotonic clock. */
uint64_t dbos_platform_now_ns(void);

/* The CPU (host) or vCPU (guest) the caller runs on now; may change at once. */
uint32_t dbos_platform_cpu_id(void);

/* CPUs (host) or vCPUs (guest) available to this process. */
uint32_t dbos_platform_cpu_count(void);

/* Spin-loop hint (pause). */
void dbos_platform_relax(void);

/* Give up the CPU to another runnable thread. */
void dbos_platform_yield(void);

/* ---- Waiting on a 32-bit word (futex semantics) ------------------------ */

/*
 * Sleep while *word == expected, until woken, or timeout_ns passes
 * (UINT64_MAX: no timeout).  Returns DBOS_OK when woken or when the word
 * no longer matched, DBOS_ETIMEDOUT when the time ran out.  Spurious
 * wake-ups are allowed: callers re-check their condition.
 */
dbos_status dbos_platform_wait(const uint32_t *word, uint32_t expected, uint64_t timeout_ns);

/* Wake up to `count` waiters on `word` (UINT32_MAX: all). */
void dbos_platform_wake(const uint32_t *word, uint32_t count);

/* ---- Mutex --------------------------------------------------------------- */

/*
 * A sleeping lock for control paths (open, close, bookkeeping), built on
 * wait/wake: uncontended lock and unlock are one atomic each, a contended
 * lock sleeps.  Hot paths use their own latches.  Zero-initialised is
 * unlocked.  Not recursive; unlocking a free mutex panics.
 */
typedef struct dbos_mutex {
	uint32_t state; /* 0 free, 1 held, 2 held and someone may sleep on it (atomic builtins only) */
} dbos_mutex;

void dbos_mutex_lock(dbos_mutex *mutex);
bool dbos_mutex_try_lock(dbos_mutex *mutex);
void dbos_mutex_unlock(dbos_mutex *mutex);

/* ---- Threads ----------------------------------------------------------- */

typedef struct dbos_thread dbos_thread;

/*
 * Start `entry(argument)` on a new thread.  DBOS_ENOTSUP where the runtime
 * has no threads of its own (the guest: one engine thread per vCPU, started
 * by the host): cores must work without helper threads there.
 */
dbos_status dbos_platform_thread_start(void (*entry)(void *argument), void *argument, dbos_thread **thread_out);

/* Wait for the thread to return and free it. */
void dbos_platform_thread_join(dbos_thread *thread);

/* ---- Logging and failure ----------------------------------------------- */

enum dbos_log_level {
	DBOS_LOG_DEBUG = 0,
	DBOS_LOG_INFO = 1,
	DBOS_LOG_WARN = 2,
	DBOS_LOG_ERROR = 3,
};

void dbos_platform_log(enum dbos_log_level level, const char *message);

/* C11 spells it _Noreturn, C++ [[noreturn]]; bindings include this header from C++. */
#ifdef __cplusplus
#define DBOS_NORETURN [[noreturn]]
#else
#define DBOS_NORETURN _Noreturn
#endif

/* A broken invariant: report and stop (host: abort; guest: panic to the VMM). */
DBOS_NORETURN void dbos_platform_panic(const char *file, int line, const char *message);

#define DBOS_STRINGIFY_(x) #x
#define DBOS_STRINGIFY(x) DBOS_STRINGIFY_(x)

/* Assertions stay on in release builds: they guard memory safety. */
#define DBOS_ASSERT(cond)                                                                    \
	do {                                                                                 \
		if (__builtin_expect(!(cond), 0))                                            \
			dbos_platform_panic(__FILE__, __LINE__, "assertion failed: " #cond); \
	} while (0)

#define DBOS_IS_POWER_OF_TWO(x) ((x) != 0 && (((x) & ((x)-1)) == 0))
#define DBOS_ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define DBOS_ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define DBOS_IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)

/* ---- Preemption ---------------------------------------------------------- */

/*
 * A thread that holds a latch must not be switched out by a preemptive
 * scheduler: every other thread wanting the latch would spin or park for a
 * whole quantum.  Cores bracket latch sections with dbos_preempt_disable() /
 * dbos_preempt_enable() (they nest).  Without a scheduler that costs one
 * thread-local increment and nothing happens.  @dbos/scheduler, when it runs
 * the caller, reads `depth` in its timer handler: a quantum that expires
 * inside a section sets `pending` instead of switching, and the enable that
 * ends the outermost section calls `deferred` (the scheduler's switch).
 *
 * State is per thread on the host and per vCPU in the guest.  It is not
 * shared between separately loaded addons: a scheduler only sees the latches
 * of cores compiled into the same binary (the kv addon holds both).
 */
struct dbos_preempt {
	uint32_t depth;            /* open latch sections */
	volatile uint32_t pending; /* a preemption arrived while depth > 0 */
	void (*deferred)(void);    /* set by a scheduler; called when pending and depth drops to 0 */
};

/* The calling thread's (host) or vCPU's (guest) preemption state; never NULL. */
struct dbos_preempt *dbos_platform_preempt(void);

static inline void dbos_preempt_disable(void)
{
	struct dbos_preempt *preempt = dbos_platform_preempt();
	preempt->depth++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the section's accesses stay after the increment */
}

static inline void dbos_preempt_enable(void)
{
	struct dbos_preempt *preempt = dbos_platform_preempt();
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* ... and before the decrement */
	DBOS_ASSERT(preempt->depth > 0);
	if (--preempt->depth == 0 && preempt->pending && preempt->deferred)
		preempt->deferred();
}

#ifdef __cplusplus
}
#endif

#endif /* DBOS_PLATFORM_H */
