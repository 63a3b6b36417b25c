/**
 * The one place that knows where things are on a COW device. Every other
 * module (codec, store, tools) asks here; none repeats the arithmetic.
 *
 * Chunk 0 is the header. Metadata area `a` sits at chunk 1 + (E + 1) * a and
 * is followed by the E data chunks whose exceptions it records, where E is
 * the number of exceptions per area.
 */
import { EXCEPTION_SIZE, FIRST_DATA_CHUNK, HEADER_CHUNK, SECTOR_SIZE } from "./constants.js";

/** Bytes in `sectors` sectors. */
export function sectorBytes(sectors: number): number {
  return sectors * SECTOR_SIZE;
}

/** Whole sectors in `bytes` (a trailing partial sector does not count). */
export function sectorsIn(bytes: number): number {
  return Math.floor(bytes / SECTOR_SIZE);
}

/** Sectors needed to hold `bytes` (a partial last sector counts). */
export function sectorsCovering(bytes: number): number {
  return Math.ceil(bytes / SECTOR_SIZE);
}

/** The chunk holding sector `sector`. */
export function chunkAtSector(chunkSize: number, sector: number): number {
  return Math.floor(sector / chunkSize);
}

/** Bytes in one chunk. */
export function chunkBytes(chunkSize: number): number {
  return sectorBytes(chunkSize);
}

/** Sectors in `chunks` chunks. */
export function chunkSectors(chunkSize: number, chunks: number): number {
  return chunks * chunkSize;
}

/** Byte offset of chunk `chunk`. */
export function chunkOffset(chunkSize: number, chunk: number): number {
  return chunk * chunkBytes(chunkSize);
}

/** The chunk holding byte `offset`. */
export function chunkAtByte(chunkSize: number, offset: number): number {
  return Math.floor(offset / chunkBytes(chunkSize));
}

/** Chunks needed to cover `bytes` (a partial last chunk counts): an origin's size in chunks. */
export function chunksCovering(chunkSize: number, bytes: number): number {
  return Math.ceil(bytes / chunkBytes(chunkSize));
}

/** Byte offset of entry `index` inside its area's chunk. */
export function entryOffset(index: number): number {
  return index * EXCEPTION_SIZE;
}

/** How many 16-byte entries `bytes` bytes hold (exact: a fraction when `bytes` is not a multiple of 16). */
export function entriesIn(bytes: number): number {
  return bytes / EXCEPTION_SIZE;
}

/** E: how many 16-byte exception entries fill one chunk (32 per sector). */
export function exceptionsPerArea(chunkSize: number): number {
  return entriesIn(chunkBytes(chunkSize));
}

/*
 * The area chain for E entries per area, whatever E is: a real COW has
 * E = exceptionsPerArea(chunkSize); the TLA+ model uses E = 2 or 3.
 */

/** Chunks from one area to the next: the area plus the `perArea` data chunks it records. */
export function areaStrideForE(perArea: number): number {
  return perArea + 1;
}

/** Chunk number of metadata area `area` when areas hold `perArea` entries. */
export function areaLocationForE(perArea: number, area: number): number {
  return 1 + areaStrideForE(perArea) * area;
}

/** True when `chunk` is a metadata area (not the header) when areas hold `perArea` entries. */
export function isAreaChunkForE(perArea: number, chunk: number): boolean {
  return chunk > HEADER_CHUNK && (chunk - 1) % areaStrideForE(perArea) === 0;
}

/** The area whose location is `chunk` (an area chunk), or whose data chunks include it. */
export function areaOfChunkForE(perArea: number, chunk: number): number {
  return Math.floor((chunk - 1) / areaStrideForE(perArea));
}

/** The area recording the `n`-th entry of the list when areas hold `perArea` entries. */
export function areaOfEntryForE(perArea: number, n: number): number {
  return Math.floor(n / perArea);
}

/** The index inside its area of the `n`-th entry of the list when areas hold `perArea` entries. */
export function indexInAreaForE(perArea: number, n: number): number {
  return n % perArea;
}

/** The `index`-th data chunk after area `area` (the chunk a fresh store hands out for that entry). */
export function dataChunkForE(perArea: number, area: number, index: number): number {
  return areaLocationForE(perArea, area) + 1 + index;
}

/** Distance in chunks from one metadata area to the next: the area plus its E data chunks. */
export function areaStride(chunkSize: number): number {
  return areaStrideForE(exceptionsPerArea(chunkSize));
}

/** Chunk number of metadata area `area`. */
export function areaLocation(chunkSize: number, area: number): number {
  return areaLocationForE(exceptionsPerArea(chunkSize), area);
}

/** Byte offset of metadata area `area`. */
export function areaOffset(chunkSize: number, area: number): number {
  return chunkOffset(chunkSize, areaLocation(chunkSize, area));
}

