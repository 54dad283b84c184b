/*
 * kv_epoch.c - copy-on-write page epochs (see kv_internal.h, "Page epochs").
 *
 * The pool calls kv_epochs_before_write with a page latched exclusively and
 * its old bytes in place.  With no epoch open that is one atomic load.  With
 * epochs open, each one that covers the page (pid below its page count) and
 * has no copy of it yet keeps one: from then on the epoch reads its copy,
 * whatever the page becomes.
 *
 * Locks: epochs->lock guards the list of open epochs (begin, end, the hook's
 * walk); each epoch's lock guards its copies.  The hook takes the list lock
 * then an epoch's lock; readers take an epoch's lock only to find a copy, and
 * nobody waits for a page latch while holding either, so latches and these
 * locks cannot deadlock.  A bitmap with one bit per page says "has a copy"
 * without the lock: most pages have none, and readers of a view fix pages
 * from many threads at once.
 *
 * Why a reader sees the begin-time bytes: a page without a copy has not been
 * written since begin (begin runs under the store's write lock, so no change
 * was half made then, and every write after it calls the hook first).  The
 * reader latches the page shared, which waits out any writer holding it, and
 * then looks for a copy again: a writer that copied and changed the page
 * between the first look and the latch has left its copy behind, and one that
 * comes later must wait for the shared latch to go, so the latched bytes are
 * still the old ones.  The writer sets the page's bit after storing its copy
 * and before releasing its exclusive latch; the reader's shared latch is
 * acquired after that release, so its second look sees the bit.
 */
#include <stdatomic.h>

#include "dbos/platform.h"
#include "kv_epoch_copies.h"
#include "kv_internal.h"

struct kv_epochs {
	dbos_bp *bp;
	uint32_t page_size;
	_Atomic uint32_t open; /* epochs open: the hook's fast path reads only this */
	dbos_mutex lock;       /* the list */
	struct kv_epoch *list;
	struct kv_epoch *retired; /* ended, memory not yet freed (kv_epoch_retire), under lock */
	_Atomic uint64_t copied;
	_Atomic uint64_t held; /* copies not yet freed */
};

struct kv_epoch {
	struct kv_epochs *epochs;
	struct kv_epoch *next; /* in epochs->list (or ->retired), under epochs->lock */
	dbos_bp_file_header file_state;
	uint64_t page_count;
	dbos_mutex lock; /* copies */
	struct kv_epoch_copies copies;
	_Atomic uint64_t *has_copy; /* bit pid: the copies hold page pid (set once, after the copy) */
	size_t has_copy_bytes;
	/* A copy could not be made (out of memory): the epoch no longer knows every old page,
	 * so every read from it fails with this instead of returning changed bytes. */
	_Atomic uint32_t failure; /* a dbos_status */
};

static bool kv_epoch_has_copy(const struct kv_epoch *epoch, uint64_t pid)
{
	return atomic_load_explicit(&epoch->has_copy[pid / 64], memory_order_acquire) >> (pid % 64) & 1;
}

struct kv_epochs *kv_epochs_create(dbos_bp *bp)
{
	struct kv_epochs *epochs = dbos_platform_alloc(sizeof *epochs);
	if (epochs && bp)
		kv_epochs_attach(epochs, bp);
	return epochs;
}

void kv_epochs_attach(struct kv_epochs *epochs, dbos_bp *bp)
{
	epochs->bp = bp;
	epochs->page_size = dbos_bp_page_size(bp);
}

void kv_epochs_destroy(struct kv_epochs *epochs)
{
	if (!epochs)
		return;
	DBOS_ASSERT(epochs->list == NULL); /* an epoch still open would point at freed memory */
	kv_epochs_reclaim(epochs);
	dbos_platform_free(epochs, sizeof *epochs);
}

uint64_t kv_epoch_pages_copied(const struct kv_epochs *epochs)
{
	return atomic_load_explicit(&epochs->copied, memory_order_relaxed);
}

