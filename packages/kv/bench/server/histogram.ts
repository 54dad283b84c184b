// A log-linear latency histogram: exact below 128 ns, then 64 buckets per power of two (every
// bucket is at most 1/64 ≈ 1.6 % wide). Millions of requests cost a fixed ~20 KiB, not an array
// of floats, and two histograms merge by adding counts.

const SUB_BITS = 6;
const SUB_BUCKETS = 1 << SUB_BITS;
const EXACT_BELOW = 2 * SUB_BUCKETS;
/** Up to 2^46 ns (~19 h): far beyond any request this benchmark waits for. */
const TOP_EXPONENT = 46;
const BUCKETS = EXACT_BELOW + (TOP_EXPONENT - 7) * SUB_BUCKETS;

function bucketOf(ns: number): number {
  if (ns < EXACT_BELOW) return ns;
  const exponent = Math.min(TOP_EXPONENT - 1, Math.floor(Math.log2(ns)));
  const shift = exponent - SUB_BITS;
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor(ns / 2 ** shift) - SUB_BUCKETS);
  return EXACT_BELOW + (exponent - 7) * SUB_BUCKETS + sub;
}

/** The largest value bucket `index` holds. */
function upperEdgeOf(index: number): number {
  if (index < EXACT_BELOW) return index;
  const exponent = 7 + Math.floor((index - EXACT_BELOW) / SUB_BUCKETS);
  const sub = (index - EXACT_BELOW) % SUB_BUCKETS;
  return (SUB_BUCKETS + sub + 1) * 2 ** (exponent - SUB_BITS) - 1;
}

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  count = 0;
  /** Exact, not bucketed. */
  maxNs = 0;

  /** Record one latency in nanoseconds. */
  record(ns: number): void {
    const value = ns > 0 ? Math.round(ns) : 0;
    (this.#counts[bucketOf(value)] as number) += 1;
    this.count++;
    if (value > this.maxNs) this.maxNs = value;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) (this.#counts[i] as number) += other.#counts[i] as number;
    this.count += other.count;
    if (other.maxNs > this.maxNs) this.maxNs = other.maxNs;
  }

  /** The value at percentile `p` (0-100) in nanoseconds: its bucket's upper edge, never above the max; NaN when empty. */
  percentileNs(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] as number;
      if (seen >= rank) return Math.min(upperEdgeOf(i), this.maxNs);
    }
    return this.maxNs;
  }
}
