/**
 * Block devices as the store sees them: asynchronous reads and writes of byte
 * ranges, a cache flush, and two flags on writes that mirror the kernel's
 * request flags: `flushBefore` (everything completed before this write was
 * submitted is made durable first) and `fua` (forced unit access: this write
 * is durable when it completes).
 *
 * The buffer contract is the one real devices have with DMA: a device may read
 * the caller's `data` at any moment until the write's promise settles, so the
 * caller must leave it untouched until then. The 2009 header race was a break
 * of exactly this contract; the simulated devices read the buffer at
 * completion time so that such a break shows up in tests.
 */
import { SECTOR_SIZE } from "@dmsnap/format";
import { StoreError, StoreErrorCode } from "./errors.js";

export interface WriteFlags {
  /** Make every write completed before this one durable before it is applied. */
  flushBefore?: boolean;
  /** The write itself is durable when its promise resolves. */
  fua?: boolean;
}

export interface BlockDevice {
  /** Size in bytes. */
  readonly size: number;
  /** Logical block size in bytes (512 for files). */
  readonly logicalBlockSize: number;
  /** Reads [offset, offset + length) into a new buffer. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Writes `data` at `offset`. `data` must not change until the promise settles. */
  write(offset: number, data: Uint8Array, flags?: WriteFlags): Promise<void>;
  /** Makes every completed write durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function checkRange(dev: { size: number }, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > dev.size) {
    throw new StoreError(StoreErrorCode.InvalidArgument, `${what} of ${length} bytes at offset ${offset} lies outside the ${dev.size}-byte device`);
  }
}

/** A device in memory. Operations take effect when called and settle on a later microtask. */
export class MemoryDevice implements BlockDevice {
  readonly bytes: Uint8Array;
  readonly logicalBlockSize: number;
  writes = 0;
  flushes = 0;

  constructor(sizeOrBytes: number | Uint8Array, options: { logicalBlockSize?: number } = {}) {
    this.bytes = typeof sizeOrBytes === "number" ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
    this.logicalBlockSize = options.logicalBlockSize ?? SECTOR_SIZE;
  }

  get size(): number {
    return this.bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length, "read");
    return this.bytes.slice(offset, offset + length);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length, "write");
    this.bytes.set(data, offset);
    this.writes++;
  }

  async flush(): Promise<void> {
    this.flushes++;
  }

  async close(): Promise<void> {}
}

/** The format codec's async reader over a device. */
export function deviceReader(dev: BlockDevice): { size: number; read(offset: number, length: number): Promise<Uint8Array> } {
  return { size: dev.size, read: (offset, length) => dev.read(offset, length) };
}
