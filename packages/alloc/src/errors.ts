// Native errors become DbosError with the same stable code; misuse becomes TypeError / RangeError.
import { DbosError } from '@dbos/platform';

/** Re-throw an error from the addon as a DbosError carrying its `code`. */
export function rethrowNative(error: unknown, context: string): never {
  if (error instanceof TypeError) throw error;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string') {
    throw new DbosError(code, `${context}: ${(error as Error).message}`, { cause: error });
  }
  throw error;
}

export function closedError(what: string): DbosError {
  return new DbosError('DBOS_ECLOSED', `${what} is closed`);
}

export function invalidFree(message: string): DbosError {
  return new DbosError('DBOS_EINVAL', message);
}
