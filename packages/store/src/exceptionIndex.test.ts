import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ExceptionTable } from "@dmsnap/format";
import { ExceptionIndex } from "./exceptionIndex.js";

describe("ExceptionIndex", () => {
  it("behaves like a Map under random set/delete/get", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("set", "del", "get"), fc.oneof(fc.nat(64), fc.constantFrom(2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 40)), fc.nat(1e9)), { maxLength: 400 }),
        (ops) => {
          const idx = new ExceptionIndex(2);
          const ref = new Map<number, number>();
          for (const [op, k, v] of ops) {
            if (op === "set") {
              idx.set(k, v);
              ref.set(k, v);
            } else if (op === "del") expect(idx.delete(k)).toBe(ref.delete(k));
            expect(idx.get(k)).toBe(ref.get(k) ?? -1);
            expect(idx.size).toBe(ref.size);
          }
          for (const [k, v] of ref) expect(idx.get(k)).toBe(v);
        },
      ),
    );
  });

  it("keeps the first-loaded entry for a duplicated origin chunk, as Linux 6.1 does", () => {
    // Kernel-made case damaged-duplicate-old-chunk: the snapshot serves the earlier entry.
    const idx = ExceptionIndex.fromTable(ExceptionTable.from([[5, 2], [6, 3], [5, 4]]));
    expect(idx.get(5)).toBe(2);
    expect(idx.size).toBe(2);
  });

  it("holds a million entries compactly", () => {
    const idx = new ExceptionIndex(1_000_000);
    for (let i = 0; i < 1_000_000; i++) idx.set(i * 3, i + 2);
    expect(idx.size).toBe(1_000_000);
    expect(idx.get(2_999_997)).toBe(999_999 + 2);
    expect(idx.get(1)).toBe(-1);
    expect(idx.byteLength).toBeLessThanOrEqual(32 * 1024 * 1024);
  });
});
