/**
 * Export's first pass: reads only the COW's metadata (streamed, constant
 * memory) and finds every refusal before a byte of the view is written: the
 * format's refusals (the codes of `dump`), an invalidated snapshot, and a
 * chunk of the view mapped past the end of the COW (the kernel fails that
 * read). It also counts the view's chunks served from the COW.
 *
 * Which entry serves an origin chunk: the FIRST of duplicates (Linux 6.1,
 * docs/format.md "Duplicate old_chunk"), so a later entry past the COW's end
 * that an earlier one shadows is no refusal. When the caller can afford it,
 * the pass fills a map from every origin chunk to the COW chunk serving it
 * (4 bytes a chunk of the ORIGIN, not an exception): export then streams the
 * view in origin order. Otherwise shadowing is found with a bitmap over a
 * window of origin chunks (2^26 chunks, 8 MiB, pages touched only where
 * entries land); an origin larger than a window costs one more metadata pass
 * per window holding entries, never memory per exception.
 */
import { chunkBytes, chunkOffset, chunksCovering, chunksInDevice, decodeCowAsync, decodeHeader, HEADER_SIZE, SNAP_MAGIC, type ActivationOptions, type CowImage, type ExceptionTable } from "@dmsnap/format";
import { StoreError, StoreErrorCode } from "./errors.js";
import type { FileDevice } from "./fileDevice.js";

/** Origin chunks one metadata pass covers (one bit each). */
export const WINDOW_CHUNKS = 1 << 26;

/** Origin chunk -> the COW chunk serving it, 0 for none (chunk 0 is the header, never data). */
export type ViewMap = Uint32Array | Float64Array;

export interface ViewCheck {
  /** The activated COW (no entries kept). */
  image: CowImage;
  /** Distinct origin chunks of the view served from the COW. */
  cowChunks: number;
  /** The view's map, when it fitted in `mapBytes`. */
  map: ViewMap | null;
}

export interface CheckOptions {
  /** Origin chunks one bitmap pass covers (tests shrink it). */
  windowChunks?: number;
  /** The most bytes a view map may take (0: none; it costs 4 bytes an origin chunk, 8 past 2^32 COW chunks). */
  mapBytes?: number;
}

/** Refuses what the kernel would refuse (or fail to read) and counts the view's COW chunks; writes nothing. */
export async function checkView(cowDev: FileDevice, originBytes: number, activation: ActivationOptions, cowName: string, options: CheckOptions = {}): Promise<ViewCheck> {
  // Entries reach onEntries only from a SnAp header, whose chunk size is then in effect.
  const head = cowDev.size >= HEADER_SIZE ? decodeHeader(await cowDev.read(0, HEADER_SIZE)) : null;
  const cs = head && head.magic === SNAP_MAGIC ? head.chunkSize : 0;
  const cb = cs > 0 ? chunkBytes(cs) : 1;
  const originChunks = cs > 0 ? chunksCovering(cs, originBytes) : originBytes;
  const wide = cs > 0 && chunksInDevice(cs, cowDev.size) > 0xffffffff;
  const mapBytes = originChunks * (wide ? 8 : 4);
  const map: ViewMap | null = cs > 0 && originChunks > 0 && mapBytes <= (options.mapBytes ?? 0) ? (wide ? new Float64Array(originChunks) : new Uint32Array(originChunks)) : null;
  const windowChunks = map ? Math.max(1, originChunks) : (options.windowChunks ?? WINDOW_CHUNKS);
  const seen = new Uint8Array(map ? 0 : Math.ceil(Math.min(windowChunks, Math.max(1, originChunks)) / 8));
  let cowChunks = 0;
  let beyondWindow = 0;
  let worst = -1; // the lowest origin chunk served from past the COW's end
  let worstNew = 0;
  let lo = 0;
  let hi = windowChunks;
  const onEntries = (table: ExceptionTable, from: number, count: number): void => {
    const olds = table.oldChunk;
    const news = table.newChunk;
    for (let k = from; k < from + count; k++) {
      const o = olds[k]!;
      if (o >= originChunks) continue; // not part of the view
      if (o < lo || o >= hi) {
        if (o >= hi) beyondWindow++;
        continue;
      }
      if (map) {
        if (map[o] !== 0) continue; // a later duplicate: the first entry serves the chunk
        map[o] = news[k]!; // a new_chunk of 2^32 or more in a narrow map lies past the COW's end: refused below
      } else {
        const bit = o - lo;
        const mask = 1 << (bit & 7);
        const at = bit >>> 3;
        if ((seen[at]! & mask) !== 0) continue; // a later duplicate: the first entry serves the chunk
        seen[at] = seen[at]! | mask;
      }
      cowChunks++;
      const need = Math.min(cb, originBytes - o * cb);
      if (chunkOffset(cs, news[k]!) + need > cowDev.size && (worst < 0 || o < worst)) {
        worst = o;
        worstNew = news[k]!;
      }
    }
  };
  const pass = { ...activation, keepEntries: false, onEntries };
  const image = await decodeCowAsync(readAhead(cowDev), pass);
  if (image.state === "invalid") {
    throw new StoreError(StoreErrorCode.SnapshotInvalid, `the snapshot in ${cowName} is invalid (its header says valid = 0), so it has no view to export; the origin is intact`);
  }
  // Origins of more than a window of chunks: one more pass for each window that has entries.
  for (lo = windowChunks; beyondWindow > 0 && worst < 0 && lo < originChunks; lo += windowChunks) {
    hi = lo + windowChunks;
    beyondWindow = 0;
    seen.fill(0);
    await decodeCowAsync(readAhead(cowDev), pass);
  }
  if (worst >= 0) {
    throw new StoreError(
      StoreErrorCode.ChunkBeyondDevice,
      `origin chunk ${worst} is mapped to COW chunk ${worstNew}, which lies past the end of the ${cowDev.size}-byte COW ${cowName}: the kernel fails reads of it, so there is no view to export; 'dmsnap check' lists such entries and 'dmsnap repair' drops them`,
    );
  }
  return { image, cowChunks, map };
}

/** Bytes of each read of the metadata pass. */
const READ_AHEAD = 256 * 1024;

/**
 * The codec's reader over the COW, reading ahead: areas lie at increasing
 * offsets, so one read of READ_AHEAD bytes serves the next areas too (1-sector
 * chunks: 2 Mi exceptions are 65,536 areas of 512 bytes, 65,536 reads through
 * the thread pool without it, 128 with it). A read outside the block held
 * reads a new block from there on.
 */
function readAhead(dev: FileDevice): { size: number; read(offset: number, length: number): Promise<Uint8Array> } {
  const block = new Uint8Array(Math.min(READ_AHEAD, dev.size));
  let start = 0;
  let len = 0;
  return {
    size: dev.size,
    async read(offset, length) {
      if (length > block.length) return dev.read(offset, length);
      if (offset < start || offset + length > start + len) {
        start = offset;
        len = Math.min(block.length, dev.size - offset);
        await dev.readInto(block.subarray(0, len), offset);
      }
      // A view, not a copy: the codec decodes each read before it asks for the next (no garbage per area).
      return block.subarray(offset - start, offset - start + length);
    },
  };
}
