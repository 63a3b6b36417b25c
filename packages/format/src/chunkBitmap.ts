/**
 * "Seen this chunk number before?" in one bit per chunk number, up to a cap.
 * The bits live in 256 KiB pages made when a number first falls in them, so
 * memory follows the range of numbers present (a 16 M-chunk device: 2 MiB),
 * never the exception count, and nothing is copied as it grows. Numbers at
 * or above the cap are not tracked; the caller settles them another way
 * (exceptionScan.ts: hashed passes in bounded memory).
 */
const MAX_PAGE_SHIFT = 21;

export class ChunkBitmap {
  private readonly pages: Array<Int32Array | null>;
  /** Numbers below `capBits` are tracked (at least 32, rounded up to whole pages; at most 2^31). */
  readonly capBits: number;
  private readonly shift: number;
  private readonly pageWords: number;
  private made = 0;

  constructor(capBits: number) {
    const cap = Math.max(32, Math.min(capBits, 2 ** 31));
    // Pages of 2^21 bits; a smaller cap (tests) is one page of its own size.
    this.shift = Math.min(MAX_PAGE_SHIFT, Math.ceil(Math.log2(cap)));
    this.pageWords = 2 ** (this.shift - 5);
    const pages = Math.ceil(cap / 2 ** this.shift);
    this.capBits = pages * 2 ** this.shift;
    this.pages = new Array<Int32Array | null>(pages).fill(null);
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.made * this.pageWords * 4;
  }

  /** Marks `v`: 1 when it was marked before, 0 when this is its first mark, -1 when v >= capBits (not tracked). */
  mark(v: number): number {
    if (v >= this.capBits) return -1;
    const p = v >>> this.shift;
    let page = this.pages[p]!;
    if (page === null) {
      page = new Int32Array(this.pageWords);
      this.pages[p] = page;
      this.made++;
    }
    const w = (v >>> 5) & (this.pageWords - 1);
    const bit = 1 << (v & 31);
    const old = page[w]!;
    if ((old & bit) !== 0) return 1;
    page[w] = old | bit;
    return 0;
  }
}
