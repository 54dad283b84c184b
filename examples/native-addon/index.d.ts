/** The longest value one entry holds, bytes. */
export declare const LENGTH_MAX: number;

export interface InternerOptions {
  /** The pool's hard limit, bytes (≥ 2 MiB). Default 64 MiB. */
  limitBytes?: number;
}

export interface InternerStats {
  limitBytes: number;
  bytesInUse: number;
  residentBytes: number;
}

export declare class Interner {
  constructor(options?: InternerOptions);
  intern(value: string | Uint8Array): number;
  find(value: string | Uint8Array): number | undefined;
  bytes(id: number): Uint8Array | undefined;
  string(id: number): string | undefined;
  readonly size: number;
  stats(): InternerStats;
  close(): void;
}
