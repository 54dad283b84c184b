/*
 * workload.c - the key sequences every system replays and the timed driver.
 *
 * Keys: uniform, or zipf (Gray et al.'s generator, the one YCSB uses) with
 * the ranks scrambled by a bijection so the hot pages are scattered over the
 * file rather than packed at its start (which would favour readahead).  The
 * seeds are fixed: every process, hence every system, replays the same
 * sequence.  Thread t starts t/threads of the way into it.
 *
 * Timing: the threads run the workload through a warm-up, then a timed
 * window, then stop; the main thread flips the phase.  Latency is the time of
 * one fix (batch 1, every 8th fix sampled so two clock reads do not weigh on
 * a 100 ns hit) or of one batch divided by its size (every batch sampled).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpbench.h"

#define LATENCY_SAMPLE_EVERY_FIX 8u

uint64_t bench_now_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/* Uniform in [0, 1). */
static double unit_random(uint64_t *state)
{
	return (double)(xorshift64(state) >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

uint32_t *bench_keys(const struct bench_workload *workload, uint64_t length, uint64_t seed)
{
	uint64_t n = workload->key_count;
	uint32_t *keys = malloc(length * sizeof(*keys));
	if (!keys || n == 0 || n > UINT32_MAX)
		return free(keys), NULL;
	uint64_t state = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (workload->distribution == BENCH_UNIFORM) {
		for (uint64_t i = 0; i < length; i++)
			keys[i] = (uint32_t)(xorshift64(&state) % n);
		return keys;
	}
	double theta = workload->zipf_theta;
	double zeta_n = 0;
	for (uint64_t i = 1; i <= n; i++)
		zeta_n += 1.0 / pow((double)i, theta);
	double zeta_2 = 1.0 + 1.0 / pow(2.0, theta);
	double alpha = 1.0 / (1.0 - theta);
	double eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta_2 / zeta_n);
	/* rank -> key: multiply by a constant coprime with n, then offset: a bijection of [0, n). */
	uint64_t multiplier = 0x9e3779b1ull % n;
	while (multiplier == 0 || gcd(multiplier, n) != 1)
		multiplier++;
	for (uint64_t i = 0; i < length; i++) {
		double u = unit_random(&state);
		double uz = u * zeta_n;
		uint64_t rank;
		if (uz < 1.0)
			rank = 0;
		else if (uz < zeta_2)
			rank = 1;
		else
			rank = (uint64_t)((double)n * pow(eta * u - eta + 1.0, alpha));
		if (rank >= n)
			rank = n - 1;
		keys[i] = (uint32_t)((rank * multiplier + 12345) % n);
	}
	return keys;
}

uint64_t bench_key_pid(const struct bench_file *file, uint64_t key_count, uint32_t key)
{
	uint64_t stride = file->page_count / key_count;
	return file->first_pid + (uint64_t)key * (stride ? stride : 1);
}

/* ---- Histogram ----------------------------------------------------------- */

void bench_histogram_add(struct bench_histogram *histogram, uint64_t ns)
{
	uint32_t index;
	if (ns < BENCH_HISTOGRAM_SUB) {
		index = (uint32_t)ns;
	} else {
		uint32_t top = 63u - (uint32_t)__builtin_clzll(ns); /* >= 5 */
		uint32_t step = (uint32_t)(ns >> (top - 5)) & (BENCH_HISTOGRAM_SUB - 1);
		index = (top - 4) * BENCH_HISTOGRAM_SUB + step;
	}
	histogram->counts[index]++;
	histogram->total++;
}

void bench_histogram_merge(struct bench_histogram *into, const struct bench_histogram *from)
{
	for (size_t i = 0; i < sizeof(into->counts) / sizeof(into->counts[0]); i++)
		into->counts[i] += from->counts[i];
	into->total += from->total;
}

/* The upper bound of the bucket holding the percentile. */
uint64_t bench_histogram_percentile_ns(const struct bench_histogram *histogram, double percent)
{
	if (histogram->total == 0)
		return 0;
	uint64_t rank = (uint64_t)ceil(percent / 100.0 * (double)histogram->total);
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (uint32_t index = 0; index < 64 * BENCH_HISTOGRAM_SUB; index++) {
		seen += histogram->counts[index];
		if (seen < rank)
			continue;
		if (index < BENCH_HISTOGRAM_SUB)
			return index;
		uint32_t top = index / BENCH_HISTOGRAM_SUB + 4;
		uint64_t step = index % BENCH_HISTOGRAM_SUB;
		return ((BENCH_HISTOGRAM_SUB + step + 1) << (top - 5)) - 1;
	}
	return UINT64_MAX;
}

/* ---- Memory facts -------------------------------------------------------- */

uint64_t bench_vm_hwm_bytes(void)
{
	FILE *status = fopen("/proc/self/status", "r");
	if (!status)
		return 0;
	char line[256];
	uint64_t kib = 0;
	while (fgets(line, sizeof(line), status))
		if (sscanf(line, "VmHWM: %lu kB", &kib) == 1)
			break;
	fclose(status);
	return kib * 1024;
}

/* Writing 5 to clear_refs resets the peak RSS to the current RSS. */
void bench_vm_hwm_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "5", 1) != 1)
		perror("bpbench: reset VmHWM");
	close(fd);
}

