/*
 * kv_tree_split.c - inserting a cell into a node that may be full: split the
 * node in two, move a separator up, grow a new root when the root splits.
 *
 * A split moves the lower part of a node to a new page and keeps the upper
 * part in place, so the parent only gains an entry (separator, new page) in
 * front of the position it already has.  Fit: a cell plus its slot is at most
 * a third of a node's room, so halves balanced by bytes hold at most
 * room/2 + room/6 each, and the new cell (<= room/3) fits in either.
 */
#include "kv_tree.h"

#define KV_INNER_CELL_MAX (DBOS_KV_KEY_MAX + KV_CHILD_SIZE)

uint32_t kv_write_pages_needed(const struct kv_write *write, uint32_t leaf_cell_size, uint32_t *top_level_out)
{
	uint32_t level = write->height - 1;
	*top_level_out = level;
	if (write->room[level] >= leaf_cell_size + KV_SLOT_SIZE)
		return 0;
	uint32_t pages = 1; /* the leaf's new half */
	while (level-- > 0) {
		*top_level_out = level;
		if (write->room[level] >= KV_INNER_CELL_MAX + KV_SLOT_SIZE)
			return pages;
		pages++; /* this ancestor splits too */
	}
	return pages + 1; /* the root split: a new root */
}

/*
 * Where to split a full node that is about to receive a cell of `cell_size`
 * bytes (slot included) at `index`: the k whose halves, the new cell counted
 * on its side, are most even.  A leaf keeps slots [0, k) in the lower half; an
 * inner node also moves s[k] up.  *to_lower_out: the new cell's half.
 */
static uint32_t split_point(struct kv_node node, uint32_t index, uint32_t cell_size, bool append, bool *to_lower_out)
{
	uint32_t count = kv_node_header(node)->count;
	bool inner = kv_node_header(node)->kind == KV_NODE_INNER;
	/* Appending at the right edge (sequential keys): keep the lower node full, start an empty upper one. */
	if (append && index == count) {
		*to_lower_out = false;
		return inner ? count - 1 : count;
	}
	uint32_t total = 0;
	for (uint32_t i = 0; i < count; i++)
		total += kv_node_cell_size(node, i) + KV_SLOT_SIZE;
	uint32_t best_k = 1, best_max = UINT32_MAX;
	bool best_to_lower = index < 1;
	uint32_t prefix = 0; /* bytes of slots [0, k) */
	for (uint32_t k = 0; k < count; k++) {
		uint32_t size_k = kv_node_cell_size(node, k) + KV_SLOT_SIZE;
		if (k >= 1) {
			uint32_t lower = prefix, upper = total - prefix - (inner ? size_k : 0);
			bool to_lower = inner ? index <= k : index < k || (index == k && lower <= upper);
			if (to_lower)
				lower += cell_size;
			else
				upper += cell_size;
			uint32_t larger = lower > upper ? lower : upper;
			if (larger < best_max) {
				best_max = larger;
				best_k = k;
				best_to_lower = to_lower;
			}
		}
		prefix += size_k;
	}
	*to_lower_out = best_to_lower;
	return best_k;
}

/* The shortest prefix of `upper` that is greater than `lower` (lower < upper): a leaf separator. */
static uint32_t separator_size(const uint8_t *lower, uint32_t lower_size, const uint8_t *upper, uint32_t upper_size)
{
	uint32_t common = kv_key_common_prefix(lower, lower_size, upper, upper_size);
	DBOS_ASSERT(common < upper_size);
	return common + 1;
}

/* Each half of a split keys a narrower range: its keys may share a longer prefix than the whole did. */
static void refresh_heads(const struct kv_tree *tree, struct kv_node lower, struct kv_node upper)
{
	if (!tree->head_skip)
		return;
	kv_node_refresh_heads(lower);
	kv_node_refresh_heads(upper);
}

/*
 * Split the node at `pid` (held) into a new lower page and itself, insert
 * the cell, and leave the separator in `separator`.  Returns the new page.
 */
