/**
 * Activation and the checker across area boundaries, at several chunk sizes,
 * against images laid out BY HAND (test/handImage.ts restates the layout from
 * the kernel's facts: area a at chunk 1 + a * (E + 1)), never through
 * layout.ts: two full areas and a partial third, so every area-location
 * formula past area 0 is exercised (scripts/layout-mutant.mjs).
 */
import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow, diagnose, salvage } from "./index.js";
import { handAllocation, handAreaChunk, handCow, handE, handRaceHeader } from "../test/handImage.js";

const SIZES = [1, 2, 4, 8, 16];

/** Two full areas and `extra` entries of a third, auto-allocated; the device ends 3 chunks after the last one. */
function threeAreas(cs: number, extra = 5) {
  const n = 2 * handE(cs) + extra;
  const alloc = handAllocation(cs, n + 1);
  const entries = Array.from({ length: n }, (_, i) => 7 * i + 3);
  const { bytes, pairs } = handCow({ chunkSize: cs, chunks: alloc[n]! + 3, entries });
  return { n, bytes, pairs, nextFree: alloc[n]! };
}

describe("activation across two full areas and a partial third (hand-laid)", () => {
  it.each(SIZES)("chunk size %i: every entry, in order; the cursor in area 2; next_free after the last data chunk", (cs) => {
    const { n, bytes, pairs, nextFree } = threeAreas(cs);
    const img = decodeCow(bytesReader(bytes));
    expect(img.exceptions.count).toBe(n);
    const got = Array.from({ length: n }, (_, i) => [img.exceptions.oldChunk[i], img.exceptions.newChunk[i]]);
    expect(got).toEqual(pairs);
    expect(img.currentArea).toBe(2);
    expect(img.currentIndex).toBe(n - 2 * handE(cs));
    expect(img.nextFree).toBe(nextFree);
    // The third area's chunk is the one before its first data chunk.
    expect(pairs[2 * handE(cs)]![1]).toBe(handAreaChunk(cs, 2) + 1);
  });

  it.each(SIZES)("chunk size %i: the checker finds nothing wrong in it, and the highest new_chunk is the last data chunk handed out", async (cs) => {
    const { n, bytes, pairs } = threeAreas(cs);
    const d = await diagnose(bytesReader(bytes), { keepEntries: false });
    expect(d.findings).toEqual([]);
    expect(d.image?.exceptionCount).toBe(n);
    expect(Math.max(...pairs.map((p) => p[1]))).toBe(handAllocation(cs, n)[n - 1]);
  });

  it.each(SIZES)("chunk size %i: after the 2009 race (area 0 over the header), salvage infers the chunk size and finds every entry of the three areas", (cs) => {
    const { n, bytes } = threeAreas(cs);
    const raced = handRaceHeader(bytes, cs);
    const s = salvage(bytesReader(raced));
    expect(s.chunkSize).toBe(cs);
    expect(s.exceptions.count).toBe(n);
  });
});
