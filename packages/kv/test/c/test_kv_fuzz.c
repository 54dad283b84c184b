/*
 * test_kv_fuzz.c - hostile bytes in the store's on-disk structures: B+tree
 * nodes and the meta page, checkpoint images, and a whole store directory
 * (STATE, pages.db, the log, the checkpoint).  Whatever the damage, the
 * readers return a status (DBOS_ECORRUPT, or an answer the damaged bytes still
 * make valid): never a crash, an out-of-bounds access (CI runs this under
 * AddressSanitizer), an endless loop, or a wrong value passed off as stored.
 *
 * Tree nodes are damaged in memory while fixed exclusively: the pool checks
 * no checksum on a resident page (and seals a valid one when it writes it),
 * as with a page a buggy writer or a bit flip in RAM produced, so only the
 * tree's own checks stand between the garbage and a crash.  Every damaged page is put back afterwards, and the
 * intact tree must still match its model at the end (the readers never wrote).
 * Checkpoint fields are also given hostile values with their CRCs recomputed,
 * so that the checks behind the CRC are exercised too.
 *
 * A watchdog (alarm) turns an endless loop into a failure that names the
 * damage, instead of a hung test run.  Runs are reproducible: the random
 * generator has a fixed seed (FUZZ_SEED overrides it).
 */
#include <signal.h>
#include <sys/wait.h>

#include "dbos/kv.h"

#include "../../csrc/kv_checkpoint_format.h"
#include "kv_tree_fixture.h"

#define FUZZ_PAGE_SIZE 4096u
#define FUZZ_ENTRIES 700u
/* A few seconds under the sanitizers; a longer hunt: -DFUZZ_TREE_ITERATIONS=100000u (and FUZZ_SEED). */
#ifndef FUZZ_TREE_ITERATIONS
#define FUZZ_TREE_ITERATIONS KV_TSAN_SCALE(2500u, 250u)
#endif
#ifndef FUZZ_CHECKPOINT_ITERATIONS
#define FUZZ_CHECKPOINT_ITERATIONS KV_TSAN_SCALE(300u, 60u)
#endif
#define FUZZ_WATCHDOG_SECONDS 20u
#define FUZZ_SCAN_BUFFER (64 * KiB)

/* ---- The watchdog -------------------------------------------------------------- */

static const char *volatile fuzz_what = "";

static void fuzz_watchdog_fired(int signal_number)
{
	(void)signal_number;
	/* Only async-signal-safe calls: say where it hung, then die (the harness sees the crash). */
	static const char message[] = "watchdog: a reader did not finish (an endless loop?) during: ";
	(void)!write(2, message, sizeof message - 1);
	(void)!write(2, (const char *)fuzz_what, strlen((const char *)fuzz_what));
	(void)!write(2, "\n", 1);
	_exit(70);
}

static void fuzz_watchdog_arm(void)
{
	signal(SIGALRM, fuzz_watchdog_fired);
	alarm(FUZZ_WATCHDOG_SECONDS);
}

static uint64_t fuzz_below(uint64_t bound)
{
	return bound ? fixture_random() % bound : 0;
}

/* ---- Building the tree --------------------------------------------------------- */

static struct fixture_tree fuzz_fixture;
static struct model fuzz_model;
static uint64_t fuzz_root; /* read once: the meta page may be the page being damaged (latched) */

/* A tree of a few levels with short, long and overflow values: every node kind is there to damage. */
static bool fuzz_tree_build(void)
{
	if (!fixture_tree_open(&fuzz_fixture, 16 * MiB, FUZZ_PAGE_SIZE))
		return false;
	uint8_t key[DBOS_KV_KEY_MAX];
	for (uint32_t id = 0; id < FUZZ_ENTRIES; id++) {
		uint32_t key_size = fixture_key_size();
		fixture_key(key, key_size, id * 2654435761u);
		uint64_t value_size = fixture_value_size();
		if (fixture_put(&fuzz_fixture, &fuzz_model, key, key_size, value_size, id, 1 + id) != DBOS_OK)
			return false;
	}
	struct kv_tree_meta meta;
	if (kv_tree_meta_load(&fuzz_fixture.tree, &meta) != DBOS_OK)
		return false;
	fuzz_root = meta.root;
	return fixture_check(&fuzz_fixture) == DBOS_OK && fixture_matches_model(&fuzz_fixture, &fuzz_model);
}

/* ---- Damaging one page ------------------------------------------------------------ */

/* A pid a damaged field may name: self, the root, the meta page, 0, past the end, or any page. */
static uint64_t fuzz_hostile_pid(uint64_t self)
{
	uint64_t page_count = dbos_bp_page_count(fuzz_fixture.bp);
	switch (fuzz_below(7)) {
	case 0: return self;
	case 1: return fuzz_root;
	case 2: return KV_TREE_META_PID;
	case 3: return 0;
	case 4: return page_count + fuzz_below(3);
	case 5: return fixture_random();
	default: return 2 + fuzz_below(page_count - 2);
	}
}

static uint16_t fuzz_hostile_u16(uint32_t page_payload)
{
	switch (fuzz_below(4)) {
	case 0: return 0;
	case 1: return 0xffff;
	case 2: return (uint16_t)(page_payload - fuzz_below(64));
	default: return (uint16_t)fixture_random();
	}
}

/*
 * Damage one page's payload in one of several ways; `what` describes it.
 * The pool's page header (checksum, pid, flags) is left alone: that is the
 * pool's to check, and it does (test_bufferpool.c).
 */
