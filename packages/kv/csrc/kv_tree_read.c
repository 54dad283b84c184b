/*
 * kv_tree_read.c - how readers see pages, the descent from the root to a
 * leaf, and point lookups.
 *
 * Without an epoch a reader takes no latch: it notes each page's version,
 * reads, and validates; the descent validates the parent after beginning the
 * child (optimistic lock coupling), so a child pid read from a parent that
 * changed meanwhile is never trusted.  With an epoch every page is pinned as
 * of the epoch's start and never changes, so nothing needs validating; one
 * page is pinned at a time, so a reader never waits for a latch while holding
 * one (the writer latches in any order it likes).
 */
#include "kv_tree.h"

dbos_status kv_read_begin(struct kv_tree *tree, struct kv_epoch *epoch, uint64_t pid, struct kv_read_page *read)
{
	read->pid = pid;
	read->pinned = false;
	if (epoch) {
		dbos_status status = kv_epoch_fix(epoch, pid, &read->pin);
		if (status != DBOS_OK)
			return status;
		read->pinned = true;
		read->page = read->pin.page;
		return DBOS_OK;
	}
	return dbos_bp_optimistic_begin(tree->bp, pid, &read->version, &read->page);
}

bool kv_read_end(struct kv_tree *tree, struct kv_epoch *epoch, struct kv_read_page *read)
{
	if (epoch) {
		if (read->pinned)
			kv_epoch_unfix(epoch, &read->pin);
		read->pinned = false;
		return true;
	}
	return dbos_bp_optimistic_validate(tree->bp, read->pid, read->version);
}

bool kv_read_still_valid(struct kv_tree *tree, struct kv_epoch *epoch, const struct kv_read_page *read)
{
	return epoch || dbos_bp_optimistic_validate(tree->bp, read->pid, read->version);
}

/* A child or root pid that can be a tree page of this file. */
static bool pid_plausible(struct kv_tree *tree, uint64_t pid)
{
	return pid > KV_TREE_META_PID && pid < dbos_bp_page_count(tree->bp);
}

static void fence_copy(uint8_t *dst, uint32_t *size_out, const uint8_t *key, uint32_t key_size)
{
	if (key_size > DBOS_KV_KEY_MAX)
		key_size = DBOS_KV_KEY_MAX; /* torn: validation will fail */
	kv_page_read(dst, key, key_size);
	*size_out = key_size;
}

/* Which child of an inner node the descent takes, updating the fences. */
static uint32_t descend_position(struct kv_node node, const void *key, uint32_t key_size, bool before, bool rightmost,
				 struct kv_fences *fences)
{
	uint32_t count = kv_node_count(node);
	uint32_t position;
	if (!key)
		position = rightmost ? count : 0;
	else
		position = kv_node_search(node, key, key_size, !before, NULL);
	if (fences) {
		uint32_t size;
		if (position > 0) {
			const uint8_t *low = kv_node_key(node, position - 1, &size);
			fence_copy(fences->low, &fences->low_size, low, size);
			fences->has_low = true;
		}
		if (position < count) {
			const uint8_t *high = kv_node_key(node, position, &size);
			fence_copy(fences->high, &fences->high_size, high, size);
			fences->has_high = true;
		}
	}
	return position;
}

/* Begin the root; DBOS_EAGAIN when the meta page changed meanwhile. */
static dbos_status begin_root(struct kv_tree *tree, struct kv_epoch *epoch, struct kv_read_page *root,
			      uint32_t *height_out)
{
	struct kv_read_page meta_read;
	dbos_status status = kv_read_begin(tree, epoch, KV_TREE_META_PID, &meta_read);
	if (status != DBOS_OK)
		return status;
	struct kv_tree_meta meta;
	kv_page_read(&meta, dbos_bp_payload((void *)meta_read.page), sizeof meta);
	if (!epoch && !kv_read_still_valid(tree, epoch, &meta_read))
		return DBOS_EAGAIN;
	kv_read_end(tree, epoch, &meta_read); /* epoch: unpin (pages never change there) */
	if (!pid_plausible(tree, meta.root) || meta.height == 0 || meta.height > KV_TREE_HEIGHT_MAX)
		return DBOS_ECORRUPT; /* validated (or pinned), so this is what the page says */
	status = kv_read_begin(tree, epoch, meta.root, root);
	if (status != DBOS_OK)
		return status;
	if (!kv_read_still_valid(tree, epoch, &meta_read))
		return DBOS_EAGAIN; /* a new root meanwhile; nothing to end for an optimistic read */
	*height_out = (uint32_t)meta.height;
	return DBOS_OK;
}

