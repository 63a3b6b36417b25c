/**
 * A read-only map from origin chunk to COW chunk for streaming the snapshot
 * view in origin order (export): the exceptions sorted by old_chunk, FIRST
 * entry winning on duplicates (the kernel's lookup finds the earlier one, as
 * ExceptionIndex does). 8 bytes an exception once built (narrow chunk numbers)
 * instead of a hash table's 32 at load 1/2; building takes 8 more, briefly.
 * No BigInt and no object per entry: the pairs are packed as 64-bit words
 * (old_chunk high, entry index low) through a 32-bit view and sorted natively.
 */
import { LITTLE_ENDIAN_HOST, type ExceptionTable } from "@dmsnap/format";

export class SortedExceptionIndex {
  private constructor(
    /** Distinct origin chunks, ascending. */
    readonly olds: Uint32Array | Float64Array,
    /** COW chunk of each (the first entry's). */
    readonly news: Uint32Array | Float64Array,
  ) {}

  get size(): number {
    return this.olds.length;
  }

  /**
   * Builds the index from `table`, whose columns it takes over (the table is
   * left empty): with narrow chunk numbers the result lives in the table's
   * new_chunk column and the sort buffer, 16 bytes an exception at the peak.
   */
  static consume(table: ExceptionTable): SortedExceptionIndex {
    const n = table.count;
    if (table.wide || !LITTLE_ENDIAN_HOST) return SortedExceptionIndex.fromWide(table);
    const olds = table.oldChunk as Uint32Array;
    const news = table.newChunk as Uint32Array;
    // u64 words old << 32 | index, sorted natively: order by (old, index).
    const packed = new BigUint64Array(n);
    const w = new Uint32Array(packed.buffer);
    for (let i = 0; i < n; i++) {
      w[2 * i] = i;
      w[2 * i + 1] = olds[i]!;
    }
    packed.sort();
    for (let k = 0; k < n; k++) w[k] = w[2 * k]!; // the order, compacted to the front
    const order = w.subarray(0, n);
    const v = w.subarray(n, 2 * n);
    for (let k = 0; k < n; k++) v[k] = news[order[k]!]!;
    const o = news; // no longer needed as new_chunk: reuse it for the sorted old_chunk
    for (let k = 0; k < n; k++) o[k] = olds[order[k]!]!;
    // Keep the first of each run of equal old_chunk (the earliest entry).
    let j = 0;
    for (let k = 0; k < n; k++) {
      if (k > 0 && o[k] === o[k - 1]) continue;
      o[j] = o[k]!;
      v[j] = v[k]!;
      j++;
    }
    table.count = 0;
    table.oldChunk = new Uint32Array(1);
    table.newChunk = new Uint32Array(1);
    return new SortedExceptionIndex(o.subarray(0, j), v.subarray(0, j));
  }

  /** Chunk numbers of 2^32 and more (rare): an index permutation sorted by comparison. */
  private static fromWide(table: ExceptionTable): SortedExceptionIndex {
    const n = table.count;
    const olds = table.oldChunk;
    const order = new Float64Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => olds[a]! - olds[b]! || a - b);
    let distinct = 0;
    for (let k = 0; k < n; k++) if (k === 0 || olds[order[k]!] !== olds[order[k - 1]!]) distinct++;
    const o = new Float64Array(distinct);
    const v = new Float64Array(distinct);
    let j = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      if (k > 0 && olds[i] === olds[order[k - 1]!]) continue;
      o[j] = olds[i]!;
      v[j] = table.newChunk[i]!;
      j++;
    }
    return new SortedExceptionIndex(o, v);
  }

  /** Position of the first origin chunk >= `oldChunk`. */
  lowerBound(oldChunk: number): number {
    let lo = 0;
    let hi = this.olds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.olds[mid]! < oldChunk) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The COW chunk holding origin chunk `oldChunk`, or -1. */
  get(oldChunk: number): number {
    const i = this.lowerBound(oldChunk);
    return i < this.olds.length && this.olds[i] === oldChunk ? this.news[i]! : -1;
  }
}

