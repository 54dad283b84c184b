/*
 * kv_error.c - dbos_kv_last_error: the detail of the calling thread's last
 * failure (status, errno, lock holder, one line naming the file, page or record).
 *
 * The record lives in thread-local storage (host/kv_error_slot.c), so threads
 * using one store do not overwrite each other's detail.  Messages are built with a
 * small bounded text builder: the core has no printf, and a message that does not
 * fit is cut, never overflowed.
 */
#include "kv_store.h"

void kv_text_add(struct kv_text *text, const char *piece)
{
	if (!piece || text->size == 0)
		return;
	while (*piece && text->length + 1 < text->size)
		text->buffer[text->length++] = *piece++;
	text->buffer[text->length] = '\0';
}

void kv_text_add_u64(struct kv_text *text, uint64_t value, bool hex)
{
	char digits[24];
	size_t count = 0;
	unsigned base = hex ? 16u : 10u;
	do {
		digits[count++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value);
	char piece[27];
	size_t at = 0;
	if (hex) {
		piece[at++] = '0';
		piece[at++] = 'x';
	}
	while (count)
		piece[at++] = digits[--count];
	piece[at] = '\0';
	kv_text_add(text, piece);
}

static dbos_status kv_error_record(dbos_status status, int32_t errno_value, int32_t holder_pid,
				   const char *const *parts, size_t part_count, const uint64_t *number,
				   size_t number_after, bool hex)
{
	dbos_kv_error *error = kv_error_slot();
	error->status = status;
	error->errno_value = errno_value;
	error->holder_pid = holder_pid;
	error->reserved = 0;
	struct kv_text text = { error->message, sizeof error->message, 0 };
	error->message[0] = '\0';
	for (size_t i = 0; i < part_count; i++) {
		kv_text_add(&text, parts[i]);
		if (number && i == number_after)
			kv_text_add_u64(&text, *number, hex);
	}
	return status;
}

dbos_status kv_fail(dbos_status status, int32_t errno_value, const char *part1, const char *part2, const char *part3)
{
	const char *parts[3] = { part1, part2, part3 };
	return kv_error_record(status, errno_value, 0, parts, 3, NULL, 0, false);
}

dbos_status kv_fail_number(dbos_status status, int32_t errno_value, const char *part1, const char *part2,
			   uint64_t number, bool hex, const char *part3)
{
	const char *parts[3] = { part1, part2, part3 };
	return kv_error_record(status, errno_value, 0, parts, 3, &number, 1, hex);
}

dbos_status kv_fail_locked(const char *dir, int32_t holder_pid)
{
	const char *parts[3] = { "another process has the store open for writing: ", dir, "/LOCK is held by pid " };
	uint64_t pid = (uint64_t)(holder_pid > 0 ? holder_pid : 0);
	return kv_error_record(DBOS_ELOCKED, kv_fs_errno(), holder_pid, parts, 3, &pid, 2, false);
}

dbos_status kv_fail_fs(dbos_status status, const char *what, const char *dir, const char *name)
{
	const char *parts[6] = { what, " ", dir, name ? "/" : NULL, name, ": " };
	kv_error_record(status, kv_fs_errno(), 0, parts, 6, NULL, 0, false);
	dbos_kv_error *error = kv_error_slot();
	struct kv_text text = { error->message, sizeof error->message, kv_strlen(error->message) };
	kv_text_add(&text, dbos_status_message(status));
	return status;
}

dbos_status kv_fail_pool(dbos_status status, const char *what, const dbos_bp_error *pool_error)
{
	char detail[160];
	dbos_bp_error_format(pool_error, detail, sizeof detail);
	const char *parts[3] = { what, ": ", detail };
	return kv_error_record(status, pool_error ? pool_error->errno_value : 0, 0, parts, 3, NULL, 0, false);
}

dbos_status kv_fail_from_pool(dbos_kv *kv, dbos_status status, const char *what)
{
	dbos_bp_error pool_error = { 0 };
	if (kv->bp && dbos_bp_last_error(kv->bp, &pool_error) != DBOS_OK && pool_error.status == status)
		return kv_fail_pool(status, what, &pool_error);
	/* The pool has nothing for this status: the module's own check failed (tree structure, record). */
	const char *parts[3] = { what, ": ", dbos_status_message(status) };
	return kv_error_record(status, 0, 0, parts, 3, NULL, 0, false);
}

void kv_error_clear(void)
{
	dbos_kv_error *error = kv_error_slot();
	__builtin_memset(error, 0, sizeof *error);
}

void dbos_kv_last_error(dbos_kv_error *error_out)
{
	if (error_out)
		*error_out = *kv_error_slot();
}
