import { describe, expect, it } from "vitest";
import { describeRow, terminatorIndex } from "./hexRows.js";

// Bytes written by hand from docs/format.md (little-endian words), not by our encoder.
const row = (...words: number[]): Uint8Array => {
  const b = new Uint8Array(16);
  words.forEach((w, i) => new DataView(b.buffer).setUint32(i * 4, w, true));
  return b;
};

describe("hex annotations", () => {
  it("labels the header words of a valid COW", () => {
    const n = describeRow({ kind: "header" }, 0, row(0x70416e53, 1, 1, 8));
    expect(n.spans.map((s) => s.label)).toEqual(['magic 0x70416e53 "SnAp"', "valid 1", "version 1", "chunk_size 8 sectors"]);
    expect(n.section).toBe("header");
  });

  it("flags non-zero padding in chunk 0", () => {
    expect(describeRow({ kind: "header" }, 3, row(0, 0, 7, 0)).problem).toBe(true);
    expect(describeRow({ kind: "header" }, 3, row(0, 0, 0, 0)).problem).toBe(false);
  });

  it("finds the terminator: the first entry whose new_chunk is 0, even with a non-zero old_chunk", () => {
    const area = new Uint8Array(64);
    area.set(row(5, 0, 2, 0), 0);
    area.set(row(9, 0, 0, 0), 16);
    area.set(row(1, 0, 3, 0), 32);
    expect(terminatorIndex(area, 4)).toBe(1);
    const ctx = { kind: "area", area: 0, perArea: 4, terminator: 1, read: true, stopArea: 0 } as const;
    expect(describeRow(ctx, 0, area.subarray(0, 16)).text).toBe("entry 0: origin chunk 5 → COW chunk 2");
    expect(describeRow(ctx, 1, area.subarray(16, 32)).text).toMatch(/terminator .*old_chunk 9 is ignored/);
    expect(describeRow(ctx, 2, area.subarray(32, 48)).problem).toBe(true);
    expect(describeRow(ctx, 3, area.subarray(48, 64)).problem).toBe(false);
  });

  it("reads 64-bit chunk numbers from both words", () => {
    const ctx = { kind: "area", area: 1, perArea: 2, terminator: 2, read: true, stopArea: 1 } as const;
    expect(describeRow(ctx, 0, row(1, 1, 0, 2)).text).toBe(`entry 0: origin chunk ${2 ** 32 + 1} → COW chunk ${2 * 2 ** 32}`);
  });

  it("a full area has no terminator", () => {
    const area = new Uint8Array(32);
    area.set(row(1, 0, 2, 0), 0);
    area.set(row(2, 0, 3, 0), 16);
    expect(terminatorIndex(area, 2)).toBe(2);
  });
});
