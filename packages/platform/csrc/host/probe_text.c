/* probe_text.c - reading the small /proc and /sys files the probe looks at. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe_host.h"

bool probe_read_text(const char *path, char *text, size_t size)
{
	text[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t used = 0;
	/* Bounded: a /proc file ends, and the buffer bounds the reads anyway. */
	while (used + 1 < size) {
		ssize_t got = read(fd, text + used, size - 1 - used);
		if (got <= 0)
			break;
		used += (size_t)got;
	}
	close(fd);
	text[used] = '\0';
	return used > 0;
}

long probe_read_long(const char *path, long fallback)
{
	char text[64];
	if (!probe_read_text(path, text, sizeof(text)))
		return fallback;
	char *end = NULL;
	long value = strtol(text, &end, 10);
	return end == text ? fallback : value;
}

bool probe_path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

void probe_read_bracketed(const char *path, char *out, size_t size)
{
	char text[256];
	probe_format(out, size, "unknown");
	if (!probe_read_text(path, text, sizeof(text)))
		return;
	char *open = strchr(text, '[');
	char *close = open ? strchr(open, ']') : NULL;
	if (!open || !close)
		return;
	*close = '\0';
	probe_format(out, size, "%s", open + 1);
}

void probe_format(char *text, size_t size, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	vsnprintf(text, size, format, args);
	va_end(args);
}
