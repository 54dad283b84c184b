// Native errors to the errors a user catches: @dbos/platform's fromNative decides the class; the
// store's record of the failure (the pid holding the lock, the errno) is copied onto it.
import { fromNative } from '@dbos/platform';

const DETAIL_KEYS = ['holderPid', 'errno'] as const;

/** The error for what the addon threw: `holderPid` (DBOS_ELOCKED) and `errno` are kept. */
export function kvError(error: unknown, context?: string): unknown {
  const converted = fromNative(error, context);
  if (converted !== error && typeof converted === 'object' && converted !== null && typeof error === 'object' && error !== null) {
    for (const key of DETAIL_KEYS) {
      const value = (error as Record<string, unknown>)[key];
      if (typeof value === 'number') Object.defineProperty(converted, key, { value, enumerable: true });
    }
  }
  return converted;
}

/** Run one native call; what it throws becomes a coded error. */
export function kvCall<T>(call: () => T, context?: string): T {
  try {
    return call();
  } catch (error) {
    throw kvError(error, context);
  }
}

/** A native promise whose rejection becomes a coded error. */
export async function kvSettle<T>(promise: Promise<T>, context?: string): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw kvError(error, context);
  }
}
