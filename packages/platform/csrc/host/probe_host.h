/* probe_host.h - helpers shared by the probe_*.c files (host only). */
#ifndef DBOS_PROBE_HOST_H
#define DBOS_PROBE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbos/probe.h"

/* Read up to size-1 bytes of a small file (/proc, /sys) into text; false if unreadable. */
bool probe_read_text(const char *path, char *text, size_t size);

/* A decimal integer file (/proc/sys/...); `fallback` if unreadable. */
long probe_read_long(const char *path, long fallback);

bool probe_path_exists(const char *path);

/* "always [madvise] never" -> "madvise"; "unknown" if unreadable. */
void probe_read_bracketed(const char *path, char *out, size_t size);

/* Formatted text into a fixed buffer, always NUL-terminated. */
void probe_format(char *text, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));

void probe_system(dbos_probe *probe);
void probe_kvm(dbos_probe_kvm *kvm);
void probe_uffd(dbos_probe_uffd *uffd);
void probe_pagemap(dbos_probe *probe);
void probe_uring(dbos_probe_uring *uring);

#endif
