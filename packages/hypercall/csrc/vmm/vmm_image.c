/*
 * vmm_image.c - the guest kernel image embedded in this binary.
 *
 * guest/build.mjs compiles the kernel and writes guest/out/dbos_guest_image.h
 * before every native build.  A build that skipped it (someone compiled the C
 * by hand) still links, but reports "image not built" instead of booting.
 * The header is checked here against the ABI before anything is loaded, and
 * entry-point names are read from these bytes, never from guest memory the
 * guest could have changed.
 */
#include <string.h>

#include "vmm.h"

#if __has_include("../../guest/out/dbos_guest_image.h")
#include "../../guest/out/dbos_guest_image.h"
#else
static const unsigned char dbos_guest_image_bytes[8] = { 0 };
#endif

bool vmm_image_built(void)
{
#ifdef DBOS_GUEST_IMAGE_BUILT
	return true;
#else
	return false;
#endif
}

static const struct dbos_guest_image_header *image_header(void)
{
	return (const struct dbos_guest_image_header *)(const void *)dbos_guest_image_bytes;
}

/* True when [address, address + size) lies in the loaded part of the image. */
static bool image_contains(uint64_t address, uint64_t size)
{
	uint64_t base = DBOS_GUEST_IMAGE_GPA, length = sizeof(dbos_guest_image_bytes);
	return address >= base && size <= length && address - base <= length - size;
}

static const void *image_at(uint64_t address)
{
	return dbos_guest_image_bytes + (address - DBOS_GUEST_IMAGE_GPA);
}

static bool image_header_valid(const struct dbos_guest_image_header *header, const char **why)
{
	uint64_t length = sizeof(dbos_guest_image_bytes);
	*why = NULL;
	if (!vmm_image_built())
		*why = "the guest kernel image was not built (run `node guest/build.mjs` before the native build)";
	else if (header->magic != DBOS_GUEST_IMAGE_MAGIC || header->abi_version != DBOS_GUEST_ABI_VERSION)
		*why = "guest image header: wrong magic or ABI version";
	else if (header->image_base != DBOS_GUEST_IMAGE_GPA || header->image_end - header->image_base != length)
		*why = "guest image header: base or size do not match the embedded bytes";
	else if (header->bss_end < header->image_end ||
		 header->bss_end - DBOS_GUEST_IMAGE_GPA > DBOS_GUEST_IMAGE_SIZE_MAX)
		*why = "guest image is larger than its slot";
	else if (!image_contains(header->kernel_entry, 1) || !image_contains(header->vector_table, 256 * 8) ||
		 header->entry_table > header->entry_table_end || !image_contains(header->entry_table, header->entry_table_end - header->entry_table) ||
		 (header->entry_table_end - header->entry_table) % sizeof(struct dbos_guest_entry) != 0)
		*why = "guest image header: an address points outside the image";
	return *why == NULL;
}

dbos_status vmm_image_load(struct dbos_guest *vm, char *reason, size_t reason_size)
{
	const struct dbos_guest_image_header *header = image_header();
	const char *why;
	if (!image_header_valid(header, &why)) {
		vmm_set_reason(reason, reason_size, "%s", why);
		return DBOS_ENOTSUP;
	}
	const uint64_t *vectors = image_at(header->vector_table);
	for (uint32_t v = 0; v < 256; v++) {
		if (vectors[v] && !image_contains(vectors[v], 1)) {
			vmm_set_reason(reason, reason_size, "guest image: trap vector %u outside the image", v);
			return DBOS_ENOTSUP;
		}
	}
	memcpy(vm->ram + DBOS_GUEST_IMAGE_GPA, dbos_guest_image_bytes, sizeof(dbos_guest_image_bytes));
	/* bss: guest RAM is a fresh memfd, already zero. */
	vm->image = header;
	vm->image_size = sizeof(dbos_guest_image_bytes);
	vm->info.image_size = vm->image_size;
	return DBOS_OK;
}

const uint64_t *vmm_image_vectors(const struct dbos_guest *vm)
{
	return image_at(vm->image->vector_table);
}

static uint32_t entry_count(const struct dbos_guest *vm)
{
	return (uint32_t)((vm->image->entry_table_end - vm->image->entry_table) /
			  sizeof(struct dbos_guest_entry));
}

/* The entry's name, if it is a NUL-terminated string inside the image. */
static const char *entry_name_checked(const struct dbos_guest_entry *entry)
{
	if (!image_contains(entry->name, 1))
		return NULL;
	const char *name = image_at(entry->name);
	uint64_t room = DBOS_GUEST_IMAGE_GPA + sizeof(dbos_guest_image_bytes) - entry->name;
	return memchr(name, 0, room) ? name : NULL;
}

const char *dbos_guest_entry_name(const dbos_guest *vm, uint32_t index)
{
	if (!vm || index >= entry_count(vm))
		return NULL;
	const struct dbos_guest_entry *table = image_at(vm->image->entry_table);
	return entry_name_checked(&table[index]);
}

dbos_status dbos_guest_entry_find(const dbos_guest *vm, const char *name, uint64_t *function_out)
{
	if (!vm || !name || !function_out)
		return DBOS_EINVAL;
	const struct dbos_guest_entry *table = image_at(vm->image->entry_table);
	for (uint32_t i = 0; i < entry_count(vm); i++) {
		const char *candidate = entry_name_checked(&table[i]);
		if (candidate && strcmp(candidate, name) == 0 && image_contains(table[i].function, 1)) {
			*function_out = table[i].function;
			return DBOS_OK;
		}
	}
	return DBOS_ENOENT;
}
