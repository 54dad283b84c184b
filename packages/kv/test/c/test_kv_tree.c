/*
 * test_kv_tree.c - the B+tree on one thread: format and attach, caller
 * errors, random puts and deletes against a reference model (mixed key sizes
 * up to 1024 bytes, inline and overflow values), delete-everything cycles
 * that must not grow the file, a pool smaller than the data, and the check
 * finding a damaged node.  (Scans: test_kv_tree_scan.c; threads: test_kv_tree_threads.c.)
 */
#include "kv_tree_fixture.h"

static void format_attach_and_caller_errors(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 1 * MiB, 0));
	struct kv_tree_info info;
	CHECK_EQ(kv_tree_info(&fixture.tree, NULL, &info), DBOS_OK);
	CHECK_EQ(info.entries, 0);
	CHECK_EQ(info.height, 1);
	uint8_t key[DBOS_KV_KEY_MAX + 1] = { 'k' };
	uint64_t size = 99;
	uint8_t value[8];
	CHECK_EQ(kv_tree_get(&fixture.tree, NULL, key, 1, value, sizeof value, &size), DBOS_ENOENT);
	CHECK_EQ(kv_tree_get(&fixture.tree, NULL, key, 0, value, sizeof value, &size), DBOS_EINVAL);
	CHECK_EQ(kv_tree_put(&fixture.tree, key, 0, "v", 1, 1), DBOS_EINVAL);
	CHECK_EQ(kv_tree_put(&fixture.tree, key, DBOS_KV_KEY_MAX + 1, "v", 1, 1), DBOS_EINVAL);
	CHECK_EQ(kv_tree_put(&fixture.tree, key, 1, "v", (uint64_t)DBOS_KV_VALUE_MAX + 1, 1), DBOS_EINVAL);
	bool found = true;
	CHECK_EQ(kv_tree_del(&fixture.tree, key, DBOS_KV_KEY_MAX + 1, 1, &found), DBOS_EINVAL);
	CHECK_EQ(kv_tree_del(&fixture.tree, key, 1, 1, &found), DBOS_OK);
	CHECK(!found);

	/* A put is seen at once; a short buffer gets a prefix and the full size. */
	CHECK_EQ(kv_tree_put(&fixture.tree, key, 1, "value", 5, 7), DBOS_OK);
	CHECK_EQ(kv_tree_get(&fixture.tree, NULL, key, 1, value, 3, &size), DBOS_OK);
	CHECK_EQ(size, 5);
	CHECK(memcmp(value, "val", 3) == 0);
	CHECK_EQ(kv_tree_get(&fixture.tree, NULL, key, 1, NULL, 0, &size), DBOS_OK);
	CHECK_EQ(size, 5);
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	fixture_tree_close(&fixture);

	/* Reopen (no epoch hook: the tree does not need one): attach finds the tree; a file whose meta page is not a tree's is refused. */
	dbos_bp_config config = { .path = fixture.path, .flags = DBOS_BP_BUFFERED, .pool_bytes = 1 * MiB };
	dbos_bp_error error;
	REQUIRE(dbos_bp_open(&config, &fixture.bp, &error) == DBOS_OK);
	CHECK_EQ(kv_tree_attach(&fixture.tree, fixture.bp), DBOS_OK);
	CHECK_EQ(kv_tree_get(&fixture.tree, NULL, key, 1, value, sizeof value, &size), DBOS_OK);
	CHECK_EQ(size, 5);
	void *page;
	REQUIRE(dbos_bp_fix_exclusive(fixture.bp, KV_TREE_META_PID, &page) == DBOS_OK);
	((uint8_t *)dbos_bp_payload(page))[0] ^= 1;
	CHECK_EQ(dbos_bp_unfix_exclusive(fixture.bp, KV_TREE_META_PID, true), DBOS_OK);
	CHECK_EQ(kv_tree_attach(&fixture.tree, fixture.bp), DBOS_ECORRUPT);
	fixture_tree_close(&fixture);
}

