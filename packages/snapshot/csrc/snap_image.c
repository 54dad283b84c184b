/* snap_image.c - the checksummed image format: header, pages, CRC32C table, trailer. */
#include "snap_internal.h"

/* Bytes per page in an image: the page and its CRC32C in the table. */
#define SNAP_IMAGE_PAGE_BYTES ((uint64_t)DBOS_PAGE_SIZE + sizeof(uint32_t))
#define SNAP_IMAGE_FIXED_BYTES ((uint64_t)DBOS_SNAP_IMAGE_HEADER_SIZE + sizeof(dbos_snap_image_trailer))

uint64_t dbos_snap_image_size(uint64_t page_count)
{
	/* A header claiming 2^52 pages must not wrap to a small size that a short file matches. */
	if (page_count > (UINT64_MAX - SNAP_IMAGE_FIXED_BYTES) / SNAP_IMAGE_PAGE_BYTES)
		return UINT64_MAX;
	return SNAP_IMAGE_FIXED_BYTES + page_count * SNAP_IMAGE_PAGE_BYTES;
}

void snap_image_header_fill(dbos_snap_image_header *header, uint64_t page_count, uint64_t epoch, uint64_t taken_ns,
			    enum dbos_snap_mechanism mechanism)
{
	__builtin_memset(header, 0, sizeof(*header));
	__builtin_memcpy(header->magic, DBOS_SNAP_IMAGE_MAGIC, 8);
	header->version = DBOS_SNAP_IMAGE_VERSION;
	header->header_size = DBOS_SNAP_IMAGE_HEADER_SIZE;
	header->page_size = DBOS_PAGE_SIZE;
	header->checksum = DBOS_SNAP_IMAGE_CHECKSUM_CRC32C;
	header->page_count = page_count;
	header->epoch = epoch;
	header->taken_ns = taken_ns;
	header->mechanism = (uint32_t)mechanism;
	header->header_crc32c = dbos_crc32c(0, header, sizeof(*header));
}

dbos_status snap_image_header_check(const dbos_snap_image_header *header)
{
	dbos_snap_image_header copy = *header;
	copy.header_crc32c = 0;
	if (__builtin_memcmp(header->magic, DBOS_SNAP_IMAGE_MAGIC, 8) != 0 ||
	    header->version != DBOS_SNAP_IMAGE_VERSION || header->header_size != DBOS_SNAP_IMAGE_HEADER_SIZE ||
	    header->page_size != DBOS_PAGE_SIZE || header->checksum != DBOS_SNAP_IMAGE_CHECKSUM_CRC32C ||
	    header->page_count > DBOS_SNAP_PAGE_COUNT_MAX ||
	    dbos_crc32c(0, &copy, sizeof(copy)) != header->header_crc32c)
		return DBOS_ECORRUPT;
	return DBOS_OK;
}

dbos_status snap_image_header_block_check(const uint8_t *block, dbos_snap_image_header *header_out)
{
	__builtin_memcpy(header_out, block, sizeof(*header_out));
	/* The padding is reserved and written as zeros: a flipped bit there is corruption too. */
	for (uint32_t i = sizeof(*header_out); i < DBOS_SNAP_IMAGE_HEADER_SIZE; i++)
		if (block[i] != 0)
			return DBOS_ECORRUPT;
	return snap_image_header_check(header_out);
}

static void snap_image_trailer_fill(dbos_snap_image_trailer *trailer, const dbos_snap_image_header *header,
				    uint32_t table_crc32c)
{
	__builtin_memset(trailer, 0, sizeof(*trailer));
	__builtin_memcpy(trailer->magic, DBOS_SNAP_IMAGE_TRAILER_MAGIC, 8);
	trailer->page_count = header->page_count;
	trailer->table_offset = DBOS_SNAP_IMAGE_HEADER_SIZE + header->page_count * DBOS_PAGE_SIZE;
	trailer->table_crc32c = table_crc32c;
	trailer->header_crc32c = header->header_crc32c;
	trailer->trailer_crc32c = dbos_crc32c(0, trailer, sizeof(*trailer));
}

dbos_status snap_image_trailer_check(const dbos_snap_image_trailer *trailer, const dbos_snap_image_header *header)
{
	dbos_snap_image_trailer copy = *trailer;
	copy.trailer_crc32c = 0;
	if (__builtin_memcmp(trailer->magic, DBOS_SNAP_IMAGE_TRAILER_MAGIC, 8) != 0 ||
	    trailer->page_count != header->page_count ||
	    trailer->table_offset != DBOS_SNAP_IMAGE_HEADER_SIZE + header->page_count * DBOS_PAGE_SIZE ||
	    trailer->header_crc32c != header->header_crc32c ||
	    dbos_crc32c(0, &copy, sizeof(copy)) != trailer->trailer_crc32c)
		return DBOS_ECORRUPT;
	return DBOS_OK;
}

