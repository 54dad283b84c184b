/*
 * test_kv_powercut.c - power loss: a writer killed at a random moment, after
 * which whatever it had not synced is (partly) undone, as a disk that loses
 * its volatile cache would; the store must then recover every acknowledged
 * batch and never come back corrupt.
 *
 * The file layer.  The writer child opens its own DBOS_GATEWAY_THREADS
 * gateway, so every file operation of the store is a plain libc call, and this
 * program defines pwrite, pwritev2, ftruncate, fallocate, openat (O_TRUNC),
 * fsync, fdatasync, rename and unlink itself: a definition in the executable
 * wins over libc's for every caller linked into it.  In the writer (only
 * there: a flag set after the fork) each one first appends an undo record to
 * a journal in a MAP_SHARED mapping made before the fork, then calls the real
 * function (dlsym RTLD_NEXT), all under one lock, so the journal's order is
 * the order the operations ran in:
 *   WRITE   inode, offset, length, the file's old size and the old bytes of
 *           the range that existed (read before writing)
 *   RESIZE  ftruncate / extending fallocate / O_TRUNC: old size, new size and
 *           the bytes a shrink cut off
 *   SYNC    fsync / fdatasync of a file returned OK: every earlier record of
 *           that inode is durable
 *   DEATH   unlink, or a rename over an existing name: later records with the
 *           same inode number belong to a new file
 *   UNLINK  the path, and a hard link to the file in a graveyard directory
 *   DIRSYNC fsync of a directory: every earlier unlink is durable
 * A record is published (journal->used) only once complete, and the real call
 * follows it, so a killed writer leaves no operation without its record.
 *
 * The power cut.  The parent SIGKILLs the writer, then walks the journal
 * backwards and reverts each record that no later SYNC of its inode made
 * durable with probability 1/2 (a disk reorders unsynced writes): old bytes
 * back (bytes past the old size become zeros; one reverted write in four is
 * torn: only some of its 512-byte sectors revert; a reverted extending write
 * may also take the size back), old size back, cut bytes back.  A durable
 * record is never touched.  Files are found by inode among the directory's
 * entries.  Unlinks no later directory fsync made durable come back (from the
 * graveyard) with probability 1/2.  Creations and renames are modelled as
 * durable at once (the store syncs the directory right after each rename and
 * each log segment it creates); losing one is not simulated.
 *
 * The check, per cycle (a verifier child, with the normal gateway): the store
 * opens (recovery), every batch the writer acknowledged (dbos_kv_wait(lsn,
 * true) returned OK before it reported the id) is there, batches are all or
 * nothing, values are exact, the entry count matches, dbos_kv_check passes.
 * The writer checkpoints now and then (and the background thread does, with a
 * small checkpoint_wal_bytes) and closes / reopens, so cuts land in checkpoint
 * writing, log truncation, STATE replacement and recovery too.
 *
 * DBOS_KV_POWERCUT_CYCLES raises the cycle count (default 40);
 * DBOS_KV_POWERCUT_SEED fixes the revert coin flips (the kill times are not
 * replayable, the seed is printed to narrow a failure down).
 */
#include "kv_store_fixture.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/uio.h>

#define POWERCUT_CYCLES_DEFAULT 40
#define POWERCUT_JOURNAL_BYTES (256ull << 20)
#define POWERCUT_DELAY_OPEN_MAX_US 30000    /* even cycles: cut 0..30 ms after the fork */
#define POWERCUT_DELAY_WRITING_MAX_US 40000 /* odd cycles: 0..40 ms after the first acknowledgement */
#define POWERCUT_BATCHES_MAX 100000u
#define POWERCUT_INODES_MAX 1024u
#define POWERCUT_SECTOR 512u
#define POWERCUT_EXIT_JOURNAL_FULL 7 /* the writer stopped itself: the journal has no room */

/* ---- The journal (shared with the parent) ------------------------------------ */

enum pc_kind {
	PC_WRITE = 1,
	PC_RESIZE = 2,
	PC_SYNC = 3,
	PC_DEATH = 4,
	PC_UNLINK = 5,  /* offset: the graveyard link's number; saved: the path */
	PC_DIRSYNC = 6, /* an fsync of one of the store's directories */
};

struct pc_record {
	uint32_t kind; /* enum pc_kind */
	uint32_t reserved;
	uint64_t inode;
	uint64_t offset;   /* WRITE: where; RESIZE: the new size */
	uint64_t length;   /* WRITE: bytes written */
	uint64_t old_size; /* the file's size before */
	uint64_t saved;    /* old bytes that follow the record (WRITE: from offset; RESIZE: from the new size) */
};

struct pc_journal {
	_Atomic uint64_t used; /* bytes of complete records */
	uint64_t records;
	uint8_t bytes[];
};

