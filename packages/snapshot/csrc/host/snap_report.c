/*
 * snap_report.c - the line probe() shows for snapshot (dbos_snap_host_mechanism_format).
 *
 * It is written from dbos_snap_mechanism_select, the call dbos_snap_space_create makes, and
 * from the same availability checks, so it can only describe what createSpace really does.
 */
#include <stdio.h>

#include "snap_host.h"

/* "uffd-wp (reason)" for the selection of `flags`, or why that selection cannot run. */
static int snap_report_selection(char *text, size_t size, uint32_t flags)
{
	enum dbos_snap_mechanism selected = DBOS_SNAP_AUTO;
	const char *reason = NULL;
	dbos_status status = dbos_snap_mechanism_select(DBOS_SNAP_AUTO, flags, &selected, &reason);
	if (status != DBOS_OK)
		return snprintf(text, size, "none: %s is unavailable (%s)", dbos_snap_mechanism_name(selected),
				reason ? reason : dbos_status_name(status));
	const char *uffd_reason = NULL;
	if (selected == DBOS_SNAP_FORK)
		(void)dbos_snap_mechanism_available(DBOS_SNAP_UFFD_WP, &uffd_reason);
	else if (selected == DBOS_SNAP_UFFD_WP)
		uffd_reason = snap_uffd_unpopulated() ? "pages never touched are protected too (WP_UNPOPULATED)"
						      : "the range is populated at attach (no WP_UNPOPULATED)";
	return snprintf(text, size, "%s (%s%s%s)", dbos_snap_mechanism_name(selected), reason, uffd_reason ? "; " : "",
			uffd_reason ? uffd_reason : "");
}

size_t dbos_snap_host_mechanism_format(char *text, size_t size)
{
	char barrier[DBOS_SNAP_MECHANISM_LINE_SIZE / 3];
	char raw[DBOS_SNAP_MECHANISM_LINE_SIZE / 2];
	snap_report_selection(barrier, sizeof(barrier), 0);
	snap_report_selection(raw, sizeof(raw), DBOS_SNAP_WRITES_RAW);
	enum dbos_pt_dirty_mechanism tracking = snap_dirty_mechanism();
	int length;
	if (tracking != DBOS_PT_DIRTY_NONE)
		length = snprintf(text, size,
				  "latched pages (writes: 'barrier'): %s; raw regions (writes: 'raw'): %s; "
				  "fork dirtySince: the pagetable region's tracking (%s)",
				  barrier, raw, dbos_pt_dirty_mechanism_name(tracking));
	else
		length = snprintf(text, size,
				  "latched pages (writes: 'barrier'): %s; raw regions (writes: 'raw'): %s; "
				  "fork dirtySince: DBOS_ENOTSUP (no cheap dirty tracking here)",
				  barrier, raw);
	return length > 0 ? (size_t)length : 0;
}