static void fuzz_damage(uint64_t pid, uint8_t *page, char *what, size_t what_size)
{
	struct kv_node node = kv_node_of(page, FUZZ_PAGE_SIZE);
	struct kv_node_header *header = kv_node_header(node);
	bool meta = pid == KV_TREE_META_PID;
	uint32_t count = kv_node_count(node);
	uint32_t kind = (uint32_t)fuzz_below(meta ? 3 : 10);
	if (meta) {
		struct kv_tree_meta *fields = (struct kv_tree_meta *)node.payload;
		switch (kind) {
		case 0:
			fields->root = fuzz_hostile_pid(pid);
			snprintf(what, what_size, "meta root = %" PRIu64, fields->root);
			return;
		case 1:
			fields->height = fuzz_below(2) ? fuzz_below(KV_TREE_HEIGHT_MAX + 2) : fixture_random();
			snprintf(what, what_size, "meta height = %" PRIu64, fields->height);
			return;
		default:
			fields->entries = fixture_random();
			snprintf(what, what_size, "meta entries = %" PRIu64, fields->entries);
			return;
		}
	}
	switch (kind) {
	case 0: { /* a few random bytes anywhere in the payload */
		uint32_t bytes = 1 + (uint32_t)fuzz_below(8);
		for (uint32_t i = 0; i < bytes; i++)
			node.payload[fuzz_below(node.size)] = (uint8_t)fixture_random();
		snprintf(what, what_size, "page %" PRIu64 ": %u random bytes", pid, bytes);
		return;
	}
	case 1: /* the slot count */
		header->count = fuzz_hostile_u16(node.size);
		snprintf(what, what_size, "page %" PRIu64 ": count = %u", pid, header->count);
		return;
	case 2: /* heap and garbage: where the cells start, how much is dead */
		header->heap = fuzz_hostile_u16(node.size);
		header->garbage = fuzz_hostile_u16(node.size);
		snprintf(what, what_size, "page %" PRIu64 ": heap %u garbage %u", pid, header->heap, header->garbage);
		return;
	case 3: /* kind and level: a leaf claims to be inner, a node claims another level */
		header->kind = (uint8_t)fuzz_below(4);
		header->level = (uint16_t)fuzz_below(2) ? (uint16_t)fuzz_below(5) : (uint16_t)fixture_random();
		snprintf(what, what_size, "page %" PRIu64 ": kind %u level %u", pid, header->kind, header->level);
		return;
	case 4: /* the rightmost child: self (a cycle), the root, nonsense */
		header->rightmost = fuzz_hostile_pid(pid);
		snprintf(what, what_size, "page %" PRIu64 ": rightmost = %" PRIu64, pid, header->rightmost);
		return;
	case 5: { /* a slot's cell offset, key size and head */
		if (!count)
			break;
		uint32_t index = (uint32_t)fuzz_below(count);
		struct kv_slot *slot = &kv_node_slots(node)[index];
		slot->offset = fuzz_hostile_u16(node.size);
		slot->key_size =
			fuzz_below(2) ? fuzz_hostile_u16(node.size) : (uint16_t)fuzz_below(DBOS_KV_KEY_MAX + 2);
		slot->head = (uint32_t)fixture_random();
		snprintf(what, what_size, "page %" PRIu64 ": slot %u offset %u key size %u", pid, index, slot->offset,
			 slot->key_size);
		return;
	}
	case 6: { /* two slots swapped: keys out of order (a scan must still end) */
		if (count < 2)
			break;
		uint32_t a = (uint32_t)fuzz_below(count), b = (uint32_t)fuzz_below(count);
		struct kv_slot slot = kv_node_slots(node)[a];
		kv_node_slots(node)[a] = kv_node_slots(node)[b];
		kv_node_slots(node)[b] = slot;
		snprintf(what, what_size, "page %" PRIu64 ": slots %u and %u swapped", pid, a, b);
		return;
	}
	case 7: { /* the cell after a key: a child pid, or a leaf value's size and overflow pid */
		if (!count)
			break;
		uint32_t index = (uint32_t)fuzz_below(count);
		if (header->kind == KV_NODE_INNER) {
			uint64_t child = fuzz_hostile_pid(pid);
			kv_node_set_child(node, index, child);
			snprintf(what, what_size, "page %" PRIu64 ": child %u = %" PRIu64, pid, index, child);
			return;
		}
		uint8_t *rest = (uint8_t *)kv_node_cell_rest(node, index, KV_LEAF_VALUE_HEADER + KV_OVERFLOW_REF_SIZE);
		uint32_t inline_size = fuzz_below(2) ? KV_VALUE_OVERFLOW : (uint32_t)fixture_random();
		kv_store32(rest, inline_size);
		if (inline_size == KV_VALUE_OVERFLOW) {
			uint64_t size = fuzz_below(2) ? fuzz_below(64 * KiB) : fixture_random();
			kv_store64(rest + 4, size);
			kv_store64(rest + 12, fuzz_hostile_pid(pid));
		}
		snprintf(what, what_size, "page %" PRIu64 ": leaf value %u size field %u", pid, index, inline_size);
		return;
	}
	case 8: /* a key byte: order and fences broken in subtle ways */
		if (!count)
			break;
		{
			uint32_t index = (uint32_t)fuzz_below(count), key_size;
			uint8_t *key = (uint8_t *)kv_node_key(node, index, &key_size);
			if (!key_size)
				break;
			key[fuzz_below(key_size)] ^= (uint8_t)(1 + fuzz_below(255));
			snprintf(what, what_size, "page %" PRIu64 ": a byte of key %u", pid, index);
			return;
		}
	default: /* an overflow page's (or any page's) first payload word: the chain link */
		kv_store64(node.payload, fuzz_hostile_pid(pid));
		snprintf(what, what_size, "page %" PRIu64 ": first payload word (overflow next)", pid);
		return;
	}
	node.payload[fuzz_below(node.size)] ^= 0x5a;
	snprintf(what, what_size, "page %" PRIu64 ": one byte flipped", pid);
}

/* ---- Reading the damaged tree ------------------------------------------------------- */

static bool fuzz_status_allowed(dbos_status status, bool enoent_allowed)
{
	return status == DBOS_OK || status == DBOS_ECORRUPT || (enoent_allowed && status == DBOS_ENOENT);
}

/*
 * A full scan: it ends (bounded calls), returns DBOS_OK or DBOS_ECORRUPT, and
 * what it returns is in strict order.  *entries_out: entries seen.
 */
static dbos_status fuzz_scan(struct kv_epoch *epoch, bool reverse, uint8_t *buffer, uint64_t *entries_out,
			     bool *ordered_out)
{
	dbos_kv_range all = { .reverse = reverse };
	struct kv_tree_cursor *cursor;
	dbos_status status = kv_tree_cursor_open(&fuzz_fixture.tree, epoch, &all, &cursor);
	if (status != DBOS_OK)
		return status;
	uint8_t previous[DBOS_KV_KEY_MAX];
	uint32_t previous_size = 0;
	bool have_previous = false;
	*entries_out = 0;
	*ordered_out = true;
	/* Each call returns at least one entry or ends: more calls than entries means it goes round in circles. */
	for (uint32_t calls = 0;; calls++) {
		if (calls > 4 * FUZZ_ENTRIES + 16) {
			status = DBOS_EAGAIN; /* not a status a scan may give: the caller fails the case */
			break;
		}
		uint32_t count = 0;
		size_t used = 0;
		status = kv_tree_cursor_next(cursor, buffer, FUZZ_SCAN_BUFFER, &count, &used);
		if (status == DBOS_ELIMIT)
			status = DBOS_OK; /* a damaged value size larger than the buffer: a fine answer; stop */
		if (status != DBOS_OK || count == 0)
			break;
		size_t at = 0;
		for (uint32_t i = 0; i < count; i++) {
			uint32_t key_size;
			uint64_t value_size;
			memcpy(&key_size, buffer + at, sizeof key_size);
			memcpy(&value_size, buffer + at + 8, sizeof value_size);
			const uint8_t *key = buffer + at + 16;
			if (have_previous) {
				int order = kv_key_compare(key, key_size, previous, previous_size);
				if (reverse ? order >= 0 : order <= 0)
					*ordered_out = false;
			}
			memcpy(previous, key, key_size);
			previous_size = key_size;
			have_previous = true;
			at += (16 + key_size + value_size + 7) & ~(size_t)7;
		}
		*entries_out += count;
	}
	kv_tree_cursor_close(cursor);
	return status;
}

