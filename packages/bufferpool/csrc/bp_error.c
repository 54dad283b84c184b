/*
 * bp_error.c - the pool's failure record and the English lines for it.
 *
 * A status code says what kind of failure; the record says which page and
 * which check, so a corrupted page is reported by its id.  Errors are rare:
 * the record sits behind a mutex.
 */
#include "bp_internal.h"

static const char *const reason_texts[DBOS_BP_REASON_COUNT] = {
	[DBOS_BP_REASON_NONE] = "no error",
	[DBOS_BP_REASON_FOREIGN_FILE] = "not a buffer-pool file",
	[DBOS_BP_REASON_NEWER_VERSION] = "file format version is newer than this code's",
	[DBOS_BP_REASON_PAGE_SIZE_MISMATCH] = "page size differs from the file's",
	[DBOS_BP_REASON_HEADER_CHECKSUM] = "file header checksum mismatch",
	[DBOS_BP_REASON_PAGE_CHECKSUM] = "page checksum mismatch (torn or corrupted page)",
	[DBOS_BP_REASON_PAGE_ID] = "page carries another page's id",
	[DBOS_BP_REASON_SHORT_READ] = "page lies past the end of the file (file truncated)",
	[DBOS_BP_REASON_IO] = "I/O error",
	[DBOS_BP_REASON_FILE_TOO_LARGE] = "file has more pages than max_pages",
	[DBOS_BP_REASON_FREE_CHAIN] = "free chain names a page that is not free",
	[DBOS_BP_REASON_LOCKED] = "another pool has the file open (here or in another process)",
};

const char *dbos_bp_reason_text(enum dbos_bp_reason reason)
{
	if ((unsigned)reason >= DBOS_BP_REASON_COUNT)
		return "unknown reason";
	return reason_texts[reason];
}

dbos_status bp_fail(dbos_bp *bp, dbos_status status, enum dbos_bp_reason reason, uint64_t pid, int32_t errno_value,
		    uint64_t found, uint64_t expected)
{
	if (!bp)
		return status;
	dbos_mutex_lock(&bp->error_lock);
	bp->last_error = (dbos_bp_error){ .status = status,
					  .reason = reason,
					  .pid = pid,
					  .errno_value = errno_value,
					  .found = found,
					  .expected = expected };
	dbos_mutex_unlock(&bp->error_lock);
	return status;
}

dbos_status dbos_bp_last_error(const dbos_bp *bp, dbos_bp_error *error_out)
{
	if (!bp || !error_out)
		return DBOS_EINVAL;
	dbos_bp *mutable_bp = (dbos_bp *)bp; /* the lock word changes; the record does not */
	dbos_mutex_lock(&mutable_bp->error_lock);
	*error_out = bp->last_error;
	dbos_mutex_unlock(&mutable_bp->error_lock);
	return error_out->status;
}

size_t bp_append(char *text, size_t size, size_t length, const char *piece)
{
	while (*piece && length + 1 < size)
		text[length++] = *piece++;
	if (size)
		text[length < size ? length : size - 1] = '\0';
	return length;
}

size_t bp_append_u64(char *text, size_t size, size_t length, uint64_t value, bool hex)
{
	char digits[24];
	size_t count = 0;
	unsigned base = hex ? 16 : 10;
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
	return bp_append(text, size, length, piece);
}

size_t dbos_bp_error_format(const dbos_bp_error *error, char *text, size_t size)
{
	if (!text || !size)
		return 0;
	text[0] = '\0';
	if (!error)
		return 0;
	size_t length = 0;
	if (error->pid) {
		length = bp_append(text, size, length, "page ");
		length = bp_append_u64(text, size, length, error->pid, false);
		length = bp_append(text, size, length, ": ");
	}
	length = bp_append(text, size, length, dbos_bp_reason_text(error->reason));
	switch (error->reason) {
	case DBOS_BP_REASON_PAGE_CHECKSUM:
	case DBOS_BP_REASON_HEADER_CHECKSUM:
		length = bp_append(text, size, length, " (stored ");
		length = bp_append_u64(text, size, length, error->found, true);
		length = bp_append(text, size, length, ", computed ");
		length = bp_append_u64(text, size, length, error->expected, true);
		length = bp_append(text, size, length, ")");
		break;
	case DBOS_BP_REASON_PAGE_ID:
		length = bp_append(text, size, length, " (found page ");
		length = bp_append_u64(text, size, length, error->found, false);
		length = bp_append(text, size, length, ")");
		break;
	case DBOS_BP_REASON_NEWER_VERSION:
	case DBOS_BP_REASON_PAGE_SIZE_MISMATCH:
	case DBOS_BP_REASON_SHORT_READ:
	case DBOS_BP_REASON_FILE_TOO_LARGE:
		length = bp_append(text, size, length, " (file: ");
		length = bp_append_u64(text, size, length, error->found, false);
		length = bp_append(text, size, length, ", expected: ");
		length = bp_append_u64(text, size, length, error->expected, false);
		length = bp_append(text, size, length, ")");
		break;
	case DBOS_BP_REASON_IO:
		length = bp_append(text, size, length, " (errno ");
		length = bp_append_u64(text, size, length, (uint64_t)(uint32_t)error->errno_value, false);
		length = bp_append(text, size, length, ")");
		break;
	default: break;
	}
	return length;
}
