/*
 * test_kv_faults.c - errors from the file system surface as statuses, never as
 * silent loss: permission refusals, short writes, and a full disk while a
 * checkpoint is written or a store is created.  (A full disk while writing is
 * test_kv_store_full.c.)
 *
 * The full disk is RLIMIT_FSIZE with SIGXFSZ ignored: a write that would take a
 * file past the limit is cut short at it, and the next one fails with EFBIG,
 * which the store reports as DBOS_ENOSPC - the same path a real ENOSPC takes.
 * Only the soft limit is lowered, so the test can raise it again ("space
 * returns").  Permission errors need a user the kernel checks: tests run as
 * root here, so a forked child drops to an unprivileged uid.  The forks happen
 * before this process starts any thread (the gateway's included).
 *
 * EIO is not injected: without a device-mapper error target or a fault-
 * injecting file system there is no honest way to make the kernel return it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>

#include "../../csrc/kv_internal.h"
#include "dbos/io_linux.h"
#include "kv_store_fixture.h"

#define FAULTS_NOBODY 65534u
#define FAULTS_VALUE_MAX 4096u

/* ---- Helpers --------------------------------------------------------------------- */

static dbos_gateway *faults_gateway(void)
{
	dbos_gateway *shared = NULL;
	DBOS_ASSERT(dbos_gateway_shared(&shared) == DBOS_OK);
	return shared;
}

/* Lower (or restore) the soft file-size limit; the hard limit stays, so it can be raised again. */
static bool faults_limit_files(rlim_t bytes)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_FSIZE, &limit) != 0)
		return false;
	limit.rlim_cur = bytes;
	return setrlimit(RLIMIT_FSIZE, &limit) == 0;
}

static void faults_unlimit_files(void)
{
	struct rlimit limit;
	DBOS_ASSERT(getrlimit(RLIMIT_FSIZE, &limit) == 0);
	limit.rlim_cur = limit.rlim_max;
	DBOS_ASSERT(setrlimit(RLIMIT_FSIZE, &limit) == 0);
}

/* Whether dir holds a file whose name starts with prefix and ends with suffix. */
static bool faults_dir_has(const char *dir, const char *prefix, const char *suffix)
{
	char command[600];
	snprintf(command, sizeof command, "ls -1 '%s' | grep -q '^%s.*%s$'", dir, prefix, suffix);
	return system(command) == 0;
}

static bool faults_all_present(dbos_kv *kv, uint64_t first, uint64_t count, uint64_t size, uint64_t generation)
{
	for (uint64_t n = first; n < first + count; n++)
		if (!fixture_has(kv, NULL, n, size, generation)) {
			fprintf(stderr, "key %" PRIu64 " (generation %" PRIu64 ") is missing or wrong\n", n,
				generation);
			return false;
		}
	return true;
}

/* Put (n, size, generation) and wait until it is on the device: acknowledged in the strong sense. */
static dbos_status faults_put_synced(dbos_kv *kv, uint64_t n, uint64_t size, uint64_t generation)
{
	char key[32];
	uint8_t value[FAULTS_VALUE_MAX];
	DBOS_ASSERT(size <= sizeof value);
	fixture_value(value, size, n, generation);
	dbos_kv_op op = {
		.type = DBOS_KV_PUT, .key_size = fixture_key(key, n), .key = key, .value = value, .value_size = size
	};
	uint64_t lsn = 0;
	dbos_status status = dbos_kv_write(kv, &op, 1, DBOS_KV_SYNC, &lsn);
	if (status == DBOS_OK)
		status = dbos_kv_wait(kv, lsn, true);
	if (status != DBOS_OK)
		fixture_print_error("a synced write", status);
	return status;
}

/* ---- Permission errors (forked, unprivileged) ------------------------------------------ */

/* What the unprivileged child saw, one status per attempt. */
struct faults_permission_report {
	int32_t dropped;        /* 1: running as FAULTS_NOBODY; 0: could not drop privileges */
	int32_t create_in_root; /* DBOS_KV_CREATE in a directory only root may write */
	int32_t open_writable;  /* an existing store of root's, opened for writing */
	int32_t open_read_only; /* the same store, DBOS_KV_READ_ONLY */
	int32_t read_value;     /* 1: the read-only open read the value back */
	int32_t read_only_dir;  /* a store of nobody's in a directory made 0555 */
};