/* `operations` random puts (60%) and deletes against the model, every result compared. */
static bool random_operations(struct fixture_tree *fixture, struct model *model, uint32_t operations, uint32_t id_space,
			      uint64_t *lsn)
{
	uint8_t key[DBOS_KV_KEY_MAX];
	uint8_t *value = malloc(64 * KiB);
	DBOS_ASSERT(value);
	bool ok = true;
	for (uint32_t n = 0; n < operations && ok; n++) {
		uint32_t key_size = fixture_key_size();
		fixture_key(key, key_size, (uint32_t)(fixture_random() % id_space));
		if (fixture_random() % 100 < 60) {
			uint64_t value_size = fixture_value_size();
			dbos_status status = fixture_put(fixture, model, key, key_size, value_size, n, ++*lsn);
			if (status != DBOS_OK) {
				fprintf(stderr, "put %u: %s\n", n, dbos_status_name(status));
				ok = false;
			}
		} else {
			bool found;
			dbos_status status = kv_tree_del(&fixture->tree, key, key_size, ++*lsn, &found);
			bool expected = model_del(model, key, key_size);
			if (status != DBOS_OK || found != expected) {
				fprintf(stderr, "del %u: %s found %d expected %d\n", n, dbos_status_name(status), found,
					expected);
				ok = false;
			}
		}
		/* Read the key back at once: present with its value, or absent. */
		bool present;
		size_t index = model_search(model, key, key_size, &present);
		uint64_t size = 0;
		dbos_status status = kv_tree_get(&fixture->tree, NULL, key, key_size, value, 64 * KiB, &size);
		if (present ? status != DBOS_OK || size != model->entries[index].value_size ||
				      !fixture_value_matches(value, size, model->entries[index].seed)
			    : status != DBOS_ENOENT) {
			fprintf(stderr, "get after op %u: %s\n", n, dbos_status_name(status));
			ok = false;
		}
	}
	free(value);
	return ok;
}

static void random_operations_match_the_model(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 16 * MiB, 0));
	struct model model = { 0 };
	uint64_t lsn = 0;
	for (int phase = 0; phase < KV_TSAN_SCALE(5, 1); phase++) {
		REQUIRE(random_operations(&fixture, &model, 10000, 4000, &lsn));
		CHECK(fixture_matches_model(&fixture, &model));
		CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	}
	struct kv_tree_info info;
	CHECK_EQ(kv_tree_info(&fixture.tree, NULL, &info), DBOS_OK);
	CHECK(info.height >= 2);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/* Every page a changed node or value got carries the write's LSN. */
static void changed_pages_carry_the_lsn(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 4 * MiB, 0));
	struct model model = { 0 };
	uint8_t key[8];
	fixture_key(key, sizeof key, 42);
	REQUIRE(fixture_put(&fixture, &model, key, sizeof key, 10000, 1, 77) == DBOS_OK);
	uint64_t stamped = 0;
	for (uint64_t pid = 1; pid < dbos_bp_page_count(fixture.bp); pid++) {
		void *page;
		REQUIRE(dbos_bp_fix_shared(fixture.bp, pid, &page) == DBOS_OK);
		stamped += ((dbos_bp_page_header *)page)->lsn == 77;
		CHECK_EQ(dbos_bp_unfix_shared(fixture.bp, pid), DBOS_OK);
	}
	/* The meta page, the root leaf and three overflow pages. */
	CHECK_EQ(stamped, 5);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/* Fill, then delete everything, three times: freed pages are reused, the file stops growing. */