static uint64_t read_number(const char *path)
{
	FILE *file = fopen(path, "r");
	if (!file)
		return 0;
	unsigned long long value = 0;
	if (fscanf(file, "%llu", &value) != 1)
		value = 0;
	fclose(file);
	return value;
}

static bool write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

/* v1: memory.max_usage_in_bytes (reset by writing 0); v2: memory.peak (reset by writing, Linux 6.12+). */
uint64_t bench_cgroup_peak_bytes(const char *cgroup_dir)
{
	if (!cgroup_dir || !*cgroup_dir)
		return 0;
	char path[512];
	snprintf(path, sizeof(path), "%s/memory.max_usage_in_bytes", cgroup_dir);
	if (access(path, R_OK) == 0)
		return read_number(path);
	snprintf(path, sizeof(path), "%s/memory.peak", cgroup_dir);
	return read_number(path);
}

void bench_cgroup_peak_reset(const char *cgroup_dir)
{
	if (!cgroup_dir || !*cgroup_dir)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/memory.max_usage_in_bytes", cgroup_dir);
	if (write_text(path, "0"))
		return;
	snprintf(path, sizeof(path), "%s/memory.peak", cgroup_dir);
	write_text(path, "reset");
}

/* ---- The driver ---------------------------------------------------------- */

enum {
	PHASE_WARM,
	PHASE_TIMED,
	PHASE_STOP
};

struct driver {
	const struct bench_system *system;
	void *instance;
	const struct bench_file *file;
	uint64_t key_count;
	const uint32_t *keys;
	uint64_t key_length;
	uint32_t batch;
	_Atomic int phase;
	_Atomic uint64_t failures;
};

struct driver_thread {
	struct driver *driver;
	pthread_t thread;
	uint64_t start;
	uint64_t pages; /* fixed in the timed window */
	uint64_t bad_pages;
	struct bench_histogram latency;
};

static inline uint64_t check_page(const struct bench_file *file, const void *page, uint64_t pid)
{
	return bench_page_id(page, file->page_size) != pid;
}

