/*
 * kv_tree_write.c - put and delete, and the bookkeeping of one write: the
 * path it descended, the pages it latched, the spare pages it reserved and
 * the pages it emptied.  Splits are in kv_tree_split.c, merges in
 * kv_tree_merge.c.
 */
#include "kv_tree.h"

dbos_status kv_write_fix(struct kv_write *write, uint64_t pid, void **page_out)
{
	for (uint32_t i = 0; i < write->held_count; i++) {
		if (write->held_pids[i] == pid) {
			*page_out = write->held_pages[i];
			return DBOS_OK;
		}
	}
	DBOS_ASSERT(write->held_count < KV_WRITE_HELD_MAX);
	dbos_status status = dbos_bp_fix_exclusive(write->tree->bp, pid, page_out);
	if (status != DBOS_OK)
		return status;
	write->held_pids[write->held_count] = pid;
	write->held_pages[write->held_count++] = *page_out;
	return DBOS_OK;
}

void *kv_write_take_spare(struct kv_write *write, uint64_t *pid_out)
{
	DBOS_ASSERT(write->spare_count > 0); /* kv_write_pages_needed reserved enough */
	write->spare_count--;
	uint64_t pid = write->spare_pids[write->spare_count];
	void *page = write->spare_pages[write->spare_count];
	DBOS_ASSERT(write->held_count < KV_WRITE_HELD_MAX);
	write->held_pids[write->held_count] = pid;
	write->held_pages[write->held_count++] = page;
	*pid_out = pid;
	return page;
}

static bool write_is_doomed(const struct kv_write *write, uint64_t pid)
{
	for (uint32_t i = 0; i < write->doomed_count; i++)
		if (write->doomed[i] == pid)
			return true;
	return false;
}

dbos_status kv_write_finish(struct kv_write *write)
{
	struct kv_tree *tree = write->tree;
	dbos_status result = DBOS_OK;
	if (write->meta_dirty) {
		/* Before any latch goes: a reader must not reach a new root's children through the old root. */
		void *page;
		result = kv_write_fix(write, KV_TREE_META_PID, &page);
		if (result == DBOS_OK)
			kv_page_write(dbos_bp_payload(page), &write->meta, sizeof write->meta);
	}
	for (uint32_t i = 0; i < write->held_count; i++) {
		if (!write_is_doomed(write, write->held_pids[i]))
			kv_page_set_lsn(write->held_pages[i], write->lsn);
		dbos_bp_unfix_exclusive(tree->bp, write->held_pids[i], true);
	}
	write->held_count = 0;
	for (uint32_t i = 0; i < write->doomed_count; i++) {
		dbos_status status = kv_tree_free_page(tree, write->doomed[i]);
		if (result == DBOS_OK)
			result = status;
	}
	write->doomed_count = 0;
	while (write->spare_count > 0) {
		write->spare_count--;
		uint64_t pid = write->spare_pids[write->spare_count];
		dbos_bp_unfix_exclusive(tree->bp, pid, true);
		dbos_status status = kv_tree_free_page(tree, pid);
		if (result == DBOS_OK)
			result = status;
	}
	return result;
}

/* A write that failed before changing anything: release its latches clean, give its spares back. */
static void write_abandon(struct kv_write *write)
{
	for (uint32_t i = 0; i < write->held_count; i++)
		dbos_bp_unfix_exclusive(write->tree->bp, write->held_pids[i], false);
	write->held_count = 0;
	write->meta_dirty = false;
	kv_write_finish(write); /* frees the spares only */
}

/* What the writer's descent found in the leaf. */
struct write_target {
	uint32_t index;
	bool found;
	struct kv_leaf_value old; /* the value found (overflow_pid names a chain to free) */
	uint32_t old_cell_size;
};