/** Byte offset of entry `index` of metadata area `area` on the device. */
export function entryDeviceOffset(chunkSize: number, area: number, index: number): number {
  return areaOffset(chunkSize, area) + entryOffset(index);
}

/** True when `chunk` is a metadata area chunk (the header is not one). The one test of "is this an area". */
export function isAreaChunk(chunkSize: number, chunk: number): boolean {
  return isAreaChunkForE(exceptionsPerArea(chunkSize), chunk);
}

/** The area recording the `n`-th entry of the list (0-based), which is also the current area after `n` entries. */
export function areaOfEntry(chunkSize: number, n: number): number {
  return areaOfEntryForE(exceptionsPerArea(chunkSize), n);
}

/** The index inside its area of the `n`-th entry of the list. */
export function indexInArea(chunkSize: number, n: number): number {
  return indexInAreaForE(exceptionsPerArea(chunkSize), n);
}

/** Position in the whole list of entry `index` of area `area`. */
export function entryNumber(chunkSize: number, area: number, index: number): number {
  return area * exceptionsPerArea(chunkSize) + index;
}

/** The `index`-th data chunk after area `area`: where `nextFree` stands when that area holds `index` entries. */
export function dataChunk(chunkSize: number, area: number, index: number): number {
  return dataChunkForE(exceptionsPerArea(chunkSize), area, index);
}

/**
 * The area that ends a list of `count` entries: the one holding its
 * terminator, which is a zeroed empty area when the one before it is full.
 */
export function lastAreaLocation(chunkSize: number, count: number): number {
  return areaLocation(chunkSize, areaOfEntry(chunkSize, count));
}

/** True when a device of `deviceBytes` has room for the areas of `count` entries, the ending area included. */
export function roomForEntries(chunkSize: number, count: number, deviceBytes: number): boolean {
  return lastAreaLocation(chunkSize, count) < chunksInDevice(chunkSize, deviceBytes);
}

export type ChunkKind = "header" | "metadata" | "data";

/** What a chunk is in the layout (independent of whether it is in use). */
export function chunkKind(chunkSize: number, chunk: number): ChunkKind {
  if (chunk === HEADER_CHUNK) return "header";
  return isAreaChunk(chunkSize, chunk) ? "metadata" : "data";
}

/** True for the header chunk and every metadata area chunk. */
export function isMetadataChunk(chunkSize: number, chunk: number): boolean {
  return chunk === HEADER_CHUNK || isAreaChunk(chunkSize, chunk);
}

/**
 * The area a chunk belongs to: for a metadata chunk its own index, for a
 * data chunk the area that records it. -1 for the header.
 */
export function areaOfChunk(chunkSize: number, chunk: number): number {
  if (chunk === HEADER_CHUNK) return -1;
  return areaOfChunkForE(exceptionsPerArea(chunkSize), chunk);
}

/**
 * Moves a free-chunk cursor off a metadata area: if `chunk` is an area
 * location, the next chunk is the first data chunk after it.
 */
export function skipMetadata(chunkSize: number, chunk: number): number {
  return isAreaChunk(chunkSize, chunk) ? chunk + 1 : chunk;
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
  return Math.floor(deviceBytes / chunkBytes(chunkSize));
}

/** Sectors in a device (a trailing partial sector does not count). */
export function deviceSectors(deviceBytes: number): number {
  return sectorsIn(deviceBytes);
}

/**
 * The allocation test: chunk `nextFree` may be handed out only if
 * (nextFree + 1) * chunkSize sectors fit in the device.
 */
export function canAllocate(chunkSize: number, nextFree: number, totalSectors: number): boolean {
  return chunkSectors(chunkSize, nextFree + 1) <= totalSectors;
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
    allocatedSectors: chunkSectors(chunkSize, nextFree),
    metadataSectors: chunkSectors(chunkSize, currentArea + 2),
  };
}

/** The `allocated/total metadata` part of `dmsetup status` for a valid snapshot. */
export function usageStatus(u: Usage): string {
  return `${u.allocatedSectors}/${u.totalSectors} ${u.metadataSectors}`;
}

/** Data chunks (not header, not areas) among chunks 0 .. `chunk` - 1. */
export function dataChunksBelow(chunkSize: number, chunk: number): number {
  return capacity(chunkSize, chunkSectors(chunkSize, chunk)).dataChunks;
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
  // Areas 0 .. a start inside the device when areaLocation(a) <= chunks - 1.
  const areas = chunks >= 2 ? areaOfChunkForE(exceptionsPerArea(chunkSize), chunks - 1) + 1 : 0;
  return { chunks, areas, dataChunks: Math.max(0, chunks - 1 - areas) };
}
