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

export function getOne(reader: Reader, view: NativeView | undefined, key: unknown): unknown {
  reader.check();
  const bytes = keyBytes(reader.keyCodec, key);
  const raw = kvCall(() => reader.native.get(bytes, view, reader.valueCodec.asString));
  return raw === undefined ? undefined : reader.valueCodec.decode(raw);
}

function keyList(reader: Reader, keys: unknown): Uint8Array[] {
  if (!Array.isArray(keys)) throw typeError(`keys must be an array (got ${describeValue(keys)})`);
  if (keys.length > addon.batchMax) throw rangeError(`keys has ${keys.length} entries, more than ${addon.batchMax}`);
  return Array.from(keys, (key, index) => keyBytes(reader.keyCodec, key, `keys[${index}]`));
}

export function getManySync(reader: Reader, view: NativeView | undefined, keys: unknown): unknown[] {
  reader.check();
  return keyList(reader, keys).map((bytes) => {
    const raw = kvCall(() => reader.native.get(bytes, view, reader.valueCodec.asString));
    return raw === undefined ? undefined : reader.valueCodec.decode(raw);
  });
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
