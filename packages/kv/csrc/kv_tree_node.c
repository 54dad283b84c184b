/*
 * kv_tree_node.c - slotted nodes: binary search, cells in and out, compaction.
 *
 * Readers call the accessors on pages they read optimistically, so every
 * offset and size taken from the page is clamped to the payload before use,
 * and every load goes through the page helpers of kv_tree.h (relaxed atomics);
 * the writer calls the mutators on pages it holds exclusively, storing through
 * the same helpers, since readers may be reading the page meanwhile.
 */
#include "kv_tree.h"

const uint8_t *kv_node_key(struct kv_node node, uint32_t index, uint32_t *key_size_out)
{
	struct kv_slot slot = kv_node_slot(node, index);
	uint32_t offset = slot.offset < node.size ? slot.offset : 0;
	uint32_t size = slot.key_size;
	if (size > node.size - offset)
		size = node.size - offset;
	*key_size_out = size;
	return node.payload + offset;
}

const uint8_t *kv_node_cell_rest(struct kv_node node, uint32_t index, uint32_t need)
{
	struct kv_slot slot = kv_node_slot(node, index);
	uint32_t offset = (uint32_t)slot.offset + slot.key_size;
	if (offset + need > node.size)
		offset = node.size - need; /* torn: any in-bounds bytes do */
	return node.payload + offset;
}

/* The node's head_skip as a reader may use it: clamped to the first key (a torn page stays in bounds). */
static uint32_t node_head_skip(struct kv_node node, uint32_t count, const uint8_t **first_out)
{
	uint32_t skip = KV_PAGE_LOAD(kv_node_header(node)->head_skip);
	if (skip == 0 || count == 0)
		return 0;
	uint32_t first_size;
	*first_out = kv_node_key(node, 0, &first_size);
	return skip < first_size ? skip : first_size;
}

uint32_t kv_node_search(struct kv_node node, const void *key, uint32_t key_size, bool or_equal, bool *found_out)
{
	uint32_t count = kv_node_count(node);
	const uint8_t *first = NULL;
	uint32_t skip = node_head_skip(node, count, &first);
	if (skip) {
		/* Every key begins with first[0, skip): a key that does not lies below or above them all. */
		int order = kv_page_compare(key, first, key_size < skip ? key_size : skip);
		if (order == 0 && key_size < skip)
			order = -1; /* a proper prefix of the shared bytes */
		if (order != 0) {
			if (found_out)
				*found_out = false;
			return order < 0 ? 0 : count;
		}
	}
	uint32_t head = kv_key_head_after(key, key_size, skip);
	uint32_t low = 0, high = count;
	bool found = false;
	/* Invariant: slots < low are below the key (or equal with or_equal); slots >= high are not. */
	while (low < high) {
		uint32_t middle = low + (high - low) / 2;
		int order;
		uint32_t slot_head = KV_PAGE_LOAD(kv_node_slots(node)[middle].head);
		if (slot_head != head) {
			order = slot_head < head ? -1 : 1;
		} else {
			uint32_t slot_key_size;
			const uint8_t *slot_key = kv_node_key(node, middle, &slot_key_size);
			order = kv_key_compare(slot_key, slot_key_size, key, key_size);
		}
		if (order < 0 || (order == 0 && or_equal)) {
			low = middle + 1;
		} else {
			if (order == 0)
				found = true;
			high = middle;
		}
	}
	if (found_out)
		*found_out = found && !or_equal;
	return low;
}

uint64_t kv_node_child(struct kv_node node, uint32_t position)
{
	if (position >= kv_node_count(node))
		return KV_PAGE_LOAD(kv_node_header(node)->rightmost);
	return kv_load64(kv_node_cell_rest(node, position, KV_CHILD_SIZE));
}

void kv_node_set_child(struct kv_node node, uint32_t position, uint64_t pid)
{
	if (position >= kv_node_header(node)->count) {
		KV_PAGE_STORE(kv_node_header(node)->rightmost, pid);
		return;
	}
	struct kv_slot slot = kv_node_slots(node)[position];
	kv_store64(node.payload + slot.offset + slot.key_size, pid);
}

