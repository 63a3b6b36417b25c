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

  /** Whether `v` is marked (false for v >= capBits: not tracked). Makes no page. */
  has(v: number): boolean {
    if (v >= this.capBits) return false;
    const page = this.pages[v >>> this.shift];
    if (!page) return false;
    return (page[(v >>> 5) & (this.pageWords - 1)]! & (1 << (v & 31))) !== 0;
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

  /**
   * Marks the run [v, v + count) when none of it is marked yet and all of it
   * is below the cap, a word (32 numbers) at a time, and returns true;
   * otherwise marks nothing and returns false (the caller then marks one by one).
   */
  markRun(v: number, count: number): boolean {
    const end = v + count;
    if (count <= 0 || end > this.capBits) return false;
    const wordMask = this.pageWords - 1;
    for (let x = v; x < end; x = (x | 31) + 1) {
      const page = this.pages[x >>> this.shift];
      if (page && (page[(x >>> 5) & wordMask]! & bitsOf(x, end)) !== 0) return false;
    }
    for (let x = v; x < end; x = (x | 31) + 1) {
      const p = x >>> this.shift;
      let page = this.pages[p]!;
      if (page === null) {
        page = new Int32Array(this.pageWords);
        this.pages[p] = page;
        this.made++;
      }
      page[(x >>> 5) & wordMask]! |= bitsOf(x, end);
    }
    return true;
  }
}

/** The bits of [x, end) that fall in x's 32-bit word, as a word mask. */
function bitsOf(x: number, end: number): number {
  const from = x & 31;
  const to = Math.min(32, end - (x - from));
  return to === 32 ? -1 << from : ((1 << to) - (1 << from)) | 0;
}

/** DenseChunkBitmap grows in steps of whole 32 KiB (2^18 bits). */
const DENSE_STEP_BITS = 2 ** 18;

/**
 * ChunkBitmap's test for numbers that arrive in random order but fill a
 * range densely (old chunks: the origin chunks random writes touched). The
 * bits are one contiguous array from 0 to the highest number seen (grown by
 * copying, by a quarter at least, so a random order reaches its size within
 * a few numbers), so a mark is one load and store with no page to look up:
 * 16 M random marks into a 6.6 MiB bitmap took half the time of queueing
 * them by page (QueuedChunkBitmap, which this replaced) or of ChunkBitmap's
 * pages. Memory: the range of numbers present, up to the cap (32 MiB at the
 * default 2^28), never the count. Repeats are found in entry order.
 */
export class DenseChunkBitmap {
  private words = new Int32Array(0);
  /** Numbers below `capBits` are tracked (at least 32, rounded up to a multiple of 32; at most 2^31). */
  readonly capBits: number;

  constructor(capBits: number) {
    this.capBits = Math.ceil(Math.max(32, Math.min(capBits, 2 ** 31)) / 32) * 32;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** Marks `v`: 1 when it was marked before, 0 when this is its first mark, -1 when v >= capBits (not tracked). */
  mark(v: number): number {
    if (v >= this.capBits) return -1;
    const w = v >>> 5;
    if (w >= this.words.length) this.grow(v);
    const words = this.words;
    const bit = 1 << (v & 31);
    const old = words[w]!;
    if ((old & bit) !== 0) return 1;
    words[w] = old | bit;
    return 0;
  }

  /** Room for `v`: at least a quarter more than now, in whole steps, at most the cap. */
  private grow(v: number): void {
    const want = Math.max(v + 1, this.words.length * 32 * 1.25);
    const bits = Math.min(this.capBits, Math.ceil(want / DENSE_STEP_BITS) * DENSE_STEP_BITS);
    const next = new Int32Array(bits / 32);
    next.set(this.words);
    this.words = next;
  }
}
