/*
 * kv_tree_check.c - walk every page reachable from the meta page and verify
 * the structure: node headers, slot and cell bounds, key order, separator
 * bounds, child levels, overflow chains, no page reached twice, and the
 * entry count.
 *
 * Each node is copied out of the pool and unlatched before its children are
 * visited, so the walk never holds more than one latch (the writer latches in
 * any order).  Run it without a concurrent writer: it checks one state.
 */
#include "kv_tree.h"

struct check {
	struct kv_tree *tree;
	dbos_kv_progress_fn progress;
	void *context;
	uint64_t page_count;
	uint8_t *seen;   /* one bit per page: reached already */
	uint8_t *copies; /* one page per level */
	uint64_t visited;
	uint64_t entries;
	uint64_t bad_pid;
};

static dbos_status corrupt(struct check *check, uint64_t pid)
{
	check->bad_pid = pid;
	return DBOS_ECORRUPT;
}

/* Count a page as reached; a second arrival (a cycle or a shared page) is corruption. */
static dbos_status reach(struct check *check, uint64_t pid)
{
	if (pid <= KV_TREE_META_PID || pid >= check->page_count)
		return corrupt(check, pid);
	if (check->seen[pid / 8] & (1u << (pid % 8)))
		return corrupt(check, pid);
	check->seen[pid / 8] |= (uint8_t)(1u << (pid % 8));
	check->visited++;
	if (check->progress && check->visited % 256 == 0 &&
	    !check->progress(check->context, check->visited * check->tree->page_size,
			     check->page_count * check->tree->page_size))
		return DBOS_ECANCELED;
	return DBOS_OK;
}

static dbos_status check_chain(struct check *check, uint64_t pid, uint64_t value_size)
{
	struct kv_tree *tree = check->tree;
	uint32_t chunk = kv_overflow_chunk(tree->page_size);
	uint64_t pages = (value_size + chunk - 1) / chunk;
	for (uint64_t n = 0; n < pages; n++) {
		dbos_status status = reach(check, pid);
		if (status != DBOS_OK)
			return status;
		void *page;
		status = dbos_bp_fix_shared(tree->bp, pid, &page);
		if (status != DBOS_OK) {
			check->bad_pid = pid;
			return status;
		}
		bool free = ((dbos_bp_page_header *)page)->flags & DBOS_BP_PAGE_FREE;
		uint64_t next = kv_load64(dbos_bp_payload(page));
		dbos_bp_unfix_shared(tree->bp, pid);
		bool last = n + 1 == pages;
		if (free || (last ? next != 0 : next == 0))
			return corrupt(check, pid);
		pid = next;
	}
	return DBOS_OK;
}

/* Header, slots and cells lie inside the node and do not overlap; keys ascend within the fences. */
static bool node_layout_valid(struct kv_node node, const uint8_t *low, uint32_t low_size, const uint8_t *high,
			      uint32_t high_size)
{
	const struct kv_node_header *header = kv_node_header(node);
	if (header->count > kv_node_max_slots(node.size) || header->heap > node.size ||
	    header->heap < KV_NODE_HEADER_SIZE + header->count * KV_SLOT_SIZE)
		return false;
	uint64_t cells = header->garbage;
	const struct kv_slot *slots = kv_node_slots(node);
	for (uint32_t i = 0; i < header->count; i++) {
		uint32_t key_size = slots[i].key_size;
		if (key_size == 0 || key_size > DBOS_KV_KEY_MAX || slots[i].offset < header->heap ||
		    slots[i].offset + key_size + KV_LEAF_VALUE_HEADER > node.size)
			return false;
		uint32_t cell_size = kv_node_cell_size(node, i);
		if (slots[i].offset + cell_size > node.size)
			return false;
		cells += cell_size;
		const uint8_t *key = node.payload + slots[i].offset;
		/* Every key begins with the first key's first head_skip bytes; heads are taken after them. */
		uint32_t skip = header->head_skip;
		if (skip > key_size || __builtin_memcmp(key, node.payload + slots[0].offset, skip) != 0 ||
		    slots[i].head != kv_key_head_after(key, key_size, skip))
			return false;
		if (i > 0) {
			uint32_t previous_size;
			const uint8_t *previous = kv_node_key(node, i - 1, &previous_size);
			if (kv_key_compare(previous, previous_size, key, key_size) >= 0)
				return false;
		}
		if (low && kv_key_compare(key, key_size, low, low_size) < 0)
			return false;
		if (high && kv_key_compare(key, key_size, high, high_size) >= 0)
			return false;
	}
	return cells == node.size - header->heap; /* every heap byte is a cell or counted garbage */
}