static struct pc_journal *pc_journal;
static uint64_t pc_journal_capacity;
static bool pc_recording;      /* set in the writer child only */
static uint64_t pc_device;     /* st_dev of the store's file system: files elsewhere (memfds) are not recorded */
static char pc_graveyard[300]; /* links to the files the writer unlinked (same file system) */
static pthread_mutex_t pc_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t pc_round8(uint64_t n)
{
	return (n + 7) & ~7ull;
}

/* ---- The real functions ------------------------------------------------------ */

/* Resolved in main, before any fork or thread: the next definition after this program's (libc's, or a sanitizer's). */
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_unlink)(const char *);

static void pc_resolve(void *slot, const char *name)
{
	void *function = dlsym(RTLD_NEXT, name);
	DBOS_ASSERT(function != NULL);
	memcpy(slot, &function, sizeof function);
}

static void pc_resolve_all(void)
{
	pc_resolve(&real_pwrite, "pwrite");
	pc_resolve(&real_pwritev2, "pwritev2");
	pc_resolve(&real_ftruncate, "ftruncate");
	pc_resolve(&real_fallocate, "fallocate");
	pc_resolve(&real_openat, "openat");
	pc_resolve(&real_fsync, "fsync");
	pc_resolve(&real_fdatasync, "fdatasync");
	pc_resolve(&real_rename, "rename");
	pc_resolve(&real_unlink, "unlink");
}

static uint64_t pc_fd_size(int fd, uint64_t *inode_out)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return UINT64_MAX;
	*inode_out = (uint64_t)st.st_ino;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_dev != pc_device)
		return UINT64_MAX; /* a directory, or not the store's: not recorded */
	return (uint64_t)st.st_size;
}

/* Room for a record with `saved` bytes after it; the writer stops (a cut right here) when there is none. */
static struct pc_record *pc_reserve(uint64_t saved)
{
	uint64_t used = atomic_load_explicit(&pc_journal->used, memory_order_relaxed);
	if (used + sizeof(struct pc_record) + pc_round8(saved) > pc_journal_capacity)
		_exit(POWERCUT_EXIT_JOURNAL_FULL);
	return (struct pc_record *)(pc_journal->bytes + used);
}

static void pc_publish(struct pc_record *record)
{
	pc_journal->records++;
	uint64_t used = atomic_load_explicit(&pc_journal->used, memory_order_relaxed);
	atomic_store_explicit(&pc_journal->used, used + sizeof *record + pc_round8(record->saved),
			      memory_order_release);
}

/* Read [offset, offset + length) of fd into dst (also when fd is write-only or O_DIRECT). */
static uint64_t pc_read_old(int fd, uint8_t *dst, uint64_t length, uint64_t offset)
{
	void *bounce = NULL;
	uint64_t rounded = (length + 4095) & ~4095ull;
	DBOS_ASSERT(posix_memalign(&bounce, 4096, rounded ? rounded : 4096) == 0);
	ssize_t got = pread(fd, bounce, length, (off_t)offset);
	if (got < 0) { /* write-only or an unaligned O_DIRECT range: read it through a plain descriptor */
		char path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		int plain = open(path, O_RDONLY | O_CLOEXEC);
		DBOS_ASSERT(plain >= 0);
		got = pread(plain, bounce, length, (off_t)offset);
		close(plain);
	}
	DBOS_ASSERT(got >= 0);
	memcpy(dst, bounce, (size_t)got);
	free(bounce);
	return (uint64_t)got;
}

/* Before writing `length` bytes at `offset` of fd: its WRITE record. */
static void pc_record_write(int fd, uint64_t length, uint64_t offset)
{
	uint64_t inode = 0, size = pc_fd_size(fd, &inode);
	if (size == UINT64_MAX)
		return;
	uint64_t want = offset < size ? (size - offset < length ? size - offset : length) : 0;
	struct pc_record *record = pc_reserve(want);
	*record = (struct pc_record){
		.kind = PC_WRITE, .inode = inode, .offset = offset, .length = length, .old_size = size
	};
	record->saved = want ? pc_read_old(fd, (uint8_t *)(record + 1), want, offset) : 0;
	pc_publish(record);
}

/* Before the size of fd becomes new_size: its RESIZE record (with the bytes a shrink cuts). */
static void pc_record_resize(int fd, uint64_t new_size)
{
	uint64_t inode = 0, size = pc_fd_size(fd, &inode);
	if (size == UINT64_MAX || size == new_size)
		return;
	uint64_t cut = size > new_size ? size - new_size : 0;
	struct pc_record *record = pc_reserve(cut);
	*record = (struct pc_record){ .kind = PC_RESIZE, .inode = inode, .offset = new_size, .old_size = size };
	record->saved = cut ? pc_read_old(fd, (uint8_t *)(record + 1), cut, new_size) : 0;
	pc_publish(record);
}

static void pc_record_inode(uint32_t kind, uint64_t inode)
{
	struct pc_record *record = pc_reserve(0);
	*record = (struct pc_record){ .kind = kind, .inode = inode };
	pc_publish(record);
}

