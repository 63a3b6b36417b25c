/**
 * One metadata area: E entries of {old_chunk u64 LE, new_chunk u64 LE}. An
 * entry whose new_chunk is 0 ends the list (chunk 0 is the header, never data).
 */
import { entriesIn, entryOffset } from "./layout.js";
import { ErrorCode, FormatError } from "./errors.js";
import type { ExceptionTable } from "./exceptionTable.js";

import { high32, joinU64, LITTLE_ENDIAN_HOST, low32, MAX_SAFE_HIGH } from "./u64.js";

export interface AreaDecodeResult {
  /** Entries loaded from this area (the index of the terminator when not full). */
  loaded: number;
  /** True when all E entries were in use: the reader must go on to the next area. */
  full: boolean;
  /** Highest new_chunk loaded from this area, or -1. */
  maxNewChunk: number;
}

/**
 * Appends the entries of one area to `table`, stopping at the terminator,
 * exactly as activation loads them. `area` only labels errors.
 */
export function decodeAreaInto(bytes: Uint8Array, exceptionsPerArea: number, table: ExceptionTable, area = 0): AreaDecodeResult {
  if (bytes.length < entryOffset(exceptionsPerArea)) {
    throw new FormatError(ErrorCode.Truncated, `metadata area ${area} needs ${entryOffset(exceptionsPerArea)} bytes, got ${bytes.length}`, { area });
  }
  const r = decodeEntriesInto(bytes, exceptionsPerArea, table, area, 0);
  return { loaded: r.loaded, full: !r.terminated, maxNewChunk: r.maxNewChunk };
}

export interface EntriesDecodeResult {
  /** Entries loaded from this piece (the terminator's position in it when terminated). */
  loaded: number;
  /** True when a zero new_chunk ended the list inside this piece. */
  terminated: boolean;
  /** Highest new_chunk loaded, or -1. */
  maxNewChunk: number;
}

/**
 * Appends `count` entries (a piece of an area starting at entry `firstIndex`)
 * to `table`, stopping at the terminator. Pieces let a reader walk a 1 GiB
 * area with a bounded buffer.
 */
export function decodeEntriesInto(bytes: Uint8Array, count: number, table: ExceptionTable, area: number, firstIndex: number): EntriesDecodeResult {
  table.reserve(count);
  if (!LITTLE_ENDIAN_HOST) return decodeWithDataView(bytes, count, table, area, firstIndex);
  // Aligned 32-bit words read the little-endian fields directly.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice(0, entryOffset(count));
  const w = new Uint32Array(aligned.buffer, aligned.byteOffset, count * 4);
  let n0 = table.count;
  let maxNew = -1;
  let i = 0;
  if (!table.wide) {
    // Narrow columns: every chunk number below 2^32 (the usual case).
    const olds = table.oldChunk;
    const news = table.newChunk;
    for (; i < count; i++) {
      const k = i << 2;
      const n = w[k + 2]!;
      if ((w[k + 1]! | w[k + 3]!) !== 0) break; // a high word: widen and go on below
      if (n === 0) {
        table.count = n0;
        return { loaded: i, terminated: true, maxNewChunk: maxNew };
      }
      olds[n0] = w[k]!;
      news[n0] = n;
      n0++;
      if (n > maxNew) maxNew = n;
    }
    table.count = n0;
    if (i === count) return { loaded: i, terminated: false, maxNewChunk: maxNew };
    table.widen();
  }
  const olds = table.oldChunk;
  const news = table.newChunk;
  for (; i < count; i++) {
    const k = i << 2;
    const newLo = w[k + 2]!;
    const newHi = w[k + 3]!;
    if (newLo === 0 && newHi === 0) break;
    const oldHi = w[k + 1]!;
    if (oldHi > MAX_SAFE_HIGH || newHi > MAX_SAFE_HIGH) throw tooLarge(area, firstIndex + i, oldHi > MAX_SAFE_HIGH ? "old_chunk" : "new_chunk", oldHi > MAX_SAFE_HIGH ? oldHi : newHi);
    const n = joinU64(newLo, newHi);
    olds[n0] = joinU64(w[k]!, oldHi);
    news[n0] = n;
    n0++;
    if (n > maxNew) maxNew = n;
  }
  table.count = n0;
  return { loaded: i, terminated: i < count, maxNewChunk: maxNew };
}

/**
 * What decodeEntriesInto finds in a piece (the terminator, the highest
 * new_chunk, the same CHUNK_NUMBER_TOO_LARGE refusal), without copying the
 * entries anywhere: the pass that only needs the counts and cursors (dump's
 * first pass) and readers that take the entries from the bytes themselves
 * (entryWordsOf).
 */
export function scanEntries(bytes: Uint8Array, count: number, area: number, firstIndex: number): EntriesDecodeResult {
  if (!LITTLE_ENDIAN_HOST) return scanWithDataView(bytes, count, area, firstIndex);
  const w = entryWordsOf(bytes, count);
  let maxNew = -1;
  let i = 0;
  for (; i < count; i++) {
    const k = i << 2;
    const newLo = w[k + 2]!;
    const newHi = w[k + 3]!;
    if ((w[k + 1]! | newHi) === 0) {
      // Both numbers below 2^32 (the usual case).
      if (newLo === 0) break;
      if (newLo > maxNew) maxNew = newLo;
      continue;
    }
    if (newLo === 0 && newHi === 0) break;
    const oldHi = w[k + 1]!;
    if (oldHi > MAX_SAFE_HIGH || newHi > MAX_SAFE_HIGH) throw tooLarge(area, firstIndex + i, oldHi > MAX_SAFE_HIGH ? "old_chunk" : "new_chunk", oldHi > MAX_SAFE_HIGH ? oldHi : newHi);
    const n = joinU64(newLo, newHi);
    if (n > maxNew) maxNew = n;
  }
  return { loaded: i, terminated: i < count, maxNewChunk: maxNew };
}

