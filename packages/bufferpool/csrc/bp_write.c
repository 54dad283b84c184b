/*
 * bp_write.c - putting pages and the file header on disk.
 *
 * Every page is sealed just before it is written: its own id and a CRC32C
 * over everything after the checksum field.  A read checks both, so a page
 * torn by a crash, damaged on the medium or written at the wrong offset is
 * caught when it comes back, not used.
 */
#include "bp_internal.h"

void bp_seal_page(dbos_bp *bp, uint64_t pid, uint8_t *page)
{
	dbos_bp_page_header *header = (dbos_bp_page_header *)page;
	header->pid = pid;
	header->checksum = dbos_crc32c(0, page + sizeof header->checksum, bp->page_size - sizeof header->checksum);
}

void bp_write_pages(dbos_bp *bp, dbos_io_op *ops, const uint64_t *pids, uint8_t *const *addresses, uint32_t count,
		    int64_t *results)
{
	for (uint32_t i = 0; i < count; i++)
		ops[i] = (dbos_io_op){ .opcode = DBOS_IO_PWRITE,
				       .fd = bp->fd,
				       .offset = bp_offset(bp, pids[i]),
				       .address = (uint64_t)(uintptr_t)addresses[i],
				       .length = bp->page_size };
	atomic_fetch_add_explicit(&bp->writes_in_flight, count, memory_order_relaxed);
	dbos_status status = dbos_gateway_run(bp->gateway, ops, results, count);
	atomic_fetch_sub_explicit(&bp->writes_in_flight, count, memory_order_relaxed);
	if (status != DBOS_OK) {
		for (uint32_t i = 0; i < count; i++)
			results[i] = -5; /* EIO: the gateway refused the batch */
		return;
	}
	uint64_t written = 0;
	for (uint32_t i = 0; i < count; i++)
		written += results[i] == (int64_t)bp->page_size;
	atomic_fetch_add_explicit(&bp->pages_written, written, memory_order_relaxed);
}

dbos_status bp_sync(dbos_bp *bp)
{
	dbos_io_op op = { .opcode = DBOS_IO_FDATASYNC, .fd = bp->fd };
	int64_t result = 0;
	dbos_status status = dbos_gateway_run(bp->gateway, &op, &result, 1);
	if (status != DBOS_OK)
		return bp_fail(bp, status, DBOS_BP_REASON_IO, 0, 0, 0, 0);
	if (result < 0)
		return bp_fail(bp, dbos_io_status(result), DBOS_BP_REASON_IO, 0, (int32_t)-result, 0, 0);
	return DBOS_OK;
}

dbos_status bp_write_file_header(dbos_bp *bp)
{
	uint8_t *page = bp->header_page; /* page-aligned for O_DIRECT */
	__builtin_memset(page, 0, BP_FILE_HEADER_BYTES);
	dbos_bp_file_header header = {
		.magic = DBOS_BP_FILE_MAGIC,
		.format_version = DBOS_BP_FORMAT_VERSION,
		.page_size = bp->page_size,
		.page_count = atomic_load_explicit(&bp->page_count, memory_order_acquire),
		.free_head = atomic_load_explicit(&bp->free_head, memory_order_relaxed),
		.free_count = atomic_load_explicit(&bp->free_count, memory_order_relaxed),
	};
	header.checksum = dbos_crc32c(0, &header, sizeof header);
	__builtin_memcpy(page, &header, sizeof header);
	dbos_io_op op = { .opcode = DBOS_IO_PWRITE,
			  .fd = bp->fd,
			  .offset = 0,
			  .address = (uint64_t)(uintptr_t)page,
			  .length = BP_FILE_HEADER_BYTES };
	int64_t result = 0;
	dbos_status status = dbos_gateway_run(bp->gateway, &op, &result, 1);
	if (status != DBOS_OK)
		return bp_fail(bp, status, DBOS_BP_REASON_IO, 0, 0, 0, 0);
	if (result != (int64_t)BP_FILE_HEADER_BYTES)
		return bp_fail(bp, result < 0 ? dbos_io_status(result) : DBOS_EIO, DBOS_BP_REASON_IO, 0,
			       result < 0 ? (int32_t)-result : 0, 0, 0);
	return DBOS_OK;
}
