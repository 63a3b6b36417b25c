/**
 * Duplicate detection over a column of chunk numbers by sorting a copy: a
 * typed array of the same width and a native numeric sort, never a Map or Set
 * per entry (JavaScript collections stop at 2^24 entries; a sorted copy costs
 * 4 or 8 bytes an exception and nothing more).
 */
import type { ChunkColumn } from "./exceptionTable.js";

/** A sorted copy of the first `count` values of `column`. */
export function sortedCopy(column: ChunkColumn, count: number): ChunkColumn {
  const copy = column instanceof Float64Array ? new Float64Array(count) : new Uint32Array(count);
  copy.set(column.subarray(0, count));
  return copy.sort();
}

/** Values that occur more than once in a sorted column, each once, ascending. */
export function repeatedValues(sorted: ChunkColumn): Float64Array {
  let n = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1] && (i === 1 || sorted[i] !== sorted[i - 2])) n++;
  const out = new Float64Array(n);
  n = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1] && (i === 1 || sorted[i] !== sorted[i - 2])) out[n++] = sorted[i]!;
  return out;
}

/** Index of `value` in an ascending array, or -1. */
export function indexInSorted(sorted: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
