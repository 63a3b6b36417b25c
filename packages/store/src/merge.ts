/**
 * Offline merge: copies a snapshot's exceptions back to its origin and removes
 * them from the COW, last entry first, committing progress in the COW exactly
 * as the kernel's snapshot-merge target does (prepareMerge / commitMerge: the
 * merged entries are zeroed and the area is written with flush-before + FUA).
 *
 * One batch at a time:
 *   1. prepareMerge: the run of consecutive entries at the end of the list
 *      (stepping back an area when the current one is empty);
 *   2. copy those chunks from the COW to the origin (the origin's last chunk
 *      may be partial);
 *   3. flush the origin: the copies are durable;
 *   4. commitMerge(n): clear the n entries and write the area (flush + FUA).
 *
 * Step 3 before step 4 is the whole of the crash safety: an entry disappears
 * from the COW only after its data is durable in the origin. A crash leaves
 * a valid COW whose list is a prefix of the original one; merging again
 * re-copies at most the last uncommitted batch, which is idempotent because
 * merge never writes a COW data chunk. The kernel could continue it, too.
 *
 * Decisions (docs/store.md, "Merge"):
 * - duplicate old_chunk: the view serves the FIRST entry (ExceptionIndex, as
 *   measured on Linux 6.1). A later duplicate's data is never visible, so its
 *   copy is skipped and its entry is only cleared. (Plain last-first copying
 *   would end with the same origin, but would write the garbage first.)
 * - refused before anything is written: an invalid snapshot (SNAPSHOT_INVALID),
 *   an entry whose COW chunk is a metadata chunk (NEW_CHUNK_IS_METADATA: the
 *   merge rewrites metadata, so a re-run after a crash would copy different
 *   bytes) or lies past the COW's end (NEW_CHUNK_BEYOND_DEVICE), or whose
 *   origin chunk starts past the origin's end (OLD_CHUNK_BEYOND_ORIGIN). The
 *   codes are the ones `dmsnap check` reports for the same entries.
 * - a blank COW (magic 0): nothing to merge, and nothing is written (activating
 *   it would initialise it).
 * - batching: a batch is the kernel's run plus earlier whole runs up to
 *   `batchBytes`, across area boundaries; the origin is flushed once per batch,
 *   then the batch's areas are cleared last first, each area write durable
 *   (flush-before + FUA) before the next is issued. Every committed state is
 *   one the kernel's own merge passes through (a prefix of the list), with
 *   fewer flushes. Copies read runs of consecutive COW chunks at once (a
 *   random layout: one read per area, not per entry) through pieces of
 *   `copyBytes`, so memory is bounded whatever the run length.
 * - at the end, area 0 is zeroed if bytes after its terminator survived a torn
 *   write: stale entries there would come back to life if the COW were reused.
 */
import { areaOfEntry, areaOffset, chunkBytes, chunkOffset, chunksCovering, chunksInDevice, decodeHeader, EntryCode, entryNumber, EntryProblem, entryProblems, indexInArea, type ExceptionTable } from "@dmsnap/format";
import type { BlockDevice } from "./device.js";
import { ioError, StoreError, StoreErrorCode } from "./errors.js";
import { ExceptionIndex } from "./exceptionIndex.js";
import { PersistentStore } from "./store.js";
import { isBlankNewCow } from "./newCow.js";

export const MergeRefusalCode = {
  NewChunkIsMetadata: EntryCode.NewChunkIsMetadata,
  NewChunkBeyondDevice: EntryCode.NewChunkBeyondDevice,
  OldChunkBeyondOrigin: EntryCode.OldChunkBeyondOrigin,
} as const;
export type MergeRefusalCode = (typeof MergeRefusalCode)[keyof typeof MergeRefusalCode];

/** The COW holds an entry that cannot be merged safely; nothing was written. Exit status 1 (a refused image). */
export class MergeRefusal extends Error {
  override readonly name = "MergeRefusal";
  readonly exitCode = 1;
  constructor(
    readonly code: MergeRefusalCode,
    message: string,
    readonly location: { area: number; index: number },
  ) {
    super(message);
  }
  toJSON(): { code: MergeRefusalCode; message: string; location: { area: number; index: number } } {
    return { code: this.code, message: this.message, location: this.location };
  }
}

