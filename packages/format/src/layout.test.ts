import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocationSequence,
  areaLocation,
  areaOfChunk,
  canAllocate,
  capacity,
  chunkKind,
  exceptionsPerArea,
  isMetadataChunk,
  nextFreeAfterLoad,
  usage,
  usageStatus,
} from "./index.js";
import { handAllocation, handAreaChunk, handE } from "../test/handImage.js";

const chunkSizes = fc.constantFrom(1, 2, 4, 8, 16, 32, 64, 128, 1024);

describe("layout", () => {
  it("matches the spec's numbers for 8-sector and 1-sector chunks", () => {
    expect(exceptionsPerArea(8)).toBe(256);
    expect(exceptionsPerArea(1)).toBe(32);
    // 1-sector chunks: area 0 at chunk 1, data 2..33, area 1 at 34, area 2 at 67.
    expect([0, 1, 2].map((a) => areaLocation(1, a))).toEqual([1, 34, 67]);
    expect(areaLocation(8, 1)).toBe(258);
    expect([0, 1, 2, 33, 34, 35].map((c) => chunkKind(1, c))).toEqual(["header", "metadata", "data", "data", "metadata", "data"]);
    // The hand-written test kit (handImage.ts) agrees with the same literal numbers.
    expect([handE(8), handE(1)]).toEqual([256, 32]);
    expect([0, 1, 2].map((a) => handAreaChunk(1, a))).toEqual([1, 34, 67]);
    expect(handAreaChunk(8, 1)).toBe(258);
    expect(handAllocation(1, 34).slice(30)).toEqual([32, 33, 35, 36]);
  });

  it("areaOfChunk inverts areaLocation, and the chunks between two areas are data of the first", () => {
    fc.assert(
      fc.property(chunkSizes, fc.integer({ min: 0, max: 1e9 }), (cs, area) => {
        const at = areaLocation(cs, area);
        expect(areaOfChunk(cs, at)).toBe(area);
        expect(isMetadataChunk(cs, at)).toBe(true);
        expect(chunkKind(cs, at + 1)).toBe("data");
        expect(areaOfChunk(cs, at + exceptionsPerArea(cs))).toBe(area);
        expect(areaLocation(cs, area + 1)).toBe(at + exceptionsPerArea(cs) + 1);
      }),
    );
  });

  it("hands out chunks 2..33 then 35.. for 1-sector chunks (written out by hand)", () => {
    const seq = allocationSequence(1, 40);
    const expected = [...Array.from({ length: 32 }, (_, i) => 2 + i), ...Array.from({ length: 8 }, (_, i) => 35 + i)];
    expect(seq).toEqual(expected);
  });

  it("allocates exactly the data chunks, in order, for the first few thousand chunks", () => {
    for (const cs of [1, 2, 8]) {
      const perArea = cs * 32;
      // Independent walk: every chunk from 2 on whose distance from chunk 1 is not a multiple of E+1.
      const expected: number[] = [];
      for (let c = 2; expected.length < 5000; c++) if ((c - 1) % (perArea + 1) !== 0) expected.push(c);
      const seq = allocationSequence(cs, 5000);
      expect(seq).toEqual(expected);
      expect(seq.some((c) => isMetadataChunk(cs, c))).toBe(false);
    }
  });

  it("moves next_free past a metadata chunk after loading (the later-kernel fix)", () => {
    // 1-sector chunks: highest new_chunk 33 is the last data chunk of area 0; 34 is area 1.
    expect(nextFreeAfterLoad(1, 33)).toBe(35);
    expect(nextFreeAfterLoad(1, 32)).toBe(33);
    expect(nextFreeAfterLoad(1, -1)).toBe(2);
  });

  it("computes usage as the kernel reports it", () => {
    // 8-sector chunks, next_free 10, area 0, 2048-sector device: 80/2048 16.
    const u = usage(8, 10, 0, 2048);
    expect(u).toEqual({ totalSectors: 2048, allocatedSectors: 80, metadataSectors: 16 });
    expect(usageStatus(u)).toBe("80/2048 16");
  });

  it("capacity equals the number of prepares that succeed on an empty store", () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 4), fc.integer({ min: 0, max: 600 }), (cs, sectors) => {
        let next = 2;
        let n = 0;
        while (canAllocate(cs, next, sectors)) {
          n++;
          next += 1;
          if ((next - 1) % (cs * 32 + 1) === 0) next += 1;
        }
        expect(capacity(cs, sectors).dataChunks).toBe(n);
      }),
    );
  });
});