static void delete_everything_cycles_reuse_pages(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 16 * MiB, 0));
	struct model model = { 0 };
	uint64_t lsn = 0, pages_after_first = 0;
	uint8_t key[DBOS_KV_KEY_MAX];
	for (int cycle = 0; cycle < 3; cycle++) {
		for (uint32_t n = 0; n < 4000; n++) {
			uint32_t key_size = fixture_key_size();
			fixture_key(key, key_size, (uint32_t)fixture_random());
			REQUIRE(fixture_put(&fixture, &model, key, key_size, fixture_value_size(), n, ++lsn) ==
				DBOS_OK);
		}
		CHECK_EQ(fixture_check(&fixture), DBOS_OK);
		/* Delete in an order unrelated to the keys' (the model's entries, from a random start). */
		size_t start = fixture_random() % model.count;
		while (model.count) {
			size_t index = (start * 7919) % model.count;
			start++;
			bool found;
			struct model_entry entry = model.entries[index];
			REQUIRE(kv_tree_del(&fixture.tree, entry.key, entry.key_size, ++lsn, &found) == DBOS_OK);
			REQUIRE(found);
			model_del(&model, entry.key, entry.key_size);
		}
		CHECK_EQ(fixture_check(&fixture), DBOS_OK);
		struct kv_tree_info info;
		CHECK_EQ(kv_tree_info(&fixture.tree, NULL, &info), DBOS_OK);
		CHECK_EQ(info.entries, 0);
		CHECK_EQ(info.height, 1);
		struct dbos_bp_stats stats;
		dbos_bp_stats(fixture.bp, &stats);
		/* Everything but the header, meta page and root leaf is back on the free chain. */
		CHECK_EQ(stats.page_count - stats.free_pages, 3);
		if (cycle == 0)
			pages_after_first = stats.page_count;
		else
			CHECK(stats.page_count <= pages_after_first + pages_after_first / 10);
	}
	model_free(&model);
	fixture_tree_close(&fixture);
}

/* Pages holding tree nodes or values: everything but the file header and the free chain. */
static uint64_t pages_in_use(dbos_bp *bp)
{
	struct dbos_bp_stats stats;
	dbos_bp_stats(bp, &stats);
	return stats.page_count - 1 - stats.free_pages;
}

/*
 * Delete nine keys of every ten: no leaf empties, so only merging underfull
 * leaves (and then inner nodes) gives pages back.  Without merges the tree
 * would keep every page at a tenth full.
 */
static void sparse_deletes_merge_underfull_nodes(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 16 * MiB, 0));
	struct model model = { 0 };
	uint8_t key[16];
	const uint32_t ids = KV_TSAN_SCALE(20000u, 6000u);
	for (uint32_t id = 0; id < ids; id++) {
		fixture_key(key, sizeof key, id * 2654435761u); /* scattered order */
		REQUIRE(fixture_put(&fixture, &model, key, sizeof key, 100, id, 1) == DBOS_OK);
	}
	uint64_t full = pages_in_use(fixture.bp);
	for (uint32_t id = 0; id < ids; id++) {
		if (id % 10 == 0)
			continue;
		fixture_key(key, sizeof key, id * 2654435761u);
		bool found;
		REQUIRE(kv_tree_del(&fixture.tree, key, sizeof key, 2, &found) == DBOS_OK);
		REQUIRE(found);
		model_del(&model, key, sizeof key);
	}
	uint64_t sparse = pages_in_use(fixture.bp);
	CHECK(sparse * 100 <= full * 35);
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/*
 * 1024-byte keys that differ only in their last bytes: separators are as long
 * as keys can be, inner nodes hold three or four, and the tree grows deep.
 */
