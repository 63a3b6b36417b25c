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
}

const QUEUE_PAGE_SHIFT = 18;
const QUEUE_LENGTH = 512;

/**
 * ChunkBitmap's test for numbers that arrive in random order (old chunks, in
 * the order random origin writes left them). Marking each as it comes jumps
 * across the whole bitmap, a cache miss a number; here each number first
 * joins the queue of its 32 KiB page, and a full queue is marked in one go,
 * inside one page. Repeats are reported to `onRepeat` in queue order: within
 * one number's page always after its first mark, but not in entry order.
 */
export class QueuedChunkBitmap {
  private readonly pages: Array<Int32Array | null>;
  private readonly queues: Array<{ value: Uint32Array; index: Float64Array; other: Float64Array; length: number } | null>;
  readonly capBits: number;
  private readonly shift: number;
  private readonly pageWords: number;
  /** Keeps the touch loop in drain from being optimised away. */
  private touched = 0;

  constructor(
    capBits: number,
    private readonly onRepeat: (value: number, index: number, other: number) => void,
  ) {
    const cap = Math.max(32, Math.min(capBits, 2 ** 31));
    this.shift = Math.min(QUEUE_PAGE_SHIFT, Math.ceil(Math.log2(cap)));
    this.pageWords = 2 ** (this.shift - 5);
    const pages = Math.ceil(cap / 2 ** this.shift);
    this.capBits = pages * 2 ** this.shift;
    this.pages = new Array<Int32Array | null>(pages).fill(null);
    this.queues = new Array<{ value: Uint32Array; index: Float64Array; other: Float64Array; length: number } | null>(pages).fill(null);
  }

  /** Queues `v` (entry `index`, with `other` to report back); false when v >= capBits (not tracked). */
  add(v: number, index: number, other: number): boolean {
    if (v >= this.capBits) return false;
    const p = v >>> this.shift;
    let q = this.queues[p]!;
    if (q === null) {
      q = { value: new Uint32Array(QUEUE_LENGTH), index: new Float64Array(QUEUE_LENGTH), other: new Float64Array(QUEUE_LENGTH), length: 0 };
      this.queues[p] = q;
    }
    const k = q.length;
    q.value[k] = v;
    q.index[k] = index;
    q.other[k] = other;
    q.length = k + 1;
    if (k + 1 === QUEUE_LENGTH) this.drain(p);
    return true;
  }

  /** Marks everything still queued. */
  flush(): void {
    for (let p = 0; p < this.queues.length; p++) if (this.queues[p]) this.drain(p);
  }

  private drain(p: number): void {
    const q = this.queues[p]!;
    let page = this.pages[p]!;
    if (page === null) {
      page = new Int32Array(this.pageWords);
      this.pages[p] = page;
    }
    const mask = this.pageWords - 1;
    // One sequential read of the page first: the prefetcher streams it into
    // the cache, where the random marks below would each wait for a miss.
    let touch = 0;
    for (let w = 0; w < page.length; w += 16) touch |= page[w]!;
    this.touched |= touch;
    for (let k = 0; k < q.length; k++) {
      const v = q.value[k]!;
      const w = (v >>> 5) & mask;
      const bit = 1 << (v & 31);
      const old = page[w]!;
      if ((old & bit) !== 0) this.onRepeat(v, q.index[k]!, q.other[k]!);
      else page[w] = old | bit;
    }
    q.length = 0;
  }
}
