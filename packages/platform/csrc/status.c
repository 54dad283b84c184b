/* status.c - names and messages of dbos_status values (see dbos/status.h). */
#include "dbos/status.h"

struct status_text {
	const char *name;
	const char *message;
};

static const struct status_text status_texts[DBOS_STATUS_COUNT] = {
	[DBOS_OK] = { "DBOS_OK", "success" },
	[DBOS_EINVAL] = { "DBOS_EINVAL", "invalid argument" },
	[DBOS_ERANGE] = { "DBOS_ERANGE", "offset or length out of range" },
	[DBOS_ENOMEM] = { "DBOS_ENOMEM", "out of memory" },
	[DBOS_ENOTSUP] = { "DBOS_ENOTSUP", "not supported on this platform or runtime" },
	[DBOS_EBUSY] = { "DBOS_EBUSY", "object is in use" },
	[DBOS_ECLOSED] = { "DBOS_ECLOSED", "handle is closed" },
	[DBOS_EIO] = { "DBOS_EIO", "I/O error" },
	[DBOS_ETIMEDOUT] = { "DBOS_ETIMEDOUT", "timed out" },
	[DBOS_EAGAIN] = { "DBOS_EAGAIN", "resource temporarily full, try again" },
	[DBOS_ECORRUPT] = { "DBOS_ECORRUPT", "data failed an integrity check" },
	[DBOS_ENOENT] = { "DBOS_ENOENT", "not found" },
	[DBOS_EEXIST] = { "DBOS_EEXIST", "already exists" },
	[DBOS_EPERM] = { "DBOS_EPERM", "permission denied" },
	[DBOS_EFAULT] = { "DBOS_EFAULT", "bad address" },
	[DBOS_ELIMIT] = { "DBOS_ELIMIT", "configured limit reached" },
	[DBOS_EGUEST] = { "DBOS_EGUEST", "guest kernel failure" },
	[DBOS_ENOSPC] = { "DBOS_ENOSPC", "no space left on device" },
	[DBOS_ELOCKED] = { "DBOS_ELOCKED", "locked by another process" },
	[DBOS_ECANCELED] = { "DBOS_ECANCELED", "canceled" },
};

_Static_assert(sizeof(status_texts) / sizeof(status_texts[0]) == DBOS_STATUS_COUNT,
	       "every status needs a name and a message");

static const struct status_text *status_text(dbos_status status)
{
	static const struct status_text unknown = { "DBOS_EUNKNOWN", "unknown status" };
	if ((unsigned)status >= DBOS_STATUS_COUNT || !status_texts[status].name)
		return &unknown;
	return &status_texts[status];
}

const char *dbos_status_name(dbos_status status)
{
	return status_text(status)->name;
}

const char *dbos_status_message(dbos_status status)
{
	return status_text(status)->message;
}
