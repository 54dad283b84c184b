/*
 * linux_abi.h - the few Linux x86-64 values guest test code passes through
 * hypercalls, where no libc header exists.  test/c/test_gateway_guest.c
 * includes it next to <fcntl.h> and asserts every value at compile time.
 */
#ifndef DBOS_TEST_LINUX_ABI_H
#define DBOS_TEST_LINUX_ABI_H

#define LINUX_O_RDONLY 00
#define LINUX_O_RDWR 02
#define LINUX_O_CREAT 0100
#define LINUX_O_EXCL 0200
#define LINUX_O_TRUNC 01000
#define LINUX_O_CLOEXEC 02000000
#define LINUX_AT_EMPTY_PATH 0x1000
#define LINUX_STATX_INO 0x100u
#define LINUX_STATX_SIZE 0x200u
#define LINUX_STATX_BASIC_STATS 0x7ffu
#define LINUX_S_IFMT 0170000
#define LINUX_S_IFREG 0100000
#define LINUX_ENOENT 2
#define LINUX_EBADF 9
#define LINUX_EEXIST 17

#endif /* DBOS_TEST_LINUX_ABI_H */
