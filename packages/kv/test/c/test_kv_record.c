/*
 * test_kv_record.c - the log's batch payload: encode / decode round trips,
 * every rejection rule, and a fuzz loop over mutated, truncated and random
 * payloads (each in a buffer of exactly its size, so AddressSanitizer catches
 * any read past it).
 */
#include "test_kv_wal_fixture.h"

#define FUZZ_CASES 100000u

/* A random batch of up to op_count_max ops; keys and values live in `arena`. */
struct batch {
	dbos_kv_op ops[64];
	uint32_t count;
	uint8_t arena[64 * (DBOS_KV_KEY_MAX + 4096)];
};

static void batch_random(struct batch *batch, uint32_t op_count_max)
{
	batch->count = 1 + (uint32_t)fixture_below(op_count_max);
	uint8_t *cursor = batch->arena;
	for (uint32_t i = 0; i < batch->count; i++) {
		dbos_kv_op *op = &batch->ops[i];
		op->type = fixture_below(4) ? DBOS_KV_PUT : DBOS_KV_DEL;
		op->key_size = 1 + (uint32_t)(fixture_below(8) ? fixture_below(40) : fixture_below(DBOS_KV_KEY_MAX));
		op->key = cursor;
		for (uint32_t k = 0; k < op->key_size; k++)
			*cursor++ = (uint8_t)fixture_random();
		if (op->type == DBOS_KV_PUT) {
			op->value_size = fixture_below(3) ? fixture_below(100) : fixture_below(4096);
			op->value = cursor;
			for (uint64_t v = 0; v < op->value_size; v++)
				*cursor++ = (uint8_t)fixture_random();
		} else {
			op->value_size = fixture_random(); /* ignored for a delete: must not reach the payload */
			op->value = NULL;
		}
	}
}

struct decoded {
	const uint8_t *payload;
	uint32_t size;
	const struct batch *expected; /* NULL: only check bounds */
	uint32_t count;
	bool ok;
};

static dbos_status decoded_each(void *context, const dbos_kv_op *op)
{
	struct decoded *decoded = context;
	const uint8_t *low = decoded->payload, *high = decoded->payload + decoded->size;
	const uint8_t *key = op->key, *value = op->value;
	bool inside = key >= low && op->key_size <= (uint64_t)(high - key) && op->key_size >= 1 &&
		      op->key_size <= DBOS_KV_KEY_MAX && (op->type == DBOS_KV_PUT || op->type == DBOS_KV_DEL);
	if (op->value_size)
		inside = inside && value >= low && op->value_size <= (uint64_t)(high - value);
	if (op->type == DBOS_KV_DEL)
		inside = inside && op->value_size == 0;
	if (!inside)
		decoded->ok = false;
	if (decoded->expected) {
		const dbos_kv_op *want = &decoded->expected->ops[decoded->count];
		uint64_t want_value_size = want->type == DBOS_KV_PUT ? want->value_size : 0;
		if (decoded->count >= decoded->expected->count || op->type != want->type ||
		    op->key_size != want->key_size || memcmp(op->key, want->key, want->key_size) ||
		    op->value_size != want_value_size ||
		    (want_value_size && memcmp(op->value, want->value, want_value_size)))
			decoded->ok = false;
	}
	decoded->count++;
	return DBOS_OK;
}

/* Encode a batch into a malloc'ed buffer of exactly its size. */
static uint8_t *batch_encode(const struct batch *batch, uint32_t *size_out)
{
	uint64_t size = kv_record_size(batch->ops, batch->count);
	DBOS_ASSERT(size >= 4 && size <= UINT32_MAX);
	uint8_t *payload = malloc(size);
	DBOS_ASSERT(payload);
	kv_record_encode(batch->ops, batch->count, payload);
	*size_out = (uint32_t)size;
	return payload;
}

static void test_round_trip_random_batches(void)
{
	static struct batch batch;
	for (int round = 0; round < 2000; round++) {
		batch_random(&batch, round % 10 == 0 ? 64 : 4);
		uint32_t size;
		uint8_t *payload = batch_encode(&batch, &size);
		struct decoded decoded = { .payload = payload, .size = size, .expected = &batch, .ok = true };
		CHECK_EQ(kv_record_decode(payload, size, decoded_each, &decoded), DBOS_OK);
		CHECK(decoded.ok);
		CHECK_EQ(decoded.count, batch.count);
		free(payload);
		if (!decoded.ok)
			return;
	}
}

