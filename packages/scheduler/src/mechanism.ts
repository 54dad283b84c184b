// What `dbos probe` (probe().mechanisms.scheduler of @dbos/platform) says about this package:
// registered when the package loads, computed when asked, from the package's own C.
import { type MechanismFacts, type MechanismReport, registerMechanism } from '@dbos/platform';
import { addon } from './native.js';

/** The report: both lines come from C (the JavaScript tasks' scan thread, the native scheduler). */
export function mechanismReport(_facts: MechanismFacts): MechanismReport {
  return {
    host: `native tasks: ${addon.schedMechanism()}; ${addon.tasksMechanism()}`,
    guest:
      'unavailable: the native scheduler needs threads and timers of its own (dbos_sched_create: DBOS_ENOTSUP in the guest), ' +
      'JavaScript tasks need worker_threads (host only)',
  };
}

registerMechanism('scheduler', mechanismReport);
