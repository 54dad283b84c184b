/*
 * uring_abi.h - the io_uring system-call ABI, from <linux/io_uring.h> plus the
 * opcodes newer than the build machine's headers.  Opcode numbers are
 * kernel ABI and never change; IORING_REGISTER_PROBE says at run time which
 * ones this kernel knows.
 */
#ifndef DBOS_URING_ABI_H
#define DBOS_URING_ABI_H

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

#endif
