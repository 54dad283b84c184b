/*
 * test_vmm_grants.c - descriptors carry rights into the guest.  A read-only
 * grant refuses PWRITE, PWRITEV, FTRUNCATE and FALLOCATE (-EBADF); beneath a
 * read-only directory OPENAT refuses write access, O_CREAT, O_TRUNC,
 * O_TMPFILE and O_PATH (-EROFS) and whatever it opens is read-only too; a
 * read-write grant is refused for a file the host descriptor cannot write;
 * creation modes lose setuid, setgid and sticky.
 *
 * The same checks run as root and as an unprivileged user: the answers
 * come from the VMM, not from the permission checks root skips.  KVM is
 * often root-only, so the unprivileged run is this program again (exec of
 * /proc/self/exe with --unprivileged, a fresh process: no fork of a
 * threaded one) that boots its guest and grants its descriptors as root,
 * then drops to nobody (setresgid/setresuid 65534, no supplementary
 * groups) before the guest asks for anything; the vCPU and service threads
 * drop with it.  Not root: the checks run as this user and the root run is
 * skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dbos/guest.h"
#include "dbos_test.h"
#include "guest_image.h"

#define NOBODY 65534
#define SCRATCH_REQUEST 0x0
#define SCRATCH_PATH 0x100
#define SCRATCH_DATA 0x1000
#define SCRATCH_IOV 0x3000

static struct test_image image;

/* The world the checks run in: a directory holding a file and a subdirectory, and the guest. */
struct world {
	char directory[64];
	dbos_guest *guest;
	int32_t file_read_only;  /* "data", granted read-only from an O_RDWR host fd */
	int32_t file_read_write; /* "data", granted read-write */
	int32_t dir_read_only;
	int32_t dir_read_write;
};

static int64_t hypercall(struct world *world, uint16_t op, int32_t fd, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct dbos_hc_request request = { .op = op, .fd = fd, .args = { a0, a1, a2 } };
	dbos_status status;
	int64_t result = test_guest_hypercall(world->guest, 0, &request, SCRATCH_REQUEST, 0, &status);
	if (status != DBOS_OK)
		printf("# hypercall %u: %s\n", op, dbos_status_name(status));
	return result;
}

static int64_t open_beneath(struct world *world, int32_t dir, const char *path, uint64_t flags, uint64_t mode)
{
	uint64_t address = test_guest_string(world->guest, SCRATCH_PATH, path);
	return hypercall(world, DBOS_HC_OPENAT, dir, address, flags, mode);
}

/* Every write op through `fd`: each must give `expected` (-EBADF when refused). */
static void check_writes(struct world *world, int32_t fd, int64_t expected_write, int64_t expected_other)
{
	uint64_t data = test_guest_scratch(world->guest, SCRATCH_DATA);
	uint64_t iov = test_guest_scratch(world->guest, SCRATCH_IOV);
	struct dbos_hc_iovec vec = { .address = data, .length = 4 };
	REQUIRE(dbos_guest_memory_write(world->guest, iov, &vec, sizeof(vec)) == DBOS_OK);
	CHECK_EQ(hypercall(world, DBOS_HC_PWRITE, fd, data, 4, 0), expected_write);
	CHECK_EQ(hypercall(world, DBOS_HC_PWRITEV, fd, iov, 1, 4), expected_write);
	CHECK_EQ(hypercall(world, DBOS_HC_FTRUNCATE, fd, 4096, 0, 0), expected_other);
	CHECK_EQ(hypercall(world, DBOS_HC_FALLOCATE, fd, 0, 0, 8192), expected_other);
}

static void check_read_only_file(struct world *world)
{
	uint64_t data = test_guest_scratch(world->guest, SCRATCH_DATA);
	CHECK_EQ(hypercall(world, DBOS_HC_PREAD, world->file_read_only, data, 5, 0), 5);
	CHECK_EQ(hypercall(world, DBOS_HC_FSYNC, world->file_read_only, 0, 0, 0), 0);
	check_writes(world, world->file_read_only, -EBADF, -EBADF);
	/* The same host file through a read-write grant: the refusals above were the grant's. */
	check_writes(world, world->file_read_write, 4, 0);
}

