/*
 * guest_image.h - the test image for C programs that boot a guest
 * (test_vmm*.c, test_gateway_guest.c), whether they may run here, and
 * hypercalls issued by guest code on their behalf.  test/c.test.ts builds it with
 * @dbos/native-build's buildGuestImage and passes its path in
 * DBOS_TEST_GUEST_IMAGE; run by hand, set it to .guest/test/test.bin.
 */
#ifndef DBOS_TEST_GUEST_IMAGE_H
#define DBOS_TEST_GUEST_IMAGE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbos/guest.h"
#include "dbos/hypercall_abi.h"

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

/*
 * Whether the guest cases can run here: 0 when the VMM starts, 1 (with
 * `reason`) where /dev/kvm does not open at all, the one place a skip is
 * allowed, and -1 (with `reason`) where it opens but the VMM refuses.
 */
static inline int test_guest_unavailable(char *reason, size_t reason_size)
{
	enum dbos_guest_kvm kvm;
	if (dbos_guest_probe(&kvm, reason, reason_size) == DBOS_OK)
		return 0;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 1;
	close(fd);
	return -1;
}

/* The guest-physical address of `offset` in the guest's scratch area (RAM the guest never uses). */
static inline uint64_t test_guest_scratch(dbos_guest *guest, uint64_t offset)
{
	struct dbos_guest_info info;
	dbos_guest_info_get(guest, &info);
	return info.scratch_gpa + offset;
}

/*
 * One hypercall issued by guest code: `request` is written into scratch at
 * `offset` and the test image's hc_request entry serves it through
 * `doorbell` (0 sync, 1 async, 2 port).  Returns its result, or INT64_MIN
 * when the call itself failed (*status_out says why).
 */
static inline int64_t test_guest_hypercall(dbos_guest *guest, uint32_t vcpu, const struct dbos_hc_request *request,
					   uint64_t offset, uint64_t doorbell, dbos_status *status_out)
{
	uint64_t address = test_guest_scratch(guest, offset);
	uint64_t function = 0;
	int64_t result = INT64_MIN;
	dbos_status status = dbos_guest_memory_write(guest, address, request, sizeof(*request));
	if (status == DBOS_OK)
		status = dbos_guest_entry_find(guest, "hc_request", &function);
	if (status == DBOS_OK) {
		uint64_t args[DBOS_GUEST_ENTRY_ARGS] = { address, doorbell, 0, 0 };
		status = dbos_guest_call(guest, vcpu, function, args, &result, NULL);
	}
	if (status_out)
		*status_out = status;
	return status == DBOS_OK ? result : INT64_MIN;
}

/* A NUL-terminated string in scratch at `offset`; returns its guest-physical address. */
static inline uint64_t test_guest_string(dbos_guest *guest, uint64_t offset, const char *text)
{
	uint64_t address = test_guest_scratch(guest, offset);
	dbos_guest_memory_write(guest, address, text, strlen(text) + 1);
	return address;
}

#endif /* DBOS_TEST_GUEST_IMAGE_H */
