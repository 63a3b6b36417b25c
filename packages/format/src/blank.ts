/**
 * When is a COW with magic 0 blank? Only when everything the kernel reads and
 * writes at its first activation is zero: the header chunk (read, then
 * written with a fresh header) and area 0 (chunk 1, zeroed), at the chunk
 * size that activation would use (the table's). A zero first word alone is
 * not enough: an ext4 image starts with 1024 zero bytes, and the 2009 race
 * leaves magic 0 over live exceptions. Anything else there would be destroyed,
 * so the CLI reports it (NEW_COW_NOT_BLANK) and refuses to initialise or
 * overwrite it without --force (TARGET_NOT_BLANK).
 *
 * Bounded: at most the two chunks are read, in 64 KiB pieces, and only when
 * something is found, area 0 at each candidate chunk size (16384 sectors at
 * most) to say whether `dmsnap repair` would find exceptions. Nothing is kept
 * per entry, whatever the COW holds.
 */
import { HEADER_SIZE, MAX_CHUNK_SIZE } from "./constants.js";
import { decodeHeader } from "./header.js";
import { areaOffset, areaOfChunk, chunkBytes, chunksInDevice, entriesIn, entryOffset, exceptionsPerArea } from "./layout.js";
import type { AsyncReader, SyncReader } from "./reader.js";
import { chunkSizeCandidates } from "./salvage.js";
import { entryProblems } from "./entryCheck.js";
import { isZero } from "./diagnose.js";
import { MAX_SAFE_HIGH } from "./u64.js";
import { SIGNATURE_BYTES, sniffSignature, type Signature } from "./signature.js";

/** Area 0 is probed in pieces of this many bytes; zeros are checked a MiB at a time. */
const PIECE = 64 * 1024;
const ZERO_PIECE = 1024 * 1024;

export interface NotBlank {
  /** The chunk size the test was made at (the one first activation would use). */
  chunkSize: number;
  /** Bytes looked at: the header chunk and area 0 (fewer if the device ends first). */
  extent: number;
  /** The first byte that is not zero, from the device's start. */
  firstNonZero: number;
  /** Whether that byte lies in the header chunk (else in area 0). */
  inHeaderChunk: boolean;
  /** One of the four header words is not zero. */
  headerDirty: boolean;
  /** What the first bytes look like, if they carry a known signature. */
  signature: Signature | null;
  /** Area 0 read at the chunk size that parses best, when it parses as exceptions: what `dmsnap repair` would start from. */
  salvage: { chunkSize: number; exceptions: number } | null;
}

/** Bytes first activation at `chunkSize` reads or writes: the header chunk and area 0, cut at the device's end. */
export function firstActivationExtent(chunkSize: number, deviceBytes: number): number {
  return Math.min(deviceBytes, areaOffset(chunkSize, 0) + chunkBytes(chunkSize));
}

async function firstNonZero(reader: SyncReader | AsyncReader, from: number, to: number): Promise<number> {
  for (let at = from; at < to; at += ZERO_PIECE) {
    const b = await reader.read(at, Math.min(ZERO_PIECE, to - at));
    if (isZero(b)) continue; // word by word: two 1 GiB chunks of zeros cost a fraction of a second
    for (let i = 0; i < b.length; i++) if (b[i] !== 0) return at + i;
  }
  return -1;
}

/**
 * Evidence that a COW whose magic is 0 is not blank at `chunkSize`, or null:
 * blank, shorter than a header, or a magic that is not 0 (then it is not a
 * new COW, and activation decides).
 */
export async function newCowNotBlank(reader: SyncReader | AsyncReader, chunkSize: number): Promise<NotBlank | null> {
  if (reader.size < HEADER_SIZE) return null;
  const words = await reader.read(0, HEADER_SIZE);
  if (decodeHeader(words).magic !== 0) return null;
  const extent = firstActivationExtent(chunkSize, reader.size);
  const first = await firstNonZero(reader, 0, extent);
  if (first < 0) return null;
  const head = await reader.read(0, Math.min(reader.size, SIGNATURE_BYTES));
  return {
    chunkSize,
    extent,
    firstNonZero: first,
    inHeaderChunk: first < chunkBytes(chunkSize),
    headerDirty: first < HEADER_SIZE,
    signature: sniffSignature(head),
    salvage: await probeAreaZero(reader),
  };
}

