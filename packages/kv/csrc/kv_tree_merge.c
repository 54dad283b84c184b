/*
 * kv_tree_merge.c - after a delete: unlink emptied nodes, merge underfull
 * nodes with a sibling, collapse a root left with one child.
 *
 * Merging always moves the left node of a pair into the right one and drops
 * the parent's entry (separator, left), so the right node's range simply
 * widens to cover the left's: the same parent change as unlinking an empty
 * child.  Emptied pages are freed only after every latch of the write is
 * released (kv_write_finish), so a reader that was inside one sees its version
 * change and restarts.
 */
#include "kv_tree.h"

static void doom(struct kv_write *write, uint64_t pid)
{
	DBOS_ASSERT(write->doomed_count < KV_WRITE_HELD_MAX);
	write->doomed[write->doomed_count++] = pid;
}

/* Remove the child at `position` (0..count) of a node with count >= 1. */
static void remove_position(struct kv_node parent, uint32_t position)
{
	uint32_t count = kv_node_header(parent)->count;
	DBOS_ASSERT(count >= 1 && position <= count);
	if (position == count) {
		KV_PAGE_STORE(kv_node_header(parent)->rightmost, kv_node_child(parent, count - 1));
		kv_node_remove(parent, count - 1);
	} else {
		kv_node_remove(parent, position);
	}
}

/* Bytes the pair would use merged (one node header; an inner pair also takes the parent's separator down). */
static uint32_t merged_used(struct kv_node left, struct kv_node right, uint32_t separator_size)
{
	uint32_t used = kv_node_used(left) + kv_node_used(right) - KV_NODE_HEADER_SIZE;
	if (kv_node_header(left)->kind == KV_NODE_INNER)
		used += separator_size + KV_CHILD_SIZE + KV_SLOT_SIZE;
	return used;
}

/* Move every entry of `left` into the front of `right`. */
static void merge_into_right(struct kv_node left, struct kv_node right, const uint8_t *separator,
			     uint32_t separator_size)
{
	uint64_t scratch_words[(right.size + 7) / 8]; /* 8-aligned: node headers are read in place */
	uint8_t *scratch = (uint8_t *)scratch_words;
	__builtin_memcpy(scratch, right.payload, right.size);
	struct kv_node source = { scratch, right.size };
	const struct kv_node_header *source_header = kv_node_header(source);
	kv_node_init(right, source_header->kind, source_header->level);
	kv_node_append_range(right, left, 0, kv_node_header(left)->count);
	if (source_header->kind == KV_NODE_INNER) {
		/* The left's rightmost child covers [its last separator, the parent's separator). */
		uint8_t child[KV_CHILD_SIZE];
		kv_store64(child, kv_node_header(left)->rightmost);
		kv_node_insert(right, kv_node_header(right)->count, separator, separator_size, child, KV_CHILD_SIZE,
			       NULL, 0);
		KV_PAGE_STORE(kv_node_header(right)->rightmost, source_header->rightmost);
	}
	kv_node_append_range(right, source, 0, source_header->count);
}

/*
 * Merge path[level] (underfull, held) with a sibling when both fit in one
 * node.  *merged_out: whether the parent lost an entry.
 */
static dbos_status merge_with_sibling(struct kv_write *write, uint32_t level, struct kv_node node,
				      struct kv_node parent, bool *merged_out)
{
	struct kv_tree *tree = write->tree;
	*merged_out = false;
	uint32_t position = write->positions[level - 1];
	uint32_t count = kv_node_header(parent)->count;
	if (count == 0)
		return DBOS_OK; /* an only child: the parent itself is the one to merge */
	uint32_t left_position = position < count ? position : position - 1;
	uint64_t sibling_pid = kv_node_child(parent, position < count ? position + 1 : position - 1);
	uint32_t separator_size;
	const uint8_t *separator = kv_node_key(parent, left_position, &separator_size);

