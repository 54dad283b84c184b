// Page: one fix of one page, and the only way JavaScript reaches pool memory.
import { DbosError, typeError } from '@dbos/platform';

/** How a page is fixed: `'shared'` (many readers) or `'exclusive'` (one writer). */
export type FixMode = 'shared' | 'exclusive';

/** Options of `unfix()` / `release()`. */
export interface UnfixOptions {
  /**
   * The page was changed: write it back before it is evicted. Default: true for an exclusive
   * fix (a change is never lost by forgetting to say so), false for a shared one; a shared fix
   * cannot be dirty (DBOS_EINVAL).
   */
  dirty?: boolean;
}

/** What a Page asks of the pool that made it. */
export interface PageOwner {
  unfix(page: Page, options?: UnfixOptions): void;
}

/** @internal A page's state, kept off the object so no caller can reach or forge it. */
export interface PageState {
  owner: PageOwner;
  buffer: ArrayBuffer;
  /** null once unfixed. */
  data: Uint8Array | null;
}

const MAKE = Symbol('make a page');
let stateOf: (page: object) => PageState | undefined;

/** @internal A page's state, or undefined for anything that is not a Page. */
export function pageState(page: unknown): PageState | undefined {
  return typeof page === 'object' && page !== null ? stateOf(page) : undefined;
}

/** @internal A new fixed page over `buffer` (the binding's view of its payload). */
export function makePage(owner: PageOwner, pid: number, mode: FixMode, buffer: ArrayBuffer): Page {
  return new Page(MAKE, owner, pid, mode, buffer);
}

/**
 * A fixed page. `data` views the page's payload in pool memory: no copy, changes go to the
 * page itself. The page stays in memory (never evicted) until it is unfixed; then the view is
 * detached (every Uint8Array over it has length 0), so no access can reach memory the pool has
 * since evicted or given to another page. Pages are made by a BufferPool only.
 */
export class Page {
  /** The page id. */
  readonly pid: number;
  /** How it is fixed. */
  readonly mode: FixMode;

  // Kept in a private field, so no caller can reach or forge it (a look-alike object has none).
  readonly #state: PageState;

  static {
    stateOf = (page) => (#state in page ? (page as Page).#state : undefined);
  }

  /** @internal */
  constructor(token: symbol, owner: PageOwner, pid: number, mode: FixMode, buffer: ArrayBuffer) {
    if (token !== MAKE) throw typeError('pages are made by BufferPool fixes, not by new Page()');
    this.pid = pid;
    this.mode = mode;
    this.#state = { owner, buffer, data: new Uint8Array(buffer) };
  }

  /** The payload (`pool.payloadSize` bytes). Throws DBOS_ECLOSED once the page is unfixed. */
  get data(): Uint8Array {
    const data = pageState(this)?.data;
    if (!data) throw new DbosError('DBOS_ECLOSED', `page ${this.pid} was unfixed: its view is gone`);
    return data;
  }

  /** True until the page is unfixed (by `release()`, `pool.unfix()` or the pool's close). */
  get fixed(): boolean {
    return pageState(this)?.data != null;
  }

  /** Unfix the page: the same as `pool.unfix(page, options)`. */
  release(options?: UnfixOptions): void {
    const state = pageState(this);
    if (state === undefined) throw typeError('release() needs a page made by a BufferPool');
    state.owner.unfix(this, options);
  }
}