static void pc_record_sync(int fd)
{
	uint64_t inode = 0;
	struct stat st;
	if (pc_fd_size(fd, &inode) != UINT64_MAX)
		pc_record_inode(PC_SYNC, inode);
	else if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && (uint64_t)st.st_dev == pc_device)
		pc_record_inode(PC_DIRSYNC, (uint64_t)st.st_ino);
}

/* Before unlinking a file of the store: a link to it in the graveyard, so the cut can bring the name back. */
static void pc_record_unlink(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != pc_device)
		return;
	char grave[sizeof pc_graveyard + 32];
	snprintf(grave, sizeof grave, "%s/%llu", pc_graveyard, (unsigned long long)pc_journal->records);
	DBOS_ASSERT(link(path, grave) == 0);
	uint64_t length = strlen(path) + 1;
	struct pc_record *record = pc_reserve(length);
	*record = (struct pc_record){
		.kind = PC_UNLINK, .inode = (uint64_t)st.st_ino, .offset = pc_journal->records, .saved = length
	};
	memcpy(record + 1, path, length);
	pc_publish(record);
}

/* The name is about to go (unlink) or be replaced (rename's target): the inode it names dies. */
static void pc_record_death(int dirfd, const char *path)
{
	struct stat st;
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    (uint64_t)st.st_dev == pc_device)
		pc_record_inode(PC_DEATH, (uint64_t)st.st_ino);
}

/* ---- The interposed functions ------------------------------------------------ */

ssize_t pwrite(int fd, const void *buffer, size_t length, off_t offset)
{
	if (!pc_recording)
		return real_pwrite(fd, buffer, length, offset);
	pthread_mutex_lock(&pc_lock);
	pc_record_write(fd, length, (uint64_t)offset);
	ssize_t result = real_pwrite(fd, buffer, length, offset);
	pthread_mutex_unlock(&pc_lock);
	return result;
}

ssize_t pwritev2(int fd, const struct iovec *iov, int count, off_t offset, int flags)
{
	if (!pc_recording)
		return real_pwritev2(fd, iov, count, offset, flags);
	DBOS_ASSERT(offset >= 0); /* the store always names the offset */
	uint64_t length = 0;
	for (int i = 0; i < count; i++)
		length += iov[i].iov_len;
	pthread_mutex_lock(&pc_lock);
	pc_record_write(fd, length, (uint64_t)offset);
	ssize_t result = real_pwritev2(fd, iov, count, offset, flags);
	pthread_mutex_unlock(&pc_lock);
	return result;
}

int ftruncate(int fd, off_t length)
{
	if (!pc_recording)
		return real_ftruncate(fd, length);
	pthread_mutex_lock(&pc_lock);
	pc_record_resize(fd, (uint64_t)length);
	int result = real_ftruncate(fd, length);
	pthread_mutex_unlock(&pc_lock);
	return result;
}

int fallocate(int fd, int mode, off_t offset, off_t length)
{
	if (!pc_recording || (mode & FALLOC_FL_KEEP_SIZE))
		return real_fallocate(fd, mode, offset, length);
	DBOS_ASSERT(mode == 0); /* only extending allocations are modelled */
	pthread_mutex_lock(&pc_lock);
	uint64_t inode = 0, size = pc_fd_size(fd, &inode);
	if (size != UINT64_MAX && (uint64_t)(offset + length) > size)
		pc_record_resize(fd, (uint64_t)(offset + length));
	int result = real_fallocate(fd, mode, offset, length);
	pthread_mutex_unlock(&pc_lock);
	return result;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_list args;
		va_start(args, flags);
		mode = va_arg(args, mode_t);
		va_end(args);
	}
	if (!pc_recording || !(flags & O_TRUNC))
		return real_openat(dirfd, path, flags, mode);
	/* O_TRUNC empties an existing file: a RESIZE to 0, recorded through a descriptor of its own. */
	pthread_mutex_lock(&pc_lock);
	int existing = real_openat(dirfd, path, O_RDONLY | O_CLOEXEC, 0);
	if (existing >= 0) {
		pc_record_resize(existing, 0);
		close(existing);
	}
	int result = real_openat(dirfd, path, flags, mode);
	pthread_mutex_unlock(&pc_lock);
	return result;
}

static int pc_sync(int (*real)(int), int fd)
{
	if (!pc_recording)
		return real(fd);
	pthread_mutex_lock(&pc_lock);
	int result = real(fd);
	if (result == 0)
		pc_record_sync(fd);
	pthread_mutex_unlock(&pc_lock);
	return result;
}

int fsync(int fd)
{
	return pc_sync(real_fsync, fd);
}

int fdatasync(int fd)
{
	return pc_sync(real_fdatasync, fd);
}

