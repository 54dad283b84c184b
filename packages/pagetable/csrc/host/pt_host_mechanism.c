/*
 * pt_host_mechanism.c - the host runtime's picks as one line of text.
 *
 * The line is what `dbos probe` (and probe().mechanisms.pagetable in
 * JavaScript) shows.  It is formatted from dbos_pt_probe(), the very
 * capabilities the region code consults, never from a second look at the
 * machine: a line that says "UFFD WP_ASYNC + PAGEMAP_SCAN" means
 * dbos_pt_dirty_start() picks exactly that.
 */
#include "pt_host.h"

#include <stdarg.h>
#include <stdio.h>

/* Append to a bounded line; `*length` counts what the whole line needs, as snprintf does. */
__attribute__((format(printf, 4, 5))) static void append(char *text, size_t size, size_t *length, const char *format,
							 ...)
{
	va_list arguments;
	va_start(arguments, format);
	size_t offset = *length < size ? *length : size;
	int added = vsnprintf(size > offset ? text + offset : NULL, size - offset, format, arguments);
	va_end(arguments);
	DBOS_ASSERT(added >= 0);
	*length += (size_t)added;
}

/* Why the shadow copy was picked: the first half of WP_ASYNC + PAGEMAP_SCAN this machine lacks. */
static const char *shadow_reason(const dbos_probe *facts)
{
	if (!facts->uffd.available)
		return "no userfaultfd";
	if (!(facts->uffd.features & DBOS_UFFD_FEATURE_WP_ASYNC))
		return "userfaultfd without WP_ASYNC";
	return "no PAGEMAP_SCAN";
}

static void append_faults(char *text, size_t size, size_t *length, const dbos_pt_capabilities *capabilities)
{
	const char *minor = capabilities->faults_minor ? "MISSING + MINOR" : "MISSING only";
	switch (capabilities->faults) {
	case DBOS_PT_FAULT_UFFD: append(text, size, length, "; faults: userfaultfd (%s)", minor); return;
	case DBOS_PT_FAULT_UFFD_USER_ONLY:
		append(text, size, length, "; faults: userfaultfd, user-mode faults only (%s)", minor);
		return;
	default: append(text, size, length, "; faults: none (no userfaultfd for this process)"); return;
	}
}

size_t dbos_pt_host_mechanism_format(char *text, size_t size)
{
	DBOS_ASSERT(text != NULL || size == 0);
	dbos_pt_capabilities capabilities;
	dbos_pt_probe(&capabilities);
	DBOS_ASSERT(capabilities.runtime == DBOS_RUNTIME_HOST);
	size_t length = 0;
	if (size > 0)
		text[0] = '\0';
	append(text, size, &length, "mmap/MAP_FIXED/mremap/madvise %s%s",
	       capabilities.frames ? "over memfd frames" : "without frame pools (no memfd)",
	       capabilities.huge_pages == DBOS_PT_HUGE_MADVISE ? ", THP on request" : "");
	append_faults(text, size, &length, &capabilities);
	if (capabilities.dirty == DBOS_PT_DIRTY_UFFD_WP_ASYNC)
		append(text, size, &length, "; dirty: UFFD WP_ASYNC + PAGEMAP_SCAN");
	else
		append(text, size, &length, "; dirty: shadow compare (%s)", shadow_reason(dbos_probe_cached()));
	append(text, size, &length, "; resident: %s; accessed: none (Linux keeps accessed bits)",
	       capabilities.present ? "PAGEMAP_SCAN" : "unavailable (no PAGEMAP_SCAN)");
	return length;
}
