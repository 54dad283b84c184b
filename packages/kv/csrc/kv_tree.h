/*
 * kv_tree.h - the B+tree's private layout and the helpers its files share.
 *
 *   kv_tree_node.c      slotted nodes: search, insert and remove cells, rebuild
 *   kv_tree_meta.c      the meta page (pid 1): format, attach, info
 *   kv_tree_overflow.c  values too large for a leaf: chains of overflow pages
 *   kv_tree_read.c      page access for readers (optimistic or epoch), descent, get
 *   kv_tree_write.c     put and delete: splits, merges, root growth and collapse
 *   kv_tree_cursor.c    ordered scans in both directions
 *   kv_tree_check.c     the structural check
 *
 * A node (payload offsets; the buffer pool's 32-byte page header comes first):
 *
 *   [node header 24 bytes][slot 0][slot 1]...[slot n-1] ... free ... [cells, packed at the end]
 *
 * A slot is {u32 head, u16 cell offset, u16 key size}: head is four bytes of
 * the key big-endian (zero-padded), taken after the header's head_skip bytes,
 * so most binary-search steps compare one integer without touching the cell.
 * head_skip is a prefix length every key of the node shares: keys that all
 * begin alike ("user:", a server's keyspace prefix) would otherwise have equal
 * heads and send every step to a full key comparison.  A node's first key
 * holds the shared prefix; a search compares it once.  Rebuilt nodes (split,
 * merge) take the longest such prefix (that of their first and last keys, as
 * keys ascend); an insert that does not share it shortens it.  Trees of format
 * 1 never set it (their pages stay readable by the code that wrote them).
 * Offsets are payload-relative and fit 16 bits because the largest payload is
 * 64 KiB - 32.  Cells:
 *
 *   leaf   [key][u32 inline size][inline value]       or
 *          [key][u32 KV_VALUE_OVERFLOW][u64 value size][u64 first overflow pid]
 *   inner  [key][u64 child pid]
 *
 * Inner node with n separators s[0..n-1] and children c[0..n-1] plus
 * `rightmost`: c[i] holds keys k with s[i-1] <= k < s[i], rightmost holds
 * k >= s[n-1].  "Position" i in 0..n names c[i], position n the rightmost.
 * Leaf separators are the shortest prefix of the right half's first key that
 * is greater than the left half's last key.
 *
 * Every field a reader takes from a page it reads optimistically may be torn:
 * the accessors below clamp counts, offsets and sizes to the page so a torn
 * read yields garbage (caught by validation), never an out-of-bounds access.
 */
#ifndef KV_TREE_H
#define KV_TREE_H

#include "dbos/platform.h"
#include "kv_internal.h"

#define KV_TREE_META_PID 1u
#define KV_TREE_META_MAGIC 0x31656572547644bbull /* distinct from any node or free page */
/* 2: nodes may have a head_skip.  Format 1 trees are opened and written as they are. */
#define KV_TREE_FORMAT_VERSION 2u
#define KV_TREE_FORMAT_HEAD_SKIP 2u
/* Deeper than any tree of 2^40 pages can be: a descent that goes further read garbage. */
#define KV_TREE_HEIGHT_MAX 32u

#define KV_NODE_LEAF 1u
#define KV_NODE_INNER 2u
#define KV_NODE_HEADER_SIZE 24u
#define KV_SLOT_SIZE 8u
#define KV_VALUE_OVERFLOW 0xffffffffu
#define KV_LEAF_VALUE_HEADER 4u
#define KV_OVERFLOW_REF_SIZE 16u /* value size + first pid */
#define KV_CHILD_SIZE 8u
/* An overflow page's payload: [u64 next pid][data]. */
#define KV_OVERFLOW_HEADER 8u

struct kv_tree_meta {
	uint64_t magic;
	uint32_t format_version;
	uint32_t page_size;
	uint64_t root;
	uint64_t height; /* levels: 1 for a single leaf */
	uint64_t entries;
};

