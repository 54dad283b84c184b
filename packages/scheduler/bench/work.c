/*
 * work.c - calibrated busy work and the clock.
 *
 * The spin loop is a dependent multiply-xorshift chain: it cannot be
 * vectorised or elided, touches no memory, and runs at the same speed on every
 * system under test, so "20 µs of work" means the same to each of them.
 * Calibration uses this thread's CPU clock, so time stolen by other processes
 * while calibrating does not shrink the unit.
 */
#define _GNU_SOURCE
#include <time.h>

#include "bench.h"

static uint64_t iterations_per_unit = 1;

uint64_t clock_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static __attribute__((noinline)) void spin(uint64_t iterations)
{
	uint64_t x = iterations | 1;
	for (uint64_t i = 0; i < iterations; i++) {
		x = x * 6364136223846793005u + 1442695040888963407u;
		x ^= x >> 29;
	}
	__asm__ volatile("" : : "r"(x)); /* the result is "used": the loop stays */
}

double work_calibrate(void)
{
	const uint64_t iterations = 4000000;
	double best = 0;
	spin(iterations); /* warm up the core's clock */
	/* The fastest of five: preemption and frequency dips only ever make a round slower. */
	for (int round = 0; round < 5; round++) {
		uint64_t start = thread_cpu_ns();
		spin(iterations);
		double rate = (double)iterations * 1000.0 / (double)(thread_cpu_ns() - start);
		if (rate > best)
			best = rate;
	}
	return best;
}

void work_set_iterations_per_unit(uint64_t iterations)
{
	iterations_per_unit = iterations ? iterations : 1;
}

void task_work(struct task *task, void (*safe_point)(void))
{
	if (task->kind == TASK_SHORT) {
		spin(iterations_per_unit * task->units);
		atomic_store_explicit(&task->units_done, task->units, memory_order_relaxed);
		return;
	}
	for (uint32_t unit = 0; unit < task->units; unit++) {
		spin(iterations_per_unit);
		atomic_store_explicit(&task->units_done, unit + 1, memory_order_relaxed);
		if (bench_stopping())
			return;
		if (safe_point)
			safe_point();
	}
}

void task_finish(struct task *task)
{
	atomic_store_explicit(&task->done_ns, clock_ns(), memory_order_release);
	bench_task_finished(task);
}

void task_run(struct task *task, void (*safe_point)(void))
{
	task_work(task, safe_point);
	task_finish(task);
}
