/*
 * kv_error_slot.c - the calling thread's dbos_kv_error record (host runtime).
 *
 * Thread-local storage is a runtime service: the host has it from the C
 * library; a guest runtime provides its own slot per vCPU.
 */
#include "../kv_store.h"

static _Thread_local dbos_kv_error thread_error;

dbos_kv_error *kv_error_slot(void)
{
	return &thread_error;
}
