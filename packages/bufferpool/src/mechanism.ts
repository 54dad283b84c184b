// What `dbos probe` (probe().mechanisms.bufferpool of @dbos/platform) says about this package:
// dbos_bp_mechanism()'s line, from the pool most recently opened in this process, or else from a
// pool opened for the purpose over a new file in the temporary directory (O_DIRECT support is a
// property of the file system, so the line names where it was found).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type MechanismReport, registerMechanism } from '@dbos/platform';
import { addon } from './native.js';
import { latestPool } from './opened.js';

function probeLine(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-bufferpool-probe-'));
  try {
    const pool = new addon.NativeBufferPool(
      path.join(dir, 'probe.pages'),
      addon.pageSizeDefault,
      // Room for the default eviction batch (at most half the pool), so the line shows the defaults.
      2 * addon.evictBatchDefault * addon.pageSizeDefault,
      addon.flagCreate,
      0,
    );
    try {
      return `${pool.mechanism()} (a page file in ${os.tmpdir()})`;
    } finally {
      pool.closeSync();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The report: the guest runtime has no buffer pool yet. */
export function mechanismReport(): MechanismReport {
  let host: string;
  try {
    host = latestPool()?.mechanism ?? probeLine();
  } catch (error) {
    host = `unavailable: ${(error as Error).message}`;
  }
  return {
    host,
    guest: 'unavailable: the buffer pool runs in the host runtime only (its C core is not built into guest images yet)',
  };
}

registerMechanism('bufferpool', mechanismReport);
