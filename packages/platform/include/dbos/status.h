/*
 * dbos/status.h - the one status enum every dbos C API returns.
 *
 * Operating errors (no free frame, disk full, unsupported mechanism) are
 * returned as a status; broken invariants go to dbos_platform_panic().  The
 * name of a status ("DBOS_ENOMEM") is the stable `code` a JavaScript error
 * carries, so never renumber or rename an entry: append.
 */
#ifndef DBOS_STATUS_H
#define DBOS_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dbos_status {
	DBOS_OK = 0,
	DBOS_EINVAL,    /* an argument is invalid */
	DBOS_ERANGE,    /* an offset or length is outside its object */
	DBOS_ENOMEM,    /* out of memory, frames or address space */
	DBOS_ENOTSUP,   /* the mechanism is unavailable on this platform or runtime */
	DBOS_EBUSY,     /* the object is in use (live views, pending work) */
	DBOS_ECLOSED,   /* the handle was closed or released */
	DBOS_EIO,       /* the host reported an I/O error (errno attached) */
	DBOS_ETIMEDOUT, /* a wait ran out of time */
	DBOS_EAGAIN,    /* try again: a queue or ring is full */
	DBOS_ECORRUPT,  /* stored data failed a checksum or structure check */
	DBOS_ENOENT,    /* not found */
	DBOS_EEXIST,    /* already exists */
	DBOS_EPERM,     /* the host refused for lack of permission */
	DBOS_EFAULT,    /* an address is not mapped or not accessible */
	DBOS_ELIMIT,    /* a configured limit was reached */
	DBOS_EGUEST,    /* the guest kernel failed (panic, triple fault, exit) */
	DBOS_ENOSPC,    /* no space left on the device */
	DBOS_ELOCKED,   /* another process holds the lock (a store open for writing) */
	DBOS_ECANCELED, /* the caller stopped the operation */
	DBOS_STATUS_COUNT
} dbos_status;

/* "DBOS_ENOMEM": the stable code. Never NULL. */
const char *dbos_status_name(dbos_status status);

/* A one-line English description. Never NULL. */
const char *dbos_status_message(dbos_status status);

#ifdef __cplusplus
}
#endif

#endif /* DBOS_STATUS_H */
