/**
 * Random access to a device's bytes. Callers implement these over whatever
 * they have (a file, a block device, a Blob, an array); the codec does no I/O.
 * `read` is only ever asked for ranges inside [0, size).
 */
export interface SyncReader {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export interface AsyncReader {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A reader over bytes already in memory. */
export function bytesReader(bytes: Uint8Array): SyncReader {
  return {
    size: bytes.length,
    read: (offset, length) => bytes.subarray(offset, offset + length),
  };
}
