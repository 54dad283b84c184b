/*
 * kv_read.c - reads: get, views (epochs) and cursors.
 *
 * Reads take no store lock: the tree's readers validate optimistically against
 * the single writer.  A view is an epoch, begun under the write lock so that it
 * never sees half a batch.  Views and cursors are counted, because close must
 * refuse while any is open (their epochs and tree cursors use the pool).
 *
 * Handles come from slots carved out of page-sized chunks (the platform allocates
 * whole pages; one page per view would waste most of it) and are recycled
 * through a free list; the chunks go back at close.
 */
#include "kv_store.h"

enum kv_handle_kind {
	KV_HANDLE_FREE = 0,
	KV_HANDLE_VIEW = 0x76696577,   /* "view": a closed or foreign pointer fails the check */
	KV_HANDLE_CURSOR = 0x63757273, /* "curs" */
};

struct kv_handle {
	dbos_kv *kv;
	uint32_t kind;
	uint32_t reserved;
	struct kv_epoch *epoch;        /* a view's epoch */
	struct kv_tree_cursor *cursor; /* a cursor's tree cursor */
	struct kv_handle *next_free;
};

struct dbos_kv_view {
	struct kv_handle handle;
};
struct dbos_kv_cursor {
	struct kv_handle handle;
};

/* The first slot of every chunk links the chunks; the rest are handles. */
#define KV_HANDLE_CHUNK_BYTES DBOS_PAGE_SIZE
#define KV_HANDLES_PER_CHUNK (KV_HANDLE_CHUNK_BYTES / sizeof(struct kv_handle))

_Static_assert(KV_HANDLES_PER_CHUNK >= 2, "a handle chunk holds its link and at least one handle");

static struct kv_handle *kv_handle_take(dbos_kv *kv, uint32_t kind)
{
	dbos_mutex_lock(&kv->handles_lock);
	if (!kv->free_handles) {
		struct kv_handle *chunk = dbos_platform_alloc(KV_HANDLE_CHUNK_BYTES);
		if (!chunk) {
			dbos_mutex_unlock(&kv->handles_lock);
			return NULL;
		}
		chunk[0].next_free = kv->handle_chunks;
		kv->handle_chunks = chunk;
		for (size_t i = KV_HANDLES_PER_CHUNK - 1; i >= 1; i--) {
			chunk[i].next_free = kv->free_handles;
			kv->free_handles = &chunk[i];
		}
	}
	struct kv_handle *handle = kv->free_handles;
	kv->free_handles = handle->next_free;
	*handle = (struct kv_handle){ .kv = kv, .kind = kind };
	atomic_fetch_add(&kv->open_handles, 1);
	dbos_mutex_unlock(&kv->handles_lock);
	return handle;
}

static void kv_handle_give_back(struct kv_handle *handle)
{
	dbos_kv *kv = handle->kv;
	dbos_mutex_lock(&kv->handles_lock);
	*handle = (struct kv_handle){ .kind = KV_HANDLE_FREE, .next_free = kv->free_handles };
	kv->free_handles = handle;
	uint64_t was_open = atomic_fetch_sub(&kv->open_handles, 1);
	DBOS_ASSERT(was_open > 0);
	dbos_mutex_unlock(&kv->handles_lock);
}

void kv_handles_free(dbos_kv *kv)
{
	struct kv_handle *chunk = kv->handle_chunks;
	while (chunk) {
		struct kv_handle *next = chunk[0].next_free;
		dbos_platform_free(chunk, KV_HANDLE_CHUNK_BYTES);
		chunk = next;
	}
	kv->handle_chunks = NULL;
	kv->free_handles = NULL;
}

/* ---- Views ------------------------------------------------------------------------- */

dbos_status dbos_kv_view_open(dbos_kv *kv, dbos_kv_view **view_out)
{
	if (!kv || !view_out)
		return kv_fail(DBOS_EINVAL, 0, "view_open: kv and view_out must not be NULL", NULL, NULL);
	*view_out = NULL;
	struct kv_handle *handle = kv_handle_take(kv, KV_HANDLE_VIEW);
	if (!handle)
		return kv_fail(DBOS_ENOMEM, 0, "view_open: out of memory", NULL, NULL);
	/* Under the write lock: an epoch must not begin in the middle of a batch. */
	dbos_mutex_lock(&kv->write_lock);
	dbos_status status = kv_epoch_begin(atomic_load(&kv->epochs), &handle->epoch);
	dbos_mutex_unlock(&kv->write_lock);
	if (status != DBOS_OK) {
		kv_handle_give_back(handle);
		return kv_fail(status, 0, "view_open: cannot begin a page epoch on ", kv->dir, NULL);
	}
	*view_out = (dbos_kv_view *)handle;
	return DBOS_OK;
}

void dbos_kv_view_close(dbos_kv_view *view)
{
	if (!view)
		return;
	DBOS_ASSERT(view->handle.kind == KV_HANDLE_VIEW); /* closed twice, or not a view */
	dbos_kv *kv = view->handle.kv;
	/* The background thread frees the view's page copies; without one, this thread does. */
	if (kv->checkpoint_thread) {
		kv_epoch_retire(view->handle.epoch);
		kv_background_poke(kv);
	} else {
		kv_epoch_end(view->handle.epoch);
	}
	kv_handle_give_back(&view->handle);
}

