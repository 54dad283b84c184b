// Every public call of @dbos/pagetable under hostile arguments (argument fuzz). Each case works on
// one region of PAGES pages that starts mapped, two frame pools, and views kept over some pages;
// after every call each live view is read and written back, so a call that left a pinned page
// inaccessible or read-only crashes the child here instead of passing.
import fc from 'fast-check';
import { type CaseTable, call, hostileBuffer, hostileNumber, hostileOptions, hostileValue, mostly } from '@dbos/hostile';
import { FramePool, PAGE_SIZE, Region, probe } from '../../src/index.js';
import { FRAMES, PAGES, byteCount, pageIndex, pageRange, pageSet, protection, protectionOptions } from './values.js';

interface Target {
  region: Region;
  pool: FramePool;
  other: FramePool;
  closedPool: FramePool;
  views: ArrayBufferView[];
}

/** Read and write back every byte of every page each live view covers: faults if a pin broke. */
function touchViews(target: Target): void {
  for (const view of target.views) {
    if (view.buffer.byteLength === 0) continue; // detached (a DataView's byteLength would throw)
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    for (let at = 0; at < bytes.length; at += 512) bytes[at] = (bytes[at] ?? 0) ^ 0;
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0;
  }
}

/** Views kept across calls: one page, a range crossing pages, and a DataView. */
function keepViews(target: Target): void {
  target.views = target.views.filter((view) => view.buffer.byteLength > 0);
  if (target.views.length >= 3) return;
  for (const [offset, length] of [
    [0, PAGE_SIZE],
    [5 * PAGE_SIZE + 100, 2 * PAGE_SIZE],
    [40 * PAGE_SIZE, 1],
  ] as const) {
    try {
      target.views.push(target.region.view(offset, length));
    } catch {
      // the page is unmapped or read-only now: no view there this round
    }
  }
}

function setup(): Target {
  const region = Region.reserve(PAGES * PAGE_SIZE, { mapped: true });
  const pool = FramePool.create(FRAMES);
  const other = FramePool.create(4);
  const closedPool = FramePool.create(4);
  closedPool.close();
  region.mapFrames({ first: 20, count: 4 }, pool, { first: 0, count: 4 });
  const target = { region, pool, other, closedPool, views: [] };
  keepViews(target);
  return target;
}

function teardown(target: Target): void {
  target.region.close();
  touchViews(target); // detached by close(): length 0, nothing to touch
  target.pool.close();
  target.other.close();
}

/** A call on the case's region: views are checked after it, whatever it did. */
function onRegion<A extends unknown[]>(args: { [K in keyof A]: fc.Arbitrary<A[K]> }, body: (target: Target, ...args: A) => unknown) {
  return call<A>(
    args,
    (target, ...values) => {
      const state = target as Target;
      keepViews(state);
      try {
        return body(state, ...values);
      } finally {
        touchViews(state);
      }
    },
    { setup, teardown: (target) => teardown(target as Target) },
  );
}

const pool = (target: Target, which: unknown): unknown =>
  which === 'pool' ? target.pool : which === 'other' ? target.other : which === 'closed' ? target.closedPool : which;
const poolArgument = fc.oneof(
  { arbitrary: fc.constantFrom('pool', 'other', 'closed'), weight: 4 },
  { arbitrary: hostileValue(), weight: 1 },
);

const regionOptions = fc.oneof(
  fc.record(
    {
      mapped: mostly(fc.boolean()),
      hugePages: mostly(fc.boolean()),
      runtime: mostly(fc.constantFrom('host', 'guest')),
      fill: fc.oneof(
        hostileValue(),
        fc.record({ byte: mostly(fc.integer({ min: -1, max: 256 })), stampIndex: mostly(fc.boolean()) }, { requiredKeys: [] }),
      ),
    },
    { requiredKeys: [] },
  ),
  hostileOptions(['mapped', 'hugePages', 'runtime', 'fill']),
);

