/*
 * kv_tree_meta.c - the meta page (pid 1): creating a tree, attaching to one,
 * and the counts it keeps (root, height, entries).
 */
#include "kv_tree.h"

dbos_status kv_tree_format(dbos_bp *bp)
{
	if (!bp)
		return DBOS_EINVAL;
	if (dbos_bp_page_count(bp) != 1)
		return DBOS_EINVAL; /* only a new file: pid 1 must become the meta page */
	uint32_t page_size = dbos_bp_page_size(bp);
	uint64_t meta_pid, root_pid;
	void *meta_page, *root_page;
	dbos_status status = dbos_bp_allocate(bp, &meta_pid, &meta_page);
	if (status != DBOS_OK)
		return status;
	DBOS_ASSERT(meta_pid == KV_TREE_META_PID);
	status = dbos_bp_allocate(bp, &root_pid, &root_page);
	if (status != DBOS_OK) {
		dbos_bp_unfix_exclusive(bp, meta_pid, true);
		return status;
	}
	kv_node_init(kv_node_of(root_page, page_size), KV_NODE_LEAF, 0);
	struct kv_tree_meta meta = { .magic = KV_TREE_META_MAGIC,
				     .format_version = KV_TREE_FORMAT_VERSION,
				     .page_size = page_size,
				     .root = root_pid,
				     .height = 1,
				     .entries = 0 };
	kv_page_write(dbos_bp_payload(meta_page), &meta, sizeof meta);
	dbos_bp_unfix_exclusive(bp, root_pid, true);
	dbos_bp_unfix_exclusive(bp, meta_pid, true);
	return DBOS_OK;
}

/* The meta fields make sense for this pool. */
static dbos_status meta_verify(const struct kv_tree_meta *meta, dbos_bp *bp)
{
	if (meta->magic != KV_TREE_META_MAGIC)
		return DBOS_ECORRUPT;
	if (meta->format_version > KV_TREE_FORMAT_VERSION)
		return DBOS_ENOTSUP;
	if (meta->format_version == 0 || meta->page_size != dbos_bp_page_size(bp))
		return DBOS_ECORRUPT;
	if (meta->root <= KV_TREE_META_PID || meta->root >= dbos_bp_page_count(bp))
		return DBOS_ECORRUPT;
	if (meta->height == 0 || meta->height > KV_TREE_HEIGHT_MAX)
		return DBOS_ECORRUPT;
	return DBOS_OK;
}

dbos_status kv_tree_attach(struct kv_tree *tree, dbos_bp *bp)
{
	if (!tree || !bp)
		return DBOS_EINVAL;
	if (dbos_bp_page_count(bp) <= 2)
		return DBOS_ECORRUPT; /* no meta page or no root */
	*tree = (struct kv_tree){ .bp = bp, .page_size = dbos_bp_page_size(bp) };
	struct kv_tree_meta meta;
	dbos_status status = kv_tree_meta_load(tree, &meta);
	if (status != DBOS_OK)
		return status;
	status = meta_verify(&meta, bp);
	tree->head_skip = status == DBOS_OK && meta.format_version >= KV_TREE_FORMAT_HEAD_SKIP;
	return status;
}

dbos_status kv_tree_meta_load(struct kv_tree *tree, struct kv_tree_meta *meta_out)
{
	void *page;
	dbos_status status = dbos_bp_fix_shared(tree->bp, KV_TREE_META_PID, &page);
	if (status != DBOS_OK)
		return status;
	__builtin_memcpy(meta_out, dbos_bp_payload(page), sizeof *meta_out);
	dbos_bp_unfix_shared(tree->bp, KV_TREE_META_PID);
	return DBOS_OK;
}

dbos_status kv_tree_meta_store(struct kv_tree *tree, const struct kv_tree_meta *meta, uint64_t lsn)
{
	void *page;
	dbos_status status = dbos_bp_fix_exclusive(tree->bp, KV_TREE_META_PID, &page);
	if (status != DBOS_OK)
		return status;
	kv_page_write(dbos_bp_payload(page), meta, sizeof *meta);
	kv_page_set_lsn(page, lsn);
	dbos_bp_unfix_exclusive(tree->bp, KV_TREE_META_PID, true);
	return DBOS_OK;
}

dbos_status kv_tree_info(struct kv_tree *tree, struct kv_epoch *epoch, struct kv_tree_info *info_out)
{
	if (!tree || !info_out)
		return DBOS_EINVAL;
	for (;;) {
		struct kv_read_page read;
		dbos_status status = kv_read_begin(tree, epoch, KV_TREE_META_PID, &read);
		if (status != DBOS_OK)
			return status;
		struct kv_tree_meta meta;
		/* Optimistic: the writer may be storing to it until validated. */
		kv_page_read(&meta, dbos_bp_payload((void *)read.page), sizeof meta);
		if (!kv_read_end(tree, epoch, &read))
			continue;
		*info_out = (struct kv_tree_info){ .entries = meta.entries, .height = meta.height };
		return DBOS_OK;
	}
}