/* The epoch to read through: NULL (the current state) without a view. */
static dbos_status kv_view_epoch(dbos_kv *kv, dbos_kv_view *view, const char *what, struct kv_epoch **epoch_out)
{
	*epoch_out = NULL;
	if (!view)
		return DBOS_OK;
	if (view->handle.kind != KV_HANDLE_VIEW || view->handle.kv != kv)
		return kv_fail(DBOS_EINVAL, 0, what, ": the view is closed or belongs to another store", NULL);
	*epoch_out = view->handle.epoch;
	return DBOS_OK;
}

/* ---- Get ----------------------------------------------------------------------------- */

dbos_status dbos_kv_get(dbos_kv *kv, dbos_kv_view *view, const void *key, uint32_t key_size, void *value,
			uint64_t capacity, uint64_t *size_out)
{
	if (!kv || !key || !size_out || (!value && capacity))
		return kv_fail(DBOS_EINVAL, 0,
			       "get: kv, key and size_out must not be NULL (value only with capacity 0)", NULL, NULL);
	if (key_size == 0 || key_size > DBOS_KV_KEY_MAX)
		return kv_fail(DBOS_ERANGE, 0, "get: key size must be 1..1024 bytes", NULL, NULL);
	struct kv_epoch *epoch;
	dbos_status status = kv_view_epoch(kv, view, "get", &epoch);
	if (status != DBOS_OK)
		return status;
	status = kv_tree_get(&kv->tree, epoch, key, key_size, value, capacity, size_out);
	if (status == DBOS_ENOENT)
		return kv_fail(DBOS_ENOENT, 0, "get: no such key", NULL, NULL);
	if (status != DBOS_OK)
		return kv_fail_from_pool(kv, status, "get: reading the tree failed");
	return DBOS_OK;
}

dbos_status dbos_kv_prefetch(dbos_kv *kv, const void *const *keys, const uint32_t *key_sizes, uint32_t count)
{
	if (!kv || (count && (!keys || !key_sizes)))
		return kv_fail(DBOS_EINVAL, 0, "prefetch: kv, keys and key_sizes must not be NULL", NULL, NULL);
	return kv_tree_prefetch(&kv->tree, keys, key_sizes, count);
}

/* ---- Cursors --------------------------------------------------------------------------- */

dbos_status dbos_kv_cursor_open(dbos_kv *kv, dbos_kv_view *view, const dbos_kv_range *range,
				dbos_kv_cursor **cursor_out)
{
	if (!kv || !cursor_out)
		return kv_fail(DBOS_EINVAL, 0, "cursor_open: kv and cursor_out must not be NULL", NULL, NULL);
	*cursor_out = NULL;
	dbos_kv_range everything = { 0 };
	if (!range)
		range = &everything;
	if ((range->low && (range->low_size == 0 || range->low_size > DBOS_KV_KEY_MAX)) ||
	    (range->high && (range->high_size == 0 || range->high_size > DBOS_KV_KEY_MAX)))
		return kv_fail(DBOS_ERANGE, 0, "cursor_open: a range bound's size must be 1..1024 bytes", NULL, NULL);
	struct kv_epoch *epoch;
	dbos_status status = kv_view_epoch(kv, view, "cursor_open", &epoch);
	if (status != DBOS_OK)
		return status;
	struct kv_handle *handle = kv_handle_take(kv, KV_HANDLE_CURSOR);
	if (!handle)
		return kv_fail(DBOS_ENOMEM, 0, "cursor_open: out of memory", NULL, NULL);
	status = kv_tree_cursor_open(&kv->tree, epoch, range, &handle->cursor);
	if (status != DBOS_OK) {
		kv_handle_give_back(handle);
		return kv_fail_from_pool(kv, status, "cursor_open: cannot open a tree cursor");
	}
	*cursor_out = (dbos_kv_cursor *)handle;
	return DBOS_OK;
}

dbos_status dbos_kv_cursor_next(dbos_kv_cursor *cursor, void *buffer, size_t capacity, uint32_t *count_out,
				size_t *used_out)
{
	if (!cursor || !count_out || !used_out || (!buffer && capacity))
		return kv_fail(DBOS_EINVAL, 0, "cursor_next: cursor, count_out and used_out must not be NULL", NULL,
			       NULL);
	if (cursor->handle.kind != KV_HANDLE_CURSOR)
		return kv_fail(DBOS_EINVAL, 0, "cursor_next: the cursor is closed", NULL, NULL);
	dbos_status status = kv_tree_cursor_next(cursor->handle.cursor, buffer, capacity, count_out, used_out);
	if (status == DBOS_ELIMIT)
		return kv_fail(DBOS_ELIMIT, 0,
			       "cursor_next: the next entry does not fit the buffer (used_out says "
			       "how many bytes it needs)",
			       NULL, NULL);
	if (status != DBOS_OK)
		return kv_fail_from_pool(cursor->handle.kv, status, "cursor_next: reading the tree failed");
	return DBOS_OK;
}

void dbos_kv_cursor_close(dbos_kv_cursor *cursor)
{
	if (!cursor)
		return;
	DBOS_ASSERT(cursor->handle.kind == KV_HANDLE_CURSOR); /* closed twice, or not a cursor */
	kv_tree_cursor_close(cursor->handle.cursor);
	kv_handle_give_back(&cursor->handle);
}