export interface MergeProgress {
  /** Entries cleared from the COW so far by this run. */
  merged: number;
  /** Entries in the COW when this run started. */
  total: number;
  /** Bytes copied to the origin so far. */
  bytesCopied: number;
}

export interface MergeOptions {
  origin: BlockDevice;
  cow: BlockDevice;
  /** Called once at the start (merged = 0) and after every batch. */
  onProgress?: (p: MergeProgress) => void;
  /**
   * Bytes of chunks per commit (default 8 MiB). A batch is at least one of the
   * kernel's runs and only ever whole runs; 0 commits every run on its own,
   * as the kernel does.
   */
  batchBytes?: number;
  /** Largest single read/write while copying (default 1 MiB, at least one sector). */
  copyBytes?: number;
  /**
   * TEST ONLY: wrong orderings that the interruption test must catch.
   * "clear-before-copy" commits the merge before copying; "no-origin-flush"
   * never flushes the origin before clearing the entries.
   */
  unsafeOrdering?: "clear-before-copy" | "no-origin-flush";
}

export interface MergeResult {
  /** "new": a blank COW, nothing merged and nothing written. */
  state: "new" | "valid";
  /** Chunk size in sectors (0 for a blank COW: it has none yet). */
  chunkSize: number;
  /** Entries in the COW when this run started (a resumed merge finds fewer). */
  exceptions: number;
  /** Entries cleared from the COW (all of them: the COW is empty afterwards). */
  merged: number;
  /** Chunks copied to the origin. */
  copiedChunks: number;
  /** Entries cleared without a copy: later duplicates of an origin chunk, never visible in the view. */
  skippedDuplicates: number;
  bytesCopied: number;
  /** Area writes (commitMerge calls). */
  commits: number;
}

const DEFAULT_BATCH = 8 * 1024 * 1024;
const DEFAULT_COPY = 1024 * 1024;