int rename(const char *from, const char *to)
{
	if (!pc_recording)
		return real_rename(from, to);
	pthread_mutex_lock(&pc_lock);
	struct stat source, target;
	if (stat(from, &source) == 0 && stat(to, &target) == 0 && source.st_ino != target.st_ino)
		pc_record_death(AT_FDCWD, to);
	int result = real_rename(from, to);
	pthread_mutex_unlock(&pc_lock);
	return result;
}

int unlink(const char *path)
{
	if (!pc_recording)
		return real_unlink(path);
	pthread_mutex_lock(&pc_lock);
	pc_record_death(AT_FDCWD, path); /* before the graveyard link adds one to the link count */
	pc_record_unlink(path);
	int result = real_unlink(path);
	pthread_mutex_unlock(&pc_lock);
	return result;
}

/* ---- The power cut (parent) -------------------------------------------------- */

static uint64_t pc_random_state;

static uint64_t pc_random(void)
{
	uint64_t x = pc_random_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return pc_random_state = x;
}

struct pc_inode_set {
	uint64_t inodes[POWERCUT_INODES_MAX];
	uint32_t count;
};

static bool pc_set_has(const struct pc_inode_set *set, uint64_t inode)
{
	for (uint32_t i = 0; i < set->count; i++)
		if (set->inodes[i] == inode)
			return true;
	return false;
}

static void pc_set_add(struct pc_inode_set *set, uint64_t inode)
{
	if (pc_set_has(set, inode))
		return;
	DBOS_ASSERT(set->count < POWERCUT_INODES_MAX);
	set->inodes[set->count++] = inode;
}

/* The store's files by inode, opened for the revert. */
struct pc_files {
	uint64_t inodes[POWERCUT_INODES_MAX];
	int fds[POWERCUT_INODES_MAX];
	uint32_t count;
};