uint64_t kv_epoch_pages_held(const struct kv_epochs *epochs)
{
	return atomic_load_explicit(&epochs->held, memory_order_relaxed);
}

/* Keep the old bytes of `pid` in `epoch` unless it has them already. */
static void kv_epoch_keep(struct kv_epoch *epoch, uint64_t pid, const void *page)
{
	if (kv_epoch_has_copy(epoch, pid))
		return; /* only this writer adds copies of pid (it holds the page), so the bit stays */
	dbos_mutex_lock(&epoch->lock);
	if (atomic_load_explicit(&epoch->failure, memory_order_relaxed) == DBOS_OK) {
		dbos_status status = kv_epoch_copies_add(&epoch->copies, pid, page);
		if (status == DBOS_OK) {
			atomic_fetch_or_explicit(&epoch->has_copy[pid / 64], (uint64_t)1 << (pid % 64),
						 memory_order_release);
			atomic_fetch_add_explicit(&epoch->epochs->copied, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&epoch->epochs->held, 1, memory_order_relaxed);
		} else {
			atomic_store_explicit(&epoch->failure, (uint32_t)status, memory_order_release);
		}
	}
	dbos_mutex_unlock(&epoch->lock);
}

void kv_epochs_before_write(void *hook_context, uint64_t pid, const void *page)
{
	struct kv_epochs *epochs = hook_context;
	if (atomic_load_explicit(&epochs->open, memory_order_acquire) == 0)
		return;
	dbos_mutex_lock(&epochs->lock);
	for (struct kv_epoch *epoch = epochs->list; epoch; epoch = epoch->next)
		if (pid < epoch->page_count) /* pages allocated since begin are not part of it */
			kv_epoch_keep(epoch, pid, page);
	dbos_mutex_unlock(&epochs->lock);
}

dbos_status kv_epoch_begin(struct kv_epochs *epochs, struct kv_epoch **epoch_out)
{
	if (!epochs || !epochs->bp || !epoch_out)
		return DBOS_EINVAL;
	struct kv_epoch *epoch = dbos_platform_alloc(sizeof *epoch);
	if (!epoch)
		return DBOS_ENOMEM;
	epoch->epochs = epochs;
	dbos_bp_file_state(epochs->bp, &epoch->file_state);
	epoch->page_count = epoch->file_state.page_count;
	/* Zeroed, and untouched words cost no memory: a bit per page of even a large file is cheap. */
	epoch->has_copy_bytes = (size_t)DBOS_ALIGN_UP(epoch->page_count, 64) / 8;
	epoch->has_copy = dbos_platform_alloc(epoch->has_copy_bytes);
	if (!epoch->has_copy) {
		dbos_platform_free(epoch, sizeof *epoch);
		return DBOS_ENOMEM;
	}
	kv_epoch_copies_init(&epoch->copies, epochs->page_size);
	dbos_mutex_lock(&epochs->lock);
	epoch->next = epochs->list;
	epochs->list = epoch;
	atomic_fetch_add_explicit(&epochs->open, 1, memory_order_release);
	dbos_mutex_unlock(&epochs->lock);
	*epoch_out = epoch;
	return DBOS_OK;
}

/* Off the list: no hook reaches it any more, and nothing else may. */
static void kv_epoch_detach(struct kv_epoch *epoch)
{
	struct kv_epochs *epochs = epoch->epochs;
	struct kv_epoch **link = &epochs->list;
	while (*link != epoch)
		link = &(*link)->next;
	*link = epoch->next;
	atomic_fetch_sub_explicit(&epochs->open, 1, memory_order_release);
}

static void kv_epoch_free(struct kv_epoch *epoch)
{
	uint64_t copies = epoch->copies.count;
	kv_epoch_copies_release(&epoch->copies);
	atomic_fetch_sub_explicit(&epoch->epochs->held, copies, memory_order_relaxed);
	dbos_platform_free(epoch->has_copy, epoch->has_copy_bytes);
	dbos_platform_free(epoch, sizeof *epoch);
}

