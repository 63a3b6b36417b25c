/**
 * The checker's pass: everything activation would refuse, plus what it would
 * silently accept but a person should know about. It reads the same steps as
 * activation (it drives the Activation class) and then inspects what was loaded.
 */
import { Activation, type ActivationOptions, type CowImage } from "./activation.js";
import { HEADER_SIZE } from "./constants.js";
import { EntryCode } from "./entryCheck.js";
import type { EntryList } from "./entryList.js";
import { ExceptionScan, STOP_PASS, type EntryVisitor, type ScanLimits, type UsedChunkSink } from "./exceptionScan.js";
import { FormatError, type Location } from "./errors.js";
import { areaLocation, areaOfEntry, areaOffset, chunkBytes, chunksCovering, chunksInDevice, dataChunksBelow, entryOffset, indexInArea } from "./layout.js";
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
  /** Given each distinct data chunk inside the device that an exception names (also of an invalid COW read with `readInvalid`): the map's picture. */
  usedChunks?: UsedChunkSink;
  /** Memory caps of the per-exception tests (exceptionScan.ts); tests lower them to reach the extra passes. */
  limits?: ScanLimits;
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
  // The per-exception tests run as activation loads each piece: nothing per exception is kept.
  let scan: ExceptionScan | null = null;
  const own = options.onEntries;
  const a = new Activation(size, {
    ...options,
    onEntries: (t, from, count) => {
      scan!.visit(t, from, count);
      own?.(t, from, count);
    },
  });
  let image: CowImage | null = null;
  try {
    const h = a.headerRequest();
    a.acceptHeader(await read(h.offset, h.length));
    const cs = a.chunkSizeInEffect;
    const originChunks = options.originBytes === undefined ? Infinity : chunksCovering(cs, options.originBytes);
    scan = new ExceptionScan(cs, chunksInDevice(cs, size), originChunks, options.maxPerCode ?? 20, options.limits, options.usedChunks);
    for (let r = a.nextRead(); r !== null; r = a.nextRead()) a.acceptArea(await read(r.offset, r.length));
    image = a.result();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    out.add(e.code, "error", e.message, e.location);
  }
  if (image) {
    // Passes that re-read the metadata (activation again, entries not kept).
    const replay = async (visit: EntryVisitor): Promise<void> => {
      const b = new Activation(size, { ...options, keepEntries: false, onEntries: visit });
      const h = b.headerRequest();
      b.acceptHeader(await read(h.offset, h.length));
      try {
        for (let r = b.nextRead(); r !== null; r = b.nextRead()) b.acceptArea(await read(r.offset, r.length));
      } catch (e) {
        if (e !== STOP_PASS) throw e;
      }
    };
    const parts = scan!.partitionPasses();
    for (let p = 0; p < parts; p++) await replay(scan!.partitionVisitor(p, parts));
    await inspect(image, read, options, out, scan!, replay);
  }
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

async function inspect(img: CowImage, read: Read, options: DiagnoseOptions, out: Collector, scan: ExceptionScan, replay: (visit: EntryVisitor) => Promise<void>): Promise<void> {
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
  // The entries each test named, listed in entry order (for one entry, in
  // the order of the tests below), counted in full.
  const first = scan.firstEntryVisitor();
  if (first) await replay(first);
  const lists: Array<[EntryList, string, (i: number, o: number, n: number) => string]> = [
    [scan.dupOld, FindingCode.DuplicateOldChunk, (i, o) => { const seen = scan.firstWithOld(o); return `origin chunk ${o} is mapped twice (entries ${seen} and ${i}); Linux 6.1 serves the first one (entry ${seen}), kernels with upstream commit 8581b19eb2c5 (6.12.118) the later one (entry ${i}); dmsnap's view serves the first`; }],
    [scan.dupNew, FindingCode.DuplicateNewChunk, (i, _o, n) => `COW chunk ${n} is used by two exceptions (entries ${scan.firstWithNew(n)} and ${i}); at most one of them holds the right data`],
    [scan.metadata, FindingCode.NewChunkIsMetadata, (_i, o, n) => `entry maps origin chunk ${o} to chunk ${n}, which is a metadata area: snapshot reads of that chunk return metadata, and the next commit overwrites it`],
    [scan.beyondDevice, FindingCode.NewChunkBeyondDevice, (_i, o, n) => `entry maps origin chunk ${o} to chunk ${n}, past the last chunk (${chunks - 1}) of the device: snapshot reads of it fail, and the store has no free space left`],
    [scan.beyondOrigin, FindingCode.OldChunkBeyondOrigin, (_i, o) => `entry maps origin chunk ${o}, past the end of the ${options.originBytes}-byte origin; no read can reach it`],
  ];
  // Codes are counted in the order their first entries come.
  for (const k of lists.map((l, k) => k).sort((x, y) => lists[x]![0].first - lists[y]![0].first || x - y)) {
    const [list, code] = lists[k]!;
    if (list.total > 0) out.counts[code] = (out.counts[code] ?? 0) + list.total;
  }
  const at = lists.map(() => 0);
  for (;;) {
    let best = -1;
    for (let k = 0; k < lists.length; k++) {
      const l = lists[k]![0];
      if (at[k]! < l.length && (best < 0 || l.index[at[k]!]! < lists[best]![0].index[at[best]!]!)) best = k;
    }
    if (best < 0) break;
    const [l, code, message] = lists[best]!;
    const j = at[best]!++;
    const i = l.index[j]!;
    const o = l.oldChunk[j]!;
    const n = l.newChunk[j]!;
    out.findings.push({ code, severity: "warning", message: message(i, o, n), location: { area: areaOfEntry(chunkSize, i), index: indexInArea(chunkSize, i), chunk: n } });
  }
  // Data chunks below nextFree that no exception names: leaked by a crash with
  // commits out of order. Counted from the layout, not chunk by chunk, so a
  // huge new_chunk costs nothing. Every new_chunk is below nextFree, so the
  // chunks named below min(nextFree, chunks) are those inside the device.
  const dataBelow = dataChunksBelow(chunkSize, Math.min(img.nextFree, chunks));
  const unreferenced = dataBelow - scan.referenced;
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
