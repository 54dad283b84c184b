// The benchmark's data: the same keys, values and access sequences for every store, generated from
// fixed seeds by the shared generators (@dbos/benchmarks/workload) so two runs (and two stores in
// one run) see identical work.
//
// Keys are 16 random bytes (uniform over the key space, so inserting them in generation order is a
// random-order load for every ordered store); values are 100 bytes of pseudo-random data, so a store
// that compresses (LevelDB and RocksDB use Snappy by default) gains nothing it would not gain on
// encrypted or already-compressed payloads. Value bytes depend on (key index, version): an overwrite
// writes different bytes, so no store can skip an identical update.
import * as workload from '@dbos/benchmarks/workload';

export const KEY_BYTES = 16;
export const VALUE_BYTES = 100;

/** `count` distinct 16-byte keys, each its own Buffer (see workload.makeKeys). */
export function makeKeys(count: number, seed = 1): Buffer[] {
  return workload.makeKeys(count, KEY_BYTES, seed);
}

/** The value of key `index` at `version`: 100 bytes, different for every (index, version). */
export function makeValue(index: number, version: number): Buffer {
  return workload.makeValue(index, version, VALUE_BYTES);
}

export { randomIndices } from '@dbos/benchmarks/workload';