static uint64_t split_and_insert(struct kv_write *write, void *page, uint32_t index, const void *key, uint32_t key_size,
				 const void *rest, uint32_t rest_size, const void *tail, uint32_t tail_size,
				 uint8_t *separator, uint32_t *separator_size_out)
{
	uint32_t page_size = write->tree->page_size;
	struct kv_node node = kv_node_of(page, page_size);
	struct kv_node_header *header = kv_node_header(node);
	bool inner = header->kind == KV_NODE_INNER;
	uint32_t count = header->count;
	bool to_lower;
	uint32_t k =
		split_point(node, index, key_size + rest_size + tail_size + KV_SLOT_SIZE, write->right_edge, &to_lower);

	uint64_t lower_pid;
	struct kv_node lower = kv_node_of(kv_write_take_spare(write, &lower_pid), page_size);
	uint64_t scratch_words[(node.size + 7) / 8]; /* 8-aligned: node headers are read in place */
	uint8_t *scratch = (uint8_t *)scratch_words;
	__builtin_memcpy(scratch, node.payload, node.size);
	struct kv_node source = { scratch, node.size };

	kv_node_init(lower, header->kind, header->level);
	kv_node_append_range(lower, source, 0, k);
	kv_node_init(node, kv_node_header(source)->kind, kv_node_header(source)->level);
	if (inner) {
		/* s[k] moves up; c[k] becomes the lower node's rightmost child. */
		uint32_t up_size;
		const uint8_t *up = kv_node_key(source, k, &up_size);
		__builtin_memcpy(separator, up, up_size);
		*separator_size_out = up_size;
		KV_PAGE_STORE(kv_node_header(lower)->rightmost, kv_node_child(source, k));
		kv_node_append_range(node, source, k + 1, count);
		KV_PAGE_STORE(header->rightmost, kv_node_header(source)->rightmost);
		if (to_lower)
			kv_node_insert(lower, index, key, key_size, rest, rest_size, tail, tail_size);
		else
			kv_node_insert(node, index - k - 1, key, key_size, rest, rest_size, tail, tail_size);
		refresh_heads(write->tree, lower, node);
		return lower_pid;
	}
	kv_node_append_range(node, source, k, count);
	if (to_lower)
		kv_node_insert(lower, index, key, key_size, rest, rest_size, tail, tail_size);
	else
		kv_node_insert(node, index - k, key, key_size, rest, rest_size, tail, tail_size);
	uint32_t last_size, first_size;
	const uint8_t *last = kv_node_key(lower, kv_node_header(lower)->count - 1, &last_size);
	const uint8_t *first = kv_node_key(node, 0, &first_size);
	*separator_size_out = separator_size(last, last_size, first, first_size);
	__builtin_memcpy(separator, first, *separator_size_out);
	refresh_heads(write->tree, lower, node);
	return lower_pid;
}

void kv_write_insert(struct kv_write *write, uint32_t level, uint32_t index, const void *key, uint32_t key_size,
		     const void *rest, uint32_t rest_size, const void *tail, uint32_t tail_size)
{
	uint32_t page_size = write->tree->page_size;
	/* Two separator buffers: the one being inserted and the one a split of the parent moves up. */
	uint8_t separators[2][DBOS_KV_KEY_MAX];
	uint32_t which = 0;
	uint8_t child[KV_CHILD_SIZE];
	for (;;) {
		void *page;
		/* Held already (the caller latched every level up to the top one this insert can reach). */
		dbos_status held = kv_write_fix(write, write->path[level], &page);
		DBOS_ASSERT(held == DBOS_OK);
		struct kv_node node = kv_node_of(page, page_size);
		uint32_t cell_size = key_size + rest_size + tail_size;
		if (kv_node_free_after_compaction(node) >= cell_size + KV_SLOT_SIZE) {
			kv_node_insert(node, index, key, key_size, rest, rest_size, tail, tail_size);
			return;
		}
		uint8_t *separator = separators[which];
		uint32_t separator_size;
		uint64_t lower_pid = split_and_insert(write, page, index, key, key_size, rest, rest_size, tail,
						      tail_size, separator, &separator_size);
		kv_store64(child, lower_pid);
		if (level == 0) {
			/* The root split: a new root above the two halves. */
			uint64_t root_pid;
			struct kv_node root = kv_node_of(kv_write_take_spare(write, &root_pid), page_size);
			kv_node_init(root, KV_NODE_INNER, (uint16_t)write->height);
			kv_node_insert(root, 0, separator, separator_size, child, KV_CHILD_SIZE, NULL, 0);
			KV_PAGE_STORE(kv_node_header(root)->rightmost, write->path[0]);
			if (write->tree->head_skip)
				kv_node_refresh_heads(root);
			write->meta.root = root_pid;
			write->meta.height = ++write->height;
			write->meta_dirty = true;
			return;
		}
		level--;
		index = write->positions[level];
		key = separator;
		key_size = separator_size;
		rest = child;
		rest_size = KV_CHILD_SIZE;
		tail = NULL;
		tail_size = 0;
		which ^= 1;
	}
}
