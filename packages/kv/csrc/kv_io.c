/*
 * kv_io.c - the store's file I/O through the system-call gateway: one operation
 * at a time, and whole buffers.
 *
 * The log and the checkpoints write large sequential buffers; a short transfer
 * (a signal, a full disk reached halfway) is continued from where it stopped, and
 * a transfer of zero bytes is an error rather than a loop.
 */
#include "dbos/io_linux.h"
#include "kv_internal.h"

int64_t kv_io_run(dbos_gateway *gateway, const dbos_io_op *op)
{
	int64_t result = 0;
	if (dbos_gateway_run(gateway, op, &result, 1) != DBOS_OK)
		return -DBOS_IO_EIO;
	return result;
}

static int64_t kv_io_transfer(dbos_gateway *gateway, uint8_t opcode, int32_t fd, uint64_t address, uint64_t length,
			      uint64_t offset)
{
	uint64_t done = 0;
	while (done < length) {
		dbos_io_op op = { 0 };
		op.opcode = opcode;
		op.fd = fd;
		op.address = address + done;
		op.length = length - done;
		op.offset = offset + done;
		int64_t result = kv_io_run(gateway, &op);
		if (result == -DBOS_IO_EINTR || result == -DBOS_IO_EAGAIN)
			continue;
		if (result < 0)
			return result;
		if (result == 0) /* end of file on a read; a write that makes no progress */
			return opcode == DBOS_IO_PREAD ? (int64_t)done : -DBOS_IO_ENOSPC;
		done += (uint64_t)result;
	}
	return (int64_t)done;
}

int64_t kv_io_write_all(dbos_gateway *gateway, int32_t fd, const void *buffer, uint64_t length, uint64_t offset)
{
	return kv_io_transfer(gateway, DBOS_IO_PWRITE, fd, (uint64_t)(uintptr_t)buffer, length, offset);
}

int64_t kv_io_read_all(dbos_gateway *gateway, int32_t fd, void *buffer, uint64_t length, uint64_t offset)
{
	return kv_io_transfer(gateway, DBOS_IO_PREAD, fd, (uint64_t)(uintptr_t)buffer, length, offset);
}
