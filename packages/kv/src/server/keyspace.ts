// Keyspace: the server's typed values on a @dbos/kv store, with expiry.
//
// What other parts of the server use (a summary; each member says more below):
//   new Keyspace(store, { now, sync? })    store: open(dir, { keyEncoding: 'binary', valueEncoding: 'binary' })
//                                          now(): ms since the epoch (the server's clock; tests move it)
//                                          sync(): each write's `sync` option, asked at every write:
//                                          true for appendfsync always, false for everysec / no.
//   get(key) / has(key)                    the live value (an expired key is deleted on the way: lazy expiry)
//   set(key, stored) / delete(key)         one key; the Promise is the write's durability
//   change()                               several keys changed atomically (MSET, RENAME, COPY, DEL …)
//   settle()                               write the turn's pending changes now (before store.snapshot())
//   size() / expiringCount()               DBSIZE and INFO keyspace, exact
//   flush('sync' | 'async')                FLUSHDB / FLUSHALL
//   scan(cursor, count, accept) / randomKey() / entries()
//   syncPoint()                            one durable metadata write (appendfsync everysec's tick)
//   liveEntries(snapshot) / liveEntriesAsync(snapshot)
//                                          every live { key, type, value, expireAt } of a store.snapshot()
//                                          read view, for SAVE / BGSAVE (the RDB writer)
//   stop()                                 ends the active-expiry timer and background deletion and records
//                                          the key counts (the next start reads them instead of scanning
//                                          every key); call before store.close()
//
// Layout and header: keyspace-layout.ts. Every change of a value together with its expiry-index
// entry lands in one store.batch, so after a crash the index and the headers agree.
//
// Write combining: the changes committed during one turn of the event loop (every command of
// every client whose requests arrived together) are written as one store.batch when the turn's
// I/O callbacks are done (setImmediate), not one batch each: one log record and one durability
// promise for the lot, and the tree is written in one native call. Until then they sit in the
// pending group, which point reads look through, so a command sees every command before it.
// Whatever reads the store some other way (ranges, snapshots) or writes it directly settles the
// group first, so the store's order of writes is always the order of the commands. A change's
// reply waits for its group's durability, as it waited for its own batch before: nothing is
// acknowledged before its log record is written.
import { DbosError } from '@dbos/platform';
import type { BatchOperation, KvStore } from '../store.js';
import type { Snapshot } from '../snapshot.js';
import {
  dataBound,
  dataKey,
  decodeValue,
  encodeValue,
  expiryBound,
  expiryKey,
  expiryOfEncoded,
  hashOfData,
  KEY_BYTES_MAX,
  keyOfData,
  metaKey,
  PREFIX_DATA,
  PREFIX_EXPIRY,
  parseExpiryKey,
  prefixBound,
  type StoredValue,
  type ValueType,
} from './keyspace-layout.js';

export { KEY_BYTES_MAX, VALUE_BYTES_MAX, type StoredValue, type ValueType } from './keyspace-layout.js';

/** The store the keyspace runs on: binary keys and values. */
export type BinaryStore = KvStore<'binary', 'binary'>;

export interface KeyspaceOptions {
  /** Milliseconds since the epoch: the clock expiry is measured against. */
  now: () => number;
  /** The `sync` option of each write, asked at the write. Default: always `true`. */
  sync?: () => boolean;
  /** Run the active-expiry timer. Default `true` (tests turn it off and call `activeExpireCycle`). */
  activeExpiry?: boolean;
}

/** One live entry, as `liveEntries` yields it. */
export interface LiveEntry {
  readonly key: Buffer;
  readonly type: ValueType;
  readonly value: Buffer;
  readonly expireAt: number | null;
}

