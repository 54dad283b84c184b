// Errors with stable codes. Messages may improve between versions; codes never change.

/** Codes of the C status enum (dbos/status.h), in enum order. */
export const STATUS_CODES = [
  'DBOS_OK',
  'DBOS_EINVAL',
  'DBOS_ERANGE',
  'DBOS_ENOMEM',
  'DBOS_ENOTSUP',
  'DBOS_EBUSY',
  'DBOS_ECLOSED',
  'DBOS_EIO',
  'DBOS_ETIMEDOUT',
  'DBOS_EAGAIN',
  'DBOS_ECORRUPT',
  'DBOS_ENOENT',
  'DBOS_EEXIST',
  'DBOS_EPERM',
  'DBOS_EFAULT',
  'DBOS_ELIMIT',
  'DBOS_EGUEST',
  'DBOS_ENOSPC',
] as const;

export type DbosStatusCode = (typeof STATUS_CODES)[number];

/** An operating error from dbos: `code` is stable (`DBOS_E…` or an errno name such as `ENOENT`). */
export class DbosError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DbosError';
    this.code = code;
  }
}

/** A misuse of the API (wrong type): a `TypeError` carrying `code`. */
export function typeError(message: string, code: DbosStatusCode = 'DBOS_EINVAL'): TypeError {
  return Object.assign(new TypeError(message), { code });
}

/** An argument outside its allowed range: a `RangeError` carrying `code`. */
export function rangeError(message: string, code: DbosStatusCode = 'DBOS_ERANGE'): RangeError {
  return Object.assign(new RangeError(message), { code });
}

/** True for errors thrown by dbos (native or TypeScript) that carry a `code`. */
export function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
