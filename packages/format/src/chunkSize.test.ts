import { describe, expect, it } from "vitest";
import { chunkSizeProblem, defaultChunkSize, ErrorCode, MAX_CHUNK_SIZE, validateChunkSize } from "./index.js";

describe("chunk size rules", () => {
  it.each([1, 2, 8, 16, 32, 1024, 2097152])("accepts %i sectors", (cs) => {
    expect(chunkSizeProblem(cs)).toBeNull();
  });

  it.each([0, 3, 6, 12, -8, 1.5, 4194304, 2 ** 31])("refuses %s sectors with INVALID_CHUNK_SIZE", (cs) => {
    expect(chunkSizeProblem(cs)).not.toBeNull();
    expect(() => validateChunkSize(cs)).toThrowError(expect.objectContaining({ code: ErrorCode.InvalidChunkSize }));
  });

  it("caps at INT_MAX >> 9 sectors", () => {
    expect(MAX_CHUNK_SIZE).toBe(4194303);
  });

  it("requires a multiple of the logical block size", () => {
    expect(chunkSizeProblem(4, 4096)).toMatch(/logical block size/);
    expect(chunkSizeProblem(8, 4096)).toBeNull();
  });

  it("defaults to 32 sectors, or the logical block size if larger", () => {
    expect(defaultChunkSize()).toBe(32);
    expect(defaultChunkSize(65536)).toBe(128);
  });
});
