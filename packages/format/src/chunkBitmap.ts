/**
 * "Seen this chunk number before?" in one bit per chunk number, grown on
 * demand up to a cap: a 16 M-chunk device costs 2 MiB whatever its exception
 * count. Numbers at or above the cap are not tracked; the caller handles them
 * another way (exceptionScan.ts: hashed passes in bounded memory).
 */
export class ChunkBitmap {
  private words = new Int32Array(0);
  /** `capBits`: numbers below it are tracked (a multiple of 32, at most 2^32). */
  constructor(readonly capBits: number) {}

  /** Bytes held now. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** Marks `v`: 1 when it was marked before, 0 when this is its first mark, -1 when v >= capBits (not tracked). */
  mark(v: number): number {
    if (v >= this.words.length * 32) {
      if (v >= this.capBits) return -1;
      this.grow(v);
    }
    const w = v >>> 5;
    const bit = 1 << (v & 31);
    const old = this.words[w]!;
    if ((old & bit) !== 0) return 1;
    this.words[w] = old | bit;
    return 0;
  }

  /** Makes room for `v` by doubling (copying at most as much as is kept). */
  private grow(v: number): void {
    let n = Math.max(1024, this.words.length * 2);
    while (n * 32 <= v) n *= 2;
    const words = new Int32Array(Math.min(n, this.capBits / 32));
    words.set(this.words);
    this.words = words;
  }
}
