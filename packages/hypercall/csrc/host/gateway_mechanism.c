/*
 * gateway_mechanism.c - what DBOS_GATEWAY_AUTO picks in this process, in one
 * line, for probe().mechanisms (src/mechanism.ts).
 *
 * No second opinion: the line comes from opening a real AUTO gateway (the
 * same decision dbos_gateway_shared makes) and asking it which backend runs,
 * which opcodes its ring runs as plain system calls, and, after a fallback,
 * why io_uring_setup failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>

#include "gateway_host.h"

static const char *const opcode_names[DBOS_IO_OPCODE_COUNT] = {
	[DBOS_IO_PREAD] = "pread",         [DBOS_IO_PWRITE] = "pwrite", [DBOS_IO_PREADV] = "preadv",
	[DBOS_IO_PWRITEV] = "pwritev",     [DBOS_IO_FSYNC] = "fsync",   [DBOS_IO_FDATASYNC] = "fdatasync",
	[DBOS_IO_OPENAT] = "openat",       [DBOS_IO_CLOSE] = "close",   [DBOS_IO_FALLOCATE] = "fallocate",
	[DBOS_IO_FTRUNCATE] = "ftruncate", [DBOS_IO_STATX] = "statx",
};

/* The errno values io_uring_setup fails with where it is refused. */
static const char *errno_name(int error)
{
	switch (error) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOSYS: return "ENOSYS";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	default: return "an unexpected errno";
	}
}

/* kernel.io_uring_disabled (0 allowed, 1 io_uring_group only, 2 off), or -1 when unreadable. */
static int uring_disabled_sysctl(void)
{
	FILE *file = fopen("/proc/sys/kernel/io_uring_disabled", "re");
	int value = -1;
	if (file) {
		if (fscanf(file, "%d", &value) != 1)
			value = -1;
		fclose(file);
	}
	return value;
}

static void describe_uring(const struct dbos_gateway *gateway, char *text, size_t text_size)
{
	uint32_t fallback = gateway_uring_fallback_opcodes(gateway);
	int used = snprintf(text, text_size, "io_uring via raw system calls (io_uring_setup works here)");
	if (fallback == 0 || used < 0 || (size_t)used >= text_size)
		return;
	const char *separator = "; run as plain system calls because this kernel's io_uring lacks them: ";
	for (int op = 1; op < DBOS_IO_OPCODE_COUNT && (size_t)used < text_size; op++) {
		if (!(fallback & (1u << op)))
			continue;
		int more = snprintf(text + used, text_size - (size_t)used, "%s%s", separator, opcode_names[op]);
		if (more < 0)
			return;
		used += more;
		separator = ", ";
	}
}

static void describe_threads(const struct dbos_gateway *gateway, char *text, size_t text_size)
{
	int error = gateway->uring_setup_errno;
	int sysctl = uring_disabled_sysctl();
	char why[96] = "io_uring_setup was not tried";
	if (error != 0 && sysctl > 0)
		snprintf(why, sizeof(why), "io_uring_setup failed with %s (kernel.io_uring_disabled=%d)",
			 errno_name(error), sysctl);
	else if (error != 0)
		snprintf(why, sizeof(why), "io_uring_setup failed with %s", errno_name(error));
	snprintf(text, text_size, "thread pool of plain system calls: %s", why);
}

void dbos_gateway_mechanism(char *text, size_t text_size)
{
	if (!text || text_size == 0)
		return;
	/* Small: one ring slot and one worker are enough to learn what AUTO picks. */
	dbos_gateway_config config = { .backend = DBOS_GATEWAY_AUTO, .queue_depth = 1, .thread_count = 1 };
	dbos_gateway *gateway = NULL;
	dbos_status status = dbos_gateway_open(&config, &gateway);
	if (status != DBOS_OK) {
		snprintf(text, text_size, "unavailable: no gateway backend starts here (%s)", dbos_status_name(status));
		return;
	}
	if (dbos_gateway_backend_of(gateway) == DBOS_GATEWAY_IO_URING)
		describe_uring(gateway, text, text_size);
	else
		describe_threads(gateway, text, text_size);
	dbos_gateway_close(gateway);
}
