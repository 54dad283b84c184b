/*
 * kv_wal_replay.c - reading the log back after a crash or a clean close.
 *
 * Segments are read in LSN order from the one that holds from_lsn (or the
 * oldest, when from_lsn lies before every segment: the log was truncated up
 * to a checkpoint).  Each record is checked before it is believed: its size
 * is sane and inside the file, its lsn field equals its position, its CRC
 * matches.  The first record that fails, a segment that does not begin where
 * the previous one ended, or the end of the last segment is the end of the
 * log: a torn tail is what a crash in the middle of a write leaves, and
 * nothing after it was ever acknowledged as synced (segments are synced before
 * the next one begins).
 */
#include "kv_wal.h"

#define KV_WAL_READ_BYTES (1ull << 20) /* the read window's first size: a group commit's worth */

struct kv_wal_reader {
	dbos_gateway *gateway;
	int32_t fd;
	uint64_t file_size;
	uint8_t *window; /* bytes [window_offset, window_offset + window_length) of the file */
	uint64_t window_capacity;
	uint64_t window_offset;
	uint64_t window_length;
};

/* Make [offset, offset + length) of the file readable; DBOS_ECORRUPT when the file ends first. */
static dbos_status kv_wal_reader_need(struct kv_wal_reader *reader, uint64_t offset, uint64_t length,
				      const uint8_t **bytes_out)
{
	DBOS_ASSERT(offset + length <= reader->file_size);
	if (offset >= reader->window_offset && offset + length <= reader->window_offset + reader->window_length) {
		*bytes_out = reader->window + (offset - reader->window_offset);
		return DBOS_OK;
	}
	if (length > reader->window_capacity) {
		uint64_t capacity = reader->window_capacity ? reader->window_capacity : KV_WAL_READ_BYTES;
		while (capacity < length)
			capacity *= 2;
		uint8_t *window = dbos_platform_alloc(capacity);
		if (!window)
			return DBOS_ENOMEM;
		if (reader->window)
			dbos_platform_free(reader->window, reader->window_capacity);
		reader->window = window;
		reader->window_capacity = capacity;
	}
	uint64_t want = reader->file_size - offset;
	if (want > reader->window_capacity)
		want = reader->window_capacity;
	reader->window_offset = offset;
	reader->window_length = 0;
	int64_t result = kv_io_read_all(reader->gateway, reader->fd, reader->window, want, offset);
	if (result < 0)
		return dbos_io_status(result);
	reader->window_length = (uint64_t)result;
	if (reader->window_length < length)
		return DBOS_ECORRUPT; /* the file shrank under us: treated as its end */
	*bytes_out = reader->window;
	return DBOS_OK;
}

struct kv_wal_replay {
	uint64_t from_lsn;
	kv_wal_apply_fn apply;
	void *context;
	uint64_t position; /* LSN of the next record to read */
	uint64_t records;  /* records applied */
};

static dbos_status kv_wal_torn(bool *torn_out)
{
	*torn_out = true;
	return DBOS_OK;
}

/*
 * Read the records of one segment (first LSN `segment_lsn`, open in reader).
 * *torn_out: a record did not verify, so the log ends at replay->position.
 * An apply failure or a read error is returned.
 */
static dbos_status kv_wal_replay_segment(struct kv_wal_replay *replay, struct kv_wal_reader *reader,
					 uint64_t segment_lsn, bool *torn_out)
{
	*torn_out = false;
	for (;;) {
		uint64_t offset = replay->position - segment_lsn;
		uint64_t remaining = reader->file_size - offset;
		if (remaining == 0)
			return DBOS_OK;
		const uint8_t *header, *record;
		if (remaining < KV_WAL_HEADER_SIZE)
			break;
		dbos_status status = kv_wal_reader_need(reader, offset, KV_WAL_HEADER_SIZE, &header);
		if (status != DBOS_OK)
			return status == DBOS_ECORRUPT ? kv_wal_torn(torn_out) : status;
		uint32_t payload_size = kv_load_u32(header + 4);
		uint64_t lsn = kv_load_u64(header + 8);
		uint64_t record_bytes = kv_wal_record_bytes(payload_size);
		if (payload_size > KV_WAL_PAYLOAD_MAX || lsn != replay->position || record_bytes > remaining)
			break;
		status = kv_wal_reader_need(reader, offset, record_bytes, &record);
		if (status != DBOS_OK)
			return status == DBOS_ECORRUPT ? kv_wal_torn(torn_out) : status;
		if (kv_load_u32(record) != dbos_crc32c(0, record + 4, KV_WAL_HEADER_SIZE - 4 + (uint64_t)payload_size))
			break;
		if (lsn >= replay->from_lsn) {
			status = replay->apply(replay->context, lsn, record + KV_WAL_HEADER_SIZE, payload_size);
			if (status != DBOS_OK)
				return status;
			replay->records++;
		}
		replay->position += record_bytes;
	}
	*torn_out = true;
	return DBOS_OK;
}

/* Where replay starts: the segment holding from_lsn, else the oldest one. */
static uint64_t kv_wal_replay_first(const struct kv_wal_segments *segments, uint64_t from_lsn)
{
	uint64_t first = 0;
	for (uint64_t i = 0; i < segments->count; i++)
		if (segments->lsns[i] <= from_lsn)
			first = i;
	return first;
}

dbos_status kv_wal_replay(const char *dir, uint64_t from_lsn, dbos_gateway *gateway, kv_wal_apply_fn apply,
			  void *context, uint64_t *next_lsn_out, uint64_t *records_out)
{
	if (!dir || !apply || !next_lsn_out)
		return DBOS_EINVAL;
	dbos_status status = DBOS_OK;
	if (!gateway && (status = dbos_gateway_shared(&gateway)) != DBOS_OK)
		return status;
	struct kv_wal_segments segments;
	if ((status = kv_wal_segments_list(dir, &segments)) != DBOS_OK)
		return status;
	if (from_lsn < KV_WAL_FIRST_LSN)
		from_lsn = KV_WAL_FIRST_LSN;
	struct kv_wal_replay replay = { .from_lsn = from_lsn, .apply = apply, .context = context };
	struct kv_wal_reader reader = { .gateway = gateway, .fd = -1 };
	uint64_t first = kv_wal_replay_first(&segments, from_lsn);
	if (segments.count)
		replay.position = segments.lsns[first];
	for (uint64_t i = first; i < segments.count && status == DBOS_OK; i++) {
		if (segments.lsns[i] != replay.position)
			break; /* a gap: the segment that belonged here is gone */
		status = kv_wal_segment_open(gateway, dir, segments.lsns[i], false, false, &reader.fd);
		if (status == DBOS_OK)
			status = kv_wal_segment_size(gateway, reader.fd, &reader.file_size);
		reader.window_offset = reader.window_length = 0;
		bool torn = false;
		if (status == DBOS_OK)
			status = kv_wal_replay_segment(&replay, &reader, segments.lsns[i], &torn);
		kv_wal_segment_close(gateway, reader.fd);
		reader.fd = -1;
		if (torn)
			break;
	}
	if (reader.window)
		dbos_platform_free(reader.window, reader.window_capacity);
	kv_wal_segments_free(&segments);
	if (status != DBOS_OK)
		return status;
	/* A log that ends before from_lsn (lost after a checkpoint at from_lsn) continues at from_lsn. */
	uint64_t next_lsn = replay.position > from_lsn ? replay.position : from_lsn;
	*next_lsn_out = DBOS_ALIGN_UP(next_lsn, (uint64_t)KV_WAL_ALIGN);
	if (records_out)
		*records_out = replay.records;
	return DBOS_OK;
}
