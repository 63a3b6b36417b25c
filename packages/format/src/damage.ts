/**
 * Generators of damaged metadata, for tests, fixtures and the repair tool's
 * proofs. Each returns a new array and leaves its input untouched.
 */
import { HEADER_SIZE } from "./constants.js";
import { writeEntry } from "./area.js";
import { areaOffset, chunkBytes } from "./layout.js";

export type HeaderField = "magic" | "valid" | "version" | "chunkSize";
const FIELD_OFFSET: Record<HeaderField, number> = { magic: 0, valid: 4, version: 8, chunkSize: 12 };

/** Sets one header word. */
export function setHeaderField(image: Uint8Array, field: HeaderField, value: number): Uint8Array {
  const out = image.slice();
  new DataView(out.buffer).setUint32(FIELD_OFFSET[field], value >>> 0, true);
  return out;
}

/**
 * The 2009 invalidation race: the header write took its bytes from the shared
 * area buffer after a commit had filled it with exception entries, so chunk 0
 * holds (the first `headerChunkBytes` of) an area's contents instead of a header.
 * `keepHeaderWords` keeps that many leading header words intact, for variants
 * where the commit only overwrote the tail (e.g. 3 leaves chunk_size clobbered).
 */
export function raceHeader(image: Uint8Array, chunkSize: number, area = 0, keepHeaderWords = 0): Uint8Array {
  const out = image.slice();
  const cb = chunkBytes(chunkSize);
  const src = areaOffset(chunkSize, area);
  const keep = out.slice(0, keepHeaderWords * 4);
  out.copyWithin(0, src, src + cb);
  out.set(keep, 0);
  return out;
}

/** Sets entry `index` of `area` to {old, new}. */
export function setEntry(image: Uint8Array, chunkSize: number, area: number, index: number, oldChunk: number, newChunk: number): Uint8Array {
  const out = image.slice();
  const cb = chunkBytes(chunkSize);
  const at = areaOffset(chunkSize, area);
  writeEntry(out.subarray(at, at + cb), index, oldChunk, newChunk);
  return out;
}

/** Writes raw bytes at a byte offset (for high-bit and torn-entry cases). */
export function setBytes(image: Uint8Array, offset: number, bytes: ArrayLike<number>): Uint8Array {
  const out = image.slice();
  out.set(bytes, offset);
  return out;
}

/** Keeps the first `length` bytes. */
export function truncate(image: Uint8Array, length: number): Uint8Array {
  return image.slice(0, length);
}

/** Non-zero bytes in the header chunk after the 16 header bytes. */
export function dirtyHeaderPadding(image: Uint8Array, chunkSize: number, fill = 0xa5): Uint8Array {
  const out = image.slice();
  out.fill(fill, HEADER_SIZE, chunkBytes(chunkSize));
  return out;
}
