/*
 * kv_checkpoint.c - writing a checkpoint image from an epoch (layout in
 * kv_checkpoint_format.h).
 *
 * Every page 1 .. page_count - 1 is read as of the epoch (its copy, or the
 * current page latched shared for as long as a memcpy takes), sealed into a
 * large buffer and written sequentially.  Two buffers take turns: one is
 * being written by the gateway while the next is filled, so copying and
 * checksumming overlap the I/O.  The file is built under a .tmp name,
 * synced, then renamed (kv_fs_rename syncs the directory), so
 * checkpoint.<lsn> is either complete or absent.  Any failure or a cancel
 * deletes the .tmp file.
 */
#include "dbos/io_linux.h"
#include "dbos/platform.h"
#include "kv_checkpoint_format.h"

struct kv_checkpoint_buffer {
	uint8_t *bytes;      /* KV_CHECKPOINT_IO_BYTES */
	uint64_t used;       /* bytes filled */
	uint64_t offset;     /* file offset of bytes[0] */
	uint64_t page_bytes; /* page bytes among them, for progress */
	bool in_flight;      /* its write is with the gateway */
	dbos_io_op op;
	int64_t result;
	dbos_io_batch batch;
};

struct kv_checkpoint_writer {
	dbos_gateway *gateway;
	int32_t fd;
	struct kv_checkpoint_buffer buffers[2];
	uint32_t filling;    /* the buffer being filled; the other may be in flight */
	uint64_t end;        /* file offset after everything handed out so far */
	uint64_t synced_end; /* file offset up to which an fdatasync was asked for */
	uint32_t pages_crc;  /* chained over the page checksums */
	uint64_t done_bytes; /* page bytes on their way to the file, for progress */
	uint64_t total_bytes;
	dbos_kv_progress_fn progress;
	void *context;
};

/* Wait for a buffer's write; a short write is finished synchronously.  Then report progress. */
static dbos_status kv_checkpoint_finish(struct kv_checkpoint_writer *writer, struct kv_checkpoint_buffer *buffer)
{
	if (!buffer->in_flight)
		return DBOS_OK;
	dbos_gateway_wait(writer->gateway, &buffer->batch, UINT64_MAX);
	buffer->in_flight = false;
	int64_t result = buffer->result;
	if (result >= 0 && (uint64_t)result < buffer->used) /* a signal, a disk filling up: go on, or get the error */
		result = kv_io_write_all(writer->gateway, writer->fd, buffer->bytes + result,
					 buffer->used - (uint64_t)result, buffer->offset + (uint64_t)result);
	if (result < 0)
		return dbos_io_status(result);
	buffer->used = 0;
	writer->done_bytes += buffer->page_bytes;
	buffer->page_bytes = 0;
	if (writer->progress && !writer->progress(writer->context, writer->done_bytes, writer->total_bytes))
		return DBOS_ECANCELED;
	return DBOS_OK;
}

/* Hand the filling buffer to the gateway and make the other one the filling one (once its write is done). */
static dbos_status kv_checkpoint_submit(struct kv_checkpoint_writer *writer)
{
	struct kv_checkpoint_buffer *buffer = &writer->buffers[writer->filling];
	buffer->offset = writer->end;
	buffer->op = (dbos_io_op){ .opcode = DBOS_IO_PWRITE,
				   .fd = writer->fd,
				   .address = (uint64_t)(uintptr_t)buffer->bytes,
				   .length = buffer->used,
				   .offset = buffer->offset };
	dbos_io_batch_init(&buffer->batch, &buffer->op, &buffer->result, 1);
	dbos_status status = dbos_gateway_submit(writer->gateway, &buffer->batch);
	if (status != DBOS_OK)
		return status;
	buffer->in_flight = true;
	writer->end += buffer->used;
	writer->filling ^= 1;
	status = kv_checkpoint_finish(writer, &writer->buffers[writer->filling]);
	if (status != DBOS_OK || writer->end - writer->synced_end < KV_CHECKPOINT_SYNC_BYTES)
		return status;
	/*
	 * Sync as the image grows: an image of gigabytes left dirty in the page cache until one
	 * fdatasync at the end makes the kernel throttle every writer of the machine once dirty data
	 * passes its limits, the log's writes among them, and acknowledged writes wait for those.
	 */
	writer->synced_end = writer->end;
	int64_t result = kv_checkpoint_sync_file(writer->gateway, writer->fd);
	return result < 0 ? dbos_io_status(result) : DBOS_OK;
}

/* Wait for every write still with the gateway (also on failure: the buffers are freed after). */
static dbos_status kv_checkpoint_finish_all(struct kv_checkpoint_writer *writer)
{
	/* The older write first, so progress counts in file order. */
	dbos_status status = kv_checkpoint_finish(writer, &writer->buffers[writer->filling ^ 1]);
	dbos_status last = kv_checkpoint_finish(writer, &writer->buffers[writer->filling]);
	return status != DBOS_OK ? status : last;
}