static char faults_root_store[300]; /* a store root created (by a child, before any thread here) */
static char faults_locked_dir[300]; /* root's 0755 directory: nobody may create in it */
static char faults_nobody_store[300];

/* Create a store with one synced key; in a child so this process starts no thread yet. */
static bool faults_create_store_in_child(const char *dir, uid_t owner)
{
	fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		return false;
	if (child == 0) {
		if (owner != geteuid() && (setgroups(0, NULL) != 0 || setgid(owner) != 0 || setuid(owner) != 0))
			_exit(2);
		dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
		dbos_kv *kv = fixture_open(&config);
		if (!kv)
			_exit(3);
		bool ok = fixture_put(kv, 1, 100, 1, DBOS_KV_SYNC) == DBOS_OK;
		ok = dbos_kv_close(kv) == DBOS_OK && ok;
		_exit(ok ? 0 : 4);
	}
	int status = 0;
	return waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static _Noreturn void faults_permission_child(int report_fd)
{
	struct faults_permission_report report = { 0 };
	if (geteuid() == 0 && setgroups(0, NULL) == 0 && setgid(FAULTS_NOBODY) == 0 && setuid(FAULTS_NOBODY) == 0)
		report.dropped = 1;
	else if (geteuid() != 0)
		report.dropped = 1; /* not root to begin with: the kernel checks us already */
	if (report.dropped) {
		char dir[400];
		snprintf(dir, sizeof dir, "%s/store", faults_locked_dir);
		dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
		dbos_kv *kv = NULL;
		report.create_in_root = (int32_t)dbos_kv_open(&config, &kv);
		if (kv)
			dbos_kv_close(kv);
		kv = NULL;
		config = fixture_config(faults_root_store, 0);
		config.wait_for_lock_ms = 0;
		report.open_writable = (int32_t)dbos_kv_open(&config, &kv);
		if (kv)
			dbos_kv_close(kv);
		kv = NULL;
		config.flags = DBOS_KV_READ_ONLY;
		report.open_read_only = (int32_t)dbos_kv_open(&config, &kv);
		if (kv) {
			report.read_value = fixture_has(kv, NULL, 1, 100, 1);
			dbos_kv_close(kv);
		}
		kv = NULL;
		config = fixture_config(faults_nobody_store, 0);
		report.read_only_dir = (int32_t)dbos_kv_open(&config, &kv);
		if (kv)
			dbos_kv_close(kv);
	}
	_exit(write(report_fd, &report, sizeof report) == sizeof report ? 0 : 5);
}

static bool faults_chmod_tree(const char *path, const char *mode)
{
	char command[400];
	snprintf(command, sizeof command, "chmod -R %s '%s'", mode, path);
	return system(command) == 0;
}

/*
 * A user who may not write the directory gets DBOS_EPERM from dbos_kv_open:
 * creating a store in a read-only directory of root's, opening root's store
 * (read-only files in a read-only directory) for writing, opening the user's
 * own store after its directory was made read-only (0555).  Reading root's
 * store with DBOS_KV_READ_ONLY works: it needs no write.  Run by a non-root
 * user, "root's" is that user's, and the modes alone refuse the writes.
 */
static void permission_errors_surface_as_eperm(void)
{
	snprintf(faults_locked_dir, sizeof faults_locked_dir, "%s/roots", fixture_root);
	REQUIRE(mkdir(faults_locked_dir, 0555) == 0);
	fixture_dir(faults_root_store, sizeof faults_root_store);
	REQUIRE(faults_create_store_in_child(faults_root_store, geteuid()));
	REQUIRE(faults_chmod_tree(faults_root_store, "a-w"));
	REQUIRE(chmod(fixture_root, 0755) == 0); /* mkdtemp made it 0700: nobody could not even look */
	/* nobody's own store, then its directory made read-only. */
	fixture_dir(faults_nobody_store, sizeof faults_nobody_store);
	REQUIRE(mkdir(faults_nobody_store, 0755) == 0);
	bool can_chown = chown(faults_nobody_store, FAULTS_NOBODY, FAULTS_NOBODY) == 0 || geteuid() != 0;
	REQUIRE(can_chown);
	REQUIRE(faults_create_store_in_child(faults_nobody_store, geteuid() == 0 ? FAULTS_NOBODY : geteuid()));
	REQUIRE(chmod(faults_nobody_store, 0555) == 0);

	int pipe_fds[2];
	REQUIRE(pipe(pipe_fds) == 0);
	fflush(stdout);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		close(pipe_fds[0]);
		faults_permission_child(pipe_fds[1]);
	}
	close(pipe_fds[1]);
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	struct faults_permission_report report = { 0 };
	bool got = read(pipe_fds[0], &report, sizeof report) == sizeof report;
	close(pipe_fds[0]);
	/* Writable again, so the parent can open root's store and the teardown delete everything. */
	REQUIRE(chmod(faults_nobody_store, 0755) == 0 && chmod(faults_locked_dir, 0755) == 0);
	REQUIRE(faults_chmod_tree(faults_root_store, "u+w"));
	REQUIRE(got && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (!report.dropped)
		SKIP("root could not switch to an unprivileged uid: permissions do not apply to root");
	printf("# unprivileged: create in root's dir %s, root's store writable %s, read-only %s, own store in a "
	       "0555 dir %s\n",
	       dbos_status_name(report.create_in_root), dbos_status_name(report.open_writable),
	       dbos_status_name(report.open_read_only), dbos_status_name(report.read_only_dir));
	CHECK_EQ(report.create_in_root, DBOS_EPERM);
	CHECK_EQ(report.open_writable, DBOS_EPERM);
	CHECK_EQ(report.read_only_dir, DBOS_EPERM);
	CHECK_EQ(report.open_read_only, DBOS_OK);
	CHECK(report.read_value);

	/* Root's store was refused, not damaged: it opens and holds its key. */
	dbos_kv_config config = fixture_config(faults_root_store, 0);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK(fixture_has(kv, NULL, 1, 100, 1));
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

/* ---- Short writes --------------------------------------------------------------------- */

#define FAULTS_SHORT_LIMIT 10000u /* not a multiple of anything the writes use */

/*
 * kv_io_write_all continues after a short transfer and reports the error that
 * stops it: under a file-size limit the first pwrite is cut at the limit, the
 * continuation fails with EFBIG, which is DBOS_ENOSPC.  What was written
 * before the limit is there; a write that ends exactly at the limit succeeds.
 */
static void short_writes_continue_then_fail_with_enospc(void)
{
	char path[400];
	snprintf(path, sizeof path, "%s/short-writes", fixture_root);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	REQUIRE(fd >= 0);
	size_t size = 3 * FAULTS_SHORT_LIMIT;
	uint8_t *buffer = malloc(size), *back = malloc(size);
	REQUIRE(buffer && back);
	fixture_value(buffer, size, 7, 7);
	dbos_gateway *gateway = faults_gateway();
	signal(SIGXFSZ, SIG_IGN);
	REQUIRE(faults_limit_files(FAULTS_SHORT_LIMIT));
	/* Exactly up to the limit, in one piece after a first short piece: fine. */
	int64_t first = kv_io_write_all(gateway, fd, buffer, 4000, 0);
	int64_t to_limit = kv_io_write_all(gateway, fd, buffer + 4000, FAULTS_SHORT_LIMIT - 4000, 4000);
	/* Across the limit: cut short at it, then EFBIG. */
	REQUIRE(ftruncate(fd, 0) == 0);
	int64_t across = kv_io_write_all(gateway, fd, buffer, size, 0);
	/* Starting past the limit: nothing written at all. */
	int64_t past = kv_io_write_all(gateway, fd, buffer, 100, FAULTS_SHORT_LIMIT + 5);
	faults_unlimit_files();
	signal(SIGXFSZ, SIG_DFL);
	CHECK_EQ(first, 4000);
	CHECK_EQ(to_limit, FAULTS_SHORT_LIMIT - 4000);
	CHECK_EQ(across, -DBOS_IO_EFBIG);
	CHECK_EQ(dbos_io_status(across), DBOS_ENOSPC);
	CHECK_EQ(past, -DBOS_IO_EFBIG);
	struct stat st;
	REQUIRE(fstat(fd, &st) == 0);
	CHECK_EQ(st.st_size, FAULTS_SHORT_LIMIT); /* the short part is kept, nothing after it */
	CHECK(pread(fd, back, FAULTS_SHORT_LIMIT, 0) == FAULTS_SHORT_LIMIT);
	CHECK(memcmp(back, buffer, FAULTS_SHORT_LIMIT) == 0);
	/* Reading past the end gives what is there: a short count, not an error. */
	CHECK_EQ(kv_io_read_all(gateway, fd, back, size, 0), FAULTS_SHORT_LIMIT);
	close(fd);
	free(buffer);
	free(back);
}

/* ---- A full disk during a checkpoint ---------------------------------------------------- */

#define FAULTS_BULK_KEYS 100u
#define FAULTS_BULK_SIZE 4060u /* just over one overflow page: two 4 KiB pages for 4 KiB of log */
#define FAULTS_SMALL_FIRST 1000u
#define FAULTS_SMALL_KEYS 200u
#define FAULTS_SMALL_SIZE 100u

/* The largest wal.* file: the log's write offset (a record at LSN L sits at L - segment LSN). */
static uint64_t faults_wal_bytes(const char *dir)
{
	char command[400], line[128];
	snprintf(command, sizeof command, "stat -c %%s '%s'/wal.* | sort -n | tail -1", dir);
	FILE *pipe = popen(command, "r");
	uint64_t size = 0;
	if (pipe && fgets(line, sizeof line, pipe))
		size = strtoull(line, NULL, 10);
	if (pipe)
		pclose(pipe);
	return size;
}

/* Small key n holds generation 2 when it was rewritten (every 7th from 0, 1 and 2), else 1. */
static uint64_t faults_small_generation(uint64_t n)
{
	return (n - FAULTS_SMALL_FIRST) % 7 <= 2 ? 2 : 1;
}

/*
 * A checkpoint image is the page file plus a 4 KiB header block and a 32-byte
 * trailer: with the file-size limit just above pages.db's last byte it cannot
 * be completed, while pages.db (same-size rewrites allocate no page) and the
 * log (half the size of pages.db: values of two overflow pages) still have
 * room.  dbos_kv_checkpoint returns DBOS_ENOSPC and leaves no image, not even a
 * .tmp; the store is not poisoned by it, so synced writes go on; once space
 * returns a checkpoint succeeds; after reopening every acknowledged write is
 * there.
 */
static void checkpoint_on_a_full_disk_fails_cleanly(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	for (uint64_t n = 0; n < FAULTS_BULK_KEYS; n++)
		REQUIRE(fixture_put(kv, n, FAULTS_BULK_SIZE, 1, 0) == DBOS_OK);
	for (uint64_t n = FAULTS_SMALL_FIRST; n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS; n++)
		REQUIRE(fixture_put(kv, n, FAULTS_SMALL_SIZE, 1, 0) == DBOS_OK);
	REQUIRE(dbos_kv_checkpoint(kv) == DBOS_OK);
	struct dbos_kv_stats before = fixture_stats(kv);
	uint64_t page_bytes = before.pages * before.page_size, wal_bytes = faults_wal_bytes(dir);
	printf("# pages.db %" PRIu64 " bytes, log %" PRIu64 " bytes; file size limit %" PRIu64 "\n", page_bytes,
	       wal_bytes, page_bytes + 16);
	REQUIRE(before.page_size == 4096); /* the image is then exactly the page file + 32 bytes long */
	REQUIRE(wal_bytes > 0 && wal_bytes + 64 * 1024 < page_bytes);

	signal(SIGXFSZ, SIG_IGN);
	REQUIRE(faults_limit_files(page_bytes + 16));
	for (uint64_t n = FAULTS_SMALL_FIRST; n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS; n += 7)
		CHECK_EQ(fixture_put(kv, n, FAULTS_SMALL_SIZE, 2, 0), DBOS_OK);
	dbos_status failed = dbos_kv_checkpoint(kv);
	if (failed != DBOS_OK)
		fixture_print_error("# dbos_kv_checkpoint on a full disk (expected to fail)", failed);
	CHECK_EQ(failed, DBOS_ENOSPC);
	CHECK(!faults_dir_has(dir, "checkpoint\\.", "\\.tmp"));
	CHECK_EQ(fixture_stats(kv).checkpoint_lsn, before.checkpoint_lsn);
	/* Not a write failure: the store still takes synced writes. */
	for (uint64_t n = FAULTS_SMALL_FIRST + 1; n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS; n += 7)
		CHECK_EQ(faults_put_synced(kv, n, FAULTS_SMALL_SIZE, 2), DBOS_OK);
	faults_unlimit_files();
	signal(SIGXFSZ, SIG_DFL);

	/* Space is back: a checkpoint works, and writes after it. */
	CHECK_EQ(dbos_kv_checkpoint(kv), DBOS_OK);
	CHECK(fixture_stats(kv).checkpoint_lsn > before.checkpoint_lsn);
	for (uint64_t n = FAULTS_SMALL_FIRST + 2; n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS; n += 7)
		CHECK_EQ(faults_put_synced(kv, n, FAULTS_SMALL_SIZE, 2), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);

	config.flags = 0;
	kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK(faults_all_present(kv, 0, FAULTS_BULK_KEYS, FAULTS_BULK_SIZE, 1));
	for (uint64_t n = FAULTS_SMALL_FIRST; n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS; n++)
		if (!fixture_has(kv, NULL, n, FAULTS_SMALL_SIZE, faults_small_generation(n))) {
			fprintf(stderr, "key %" PRIu64 " lost or wrong after reopening\n", n);
			CHECK(false);
			break;
		}
	CHECK_EQ(fixture_stats(kv).entries, FAULTS_BULK_KEYS + FAULTS_SMALL_KEYS);
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

/* What the child that crashes after a failed checkpoint saw. */
struct faults_crash_report {
	int32_t prepared;   /* 1: the store, its keys and a first checkpoint are there */
	int32_t checkpoint; /* the checkpoint under the limit */
	int32_t writes;     /* the first failed synced write after it, DBOS_OK when none failed */
};

static char faults_crash_store[300];
static struct faults_crash_report faults_crash;

/*
 * The child: the same full-disk checkpoint, then synced writes, then it dies
 * without closing.  Recovery must not use the failed image (there is none
 * under a final name, and no .tmp may pass for one) and replays every synced
 * write from the good checkpoint and the log.
 */
static _Noreturn void faults_crash_child(int report_fd)
{
	struct faults_crash_report report = { 0 };
	dbos_kv_config config = fixture_config(faults_crash_store, DBOS_KV_CREATE);
	dbos_kv *kv = fixture_open(&config);
	bool ok = kv != NULL;
	for (uint64_t n = 0; ok && n < FAULTS_BULK_KEYS; n++)
		ok = fixture_put(kv, n, FAULTS_BULK_SIZE, 1, 0) == DBOS_OK;
	for (uint64_t n = FAULTS_SMALL_FIRST; ok && n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS; n++)
		ok = fixture_put(kv, n, FAULTS_SMALL_SIZE, 1, DBOS_KV_SYNC) == DBOS_OK;
	ok = ok && dbos_kv_checkpoint(kv) == DBOS_OK;
	struct dbos_kv_stats stats = { 0 };
	if (ok)
		dbos_kv_stats(kv, &stats);
	uint64_t page_bytes = stats.pages * stats.page_size;
	ok = ok && stats.page_size == 4096 && faults_wal_bytes(faults_crash_store) + 64 * 1024 < page_bytes;
	signal(SIGXFSZ, SIG_IGN);
	ok = ok && faults_limit_files(page_bytes + 16);
	report.prepared = ok;
	if (ok) {
		/* Some rewrites first: a checkpoint with nothing new since the last one writes nothing. */
		uint64_t n = FAULTS_SMALL_FIRST;
		for (; n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS / 2 && report.writes == DBOS_OK; n++)
			if (faults_small_generation(n) == 2)
				report.writes = (int32_t)faults_put_synced(kv, n, FAULTS_SMALL_SIZE, 2);
		report.checkpoint = (int32_t)dbos_kv_checkpoint(kv);
		for (; n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS && report.writes == DBOS_OK; n++)
			if (faults_small_generation(n) == 2)
				report.writes = (int32_t)faults_put_synced(kv, n, FAULTS_SMALL_SIZE, 2);
	}
	_exit(write(report_fd, &report, sizeof report) == sizeof report ? 0 : 5); /* no close: a crash */
}

/* Runs the child before this process starts a thread; the parent checks later. */
static void crash_after_a_failed_checkpoint_child(void)
{
	fixture_dir(faults_crash_store, sizeof faults_crash_store);
	int pipe_fds[2];
	REQUIRE(pipe(pipe_fds) == 0);
	fflush(stdout);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		close(pipe_fds[0]);
		faults_crash_child(pipe_fds[1]);
	}
	close(pipe_fds[1]);
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	bool got = read(pipe_fds[0], &faults_crash, sizeof faults_crash) == sizeof faults_crash;
	close(pipe_fds[0]);
	REQUIRE(got && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	REQUIRE(faults_crash.prepared);
	CHECK_EQ(faults_crash.checkpoint, DBOS_ENOSPC);
	CHECK_EQ(faults_crash.writes, DBOS_OK);
}

static void crash_after_a_failed_checkpoint_loses_nothing(void)
{
	REQUIRE(faults_crash.prepared);
	dbos_kv_config config = fixture_config(faults_crash_store, 0);
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK(faults_all_present(kv, 0, FAULTS_BULK_KEYS, FAULTS_BULK_SIZE, 1));
	for (uint64_t n = FAULTS_SMALL_FIRST; n < FAULTS_SMALL_FIRST + FAULTS_SMALL_KEYS; n++)
		if (!fixture_has(kv, NULL, n, FAULTS_SMALL_SIZE, faults_small_generation(n))) {
			fprintf(stderr, "key %" PRIu64 " lost or wrong after the crash: %s\n", n,
				fixture_has(kv, NULL, n, FAULTS_SMALL_SIZE, 1) ? "the value before the rewrite"
				: fixture_absent(kv, NULL, n)                  ? "absent"
									       : "another value");
			CHECK(false);
		}
	CHECK_EQ(fixture_stats(kv).entries, FAULTS_BULK_KEYS + FAULTS_SMALL_KEYS);
	CHECK(fixture_stats(kv).recovered_records > 0); /* it did recover (from the log) */
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

/* ---- A full disk at close ------------------------------------------------------------ */

/*
 * Close writes every page back: with the cache holding all of them and the
 * file-size limit below where pages.db must grow (the log, half its size, has
 * room), that write fails.  dbos_kv_close says so (DBOS_ENOSPC, or DBOS_EIO),
 * must not record a clean shutdown, and the next open recovers every synced
 * write from the checkpoint and the log.
 */
static void close_on_a_full_disk_reports_and_recovers(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
	config.cache_bytes = 8u << 20; /* every page stays in memory until close */
	dbos_kv *kv = fixture_open(&config);
	REQUIRE(kv);
	for (uint64_t n = 0; n < FAULTS_BULK_KEYS; n++)
		REQUIRE(faults_put_synced(kv, n, FAULTS_BULK_SIZE, 1) == DBOS_OK);
	struct dbos_kv_stats stats = fixture_stats(kv);
	uint64_t page_bytes = stats.pages * stats.page_size, wal_bytes = faults_wal_bytes(dir);
	/* Page-aligned: pages.db is O_DIRECT, and a direct write the limit cuts to an odd length fails
	 * with EINVAL instead of a short write and EFBIG - a quirk of the limit, not of a full disk. */
	uint64_t limit = (wal_bytes + 64 * 1024) & ~(uint64_t)4095;
	printf("# pages %" PRIu64 " bytes in memory, log %" PRIu64 " bytes; file size limit %" PRIu64 "\n", page_bytes,
	       wal_bytes, limit);
	REQUIRE(limit + 64 * 1024 < page_bytes);
	signal(SIGXFSZ, SIG_IGN);
	REQUIRE(faults_limit_files(limit));
	dbos_status closed = dbos_kv_close(kv);
	faults_unlimit_files();
	signal(SIGXFSZ, SIG_DFL);
	if (closed != DBOS_OK)
		fixture_print_error("# dbos_kv_close on a full disk (expected to fail)", closed);
	CHECK(closed == DBOS_ENOSPC || closed == DBOS_EIO);

	config.flags = 0;
	kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK(fixture_stats(kv).recovered_records > 0); /* not taken for a clean shutdown */
	CHECK(faults_all_present(kv, 0, FAULTS_BULK_KEYS, FAULTS_BULK_SIZE, 1));
	CHECK_EQ(fixture_stats(kv).entries, FAULTS_BULK_KEYS);
	CHECK_EQ(dbos_kv_check(kv, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

/* ---- A full disk while creating a store ------------------------------------------------ */

/*
 * Creating a store writes pages.db, the first checkpoint, STATE and the log:
 * with room for almost nothing, dbos_kv_open refuses with DBOS_ENOSPC (not a
 * crash, not a half store that later opens as empty-but-valid garbage).  With
 * space back, DBOS_KV_CREATE makes the store over what was left.
 */
static void create_on_a_full_disk_refuses(void)
{
	char dir[300];
	fixture_dir(dir, sizeof dir);
	signal(SIGXFSZ, SIG_IGN);
	dbos_status statuses[3];
	/* Three limits: nothing fits, the page file's first pages fit, the checkpoint's header block fits. */
	static const rlim_t limits[3] = { 1, 3 * 4096, 4096 + 100 };
	for (int i = 0; i < 3; i++) {
		REQUIRE(faults_limit_files(limits[i]));
		dbos_kv_config config = fixture_config(dir, DBOS_KV_CREATE);
		dbos_kv *kv = NULL;
		statuses[i] = dbos_kv_open(&config, &kv);
		faults_unlimit_files();
		if (kv)
			dbos_kv_close(kv);
	}
	signal(SIGXFSZ, SIG_DFL);
	for (int i = 0; i < 3; i++) {
		if (statuses[i] != DBOS_ENOSPC)
			fprintf(stderr, "create under a %llu-byte limit: %s\n", (unsigned long long)limits[i],
				dbos_status_name(statuses[i]));
		CHECK_EQ(statuses[i], DBOS_ENOSPC);
	}
	/* Without DBOS_KV_CREATE, what a failed creation left is no store (never an empty one that "opens"). */
	dbos_kv_config config = fixture_config(dir, 0);
	dbos_kv *kv = NULL;
	dbos_status reopened = dbos_kv_open(&config, &kv);
	if (kv)
		dbos_kv_close(kv);
	CHECK(reopened != DBOS_OK);
	config.flags = DBOS_KV_CREATE;
	kv = fixture_open(&config);
	REQUIRE(kv);
	CHECK_EQ(fixture_put(kv, 5, 10, 1, DBOS_KV_SYNC), DBOS_OK);
	CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
}

int main(void)
{
	fixture_setup();
	/* Forks first, before any thread exists in this process: a child would share the parent's
	 * io_uring rings.  The permission case forks, then opens a store itself: it comes last of them. */
	RUN_TEST(crash_after_a_failed_checkpoint_child);
	RUN_TEST(permission_errors_surface_as_eperm);
	RUN_TEST(short_writes_continue_then_fail_with_enospc);
	RUN_TEST(checkpoint_on_a_full_disk_fails_cleanly);
	RUN_TEST(crash_after_a_failed_checkpoint_loses_nothing);
	RUN_TEST(close_on_a_full_disk_reports_and_recovers);
	RUN_TEST(create_on_a_full_disk_refuses);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
