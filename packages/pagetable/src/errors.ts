// Turns errors from the binding into the package's error shapes (one place).
import { DbosError, rangeError } from '@dbos/platform';

/**
 * Run one native call; errors with `code` DBOS_ERANGE become a `RangeError`,
 * other coded errors a `DbosError` (both keep the code and the native error as `cause`).
 */
export function native<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw convert(error);
  }
}

function convert(error: unknown): unknown {
  if (error instanceof TypeError || error instanceof DbosError || error instanceof RangeError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error;
  const message = (error as Error).message;
  if (code === 'DBOS_ERANGE') return Object.assign(rangeError(message), { cause: error });
  return new DbosError(code, message, { cause: error });
}
