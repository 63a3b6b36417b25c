import { describe, expect, it } from "vitest";
import { bytesReader, diagnose, ErrorCode, FindingCode } from "./index.js";
import { damage } from "./testing.js";
import { handCow, handSetEntry } from "../test/handImage.js";

const codes = async (bytes: Uint8Array, opts = {}) => (await diagnose(bytesReader(bytes), opts)).findings.map((f) => f.code);

/**
 * The base image, laid out by hand (not by the builder or layout.ts): 1-sector
 * chunks (E = 32), 47 chunks, 40 exceptions of origin chunks 10..49. Area 0
 * (chunk 1) is full and names chunks 2..33; area 1 sits at chunk 34 and holds
 * 8 entries naming chunks 35..42; chunks 43..46 are free, next_free is 43.
 * The damage below goes into area 1, at offsets computed by hand.
 */
const { bytes: base, pairs } = handCow({ chunkSize: 1, chunks: 47, entries: Array.from({ length: 40 }, (_, i) => 10 + i) });
const inArea1 = (index: number, old: number, nw: number) => handSetEntry(base, 1, 1, index, old, nw);

describe("diagnostic pass", () => {
  it("finds nothing in a clean two-area image, and loads what the layout puts there", async () => {
    const d = await diagnose(bytesReader(base));
    expect(d.findings).toEqual([]);
    expect(pairs[31]).toEqual([41, 33]);
    expect(pairs[32]).toEqual([42, 35]);
    expect(d.image!.exceptions.toPairs()).toEqual(pairs);
    expect([d.image!.currentArea, d.image!.currentIndex, d.image!.nextFree]).toEqual([1, 8, 43]);
  });

  it("reports a refusal as an error finding with the refusal's code", async () => {
    const d = await diagnose(bytesReader(damage.setHeaderField(base, "chunkSize", 0)));
    expect(d.image).toBeNull();
    expect(d.findings).toEqual([expect.objectContaining({ code: ErrorCode.InvalidChunkSize, severity: "error" })]);
  });

  // Each damage gives exactly these findings (in the pass's order); the 40 entries still load.
  it.each([
    ["valid = 2", damage.setHeaderField(base, "valid", 2), [FindingCode.ValidNotBoolean]],
    ["bytes after the header", damage.dirtyHeaderPadding(base, 1), [FindingCode.HeaderPaddingNotZero]],
    ["entries after the terminator of area 1", inArea1(10, 77, 9), [FindingCode.EntriesAfterTerminator]],
    ["old_chunk in the terminator of area 1", inArea1(8, 77, 0), [FindingCode.EntriesAfterTerminator]],
    ["duplicate old_chunk", inArea1(2, 10, 37), [FindingCode.DuplicateOldChunk]],
    // chunk 37 is then named by no entry
    ["duplicate new_chunk", inArea1(2, 300, 3), [FindingCode.DuplicateNewChunk, FindingCode.UnreferencedChunks]],
    ["new_chunk on area 0 (chunk 1)", inArea1(2, 44, 1), [FindingCode.NewChunkIsMetadata, FindingCode.UnreferencedChunks]],
    ["new_chunk on area 1 (chunk 34)", inArea1(2, 44, 34), [FindingCode.NewChunkIsMetadata, FindingCode.UnreferencedChunks]],
    ["new_chunk past the end", inArea1(2, 44, 500), [FindingCode.NewChunkBeyondDevice, FindingCode.UnreferencedChunks]],
    // the last entry names 44 instead of 42: chunks 42 and 43 are leaked
    ["a hole left by out-of-order commits", inArea1(7, 49, 44), [FindingCode.UnreferencedChunks]],
    ["a trailing partial chunk", Uint8Array.from([...base, 1, 2, 3]), [FindingCode.DeviceNotChunkMultiple]],
  ])("reports %s", async (_name, bytes, expected) => {
    const d = await diagnose(bytesReader(bytes));
    expect(d.findings.map((f) => f.code)).toEqual(expected);
    expect(d.image!.exceptions.count).toBe(40);
  });

  it("locates the findings in area 1 by area, index and chunk", async () => {
    const after = (await diagnose(bytesReader(inArea1(10, 77, 9)))).findings[0]!;
    expect(after.location).toEqual({ area: 1, index: 8, chunk: 34 });
    const dup = (await diagnose(bytesReader(inArea1(2, 10, 37)))).findings[0]!;
    expect(dup.location).toEqual({ area: 1, index: 2, chunk: 37 });
    const hole = (await diagnose(bytesReader(inArea1(7, 49, 44)))).findings[0]!;
    expect(hole.message).toMatch(/^2 data chunk/);
  });

  it("reports origin chunks past the origin when its size is given", async () => {
    // Origin chunks 0..47 exist: the entries for 48 and 49 (area 1, entries 6 and 7) are past the end.
    const d = await diagnose(bytesReader(base), { originBytes: 48 * 512 });
    expect(d.findings.map((f) => [f.code, f.location])).toEqual([
      [FindingCode.OldChunkBeyondOrigin, { area: 1, index: 6, chunk: 41 }],
      [FindingCode.OldChunkBeyondOrigin, { area: 1, index: 7, chunk: 42 }],
    ]);
  });

  it("lists at most maxPerCode findings per code but counts them all", async () => {
    const img = handCow({ chunkSize: 1, chunks: 47, entries: Array.from({ length: 40 }, () => 5) }).bytes;
    const d = await diagnose(bytesReader(img), { maxPerCode: 3 });
    expect(d.counts[FindingCode.DuplicateOldChunk]).toBe(39);
    expect(d.findings.filter((f) => f.code === FindingCode.DuplicateOldChunk)).toHaveLength(3);
  });
});