static void maximal_keys_with_long_common_prefixes(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 32 * MiB, 0));
	struct model model = { 0 };
	uint8_t key[DBOS_KV_KEY_MAX];
	memset(key, 'p', sizeof key);
	const uint32_t keys = KV_TSAN_SCALE(3000u, 1500u);
	for (uint32_t n = 0; n < keys; n++) {
		uint32_t id = (n * 1009u) % keys; /* a permutation: 1009 is prime to 3000 and 1500 */
		fixture_key(key + DBOS_KV_KEY_MAX - 4, 4, id);
		uint64_t value_size = n % 3 == 0 ? 300 : n % 3 == 1 ? 0 : 5000;
		REQUIRE(fixture_put(&fixture, &model, key, sizeof key, value_size, n, 1) == DBOS_OK);
	}
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	struct kv_tree_info info;
	CHECK_EQ(kv_tree_info(&fixture.tree, NULL, &info), DBOS_OK);
	CHECK(info.height >= 5);
	for (uint32_t n = 0; n < keys; n++) {
		fixture_key(key + DBOS_KV_KEY_MAX - 4, 4, (n * 7919u) % keys);
		bool found;
		REQUIRE(kv_tree_del(&fixture.tree, key, sizeof key, 2, &found) == DBOS_OK);
		REQUIRE(found);
		model_del(&model, key, sizeof key);
		if (n % 500 == 0)
			REQUIRE(fixture_check(&fixture) == DBOS_OK);
	}
	CHECK_EQ(kv_tree_info(&fixture.tree, NULL, &info), DBOS_OK);
	CHECK_EQ(info.entries, 0);
	CHECK_EQ(info.height, 1);
	CHECK_EQ(pages_in_use(fixture.bp), 2);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/* The root node's head_skip (bytes every key in it shares, taken off the heads). */
static uint32_t root_head_skip(struct fixture_tree *fixture)
{
	struct kv_tree_meta meta;
	REQUIRE(kv_tree_meta_load(&fixture->tree, &meta) == DBOS_OK);
	void *page;
	REQUIRE(dbos_bp_fix_shared(fixture->bp, meta.root, &page) == DBOS_OK);
	uint32_t skip = kv_node_header(kv_node_of(page, fixture->tree.page_size))->head_skip;
	dbos_bp_unfix_shared(fixture->bp, meta.root);
	return skip;
}

/* Key `id` under `prefix` ("user:" style, as a server's keyspace writes them): prefix + decimal id. */
static uint32_t prefixed_key(uint8_t *key, const char *prefix, uint32_t id)
{
	return (uint32_t)snprintf((char *)key, DBOS_KV_KEY_MAX, "%s%u", prefix, id);
}

/*
 * Keys that all begin alike get a head_skip, so their heads differ; keys that break the shared
 * prefix (shorter ones, proper prefixes of it, others) shorten it again; every search stays right.
 */
