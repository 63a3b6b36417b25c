import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ChunkNumberSet } from "./chunkNumberSet.js";

describe("ChunkNumberSet", () => {
  it("behaves like a Set of chunk numbers", () => {
    const key = fc.oneof(fc.nat(100), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, 2 ** 53 - 1));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 500 }), (keys) => {
        const s = new ChunkNumberSet(1);
        const ref = new Set<number>();
        for (const k of keys) {
          expect(s.add(k)).toBe(!ref.has(k));
          ref.add(k);
          expect(s.has(k)).toBe(true);
          expect(s.size).toBe(ref.size);
        }
        for (let k = 0; k <= 100; k++) expect(s.has(k)).toBe(ref.has(k));
      }),
    );
  });
});
