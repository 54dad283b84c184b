/*
 * kv_wal.h - the write-ahead log's private state, shared by kv_wal*.c (and by
 * the log's C tests through the test-only functions at the end).
 *
 *   kv_wal.c          open, append, wait, sync, stats, close
 *   kv_wal_commit.c   the group commit: swap buffers, write (rolling segments), sync, publish
 *   kv_wal_segment.c  segment files: listing in LSN order, opening, truncating, unlinking
 *   kv_wal_replay.c   reading records back, stopping at the first that does not verify
 *
 * Layout on disk (LSN = byte offset in the log as a whole):
 *
 *   wal.0000000000000008          wal.<first lsn of segment 2>
 *   +--------+--------+-----+      +--------+-----
 *   | record | record | ... |      | record | ...
 *   +--------+--------+-----+      +--------+-----
 *   ^ LSN 8   ^ LSN 8 + size of record 1, ...
 *
 * Segments are contiguous: segment k+1 begins at the LSN where segment k ends,
 * so a record at LSN L in segment S sits at file offset L - S.  A record:
 *
 *   [u32 crc32c of bytes 4 .. 16 + payload size][u32 payload size][u64 lsn][payload][0-7 zero bytes]
 *
 * little-endian, padded so that every record starts 8-aligned.
 *
 * Threads: appenders fill one of two buffers under `lock`; the commit thread
 * swaps them and writes the full one while appenders fill the other.  The
 * commit state (fd, segment position) belongs to whoever holds `commit_lock`:
 * the commit thread, or - where the runtime has no threads of its own (the
 * guest) - the thread that waits for the log.
 */
#ifndef DBOS_KV_WAL_H
#define DBOS_KV_WAL_H

#include <stdatomic.h>

#include "dbos/platform.h"
#include "kv_internal.h"

#define KV_WAL_PREFIX "wal."
#define KV_WAL_FIRST_LSN 8u                   /* LSN 0 means "nothing"; the first record goes here */
#define KV_WAL_HEADER_SIZE 16u                /* crc, payload size, lsn */
#define KV_WAL_ALIGN 8u                       /* records start 8-aligned */
#define KV_WAL_SEGMENT_BYTES (64ull << 20)    /* roll to a new segment at the first record past this */
#define KV_WAL_QUEUE_BYTES_MAX (64ull << 20)  /* queued but unwritten bytes before appenders wait */
#define KV_WAL_BUFFER_BYTES_MIN (1ull << 20)  /* a fill buffer's first size */
#define KV_WAL_BUFFER_KEEP_BYTES (8ull << 20) /* a buffer grown past this is freed after its batch */
#define KV_WAL_DRAIN_WAIT_MS 2000u            /* how long opening a segment waits for a dead writer's I/O */

_Static_assert(KV_WAL_PAYLOAD_MAX + KV_WAL_HEADER_SIZE + KV_WAL_ALIGN < UINT32_MAX, "a record's size fits in 32 bits");
_Static_assert(KV_WAL_QUEUE_BYTES_MAX >= KV_WAL_BUFFER_BYTES_MIN, "the queue bound holds a first buffer");

/* A record's bytes on disk, padding included. */
static inline uint64_t kv_wal_record_bytes(uint32_t payload_size)
{
	return DBOS_ALIGN_UP((uint64_t)KV_WAL_HEADER_SIZE + payload_size, (uint64_t)KV_WAL_ALIGN);
}

/* Little-endian loads and stores at any alignment (records and payloads are byte strings). */
static inline uint32_t kv_load_u32(const uint8_t *bytes)
{
	return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
}

static inline uint64_t kv_load_u64(const uint8_t *bytes)
{
	return (uint64_t)kv_load_u32(bytes) | (uint64_t)kv_load_u32(bytes + 4) << 32;
}

static inline void kv_store_u32(uint8_t *bytes, uint32_t value)
{
	for (int i = 0; i < 4; i++)
		bytes[i] = (uint8_t)(value >> (8 * i));
}

static inline void kv_store_u64(uint8_t *bytes, uint64_t value)
{
	kv_store_u32(bytes, (uint32_t)value);
	kv_store_u32(bytes + 4, (uint32_t)(value >> 32));
}

struct kv_wal_buffer {
	uint8_t *bytes; /* dbos_platform_alloc'ed; NULL until first needed */
	uint64_t capacity;
	uint64_t used;
};

struct kv_wal {
	dbos_gateway *gateway;
	char dir[KV_PATH_MAX];
	uint64_t segment_bytes;   /* roll threshold: KV_WAL_SEGMENT_BYTES, smaller in tests */
	uint64_t queue_bytes_max; /* back-pressure bound: KV_WAL_QUEUE_BYTES_MAX, smaller in tests */
	bool threadless;          /* no commit thread: waiters commit (runtime without threads) */
	dbos_thread *thread;

