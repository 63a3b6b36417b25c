/**
 * The checker's pass: everything activation would refuse, plus what it would
 * silently accept but a person should know about. It reads the same steps as
 * activation (it drives the Activation class) and then inspects what was loaded.
 */
import { Activation, type ActivationOptions, type CowImage } from "./activation.js";
import { HEADER_SIZE } from "./constants.js";
import type { ChunkColumn } from "./exceptionTable.js";
import { indexInSorted, repeatedValues, sortedCopy } from "./sortedChunks.js";
import { EntryCode, EntryProblem, entryProblems } from "./entryCheck.js";
import { FormatError, type Location } from "./errors.js";
import { areaLocation, areaOfEntry, areaOffset, chunkBytes, chunkKind, chunksCovering, dataChunksBelow, indexInArea, chunksInDevice, entryOffset, exceptionsPerArea } from "./layout.js";
import type { AsyncReader, SyncReader } from "./reader.js";

/** error: the kernel refuses the image; warning: it activates, but data or space is wrong; info: harmless oddity. */
export type Severity = "error" | "warning" | "info";

export const FindingCode = {
  ValidNotBoolean: "VALID_NOT_BOOLEAN",
  HeaderPaddingNotZero: "HEADER_PADDING_NOT_ZERO",
  EntriesAfterTerminator: "ENTRIES_AFTER_TERMINATOR",
  DuplicateOldChunk: EntryCode.DuplicateOldChunk,
  DuplicateNewChunk: EntryCode.DuplicateNewChunk,
  NewChunkIsMetadata: EntryCode.NewChunkIsMetadata,
  NewChunkBeyondDevice: EntryCode.NewChunkBeyondDevice,
  OldChunkBeyondOrigin: EntryCode.OldChunkBeyondOrigin,
  DeviceNotChunkMultiple: "DEVICE_NOT_CHUNK_MULTIPLE",
  UnreferencedChunks: "UNREFERENCED_CHUNKS",
} as const;
export type FindingCode = (typeof FindingCode)[keyof typeof FindingCode];

export interface Finding {
  /** A FindingCode, or an ErrorCode for a refusal. */
  code: string;
  severity: Severity;
  message: string;
  location: Location;
}

export interface DiagnoseOptions extends ActivationOptions {
  /** Origin size in bytes: enables OLD_CHUNK_BEYOND_ORIGIN. */
  originBytes?: number;
  /** At most this many findings per code are listed (the rest are counted). Default 20. */
  maxPerCode?: number;
}

export interface Diagnosis {
  /** The activated image, or null when activation refuses it. */
  image: CowImage | null;
  findings: Finding[];
  /** Findings per code, including those not listed. */
  counts: Record<string, number>;
}

class Collector {
  readonly findings: Finding[] = [];
  readonly counts: Record<string, number> = {};
  constructor(private readonly maxPerCode: number) {}
  add(code: string, severity: Severity, message: string, location: Location = {}): void {
    const n = (this.counts[code] ?? 0) + 1;
    this.counts[code] = n;
    if (n <= this.maxPerCode) this.findings.push({ code, severity, message, location });
  }
}

type Read = (offset: number, length: number) => Uint8Array | Promise<Uint8Array>;

/** Bytes read at a time when scanning the rest of an area or the header chunk. */
const SCAN_PIECE = 1 << 20;

async function run(size: number, read: Read, options: DiagnoseOptions): Promise<Diagnosis> {
  const out = new Collector(options.maxPerCode ?? 20);
  const a = new Activation(size, options);
  let image: CowImage | null = null;
  try {
    const h = a.headerRequest();
    a.acceptHeader(await read(h.offset, h.length));
    for (let r = a.nextRead(); r !== null; r = a.nextRead()) a.acceptArea(await read(r.offset, r.length));
    image = a.result();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    out.add(e.code, "error", e.message, e.location);
  }
  if (image) await inspect(image, read, options, out);
  return { image, findings: out.findings, counts: out.counts };
}

/** True when any byte of [from, to) is non-zero; reads in bounded pieces and stops at the first. */
async function anyNonZero(read: Read, from: number, to: number): Promise<boolean> {
  for (let at = from; at < to; at += SCAN_PIECE) {
    if (!isZero(await read(at, Math.min(SCAN_PIECE, to - at)))) return true;
  }
  return false;
}

