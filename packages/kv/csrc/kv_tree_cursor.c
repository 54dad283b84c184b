/*
 * kv_tree_cursor.c - ordered scans over a key range, in either direction.
 *
 * A cursor holds no page between calls: it remembers a position (a key and
 * whether that key itself is still due) and descends to it again for every
 * leaf it reads.  Entries are copied from a leaf, then the leaf is validated;
 * a failed validation drops what was copied from that leaf and reads it
 * again, so concurrent writes never make it return an entry twice or out of
 * order.  When a leaf is used up the position moves to the leaf's fence (the
 * separator above or below it), which is where the next leaf's keys begin.
 * With an epoch, the leaf is copied while pinned and read from the copy.
 */
#include "kv_tree.h"

#define KV_RECORD_HEADER 16u

struct kv_tree_cursor {
	struct kv_tree *tree;
	struct kv_epoch *epoch;
	size_t allocation_size;
	bool reverse;
	bool done;
	/* The far end: forward scans stop past `end`, reverse scans before it. */
	bool has_end, end_inclusive;
	uint32_t end_size;
	uint8_t end[DBOS_KV_KEY_MAX];
	/* Where the next entry is: at or after (forward) / at or before (reverse) `position`. */
	bool has_position, position_inclusive;
	uint32_t position_size;
	uint8_t position[DBOS_KV_KEY_MAX];
	struct kv_fences fences;
	_Alignas(16) uint8_t
		leaf_copy[]; /* epoch cursors: the pinned leaf, copied (aligned: node headers are read in place) */
};

static size_t record_size(uint32_t key_size, uint64_t value_size)
{
	return (KV_RECORD_HEADER + key_size + value_size + 7) & ~(size_t)7;
}

dbos_status kv_tree_cursor_open(struct kv_tree *tree, struct kv_epoch *epoch, const dbos_kv_range *range,
				struct kv_tree_cursor **cursor_out)
{
	if (!tree || !range || !cursor_out)
		return DBOS_EINVAL;
	if ((range->low && (range->low_size == 0 || range->low_size > DBOS_KV_KEY_MAX)) ||
	    (range->high && (range->high_size == 0 || range->high_size > DBOS_KV_KEY_MAX)))
		return DBOS_EINVAL;
	size_t size = sizeof(struct kv_tree_cursor) + (epoch ? tree->page_size : 0);
	struct kv_tree_cursor *cursor = dbos_platform_alloc(size);
	if (!cursor)
		return DBOS_ENOMEM;
	cursor->tree = tree;
	cursor->epoch = epoch;
	cursor->allocation_size = size;
	cursor->reverse = range->reverse;
	const void *start = range->reverse ? range->high : range->low;
	uint32_t start_size = range->reverse ? range->high_size : range->low_size;
	const void *end = range->reverse ? range->low : range->high;
	uint32_t end_size = range->reverse ? range->low_size : range->high_size;
	if (start) {
		cursor->has_position = true;
		cursor->position_inclusive = range->reverse ? range->high_inclusive : range->low_inclusive;
		cursor->position_size = start_size;
		__builtin_memcpy(cursor->position, start, start_size);
	}
	if (end) {
		cursor->has_end = true;
		cursor->end_inclusive = range->reverse ? range->low_inclusive : range->high_inclusive;
		cursor->end_size = end_size;
		__builtin_memcpy(cursor->end, end, end_size);
	}
	*cursor_out = cursor;
	return DBOS_OK;
}

void kv_tree_cursor_close(struct kv_tree_cursor *cursor)
{
	if (cursor)
		dbos_platform_free(cursor, cursor->allocation_size);
}

/* Past the far end of the range? */
static bool beyond_end(const struct kv_tree_cursor *cursor, const uint8_t *key, uint32_t key_size)
{
	if (!cursor->has_end)
		return false;
	int order = kv_key_compare(key, key_size, cursor->end, cursor->end_size);
	if (cursor->reverse)
		order = -order;
	return order > 0 || (order == 0 && !cursor->end_inclusive);
}

/*
 * Whether `key` may come next in the scan: strictly after `bound` (or at it
 * when `inclusive`) in the scan's direction.  A validated leaf whose keys
 * break this is damaged: scanning on would return entries out of order or
 * twice, or go round in circles.
 */
static bool comes_after(const struct kv_tree_cursor *cursor, const uint8_t *key, uint32_t key_size,
			const uint8_t *bound, uint32_t bound_size, bool inclusive)
{
	int order = kv_key_compare(key, key_size, bound, bound_size);
	if (cursor->reverse)
		order = -order;
	return order > 0 || (order == 0 && inclusive);
}

