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
import { constants as fsConstants, promises as fs } from "node:fs";
import { readFileSync } from "node:fs";
import { SECTOR_SIZE } from "@dmsnap/format";
import { ioError, StoreError, StoreErrorCode } from "./errors.js";

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

export interface FileDeviceOptions {
  /** Open read-only (reads only; writes throw). */
  readOnly?: boolean;
  /** Skip fdatasync (benchmarks of the raw path, tests on tmpfs). Never for real data. */
  noSync?: boolean;
}

/**
 * A regular file or a block device, through `fs.promises`. flush = fdatasync,
 * so flush-before is a fdatasync before the write and FUA one after it.
 */
export class FileDevice implements BlockDevice {
  readonly logicalBlockSize = SECTOR_SIZE;
  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
    readonly size: number,
    private readonly options: FileDeviceOptions,
  ) {}

  /**
   * Wraps a handle the caller opened (and checked, locked) itself: the CLI
   * opens every file in one place and hands the store the result. `size` is
   * the caller's measure (a block device's comes from the device, not fstat).
   * close() closes the handle.
   */
  static fromHandle(path: string, handle: fs.FileHandle, size: number, options: FileDeviceOptions = {}): FileDevice {
    return new FileDevice(path, handle, size, options);
  }

  static async open(path: string, options: FileDeviceOptions = {}): Promise<FileDevice> {
    const handle = await fs.open(path, options.readOnly ? fsConstants.O_RDONLY : fsConstants.O_RDWR);
    try {
      const st = await handle.stat();
      const size = st.isBlockDevice() ? blockDeviceSize(st.rdev) : st.size;
      return new FileDevice(path, handle, size, options);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** The open descriptor (to hand to a tool such as fallocate through /proc). */
  get fd(): number {
    return this.handle.fd;
  }

  async isRegularFile(): Promise<boolean> {
    return (await this.handle.stat()).isFile();
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length, "read");
    const buf = new Uint8Array(length);
    await this.readInto(buf, offset);
    return buf;
  }

  /** Reads `buf.length` bytes at `offset` into `buf` (no allocation: the export path uses it). */
  async readInto(buf: Uint8Array, offset: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      let n: number;
      try {
        ({ bytesRead: n } = await this.handle.read(buf, done, buf.length - done, offset + done));
      } catch (e) {
        throw ioError(e, `reading ${buf.length} bytes at offset ${offset} of ${this.path}`);
      }
      if (n === 0) {
        buf.fill(0, done);
        return;
      }
      done += n;
    }
  }

  async write(offset: number, data: Uint8Array, flags: WriteFlags = {}): Promise<void> {
    checkRange(this, offset, data.length, "write");
    if (flags.flushBefore) await this.flush();
    let done = 0;
    while (done < data.length) {
      try {
        const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      } catch (e) {
        throw ioError(e, `writing ${data.length} bytes at offset ${offset} of ${this.path}`);
      }
    }
    if (flags.fua) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.options.noSync) return;
    try {
      await this.handle.datasync();
    } catch (e) {
      throw ioError(e, `flushing ${this.path}`);
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function blockDeviceSize(rdev: number): number {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((Math.floor(rdev / 1048576) & 0xfff) << 8);
  return Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, "utf8").trim()) * SECTOR_SIZE;
}

/** The format codec's async reader over a device. */
export function deviceReader(dev: BlockDevice): { size: number; read(offset: number, length: number): Promise<Uint8Array> } {
  return { size: dev.size, read: (offset, length) => dev.read(offset, length) };
}
