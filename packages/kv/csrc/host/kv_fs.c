/*
 * kv_fs.c - the directory calls the gateway has no operation for (host runtime):
 * mkdir, rename, unlink, listing, directory sync, and the store's LOCK file.
 *
 * LOCK is flock'ed for as long as the store is open: exclusively by the one
 * writing process, shared by read-only ones.  The exclusive holder writes its pid
 * into the file, so a refused opener can say who holds it.  A process that dies
 * drops its lock with its descriptor (this file is never used for I/O, so no
 * in-flight request keeps it alive).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../kv_internal.h"

static _Thread_local int32_t last_errno;

int32_t kv_fs_errno(void)
{
	return last_errno;
}

static dbos_status kv_fs_fail(void)
{
	last_errno = errno;
	return dbos_io_status(-(int64_t)errno);
}

dbos_status kv_fs_mkdir(const char *dir)
{
	if (mkdir(dir, 0755) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(dir, &st) != 0)
			return kv_fs_fail();
		if (!S_ISDIR(st.st_mode)) {
			last_errno = ENOTDIR;
			return DBOS_EINVAL;
		}
		return DBOS_OK;
	}
	return kv_fs_fail();
}

dbos_status kv_fs_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kv_fs_fail();
	int result = fsync(fd);
	dbos_status status = result == 0 ? DBOS_OK : kv_fs_fail();
	close(fd);
	return status;
}

dbos_status kv_fs_rename(const char *dir, const char *from, const char *to)
{
	char from_path[KV_PATH_MAX], to_path[KV_PATH_MAX];
	if (!kv_path_join(from_path, sizeof from_path, dir, from) || !kv_path_join(to_path, sizeof to_path, dir, to))
		return DBOS_EINVAL;
	if (rename(from_path, to_path) != 0)
		return kv_fs_fail();
	return kv_fs_sync_dir(dir);
}

dbos_status kv_fs_unlink(const char *dir, const char *name)
{
	char path[KV_PATH_MAX];
	if (!kv_path_join(path, sizeof path, dir, name))
		return DBOS_EINVAL;
	if (unlink(path) != 0 && errno != ENOENT)
		return kv_fs_fail();
	return DBOS_OK;
}

dbos_status kv_fs_list(const char *dir, const char *prefix, void (*each)(void *context, const char *name),
		       void *context)
{
	DIR *handle = opendir(dir);
	if (!handle)
		return kv_fs_fail();
	size_t prefix_length = strlen(prefix);
	struct dirent *entry;
	errno = 0;
	while ((entry = readdir(handle)) != NULL)
		if (strncmp(entry->d_name, prefix, prefix_length) == 0 && strcmp(entry->d_name, ".") != 0 &&
		    strcmp(entry->d_name, "..") != 0)
			each(context, entry->d_name); /* any length: a foreign file must be seen, whatever its name */
	dbos_status status = errno == 0 ? DBOS_OK : kv_fs_fail();
	closedir(handle);
	return status;
}

dbos_status kv_fs_size(const char *dir, const char *name, uint64_t *size_out)
{
	char path[KV_PATH_MAX];
	if (!kv_path_join(path, sizeof path, dir, name))
		return DBOS_EINVAL;
	struct stat st;
	if (stat(path, &st) != 0)
		return kv_fs_fail();
	*size_out = (uint64_t)st.st_size;
	return DBOS_OK;
}

static int32_t kv_fs_read_pid(int fd)
{
	char text[24] = { 0 };
	ssize_t got = pread(fd, text, sizeof text - 1, 0);
	if (got <= 0)
		return 0;
	long pid = strtol(text, NULL, 10);
	return pid > 0 && pid < INT32_MAX ? (int32_t)pid : 0;
}

dbos_status kv_fs_lock(const char *dir, bool exclusive, uint32_t wait_ms, int32_t *lock_out, int32_t *holder_pid_out)
{
	char path[KV_PATH_MAX];
	*lock_out = -1;
	*holder_pid_out = 0;
	if (!kv_path_join(path, sizeof path, dir, "LOCK"))
		return DBOS_EINVAL;
	int fd = open(path, (exclusive ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
	if (fd < 0 && !exclusive && errno == ENOENT)
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return kv_fs_fail();
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			dbos_status status = kv_fs_fail();
			close(fd);
			return status;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		uint64_t waited_ms = (uint64_t)(now.tv_sec - start.tv_sec) * 1000u +
				     (uint64_t)((now.tv_nsec - start.tv_nsec) / 1000000);
		if (waited_ms >= wait_ms) {
			*holder_pid_out = kv_fs_read_pid(fd);
			close(fd);
			last_errno = EWOULDBLOCK;
			return DBOS_ELOCKED;
		}
		struct timespec pause = { 0, 5 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	if (exclusive) {
		char text[24];
		int length = snprintf(text, sizeof text, "%d\n", (int)getpid());
		if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)length, 0) != length) {
			dbos_status status = kv_fs_fail();
			close(fd);
			return status;
		}
	}
	*lock_out = fd;
	return DBOS_OK;
}

dbos_status kv_fs_lock_fd(int32_t fd, bool exclusive, uint32_t wait_ms)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return DBOS_OK;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return kv_fs_fail();
		clock_gettime(CLOCK_MONOTONIC, &now);
		uint64_t waited_ms = (uint64_t)(now.tv_sec - start.tv_sec) * 1000u +
				     (uint64_t)((now.tv_nsec - start.tv_nsec) / 1000000);
		if (waited_ms >= wait_ms) {
			last_errno = EWOULDBLOCK;
			return DBOS_EBUSY;
		}
		struct timespec pause = { 0, 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
}

void kv_fs_unlock(int32_t lock)
{
	if (lock >= 0)
		close(lock); /* drops the flock; the pid stays in the file, read only while someone holds it */
}
