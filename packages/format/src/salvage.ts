/**
 * Salvage: recover the exceptions of a COW the kernel refuses, above all the
 * 2009 race's victims (a header chunk holding exception bytes, or a chunk size
 * of 0). Pure: it reads through a SyncReader and writes nothing.
 *
 * The chunk size is taken from an intact header, or given, or inferred: every
 * power-of-two candidate is read as the kernel would read the areas (area a at
 * areaLocation, go on to the next area only when one is full) and scored by how
 * well its entries look like what the store writes — new_chunk a data chunk
 * inside the device, recorded by the area that owns it, increasing, never
 * repeated. The true chunk size reads every area; a wrong one reads zeros, data
 * or a shifted slice of an area, which scores far lower.
 *
 * Then every entry of the chain is kept if it is structurally sound, and
 * dropped with a reason if not. Entries after a terminator are not part of the
 * layout (the kernel never reads them) and are only counted.
 */
import { chunkSizeProblem } from "./chunkSize.js";
import { FIRST_DATA_CHUNK, HEADER_SIZE, MAX_CHUNK_SIZE, SECTOR_SIZE, SNAP_MAGIC, DISK_VERSION } from "./constants.js";
import { ExceptionTable } from "./exceptionTable.js";
import { decodeHeader, type Header } from "./header.js";
import { areaLocation, areaOfChunk, chunkOffset, chunkBytes, chunksCovering, chunksInDevice, entriesIn, entryOffset, exceptionsPerArea } from "./layout.js";
import type { SyncReader } from "./reader.js";
import { isZero } from "./diagnose.js";
import { ChunkNumberSet } from "./chunkNumberSet.js";
import { EntryCode, EntryProblem, entryProblems } from "./entryCheck.js";
import { joinU64, MAX_SAFE_HIGH } from "./u64.js";

/** Areas are read in pieces of at most this many bytes, so a huge wrong candidate costs little. */
const READ_PIECE = 64 * 1024;