const regionSize = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 64 }).map((pages) => pages * PAGE_SIZE), weight: 3 },
  { arbitrary: fc.constantFrom(1, PAGE_SIZE - 1, PAGE_SIZE + 1, 2 ** 44, 2 ** 44 + PAGE_SIZE, 2 ** 45, 2 ** 53), weight: 2 },
  { arbitrary: hostileNumber(), weight: 2 },
  { arbitrary: hostileValue(), weight: 1 },
);

/** A view of this region, of another one, a released one, a sub-view, or any hostile value. */
const viewArgument = fc.oneof(
  { arbitrary: fc.constantFrom('kept', 'kept-buffer', 'subarray', 'released', 'foreign', 'closed-region'), weight: 3 },
  { arbitrary: hostileBuffer(64), weight: 1 },
  { arbitrary: hostileValue(), weight: 1 },
);

function viewFor(target: Target, which: unknown): unknown {
  const kept = target.views[0];
  switch (which) {
    case 'kept':
      return kept;
    case 'kept-buffer':
      return kept?.buffer;
    case 'subarray':
      return kept instanceof Uint8Array ? kept.subarray(1, 2) : kept;
    case 'released': {
      const view = target.region.view(0, 8);
      target.region.release(view);
      return view;
    }
    case 'foreign':
    case 'closed-region': {
      const region = Region.reserve(PAGE_SIZE, { mapped: true });
      const view = region.view(0, 8);
      if (which === 'closed-region') region.close();
      return view;
    }
    default:
      return which;
  }
}