static void *driver_main(void *argument)
{
	struct driver_thread *self = argument;
	struct driver *driver = self->driver;
	const struct bench_system *system = driver->system;
	const struct bench_file *file = driver->file;
	uint64_t position = self->start;
	uint64_t sequence = 0;
	uint32_t batch = driver->batch;
	uint64_t pids[BENCH_BATCH_MAX];
	void *pages[BENCH_BATCH_MAX];
	for (;;) {
		int phase = atomic_load_explicit(&driver->phase, memory_order_relaxed);
		if (phase == PHASE_STOP)
			break;
		bool timed = phase == PHASE_TIMED;
		if (batch == 1) {
			uint64_t pid = bench_key_pid(file, driver->key_count, driver->keys[position]);
			position = position + 1 == driver->key_length ? 0 : position + 1;
			bool sampled = timed && sequence++ % LATENCY_SAMPLE_EVERY_FIX == 0;
			uint64_t start = sampled ? bench_now_ns() : 0;
			void *page = system->fix(driver->instance, pid);
			if (!page) {
				atomic_fetch_add(&driver->failures, 1);
				break;
			}
			uint64_t bad = check_page(file, page, pid);
			system->unfix(driver->instance, pid, page);
			if (sampled)
				bench_histogram_add(&self->latency, bench_now_ns() - start);
			if (timed) {
				self->pages++;
				self->bad_pages += bad;
			}
			continue;
		}
		for (uint32_t i = 0; i < batch; i++) {
			pids[i] = bench_key_pid(file, driver->key_count, driver->keys[position]);
			position = position + 1 == driver->key_length ? 0 : position + 1;
		}
		uint64_t start = timed ? bench_now_ns() : 0;
		if (!system->fix_batch(driver->instance, pids, batch, pages)) {
			atomic_fetch_add(&driver->failures, 1);
			break;
		}
		uint64_t bad = 0;
		for (uint32_t i = 0; i < batch; i++)
			bad += check_page(file, pages[i], pids[i]);
		system->unfix_batch(driver->instance, pids, batch, pages);
		if (timed) {
			bench_histogram_add(&self->latency, (bench_now_ns() - start) / batch);
			self->pages += batch;
			self->bad_pages += bad;
		}
	}
	return NULL;
}

static void sleep_seconds(double seconds)
{
	struct timespec duration = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&duration, &duration) != 0 && errno == EINTR) {
	}
}

static void counters_delta(struct bench_counters *after, const struct bench_counters *before)
{
	after->reads -= before->reads;
	after->hits -= before->hits;
	after->evictions -= before->evictions;
}

int bench_run(const struct bench_system *system, void *instance, const struct bench_file *file,
	      const struct bench_workload *workload, const char *cgroup_dir, struct bench_measurement *out)
{
	uint64_t key_length = 1u << 21;
	/*
	 * A sequence per workload, named by its label: the same in every system's
	 * process, and different from the previous workload's, whose pages are
	 * still resident (replaying its keys would turn misses into hits).
	 */
	uint64_t seed = 0xcbf29ce484222325ull;
	for (const char *c = workload->label; *c; c++)
		seed = (seed ^ (uint8_t)*c) * 0x100000001b3ull;
	uint32_t *keys = bench_keys(workload, key_length, seed);
	if (!keys)
		return ENOMEM;
	struct driver driver = {
		.system = system,
		.instance = instance,
		.file = file,
		.key_count = workload->key_count,
		.keys = keys,
		.key_length = key_length,
		.batch = workload->batch,
	};
	uint32_t threads = workload->threads;
	struct driver_thread *workers = calloc(threads, sizeof(*workers));
	if (!workers)
		return free(keys), ENOMEM;
	atomic_store(&driver.phase, PHASE_WARM);
	for (uint32_t t = 0; t < threads; t++) {
		workers[t].driver = &driver;
		workers[t].start = key_length / threads * t;
		if (pthread_create(&workers[t].thread, NULL, driver_main, &workers[t]) != 0) {
			atomic_store(&driver.phase, PHASE_STOP);
			for (uint32_t u = 0; u < t; u++)
				pthread_join(workers[u].thread, NULL);
			free(workers);
			free(keys);
			return EAGAIN;
		}
	}
	sleep_seconds(workload->warm_seconds);
	bench_vm_hwm_reset();
	bench_cgroup_peak_reset(cgroup_dir);
	struct bench_counters before = { 0 }, after = { 0 };
	system->counters(instance, &before);
	uint64_t start = bench_now_ns();
	atomic_store(&driver.phase, PHASE_TIMED);
	sleep_seconds(workload->run_seconds);
	atomic_store(&driver.phase, PHASE_STOP);
	uint64_t end = bench_now_ns();
	for (uint32_t t = 0; t < threads; t++)
		pthread_join(workers[t].thread, NULL);
	system->counters(instance, &after);
	counters_delta(&after, &before);

	memset(out, 0, sizeof(*out));
	struct bench_histogram *latency = calloc(1, sizeof(*latency));
	if (!latency)
		return free(workers), free(keys), ENOMEM;
	for (uint32_t t = 0; t < threads; t++) {
		out->pages += workers[t].pages;
		out->bad_pages += workers[t].bad_pages;
		bench_histogram_merge(latency, &workers[t].latency);
	}
	out->seconds = (double)(end - start) / 1e9;
	out->pages_per_second = (double)out->pages / out->seconds;
	out->p50_us = (double)bench_histogram_percentile_ns(latency, 50) / 1e3;
	out->p99_us = (double)bench_histogram_percentile_ns(latency, 99) / 1e3;
	out->latency_samples = latency->total;
	out->counters = after;
	out->vm_hwm_bytes = bench_vm_hwm_bytes();
	out->cgroup_peak_bytes = bench_cgroup_peak_bytes(cgroup_dir);
	uint64_t failures = atomic_load(&driver.failures);
	free(latency);
	free(workers);
	free(keys);
	return failures ? EIO : 0;
}

