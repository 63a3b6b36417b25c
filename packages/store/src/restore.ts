/**
 * Restore: writes CowMetadata (a lossless dump, or salvaged entries under a
 * fresh header) to a device, laid out exactly as the kernel lays it out:
 * areas packed in order, the first area that is not full ends with a zero
 * entry, and when the last area is exactly full the next one is zeroed. Data
 * chunks are not touched.
 *
 * The write order makes every crash leave either the previous image (before
 * anything is overwritten), a blank COW (magic 0), or the complete restored
 * image, never a mix:
 *   1. if the target's header chunk is not blank: zero it, then flush;
 *      (without force, a target with magic 0 must be blank: its header chunk
 *      and area 0 all zeros, TARGET_NOT_BLANK otherwise)
 *   2. write every area chunk, then flush;
 *   3. write the header chunk last, with FUA, then flush.
 * Memory: one 1 MiB piece, whatever the chunk size or the exception count
 * (the entries arrive a batch at a time).
 */
import { areaOffset, areasOf, chunkBytes, chunkSizeProblem, defaultChunkSize, describeNotBlank, newCowNotBlank, notBlankNextStep, encodeHeader, ErrorCode, FormatError, sectorsIn, entriesIn, entryOffset, entryWords, exceptionsPerArea, HEADER_SIZE, SECTOR_SIZE, SNAP_MAGIC, writeEntry, writeEntryWords, type CowMetadata } from "@dmsnap/format";
import type { BlockDevice } from "./device.js";
import { StoreError, StoreErrorCode } from "./errors.js";

/** What restore needs of a device (any BlockDevice, or a file the CLI opened). */
export type RestoreTarget = Pick<BlockDevice, "size" | "read" | "write" | "flush"> & { logicalBlockSize?: number };

/** Progress in areas written (the CLI's progress bar satisfies it). */
export interface RestoreProgress {
  start(op: string, total: number, unit: string): void;
  update(done: number): void;
  stop(): void;
}

export interface RestoreOptions {
  /** Overwrite a target whose header is not blank. */
  force?: boolean;
  progress?: RestoreProgress;
  /** Label for messages. */
  targetName?: string;
  /** The target was just created (sparse, all zeros): the zero tails of areas need not be written. */
  targetIsZero?: boolean;
}

export interface RestoreReport {
  /** What the target's header chunk held before. */
  overwrote: "blank" | "snapshot" | "other";
  areasWritten: number;
}


/** Bytes written at a time: a 1 GiB chunk never needs a 1 GiB buffer. */
const WRITE_PIECE = 1 << 20;

/** Writes zeros over [from, to) in bounded pieces. */
async function zeroRange(dev: RestoreTarget, from: number, to: number): Promise<void> {
  if (to <= from) return;
  const zeros = new Uint8Array(Math.min(WRITE_PIECE, to - from));
  for (let at = from; at < to; at += zeros.length) await dev.write(at, zeros.subarray(0, Math.min(zeros.length, to - at)));
}

/** True when [from, to) of the device holds only zeros (read in bounded pieces). */
async function allZero(dev: RestoreTarget, from: number, to: number): Promise<boolean> {
  for (let at = from; at < to; at += WRITE_PIECE) {
    const b = await dev.read(at, Math.min(WRITE_PIECE, to - at));
    for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  }
  return true;
}

/** Refuses a target that is too small, or holds something, unless forced; says what it holds. */
async function inspectTarget(dev: RestoreTarget, m: CowMetadata, headerChunkBytes: number, options: RestoreOptions): Promise<RestoreReport["overwrote"]> {
  const name = options.targetName ?? "the target";
  if (dev.size < m.deviceBytes) {
    throw new StoreError(StoreErrorCode.TargetTooSmall, `${name} is ${dev.size} bytes but the dump describes a ${m.deviceBytes}-byte device; restore onto a device at least that large`);
  }
  const head = await dev.read(0, Math.min(dev.size, HEADER_SIZE));
  const magic = new DataView(head.buffer, head.byteOffset, HEADER_SIZE).getUint32(0, true);
  // Blank: what a first activation at the dump's chunk size reads and writes (header chunk and area 0) is all zeros; magic 0 alone is not.
  const notBlank = magic === 0 ? await newCowNotBlank({ size: dev.size, read: (o, n) => dev.read(o, n) }, m.header.magic === SNAP_MAGIC ? m.header.chunkSize : defaultChunkSize()) : null;
  const blank = magic === 0 && notBlank === null && (await allZero(dev, 0, Math.min(dev.size, Math.max(headerChunkBytes, HEADER_SIZE))));
  if (!options.force && notBlank !== null) {
    throw new StoreError(StoreErrorCode.TargetNotBlank, `${name}: ${describeNotBlank(notBlank)}; restoring would overwrite them. ${notBlankNextStep(notBlank)}. Or rerun with --force to overwrite it`);
  }
  if (!options.force && magic === SNAP_MAGIC) {
    throw new StoreError(StoreErrorCode.CowExists, `${name} already holds a snapshot header ("SnAp"); restoring would replace its metadata. Save it first ('dmsnap dump --lossless ${name} > old.json'), then rerun with --force`);
  }
  if (!options.force && magic !== 0) {
    throw new StoreError(StoreErrorCode.TargetNotBlank, `${name} starts with magic 0x${magic.toString(16).padStart(8, "0")}, so it holds something other than a blank or snapshot COW; check the path, then rerun with --force to overwrite it`);
  }
  return magic === SNAP_MAGIC ? "snapshot" : blank ? "blank" : "other";
}

