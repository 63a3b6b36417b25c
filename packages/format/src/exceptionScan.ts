/**
 * The checker's tests of each exception, run while activation streams the
 * entries past (nothing per exception is kept): old and new chunks used
 * twice, new chunks that are metadata or past the device, old chunks past the
 * origin, and the distinct data chunks in use.
 *
 * Memory is bounded whatever the exception count. Repeats are found with one
 * bit per chunk number (ChunkBitmap; for old chunks, which come in random
 * order, the contiguous DenseChunkBitmap), up to a cap; chunk numbers at or past
 * the cap (an origin of more than 2^28 chunks, or corrupt entries) are
 * settled exactly by further passes over the metadata, each holding one hash
 * partition of them in a ChunkNumberSet of bounded size. The entries listed
 * are the first of each code in entry order, as if every entry were held;
 * the first entry of each listed repeat is found by one more pass that ends
 * at the last listed repeat (only when there are repeats).
 */
import { ChunkBitmap, DenseChunkBitmap } from "./chunkBitmap.js";
import { ChunkNumberSet } from "./chunkNumberSet.js";
import { EntryList } from "./entryList.js";
import type { ExceptionTable } from "./exceptionTable.js";
import { EntryProblem, entryProblems } from "./entryCheck.js";
import { areaLocation, areaOfChunk } from "./layout.js";
import { indexInSorted } from "./sortedChunks.js";

export interface ScanLimits {
  /** Chunk numbers below this are checked for repeats in a bitmap (one for each column, 1 bit a number). Default 2^28: at most 32 MiB each. */
  bitmapBits?: number;
  /** Numbers of one hash partition held at once in a pass over those past the bitmap. Default 2^20: 16 MiB for each column. */
  partitionEntries?: number;
}

/** Receives each distinct data chunk inside the device that an exception names, once (the map's picture). */
export interface UsedChunkSink {
  begin(chunkSize: number, chunks: number): void;
  add(chunk: number): void;
  /** The chunks [first, first + count), each as by add (optional: add is called for each otherwise). */
  addRun?(first: number, count: number): void;
}

export type EntryVisitor = (table: ExceptionTable, from: number, count: number) => void;

const DEFAULT_BITMAP_BITS = 2 ** 28;
const DEFAULT_PARTITION_ENTRIES = 2 ** 20;
const TWO_32 = 4294967296;
/** Thrown by a visitor to end a pass early. */
export const STOP_PASS = Symbol("stop pass");

export class ExceptionScan {
  readonly dupOld: EntryList;
  readonly dupNew: EntryList;
  readonly metadata: EntryList;
  readonly beyondDevice: EntryList;
  readonly beyondOrigin: EntryList;
  /** Distinct data chunks inside the device named by some exception. */
  referenced = 0;
  /** Entries seen by the streaming pass. */
  count = 0;
  private deferredOld = 0;
  private deferredNew = 0;
  /** Data chunks [runStart, runEnd) of the area the last entry named: entries mostly name the next chunk of one run, so most need no entryProblems. */
  private runStart = 0;
  private runEnd = 0;
  private oldSeen: DenseChunkBitmap;
  private newSeen: ChunkBitmap;
  /** Numbers at or past these are not in the bitmaps: the partitioned passes settle them. */
  private readonly oldCap: number;
  private readonly newCap: number;
  private readonly partitionEntries: number;
  /** Listed repeated values (sorted) and the index of their first entry. */
  private repeatOld: Float64Array = new Float64Array(0);
  private firstOld: Float64Array = new Float64Array(0);
  private repeatNew: Float64Array = new Float64Array(0);
  private firstNew: Float64Array = new Float64Array(0);

  constructor(
    private readonly chunkSize: number,
    private readonly chunks: number,
    private readonly originChunks: number,
    maxPerCode: number,
    limits: ScanLimits = {},
    private readonly used?: UsedChunkSink,
  ) {
    this.partitionEntries = Math.max(1, limits.partitionEntries ?? DEFAULT_PARTITION_ENTRIES);
    // Old chunks come in random order over the origin's range: one contiguous bitmap.
    this.oldSeen = new DenseChunkBitmap(limits.bitmapBits ?? DEFAULT_BITMAP_BITS);
    this.newSeen = new ChunkBitmap(limits.bitmapBits ?? DEFAULT_BITMAP_BITS);
    this.oldCap = this.oldSeen.capBits;
    this.newCap = this.newSeen.capBits;
    this.dupOld = new EntryList(maxPerCode);
    this.dupNew = new EntryList(maxPerCode);
    this.metadata = new EntryList(maxPerCode);
    this.beyondDevice = new EntryList(maxPerCode);
    this.beyondOrigin = new EntryList(maxPerCode);
    used?.begin(chunkSize, chunks);
  }

