// The @dbos/snapshot addon, typed. Each binding file (binding/*.cc) adds its part here.
import { loadAddon } from '@dbos/platform';

/** dbos_snap_info, as the binding returns it. @internal */
export interface NativeSnapshotInfo {
  mechanism: number;
  epoch: number;
  takenNs: number;
  takeDurationNs: number;
  copies: number;
}

/** dbos_snap_stats, as the binding returns it. @internal */
export interface NativeSpaceStats {
  snapshotsLive: number;
  writersRegistered: number;
  epoch: number;
  copiesLive: number;
  copiesMade: number;
  copyRacesLost: number;
  faultsHandled: number;
  snapshotsTaken: number;
}

/** The native workload's counters. @internal */
export interface NativeWorkloadStats {
  writes: number;
  gapNsMax: number;
  quiesces: number;
  realtimeWriters: number;
}

/** binding/snapshot.cc `Space`: one C space and the memory it covers. @internal */
export interface NativeSpace {
  memory(): ArrayBuffer;
  mechanism(): number;
  take(): number;
  release(id: number): void;
  info(id: number): NativeSnapshotInfo;
  pageRead(id: number, page: number, target: Uint8Array): void;
  read(id: number, offset: number, length: number, target: Uint8Array): void;
  dirtySince(id: number, bitmap: BigUint64Array): number;
  writeBegin(page: number): void;
  writeEnd(): void;
  writeCopy(offset: number, data: Uint8Array): void;
  stats(): NativeSpaceStats;
  imageWrite(
    id: number,
    fd: number,
    onProgress: ((done: number, total: number) => void) | null,
    progressIntervalBytes: number,
    sync: boolean,
  ): Promise<{ bytesWritten: number; path: string }>;
  imageLoad(fd: number): Promise<NativeImageCheck>;
  close(): void;
  workloadStart(writers: number, barrier: boolean, wholePage: boolean, trackEpochs: boolean, hotPages: number, realtime: boolean): void;
  workloadStop(): void;
  workloadFill(): void;
  workloadStats(resetGap: boolean): NativeWorkloadStats;
  workloadCheck(id: number, epoch: number, quiesce: number): { mismatches: number; firstBad: number };
  firstWrites(first: number, count: number, stride: number, barrier: boolean): number;
}

/** @internal */
export interface NativeSpaceClass {
  new (size: number, mechanism: number, raw: boolean, hugePages: boolean, populate: boolean, copyReservePages: number): NativeSpace;
}

/** @internal */
export interface NativeImageCheck {
  status: string;
  pageCount: number;
  pageSize: number;
  epoch: number;
  takenNs: number;
  mechanism: number;
  version: number;
  badPage: number;
}

export interface SnapshotAddon {
  Space: NativeSpaceClass;
  mechanisms(): Array<{ mechanism: string; available: boolean; reason: string | null }>;
  verifyImage(fd: number): Promise<NativeImageCheck>;
  imageSize(pageCount: number): number;
  crc32c(crc: number, bytes: Uint8Array): number;
}

export const addon = loadAddon<SnapshotAddon>(import.meta.url);