static dbos_status kv_checkpoint_write_pages(struct kv_checkpoint_writer *writer, struct kv_epoch *epoch,
					     uint32_t page_size, uint64_t page_count)
{
	for (uint64_t pid = 1; pid < page_count; pid++) {
		struct kv_checkpoint_buffer *buffer = &writer->buffers[writer->filling];
		if (buffer->used + page_size > KV_CHECKPOINT_IO_BYTES) {
			dbos_status status = kv_checkpoint_submit(writer);
			if (status != DBOS_OK)
				return status;
			buffer = &writer->buffers[writer->filling];
		}
		struct kv_epoch_pin pin;
		dbos_status status = kv_epoch_fix(epoch, pid, &pin);
		if (status != DBOS_OK)
			return status;
		DBOS_ASSERT(pin.pid == pid);
		uint8_t *image = buffer->bytes + buffer->used;
		__builtin_memcpy(image, pin.page, page_size);
		kv_epoch_unfix(epoch, &pin);
		/* In memory a page's checksum is stale until the pool writes it: seal the image here. */
		uint32_t checksum = kv_checkpoint_page_seal(image, page_size, pid);
		writer->pages_crc = dbos_crc32c(writer->pages_crc, &checksum, sizeof checksum);
		buffer->used += page_size;
		buffer->page_bytes += page_size;
	}
	return DBOS_OK;
}

static dbos_status kv_checkpoint_write_file(struct kv_checkpoint_writer *writer, struct kv_epoch *epoch, uint64_t lsn)
{
	dbos_bp_file_header state;
	kv_epoch_file_state(epoch, &state);
	struct kv_checkpoint_header header = { .magic = KV_CHECKPOINT_MAGIC,
					       .format_version = KV_CHECKPOINT_FORMAT_VERSION,
					       .page_size = state.page_size,
					       .page_count = state.page_count,
					       .free_head = state.free_head,
					       .free_count = state.free_count,
					       .lsn = lsn };
	kv_checkpoint_header_seal(&header);
	/* The header block opens the first buffer; the pages follow it. */
	struct kv_checkpoint_buffer *first = &writer->buffers[writer->filling];
	__builtin_memset(first->bytes, 0, KV_CHECKPOINT_HEADER_BYTES);
	__builtin_memcpy(first->bytes, &header, sizeof header);
	first->used = KV_CHECKPOINT_HEADER_BYTES;
	writer->total_bytes = (state.page_count - 1) * state.page_size;
	dbos_status status = kv_checkpoint_write_pages(writer, epoch, state.page_size, state.page_count);
	if (status != DBOS_OK)
		return status;
	/* The trailer closes the last buffer (there is room: the buffer is a whole number of pages). */
	struct kv_checkpoint_buffer *last = &writer->buffers[writer->filling];
	if (last->used + sizeof(struct kv_checkpoint_trailer) > KV_CHECKPOINT_IO_BYTES) {
		if ((status = kv_checkpoint_submit(writer)) != DBOS_OK)
			return status;
		last = &writer->buffers[writer->filling];
	}
	struct kv_checkpoint_trailer trailer = { .magic = KV_CHECKPOINT_TRAILER_MAGIC,
						 .lsn = lsn,
						 .page_count = state.page_count,
						 .pages_crc = writer->pages_crc };
	kv_checkpoint_trailer_seal(&trailer);
	__builtin_memcpy(last->bytes + last->used, &trailer, sizeof trailer);
	last->used += sizeof trailer;
	if ((status = kv_checkpoint_submit(writer)) != DBOS_OK ||
	    (status = kv_checkpoint_finish_all(writer)) != DBOS_OK)
		return status;
	int64_t result = kv_checkpoint_sync_file(writer->gateway, writer->fd);
	return result < 0 ? dbos_io_status(result) : DBOS_OK;
}

dbos_status kv_checkpoint_write(struct kv_epoch *epoch, const char *dir, uint64_t lsn, dbos_gateway *gateway,
				dbos_kv_progress_fn progress, void *context)
{
	if (!epoch || !dir || !gateway)
		return DBOS_EINVAL;
	char temporary[KV_NAME_MAX + 1], final[KV_NAME_MAX + 1];
	kv_checkpoint_name(temporary, lsn, true);
	kv_checkpoint_name(final, lsn, false);
	struct kv_checkpoint_writer writer = { .gateway = gateway, .progress = progress, .context = context };
	/* One allocation for both buffers. */
	uint8_t *buffers = dbos_platform_alloc(2 * KV_CHECKPOINT_IO_BYTES);
	if (!buffers)
		return DBOS_ENOMEM;
	writer.buffers[0].bytes = buffers;
	writer.buffers[1].bytes = buffers + KV_CHECKPOINT_IO_BYTES;
	int64_t fd =
		kv_checkpoint_open_file(gateway, dir, temporary, DBOS_IO_O_WRONLY | DBOS_IO_O_CREAT | DBOS_IO_O_TRUNC);
	dbos_status status = fd < 0 ? dbos_io_status(fd) : DBOS_OK;
	if (status == DBOS_OK) {
		writer.fd = (int32_t)fd;
		status = kv_checkpoint_write_file(&writer, epoch, lsn);
		/* After a failure or a cancel a write may still be in flight: it must end before its buffer goes. */
		writer.progress = NULL;
		(void)kv_checkpoint_finish_all(&writer);
		kv_checkpoint_close_file(gateway, writer.fd);
		if (status == DBOS_OK)
			status = kv_fs_rename(dir, temporary, final);
		if (status != DBOS_OK)
			(void)kv_fs_unlink(dir, temporary); /* a partial image is never left behind */
	}
	dbos_platform_free(buffers, 2 * KV_CHECKPOINT_IO_BYTES);
	return status;
}