/** How often the active-expiry cycle runs (Redis's default hz is 10). */
const EXPIRE_INTERVAL_MS = 100;
/** The most keys one cycle expires, and the most time it spends, so a cycle never stalls clients. */
const EXPIRE_KEYS_PER_CYCLE = 500;
const EXPIRE_CYCLE_BUDGET_MS = 5;
/** Full cycles may be followed by this many more per interval (at most about 25 ms of work in 100 ms). */
const EXPIRE_EXTRA_CYCLES = 4;
/** Keys of an old generation deleted per background step after FLUSH ASYNC. */
const DROP_CHUNK = 2000;
/**
 * A pending group is written as soon as it holds this many operations (one native call applies
 * it on this thread; a batch of 256 or more would go to a pool thread and make the next read
 * wait for it) or this many bytes. A change that does not fit starts a group of its own, so a
 * large one (an RDB import's batch) is written at once, alone.
 */
const GROUP_OPERATIONS_MAX = 255;
const GROUP_BYTES_MAX = 1 << 20;
/** Probes RANDOMKEY makes before giving up when it keeps landing on expired keys. */
const RANDOM_PROBES_MAX = 64;
const TWO_32 = 2 ** 32;
const GENERATION_META = metaKey('generation');
const SYNC_META = metaKey('sync');
/** The key counts at a clean shutdown: key count f64, expiring count f64, generation u32. */
const COUNTS_META = metaKey('counts');
const COUNTS_RECORD_BYTES = 20;

/** The generation recorded in a store or snapshot (0 before the first flush). */
function generationOf(reader: { get(key: Buffer): Buffer | undefined }): number {
  const raw = reader.get(GENERATION_META);
  return raw === undefined ? 0 : raw.readUInt32BE(0);
}

function tooLong(key: Uint8Array): boolean {
  return key.length > KEY_BYTES_MAX;
}

export class Keyspace {
  readonly #store: BinaryStore;
  readonly #now: () => number;
  readonly #sync: () => boolean;
  #generation: number;
  #keyCount = 0;
  #expiringCount = 0;
  #expireTimer: NodeJS.Timeout | null = null;
  #dropTimer: NodeJS.Timeout | null = null;
  #stopped = false;
  /** The counts record is written and no write came after it. */
  #countsSaved = false;
  /** The changes committed in this turn and not yet written (see the header). */
  #group: WriteGroup | null = null;
  #groupTimer: NodeJS.Immediate | null = null;