struct kv_leaf_value kv_node_leaf_value(struct kv_node node, uint32_t index)
{
	const uint8_t *rest = kv_node_cell_rest(node, index, KV_LEAF_VALUE_HEADER);
	uint32_t inline_size = kv_load32(rest);
	if (inline_size == KV_VALUE_OVERFLOW) {
		rest = kv_node_cell_rest(node, index, KV_LEAF_VALUE_HEADER + KV_OVERFLOW_REF_SIZE);
		return (struct kv_leaf_value){ NULL, kv_load64(rest + 4), kv_load64(rest + 12) };
	}
	uint32_t room = node.size - (uint32_t)(rest + KV_LEAF_VALUE_HEADER - node.payload);
	if (inline_size > room)
		inline_size = room;
	return (struct kv_leaf_value){ rest + KV_LEAF_VALUE_HEADER, inline_size, 0 };
}

uint32_t kv_node_cell_size(struct kv_node node, uint32_t index)
{
	uint32_t key_size = kv_node_slot(node, index).key_size;
	if (KV_PAGE_LOAD(kv_node_header(node)->kind) == KV_NODE_INNER)
		return key_size + KV_CHILD_SIZE;
	uint32_t inline_size = kv_load32(kv_node_cell_rest(node, index, KV_LEAF_VALUE_HEADER));
	if (inline_size == KV_VALUE_OVERFLOW)
		return key_size + KV_LEAF_VALUE_HEADER + KV_OVERFLOW_REF_SIZE;
	return key_size + KV_LEAF_VALUE_HEADER + inline_size;
}

uint32_t kv_node_used(struct kv_node node)
{
	const struct kv_node_header *header = kv_node_header(node);
	return KV_NODE_HEADER_SIZE + header->count * KV_SLOT_SIZE + (node.size - header->heap - header->garbage);
}

uint32_t kv_node_free_after_compaction(struct kv_node node)
{
	return node.size - kv_node_used(node);
}

void kv_node_init(struct kv_node node, uint8_t kind, uint16_t level)
{
	struct kv_node_header header = {
		.kind = kind, .level = level, .count = 0, .heap = (uint16_t)node.size, .garbage = 0, .rightmost = 0
	};
	kv_page_write(kv_node_header(node), &header, sizeof header);
}

/* Contiguous free bytes between the slot array and the heap. */
static uint32_t node_gap(struct kv_node node)
{
	const struct kv_node_header *header = kv_node_header(node);
	return header->heap - (KV_NODE_HEADER_SIZE + header->count * KV_SLOT_SIZE);
}

/* Writer: set head_skip and recompute every slot's head for it. */
static void node_set_head_skip(struct kv_node node, uint32_t skip)
{
	struct kv_node_header *header = kv_node_header(node);
	KV_PAGE_STORE(header->head_skip, (uint16_t)skip);
	for (uint32_t i = 0; i < header->count; i++) {
		struct kv_slot slot = kv_node_slots(node)[i];
		slot.head = kv_key_head_after(node.payload + slot.offset, slot.key_size, skip);
		kv_node_set_slot(node, i, slot);
	}
}

/* Writer: `key` joins the node; shorten head_skip to what it shares with the keys there. Returns its head. */
static uint32_t node_admit_key(struct kv_node node, const uint8_t *key, uint32_t key_size)
{
	struct kv_node_header *header = kv_node_header(node);
	uint32_t skip = header->head_skip;
	if (header->count == 0) {
		skip = 0;
		KV_PAGE_STORE(header->head_skip, (uint16_t)0);
	} else if (skip) {
		struct kv_slot first = kv_node_slots(node)[0];
		uint32_t shared = kv_key_common_prefix(key, key_size, node.payload + first.offset, skip);
		if (shared < skip) {
			skip = shared;
			node_set_head_skip(node, skip);
		}
	}
	return kv_key_head_after(key, key_size, skip);
}

void kv_node_refresh_heads(struct kv_node node)
{
	struct kv_node_header *header = kv_node_header(node);
	uint32_t skip = 0;
	if (header->count > 0) {
		struct kv_slot first = kv_node_slots(node)[0];
		struct kv_slot last = kv_node_slots(node)[header->count - 1];
		/* Keys ascend: whatever the first and last share, every key between them begins with too. */
		skip = kv_key_common_prefix(node.payload + first.offset, first.key_size, node.payload + last.offset,
					    last.key_size);
	}
	if (skip != 0 || header->head_skip != 0) /* else the heads are already taken from the first byte */
		node_set_head_skip(node, skip);
}