/* ---- Fill ---------------------------------------------------------------- */

struct filler {
	const struct bench_system *system;
	void *instance;
	const struct bench_file *file;
	const uint32_t *keys;
	uint64_t key_count;
	uint64_t from, to;
	uint32_t batch;
	bool failed;
};

static void *filler_main(void *argument)
{
	struct filler *self = argument;
	uint64_t pids[BENCH_BATCH_MAX];
	void *pages[BENCH_BATCH_MAX];
	for (uint64_t i = self->from; i < self->to && !self->failed;) {
		uint32_t count = 0;
		while (count < self->batch && i < self->to)
			pids[count++] = bench_key_pid(self->file, self->key_count, self->keys[i++]);
		if (!self->system->fix_batch(self->instance, pids, count, pages)) {
			self->failed = true;
			break;
		}
		/* Read every page's id, as the timed driver does: that is what loads an mmap page. */
		for (uint32_t p = 0; p < count; p++)
			self->failed |= check_page(self->file, pages[p], pids[p]) != 0;
		self->system->unfix_batch(self->instance, pids, count, pages);
	}
	return NULL;
}

int bench_fill(const struct bench_system *system, void *instance, const struct bench_file *file, const uint32_t *keys,
	       uint64_t count, uint64_t key_count, uint32_t threads, uint32_t batch)
{
	struct filler fillers[BENCH_THREADS_MAX];
	pthread_t ids[BENCH_THREADS_MAX];
	bool started[BENCH_THREADS_MAX] = { false };
	if (threads > BENCH_THREADS_MAX)
		threads = BENCH_THREADS_MAX;
	for (uint32_t t = 0; t < threads; t++) {
		fillers[t] = (struct filler){
			system, instance, file, keys, key_count, count * t / threads, count * (t + 1) / threads,
			batch,  false
		};
		if (pthread_create(&ids[t], NULL, filler_main, &fillers[t]) != 0)
			filler_main(&fillers[t]); /* no thread to spare: fill this share here */
		else
			started[t] = true;
	}
	bool failed = false;
	for (uint32_t t = 0; t < threads; t++) {
		if (started[t])
			pthread_join(ids[t], NULL);
		failed |= fillers[t].failed;
	}
	return failed ? EIO : 0;
}