dbos_status kv_tree_descend(struct kv_tree *tree, struct kv_epoch *epoch, const void *key, uint32_t key_size,
			    bool before, bool rightmost, struct kv_read_page *leaf, struct kv_fences *fences)
{
	for (;;) {
		if (fences)
			fences->has_low = fences->has_high = false;
		struct kv_read_page current;
		uint32_t height;
		dbos_status status = begin_root(tree, epoch, &current, &height);
		if (status == DBOS_EAGAIN)
			continue;
		if (status != DBOS_OK)
			return status;
		bool restart = false;
		for (uint32_t level = height - 1;; level--) {
			struct kv_node node = kv_node_of((void *)current.page, tree->page_size);
			const struct kv_node_header *header = kv_node_header(node);
			bool leaf_expected = level == 0;
			if (KV_PAGE_LOAD(header->kind) != (leaf_expected ? KV_NODE_LEAF : KV_NODE_INNER) ||
			    KV_PAGE_LOAD(header->level) != level) {
				bool valid = kv_read_end(tree, epoch, &current);
				if (valid)
					return DBOS_ECORRUPT;
				restart = true;
				break;
			}
			if (leaf_expected) {
				*leaf = current;
				return DBOS_OK;
			}
			uint32_t position = descend_position(node, key, key_size, before, rightmost, fences);
			uint64_t child_pid = kv_node_child(node, position);
			struct kv_read_page child;
			if (epoch) {
				/* Unpin the parent first: a pinned page may be latched, and holding one latch
				 * while waiting for another could deadlock with the writer's bottom-up latching. */
				kv_read_end(tree, epoch, &current);
				status = pid_plausible(tree, child_pid) ? kv_read_begin(tree, epoch, child_pid, &child)
									: DBOS_ECORRUPT;
				if (status != DBOS_OK)
					return status;
				current = child;
				continue;
			}
			status = pid_plausible(tree, child_pid) ? kv_read_begin(tree, epoch, child_pid, &child)
								: DBOS_ECORRUPT;
			bool valid = kv_read_end(tree, epoch, &current);
			if (status != DBOS_OK) {
				if (valid)
					return status;
				restart = true;
				break;
			}
			if (!valid) {
				kv_read_end(tree, epoch, &child);
				restart = true;
				break;
			}
			current = child;
		}
		DBOS_ASSERT(restart);
	}
}

/* Copy the value of slot `index` of the begun leaf; DBOS_EAGAIN when the leaf changed. */
static dbos_status get_value(struct kv_tree *tree, struct kv_epoch *epoch, struct kv_read_page *leaf, uint32_t index,
			     void *value, uint64_t capacity, uint64_t *size_out)
{
	struct kv_leaf_value found = kv_node_leaf_value(kv_node_of((void *)leaf->page, tree->page_size), index);
	uint64_t copy = found.size < capacity ? found.size : capacity;
	if (found.inline_bytes) {
		if (copy)
			kv_page_read(value, found.inline_bytes, copy);
		if (!kv_read_end(tree, epoch, leaf))
			return DBOS_EAGAIN;
		*size_out = found.size;
		return DBOS_OK;
	}
	/*
	 * Epoch: unpin first, so no latch is held while fixing the chain.  Optimistic: latch the leaf
	 * shared for the chain.  A chain longer than the cache evicts the leaf while it is read, so
	 * validating the leaf afterwards would fail on every try; latched, the leaf can neither
	 * change nor leave memory.  The writer frees a chain only after it has the leaf exclusively,
	 * so a reader holding the leaf never waits on a page the writer holds.
	 */
	if (epoch)
		kv_read_end(tree, epoch, leaf);
	else {
		void *latched;
		dbos_status status = dbos_bp_fix_shared(tree->bp, leaf->pid, &latched);
		if (status != DBOS_OK)
			return status;
		if (!dbos_bp_optimistic_validate(tree->bp, leaf->pid, leaf->version)) {
			dbos_bp_unfix_shared(tree->bp, leaf->pid);
			return DBOS_EAGAIN; /* changed before it was latched: what was decoded may be torn */
		}
	}
	dbos_status status = DBOS_OK;
	if (found.size > DBOS_KV_VALUE_MAX)
		status = DBOS_ECORRUPT;
	else if (copy)
		status = kv_overflow_read(tree, epoch, found.overflow_pid, found.size, value, copy);
	if (!epoch)
		dbos_bp_unfix_shared(tree->bp, leaf->pid);
	if (status != DBOS_OK)
		return status;
	*size_out = found.size;
	return DBOS_OK;
}

dbos_status kv_tree_get(struct kv_tree *tree, struct kv_epoch *epoch, const void *key, uint32_t key_size, void *value,
			uint64_t capacity, uint64_t *size_out)
{
	if (!tree || !key || !size_out || (capacity && !value))
		return DBOS_EINVAL;
	if (key_size == 0 || key_size > DBOS_KV_KEY_MAX)
		return DBOS_EINVAL;
	for (;;) {
		struct kv_read_page leaf;
		dbos_status status = kv_tree_descend(tree, epoch, key, key_size, false, false, &leaf, NULL);
		if (status != DBOS_OK)
			return status;
		bool found;
		uint32_t index =
			kv_node_search(kv_node_of((void *)leaf.page, tree->page_size), key, key_size, false, &found);
		if (!found) {
			if (kv_read_end(tree, epoch, &leaf))
				return DBOS_ENOENT;
			continue;
		}
		status = get_value(tree, epoch, &leaf, index, value, capacity, size_out);
		if (status != DBOS_EAGAIN)
			return status;
	}
}

