/*
 * main.c - the benchmark program bench/run.ts builds and runs, one process
 * per system (each in its own memory cgroup).  Every command prints JSON
 * lines on stdout; complaints go to stderr with exit status 1.
 *
 *   bpbench prepare PATH PAGE_SIZE DATA_PAGES
 *       write the page file through the dbos pool (allocate, fill, flush)
 *   bpbench device PATH PAGE_SIZE QUEUE_DEPTH WARM_S RUN_S
 *       random O_DIRECT reads at a fixed queue depth (io_uring)
 *   bpbench hit PATH PAGE_SIZE POOL_BYTES PAIRS SYSTEM...
 *       fix + unfix of one resident page, PAIRS times a round, rounds
 *       alternating between the systems: ns per pair
 *   bpbench run SYSTEM VARIANT PATH PAGE_SIZE POOL_BYTES CGROUP_DIR STEP...
 *       STEP = fill:KEY_COUNT:COUNT:THREADS:BATCH
 *            | work:LABEL:uniform|zipf:KEY_COUNT:THREADS:BATCH:WARM_S:RUN_S
 *       CGROUP_DIR "-" when the process runs in no cgroup of the benchmark's
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpbench.h"

static const struct bench_system *system_named(const char *name)
{
	if (strcmp(name, "hashpool") == 0)
		return &bench_hashpool;
	if (strcmp(name, "mmap") == 0)
		return &bench_mmap;
	if (strcmp(name, "dbos") == 0)
		return &bench_dbos;
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: bpbench prepare|device|hit|run ... (see bench/main.c)\n");
	return 1;
}

static uint64_t number(const char *text)
{
	return strtoull(text, NULL, 0);
}

static int fail(const char *what, int error)
{
	fprintf(stderr, "bpbench: %s: %s\n", what, strerror(error));
	return 1;
}

static int command_prepare(char **argv)
{
	struct bench_file file;
	uint64_t start = bench_now_ns();
	int error = bench_prepare(argv[0], (uint32_t)number(argv[1]), number(argv[2]), &file);
	if (error)
		return fail("prepare", error);
	printf("{\"kind\":\"prepare\",\"firstPid\":%lu,\"pageCount\":%lu,\"seconds\":%.3f}\n",
	       (unsigned long)file.first_pid, (unsigned long)file.page_count, (double)(bench_now_ns() - start) / 1e9);
	return 0;
}

static int command_device(char **argv)
{
	struct bench_file file;
	int error = bench_describe_file(argv[0], (uint32_t)number(argv[1]), &file);
	if (error)
		return fail("describe file", error);
	struct bench_device_result result;
	uint32_t depth = (uint32_t)number(argv[2]);
	error = bench_device(&file, depth, strtod(argv[3], NULL), strtod(argv[4], NULL), &result);
	if (error)
		return fail("device", error);
	printf("{\"kind\":\"device\",\"queueDepth\":%u,\"reads\":%lu,\"seconds\":%.3f,\"readsPerSecond\":%.1f,"
	       "\"p50us\":%.2f,\"p99us\":%.2f,\"errors\":%lu}\n",
	       depth, (unsigned long)result.reads, result.seconds, result.reads_per_second, result.p50_us,
	       result.p99_us, (unsigned long)result.errors);
	return result.errors ? 1 : 0;
}

static int open_system(const struct bench_system *system, const char *variant, char **argv, struct bench_config *config,
		       void **instance)
{
	int error = bench_describe_file(argv[0], (uint32_t)number(argv[1]), &config->file);
	if (error)
		return fail("describe file", error);
	config->pool_bytes = number(argv[2]);
	config->variant = variant;
	error = system->open(config, instance);
	if (error)
		return fail(system->name, error);
	return 0;
}

/* Nanoseconds per fix + unfix of `pid`, over `pairs` pairs; counts pages with the wrong id into *bad. */
static double hit_round(const struct bench_system *system, void *instance, uint32_t page_size, uint64_t pid,
			uint64_t pairs, uint64_t *bad)
{
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < pairs; i++) {
		void *page = system->fix(instance, pid);
		*bad += bench_page_id(page, page_size) != pid;
		system->unfix(instance, pid, page);
	}
	return (double)(bench_now_ns() - start) / (double)pairs;
}

