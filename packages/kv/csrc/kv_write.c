/*
 * kv_write.c - dbos_kv_write and the log positions writers wait for.
 *
 * A write is: check every operation (nothing is applied when one is bad), then
 * under the write lock apply the operations to the tree with the LSN the log
 * will give the batch, and queue the batch as one log record.  Readers see the
 * change at once; the commit thread makes it durable later (group commit).
 *
 * A failure while applying leaves some operations in the tree whose record will
 * never be in the log: the batch is not appended, and the store refuses every
 * later write until it is reopened.  Reopening rebuilds pages.db from the newest
 * checkpoint and the log (STATE is never marked clean for a failed store), so
 * the half batch disappears.
 */
#include "kv_store.h"

/* Records up to this size reuse one buffer; larger ones get their own for the call. */
#define KV_RECORD_BUFFER_KEEP (4u << 20)

dbos_status kv_apply_op(dbos_kv *kv, const dbos_kv_op *op, uint64_t lsn)
{
	if (op->type == DBOS_KV_PUT)
		return kv_tree_put(&kv->tree, op->key, op->key_size, op->value, op->value_size, lsn);
	bool found = false;
	return kv_tree_del(&kv->tree, op->key, op->key_size, lsn, &found);
}

static dbos_status kv_check_op(const dbos_kv_op *op, uint32_t index)
{
	if (op->type != DBOS_KV_PUT && op->type != DBOS_KV_DEL)
		return kv_fail_number(DBOS_EINVAL, 0, "write: ", "operation ", index, false,
				      " has an unknown type (DBOS_KV_PUT or DBOS_KV_DEL)");
	if (op->key_size == 0 || op->key_size > DBOS_KV_KEY_MAX)
		return kv_fail_number(DBOS_ERANGE, 0, "write: ", "operation ", index, false,
				      ": key size must be 1..1024 bytes");
	if (!op->key)
		return kv_fail_number(DBOS_EINVAL, 0, "write: ", "operation ", index, false, ": key is NULL");
	if (op->type == DBOS_KV_PUT) {
		if (op->value_size > DBOS_KV_VALUE_MAX)
			return kv_fail_number(DBOS_ERANGE, 0, "write: ", "operation ", index, false,
					      ": value larger than DBOS_KV_VALUE_MAX (512 MiB)");
		if (!op->value && op->value_size)
			return kv_fail_number(DBOS_EINVAL, 0, "write: ", "operation ", index, false, ": value is NULL");
	}
	return DBOS_OK;
}

