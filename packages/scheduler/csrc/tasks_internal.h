/*
 * tasks_internal.h - what the yield-flag scan's files share (csrc/tasks_*.c).
 */
#ifndef DBOS_TASKS_INTERNAL_H
#define DBOS_TASKS_INTERNAL_H

#include <stdint.h>

#include "dbos/tasks.h"

/* What the scan thread remembers of one slot between scans (private to it). */
struct tasks_view {
	uint32_t epoch;    /* the slot's epoch at the last scan */
	uint32_t seen;     /* 0 until the first scan */
	uint64_t since_ns; /* when a scan first saw `epoch` */
};

/* What one scan did. */
struct tasks_scan_result {
	uint32_t running;       /* slots with a turn running */
	uint32_t yields_raised; /* flags raised by this scan */
};

/*
 * tasks_scan.c: one pass over every slot at time now_ns: time the turns,
 * publish how long each has run, raise the flag of each turn that has run
 * quantum_ns while a task of its class or a more urgent one waits.
 */
struct tasks_scan_result tasks_scan(uint32_t *words, uint32_t slot_count, struct tasks_view *views, uint64_t now_ns,
				    uint64_t quantum_ns);

#endif /* DBOS_TASKS_INTERNAL_H */
