import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ExceptionTable } from "@dmsnap/format";
import { SortedExceptionIndex } from "./sortedIndex.js";

describe("SortedExceptionIndex", () => {
  it("maps each origin chunk to its FIRST entry, like a Map filled without overwriting", () => {
    const chunk = fc.oneof(fc.nat(40), fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1));
    fc.assert(
      fc.property(fc.array(fc.tuple(chunk, fc.integer({ min: 1, max: 2 ** 53 - 1 })), { maxLength: 300 }), (pairs) => {
        const ref = new Map<number, number>();
        for (const [o, n] of pairs) if (!ref.has(o)) ref.set(o, n);
        const idx = SortedExceptionIndex.consume(ExceptionTable.from(pairs));
        expect(idx.size).toBe(ref.size);
        for (const [o, n] of ref) expect(idx.get(o)).toBe(n);
        for (let o = 0; o <= 41; o++) if (!ref.has(o)) expect(idx.get(o)).toBe(-1);
        expect([...idx.olds]).toEqual([...ref.keys()].sort((a, b) => a - b));
      }),
    );
  });
});
