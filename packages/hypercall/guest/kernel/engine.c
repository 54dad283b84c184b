/*
 * engine.c - the loop each vCPU runs in the engine's ring: call the entry
 * point the host put in the mailbox, publish the result, ring DONE.
 *
 * The DONE doorbell is an MMIO write with no memory slot behind it (cheaper
 * on PVM than the port form through the int3 gate): the vCPU exits to its host thread, which hands the result to JavaScript and only
 * re-enters the guest (resuming right after the write) once the next call is
 * in the mailbox.  An idle vCPU therefore costs nothing: it is not running.
 */
#include "kernel.h"

void dbos_engine_loop(struct dbos_guest_cpu *cpu)
{
	volatile struct dbos_guest_cpu *mailbox = cpu;
	for (;;) {
		uint64_t seq = mailbox->call_seq;
		dbos_guest_entry_fn function = (dbos_guest_entry_fn)(uintptr_t)mailbox->call_function;
		int64_t result = 0;
		if (function)
			result = function(mailbox->call_args[0], mailbox->call_args[1], mailbox->call_args[2],
					  mailbox->call_args[3]);
		mailbox->call_result = (uint64_t)result;
		mailbox->done_seq = seq;
		dbos_guest_doorbell(DBOS_GUEST_DOORBELL_DONE, (uint32_t)seq);
	}
}