struct kv_node_header {
	uint8_t kind; /* KV_NODE_LEAF / KV_NODE_INNER */
	uint8_t reserved8;
	uint16_t level;     /* 0 for leaves */
	uint16_t count;     /* slots */
	uint16_t heap;      /* payload offset of the lowest cell byte */
	uint16_t garbage;   /* cell bytes no slot points to (reclaimed by compaction) */
	uint16_t head_skip; /* every key's first head_skip bytes are the same; heads start after them */
	uint32_t reserved32;
	uint64_t rightmost; /* inner: the child right of every separator */
};
_Static_assert(sizeof(struct kv_node_header) == KV_NODE_HEADER_SIZE, "node header layout");

/* 8-aligned (slots start 24 bytes into an 8-aligned payload): read and stored as one word. */
struct __attribute__((aligned(8))) kv_slot {
	uint32_t head;
	uint16_t offset;
	uint16_t key_size;
};
_Static_assert(sizeof(struct kv_slot) == KV_SLOT_SIZE, "slot layout");

/* ---- Bytes shared with optimistic readers ------------------------------------
 *
 * Readers read tree pages (nodes and the meta page) with no latch while the
 * writer, holding the page exclusively, may be storing to them; what they read
 * is used only once dbos_bp_optimistic_validate says the page did not change.
 * The buffer pool's contract for such bytes (dbos_bp_optimistic_begin) is
 * relaxed atomic loads on the reader's side and atomic stores on the writer's,
 * as its own threaded test does, so the race is defined and a race detector
 * checks the rest:
 *   - header and slot fields (naturally aligned): KV_PAGE_LOAD / KV_PAGE_STORE,
 *     relaxed atomics in every build (the same plain moves on x86-64 and arm64);
 *   - byte ranges (keys, values, cells, slot runs): kv_page_read into private
 *     memory, kv_page_write / kv_page_move into a page the writer holds,
 *     kv_key_compare.  Under ThreadSanitizer they go through relaxed atomics
 *     (by words where aligned); elsewhere they stay memcpy / memmove / memcmp (a byte-wise
 *     atomic loop would cost every read and every node change its vector copies),
 *     "where a race detector watches" as the buffer pool's contract puts it.
 * The writer's own reads of a page it holds need none of this (no one else
 * stores to it); only what readers may read concurrently does.
 */
#define KV_PAGE_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define KV_PAGE_STORE(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)

#if defined(__SANITIZE_THREAD__)
/*
 * Word by word where the page side is 8-aligned (most of a node: slots, cells of whole pages),
 * byte by byte elsewhere.  Only the page side needs atomics: the writer's own bytes (its buffers,
 * the page it holds) are stored by no one else, so they are read plainly.
 */
static inline void kv_page_read(void *dst, const void *src, uint64_t size)
{
	uint8_t *to = dst;
	const uint8_t *from = src;
	uint64_t i = 0;
	for (; i < size && ((uintptr_t)(from + i) & 7u); i++)
		to[i] = __atomic_load_n(from + i, __ATOMIC_RELAXED);
	for (; i + 8 <= size; i += 8) {
		uint64_t word = __atomic_load_n((const uint64_t *)(const void *)(from + i), __ATOMIC_RELAXED);
		__builtin_memcpy(to + i, &word, 8);
	}
	for (; i < size; i++)
		to[i] = __atomic_load_n(from + i, __ATOMIC_RELAXED);
}

static inline void kv_page_store_chunk(uint8_t *to, const uint8_t *from, uint64_t size)
{
	if (size == 8 && !((uintptr_t)to & 7u)) {
		uint64_t word;
		__builtin_memcpy(&word, from, 8);
		__atomic_store_n((uint64_t *)(void *)to, word, __ATOMIC_RELAXED);
		return;
	}
	uint8_t bytes[8];
	__builtin_memcpy(bytes, from, size); /* read before any store: the chunk may overlap its source */
	for (uint64_t i = 0; i < size; i++)
		__atomic_store_n(to + i, bytes[i], __ATOMIC_RELAXED);
}