  /**
   * Takes the key counts (see `#loadCounts`) and starts the active-expiry timer. Entries of an
   * older generation (a FLUSH ASYNC cut short by a restart) are deleted in the background.
   */
  constructor(store: BinaryStore, options: KeyspaceOptions) {
    this.#store = store;
    this.#now = options.now;
    this.#sync = options.sync ?? (() => true);
    this.#generation = generationOf(store);
    this.#loadCounts();
    if (this.#hasOldGenerations()) this.#scheduleDrop();
    if (options.activeExpiry !== false) {
      this.#expireTimer = setInterval(() => this.#expireTick(), EXPIRE_INTERVAL_MS);
      this.#expireTimer.unref();
    }
  }

  /**
   * The counts: from the record `stop()` left at a clean shutdown when there is one for this
   * generation (it is deleted at once, so that after a crash the next start counts again), else
   * by a scan of the keys (after a crash; reads every page of the tree).
   */
  #loadCounts(): void {
    const saved = this.#store.get(COUNTS_META);
    if (saved !== undefined) {
      if (!this.#store.readOnly) this.#store.del(COUNTS_META, { sync: false }).catch(() => {});
      if (saved.length === COUNTS_RECORD_BYTES && saved.readUInt32BE(16) === this.#generation) {
        this.#keyCount = saved.readDoubleBE(0);
        this.#expiringCount = saved.readDoubleBE(8);
        return;
      }
    }
    const generation = this.#generation;
    for (const _ of this.#store.range({
      gte: prefixBound(PREFIX_DATA, generation),
      lt: prefixBound(PREFIX_DATA, generation + 1),
      values: false,
    })) {
      this.#keyCount++;
    }
    for (const _ of this.#store.range({
      gte: prefixBound(PREFIX_EXPIRY, generation),
      lt: prefixBound(PREFIX_EXPIRY, generation + 1),
      values: false,
    })) {
      this.#expiringCount++;
    }
  }

  /**
   * Every store write of the keyspace goes here, after the pending group (so the store sees
   * writes in the order they were made). A write after `stop()` saved the counts makes them
   * stale, so it deletes them too.
   */
  #write(operations: BatchOperation<Buffer, Buffer>[], options: { sync: boolean }): Promise<void> {
    this.settle();
    return this.#writeNow(operations, options);
  }

  #writeNow(operations: BatchOperation<Buffer, Buffer>[], options: { sync: boolean }): Promise<void> {
    if (!this.#countsSaved) return this.#store.batch(operations, options);
    operations.push({ type: 'del', key: COUNTS_META });
    const done = this.#store.batch(operations, options);
    this.#countsSaved = false; // only once the batch is applied: a refused one left the record true
    return done;
  }

  /** The number of keys (as DBSIZE: keys past their expiry but not yet deleted count, as in Redis). */
  size(): number {
    return this.#keyCount;
  }

  /** The number of keys with an expiry time. */
  expiringCount(): number {
    return this.#expiringCount;
  }

  /** The milliseconds clock the keyspace measures expiry against. */
  now(): number {
    return this.#now();
  }

  /** The write options of a write made now. */
  writeOptions(): { sync: boolean } {
    return { sync: this.#sync() };
  }

  /** The live value of `key`, or undefined. An expired key is deleted here (lazy expiry). */
  get(key: Uint8Array): StoredValue | undefined {
    if (tooLong(key)) return undefined;
    return this.read(dataKey(this.#generation, key), key);
  }

  /** @internal `get` with the data key already made (a change makes it once per key). */
  read(data: Buffer, key: Uint8Array): StoredValue | undefined {
    const raw = this.#raw(data);
    if (raw === undefined) return undefined;
    const stored = decodeValue(raw);
    if (stored.expireAt !== null && stored.expireAt <= this.#now()) {
      this.#expireNow(key, stored.expireAt);
      return undefined;
    }
    return stored;
  }

  /** True when `key` holds a live value. */
  has(key: Uint8Array): boolean {
    return this.get(key) !== undefined;
  }

  /** Store `stored` under `key`, replacing any value and expiry. */
  set(key: Uint8Array, stored: StoredValue): Promise<void> {
    const change = this.change();
    change.set(key, stored);
    return change.commit();
  }

  /** Delete `key`: null when it held no live value, else the durability of the delete. */
  delete(key: Uint8Array): Promise<void> | null {
    const change = this.change();
    if (!change.delete(key)) return null;
    return change.commit();
  }

  /** A set of changes applied together by `commit()`, in one atomic store.batch. */
  change(): KeyspaceChange {
    return new KeyspaceChange(this, this.#generation);
  }

  /** @internal KeyspaceChange's commit. */
  apply(operations: BatchOperation<Buffer, Buffer>[], keyDelta: number, expiringDelta: number, generation: number): Promise<void> {
    if (generation !== this.#generation)
      throw new Error('a keyspace change outlived a flush (a bug: changes are committed in the turn they are made)');
    if (operations.length === 0) return Promise.resolve();
    // A closed store refuses the change now, as its batch() would have (a failed one refuses the group).
    if (this.#store.closed) throw new DbosError('DBOS_ECLOSED', 'the store is closed');
    let bytes = 0;
    for (const operation of operations) bytes += operation.key.length + (operation.type === 'put' ? operation.value.length : 0);
    let group = this.#group;
    if (group !== null && (group.operations.length + operations.length > GROUP_OPERATIONS_MAX || group.bytes + bytes > GROUP_BYTES_MAX)) {
      this.settle();
      group = null;
    }
    if (group === null) {
      group = new WriteGroup();
      this.#group = group;
      this.#groupTimer = setImmediate(() => this.settle());
    }
    group.add(operations, bytes, this.#sync(), keyDelta, expiringDelta);
    this.#keyCount += keyDelta;
    this.#expiringCount += expiringDelta;
    if (group.operations.length >= GROUP_OPERATIONS_MAX || group.bytes >= GROUP_BYTES_MAX) this.settle();
    return group.done;
  }

  /**
   * Write the pending group now, as one store.batch. Anything that reads the store other than by
   * key (a range, a snapshot) or writes it directly calls this first; the turn's end calls it too.
   * When the store refuses the batch, every change in the group fails (its promise rejects) and
   * the counts go back to what the store holds.
   */
  settle(): void {
    const group = this.#group;
    if (group === null) return;
    this.#group = null;
    if (this.#groupTimer !== null) clearImmediate(this.#groupTimer);
    this.#groupTimer = null;
    let written: Promise<void>;
    try {
      written = this.#writeNow(group.operations, { sync: group.sync });
    } catch (failure) {
      this.#keyCount -= group.keyDelta;
      this.#expiringCount -= group.expiringDelta;
      group.fail(failure);
      return;
    }
    group.follow(written);
  }

  /** @internal The stored value of `key` in the current generation, expired or not. */
  stored(key: Uint8Array): StoredValue | undefined {
    if (tooLong(key)) return undefined;
    const raw = this.#raw(dataKey(this.#generation, key));
    return raw === undefined ? undefined : decodeValue(raw);
  }

  /** The stored bytes under a data key: the pending group's when it wrote the key, else the store's. */
  #raw(data: Buffer): Buffer | undefined {
    const group = this.#group;
    if (group !== null) {
      const pending = group.written.get(data.toString('latin1'));
      if (pending !== undefined) return pending ?? undefined;
    }
    return this.#store.get(data);
  }

  /** Delete a key found expired, with its index entry, in a batch of its own. */
  #expireNow(key: Uint8Array, at: number): void {
    let done: Promise<void>;
    try {
      done = this.#write(
        [
          { type: 'del', key: dataKey(this.#generation, key) },
          { type: 'del', key: expiryKey(this.#generation, at, key) },
        ],
        this.writeOptions(),
      );
    } catch {
      // A store that refuses writes (after an I/O failure) still answers reads: the key is past
      // its time either way, and a later access or cycle deletes it.
      return;
    }
    this.#keyCount--;
    this.#expiringCount--;
    // Nobody waits for an expiry to be durable: after a crash the key would just expire again.
    done.catch(() => {});
  }

  /**
   * Expire up to `limit` keys whose time has come, oldest first (Redis's active expire cycle).
   * Returns how many keys it deleted. Bounded: at most `limit` keys and about 5 ms.
   */
  activeExpireCycle(limit = EXPIRE_KEYS_PER_CYCLE): number {
    this.settle();
    const now = this.#now();
    const started = performance.now();
    const generation = this.#generation;
    const operations: BatchOperation<Buffer, Buffer>[] = [];
    let expired = 0;
    let orphans = 0;
    for (const indexKey of this.#store.range({
      gte: expiryBound(generation, 0),
      lt: expiryBound(generation, now + 1),
      values: false,
      limit,
    })) {
      const { at, key } = parseExpiryKey(indexKey);
      operations.push({ type: 'del', key: indexKey });
      const raw = this.#store.get(dataKey(generation, key));
      // The header decides: an index entry whose value no longer expires at that time is stale.
      if (raw !== undefined && expiryOfEncoded(raw) === at) {
        operations.push({ type: 'del', key: dataKey(generation, key) });
        expired++;
      } else {
        orphans++;
      }
      if (performance.now() - started > EXPIRE_CYCLE_BUDGET_MS) break;
    }
    if (operations.length === 0) return 0;
    this.#write(operations, this.writeOptions()).catch(() => {});
    this.#keyCount -= expired;
    this.#expiringCount -= expired + orphans;
    return expired;
  }

  /**
   * The timer's work: a cycle when keys expire at all; while cycles come back full (more keys are
   * due), a few more on later turns of the event loop, so a burst of due keys goes faster
   * without one long stall.
   */
  #expireTick(extraCycles = EXPIRE_EXTRA_CYCLES): void {
    if (this.#stopped || this.#store.closed || this.#expiringCount === 0) return;
    let expired = 0;
    try {
      expired = this.activeExpireCycle();
    } catch {
      return; // a failed store (closed under us, I/O error) refuses writes; clients see that on theirs
    }
    if (expired >= EXPIRE_KEYS_PER_CYCLE && extraCycles > 0) setImmediate(() => this.#expireTick(extraCycles - 1));
  }

  /**
   * Remove every key. The keyspace is empty when this returns: a new generation starts (one
   * durable metadata write) and the old one's entries are deleted, before returning ('sync', as
   * FLUSHALL SYNC blocks Redis) or in the background in chunks ('async'). The Promise is the
   * durability of it all ('sync') or of the new generation ('async').
   */
  flush(mode: 'sync' | 'async'): Promise<void> {
    const next = this.#generation + 1;
    if (next >= TWO_32) throw new Error('the keyspace has run out of generations (2^32 flushes)');
    this.settle();
    const generation = Buffer.allocUnsafe(4);
    generation.writeUInt32BE(next, 0);
    // The record first: when the store refuses it, nothing changes here either.
    const done = this.#write([{ type: 'put', key: GENERATION_META, value: generation }], this.writeOptions());
    this.#generation = next;
    this.#keyCount = 0;
    this.#expiringCount = 0;
    if (mode === 'async') {
      this.#scheduleDrop();
      return done;
    }
    const drops: Promise<void>[] = [done];
    for (;;) {
      const step = this.#dropStep(DROP_CHUNK * 10);
      if (step === null) break;
      drops.push(step);
    }
    return Promise.all(drops).then(() => {});
  }

  #hasOldGenerations(): boolean {
    for (const prefix of [PREFIX_DATA, PREFIX_EXPIRY]) {
      for (const _ of this.#store.range({
        gte: prefixBound(prefix, 0),
        lt: prefixBound(prefix, this.#generation),
        values: false,
        limit: 1,
      }))
        return true;
    }
    return false;
  }

  /** Delete up to `limit` entries of older generations; null when there are none left. */
  #dropStep(limit: number): Promise<void> | null {
    const operations: BatchOperation<Buffer, Buffer>[] = [];
    for (const prefix of [PREFIX_DATA, PREFIX_EXPIRY]) {
      const range = {
        gte: prefixBound(prefix, 0),
        lt: prefixBound(prefix, this.#generation),
        values: false as const,
        limit: limit - operations.length,
      };
      for (const key of this.#store.range(range)) operations.push({ type: 'del', key });
      if (operations.length >= limit) break;
    }
    if (operations.length === 0) return null;
    return this.#write(operations, { sync: false });
  }

  #scheduleDrop(): void {
    if (this.#dropTimer !== null || this.#stopped) return;
    const step = () => {
      this.#dropTimer = null;
      if (this.#stopped || this.#store.closed) return;
      let more: Promise<void> | null = null;
      try {
        more = this.#dropStep(DROP_CHUNK);
      } catch {
        return; // the store refuses writes; the next start resumes the deletion
      }
      if (more === null) return;
      more.catch(() => {});
      this.#dropTimer = setTimeout(step, 0);
      this.#dropTimer.unref();
    };
    this.#dropTimer = setTimeout(step, 0);
    this.#dropTimer.unref();
  }

  /** True while entries of a flushed generation are still being deleted in the background. */
  get dropping(): boolean {
    return this.#dropTimer !== null;
  }

  /**
   * One step of SCAN. `cursor` 0 starts; the returned cursor is 0 when the iteration is done.
   * A cursor is the 32-bit hash (+ 1) of the next key in the store's order, so every key present
   * from the first call to the last is returned, and returned once, whatever is written between
   * calls (keys are ordered by hash; a step never stops inside a run of keys with one hash).
   * About `count` keys are examined; `accept` filters them (MATCH, TYPE). Expired keys are deleted
   * on the way and offered to `accept` with `null` (Redis's SCAN … TYPE none returns the expired
   * keys it meets); by default they are skipped.
   */
  scan(
    cursor: number,
    count: number,
    accept: (key: Buffer, stored: StoredValue | null) => boolean = (_, stored) => stored !== null,
  ): { cursor: number; keys: Buffer[] } {
    const keys: Buffer[] = [];
    if (cursor > TWO_32) return { cursor: 0, keys };
    this.settle();
    const now = this.#now();
    const expired: [Buffer, number][] = [];
    let examined = 0;
    let lastHash = -1;
    let next = 0;
    const start = cursor === 0 ? 0 : cursor - 1;
    for (const { key: stored, value: raw } of this.#store.range({
      gte: dataBound(this.#generation, start),
      lt: prefixBound(PREFIX_DATA, this.#generation + 1),
    })) {
      const hash = hashOfData(stored);
      if (examined >= count && hash !== lastHash) {
        next = hash + 1;
        break;
      }
      examined++;
      lastHash = hash;
      const key = keyOfData(stored);
      const value = decodeValue(raw);
      const live = value.expireAt === null || value.expireAt > now;
      if (!live) expired.push([Buffer.from(key), value.expireAt as number]);
      if (accept(key, live ? value : null)) keys.push(key);
    }
    for (const [key, at] of expired) this.#expireNow(key, at);
    return { cursor: next, keys };
  }

  /** Every live entry now, in the store's order (KEYS). Reads on this thread; do not write while iterating. */
  *entries(): Generator<[Buffer, StoredValue]> {
    this.settle();
    const now = this.#now();
    for (const { key, value } of this.#store.range({
      gte: dataBound(this.#generation),
      lt: prefixBound(PREFIX_DATA, this.#generation + 1),
    })) {
      const stored = decodeValue(value);
      if (stored.expireAt === null || stored.expireAt > now) yield [keyOfData(key), stored];
    }
  }

  /** A random live key, or null when there is none (nearly uniform: keys are spread by hash). */
  randomKey(): Buffer | null {
    this.settle();
    for (let probe = 0; probe < RANDOM_PROBES_MAX && this.#keyCount > 0; probe++) {
      const hash = Math.floor(Math.random() * TWO_32);
      const found = this.#firstFrom(hash) ?? this.#firstFrom(0);
      if (found === null) return null;
      if (this.get(found) !== undefined) return found; // get() deletes it when expired
    }
    // Mostly expired keys: walk on from a random place (deleting the expired ones met) to the
    // first live key, so the reply is nil only when no key is live, as in Redis.
    return this.#keyCount > 0 ? this.#firstLiveFrom(Math.floor(Math.random() * TWO_32)) : null;
  }

  #firstLiveFrom(hash: number): Buffer | null {
    const now = this.#now();
    const expired: [Buffer, number][] = [];
    let found: Buffer | null = null;
    const end = prefixBound(PREFIX_DATA, this.#generation + 1);
    const ranges = [
      { gte: dataBound(this.#generation, hash), lt: end },
      { gte: dataBound(this.#generation, 0), lt: dataBound(this.#generation, hash) },
    ];
    search: for (const range of ranges) {
      for (const { key, value } of this.#store.range(range)) {
        const stored = decodeValue(value);
        if (stored.expireAt === null || stored.expireAt > now) {
          found = Buffer.from(keyOfData(key));
          break search;
        }
        expired.push([Buffer.from(keyOfData(key)), stored.expireAt]);
      }
    }
    for (const [key, at] of expired) this.#expireNow(key, at);
    return found;
  }

  #firstFrom(hash: number): Buffer | null {
    for (const key of this.#store.range({
      gte: dataBound(this.#generation, hash),
      lt: prefixBound(PREFIX_DATA, this.#generation + 1),
      values: false,
      limit: 1,
    })) {
      return Buffer.from(keyOfData(key));
    }
    return null;
  }

  /**
   * Write a small metadata record with `sync: true`: once it resolves, every write made before the
   * call is durable (the log is ordered). appendfsync everysec calls it once a second.
   */
  syncPoint(): Promise<void> {
    const record = Buffer.allocUnsafe(8);
    record.writeDoubleBE(Date.now(), 0);
    return this.#write([{ type: 'put', key: SYNC_META, value: record }], { sync: true });
  }

  /**
   * Every live entry of a snapshot (`store.snapshot()`), for SAVE: `{ key, type, value, expireAt }`
   * in the store's order, skipping keys expired at `now` (default: the keyspace's clock). Reads on
   * this thread; see `liveEntriesAsync` to read on pool threads. The caller closes the snapshot.
   */
  *liveEntries(snapshot: Snapshot<'binary', 'binary'>, now = this.#now()): Generator<LiveEntry> {
    const generation = generationOf(snapshot);
    for (const { key, value } of snapshot.range({ gte: dataBound(generation), lt: prefixBound(PREFIX_DATA, generation + 1) })) {
      const entry = liveEntry(key, value, now);
      if (entry !== null) yield entry;
    }
  }

  /** `liveEntries`, reading the snapshot on pool threads (chunks of about 64 KiB), so clients are not stalled. */
  async *liveEntriesAsync(snapshot: Snapshot<'binary', 'binary'>, now = this.#now()): AsyncGenerator<LiveEntry> {
    const generation = generationOf(snapshot);
    for await (const { key, value } of snapshot.range({ gte: dataBound(generation), lt: prefixBound(PREFIX_DATA, generation + 1) })) {
      const entry = liveEntry(key, value, now);
      if (entry !== null) yield entry;
    }
  }

  #saveCounts(): void {
    if (this.#store.closed || this.#store.readOnly) return;
    const record = Buffer.alloc(COUNTS_RECORD_BYTES);
    record.writeDoubleBE(this.#keyCount, 0);
    record.writeDoubleBE(this.#expiringCount, 8);
    record.writeUInt32BE(this.#generation, 16);
    try {
      this.#write([{ type: 'put', key: COUNTS_META, value: record }], { sync: false }).catch(() => {});
      this.#countsSaved = true;
    } catch {
      // A store that refuses writes: the next start counts the keys.
    }
  }

  /**
   * Stop the active-expiry timer and background deletion, and record the key counts (the next
   * start reads them instead of counting; any write after this deletes the record). Call it
   * before `store.close()`, which makes the record durable. Idempotent.
   */
  stop(): void {
    this.settle();
    if (!this.#stopped) this.#saveCounts();
    this.#stopped = true;
    if (this.#expireTimer !== null) clearInterval(this.#expireTimer);
    if (this.#dropTimer !== null) clearTimeout(this.#dropTimer);
    this.#expireTimer = null;
    this.#dropTimer = null;
  }
}

function liveEntry(key: Buffer, raw: Buffer, now: number): LiveEntry | null {
  const stored = decodeValue(raw);
  if (stored.expireAt !== null && stored.expireAt <= now) return null;
  return { key: keyOfData(key), type: stored.type, value: stored.value, expireAt: stored.expireAt };
}

/**
 * The changes committed in one turn, waiting to be written as one store.batch (see the header).
 * `written` maps each data key the group writes (latin1 text) to its new bytes, or null when
 * deleted: what point reads see until the batch is in the store.
 */
class WriteGroup {
  readonly operations: BatchOperation<Buffer, Buffer>[] = [];
  readonly written = new Map<string, Buffer | null>();
  bytes = 0;
  sync = false;
  keyDelta = 0;
  expiringDelta = 0;
  readonly done: Promise<void>;
  #resolve!: (written: Promise<void>) => void;
  #reject!: (failure: unknown) => void;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Each change's command follows `done` and sees a failure; the group's own promise is not an unhandled rejection.
    this.done.catch(() => {});
  }

  add(operations: BatchOperation<Buffer, Buffer>[], bytes: number, sync: boolean, keyDelta: number, expiringDelta: number): void {
    for (const operation of operations) {
      this.operations.push(operation);
      if (operation.key[0] === PREFIX_DATA) {
        this.written.set(operation.key.toString('latin1'), operation.type === 'put' ? operation.value : null);
      }
    }
    this.bytes += bytes;
    this.sync ||= sync;
    this.keyDelta += keyDelta;
    this.expiringDelta += expiringDelta;
  }

  /** The batch is in the store: the group is durable when it is. */
  follow(written: Promise<void>): void {
    this.#resolve(written);
  }

  fail(failure: unknown): void {
    this.#reject(failure);
  }
}

/**
 * Changes to several keys, applied by `commit()` as one store.batch (all or none, also after a
 * crash). Reads through the change see its own pending writes. Commit in the same turn as the
 * change is made (the execution rule of commands).
 */
export class KeyspaceChange {
  readonly #keyspace: Keyspace;
  readonly #generation: number;
  readonly #operations: BatchOperation<Buffer, Buffer>[] = [];
  /**
   * The keys this change read or wrote, with their value as of the change (null: absent). Most
   * changes touch one key: it is kept in two fields, and a map (by the key's latin1 text) is made
   * only for a second key.
   */
  #firstKey: Buffer | null = null;
  #firstValue: StoredValue | null = null;
  #pending: Map<string, StoredValue | null> | null = null;
  #keyDelta = 0;
  #expiringDelta = 0;
  #committed = false;

  constructor(keyspace: Keyspace, generation: number) {
    this.#keyspace = keyspace;
    this.#generation = generation;
  }

  /** The live value of `key`, this change's writes included. */
  get(key: Uint8Array): StoredValue | undefined {
    if (tooLong(key)) return undefined;
    return this.#current(key, null);
  }

  /** Store `stored` under `key`. RangeError DBOS_ERANGE when the key is longer than KEY_BYTES_MAX. */
  set(key: Uint8Array, stored: StoredValue): void {
    if (tooLong(key))
      throw Object.assign(new RangeError(`a key is at most ${KEY_BYTES_MAX} bytes (got ${key.length})`), { code: 'DBOS_ERANGE' });
    const generation = this.#generation;
    const data = dataKey(generation, key);
    const previous = this.#current(key, data);
    if (previous?.expireAt != null && previous.expireAt !== stored.expireAt) {
      this.#operations.push({ type: 'del', key: expiryKey(generation, previous.expireAt, key) });
    }
    this.#operations.push({ type: 'put', key: data, value: encodeValue(stored) });
    if (stored.expireAt !== null && previous?.expireAt !== stored.expireAt) {
      this.#operations.push({ type: 'put', key: expiryKey(generation, stored.expireAt, key), value: Buffer.alloc(0) });
    }
    if (previous === undefined) this.#keyDelta++;
    this.#expiringDelta += (stored.expireAt !== null ? 1 : 0) - (previous?.expireAt != null ? 1 : 0);
    this.#remember(key, stored);
  }

  /** Delete `key`; false when it held no live value. */
  delete(key: Uint8Array): boolean {
    if (tooLong(key)) return false;
    const data = dataKey(this.#generation, key);
    const previous = this.#current(key, data);
    if (previous === undefined) return false;
    this.#operations.push({ type: 'del', key: data });
    if (previous.expireAt !== null) {
      this.#operations.push({ type: 'del', key: expiryKey(this.#generation, previous.expireAt, key) });
      this.#expiringDelta--;
    }
    this.#keyDelta--;
    this.#remember(key, null);
    return true;
  }

  /** Apply every change at once; the Promise is their durability. */
  commit(): Promise<void> {
    if (this.#committed) throw new Error('a keyspace change was committed twice');
    this.#committed = true;
    return this.#keyspace.apply(this.#operations, this.#keyDelta, this.#expiringDelta, this.#generation);
  }

  /** The value `key` has once this change's earlier writes apply (an expired one is deleted on the way). */
  #current(key: Uint8Array, data: Buffer | null): StoredValue | undefined {
    const first = this.#firstKey;
    if (first !== null) {
      if (this.#pending !== null) {
        const pending = this.#pending.get(latin1(key));
        if (pending !== undefined) return pending ?? undefined;
      } else if (first.equals(key)) {
        return this.#firstValue ?? undefined;
      }
    }
    const stored = this.#keyspace.read(data ?? dataKey(this.#generation, key), key);
    // Kept, so a command that reads a key and then writes it reads the store once.
    this.#remember(key, stored ?? null);
    return stored;
  }

  #remember(key: Uint8Array, value: StoredValue | null): void {
    const first = this.#firstKey;
    if (first === null || (this.#pending === null && first.equals(key))) {
      this.#firstKey = first ?? Buffer.from(key);
      this.#firstValue = value;
      return;
    }
    if (this.#pending === null) this.#pending = new Map([[latin1(first), this.#firstValue]]);
    this.#pending.set(latin1(key), value);
  }
}

function latin1(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
}
