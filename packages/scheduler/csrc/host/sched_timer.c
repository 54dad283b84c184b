/*
 * sched_timer.c - the host runtime's quantum timers: one POSIX timer per
 * worker thread (timer_create with CLOCK_MONOTONIC and SIGEV_THREAD_ID, so
 * the expiry interrupts exactly that thread), one real-time signal for all
 * of them, handled on a per-worker alternate signal stack.
 *
 * The signal.  Node's own handlers (SIGINT, SIGTERM, SIGUSR1 for the
 * inspector, SIGPIPE ignored), V8's (SIGPROF for the CPU profiler, SIGSEGV /
 * SIGBUS for WebAssembly trap handling) and libuv's (SIGCHLD, plus whatever
 * a script asks for with process.on) never touch the real-time range by
 * default, and glibc keeps the lowest real-time signals (32, 33) for threads
 * and cancellation.  We take SIGRTMAX-3 and walk down to the first
 * real-time signal nobody has a handler for, so a script that claims one
 * with process.on() keeps it.
 *
 * Async-signal safety.  The handler reads the clock (clock_gettime, async-
 * signal-safe), calls the core's sched_interrupt() which touches only
 * atomics of the interrupted worker and its running task, re-arms the timer
 * (timer_settime, async-signal-safe) and may rewrite the interrupted
 * context.  It takes no lock and allocates nothing.  It never switches
 * stacks itself: switching away from inside a handler would leave the task's
 * saved context on this thread's alternate stack, which the next signal
 * reuses and which the task, resumed on another worker, could not return to.
 * Instead, for an immediate switch it makes the interrupted code call
 * sched_preempt_trampoline: it pushes the interrupted rip below the red zone
 * and points rip at the trampoline.  When the handler returns, the kernel's
 * sigreturn restores the signal mask and every register as the interrupted
 * code had them, and the next instruction is the trampoline's, which saves
 * the whole register file and switches on the task's own stack.
 *
 * ThreadSanitizer runs signal handlers at the thread's next intercepted call
 * rather than at once and cannot follow a context rewritten by a handler, so
 * TSan builds keep to safe points (the mechanism line says so).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "../sched_internal.h"
#include "../sched_runtime.h"

#define ALT_STACK_BYTES (64u * 1024u)

struct sched_host_worker {
	timer_t timer;
	pid_t tid;
	void *alt_stack;
};

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int sched_signal; /* 0 until installed */
static dbos_status install_status = DBOS_ENOTSUP;
static char install_note[96];

static uint64_t now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void redirect_to_trampoline(ucontext_t *uc)
{
	greg_t *regs = uc->uc_mcontext.gregs;
	uintptr_t sp = (uintptr_t)regs[REG_RSP] - 128 - sizeof(uint64_t);
	uint64_t rip = (uint64_t)regs[REG_RIP];
	/* A plain store, outside the sanitizers' view: this stack is the task's, below its live frames. */
	__asm__ volatile("movq %1, (%0)" : : "r"(sp), "r"(rip) : "memory");
	regs[REG_RSP] = (greg_t)sp;
	regs[REG_RIP] = (greg_t)(uintptr_t)sched_preempt_trampoline;
}

static void on_signal(int signo, siginfo_t *info, void *context)
{
	(void)signo;
	int saved_errno = errno;
	struct sched_worker *worker = sched_this_worker;
	if (worker) {
		ucontext_t *uc = context;
		bool from_timer = info->si_code == SI_TIMER;
		uint64_t rearm = 0;
		uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
		if (sched_interrupt(worker, from_timer, now_ns(), sp, &rearm))
			redirect_to_trampoline(uc);
		if (rearm)
			sched_rt_arm(worker, rearm);
	}
	errno = saved_errno;
}

