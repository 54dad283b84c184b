/*
 * kv_record.c - the log's batch payload: the operations of one dbos_kv_write.
 *
 *   [u32 op count]
 *   per op: [u8 type][u8 0][u16 0][u32 key size][u64 value size][key][value]
 *
 * little-endian, no padding between ops.  Decoding is hostile-input code: a
 * record whose CRC matched can still be the product of a bug or of a crafted
 * file, so every size is checked against the bytes that remain and against
 * the limits of dbos/kv.h before anything is read, and the whole payload is
 * validated before the first op is handed out - a batch is applied entirely
 * or not at all.
 */
#include "kv_wal.h"

#define KV_RECORD_COUNT_SIZE 4u
#define KV_RECORD_OP_HEADER_SIZE 16u

/* An op's encoded size; a value size past 32 bits is clamped there so that sums cannot wrap. */
static uint64_t kv_record_op_size(const dbos_kv_op *op)
{
	uint64_t value_size = op->type == DBOS_KV_PUT ? op->value_size : 0;
	if (value_size > UINT32_MAX)
		value_size = (uint64_t)UINT32_MAX + 1;
	return KV_RECORD_OP_HEADER_SIZE + (uint64_t)op->key_size + value_size;
}

uint64_t kv_record_size(const dbos_kv_op *ops, uint32_t count)
{
	uint64_t size = KV_RECORD_COUNT_SIZE;
	for (uint32_t i = 0; i < count; i++) {
		size += kv_record_op_size(&ops[i]); /* below 2^35 per op, and size stays below 2^32 */
		if (size > UINT32_MAX)
			return 0;
	}
	return size;
}

void kv_record_encode(const dbos_kv_op *ops, uint32_t count, void *payload)
{
	uint8_t *out = payload;
	kv_store_u32(out, count);
	out += KV_RECORD_COUNT_SIZE;
	for (uint32_t i = 0; i < count; i++) {
		const dbos_kv_op *op = &ops[i];
		DBOS_ASSERT(op->type == DBOS_KV_PUT || op->type == DBOS_KV_DEL);
		uint64_t value_size = op->type == DBOS_KV_PUT ? op->value_size : 0;
		out[0] = (uint8_t)op->type;
		out[1] = out[2] = out[3] = 0;
		kv_store_u32(out + 4, op->key_size);
		kv_store_u64(out + 8, value_size);
		out += KV_RECORD_OP_HEADER_SIZE;
		if (op->key_size)
			__builtin_memcpy(out, op->key, op->key_size);
		out += op->key_size;
		if (value_size)
			__builtin_memcpy(out, op->value, value_size);
		out += value_size;
	}
}

/*
 * Check the op at bytes[offset] and fill *op from it; its end in *next_out.
 * Every bound is checked by subtraction from what remains, never by an
 * addition that could wrap.
 */
static dbos_status kv_record_read_op(const uint8_t *bytes, uint32_t size, uint32_t offset, dbos_kv_op *op,
				     uint32_t *next_out)
{
	uint32_t remaining = size - offset;
	if (remaining < KV_RECORD_OP_HEADER_SIZE)
		return DBOS_ECORRUPT;
	const uint8_t *header = bytes + offset;
	uint32_t type = header[0];
	uint32_t key_size = kv_load_u32(header + 4);
	uint64_t value_size = kv_load_u64(header + 8);
	if (header[1] || header[2] || header[3])
		return DBOS_ECORRUPT; /* reserved bytes: a newer format or damage */
	if (type != DBOS_KV_PUT && type != DBOS_KV_DEL)
		return DBOS_ECORRUPT;
	if (key_size == 0 || key_size > DBOS_KV_KEY_MAX || value_size > DBOS_KV_VALUE_MAX)
		return DBOS_ECORRUPT;
	if (type == DBOS_KV_DEL && value_size != 0)
		return DBOS_ECORRUPT;
	remaining -= KV_RECORD_OP_HEADER_SIZE;
	if (key_size > remaining || value_size > remaining - key_size)
		return DBOS_ECORRUPT;
	const uint8_t *key = header + KV_RECORD_OP_HEADER_SIZE;
	*op = (dbos_kv_op){ .type = type,
			    .key_size = key_size,
			    .value_size = value_size,
			    .key = key,
			    .value = value_size ? key + key_size : NULL };
	*next_out = offset + KV_RECORD_OP_HEADER_SIZE + key_size + (uint32_t)value_size;
	return DBOS_OK;
}

dbos_status kv_record_decode(const void *payload, uint32_t size,
			     dbos_status (*each)(void *context, const dbos_kv_op *op), void *context)
{
	if (!payload || !each)
		return DBOS_EINVAL;
	const uint8_t *bytes = payload;
	if (size < KV_RECORD_COUNT_SIZE)
		return DBOS_ECORRUPT;
	uint32_t count = kv_load_u32(bytes);
	if (count == 0 || count > DBOS_KV_BATCH_MAX)
		return DBOS_ECORRUPT;
	/* Pass 1: the whole payload verifies, with exactly `count` ops and no byte left over. */
	uint32_t offset = KV_RECORD_COUNT_SIZE;
	dbos_kv_op op;
	for (uint32_t i = 0; i < count; i++)
		if (kv_record_read_op(bytes, size, offset, &op, &offset) != DBOS_OK)
			return DBOS_ECORRUPT;
	if (offset != size)
		return DBOS_ECORRUPT;
	/* Pass 2: hand the ops out. */
	offset = KV_RECORD_COUNT_SIZE;
	for (uint32_t i = 0; i < count; i++) {
		DBOS_ASSERT(kv_record_read_op(bytes, size, offset, &op, &offset) == DBOS_OK);
		dbos_status status = each(context, &op);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}
