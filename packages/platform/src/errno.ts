// errno numbers <-> names ("ENOENT"), from the running Node's os.constants.errno.
import os from 'node:os';

const namesByNumber = new Map<number, string>();
for (const [name, number] of Object.entries(os.constants.errno)) {
  // Linux has aliases (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK): keep the first, canonical name.
  if (!namesByNumber.has(number)) namesByNumber.set(number, name);
}

/**
 * The name of an errno value: `errnoName(2)` and `errnoName(-2)` are `'ENOENT'`.
 * Unknown numbers give `'E<number>'`. Never throws, never blocks.
 */
export function errnoName(errno: number): string {
  const number = Math.abs(errno);
  return namesByNumber.get(number) ?? `E${number}`;
}