static void install(void)
{
#ifdef SCHED_TSAN
	/* TSan delivers signals late; still install, safe points see the flag when it does. */
#endif
	for (int signo = SIGRTMAX - 3; signo >= SIGRTMIN + 2; signo--) {
		struct sigaction old;
		if (sigaction(signo, NULL, &old) != 0)
			continue;
		if (old.sa_handler != SIG_DFL)
			continue;
		struct sigaction action;
		memset(&action, 0, sizeof(action));
		action.sa_sigaction = on_signal;
		action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
		sigfillset(&action.sa_mask); /* nothing nests inside the handler */
		if (sigaction(signo, &action, NULL) != 0)
			continue;
		sched_signal = signo;
		install_status = DBOS_OK;
		snprintf(install_note, sizeof(install_note), "signal %d (SIGRTMAX-%d)", signo, SIGRTMAX - signo);
		return;
	}
	snprintf(install_note, sizeof(install_note), "no free real-time signal");
}

dbos_status sched_rt_init(void)
{
	pthread_once(&install_once, install);
	return install_status;
}

dbos_status sched_rt_worker_start(struct sched_worker *worker)
{
	struct sched_host_worker *host = calloc(1, sizeof(*host));
	if (!host)
		return DBOS_ENOMEM;
	host->tid = (pid_t)syscall(SYS_gettid);
	host->alt_stack = mmap(NULL, ALT_STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (host->alt_stack == MAP_FAILED) {
		free(host);
		return DBOS_ENOMEM;
	}
	stack_t alt = { .ss_sp = host->alt_stack, .ss_size = ALT_STACK_BYTES, .ss_flags = 0 };
	if (sigaltstack(&alt, NULL) != 0) {
		munmap(host->alt_stack, ALT_STACK_BYTES);
		free(host);
		return DBOS_ENOMEM;
	}
	struct sigevent event;
	memset(&event, 0, sizeof(event));
	event.sigev_notify = SIGEV_THREAD_ID;
	event.sigev_signo = sched_signal;
#ifdef sigev_notify_thread_id
	event.sigev_notify_thread_id = host->tid;
#else
	event._sigev_un._tid = host->tid;
#endif
	if (timer_create(CLOCK_MONOTONIC, &event, &host->timer) != 0) {
		int error = errno;
		stack_t off = { .ss_flags = SS_DISABLE };
		sigaltstack(&off, NULL);
		munmap(host->alt_stack, ALT_STACK_BYTES);
		free(host);
		return error == EAGAIN ? DBOS_ENOMEM : DBOS_ENOTSUP;
	}
	/* The worker may have inherited a mask that blocks the signal (a thread started from a handler). */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sched_signal);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	worker->rt = host;
	return DBOS_OK;
}

void sched_rt_worker_stop(struct sched_worker *worker)
{
	struct sched_host_worker *host = worker->rt;
	if (!host)
		return;
	/* Block the signal first: a last expiry must not find the alternate stack gone. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sched_signal);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	timer_delete(host->timer);
	stack_t off = { .ss_flags = SS_DISABLE };
	sigaltstack(&off, NULL);
	munmap(host->alt_stack, ALT_STACK_BYTES);
	worker->rt = NULL;
	free(host);
}

void sched_rt_arm(struct sched_worker *worker, uint64_t at_ns)
{
	struct sched_host_worker *host = worker->rt;
	struct itimerspec spec = {
		.it_value = { .tv_sec = (time_t)(at_ns / 1000000000u), .tv_nsec = (long)(at_ns % 1000000000u) },
	};
	timer_settime(host->timer, TIMER_ABSTIME, &spec, NULL);
}

void sched_rt_kick(struct sched_worker *worker)
{
	struct sched_host_worker *host = worker->rt;
	syscall(SYS_tgkill, getpid(), host->tid, sched_signal);
}

bool sched_rt_immediate_supported(void)
{
#ifdef SCHED_TSAN
	return false;
#else
	return true;
#endif
}

void sched_rt_mechanism(char *text, size_t size)
{
	sched_rt_init();
	snprintf(text, size,
		 "quantum: timer_create(CLOCK_MONOTONIC, SIGEV_THREAD_ID) per worker, %s on an alternate stack; %s",
		 install_note,
		 sched_rt_immediate_supported()
			 ? "preemptible sections switch immediately (handler redirects into a full-register save), "
			   "elsewhere at safe points"
			 : "safe points only (TSan build: signals are delivered late and handlers may not redirect)");
}