static void shared_prefixes_shift_the_heads(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 16 * MiB, 0));
	CHECK(fixture.tree.head_skip);
	struct model model = { 0 };
	uint8_t key[DBOS_KV_KEY_MAX];
	const uint32_t keys = KV_TSAN_SCALE(20000u, 4000u);
	for (uint32_t n = 0; n < keys; n++) {
		uint32_t size = prefixed_key(key,
					     "\x01"
					     "gen0:user:",
					     (n * 7919u) % keys);
		REQUIRE(fixture_put(&fixture, &model, key, size, 20 + n % 50, n, 1) == DBOS_OK);
	}
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	/* Every key begins "\x01gen0:user:": so does the root's every separator. */
	CHECK(root_head_skip(&fixture) >= 11);
	/* Absent keys on every side of the shared prefix, and proper prefixes of it. */
	const char *absent[] = { "\x01",
				 "\x01gen0:",
				 "\x01gen0:user:",
				 "\x01gen0:user",
				 "\x01gen0:usez",
				 "\x01gen0:user:x",
				 "\x00",
				 "\x02",
				 "\x01gen0:user:"
				 "99999999" };
	for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
		uint32_t size = (uint32_t)strlen(absent[i]);
		uint64_t value_size;
		CHECK_EQ(kv_tree_get(&fixture.tree, NULL, absent[i], size ? size : 1, NULL, 0, &value_size),
			 DBOS_ENOENT);
	}
	/* Keys that break the prefix at every length, then deletes that empty whole leaves. */
	for (uint32_t n = 0; n < keys / 4; n++) {
		static const char *prefixes[] = { "\x01gen0:usex", "\x01gen0:", "\x01gen1:user:", "\x01",
						  "\x01gen0:user" };
		uint32_t size = prefixed_key(key, prefixes[n % 5], n);
		REQUIRE(fixture_put(&fixture, &model, key, size, 10, n, 2) == DBOS_OK);
		if (n % 3 == 0) {
			size = prefixed_key(key, "\x01gen0:user:", (n * 13u) % keys);
			bool found;
			REQUIRE(kv_tree_del(&fixture.tree, key, size, 3, &found) == DBOS_OK);
			CHECK_EQ(found, model_del(&model, key, size));
		}
	}
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	model_free(&model);
	fixture_tree_close(&fixture);

	/* One node, step by step: a rebuild takes the shared prefix, a key that breaks it shortens it. */
	uint64_t payload_words[(4096 - DBOS_BP_PAGE_HEADER_SIZE) / 8];
	struct kv_node node = { (uint8_t *)payload_words, sizeof payload_words };
	kv_node_init(node, KV_NODE_LEAF, 0);
	uint8_t rest[KV_LEAF_VALUE_HEADER] = { 0 };
	for (uint32_t id = 10; id < 40; id++)
		kv_node_insert(node, id - 10, key, prefixed_key(key, "user:", id), rest, sizeof rest, NULL, 0);
	CHECK_EQ(kv_node_header(node)->head_skip, 0);
	kv_node_refresh_heads(node);
	CHECK_EQ(kv_node_header(node)->head_skip, 5); /* "user:10" .. "user:39" share "user:" */
	bool found;
	CHECK_EQ(kv_node_search(node, "user:25", 7, false, &found), 15);
	CHECK(found);
	CHECK_EQ(kv_node_search(node, "user:", 5, false, &found), 0);
	CHECK_EQ(kv_node_search(node, "user:4", 6, false, &found), 30);
	CHECK_EQ(kv_node_search(node, "usa", 3, false, &found), 0);
	CHECK(!found);
	kv_node_insert(node, 0, "usa", 3, rest, sizeof rest, NULL, 0);
	CHECK_EQ(kv_node_header(node)->head_skip, 2);
	CHECK_EQ(kv_node_search(node, "usa", 3, false, &found), 0);
	CHECK(found);
	CHECK_EQ(kv_node_search(node, "user:25", 7, false, &found), 16);
	CHECK(found);
	CHECK_EQ(kv_node_search(node, "user:39", 7, true, &found), 31);
}

/* A tree of format 1 (written before head_skip) stays one: its nodes never get a head_skip. */
static void format_1_trees_keep_whole_key_heads(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 16 * MiB, 0));
	struct kv_tree_meta meta;
	REQUIRE(kv_tree_meta_load(&fixture.tree, &meta) == DBOS_OK);
	CHECK_EQ(meta.format_version, KV_TREE_FORMAT_VERSION);
	meta.format_version = 1;
	REQUIRE(kv_tree_meta_store(&fixture.tree, &meta, 1) == DBOS_OK);
	REQUIRE(kv_tree_attach(&fixture.tree, fixture.bp) == DBOS_OK);
	CHECK(!fixture.tree.head_skip);
	struct model model = { 0 };
	uint8_t key[DBOS_KV_KEY_MAX];
	const uint32_t keys = KV_TSAN_SCALE(10000u, 3000u);
	for (uint32_t n = 0; n < keys; n++) {
		uint32_t size = prefixed_key(key, "user:", (n * 7919u) % keys);
		REQUIRE(fixture_put(&fixture, &model, key, size, 40, n, 2) == DBOS_OK);
	}
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	CHECK_EQ(root_head_skip(&fixture), 0);
	REQUIRE(kv_tree_meta_load(&fixture.tree, &meta) == DBOS_OK);
	CHECK_EQ(meta.format_version, 1);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/* 32 pages of memory for about 2 MiB of tree: every path goes through eviction and reads. */