export const DropReason = {
  NewChunkIsMetadata: EntryCode.NewChunkIsMetadata,
  NewChunkBeyondDevice: EntryCode.NewChunkBeyondDevice,
  ChunkNumberTooLarge: EntryCode.ChunkNumberTooLarge,
  DuplicateNewChunk: EntryCode.DuplicateNewChunk,
  DuplicateOldChunk: EntryCode.DuplicateOldChunk,
  OldChunkBeyondOrigin: EntryCode.OldChunkBeyondOrigin,
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

const DROP_MEANING: Record<DropReason, string> = {
  NEW_CHUNK_IS_METADATA: "new_chunk names a header or metadata-area chunk, which never holds copied data",
  NEW_CHUNK_BEYOND_DEVICE: "new_chunk lies past the end of the device",
  CHUNK_NUMBER_TOO_LARGE: "a chunk number is 2^53 or more (garbage high bits)",
  DUPLICATE_NEW_CHUNK: "an earlier entry already uses this COW chunk, so at most one of them holds the right data; the first is kept",
  DUPLICATE_OLD_CHUNK: "an earlier entry already maps this origin chunk; the store never writes two, so the later one is garbage; the first is kept",
  OLD_CHUNK_BEYOND_ORIGIN: "old_chunk lies past the end of the origin",
};

export function dropReasonMeaning(reason: DropReason): string {
  return DROP_MEANING[reason];
}

export interface DroppedEntry {
  area: number;
  index: number;
  oldChunk: number;
  newChunk: number;
  reason: DropReason;
}

export interface ChunkSizeScore {
  chunkSize: number;
  score: number;
  /** Entries read along the area chain (sound or not). */
  entries: number;
  /** Sound entries among them. */
  sound: number;
}

export type ChunkSizeSource = "header" | "given" | "inferred";

export interface SalvageOptions {
  /** Use this chunk size (sectors) instead of the header's or an inferred one. */
  chunkSize?: number;
  /** Largest candidate tried when inferring, in sectors (default 16384 = 8 MiB, capped by the device and the kernel's maximum). */
  maxChunkSize?: number;
  /** Origin size in bytes: entries past it are dropped. */
  originBytes?: number;
  /** At most this many dropped entries are listed (all are counted). Default 1000. */
  maxDroppedListed?: number;
}

export interface SalvageResult {
  /** The header words as found. */
  header: Header;
  /** Why the header is unusable, or null when it is an intact SnAp header. */
  headerProblem: string | null;
  chunkSize: number;
  chunkSizeSource: ChunkSizeSource;
  /** Scores of every candidate tried (empty unless inferred), best first. */
  candidates: ChunkSizeScore[];
  /** Sound entries, in on-disk order. */
  exceptions: ExceptionTable;
  /** Entries read along the chain (kept + dropped). */
  entriesRead: number;
  droppedCount: number;
  /** Dropped entries with reasons (at most maxDroppedListed). */
  dropped: DroppedEntry[];
  droppedByReason: Partial<Record<DropReason, number>>;
  /** Metadata areas read (the last one is the one holding the terminator, or the last in the device). */
  areasRead: number;
  /** Why the chain ended. */
  end: "terminator" | "device-end";
  /** Non-zero bytes after the terminator in the last area (stale, not part of the layout). */
  staleBytesAfterTerminator: boolean;
}

/** Calls `visit` for every entry of the area chain for chunk size `cs`. Returns how the chain ended. */
function walkChain(
  reader: SyncReader,
  cs: number,
  visit: (area: number, index: number, oldLo: number, oldHi: number, newLo: number, newHi: number) => void,
): { areas: number; end: "terminator" | "device-end"; stale: boolean } {
  const perArea = exceptionsPerArea(cs);
  const cb = chunkBytes(cs);
  const chunks = chunksInDevice(cs, reader.size);
  let area = 0;
  for (;;) {
    const loc = areaLocation(cs, area);
    if (loc >= chunks) return { areas: area, end: "device-end", stale: false };
    const base = chunkOffset(cs, loc);
    const perPiece = entriesIn(Math.min(cb, READ_PIECE));
    let index = 0;
    while (index < perArea) {
      const n = Math.min(perPiece, perArea - index);
      const bytes = reader.read(base + entryOffset(index), entryOffset(n));
      const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
      const v = new DataView(aligned.buffer, aligned.byteOffset, entryOffset(n));
      for (let i = 0; i < n; i++) {
        const k = entryOffset(i);
        const newLo = v.getUint32(k + 8, true);
        const newHi = v.getUint32(k + 12, true);
        if (newLo === 0 && newHi === 0) {
          const stale = staleAfter(reader, bytes, k, base + entryOffset(index + n), base + cb);
          return { areas: area + 1, end: "terminator", stale };
        }
        visit(area, index + i, v.getUint32(k, true), v.getUint32(k + 4, true), newLo, newHi);
      }
      index += n;
    }
    area++;
  }
}

function staleAfter(reader: SyncReader, piece: Uint8Array, from: number, restStart: number, areaEnd: number): boolean {
  for (let i = from; i < piece.length; i++) if (piece[i] !== 0) return true;
  for (let at = restStart; at < areaEnd; at += READ_PIECE) {
    if (!isZero(reader.read(at, Math.min(READ_PIECE, areaEnd - at)))) return true;
  }
  return false;
}

/** A set of chunk numbers: a bitmap over the device's chunks. */
class ChunkSet {
  private readonly bits: Uint32Array;
  constructor(chunks: number) {
    this.bits = new Uint32Array(Math.ceil(chunks / 32) + 1);
  }
  /** Adds `c`; returns false when it was already there. */
  add(c: number): boolean {
    const w = c >>> 5;
    const m = 1 << (c & 31);
    if ((this.bits[w]! & m) !== 0) return false;
    this.bits[w] = this.bits[w]! | m;
    return true;
  }
}

/** Scores chunk size `cs`: how much its area chain looks like what the store writes. */
export function scoreChunkSize(reader: SyncReader, cs: number): ChunkSizeScore {
  const chunks = chunksInDevice(cs, reader.size);
  const seen = new ChunkSet(chunks);
  let score = 0;
  let entries = 0;
  let sound = 0;
  let prev = -1;
  walkChain(reader, cs, (area, _index, _oldLo, oldHi, newLo, newHi) => {
    entries++;
    if (oldHi > MAX_SAFE_HIGH || newHi !== 0) {
      score -= 2;
      return;
    }
    const n = newLo;
    if (entryProblems(cs, chunks, Infinity, 0, n) !== 0 || !seen.add(n)) {
      score -= 2;
      return;
    }
    sound++;
    score += areaOfChunk(cs, n) === area ? 2 : 1;
    if (n > prev) score += 1;
    prev = n;
  });
  return { chunkSize: cs, score, entries, sound };
}

/** Why `header` is not an intact SnAp header with a usable chunk size, or null. */
export function headerProblem(header: Header, logicalBlockSize = SECTOR_SIZE): string | null {
  if (header.magic !== SNAP_MAGIC) return `magic is 0x${header.magic.toString(16).padStart(8, "0")}, not "SnAp"`;
  if (header.version !== DISK_VERSION) return `version is ${header.version}, not ${DISK_VERSION}`;
  const cs = chunkSizeProblem(header.chunkSize, logicalBlockSize);
  if (cs !== null) return cs;
  if (header.valid > 1) return `valid word is ${header.valid}, not 0 or 1`;
  return null;
}

/** Every candidate chunk size worth trying on a device of `deviceBytes`: powers of two whose header and area 0 fit. */
export function chunkSizeCandidates(deviceBytes: number, maxChunkSize = 16384): number[] {
  const out: number[] = [];
  const cap = Math.min(maxChunkSize, MAX_CHUNK_SIZE);
  for (let cs = 1; cs <= cap && chunkOffset(cs, FIRST_DATA_CHUNK) <= deviceBytes; cs *= 2) out.push(cs);
  return out;
}

/** Infers the chunk size from the metadata; `hint` (e.g. a surviving header word) wins ties. */
export function inferChunkSize(reader: SyncReader, options: { maxChunkSize?: number; hint?: number } = {}): { chunkSize: number | null; candidates: ChunkSizeScore[] } {
  const candidates = chunkSizeCandidates(reader.size, options.maxChunkSize).map((cs) => scoreChunkSize(reader, cs));
  candidates.sort((a, b) => b.score - a.score || (a.chunkSize === options.hint ? -1 : b.chunkSize === options.hint ? 1 : a.chunkSize - b.chunkSize));
  const best = candidates[0];
  return { chunkSize: best && best.sound > 0 ? best.chunkSize : null, candidates };
}

/**
 * Salvages the exceptions of a COW device. Throws nothing for damaged
 * metadata (that is its purpose); returns chunkSize 0 with no exceptions when
 * no candidate finds a single sound entry and the header gives no usable size.
 */
export function salvage(reader: SyncReader, options: SalvageOptions = {}): SalvageResult {
  const header = reader.size >= HEADER_SIZE ? decodeHeader(reader.read(0, HEADER_SIZE)) : { magic: 0, valid: 0, version: 0, chunkSize: 0 };
  const problem = reader.size >= HEADER_SIZE ? headerProblem(header) : `the device is ${reader.size} bytes, too small for a header`;
  let chunkSize: number;
  let source: ChunkSizeSource;
  let candidates: ChunkSizeScore[] = [];
  if (options.chunkSize !== undefined) {
    chunkSize = options.chunkSize;
    source = "given";
  } else if (problem === null || (header.magic === SNAP_MAGIC && chunkSizeProblem(header.chunkSize) === null && header.version === DISK_VERSION)) {
    chunkSize = header.chunkSize;
    source = "header";
  } else {
    const hint = chunkSizeProblem(header.chunkSize) === null ? header.chunkSize : undefined;
    const inferred = inferChunkSize(reader, { ...(options.maxChunkSize === undefined ? {} : { maxChunkSize: options.maxChunkSize }), ...(hint === undefined ? {} : { hint }) });
    candidates = inferred.candidates;
    chunkSize = inferred.chunkSize ?? hint ?? 0;
    source = "inferred";
  }
  const result: SalvageResult = {
    header,
    headerProblem: problem,
    chunkSize,
    chunkSizeSource: source,
    candidates,
    exceptions: new ExceptionTable(0),
    entriesRead: 0,
    droppedCount: 0,
    dropped: [],
    droppedByReason: {},
    areasRead: 0,
    end: "terminator",
    staleBytesAfterTerminator: false,
  };
  if (chunkSize === 0 || chunkSizeProblem(chunkSize) !== null || chunkOffset(chunkSize, FIRST_DATA_CHUNK) > reader.size) return result;

  const maxListed = options.maxDroppedListed ?? 1000;
  const chunks = chunksInDevice(chunkSize, reader.size);
  const originChunks = options.originBytes === undefined ? Infinity : chunksCovering(chunkSize, options.originBytes);
  const seenNew = new ChunkSet(chunks);
  const seenOld = new ChunkNumberSet(); // not a Set: a refused COW may hold more than 2^24 entries
  const table = result.exceptions;
  const drop = (area: number, index: number, oldChunk: number, newChunk: number, reason: DropReason): void => {
    result.droppedCount++;
    result.droppedByReason[reason] = (result.droppedByReason[reason] ?? 0) + 1;
    if (result.dropped.length < maxListed) result.dropped.push({ area, index, oldChunk, newChunk, reason });
  };
  const walk = walkChain(reader, chunkSize, (area, index, oldLo, oldHi, newLo, newHi) => {
    result.entriesRead++;
    const o = joinU64(oldLo, oldHi);
    const n = joinU64(newLo, newHi);
    if (oldHi > MAX_SAFE_HIGH || newHi > MAX_SAFE_HIGH) return drop(area, index, o, n, DropReason.ChunkNumberTooLarge);
    const problems = entryProblems(chunkSize, chunks, originChunks, o, n);
    if (problems & EntryProblem.NewChunkBeyondDevice) return drop(area, index, o, n, DropReason.NewChunkBeyondDevice);
    if (problems & EntryProblem.NewChunkIsMetadata) return drop(area, index, o, n, DropReason.NewChunkIsMetadata);
    if (problems & EntryProblem.OldChunkBeyondOrigin) return drop(area, index, o, n, DropReason.OldChunkBeyondOrigin);
    if (seenOld.has(o)) return drop(area, index, o, n, DropReason.DuplicateOldChunk);
    if (!seenNew.add(n)) return drop(area, index, o, n, DropReason.DuplicateNewChunk);
    seenOld.add(o);
    table.push(o, n);
  });
  result.areasRead = walk.areas;
  result.end = walk.end;
  result.staleBytesAfterTerminator = walk.stale;
  return result;
}
