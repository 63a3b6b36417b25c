import { describe, expect, it } from "vitest";
import { renderMap } from "../src/commands/map.js";

describe("map rendering", () => {
  it("keeps a worst-case 1M-chunk map (every cell differs from its neighbours) under 1 MB", () => {
    const cs = 8;
    const chunks = 1 << 20;
    const perCell = Math.ceil(chunks / (256 * 128));
    const news = new Uint32Array(chunks);
    let count = 0;
    // data chunks by hand: 8-sector chunks put an area every E + 1 = 257 chunks from chunk 1
    for (let c = 2; c < chunks; c++) if (Math.floor(c / perCell) % 2 === 0 && (c - 1) % 257 !== 0) news[count++] = c;
    const r = renderMap({ title: "worst", subtitle: "alternating", chunkSize: cs, deviceBytes: chunks * 4096, nextFree: chunks, newChunks: news, count, problemChunks: [5, 700000], undrawable: 1, headerIsProblem: false });
    expect(r.chunks).toBe(chunks);
    expect(r.chunksPerCell).toBe(32);
    expect(r.cells).toBeLessThanOrEqual(256 * 128);
    expect(Buffer.byteLength(r.svg)).toBeLessThan(1_000_000);
    expect(r.counts.used).toBe(count);
    expect(r.counts.problem).toBe(2);
    expect(r.svg).toMatch(/past the end of the device/);
    // areas 0..4080 start inside the device (1 + 257 * 4080 = 1048561 < 2^20)
    expect(r.counts.metadata).toBe(4081);
    expect(r.counts.header).toBe(1);
    // Speed is measured by pnpm bench, not here.
  });

  it("draws one cell per chunk for a small device and counts every class", () => {
    // 1-sector chunks, 40 chunks: header 0, area 0 at 1, area 1 at 34; chunks 2..5 and 7 used, 6 leaked (below nextFree 8, named by nothing), 37 data chunks in all.
    const news = new Uint32Array([2, 3, 4, 5, 7]);
    const r = renderMap({ title: "t", subtitle: "s", chunkSize: 1, deviceBytes: 40 * 512, nextFree: 8, newChunks: news, count: 5, problemChunks: [], undrawable: 0, headerIsProblem: true });
    expect(r.chunksPerCell).toBe(1);
    expect(r.counts).toEqual({ free: 31, used: 5, metadata: 2, leaked: 1, header: 1, problem: 1 });
    expect(r.svg.startsWith("<svg")).toBe(true);
  });
});