/** Merges every exception of the COW back into the origin. See the module comment for the guarantees. */
export async function mergeSnapshot(options: MergeOptions): Promise<MergeResult> {
  const { origin, cow } = options;
  const batchBytes = options.batchBytes ?? DEFAULT_BATCH;
  const copyBytes = Math.max(512, options.copyBytes ?? DEFAULT_COPY);
  const unsafe = options.unsafeOrdering;

  let headerBytes: Uint8Array;
  try {
    headerBytes = await cow.read(0, Math.min(cow.size, 512));
  } catch (e) {
    throw ioError(e, "reading the COW header");
  }
  if (decodeHeader(headerBytes).magic === 0) {
    // Blank only when the header chunk and area 0 are all zeros: magic 0 over live entries (the 2009 race) is refused, not "nothing to merge".
    await isBlankNewCow(cow, "the COW (--cow)", { hint: "; nothing was written" });
    return { state: "new", chunkSize: 0, exceptions: 0, merged: 0, copiedChunks: 0, skippedDuplicates: 0, bytesCopied: 0, commits: 0 };
  }

  const store = await PersistentStore.open(cow);
  if (!store.valid) {
    throw new StoreError(
      StoreErrorCode.SnapshotInvalid,
      "the snapshot is invalid (its header says valid = 0): its exceptions are not trustworthy, so they cannot be merged; nothing was written; the origin holds the data written since the snapshot; remove the snapshot",
    );
  }
  const cs = store.chunkSize;
  const cb = chunkBytes(cs);
  const table = store.loaded;
  const total = table.count;
  if (entryNumber(cs, store.currentArea, store.currentIndex) !== total) {
    throw new Error(`internal: the store's position (area ${store.currentArea}, index ${store.currentIndex}) does not match the ${total} loaded exceptions`);
  }

  // Which entries are visible: the first one for each origin chunk.
  const firstOf = new ExceptionIndex(total);
  for (let g = 0; g < total; g++) if (firstOf.get(table.oldChunk[g]!) < 0) firstOf.set(table.oldChunk[g]!, g);
  const visible = (g: number): boolean => firstOf.get(table.oldChunk[g]!) === g;
  validate(table, visible, cs, cow.size, origin.size);

  const result: MergeResult = { state: "valid", chunkSize: cs, exceptions: total, merged: 0, copiedChunks: 0, skippedDuplicates: 0, bytesCopied: 0, commits: 0 };
  const report = (): void => options.onProgress?.({ merged: result.merged, total, bytesCopied: result.bytesCopied });
  report();

  const maxChunksPerRead = Math.max(1, chunksInDevice(cs, copyBytes)); // whole chunks in one copy piece

  /** Streams one chunk run [newStart..] -> [oldStart..] through pieces of copyBytes (chunks larger than a piece). */
  const copyRange = async (oldStart: number, newStart: number, chunks: number): Promise<void> => {
    const from = chunkOffset(cs, newStart);
    const to = chunkOffset(cs, oldStart);
    const length = Math.min(chunks * cb, origin.size - to);
    for (let done = 0; done < length; ) {
      const n = Math.min(copyBytes, length - done);
      let data: Uint8Array;
      try {
        data = await cow.read(from + done, n);
      } catch (e) {
        throw ioError(e, `reading COW chunks ${newStart}..${newStart + chunks - 1} to merge them`);
      }
      try {
        await origin.write(to + done, data);
      } catch (e) {
        throw ioError(e, `writing origin chunks ${oldStart}..${oldStart + chunks - 1} while merging`);
      }
      done += n;
    }
    result.copiedChunks += chunks;
    result.bytesCopied += length;
  };

  /**
   * Copies entries [first, first + k), whose COW chunks are consecutive: one
   * read of all k chunks (at most copyBytes), then one write per run of
   * consecutive origin chunks. A random layout thus costs one read per area
   * instead of one per entry. Writes are awaited one by one: on the blocking
   * device `dmsnap merge` uses they are already done, and nothing is kept per write.
   */
  const copyPiece = async (first: number, k: number): Promise<void> => {
    const newStart = table.newChunk[first]!;
    let data: Uint8Array;
    try {
      data = await cow.read(chunkOffset(cs, newStart), k * cb);
    } catch (e) {
      throw ioError(e, `reading COW chunks ${newStart}..${newStart + k - 1} to merge them`);
    }
    for (let i = 0; i < k; ) {
      const o = table.oldChunk[first + i]!;
      let m = 1;
      while (i + m < k && table.oldChunk[first + i + m] === o + m) m++;
      const to = chunkOffset(cs, o);
      const length = Math.min(m * cb, origin.size - to);
      try {
        await origin.write(to, data.subarray(i * cb, i * cb + length));
      } catch (e) {
        throw ioError(e, `writing origin chunks ${o}..${o + m - 1} while merging`);
      }
      result.copiedChunks += m;
      result.bytesCopied += length;
      i += m;
    }
  };

  /** Copies entries [start, end), last first, one read per run of consecutive COW chunks of visible entries. */
  const copyEntries = async (start: number, end: number): Promise<void> => {
    for (let g = end - 1; g >= start; ) {
      if (!visible(g)) {
        result.skippedDuplicates++;
        g--;
        continue;
      }
      const nw = table.newChunk[g]!;
      if (maxChunksPerRead === 1 && cb > copyBytes) {
        // A chunk larger than a copy piece: stream it, joining earlier entries whose old and new chunks both step down.
        const o = table.oldChunk[g]!;
        let k = 1;
        while (g - k >= start && visible(g - k) && table.oldChunk[g - k] === o - k && table.newChunk[g - k] === nw - k) k++;
        await copyRange(o - k + 1, nw - k + 1, k);
        g -= k;
        continue;
      }
      let k = 1;
      while (k < maxChunksPerRead && g - k >= start && visible(g - k) && table.newChunk[g - k] === nw - k) k++;
      await copyPiece(g - k + 1, k);
      g -= k;
    }
  };

  /** Clears entries [start, current end) area by area, last area first: one commitMerge (flush-before + FUA) per area. */
  const commitDownTo = async (start: number): Promise<void> => {
    for (;;) {
      const end = entryNumber(cs, store.currentArea, store.currentIndex);
      if (end <= start) return;
      if (store.currentIndex === 0) {
        await store.prepareMerge(); // steps back to the previous area (reads it, as the kernel does)
        continue;
      }
      await store.commitMerge(Math.min(store.currentIndex, end - start));
      result.commits++;
    }
  };

  let lastYield = Date.now();
  for (;;) {
    const run = await store.prepareMerge();
    if (run.count === 0) break;
    const end = entryNumber(cs, store.currentArea, store.currentIndex);
    if (table.oldChunk[end - 1] !== run.lastOld || table.newChunk[end - 1] !== run.lastNew) {
      throw new Error(`internal: prepareMerge gave ${run.lastOld}->${run.lastNew}, but entry ${end - 1} of the loaded list is ${table.oldChunk[end - 1]}->${table.newChunk[end - 1]}`);
    }
    // Earlier whole runs join the batch while it stays within batchBytes, across
    // area boundaries: the origin is flushed once for the whole batch, then the
    // areas are cleared last first, each write durable before the next, so every
    // state on disk is still a prefix of the list (one the kernel passes through).
    let start = end - run.count;
    let bytes = run.count * cb;
    while (start > 0) {
      const k = runLength(table, start - 1, entryNumber(cs, areaOfEntry(cs, start - 1), 0));
      if (bytes + k * cb > batchBytes) break;
      start -= k;
      bytes += k * cb;
    }
    if (unsafe === "clear-before-copy") await commitDownTo(start);
    await copyEntries(start, end);
    if (unsafe !== "no-origin-flush") {
      try {
        await origin.flush();
      } catch (e) {
        throw ioError(e, "flushing the origin before clearing merged entries");
      }
    }
    if (unsafe !== "clear-before-copy") await commitDownTo(start);
    result.merged += end - start;
    report();
    // Let timers and signal handlers run now and then (a blocking device never yields by itself).
    if (Date.now() - lastYield > 50) {
      await new Promise<void>((resolve) => (globalThis.setImmediate ?? globalThis.setTimeout)(resolve));
      lastYield = Date.now();
    }
  }

  // Stale bytes after area 0's terminator (a torn clear) must not outlive the merge.
  const area0 = areaOffset(cs, 0);
  let bytes0: Uint8Array;
  try {
    bytes0 = await cow.read(area0, cb);
  } catch (e) {
    throw ioError(e, "reading metadata area 0 after the merge");
  }
  if (bytes0.some((b) => b !== 0)) {
    try {
      await cow.write(area0, new Uint8Array(cb), { flushBefore: true, fua: true });
    } catch (e) {
      throw ioError(e, "zeroing metadata area 0 after the merge");
    }
  }
  return result;
}

