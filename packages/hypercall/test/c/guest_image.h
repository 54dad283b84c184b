/*
 * guest_image.h - the test image for C programs that boot a guest
 * (test_vmm.c, test_gateway_guest.c).  test/c.test.ts builds it with
 * @dbos/native-build's buildGuestImage and passes its path in
 * DBOS_TEST_GUEST_IMAGE; run by hand, set it to .guest/test/test.bin.
 */
#ifndef DBOS_TEST_GUEST_IMAGE_H
#define DBOS_TEST_GUEST_IMAGE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "dbos/guest.h"

struct test_image {
	void *bytes;
	uint64_t size;
};

/* Read the image named by DBOS_TEST_GUEST_IMAGE; false (with a line saying why) if it cannot. */
static inline bool test_image_read(struct test_image *image)
{
	const char *path = getenv("DBOS_TEST_GUEST_IMAGE");
	image->bytes = NULL;
	image->size = 0;
	if (!path || !path[0]) {
		printf("# DBOS_TEST_GUEST_IMAGE is not set (test/c.test.ts sets it)\n");
		return false;
	}
	FILE *file = fopen(path, "rb");
	if (!file || fseek(file, 0, SEEK_END) != 0) {
		printf("# cannot open the guest image %s\n", path);
		if (file)
			fclose(file);
		return false;
	}
	long size = ftell(file);
	rewind(file);
	image->bytes = size > 0 ? malloc((size_t)size) : NULL;
	bool ok = image->bytes && fread(image->bytes, 1, (size_t)size, file) == (size_t)size;
	fclose(file);
	if (!ok) {
		printf("# cannot read the guest image %s\n", path);
		free(image->bytes);
		image->bytes = NULL;
		return false;
	}
	image->size = (uint64_t)size;
	return true;
}

static inline void test_image_free(struct test_image *image)
{
	free(image->bytes);
	image->bytes = NULL;
}

/* Boot `image` with `vcpus` vCPUs and `memory_size` bytes; NULL (and a line saying why) on failure. */
static inline dbos_guest *test_guest_boot(const struct test_image *image, uint32_t vcpus, uint64_t memory_size)
{
	struct dbos_guest_config config = {
		.memory_size = memory_size,
		.vcpu_count = vcpus,
		.engine_ring = -1,
		.image = image->bytes,
		.image_size = image->size,
	};
	dbos_guest *guest = NULL;
	char reason[256] = "";
	dbos_status status = dbos_guest_start(&config, &guest, reason, sizeof(reason));
	if (status != DBOS_OK)
		printf("# start: %s: %s\n", dbos_status_name(status), reason);
	return guest;
}

#endif /* DBOS_TEST_GUEST_IMAGE_H */
