/*
 * gateway_table.h - the op table src/gateway.ts encodes and binding/gateway.cc
 * decodes: one row of Float64 fields per op, one row per iovec, so a whole
 * batch crosses from JavaScript in one call.  test/abi.test.ts pins the
 * TypeScript copies of these numbers (src/abi.ts) to this header.
 */
#ifndef DBOS_GATEWAY_TABLE_H
#define DBOS_GATEWAY_TABLE_H

#include <stdint.h>

/* The fields of one op's row. */
enum dbos_gateway_table_op_field {
	DBOS_TABLE_OP_OPCODE = 0,
	DBOS_TABLE_OP_FD,
	DBOS_TABLE_OP_POSITION, /* file offset; ftruncate: size */
	DBOS_TABLE_OP_LENGTH,   /* bytes; iovec count; fallocate: bytes */
	DBOS_TABLE_OP_FLAGS,
	DBOS_TABLE_OP_MODE,
	DBOS_TABLE_OP_BUFFER,        /* index into the buffers array, -1: none; preadv/pwritev: first iovec */
	DBOS_TABLE_OP_BUFFER_OFFSET, /* byte offset in that buffer */
	DBOS_TABLE_OP_PATH,          /* index of a NUL-terminated path buffer, -1: none */
	DBOS_TABLE_OP_FIELDS
};

/* The fields of one iovec's row. */
enum dbos_gateway_table_vec_field {
	DBOS_TABLE_VEC_BUFFER = 0,
	DBOS_TABLE_VEC_OFFSET,
	DBOS_TABLE_VEC_LENGTH,
	DBOS_TABLE_VEC_FIELDS
};

/*
 * Bytes one pread/pwrite op of a JavaScript batch may move.  The C gateway
 * has no such limit; the binding keeps a single op's result well inside an
 * int32 result array (readBatch) and a double.
 */
#define DBOS_TABLE_TRANSFER_SIZE_MAX (UINT64_C(1) << 30)

#endif /* DBOS_GATEWAY_TABLE_H */