static void pc_files_open(struct pc_files *files, const char *dir)
{
	files->count = 0;
	DIR *handle = opendir(dir);
	if (!handle)
		return; /* the writer died before making its directory */
	struct dirent *entry;
	while ((entry = readdir(handle)) != NULL) {
		struct stat st;
		if (fstatat(dirfd(handle), entry->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
			continue;
		int fd = openat(dirfd(handle), entry->d_name, O_RDWR | O_CLOEXEC);
		DBOS_ASSERT(fd >= 0 && files->count < POWERCUT_INODES_MAX);
		files->inodes[files->count] = (uint64_t)st.st_ino;
		files->fds[files->count++] = fd;
	}
	closedir(handle);
}

static int pc_files_fd(const struct pc_files *files, uint64_t inode)
{
	for (uint32_t i = 0; i < files->count; i++)
		if (files->inodes[i] == inode)
			return files->fds[i];
	return -1;
}

static void pc_files_close(struct pc_files *files)
{
	for (uint32_t i = 0; i < files->count; i++)
		close(files->fds[i]);
	files->count = 0;
}

static uint64_t pc_current_size(int fd)
{
	struct stat st;
	DBOS_ASSERT(fstat(fd, &st) == 0);
	return (uint64_t)st.st_size;
}

static void pc_put(int fd, const void *bytes, uint64_t length, uint64_t offset)
{
	DBOS_ASSERT(pwrite(fd, bytes, length, (off_t)offset) == (ssize_t)length);
}

/*
 * [at, end) of the write gets its old content back: the saved bytes, or zeros past the old size, within the
 * file's current size.  Each sector so ends with some version from its history (reverted writes undone from
 * the newest on), as a disk that persists sectors independently may leave it.
 */
static void pc_revert_sector(int fd, const struct pc_record *record, uint64_t at, uint64_t end, uint64_t size)
{
	static const uint8_t zeros[POWERCUT_SECTOR];
	const uint8_t *saved = (const uint8_t *)(record + 1);
	uint64_t saved_end = record->offset + record->saved;
	uint64_t put_end = saved_end < end ? saved_end : end;
	put_end = put_end < size ? put_end : size; /* a later size change that stays is not undone here */
	if (at < put_end)
		pc_put(fd, saved + (at - record->offset), put_end - at, at);
	uint64_t zero_at = at > saved_end ? at : saved_end, zero_end = end < size ? end : size;
	if (zero_at < zero_end)
		pc_put(fd, zeros, zero_end - zero_at, zero_at);
}

static void pc_revert_write(int fd, const struct pc_record *record)
{
	uint64_t size = pc_current_size(fd), end = record->offset + record->length;
	bool torn = pc_random() % 4 == 0;
	for (uint64_t at = record->offset; at < end;) {
		uint64_t next = (at / POWERCUT_SECTOR + 1) * POWERCUT_SECTOR;
		next = next < end ? next : end;
		if (!torn || pc_random() % 2)
			pc_revert_sector(fd, record, at, next, size);
		at = next;
	}
	/* Everything later on this inode is unsynced too: taking the size back loses only such writes. */
	if (!torn && end > record->old_size && size > record->old_size && pc_random() % 2)
		DBOS_ASSERT(ftruncate(fd, (off_t)record->old_size) == 0);
}

static void pc_revert_resize(int fd, const struct pc_record *record)
{
	uint64_t size = pc_current_size(fd);
	if (record->old_size > record->offset) { /* a shrink: the cut bytes come back */
		if (size < record->old_size)
			DBOS_ASSERT(ftruncate(fd, (off_t)record->old_size) == 0);
		pc_put(fd, record + 1, record->saved, record->offset);
	} else if (size > record->old_size) {
		DBOS_ASSERT(ftruncate(fd, (off_t)record->old_size) == 0);
	}
}

struct pc_cut_stats {
	uint64_t unsynced;              /* records of files still there that no sync made durable */
	uint64_t reverted;              /* of which undone */
	uint64_t kinds[PC_DIRSYNC + 1]; /* records by kind */
	uint64_t resurrected;           /* unlinks undone */
};

/* Index the journal's records (their offsets), oldest first. */
static uint64_t pc_journal_index(uint64_t *offsets, uint64_t capacity)
{
	uint64_t used = atomic_load_explicit(&pc_journal->used, memory_order_acquire), count = 0;
	for (uint64_t at = 0; at < used; count++) {
		const struct pc_record *record = (const struct pc_record *)(pc_journal->bytes + at);
		DBOS_ASSERT(count < capacity && record->kind >= PC_WRITE && record->kind <= PC_DIRSYNC);
		offsets[count] = at;
		at += sizeof *record + pc_round8(record->saved);
	}
	return count;
}

/*
 * Unlinks after the directory's last fsync may not have reached the device: each comes back with
 * probability 1/2 (from its graveyard link, with the bytes it had when unlinked), unless a new file has
 * the name now.  Then the graveyard is emptied.
 */
static void pc_undo_unlinks(const uint64_t *offsets, uint64_t count, struct pc_cut_stats *stats)
{
	bool durable = false;
	for (uint64_t i = count; i-- > 0;) {
		const struct pc_record *record = (const struct pc_record *)(pc_journal->bytes + offsets[i]);
		durable |= record->kind == PC_DIRSYNC;
		if (record->kind != PC_UNLINK)
			continue;
		char grave[sizeof pc_graveyard + 32];
		snprintf(grave, sizeof grave, "%s/%llu", pc_graveyard, (unsigned long long)record->offset);
		const char *path = (const char *)(record + 1);
		struct stat st;
		if (!durable && pc_random() % 2 && stat(path, &st) != 0 && link(grave, path) == 0)
			stats->resurrected++;
	}
	/* Every link, also one the writer made just before it died (no record then). */
	DIR *handle = opendir(pc_graveyard);
	DBOS_ASSERT(handle != NULL);
	struct dirent *entry;
	while ((entry = readdir(handle)) != NULL)
		if (entry->d_name[0] != '.')
			DBOS_ASSERT(unlinkat(dirfd(handle), entry->d_name, 0) == 0);
	closedir(handle);
}

/* Undo what was not synced, each record with probability 1/2, newest first. */
static void pc_power_cut(const char *dir, struct pc_cut_stats *stats)
{
	static uint64_t offsets[1u << 20];
	static struct pc_inode_set synced, dead;
	synced.count = dead.count = 0;
	struct pc_files files;
	pc_files_open(&files, dir);
	uint64_t count = pc_journal_index(offsets, sizeof offsets / sizeof offsets[0]);
	for (uint64_t i = count; i-- > 0;) {
		const struct pc_record *record = (const struct pc_record *)(pc_journal->bytes + offsets[i]);
		stats->kinds[record->kind]++;
		if (record->kind == PC_SYNC) {
			pc_set_add(&synced, record->inode);
			continue;
		}
		if (record->kind == PC_UNLINK || record->kind == PC_DIRSYNC)
			continue; /* pc_undo_unlinks */
		if (record->kind == PC_DEATH) {
			pc_set_add(&dead, record->inode); /* earlier records of this number: a file that is gone */
			continue;
		}
		if (pc_set_has(&synced, record->inode) || pc_set_has(&dead, record->inode))
			continue;
		int fd = pc_files_fd(&files, record->inode);
		if (fd < 0)
			continue; /* unlinked since (and its number not reused) */
		stats->unsynced++;
		if (pc_random() % 2)
			continue;
		stats->reverted++;
		if (record->kind == PC_WRITE)
			pc_revert_write(fd, record);
		else
			pc_revert_resize(fd, record);
	}
	pc_files_close(&files);
	pc_undo_unlinks(offsets, count, stats);
}

/* ---- The workload (as test_kv_crash.c) ---------------------------------------
 *
 * Batch b writes keys "b<b>-<j>" for j < 1 + b % 4 (every 7th batch one large
 * value on overflow pages), sets "counter" to b, and when b % 3 == 0 and
 * b >= 10 deletes "b<b-10>-0".  Batches with b % 3 == 2 are written without
 * DBOS_KV_SYNC and not acknowledged: the log then holds unsynced records that
 * a cut may tear (a later synced batch makes them durable with it).
 */

static char powercut_dir[300];

static dbos_kv_config powercut_config(dbos_gateway *gateway)
{
	dbos_kv_config config = fixture_config(powercut_dir, DBOS_KV_CREATE);
	config.checkpoint_wal_bytes = 32 * 1024; /* background checkpoints every few dozen batches */
	config.gateway = gateway;
	return config;
}

static uint32_t batch_key(char *buffer, uint64_t batch, uint32_t j)
{
	return (uint32_t)snprintf(buffer, 40, "b%010llu-%u", (unsigned long long)batch, j);
}

static uint32_t batch_key_count(uint64_t batch)
{
	return 1 + (uint32_t)(batch % 4);
}

static uint64_t batch_value_size(uint64_t batch, uint32_t j)
{
	return batch % 7 == 0 && j == 0 ? 6000 : 20 + (batch * 31 + j * 17) % 180;
}

static bool batch_deletes(uint64_t batch)
{
	return batch >= 10 && batch % 3 == 0;
}

static bool batch_key_deleted(uint64_t batch, uint32_t j, uint64_t last)
{
	return j == 0 && batch + 10 <= last && batch_deletes(batch + 10);
}

/* Two batches in three ask for a sync and are acknowledged; the third is left in the OS (unsynced log). */
static bool batch_synced(uint64_t batch)
{
	return batch % 3 != 2;
}

static dbos_status batch_write(dbos_kv *kv, uint64_t batch, uint64_t *lsn_out)
{
	dbos_kv_op ops[8];
	char keys[6][40];
	uint8_t *values[4] = { 0 };
	uint32_t count = 0;
	for (uint32_t j = 0; j < batch_key_count(batch); j++) {
		uint64_t size = batch_value_size(batch, j);
		values[j] = malloc(size);
		fixture_value(values[j], size, batch, j);
		ops[count++] = (dbos_kv_op){ .type = DBOS_KV_PUT,
					     .key_size = batch_key(keys[j], batch, j),
					     .key = keys[j],
					     .value = values[j],
					     .value_size = size };
	}
	ops[count++] = (dbos_kv_op){
		.type = DBOS_KV_PUT, .key_size = 7, .key = "counter", .value = &batch, .value_size = sizeof batch
	};
	if (batch_deletes(batch))
		ops[count++] = (dbos_kv_op){ .type = DBOS_KV_DEL,
					     .key_size = batch_key(keys[5], batch - 10, 0),
					     .key = keys[5] };
	dbos_status status = dbos_kv_write(kv, ops, count, batch_synced(batch) ? DBOS_KV_SYNC : 0, lsn_out);
	for (uint32_t j = 0; j < 4; j++)
		free(values[j]);
	return status;
}

/* Records through its own threads gateway until the power goes. */
static _Noreturn void writer_child(uint64_t first_batch, int report_fd)
{
	dbos_gateway_config gateway_config = { .backend = DBOS_GATEWAY_THREADS };
	dbos_gateway *gateway = NULL;
	if (dbos_gateway_open(&gateway_config, &gateway) != DBOS_OK)
		_exit(2);
	pc_recording = true;
	dbos_kv_config config = powercut_config(gateway);
	dbos_kv *kv = fixture_open(&config);
	if (!kv)
		_exit(2);
	for (uint64_t batch = first_batch; batch < first_batch + POWERCUT_BATCHES_MAX; batch++) {
		uint64_t lsn = 0;
		if (batch_write(kv, batch, &lsn) != DBOS_OK)
			_exit(3);
		if (batch_synced(batch)) {
			if (dbos_kv_wait(kv, lsn, true) != DBOS_OK)
				_exit(3);
			if (write(report_fd, &batch, sizeof batch) != sizeof batch) /* acknowledged: it is synced */
				_exit(4);
		}
		if (batch % 8 == 5 && dbos_kv_checkpoint(kv) != DBOS_OK)
			_exit(5);
		if (batch % 24 == 11) { /* a clean close and a clean open: cuts land there too */
			if (dbos_kv_close(kv) != DBOS_OK || !(kv = fixture_open(&config)))
				_exit(6);
		}
	}
	_exit(0);
}

static bool batch_present(dbos_kv *kv, uint64_t batch, uint64_t last)
{
	static uint8_t expected[8192], actual[8192];
	for (uint32_t j = 0; j < batch_key_count(batch); j++) {
		char key[40];
		uint32_t key_size = batch_key(key, batch, j);
		uint64_t size = batch_value_size(batch, j), actual_size = 0;
		dbos_status status = dbos_kv_get(kv, NULL, key, key_size, actual, sizeof actual, &actual_size);
		if (batch_key_deleted(batch, j, last)) {
			if (status != DBOS_ENOENT) {
				fprintf(stderr, "%s: deleted by batch %llu, but there\n", key,
					(unsigned long long)(batch + 10));
				return false;
			}
			continue;
		}
		fixture_value(expected, size, batch, j);
		if (status != DBOS_OK || actual_size != size || memcmp(actual, expected, size) != 0) {
			fprintf(stderr, "%s: %s, size %llu (expected %llu)\n", key, dbos_status_name(status),
				(unsigned long long)actual_size, (unsigned long long)size);
			return false;
		}
	}
	return true;
}

static bool batch_absent(dbos_kv *kv, uint64_t batch)
{
	for (uint32_t j = 0; j < batch_key_count(batch); j++) {
		char key[40];
		uint64_t size = 0;
		if (dbos_kv_get(kv, NULL, key, batch_key(key, batch, j), NULL, 0, &size) != DBOS_ENOENT) {
			fprintf(stderr, "%s: there, but its batch is after the counter\n", key);
			return false;
		}
	}
	return true;
}

/* Exit 0 and report where the applied batches end when every check passes. */
static _Noreturn void verifier_child(uint64_t acknowledged_end, int report_fd)
{
	dbos_kv_config config = powercut_config(NULL);
	dbos_kv *kv = fixture_open(&config);
	if (!kv)
		_exit(10);
	uint64_t last = 0, size = 0, end = 0;
	dbos_status status = dbos_kv_get(kv, NULL, "counter", 7, &last, sizeof last, &size);
	if (status == DBOS_OK && size == sizeof last)
		end = last + 1;
	else if (status != DBOS_ENOENT)
		_exit(11);
	if (end < acknowledged_end) {
		fprintf(stderr, "batches up to %llu were acknowledged as synced, the store ends at %llu\n",
			(unsigned long long)acknowledged_end, (unsigned long long)end);
		_exit(12);
	}
	uint64_t entries = end ? 1 : 0; /* "counter" */
	for (uint64_t batch = 0; batch < end; batch++) {
		if (!batch_present(kv, batch, last))
			_exit(13);
		for (uint32_t j = 0; j < batch_key_count(batch); j++)
			entries += !batch_key_deleted(batch, j, last);
	}
	for (uint64_t batch = end; batch < end + 3; batch++)
		if (!batch_absent(kv, batch))
			_exit(14);
	struct dbos_kv_stats stats = fixture_stats(kv);
	if (stats.entries != entries) {
		fprintf(stderr, "%llu entries, expected %llu\n", (unsigned long long)stats.entries,
			(unsigned long long)entries);
		_exit(15);
	}
	if ((status = dbos_kv_check(kv, NULL, NULL)) != DBOS_OK) {
		fixture_print_error("dbos_kv_check", status);
		_exit(16);
	}
	if (dbos_kv_close(kv) != DBOS_OK)
		_exit(17);
	_exit(write(report_fd, &end, sizeof end) == sizeof end ? 0 : 18);
}

static uint64_t env_number(const char *name, uint64_t fallback)
{
	const char *text = getenv(name);
	unsigned long long value = text ? strtoull(text, NULL, 0) : 0;
	return value ? (uint64_t)value : fallback;
}

/* ---- The cycles ---------------------------------------------------------------- */

struct powercut_totals {
	uint64_t acknowledged;
	uint64_t cut_while_writing;
	uint64_t journal_full;
	struct pc_cut_stats cut;
};

/* 1. A recording writer, cut after a random delay; *acknowledged_end: where its acknowledged batches end. */
static bool powercut_writer(uint64_t cycle, uint64_t end, uint64_t *acknowledged_end, struct powercut_totals *totals)
{
	int report[2];
	if (pipe(report) != 0)
		return false;
	atomic_store(&pc_journal->used, 0);
	pc_journal->records = 0;
	fflush(stdout);
	fflush(stderr);
	pid_t writer = fork();
	if (writer < 0)
		return false;
	if (writer == 0) {
		close(report[0]);
		writer_child(end, report[1]);
	}
	close(report[1]);
	uint64_t batch;
	*acknowledged_end = end;
	if (cycle % 2 == 1 && read(report[0], &batch, sizeof batch) == sizeof batch) {
		CHECK(batch >= *acknowledged_end);
		*acknowledged_end = batch + 1;
		totals->acknowledged++;
	}
	usleep((useconds_t)(rand() % (cycle % 2 ? POWERCUT_DELAY_WRITING_MAX_US : POWERCUT_DELAY_OPEN_MAX_US)));
	kill(writer, SIGKILL);
	int status = 0;
	if (waitpid(writer, &status, 0) != writer)
		return false;
	bool full = WIFEXITED(status) && WEXITSTATUS(status) == POWERCUT_EXIT_JOURNAL_FULL;
	totals->journal_full += full;
	bool cut = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; /* not an assertion of its own */
	if (!cut && !full) {
		fprintf(stderr, "cycle %llu: the writer ended before the cut (exit %d, signal %d)\n",
			(unsigned long long)cycle, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		CHECK(cut);
	}
	while (read(report[0], &batch, sizeof batch) == sizeof batch) {
		/* In order, skipping only unsynced ones. */
		CHECK(batch >= *acknowledged_end && batch - *acknowledged_end <= 1);
		*acknowledged_end = batch + 1;
		totals->acknowledged++;
	}
	close(report[0]);
	totals->cut_while_writing += *acknowledged_end > end;
	return true;
}

/* 3. A verifier: recover, check, report where the batches end (0 when it failed). */
static bool powercut_verify(uint64_t acknowledged_end, uint64_t *verified_end)
{
	int report[2];
	if (pipe(report) != 0)
		return false;
	pid_t verifier = fork();
	if (verifier < 0)
		return false;
	if (verifier == 0) {
		close(report[0]);
		verifier_child(acknowledged_end, report[1]);
	}
	close(report[1]);
	int status = 0;
	bool ok = waitpid(verifier, &status, 0) == verifier && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		  read(report[0], verified_end, sizeof *verified_end) == sizeof *verified_end;
	if (!ok)
		fprintf(stderr, "the verifier failed (status %d)\n", status);
	close(report[0]);
	return ok;
}

static void power_cut_loses_no_synced_batch(void)
{
	fixture_dir(powercut_dir, sizeof powercut_dir);
	pc_journal_capacity = POWERCUT_JOURNAL_BYTES - sizeof(struct pc_journal);
	void *mapping = mmap(NULL, POWERCUT_JOURNAL_BYTES, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	REQUIRE(mapping != MAP_FAILED);
	pc_journal = mapping;
	struct stat root;
	REQUIRE(stat(fixture_root, &root) == 0);
	pc_device = (uint64_t)root.st_dev;
	snprintf(pc_graveyard, sizeof pc_graveyard, "%s/graveyard", fixture_root);
	REQUIRE(mkdir(pc_graveyard, 0755) == 0);
	uint64_t seed = env_number("DBOS_KV_POWERCUT_SEED", fixture_now_ns() | 1);
	pc_random_state = seed;
	srand((unsigned)seed);
	uint64_t cycles = env_number("DBOS_KV_POWERCUT_CYCLES", POWERCUT_CYCLES_DEFAULT), end = 0;
	struct powercut_totals totals = { 0 };
	uint64_t start_ns = fixture_now_ns();
	for (uint64_t cycle = 0; cycle < cycles; cycle++) {
		uint64_t acknowledged_end = 0, verified_end = 0;
		REQUIRE(powercut_writer(cycle, end, &acknowledged_end, &totals));
		/* 2. The power cut: unsynced writes undone, at random. */
		pc_power_cut(powercut_dir, &totals.cut);
		bool verified = powercut_verify(acknowledged_end, &verified_end);
		if (!verified || verified_end < acknowledged_end)
			fprintf(stderr, "cycle %llu (seed %llu): batches %llu..%llu acknowledged, verified end %llu\n",
				(unsigned long long)cycle, (unsigned long long)seed, (unsigned long long)end,
				(unsigned long long)acknowledged_end, (unsigned long long)verified_end);
		REQUIRE(verified && verified_end >= acknowledged_end);
		end = verified_end;
	}
	munmap(mapping, POWERCUT_JOURNAL_BYTES);
	const uint64_t *kinds = totals.cut.kinds;
	printf("# %llu power cuts in %.1f s (seed %llu): %llu batches acknowledged as synced, %llu verified, "
	       "%llu cuts during writes; journal: %llu writes, %llu resizes, %llu syncs, %llu unlinks; "
	       "%llu unsynced, %llu reverted, %llu unlinks undone\n",
	       (unsigned long long)cycles, (double)(fixture_now_ns() - start_ns) / 1e9, (unsigned long long)seed,
	       (unsigned long long)totals.acknowledged, (unsigned long long)end,
	       (unsigned long long)totals.cut_while_writing, (unsigned long long)kinds[PC_WRITE],
	       (unsigned long long)kinds[PC_RESIZE], (unsigned long long)kinds[PC_SYNC],
	       (unsigned long long)kinds[PC_UNLINK], (unsigned long long)totals.cut.unsynced,
	       (unsigned long long)totals.cut.reverted, (unsigned long long)totals.cut.resurrected);
	CHECK(totals.cut_while_writing >= cycles / 2); /* the odd cycles at least were cut among writes */
	CHECK(totals.cut.reverted > 0);                /* the file layer did undo something */
}

int main(void)
{
	pc_resolve_all();
	fixture_setup();
	RUN_TEST(power_cut_loses_no_synced_batch);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