	/* ---- Appender side: under `lock` ---- */
	dbos_mutex lock;
	struct kv_wal_buffer buffers[2];
	uint32_t filling;         /* the buffer appenders copy into; the other is being written */
	uint64_t filling_lsn;     /* LSN of the filling buffer's first byte */
	bool filling_sync;        /* a record in the filling buffer asked for fdatasync */
	uint64_t sync_wanted_lsn; /* synced_lsn must reach this (kv_wal_sync, kv_wal_wait(sync)) */
	bool committer_sleeping;  /* the commit thread sleeps on work_seq: wake it after appending */
	bool stopping;            /* close: the commit thread exits once nothing is left */
	dbos_kv_commit_fn listener;
	void *listener_context;
	_Atomic uint64_t next_lsn; /* written under `lock`, read anywhere */

	/* ---- Commit side: under `commit_lock` ---- */
	dbos_mutex commit_lock;
	int32_t fd;              /* the segment being appended */
	uint64_t segment_lsn;    /* its first LSN */
	uint64_t segment_used;   /* bytes in it */
	uint64_t segment_stable; /* bytes in it that are published: a failed batch is cut back to here */

	/* ---- Published by the committer ---- */
	_Atomic uint64_t written_lsn;         /* end of the last record in the OS */
	_Atomic uint64_t synced_lsn;          /* end of the last record on the device */
	_Atomic uint64_t current_segment_lsn; /* the segment appended to: never truncated */
	_Atomic uint64_t roll_at_lsn;         /* start a new segment at this record (a checkpoint's LSN), so
						 the one before it can be truncated; 0: none asked */
	_Atomic uint64_t truncate_lsn;        /* the newest complete checkpoint's LSN: segments wholly
						 before it may be deleted (by a roll that comes later too) */
	_Atomic uint32_t failure;             /* dbos_status of the first failed write or sync; 0: none */
	uint32_t commit_seq;                  /* futex word: bumped after each publish (atomic builtins) */
	uint32_t work_seq;                    /* futex word: bumped to wake the commit thread */
	_Atomic uint32_t waiters;             /* threads sleeping on commit_seq */
	_Atomic uint64_t group_commits, syncs, bytes;

	/* ---- Faults injected by tests: the next write / sync fails with this errno ---- */
	_Atomic int32_t inject_write_errno;
	_Atomic int32_t inject_sync_errno;
};

/* kv_wal_commit.c */
/* One group commit if there is anything to write or sync; the caller holds commit_lock.
 * Returns false when there was nothing to do. */
bool kv_wal_commit_once(struct kv_wal *wal);
/* The commit thread's body (argument: the struct kv_wal). */
void kv_wal_commit_thread(void *argument);

/* kv_wal_segment.c */
struct kv_wal_segments {
	uint64_t *lsns; /* first LSN of each segment, ascending */
	uint64_t count;
	uint64_t capacity;
};
/* Every wal.<16 hex> in dir, sorted by LSN.  Free with kv_wal_segments_free. */
dbos_status kv_wal_segments_list(const char *dir, struct kv_wal_segments *segments_out);
void kv_wal_segments_free(struct kv_wal_segments *segments);
/* Open segment `lsn` (create: made empty, and the directory synced).  *fd_out on success. */
dbos_status kv_wal_segment_open(dbos_gateway *gateway, const char *dir, uint64_t lsn, bool create, bool writable,
				int32_t *fd_out);
dbos_status kv_wal_segment_size(dbos_gateway *gateway, int32_t fd, uint64_t *size_out);
void kv_wal_segment_close(dbos_gateway *gateway, int32_t fd);
dbos_status kv_wal_segment_unlink(const char *dir, uint64_t lsn);

/* ---- Test-only: the log's C tests use these; the store never does ---- */

struct kv_wal_options {
	uint64_t segment_bytes;   /* 0: KV_WAL_SEGMENT_BYTES */
	uint64_t queue_bytes_max; /* 0: KV_WAL_QUEUE_BYTES_MAX */
	bool threadless;          /* behave as where the runtime has no threads */
};
/* kv_wal_open with options (kv_wal_open is this with every option at its default). */
dbos_status kv_wal_open_with(const char *dir, uint64_t next_lsn, dbos_gateway *gateway,
			     const struct kv_wal_options *options, struct kv_wal **wal_out);
/* Make the commit side's next write (write_errno) / fdatasync (sync_errno) fail; 0 leaves it. */
void kv_wal_test_inject(struct kv_wal *wal, int32_t write_errno, int32_t sync_errno);

#endif /* DBOS_KV_WAL_H */
