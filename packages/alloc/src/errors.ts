// The package's own errors (closed handles, invalid frees). Errors from the addon are converted in
// one place for every @dbos package: callNative / fromNative of @dbos/platform.
import { DbosError } from '@dbos/platform';

export function closedError(what: string): DbosError {
  return new DbosError('DBOS_ECLOSED', `${what} is closed`);
}

export function invalidFree(message: string): DbosError {
  return new DbosError('DBOS_EINVAL', message);
}
