import { describe, expect, it } from "vitest";
import { bytesReader, diagnose, ErrorCode, FindingCode } from "./index.js";
import { buildCow, damage } from "./testing.js";

const codes = async (bytes: Uint8Array, opts = {}) => (await diagnose(bytesReader(bytes), opts)).findings.map((f) => f.code);

describe("diagnostic pass", () => {
  const base = buildCow({ chunkSize: 1, exceptions: [10, 11, 12], freeChunks: 4 }).bytes;

  it("finds nothing in a clean image", async () => {
    expect(await codes(base)).toEqual([]);
  });

  it("reports a refusal as an error finding with the refusal's code", async () => {
    const d = await diagnose(bytesReader(damage.setHeaderField(base, "chunkSize", 0)));
    expect(d.image).toBeNull();
    expect(d.findings).toEqual([expect.objectContaining({ code: ErrorCode.InvalidChunkSize, severity: "error" })]);
  });

  it.each([
    ["valid = 2", damage.setHeaderField(base, "valid", 2), FindingCode.ValidNotBoolean],
    ["bytes after the header", damage.dirtyHeaderPadding(base, 1), FindingCode.HeaderPaddingNotZero],
    ["entries after the terminator", damage.setEntry(base, 1, 0, 5, 77, 9), FindingCode.EntriesAfterTerminator],
    ["old_chunk in the terminator", damage.setEntry(base, 1, 0, 3, 77, 0), FindingCode.EntriesAfterTerminator],
    ["duplicate old_chunk", damage.setEntry(base, 1, 0, 2, 10, 4), FindingCode.DuplicateOldChunk],
    ["duplicate new_chunk", damage.setEntry(base, 1, 0, 2, 30, 3), FindingCode.DuplicateNewChunk],
    ["new_chunk on area 0", damage.setEntry(base, 1, 0, 2, 30, 1), FindingCode.NewChunkIsMetadata],
    ["new_chunk past the end", damage.setEntry(base, 1, 0, 2, 30, 500), FindingCode.NewChunkBeyondDevice],
    ["a hole left by out-of-order commits", damage.setEntry(base, 1, 0, 2, 12, 6), FindingCode.UnreferencedChunks],
    ["a trailing partial chunk", Uint8Array.from([...base, 1, 2, 3]), FindingCode.DeviceNotChunkMultiple],
  ])("reports %s", async (_name, bytes, code) => {
    expect(await codes(bytes)).toContain(code);
  });

  it("reports origin chunks past the origin when its size is given", async () => {
    // Origin chunks 0..10 exist: entries for 11 and 12 are past the end.
    expect(await codes(base, { originBytes: 11 * 512 })).toEqual([FindingCode.OldChunkBeyondOrigin, FindingCode.OldChunkBeyondOrigin]);
  });

  it("lists at most maxPerCode findings per code but counts them all", async () => {
    let img = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 10 }, () => 5) }).bytes;
    img = damage.setHeaderField(img, "valid", 1);
    const d = await diagnose(bytesReader(img), { maxPerCode: 3 });
    expect(d.counts[FindingCode.DuplicateOldChunk]).toBe(9);
    expect(d.findings.filter((f) => f.code === FindingCode.DuplicateOldChunk)).toHaveLength(3);
  });
});
