/**
 * Exceptions as two parallel columns of chunk numbers, in on-disk order.
 * Doubles hold every chunk number below 2^53 exactly; the decoder refuses
 * larger ones. No object per entry: millions of exceptions cost 16 bytes each.
 */
export class ExceptionTable {
  count = 0;
  oldChunk: Float64Array;
  newChunk: Float64Array;

  constructor(capacity = 256) {
    this.oldChunk = new Float64Array(Math.max(1, capacity));
    this.newChunk = new Float64Array(Math.max(1, capacity));
  }

  static from(pairs: ReadonlyArray<readonly [number, number]>): ExceptionTable {
    const t = new ExceptionTable(pairs.length);
    for (const [o, n] of pairs) t.push(o, n);
    return t;
  }

  /** Makes room for `extra` more entries. */
  reserve(extra: number): void {
    const need = this.count + extra;
    if (need <= this.oldChunk.length) return;
    let cap = this.oldChunk.length * 2;
    while (cap < need) cap *= 2;
    const o = new Float64Array(cap);
    const n = new Float64Array(cap);
    o.set(this.oldChunk.subarray(0, this.count));
    n.set(this.newChunk.subarray(0, this.count));
    this.oldChunk = o;
    this.newChunk = n;
  }

  push(oldChunk: number, newChunk: number): void {
    if (this.count === this.oldChunk.length) this.reserve(1);
    this.oldChunk[this.count] = oldChunk;
    this.newChunk[this.count] = newChunk;
    this.count++;
  }

  /** Drops the last `n` entries (merge commits remove from the end). */
  truncate(count: number): void {
    this.count = Math.max(0, Math.min(this.count, count));
  }

  /** [old, new] pairs; allocates, so for output and tests, not hot paths. */
  toPairs(): Array<[number, number]> {
    const out: Array<[number, number]> = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = [this.oldChunk[i]!, this.newChunk[i]!];
    return out;
  }
}
