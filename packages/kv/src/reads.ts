// The reads a store and a snapshot share: one key on this thread, many keys on pool threads,
// and ranges. `view` undefined reads the current state.
import { describeValue, rangeError, typeError } from '@dbos/platform';
import { keyBytes } from './encoding.js';
import { kvCall, kvSettle } from './errors.js';
import { addon, type NativeView } from './native.js';
import { RangeIterable, type Reader, type rangeBounds } from './range.js';

/** Keys per native call of getMany below which one call does all (a pool thread's turn costs more than a few cached reads). */
const GET_MANY_PART_MIN = 64;
/** Native calls one getMany spreads its keys over: several reads in flight when pages must come from disk. */
const GET_MANY_PARTS_MAX = 4;

/**
 * Synchronous reads of byte values land here first, then are copied into a pooled Buffer of their
 * size: much cheaper than a Buffer the addon allocates per read (an external backing store, freed
 * by a finalizer). One per thread (each worker loads this module anew); larger values get a
 * Buffer of their own from the addon.
 */
const READ_BUFFER_BYTES = 64 * 1024;
const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

/** One key's value, read on this thread. */
function readOne(reader: Reader, view: NativeView | undefined, bytes: Uint8Array): unknown {
  const asString = reader.valueCodec.asString;
  const raw = kvCall(() => reader.native.get(bytes, view, asString, asString ? undefined : readBuffer));
  if (raw === undefined) return undefined;
  if (typeof raw !== 'number') return reader.valueCodec.decode(raw);
  const value = Buffer.allocUnsafe(raw);
  readBuffer.copy(value, 0, 0, raw);
  return reader.valueCodec.decode(value);
}

export function getOne(reader: Reader, view: NativeView | undefined, key: unknown): unknown {
  reader.check();
  return readOne(reader, view, keyBytes(reader.keyCodec, key));
}

function keyList(reader: Reader, keys: unknown): Uint8Array[] {
  if (!Array.isArray(keys)) throw typeError(`keys must be an array (got ${describeValue(keys)})`);
  if (keys.length > addon.batchMax) throw rangeError(`keys has ${keys.length} entries, more than ${addon.batchMax}`);
  return Array.from(keys, (key, index) => keyBytes(reader.keyCodec, key, `keys[${index}]`));
}

export function getManySync(reader: Reader, view: NativeView | undefined, keys: unknown): unknown[] {
  reader.check();
  return keyList(reader, keys).map((bytes) => readOne(reader, view, bytes));
}

export async function getMany(reader: Reader, view: NativeView | undefined, keys: unknown): Promise<unknown[]> {
  reader.check();
  const list = keyList(reader, keys);
  const parts = Math.max(1, Math.min(GET_MANY_PARTS_MAX, Math.floor(list.length / GET_MANY_PART_MIN)));
  const size = Math.ceil(list.length / parts);
  const calls: Promise<(Buffer | string | undefined)[]>[] = [];
  for (let start = 0; start < list.length || calls.length === 0; start += size) {
    const part = list.slice(start, start + size);
    calls.push(reader.track(kvSettle(kvCall(() => reader.native.getManyAsync(part, view, reader.valueCodec.asString)))));
    if (size === 0) break;
  }
  const results = (await Promise.all(calls)).flat();
  return results.map((raw) => (raw === undefined ? undefined : reader.valueCodec.decode(raw)));
}

export function makeRange(reader: Reader, view: NativeView | undefined, bounds: ReturnType<typeof rangeBounds>): RangeIterable<unknown> {
  reader.check();
  return new RangeIterable(reader, view, bounds);
}