/* Descend to the leaf for `key` with shared fixes (the writer is alone: the path stays as seen). */
static dbos_status write_descend(struct kv_write *write, const void *key, uint32_t key_size,
				 struct write_target *target)
{
	struct kv_tree *tree = write->tree;
	uint64_t pid = write->meta.root;
	for (uint32_t level = 0; level < write->height; level++) {
		uint32_t node_level = write->height - 1 - level;
		if (pid <= KV_TREE_META_PID || pid >= dbos_bp_page_count(tree->bp))
			return DBOS_ECORRUPT;
		void *page;
		dbos_status status = dbos_bp_fix_shared(tree->bp, pid, &page);
		if (status != DBOS_OK)
			return status;
		struct kv_node node = kv_node_of(page, tree->page_size);
		const struct kv_node_header *header = kv_node_header(node);
		if (header->kind != (node_level ? KV_NODE_INNER : KV_NODE_LEAF) || header->level != node_level) {
			dbos_bp_unfix_shared(tree->bp, pid);
			return DBOS_ECORRUPT;
		}
		write->path[level] = pid;
		write->room[level] = kv_node_free_after_compaction(node);
		if (node_level) {
			uint32_t position = kv_node_search(node, key, key_size, true, NULL);
			write->positions[level] = position;
			write->right_edge = write->right_edge && position == kv_node_count(node);
			pid = kv_node_child(node, position);
		} else {
			target->index = kv_node_search(node, key, key_size, false, &target->found);
			if (target->found) {
				target->old = kv_node_leaf_value(node, target->index);
				target->old_cell_size = kv_node_cell_size(node, target->index);
			}
		}
		dbos_bp_unfix_shared(tree->bp, write->path[level]);
	}
	return DBOS_OK;
}

static dbos_status write_begin(struct kv_write *write, struct kv_tree *tree, uint64_t lsn)
{
	*write = (struct kv_write){ .tree = tree, .lsn = lsn, .right_edge = true };
	dbos_status status = kv_tree_meta_load(tree, &write->meta);
	if (status != DBOS_OK)
		return status;
	if (write->meta.magic != KV_TREE_META_MAGIC || write->meta.height == 0 ||
	    write->meta.height > KV_TREE_HEIGHT_MAX)
		return DBOS_ECORRUPT;
	write->height = (uint32_t)write->meta.height;
	return DBOS_OK;
}

static dbos_status write_reserve(struct kv_write *write, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		uint64_t pid;
		void *page;
		dbos_status status = dbos_bp_allocate(write->tree->bp, &pid, &page);
		if (status != DBOS_OK)
			return status;
		write->spare_pids[write->spare_count] = pid;
		write->spare_pages[write->spare_count++] = page;
	}
	return DBOS_OK;
}

static bool key_size_valid(const void *key, uint32_t key_size)
{
	return key && key_size >= 1 && key_size <= DBOS_KV_KEY_MAX;
}

