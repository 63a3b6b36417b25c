/**
 * Raw replay baselines: a BlockDevice wrapper that records every read, write
 * and flush in order (no strace, no per-entry objects: typed arrays), and a
 * replay of such a log with plain fs calls on the same files. The replay is
 * the cost of the I/O alone: a benchmark divides the engine's time by it.
 * A write with flush-before is recorded as flush + write, with FUA as write + flush
 * (FileDevice implements them as fdatasync calls around the write).
 */
import { fdatasyncSync, readSync, writeSync } from "node:fs";

export const READ = 0;
export const WRITE = 1;
export const FLUSH = 2;

export class OpLog {
  constructor(capacity = 1 << 16) {
    this.n = 0;
    this.alloc(capacity);
  }
  alloc(cap) {
    const grow = (Old, T) => {
      const a = new T(cap);
      if (Old) a.set(Old.subarray(0, this.n));
      return a;
    };
    this.kind = grow(this.kind, Uint8Array);
    this.dev = grow(this.dev, Uint8Array);
    this.offset = grow(this.offset, Float64Array);
    this.length = grow(this.length, Float64Array);
  }
  push(kind, dev, offset, length) {
    if (this.n === this.kind.length) this.alloc(this.n * 2);
    this.kind[this.n] = kind;
    this.dev[this.n] = dev;
    this.offset[this.n] = offset;
    this.length[this.n] = length;
    this.n++;
  }
  counts() {
    const c = { reads: 0, writes: 0, flushes: 0, readBytes: 0, writeBytes: 0 };
    for (let i = 0; i < this.n; i++) {
      if (this.kind[i] === READ) (c.reads++, (c.readBytes += this.length[i]));
      else if (this.kind[i] === WRITE) (c.writes++, (c.writeBytes += this.length[i]));
      else c.flushes++;
    }
    return c;
  }
  maxLength() {
    let m = 0;
    for (let i = 0; i < this.n; i++) m = Math.max(m, this.length[i]);
    return m;
  }
}

/** `dev` with every operation appended to `log` as device number `id`. */
export function recording(dev, log, id) {
  const wrapped = {
    get size() {
      return dev.size;
    },
    get logicalBlockSize() {
      return dev.logicalBlockSize;
    },
    read(offset, length) {
      log.push(READ, id, offset, length);
      return dev.read(offset, length);
    },
    write(offset, data, flags) {
      if (flags?.flushBefore) log.push(FLUSH, id, 0, 0);
      log.push(WRITE, id, offset, data.length);
      if (flags?.fua) log.push(FLUSH, id, 0, 0);
      return dev.write(offset, data, flags);
    },
    flush() {
      log.push(FLUSH, id, 0, 0);
      return dev.flush();
    },
    close: () => dev.close(),
  };
  if (typeof dev.readInto === "function") {
    wrapped.readInto = (buf, offset) => {
      log.push(READ, id, offset, buf.length);
      return dev.readInto(buf, offset);
    };
  }
  return wrapped;
}

/**
 * Replays `log` with synchronous fs calls on `fds` (device number -> fd): each
 * read into one buffer, each write from it (a copy writes what it read), each
 * flush an fdatasync. Returns milliseconds.
 */
export function replaySync(log, fds) {
  const buf = Buffer.alloc(Math.max(512, log.maxLength()));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < log.n; i++) {
    const fd = fds[log.dev[i]];
    const k = log.kind[i];
    if (k === READ) readSync(fd, buf, 0, log.length[i], log.offset[i]);
    else if (k === WRITE) writeSync(fd, buf, 0, log.length[i], log.offset[i]);
    else fdatasyncSync(fd);
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The same replay through fs.promises file handles (one operation at a time). */
export async function replayAsync(log, handles) {
  const buf = Buffer.alloc(Math.max(512, log.maxLength()));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < log.n; i++) {
    const h = handles[log.dev[i]];
    const k = log.kind[i];
    if (k === READ) await h.read(buf, 0, log.length[i], log.offset[i]);
    else if (k === WRITE) await h.write(buf, 0, log.length[i], log.offset[i]);
    else await h.datasync();
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
