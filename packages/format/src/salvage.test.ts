import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow, DropReason, salvage, scoreChunkSize } from "./index.js";
import { buildCow, damage } from "./testing.js";
import { handAllocation, handCow, handRaceHeader } from "../test/handImage.js";

function pairsOf(r: ReturnType<typeof salvage>): Array<[number, number]> {
  return r.exceptions.toPairs();
}

describe("salvage", () => {
  for (const chunkSize of [1, 8]) {
    const perArea = chunkSize * 32;
    const count = perArea * 2 + 7; // three areas, the last partly full
    // Laid out by hand (handImage.ts), not by the builder: areas at 1, E + 2, 2E + 3.
    const last = chunkSize === 1 ? 74 : 522; // the 71st / 519th data chunk, past areas 0..2
    const built = handCow({ chunkSize, chunks: last + 1 + 5, entries: Array.from({ length: count }, (_, i) => 1000 + 3 * i) });

    it(`recovers every acknowledged exception after the 2009 race (chunk size ${chunkSize})`, () => {
      expect(built.pairs[count - 1]).toEqual([1000 + 3 * (count - 1), last]);
      const raced = handRaceHeader(built.bytes, chunkSize);
      expect(() => decodeCow(bytesReader(raced))).toThrow();
      const r = salvage(bytesReader(raced));
      expect(r.chunkSizeSource).toBe("inferred");
      expect(r.chunkSize).toBe(chunkSize);
      expect(r.headerProblem).toMatch(/magic/);
      expect(pairsOf(r)).toEqual(built.pairs);
      expect(r.droppedCount).toBe(0);
      expect(r.areasRead).toBe(3);
      expect(r.candidates[0]!.chunkSize).toBe(chunkSize);
    });

    it(`recovers them when the race hit area 1 and kept the magic (chunk size ${chunkSize})`, () => {
      const raced = handRaceHeader(built.bytes, chunkSize, 1, 1);
      const r = salvage(bytesReader(raced));
      expect(r.chunkSize).toBe(chunkSize);
      expect(pairsOf(r)).toEqual(built.pairs);
    });

    it(`infers the chunk size when an intact header says 0 (chunk size ${chunkSize})`, () => {
      const zero = damage.setHeaderField(built.bytes, "chunkSize", 0);
      const r = salvage(bytesReader(zero));
      expect(r.headerProblem).toMatch(/power of two/);
      expect(r.chunkSize).toBe(chunkSize);
      expect(pairsOf(r)).toEqual(built.pairs);
    });
  }

  it("takes the chunk size from an intact header and reads an invalidated COW's entries, all areas", () => {
    // By hand: 2-sector chunks (E = 64), 70 entries: area 0 names chunks 2..65, area 1 (chunk 66) names 67..72.
    const built = handCow({ chunkSize: 2, chunks: 80, entries: Array.from({ length: 70 }, (_, i) => 5 + i), header: [0x70416e53, 0, 1, 2] });
    const r = salvage(bytesReader(built.bytes));
    expect(r.chunkSizeSource).toBe("header");
    expect(r.headerProblem).toBeNull();
    expect(pairsOf(r)).toEqual(Array.from({ length: 70 }, (_, i) => [5 + i, i < 64 ? 2 + i : 3 + i]));
    expect(r.areasRead).toBe(2);
  });

  it("drops unsound entries with reasons and keeps the rest", () => {
    const built = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 10 }, (_, i) => 100 + i), freeChunks: 40 });
    let img = damage.setEntry(built.bytes, 1, 0, 2, 555, 34); // chunk 34 is area 1
    img = damage.setEntry(img, 1, 0, 4, 556, 99999); // past the end
    img = damage.setEntry(img, 1, 0, 6, 557, 3); // chunk 3 already used by entry 1
    img = damage.setEntry(img, 1, 0, 8, 100, 45); // origin chunk 100 already mapped by entry 0
    img = damage.setHeaderField(img, "magic", 0xdeadbeef);
    const r = salvage(bytesReader(img));
    expect(r.chunkSize).toBe(1);
    expect(r.entriesRead).toBe(10);
    expect(r.droppedByReason).toEqual({ [DropReason.NewChunkIsMetadata]: 1, [DropReason.NewChunkBeyondDevice]: 1, [DropReason.DuplicateNewChunk]: 1, [DropReason.DuplicateOldChunk]: 1 });
    expect(r.dropped.map((d) => d.index)).toEqual([2, 4, 6, 8]);
    expect(r.exceptions.count).toBe(6);
  });

  it("finds nothing on a blank device and says so with chunk size 0", () => {
    const r = salvage(bytesReader(damage.setHeaderField(new Uint8Array(64 * 512), "magic", 0x12345678)));
    expect(r.chunkSize).toBe(0);
    expect(r.exceptions.count).toBe(0);
  });

  it("scores the true chunk size highest (property: any chunk size, count, race variant)", () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 4, 8, 16), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 0, max: 3 }), (chunkSize, count, keep) => {
        // Laid out by hand: the last data chunk, 3 free chunks after it (the next area among them when one is full).
        const chunks = handAllocation(chunkSize, count)[count - 1]! + 1 + 3;
        const built = handCow({ chunkSize, chunks, entries: Array.from({ length: count }, (_, i) => 7 * i + 1) });
        const raced = handRaceHeader(built.bytes, chunkSize, 0, keep);
        const r = salvage(bytesReader(raced));
        if (keep === 0 || r.chunkSizeSource === "inferred") {
          expect(r.chunkSize).toBe(chunkSize);
          expect(pairsOf(r)).toEqual(built.pairs);
        }
        expect(scoreChunkSize(bytesReader(raced), chunkSize).sound).toBe(count);
      }),
      { numRuns: 60 },
    );
  });
});