void kv_node_compact(struct kv_node node, uint8_t *scratch)
{
	struct kv_node_header *header = kv_node_header(node);
	struct kv_slot *slots = kv_node_slots(node);
	uint32_t heap = node.size;
	/* Pack the cells into scratch in slot order, then copy the packed heap back. */
	for (uint32_t i = 0; i < header->count; i++) {
		uint32_t size = kv_node_cell_size(node, i);
		heap -= size;
		__builtin_memcpy(scratch + heap, node.payload + slots[i].offset, size);
		KV_PAGE_STORE(slots[i].offset, (uint16_t)heap);
	}
	kv_page_write(node.payload + heap, scratch + heap, node.size - heap);
	KV_PAGE_STORE(header->heap, (uint16_t)heap);
	KV_PAGE_STORE(header->garbage, (uint16_t)0);
}

void kv_node_insert(struct kv_node node, uint32_t index, const void *key, uint32_t key_size, const void *rest,
		    uint32_t rest_size, const void *tail, uint32_t tail_size)
{
	struct kv_node_header *header = kv_node_header(node);
	uint32_t cell_size = key_size + rest_size + tail_size;
	DBOS_ASSERT(kv_node_free_after_compaction(node) >= cell_size + KV_SLOT_SIZE);
	if (node_gap(node) < cell_size + KV_SLOT_SIZE) {
		/* The cell fits once the garbage is gone: pack into a stack copy of the heap. */
		uint64_t scratch[(node.size + 7) / 8];
		kv_node_compact(node, (uint8_t *)scratch);
	}
	uint32_t head = node_admit_key(node, key, key_size);
	uint32_t offset = header->heap - cell_size;
	kv_page_write(node.payload + offset, key, key_size);
	kv_page_write(node.payload + offset + key_size, rest, rest_size);
	if (tail_size)
		kv_page_write(node.payload + offset + key_size + rest_size, tail, tail_size);
	struct kv_slot *slots = kv_node_slots(node);
	kv_page_move(&slots[index + 1], &slots[index], (header->count - index) * KV_SLOT_SIZE);
	kv_node_set_slot(node, index, (struct kv_slot){ head, (uint16_t)offset, (uint16_t)key_size });
	KV_PAGE_STORE(header->heap, (uint16_t)offset);
	KV_PAGE_STORE(header->count, (uint16_t)(header->count + 1));
}

void kv_node_remove(struct kv_node node, uint32_t index)
{
	struct kv_node_header *header = kv_node_header(node);
	struct kv_slot *slots = kv_node_slots(node);
	uint32_t size = kv_node_cell_size(node, index);
	/* The lowest cell goes straight back to the heap; any other becomes garbage. */
	if (slots[index].offset == header->heap)
		KV_PAGE_STORE(header->heap, (uint16_t)(header->heap + size));
	else
		KV_PAGE_STORE(header->garbage, (uint16_t)(header->garbage + size));
	kv_page_move(&slots[index], &slots[index + 1], (header->count - index - 1) * KV_SLOT_SIZE);
	KV_PAGE_STORE(header->count, (uint16_t)(header->count - 1));
}

void kv_node_append_range(struct kv_node node, struct kv_node source, uint32_t from, uint32_t to)
{
	struct kv_node_header *header = kv_node_header(node);
	const struct kv_slot *source_slots = kv_node_slots(source);
	for (uint32_t i = from; i < to; i++) {
		uint32_t size = kv_node_cell_size(source, i);
		DBOS_ASSERT(node_gap(node) >= size + KV_SLOT_SIZE);
		uint32_t offset = header->heap - size;
		struct kv_slot slot = source_slots[i];
		/* The source's head was taken after its own head_skip: take it again for this node. */
		slot.head = node_admit_key(node, source.payload + slot.offset, slot.key_size);
		kv_page_write(node.payload + offset, source.payload + slot.offset, size);
		slot.offset = (uint16_t)offset;
		kv_node_set_slot(node, header->count, slot);
		KV_PAGE_STORE(header->heap, (uint16_t)offset);
		KV_PAGE_STORE(header->count, (uint16_t)(header->count + 1));
	}
}
