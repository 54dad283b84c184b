/*
 * test_snapshot_handle.c - the engine extension point (dbos/snapshot_handle.h) and the one
 * mechanism selection: an engine attaches to a space it did not create, supplies the quiesce
 * hook raw snapshots need, and is detached before the space goes; createSpace's choice and the
 * line probe() shows come from dbos_snap_mechanism_select.
 */
#include "../../csrc/host/snap_handle.h"
#include "snap_harness.h"

typedef struct engine_probe {
	int detaches;
	int quiesces;
	harness *writers; /* stopped by the detach callback when set */
} engine_probe;

/* The engine's hook: park its writers (one context serves the hook and the detach callback). */
static void engine_quiesce(void *context, bool stop)
{
	engine_probe *probe = context;
	probe->quiesces += stop;
	harness_quiesce(probe->writers, stop);
}

static void engine_detach(void *context)
{
	engine_probe *probe = context;
	probe->detaches++;
	if (probe->writers)
		harness_stop(probe->writers);
}

static void test_handle_describes_the_space(void)
{
	harness h;
	REQUIRE(harness_init(&h, 64, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	snap_handle *owner = snap_handle_create(h.space);
	REQUIRE(owner);
	dbos_snap_handle *handle = snap_handle_public(owner);
	CHECK_EQ(handle->abi_version, DBOS_SNAP_HANDLE_ABI_VERSION);
	CHECK_EQ(handle->struct_size, sizeof(dbos_snap_handle));
	CHECK(handle->space == h.space);
	CHECK(handle->base == h.base);
	CHECK_EQ(handle->page_count, 64);
	CHECK_EQ(handle->page_size, DBOS_PAGE_SIZE);
	CHECK_EQ(handle->mechanism, DBOS_SNAP_EPOCH);
	/* Every entry is there: an engine calls them without checking. */
	const void *const *entries = (const void *const *)handle->ops;
	for (size_t i = 0; i < sizeof(*handle->ops) / sizeof(void *); i++)
		CHECK(entries[i] != NULL);

	/* A write through the table is a write through this space's barrier. */
	const dbos_snap_handle_ops *ops = handle->ops;
	dbos_snap_writer *writer = NULL;
	REQUIRE(ops->writer_register(handle->space, &writer) == DBOS_OK);
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
	void *page = NULL;
	REQUIRE(ops->write_begin(writer, 5, &page) == DBOS_OK);
	CHECK(page == h.base + 5 * DBOS_PAGE_SIZE);
	CHECK(ops->writer_epoch(writer) != 0);
	harness_fill(page, 5, 1);
	ops->write_end(writer);
	CHECK_EQ(ops->write_begin(writer, 64, &page), DBOS_ERANGE);
	dbos_snap_stats stats;
	ops->space_stats(handle->space, &stats);
	CHECK_EQ(stats.writers_registered, 1);
	CHECK_EQ(stats.copies_live, 1);
	uint8_t before[DBOS_PAGE_SIZE];
	REQUIRE(dbos_snap_page_read(h.space, id, 5, before) == DBOS_OK);
	CHECK(harness_page_is(before, 5, 0));
	CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	ops->writer_unregister(writer);
	snap_handle_destroy(owner);
	harness_free(&h);
}

static void test_handle_attach_and_detach(void)
{
	harness h;
	REQUIRE(harness_init(&h, 16, DBOS_SNAP_EPOCH, true) == DBOS_OK);
	snap_handle *owner = snap_handle_create(h.space);
	REQUIRE(owner);
	dbos_snap_handle *handle = snap_handle_public(owner);
	engine_probe first = { 0 };
	engine_probe second = { 0 };
	dbos_snap_engine no_detach = { .context = &first };
	dbos_snap_engine engine_a = { .detach = engine_detach, .context = &first };
	dbos_snap_engine engine_b = { .detach = engine_detach, .context = &second };
	CHECK_EQ(handle->ops->attach(handle, NULL), DBOS_EINVAL);
	CHECK_EQ(handle->ops->attach(handle, &no_detach), DBOS_EINVAL);
	CHECK_EQ(handle->ops->attach(handle, &engine_a), DBOS_OK);
	CHECK_EQ(handle->ops->attach(handle, &engine_b), DBOS_EBUSY); /* one engine per space */
	handle->ops->detach(handle);                                  /* engine a leaves first */
	handle->ops->detach(handle);                                  /* idempotent */
	CHECK_EQ(first.detaches, 0);                                  /* leaving is not being told to */
	CHECK_EQ(handle->ops->attach(handle, &engine_b), DBOS_OK);
	snap_handle_close(owner); /* the space goes: b is told, once */
	snap_handle_close(owner);
	CHECK_EQ(second.detaches, 1);
	CHECK(handle->space == NULL && handle->base == NULL && handle->page_count == 0);
	CHECK_EQ(handle->ops->attach(handle, &engine_a), DBOS_ECLOSED);
	snap_handle_destroy(owner);
	CHECK_EQ(first.detaches, 0);
	harness_free(&h);
}

/*
 * A raw space made without a quiesce hook (as createSpace makes them): the engine's hook, given
 * at attach, is what freezes one instant under several writers.
 */
static void handle_raw_rounds(enum dbos_snap_mechanism mechanism)
{
	harness h;
	REQUIRE(harness_init(&h, 1024, mechanism, false) == DBOS_OK);
	dbos_snap_space_quiesce_set(h.space, NULL, NULL);
	snap_handle *owner = snap_handle_create(h.space);
	REQUIRE(owner);
	dbos_snap_handle *handle = snap_handle_public(owner);
	CHECK_EQ(handle->mechanism, mechanism);
	engine_probe engine_state = { .writers = &h };
	dbos_snap_engine engine = { .quiesce = engine_quiesce, .detach = engine_detach, .context = &engine_state };
	REQUIRE(handle->ops->attach(handle, &engine) == DBOS_OK);
	harness_start(&h, 2);
	harness_raw_rounds(&h, 4, 2);
	CHECK_EQ(engine_state.quiesces, 4);
	/* Closing detaches the engine, which stops its writers before the space is destroyed. */
	snap_handle_close(owner);
	CHECK_EQ(engine_state.detaches, 1);
	CHECK_EQ(h.started, 0);
	/* The hook is gone: a take now calls nothing. */
	dbos_snap_id id;
	REQUIRE(dbos_snap_take(h.space, &id) == DBOS_OK);
	CHECK_EQ(engine_state.quiesces, 4);
	CHECK_EQ(dbos_snap_release(h.space, id), DBOS_OK);
	snap_handle_destroy(owner);
	harness_free(&h);
}

static void test_handle_quiesce_freezes_fork_snapshots(void)
{
	handle_raw_rounds(DBOS_SNAP_FORK);
}

static void test_handle_quiesce_freezes_uffd_snapshots(void)
{
	const char *reason = NULL;
	if (!dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &reason))
		SKIP(reason);
	handle_raw_rounds(DBOS_SNAP_UFFD_WP);
}

static void test_mechanism_select_is_what_create_uses(void)
{
	enum dbos_snap_mechanism selected = DBOS_SNAP_AUTO;
	const char *reason = NULL;
	CHECK_EQ(dbos_snap_mechanism_select(DBOS_SNAP_AUTO, 0, &selected, &reason), DBOS_OK);
	CHECK_EQ(selected, DBOS_SNAP_EPOCH);
	CHECK(reason && strstr(reason, "barrier"));
	bool uffd = dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, NULL);
	CHECK_EQ(dbos_snap_mechanism_select(DBOS_SNAP_AUTO, DBOS_SNAP_WRITES_RAW, &selected, &reason), DBOS_OK);
	CHECK_EQ(selected, uffd ? DBOS_SNAP_UFFD_WP : DBOS_SNAP_FORK);
	CHECK(reason && strstr(reason, "raw writes"));
	harness h;
	REQUIRE(harness_init(&h, 16, DBOS_SNAP_AUTO, false) == DBOS_OK);
	CHECK_EQ(dbos_snap_space_mechanism(h.space), selected);
	harness_free(&h);
	CHECK_EQ(dbos_snap_mechanism_select(DBOS_SNAP_FORK, DBOS_SNAP_WRITES_RAW, &selected, &reason), DBOS_OK);
	CHECK_EQ(selected, DBOS_SNAP_FORK);
	CHECK_EQ(dbos_snap_mechanism_select(DBOS_SNAP_MECHANISM_COUNT, 0, &selected, NULL), DBOS_EINVAL);
	CHECK_EQ(dbos_snap_mechanism_select(DBOS_SNAP_AUTO, 1u << 7, &selected, NULL), DBOS_EINVAL);
	CHECK_EQ(dbos_snap_mechanism_select(DBOS_SNAP_AUTO, 0, NULL, NULL), DBOS_EINVAL);
	if (!uffd) {
		CHECK_EQ(dbos_snap_mechanism_select(DBOS_SNAP_UFFD_WP, DBOS_SNAP_WRITES_RAW, &selected, &reason),
			 DBOS_ENOTSUP);
		CHECK(reason != NULL);
	}
}