/**
 * The first `count` entries of `bytes` as Uint32 words (old low, old high,
 * new low, new high for each), on a little-endian host: a view when `bytes`
 * is 4-byte aligned, else a copy.
 */
export function entryWordsOf(bytes: Uint8Array, count: number): Uint32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice(0, entryOffset(count));
  return new Uint32Array(aligned.buffer, aligned.byteOffset, count * 4);
}

/** scanEntries on a host or buffer the word path cannot take: decodeWithDataView keeping nothing. */
function scanWithDataView(bytes: Uint8Array, count: number, area: number, firstIndex: number): EntriesDecodeResult {
  return decodeWithDataView(bytes, count, null, area, firstIndex);
}

function decodeWithDataView(bytes: Uint8Array, count: number, table: ExceptionTable | null, area: number, firstIndex: number): EntriesDecodeResult {
  const v = new DataView(bytes.buffer, bytes.byteOffset, entryOffset(count));
  let maxNew = -1;
  let i = 0;
  for (; i < count; i++) {
    const k = entryOffset(i);
    const newLo = v.getUint32(k + 8, true);
    const newHi = v.getUint32(k + 12, true);
    if (newLo === 0 && newHi === 0) break;
    const oldHi = v.getUint32(k + 4, true);
    if (oldHi > MAX_SAFE_HIGH || newHi > MAX_SAFE_HIGH) throw tooLarge(area, firstIndex + i, oldHi > MAX_SAFE_HIGH ? "old_chunk" : "new_chunk", oldHi > MAX_SAFE_HIGH ? oldHi : newHi);
    const n = joinU64(newLo, newHi);
    table?.push(joinU64(v.getUint32(k, true), oldHi), n);
    if (n > maxNew) maxNew = n;
  }
  return { loaded: i, terminated: i < count, maxNewChunk: maxNew };
}

function tooLarge(area: number, index: number, field: string, high: number): FormatError {
  return new FormatError(
    ErrorCode.ChunkNumberTooLarge,
    `area ${area} entry ${index}: ${field} has high word 0x${high.toString(16)}, so it is 2^53 or more; dmsnap keeps chunk numbers below 2^53 (no real device has that many chunks), so this entry is almost certainly corrupt — run 'dmsnap check' to see the damage`,
    { area, index },
  );
}

/** Reads entry `index` of an area without interpreting it (for diagnostics and tools). */
export function readEntry(bytes: Uint8Array, index: number): { oldLow: number; oldHigh: number; newLow: number; newHigh: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset + entryOffset(index), entryOffset(1));
  return { oldLow: v.getUint32(0, true), oldHigh: v.getUint32(4, true), newLow: v.getUint32(8, true), newHigh: v.getUint32(12, true) };
}

/** Writes one entry (chunk numbers below 2^53). */
export function writeEntry(bytes: Uint8Array, index: number, oldChunk: number, newChunk: number): void {
  checkChunkNumber(oldChunk, "old_chunk");
  checkChunkNumber(newChunk, "new_chunk");
  const v = new DataView(bytes.buffer, bytes.byteOffset + entryOffset(index), entryOffset(1));
  v.setUint32(0, low32(oldChunk), true);
  v.setUint32(4, high32(oldChunk), true);
  v.setUint32(8, low32(newChunk), true);
  v.setUint32(12, high32(newChunk), true);
}

/**
 * The Uint32 words of an area buffer for writeEntryWords, or null when the
 * host is big-endian or the buffer is not 4-byte aligned (then use writeEntry).
 */
export function entryWords(bytes: Uint8Array): Uint32Array | null {
  return LITTLE_ENDIAN_HOST && bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : null;
}

/** writeEntry without a DataView per call, into entryWords' view; the caller keeps both chunk numbers in 0 .. 2^53-1. */
export function writeEntryWords(words: Uint32Array, index: number, oldChunk: number, newChunk: number): void {
  const k = entryOffset(index) >>> 2;
  words[k] = low32(oldChunk);
  words[k + 1] = high32(oldChunk);
  words[k + 2] = low32(newChunk);
  words[k + 3] = high32(newChunk);
}

/** Zeroes entry `index` (a merge clears the entries it has copied back). */
export function clearEntry(bytes: Uint8Array, index: number): void {
  bytes.fill(0, entryOffset(index), entryOffset(index + 1));
}

/**
 * An area chunk holding entries [from, from + count) of `table`, then zeros
 * (the first zero entry is the terminator when count < E).
 */
export function encodeArea(table: ExceptionTable, from: number, count: number, chunkBytes: number): Uint8Array {
  const out = new Uint8Array(chunkBytes);
  const capacity = entriesIn(chunkBytes);
  if (count > capacity) throw new FormatError(ErrorCode.InvalidArgument, `an area of ${chunkBytes} bytes holds ${capacity} entries, not ${count}`);
  for (let i = 0; i < count; i++) writeEntry(out, i, table.oldChunk[from + i]!, table.newChunk[from + i]!);
  return out;
}

function checkChunkNumber(n: number, field: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new FormatError(ErrorCode.InvalidArgument, `${field} must be an integer from 0 to 2^53-1, got ${n}`);
  }
}
