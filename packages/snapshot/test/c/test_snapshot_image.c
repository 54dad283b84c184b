/* test_snapshot_image.c - image files: written while writers run, verified, corruption and full disks. */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "snap_harness.h"

#define PAGES 1024 /* 4 MiB */

/* An image size never wraps: a header claiming 2^52 pages cannot match a short file. */
static void test_image_size_saturates(void)
{
	CHECK_EQ(dbos_snap_image_size(0), DBOS_SNAP_IMAGE_HEADER_SIZE + sizeof(dbos_snap_image_trailer));
	CHECK_EQ(dbos_snap_image_size(10), 4096 + 10 * 4100 + 64);
	uint64_t largest = dbos_snap_image_size(DBOS_SNAP_PAGE_COUNT_MAX);
	CHECK(largest > DBOS_SNAP_PAGE_COUNT_MAX * DBOS_PAGE_SIZE && largest != UINT64_MAX);
	uint64_t last = (UINT64_MAX - 4096 - 64) / 4100; /* the most pages whose size still fits */
	CHECK(dbos_snap_image_size(last) != UINT64_MAX && dbos_snap_image_size(last) >= last * 4100);
	CHECK_EQ(dbos_snap_image_size(last + 1), UINT64_MAX);
	CHECK_EQ(dbos_snap_image_size((uint64_t)1 << 52), UINT64_MAX);
	CHECK_EQ(dbos_snap_image_size(UINT64_MAX), UINT64_MAX);
}

typedef struct progress {
	uint64_t calls;
	uint64_t last;
	uint64_t total;
	bool monotonic;
} progress;

static void on_progress(void *context, uint64_t done, uint64_t total)
{
	progress *p = context;
	if (done < p->last)
		p->monotonic = false;
	p->calls++;
	p->last = done;
	p->total = total;
}

static char temp_dir[] = "/tmp/dbos-snapshot-test-XXXXXX";

/* Does the file system under `dir` take O_DIRECT opens (tmpfs does not)? */
static bool direct_io_works(const char *dir)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/direct-probe-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0)
		return false;
	close(fd);
	fd = open(path, O_WRONLY | O_DIRECT);
	unlink(path);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * Write an image of a snapshot taken with writers running into `dir`; check it against the
 * expected versions.
 */
static void image_round(enum dbos_snap_mechanism mechanism, const char *dir)
{
	REQUIRE(dbos_snap_mechanism_available(mechanism, NULL));
	bool barrier = mechanism == DBOS_SNAP_EPOCH;
	harness h;
	REQUIRE(harness_init(&h, PAGES, mechanism, barrier) == DBOS_OK);
	harness_start(&h, 2);
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
	uint64_t *expected = malloc(PAGES * sizeof(uint64_t));
	if (barrier) {
		dbos_snap_info info;
		REQUIRE(dbos_snap_info_get(h.space, id, &info) == DBOS_OK);
		harness_expected_epoch(&h, info.epoch, expected);
	} else {
		memcpy(expected, h.captured, PAGES * sizeof(uint64_t));
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/image-%d-%d", dir, (int)mechanism, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	int fd_flags = fcntl(fd, F_GETFL);
	progress p = { .monotonic = true };
	dbos_snap_write_options options = { .on_progress = on_progress,
					    .progress_context = &p,
					    .progress_interval_bytes = 1 << 20 };
	dbos_snap_write_result result;
	CHECK_EQ(dbos_snap_image_write_fd(h.space, id, fd, &options, &result), DBOS_OK);
	CHECK_EQ(result.bytes_written, dbos_snap_image_size(PAGES));
	CHECK(p.calls >= 3 && p.monotonic && p.last == p.total && p.total == dbos_snap_image_size(PAGES));
	printf("# %s image in %s written by %s\n", dbos_snap_mechanism_name(mechanism), dir, result.path);
	/* The pages bypass the page cache exactly where the file system allows it. */
	if (mechanism != DBOS_SNAP_FORK)
		CHECK((strstr(result.path, "O_DIRECT") != NULL) == direct_io_works(dir));
	CHECK_EQ(fcntl(fd, F_GETFL), fd_flags); /* the caller's description is untouched */
	harness_stop(&h);

	dbos_snap_image_header header;
	uint64_t bad = 0;
	CHECK_EQ(dbos_snap_image_verify_fd(fd, &header, &bad), DBOS_OK);
	CHECK_EQ(header.page_count, PAGES);
	CHECK_EQ(header.mechanism, mechanism);
	CHECK_EQ(bad, UINT64_MAX);
	uint8_t page[DBOS_PAGE_SIZE];
	uint64_t mismatches = 0;
	for (uint64_t i = 0; i < PAGES; i++) {
		REQUIRE(pread(fd, page, DBOS_PAGE_SIZE, DBOS_SNAP_IMAGE_HEADER_SIZE + i * DBOS_PAGE_SIZE) ==
			DBOS_PAGE_SIZE);
		mismatches += !harness_page_is(page, i, expected[i]);
	}
	CHECK_EQ(mismatches, 0);

	/* One flipped byte in page 700 is found, and named. */
	uint8_t byte;
	off_t where = DBOS_SNAP_IMAGE_HEADER_SIZE + 700 * DBOS_PAGE_SIZE + 123;
	REQUIRE(pread(fd, &byte, 1, where) == 1);
	byte ^= 0x40;
	REQUIRE(pwrite(fd, &byte, 1, where) == 1);
	CHECK_EQ(dbos_snap_image_verify_fd(fd, NULL, &bad), DBOS_ECORRUPT);
	CHECK_EQ(bad, 700);
	/* A truncated image is corrupt too. */
	REQUIRE(ftruncate(fd, (off_t)dbos_snap_image_size(PAGES) - 1) == 0);
	CHECK_EQ(dbos_snap_image_verify_fd(fd, NULL, &bad), DBOS_ECORRUPT);
	close(fd);
	unlink(path);

	/* Released: writing is refused cleanly. */
	CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	fd = open("/dev/null", O_WRONLY);
	CHECK_EQ(dbos_snap_image_write_fd(h.space, id, fd, NULL, NULL), DBOS_ECLOSED);
	close(fd);
	free(expected);
	harness_free(&h);
}

static void test_image_epoch(void)
{
	image_round(DBOS_SNAP_EPOCH, temp_dir);
}

/*
 * A file system without O_DIRECT (ramfs; tmpfs has it since Linux 6.6): the image goes through
 * the page cache, the same bytes.  Needs a ramfs mount (root or a user namespace).
 */
static void test_image_epoch_without_direct_io(void)
{
	static char reason[160];
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/ramfs", temp_dir);
	REQUIRE(mkdir(dir, 0700) == 0);
	if (mount("ramfs", dir, "ramfs", 0, "mode=0700") != 0) {
		snprintf(reason, sizeof(reason), "no ramfs mount here (%s)", strerror(errno));
		rmdir(dir);
		SKIP(reason);
	}
	if (direct_io_works(dir)) {
		snprintf(reason, sizeof(reason), "ramfs takes O_DIRECT on this kernel");
	} else {
		image_round(DBOS_SNAP_EPOCH, dir);
		reason[0] = 0;
	}
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	if (reason[0])
		SKIP(reason);
}

static void test_image_uffd(void)
{
	const char *reason = NULL;
	if (!dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &reason))
		SKIP(reason);
	image_round(DBOS_SNAP_UFFD_WP, temp_dir);
}