  /** The streaming pass: entries [from, from + count) of `t`, in on-disk order. */
  readonly visit: EntryVisitor = (t, from, count) => {
    if (count > 1 && this.visitRun(t, from, count)) return;
    this.visitEach(t, from, count);
  };

  /**
   * The usual batch, an area's worth of entries as the kernel writes them:
   * consecutive data chunks of one run, none named before. Their new chunks
   * are then tested and marked a word at a time and need no per-entry test;
   * only the old chunks are tested one by one. Any other batch returns false
   * with nothing counted or listed (the run bounds it may have moved are
   * those visitEach would set at the batch's first entry), for visitEach.
   */
  private visitRun(t: ExceptionTable, from: number, count: number): boolean {
    const news = t.newChunk;
    const first = news[from]!;
    const last = first + count - 1;
    if (first < this.runStart || last >= this.runEnd) {
      if ((entryProblems(this.chunkSize, this.chunks, Infinity, 0, first) & (EntryProblem.NewChunkIsMetadata | EntryProblem.NewChunkBeyondDevice)) !== 0) return false;
      const area = areaOfChunk(this.chunkSize, first);
      this.runStart = areaLocation(this.chunkSize, area) + 1;
      this.runEnd = Math.min(areaLocation(this.chunkSize, area + 1), this.chunks);
      if (last >= this.runEnd) return false;
    }
    for (let k = 1; k < count; k++) if (news[from + k] !== first + k) return false;
    if (!this.newSeen.markRun(first, count)) return false;
    this.referenced += count;
    const used = this.used;
    if (used?.addRun) used.addRun(first, count);
    else if (used) for (let c = first; c <= last; c++) used.add(c);
    const olds = t.oldChunk;
    const { oldSeen, originChunks } = this;
    let i = this.count;
    for (let k = from, end = from + count; k < end; k++, i++) {
      const o = olds[k]!;
      const ro = oldSeen.mark(o);
      if (ro !== 0) {
        if (ro > 0) this.dupOld.add(i, o, news[k]!);
        else this.deferredOld++;
      }
      if (o >= originChunks) this.beyondOrigin.add(i, o, news[k]!);
    }
    this.count = i;
    return true;
  }

  /** Entries [from, from + count) one at a time: every test on each. */
  private visitEach(t: ExceptionTable, from: number, count: number): void {
    const olds = t.oldChunk;
    const news = t.newChunk;
    const { oldSeen, newSeen, chunkSize, chunks, originChunks, used } = this;
    let runStart = this.runStart;
    let runEnd = this.runEnd;
    let referenced = this.referenced;
    let i = this.count;
    for (let k = from, end = from + count; k < end; k++, i++) {
      const o = olds[k]!;
      const n = news[k]!;
      const ro = oldSeen.mark(o);
      if (ro > 0) this.dupOld.add(i, o, n);
      else if (ro < 0) this.deferredOld++;
      let problems = 0;
      if (n < runStart || n >= runEnd || o >= originChunks) {
        problems = entryProblems(chunkSize, chunks, originChunks, o, n);
        if ((problems & (EntryProblem.NewChunkIsMetadata | EntryProblem.NewChunkBeyondDevice)) === 0) {
          // A sound data chunk: remember the run of data chunks after its area.
          const area = areaOfChunk(chunkSize, n);
          runStart = areaLocation(chunkSize, area) + 1;
          runEnd = Math.min(areaLocation(chunkSize, area + 1), chunks);
        }
      }
      const rn = newSeen.mark(n);
      if (rn === 0) {
        // A distinct data chunk inside the device.
        if ((problems & (EntryProblem.NewChunkIsMetadata | EntryProblem.NewChunkBeyondDevice)) === 0) {
          referenced++;
          used?.add(n);
        }
      } else if (rn > 0) this.dupNew.add(i, o, n);
      else this.deferredNew++;
      if (problems !== 0) {
        if (problems & EntryProblem.NewChunkIsMetadata) this.metadata.add(i, o, n);
        if (problems & EntryProblem.NewChunkBeyondDevice) this.beyondDevice.add(i, o, n);
        if (problems & EntryProblem.OldChunkBeyondOrigin) this.beyondOrigin.add(i, o, n);
      }
    }
    this.runStart = runStart;
    this.runEnd = runEnd;
    this.referenced = referenced;
    this.count = i;
  }

  /** Passes over the metadata still needed for the numbers past the bitmap (0 almost always). Ends the streaming pass. */
  partitionPasses(): number {
    return Math.ceil(Math.max(this.deferredOld, this.deferredNew) / this.partitionEntries);
  }