/* ---- Producing an image: a ring of requests, one filling while the others are written. ---- */

typedef struct snap_stream_state {
	const snap_image_stream *stream;
	uint64_t offset;                        /* file offset of the current request's first byte */
	uint64_t fill;                          /* bytes in the current request */
	uint32_t extent_count;                  /* extents in the current request */
	uint32_t current;                       /* request being filled */
	bool pending[SNAP_STREAM_BUFFER_COUNT]; /* a write of that request is in flight */
	uint64_t total;
	uint64_t done;
	uint64_t reported;
} snap_stream_state;

/* Append `length` bytes at `bytes` to the current request, merging with the last extent. */
static void snap_stream_extent_add(snap_stream_state *state, const uint8_t *bytes, uint64_t length)
{
	snap_image_extent *extents = state->stream->extents[state->current];
	if (state->extent_count > 0) {
		snap_image_extent *last = &extents[state->extent_count - 1];
		if (last->bytes + last->length == bytes) {
			last->length += length;
			state->fill += length;
			return;
		}
	}
	DBOS_ASSERT(state->extent_count < SNAP_STREAM_EXTENT_MAX);
	extents[state->extent_count++] = (snap_image_extent){ bytes, length };
	state->fill += length;
}

static dbos_status snap_stream_flush(snap_stream_state *state)
{
	const snap_image_stream *stream = state->stream;
	if (state->fill == 0)
		return DBOS_OK;
	uint32_t index = state->current;
	dbos_status status = stream->sink.start(stream->sink.context, index, state->offset, stream->extents[index],
						state->extent_count, state->fill);
	if (status != DBOS_OK)
		return status;
	state->pending[index] = true;
	state->offset += state->fill;
	state->done += state->fill;
	state->fill = 0;
	state->extent_count = 0;
	/* Move to the next request of the ring: its write (the oldest) must be done before we fill it. */
	state->current = (index + 1) % SNAP_STREAM_BUFFER_COUNT;
	if (state->pending[state->current]) {
		state->pending[state->current] = false;
		status = stream->sink.finish(stream->sink.context, state->current);
	}
	if (status == DBOS_OK && stream->on_progress &&
	    state->done - state->reported >= stream->progress_interval_bytes) {
		state->reported = state->done;
		stream->on_progress(stream->progress_context, state->done, state->total);
	}
	return status;
}

/* Stage bytes into the current request (header, table, trailer). */
static dbos_status snap_stream_put(snap_stream_state *state, const void *bytes, uint64_t length)
{
	const uint8_t *from = bytes;
	while (length) {
		uint64_t room = SNAP_STREAM_BUFFER_SIZE - state->fill;
		uint64_t chunk = room < length ? room : length;
		uint8_t *staged = state->stream->buffers[state->current] + state->fill;
		__builtin_memcpy(staged, from, chunk);
		snap_stream_extent_add(state, staged, chunk);
		from += chunk;
		length -= chunk;
		if (state->fill == SNAP_STREAM_BUFFER_SIZE) {
			dbos_status status = snap_stream_flush(state);
			if (status != DBOS_OK)
				return status;
		}
	}
	return DBOS_OK;
}

/*
 * Pages are checksummed where the source points: a frame that stays unchanged is written from
 * where it is (no copy), anything else from the request's buffer, where the source copied it.
 */
static dbos_status snap_stream_pages(snap_stream_state *state)
{
	const snap_image_stream *stream = state->stream;
	const uint8_t *pages[SNAP_STREAM_BUFFER_PAGES];
	uint64_t page = 0;
	while (page < stream->page_count) {
		if (stream->cancel && *stream->cancel)
			return DBOS_ECLOSED;
		DBOS_ASSERT(DBOS_IS_ALIGNED(state->fill, (uint64_t)DBOS_PAGE_SIZE));
		uint64_t room = (SNAP_STREAM_BUFFER_SIZE - state->fill) / DBOS_PAGE_SIZE;
		uint64_t count = stream->page_count - page < room ? stream->page_count - page : room;
		uint8_t *staging = stream->buffers[state->current] + state->fill;
		dbos_status status = stream->source(stream->source_context, page, count, staging, pages);
		if (status != DBOS_OK)
			return status;
		for (uint64_t i = 0; i < count; i++) {
			DBOS_ASSERT(pages[i] && DBOS_IS_ALIGNED((uintptr_t)pages[i], DBOS_PAGE_SIZE));
			/* Copy frames lie anywhere: start the next one's misses while this one is checksummed. */
			if (i + 1 < count)
				for (uint32_t line = 0; line < DBOS_PAGE_SIZE; line += 64)
					__builtin_prefetch(pages[i + 1] + line);
			stream->table[page + i] = dbos_crc32c(0, pages[i], DBOS_PAGE_SIZE);
			snap_stream_extent_add(state, pages[i], DBOS_PAGE_SIZE);
		}
		page += count;
		if (state->fill == SNAP_STREAM_BUFFER_SIZE) {
			status = snap_stream_flush(state);
			if (status != DBOS_OK)
				return status;
		}
	}
	return DBOS_OK;
}

