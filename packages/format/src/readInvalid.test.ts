import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow } from "./index.js";
import { buildCow } from "./testing.js";

describe("activation option readInvalid", () => {
  const pairs = Array.from({ length: 40 }, (_, i) => 500 + i);
  const built = buildCow({ chunkSize: 1, exceptions: pairs, valid: 0, freeChunks: 2 });

  it("by default loads no exceptions from an invalidated COW (as the kernel)", () => {
    const img = decodeCow(bytesReader(built.bytes));
    expect(img.state).toBe("invalid");
    expect(img.exceptions.count).toBe(0);
  });

  it("with readInvalid reads the areas anyway and keeps the state invalid", () => {
    const img = decodeCow(bytesReader(built.bytes), { readInvalid: true });
    expect(img.state).toBe("invalid");
    expect(img.exceptions.toPairs()).toEqual(built.pairs);
    expect(img.currentArea).toBe(1);
    expect(img.currentIndex).toBe(8);
  });

  it("changes nothing for a valid COW", () => {
    const valid = buildCow({ chunkSize: 1, exceptions: pairs });
    const a = decodeCow(bytesReader(valid.bytes));
    const b = decodeCow(bytesReader(valid.bytes), { readInvalid: true });
    expect(b.exceptions.toPairs()).toEqual(a.exceptions.toPairs());
    expect(b.nextFree).toBe(a.nextFree);
  });
});
