/**
 * A set of chunk numbers (below 2^53) in one Float64Array, open addressing
 * with linear probing: no JavaScript Set, whose 2^24-entry limit a large COW
 * passes, and no object per entry. 16 bytes a slot, at most half full.
 */
import { high32, low32 } from "./u64.js";

const EMPTY = -1;

export class ChunkNumberSet {
  private keys: Float64Array;
  private mask: number;
  size = 0;

  constructor(expected = 16) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.mask = cap - 1;
  }

  private slot(key: number): number {
    let h = Math.imul(low32(key) ^ Math.imul(high32(key), 0x85ebca6b), 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    return h & this.mask;
  }

  has(key: number): boolean {
    for (let i = this.slot(key); ; i = (i + 1) & this.mask) {
      const k = this.keys[i]!;
      if (k === key) return true;
      if (k === EMPTY) return false;
    }
  }

  /** Adds `key`; false when it was already there. */
  add(key: number): boolean {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    for (let i = this.slot(key); ; i = (i + 1) & this.mask) {
      const k = this.keys[i]!;
      if (k === key) return false;
      if (k === EMPTY) {
        this.keys[i] = key;
        this.size++;
        return true;
      }
    }
  }

  private grow(): void {
    const old = this.keys;
    this.keys = new Float64Array(old.length * 2).fill(EMPTY);
    this.mask = this.keys.length - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i++) if (old[i]! !== EMPTY) this.add(old[i]!);
  }
}
