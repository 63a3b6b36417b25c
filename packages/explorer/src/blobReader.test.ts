import { describe, expect, it } from "vitest";
import { blobReader, prefetchingReader } from "./blobReader.js";

function counting(bytes: Uint8Array<ArrayBuffer>) {
  const inner = blobReader(new Blob([bytes]));
  const calls: [number, number][] = [];
  return { calls, reader: { size: inner.size, read: (o: number, l: number) => (calls.push([o, l]), inner.read(o, l)) } };
}

describe("blob readers", () => {
  const bytes = Uint8Array.from({ length: 4096 }, (_, i) => i % 251);

  it("reads exactly the slice asked for", async () => {
    const r = blobReader(new Blob([bytes]));
    expect([...(await r.read(1000, 5))]).toEqual([...bytes.subarray(1000, 1005)]);
  });

  it("prefetches a steady stride, serves the same bytes, and never reads past the end", async () => {
    const { calls, reader } = counting(bytes);
    const p = prefetchingReader(reader, 4);
    for (let o = 0; o + 16 <= 4096; o += 256) expect([...(await p.read(o, 16))]).toEqual([...bytes.subarray(o, o + 16)]);
    // Each offset fetched once from the inner reader, none beyond the blob.
    const offsets = calls.map(([o]) => o);
    expect(new Set(offsets).size).toBe(offsets.length);
    expect(Math.max(...offsets)).toBeLessThanOrEqual(4096 - 16);
    expect(offsets.length).toBe(16);
  });

  it("drops prefetched reads when the pattern breaks (a different length is fetched fresh)", async () => {
    const { reader } = counting(bytes);
    const p = prefetchingReader(reader, 4);
    await p.read(0, 16);
    await p.read(100, 16);
    await p.read(200, 16); // prefetches 300, 400, ...
    expect([...(await p.read(300, 32))]).toEqual([...bytes.subarray(300, 332)]);
  });
});
