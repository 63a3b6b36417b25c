/**
 * The lossless dump (`dmsnap dump --lossless`) and its inverse (`dmsnap
 * restore`), plus the metadata writer `repair` shares with restore.
 *
 * A lossless dump holds everything needed to rebuild the metadata chunks
 * byte-for-byte as the kernel lays them out: the device size, the four header
 * words and the entries in on-disk order. Areas are packed in order (area a
 * holds entries a*E .. a*E+E-1), the first area that is not full ends with a
 * zero entry, and when the last area is exactly full the next one is zeroed.
 * Bytes after a terminator (stale entries) are not part of the layout and are
 * not preserved.
 *
 * restoreToDevice works on any device with the store's BlockDevice shape, so
 * tests can run it on the crash-simulating device. Its write order makes every
 * crash leave either the previous image (before anything is overwritten), a
 * blank COW (magic 0), or the complete restored image, never a mix:
 *   1. if the target's header chunk is not blank: zero it, then flush;
 *   2. write every area chunk, then flush;
 *   3. write the header chunk last, with FUA, then flush.
 */
import {
  areaOfEntry,
  areaOffset,
  chunkBytes,
  chunkSectors,
  chunkSizeProblem,
  chunksInDevice,
  encodeHeader,
  entriesIn,
  entryOffset,
  ExceptionTable,
  exceptionsPerArea,
  HEADER_SIZE,
  lastAreaLocation,
  MAX_CHUNK_NUMBER,
  nextFreeAfterLoad,
  roomForEntries,
  SECTOR_SIZE,
  SNAP_MAGIC,
  DISK_VERSION,
  writeEntry,
  type CowImage,
  type Header,
} from "@dmsnap/format";
import { CliError, Exit } from "./errors.js";
import type { Progress } from "./progress.js";
import { DumpSyntaxError, parseDumpPieces, parseDumpStream, type DumpRoot } from "./dumpParser.js";

export const DUMP_FORMAT = "dmsnap-dump";
export const DUMP_VERSION = 1;

export interface LosslessDump {
  format: typeof DUMP_FORMAT;
  version: typeof DUMP_VERSION;
  deviceBytes: number;
  header: Header;
  exceptions: ExceptionTable;
}

/** Entries handed over a batch at a time: rows [from, from + count) of `table`. */
export interface EntryBatch {
  table: ExceptionTable;
  from: number;
  count: number;
}

/** A dump whose entries are read back from its file as they are written (restore of a huge dump). */
export interface StreamedDump {
  format: typeof DUMP_FORMAT;
  version: typeof DUMP_VERSION;
  deviceBytes: number;
  header: Header;
  count: number;
  batches(): Iterable<EntryBatch>;
}

type AnyDump = LosslessDump | StreamedDump;

const countOf = (d: AnyDump): number => ("exceptions" in d ? d.exceptions.count : d.count);
const batchesOf = (d: AnyDump): Iterable<EntryBatch> => ("exceptions" in d ? [{ table: d.exceptions, from: 0, count: d.exceptions.count }] : d.batches());

/** The device shape restore needs (the store's BlockDevice satisfies it). */
export interface WritableDevice {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array, flags?: { flushBefore?: boolean; fua?: boolean }): Promise<void>;
  flush(): Promise<void>;
}

/** The lossless dump of an image decoded with `readInvalid: true`. */
export function losslessDumpOf(image: CowImage): LosslessDump {
  return { format: DUMP_FORMAT, version: DUMP_VERSION, deviceBytes: image.deviceBytes, header: { ...image.header }, exceptions: image.exceptions };
}

/** Writes an in-memory dump as JSON, one exception per line. */
export function writeLosslessDump(dump: LosslessDump, write: (s: string) => void): void {
  writeLosslessDumpStream(dump, (visit) => visit(dump.exceptions, 0, dump.exceptions.count), write);
}

/**
 * Writes the dump as JSON, one exception per line, as the entries arrive from
 * `each` (a second activation pass): never one huge string.
 */