/* ---- Prefetching for a batch of lookups ---------------------------------------------- */

/*
 * A lookup that misses waits for one read per level it misses, so a batch of lookups made one
 * after another keeps one read in flight.  kv_tree_prefetch walks the whole batch down level by
 * level instead: each round follows every key through resident pages to the first page that is
 * not, and prefetches all those pages in one submission; the next round waits for them as it
 * walks into them.  The walk takes no latch and trusts nothing beyond the choice of a page to
 * read (a page a writer is changing merely sends a key to a page it did not need), so the
 * lookups themselves still do their own validated descent, from memory.
 */

/* Keys walked together: bounds the stack arrays and stays under DBOS_BP_FIX_MANY_MAX. */
#define KV_PREFETCH_KEYS 256u

/* The first page on `key`'s path that is not resident, or 0 when the whole path is (or the walk
 * gave up on a page that changed under it: the lookup will sort that out). */
static uint64_t first_missing_page(struct kv_tree *tree, const void *key, uint32_t key_size)
{
	dbos_bp *bp = tree->bp;
	if (!dbos_bp_resident(bp, KV_TREE_META_PID))
		return KV_TREE_META_PID;
	uint64_t version;
	const void *page;
	if (dbos_bp_optimistic_begin(bp, KV_TREE_META_PID, &version, &page) != DBOS_OK)
		return 0;
	struct kv_tree_meta meta;
	kv_page_read(&meta, dbos_bp_payload((void *)page), sizeof meta);
	if (!dbos_bp_optimistic_validate(bp, KV_TREE_META_PID, version) || !pid_plausible(tree, meta.root) ||
	    meta.height == 0 || meta.height > KV_TREE_HEIGHT_MAX)
		return 0;
	uint64_t pid = meta.root;
	for (uint32_t level = (uint32_t)meta.height - 1;; level--) {
		if (!dbos_bp_resident(bp, pid))
			return pid;
		if (level == 0)
			return 0;
		/* Resident or being read: a page in flight is waited for here, which is what the next round is for. */
		if (dbos_bp_optimistic_begin(bp, pid, &version, &page) != DBOS_OK)
			return 0;
		struct kv_node node = kv_node_of((void *)page, tree->page_size);
		const struct kv_node_header *header = kv_node_header(node);
		if (KV_PAGE_LOAD(header->kind) != KV_NODE_INNER || KV_PAGE_LOAD(header->level) != level)
			return 0;
		uint64_t child = kv_node_child(node, descend_position(node, key, key_size, false, false, NULL));
		if (!dbos_bp_optimistic_validate(bp, pid, version) || !pid_plausible(tree, child))
			return 0;
		pid = child;
	}
}

dbos_status kv_tree_prefetch(struct kv_tree *tree, const void *const *keys, const uint32_t *key_sizes, uint32_t count)
{
	if (!tree || (count && (!keys || !key_sizes)))
		return DBOS_EINVAL;
	for (uint32_t first = 0; first < count; first += KV_PREFETCH_KEYS) {
		uint32_t batch = count - first < KV_PREFETCH_KEYS ? count - first : KV_PREFETCH_KEYS;
		uint64_t wanted[KV_PREFETCH_KEYS];
		uint64_t missed[KV_PREFETCH_KEYS]; /* each key's page prefetched last round; 0: none, or done */
		bool done[KV_PREFETCH_KEYS];
		for (uint32_t i = 0; i < batch; i++) {
			missed[i] = 0;
			/* A bad key is the lookup's to report. */
			done[i] =
				!keys[first + i] || key_sizes[first + i] == 0 || key_sizes[first + i] > DBOS_KV_KEY_MAX;
		}
		/* Each round brings a key at least one level further down, or ends it: at most height + 1 rounds. */
		for (uint32_t round = 0; round <= KV_TREE_HEIGHT_MAX + 1; round++) {
			uint32_t wanted_count = 0;
			for (uint32_t i = 0; i < batch; i++) {
				if (done[i])
					continue;
				uint64_t missing = first_missing_page(tree, keys[first + i], key_sizes[first + i]);
				/* Missing again what was prefetched for it: the pool had no room; its lookup reads it. */
				if (missing == 0 || missing == missed[i]) {
					done[i] = true;
					continue;
				}
				missed[i] = missing;
				wanted[wanted_count++] = missing;
			}
			if (wanted_count == 0)
				break;
			/* A hint: when the pool cannot start the reads (out of memory), the lookups read
			 * for themselves and report what fails. */
			if (dbos_bp_prefetch(tree->bp, wanted, wanted_count) != DBOS_OK)
				return DBOS_OK;
		}
	}
	return DBOS_OK;
}