/* Also a memmove: chunks go front to back when the destination is lower, else back to front. */
static inline void kv_page_move(void *dst, const void *src, uint64_t size)
{
	uint8_t *to = dst;
	const uint8_t *from = src;
	uint64_t head = (8u - ((uintptr_t)to & 7u)) & 7u;
	if (head > size)
		head = size;
	uint64_t words_end = head + ((size - head) & ~(uint64_t)7);
	if ((uintptr_t)to <= (uintptr_t)from) {
		kv_page_store_chunk(to, from, head);
		for (uint64_t i = head; i < words_end; i += 8)
			kv_page_store_chunk(to + i, from + i, 8);
		kv_page_store_chunk(to + words_end, from + words_end, size - words_end);
	} else {
		kv_page_store_chunk(to + words_end, from + words_end, size - words_end);
		for (uint64_t i = words_end; i > head; i -= 8)
			kv_page_store_chunk(to + i - 8, from + i - 8, 8);
		kv_page_store_chunk(to, from, head);
	}
}

static inline void kv_page_write(void *dst, const void *src, uint64_t size)
{
	kv_page_move(dst, src, size);
}

static inline int kv_page_compare(const void *a, const void *b, uint64_t size)
{
	for (uint64_t i = 0; i < size; i++) {
		uint8_t x = __atomic_load_n((const uint8_t *)a + i, __ATOMIC_RELAXED);
		uint8_t y = __atomic_load_n((const uint8_t *)b + i, __ATOMIC_RELAXED);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}
#else
static inline void kv_page_read(void *dst, const void *src, uint64_t size)
{
	__builtin_memcpy(dst, src, size);
}

static inline void kv_page_write(void *dst, const void *src, uint64_t size)
{
	__builtin_memcpy(dst, src, size);
}

static inline void kv_page_move(void *dst, const void *src, uint64_t size)
{
	__builtin_memmove(dst, src, size);
}

static inline int kv_page_compare(const void *a, const void *b, uint64_t size)
{
	return __builtin_memcmp(a, b, size);
}
#endif

/* ---- Node access (kv_tree_node.c) ------------------------------------------ */

/* A node's payload and its size, for one page. */
struct kv_node {
	uint8_t *payload;
	uint32_t size; /* payload bytes */
};

static inline struct kv_node kv_node_of(void *page, uint32_t page_size)
{
	return (struct kv_node){ (uint8_t *)dbos_bp_payload(page), dbos_bp_page_payload_size(page_size) };
}

static inline struct kv_node_header *kv_node_header(struct kv_node node)
{
	return (struct kv_node_header *)node.payload;
}

static inline struct kv_slot *kv_node_slots(struct kv_node node)
{
	return (struct kv_slot *)(node.payload + KV_NODE_HEADER_SIZE);
}

/* Slot i, read whole (one 8-byte load: a reader never sees half of the writer's store). */
static inline struct kv_slot kv_node_slot(struct kv_node node, uint32_t index)
{
	struct kv_slot slot;
	__atomic_load(&kv_node_slots(node)[index], &slot, __ATOMIC_RELAXED);
	return slot;
}

static inline void kv_node_set_slot(struct kv_node node, uint32_t index, struct kv_slot slot)
{
	__atomic_store(&kv_node_slots(node)[index], &slot, __ATOMIC_RELAXED);
}

static inline uint32_t kv_node_max_slots(uint32_t payload_size)
{
	return (payload_size - KV_NODE_HEADER_SIZE) / KV_SLOT_SIZE;
}

/* The slot count, clamped to what fits in the page (a torn count stays in bounds). */
static inline uint32_t kv_node_count(struct kv_node node)
{
	uint32_t count = KV_PAGE_LOAD(kv_node_header(node)->count);
	uint32_t max = kv_node_max_slots(node.size);
	return count < max ? count : max;
}

static inline uint32_t kv_key_head(const uint8_t *key, uint32_t key_size)
{
	uint32_t head = 0;
	for (uint32_t i = 0; i < 4; i++)
		head = head << 8 | (i < key_size ? key[i] : 0u);
	return head;
}

/* A slot's head for a key of a node whose keys share `skip` bytes (the key has at least that many). */
static inline uint32_t kv_key_head_after(const uint8_t *key, uint32_t key_size, uint32_t skip)
{
	return kv_key_head(key + skip, key_size - skip);
}

/* How many leading bytes two keys share (writer side: both in memory no one else stores to). */
static inline uint32_t kv_key_common_prefix(const uint8_t *a, uint32_t a_size, const uint8_t *b, uint32_t b_size)
{
	uint32_t limit = a_size < b_size ? a_size : b_size;
	uint32_t shared = 0;
	while (shared < limit && a[shared] == b[shared])
		shared++;
	return shared;
}

/* Bytewise order, shorter first on a common prefix. */
static inline int kv_key_compare(const void *a, uint32_t a_size, const void *b, uint32_t b_size)
{
	uint32_t common = a_size < b_size ? a_size : b_size;
	int order = kv_page_compare(a, b, common); /* a or b may lie in a page read optimistically */
	if (order)
		return order;
	return a_size < b_size ? -1 : a_size > b_size ? 1 : 0;
}

/* Unaligned cell fields (sizes, pids): through the page helpers, as readers may load them racily. */
static inline uint64_t kv_load64(const uint8_t *bytes)
{
	uint64_t value;
	kv_page_read(&value, bytes, sizeof value);
	return value;
}

static inline uint32_t kv_load32(const uint8_t *bytes)
{
	uint32_t value;
	kv_page_read(&value, bytes, sizeof value);
	return value;
}

static inline void kv_store64(uint8_t *bytes, uint64_t value)
{
	kv_page_write(bytes, &value, sizeof value);
}

static inline void kv_store32(uint8_t *bytes, uint32_t value)
{
	kv_page_write(bytes, &value, sizeof value);
}

/* Slot i's key, clamped to the page: *key_size_out is its (clamped) size. */
const uint8_t *kv_node_key(struct kv_node node, uint32_t index, uint32_t *key_size_out);
/* The cell after slot i's key (value header or child pid), clamped so `need` bytes can be read. */
const uint8_t *kv_node_cell_rest(struct kv_node node, uint32_t index, uint32_t need);

/*
 * Binary search: the number of slots whose key is < key (or <= key when
 * `or_equal`); *found_out (may be NULL) whether slot [result] equals key
 * (only meaningful without or_equal).  Safe on torn pages.
 */
uint32_t kv_node_search(struct kv_node node, const void *key, uint32_t key_size, bool or_equal, bool *found_out);

/* Inner: the child at position i (rightmost for i == count). */
uint64_t kv_node_child(struct kv_node node, uint32_t position);
void kv_node_set_child(struct kv_node node, uint32_t position, uint64_t pid);

/* Leaf cell of slot i: inline (*overflow_pid_out 0) or overflow. Sizes clamped to the page. */
struct kv_leaf_value {
	const uint8_t *inline_bytes; /* NULL for an overflow value */
	uint64_t size;
	uint64_t overflow_pid;
};
struct kv_leaf_value kv_node_leaf_value(struct kv_node node, uint32_t index);

/* Bytes a cell takes in the heap, and with its slot. */
uint32_t kv_node_cell_size(struct kv_node node, uint32_t index);
/* Bytes in use: header, slots and live cells. */
uint32_t kv_node_used(struct kv_node node);
/* Free bytes, counting garbage that compaction would reclaim. */
uint32_t kv_node_free_after_compaction(struct kv_node node);

void kv_node_init(struct kv_node node, uint8_t kind, uint16_t level);
/*
 * Insert a cell at slot `index`: key plus `rest` (value header or child).
 * Compacts when needed; the caller has checked it fits (kv_node_free_after_compaction).
 */
void kv_node_insert(struct kv_node node, uint32_t index, const void *key, uint32_t key_size, const void *rest,
		    uint32_t rest_size, const void *tail, uint32_t tail_size);
/* Remove slot i (its bytes become garbage). */
void kv_node_remove(struct kv_node node, uint32_t index);
/* Append slots [from, to) of `source` to the end of `node` (which has room). */
void kv_node_append_range(struct kv_node node, struct kv_node source, uint32_t from, uint32_t to);
/* Rewrite the node with its cells packed (uses `scratch`, a payload-sized buffer). */
void kv_node_compact(struct kv_node node, uint8_t *scratch);
/* A rebuilt node (split, merge, new root): take the longest shared prefix as head_skip and redo the heads. */
void kv_node_refresh_heads(struct kv_node node);

/* ---- Sizes ---------------------------------------------------------------- */

/* Largest cell (key + value part) a node takes, slot excluded: at least 3 fit in a node. */
static inline uint32_t kv_tree_cell_max(uint32_t page_size)
{
	return (dbos_bp_page_payload_size(page_size) - KV_NODE_HEADER_SIZE) / 3 - KV_SLOT_SIZE;
}

/* Whether a value of this size is stored inline next to a key of this size. */
static inline bool kv_tree_value_inline(uint32_t page_size, uint32_t key_size, uint64_t value_size)
{
	return key_size + KV_LEAF_VALUE_HEADER + value_size <= kv_tree_cell_max(page_size);
}

/* Data bytes one overflow page carries. */
static inline uint32_t kv_overflow_chunk(uint32_t page_size)
{
	return dbos_bp_page_payload_size(page_size) - KV_OVERFLOW_HEADER;
}

static inline void kv_page_set_lsn(void *page, uint64_t lsn)
{
	((dbos_bp_page_header *)page)->lsn = lsn;
}

/* ---- Meta page (kv_tree_meta.c) -------------------------------------------- */

/* Writer: read the meta page (fixed shared for the copy). */
dbos_status kv_tree_meta_load(struct kv_tree *tree, struct kv_tree_meta *meta_out);
/* Writer: store root, height and entries, stamping lsn. */
dbos_status kv_tree_meta_store(struct kv_tree *tree, const struct kv_tree_meta *meta, uint64_t lsn);

/* ---- Reading pages (kv_tree_read.c) -------------------------------------------
 *
 * One page as a reader sees it: optimistically (epoch NULL: remember the
 * version, validate after reading) or as of an epoch (pinned, always valid).
 */
struct kv_read_page {
	const void *page;
	uint64_t pid;
	uint64_t version;
	struct kv_epoch_pin pin;
	bool pinned;
};

dbos_status kv_read_begin(struct kv_tree *tree, struct kv_epoch *epoch, uint64_t pid, struct kv_read_page *read);
/* Optimistic: whether what was read is valid. Epoch: always true. Ends the read either way. */
bool kv_read_end(struct kv_tree *tree, struct kv_epoch *epoch, struct kv_read_page *read);
/* Optimistic: still valid (the read goes on). */
bool kv_read_still_valid(struct kv_tree *tree, struct kv_epoch *epoch, const struct kv_read_page *read);

/* Fences of the leaf a descent reached: keys in it lie in [low, high). */
struct kv_fences {
	uint8_t low[DBOS_KV_KEY_MAX];
	uint8_t high[DBOS_KV_KEY_MAX];
	uint32_t low_size, high_size;
	bool has_low, has_high;
};

/*
 * Descend to the leaf for `key` (NULL: the leftmost, or with `rightmost` the
 * rightmost leaf), leaving it begun in *leaf (the caller ends it).  With
 * `before`, descend to where keys < key live (reverse scans).  fences may be
 * NULL.  DBOS_EAGAIN: a validation failed, start again.
 */
dbos_status kv_tree_descend(struct kv_tree *tree, struct kv_epoch *epoch, const void *key, uint32_t key_size,
			    bool before, bool rightmost, struct kv_read_page *leaf, struct kv_fences *fences);

/* ---- Overflow chains (kv_tree_overflow.c) ---------------------------------- */

/* Writer: store a value in a new chain; *first_pid_out its first page. On failure nothing stays allocated. */
dbos_status kv_overflow_write(struct kv_tree *tree, const void *value, uint64_t value_size, uint64_t lsn,
			      uint64_t *first_pid_out);
/* Writer: free a chain of a value of value_size bytes. */
dbos_status kv_overflow_free(struct kv_tree *tree, uint64_t first_pid, uint64_t value_size);
/*
 * Reader: copy up to `capacity` bytes of a chain.  Fixes each page shared, one
 * at a time; the caller validates the leaf afterwards.  Any error from a page
 * that a torn leaf named is returned as is: the caller checks the leaf first.
 */
dbos_status kv_overflow_read(struct kv_tree *tree, struct kv_epoch *epoch, uint64_t first_pid, uint64_t value_size,
			     void *buffer, uint64_t capacity);

/* Free a page, waiting out readers that hold it shared for a moment. */
dbos_status kv_tree_free_page(struct kv_tree *tree, uint64_t pid);

/* ---- A write in progress (kv_tree_write.c, kv_tree_split.c, kv_tree_merge.c) ----
 *
 * The writer descends with shared fixes, remembering the path, then latches
 * bottom-up exclusively only the pages it changes and holds every one of them
 * until the whole change (split or merge up to the root, meta page included)
 * is made: a reader that sees any changed page then restarts, and none sees
 * half a split.  Pages a split may need are allocated before anything changes
 * so that a full disk leaves the tree as it was.
 */
#define KV_WRITE_HELD_MAX (3u * KV_TREE_HEIGHT_MAX + 4u)

struct kv_write {
	struct kv_tree *tree;
	uint64_t lsn;
	struct kv_tree_meta meta;
	bool meta_dirty;
	uint32_t height;
	/* The descent: path[0] the root ... path[height-1] the leaf; positions[l]: child taken at level l. */
	uint64_t path[KV_TREE_HEIGHT_MAX];
	uint32_t positions[KV_TREE_HEIGHT_MAX];
	uint32_t room[KV_TREE_HEIGHT_MAX]; /* free bytes after compaction, seen on the way down */
	bool right_edge;                   /* the path took the rightmost child everywhere: appends split unevenly */
	/* Pages latched exclusively, released (dirty, stamped with lsn) together at the end. */
	uint64_t held_pids[KV_WRITE_HELD_MAX];
	void *held_pages[KV_WRITE_HELD_MAX];
	uint32_t held_count;
	/* New pages allocated up front for splits; the unused ones are freed at the end. */
	uint64_t spare_pids[KV_TREE_HEIGHT_MAX + 1];
	void *spare_pages[KV_TREE_HEIGHT_MAX + 1];
	uint32_t spare_count;
	/* Pages emptied by merges, freed once unlatched. */
	uint64_t doomed[KV_WRITE_HELD_MAX];
	uint32_t doomed_count;
};

/* Latch `pid` exclusively for this write (once: a page already held is returned as is). */
dbos_status kv_write_fix(struct kv_write *write, uint64_t pid, void **page_out);
/* Take one of the spare pages (latched, zeroed) as a new node. */
void *kv_write_take_spare(struct kv_write *write, uint64_t *pid_out);
/* Release every latch (stamping the lsn), free the doomed and unused spare pages. */
dbos_status kv_write_finish(struct kv_write *write);

/*
 * Insert a cell into node path[level] at slot `index`, splitting it (and its
 * ancestors) as needed.  Every level from `level` up to the top level that
 * kv_write_pages_needed named is held already, and the spares are reserved:
 * nothing here can fail, so no split is ever left half made.
 */
void kv_write_insert(struct kv_write *write, uint32_t level, uint32_t index, const void *key, uint32_t key_size,
		     const void *rest, uint32_t rest_size, const void *tail, uint32_t tail_size);
/* Pages kv_write_insert may allocate for a cell of this size into the leaf; *top_level_out: the
 * highest path level it may change (0: the root). */
uint32_t kv_write_pages_needed(const struct kv_write *write, uint32_t leaf_cell_size, uint32_t *top_level_out);

/* After a delete from the leaf: merge underfull nodes upwards, free empty ones, collapse the root. */
dbos_status kv_write_rebalance(struct kv_write *write);

#endif /* KV_TREE_H */