/** Writes the metadata `m` to `dev` in the crash-safe order described above. */
export async function restoreMetadata(dev: RestoreTarget, m: CowMetadata, options: RestoreOptions = {}): Promise<RestoreReport> {
  const snap = m.header.magic === SNAP_MAGIC;
  const hcb = snap ? chunkBytes(m.header.chunkSize) : SECTOR_SIZE;
  // A 4096-byte-sector device: the kernel would refuse a header whose chunk size is not a multiple of 8 sectors.
  const lbs = dev.logicalBlockSize ?? SECTOR_SIZE;
  if (snap && chunkSizeProblem(m.header.chunkSize, lbs) !== null) {
    throw new FormatError(
      ErrorCode.InvalidChunkSize,
      `the dump's chunk size ${m.header.chunkSize} sectors is not a multiple of the logical block size of ${options.targetName ?? "the target"} (${lbs} bytes = ${sectorsIn(lbs)} sectors), so the kernel would refuse the restored COW; restore onto a file or a device with 512-byte logical blocks`,
    );
  }
  const overwrote = await inspectTarget(dev, m, hcb, options);
  // 1. Make the target a blank COW before touching any area: a crash from here on leaves it blank.
  if (overwrote !== "blank") {
    await zeroRange(dev, 0, Math.min(hcb, dev.size));
    await dev.flush();
  }
  // 2. The areas, in bounded pieces, then a flush so they are durable before the header names them.
  options.progress?.start("restore", areasOf(m), "areas");
  const areas = snap ? await writeAreas(dev, m, options) : 0;
  await dev.flush();
  // 3. The header last: its chunk is already zero past the first sector.
  await dev.write(0, encodeHeader(m.header, SECTOR_SIZE), { fua: true });
  await dev.flush();
  options.progress?.stop();
  return { overwrote, areasWritten: areas };
}

/**
 * Lets signal handlers and timers run between batches: a device with
 * synchronous calls (the CLI's) never returns to the event loop by itself,
 * and Ctrl-C must not wait for the last area.
 */
const breathe = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === "function" ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** Writes every area of `m` (entries, terminator, zeros to the area's end); returns how many. */
async function writeAreas(dev: RestoreTarget, m: CowMetadata, options: RestoreOptions): Promise<number> {
  const cs = m.header.chunkSize;
  const cb = chunkBytes(cs);
  const perArea = exceptionsPerArea(cs);
  // A whole area in one write when it fits one piece (one pwrite per area at chunk sizes up to 1 MiB).
  const piece = new Uint8Array(Math.min(cb, WRITE_PIECE));
  const words = entryWords(piece);
  const perPiece = entriesIn(piece.length);
  let areas = 0;
  let area = 0;
  let index = 0; // entries written into the current area
  let pieceStart = 0; // entry index of piece[0] within the area
  const areaBase = (): number => areaOffset(cs, area);
  for (const b of m.batches()) {
    const { oldChunk, newChunk } = b.table;
    const end = b.from + b.count;
    for (let i = b.from; i < end; ) {
      // A run of entries that stays inside the piece: copied without a boundary test each.
      const run = Math.min(end - i, pieceStart + perPiece - index);
      const at = index - pieceStart;
      if (words) {
        // Without a DataView per entry (the model holds numbers below 2^53).
        for (let k = 0; k < run; k++) writeEntryWords(words, at + k, oldChunk[i + k]!, newChunk[i + k]!);
      } else for (let k = 0; k < run; k++) writeEntry(piece, at + k, oldChunk[i + k]!, newChunk[i + k]!);
      i += run;
      index += run;
      if (index - pieceStart === perPiece) {
        await dev.write(areaBase() + entryOffset(pieceStart), piece);
        piece.fill(0);
        pieceStart += perPiece;
      }
      if (index === perArea) {
        areas++;
        options.progress?.update(areas);
        area++;
        index = 0;
        pieceStart = 0;
      }
    }
    await breathe();
  }
  // The last area: its entries, the terminator, zeros to the end (the whole
  // area when the one before is exactly full).
  await dev.write(areaBase() + entryOffset(pieceStart), piece);
  if (!options.targetIsZero) await zeroRange(dev, areaBase() + entryOffset(pieceStart + perPiece), areaBase() + cb);
  areas++; // (not inside `progress?.update(...)`: optional chaining would skip the count without a progress)
  options.progress?.update(areas);
  return areas;
}
