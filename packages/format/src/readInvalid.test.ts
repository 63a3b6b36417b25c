import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow } from "./index.js";
import { handCow } from "../test/handImage.js";

describe("activation option readInvalid", () => {
  // Laid out by hand (1-sector chunks): 40 exceptions, area 0 (chunk 1) full
  // naming chunks 2..33, area 1 (chunk 34) with 8 entries naming 35..42.
  const olds = Array.from({ length: 40 }, (_, i) => 500 + i);
  const invalid = handCow({ chunkSize: 1, chunks: 45, entries: olds, header: [0x70416e53, 0, 1, 1] });
  const expected = olds.map((o, i) => [o, i < 32 ? 2 + i : 3 + i]);

  it("by default loads no exceptions from an invalidated COW (as the kernel)", () => {
    const img = decodeCow(bytesReader(invalid.bytes));
    expect(img.state).toBe("invalid");
    expect(img.exceptions.count).toBe(0);
  });

  it("with readInvalid reads the areas anyway and keeps the state invalid", () => {
    const img = decodeCow(bytesReader(invalid.bytes), { readInvalid: true });
    expect(img.state).toBe("invalid");
    expect(img.exceptions.toPairs()).toEqual(expected);
    expect(img.currentArea).toBe(1);
    expect(img.currentIndex).toBe(8);
  });

  it("changes nothing for a valid COW", () => {
    const valid = handCow({ chunkSize: 1, chunks: 45, entries: olds });
    const a = decodeCow(bytesReader(valid.bytes));
    const b = decodeCow(bytesReader(valid.bytes), { readInvalid: true });
    expect(b.exceptions.toPairs()).toEqual(a.exceptions.toPairs());
    expect(b.nextFree).toBe(a.nextFree);
    expect(a.exceptions.toPairs()).toEqual(expected);
    expect(a.nextFree).toBe(43);
  });
});