/** True when every byte is 0; word by word (a 1 GiB area of zeros is checked in a fraction of a second). */
export function isZero(b: Uint8Array): boolean {
  const words = b.byteOffset % 4 === 0 ? b.length >>> 2 : 0;
  const w = new Uint32Array(b.buffer, b.byteOffset, words);
  for (let i = 0; i < words; i++) if (w[i] !== 0) return false;
  for (let i = words << 2; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** For each entry, the index of the first entry with the same value when it repeats one; null when none does. */
function repeats(column: ChunkColumn, count: number): { values: Float64Array; first: Float64Array } | null {
  const values = repeatedValues(sortedCopy(column, count));
  return values.length === 0 ? null : { values, first: new Float64Array(values.length).fill(-1) };
}

async function inspect(img: CowImage, read: Read, options: DiagnoseOptions, out: Collector): Promise<void> {
  const { chunkSize, header } = img;
  const cb = chunkBytes(chunkSize);
  if (img.state === "new") return;
  if (header.valid > 1) {
    out.add(FindingCode.ValidNotBoolean, "warning", `header valid word is ${header.valid}; the kernel treats any non-zero value as valid, but only 0 and 1 are ever written`, { chunk: 0, byteOffset: 4 });
  }
  const chunks = chunksInDevice(chunkSize, img.deviceBytes);
  if (img.deviceBytes % cb !== 0) {
    out.add(FindingCode.DeviceNotChunkMultiple, "info", `the device (${img.deviceBytes} bytes) ends ${img.deviceBytes % cb} bytes into a partial chunk, which is never used`, { chunk: chunks });
  }
  if (await anyNonZero(read, HEADER_SIZE, Math.min(cb, img.deviceBytes))) {
    out.add(FindingCode.HeaderPaddingNotZero, "warning", `chunk 0 holds non-zero bytes after the 16-byte header; the kernel ignores them, but they are a sign of the 2009 invalidation race or of another tool writing there`, { chunk: 0, byteOffset: HEADER_SIZE });
  }
  if (img.state !== "valid") return;
  // Bytes after the terminator in the current area. The terminator's new_chunk
  // is zero by definition, so any non-zero byte from it on is stale.
  const areaStart = areaOffset(chunkSize, img.currentArea);
  if (await anyNonZero(read, areaStart + entryOffset(img.currentIndex), areaStart + cb)) {
    out.add(FindingCode.EntriesAfterTerminator, "warning", `area ${img.currentArea} has non-zero bytes at or after its terminator (entry ${img.currentIndex}); the kernel ignores them, but they are stale or torn entries`, { area: img.currentArea, index: img.currentIndex, chunk: areaLocation(chunkSize, img.currentArea) });
  }
  const originChunks = options.originBytes === undefined ? Infinity : chunksCovering(chunkSize, options.originBytes);
  const { oldChunk, newChunk, count } = img.exceptions;
  // Duplicates by sorting copies (one at a time), not by a Map per entry.
  const dupOld = repeats(oldChunk, count);
  const sortedNew = sortedCopy(newChunk, count);
  // Distinct data chunks below the free cursor that some exception names (for UNREFERENCED_CHUNKS).
  const limit = Math.min(img.nextFree, chunks);
  let referenced = 0;
  for (let i = 0; i < count; i++) {
    const n = sortedNew[i]!;
    if (n >= limit) break;
    if ((i === 0 || n !== sortedNew[i - 1]) && n >= 2 && chunkKind(chunkSize, n) === "data") referenced++;
  }
  const dupNewValues = repeatedValues(sortedNew);
  const dupNew = dupNewValues.length === 0 ? null : { values: dupNewValues, first: new Float64Array(dupNewValues.length).fill(-1) };
  for (let i = 0; i < count; i++) {
    const o = oldChunk[i]!;
    const n = newChunk[i]!;
    const loc: Location = { area: areaOfEntry(chunkSize, i), index: indexInArea(chunkSize, i), chunk: n };
    const jo = dupOld ? indexInSorted(dupOld.values, o) : -1;
    if (jo >= 0) {
      const seen = dupOld!.first[jo]!;
      if (seen < 0) dupOld!.first[jo] = i;
      else out.add(FindingCode.DuplicateOldChunk, "warning", `origin chunk ${o} is mapped twice (entries ${seen} and ${i}); the kernel serves the first one (entry ${seen}); the later one is garbage`, loc);
    }
    const jn = dupNew ? indexInSorted(dupNew.values, n) : -1;
    if (jn >= 0) {
      const seen = dupNew!.first[jn]!;
      if (seen < 0) dupNew!.first[jn] = i;
      else out.add(FindingCode.DuplicateNewChunk, "warning", `COW chunk ${n} is used by two exceptions (entries ${seen} and ${i}); at most one of them holds the right data`, loc);
    }
    const problems = entryProblems(chunkSize, chunks, originChunks, o, n);
    if (problems & EntryProblem.NewChunkIsMetadata) {
      out.add(FindingCode.NewChunkIsMetadata, "warning", `entry maps origin chunk ${o} to chunk ${n}, which is a metadata area: snapshot reads of that chunk return metadata, and the next commit overwrites it`, loc);
    }
    if (problems & EntryProblem.NewChunkBeyondDevice) {
      out.add(FindingCode.NewChunkBeyondDevice, "warning", `entry maps origin chunk ${o} to chunk ${n}, past the last chunk (${chunks - 1}) of the device: snapshot reads of it fail, and the store has no free space left`, loc);
    }
    if (problems & EntryProblem.OldChunkBeyondOrigin) {
      out.add(FindingCode.OldChunkBeyondOrigin, "warning", `entry maps origin chunk ${o}, past the end of the ${options.originBytes}-byte origin; no read can reach it`, loc);
    }
  }
  // Data chunks below nextFree that no exception names: leaked by a crash with
  // commits out of order. Counted from the layout, not chunk by chunk, so a
  // huge new_chunk costs nothing.
  const dataBelow = dataChunksBelow(chunkSize, limit);
  const unreferenced = dataBelow - referenced;
  if (unreferenced > 0) {
    out.add(FindingCode.UnreferencedChunks, "info", `${unreferenced} data chunk(s) below the free cursor (${img.nextFree}) belong to no exception: space leaked by commits that completed out of order before a crash`, {});
  }
}

/** Runs the checker's pass over a synchronous reader. */
export function diagnose(reader: SyncReader, options: DiagnoseOptions = {}): Promise<Diagnosis> {
  return run(reader.size, (o, l) => reader.read(o, l), options);
}

/** Runs the checker's pass over an asynchronous reader. */
export function diagnoseAsync(reader: AsyncReader, options: DiagnoseOptions = {}): Promise<Diagnosis> {
  return run(reader.size, (o, l) => reader.read(o, l), options);
}