/*
 * Every reader on the damaged tree: lookups of present and absent keys, scans
 * both ways (optimistic and through an epoch), the structural check.  When the
 * check passes, the damage was harmless to the structure: then both scans
 * succeed, in order, and agree on the number of entries.
 */
static void fuzz_read_everything(const char *what, uint8_t *buffer)
{
	struct kv_tree *tree = &fuzz_fixture.tree;
	for (uint32_t i = 0; i < 24; i++) {
		const struct model_entry *entry = &fuzz_model.entries[fuzz_below(fuzz_model.count)];
		uint64_t size = 0;
		dbos_status status =
			kv_tree_get(tree, NULL, entry->key, entry->key_size, buffer, FUZZ_SCAN_BUFFER, &size);
		if (!fuzz_status_allowed(status, true)) {
			fprintf(stderr, "%s: kv_tree_get: %s\n", what, dbos_status_name(status));
			CHECK(false);
		}
	}
	uint8_t absent[8] = { 0xff, 0xfe, 0, 1, 2, 3, 4, 5 };
	uint64_t size = 0;
	CHECK(fuzz_status_allowed(kv_tree_get(tree, NULL, absent, sizeof absent, buffer, 16, &size), true));

	uint64_t forward = 0, backward = 0;
	bool forward_ordered, backward_ordered;
	dbos_status forward_status = fuzz_scan(NULL, false, buffer, &forward, &forward_ordered);
	dbos_status backward_status = fuzz_scan(NULL, true, buffer, &backward, &backward_ordered);
	/* The same tree through an epoch (begun after the damage, so it sees the damage). */
	struct kv_epoch *epoch;
	REQUIRE(kv_epoch_begin(fuzz_fixture.epochs, &epoch) == DBOS_OK);
	uint64_t epoch_entries = 0;
	bool epoch_ordered;
	dbos_status epoch_status = fuzz_scan(epoch, fuzz_below(2), buffer, &epoch_entries, &epoch_ordered);
	const struct model_entry *entry = &fuzz_model.entries[fuzz_below(fuzz_model.count)];
	dbos_status epoch_get = kv_tree_get(tree, epoch, entry->key, entry->key_size, buffer, FUZZ_SCAN_BUFFER, &size);
	kv_epoch_end(epoch);
	uint64_t bad_pid = 0;
	dbos_status checked = kv_tree_check(tree, NULL, NULL, &bad_pid);

	if (!fuzz_status_allowed(forward_status, false) || !fuzz_status_allowed(backward_status, false) ||
	    !fuzz_status_allowed(epoch_status, false) || !fuzz_status_allowed(epoch_get, true) ||
	    !fuzz_status_allowed(checked, false)) {
		fprintf(stderr, "%s: scans %s / %s / epoch %s, epoch get %s, check %s\n", what,
			dbos_status_name(forward_status), dbos_status_name(backward_status),
			dbos_status_name(epoch_status), dbos_status_name(epoch_get), dbos_status_name(checked));
		CHECK(false);
	}
	/* Whatever a scan returned before it stopped, it returned in order. */
	if (!forward_ordered || !backward_ordered || !epoch_ordered) {
		fprintf(stderr, "%s: a scan returned keys out of order\n", what);
		CHECK(false);
	}
	if (checked == DBOS_OK && (forward_status != DBOS_OK || backward_status != DBOS_OK || forward != backward)) {
		fprintf(stderr, "%s: the check passed but the scans gave %s (%" PRIu64 ") / %s (%" PRIu64 ")\n", what,
			dbos_status_name(forward_status), forward, dbos_status_name(backward_status), backward);
		CHECK(false);
	}
}

/* Pages the tree uses (not free): those worth damaging. */
static uint64_t fuzz_pick_page(void)
{
	uint64_t page_count = dbos_bp_page_count(fuzz_fixture.bp);
	for (;;) {
		/* The meta page one time in ten; it is one page among ~200 otherwise. */
		if (fuzz_below(10) == 0)
			return KV_TREE_META_PID;
		uint64_t pid = 2 + fuzz_below(page_count - 2);
		void *page;
		DBOS_ASSERT(dbos_bp_fix_shared(fuzz_fixture.bp, pid, &page) == DBOS_OK);
		bool free = ((dbos_bp_page_header *)page)->flags & DBOS_BP_PAGE_FREE;
		dbos_bp_unfix_shared(fuzz_fixture.bp, pid);
		if (!free)
			return pid;
	}
}

static void damaged_tree_pages_give_statuses(void)
{
	REQUIRE(fuzz_tree_build());
	uint8_t *buffer = malloc(FUZZ_SCAN_BUFFER);
	REQUIRE(buffer);
	char what[200];
	uint64_t corrupt_seen = 0;
	for (uint32_t iteration = 0; iteration < FUZZ_TREE_ITERATIONS && !dbos_test_failures_case; iteration++) {
		/* One damaged page most of the time, two now and then (damage that needs a partner). */
		uint32_t pages = fuzz_below(4) == 0 ? 2 : 1;
		uint64_t pids[2];
		uint8_t saved_pages[2][FUZZ_PAGE_SIZE];
		int used = snprintf(what, sizeof what, "iteration %u:", iteration);
		for (uint32_t p = 0; p < pages; p++) {
			pids[p] = fuzz_pick_page();
			if (p == 1 && pids[1] == pids[0]) {
				pages = 1;
				break;
			}
			void *page;
			REQUIRE(dbos_bp_fix_exclusive(fuzz_fixture.bp, pids[p], &page) == DBOS_OK);
			memcpy(saved_pages[p], page, FUZZ_PAGE_SIZE);
			fuzz_damage(pids[p], page, what + used, sizeof what - (size_t)used);
			used = (int)strlen(what);
			REQUIRE(dbos_bp_unfix_exclusive(fuzz_fixture.bp, pids[p], true) == DBOS_OK);
		}
		fuzz_what = what;
		fuzz_watchdog_arm();
		fuzz_read_everything(what, buffer);
		alarm(0);
		uint64_t bad_pid;
		corrupt_seen += kv_tree_check(&fuzz_fixture.tree, NULL, NULL, &bad_pid) == DBOS_ECORRUPT;
		/* Put the pages back (last damaged first: the same page twice restores the original). */
		for (uint32_t p = pages; p-- > 0;) {
			void *page;
			REQUIRE(dbos_bp_fix_exclusive(fuzz_fixture.bp, pids[p], &page) == DBOS_OK);
			memcpy(page, saved_pages[p], FUZZ_PAGE_SIZE);
			REQUIRE(dbos_bp_unfix_exclusive(fuzz_fixture.bp, pids[p], true) == DBOS_OK);
		}
	}
	REQUIRE(!dbos_test_failures_case); /* the loop stopped at the first failure */
	printf("# %u damaged trees, %" PRIu64 " of them caught by kv_tree_check\n", FUZZ_TREE_ITERATIONS, corrupt_seen);
	/* Most damage is structural: a check that catches little is a check that does not look. */
	CHECK(corrupt_seen > FUZZ_TREE_ITERATIONS / 2);
	/* The readers only read: with every page put back the tree is intact. */
	CHECK_EQ(fixture_check(&fuzz_fixture), DBOS_OK);
	CHECK(fixture_matches_model(&fuzz_fixture, &fuzz_model));
	free(buffer);
}