export default {
  'Region.reserve(size, options)': call([regionSize, regionOptions], (_t, size, options) => {
    const region = Region.reserve(size as number, options as never);
    const pages = region.pageCount;
    region.close();
    return pages;
  }),
  'FramePool.create(frameCount)': call(
    [fc.oneof(fc.integer({ min: -2, max: 64 }), fc.constantFrom(2 ** 31, 2 ** 31 + 1, 2 ** 32, 2 ** 53), hostileNumber(), hostileValue())],
    (_t, frameCount) => FramePool.create(frameCount as number).close(),
  ),
  'probe()': call([hostileValue()], (_t, argument) => (probe as (value: unknown) => unknown)(argument)),
  'map(pages, options)': onRegion([pageSet, protectionOptions], (t, pages, options) => t.region.map(pages as never, options as never)),
  'mapFrames(pages, pool, frames, options)': onRegion(
    [pageSet, poolArgument, pageSet, protectionOptions],
    (t, pages, which, frames, options) => t.region.mapFrames(pages as never, pool(t, which) as never, frames as never, options as never),
  ),
  'unmap(pages)': onRegion([pageSet], (t, pages) => t.region.unmap(pages as never)),
  'discard(pages)': onRegion([pageSet], (t, pages) => t.region.discard(pages as never)),
  'move(source, target)': onRegion([pageSet, pageSet], (t, source, target) => t.region.move(source as never, target as never)),
  'move(list, list) with repeated and overlapping pages': onRegion(
    [
      fc.array(fc.integer({ min: 0, max: PAGES - 1 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 0, max: PAGES - 1 }), { minLength: 1, maxLength: 8 }),
      protection,
    ],
    (t, source, target, protect) => {
      // Different protections along the lists split the moves into runs that see each other's effects.
      try {
        t.region.protect([source[0] as number], protect as never);
      } catch {
        // pinned under a view, or unmapped by an earlier move: move as the pages are
      }
      return t.region.move(source, target.slice(0, source.length).concat(source.slice(target.length)));
    },
  ),
  'protect(pages, protection)': onRegion([pageSet, protection], (t, pages, protect) => t.region.protect(pages as never, protect as never)),
  'populate(pages)': onRegion([pageSet], (t, pages) => t.region.populate(pages as never)),
  'view(offset, length)': onRegion([byteCount, byteCount], (t, offset, length) => {
    const view = t.region.view(offset as number, length as number);
    t.views.push(view);
  }),
  'dataView(offset, length)': onRegion([byteCount, byteCount], (t, offset, length) => {
    const view = t.region.dataView(offset as number, length as number);
    t.views.push(view);
  }),
  'release(view)': onRegion([viewArgument], (t, which) => t.region.release(viewFor(t, which) as never)),
  'pageInfo(page)': onRegion([pageIndex], (t, page) => t.region.pageInfo(page as number)),
  'isPinned(range)': onRegion([pageRange], (t, range) => t.region.isPinned(range as never)),
  'startDirtyTracking(options) / stopDirtyTracking()': onRegion(
    [
      fc.oneof(
        fc.record(
          { mechanism: mostly(fc.constantFrom('auto', 'uffd-wp-async', 'shadow-compare', 'pte-dirty-bits')) },
          { requiredKeys: [] },
        ),
        hostileOptions(['mechanism']),
      ),
      fc.boolean(),
    ],
    (t, options, stop) => {
      const mechanism = t.region.startDirtyTracking(options as never);
      if (stop) t.region.stopDirtyTracking();
      return [mechanism, t.region.dirtyMechanism];
    },
  ),
  'collectDirty(options)': onRegion(
    [
      fc.oneof(
        fc.record({ first: pageIndex, count: pageIndex, reset: mostly(fc.boolean()) }, { requiredKeys: [] }),
        hostileOptions(['first', 'count', 'reset']),
      ),
      fc.boolean(),
    ],
    (t, options, tracking) => {
      if (tracking && t.region.dirtyMechanism === 'none') t.region.startDirtyTracking({ mechanism: 'shadow-compare' });
      return t.region.collectDirty(options as never);
    },
  ),
  'resetDirty(range)': onRegion([pageRange, fc.boolean()], (t, range, tracking) => {
    if (tracking && t.region.dirtyMechanism === 'none') t.region.startDirtyTracking();
    return t.region.resetDirty(range as never);
  }),
  'residentPages(range)': onRegion([pageRange], (t, range) => t.region.residentPages(range as never)),
  'stats() / closed / dirtyMechanism / size / pageCount': onRegion([hostileValue()], (t, argument) => [
    (t.region.stats as (value: unknown) => unknown)(argument),
    t.region.closed,
    t.region.dirtyMechanism,
    t.region.size,
    t.region.pageCount,
  ]),
  'pool.release(frames)': call([pageSet], (target, frames) => (target as FramePool).release(frames as never), {
    setup: () => FramePool.create(FRAMES),
    teardown: (target) => (target as FramePool).close(),
  }),
  'pool.close() / closed / frameCount': call(
    [hostileValue()],
    (target, argument) => {
      const frames = target as FramePool;
      (frames.close as (value: unknown) => void)(argument);
      return [frames.closed, frames.frameCount];
    },
    { setup: () => FramePool.create(FRAMES) },
  ),
  'methods called on something that is not a Region or FramePool': call(
    [
      fc.constantFrom(
        ...Object.getOwnPropertyNames(Region.prototype).map((name) => ['Region', name] as const),
        ...Object.getOwnPropertyNames(FramePool.prototype).map((name) => ['FramePool', name] as const),
      ),
      fc.oneof(hostileValue(), fc.constantFrom('region-like', 'pool-like')),
      fc.array(hostileValue(), { maxLength: 4 }),
    ],
    (target, [className, name], receiver, args) => {
      if (name === 'constructor') return;
      const prototype = (className === 'Region' ? Region.prototype : FramePool.prototype) as unknown as Record<string, unknown>;
      const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
      const self =
        receiver === 'region-like'
          ? Object.create(Region.prototype)
          : receiver === 'pool-like'
            ? Object.assign(Object.create(FramePool.prototype), { frameCount: 4 })
            : receiver;
      void target;
      if (descriptor?.get) return descriptor.get.call(self);
      if (typeof descriptor?.value === 'function') return (descriptor.value as (...values: unknown[]) => unknown).apply(self, args);
    },
  ),
  'mapFrames with a region-like or pool-like stand-in': onRegion([fc.constantFrom('pool-like', 'proxy')], (t, kind) => {
    const standIn = kind === 'pool-like' ? Object.create(FramePool.prototype) : new Proxy(t.pool, {});
    return t.region.mapFrames({ first: 30, count: 1 }, standIn, { first: 0, count: 1 });
  }),
} satisfies CaseTable;
