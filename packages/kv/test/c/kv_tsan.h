/*
 * kv_tsan.h - what the kv C tests need to run under ThreadSanitizer
 * (DBOS_SANITIZE=thread); nothing in other builds.  Every fixture includes it.
 *
 * A fixed address-space layout.  A store's buffer pool reserves 2^40 bytes of
 * address space for its pages (max_pages 0, which dbos_kv_open does not
 * change).  ThreadSanitizer's shadow leaves applications about 1.5 TiB of high
 * addresses, and with the kernel's randomized mmap base the gap below it is
 * often under 1 TiB: mmap fails with ENOMEM and so did dbos_kv_open, in about
 * one run in three.  So, before main, the program re-executes itself once with
 * ADDR_NO_RANDOMIZE, as ThreadSanitizer itself does when the layout it finds
 * does not suit it; forked children inherit the layout.  If that cannot be done
 * the program goes on as it is.
 *
 * No second's sleep at exit.  ThreadSanitizer sleeps atexit_sleep_ms (1000)
 * at an exit that leaves other threads running; the crash tests' children
 * _exit with a store's threads running on purpose, many times per test.
 */
#ifndef KV_TSAN_H
#define KV_TSAN_H

/*
 * Counts a test scales down under ThreadSanitizer (5-15x slower), the way
 * bufferpool's threaded test does: KV_TSAN_SCALE(full, under_tsan).  The
 * cases scaled are single-threaded or long; their properties still hold at
 * the smaller counts, and they run in full under the other builds.
 */
#if defined(__SANITIZE_THREAD__)
#define KV_TSAN_SCALE(full, under_tsan) (under_tsan)
#else
#define KV_TSAN_SCALE(full, under_tsan) (full)
#endif

#if defined(__SANITIZE_THREAD__)
#include <sys/personality.h>
#include <unistd.h>

__attribute__((constructor)) static void kv_tsan_fixed_layout(int argc, char **argv, char **envp)
{
	(void)argc;
	int current = personality(0xffffffff);
	if (current == -1 || (current & ADDR_NO_RANDOMIZE))
		return;
	if (personality((unsigned long)current | ADDR_NO_RANDOMIZE) == -1)
		return;
	execve("/proc/self/exe", argv, envp);
	personality((unsigned long)current); /* could not: go on randomized */
}

const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "atexit_sleep_ms=0";
}
#endif

#endif /* KV_TSAN_H */