/* ---- Checkpoint images ------------------------------------------------------------- */

#define FUZZ_OLD_LSN 50u
#define FUZZ_NEW_LSN 100u

static dbos_gateway *fuzz_gateway(void)
{
	dbos_gateway *shared = NULL;
	DBOS_ASSERT(dbos_gateway_shared(&shared) == DBOS_OK);
	return shared;
}

static bool fuzz_file_read(const char *path, uint8_t **bytes_out, size_t *size_out)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	struct stat st;
	DBOS_ASSERT(fstat(fd, &st) == 0);
	uint8_t *bytes = malloc((size_t)st.st_size + 1);
	DBOS_ASSERT(bytes);
	bool ok = pread(fd, bytes, (size_t)st.st_size, 0) == st.st_size;
	close(fd);
	*bytes_out = bytes;
	*size_out = (size_t)st.st_size;
	return ok;
}

static void fuzz_file_write(const char *path, const uint8_t *bytes, size_t size)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	DBOS_ASSERT(fd >= 0);
	DBOS_ASSERT(size == 0 || write(fd, bytes, size) == (ssize_t)size);
	close(fd);
}

/* The pages CRC as kv_checkpoint_write chains it: over each page's checksum field, pid order. */
static uint32_t fuzz_pages_crc(const uint8_t *file, uint32_t page_size, uint64_t page_count)
{
	uint32_t crc = 0;
	for (uint64_t pid = 1; pid < page_count; pid++)
		crc = dbos_crc32c(crc, file + kv_checkpoint_page_offset(page_size, pid), sizeof(uint32_t));
	return crc;
}

/* Damage an image.  *size_io may change.  Returns whether the damage was resealed (CRCs made to match). */
static bool fuzz_damage_checkpoint(uint8_t *file, size_t *size_io, size_t capacity, char *what, size_t what_size)
{
	struct kv_checkpoint_header header;
	memcpy(&header, file, sizeof header);
	uint32_t page_size = header.page_size;
	uint64_t page_count = header.page_count;
	size_t trailer_at = *size_io - sizeof(struct kv_checkpoint_trailer);
	struct kv_checkpoint_trailer trailer;
	memcpy(&trailer, file + trailer_at, sizeof trailer);
	switch (fuzz_below(9)) {
	case 0: { /* raw bytes anywhere */
		uint32_t bytes = 1 + (uint32_t)fuzz_below(4);
		for (uint32_t i = 0; i < bytes; i++)
			file[fuzz_below(*size_io)] ^= (uint8_t)(1 + fuzz_below(255));
		snprintf(what, what_size, "%u random bytes", bytes);
		return false;
	}
	case 1: /* raw bytes in the header or the trailer */
		if (fuzz_below(2))
			file[fuzz_below(sizeof header)] ^= (uint8_t)(1 + fuzz_below(255));
		else
			file[trailer_at + fuzz_below(sizeof trailer)] ^= (uint8_t)(1 + fuzz_below(255));
		snprintf(what, what_size, "a header or trailer byte");
		return false;
	case 2: /* cut short or grown */
		if (fuzz_below(2)) {
			*size_io = fuzz_below(*size_io);
			snprintf(what, what_size, "cut to %zu bytes", *size_io);
		} else {
			size_t more = 1 + fuzz_below(capacity - *size_io);
			for (size_t i = 0; i < more; i++)
				file[*size_io + i] = (uint8_t)fixture_random();
			*size_io += more;
			snprintf(what, what_size, "%zu bytes appended", more);
		}
		return false;
	case 3:
	case 4: { /* a header field with a hostile value, header resealed */
		uint64_t value = fuzz_below(3) == 0   ? fixture_random()
				 : fuzz_below(3) == 0 ? 0
						      : fuzz_below(page_count + 3);
		switch (fuzz_below(7)) {
		case 0: header.page_size = (uint32_t)(fuzz_below(2) ? value : 1u << fuzz_below(32)); break;
		case 1: header.page_count = value; break;
		case 2: /* a page count so large that the file size computed from it wraps to the real size */
			header.page_count = page_count + ((uint64_t)1 << 52);
			break;
		case 3: header.free_head = value; break;
		case 4: header.free_count = value; break;
		case 5: header.lsn = fuzz_below(2) ? value : FUZZ_OLD_LSN; break;
		default: header.format_version = (uint32_t)value; break;
		}
		kv_checkpoint_header_seal(&header);
		memcpy(file, &header, sizeof header);
		/* Half the time the trailer is made to agree, so only the header's own checks remain. */
		if (fuzz_below(2)) {
			trailer.lsn = header.lsn;
			trailer.page_count = header.page_count;
			kv_checkpoint_trailer_seal(&trailer);
			memcpy(file + trailer_at, &trailer, sizeof trailer);
		}
		snprintf(what, what_size,
			 "resealed header: page size %u count %" PRIu64 " free %" PRIu64 "/%" PRIu64 " lsn %" PRIu64
			 " version %u",
			 header.page_size, header.page_count, header.free_head, header.free_count, header.lsn,
			 header.format_version);
		return true;
	}
	case 5: /* a trailer field, trailer resealed */
		switch (fuzz_below(3)) {
		case 0: trailer.lsn = fixture_random(); break;
		case 1: trailer.page_count = fuzz_below(page_count + 2); break;
		default: trailer.pages_crc = (uint32_t)fixture_random(); break;
		}
		kv_checkpoint_trailer_seal(&trailer);
		memcpy(file + trailer_at, &trailer, sizeof trailer);
		snprintf(what, what_size, "resealed trailer");
		return true;
	default: { /* a tree page damaged, then the page and the trailer resealed: the image is "valid" */
		uint64_t pid = 1 + fuzz_below(page_count - 1);
		uint8_t *page = file + kv_checkpoint_page_offset(page_size, pid);
		uint32_t bytes = 1 + (uint32_t)fuzz_below(6);
		for (uint32_t i = 0; i < bytes; i++) {
			/* Mostly the node header and slots, where the structure lives. */
			uint32_t span = fuzz_below(2) ? 128u : page_size - DBOS_BP_PAGE_HEADER_SIZE;
			page[DBOS_BP_PAGE_HEADER_SIZE + fuzz_below(span)] = (uint8_t)fixture_random();
		}
		kv_checkpoint_page_seal(page, page_size, pid);
		trailer.pages_crc = fuzz_pages_crc(file, page_size, page_count);
		kv_checkpoint_trailer_seal(&trailer);
		memcpy(file + trailer_at, &trailer, sizeof trailer);
		snprintf(what, what_size, "resealed page %" PRIu64 ": %u bytes", pid, bytes);
		return true;
	}
	}
}

