/**
 * Export of many small COW chunks in a scattered order (1-sector chunks
 * written by random origin writes: 2 Mi exceptions for 1 GiB). Written over
 * the origin one chunk at a time, each chunk is a write of 512 bytes at a
 * random offset (2 Mi system calls, about 33 s for 1 GiB); read one chunk at
 * a time in origin order, each is a read. Instead the chunks are sorted by
 * origin window in two passes, with big reads and writes only:
 *
 * 1. count: the metadata is walked once and each served entry counted in the
 *    window of origin bytes (WINDOW_BYTES) its chunk falls in;
 * 2. spill: the COW is read in big sequential blocks, each chunk copied into
 *    its window's bucket (with its place in the window), and a full bucket
 *    written as one record into that window's region of a spill file (an
 *    unnamed O_TMPFILE in the output's folder: gone when closed, also after
 *    kill -9; its pages are dropped before they need to reach the disk);
 * 3. assemble: window by window, the origin's bytes are read into a buffer
 *    (unless the COW serves every chunk of the window: counted with a bit per
 *    origin chunk of the group while spilling, 256 KiB for 2 Mi chunks),
 *    the window's records read back in one sequential read and their chunks
 *    copied into place, LAST entry first so that the first entry naming a
 *    chunk wins (as the kernel serves it), and the window written at once.
 *
 * Memory is fixed (a window, the buckets, three read blocks, the group's bits: about 4.7 MiB),
 * whatever the exception count; origins of more than 512 windows (1 GiB)
 * take one spill pass per group of windows. The spill is used only when the
 * COW's data chunks follow its metadata (the layout every writer leaves,
 * checked while counting), since it reads the COW in sequential blocks.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { areaOfEntry, chunkAtByte, chunkBytes, chunkOffset, chunksCovering, decodeEntriesInto, entryDeviceOffset, entryOffset, ExceptionTable, exceptionsPerArea, indexInArea } from "@dmsnap/format";
import { ioError } from "./errors.js";
import type { PositionedWrite } from "./exportOverlay.js";
import type { FileDevice } from "./fileDevice.js";

/** Linux's O_TMPFILE (with O_DIRECTORY): an unnamed file in the folder named, freed when its descriptor closes. */
const O_TMPFILE = 0o20200000;
const O_RDWR = 2;

export interface SpillSizes {
  /** Origin bytes assembled at a time (a whole number of chunks). */
  windowBytes: number;
  /** Bytes of all the buckets together. */
  bucketBytes: number;
  /** Bytes of each sequential read (COW metadata, COW data, spill records). */
  blockBytes: number;
  /** Windows one spill pass sorts (buckets of at least 8 KiB each within bucketBytes). */
  groupWindows: number;
}

/**
 * Measured on 2 Mi 1-sector exceptions (whole process, GNU time): buckets of
 * 4 MiB took the export to 67 MB of RSS for no gain in time over 2 MiB
 * (3.3 s of CPU either way); 64 MB with these. Windows and buckets of 4 MiB
 * and 256 KiB blocks took 22 % less CPU (2.7-2.9 s against 3.6-3.7 s, in
 * process, 2026-12-08) but the CLI's peak RSS to 67 MiB, over export's 64.
 */
export const SPILL_SIZES: SpillSizes = { windowBytes: 2 << 20, bucketBytes: 2 << 20, blockBytes: 128 << 10, groupWindows: 512 };
/** The spill is worth it from this many served chunks on (below, a write per chunk is cheap enough). */
export const SPILL_MIN_CHUNKS = 1 << 17;
/** Chunks larger than this are few per byte: the overlay's write per chunk is cheap enough. */
export const SPILL_MAX_CHUNK_BYTES = 4096;

export interface SpillJob {
  origin: FileDevice;
  cow: FileDevice;
  chunkSize: number;
  exceptionCount: number;
  originBytes: number;
  /** The folder of the spill file. */
  dir: string;
  /** Writes a window of the view (the caller's, holes kept where it keeps them). */
  write: PositionedWrite;
  onBytes?: (written: number) => void;
  /** Tests shrink them. */
  sizes?: Partial<SpillSizes>;
  /** Served chunks from the first pass; below SPILL_MIN_CHUNKS the spill declines (tests pass 0). */
  minChunks?: number;
}

/** A sequential reader: a read outside the block held reads the next block from there on (zeros past the end). */
class Blocks {
  start = 0;
  len = 0;
  constructor(
    private readonly dev: FileDevice,
    readonly buf: Uint8Array,
  ) {}
  /** The offset in `buf` of device bytes [pos, pos + n); n at most the block size. */
  at(pos: number, n: number): number {
    if (pos < this.start || pos + n > this.start + this.len) {
      this.start = pos;
      this.len = this.buf.length;
      readFully(this.dev.fd, this.dev.path, this.buf, 0, this.len, pos);
    }
    return pos - this.start;
  }
}

