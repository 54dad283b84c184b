// FramePool: physical-like frames (a memfd on the host) that regions map, share and move without copying.
import { DbosError, callNative, rangeError, typeError } from '@dbos/platform';
import { FRAME_COUNT_MAX } from './constants.js';
import { addon, type NativeFrames } from './native.js';
import { toNativePages, type PageSet } from './pages.js';

/** The binding handle of a pool, for Region.mapFrames (not exported from the package). */
export let framesHandle: (pool: unknown) => NativeFrames;

/**
 * A pool of 4 KiB frames.  A frame mapped at several slots (in one or more
 * regions) shows the same bytes at each; `Region.move` moves a frame between
 * slots without copying it.  Memory is used only for frames written or
 * populated.  Regions that map a pool's frames keep its memory alive after
 * `close()`.
 */
export class FramePool {
  readonly frameCount: number;
  #native: NativeFrames | null;

  private constructor(frameCount: number, handle: NativeFrames) {
    this.frameCount = frameCount;
    this.#native = handle;
  }

  static {
    framesHandle = (pool) => FramePool.#of(pool).#handle();
  }

  /** `self` as a FramePool, or a TypeError: methods called on anything else (a copy, a prototype). */
  static #of(self: unknown): FramePool {
    if (typeof self !== 'object' || self === null || !(#native in self)) throw typeError('pool must be a FramePool');
    return self;
  }

  /**
   * Create a pool of `frameCount` frames (1 … 2^31).  Throws a TypeError for a
   * non-integer, a RangeError outside the bounds, DBOS_ENOTSUP where memfd is unavailable.
   */
  static create(frameCount: number): FramePool {
    if (typeof frameCount !== 'number' || !Number.isInteger(frameCount)) throw typeError('frameCount must be an integer');
    if (frameCount < 1 || frameCount > FRAME_COUNT_MAX) throw rangeError(`frameCount must be 1 … ${FRAME_COUNT_MAX}`);
    return new FramePool(
      frameCount,
      callNative(() => new addon.NativeFrames(frameCount)),
    );
  }

  /** True after `close()`. */
  get closed(): boolean {
    return FramePool.#of(this).#native === null;
  }

  /**
   * Free the memory of `frames` (their bytes read as zeros afterwards, in every slot
   * that maps them).  RangeError for frames outside the pool; DBOS_ECLOSED after close.
   */
  release(frames: PageSet): void {
    const self = FramePool.#of(this);
    const pages = toNativePages(frames, 'frames');
    const handle = self.#handle();
    callNative(() => handle.release(...pages));
  }

  /** Drop the pool (idempotent). Mappings made from it stay valid. */
  close(): void {
    const self = FramePool.#of(this);
    self.#native?.close();
    self.#native = null;
  }

  #handle(): NativeFrames {
    if (this.#native === null) throw new DbosError('DBOS_ECLOSED', 'frame pool is closed');
    return this.#native;
  }
}