static void test_image_fork(void)
{
	image_round(DBOS_SNAP_FORK, temp_dir);
}

/*
 * A full device: ENOSPC, nothing left half written, the snapshot still usable.  `small_dir` NULL:
 * /dev/full (every write fails); else a 1 MiB tmpfs (a regular file that cannot hold the image).
 */
static void full_disk_round(enum dbos_snap_mechanism mechanism, const char *small_dir)
{
	harness h;
	REQUIRE(harness_init(&h, PAGES, mechanism, mechanism == DBOS_SNAP_EPOCH) == DBOS_OK);
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
	int fd;
	if (!small_dir) {
		/* A stream, so no preallocation: the first write fails. */
		fd = open("/dev/full", O_WRONLY);
		REQUIRE(fd >= 0);
		CHECK_EQ(dbos_snap_image_write_fd(h.space, id, fd, NULL, NULL), DBOS_ENOSPC);
		close(fd);
	} else {
		char path[160];
		snprintf(path, sizeof(path), "%s/image", small_dir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		REQUIRE(fd >= 0);
		CHECK_EQ(dbos_snap_image_write_fd(h.space, id, fd, NULL, NULL), DBOS_ENOSPC);
		struct stat info;
		CHECK(fstat(fd, &info) == 0 && info.st_size == 0); /* the partial image is gone */
		close(fd);
		unlink(path);
	}
	/* The snapshot is intact and can still be written elsewhere. */
	char path[128];
	snprintf(path, sizeof(path), "%s/after-full", temp_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	CHECK_EQ(dbos_snap_image_write_fd(h.space, id, fd, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_snap_image_verify_fd(fd, NULL, NULL), DBOS_OK);
	close(fd);
	unlink(path);
	CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	harness_free(&h);
}

static void test_image_full_device(void)
{
	full_disk_round(DBOS_SNAP_EPOCH, NULL);
	full_disk_round(DBOS_SNAP_FORK, NULL);
}

/* A file system that fills up: needs a tmpfs mount (root or a user namespace). */
static void test_image_full_filesystem(void)
{
	static char reason[160];
	char small_dir[160];
	snprintf(small_dir, sizeof(small_dir), "%s/small", temp_dir);
	REQUIRE(mkdir(small_dir, 0700) == 0);
	if (mount("tmpfs", small_dir, "tmpfs", 0, "size=1m") != 0) {
		snprintf(reason, sizeof(reason), "no tmpfs mount here (%s)", strerror(errno));
		rmdir(small_dir);
		SKIP(reason);
	}
	full_disk_round(DBOS_SNAP_EPOCH, small_dir);
	full_disk_round(DBOS_SNAP_FORK, small_dir);
	CHECK(umount(small_dir) == 0);
	rmdir(small_dir);
}

/* Sets the cancel flag at the first progress call, as the binding does when onProgress throws. */
static void cancel_on_progress(void *context, uint64_t done, uint64_t total)
{
	*(volatile uint32_t *)context = 1;
}

/*
 * A cancelled write fails with DBOS_ECLOSED and leaves an empty file, and the snapshot can be
 * written again: between buffers for EPOCH, once the child is done for FORK.
 */
static void cancel_round(enum dbos_snap_mechanism mechanism)
{
	harness h;
	REQUIRE(harness_init(&h, PAGES, mechanism, mechanism == DBOS_SNAP_EPOCH) == DBOS_OK);
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
	char path[128];
	snprintf(path, sizeof(path), "%s/cancel-%d", temp_dir, (int)mechanism);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	volatile uint32_t cancel = 0;
	dbos_snap_write_options options = { .on_progress = cancel_on_progress,
					    .progress_context = (void *)&cancel,
					    .progress_interval_bytes = 1 << 20,
					    .cancel = &cancel };
	CHECK_EQ(dbos_snap_image_write_fd(h.space, id, fd, &options, NULL), DBOS_ECLOSED);
	struct stat info;
	CHECK(fstat(fd, &info) == 0 && info.st_size == 0);
	CHECK_EQ(dbos_snap_image_write_fd(h.space, id, fd, NULL, NULL), DBOS_OK);
	CHECK_EQ(dbos_snap_image_verify_fd(fd, NULL, NULL), DBOS_OK);
	close(fd);
	unlink(path);
	CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	harness_free(&h);
}

static void test_image_cancel(void)
{
	cancel_round(DBOS_SNAP_EPOCH);
	cancel_round(DBOS_SNAP_FORK);
}

/* A restart: an image loads into a fresh space of the same size, checked page by page. */
static void test_image_load(void)
{
	harness source;
	REQUIRE(harness_init(&source, 64, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	for (uint64_t page = 0; page < 64; page++)
		harness_fill(source.base + page * DBOS_PAGE_SIZE, page, page * 3);
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(source.space, &id) == DBOS_OK);
	char path[128];
	snprintf(path, sizeof(path), "%s/load", temp_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(dbos_snap_image_write_fd(source.space, id, fd, NULL, NULL) == DBOS_OK);

	harness target;
	REQUIRE(harness_init(&target, 64, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	dbos_snap_id blocking;
	REQUIRE(dbos_snap_take(target.space, &blocking) == DBOS_OK);
	CHECK_EQ(dbos_snap_image_load_fd(target.space, fd, NULL, NULL), DBOS_EBUSY); /* a live snapshot reads it */
	CHECK_EQ(dbos_snap_release(target.space, blocking), DBOS_OK);
	dbos_snap_image_header header;
	CHECK_EQ(dbos_snap_image_load_fd(target.space, fd, &header, NULL), DBOS_OK);
	CHECK_EQ(header.page_count, 64);
	CHECK(memcmp(target.base, source.base, 64 * DBOS_PAGE_SIZE) == 0);

	harness other;
	REQUIRE(harness_init(&other, 32, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	CHECK_EQ(dbos_snap_image_load_fd(other.space, fd, NULL, NULL), DBOS_ERANGE);
	harness_free(&other);

	uint8_t byte = 0x55;
	REQUIRE(pwrite(fd, &byte, 1, DBOS_SNAP_IMAGE_HEADER_SIZE + 9 * DBOS_PAGE_SIZE + 1) == 1);
	uint64_t bad = 0;
	CHECK_EQ(dbos_snap_image_load_fd(target.space, fd, NULL, &bad), DBOS_ECORRUPT);
	CHECK_EQ(bad, 9);
	close(fd);
	unlink(path);
	CHECK_EQ(dbos_snap_release(source.space, id), DBOS_OK);
	harness_free(&target);
	harness_free(&source);
}

int main(void)
{
	if (!mkdtemp(temp_dir))
		return 2;
	RUN_TEST(test_image_size_saturates);
	RUN_TEST(test_image_epoch);
	RUN_TEST(test_image_epoch_without_direct_io);
	RUN_TEST(test_image_uffd);
	RUN_TEST(test_image_fork);
	RUN_TEST(test_image_full_device);
	RUN_TEST(test_image_full_filesystem);
	RUN_TEST(test_image_cancel);
	RUN_TEST(test_image_load);
	rmdir(temp_dir);
	return TEST_EXIT_STATUS();
}
