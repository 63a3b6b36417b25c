/**
 * The entries one finding code names: how many there are in all, and the
 * first `max` of them in entry order (index, old_chunk, new_chunk) in typed
 * columns. Entries usually arrive in entry order; those found by a later
 * pass arrive in any order and are kept to the `max` smallest indices, so
 * memory follows the findings listed, never the exception count.
 */
export class EntryList {
  total = 0;
  /** Index of the first entry named (also when none is listed); Infinity when none. */
  first = Infinity;
  length = 0;
  index: Float64Array<ArrayBuffer> = new Float64Array(8);
  oldChunk: Float64Array<ArrayBuffer> = new Float64Array(8);
  newChunk: Float64Array<ArrayBuffer> = new Float64Array(8);
  private ordered = true;

  constructor(readonly max: number) {}

  /** An entry found in entry order (after every earlier one). */
  add(i: number, o: number, n: number): void {
    this.total++;
    if (i < this.first) this.first = i;
    if (this.length < this.max) this.push(i, o, n);
  }

  /** An entry found out of order (by a later pass). */
  addUnordered(i: number, o: number, n: number): void {
    this.total++;
    if (i < this.first) this.first = i;
    if (this.max === 0) return;
    this.push(i, o, n);
    this.ordered = false;
    if (this.length >= 2 * this.max + 64) this.finish();
  }

  /** Sorts the kept entries by index and drops all but the first `max`. */
  finish(): void {
    if (this.ordered) return;
    const n = this.length;
    const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => this.index[a]! - this.index[b]!);
    const keep = Math.min(n, this.max);
    const index = new Float64Array(Math.max(8, keep));
    const oldChunk = new Float64Array(index.length);
    const newChunk = new Float64Array(index.length);
    for (let k = 0; k < keep; k++) {
      index[k] = this.index[order[k]!]!;
      oldChunk[k] = this.oldChunk[order[k]!]!;
      newChunk[k] = this.newChunk[order[k]!]!;
    }
    this.index = index;
    this.oldChunk = oldChunk;
    this.newChunk = newChunk;
    this.length = keep;
    this.ordered = true;
  }

  private push(i: number, o: number, n: number): void {
    if (this.length === this.index.length) {
      const grow = (a: Float64Array): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.index = grow(this.index);
      this.oldChunk = grow(this.oldChunk);
      this.newChunk = grow(this.newChunk);
    }
    this.index[this.length] = i;
    this.oldChunk[this.length] = o;
    this.newChunk[this.length] = n;
    this.length++;
  }
}