static dbos_status check_node(struct check *check, uint64_t pid, uint32_t level, uint32_t depth, const uint8_t *low,
			      uint32_t low_size, const uint8_t *high, uint32_t high_size)
{
	struct kv_tree *tree = check->tree;
	dbos_status status = reach(check, pid);
	if (status != DBOS_OK)
		return status;
	void *page;
	status = dbos_bp_fix_shared(tree->bp, pid, &page);
	if (status != DBOS_OK) {
		check->bad_pid = pid;
		return status;
	}
	uint8_t *copy = check->copies + (size_t)depth * tree->page_size;
	__builtin_memcpy(copy, page, tree->page_size);
	dbos_bp_unfix_shared(tree->bp, pid);
	struct kv_node node = kv_node_of(copy, tree->page_size);
	const struct kv_node_header *header = kv_node_header(node);
	if (header->kind != (level ? KV_NODE_INNER : KV_NODE_LEAF) || header->level != level ||
	    !node_layout_valid(node, low, low_size, high, high_size))
		return corrupt(check, pid);
	if (level == 0) {
		for (uint32_t i = 0; i < header->count; i++) {
			struct kv_leaf_value value = kv_node_leaf_value(node, i);
			if (value.inline_bytes)
				continue;
			if (value.size == 0 || value.size > DBOS_KV_VALUE_MAX)
				return corrupt(check, pid);
			status = check_chain(check, value.overflow_pid, value.size);
			if (status != DBOS_OK)
				return status;
		}
		check->entries += header->count;
		return DBOS_OK;
	}
	for (uint32_t position = 0; position <= header->count; position++) {
		uint32_t child_low_size = low_size, child_high_size = high_size;
		const uint8_t *child_low = low, *child_high = high;
		if (position > 0)
			child_low = kv_node_key(node, position - 1, &child_low_size);
		if (position < header->count)
			child_high = kv_node_key(node, position, &child_high_size);
		status = check_node(check, kv_node_child(node, position), level - 1, depth + 1, child_low,
				    child_low_size, child_high, child_high_size);
		if (status != DBOS_OK)
			return status;
	}
	return DBOS_OK;
}

dbos_status kv_tree_check(struct kv_tree *tree, dbos_kv_progress_fn progress, void *context, uint64_t *bad_pid_out)
{
	if (!tree || !bad_pid_out)
		return DBOS_EINVAL;
	*bad_pid_out = 0;
	struct kv_tree_meta meta;
	dbos_status status = kv_tree_meta_load(tree, &meta);
	if (status != DBOS_OK) {
		*bad_pid_out = KV_TREE_META_PID;
		return status;
	}
	uint64_t page_count = dbos_bp_page_count(tree->bp);
	if (meta.magic != KV_TREE_META_MAGIC || meta.height == 0 || meta.height > KV_TREE_HEIGHT_MAX) {
		*bad_pid_out = KV_TREE_META_PID;
		return DBOS_ECORRUPT;
	}
	size_t seen_size = (size_t)(page_count + 7) / 8;
	size_t copies_size = (size_t)meta.height * tree->page_size;
	struct check check = { .tree = tree, .progress = progress, .context = context, .page_count = page_count };
	check.seen = dbos_platform_alloc(seen_size);
	check.copies = dbos_platform_alloc(copies_size);
	if (!check.seen || !check.copies)
		status = DBOS_ENOMEM;
	else
		status = check_node(&check, meta.root, (uint32_t)meta.height - 1, 0, NULL, 0, NULL, 0);
	if (status == DBOS_OK && check.entries != meta.entries)
		status = corrupt(&check, KV_TREE_META_PID);
	if (status == DBOS_OK && progress &&
	    !progress(context, page_count * tree->page_size, page_count * tree->page_size))
		status = DBOS_ECANCELED;
	if (check.seen)
		dbos_platform_free(check.seen, seen_size);
	if (check.copies)
		dbos_platform_free(check.copies, copies_size);
	*bad_pid_out = check.bad_pid;
	return status;
}