/* A restored page file opens (or is refused) and its tree reads give statuses. */
static void fuzz_read_restored(const char *path, const char *what, uint8_t *buffer)
{
	dbos_bp_config config = {
		.path = path, .flags = DBOS_BP_BUFFERED, .pool_bytes = 8 * MiB, .max_pages = 1u << 20
	};
	dbos_bp *bp = NULL;
	dbos_bp_error error;
	dbos_status status = dbos_bp_open(&config, &bp, &error);
	if (status != DBOS_OK)
		return; /* refused: the pool's checks caught it */
	struct kv_tree tree;
	status = kv_tree_attach(&tree, bp);
	if (status == DBOS_OK) {
		uint64_t bad_pid = 0, size = 0;
		dbos_status checked = kv_tree_check(&tree, NULL, NULL, &bad_pid);
		dbos_kv_range all = { .reverse = fuzz_below(2) };
		struct kv_tree_cursor *cursor;
		dbos_status scanned = kv_tree_cursor_open(&tree, NULL, &all, &cursor);
		for (uint32_t calls = 0; scanned == DBOS_OK && calls < 4 * FUZZ_ENTRIES; calls++) {
			uint32_t count = 0;
			size_t used = 0;
			scanned = kv_tree_cursor_next(cursor, buffer, FUZZ_SCAN_BUFFER, &count, &used);
			if (scanned == DBOS_ELIMIT)
				scanned = DBOS_OK;
			if (count == 0)
				break;
		}
		if (cursor)
			kv_tree_cursor_close(cursor);
		const struct model_entry *entry = &fuzz_model.entries[fuzz_below(fuzz_model.count)];
		dbos_status got =
			kv_tree_get(&tree, NULL, entry->key, entry->key_size, buffer, FUZZ_SCAN_BUFFER, &size);
		if (!fuzz_status_allowed(checked, false) || !fuzz_status_allowed(scanned, false) ||
		    !fuzz_status_allowed(got, true)) {
			fprintf(stderr, "%s: restored tree: check %s scan %s get %s\n", what, dbos_status_name(checked),
				dbos_status_name(scanned), dbos_status_name(got));
			CHECK(false);
		}
	} else if (status != DBOS_ECORRUPT && status != DBOS_ENOTSUP) {
		fprintf(stderr, "%s: kv_tree_attach: %s\n", what, dbos_status_name(status));
		CHECK(false);
	}
	(void)dbos_bp_close(bp);
}

/*
 * A real checkpoint of the fuzz tree, damaged many ways (raw bytes, truncation,
 * growth, and fields given hostile values with their CRCs recomputed so the
 * semantic checks are what must catch them).  An older intact checkpoint lies
 * beside it.  find returns one of the two, never fails otherwise; restore gives
 * DBOS_OK or DBOS_ECORRUPT and, when it fails, leaves pages.db as it was; an
 * image restored from raw damage is byte for byte the intact one (the damage
 * hit bytes nothing reads); an image with resealed damage restores to a file
 * that the pool and the tree refuse or read with statuses.
 */
static void damaged_checkpoints_give_statuses(void)
{
	char dir[300], path[400], old_path[400], pages_path[400];
	/* tmpfs when there is one: restore syncs, and the decoding is what is tested here. */
	struct stat st;
	snprintf(dir, sizeof dir, "%s", stat("/dev/shm", &st) == 0 ? "/dev/shm/dbos-kv-fuzz-XXXXXX" : "");
	if (!dir[0])
		snprintf(dir, sizeof dir, "%s/checkpoints-XXXXXX", fixture_dir);
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(fuzz_fixture.bp); /* the tree of the first case */
	for (int i = 0; i < 2; i++) {
		struct kv_epoch *epoch;
		REQUIRE(kv_epoch_begin(fuzz_fixture.epochs, &epoch) == DBOS_OK);
		dbos_status status =
			kv_checkpoint_write(epoch, dir, i ? FUZZ_NEW_LSN : FUZZ_OLD_LSN, fuzz_gateway(), NULL, NULL);
		kv_epoch_end(epoch);
		REQUIRE(status == DBOS_OK);
	}
	char name[KV_NAME_MAX + 1];
	kv_checkpoint_name(name, FUZZ_NEW_LSN, false);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	kv_checkpoint_name(name, FUZZ_OLD_LSN, false);
	snprintf(old_path, sizeof old_path, "%s/%s", dir, name);
	snprintf(pages_path, sizeof pages_path, "%s/pages.db", dir);
	uint8_t *pristine, *intact_restore, *restored;
	size_t pristine_size, intact_size, restored_size;
	REQUIRE(fuzz_file_read(path, &pristine, &pristine_size));
	REQUIRE(kv_checkpoint_restore(dir, FUZZ_NEW_LSN, pages_path, fuzz_gateway()) == DBOS_OK);
	REQUIRE(fuzz_file_read(pages_path, &intact_restore, &intact_size));
	size_t capacity = pristine_size + 3 * FUZZ_PAGE_SIZE;
	uint8_t *file = malloc(capacity), *buffer = malloc(FUZZ_SCAN_BUFFER);
	REQUIRE(file && buffer);
	static const uint8_t marker[] = "the page file before the restore";
	char what[300];
	uint32_t refused = 0, restored_resealed = 0;
	for (uint32_t iteration = 0; iteration < FUZZ_CHECKPOINT_ITERATIONS && !dbos_test_failures_case; iteration++) {
		memcpy(file, pristine, pristine_size);
		size_t size = pristine_size;
		int used = snprintf(what, sizeof what, "checkpoint iteration %u: ", iteration);
		bool resealed = fuzz_damage_checkpoint(file, &size, capacity, what + used, sizeof what - (size_t)used);
		struct kv_checkpoint_header damaged;
		memcpy(&damaged, file, sizeof damaged);
		bool wraps = size >= sizeof damaged && damaged.page_size == FUZZ_PAGE_SIZE &&
			     damaged.page_count > ((uint64_t)1 << 50);
		fuzz_file_write(path, file, size);
		fuzz_file_write(pages_path, marker, sizeof marker);
		fuzz_what = what;
		fuzz_watchdog_arm();
		uint64_t lsn = 0;
		dbos_status found = kv_checkpoint_find(dir, fuzz_gateway(), &lsn);
		dbos_status status = kv_checkpoint_restore(dir, FUZZ_NEW_LSN, pages_path, fuzz_gateway());
		alarm(0);
		if (found != DBOS_OK || (lsn != FUZZ_NEW_LSN && lsn != FUZZ_OLD_LSN)) {
			fprintf(stderr, "%s: find gave %s, lsn %" PRIu64 "\n", what, dbos_status_name(found), lsn);
			CHECK(false);
		}
		if (status != DBOS_OK && status != DBOS_ECORRUPT) {
			fprintf(stderr, "%s: restore gave %s\n", what, dbos_status_name(status));
			CHECK(false);
			continue;
		}
		/* Restorable means complete: find must not have passed over it. */
		/* A page count whose file size wraps to the real one: find must not take the image. */
		if (wraps && lsn == FUZZ_NEW_LSN) {
			fprintf(stderr, "%s: find took an image whose page count wraps the file size\n", what);
			CHECK(false);
		}
		if (status == DBOS_OK && lsn != FUZZ_NEW_LSN) {
			fprintf(stderr, "%s: restore took an image find skipped\n", what);
			CHECK(false);
		}
		uint64_t tmp_size;
		CHECK(kv_fs_size(dir, "pages.db.tmp", &tmp_size) == DBOS_ENOENT);
		REQUIRE(fuzz_file_read(pages_path, &restored, &restored_size));
		if (status != DBOS_OK) {
			refused++;
			if (restored_size != sizeof marker || memcmp(restored, marker, sizeof marker) != 0) {
				fprintf(stderr, "%s: a failed restore changed pages.db\n", what);
				CHECK(false);
			}
		} else if (!resealed) {
			if (restored_size != intact_size || memcmp(restored, intact_restore, intact_size) != 0) {
				fprintf(stderr, "%s: restored a damaged image\n", what);
				CHECK(false);
			}
		} else {
			restored_resealed++;
			fuzz_watchdog_arm();
			fuzz_read_restored(pages_path, what, buffer);
			alarm(0);
		}
		free(restored);
	}
	printf("# %u damaged checkpoints: %u refused, %u restored from resealed damage\n", FUZZ_CHECKPOINT_ITERATIONS,
	       refused, restored_resealed);
	CHECK(refused > FUZZ_CHECKPOINT_ITERATIONS / 3);
	free(file);
	free(buffer);
	free(pristine);
	free(intact_restore);
	char command[400];
	snprintf(command, sizeof command, "rm -rf '%s'", dir);
	CHECK(system(command) == 0);
}

