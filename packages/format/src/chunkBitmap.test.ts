/**
 * DenseChunkBitmap reports every repeat exactly once, and nothing else: at
 * the first and last numbers below its cap, at the edges of its 2^18-bit
 * growth steps, across growth (bits marked before it grows are kept), and
 * in random order. The expected answers are hand-chosen or come from a Set
 * in the test, never from the code under test.
 */
import { describe, expect, it } from "vitest";
import { ChunkBitmap, DenseChunkBitmap } from "./chunkBitmap.js";

describe("DenseChunkBitmap", () => {
  it("marks the first and last numbers below the cap and refuses the cap", () => {
    const b = new DenseChunkBitmap(2 ** 22);
    expect(b.capBits).toBe(2 ** 22);
    expect(b.mark(0)).toBe(0);
    expect(b.mark(2 ** 22 - 1)).toBe(0);
    expect(b.mark(0)).toBe(1);
    expect(b.mark(2 ** 22 - 1)).toBe(1);
    expect(b.mark(2 ** 22)).toBe(-1);
    expect(b.mark(2 ** 32 + 5)).toBe(-1);
    // Not tracked means not marked either: the same answer again.
    expect(b.mark(2 ** 22)).toBe(-1);
    // The whole range is held once the last number is: 2^22 bits.
    expect(b.bytes).toBe(2 ** 22 / 8);
  });

  it("keeps its marks as it grows, across growth-step edges", () => {
    const b = new DenseChunkBitmap(2 ** 28);
    const edges = [31, 32, 2 ** 18 - 1, 2 ** 18, 2 ** 18 + 1, 5 * 2 ** 18 - 1, 5 * 2 ** 18];
    expect(b.mark(1)).toBe(0);
    expect(b.bytes).toBe(2 ** 18 / 8); // one step
    for (const v of edges) expect(b.mark(v), `first ${v}`).toBe(0);
    // Grown past 5 steps: far more than a quarter each time is not required, only the room.
    expect(b.bytes).toBeGreaterThanOrEqual((5 * 2 ** 18 + 1) / 8);
    const before = b.bytes;
    expect(b.mark(40_000_000)).toBe(0); // grows again
    expect(b.bytes).toBeGreaterThan(before);
    expect(b.bytes).toBeLessThanOrEqual(2 ** 28 / 8);
    expect(b.mark(1)).toBe(1);
    for (const v of edges) expect(b.mark(v), `again ${v}`).toBe(1);
    expect(b.mark(40_000_000)).toBe(1);
    expect(b.mark(39_999_999)).toBe(0);
  });

  it("rounds a small cap up to whole words and tracks exactly below it", () => {
    const b = new DenseChunkBitmap(40);
    expect(b.capBits).toBe(64);
    expect(b.mark(63)).toBe(0);
    expect(b.mark(63)).toBe(1);
    expect(b.mark(64)).toBe(-1);
  });

  it("agrees with a Set on numbers in random order with repeats", () => {
    let s = 12345;
    const next = (n: number): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s % n;
    };
    const b = new DenseChunkBitmap(2 ** 24);
    const seen = new Set<number>();
    let repeats = 0;
    for (let k = 0; k < 200_000; k++) {
      const v = next(3_000_000);
      const want = seen.has(v) ? 1 : 0;
      if (want) repeats++;
      seen.add(v);
      expect(b.mark(v)).toBe(want);
    }
    expect(repeats).toBeGreaterThan(1000);
  });
});

describe("ChunkBitmap", () => {
  it("reports repeats in pages made as numbers arrive, and nothing past the cap", () => {
    const b = new ChunkBitmap(2 ** 22);
    expect(b.mark(0)).toBe(0);
    expect(b.mark(2 ** 21)).toBe(0); // the second page
    expect(b.bytes).toBe(2 * 2 ** 21 / 8);
    expect(b.mark(0)).toBe(1);
    expect(b.has(2 ** 21)).toBe(true);
    expect(b.has(7)).toBe(false);
    expect(b.mark(2 ** 22)).toBe(-1);
  });

  it("marks a run a word at a time, or nothing when any of it is marked or past the cap", () => {
    const b = new ChunkBitmap(2 ** 22);
    // Across word edges and the page edge at 2^21.
    expect(b.markRun(30, 70)).toBe(true); // 30 .. 99
    for (const v of [30, 31, 32, 63, 64, 99]) expect(b.has(v), `${v}`).toBe(true);
    for (const v of [29, 100]) expect(b.has(v), `${v}`).toBe(false);
    expect(b.markRun(2 ** 21 - 5, 10)).toBe(true);
    expect(b.has(2 ** 21 - 5) && b.has(2 ** 21 + 4)).toBe(true);
    expect(b.has(2 ** 21 + 5)).toBe(false);
    // Overlapping an earlier run at its last number: refused, and 100 .. 199 left unmarked.
    expect(b.markRun(99, 101)).toBe(false);
    expect(b.has(100)).toBe(false);
    expect(b.mark(150)).toBe(0);
    // Overlapping a single mark in the middle, then past the cap.
    expect(b.markRun(140, 20)).toBe(false);
    expect(b.markRun(2 ** 22 - 3, 4)).toBe(false);
    expect(b.has(2 ** 22 - 3)).toBe(false);
    // A whole word, then the word's last number alone.
    expect(b.markRun(320, 32)).toBe(true);
    expect(b.mark(351)).toBe(1);
    expect(b.mark(352)).toBe(0);
  });
});
