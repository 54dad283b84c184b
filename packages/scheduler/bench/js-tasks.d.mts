// Types of bench/js-tasks.mjs (plain JavaScript so that both pools' workers load it without a loader).

export interface ShortWork {
  iterationsPerUnit: number;
  units: number;
}

export interface ScanWork {
  iterationsPerUnit: number;
  units: number;
  /** Int32Array word 0: nonzero once the run ends. */
  stop: SharedArrayBuffer;
  /** Int32Array: this scan's units done, at word slot * 16. */
  progress: SharedArrayBuffer;
  slot: number;
}

export function spin(iterations: number): number;
export function short(work: ShortWork): number;
export function scan(work: ScanWork): Promise<number>;