static dbos_status kv_check_write(dbos_kv *kv, const dbos_kv_op *ops, uint32_t count, uint32_t flags)
{
	if (flags & ~(uint32_t)DBOS_KV_SYNC)
		return kv_fail(DBOS_EINVAL, 0, "write: unknown flags", NULL, NULL);
	if (kv->flags & DBOS_KV_READ_ONLY)
		return kv_fail(DBOS_EPERM, 0, "write: the store ", kv->dir, " is open read-only");
	if (count > DBOS_KV_BATCH_MAX)
		return kv_fail_number(DBOS_ERANGE, 0, "write: ", "more operations than DBOS_KV_BATCH_MAX: ", count,
				      false, NULL);
	if (!ops)
		return kv_fail(DBOS_EINVAL, 0, "write: ops is NULL", NULL, NULL);
	for (uint32_t i = 0; i < count; i++) {
		dbos_status status = kv_check_op(&ops[i], i);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

/* The shared buffer for a record of `size` <= KV_RECORD_BUFFER_KEEP bytes (write lock held). */
static void *kv_record_buffer(dbos_kv *kv, size_t size)
{
	if (kv->record_buffer_size < size) {
		if (kv->record_buffer)
			dbos_platform_free(kv->record_buffer, kv->record_buffer_size);
		kv->record_buffer_size = 0;
		size_t capacity = 64u << 10;
		while (capacity < size)
			capacity <<= 1;
		kv->record_buffer = dbos_platform_alloc(capacity);
		if (!kv->record_buffer)
			return NULL;
		kv->record_buffer_size = capacity;
	}
	return kv->record_buffer;
}

/* Apply and log one checked batch.  Write lock held. */
static dbos_status kv_write_locked(dbos_kv *kv, const dbos_kv_op *ops, uint32_t count, bool sync, uint64_t record_size,
				   void *record, bool encoded, uint64_t *lsn_out)
{
	if (atomic_load(&kv->failed))
		return kv_fail(DBOS_EIO, 0, "write: the store ", kv->dir, " failed earlier: close and reopen it");
	uint64_t lsn = kv_wal_next_lsn(kv->wal);
	/* 1. The tree: readers see the batch from here on. */
	for (uint32_t i = 0; i < count; i++) {
		dbos_status status = kv_apply_op(kv, &ops[i], lsn);
		if (status != DBOS_OK) {
			atomic_store(&kv->failed, true);
			return kv_fail_from_pool(kv, status,
						 "write: applying the batch failed halfway; the store "
						 "refuses writes until reopened");
		}
	}
	/* 2. The log, with the LSN the pages got. */
	if (!encoded)
		kv_record_encode(ops, count, record);
	uint64_t appended = 0;
	dbos_status status = kv_wal_append(kv->wal, record, (uint32_t)record_size, sync, &appended);
	if (status != DBOS_OK || appended != lsn) {
		atomic_store(&kv->failed, true); /* the tree has a batch the log does not */
		return kv_fail(DBOS_EIO, 0, "write: the log of ", kv->dir, " failed: close and reopen the store");
	}
	*lsn_out = lsn;
	return DBOS_OK;
}

dbos_status dbos_kv_write(dbos_kv *kv, const dbos_kv_op *ops, uint32_t count, uint32_t flags, uint64_t *lsn_out)
{
	if (lsn_out)
		*lsn_out = 0;
	if (!kv)
		return kv_fail(DBOS_EINVAL, 0, "write: kv is NULL", NULL, NULL);
	dbos_status status = kv_check_write(kv, ops, count, flags);
	if (status != DBOS_OK)
		return status;
	if (count == 0)
		return DBOS_OK; /* nothing to apply or log: LSN 0, which every wait has passed */
	uint64_t record_size = kv_record_size(ops, count);
	/* Checked before anything is applied: an append the log refuses would fail the store. */
	if (record_size == 0 || record_size > KV_WAL_PAYLOAD_MAX)
		return kv_fail_number(DBOS_ERANGE, 0,
				      "write: ", "the batch is larger than one log record (bytes: ", KV_WAL_PAYLOAD_MAX,
				      false, ")");

	/* A large record gets a buffer of its own and is encoded before the lock: big copies do not hold
	   other writers up, and its memory is not kept for the life of the store. */
	void *own_record = NULL;
	if (record_size > KV_RECORD_BUFFER_KEEP) {
		own_record = dbos_platform_alloc((size_t)record_size);
		if (!own_record)
			return kv_fail(DBOS_ENOMEM, 0, "write: out of memory for the log record", NULL, NULL);
		kv_record_encode(ops, count, own_record);
	}
	dbos_mutex_lock(&kv->write_lock);
	void *record = own_record ? own_record : kv_record_buffer(kv, (size_t)record_size);
	uint64_t lsn = 0;
	if (!record)
		status = kv_fail(DBOS_ENOMEM, 0, "write: out of memory for the log record", NULL, NULL);
	else
		status = kv_write_locked(kv, ops, count, (flags & DBOS_KV_SYNC) != 0, record_size, record,
					 own_record != NULL, &lsn);
	dbos_mutex_unlock(&kv->write_lock);
	if (own_record)
		dbos_platform_free(own_record, (size_t)record_size);
	if (status != DBOS_OK)
		return status;
	if (lsn_out)
		*lsn_out = lsn;
	kv_checkpoint_poke(kv);
	return DBOS_OK;
}

uint64_t dbos_kv_written_lsn(const dbos_kv *kv)
{
	if (!kv)
		return 0;
	return kv->wal ? kv_wal_written_lsn(kv->wal) : kv->base_lsn;
}

uint64_t dbos_kv_synced_lsn(const dbos_kv *kv)
{
	if (!kv)
		return 0;
	return kv->wal ? kv_wal_synced_lsn(kv->wal) : kv->base_lsn;
}

dbos_status dbos_kv_wait(dbos_kv *kv, uint64_t lsn, bool sync)
{
	if (!kv)
		return kv_fail(DBOS_EINVAL, 0, "wait: kv is NULL", NULL, NULL);
	if (lsn == 0)
		return DBOS_OK;
	if (!kv->wal) /* read-only: everything there is durable; nothing newer will come */
		return lsn < kv->base_lsn ? DBOS_OK
					  : kv_fail(DBOS_EINVAL, 0, "wait: no write of ", kv->dir, " has that LSN");
	if (lsn >= kv_wal_next_lsn(kv->wal)) /* no write has it yet: waiting would never end */
		return kv_fail_number(DBOS_EINVAL, 0, "wait: ", "no write has lsn ", lsn, true, " yet");
	dbos_status status = kv_wal_wait(kv->wal, lsn, sync);
	if (status != DBOS_OK)
		return kv_fail(status, 0, "wait: the log of ", kv->dir,
			       " failed (no space or an I/O error): the write may be lost; close and reopen the store");
	return DBOS_OK;
}

void dbos_kv_set_commit_listener(dbos_kv *kv, dbos_kv_commit_fn listener, void *context)
{
	if (kv && kv->wal)
		kv_wal_set_listener(kv->wal, listener, context);
}