export function writeLosslessDumpStream(
  head: { deviceBytes: number; header: Header },
  each: (visit: (table: ExceptionTable, from: number, count: number) => void) => void,
  write: (s: string) => void,
): void {
  const h = head.header;
  write(`{"format":"${DUMP_FORMAT}","version":${DUMP_VERSION},"deviceBytes":${head.deviceBytes},"header":{"magic":${h.magic},"valid":${h.valid},"version":${h.version},"chunkSize":${h.chunkSize}},"exceptions":[`);
  let n = 0;
  let parts: string[] = [];
  each((t, from, count) => {
    const { oldChunk, newChunk } = t;
    for (let i = from; i < from + count; i++) {
      parts.push(`${n++ === 0 ? "" : ","}\n[${oldChunk[i]},${newChunk[i]}]`);
      if (parts.length === 8192) {
        write(parts.join(""));
        parts = [];
      }
    }
  });
  if (parts.length) write(parts.join(""));
  write(`${n > 0 ? "\n" : ""}]}\n`);
}

function bad(message: string): CliError {
  return new CliError("DUMP_INVALID", `${message}; give a file written by 'dmsnap dump --lossless'`, Exit.Image);
}

const isU32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isChunk = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Checks everything but the exceptions; returns the device size and header. */
function checkHead(o: Record<string, unknown>): { deviceBytes: number; header: Header } {
  if (!o || typeof o !== "object" || Array.isArray(o)) throw bad("the dump is not a JSON object");
  if (o.format !== DUMP_FORMAT) throw bad(`the dump's "format" is ${JSON.stringify(o.format)}, not "${DUMP_FORMAT}" (a 'dump --json' object is a view, not a lossless dump)`);
  if (o.version !== DUMP_VERSION) throw bad(`dump version ${JSON.stringify(o.version)} is not supported (only ${DUMP_VERSION})`);
  if (!isChunk(o.deviceBytes) || o.deviceBytes < SECTOR_SIZE) throw bad(`"deviceBytes" must be a whole number of bytes of at least ${SECTOR_SIZE}`);
  const h = o.header as Record<string, unknown> | undefined;
  if (!h || typeof h !== "object" || !isU32(h.magic) || !isU32(h.valid) || !isU32(h.version) || !isU32(h.chunkSize)) throw bad(`"header" must hold magic, valid, version and chunkSize as 32-bit unsigned integers`);
  const header: Header = { magic: h.magic, valid: h.valid, version: h.version, chunkSize: h.chunkSize };
  if (header.magic !== SNAP_MAGIC && header.magic !== 0) throw bad(`header magic 0x${header.magic.toString(16)} is neither "SnAp" nor 0 (blank)`);
  if (header.magic === SNAP_MAGIC) {
    if (header.version !== DISK_VERSION) throw bad(`header version ${header.version} is not ${DISK_VERSION}`);
    const problem = chunkSizeProblem(header.chunkSize);
    if (problem !== null) throw bad(`header ${problem}`);
  }
  return { deviceBytes: o.deviceBytes, header };
}

/** One exception's numbers. */
function checkPair(i: number, p0: unknown, p1: unknown): void {
  if (!isChunk(p0) || !isChunk(p1)) throw bad(`exception ${i} is not a pair of chunk numbers below 2^53`);
  if (p1 === 0) throw bad(`exception ${i} has new_chunk 0, which would end the list`);
}

/**
 * What needs the whole list: room for the areas, and the limit 'dmsnap dump'
 * reads back (the free cursor after the highest new_chunk, in sectors, below
 * 2^53): restore writes nothing dump would refuse.
 */
function checkLayout(head: { deviceBytes: number; header: Header }, count: number, maxNew: number): void {
  const { header } = head;
  if (header.magic === 0) {
    if (count > 0) throw bad("a blank COW (magic 0) has no exceptions");
    return;
  }
  const chunks = chunksInDevice(header.chunkSize, head.deviceBytes);
  if (!roomForEntries(header.chunkSize, count, head.deviceBytes)) {
    throw bad(`${count} exceptions need metadata areas up to chunk ${lastAreaLocation(header.chunkSize, count)}, but a ${head.deviceBytes}-byte device has ${chunks} chunks`);
  }
  if (maxNew >= 0 && chunkSectors(header.chunkSize, nextFreeAfterLoad(header.chunkSize, maxNew)) > MAX_CHUNK_NUMBER) {
    throw bad(`the highest new_chunk (${maxNew}) puts the free cursor beyond sector 2^53, which 'dmsnap dump' cannot read back (CHUNK_NUMBER_TOO_LARGE); no real device has that many chunks, so the entry is corrupt`);
  }
}

