// A write batch as the addon takes it, built in memory that is reused from one batch to the next.
//
// The addon reads a batch as three arrays: the operation types, a key size and a value size per
// operation, and every key then its value back to back in one Buffer. It copies them (writeAsync)
// or applies them (write) before it returns, so the next batch may overwrite them.
//
// Why reused: a bulk load writes batches of about a hundred kilobytes hundreds of times a second.
// Fresh memory for each one costs page faults on first touch (a few microseconds each under a
// paravirtualised MMU: about 0.2 ms for a 116 KiB batch) and young-generation collections, all on
// the event loop's thread. Reused memory is already mapped.
import { rangeError, typeError } from '@dbos/platform';

/** The log's largest record (KV_WAL_PAYLOAD_MAX in the C core): a batch's keys and values must fit in one. */
export const LOG_RECORD_BYTES_MAX = 2 ** 30;
/** Batches up to these sizes are built in the retained memory; larger ones get memory of their own. */
const RETAINED_OPERATIONS = 4096;
const RETAINED_BYTES = 1 << 20;

/** The three arrays of a batch, each exactly as long as the batch. */
export interface PackedBatch {
  types: Uint8Array;
  sizes: Uint32Array;
  packed: Buffer;
}

/**
 * A batch being built: the caller fills `types`, `keys` and `values` for operations 0 .. count-1,
 * counting the bytes, then calls `pack`, and `release` when the addon is done with the result.
 */
export class BatchBuilder {
  readonly types: Uint8Array;
  readonly keys: Uint8Array[];
  readonly values: (Uint8Array | undefined)[];
  #sizes: Uint32Array;
  #packed: Buffer | undefined;
  #count: number;
  #retained: boolean;

  constructor(capacity: number, retained: boolean) {
    this.types = new Uint8Array(capacity);
    this.keys = new Array<Uint8Array>(capacity);
    this.values = new Array<Uint8Array | undefined>(capacity);
    this.#sizes = new Uint32Array(2 * capacity);
    this.#count = 0;
    this.#retained = retained;
  }

  get capacity(): number {
    return this.types.length;
  }

  start(count: number): this {
    this.#count = count;
    return this;
  }

  /**
   * Every key then its value in one Buffer, and their sizes. `bytes` is the sum the caller counted
   * while checking; a key or value whose size changed since (a getter of a later operation
   * detached it) is refused.
   */
  pack(bytes: number): PackedBatch {
    // The engine refuses such a batch anyway (DBOS_ERANGE): refused here before a copy of it is made.
    if (bytes > LOG_RECORD_BYTES_MAX)
      throw rangeError(`a batch of ${bytes} bytes of keys and values is larger than one log record (${LOG_RECORD_BYTES_MAX} bytes)`);
    const count = this.#count;
    const sizes = this.#sizes;
    let packed: Buffer;
    if (this.#retained && bytes <= RETAINED_BYTES) {
      if (!this.#packed || this.#packed.length < bytes) this.#packed = Buffer.allocUnsafeSlow(Math.max(bytes, 64 << 10));
      packed = this.#packed;
    } else {
      packed = Buffer.allocUnsafe(bytes);
    }
    let at = 0;
    for (let i = 0; i < count; i++) {
      const key = this.keys[i] as Uint8Array;
      const value = this.values[i];
      if (at + key.byteLength + (value?.byteLength ?? 0) > bytes) break;
      // A detached array reads as empty (and set() would throw): the total then comes up short.
      if (key.byteLength > 0) packed.set(key, at);
      at += key.byteLength;
      sizes[2 * i] = key.byteLength;
      if (value !== undefined) {
        if (value.byteLength > 0) packed.set(value, at);
        at += value.byteLength;
        sizes[2 * i + 1] = value.byteLength;
      } else {
        sizes[2 * i + 1] = 0;
      }
    }
    if (at !== bytes) throw typeError('a key or value of the batch changed size while the batch was being checked');
    return {
      types: this.types.subarray(0, count),
      sizes: sizes.subarray(0, 2 * count),
      packed: packed.length === bytes ? packed : packed.subarray(0, bytes),
    };
  }

  /** Drop the references to the caller's keys and values, and hand the memory back. */
  release(): void {
    this.keys.fill(undefined as unknown as Uint8Array, 0, this.#count);
    this.values.fill(undefined, 0, this.#count);
    this.#count = 0;
    if (this.#retained) shared.busy = false;
  }
}

const shared: { builder: BatchBuilder | undefined; busy: boolean } = { builder: undefined, busy: false };

/**
 * A builder for a batch of `count` operations: the retained one, unless it is in use (a getter of
 * an operation started another batch while this one was being checked) or the batch is too large.
 */
export function batchBuilder(count: number): BatchBuilder {
  if (shared.busy || count > RETAINED_OPERATIONS) return new BatchBuilder(count, false).start(count);
  if (!shared.builder || shared.builder.capacity < count)
    shared.builder = new BatchBuilder(Math.min(RETAINED_OPERATIONS, Math.max(count, 1024)), true);
  shared.busy = true;
  return shared.builder.start(count);
}