static void test_size_refuses_what_a_record_cannot_hold(void)
{
	dbos_kv_op ops[9];
	for (int i = 0; i < 9; i++)
		ops[i] =
			(dbos_kv_op){ .type = DBOS_KV_PUT, .key_size = 1, .value_size = DBOS_KV_VALUE_MAX, .key = "k" };
	CHECK_EQ(kv_record_size(ops, 7), 4 + 7 * (16 + 1 + (uint64_t)DBOS_KV_VALUE_MAX));
	CHECK_EQ(kv_record_size(ops, 8), 0); /* 4 GiB and more */
	ops[0].value_size = UINT64_MAX;      /* nonsense from a caller must not wrap the sum */
	CHECK_EQ(kv_record_size(ops, 1), 0);
	ops[0] = (dbos_kv_op){ .type = DBOS_KV_DEL, .key_size = 3, .value_size = UINT64_MAX, .key = "abc" };
	CHECK_EQ(kv_record_size(ops, 1), 4 + 16 + 3); /* a delete carries no value, whatever value_size says */
}

/* A one-op payload to damage: PUT "key" = "value". */
static uint32_t one_op(uint8_t *payload)
{
	dbos_kv_op op = { .type = DBOS_KV_PUT, .key_size = 3, .value_size = 5, .key = "key", .value = "value" };
	kv_record_encode(&op, 1, payload);
	return (uint32_t)kv_record_size(&op, 1);
}

static dbos_status decode_bytes(const uint8_t *bytes, uint32_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, bytes, size);
	struct decoded decoded = { .payload = copy, .size = size, .ok = true };
	dbos_status status = kv_record_decode(copy, size, decoded_each, &decoded);
	free(copy);
	return status;
}

static void test_decode_rejects_each_broken_rule(void)
{
	uint8_t good[64], bad[64];
	uint32_t size = one_op(good);
	CHECK_EQ(size, 4 + 16 + 3 + 5);
	CHECK_EQ(decode_bytes(good, size), DBOS_OK);
	CHECK_EQ(decode_bytes(good, 0), DBOS_ECORRUPT);
	CHECK_EQ(decode_bytes(good, 3), DBOS_ECORRUPT);
	for (uint32_t cut = 4; cut < size; cut++)
		CHECK_EQ(decode_bytes(good, cut), DBOS_ECORRUPT); /* every truncation */
	memcpy(bad, good, size);
	bad[size] = 0;
	CHECK_EQ(decode_bytes(bad, size + 1), DBOS_ECORRUPT); /* a byte left over */
#define MUTATED(offset, byte) (memcpy(bad, good, size), bad[offset] = (byte), decode_bytes(bad, size))
	CHECK_EQ(MUTATED(0, 0), DBOS_ECORRUPT); /* op count 0 */
	CHECK_EQ(MUTATED(0, 2), DBOS_ECORRUPT); /* count says 2, bytes hold 1 */
	CHECK_EQ(MUTATED(4, 0), DBOS_ECORRUPT); /* type 0 */
	CHECK_EQ(MUTATED(4, 3), DBOS_ECORRUPT); /* type 3 */
	CHECK_EQ(MUTATED(5, 1), DBOS_ECORRUPT); /* reserved bytes */
	CHECK_EQ(MUTATED(6, 1), DBOS_ECORRUPT);
	CHECK_EQ(MUTATED(7, 1), DBOS_ECORRUPT);
	CHECK_EQ(MUTATED(8, 0), DBOS_ECORRUPT);           /* key size 0 */
	CHECK_EQ(MUTATED(8, 4), DBOS_ECORRUPT);           /* key runs into the value: sizes disagree with the total */
	CHECK_EQ(MUTATED(11, 1), DBOS_ECORRUPT);          /* key size 2^24 + 3 */
	CHECK_EQ(MUTATED(12, 6), DBOS_ECORRUPT);          /* value past the end */
	CHECK_EQ(MUTATED(19, 1), DBOS_ECORRUPT);          /* value size 2^56 + 5 */
	CHECK_EQ(MUTATED(4, DBOS_KV_DEL), DBOS_ECORRUPT); /* a delete with a value */
#undef MUTATED
	/* Limits: key 1024 is fine, 1025 is not; a value over DBOS_KV_VALUE_MAX is refused before its bytes are sought. */
	static uint8_t big[4 + 16 + DBOS_KV_KEY_MAX + 1];
	static uint8_t key[DBOS_KV_KEY_MAX + 1];
	dbos_kv_op op = { .type = DBOS_KV_DEL, .key_size = DBOS_KV_KEY_MAX, .key = key };
	kv_record_encode(&op, 1, big);
	CHECK_EQ(decode_bytes(big, 4 + 16 + DBOS_KV_KEY_MAX), DBOS_OK);
	op.key_size = DBOS_KV_KEY_MAX + 1;
	kv_record_encode(&op, 1, big);
	CHECK_EQ(decode_bytes(big, sizeof big), DBOS_ECORRUPT);
	memcpy(bad, good, size);
	kv_store_u64(bad + 12, (uint64_t)DBOS_KV_VALUE_MAX + 1);
	CHECK_EQ(decode_bytes(bad, size), DBOS_ECORRUPT);
	kv_store_u32(bad, DBOS_KV_BATCH_MAX + 1);
	CHECK_EQ(decode_bytes(bad, size), DBOS_ECORRUPT);
}

