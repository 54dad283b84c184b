// Small, honest timing helpers for benchmarks: warm up, then repeat and keep the median.

/** Run `fn` (which performs `operations` operations) and return operations per second, median of `rounds`. */
export async function opsPerSecond(operations: number, fn: () => unknown | Promise<unknown>, rounds = 5): Promise<number> {
  await fn(); // warm-up: JIT, page cache, rings
  const rates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await fn();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(operations / seconds);
  }
  return median(rates);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}
