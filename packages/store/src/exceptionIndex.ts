/**
 * The snapshot's map from origin chunk to COW chunk: an open-addressing hash
 * table with linear probing over two Float64Array columns. No object per
 * entry and no BigInt: 1 M exceptions take 32 MiB at most (load <= 1/2).
 * Chunk numbers are below 2^53 (the codec refuses larger ones).
 */
import { TWO_32, type ExceptionTable } from "@dmsnap/format";

const EMPTY = -1;

export class ExceptionIndex {
  private keys: Float64Array;
  private values: Float64Array;
  private mask: number;
  size = 0;

  constructor(expected = 16) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.values = new Float64Array(cap);
    this.mask = cap - 1;
  }

  /**
   * Loads exceptions in on-disk order. THE duplicate rule lives here: when an
   * origin chunk appears more than once, the entry loaded FIRST wins. Linux 6.1
   * keeps both entries and its lookup finds the earlier one (measured: the
   * kernel-made conformance cases damaged-duplicate-old-chunk*).
   */
  static fromTable(table: ExceptionTable): ExceptionIndex {
    const index = new ExceptionIndex(table.count);
    const olds = table.oldChunk;
    const news = table.newChunk;
    for (let i = 0; i < table.count; i++) if (index.get(olds[i]!) === -1) index.set(olds[i]!, news[i]!);
    return index;
  }

  private slot(key: number): number {
    // Inline, not format's low32/high32: a call into another package is not
    // inlined by V8 (measured 1.7x on this loop), and this is every lookup.
    const lo = key >>> 0;
    const hi = (key / TWO_32) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    return h & this.mask;
  }

  /** The COW chunk holding origin chunk `oldChunk`, or -1. */
  get(oldChunk: number): number {
    const keys = this.keys;
    const mask = this.mask;
    for (let i = this.slot(oldChunk); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === oldChunk) return this.values[i]!;
      if (k === EMPTY) return -1;
    }
  }

  has(oldChunk: number): boolean {
    return this.get(oldChunk) !== -1;
  }

  /** Adds or replaces the exception for `oldChunk`. */
  set(oldChunk: number, newChunk: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    for (let i = this.slot(oldChunk); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === oldChunk) {
        this.values[i] = newChunk;
        return;
      }
      if (k === EMPTY) {
        keys[i] = oldChunk;
        this.values[i] = newChunk;
        this.size++;
        return;
      }
    }
  }

  /** Removes the exception for `oldChunk` (merge). Backward-shift deletion keeps probes short. */
  delete(oldChunk: number): boolean {
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    let i = this.slot(oldChunk);
    for (; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === EMPTY) return false;
      if (k === oldChunk) break;
    }
    let hole = i;
    for (let j = (hole + 1) & mask; keys[j]! !== EMPTY; j = (j + 1) & mask) {
      const home = this.slot(keys[j]!);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!between) {
        keys[hole] = keys[j]!;
        values[hole] = values[j]!;
        hole = j;
      }
    }
    keys[hole] = EMPTY;
    this.size--;
    return true;
  }

  /** Calls fn for every entry (order unspecified). */
  forEach(fn: (oldChunk: number, newChunk: number) => void): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i]! !== EMPTY) fn(keys[i]!, this.values[i]!);
  }

  /** Bytes held by the table. */
  get byteLength(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const cap = oldKeys.length * 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.values = new Float64Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i]! !== EMPTY) this.set(oldKeys[i]!, oldValues[i]!);
  }
}
