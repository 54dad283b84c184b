// errno numbers <-> names ("ENOENT"), from the running Node's os.constants.errno.
import os from 'node:os';

const namesByNumber = new Map<number, string>();
for (const [name, number] of Object.entries(os.constants.errno)) {
  // Linux has aliases (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK): keep the first, canonical name.
  if (!namesByNumber.has(number)) namesByNumber.set(number, name);
}

/**
 * The name of an errno value: `errnoName(2)` and `errnoName(-2)` are `'ENOENT'`.
 * Unknown integers give `'E<number>'`. Throws a TypeError (code DBOS_EINVAL) for anything but
 * an integer; never blocks.
 */
export function errnoName(errno: number): string {
  if (!Number.isSafeInteger(errno)) throw Object.assign(new TypeError('errno must be an integer'), { code: 'DBOS_EINVAL' });
  const number = Math.abs(errno);
  return namesByNumber.get(number) ?? `E${number}`;
}
