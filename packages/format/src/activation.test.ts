import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow, decodeCowAsync, ErrorCode, type AsyncReader } from "./index.js";
import { buildCow, damage } from "./testing.js";
import { handAllocation, handReadAreas } from "../test/handImage.js";

/**
 * A tiny image written by hand from the spec, without the builder: 1-sector
 * chunks, `chunks` chunks long, header valid, entries put where the spec says.
 */
function handImage(chunks: number, entries: Array<[area: number, index: number, old: number, nw: number]>, header = [0x70416e53, 1, 1, 1]): Uint8Array {
  const img = new Uint8Array(chunks * 512);
  const v = new DataView(img.buffer);
  header.forEach((w, i) => v.setUint32(i * 4, w, true));
  for (const [area, index, old, nw] of entries) {
    const at = (1 + 33 * area) * 512 + index * 16; // area a at chunk 1 + (32 + 1) * a
    v.setUint32(at, old, true);
    v.setUint32(at + 8, nw, true);
  }
  return img;
}

const full0 = Array.from({ length: 32 }, (_, i) => [0, i, 1000 + i, 2 + i] as [number, number, number, number]);

describe("activation (as the kernel reads a COW)", () => {
  it("loads a multi-area image in order and recovers nextFree past the metadata chunk", () => {
    const img = decodeCow(bytesReader(handImage(70, [...full0, [1, 0, 7, 35], [1, 1, 8, 36]])));
    expect(img.state).toBe("valid");
    expect(img.exceptions.count).toBe(34);
    expect(img.exceptions.oldChunk[32]).toBe(7);
    expect(img.exceptions.newChunk[33]).toBe(36);
    expect(img.currentArea).toBe(1);
    expect(img.currentIndex).toBe(2);
    expect(img.nextFree).toBe(37);
    expect(img.usage).toEqual({ totalSectors: 70, allocatedSectors: 37, metadataSectors: 3 });
  });

  it("skips a metadata chunk when the highest new_chunk is the last data chunk of a full area", () => {
    // Area 0 full up to chunk 33, area 1 zeroed: next_free = 34 is area 1, so it moves to 35.
    const img = decodeCow(bytesReader(handImage(40, full0)));
    expect(img.currentArea).toBe(1);
    expect(img.nextFree).toBe(35);
  });

  it("treats magic 0 as a new COW using the table chunk size (default 32)", () => {
    const blank = new Uint8Array(64 * 512);
    expect(decodeCow(bytesReader(blank))).toMatchObject({ state: "new", chunkSize: 32, nextFree: 2, currentArea: 0 });
    expect(decodeCow(bytesReader(blank), { tableChunkSize: 4 })).toMatchObject({ state: "new", chunkSize: 4, exceptionsPerArea: 128 });
  });

  it("refuses a new COW that cannot hold the header and area 0", () => {
    expect(() => decodeCow(bytesReader(new Uint8Array(1024)), { tableChunkSize: 2 })).toThrowError(expect.objectContaining({ code: ErrorCode.Truncated }));
  });

  it("lets the on-disk chunk size override the table's, areas and all", () => {
    const img = decodeCow(bytesReader(handImage(8, [[0, 0, 3, 2]])), { tableChunkSize: 8 });
    expect(img.chunkSize).toBe(1);
    expect(img.chunkSizeOverridden).toBe(true);
    expect(img.exceptions.count).toBe(1);
    // Areas are found with the on-disk size too: area 1 at chunk 34, not at 1 + 257 (8-sector chunks).
    const two = decodeCow(bytesReader(handImage(72, [...full0, [1, 0, 7, 35]])), { tableChunkSize: 8 });
    expect([two.chunkSize, two.exceptions.count, two.currentArea, two.nextFree]).toEqual([1, 33, 1, 36]);
  });

  it("activates valid = 0 as invalid with no exceptions loaded", () => {
    const img = decodeCow(bytesReader(handImage(8, [[0, 0, 3, 2]], [0x70416e53, 0, 1, 1])));
    expect(img.state).toBe("invalid");
    expect(img.exceptions.count).toBe(0);
  });

  it("treats any non-zero valid word (2) as valid, as the kernel does", () => {
    const img = decodeCow(bytesReader(handImage(8, [[0, 0, 3, 2]], [0x70416e53, 2, 1, 1])));
    expect(img.state).toBe("valid");
    expect(img.exceptions.count).toBe(1);
  });

  it.each([
    ["bad magic", [0x12345678, 1, 1, 1], ErrorCode.BadMagic],
    ["version 2", [0x70416e53, 1, 2, 1], ErrorCode.UnsupportedVersion],
    ["chunk size 0 (the 2009 crash)", [0x70416e53, 1, 1, 0], ErrorCode.InvalidChunkSize],
    ["chunk size 3", [0x70416e53, 1, 1, 3], ErrorCode.InvalidChunkSize],
    ["chunk size 0 beats version 2 (checked first)", [0x70416e53, 1, 2, 0], ErrorCode.InvalidChunkSize],
  ])("refuses %s", (_name, header, code) => {
    expect(() => decodeCow(bytesReader(handImage(8, [], header)))).toThrowError(expect.objectContaining({ code }));
  });

  it("refuses the 2009 race: a header chunk holding exception bytes", () => {
    const { bytes } = buildCow({ chunkSize: 1, exceptions: [5, 6, 7] });
    const raced = damage.raceHeader(bytes, 1);
    // First 16 bytes are now entry {old 5, new 2}: magic 5.
    expect(() => decodeCow(bytesReader(raced))).toThrowError(expect.objectContaining({ code: ErrorCode.BadMagic }));
    // The variant that kept the magic, valid and version words but lost chunk_size to a new_chunk high word of 0.
    const kept = damage.raceHeader(bytes, 1, 0, 3);
    expect(() => decodeCow(bytesReader(kept))).toThrowError(expect.objectContaining({ code: ErrorCode.InvalidChunkSize }));
  });

  it("refuses a device too small for a header, and one cut inside area 0 or area 1", () => {
    expect(() => decodeCow(bytesReader(new Uint8Array(100)))).toThrowError(expect.objectContaining({ code: ErrorCode.Truncated }));
    expect(() => decodeCow(bytesReader(handImage(8, [[0, 0, 3, 2]]).slice(0, 700)))).toThrowError(expect.objectContaining({ code: ErrorCode.Truncated, location: { area: 0, chunk: 1 } }));
    // area 0 full, the device ends 100 bytes into chunk 34 (area 1)
    expect(() => decodeCow(bytesReader(handImage(40, full0).slice(0, 34 * 512 + 100)))).toThrowError(expect.objectContaining({ code: ErrorCode.Truncated, location: { area: 1, chunk: 34 } }));
  });

  it("refuses a full last area with no room for the next area (the kernel's read fails)", () => {
    // 34 chunks: header, area 0, data 2..33; area 1 would be chunk 34.
    expect(() => decodeCow(bytesReader(handImage(34, full0)))).toThrowError(expect.objectContaining({ code: ErrorCode.Truncated, location: { area: 1, chunk: 34 } }));
  });

  it("refuses an invalid table chunk size, and a device smaller than one table chunk", () => {
    expect(() => decodeCow(bytesReader(handImage(8, [[0, 0, 3, 2]])), { tableChunkSize: 3 })).toThrowError(expect.objectContaining({ code: ErrorCode.InvalidChunkSize }));
    // 8 sectors of device, table chunk size 16: the kernel's header read fails.
    expect(() => decodeCow(bytesReader(handImage(8, [[0, 0, 3, 2]])), { tableChunkSize: 16 })).toThrowError(expect.objectContaining({ code: ErrorCode.Truncated }));
  });

  it("refuses a new_chunk that puts usage beyond 2^53 sectors", () => {
    const img = handImage(8, []);
    const v = new DataView(img.buffer);
    // area 0 entry 0: old 3, new 2^52 (high word 0x100000) with 2-sector chunks would pass the entry check...
    v.setUint32(12, 2, true); // chunk size 2
    const at = 2 * 512; // area 0 is chunk 1 of 1024 bytes
    v.setUint32(at, 3, true);
    v.setUint32(at + 12, 0x100000, true); // new_chunk = 2^52
    expect(() => decodeCow(bytesReader(img))).toThrowError(expect.objectContaining({ code: ErrorCode.ChunkNumberTooLarge }));
  });

  it("ignores entries after the terminator, in area 0 and in a later area", () => {
    const img = decodeCow(bytesReader(handImage(8, [[0, 0, 3, 2], [0, 2, 9, 4]])));
    expect(img.exceptions.toPairs()).toEqual([[3, 2]]);
    // area 0 full; area 1 (chunk 34): entry 0, terminator, then a stale entry
    const later = decodeCow(bytesReader(handImage(70, [...full0, [1, 0, 7, 35], [1, 2, 9, 37]])));
    expect(later.exceptions.count).toBe(33);
    expect(later.exceptions.toPairs()[32]).toEqual([7, 35]);
    expect([later.currentIndex, later.nextFree]).toEqual([1, 36]);
  });

  it("loads stale entries from an unzeroed area after a full one (why the store zeroes it)", () => {
    const img = decodeCow(bytesReader(handImage(70, [...full0, [1, 0, 99, 50]])));
    expect(img.exceptions.count).toBe(33);
    expect(img.exceptions.oldChunk[32]).toBe(99);
  });

  it("round-trips any image the builder lays out (property), sync and async alike", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(1, 2, 4), fc.array(fc.integer({ min: 0, max: 2 ** 40 }), { maxLength: 300, size: "max" }), fc.integer({ min: 0, max: 5 }), async (cs, olds, free) => {
        const built = buildCow({ chunkSize: cs, exceptions: olds, freeChunks: free });
        const img = decodeCow(bytesReader(built.bytes));
        expect(img.exceptions.toPairs()).toEqual(built.pairs);
        expect(img.currentArea).toBe(built.currentArea);
        expect(img.currentIndex).toBe(built.currentIndex);
        // Not only self-agreement: the chunks, areas and cursor the layout rules
        // give, computed by hand (handImage.ts), not by layout.ts.
        const n = olds.length;
        const alloc = handAllocation(cs, n + 1);
        expect(built.pairs).toEqual(olds.map((o, i) => [o, alloc[i]]));
        expect(handReadAreas(built.bytes, cs)).toEqual(built.pairs);
        expect([img.currentArea, img.currentIndex, img.nextFree]).toEqual([Math.floor(n / (cs * 32)), n % (cs * 32), alloc[n]]);
        const async: AsyncReader = { size: built.bytes.length, read: async (o, l) => built.bytes.slice(o, o + l) };
        const viaAsync = await decodeCowAsync(async);
        expect(viaAsync.exceptions.toPairs()).toEqual(built.pairs);
        expect(viaAsync.nextFree).toBe(img.nextFree);
      }),
      { numRuns: 60 },
    );
  });
});

describe("BAD_MAGIC says what the file is, and promises no repair", () => {
  const refusal = (head: number[] | string): { code: string; message: string } => {
    const b = new Uint8Array(64 * 1024);
    b.set(typeof head === "string" ? [...head].map((c) => c.charCodeAt(0)) : head, 0);
    try {
      decodeCow(bytesReader(b));
    } catch (e) {
      return e as { code: string; message: string };
    }
    throw new Error("not refused");
  };

  it("a gzip file: the magic as text, and 'gunzip it first'", () => {
    const e = refusal([0x1f, 0x8b, 0x08, 0x00]);
    expect(e.code).toBe(ErrorCode.BadMagic);
    expect(e.message).toContain('0x00088b1f ("\\x1f\\x8b\\x08\\x00")');
    expect(e.message).toMatch(/gunzip it first/);
    expect(e.message).not.toMatch(/repair/);
  });

  it("/etc/passwd: the magic reads \"root\"; whether repair finds anything is left to check, never 'can try'", () => {
    const e = refusal("root:x:0:0:root:/root:/bin/bash\n");
    expect(e.message).toContain('0x746f6f72 ("root")');
    expect(e.message).not.toMatch(/can try/);
  });
});