/* ---- The store's files ---------------------------------------------------------------- */

#define FUZZ_STORE_BATCHES 48u
#define FUZZ_STORE_KEYS_PER_BATCH 3u
#define FUZZ_STORE_CHECKPOINT_AFTER 20u /* a checkpoint in the middle: recovery = image + log */
#ifndef FUZZ_STORE_ITERATIONS
#define FUZZ_STORE_ITERATIONS KV_TSAN_SCALE(70u, 14u)
#endif

/* The stores to damage: [0] as a crashed child left it (recovery: checkpoint + log), [1] closed
 * cleanly (STATE says pages.db is up to date; the log after the checkpoint is still there). */
static char fuzz_store_bases[2][300];
static const char *fuzz_store_base;
static char fuzz_store_scratch[300];

static uint32_t fuzz_store_key(char *key, uint64_t batch, uint32_t j)
{
	return (uint32_t)snprintf(key, 32, "batch-%04llu-%u", (unsigned long long)batch, j);
}

/* Sizes from inline to a few overflow pages, fixed per key. */
static uint64_t fuzz_store_value_size(uint64_t batch, uint32_t j)
{
	static const uint64_t sizes[] = { 0, 17, 300, 1500, 5000, 13000 };
	return sizes[(batch * 7 + j * 3) % 6];
}

static void fuzz_store_value(uint8_t *value, uint64_t size, uint64_t batch, uint32_t j)
{
	for (uint64_t i = 0; i < size; i++)
		value[i] = (uint8_t)(batch * 131 + j * 31 + i * 7 + (i >> 9));
}

static dbos_kv_config fuzz_store_config(const char *dir, uint32_t flags)
{
	/* Buffered: the scratch copies live on tmpfs, which has no O_DIRECT. */
	return (dbos_kv_config){ .dir = dir,
				 .flags = flags | DBOS_KV_BUFFERED,
				 .cache_bytes = 2u << 20,
				 .checkpoint_wal_bytes = UINT64_MAX,
				 .wait_for_lock_ms = 1000 };
}

/* The child: every batch synced, a checkpoint in the middle, then a crash (no close) or a close. */
static _Noreturn void fuzz_store_child(bool clean)
{
	dbos_kv_config config = fuzz_store_config(fuzz_store_base, DBOS_KV_CREATE);
	dbos_kv *kv = NULL;
	if (dbos_kv_open(&config, &kv) != DBOS_OK)
		_exit(2);
	static uint8_t values[FUZZ_STORE_KEYS_PER_BATCH][13000];
	for (uint64_t batch = 0; batch < FUZZ_STORE_BATCHES; batch++) {
		char keys[FUZZ_STORE_KEYS_PER_BATCH][32];
		dbos_kv_op ops[FUZZ_STORE_KEYS_PER_BATCH];
		for (uint32_t j = 0; j < FUZZ_STORE_KEYS_PER_BATCH; j++) {
			uint64_t size = fuzz_store_value_size(batch, j);
			fuzz_store_value(values[j], size, batch, j);
			ops[j] = (dbos_kv_op){ .type = DBOS_KV_PUT,
					       .key_size = fuzz_store_key(keys[j], batch, j),
					       .key = keys[j],
					       .value = values[j],
					       .value_size = size };
		}
		uint64_t lsn = 0;
		if (dbos_kv_write(kv, ops, FUZZ_STORE_KEYS_PER_BATCH, DBOS_KV_SYNC, &lsn) != DBOS_OK ||
		    dbos_kv_wait(kv, lsn, true) != DBOS_OK)
			_exit(3);
		if (batch + 1 == FUZZ_STORE_CHECKPOINT_AFTER && dbos_kv_checkpoint(kv) != DBOS_OK)
			_exit(4);
	}
	if (clean)
		_exit(dbos_kv_close(kv) == DBOS_OK ? 0 : 5);
	_exit(0); /* a crash: STATE not clean, pages.db as the pool last wrote it, the log synced */
}

/* How many leading batches the store holds; -1 when it holds a half batch, a gap or a wrong value. */
static int64_t fuzz_store_history(dbos_kv *kv, dbos_status *read_status_out)
{
	static uint8_t expected[13000], actual[13001];
	int64_t present = 0;
	bool ended = false;
	*read_status_out = DBOS_OK;
	for (uint64_t batch = 0; batch < FUZZ_STORE_BATCHES; batch++) {
		uint32_t found = 0;
		for (uint32_t j = 0; j < FUZZ_STORE_KEYS_PER_BATCH; j++) {
			char key[32];
			uint32_t key_size = fuzz_store_key(key, batch, j);
			uint64_t size = fuzz_store_value_size(batch, j), got = 0;
			dbos_status status = dbos_kv_get(kv, NULL, key, key_size, actual, sizeof actual, &got);
			if (status == DBOS_ENOENT)
				continue;
			if (status != DBOS_OK) {
				*read_status_out = status;
				return -1;
			}
			fuzz_store_value(expected, size, batch, j);
			if (got != size || memcmp(actual, expected, size) != 0)
				return -1; /* a wrong value, silently: never acceptable */
			found++;
		}
		if (found != 0 && found != FUZZ_STORE_KEYS_PER_BATCH)
			return -1;
		if (found && ended)
			return -1; /* a gap: a later batch without an earlier one */
		if (!found)
			ended = true;
		else
			present++;
	}
	return present;
}