#define HIT_SYSTEMS_MAX 4
#define HIT_ROUNDS 7

/*
 * Every system named opens in this one process; rounds alternate between
 * them, so load from elsewhere on the machine falls on all alike, and the
 * fastest round of each is kept (other load only ever adds time).
 */
static int command_hit(int argc, char **argv)
{
	uint64_t pairs = number(argv[3]);
	int count = argc - 4;
	if (count < 1 || count > HIT_SYSTEMS_MAX)
		return usage();
	const struct bench_system *systems[HIT_SYSTEMS_MAX];
	void *instances[HIT_SYSTEMS_MAX];
	struct bench_config config;
	double best_ns[HIT_SYSTEMS_MAX];
	uint64_t bad[HIT_SYSTEMS_MAX] = { 0 };
	uint64_t pid = 0;
	for (int s = 0; s < count; s++) {
		systems[s] = system_named(argv[4 + s]);
		if (!systems[s] || open_system(systems[s], "", argv, &config, &instances[s]))
			return systems[s] ? 1 : usage();
		pid = config.file.first_pid + config.file.page_count / 2;
		void *page = systems[s]->fix(instances[s], pid); /* read it in */
		if (!page)
			return fail("hit: first fix", EIO);
		systems[s]->unfix(instances[s], pid, page);
		hit_round(systems[s], instances[s], config.file.page_size, pid, pairs / 10, &bad[s]); /* warm-up */
	}
	for (int round = 0; round < HIT_ROUNDS; round++)
		for (int s = 0; s < count; s++) {
			double ns = hit_round(systems[s], instances[s], config.file.page_size, pid, pairs, &bad[s]);
			if (round == 0 || ns < best_ns[s])
				best_ns[s] = ns;
		}
	int status = 0;
	for (int s = 0; s < count; s++) {
		printf("{\"kind\":\"hit\",\"system\":\"%s\",\"pairs\":%lu,\"rounds\":%d,\"nsPerPair\":%.2f,"
		       "\"badPages\":%lu}\n",
		       systems[s]->name, (unsigned long)pairs, HIT_ROUNDS, best_ns[s], (unsigned long)bad[s]);
		systems[s]->close(instances[s]);
		status |= bad[s] != 0;
	}
	return status;
}

/* The first `count` keys of a fixed shuffle of [0, key_count). */
static uint32_t *shuffled_keys(uint64_t key_count, uint64_t count)
{
	uint32_t *keys = malloc(key_count * sizeof(*keys));
	if (!keys)
		return NULL;
	for (uint64_t i = 0; i < key_count; i++)
		keys[i] = (uint32_t)i;
	uint64_t state = 0x6a09e667f3bcc909ull;
	for (uint64_t i = key_count - 1; i > 0 && key_count - i <= count; i--) {
		state ^= state << 13, state ^= state >> 7, state ^= state << 17;
		uint64_t j = state % (i + 1);
		uint32_t t = keys[i];
		keys[i] = keys[j];
		keys[j] = t;
	}
	/* The shuffle settles the tail first: hand back the last `count` keys. */
	memmove(keys, keys + (key_count - count), count * sizeof(*keys));
	return keys;
}

static int step_fill(const struct bench_system *system, void *instance, const struct bench_config *config, char *spec)
{
	uint64_t key_count, count;
	unsigned threads, batch;
	if (sscanf(spec, "fill:%lu:%lu:%u:%u", &key_count, &count, &threads, &batch) != 4 || count > key_count ||
	    batch == 0 || batch > BENCH_BATCH_MAX)
		return usage();
	uint32_t *keys = shuffled_keys(key_count, count);
	if (!keys)
		return fail("fill", ENOMEM);
	uint64_t start = bench_now_ns();
	int error = bench_fill(system, instance, &config->file, keys, count, key_count, threads, batch);
	free(keys);
	if (error)
		return fail("fill", error);
	printf("{\"kind\":\"fill\",\"keyCount\":%lu,\"pages\":%lu,\"seconds\":%.3f}\n", (unsigned long)key_count,
	       (unsigned long)count, (double)(bench_now_ns() - start) / 1e9);
	fflush(stdout);
	return 0;
}

