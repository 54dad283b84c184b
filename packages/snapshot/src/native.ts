// The @dbos/snapshot addon, typed. Each binding file (binding/*.cc) adds its part here.
// Calls into it go through @dbos/platform's callNative / settleNative, which give every error its class.
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

/** The header of an image that verified or loaded. A failure rejects with `badPage` on the error. @internal */
export interface NativeImageHeader {
  pageCount: number;
  pageSize: number;
  epoch: number;
  takenNs: number;
  mechanism: number;
  version: number;
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
  imageLoad(fd: number): Promise<NativeImageHeader>;
  nativeHandle(): object;
  close(): void;
}

/** @internal */
export interface NativeSpaceClass {
  new (size: number, mechanism: number, raw: boolean, hugePages: boolean, populate: boolean, copyReservePages: number): NativeSpace;
}

/** @internal */
export interface SnapshotAddon {
  Space: NativeSpaceClass;
  mechanisms(): Array<{ mechanism: string; available: boolean; reason: string | null }>;
  /** dbos_snap_host_mechanism_format: the line probe() shows. */
  mechanismLine(): string;
  verifyImage(fd: number): Promise<NativeImageHeader>;
  imageSize(pageCount: number): number;
  crc32c(crc: number, bytes: Uint8Array): number;
}

/** @internal */
export const addon = loadAddon<SnapshotAddon>(import.meta.url);