static void check_read_only_directory(struct world *world)
{
	const uint64_t refused[] = { O_RDWR,
				     O_WRONLY,
				     O_RDONLY | O_CREAT,
				     O_RDONLY | O_TRUNC,
				     O_RDWR | O_TMPFILE,
				     O_PATH,
				     O_RDONLY | O_CREAT | O_EXCL };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		CHECK_EQ(open_beneath(world, world->dir_read_only, i == 4 ? "." : "data", refused[i], 0644), -EROFS);
	CHECK_EQ(open_beneath(world, world->dir_read_only, "new", O_RDWR | O_CREAT, 0644), -EROFS);
	/* Reading is allowed, and what it opens is read-only, also through a subdirectory. */
	int64_t file = open_beneath(world, world->dir_read_only, "data", O_RDONLY, 0);
	REQUIRE(file >= 0);
	check_writes(world, (int32_t)file, -EBADF, -EBADF);
	CHECK_EQ(hypercall(world, DBOS_HC_CLOSE, (int32_t)file, 0, 0, 0), 0);
	int64_t sub = open_beneath(world, world->dir_read_only, "sub", O_RDONLY | O_DIRECTORY, 0);
	REQUIRE(sub >= 0);
	CHECK_EQ(open_beneath(world, (int32_t)sub, "inner", O_RDWR | O_CREAT, 0644), -EROFS);
	CHECK_EQ(open_beneath(world, (int32_t)sub, "inner", O_RDWR, 0), -EROFS);
	CHECK_EQ(hypercall(world, DBOS_HC_CLOSE, (int32_t)sub, 0, 0, 0), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/new", world->directory);
	CHECK(access(path, F_OK) != 0); /* nothing was created */
}

static void check_read_write_directory(struct world *world)
{
	/* Creation works; setuid, setgid and sticky never reach the file. */
	int64_t made = open_beneath(world, world->dir_read_write, "made", O_RDWR | O_CREAT | O_EXCL, 07777);
	REQUIRE(made >= 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/made", world->directory);
	struct stat status;
	REQUIRE(stat(path, &status) == 0);
	CHECK_EQ(status.st_mode & 07000, 0);
	CHECK_EQ(status.st_mode & 0777, 0777 & ~022); /* the test's umask: 022 */
	check_writes(world, (int32_t)made, 4, 0);
	CHECK_EQ(hypercall(world, DBOS_HC_CLOSE, (int32_t)made, 0, 0, 0), 0);
	/* A subdirectory opened beneath a read-write grant is read-write. */
	int64_t sub = open_beneath(world, world->dir_read_write, "sub", O_RDONLY | O_DIRECTORY, 0);
	REQUIRE(sub >= 0);
	int64_t inner = open_beneath(world, (int32_t)sub, "inner", O_RDWR | O_CREAT, 04755);
	CHECK(inner >= 0);
	if (inner >= 0)
		CHECK_EQ(hypercall(world, DBOS_HC_CLOSE, (int32_t)inner, 0, 0, 0), 0);
	CHECK_EQ(hypercall(world, DBOS_HC_CLOSE, (int32_t)sub, 0, 0, 0), 0);
	snprintf(path, sizeof(path), "%s/sub/inner", world->directory);
	CHECK(stat(path, &status) == 0 && (status.st_mode & 07000) == 0);
}

/* A read-write grant of what the host descriptor cannot write is refused; a read-only one is not. */
static void check_grant_refusals(struct world *world)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/data", world->directory);
	int read_only = open(path, O_RDONLY | O_CLOEXEC), path_only = open(path, O_PATH | O_CLOEXEC);
	REQUIRE(read_only >= 0 && path_only >= 0);
	int32_t granted = -1;
	CHECK_EQ(dbos_guest_fd_grant(world->guest, read_only, DBOS_GUEST_ACCESS_READ_WRITE, &granted), DBOS_EPERM);
	CHECK_EQ(dbos_guest_fd_grant(world->guest, path_only, DBOS_GUEST_ACCESS_READ_WRITE, &granted), DBOS_EPERM);
	CHECK_EQ(dbos_guest_fd_grant(world->guest, read_only, (enum dbos_guest_access)7, &granted), DBOS_EINVAL);
	CHECK_EQ(dbos_guest_fd_grant(world->guest, read_only, DBOS_GUEST_ACCESS_READ_ONLY, &granted), DBOS_OK);
	CHECK_EQ(dbos_guest_fd_revoke(world->guest, granted), DBOS_OK);
	close(read_only);
	close(path_only);
}

/* Fill `directory` (made by the caller), boot the guest, grant (as whoever runs this: root before dropping). */
static bool world_open(struct world *world, const char *directory_path)
{
	memset(world, 0, sizeof(*world));
	snprintf(world->directory, sizeof(world->directory), "%s", directory_path);
	char path[128];
	snprintf(path, sizeof(path), "%s/data", world->directory);
	int file = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s/sub", world->directory);
	int directory = open(world->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool made = file >= 0 && directory >= 0 && write(file, "hello, grants", 13) == 13 && mkdir(path, 0755) == 0;
	/* nobody must be able to create beneath it once the process drops to it. */
	if (made && geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/sub", world->directory);
		made = chown(world->directory, NOBODY, NOBODY) == 0 && chown(path, NOBODY, NOBODY) == 0;
	}
	world->guest = made ? test_guest_boot(&image, 1, 16u << 20) : NULL;
	bool granted = world->guest &&
		       dbos_guest_fd_grant(world->guest, file, DBOS_GUEST_ACCESS_READ_ONLY, &world->file_read_only) ==
			       DBOS_OK &&
		       dbos_guest_fd_grant(world->guest, file, DBOS_GUEST_ACCESS_READ_WRITE, &world->file_read_write) ==
			       DBOS_OK &&
		       dbos_guest_fd_grant(world->guest, directory, DBOS_GUEST_ACCESS_READ_ONLY,
					   &world->dir_read_only) == DBOS_OK &&
		       dbos_guest_fd_grant(world->guest, directory, DBOS_GUEST_ACCESS_READ_WRITE,
					   &world->dir_read_write) == DBOS_OK;
	if (file >= 0)
		close(file); /* the guest holds duplicates */
	if (directory >= 0)
		close(directory);
	return granted;
}

/* A private directory for one run; removed by remove_directory. */
static bool make_directory(char *path, size_t size)
{
	snprintf(path, size, "/tmp/dbos-grants-XXXXXX");
	return mkdtemp(path) != NULL;
}

static void remove_directory(const char *path)
{
	char command[128];
	snprintf(command, sizeof(command), "rm -rf %s", path);
	if (system(command) != 0)
		printf("# could not remove %s\n", path);
}

static void check_all(struct world *world)
{
	check_grant_refusals(world);
	check_read_only_file(world);
	check_read_only_directory(world);
	check_read_write_directory(world);
}

static void test_rights_as_root(void)
{
	if (geteuid() != 0)
		SKIP("not root: the unprivileged run below is this user's");
	char directory[64];
	REQUIRE(make_directory(directory, sizeof(directory)));
	struct world world;
	bool opened = world_open(&world, directory);
	if (opened)
		check_all(&world);
	dbos_guest_destroy(world.guest);
	remove_directory(directory);
	CHECK(opened);
}

static bool drop_to_nobody(void)
{
	return setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 &&
	       setresuid(NOBODY, NOBODY, NOBODY) == 0 && geteuid() == NOBODY && getegid() == NOBODY;
}

/* The unprivileged run, in its own process, in the parent's `directory`: exit 0 when every check held. */
static int rights_unprivileged(const char *directory)
{
	struct world world;
	if (!world_open(&world, directory))
		return 10;
	if (geteuid() == 0 && !drop_to_nobody())
		return 11;
	printf("# unprivileged: uid %u gid %u\n", (unsigned)geteuid(), (unsigned)getegid());
	check_all(&world);
	dbos_guest_destroy(world.guest);
	return dbos_test_failures_case ? 1 : 0;
}

static void test_rights_unprivileged(void)
{
	char directory[64];
	REQUIRE(make_directory(directory, sizeof(directory)));
	fflush(stdout);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		char *argv[] = { "/proc/self/exe", "--unprivileged", directory, NULL };
		execv("/proc/self/exe", argv);
		_exit(12);
	}
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	remove_directory(directory); /* here: the child could no longer remove what root made */
	REQUIRE(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/* Where /dev/kvm does not open the cases cannot run (skipped, saying why); where it opens, they must. */
static char vmm_unavailable[256];
static void test_vmm_available_where_kvm_opens(void)
{
	char reason[200] = "";
	int unavailable = test_guest_unavailable(reason, sizeof(reason));
	if (unavailable < 0)
		printf("# /dev/kvm opens but the guest cannot start: %s\n", reason);
	CHECK(unavailable >= 0);
	if (unavailable > 0) {
		snprintf(vmm_unavailable, sizeof(vmm_unavailable), "no usable /dev/kvm: %s", reason);
		SKIP(vmm_unavailable);
	}
}

int main(int argc, char **argv)
{
	umask(022);
	if (!test_image_read(&image)) {
		printf("FAIL test_image_readable\n");
		return 1;
	}
	if (argc > 2 && strcmp(argv[1], "--unprivileged") == 0) {
		int code = rights_unprivileged(argv[2]);
		test_image_free(&image);
		return code;
	}
	RUN_TEST(test_vmm_available_where_kvm_opens);
	if (!vmm_unavailable[0] && TEST_EXIT_STATUS() == 0) {
		RUN_TEST(test_rights_unprivileged);
		RUN_TEST(test_rights_as_root);
	}
	test_image_free(&image);
	return TEST_EXIT_STATUS();
}
