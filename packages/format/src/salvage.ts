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
import { ChunkSeen } from "./chunkSeen.js";
import type { EntryBatch } from "./cowMetadata.js";
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

/** What salvage finds, without the entries themselves (salvageStreamed hands them over a batch at a time). */
export interface SalvageSummary {
  /** The header words as found. */
  header: Header;
  /** Why the header is unusable, or null when it is an intact SnAp header. */
  headerProblem: string | null;
  chunkSize: number;
  chunkSizeSource: ChunkSizeSource;
  /** Scores of every candidate tried (empty unless inferred), best first. */
  candidates: ChunkSizeScore[];
  /** Sound entries kept (the first of each old and of each new chunk). */
  kept: number;
  /** The highest new_chunk kept, or -1. */
  maxNewChunk: number;
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

export interface SalvageResult extends SalvageSummary {
  /** Sound entries, in on-disk order. */
  exceptions: ExceptionTable;
}

/** A salvage whose kept entries are read again from the device at each `batches()`, a piece of an area at a time: memory bounded whatever the count. */
export interface SalvageStream extends SalvageSummary {
  /** The kept entries in on-disk order; a batch is valid until the next is asked for. The device must not change in between. */
  batches(): Iterable<EntryBatch>;
}

interface ChainEnd {
  areas: number;
  end: "terminator" | "device-end";
  stale: boolean;
}

/** Entries [index, index + count) of `area`: 16 bytes each from byte 0 of `view`. Valid until the next piece. */
interface ChainPiece {
  area: number;
  index: number;
  count: number;
  view: DataView;
}

/** The entries of the area chain for chunk size `cs`, a read piece at a time (the entries before a terminator); returns how the chain ended. */
function* chainPieces(reader: SyncReader, cs: number): Generator<ChainPiece, ChainEnd, void> {
  const perArea = exceptionsPerArea(cs);
  const cb = chunkBytes(cs);
  const chunks = chunksInDevice(cs, reader.size);
  const piece: ChainPiece = { area: 0, index: 0, count: 0, view: new DataView(new ArrayBuffer(0)) };
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
      let live = n;
      for (let i = 0; i < n; i++) {
        const k = entryOffset(i);
        if (v.getUint32(k + 8, true) === 0 && v.getUint32(k + 12, true) === 0) {
          live = i;
          break;
        }
      }
      if (live > 0) {
        piece.area = area;
        piece.index = index;
        piece.count = live;
        piece.view = v;
        yield piece;
      }
      if (live < n) {
        const stale = staleAfter(reader, bytes, entryOffset(live), base + entryOffset(index + n), base + cb);
        return { areas: area + 1, end: "terminator", stale };
      }
      index += n;
    }
    area++;
  }
}

/** Calls `visit` for every entry of the area chain for chunk size `cs`. Returns how the chain ended. */
function walkChain(
  reader: SyncReader,
  cs: number,
  visit: (area: number, index: number, oldLo: number, oldHi: number, newLo: number, newHi: number) => void,
): ChainEnd {
  const pieces = chainPieces(reader, cs);
  for (;;) {
    const r = pieces.next();
    if (r.done) return r.value;
    const { area, index, count, view: v } = r.value;
    for (let i = 0; i < count; i++) {
      const k = entryOffset(i);
      visit(area, index + i, v.getUint32(k, true), v.getUint32(k + 4, true), v.getUint32(k + 8, true), v.getUint32(k + 12, true));
    }
  }
}

function staleAfter(reader: SyncReader, piece: Uint8Array, from: number, restStart: number, areaEnd: number): boolean {
  for (let i = from; i < piece.length; i++) if (piece[i] !== 0) return true;
  for (let at = restStart; at < areaEnd; at += READ_PIECE) {
    if (!isZero(reader.read(at, Math.min(READ_PIECE, areaEnd - at)))) return true;
  }
  return false;
}

