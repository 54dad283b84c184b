// The @dbos/pagetable addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from '@dbos/platform';

/** A page set as the binding takes it: (list, first, count); a list wins over the range. */
export type NativePages = [list: Uint32Array | null, first: number, count: number];

/** binding/pt_probe.cc */
export interface NativeProbe {
  runtime: 'host' | 'guest';
  dirty: 'none' | 'uffd-wp-async' | 'shadow-compare' | 'pte-dirty-bits';
  faults: 'none' | 'userfaultfd' | 'userfaultfd-user-mode-only' | 'guest-page-fault';
  faultsMinor: boolean;
  accessed: 'none' | 'pte-accessed-bits';
  present: boolean;
  hugePages: 'thp' | 'none';
  frames: boolean;
}

/** binding/pt_frames.cc */
export interface NativeFrames {
  release(...pages: NativePages): void;
  close(): void;
}

/** binding/pt_region.cc */
export interface NativeRegion {
  map(list: Uint32Array | null, first: number, count: number, prot: number): void;
  mapFrames(
    list: Uint32Array | null,
    first: number,
    count: number,
    frames: NativeFrames,
    frameList: Uint32Array | null,
    frameFirst: number,
    frameCount: number,
    prot: number,
  ): void;
  unmap(...pages: NativePages): void;
  discard(...pages: NativePages): void;
  move(
    sourceList: Uint32Array | null,
    sourceFirst: number,
    sourceCount: number,
    targetList: Uint32Array | null,
    targetFirst: number,
    targetCount: number,
  ): void;
  protect(list: Uint32Array | null, first: number, count: number, prot: number): void;
  populate(...pages: NativePages): void;
  view(offset: number, length: number): ArrayBuffer;
  release(buffer: ArrayBuffer): boolean;
  pinned(first: number, count: number): boolean;
  liveViews(): number;
  pageQuery(page: number): { state: number; prot: number; frame: number };
  dirtyStart(mechanism: number): void;
  dirtyStop(): void;
  dirtyMechanism(): NativeProbe['dirty'];
  dirtyCollect(first: number, count: number, reset: boolean, capacity: number): [Uint32Array, number];
  dirtyReset(first: number, count: number): void;
  presentCollect(first: number, count: number, capacity: number): [Uint32Array, number];
  faultsFill(byte: number, stampIndex: boolean): void;
  faultsDisable(): void;
  stats(): { runtimeCalls: number; pagesMapped: number; faultsServed: number; faultsFailed: number };
  close(): void;
}

export interface PagetableAddon {
  probe(): NativeProbe;
  /** binding/pt_probe.cc: dbos_pt_host_mechanism_format(), the host line of probe().mechanisms. */
  hostMechanism(): string;
  /** binding/pt_region.cc: the longest view the binding makes, bytes. */
  viewLengthMax: number;
  NativeRegion: new (size: number, flags: number) => NativeRegion;
  NativeFrames: new (frameCount: number) => NativeFrames;
}

export const addon = loadAddon<PagetableAddon>(import.meta.url);