/** Parses and checks a lossless dump held in memory. Throws DUMP_INVALID with the reason. */
export function parseLosslessDump(text: string): LosslessDump {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(`the dump is not JSON (${(e as Error).message})`);
  }
  const o = raw as Record<string, unknown>;
  const head = checkHead(o);
  if (!Array.isArray(o.exceptions)) throw bad(`"exceptions" must be an array of [old_chunk, new_chunk] pairs`);
  const list = o.exceptions as unknown[];
  if (head.header.magic === 0 && list.length > 0) throw bad("a blank COW (magic 0) has no exceptions");
  const table = new ExceptionTable(list.length);
  let maxNew = -1;
  list.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2) throw bad(`exception ${i} is not a pair of chunk numbers below 2^53`);
    checkPair(i, p[0], p[1]);
    table.push(p[0], p[1]);
    if (p[1] > maxNew) maxNew = p[1];
  });
  checkLayout(head, table.count, maxNew);
  return { format: DUMP_FORMAT, version: DUMP_VERSION, ...head, exceptions: table };
}

/**
 * Reads a lossless dump file in constant memory: a first pass checks all of
 * it (so nothing is written for a dump that would be refused), and
 * `batches()` parses it again, handing the entries over as they come.
 */
export function readLosslessDumpFile(fd: number): StreamedDump {
  let count = 0;
  let maxNew = -1;
  const root = parseOrBad(() =>
    parseDumpStream(fd, {
      onPair(i, a, b) {
        checkPair(i, a, b);
        if (b > maxNew) maxNew = b;
        count = i + 1;
      },
      onBadPair(i) {
        throw bad(`exception ${i} is not a pair of chunk numbers below 2^53`);
      },
    }),
  );
  const head = checkHead(root);
  if (typeof root.exceptions !== "number") throw bad(`"exceptions" must be an array of [old_chunk, new_chunk] pairs`);
  checkLayout(head, count, maxNew);
  return {
    format: DUMP_FORMAT,
    version: DUMP_VERSION,
    ...head,
    count,
    *batches() {
      const table = new ExceptionTable(1 << 16);
      const pieces = parseDumpPieces(fd, {
        onPair: (_i, a, b) => table.push(a, b),
        onBadPair: (i) => {
          throw bad(`exception ${i} changed while it was being restored`);
        },
      });
      for (;;) {
        const r = parseOrBad(() => pieces.next());
        if (table.count > 0) yield { table, from: 0, count: table.count };
        table.count = 0;
        if (r.done) return;
      }
    },
  };
}

function parseOrBad<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DumpSyntaxError) throw bad(`the dump is not JSON (${e.message})`);
    throw e;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Bytes written at a time: a 1 GiB chunk never needs a 1 GiB buffer. */
const WRITE_PIECE = 1 << 20;

/** Writes zeros over [from, to) in bounded pieces. */
async function zeroRange(dev: WritableDevice, from: number, to: number): Promise<void> {
  if (to <= from) return;
  const zeros = new Uint8Array(Math.min(WRITE_PIECE, to - from));
  for (let at = from; at < to; at += zeros.length) await dev.write(at, zeros.subarray(0, Math.min(zeros.length, to - at)));
}

/** True when [from, to) of the device holds only zeros (read in bounded pieces). */
async function allZero(dev: WritableDevice, from: number, to: number): Promise<boolean> {
  for (let at = from; at < to; at += WRITE_PIECE) {
    const b = await dev.read(at, Math.min(WRITE_PIECE, to - at));
    for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  }
  return true;
}

/** How many areas restore writes (for progress). */
export function areaCount(dump: AnyDump): number {
  return dump.header.magic === SNAP_MAGIC ? areaOfEntry(dump.header.chunkSize, countOf(dump)) + 1 : 0;
}

export interface RestoreOptions {
  /** Overwrite a target whose header is not blank. */
  force?: boolean;
  progress?: Progress;
  /** Label for messages. */
  targetName?: string;
  /** The target was just created (sparse, all zeros): the zero tails of areas need not be written. */
  targetIsZero?: boolean;
}

export interface RestoreReport {
  overwrote: "blank" | "snapshot" | "other";
  areasWritten: number;
}