static void pool_smaller_than_the_data(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 32 * 4 * KiB, 0));
	struct model model = { 0 };
	uint64_t lsn = 0;
	REQUIRE(random_operations(&fixture, &model, 6000, 3000, &lsn));
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	struct dbos_bp_stats stats;
	dbos_bp_stats(fixture.bp, &stats);
	CHECK(stats.evictions > 0);
	CHECK(stats.page_count > 2 * stats.budget_pages);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/* Larger pages: the same operations with 16 KiB nodes. */
static void larger_pages(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 8 * MiB, 16384));
	struct model model = { 0 };
	uint64_t lsn = 0;
	REQUIRE(random_operations(&fixture, &model, 8000, 4000, &lsn));
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/*
 * A file that cannot grow: the put that needs a page fails with the pool's
 * DBOS_ELIMIT and changes nothing (its overflow chain and spare pages go back),
 * the tree stays whole, and deletes and smaller puts still work.
 */
static void full_file_refuses_a_put_and_changes_nothing(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open_limited(&fixture, 4 * MiB, 0, 200));
	struct model model = { 0 };
	uint8_t key[64];
	dbos_status status = DBOS_OK;
	uint32_t id = 0;
	uint64_t refusals = 0;
	for (; id < 100000 && refusals < 20; id++) {
		fixture_key(key, sizeof key, id * 2654435761u);
		/* Alternate inline values and 3-page values: both kinds of refusal. */
		status = fixture_put(&fixture, &model, key, sizeof key, id % 2 ? 500 : 9000, id, id + 1);
		if (status != DBOS_OK) {
			CHECK_EQ(status, DBOS_ELIMIT);
			refusals++;
			uint64_t size;
			uint8_t value[8];
			CHECK_EQ(kv_tree_get(&fixture.tree, NULL, key, sizeof key, value, sizeof value, &size),
				 DBOS_ENOENT);
		}
	}
	CHECK(refusals == 20);
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	/* Make room, and the same kind of put works again. */
	for (size_t i = 0; i < 20 && model.count; i++) {
		struct model_entry entry = model.entries[0];
		bool found;
		CHECK_EQ(kv_tree_del(&fixture.tree, entry.key, entry.key_size, 1, &found), DBOS_OK);
		model_del(&model, entry.key, entry.key_size);
	}
	fixture_key(key, sizeof key, 7);
	CHECK_EQ(fixture_put(&fixture, &model, key, sizeof key, 9000, 7, 1), DBOS_OK);
	CHECK(fixture_matches_model(&fixture, &model));
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);
	model_free(&model);
	fixture_tree_close(&fixture);
}