static void fuzz_store_copy_base(void)
{
	char command[700];
	snprintf(command, sizeof command, "rm -rf '%s' && cp -a '%s' '%s'", fuzz_store_scratch, fuzz_store_base,
		 fuzz_store_scratch);
	DBOS_ASSERT(system(command) == 0);
}

/* A file of the scratch store by prefix ("wal.", "checkpoint."), the newest by name; false when none. */
static bool fuzz_store_file(const char *prefix, char *path, size_t path_size)
{
	char command[600], line[300];
	snprintf(command, sizeof command, "ls -1 '%s' | grep '^%s' | grep -v 'tmp$' | sort | tail -1",
		 fuzz_store_scratch, prefix);
	FILE *pipe = popen(command, "r");
	bool found = pipe && fgets(line, sizeof line, pipe);
	if (pipe)
		pclose(pipe);
	if (!found)
		return false;
	line[strcspn(line, "\n")] = '\0';
	snprintf(path, path_size, "%s/%s", fuzz_store_scratch, line);
	return true;
}

/* Damage file at [offset, offset + length) with random bytes (offset clamped into the file). */
static void fuzz_store_scribble(const char *path, uint64_t offset, uint32_t length)
{
	uint8_t *bytes;
	size_t size;
	DBOS_ASSERT(fuzz_file_read(path, &bytes, &size));
	if (size == 0) {
		free(bytes);
		return;
	}
	if (offset >= size)
		offset = size - 1;
	for (uint32_t i = 0; i < length && offset + i < size; i++)
		bytes[offset + i] ^= (uint8_t)(1 + fuzz_below(255));
	fuzz_file_write(path, bytes, size);
	free(bytes);
}

enum fuzz_store_target {
	FUZZ_STORE_STATE,      /* recovery is still possible: nothing may be lost */
	FUZZ_STORE_PAGES,      /* pages.db, any page, header page and meta page included: same */
	FUZZ_STORE_LOG,        /* the log: a prefix of the history may survive */
	FUZZ_STORE_CHECKPOINT, /* the only checkpoint: refuse, or (if pages.db suffices) lose nothing */
	FUZZ_STORE_RECORD,     /* a log record that passes its CRC but does not decode: refuse or lose nothing */
	FUZZ_STORE_TARGETS,
};

/*
 * Give one record of a log segment a payload that cannot decode - an op count
 * past the payload, a value size past it, an unknown op type - and recompute
 * its CRC: only the batch decoder (kv_record_decode) can refuse it now.
 * Records: [u32 crc32c of the rest][u32 payload size][u64 lsn][payload], padded
 * to 8; a payload is [u32 op count] then [u8 type][3 zero bytes][u32 key size]
 * [u64 value size][key][value] per op.
 */
static bool fuzz_store_reseal_record(const char *path, char *what, size_t what_size)
{
	uint8_t *bytes;
	size_t size;
	DBOS_ASSERT(fuzz_file_read(path, &bytes, &size));
	uint64_t offsets[4096];
	uint32_t count = 0;
	for (uint64_t at = 0; at + 16 <= size && count < 4096;) {
		uint32_t crc, payload_size;
		memcpy(&crc, bytes + at, 4);
		memcpy(&payload_size, bytes + at + 4, 4);
		if (payload_size < 4 + 16 || at + 16 + payload_size > size ||
		    crc != dbos_crc32c(0, bytes + at + 4, 12 + (uint64_t)payload_size))
			break; /* the end of the log */
		offsets[count++] = at;
		at += (16 + payload_size + 7) & ~(uint64_t)7;
	}
	if (count == 0) {
		free(bytes);
		return false;
	}
	uint64_t at = offsets[fuzz_below(count)];
	uint32_t payload_size;
	memcpy(&payload_size, bytes + at + 4, 4);
	uint8_t *payload = bytes + at + 16;
	const char *how;
	switch (fuzz_below(3)) {
	case 0:
		kv_store32(payload, 0xffffffffu);
		how = "op count";
		break;
	case 1:
		kv_store64(payload + 4 + 8, (uint64_t)1 << 40);
		how = "value size";
		break;
	default:
		payload[4] = 7;
		how = "op type";
		break;
	}
	kv_store32(bytes + at, dbos_crc32c(0, bytes + at + 4, 12 + (uint64_t)payload_size));
	fuzz_file_write(path, bytes, size);
	free(bytes);
	snprintf(what, what_size, "log record %" PRIu64 " of %u resealed with a bad %s", at, count, how);
	return true;
}

static const char *fuzz_store_damage(enum fuzz_store_target target, char *what, size_t what_size)
{
	char path[700];
	uint32_t page_size = 4096;
	switch (target) {
	case FUZZ_STORE_STATE:
		snprintf(path, sizeof path, "%s/STATE", fuzz_store_scratch);
		if (fuzz_below(4) == 0) {
			DBOS_ASSERT(truncate(path, (off_t)fuzz_below(16)) == 0);
			snprintf(what, what_size, "STATE truncated");
		} else {
			uint64_t offset = fuzz_below(40);
			uint32_t length = 1 + (uint32_t)fuzz_below(4);
			fuzz_store_scribble(path, offset, length);
			snprintf(what, what_size, "STATE bytes at %" PRIu64, offset);
		}
		return what;
	case FUZZ_STORE_PAGES: {
		snprintf(path, sizeof path, "%s/pages.db", fuzz_store_scratch);
		/* The file header page, the meta page, or any page. */
		uint64_t pick = fuzz_below(3);
		uint64_t pages = 0;
		struct stat st;
		if (stat(path, &st) == 0)
			pages = (uint64_t)st.st_size / page_size;
		uint64_t pid = pick == 0 ? 0 : pick == 1 ? 1 : fuzz_below(pages ? pages : 1);
		fuzz_store_scribble(path, pid * page_size + fuzz_below(page_size), 1 + (uint32_t)fuzz_below(8));
		snprintf(what, what_size, "pages.db page %" PRIu64, pid);
		return what;
	}
	case FUZZ_STORE_LOG:
		if (!fuzz_store_file("wal\\.", path, sizeof path))
			return NULL;
		{
			struct stat st;
			DBOS_ASSERT(stat(path, &st) == 0);
			uint64_t size = (uint64_t)st.st_size;
			if (fuzz_below(3) == 0) {
				uint64_t cut = fuzz_below(size + 1);
				DBOS_ASSERT(truncate(path, (off_t)cut) == 0);
				snprintf(what, what_size, "log cut to %" PRIu64 " of %" PRIu64, cut, size);
			} else {
				/* Mostly near the end (a torn tail), sometimes anywhere. */
				uint64_t offset = fuzz_below(2) ? size - 1 - fuzz_below(size < 4096 ? size : 4096)
								: fuzz_below(size);
				fuzz_store_scribble(path, offset, 1 + (uint32_t)fuzz_below(16));
				snprintf(what, what_size, "log bytes at %" PRIu64 " of %" PRIu64, offset, size);
			}
		}
		return what;
	case FUZZ_STORE_RECORD:
		if (!fuzz_store_file("wal\\.", path, sizeof path))
			return NULL;
		return fuzz_store_reseal_record(path, what, what_size) ? what : NULL;
	default:
		if (!fuzz_store_file("checkpoint\\.", path, sizeof path))
			return NULL;
		{
			struct stat st;
			DBOS_ASSERT(stat(path, &st) == 0);
			fuzz_store_scribble(path, fuzz_below((uint64_t)st.st_size), 1 + (uint32_t)fuzz_below(8));
		}
		snprintf(what, what_size, "checkpoint bytes");
		return what;
	}
}

