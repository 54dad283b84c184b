// The pool most recently opened in this process (weakly held): what the mechanism report asks.
interface Reporting {
  readonly closed: boolean;
  readonly mechanism: string;
}

let latest: WeakRef<Reporting> | null = null;

export function noteOpened(pool: Reporting): void {
  latest = new WeakRef(pool);
}

/** The most recently opened pool, while it is open and alive. */
export function latestPool(): Reporting | null {
  const pool = latest?.deref();
  return pool && !pool.closed ? pool : null;
}
