import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clearEntry, decodeAreaInto, decodeEntriesInto, encodeArea, entryWordsOf, ErrorCode, ExceptionTable, readEntry, scanEntries, writeEntry } from "./index.js";

const hex = (s: string) => Uint8Array.from(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));

/** One 512-byte area (1-sector chunks: 32 entries). */
function area(...entries: string[]): Uint8Array {
  const a = new Uint8Array(512);
  entries.forEach((e, i) => a.set(hex(e), i * 16));
  return a;
}

describe("area codec", () => {
  it("decodes entries written by hand and stops at the terminator", () => {
    const bytes = area(
      "05 04 03 02 01 00 00 00  02 00 00 00 00 00 00 00", // old 0x0102030405 -> new 2
      "07 00 00 00 00 00 00 00  03 00 00 00 00 00 00 00", // old 7 -> new 3
      "00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00", // terminator
      "09 00 00 00 00 00 00 00  04 00 00 00 00 00 00 00", // after the terminator: ignored
    );
    const t = new ExceptionTable();
    const r = decodeAreaInto(bytes, 32, t);
    expect(r).toEqual({ loaded: 2, full: false, maxNewChunk: 3 });
    expect(t.toPairs()).toEqual([
      [0x0102030405, 2],
      [7, 3],
    ]);
  });

  it("treats an entry with old_chunk set but new_chunk 0 as the terminator", () => {
    const t = new ExceptionTable();
    const r = decodeAreaInto(area("08 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00"), 32, t);
    expect(r.loaded).toBe(0);
    expect(t.count).toBe(0);
  });

  it("reports a completely used area as full", () => {
    const bytes = new Uint8Array(512);
    for (let i = 0; i < 32; i++) bytes.set(hex(`${(i + 1).toString(16).padStart(2, "0")} 00 00 00 00 00 00 00  ${(i + 2).toString(16).padStart(2, "0")} 00 00 00 00 00 00 00`), i * 16);
    const t = new ExceptionTable();
    expect(decodeAreaInto(bytes, 32, t)).toEqual({ loaded: 32, full: true, maxNewChunk: 33 });
  });

  it("accepts 2^53 - 1 and refuses chunk numbers of 2^53 or more with CHUNK_NUMBER_TOO_LARGE", () => {
    const ok = area("ff ff ff ff ff ff 1f 00  02 00 00 00 00 00 00 00");
    const t = new ExceptionTable();
    decodeAreaInto(ok, 32, t);
    expect(t.oldChunk[0]).toBe(2 ** 53 - 1);
    for (const bad of ["00 00 00 00 00 00 20 00  02 00 00 00 00 00 00 00", "01 00 00 00 00 00 00 00  02 00 00 00 00 00 00 80"]) {
      expect(() => decodeAreaInto(area(bad), 32, new ExceptionTable(), 3)).toThrowError(
        expect.objectContaining({ code: ErrorCode.ChunkNumberTooLarge, location: { area: 3, index: 0 } }),
      );
    }
  });

  it("refuses an area shorter than a chunk with TRUNCATED", () => {
    expect(() => decodeAreaInto(new Uint8Array(100), 32, new ExceptionTable())).toThrowError(expect.objectContaining({ code: ErrorCode.Truncated }));
  });

  it("writes the entry bytes the spec gives", () => {
    const a = new Uint8Array(32);
    writeEntry(a, 1, 2 ** 40 + 5, 9);
    expect(Array.from(a.subarray(16))).toEqual(Array.from(hex("05 00 00 00 00 01 00 00  09 00 00 00 00 00 00 00")));
    expect(readEntry(a, 1)).toEqual({ oldLow: 5, oldHigh: 0x100, newLow: 9, newHigh: 0 });
    clearEntry(a, 1);
    expect(a.every((b) => b === 0)).toBe(true);
  });

  const chunk = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const entries = (max: number) => fc.array(fc.tuple(chunk, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), { maxLength: max, size: "max" }); // "max": full areas too, not only ~10 entries

  it("round-trips entries (property), aligned and unaligned buffers alike", () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 4), entries(128), fc.boolean(), (cs, pairs, unaligned) => {
        const perArea = cs * 32;
        const use = pairs.slice(0, perArea);
        const encoded = encodeArea(ExceptionTable.from(use), 0, use.length, cs * 512);
        // The bytes by hand: entry i at byte 16 i, old then new as u64 little-endian; zeros after the last.
        const v = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
        const u64 = (at: number) => v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32;
        expect(use.map((_, i) => [u64(i * 16), u64(i * 16 + 8)])).toEqual(use);
        expect(encoded.subarray(use.length * 16).every((b) => b === 0)).toBe(true);
        let bytes = encoded;
        if (unaligned) {
          const shifted = new Uint8Array(encoded.length + 1);
          shifted.set(encoded, 1);
          bytes = shifted.subarray(1);
        }
        const t = new ExceptionTable(1);
        const r = decodeAreaInto(bytes, perArea, t);
        expect(t.toPairs()).toEqual(use);
        expect(r.full).toBe(use.length === perArea);
      }),
    );
  });

  it("scanEntries finds what decoding finds without a table: the terminator, the highest new_chunk, the refusal", () => {
    // By hand: [5 -> 9], [2^40 + 5 -> 2^33], [7 -> 3], then the terminator (old_chunk set, new_chunk 0), then an entry that is never read.
    const a = area(
      "05 00 00 00 00 00 00 00  09 00 00 00 00 00 00 00",
      "05 00 00 00 00 01 00 00  00 00 00 00 02 00 00 00",
      "07 00 00 00 00 00 00 00  03 00 00 00 00 00 00 00",
      "08 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00",
      "00 00 00 00 00 00 20 00  04 00 00 00 00 00 00 00",
    );
    expect(scanEntries(a, 32, 0, 0)).toEqual({ loaded: 3, terminated: true, maxNewChunk: 2 ** 33 });
    expect(scanEntries(a, 2, 0, 0)).toEqual({ loaded: 2, terminated: false, maxNewChunk: 2 ** 33 });
    expect(scanEntries(a, 0, 0, 0)).toEqual({ loaded: 0, terminated: false, maxNewChunk: -1 });
    // A piece that starts at entry 30 of area 4 labels a refusal with the entry's index in the area.
    const bad = area("01 00 00 00 00 00 00 00  02 00 00 00 00 00 00 00", "00 00 00 00 00 00 20 00  04 00 00 00 00 00 00 00");
    expect(() => scanEntries(bad, 32, 4, 30)).toThrowError(expect.objectContaining({ code: ErrorCode.ChunkNumberTooLarge, location: { area: 4, index: 31 } }));
    const badNew = area("01 00 00 00 00 00 00 00  02 00 00 00 00 00 00 80");
    expect(() => scanEntries(badNew, 32, 0, 0)).toThrowError(expect.objectContaining({ code: ErrorCode.ChunkNumberTooLarge, location: { area: 0, index: 0 } }));
    // Past the terminator nothing is looked at, as in activation.
    expect(scanEntries(area("01 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00", "00 00 00 00 00 00 20 00  04 00 00 00 00 00 00 00"), 32, 0, 0)).toEqual({ loaded: 0, terminated: true, maxNewChunk: -1 });
    // The words as read: entry 1's old_chunk low and high words.
    expect(Array.from(entryWordsOf(a, 2).subarray(4, 6))).toEqual([5, 0x100]);
  });

  it("scanEntries agrees with decodeEntriesInto (property), aligned and unaligned buffers alike", () => {
    const number = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constant(0));
    fc.assert(
      fc.property(fc.array(fc.tuple(number, number), { maxLength: 32 }), fc.boolean(), fc.integer({ min: 0, max: 32 }), (pairs, unaligned, count) => {
        const bytes0 = new Uint8Array(512 + 1);
        const bytes = unaligned ? bytes0.subarray(1) : bytes0.subarray(0, 512);
        pairs.forEach(([o, n], i) => writeEntry(bytes, i, o, n));
        const t = new ExceptionTable(0);
        const decoded = decodeEntriesInto(bytes, count, t, 0, 0);
        expect(scanEntries(bytes, count, 0, 0)).toEqual(decoded);
        // The words hold the loaded entries: what the table got.
        const w = entryWordsOf(bytes, count);
        for (let i = 0; i < decoded.loaded; i++) {
          expect(w[4 * i]! + w[4 * i + 1]! * 2 ** 32).toBe(t.oldChunk[i]);
          expect(w[4 * i + 2]! + w[4 * i + 3]! * 2 ** 32).toBe(t.newChunk[i]);
        }
      }),
    );
  });
});
