/* platform_log.c - host logging and panic for dbos/platform.h. */
#include <stdio.h>
#include <stdlib.h>

#include "dbos/host/platform.h"

static enum dbos_log_level log_threshold(void)
{
	/* DBOS_LOG=debug|info|warn|error; warnings and errors by default. */
	const char *value = getenv("DBOS_LOG");
	if (!value)
		return DBOS_LOG_WARN;
	switch (value[0]) {
	case 'd': return DBOS_LOG_DEBUG;
	case 'i': return DBOS_LOG_INFO;
	case 'e': return DBOS_LOG_ERROR;
	default: return DBOS_LOG_WARN;
	}
}

void dbos_platform_log(enum dbos_log_level level, const char *message)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	if (level < log_threshold())
		return;
	fprintf(stderr, "dbos %s: %s\n", names[level & 3], message ? message : "(null)");
}

_Noreturn void dbos_platform_panic(const char *file, int line, const char *message)
{
	fprintf(stderr, "dbos panic at %s:%d: %s\n", file, line, message);
	fflush(stderr);
	abort();
}