dbos_status kv_tree_put(struct kv_tree *tree, const void *key, uint32_t key_size, const void *value,
			uint64_t value_size, uint64_t lsn)
{
	if (!tree || !key_size_valid(key, key_size) || value_size > DBOS_KV_VALUE_MAX || (value_size && !value))
		return DBOS_EINVAL;
	struct kv_write write;
	dbos_status status = write_begin(&write, tree, lsn);
	if (status != DBOS_OK)
		return status;
	struct write_target target = { 0 };
	status = write_descend(&write, key, key_size, &target);
	if (status != DBOS_OK)
		return status;

	/* The new cell's value part; a large value goes to a chain first, before anything points to it. */
	uint8_t rest[KV_LEAF_VALUE_HEADER + KV_OVERFLOW_REF_SIZE];
	uint32_t rest_size;
	const void *tail = NULL;
	uint32_t tail_size = 0;
	if (kv_tree_value_inline(tree->page_size, key_size, value_size)) {
		kv_store32(rest, (uint32_t)value_size);
		rest_size = KV_LEAF_VALUE_HEADER;
		tail = value;
		tail_size = (uint32_t)value_size;
	} else {
		uint64_t first_pid;
		status = kv_overflow_write(tree, value, value_size, lsn, &first_pid);
		if (status != DBOS_OK)
			return status;
		kv_store32(rest, KV_VALUE_OVERFLOW);
		kv_store64(rest + 4, value_size);
		kv_store64(rest + 12, first_pid);
		rest_size = KV_LEAF_VALUE_HEADER + KV_OVERFLOW_REF_SIZE;
	}
	uint32_t cell_size = key_size + rest_size + tail_size;
	uint32_t leaf_level = write.height - 1;
	if (target.found)
		write.room[leaf_level] += target.old_cell_size + KV_SLOT_SIZE;
	uint32_t top_level;
	uint32_t pages = kv_write_pages_needed(&write, cell_size, &top_level);
	status = write_reserve(&write, pages);
	/* Latch bottom-up every node the insert may change (the meta page last, for a new entry or a
	 * new root), so that nothing can fail once changes begin. */
	void *leaf_page = NULL, *page;
	if (status == DBOS_OK)
		status = kv_write_fix(&write, write.path[leaf_level], &leaf_page);
	for (uint32_t level = leaf_level; status == DBOS_OK && level-- > top_level;)
		status = kv_write_fix(&write, write.path[level], &page);
	if (status == DBOS_OK && (!target.found || (pages > 0 && top_level == 0)))
		status = kv_write_fix(&write, KV_TREE_META_PID, &page);
	if (status != DBOS_OK) {
		write_abandon(&write);
		if (rest_size > KV_LEAF_VALUE_HEADER)
			kv_overflow_free(tree, kv_load64(rest + 12), value_size);
		return status;
	}
	struct kv_node leaf = kv_node_of(leaf_page, tree->page_size);
	if (target.found && !target.old.overflow_pid && rest_size == KV_LEAF_VALUE_HEADER &&
	    target.old.size == value_size) {
		/* Same-size inline overwrite (the common update): the bytes change in place. */
		uint8_t *cell_value =
			(uint8_t *)kv_node_cell_rest(leaf, target.index, KV_LEAF_VALUE_HEADER) + KV_LEAF_VALUE_HEADER;
		if (value_size)
			kv_page_write(cell_value, value, value_size); /* readers may be reading it */
	} else {
		if (target.found)
			kv_node_remove(leaf, target.index);
		kv_write_insert(&write, leaf_level, target.index, key, key_size, rest, rest_size, tail, tail_size);
	}
	if (!target.found) {
		write.meta.entries++;
		write.meta_dirty = true;
	}
	status = kv_write_finish(&write);
	if (target.found && target.old.overflow_pid) {
		dbos_status freed = kv_overflow_free(tree, target.old.overflow_pid, target.old.size);
		if (status == DBOS_OK)
			status = freed;
	}
	return status;
}

dbos_status kv_tree_del(struct kv_tree *tree, const void *key, uint32_t key_size, uint64_t lsn, bool *found_out)
{
	if (found_out)
		*found_out = false;
	if (!tree || !key_size_valid(key, key_size))
		return DBOS_EINVAL;
	struct kv_write write;
	dbos_status status = write_begin(&write, tree, lsn);
	if (status != DBOS_OK)
		return status;
	struct write_target target = { 0 };
	status = write_descend(&write, key, key_size, &target);
	if (status != DBOS_OK || !target.found)
		return status;
	void *leaf_page;
	void *meta_page;
	status = kv_write_fix(&write, write.path[write.height - 1], &leaf_page);
	if (status == DBOS_OK)
		status = kv_write_fix(&write, KV_TREE_META_PID, &meta_page); /* the count changes */
	if (status != DBOS_OK) {
		write_abandon(&write);
		return status;
	}
	kv_node_remove(kv_node_of(leaf_page, tree->page_size), target.index);
	write.meta.entries--;
	write.meta_dirty = true;
	status = kv_write_rebalance(&write);
	dbos_status finished = kv_write_finish(&write);
	if (status == DBOS_OK)
		status = finished;
	if (target.old.overflow_pid) {
		dbos_status freed = kv_overflow_free(tree, target.old.overflow_pid, target.old.size);
		if (status == DBOS_OK)
			status = freed;
	}
	if (found_out)
		*found_out = true;
	return status;
}