static void test_mechanism_line_names_the_selection(void)
{
	char line[DBOS_SNAP_MECHANISM_LINE_SIZE];
	size_t length = dbos_snap_host_mechanism_format(line, sizeof(line));
	CHECK(length > 0 && length < sizeof(line));
	CHECK_EQ(strlen(line), length);
	CHECK(strstr(line, "(writes: 'barrier'): epoch (") != NULL);
	enum dbos_snap_mechanism raw = DBOS_SNAP_AUTO;
	REQUIRE(dbos_snap_mechanism_select(DBOS_SNAP_AUTO, DBOS_SNAP_WRITES_RAW, &raw, NULL) == DBOS_OK);
	char expected[64];
	snprintf(expected, sizeof(expected), "(writes: 'raw'): %s (", dbos_snap_mechanism_name(raw));
	CHECK(strstr(line, expected) != NULL);
	/* snprintf's contract: truncated but terminated, the whole length returned. */
	char small[16];
	CHECK_EQ(dbos_snap_host_mechanism_format(small, sizeof(small)), length);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
}

int main(void)
{
	RUN_TEST(test_handle_describes_the_space);
	RUN_TEST(test_handle_attach_and_detach);
	RUN_TEST(test_handle_quiesce_freezes_fork_snapshots);
	RUN_TEST(test_handle_quiesce_freezes_uffd_snapshots);
	RUN_TEST(test_mechanism_select_is_what_create_uses);
	RUN_TEST(test_mechanism_line_names_the_selection);
	return TEST_EXIT_STATUS();
}
