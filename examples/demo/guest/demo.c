/*
 * demo.c - the demo's engine code, built into a guest image by
 * @dbos/native-build and booted by Guest.start({ image }).
 */
#include "dbos/guest_kernel.h"

/* Returns a0 + a1, computed inside the guest. */
DBOS_GUEST_ENTRY(add)
{
	return (int64_t)(a0 + a1);
}
