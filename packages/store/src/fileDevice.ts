/**
 * The Node-only block device: a regular file or a block device through
 * `fs.promises` (`@dmsnap/store/node`). Kept out of device.ts so the core
 * engine bundles for a browser without `fs`.
 */
import { constants as fsConstants, promises as fs } from "node:fs";
import { readFileSync } from "node:fs";
import { SECTOR_SIZE, sectorBytes } from "@dmsnap/format";
import { checkRange, type BlockDevice, type WriteFlags } from "./device.js";
import { ioError } from "./errors.js";

export interface FileDeviceOptions {
  /** Open read-only (reads only; writes throw). */
  readOnly?: boolean;
  /** Skip fdatasync (benchmarks of the raw path, tests on tmpfs). Never for real data. */
  noSync?: boolean;
  /** The device's logical block size in bytes (blockDeviceLogicalBlockSize); 512 for a file. */
  logicalBlockSize?: number;
  /** The next step an I/O error message gives (default: the advice about a COW; an output being built says it was not put in place). */
  nextStep?: string;
}

/**
 * A regular file or a block device, through `fs.promises`. flush = fdatasync,
 * so flush-before is a fdatasync before the write and FUA one after it.
 */
export class FileDevice implements BlockDevice {
  readonly logicalBlockSize: number;
  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
    readonly size: number,
    private readonly options: FileDeviceOptions,
  ) {
    this.logicalBlockSize = options.logicalBlockSize ?? SECTOR_SIZE;
  }

  /**
   * Wraps a handle the caller opened (and checked, locked) itself: the CLI
   * opens every file in one place and hands the store the result. `size` is
   * the caller's measure (a block device's comes from the device, not fstat),
   * as is `options.logicalBlockSize`. close() closes the handle.
   */
  static fromHandle(path: string, handle: fs.FileHandle, size: number, options: FileDeviceOptions = {}): FileDevice {
    return new FileDevice(path, handle, size, options);
  }

  static async open(path: string, options: FileDeviceOptions = {}): Promise<FileDevice> {
    const handle = await fs.open(path, options.readOnly ? fsConstants.O_RDONLY : fsConstants.O_RDWR);
    try {
      const st = await handle.stat();
      const block = st.isBlockDevice();
      const size = block ? blockDeviceSize(st.rdev) : st.size;
      return new FileDevice(path, handle, size, block ? { logicalBlockSize: blockDeviceLogicalBlockSize(st.rdev), ...options } : options);
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
        throw ioError(e, `reading ${buf.length} bytes at offset ${offset} of ${this.path}`, this.options.nextStep);
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
        throw ioError(e, `writing ${data.length} bytes at offset ${offset} of ${this.path}`, this.options.nextStep);
      }
    }
    if (flags.fua) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.options.noSync) return;
    try {
      await this.handle.datasync();
    } catch (e) {
      throw ioError(e, `flushing ${this.path}`, this.options.nextStep);
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The block device `rdev`'s (from stat) folder in sysfs. */
function sysfsBlockDir(rdev: number): string {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | ((Math.floor(rdev / 1048576) & 0xfff) << 8);
  return `/sys/dev/block/${major}:${minor}`;
}

/** The size in bytes of the block device `rdev` (from stat) as the kernel reports it: sysfs counts 512-byte sectors. */
export function blockDeviceSize(rdev: number): number {
  return sectorBytes(Number(readFileSync(`${sysfsBlockDir(rdev)}/size`, "utf8").trim()));
}

/**
 * The logical block size in bytes of the block device `rdev` (from stat): what
 * the kernel's BLKSSZGET returns and checks a chunk size against. Node has no
 * ioctl, so it is read where blockDeviceSize reads the size: sysfs
 * `queue/logical_block_size` (no child process, no util-linux needed, unlike
 * `blockdev --getss`). A partition has no queue of its own: its disk's is
 * one folder up.
 */
export function blockDeviceLogicalBlockSize(rdev: number): number {
  const dir = sysfsBlockDir(rdev);
  let text: string;
  try {
    text = readFileSync(`${dir}/queue/logical_block_size`, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    text = readFileSync(`${dir}/../queue/logical_block_size`, "utf8");
  }
  const bytes = Number(text.trim());
  if (!Number.isSafeInteger(bytes) || bytes < SECTOR_SIZE || bytes % SECTOR_SIZE !== 0) throw new Error(`${dir}/queue/logical_block_size holds ${JSON.stringify(text.trim())}, not a whole number of 512-byte sectors`);
  return bytes;
}
