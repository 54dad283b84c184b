/*
 * vmm_image.c - the guest image the caller gives dbos_guest_start: copy,
 * validate, load, entry points.
 *
 * Images are built per package (@dbos/native-build buildGuestImage, or
 * `dbos-native guest-image`): the guest kernel linked with the package's
 * cores and its engine's entry points.  The VMM keeps its own copy of the
 * bytes for the life of the guest, so the caller may free or change its
 * buffer at once, and everything the host later reads from the image (the
 * kernel entry, trap vectors, entry-point names) comes from that copy, never
 * from guest memory the guest could have changed.  The header is checked
 * against the ABI before anything is loaded.
 */
#include <stdlib.h>
#include <string.h>

#include "dbos/platform.h"
#include "vmm.h"

/* True when [address, address + size) lies in the loaded part of the image. */
static bool image_contains(const struct dbos_guest *vm, uint64_t address, uint64_t size)
{
	uint64_t base = DBOS_GUEST_IMAGE_GPA, length = vm->image_size;
	return address >= base && size <= length && address - base <= length - size;
}

static const void *image_at(const struct dbos_guest *vm, uint64_t address)
{
	return vm->image_bytes + (address - DBOS_GUEST_IMAGE_GPA);
}

/* Why the header of the copied image is unusable (and the status to return), or NULL. */
static const char *image_header_problem(const struct dbos_guest *vm, dbos_status *status)
{
	const struct dbos_guest_image_header *header = vm->image;
	uint64_t entries_size = header->entry_table_end - header->entry_table;
	*status = DBOS_EINVAL;
	if (header->magic != DBOS_GUEST_IMAGE_MAGIC)
		return "not a dbos guest image (wrong magic in its header)";
	if (header->abi_version != DBOS_GUEST_ABI_VERSION) {
		/* Well-formed, but built for another VMM: rebuild it against this package. */
		*status = DBOS_ENOTSUP;
		return "the image was built for another guest ABI version than this VMM's";
	}
	if (header->image_base != DBOS_GUEST_IMAGE_GPA || header->image_end - header->image_base != vm->image_size)
		return "its header's base or size does not match the bytes given";
	if (header->bss_end < header->image_end || header->bss_end - DBOS_GUEST_IMAGE_GPA > DBOS_GUEST_IMAGE_SIZE_MAX)
		return "it is larger, with its bss, than its slot in guest memory";
	if (!image_contains(vm, header->kernel_entry, 1) || !image_contains(vm, header->vector_table, 256 * 8))
		return "its kernel entry or trap vector table lies outside the image";
	/* The tables are read in place as u64 arrays from the copy: they must be aligned like them. */
	if (header->vector_table % 8 != 0 || header->entry_table % 8 != 0)
		return "its trap vector or entry-point table is not 8-byte aligned";
	if (header->entry_table > header->entry_table_end || !image_contains(vm, header->entry_table, entries_size) ||
	    entries_size % sizeof(struct dbos_guest_entry) != 0)
		return "its entry-point table lies outside the image or is cut short";
	const uint64_t *vectors = image_at(vm, header->vector_table);
	for (uint32_t v = 0; v < 256; v++)
		if (vectors[v] && !image_contains(vm, vectors[v], 1))
			return "a trap vector points outside the image";
	return NULL;
}

dbos_status vmm_image_copy(struct dbos_guest *vm, const void *bytes, uint64_t size, char *reason, size_t reason_size)
{
	if (!bytes || size == 0) {
		vmm_set_reason(reason, reason_size,
			       "no guest image given (build one with @dbos/native-build buildGuestImage)");
		return DBOS_EINVAL;
	}
	if (size < sizeof(struct dbos_guest_image_header) || size > DBOS_GUEST_IMAGE_SIZE_MAX) {
		vmm_set_reason(reason, reason_size, "guest image of %llu bytes: must hold its header and fit %u bytes",
			       (unsigned long long)size, DBOS_GUEST_IMAGE_SIZE_MAX);
		return DBOS_EINVAL;
	}
	/* malloc's alignment suits the header's and the tables' u64 fields. */
	vm->image_bytes = malloc(size);
	if (!vm->image_bytes)
		return DBOS_ENOMEM;
	memcpy(vm->image_bytes, bytes, size);
	vm->image = (const struct dbos_guest_image_header *)(const void *)vm->image_bytes;
	vm->image_size = size;
	dbos_status status;
	const char *problem = image_header_problem(vm, &status);
	if (problem) {
		vmm_set_reason(reason, reason_size, "guest image: %s", problem);
		return status;
	}
	vm->info.image_size = size;
	return DBOS_OK;
}

void vmm_image_free(struct dbos_guest *vm)
{
	free(vm->image_bytes);
	vm->image_bytes = NULL;
	vm->image = NULL;
	vm->image_size = 0;
}

void vmm_image_load(struct dbos_guest *vm)
{
	DBOS_ASSERT(vm->image && vm->image_size <= DBOS_GUEST_IMAGE_SIZE_MAX);
	memcpy(vm->ram + DBOS_GUEST_IMAGE_GPA, vm->image_bytes, vm->image_size);
	/* bss: guest RAM is a fresh memfd, already zero. */
}

const uint64_t *vmm_image_vectors(const struct dbos_guest *vm)
{
	return image_at(vm, vm->image->vector_table);
}

static uint32_t entry_count(const struct dbos_guest *vm)
{
	return (uint32_t)((vm->image->entry_table_end - vm->image->entry_table) / sizeof(struct dbos_guest_entry));
}

/* The entry's name, if it is a NUL-terminated string inside the image. */
static const char *entry_name_checked(const struct dbos_guest *vm, const struct dbos_guest_entry *entry)
{
	if (!image_contains(vm, entry->name, 1))
		return NULL;
	const char *name = image_at(vm, entry->name);
	uint64_t room = DBOS_GUEST_IMAGE_GPA + vm->image_size - entry->name;
	return memchr(name, 0, room) ? name : NULL;
}

const char *dbos_guest_entry_name(const dbos_guest *vm, uint32_t index)
{
	if (!vm || !vm->image || index >= entry_count(vm))
		return NULL;
	const struct dbos_guest_entry *table = image_at(vm, vm->image->entry_table);
	return entry_name_checked(vm, &table[index]);
}

dbos_status dbos_guest_entry_find(const dbos_guest *vm, const char *name, uint64_t *function_out)
{
	if (!vm || !name || !function_out)
		return DBOS_EINVAL;
	if (!vm->image)
		return DBOS_ECLOSED;
	const struct dbos_guest_entry *table = image_at(vm, vm->image->entry_table);
	for (uint32_t i = 0; i < entry_count(vm); i++) {
		const char *candidate = entry_name_checked(vm, &table[i]);
		if (candidate && strcmp(candidate, name) == 0 && image_contains(vm, table[i].function, 1)) {
			*function_out = table[i].function;
			return DBOS_OK;
		}
	}
	return DBOS_ENOENT;
}