/* Whether `key` lies inside the leaf's fences [low, high), where every key of that leaf belongs. */
static bool inside_fences(const struct kv_tree_cursor *cursor, const uint8_t *key, uint32_t key_size)
{
	const struct kv_fences *fences = &cursor->fences;
	if (fences->has_low && kv_key_compare(key, key_size, fences->low, fences->low_size) < 0)
		return false;
	return !fences->has_high || kv_key_compare(key, key_size, fences->high, fences->high_size) < 0;
}

/* The first slot due in this leaf (forward), or one past the last due slot (reverse). */
static uint32_t first_due(const struct kv_tree_cursor *cursor, struct kv_node node)
{
	if (!cursor->has_position)
		return cursor->reverse ? kv_node_count(node) : 0;
	/* forward inclusive: first >= position; exclusive: first > position.
	 * reverse inclusive: count of <= position; exclusive: count of < position. */
	bool or_equal = cursor->reverse ? cursor->position_inclusive : !cursor->position_inclusive;
	return kv_node_search(node, cursor->position, cursor->position_size, or_equal, NULL);
}

/* How one leaf's copy ended. */
struct leaf_scan {
	size_t used;
	uint32_t count;
	size_t needed;      /* > 0: the next entry did not fit (its record size) */
	bool reached_end;   /* an entry past the range's end */
	dbos_status status; /* an overflow chain that could not be read */
};

static void scan_leaf(struct kv_tree_cursor *cursor, struct kv_node node, uint8_t *buffer, size_t capacity,
		      struct leaf_scan *scan)
{
	uint32_t count = kv_node_count(node);
	uint32_t index = first_due(cursor, node);
	/* Each key must come after the previous one (the first: after the position) and lie in the fences. */
	const uint8_t *previous = cursor->position;
	uint32_t previous_size = cursor->position_size;
	bool has_previous = cursor->has_position, previous_inclusive = cursor->position_inclusive;
	for (;;) {
		if (cursor->reverse ? index == 0 : index >= count)
			return;
		uint32_t slot = cursor->reverse ? index - 1 : index;
		uint32_t key_size;
		const uint8_t *key = kv_node_key(node, slot, &key_size);
		if (beyond_end(cursor, key, key_size)) {
			scan->reached_end = true;
			return;
		}
		if ((has_previous &&
		     !comes_after(cursor, key, key_size, previous, previous_size, previous_inclusive)) ||
		    !inside_fences(cursor, key, key_size)) {
			scan->status = DBOS_ECORRUPT; /* or torn: the caller validates first */
			return;
		}
		previous = key;
		previous_size = key_size;
		has_previous = true;
		previous_inclusive = false;
		struct kv_leaf_value value = kv_node_leaf_value(node, slot);
		if (value.size > DBOS_KV_VALUE_MAX || key_size > DBOS_KV_KEY_MAX) {
			scan->status = DBOS_ECORRUPT; /* or torn: the caller validates first */
			return;
		}
		size_t size = record_size(key_size, value.size);
		if (scan->used + size > capacity) {
			scan->needed = size;
			return;
		}
		uint8_t *record = buffer + scan->used;
		uint32_t header[2] = { key_size, 0 };
		__builtin_memcpy(record, header, sizeof header);
		__builtin_memcpy(record + 8, &value.size, sizeof value.size);
		__builtin_memcpy(record + KV_RECORD_HEADER, key, key_size);
		uint8_t *value_out = record + KV_RECORD_HEADER + key_size;
		if (value.inline_bytes) {
			__builtin_memcpy(value_out, value.inline_bytes, value.size);
		} else if (value.size) {
			scan->status = kv_overflow_read(cursor->tree, cursor->epoch, value.overflow_pid, value.size,
							value_out, value.size);
			if (scan->status != DBOS_OK)
				return;
		}
		size_t padding = size - (KV_RECORD_HEADER + key_size + value.size);
		__builtin_memset(value_out + value.size, 0, padding);
		scan->used += size;
		scan->count++;
		index = cursor->reverse ? index - 1 : index + 1;
	}
}

/* The position after the last record copied (its key is in the buffer). */
static void advance_past(struct kv_tree_cursor *cursor, const uint8_t *record)
{
	uint32_t key_size;
	__builtin_memcpy(&key_size, record, sizeof key_size);
	__builtin_memcpy(cursor->position, record + KV_RECORD_HEADER, key_size);
	cursor->position_size = key_size;
	cursor->position_inclusive = false;
	cursor->has_position = true;
}