/**
 * Walks the entries in list order, area by area, calling `each(old, new)`
 * for every entry; metadata is read through `meta` (sequential blocks).
 */
function walk(cs: number, count: number, meta: Blocks, table: ExceptionTable, each: (o: number, n: number) => void): void {
  const perArea = exceptionsPerArea(cs);
  for (let i = 0; i < count; ) {
    const area = areaOfEntry(cs, i);
    const first = indexInArea(cs, i);
    const n = Math.min(perArea - first, count - i); // an area's metadata is one chunk, at most a block
    const bytes = entryOffset(n);
    const at = meta.at(entryDeviceOffset(cs, area, first), bytes);
    table.count = 0;
    decodeEntriesInto(meta.buf.subarray(at, at + bytes), n, table, area, first);
    const olds = table.oldChunk;
    const news = table.newChunk;
    for (let k = 0; k < table.count; k++) each(olds[k]!, news[k]!);
    i += n;
  }
}

/**
 * Writes the view by the spill (above), or returns false having written
 * nothing when it does not apply: too few or too large chunks, a COW whose
 * data chunks do not follow its metadata, no O_TMPFILE on this file system.
 */
export function spillExport(job: SpillJob): boolean {
  const { origin, cow, chunkSize: cs, exceptionCount: count, originBytes: total } = job;
  const sizes = { ...SPILL_SIZES, ...job.sizes };
  const cb = chunkBytes(cs);
  if (cb > SPILL_MAX_CHUNK_BYTES || cb > sizes.blockBytes || total === 0 || count === 0) return false;
  const originChunks = chunksCovering(cs, total);
  const windowChunks = Math.max(1, chunkAtByte(cs, sizes.windowBytes));
  const windowBytes = chunkOffset(cs, windowChunks);
  const windows = Math.ceil(originChunks / windowChunks);
  const groupWindows = Math.min(windows, sizes.groupWindows);
  // Slots of a bucket: bucketBytes shared by the group's windows, each slot a chunk and its place (4 bytes).
  const slots = Math.floor(sizes.bucketBytes / groupWindows / (cb + 4));
  if (slots < 1) return false;
  const record = slots * (cb + 4);
  const served = (o: number, n: number): number => {
    if (o >= originChunks) return 0;
    const need = Math.min(cb, total - chunkOffset(cs, o));
    return chunkOffset(cs, n) + need > cow.size ? 0 : need;
  };

  // 1. Count served entries per window; count jumps in the data chunks' order.
  const meta = new Blocks(cow, new Uint8Array(sizes.blockBytes));
  const table = new ExceptionTable(exceptionsPerArea(cs));
  const counts = new Float64Array(windows);
  let chunks = 0;
  let jumps = 0;
  let prev = -1;
  walk(cs, count, meta, table, (o, n) => {
    if (served(o, n) === 0) return;
    counts[Math.floor(o / windowChunks)]!++;
    chunks++;
    if (n < prev || chunkOffset(cs, n - prev) > sizes.blockBytes) jumps++;
    prev = n;
  });
  // Sequential blocks serve the data only when it mostly follows in order.
  if (chunks < (job.minChunks ?? SPILL_MIN_CHUNKS) || jumps * 64 > chunks) return false;

  let spill: number;
  try {
    spill = openSync(job.dir, O_TMPFILE | O_RDWR, 0o600);
  } catch {
    return false; // no O_TMPFILE here (another system, an old kernel, a file system without it)
  }
  try {
    const spillName = `the export's spill file (unnamed, in ${job.dir})`;
    // One arena for the COW block, the buckets, the window and a piece of records: every chunk is moved by copyWithin (native, no view per chunk).
    const windowLen = Math.ceil(Math.min(windowBytes, total) / 8) * 8; // keeps the piece after it 4-byte aligned
    const pieceLen = Math.max(record, Math.floor(sizes.blockBytes / record) * record);
    const arena = new Uint8Array(sizes.blockBytes + record * groupWindows + windowLen + pieceLen);
    const data = new Blocks(cow, arena.subarray(0, sizes.blockBytes));
    const BUCKETS = sizes.blockBytes;
    const WINDOW = BUCKETS + record * groupWindows;
    const PIECE = WINDOW + windowLen;
    const words = new Uint32Array(arena.buffer, 0, arena.length >>> 2); // places: 4-byte aligned (blockBytes, record and windowLen are multiples of 4)
    const fill = new Int32Array(groupWindows);
    // Which origin chunks of the group the COW serves (a bit each: 256 KiB for 2 Mi chunks), and how many per window:
    // a window the COW covers whole is never read from the origin (every chunk of a 1 GiB view in the COW: 1 GiB not read).
    const coveredBits = new Uint8Array(Math.ceil((groupWindows * windowChunks) / 8));
    const coveredCount = new Float64Array(groupWindows);
    const written = new Float64Array(groupWindows); // records written per window
    const regions = new Float64Array(groupWindows + 1); // first record of each window's region
    const flush = (g: number): void => {
      spillWrite(spill, arena, BUCKETS + g * record, record, (regions[g]! + written[g]!) * record);
      written[g]!++;
      fill[g] = 0;
    };
    let done = 0;
    for (let w0 = 0; w0 < windows; w0 += groupWindows) {
      const w1 = Math.min(windows, w0 + groupWindows);
      regions[0] = 0;
      for (let w = w0; w < w1; w++) regions[w - w0 + 1] = regions[w - w0]! + Math.ceil(counts[w]! / slots);
      fill.fill(0);
      written.fill(0);
      coveredBits.fill(0);
      coveredCount.fill(0);
      // 2. Spill this group's chunks, in list order, into their windows' buckets.
      {
        walk(cs, count, meta, table, (o, n) => {
          const need = served(o, n);
          if (need === 0) return;
          const w = Math.floor(o / windowChunks);
          if (w < w0 || w >= w1) return;
          const g = w - w0;
          const bit = o - w0 * windowChunks;
          const mask = 1 << (bit & 7);
          if ((coveredBits[bit >>> 3]! & mask) === 0) {
            coveredBits[bit >>> 3] = coveredBits[bit >>> 3]! | mask;
            coveredCount[g]!++;
          }
          const k = fill[g]!;
          const at = data.at(chunkOffset(cs, n), need);
          arena.copyWithin(BUCKETS + g * record + k * cb, at, at + need);
          words[(BUCKETS + g * record + slots * cb) / 4 + k] = o - w * windowChunks;
          fill[g] = k + 1;
          if (k + 1 === slots) flush(g);
        });
        for (let g = 0; g < w1 - w0; g++) if (fill[g]! > 0) flush(g);
      }
      // 3. Assemble each window: the origin, then its chunks last entry first.
      for (let w = w0; w < w1; w++) {
        const g = w - w0;
        const from = w * windowBytes;
        const len = Math.min(windowBytes, total - from);
        // Whole chunks of the window: a partial last chunk of the origin counts as one (served() covers its bytes).
        if (coveredCount[g]! < chunksCovering(cs, len)) readFully(origin.fd, origin.path, arena, WINDOW, len, from);
        const perPiece = pieceLen / record;
        // Records of this window from the last; record r holds min(slots, counts[w] - r * slots) chunks.
        for (let r = regions[g + 1]! - regions[g]!; r > 0; ) {
          const r0 = Math.max(0, r - perPiece);
          readFully(spill, spillName, arena, PIECE, (r - r0) * record, (regions[g]! + r0) * record);
          for (let j = r - r0 - 1; j >= 0; j--) {
            const used = Math.min(slots, counts[w]! - (r0 + j) * slots);
            for (let k = used - 1; k >= 0; k--) {
              const to = chunkOffset(cs, words[(PIECE + j * record + slots * cb) / 4 + k]!);
              const src = PIECE + j * record + k * cb;
              arena.copyWithin(WINDOW + to, src, src + Math.min(cb, len - to));
            }
          }
          r = r0;
        }
        const wr = job.write(arena, WINDOW, len, from);
        if (wr) throw new Error("spillExport needs a blocking write");
        done += len;
        job.onBytes?.(done);
      }
    }
    return true;
  } finally {
    closeSync(spill);
  }
}


function spillWrite(fd: number, buf: Uint8Array, offset: number, length: number, position: number): void {
  for (let done = 0; done < length; ) {
    try {
      done += writeSync(fd, buf, offset + done, length - done, position + done);
    } catch (e) {
      throw ioError(e, `writing ${length} bytes of the export's spill file (in the output's folder) at offset ${position}`);
    }
  }
}

/** A blocking positioned read; zeros past the end. */
function readFully(fd: number, name: string, buf: Uint8Array, offset: number, length: number, position: number): void {
  for (let done = 0; done < length; ) {
    let n: number;
    try {
      n = readSync(fd, buf, offset + done, length - done, position + done);
    } catch (e) {
      throw ioError(e, `reading ${length} bytes at offset ${position} of ${name}`);
    }
    if (n === 0) {
      buf.fill(0, offset + done, offset + length);
      return;
    }
    done += n;
  }
}
