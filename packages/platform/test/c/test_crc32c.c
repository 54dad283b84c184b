/* test_crc32c.c - dbos/crc32c.h against published check values and a bit-at-a-time reference. */
#include "dbos/crc32c.h"
#include "dbos_test.h"

/* The definition itself: one bit per step, reflected polynomial 0x82F63B78. */
static uint32_t crc32c_reference(uint32_t crc, const uint8_t *bytes, size_t length)
{
	crc = ~crc;
	while (length--) {
		crc ^= *bytes++;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void test_check_values(void)
{
	/* The standard check value of CRC-32C, and iSCSI's (RFC 3720) 32 zero / 32 0xff bytes. */
	CHECK_EQ(dbos_crc32c(0, "123456789", 9), 0xE3069283u);
	uint8_t zeros[32] = { 0 };
	CHECK_EQ(dbos_crc32c(0, zeros, sizeof(zeros)), 0x8A9136AAu);
	uint8_t ones[32];
	memset(ones, 0xff, sizeof(ones));
	CHECK_EQ(dbos_crc32c(0, ones, sizeof(ones)), 0x62A8AB43u);
	CHECK_EQ(dbos_crc32c(0, "", 0), 0u);
	printf("# %s\n", dbos_crc32c_implementation());
}

/* Every length and alignment a word loop can get wrong, against the reference. */
static void test_matches_reference(void)
{
	static uint8_t bytes[4096 + 16];
	uint32_t state = 0x9e3779b9u;
	for (size_t i = 0; i < sizeof(bytes); i++) {
		state = state * 1664525u + 1013904223u;
		bytes[i] = (uint8_t)(state >> 24);
	}
	for (size_t offset = 0; offset < 8; offset++)
		for (size_t length = 0; length < 80; length++)
			CHECK_EQ(dbos_crc32c(0, bytes + offset, length), crc32c_reference(0, bytes + offset, length));
	CHECK_EQ(dbos_crc32c(0, bytes + 3, 4096), crc32c_reference(0, bytes + 3, 4096));
}

static void test_chains(void)
{
	uint8_t bytes[1000];
	for (int i = 0; i < 1000; i++)
		bytes[i] = (uint8_t)(i * 31 + 7);
	uint32_t whole = dbos_crc32c(0, bytes + 1, 999);
	CHECK_EQ(dbos_crc32c(dbos_crc32c(0, bytes + 1, 333), bytes + 334, 666), whole);
	CHECK_EQ(dbos_crc32c(dbos_crc32c(0, bytes + 1, 0), bytes + 1, 999), whole);
}

int main(void)
{
	RUN_TEST(test_check_values);
	RUN_TEST(test_matches_reference);
	RUN_TEST(test_chains);
	return TEST_EXIT_STATUS();
}
