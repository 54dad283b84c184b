/*
 * bpbench.h - the buffer-pool benchmark program (bench-only, never shipped):
 * the systems it drives, the workloads they replay and what it measures.
 *
 * Every system answers the same four calls on page ids of one page file:
 * fix one page (returning its bytes, resident until unfix), unfix it, fix a
 * batch, unfix a batch.  The driver (workload.c) replays identical key
 * sequences against each and reads one word of every page it fixes, checking
 * that the page really is the one asked for.
 */
#ifndef BPBENCH_H
#define BPBENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_BATCH_MAX 64u
#define BENCH_THREADS_MAX 4u

/* The page file every system reads: written once by bpbench_prepare through the dbos pool. */
struct bench_file {
	const char *path;
	uint32_t page_size;
	uint64_t first_pid;  /* the first page holding benchmark data */
	uint64_t page_count; /* data pages: first_pid .. first_pid + page_count - 1 */
};

struct bench_config {
	struct bench_file file;
	uint64_t pool_bytes;
	const char *variant; /* a system's option ("willneed" for mmap), "" for none */
};

/* Counters a system keeps (zero where it cannot know). */
struct bench_counters {
	uint64_t reads; /* pages read from the file */
	uint64_t hits;
	uint64_t evictions;
};

struct bench_system {
	const char *name;
	/* Open over the file; 0 or an errno. */
	int (*open)(const struct bench_config *config, void **system_out);
	/* The page's bytes, resident until unfix; NULL on an error (reported on stderr). */
	void *(*fix)(void *system, uint64_t pid);
	void (*unfix)(void *system, uint64_t pid, void *page);
	/* Fix every page of the batch (pages_out[i] for pids[i]); false on an error. */
	bool (*fix_batch)(void *system, const uint64_t *pids, uint32_t count, void **pages_out);
	void (*unfix_batch)(void *system, const uint64_t *pids, uint32_t count, void **pages);
	void (*counters)(void *system, struct bench_counters *out);
	/* A line of facts for the report (mechanisms, sizes), or "". */
	const char *(*describe)(void *system);
	void (*close)(void *system);
};

extern const struct bench_system bench_hashpool;
extern const struct bench_system bench_mmap;
extern const struct bench_system bench_dbos;

/* Where the page id of a page lives, so every system checks what it fixed. */
uint64_t bench_page_id(const void *page, uint32_t page_size);

/* Write the page file (dbos format, through the dbos pool): 0 or an errno. */
int bench_prepare(const char *path, uint32_t page_size, uint64_t page_count, struct bench_file *file_out);
/* Open an existing page file's facts (first data page, data page count): 0 or an errno. */
int bench_describe_file(const char *path, uint32_t page_size, struct bench_file *file_out);

/* ---- Workloads --------------------------------------------------------- */

enum bench_distribution {
	BENCH_UNIFORM,
	BENCH_ZIPF
};

struct bench_workload {
	const char *label;
	enum bench_distribution distribution;
	double zipf_theta;
	uint64_t key_count; /* distinct pages the keys range over */
	uint32_t threads;
	uint32_t batch; /* 1: one fix at a time */
	double warm_seconds;
	double run_seconds;
};

struct bench_measurement {
	uint64_t pages;
	double seconds;
	double pages_per_second;
	double p50_us, p99_us; /* per fix (batch 1) or per batch / batch size */
	uint64_t latency_samples;
	struct bench_counters counters; /* during the timed window */
	uint64_t vm_hwm_bytes;          /* peak RSS in the window (VmHWM after a reset) */
	uint64_t cgroup_peak_bytes;     /* the cgroup's peak usage in the window, 0 if unknown */
	uint64_t bad_pages;             /* fixed pages whose id was not the one asked for */
};

/*
 * The page ids of the workload's key space: key_count pages spread evenly over
 * the file's data pages.  Sequence i of `length` keys per workload is the same
 * in every process (fixed seeds).
 */
uint32_t *bench_keys(const struct bench_workload *workload, uint64_t length, uint64_t seed);
uint64_t bench_key_pid(const struct bench_file *file, uint64_t key_count, uint32_t key);

/* Fix every key of `keys` once (untimed), `batch` at a time, on `threads` threads. */
int bench_fill(const struct bench_system *system, void *instance, const struct bench_file *file, const uint32_t *keys,
	       uint64_t count, uint64_t key_count, uint32_t threads, uint32_t batch);

int bench_run(const struct bench_system *system, void *instance, const struct bench_file *file,
	      const struct bench_workload *workload, const char *cgroup_dir, struct bench_measurement *out);

/* ---- Measurement helpers ----------------------------------------------- */

uint64_t bench_now_ns(void);

/* A log-linear latency histogram: 64 powers of two, 32 steps each (3 % resolution). */
#define BENCH_HISTOGRAM_SUB 32u
struct bench_histogram {
	uint64_t counts[64 * BENCH_HISTOGRAM_SUB];
	uint64_t total;
};
void bench_histogram_add(struct bench_histogram *histogram, uint64_t ns);
void bench_histogram_merge(struct bench_histogram *into, const struct bench_histogram *from);
uint64_t bench_histogram_percentile_ns(const struct bench_histogram *histogram, double percent);

uint64_t bench_vm_hwm_bytes(void);
void bench_vm_hwm_reset(void);
/* The cgroup's peak memory usage since the last reset, 0 when there is no cgroup. */
uint64_t bench_cgroup_peak_bytes(const char *cgroup_dir);
void bench_cgroup_peak_reset(const char *cgroup_dir);

/* ---- The device: fio-style random O_DIRECT reads through io_uring ------ */

struct bench_device_result {
	uint64_t reads;
	double seconds;
	double reads_per_second;
	double p50_us, p99_us;
	uint64_t errors;
};
int bench_device(const struct bench_file *file, uint32_t queue_depth, double warm_seconds, double run_seconds,
		 struct bench_device_result *out);

#endif