/** Rebuilds the metadata of `dump` on `dev` in the crash-safe order described above. */
export async function restoreToDevice(dev: WritableDevice, dump: AnyDump, options: RestoreOptions = {}): Promise<RestoreReport> {
  const name = options.targetName ?? "the target";
  if (dev.size < dump.deviceBytes) {
    throw new CliError("TARGET_TOO_SMALL", `${name} is ${dev.size} bytes but the dump describes a ${dump.deviceBytes}-byte device; restore onto a device at least that large`, Exit.Image);
  }
  const snap = dump.header.magic === SNAP_MAGIC;
  const hcb = snap ? chunkBytes(dump.header.chunkSize) : SECTOR_SIZE;
  const head = await dev.read(0, Math.min(dev.size, HEADER_SIZE));
  const magic = new DataView(head.buffer, head.byteOffset, HEADER_SIZE).getUint32(0, true);
  const blank = magic === 0 && (await allZero(dev, 0, Math.min(dev.size, Math.max(hcb, HEADER_SIZE))));
  const overwrote: RestoreReport["overwrote"] = magic === SNAP_MAGIC ? "snapshot" : blank ? "blank" : "other";
  if (!options.force && magic === SNAP_MAGIC) {
    throw new CliError("COW_EXISTS", `${name} already holds a snapshot header ("SnAp"); restoring would replace its metadata. Save it first ('dmsnap dump --lossless ${name} > old.json'), then rerun with --force`, Exit.Image);
  }
  if (!options.force && magic !== 0) {
    throw new CliError("TARGET_NOT_BLANK", `${name} starts with magic 0x${magic.toString(16).padStart(8, "0")}, so it holds something other than a blank or snapshot COW; check the path, then rerun with --force to overwrite it`, Exit.Image);
  }
  // 1. Make the target a blank COW before touching any area: a crash from here on leaves it blank.
  if (overwrote !== "blank") {
    await zeroRange(dev, 0, Math.min(hcb, dev.size));
    await dev.flush();
  }
  // 2. The areas, in bounded pieces, then a flush so they are durable before the header names them.
  const total = areaCount(dump);
  options.progress?.start("restore", total, "areas");
  let areas = 0;
  if (snap) {
    const cs = dump.header.chunkSize;
    const cb = chunkBytes(cs);
    const perArea = exceptionsPerArea(cs);
    const piece = new Uint8Array(Math.min(cb, WRITE_PIECE));
    const words = LITTLE_ENDIAN ? new Uint32Array(piece.buffer) : null;
    const perPiece = entriesIn(piece.length);
    let area = 0;
    let index = 0; // entries written into the current area
    let pieceStart = 0; // entry index of piece[0] within the area
    const areaBase = (): number => areaOffset(cs, area);
    const flushPiece = async (): Promise<void> => {
      await dev.write(areaBase() + entryOffset(pieceStart), piece);
      piece.fill(0);
      pieceStart += perPiece;
    };
    for (const b of batchesOf(dump)) {
      for (let i = b.from; i < b.from + b.count; i++) {
        const o = b.table.oldChunk[i]!;
        const nw = b.table.newChunk[i]!;
        if (words) {
          // The fields as little-endian words, without a DataView per entry (checked below 2^53 by the reader).
          const k = (index - pieceStart) * 4;
          words[k] = o >>> 0;
          words[k + 1] = (o / 4294967296) >>> 0;
          words[k + 2] = nw >>> 0;
          words[k + 3] = (nw / 4294967296) >>> 0;
        } else writeEntry(piece, index - pieceStart, o, nw);
        index++;
        if (index - pieceStart === perPiece) await flushPiece();
        if (index === perArea) {
          options.progress?.update(++areas);
          area++;
          index = 0;
          pieceStart = 0;
        }
      }
    }
    // The last area: its entries, the terminator, zeros to the end (the whole
    // area when the one before is exactly full).
    await dev.write(areaBase() + entryOffset(pieceStart), piece);
    if (!options.targetIsZero) await zeroRange(dev, areaBase() + entryOffset(pieceStart + perPiece), areaBase() + cb);
    options.progress?.update(++areas);
  }
  await dev.flush();
  // 3. The header last: its chunk is already zero past the first sector.
  await dev.write(0, encodeHeader(dump.header, SECTOR_SIZE), { fua: true });
  await dev.flush();
  options.progress?.stop();
  return { overwrote, areasWritten: areas };
}