/*
 * Stores holding FUZZ_STORE_BATCHES synced batches - one crashed, one closed
 * cleanly - copied and damaged in one file per round (STATE, pages.db, the
 * log, the checkpoint), then opened.  dbos_kv_open refuses with DBOS_ECORRUPT,
 * or opens a store that holds a prefix of the history: never a wrong value, a
 * half batch or a gap.  Where the damage leaves a way to recover everything
 * (STATE or pages.db: the checkpoint and the log rebuild it), everything
 * acknowledged must be there - except that pages.db damage in a cleanly closed
 * store is only found when the page is read: then reads and dbos_kv_check say
 * DBOS_ECORRUPT (the page checksum), which is a refusal, not a loss.
 * A damaged magic number in STATE is damage like any other (kv_state.c).
 */
static void damaged_store_files_recover_or_refuse(void)
{
	struct stat st;
	const char *base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : fixture_dir;
	for (int clean = 0; clean < 2; clean++) {
		snprintf(fuzz_store_bases[clean], sizeof fuzz_store_bases[clean], "%s/dbos-kv-fuzz-%d-%d", base,
			 (int)getpid(), clean);
		fuzz_store_base = fuzz_store_bases[clean];
		fflush(stdout);
		pid_t child = fork();
		REQUIRE(child >= 0);
		if (child == 0)
			fuzz_store_child(clean);
		int status = 0;
		REQUIRE(waitpid(child, &status, 0) == child);
		REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	snprintf(fuzz_store_scratch, sizeof fuzz_store_scratch, "%s/dbos-kv-fuzz-%d-scratch", base, (int)getpid());

	/* Undamaged, both recover everything. */
	dbos_kv_config config = fuzz_store_config(fuzz_store_scratch, 0);
	dbos_status read_status;
	for (int clean = 0; clean < 2; clean++) {
		fuzz_store_base = fuzz_store_bases[clean];
		fuzz_store_copy_base();
		dbos_kv *kv = NULL;
		REQUIRE(dbos_kv_open(&config, &kv) == DBOS_OK);
		CHECK_EQ(fuzz_store_history(kv, &read_status), FUZZ_STORE_BATCHES);
		CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
	}

	uint32_t refused = 0, opened = 0, lost_some = 0, unreadable = 0;
	char what[200];
	for (uint32_t iteration = 0; iteration < FUZZ_STORE_ITERATIONS; iteration++) {
		bool clean = iteration / FUZZ_STORE_TARGETS % 2;
		fuzz_store_base = fuzz_store_bases[clean];
		fuzz_store_copy_base();
		enum fuzz_store_target target = (enum fuzz_store_target)(iteration % FUZZ_STORE_TARGETS);
		if (!fuzz_store_damage(target, what, sizeof what))
			continue;
		int used = (int)strlen(what);
		snprintf(what + used, sizeof what - (size_t)used, " (%s store, round %u)", clean ? "closed" : "crashed",
			 iteration);
		fuzz_what = what;
		fuzz_watchdog_arm();
		dbos_kv *kv = NULL;
		dbos_status opened_status = dbos_kv_open(&config, &kv);
		if (opened_status != DBOS_OK) {
			alarm(0);
			refused++;
			if (opened_status != DBOS_ECORRUPT) {
				dbos_kv_error error;
				dbos_kv_last_error(&error);
				fprintf(stderr, "%s: open refused with %s: %s\n", what, dbos_status_name(opened_status),
					error.message);
				CHECK(false);
			}
			/* With the log and the checkpoint intact, STATE or pages.db damage never makes the
			 * store unrecoverable; a cleanly closed store needs no log record replayed. */
			if (target == FUZZ_STORE_STATE || target == FUZZ_STORE_PAGES ||
			    (target == FUZZ_STORE_RECORD && clean)) {
				fprintf(stderr, "%s: refused, though the checkpoint and the log were intact\n", what);
				CHECK(false);
			}
			continue;
		}
		opened++;
		int64_t batches = fuzz_store_history(kv, &read_status);
		dbos_status checked = dbos_kv_check(kv, NULL, NULL);
		alarm(0);
		if (batches < 0 && read_status == DBOS_ECORRUPT && checked == DBOS_ECORRUPT && clean &&
		    target == FUZZ_STORE_PAGES) {
			unreadable++; /* a damaged page of a trusted pages.db, caught by its checksum */
		} else if (batches < 0) {
			fprintf(stderr, "%s: opened, then %s\n", what,
				read_status != DBOS_OK ? dbos_status_name(read_status)
						       : "a wrong value, a half batch or a gap");
			CHECK(false);
		} else {
			if (batches < (int64_t)FUZZ_STORE_BATCHES) {
				lost_some++;
				if (target != FUZZ_STORE_LOG || clean) {
					fprintf(stderr, "%s: opened with %" PRId64 " of %u acknowledged batches\n",
						what, batches, FUZZ_STORE_BATCHES);
					CHECK(false);
				}
			}
			if (checked != DBOS_OK) {
				fprintf(stderr, "%s: opened, dbos_kv_check %s\n", what, dbos_status_name(checked));
				CHECK(false);
			}
		}
		CHECK_EQ(dbos_kv_close(kv), DBOS_OK);
	}
	printf("# %u damaged stores: %u refused, %u opened (%u with a prefix of the log, %u with pages that read as "
	       "DBOS_ECORRUPT)\n",
	       FUZZ_STORE_ITERATIONS, refused, opened, lost_some, unreadable);
	char command[1000];
	snprintf(command, sizeof command, "rm -rf '%s' '%s' '%s'", fuzz_store_bases[0], fuzz_store_bases[1],
		 fuzz_store_scratch);
	CHECK(system(command) == 0);
}

int main(void)
{
	const char *seed = getenv("FUZZ_SEED");
	if (seed)
		fixture_random_state = strtoull(seed, NULL, 0) | 1;
	/* Every damaged file is logged as a warning, thousands of them: only errors here (DBOS_LOG overrides). */
	setenv("DBOS_LOG", "error", 0);
	fixture_setup();
	/* It forks: first, before anything here starts a thread (the gateway's). */
	RUN_TEST(damaged_store_files_recover_or_refuse);
	RUN_TEST(damaged_tree_pages_give_statuses);
	RUN_TEST(damaged_checkpoints_give_statuses);
	fixture_tree_close(&fuzz_fixture);
	model_free(&fuzz_model);
	fixture_teardown();
	return TEST_EXIT_STATUS();
}