/** Scores chunk size `cs`: how much its area chain looks like what the store writes. */
export function scoreChunkSize(reader: SyncReader, cs: number): ChunkSizeScore {
  const chunks = chunksInDevice(cs, reader.size);
  const seen = new ChunkSeen();
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
 * Keeps the sound entries in one table (grows with the count: repair uses
 * salvageStreamed).
 */
export function salvage(reader: SyncReader, options: SalvageOptions = {}): SalvageResult {
  const exceptions = new ExceptionTable(0);
  const summary = salvageWith(reader, options, (o, n) => exceptions.push(o, n));
  return { ...summary, exceptions };
}

/**
 * salvage() without the table: a first walk of the chain finds the chunk
 * size, the counts and the dropped entries; each `batches()` walks it again
 * and hands over the kept entries a read piece at a time. Memory: what the
 * keep-the-first rule needs (ChunkSeen: one bit a chunk number up to 2^28, old
 * and new), never an entry, so 30 M exceptions of an origin of up to 2^28
 * chunks fit in the memory of a dump.
 */
export function salvageStreamed(reader: SyncReader, options: SalvageOptions = {}): SalvageStream {
  const summary = salvageWith(reader, options, null);
  return {
    ...summary,
    *batches(): Generator<EntryBatch> {
      if (summary.kept === 0) return;
      const table = new ExceptionTable(entriesIn(READ_PIECE));
      const keeper = new Keeper(summary.chunkSize, reader.size, options.originBytes, 0);
      const pieces = chainPieces(reader, summary.chunkSize);
      for (let r = pieces.next(); !r.done; r = pieces.next()) {
        const { area, index, count, view: v } = r.value;
        table.count = 0;
        for (let i = 0; i < count; i++) {
          const k = entryOffset(i);
          if (keeper.visit(area, index + i, v.getUint32(k, true), v.getUint32(k + 4, true), v.getUint32(k + 8, true), v.getUint32(k + 12, true))) table.push(keeper.oldChunk, keeper.newChunk);
        }
        if (table.count > 0) yield { table, from: 0, count: table.count };
      }
    },
  };
}

/**
 * The keep-the-first rule, entry by entry in chain order: a sound entry is
 * kept unless an earlier kept entry has its old chunk or its new chunk. Only
 * kept entries mark their numbers (one dropped for its new chunk leaves its
 * old chunk free for a later entry), as the first salvage did.
 */
class Keeper {
  private readonly chunks: number;
  private readonly originChunks: number;
  private readonly seenOld = new ChunkSeen();
  private readonly seenNew = new ChunkSeen();
  entriesRead = 0;
  kept = 0;
  maxNewChunk = -1;
  droppedCount = 0;
  readonly dropped: DroppedEntry[] = [];
  readonly droppedByReason: Partial<Record<DropReason, number>> = {};
  /** The last kept entry's numbers. */
  oldChunk = 0;
  newChunk = 0;

  constructor(
    private readonly chunkSize: number,
    deviceBytes: number,
    originBytes: number | undefined,
    private readonly maxListed: number,
  ) {
    this.chunks = chunksInDevice(chunkSize, deviceBytes);
    this.originChunks = originBytes === undefined ? Infinity : chunksCovering(chunkSize, originBytes);
  }

  /** True when the entry is kept (its numbers are then in oldChunk and newChunk). */
  visit(area: number, index: number, oldLo: number, oldHi: number, newLo: number, newHi: number): boolean {
    this.entriesRead++;
    const o = joinU64(oldLo, oldHi);
    const n = joinU64(newLo, newHi);
    if (oldHi > MAX_SAFE_HIGH || newHi > MAX_SAFE_HIGH) return this.drop(area, index, o, n, DropReason.ChunkNumberTooLarge);
    const problems = entryProblems(this.chunkSize, this.chunks, this.originChunks, o, n);
    if (problems & EntryProblem.NewChunkBeyondDevice) return this.drop(area, index, o, n, DropReason.NewChunkBeyondDevice);
    if (problems & EntryProblem.NewChunkIsMetadata) return this.drop(area, index, o, n, DropReason.NewChunkIsMetadata);
    if (problems & EntryProblem.OldChunkBeyondOrigin) return this.drop(area, index, o, n, DropReason.OldChunkBeyondOrigin);
    if (this.seenOld.has(o)) return this.drop(area, index, o, n, DropReason.DuplicateOldChunk);
    if (!this.seenNew.add(n)) return this.drop(area, index, o, n, DropReason.DuplicateNewChunk);
    this.seenOld.add(o);
    this.kept++;
    if (n > this.maxNewChunk) this.maxNewChunk = n;
    this.oldChunk = o;
    this.newChunk = n;
    return true;
  }

  private drop(area: number, index: number, oldChunk: number, newChunk: number, reason: DropReason): false {
    this.droppedCount++;
    this.droppedByReason[reason] = (this.droppedByReason[reason] ?? 0) + 1;
    if (this.dropped.length < this.maxListed) this.dropped.push({ area, index, oldChunk, newChunk, reason });
    return false;
  }
}

/** The chunk size, then one walk of the chain: every kept entry goes to `onKept` (when given). */
function salvageWith(reader: SyncReader, options: SalvageOptions, onKept: ((oldChunk: number, newChunk: number) => void) | null): SalvageSummary {
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
  const result: SalvageSummary = {
    header,
    headerProblem: problem,
    chunkSize,
    chunkSizeSource: source,
    candidates,
    kept: 0,
    maxNewChunk: -1,
    entriesRead: 0,
    droppedCount: 0,
    dropped: [],
    droppedByReason: {},
    areasRead: 0,
    end: "terminator",
    staleBytesAfterTerminator: false,
  };
  if (chunkSize === 0 || chunkSizeProblem(chunkSize) !== null || chunkOffset(chunkSize, FIRST_DATA_CHUNK) > reader.size) return result;

  const keeper = new Keeper(chunkSize, reader.size, options.originBytes, options.maxDroppedListed ?? 1000);
  const walk = walkChain(reader, chunkSize, (area, index, oldLo, oldHi, newLo, newHi) => {
    if (keeper.visit(area, index, oldLo, oldHi, newLo, newHi) && onKept !== null) onKept(keeper.oldChunk, keeper.newChunk);
  });
  result.kept = keeper.kept;
  result.maxNewChunk = keeper.maxNewChunk;
  result.entriesRead = keeper.entriesRead;
  result.droppedCount = keeper.droppedCount;
  result.dropped = keeper.dropped;
  result.droppedByReason = keeper.droppedByReason;
  result.areasRead = walk.areas;
  result.end = walk.end;
  result.staleBytesAfterTerminator = walk.stale;
  return result;
}