void kv_epoch_end(struct kv_epoch *epoch)
{
	if (!epoch)
		return;
	dbos_mutex_lock(&epoch->epochs->lock);
	kv_epoch_detach(epoch);
	dbos_mutex_unlock(&epoch->epochs->lock);
	kv_epoch_free(epoch);
}

void kv_epoch_retire(struct kv_epoch *epoch)
{
	if (!epoch)
		return;
	struct kv_epochs *epochs = epoch->epochs;
	dbos_mutex_lock(&epochs->lock);
	kv_epoch_detach(epoch);
	epoch->next = epochs->retired;
	epochs->retired = epoch;
	dbos_mutex_unlock(&epochs->lock);
}

void kv_epochs_reclaim(struct kv_epochs *epochs)
{
	dbos_mutex_lock(&epochs->lock);
	struct kv_epoch *retired = epochs->retired;
	epochs->retired = NULL;
	dbos_mutex_unlock(&epochs->lock);
	while (retired) {
		struct kv_epoch *next = retired->next;
		kv_epoch_free(retired);
		retired = next;
	}
}

uint64_t kv_epoch_page_count(const struct kv_epoch *epoch)
{
	return epoch->page_count;
}

void kv_epoch_file_state(const struct kv_epoch *epoch, dbos_bp_file_header *header_out)
{
	*header_out = epoch->file_state;
}

/* The epoch's copy of `pid` (NULL when none), or its failure. */
static dbos_status kv_epoch_lookup(struct kv_epoch *epoch, uint64_t pid, const void **copy_out)
{
	dbos_status status = (dbos_status)atomic_load_explicit(&epoch->failure, memory_order_acquire);
	*copy_out = NULL;
	if (status != DBOS_OK || !kv_epoch_has_copy(epoch, pid))
		return status;
	dbos_mutex_lock(&epoch->lock); /* the table may be growing under a writer */
	*copy_out = kv_epoch_copies_find(&epoch->copies, pid);
	dbos_mutex_unlock(&epoch->lock);
	DBOS_ASSERT(*copy_out != NULL);
	return DBOS_OK;
}

dbos_status kv_epoch_fix(struct kv_epoch *epoch, uint64_t pid, struct kv_epoch_pin *pin)
{
	if (!epoch || !pin)
		return DBOS_EINVAL;
	if (pid == 0 || pid >= epoch->page_count)
		return DBOS_ERANGE;
	const void *copy;
	dbos_status status = kv_epoch_lookup(epoch, pid, &copy);
	if (status != DBOS_OK)
		return status;
	if (!copy) {
		dbos_bp *bp = epoch->epochs->bp;
		void *page;
		status = dbos_bp_fix_shared(bp, pid, &page);
		if (status != DBOS_OK)
			return status;
		/* Again, latched: a writer may have copied and changed the page since the first look. */
		status = kv_epoch_lookup(epoch, pid, &copy);
		if (status != DBOS_OK || copy) {
			DBOS_ASSERT(dbos_bp_unfix_shared(bp, pid) == DBOS_OK);
			if (status != DBOS_OK)
				return status;
		} else {
			*pin = (struct kv_epoch_pin){ .page = page, .pid = pid, .latched = true };
			return DBOS_OK;
		}
	}
	*pin = (struct kv_epoch_pin){ .page = copy, .pid = pid, .latched = false };
	return DBOS_OK;
}

void kv_epoch_unfix(struct kv_epoch *epoch, struct kv_epoch_pin *pin)
{
	if (pin->latched)
		DBOS_ASSERT(dbos_bp_unfix_shared(epoch->epochs->bp, pin->pid) == DBOS_OK);
	*pin = (struct kv_epoch_pin){ 0 };
}