static int step_work(const struct bench_system *system, void *instance, const struct bench_config *config,
		     const char *cgroup_dir, char *spec)
{
	char label[64], distribution[16];
	struct bench_workload workload = { 0 };
	unsigned long key_count;
	if (sscanf(spec, "work:%63[^:]:%15[^:]:%lu:%u:%u:%lf:%lf", label, distribution, &key_count, &workload.threads,
		   &workload.batch, &workload.warm_seconds, &workload.run_seconds) != 7 ||
	    workload.threads == 0 || workload.threads > BENCH_THREADS_MAX || workload.batch == 0 ||
	    workload.batch > BENCH_BATCH_MAX)
		return usage();
	workload.label = label;
	workload.distribution = strcmp(distribution, "zipf") == 0 ? BENCH_ZIPF : BENCH_UNIFORM;
	workload.zipf_theta = 0.9;
	workload.key_count = key_count;
	struct bench_measurement m;
	int error = bench_run(system, instance, &config->file, &workload, cgroup_dir, &m);
	if (error)
		return fail(label, error);
	printf("{\"kind\":\"work\",\"label\":\"%s\",\"distribution\":\"%s\",\"keyCount\":%lu,\"threads\":%u,\"batch\":%"
	       "u,"
	       "\"pages\":%lu,\"seconds\":%.3f,\"pagesPerSecond\":%.1f,\"p50us\":%.3f,\"p99us\":%.3f,"
	       "\"latencySamples\":%lu,\"reads\":%lu,\"hits\":%lu,\"evictions\":%lu,\"vmHwmBytes\":%lu,"
	       "\"cgroupPeakBytes\":%lu,\"badPages\":%lu}\n",
	       label, distribution, key_count, workload.threads, workload.batch, (unsigned long)m.pages, m.seconds,
	       m.pages_per_second, m.p50_us, m.p99_us, (unsigned long)m.latency_samples,
	       (unsigned long)m.counters.reads, (unsigned long)m.counters.hits, (unsigned long)m.counters.evictions,
	       (unsigned long)m.vm_hwm_bytes, (unsigned long)m.cgroup_peak_bytes, (unsigned long)m.bad_pages);
	fflush(stdout);
	return m.bad_pages ? 1 : 0;
}

static int command_run(int argc, char **argv)
{
	const struct bench_system *system = system_named(argv[0]);
	if (!system)
		return usage();
	const char *variant = strcmp(argv[1], "-") == 0 ? "" : argv[1];
	const char *cgroup_dir = strcmp(argv[5], "-") == 0 ? NULL : argv[5];
	struct bench_config config;
	void *instance;
	if (open_system(system, variant, argv + 2, &config, &instance))
		return 1;
	printf("{\"kind\":\"open\",\"system\":\"%s\",\"variant\":\"%s\",\"describe\":\"%s\"}\n", system->name, variant,
	       system->describe(instance));
	fflush(stdout);
	for (int i = 6; i < argc; i++) {
		int status = strncmp(argv[i], "fill:", 5) == 0 ? step_fill(system, instance, &config, argv[i])
			     : strncmp(argv[i], "work:", 5) == 0
				     ? step_work(system, instance, &config, cgroup_dir, argv[i])
				     : usage();
		if (status) {
			system->close(instance);
			return status;
		}
	}
	system->close(instance);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *command = argv[1];
	if (strcmp(command, "prepare") == 0 && argc == 5)
		return command_prepare(argv + 2);
	if (strcmp(command, "device") == 0 && argc == 7)
		return command_device(argv + 2);
	if (strcmp(command, "hit") == 0 && argc >= 7)
		return command_hit(argc - 2, argv + 2);
	if (strcmp(command, "run") == 0 && argc >= 8)
		return command_run(argc - 2, argv + 2);
	return usage();
}