  /** Pass `p` of `parts`: repeats among the numbers past the bitmap that hash to partition p. */
  partitionVisitor(p: number, parts: number): EntryVisitor {
    // The bitmaps are done with: free them before the sets are made.
    this.oldSeen = new DenseChunkBitmap(32);
    this.newSeen = new ChunkBitmap(32);
    const { oldCap, newCap } = this;
    const setOld = this.deferredOld > 0 ? new ChunkNumberSet(Math.ceil(this.deferredOld / parts)) : null;
    const setNew = this.deferredNew > 0 ? new ChunkNumberSet(Math.ceil(this.deferredNew / parts)) : null;
    const { chunkSize, chunks, used } = this;
    let i = 0;
    return (t, from, count) => {
      const olds = t.oldChunk;
      const news = t.newChunk;
      for (let k = from, end = from + count; k < end; k++, i++) {
        const o = olds[k]!;
        const n = news[k]!;
        if (setOld && o >= oldCap && partitionOf(o, parts) === p && !setOld.add(o)) this.dupOld.addUnordered(i, o, n);
        if (setNew && n >= newCap && partitionOf(n, parts) === p) {
          if (!setNew.add(n)) this.dupNew.addUnordered(i, o, n);
          else if ((entryProblems(chunkSize, chunks, Infinity, 0, n) & (EntryProblem.NewChunkIsMetadata | EntryProblem.NewChunkBeyondDevice)) === 0) {
            this.referenced++;
            used?.add(n);
          }
        }
      }
    };
  }

  /**
   * After the passes above: the listed repeats are known, but not the entry
   * each repeats. Returns the visitor of one more pass that finds them, or
   * null when nothing is listed.
   */
  firstEntryVisitor(): EntryVisitor | null {
    this.dupOld.finish();
    this.dupNew.finish();
    this.repeatOld = distinctSorted(this.dupOld.oldChunk, this.dupOld.length);
    this.repeatNew = distinctSorted(this.dupNew.newChunk, this.dupNew.length);
    this.firstOld = new Float64Array(this.repeatOld.length).fill(-1);
    this.firstNew = new Float64Array(this.repeatNew.length).fill(-1);
    if (this.repeatOld.length + this.repeatNew.length === 0) return null;
    const last = Math.max(this.dupOld.length ? this.dupOld.index[this.dupOld.length - 1]! : -1, this.dupNew.length ? this.dupNew.index[this.dupNew.length - 1]! : -1);
    // A 2^16-bit filter on the low bits: most entries are passed over without a search.
    const filterOld = lowBitsFilter(this.repeatOld);
    const filterNew = lowBitsFilter(this.repeatNew);
    const { repeatOld, repeatNew, firstOld, firstNew } = this;
    let i = 0;
    return (t, from, count) => {
      const olds = t.oldChunk;
      const news = t.newChunk;
      for (let k = from, end = from + count; k < end; k++, i++) {
        if (i > last) throw STOP_PASS;
        const o = olds[k]!;
        const n = news[k]!;
        if ((filterOld[(o & 0xffff) >>> 5]! & (1 << (o & 31))) !== 0) {
          const j = indexInSorted(repeatOld, o);
          if (j >= 0 && firstOld[j]! < 0) firstOld[j] = i;
        }
        if ((filterNew[(n & 0xffff) >>> 5]! & (1 << (n & 31))) !== 0) {
          const j = indexInSorted(repeatNew, n);
          if (j >= 0 && firstNew[j]! < 0) firstNew[j] = i;
        }
      }
    };
  }

  /** The first entry whose old_chunk is `o` (a listed repeat). */
  firstWithOld(o: number): number {
    return this.firstOld[indexInSorted(this.repeatOld, o)]!;
  }

  /** The first entry whose new_chunk is `n` (a listed repeat). */
  firstWithNew(n: number): number {
    return this.firstNew[indexInSorted(this.repeatNew, n)]!;
  }
}

/** Which of `parts` partitions a chunk number falls in (a hash unlike ChunkNumberSet's slots). */
function partitionOf(v: number, parts: number): number {
  let h = Math.imul((v >>> 0) ^ Math.imul((v / TWO_32) >>> 0, 0x27d4eb2d), 0x165667b1);
  h ^= h >>> 13;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 16;
  return (h >>> 0) % parts;
}

function distinctSorted(values: Float64Array, length: number): Float64Array {
  const s = values.slice(0, length).sort();
  let n = 0;
  for (let k = 0; k < s.length; k++) if (k === 0 || s[k] !== s[k - 1]) s[n++] = s[k]!;
  return s.slice(0, n);
}

function lowBitsFilter(values: Float64Array): Int32Array {
  const f = new Int32Array(2048);
  for (const v of values) f[(v & 0xffff) >>> 5]! |= 1 << (v & 31);
  return f;
}
