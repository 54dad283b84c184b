/*
 * dbos/snapshot_handle.h - how a C engine in another Node addon works on a space that
 * JavaScript created with createSpace().
 *
 * Node-API addons cannot call each other's functions by symbol, and every addon that compiles
 * the snapshot core gets a copy of its own whose state (the space, its writers, its epoch) the
 * other copies cannot see.  So an engine neither compiles the core nor receives a bare pointer:
 * `space.nativeHandle()` returns a Node-API External, type-tagged with DBOS_SNAP_HANDLE_TAG, whose
 * data is a dbos_snap_handle.  The engine calls the code of the addon that owns the space through
 * the handle's function table.
 *
 * An engine binding, on the JavaScript thread:
 *   1. napi_check_object_type_tag(env, value, &tag, &ok) with tag = { DBOS_SNAP_HANDLE_TAG_LOWER,
 *      DBOS_SNAP_HANDLE_TAG_UPPER }; refuse the value unless ok (anything else is not a handle);
 *   2. napi_get_value_external(env, value, &data): data is the dbos_snap_handle;
 *   3. refuse abi_version != DBOS_SNAP_HANDLE_ABI_VERSION (the layout changed), or a
 *      struct_size smaller than the fields it reads (fields are only ever appended);
 *   4. handle->ops->attach(handle, &engine): the engine's quiesce hook and detach callback.
 *      One engine per space (DBOS_EBUSY for a second), DBOS_ECLOSED once the space closed;
 *   5. writer threads register with ops->writer_register(handle->space, ...) and write through
 *      ops->write_begin / write_end (or writer_enter, page_prepare x n, writer_leave);
 *   6. engine.detach runs when the space closes (close() or garbage collection): stop and join
 *      every thread that uses the space, unregister their writers, and never touch the handle's
 *      space or memory again.  An engine that leaves first calls ops->detach(handle) instead,
 *      after stopping its threads.
 *
 * The quiesce hook.  uffd-wp and fork freeze memory while the protect or the fork runs; that is
 * one instant only if no thread writes meanwhile.  quiesce(context, true) must return once every
 * writer of the space stands between two writes, quiesce(context, false) lets them go on.  It is
 * called on the thread that takes the snapshot (the JavaScript thread for snapshot()) with the
 * space's take lock held, so it must not take, release, attach or detach.  Epoch spaces never
 * call it: their barrier defines the instant.  An engine whose only writer takes the snapshots
 * itself needs no hook (NULL).
 *
 * The handle's memory stays valid while any External for it lives, so a late call returns
 * DBOS_ECLOSED instead of touching freed memory; `space` is NULL once the space closed.
 */
#ifndef DBOS_SNAPSHOT_HANDLE_H
#define DBOS_SNAPSHOT_HANDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "dbos/snapshot.h"
#include "dbos/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a field of dbos_snap_handle or dbos_snap_handle_ops moves or changes meaning. */
#define DBOS_SNAP_HANDLE_ABI_VERSION 1u

/* The napi_type_tag of every handle External: a random 128-bit value, fixed forever. */
#define DBOS_SNAP_HANDLE_TAG_LOWER 0x6462f5a3c1d84e07ull
#define DBOS_SNAP_HANDLE_TAG_UPPER 0x9b2e4c71a05f3d68ull

typedef struct dbos_snap_handle dbos_snap_handle;

/* What an engine gives attach: its quiesce hook and how to tell it that the space closes. */
typedef struct dbos_snap_engine {
	dbos_snap_quiesce_fn quiesce;  /* may be NULL (see above) */
	void (*detach)(void *context); /* required: the space closes, stop using it */
	void *context;
} dbos_snap_engine;

/*
 * The snapshot code of the addon that owns the space, in the order of dbos/snapshot.h.  Each
 * entry is that function (same arguments, same statuses) except attach and detach.
 */
typedef struct dbos_snap_handle_ops {
	/* Step 4 above.  JavaScript thread.  DBOS_EINVAL without engine->detach. */
	dbos_status (*attach)(dbos_snap_handle *handle, const dbos_snap_engine *engine);
	/* The engine leaves on its own (its threads stopped): the quiesce hook is removed. */
	void (*detach)(dbos_snap_handle *handle);
	dbos_status (*writer_register)(dbos_snap_space *space, dbos_snap_writer **writer_out);
	void (*writer_unregister)(dbos_snap_writer *writer);
	void (*writer_enter)(dbos_snap_writer *writer);
	void (*writer_leave)(dbos_snap_writer *writer);
	dbos_status (*page_prepare)(dbos_snap_writer *writer, uint64_t page, void **page_address_out);
	uint64_t (*writer_epoch)(const dbos_snap_writer *writer);
	dbos_status (*write_begin)(dbos_snap_writer *writer, uint64_t page, void **page_address_out);
	void (*write_end)(dbos_snap_writer *writer);
	dbos_status (*write_copy)(dbos_snap_writer *writer, uint64_t offset, const void *source, uint64_t length);
	void (*space_stats)(const dbos_snap_space *space, dbos_snap_stats *stats_out);
} dbos_snap_handle_ops;

struct dbos_snap_handle {
	uint32_t abi_version;   /* DBOS_SNAP_HANDLE_ABI_VERSION */
	uint32_t struct_size;   /* sizeof(dbos_snap_handle) as the owner compiled it */
	dbos_snap_space *space; /* NULL once the space closed */
	uint8_t *base;          /* the space's memory: page_count * page_size bytes */
	uint64_t page_count;
	uint32_t page_size; /* DBOS_PAGE_SIZE */
	uint32_t mechanism; /* enum dbos_snap_mechanism the space uses (never AUTO) */
	const dbos_snap_handle_ops *ops;
};

#if UINTPTR_MAX == UINT64_MAX
DBOS_SNAP_STATIC_ASSERT(sizeof(struct dbos_snap_handle) == 48, "the handle is a 48-byte ABI on 64-bit machines");
DBOS_SNAP_STATIC_ASSERT(sizeof(dbos_snap_handle_ops) == 12 * sizeof(void *), "the table holds 12 entries");
#endif

#ifdef __cplusplus
}
#endif

#endif /* DBOS_SNAPSHOT_HANDLE_H */
