/**
 * A file or block device through synchronous calls (pread, pwrite, fdatasync),
 * for an offline job that does nothing else meanwhile: `dmsnap merge`. Each
 * `fs.promises` call costs a round trip through libuv's thread pool (tens of
 * microseconds on a busy machine), which dominates a merge of a random layout
 * (one origin write per chunk); the same calls made synchronously cost the
 * system call alone. Same semantics as FileDevice: flush = fdatasync, so
 * flush-before is a fdatasync before the write and FUA one after it. The
 * promises it returns are already settled, so the caller's ordering is kept.
 */
import { fdatasyncSync, readSync, writeSync } from "node:fs";
import type { promises as fs } from "node:fs";
import { SECTOR_SIZE } from "@dmsnap/format";
import { checkRange, type BlockDevice, type WriteFlags } from "./device.js";
import { ioError } from "./errors.js";

/** The system calls used (a test passes recording ones). */
export interface BlockingIo {
  readSync: (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => number;
  writeSync: (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => number;
  fdatasyncSync: (fd: number) => void;
}

const NODE_IO: BlockingIo = { readSync, writeSync, fdatasyncSync };
/** One settled promise for every successful write and flush: a merge makes a million of them. */
const DONE: Promise<void> = Promise.resolve();

export class BlockingFileDevice implements BlockDevice {
  private readonly fd: number;
  private constructor(
    readonly path: string,
    private readonly handle: fs.FileHandle,
    readonly size: number,
    private readonly io: BlockingIo,
    readonly logicalBlockSize: number,
    private readonly nextStep: string | undefined,
  ) {
    this.fd = handle.fd;
  }

  /**
   * Wraps a handle the caller opened, checked and locked (see
   * FileDevice.fromHandle); its open flags decide whether writes are allowed.
   * `logicalBlockSize` is a block device's (blockDeviceLogicalBlockSize).
   * `nextStep`: what an I/O error message advises (default: the COW advice;
   * an output being built says it was not put in place). close() closes it.
   */
  static fromHandle(path: string, handle: fs.FileHandle, size: number, io: BlockingIo = NODE_IO, logicalBlockSize = SECTOR_SIZE, nextStep?: string): BlockingFileDevice {
    return new BlockingFileDevice(path, handle, size, io, logicalBlockSize, nextStep);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      checkRange(this, offset, length, "read");
      const buf = new Uint8Array(length);
      for (let done = 0; done < length; ) {
        const n = this.io.readSync(this.fd, buf, done, length - done, offset + done);
        if (n === 0) break; // past the end of a file that shrank: zeros, as FileDevice reads them
        done += n;
      }
      return Promise.resolve(buf);
    } catch (e) {
      return Promise.reject(ioError(e, `reading ${length} bytes at offset ${offset} of ${this.path}`, this.nextStep));
    }
  }

  write(offset: number, data: Uint8Array, flags?: WriteFlags): Promise<void> {
    try {
      checkRange(this, offset, data.length, "write");
      if (flags?.flushBefore) this.flushNow();
      for (let done = 0; done < data.length; ) done += this.io.writeSync(this.fd, data, done, data.length - done, offset + done);
      if (flags?.fua) this.flushNow();
      return DONE;
    } catch (e) {
      return Promise.reject(ioError(e, `writing ${data.length} bytes at offset ${offset} of ${this.path}`, this.nextStep));
    }
  }

  flush(): Promise<void> {
    try {
      this.flushNow();
      return DONE;
    } catch (e) {
      return Promise.reject(ioError(e, `flushing ${this.path}`, this.nextStep));
    }
  }

  private flushNow(): void {
    this.io.fdatasyncSync(this.fd);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