/*
 * The leaf is used up: move to its fence, or finish at the tree's edge.
 * Every step moves the position on: a leaf that gave entries moved it past
 * them (their keys lie inside the fences, so the fence is further still); a
 * leaf that gave none (`empty`) has a fence past the position the descent
 * started from in an intact tree.  DBOS_ECORRUPT when it has not: the scan
 * would read the same leaves again forever.
 */
static dbos_status advance_to_fence(struct kv_tree_cursor *cursor, bool empty)
{
	const struct kv_fences *fences = &cursor->fences;
	bool has = cursor->reverse ? fences->has_low : fences->has_high;
	if (!has) {
		cursor->done = true;
		return DBOS_OK;
	}
	const uint8_t *fence = cursor->reverse ? fences->low : fences->high;
	uint32_t size = cursor->reverse ? fences->low_size : fences->high_size;
	/* Forward: the high fence is above the position; reverse: the low fence is below it, or at an
	 * inclusive position (the next descent then goes below it). */
	if (empty && cursor->has_position &&
	    !comes_after(cursor, fence, size, cursor->position, cursor->position_size,
			 cursor->reverse && cursor->position_inclusive))
		return DBOS_ECORRUPT;
	__builtin_memcpy(cursor->position, fence, size);
	cursor->position_size = size;
	/* Forward: the next leaf starts at its low fence (>=); reverse: below this leaf's low fence (<). */
	cursor->position_inclusive = !cursor->reverse;
	cursor->has_position = true;
	return DBOS_OK;
}

dbos_status kv_tree_cursor_next(struct kv_tree_cursor *cursor, void *buffer, size_t capacity, uint32_t *count_out,
				size_t *used_out)
{
	if (!cursor || !count_out || !used_out || (capacity && !buffer))
		return DBOS_EINVAL;
	struct kv_tree *tree = cursor->tree;
	uint8_t *out = buffer;
	size_t used = 0;
	uint32_t count = 0;
	size_t last_record = 0;
	while (!cursor->done) {
		struct kv_read_page leaf;
		bool before = cursor->reverse && cursor->has_position && !cursor->position_inclusive;
		dbos_status status =
			kv_tree_descend(tree, cursor->epoch, cursor->has_position ? cursor->position : NULL,
					cursor->position_size, before, cursor->reverse, &leaf, &cursor->fences);
		if (status != DBOS_OK)
			return status;
		struct kv_node node = kv_node_of((void *)leaf.page, tree->page_size);
		if (cursor->epoch) {
			__builtin_memcpy(cursor->leaf_copy, leaf.page, tree->page_size);
			kv_read_end(tree, cursor->epoch, &leaf);
			node = kv_node_of(cursor->leaf_copy, tree->page_size);
		} else {
			/*
			 * Latch the leaf shared while its records are copied: overflow values read on the
			 * way may be larger than the cache and evict an unlatched leaf, which would then
			 * fail validation on every try.  Changed since the descent read it: descend again.
			 */
			void *latched;
			status = dbos_bp_fix_shared(tree->bp, leaf.pid, &latched);
			if (status != DBOS_OK)
				return status;
			if (!dbos_bp_optimistic_validate(tree->bp, leaf.pid, leaf.version)) {
				dbos_bp_unfix_shared(tree->bp, leaf.pid);
				continue;
			}
		}
		struct leaf_scan scan = { .used = used, .count = 0, .status = DBOS_OK };
		scan_leaf(cursor, node, out, capacity, &scan);
		if (!cursor->epoch)
			dbos_bp_unfix_shared(tree->bp, leaf.pid);
		if (scan.status != DBOS_OK)
			return scan.status;
		if (scan.count) {
			/* Find the last record copied: walk this leaf's records from where it started. */
			size_t at = used;
			for (uint32_t i = 0; i < scan.count; i++) {
				last_record = at;
				uint32_t key_size;
				uint64_t value_size;
				__builtin_memcpy(&key_size, out + at, sizeof key_size);
				__builtin_memcpy(&value_size, out + at + 8, sizeof value_size);
				at += record_size(key_size, value_size);
			}
			advance_past(cursor, out + last_record);
		}
		used = scan.used;
		count += scan.count;
		if (scan.reached_end)
			cursor->done = true;
		else if (scan.needed) {
			if (count == 0) {
				*count_out = 0;
				*used_out = scan.needed;
				return DBOS_ELIMIT;
			}
			break;
		} else {
			dbos_status status = advance_to_fence(cursor, scan.count == 0);
			if (status != DBOS_OK)
				return status;
		}
	}
	*count_out = count;
	*used_out = used;
	return DBOS_OK;
}
