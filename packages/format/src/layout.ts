/**
 * The one place that knows where things are on a COW device. Every other
 * module (codec, store, tools) asks here; none repeats the arithmetic.
 *
 * Chunk 0 is the header. Metadata area `a` sits at chunk 1 + (E + 1) * a and
 * is followed by the E data chunks whose exceptions it records, where E is
 * the number of exceptions per area.
 */
import { EXCEPTION_SIZE, FIRST_DATA_CHUNK, HEADER_CHUNK, SECTOR_SIZE } from "./constants.js";

/** Bytes in one chunk. */
export function chunkBytes(chunkSize: number): number {
  return chunkSize * SECTOR_SIZE;
}

/** E: how many 16-byte exception entries fill one chunk (32 per sector). */
export function exceptionsPerArea(chunkSize: number): number {
  return (chunkSize * SECTOR_SIZE) / EXCEPTION_SIZE;
}

/** Distance in chunks from one metadata area to the next: the area plus its E data chunks. */
export function areaStride(chunkSize: number): number {
  return exceptionsPerArea(chunkSize) + 1;
}

/** Chunk number of metadata area `area`. */
export function areaLocation(chunkSize: number, area: number): number {
  return 1 + areaStride(chunkSize) * area;
}

/** Byte offset of chunk `chunk`. */
export function chunkOffset(chunkSize: number, chunk: number): number {
  return chunk * chunkSize * SECTOR_SIZE;
}

export type ChunkKind = "header" | "metadata" | "data";

/** What a chunk is in the layout (independent of whether it is in use). */
export function chunkKind(chunkSize: number, chunk: number): ChunkKind {
  if (chunk === HEADER_CHUNK) return "header";
  return (chunk - 1) % areaStride(chunkSize) === 0 ? "metadata" : "data";
}

/** True for the header chunk and every metadata area chunk. */
export function isMetadataChunk(chunkSize: number, chunk: number): boolean {
  return chunk === HEADER_CHUNK || (chunk - 1) % areaStride(chunkSize) === 0;
}

/**
 * The area a chunk belongs to: for a metadata chunk its own index, for a
 * data chunk the area that records it. -1 for the header.
 */
export function areaOfChunk(chunkSize: number, chunk: number): number {
  if (chunk === HEADER_CHUNK) return -1;
  return Math.floor((chunk - 1) / areaStride(chunkSize));
}

/**
 * Moves a free-chunk cursor off a metadata area: if `chunk` is an area
 * location, the next chunk is the first data chunk after it.
 */
export function skipMetadata(chunkSize: number, chunk: number): number {
  return chunk % areaStride(chunkSize) === 1 ? chunk + 1 : chunk;
}

/** The cursor after handing out chunk `nextFree`. */
export function advanceNextFree(chunkSize: number, nextFree: number): number {
  return skipMetadata(chunkSize, nextFree + 1);
}

/** `nextFree` after activation, from the highest `new_chunk` loaded (or none: -1). */
export function nextFreeAfterLoad(chunkSize: number, maxNewChunk: number): number {
  return skipMetadata(chunkSize, Math.max(FIRST_DATA_CHUNK, maxNewChunk + 1));
}

/** Whole chunks of `chunkSize` sectors in a device of `deviceBytes`. */
export function chunksInDevice(chunkSize: number, deviceBytes: number): number {
  return Math.floor(deviceBytes / (chunkSize * SECTOR_SIZE));
}

/** Sectors in a device (a trailing partial sector does not count). */
export function deviceSectors(deviceBytes: number): number {
  return Math.floor(deviceBytes / SECTOR_SIZE);
}

/**
 * The allocation test: chunk `nextFree` may be handed out only if
 * (nextFree + 1) * chunkSize sectors fit in the device.
 */
export function canAllocate(chunkSize: number, nextFree: number, totalSectors: number): boolean {
  return (nextFree + 1) * chunkSize <= totalSectors;
}

/** The first `count` chunks a fresh store hands out, in order. */
export function allocationSequence(chunkSize: number, count: number, start = FIRST_DATA_CHUNK): number[] {
  const out: number[] = new Array(count);
  let next = skipMetadata(chunkSize, start);
  for (let i = 0; i < count; i++) {
    out[i] = next;
    next = advanceNextFree(chunkSize, next);
  }
  return out;
}

export interface Usage {
  /** Size of the COW device in sectors. */
  totalSectors: number;
  /** nextFree * chunkSize: everything up to the free cursor, metadata included. */
  allocatedSectors: number;
  /** Header plus every area up to and including the current one. */
  metadataSectors: number;
}

/** Usage as the store reports it (and `dmsetup status` prints it). */
export function usage(chunkSize: number, nextFree: number, currentArea: number, totalSectors: number): Usage {
  return {
    totalSectors,
    allocatedSectors: nextFree * chunkSize,
    metadataSectors: (currentArea + 2) * chunkSize,
  };
}

/** The `allocated/total metadata` part of `dmsetup status` for a valid snapshot. */
export function usageStatus(u: Usage): string {
  return `${u.allocatedSectors}/${u.totalSectors} ${u.metadataSectors}`;
}

export interface Capacity {
  /** Whole chunks in the device. */
  chunks: number;
  /** Data chunks the store can hand out: the most exceptions the COW can hold. */
  dataChunks: number;
  /** Metadata areas that start inside the device. */
  areas: number;
}

/**
 * How many exceptions a COW of `totalSectors` can hold. A chunk is handed out
 * only while (chunk + 1) * chunkSize <= totalSectors, so data chunks 2 .. chunks-1
 * minus the metadata areas among them. (When the last area fills exactly, the
 * store must still zero the next area: if that chunk is past the end, the
 * write fails and the snapshot is invalidated.)
 */
export function capacity(chunkSize: number, totalSectors: number): Capacity {
  const chunks = Math.floor(totalSectors / chunkSize);
  const areas = chunks >= 2 ? Math.floor((chunks - 2) / areaStride(chunkSize)) + 1 : 0;
  return { chunks, areas, dataChunks: Math.max(0, chunks - 1 - areas) };
}
