/**
 * Builders that lay out a COW the way the kernel leaves it: header in chunk 0,
 * entries packed into areas in commit order, the area after a full one zeroed
 * (so it terminates the list), data chunks holding the copied origin data.
 * Used by tests, fixtures, benchmarks and the demo.
 */
import { FIRST_DATA_CHUNK } from "./constants.js";
import { ErrorCode, FormatError } from "./errors.js";
import { writeEntry } from "./area.js";
import { validateChunkSize } from "./chunkSize.js";
import { encodeHeaderInto, makeHeader } from "./header.js";
import { allocationSequence, areaOfEntry, areaOffset, chunkBytes, chunkOffset, indexInArea, lastAreaLocation } from "./layout.js";

export interface CowSpec {
  /** Sectors per chunk. */
  chunkSize: number;
  /** Exceptions in commit order: an origin chunk (its COW chunk is allocated in order) or an explicit [old, new] pair. */
  exceptions?: ReadonlyArray<number | readonly [number, number]>;
  /** valid word (default 1); false or 0 marks the snapshot invalidated. */
  valid?: boolean | number;
  /** Device size in chunks. Default: just large enough for the metadata and data written, plus `freeChunks`. */
  deviceChunks?: number;
  /** Extra chunks past what is needed when `deviceChunks` is not given. */
  freeChunks?: number;
  /** Contents of COW chunk `newChunk` (copied from origin chunk `oldChunk`); default zeros. */
  chunkData?: (oldChunk: number, newChunk: number) => Uint8Array | undefined;
}

export interface BuiltCow {
  bytes: Uint8Array;
  /** The [old, new] pairs in on-disk order. */
  pairs: Array<[number, number]>;
  /** Area commits would go to next, and how many entries it holds. */
  currentArea: number;
  currentIndex: number;
}

/** Lays out a COW image in memory. */
export function buildCow(spec: CowSpec): BuiltCow {
  const { chunkSize } = spec;
  validateChunkSize(chunkSize);
  const given = spec.exceptions ?? [];
  const auto = allocationSequence(chunkSize, given.length, FIRST_DATA_CHUNK);
  const pairs: Array<[number, number]> = given.map((e, i) => (typeof e === "number" ? [e, auto[i]!] : [e[0], e[1]]));
  const currentArea = areaOfEntry(chunkSize, pairs.length);
  const currentIndex = indexInArea(chunkSize, pairs.length);
  let needed = lastAreaLocation(chunkSize, pairs.length) + 1;
  for (const [, n] of pairs) needed = Math.max(needed, n + 1);
  const chunks = spec.deviceChunks ?? needed + (spec.freeChunks ?? 0);
  if (chunks < lastAreaLocation(chunkSize, pairs.length) + 1) {
    throw new FormatError(ErrorCode.InvalidArgument, `${pairs.length} exceptions need areas up to chunk ${lastAreaLocation(chunkSize, pairs.length)}, but the device has ${chunks} chunks`);
  }
  const cb = chunkBytes(chunkSize);
  const bytes = new Uint8Array(chunkOffset(chunkSize, chunks));
  const valid = spec.valid === undefined ? 1 : typeof spec.valid === "boolean" ? (spec.valid ? 1 : 0) : spec.valid;
  const header = makeHeader(chunkSize);
  header.valid = valid;
  encodeHeaderInto(header, bytes.subarray(0, cb));
  pairs.forEach(([o, n], i) => {
    const at = areaOffset(chunkSize, areaOfEntry(chunkSize, i));
    writeEntry(bytes.subarray(at, at + cb), indexInArea(chunkSize, i), o, n);
    const data = spec.chunkData?.(o, n);
    if (data && n < chunks) bytes.set(data.subarray(0, cb), chunkOffset(chunkSize, n));
  });
  return { bytes, pairs, currentArea, currentIndex };
}
