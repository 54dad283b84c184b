/* probe_uring.c - may this process use io_uring, and which of the gateway's opcodes does it know? */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbos/host/io_uring.h"
#include "probe_host.h"

#define PROBE_OP_CAPACITY 256u

static bool op_supported(const struct io_uring_probe *probe, unsigned op)
{
	return op <= probe->last_op && op < probe->ops_len && (probe->ops[op].flags & IO_URING_OP_SUPPORTED);
}

void probe_uring(dbos_probe_uring *uring)
{
	memset(uring, 0, sizeof(*uring));
	uring->disabled_sysctl = (int)probe_read_long("/proc/sys/kernel/io_uring_disabled", -1);
	struct io_uring_params params;
	memset(&params, 0, sizeof(params));
	long fd = syscall(__NR_io_uring_setup, 4, &params);
	if (fd < 0) {
		uring->setup_errno = errno;
		return;
	}
	uring->setup_works = true;
	uring->features = params.features;
	size_t size = sizeof(struct io_uring_probe) + PROBE_OP_CAPACITY * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *probe = calloc(1, size);
	if (probe && syscall(__NR_io_uring_register, fd, IORING_REGISTER_PROBE, probe, PROBE_OP_CAPACITY) == 0) {
		uring->op_ftruncate = op_supported(probe, DBOS_IORING_OP_FTRUNCATE);
		uring->op_statx = op_supported(probe, IORING_OP_STATX);
		uring->op_openat = op_supported(probe, IORING_OP_OPENAT);
		uring->op_fallocate = op_supported(probe, IORING_OP_FALLOCATE);
	}
	free(probe);
	close((int)fd);
}

bool dbos_host_uring_usable(int *error_out)
{
	dbos_probe_uring uring;
	probe_uring(&uring);
	if (error_out)
		*error_out = uring.setup_errno;
	return uring.setup_works;
}