/** Length of the kernel's run ending at entry `last`: entries before it whose old and new chunks both step down by one, not before `floor`. */
function runLength(table: ExceptionTable, last: number, floor: number): number {
  const o = table.oldChunk[last]!;
  const n = table.newChunk[last]!;
  let k = 1;
  while (last - k >= floor && table.oldChunk[last - k] === o - k && table.newChunk[last - k] === n - k) k++;
  return k;
}

function validate(table: ExceptionTable, visible: (g: number) => boolean, cs: number, cowBytes: number, originBytes: number): void {
  const cowChunks = chunksInDevice(cs, cowBytes);
  const originChunks = chunksCovering(cs, originBytes);
  // The common case first, without building a message per entry.
  for (let g = 0; g < table.count; g++) {
    const o = table.oldChunk[g]!;
    const n = table.newChunk[g]!;
    const problems = entryProblems(cs, cowChunks, originChunks, o, n);
    if (problems === 0 || !visible(g)) continue;
    const where = { area: areaOfEntry(cs, g), index: indexInArea(cs, g) };
    const at = `entry ${g} (area ${where.area}, index ${where.index}) maps origin chunk ${o} to COW chunk ${n}`;
    const next = "nothing was written; run 'dmsnap check' on the COW to see every such entry";
    if (problems & EntryProblem.NewChunkBeyondDevice) {
      throw new MergeRefusal(MergeRefusalCode.NewChunkBeyondDevice, `${at}, past the last chunk (${cowChunks - 1}) of the COW: its data does not exist; ${next}`, where);
    }
    if (problems & EntryProblem.NewChunkIsMetadata) {
      throw new MergeRefusal(MergeRefusalCode.NewChunkIsMetadata, `${at}, which is a metadata chunk: merging would copy metadata that the merge itself rewrites; ${next}`, where);
    }
    throw new MergeRefusal(
      MergeRefusalCode.OldChunkBeyondOrigin,
      `${at}, but the origin is ${originBytes} bytes (${originChunks} chunks): is --origin the snapshot's origin? ${next} (with --origin-size)`,
      where,
    );
  }
}