/**
 * Reads area 0 at every candidate chunk size and scores its entries the way
 * salvage scores a whole chain (a sound new_chunk in area 0's own range +2,
 * elsewhere +1, increasing +1, anything else -2). The best positive score is
 * where `dmsnap repair` would find exceptions; null when none parses.
 */
export async function probeAreaZero(reader: SyncReader | AsyncReader): Promise<{ chunkSize: number; exceptions: number } | null> {
  let best: { chunkSize: number; exceptions: number; score: number } | null = null;
  for (const cs of chunkSizeCandidates(reader.size, Math.min(16384, MAX_CHUNK_SIZE))) {
    const chunks = chunksInDevice(cs, reader.size);
    const base = areaOffset(cs, 0);
    const perArea = exceptionsPerArea(cs);
    const perPiece = entriesIn(Math.min(chunkBytes(cs), PIECE));
    let score = 0;
    let sound = 0;
    let prev = -1;
    let ended = false;
    for (let index = 0; index < perArea && !ended; index += perPiece) {
      const n = Math.min(perPiece, perArea - index);
      const bytes = (await reader.read(base + entryOffset(index), entryOffset(n))).slice();
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      for (let i = 0; i < n; i++) {
        const k = entryOffset(i);
        const oldHi = v.getUint32(k + 4, true);
        const newLo = v.getUint32(k + 8, true);
        const newHi = v.getUint32(k + 12, true);
        if (newLo === 0 && newHi === 0) {
          ended = true;
          break;
        }
        if (oldHi > MAX_SAFE_HIGH || newHi !== 0 || entryProblems(cs, chunks, Infinity, 0, newLo) !== 0) {
          score -= 2;
          continue;
        }
        sound++;
        score += areaOfChunk(cs, newLo) === 0 ? 2 : 1;
        if (newLo > prev) score += 1;
        prev = newLo;
      }
    }
    if (sound > 0 && score > 0 && (best === null || score > best.score)) best = { chunkSize: cs, exceptions: sound, score };
  }
  return best && { chunkSize: best.chunkSize, exceptions: best.exceptions };
}

/** The cause, in words: what is there and what first activation would do to it. */
export function describeNotBlank(e: NotBlank): string {
  const where = e.inHeaderChunk ? `the header chunk (chunk 0${e.headerDirty ? ", the header words themselves" : ""})` : "area 0 (chunk 1)";
  const what = e.signature ? `; it looks like ${e.signature.name} (${e.signature.evidence} at byte ${e.signature.offset})` : "";
  const parse = e.salvage ? `; area 0 parses as ${e.salvage.exceptions} exception(s) at chunk size ${e.salvage.chunkSize}, as the 2009 race leaves it when the first entry written over the header is {0, 2}` : "";
  return `the header magic is 0, so the kernel would take this for a new COW and, at chunk size ${e.chunkSize}, write a fresh header over chunk 0 and zero area 0 (bytes 0 to ${e.extent - 1}); but these bytes are not all zero: byte ${e.firstNonZero}, in ${where}, is not${what}${parse}`;
}

/** The next step for a COW that is not blank: repair when area 0 parses, else check the path. */
export function notBlankNextStep(e: NotBlank): string {
  if (e.salvage) return `Do not activate it; 'dmsnap repair <cow> --output <file>' salvages its exceptions (chunk size ${e.salvage.chunkSize})`;
  return `No chunk size makes area 0 parse as exceptions, so 'dmsnap repair' finds nothing to salvage: check that this is the COW you meant${e.signature ? "" : " ('dmsnap map' or a hex dump shows what it holds)"}`;
}

