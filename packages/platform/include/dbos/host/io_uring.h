/*
 * dbos/host/io_uring.h - the io_uring system-call ABI (host runtime only), from <linux/io_uring.h> plus the
 * opcodes newer than the build machine's headers.  Opcode numbers are
 * kernel ABI and never change; IORING_REGISTER_PROBE says at run time which
 * ones this kernel knows.
 */
#ifndef DBOS_HOST_IO_URING_H
#define DBOS_HOST_IO_URING_H

#include <linux/io_uring.h>
#include <sys/syscall.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#define __NR_io_uring_enter 426
#define __NR_io_uring_register 427
#endif

/* Linux 6.9. */
#define DBOS_IORING_OP_FTRUNCATE 55

#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif

#include <stdbool.h>

/*
 * Can this process set up an io_uring?  (The probe's answer, so the gateway
 * and probe() agree.)  On false, *error_out (may be NULL) is the errno of
 * io_uring_setup.
 */
bool dbos_host_uring_usable(int *error_out);

#endif
