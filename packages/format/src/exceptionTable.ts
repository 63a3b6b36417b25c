/**
 * Exceptions as two parallel columns of chunk numbers, in on-disk order.
 * Columns start as Uint32Array (8 bytes an exception) and widen once to
 * Float64Array, which holds every chunk number below 2^53 exactly, when a
 * number of 2^32 or more arrives. No object per entry.
 */
export type ChunkColumn = Uint32Array | Float64Array;

const MAX_U32 = 0xffffffff;

export class ExceptionTable {
  count = 0;
  oldChunk: ChunkColumn;
  newChunk: ChunkColumn;

  constructor(capacity = 256) {
    this.oldChunk = new Uint32Array(Math.max(1, capacity));
    this.newChunk = new Uint32Array(Math.max(1, capacity));
  }

  static from(pairs: ReadonlyArray<readonly [number, number]>): ExceptionTable {
    const t = new ExceptionTable(pairs.length);
    for (const [o, n] of pairs) t.push(o, n);
    return t;
  }

  /** True once the columns hold doubles (some chunk number is 2^32 or more). */
  get wide(): boolean {
    return this.oldChunk instanceof Float64Array;
  }

  /** Makes room for `extra` more entries. */
  reserve(extra: number): void {
    const need = this.count + extra;
    if (need <= this.oldChunk.length) return;
    let cap = this.oldChunk.length * 2;
    while (cap < need) cap *= 2;
    this.resize(cap, this.wide);
  }

  /** Switches the columns to doubles. */
  widen(): void {
    if (!this.wide) this.resize(this.oldChunk.length, true);
  }

  push(oldChunk: number, newChunk: number): void {
    if ((oldChunk > MAX_U32 || newChunk > MAX_U32) && !this.wide) this.widen();
    if (this.count === this.oldChunk.length) this.reserve(1);
    this.oldChunk[this.count] = oldChunk;
    this.newChunk[this.count] = newChunk;
    this.count++;
  }

  /** Drops entries from `count` on (a merge removes entries from the end). */
  truncate(count: number): void {
    this.count = Math.max(0, Math.min(this.count, count));
  }

  /** [old, new] pairs; allocates, so for output and tests, not hot paths. */
  toPairs(): Array<[number, number]> {
    const out: Array<[number, number]> = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = [this.oldChunk[i]!, this.newChunk[i]!];
    return out;
  }

  private resize(capacity: number, wide: boolean): void {
    const o = wide ? new Float64Array(capacity) : new Uint32Array(capacity);
    const n = wide ? new Float64Array(capacity) : new Uint32Array(capacity);
    o.set(this.oldChunk.subarray(0, this.count));
    n.set(this.newChunk.subarray(0, this.count));
    this.oldChunk = o;
    this.newChunk = n;
  }
}
