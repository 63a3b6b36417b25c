import { describe, expect, it } from "vitest";
import { buildCow, bytesReader, decodeCow, damage, ErrorCode, FormatError } from "./index.js";

describe("activation of built images", () => {
  it("loads a multi-area image in order and recovers nextFree past the metadata chunk", () => {
    // 1-sector chunks: 32 entries per area, areas at chunks 1, 34, 67.
    const olds = Array.from({ length: 40 }, (_, i) => 100 + i);
    const { bytes } = buildCow({ chunkSize: 1, exceptions: olds });
    const img = decodeCow(bytesReader(bytes));
    expect(img.state).toBe("valid");
    expect(img.exceptions.count).toBe(40);
    expect(img.exceptions.oldChunk[0]).toBe(100);
    expect(img.exceptions.newChunk[0]).toBe(2);
    expect(img.exceptions.newChunk[31]).toBe(33); // last data chunk of area 0
    expect(img.exceptions.newChunk[32]).toBe(35); // chunk 34 is area 1
    expect(img.currentArea).toBe(1);
    expect(img.currentIndex).toBe(8);
    expect(img.nextFree).toBe(43);
  });
});
