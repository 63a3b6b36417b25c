/**
 * QueuedChunkBitmap reports every repeat exactly once, and nothing else,
 * across many full queues of one page and across pages (its queues are
 * drained a page at a time; the counts here are hand-chosen, not computed by
 * the code under test).
 */
import { describe, expect, it } from "vitest";
import { QueuedChunkBitmap } from "./chunkBitmap.js";

describe("QueuedChunkBitmap", () => {
  it("finds each repeat once, in pages filled many times over", () => {
    const repeats: Array<[number, number, number]> = [];
    const b = new QueuedChunkBitmap(2 ** 22, (v, i, o) => repeats.push([v, i, o]));
    let index = 0;
    // 10,000 distinct numbers in one page (2^18 bits), then 3 numbers again.
    for (let v = 0; v < 10_000; v++) expect(b.add(v * 7, index++, 5)).toBe(true);
    expect(b.add(14, index++, 6)).toBe(true); // 2 * 7: a repeat
    expect(b.add(69_993, index++, 7)).toBe(true); // 9999 * 7: a repeat
    expect(b.add(69_994, index++, 8)).toBe(true); // never seen
    // Another page, far away: 5,000 numbers with one repeat at the end.
    for (let v = 0; v < 5_000; v++) b.add(3_000_000 + v, index++, 9);
    b.add(3_000_000, index++, 10);
    // Past the cap: not tracked.
    expect(b.add(2 ** 22, index++, 11)).toBe(false);
    b.flush();
    expect(repeats.sort((x, y) => x[1] - y[1])).toEqual([
      [14, 10_000, 6],
      [69_993, 10_001, 7],
      [3_000_000, 15_003, 10],
    ]);
  });
});