/* Damage one leaf (swap two keys' order) and one overflow link: the check names each page. */
static void check_finds_damaged_pages(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 8 * MiB, 0));
	struct model model = { 0 };
	uint8_t key[16];
	for (uint32_t id = 0; id < 2000; id++) {
		fixture_key(key, sizeof key, id);
		REQUIRE(fixture_put(&fixture, &model, key, sizeof key, id == 1000 ? 9000 : 20, id, 1) == DBOS_OK);
	}
	REQUIRE(fixture_check(&fixture) == DBOS_OK);

	/* The leaf holding key 500: find it by descending, then swap its first two slots. */
	fixture_key(key, sizeof key, 500);
	struct kv_read_page leaf;
	REQUIRE(kv_tree_descend(&fixture.tree, NULL, key, sizeof key, false, false, &leaf, NULL) == DBOS_OK);
	uint64_t leaf_pid = leaf.pid;
	void *page;
	REQUIRE(dbos_bp_fix_exclusive(fixture.bp, leaf_pid, &page) == DBOS_OK);
	struct kv_slot *slots = kv_node_slots(kv_node_of(page, fixture.tree.page_size));
	struct kv_slot first = slots[0];
	slots[0] = slots[1];
	slots[1] = first;
	CHECK_EQ(dbos_bp_unfix_exclusive(fixture.bp, leaf_pid, true), DBOS_OK);
	uint64_t bad_pid = 0;
	CHECK_EQ(kv_tree_check(&fixture.tree, NULL, NULL, &bad_pid), DBOS_ECORRUPT);
	CHECK_EQ(bad_pid, leaf_pid);
	REQUIRE(dbos_bp_fix_exclusive(fixture.bp, leaf_pid, &page) == DBOS_OK);
	slots = kv_node_slots(kv_node_of(page, fixture.tree.page_size));
	first = slots[0];
	slots[0] = slots[1];
	slots[1] = first;
	CHECK_EQ(dbos_bp_unfix_exclusive(fixture.bp, leaf_pid, true), DBOS_OK);
	CHECK_EQ(fixture_check(&fixture), DBOS_OK);

	/* Key 1000's value chain: cut it after the first page. */
	fixture_key(key, sizeof key, 1000);
	REQUIRE(kv_tree_descend(&fixture.tree, NULL, key, sizeof key, false, false, &leaf, NULL) == DBOS_OK);
	struct kv_node node = kv_node_of((void *)leaf.page, fixture.tree.page_size);
	bool found;
	uint32_t index = kv_node_search(node, key, sizeof key, false, &found);
	REQUIRE(found);
	uint64_t chain = kv_node_leaf_value(node, index).overflow_pid;
	REQUIRE(kv_read_end(&fixture.tree, NULL, &leaf));
	REQUIRE(chain != 0);
	REQUIRE(dbos_bp_fix_exclusive(fixture.bp, chain, &page) == DBOS_OK);
	kv_store64(dbos_bp_payload(page), 0);
	CHECK_EQ(dbos_bp_unfix_exclusive(fixture.bp, chain, true), DBOS_OK);
	CHECK_EQ(kv_tree_check(&fixture.tree, NULL, NULL, &bad_pid), DBOS_ECORRUPT);
	CHECK_EQ(bad_pid, chain);
	model_free(&model);
	fixture_tree_close(&fixture);
}

static bool stop_at_first_report(void *context, uint64_t done, uint64_t total)
{
	(void)done;
	(void)total;
	(*(int *)context)++;
	return false;
}

static void check_reports_progress_and_stops(void)
{
	struct fixture_tree fixture;
	REQUIRE(fixture_tree_open(&fixture, 8 * MiB, 0));
	struct model model = { 0 };
	uint8_t key[16];
	for (uint32_t id = 0; id < 3000; id++) {
		fixture_key(key, sizeof key, id);
		REQUIRE(fixture_put(&fixture, &model, key, sizeof key, 100, id, 1) == DBOS_OK);
	}
	int calls = 0;
	uint64_t bad_pid;
	CHECK_EQ(kv_tree_check(&fixture.tree, stop_at_first_report, &calls, &bad_pid), DBOS_ECANCELED);
	CHECK_EQ(calls, 1);
	model_free(&model);
	fixture_tree_close(&fixture);
}

int main(void)
{
	fixture_setup();
	RUN_TEST(format_attach_and_caller_errors);
	RUN_TEST(random_operations_match_the_model);
	RUN_TEST(changed_pages_carry_the_lsn);
	RUN_TEST(delete_everything_cycles_reuse_pages);
	RUN_TEST(sparse_deletes_merge_underfull_nodes);
	RUN_TEST(maximal_keys_with_long_common_prefixes);
	RUN_TEST(shared_prefixes_shift_the_heads);
	RUN_TEST(format_1_trees_keep_whole_key_heads);
	RUN_TEST(pool_smaller_than_the_data);
	RUN_TEST(larger_pages);
	RUN_TEST(full_file_refuses_a_put_and_changes_nothing);
	RUN_TEST(check_finds_damaged_pages);
	RUN_TEST(check_reports_progress_and_stops);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