	/* Look first with a shared latch: an exclusive one would restart readers for nothing. */
	void *sibling_page;
	dbos_status status = dbos_bp_fix_shared(tree->bp, sibling_pid, &sibling_page);
	if (status != DBOS_OK)
		return status;
	struct kv_node sibling = kv_node_of(sibling_page, tree->page_size);
	bool fits = kv_node_header(sibling)->kind == kv_node_header(node)->kind &&
		    merged_used(node, sibling, separator_size) <= node.size;
	dbos_bp_unfix_shared(tree->bp, sibling_pid);
	if (!fits)
		return DBOS_OK;
	status = kv_write_fix(write, sibling_pid, &sibling_page);
	if (status != DBOS_OK)
		return status;
	sibling = kv_node_of(sibling_page, tree->page_size);
	bool node_is_left = position < count;
	struct kv_node left = node_is_left ? node : sibling;
	struct kv_node right = node_is_left ? sibling : node;
	merge_into_right(left, right, separator, separator_size);
	if (tree->head_skip)
		kv_node_refresh_heads(right);
	doom(write, node_is_left ? write->path[level] : sibling_pid);
	kv_node_remove(parent, left_position);
	*merged_out = true;
	return DBOS_OK;
}

/* A root inner node with no separator hands the tree to its only child. */
static dbos_status collapse_root(struct kv_write *write)
{
	while (write->height > 1) {
		void *page;
		dbos_status status = kv_write_fix(write, write->meta.root, &page);
		if (status != DBOS_OK)
			return status;
		struct kv_node root = kv_node_of(page, write->tree->page_size);
		if (kv_node_header(root)->count > 0)
			return DBOS_OK;
		doom(write, write->meta.root);
		write->meta.root = kv_node_header(root)->rightmost;
		write->meta.height = --write->height;
		write->meta_dirty = true;
	}
	return DBOS_OK;
}

/* Doom path[from..to] (a chain of emptied nodes, now unlinked). */
static void doom_path(struct kv_write *write, uint32_t from, uint32_t to)
{
	for (uint32_t level = from; level <= to; level++)
		doom(write, write->path[level]);
}

dbos_status kv_write_rebalance(struct kv_write *write)
{
	uint32_t page_size = write->tree->page_size;
	uint32_t level = write->height - 1;
	void *page;
	dbos_status status = kv_write_fix(write, write->path[level], &page);
	if (status != DBOS_OK)
		return status;
	/*
	 * An emptied leaf is unlinked from its parent; a parent whose only child it
	 * was is empty in turn, and so on up.  The empty chain path[level..empty_to]
	 * is doomed only once an ancestor has unlinked it: if latching that
	 * ancestor fails, the empty nodes stay linked, which is still a valid tree.
	 */
	bool empty = kv_node_header(kv_node_of(page, page_size))->count == 0;
	uint32_t empty_to = level;
	while (level > 0) {
		struct kv_node node = kv_node_of(page, page_size);
		if (!empty && kv_node_used(node) >= node.size / 4)
			break;
		void *parent_page;
		status = kv_write_fix(write, write->path[level - 1], &parent_page);
		if (status != DBOS_OK)
			return status;
		struct kv_node parent = kv_node_of(parent_page, page_size);
		if (empty) {
			if (kv_node_header(parent)->count > 0) {
				remove_position(parent, write->positions[level - 1]);
				doom_path(write, level, empty_to);
				empty = false;
			}
		} else {
			bool merged;
			status = merge_with_sibling(write, level, node, parent, &merged);
			if (status != DBOS_OK)
				return status;
			if (!merged && kv_node_header(parent)->count > 0)
				break; /* no sibling it fits with: leave it underfull */
		}
		level--;
		page = parent_page;
	}
	if (empty && write->height > 1) {
		/* Every child of the root went (a root keeps >= 1 separator, so this is defensive). */
		doom_path(write, 1, empty_to);
		kv_node_init(kv_node_of(page, page_size), KV_NODE_LEAF, 0);
		write->meta.height = write->height = 1;
		write->meta.root = write->path[0];
		write->meta_dirty = true;
		return DBOS_OK;
	}
	return collapse_root(write);
}
