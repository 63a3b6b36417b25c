/**
 * Export's second step: writes the COW chunks of the view over an output that
 * already holds the origin. The COW is read area by area, each run of
 * consecutive COW chunks in one read, and written at the origin offsets its
 * entries name, each run of consecutive origin chunks in one write. Memory is
 * constant (one metadata piece, its decoded columns, one data buffer),
 * whatever the exception count.
 *
 * The list is walked LAST entry first, so of two entries for one origin
 * chunk the first is written last and wins, as Linux 6.1 serves it (the
 * writes are issued in order; 6.12.118 serves the last: docs/format.md). Entries outside the view (origin chunk past
 * the origin's end) are skipped, and so are entries past the COW's end: the
 * first pass refused the image unless such an entry is shadowed.
 */
import { areaOfEntry, chunkAtByte, chunkBytes, chunkOffset, chunksCovering, decodeEntriesInto, entryDeviceOffset, entryOffset, ExceptionTable, indexInArea } from "@dmsnap/format";
import type { FileDevice } from "./fileDevice.js";

/** Writes `length` bytes of `buffer` from `offset` at `position` of the output; a promise only if it has not finished. */
export type PositionedWrite = (buffer: Uint8Array, offset: number, length: number, position: number) => void | Promise<void>;

export interface OverlayJob {
  cow: FileDevice;
  chunkSize: number;
  exceptionsPerArea: number;
  /** Entries loaded by activation (the first pass). */
  exceptionCount: number;
  /** Origin (and output) bytes. */
  originBytes: number;
  write: PositionedWrite;
  /** Bytes of the data buffer (rounded down to whole chunks, at least one chunk or this size). */
  bufferBytes: number;
  /** Called with the bytes written so far. */
  onBytes?: (written: number) => void;
}

/** Entries decoded at a time: 1 MiB of metadata. */
const PIECE_ENTRIES = 65536;

export async function overlayCowChunks(job: OverlayJob): Promise<void> {
  const { cow, chunkSize: cs, exceptionsPerArea: perArea, originBytes: total, write } = job;
  const cb = chunkBytes(cs);
  const originChunks = chunksCovering(cs, total);
  const pieceEntries = Math.min(perArea, PIECE_ENTRIES);
  const meta = new Uint8Array(entryOffset(pieceEntries));
  const table = new ExceptionTable(pieceEntries);
  // Whole chunks, or a piece of one chunk larger than the buffer.
  const runChunks = Math.max(1, chunkAtByte(cs, job.bufferBytes));
  const data = new Uint8Array(cb <= job.bufferBytes ? chunkOffset(cs, runChunks) : job.bufferBytes);
  let written = 0;
  // Served bytes of entry (o, n), or 0 when it is outside the view or its data outside the COW.
  const served = (o: number, n: number): number => {
    if (o >= originChunks) return 0;
    const need = Math.min(cb, total - o * cb);
    return chunkOffset(cs, n) + need > cow.size ? 0 : need;
  };

  for (let end = job.exceptionCount; end > 0; ) {
    // The piece holding entry end - 1, aligned within its area.
    const area = areaOfEntry(cs, end - 1);
    const last = indexInArea(cs, end - 1);
    const first = last - (last % pieceEntries);
    const n = last - first + 1;
    const piece = meta.subarray(0, entryOffset(n));
    await cow.readInto(piece, entryDeviceOffset(cs, area, first));
    table.count = 0;
    decodeEntriesInto(piece, n, table, area, first);
    const olds = table.oldChunk;
    const news = table.newChunk;
    // Runs of consecutive COW chunks, from the piece's end backwards.
    for (let e = table.count - 1; e >= 0; ) {
      if (served(olds[e]!, news[e]!) === 0) {
        e--;
        continue;
      }
      let s = e;
      while (s > 0 && e - s + 1 < runChunks && news[s - 1] === news[s]! - 1 && served(olds[s - 1]!, news[s - 1]!) > 0) s--;
      if (s === e && cb > data.length) {
        // A chunk larger than the buffer: copied in pieces.
        const need = served(olds[e]!, news[e]!);
        for (let at = 0; at < need; at += data.length) {
          const len = Math.min(data.length, need - at);
          await cow.readInto(data.subarray(0, len), chunkOffset(cs, news[e]!) + at);
          const w = write(data, 0, len, olds[e]! * cb + at);
          if (w) await w;
        }
        written += need;
      } else {
        await cow.readInto(data.subarray(0, (e - s) * cb + served(olds[e]!, news[e]!)), chunkOffset(cs, news[s]!));
        // Runs of consecutive origin chunks within it, last first.
        for (let j = e; j >= s; ) {
          let i = j;
          while (i > s && olds[i - 1] === olds[i]! - 1) i--;
          const len = (j - i) * cb + served(olds[j]!, news[j]!);
          const w = write(data, (i - s) * cb, len, olds[i]! * cb);
          if (w) await w;
          written += len;
          j = i - 1;
        }
      }
      job.onBytes?.(written);
      e = s - 1;
    }
    end -= n;
  }
}