size_t snap_image_stream_memory_size(uint64_t page_count)
{
	uint64_t extents_size = SNAP_STREAM_BUFFER_COUNT * SNAP_STREAM_EXTENT_MAX * sizeof(snap_image_extent);
	return SNAP_STREAM_BUFFER_COUNT * SNAP_STREAM_BUFFER_SIZE + DBOS_ALIGN_UP(extents_size, DBOS_PAGE_SIZE) +
	       DBOS_ALIGN_UP(page_count * sizeof(uint32_t), DBOS_PAGE_SIZE);
}

void snap_image_stream_memory_set(snap_image_stream *stream, uint8_t *memory)
{
	DBOS_ASSERT(DBOS_IS_ALIGNED((uintptr_t)memory, DBOS_PAGE_SIZE));
	uint64_t extents_size = SNAP_STREAM_BUFFER_COUNT * SNAP_STREAM_EXTENT_MAX * sizeof(snap_image_extent);
	snap_image_extent *extents = (snap_image_extent *)(memory + SNAP_STREAM_BUFFER_COUNT * SNAP_STREAM_BUFFER_SIZE);
	for (uint32_t i = 0; i < SNAP_STREAM_BUFFER_COUNT; i++) {
		stream->buffers[i] = memory + i * SNAP_STREAM_BUFFER_SIZE;
		stream->extents[i] = extents + i * SNAP_STREAM_EXTENT_MAX;
	}
	stream->table = (uint32_t *)((uint8_t *)extents + DBOS_ALIGN_UP(extents_size, DBOS_PAGE_SIZE));
}

static dbos_status snap_stream_drain(snap_stream_state *state, dbos_status status)
{
	const snap_image_stream *stream = state->stream;
	for (uint32_t i = 0; i < SNAP_STREAM_BUFFER_COUNT; i++) {
		if (!state->pending[i])
			continue;
		state->pending[i] = false;
		dbos_status finished = stream->sink.finish(stream->sink.context, i);
		if (status == DBOS_OK)
			status = finished;
	}
	return status;
}

dbos_status snap_image_produce(const snap_image_stream *stream, uint64_t *bytes_out)
{
	for (uint32_t i = 0; i < SNAP_STREAM_BUFFER_COUNT; i++)
		DBOS_ASSERT(stream->buffers[i] && DBOS_IS_ALIGNED((uintptr_t)stream->buffers[i], DBOS_PAGE_SIZE) &&
			    stream->extents[i]);
	DBOS_ASSERT(stream->table && stream->source);
	snap_stream_state state = { .stream = stream, .total = dbos_snap_image_size(stream->page_count) };
	dbos_snap_image_header header;
	snap_image_header_fill(&header, stream->page_count, stream->epoch, stream->taken_ns, stream->mechanism);

	/* 1. Header, zero padded to DBOS_SNAP_IMAGE_HEADER_SIZE so pages stay page aligned. */
	__builtin_memset(stream->buffers[0], 0, DBOS_SNAP_IMAGE_HEADER_SIZE);
	__builtin_memcpy(stream->buffers[0], &header, sizeof(header));
	snap_stream_extent_add(&state, stream->buffers[0], DBOS_SNAP_IMAGE_HEADER_SIZE);
	/* 2. Pages, each checksummed into the table as it passes. */
	dbos_status status = snap_stream_pages(&state);
	/* 3. The table, then the trailer that checksums it. */
	if (status == DBOS_OK)
		status = snap_stream_put(&state, stream->table, stream->page_count * sizeof(uint32_t));
	if (status == DBOS_OK) {
		dbos_snap_image_trailer trailer;
		uint32_t table_crc32c = dbos_crc32c(0, stream->table, stream->page_count * sizeof(uint32_t));
		snap_image_trailer_fill(&trailer, &header, table_crc32c);
		status = snap_stream_put(&state, &trailer, sizeof(trailer));
	}
	if (status == DBOS_OK)
		status = snap_stream_flush(&state);
	status = snap_stream_drain(&state, status);
	if (status == DBOS_OK) {
		DBOS_ASSERT(state.done == state.total);
		if (stream->on_progress)
			stream->on_progress(stream->progress_context, state.done, state.total);
	}
	if (bytes_out)
		*bytes_out = state.done;
	return status;
}