static dbos_status each_refuses_second(void *context, const dbos_kv_op *op)
{
	uint32_t *calls = context;
	return ++*calls == 2 ? DBOS_ENOSPC : DBOS_OK;
}

static void test_decode_validates_before_handing_out_and_stops_on_error(void)
{
	dbos_kv_op ops[3] = {
		{ .type = DBOS_KV_PUT, .key_size = 1, .value_size = 1, .key = "a", .value = "1" },
		{ .type = DBOS_KV_DEL, .key_size = 1, .key = "b" },
		{ .type = DBOS_KV_PUT, .key_size = 1, .value_size = 0, .key = "c" },
	};
	uint8_t payload[128];
	uint32_t size = (uint32_t)kv_record_size(ops, 3);
	kv_record_encode(ops, 3, payload);
	uint32_t calls = 0;
	CHECK_EQ(kv_record_decode(payload, size, each_refuses_second, &calls), DBOS_ENOSPC);
	CHECK_EQ(calls, 2);
	/* Damage the last op: nothing at all may be handed out (a batch is all or nothing). */
	payload[size - 17] = 9; /* the third op's type byte */
	calls = 0;
	CHECK_EQ(kv_record_decode(payload, size, each_refuses_second, &calls), DBOS_ECORRUPT);
	CHECK_EQ(calls, 0);
}

/* One fuzz input: a valid payload damaged in a random way, or random bytes. */
static uint32_t fuzz_input(uint8_t *bytes, uint32_t capacity, struct batch *batch)
{
	uint32_t size;
	if (fixture_below(10) == 0) {
		size = (uint32_t)fixture_below(capacity < 256 ? capacity : 256);
		for (uint32_t i = 0; i < size; i++)
			bytes[i] = (uint8_t)fixture_random();
		if (size >= 4 && fixture_below(2))
			kv_store_u32(bytes, 1 + (uint32_t)fixture_below(3)); /* a plausible count */
		return size;
	}
	batch_random(batch, 4);
	uint64_t encoded = kv_record_size(batch->ops, batch->count);
	DBOS_ASSERT(encoded <= capacity);
	kv_record_encode(batch->ops, batch->count, bytes);
	size = (uint32_t)encoded;
	uint32_t mutations = 1 + (uint32_t)fixture_below(4);
	for (uint32_t m = 0; m < mutations && size > 0; m++) {
		uint32_t at = (uint32_t)fixture_below(size);
		switch (fixture_below(6)) {
		case 0: bytes[at] ^= (uint8_t)(1u << fixture_below(8)); break;
		case 1: bytes[at] = (uint8_t)fixture_random(); break;
		case 2: size = at; break; /* truncate */
		case 3:                   /* a size field set to a boundary value */
			if (at + 4 <= size) {
				static const uint32_t edges[] = { 0,
								  1,
								  1023,
								  1024,
								  1025,
								  UINT32_MAX,
								  0x80000000u,
								  DBOS_KV_VALUE_MAX,
								  DBOS_KV_VALUE_MAX + 1 };
				kv_store_u32(bytes + at, edges[fixture_below(sizeof edges / sizeof edges[0])]);
			}
			break;
		case 4: /* grow with garbage */
			while (size < capacity && fixture_below(8))
				bytes[size++] = (uint8_t)fixture_random();
			break;
		default: bytes[at] = 0; break;
		}
	}
	return size;
}

static void test_fuzz_never_reads_outside_the_payload(void)
{
	static struct batch batch;
	static uint8_t scratch[sizeof batch.arena + 64 * 16 + 4096];
	uint64_t accepted = 0, rejected = 0;
	for (uint32_t i = 0; i < FUZZ_CASES; i++) {
		uint32_t size = fuzz_input(scratch, sizeof scratch, &batch);
		uint8_t *payload = malloc(size ? size : 1); /* exactly its size: ASan sees a byte too far */
		DBOS_ASSERT(payload);
		memcpy(payload, scratch, size);
		struct decoded decoded = { .payload = payload, .size = size, .ok = true };
		dbos_status status = kv_record_decode(payload, size, decoded_each, &decoded);
		free(payload);
		if (status == DBOS_OK) {
			accepted++;
			REQUIRE(decoded.ok);
			REQUIRE(decoded.count > 0);
		} else {
			REQUIRE(status == DBOS_ECORRUPT);
			REQUIRE(decoded.count == 0);
			rejected++;
		}
	}
	/* Both outcomes happen, or the mutations are too weak or too strong to test anything. */
	CHECK(accepted > FUZZ_CASES / 100);
	CHECK(rejected > FUZZ_CASES / 2);
}

int main(void)
{
	RUN_TEST(test_round_trip_random_batches);
	RUN_TEST(test_size_refuses_what_a_record_cannot_hold);
	RUN_TEST(test_decode_rejects_each_broken_rule);
	RUN_TEST(test_decode_validates_before_handing_out_and_stops_on_error);
	RUN_TEST(test_fuzz_never_reads_outside_the_payload);
	return TEST_EXIT_STATUS();
}
