/*
 * bp_linux.h - the few Linux ABI numbers the pool puts into gateway ops.
 *
 * Gateway ops carry Linux's own flag and errno values (the guest forwards
 * them to the host unchanged), so the core names them here rather than
 * including <fcntl.h>, which a freestanding core may not.
 */
#ifndef BP_LINUX_H
#define BP_LINUX_H

#define BP_O_RDONLY 00
#define BP_O_RDWR 02
#define BP_O_CREAT 0100
#define BP_O_CLOEXEC 02000000
#if defined(__aarch64__)
#define BP_O_DIRECT 0200000
#else
#define BP_O_DIRECT 040000
#endif

#define BP_AT_EMPTY_PATH 0x1000
#define BP_STATX_SIZE 0x200u

#define BP_EPERM 1
#define BP_ENOENT 2
#define BP_ENOMEM 12
#define BP_EACCES 13
#define BP_EEXIST 17
#define BP_EFBIG 27
#define BP_EINVAL 22
#define BP_ENOSPC 28
#define BP_EROFS 30
#define BP_EOPNOTSUPP 95
#define BP_EDQUOT 122

#endif /* BP_LINUX_H */
