/*
 * snap_handle.c - the handle C engines in other addons attach through (dbos/snapshot_handle.h).
 *
 * The function table is this addon's own snapshot code, so an engine built without the core
 * writes through the barrier of the very space JavaScript holds.  Attach and close only move the
 * quiesce hook and the engine's detach callback; the hot path (write_begin / write_end) is the
 * core's function called through one pointer.
 */
#include <stddef.h>

#include "snap_handle.h"
#include "snap_host.h"

struct snap_handle {
	dbos_snap_handle public; /* first: the ops receive &public and find the rest */
	dbos_snap_engine engine;
	bool attached;
};

_Static_assert(offsetof(struct snap_handle, public) == 0, "the public part opens the handle");

static snap_handle *snap_handle_of(dbos_snap_handle *public)
{
	return (snap_handle *)public;
}

static dbos_status snap_handle_attach(dbos_snap_handle *public, const dbos_snap_engine *engine)
{
	if (!public || !engine || !engine->detach)
		return DBOS_EINVAL;
	snap_handle *handle = snap_handle_of(public);
	if (!public->space)
		return DBOS_ECLOSED;
	if (handle->attached)
		return DBOS_EBUSY;
	handle->engine = *engine;
	handle->attached = true;
	dbos_snap_space_quiesce_set(public->space, engine->quiesce, engine->context);
	return DBOS_OK;
}

static void snap_handle_detach(dbos_snap_handle *public)
{
	snap_handle *handle = snap_handle_of(public);
	if (!handle->attached)
		return;
	handle->attached = false;
	if (public->space)
		dbos_snap_space_quiesce_set(public->space, NULL, NULL);
}

static const dbos_snap_handle_ops snap_handle_ops = {
	.attach = snap_handle_attach,
	.detach = snap_handle_detach,
	.writer_register = dbos_snap_writer_register,
	.writer_unregister = dbos_snap_writer_unregister,
	.writer_enter = dbos_snap_writer_enter,
	.writer_leave = dbos_snap_writer_leave,
	.page_prepare = dbos_snap_page_prepare,
	.writer_epoch = dbos_snap_writer_epoch,
	.write_begin = dbos_snap_write_begin,
	.write_end = dbos_snap_write_end,
	.write_copy = dbos_snap_write_copy,
	.space_stats = dbos_snap_space_stats,
};

snap_handle *snap_handle_create(dbos_snap_space *space)
{
	DBOS_ASSERT(space);
	snap_handle *handle = dbos_platform_alloc(sizeof(*handle));
	if (!handle)
		return NULL;
	handle->public.abi_version = DBOS_SNAP_HANDLE_ABI_VERSION;
	handle->public.struct_size = sizeof(handle->public);
	handle->public.space = space;
	handle->public.base = dbos_snap_space_base(space);
	handle->public.page_count = dbos_snap_space_page_count(space);
	handle->public.page_size = DBOS_PAGE_SIZE;
	handle->public.mechanism = dbos_snap_space_mechanism(space);
	handle->public.ops = &snap_handle_ops;
	return handle;
}

dbos_snap_handle *snap_handle_public(snap_handle *handle)
{
	return &handle->public;
}

void snap_handle_close(snap_handle *handle)
{
	if (!handle->public.space)
		return;
	if (handle->attached) {
		/* 1. Not attached any more: a detach from inside the callback is a no-op. */
		dbos_snap_engine engine = handle->engine;
		handle->attached = false;
		/* 2. The engine stops every thread that writes the space... */
		engine.detach(engine.context);
		/* 3. ...so no take can call its hook after this. */
		dbos_snap_space_quiesce_set(handle->public.space, NULL, NULL);
	}
	handle->public.space = NULL;
	handle->public.base = NULL; /* close() unmaps the memory */
	handle->public.page_count = 0;
}

void snap_handle_destroy(snap_handle *handle)
{
	if (!handle)
		return;
	snap_handle_close(handle);
	dbos_platform_free(handle, sizeof(*handle));
}
